//! When a request may be sent again and how long to wait first (tracker-apis.md §2.8).
//!
//! - A 429 is always safe to repeat (Jira did nothing): the client waits what `Retry-After`
//!   asks (or until `X-RateLimit-Reset`), up to [`RetryPolicy::max_retry_after`]; a longer wait
//!   goes back to the caller as `JiraError::RateLimited` so it can pause instead of holding a
//!   task.
//! - A 5xx or a dropped connection is retried with exponential backoff and jitter only when the
//!   request is [`Repeat::Safe`]: reads, a PUT of the same body, a DELETE. A POST that creates
//!   (an issue, a comment, an attachment) or moves (a transition) is [`Repeat::Unsafe`]: it is
//!   retried only when Jira certainly did not act (a 429, or no connection was ever made).
//! - The `X-RateLimit-*` headers of every answer are kept as a [`RateLimitStatus`].

use std::time::Duration;

use reqwest::header::HeaderMap;

/// When and how long to wait before trying a request again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first backoff after a 5xx or a network failure; it doubles with each try.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client waits out itself.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Whether sending a request twice can do something twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads, PUTs of the same body, DELETEs: doing them twice leaves the same result.
    Safe,
    /// Creates and transitions: repeated only when Jira certainly did not act.
    Unsafe,
}

impl RetryPolicy {
    /// Exponential backoff with jitter: a random wait between half and all of
    /// `base · 2^(attempt-1)`, capped at `max_delay`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        exp / 2 + exp / 2 * u32::from(byte[0]) / 255
    }
}

/// What the last answer's rate-limit headers said (Cloud: `X-RateLimit-Limit`,
/// `-Remaining`, `-NearLimit`; Data Center: the same plus `-Interval-Seconds`, `-FillRate`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Jira Cloud says less than a fifth of the budget is left.
    pub near_limit: bool,
}

impl RateLimitStatus {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let near_limit = headers
            .get("x-ratelimit-nearlimit")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let status = Self {
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            near_limit,
        };
        (status != Self::default()).then_some(status)
    }
}

/// How long a 429 (or a 503 that says so) asks to wait: `Retry-After` in seconds (or as an
/// HTTP date), else the time left until `X-RateLimit-Reset` (Cloud: ISO-8601 such as
/// `2026-12-07T23:41Z`; some proxies send epoch seconds). Never less than a second, never
/// more than an hour, whatever the header says.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, jiff::Timestamp::now())
}

fn retry_after_at(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let clamp = |secs: i64| Duration::from_secs(secs.clamp(1, 3600) as u64);
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<i64>() {
            return Some(clamp(secs));
        }
        if let Some(at) = http_date(v) {
            return Some(clamp(at.as_second().saturating_sub(now.as_second())));
        }
    }
    let reset = text("x-ratelimit-reset")?;
    let at = if let Ok(epoch) = reset.parse::<i64>() {
        epoch
    } else {
        parse_reset(reset)?.as_second()
    };
    Some(clamp(at.saturating_sub(now.as_second())))
}

/// `X-RateLimit-Reset` as Jira Cloud sends it: ISO-8601, to the minute or the second, `Z` or
/// an offset.
fn parse_reset(v: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    // `2026-12-07T23:41Z`: no seconds, which RFC 3339 requires.
    let body = v.strip_suffix('Z').or_else(|| v.strip_suffix('z'))?;
    format!("{body}:00Z").parse().ok()
}

/// An RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(v: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(v).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn retry_after_prefers_the_header_then_the_iso_reset_time() {
        let now: jiff::Timestamp = "2026-12-07T23:40:30Z".parse().expect("time");
        assert_eq!(
            retry_after_at(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after_at(&headers(&[("x-ratelimit-reset", "2026-12-07T23:41Z")]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after_at(
                &headers(&[("retry-after", "Mon, 07 Dec 2026 23:40:40 GMT")]),
                now
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_after_at(&HeaderMap::new(), now), None);
    }

    #[test]
    fn hostile_rate_limit_headers_are_bounded() {
        let now = jiff::Timestamp::now();
        for (v, secs) in [("-5", 1), ("999999999999", 3600)] {
            assert_eq!(
                retry_after_at(&headers(&[("retry-after", v)]), now),
                Some(Duration::from_secs(secs))
            );
        }
        for (v, secs) in [(i64::MIN.to_string(), 1), (i64::MAX.to_string(), 3600)] {
            assert_eq!(
                retry_after_at(&headers(&[("x-ratelimit-reset", &v)]), now),
                Some(Duration::from_secs(secs))
            );
        }
        assert_eq!(
            retry_after_at(&headers(&[("x-ratelimit-reset", "soon")]), now),
            None
        );
    }

    #[test]
    fn rate_limit_headers_are_kept() {
        let s = RateLimitStatus::from_headers(&headers(&[
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "12"),
            ("x-ratelimit-nearlimit", "true"),
        ]))
        .expect("status");
        assert_eq!(
            s,
            RateLimitStatus {
                limit: Some(100),
                remaining: Some(12),
                near_limit: true
            }
        );
        assert_eq!(RateLimitStatus::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_delay, "{attempt}: {d:?}");
            let full = p
                .base_delay
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(p.max_delay);
            assert!(d >= full / 2, "{attempt}: {d:?}");
        }
    }
}
