//! One error type for the whole connector, [`JiraError`]: each variant says what was being done
//! and carries what Jira answered (its `errorMessages` and per-field `errors`, tracker-apis.md
//! §2.9). [`JiraError::is_transient`] says whether trying again later can help,
//! [`JiraError::kind`] sorts the error the way the tracker seam does.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Jira's `ErrorCollection`: `{"errorMessages": [...], "errors": {"field": "message"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorText {
    pub messages: Vec<String>,
    /// Field id → what is wrong with it.
    pub errors: BTreeMap<String, String>,
}

impl ErrorText {
    /// Reads an error body; anything that is not Jira's shape becomes one message (cut short).
    pub fn parse(body: &str, fallback: &str) -> Self {
        let mut text = ErrorText::default();
        if let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(body) {
            if let Some(list) = v.get("errorMessages").and_then(|m| m.as_array()) {
                text.messages = list
                    .iter()
                    .filter_map(|m| m.as_str())
                    .map(str::to_owned)
                    .collect();
            }
            if let Some(map) = v.get("errors").and_then(|m| m.as_object()) {
                text.errors = map
                    .iter()
                    .map(|(k, v)| {
                        let m = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), m)
                    })
                    .collect();
            }
            // Some endpoints (and proxies) answer `{"message": "..."}`.
            if text.is_empty()
                && let Some(m) = v.get("message").and_then(|m| m.as_str())
            {
                text.messages.push(m.to_owned());
            }
        }
        if text.is_empty() {
            let trimmed = body.trim();
            if !trimmed.is_empty() && !trimmed.starts_with('<') {
                text.messages
                    .push(trimmed.chars().take(300).collect::<String>());
            } else {
                text.messages.push(fallback.to_owned());
            }
        }
        text
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.errors.is_empty()
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.messages.clone();
        parts.extend(self.errors.iter().map(|(k, v)| format!("{k}: {v}")));
        if parts.is_empty() {
            f.write_str("no reason given")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// How the tracker seam sorts an error (the same set as `tracker::ErrorKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Trying again later may succeed (unreachable, rate limited, 5xx).
    Transient,
    /// The item does not exist or is hidden from the integration user (Jira answers 404 for
    /// both).
    NotFound,
    Forbidden,
    Unauthorized,
    /// Jira understood the request and said no (400, 409, 413, 422).
    Refused,
    /// Jira or this connector cannot do it at all.
    Unsupported,
    /// The request was wrong before it left (settings, unknown field or option), or the
    /// answer was not as documented.
    Invalid,
}

/// Why a Jira call failed.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("invalid Jira settings: {0}")]
    Config(String),
    #[error("cannot reach Jira at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Jira refused the credentials of `{user}` ({status}): {text}")]
    Unauthorized {
        user: String,
        status: u16,
        text: ErrorText,
    },
    #[error("Jira is rate limiting {method} {path} (429); it asks to wait {}s", retry_after.as_secs())]
    RateLimited {
        method: String,
        path: String,
        retry_after: Duration,
    },
    #[error("Jira answered {status} to {method} {path}: {text}")]
    Api {
        status: u16,
        method: String,
        path: String,
        text: ErrorText,
    },
    /// A write that is not safe to repeat failed in a way that leaves open whether Jira did it
    /// (a 5xx, or the connection dropped after the request left). Look it up (a create by its
    /// correlation label, see `Client::find_by_correlation`) before trying again.
    #[error(
        "{method} {path} may or may not have been done ({reason}); look for its result before trying again"
    )]
    Uncertain {
        method: String,
        path: String,
        status: Option<u16>,
        reason: String,
    },
    #[error("unexpected answer from Jira to {method} {path}: {what}")]
    BadResponse {
        method: String,
        path: String,
        what: String,
    },
    /// The caller named a field, option, user or value Jira's metadata does not have.
    #[error("{what}")]
    Field { what: String },
    #[error(
        "issue {key} cannot move from status `{from}` to `{to}`: no sequence of transitions available to the integration user leads there"
    )]
    NoPath {
        key: String,
        from: String,
        to: String,
    },
    #[error(
        "`{filename}` is {size} bytes; this Jira accepts attachments up to {limit} bytes (ask its admin to raise the limit)"
    )]
    TooLarge {
        filename: String,
        size: u64,
        limit: u64,
    },
    #[error("Jira does not allow {what} here: {why}")]
    Unsupported { what: String, why: String },
}

