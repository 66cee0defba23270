//! The Groovy-compatible script language that sync rules are written in.
//!
//! Pure: no I/O of its own. Hosts bind variables and host objects in, run a script, and read
//! variables and the result back out.
