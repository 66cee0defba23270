//! Integration tests of the script engine, one binary with modules by topic.

mod budgets;
mod cases;
mod clock;
mod common;
mod conformance;
mod diagnostics;
mod differential;
mod fuzz;
mod host;
mod playground;
mod sandbox;
mod size;
