//! Faults a test can switch on: rate limiting (429), server errors (500), latency, and the
//! journal table hidden by its ACL. Set through [`EmulatorConfig`](super::EmulatorConfig) or
//! at run time with `POST /__emulator/faults` (emulator-only; not a ServiceNow API).

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// How reads of `sys_journal_field` behave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalAccess {
    /// Readable like any table.
    #[default]
    Readable,
    /// What a real instance does when the journal's read ACL fails: 200 with no rows
    /// (tracker-apis.md §1.11).
    Hidden,
    /// 403 with ServiceNow's ACL error.
    Forbidden,
}

/// The fault plan. Counters count down with each API request they affect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The next N authenticated requests answer 429 with `Retry-After` and `X-RateLimit-*`.
    pub rate_limited_requests: u32,
    /// `Retry-After` seconds on those 429s (0 is sent as 1).
    pub retry_after_secs: u64,
    /// The next N authenticated requests (after any 429s) answer 500.
    pub server_error_requests: u32,
    /// Milliseconds added before every API request is handled.
    pub latency_ms: u64,
    /// How `sys_journal_field` reads behave.
    pub journal: JournalAccess,
    /// Lists of `sys_attachment` (the Attachment API's and the Table API's) answer 403, as
    /// when the user's ACLs do not let it read attachments.
    pub attachments_forbidden: bool,
}

/// The hourly limit the emulator reports in `X-RateLimit-Limit`.
const RATE_LIMIT_PER_HOUR: u64 = 1000;
/// The sys_id the emulator reports in `X-RateLimit-Rule`.
const RATE_LIMIT_RULE: &str = "0e8b4a2e1b2c3d4e5f60718293a4b5c6";

impl Faults {
    /// The fault this request meets, if any; counts it down.
    pub fn take(&mut self) -> Option<ApiError> {
        if self.rate_limited_requests > 0 {
            self.rate_limited_requests -= 1;
            let retry = self.retry_after_secs.max(1);
            let reset = jiff::Timestamp::now()
                .as_second()
                .saturating_add(retry as i64);
            return Some(
                ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "Too Many Requests",
                    Some(format!(
                        "Rate limit of {RATE_LIMIT_PER_HOUR} requests per hour exceeded (emulated)"
                    )),
                )
                .with_header("retry-after", &retry.to_string())
                .with_header("x-ratelimit-limit", &RATE_LIMIT_PER_HOUR.to_string())
                .with_header("x-ratelimit-reset", &reset.to_string())
                .with_header("x-ratelimit-rule", RATE_LIMIT_RULE),
            );
        }
        if self.server_error_requests > 0 {
            self.server_error_requests -= 1;
            return Some(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                Some("Emulated server fault".into()),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_come_before_server_errors_and_count_down() {
        let mut f = Faults {
            rate_limited_requests: 1,
            server_error_requests: 1,
            ..Faults::default()
        };
        assert_eq!(f.take().map(|e| e.status.as_u16()), Some(429));
        assert_eq!(f.take().map(|e| e.status.as_u16()), Some(500));
        assert!(f.take().is_none());
    }
}