impl JiraError {
    /// True when trying again later may succeed: Jira was unreachable, busy or failing. An
    /// [`JiraError::Uncertain`] write is transient too, once its result has been looked for.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// The HTTP status Jira answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            JiraError::Api { status, .. } | JiraError::Unauthorized { status, .. } => Some(*status),
            JiraError::RateLimited { .. } => Some(429),
            JiraError::Uncertain { status, .. } => *status,
            _ => None,
        }
    }

    /// What Jira said (`errorMessages` and `errors`), when it said something.
    pub fn text(&self) -> Option<&ErrorText> {
        match self {
            JiraError::Api { text, .. } | JiraError::Unauthorized { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The error sorted as the tracker seam sorts errors.
    pub fn kind(&self) -> ErrorKind {
        match self {
            JiraError::Unreachable { .. }
            | JiraError::RateLimited { .. }
            | JiraError::Uncertain { .. } => ErrorKind::Transient,
            JiraError::Unauthorized { .. } => ErrorKind::Unauthorized,
            JiraError::Api { status, .. } => match status {
                401 => ErrorKind::Unauthorized,
                403 => ErrorKind::Forbidden,
                404 | 410 => ErrorKind::NotFound,
                408 | 429 => ErrorKind::Transient,
                s if *s >= 500 => ErrorKind::Transient,
                _ => ErrorKind::Refused,
            },
            JiraError::BadResponse { .. } | JiraError::Config(_) | JiraError::Field { .. } => {
                ErrorKind::Invalid
            }
            JiraError::NoPath { .. } | JiraError::TooLarge { .. } => ErrorKind::Refused,
            JiraError::Unsupported { .. } => ErrorKind::Unsupported,
        }
    }

    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, JiraError::Api { status: 404, .. })
    }
}

pub(crate) fn bad(method: &str, path: &str, what: impl Into<String>) -> JiraError {
    JiraError::BadResponse {
        method: method.to_owned(),
        path: path.to_owned(),
        what: what.into(),
    }
}

pub(crate) fn field_error(what: impl Into<String>) -> JiraError {
    JiraError::Field { what: what.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_error_collections_are_read_and_shown() {
        let t = ErrorText::parse(
            r#"{"errorMessages":["Issue does not exist"],"errors":{"summary":"You must specify a summary of the issue."}}"#,
            "Bad Request",
        );
        assert_eq!(t.messages, vec!["Issue does not exist"]);
        assert_eq!(
            t.to_string(),
            "Issue does not exist; summary: You must specify a summary of the issue."
        );
        assert_eq!(
            ErrorText::parse("<html>oops</html>", "Bad Gateway").to_string(),
            "Bad Gateway"
        );
        assert_eq!(ErrorText::parse("", "Not Found").to_string(), "Not Found");
    }

    #[test]
    fn kinds_follow_the_status() {
        let api = |status| JiraError::Api {
            status,
            method: "GET".into(),
            path: "/x".into(),
            text: ErrorText::default(),
        };
        assert_eq!(api(404).kind(), ErrorKind::NotFound);
        assert_eq!(api(403).kind(), ErrorKind::Forbidden);
        assert_eq!(api(400).kind(), ErrorKind::Refused);
        assert!(api(503).is_transient());
        assert!(!api(400).is_transient());
        assert_eq!(api(409).status(), Some(409));
    }
}
