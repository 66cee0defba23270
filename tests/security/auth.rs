//! Login throttling, redirects after login, the one-time setup link, log lines and scoped API tokens.
