//! Script limits: no built-in allocates or runs past the memory and time budgets.
