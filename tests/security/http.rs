//! The HTTP edge: bodies, slow or idle clients and concurrency cannot exhaust a node's memory.
