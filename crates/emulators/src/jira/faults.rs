//! Faults a test can switch on: rate limiting (429 with Jira Cloud's headers), server errors
//! (500) and latency. Set through [`JiraConfig`](super::JiraConfig) or at run time with
//! `POST /__emulator/faults` (emulator-only; not a Jira API).

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// The fault plan. Counters count down with each API request they affect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The next N authenticated requests answer 429 with `Retry-After`, `X-RateLimit-*` and
    /// `RateLimit-Reason` (tracker-apis.md §2.8).
    pub rate_limited_requests: u32,
    /// `Retry-After` seconds on those 429s (0 is sent as 1).
    pub retry_after_secs: u64,
    /// The next N authenticated requests (after any 429s) answer 500.
    pub server_error_requests: u32,
    /// Milliseconds added before every API request is handled.
    pub latency_ms: u64,
}

/// The budget the emulator reports in `X-RateLimit-Limit` (Jira does not publish its numbers).
const RATE_LIMIT: u64 = 350;

impl Faults {
    /// The fault this request meets, if any; counts it down.
    pub fn take(&mut self) -> Option<ApiError> {
        if self.rate_limited_requests > 0 {
            self.rate_limited_requests -= 1;
            let retry = self.retry_after_secs.max(1);
            // Jira Cloud sends the reset as ISO-8601 to the minute, e.g. 2025-01-31T14:06Z.
            let reset = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(retry as i64 + 59))
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .strftime("%Y-%m-%dT%H:%MZ")
                .to_string();
            return Some(
                ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "Rate limit exceeded (emulated).",
                )
                .with_header("retry-after", &retry.to_string())
                .with_header("x-ratelimit-limit", &RATE_LIMIT.to_string())
                .with_header("x-ratelimit-remaining", "0")
                .with_header("x-ratelimit-reset", &reset)
                .with_header("ratelimit-reason", "jira-cost-based"),
            );
        }
        if self.server_error_requests > 0 {
            self.server_error_requests -= 1;
            return Some(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error (emulated).",
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
        let limited = f.take().expect("a 429");
        assert_eq!(limited.status.as_u16(), 429);
        let names: Vec<&str> = limited.headers.iter().map(|(n, _)| n.as_str()).collect();
        for h in [
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(names.contains(&h), "{h} in {names:?}");
        }
        assert_eq!(f.take().map(|e| e.status.as_u16()), Some(500));
        assert!(f.take().is_none());
    }
}
