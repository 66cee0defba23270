//! Parsers of untrusted text refuse input nested too deep instead of overflowing the stack.
