//! A connection's scope: a peer reaches only the items its connection is scoped to, and cannot tell which keys exist outside it.
