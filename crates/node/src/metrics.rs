//! The node's Prometheus metrics: what `/metrics` answers, in the OpenMetrics text format
//! written by `prometheus-client`.
//!
//! Each node has its own [`Metrics`] (a registry held in `AppState`), never a process-global
//! recorder: tests and the demo run several nodes in one process, and each must count only its
//! own work. Two kinds of values:
//!
//! - **Counted as they happen** — HTTP requests, delivery attempts and failures, apply
//!   latency: counters and histograms in [`Metrics`], bumped by the code that does the work
//!   (one atomic add and a lookup by label; nothing is written to the database).
//! - **Read at the scrape** — queue depth and oldest message age, twins and open sync errors
//!   (one snapshot from [`tandem_store::Store::sync_gauges`]), storage faults
//!   ([`tandem_store::Store::storage_faults`]) and the tracker's poll lag: put in a registry
//!   made for that one answer, so a deleted connection's series simply stop.
//!
//! Label values are bounded: connection names (as many as there are connections), route
//! templates (`/api/v1/items/{key}`, never the raw path), the standard HTTP methods (any other
//! is `other`) and status classes (`2xx`).
//!
//! `/metrics` is served on the node's address to a bearer token of any scope ([`scrape`]), and,
//! with `--metrics-listen`, on a second address without one ([`serve_plain`]).

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::auth::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// What a scrape is answered with (OpenMetrics text, which Prometheus asks for by default).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The path, on the node's address and on `--metrics-listen`.
pub const PATH: &str = "/metrics";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    /// The route template, or `unmatched` for a path no route has.
    route: String,
    /// `2xx`, `4xx`, …
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabel {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TrackerLabel {
    tracker: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 33 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// One node's metrics registry and the counters its code bumps.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpLabels>,
    delivery_attempts: Family<ConnectionLabel, Counter>,
    delivery_failures: Family<ConnectionLabel, Counter>,
    apply_duration: HistogramFamily<ConnectionLabel>,
    /// When the ServiceNow bridge last started: the poll lag before its first poll.
    bridge_started: std::sync::Mutex<Option<jiff::Timestamp>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tandem");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status class",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's head to its answer's head, by method, route template and status class",
            Unit::Seconds,
            http_duration.clone(),
        );
        let delivery_attempts = Family::<ConnectionLabel, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Batches of queued messages sent to (or asked of) a connection's remote node",
            delivery_attempts.clone(),
        );
        let delivery_failures = Family::<ConnectionLabel, Counter>::default();
        registry.register(
            "delivery_failures",
            "Delivery attempts that failed: the remote could not be reached or refused the request",
            delivery_failures.clone(),
        );
        let apply_duration: HistogramFamily<ConnectionLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "apply_duration",
            "Time to apply one incoming sync message (rules, the item's change, its acknowledgement), per connection",
            Unit::Seconds,
            apply_duration.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            delivery_attempts,
            delivery_failures,
            apply_duration,
            bridge_started: std::sync::Mutex::new(None),
        }
    }

    /// A batch is about to be sent to the connection's remote (or its queue asked for).
    pub fn delivery_attempt(&self, connection: &str) {
        self.delivery_attempts
            .get_or_create(&ConnectionLabel {
                connection: connection.to_owned(),
            })
            .inc();
    }

    /// A delivery attempt failed.
    pub fn delivery_failure(&self, connection: &str) {
        self.delivery_failures
            .get_or_create(&ConnectionLabel {
                connection: connection.to_owned(),
            })
            .inc();
    }

    /// An incoming sync message of the connection was applied in `took`.
    pub fn applied(&self, connection: &str, took: Duration) {
        self.apply_duration
            .get_or_create(&ConnectionLabel {
                connection: connection.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// The ServiceNow bridge (re)started: its poll lag counts from now until the first poll.
    pub fn bridge_started(&self) {
        *self
            .bridge_started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(jiff::Timestamp::now());
    }

    fn http_answered(&self, labels: HttpLabels, took: Duration) {
        self.http_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }
}

/// A method as a label value: the standard ones by name, any other as `other` (a client can
/// send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware counting every request by method, route template and status class, with its
/// latency. Added with `Router::layer`, so axum has matched the route when it runs.
pub async fn track_http(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics().http_answered(
        HttpLabels {
            method,
            route,
            status: status_class(response.status()),
        },
        started.elapsed(),
    );
    response
}

/// `GET /metrics` on the node's address: any API token may read it (read scope is enough).
pub async fn scrape(_: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    exposition(&state).await
}

/// The whole exposition: the counters, then what is read now.
async fn exposition(state: &AppState) -> Result<Response, ApiError> {
    let gauges = state.store().sync_gauges().await?;
    let now = jiff::Timestamp::now();
    let mut current = Registry::with_prefix("tandem");

    let queued = Family::<ConnectionLabel, Gauge>::default();
    let oldest = Family::<ConnectionLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let twins = Family::<ConnectionLabel, Gauge>::default();
    let open_errors = Family::<ConnectionLabel, Gauge>::default();
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for c in &gauges.connections {
        let label = ConnectionLabel {
            connection: c.name.clone(),
        };
        queued.get_or_create(&label).set(count(c.queued));
        let age = c.oldest_queued.map_or(0.0, |at| seconds_since(at, now));
        oldest.get_or_create(&label).set(age);
        twins.get_or_create(&label).set(count(c.twins));
        open_errors.get_or_create(&label).set(count(c.open_errors));
    }
    // The node's own errors (no connection) under an empty connection label.
    open_errors
        .get_or_create(&ConnectionLabel {
            connection: String::new(),
        })
        .set(count(gauges.node_open_errors));
    current.register(
        "queue_messages",
        "Messages on a connection's queue, waiting for the remote's acknowledgement",
        queued,
    );
    current.register_with_unit(
        "queue_oldest_message_age",
        "Age of the oldest message on a connection's queue (0 when it is empty)",
        Unit::Seconds,
        oldest,
    );
    current.register(
        "twins",
        "Twins (items under sync, active or stopped) per connection",
        twins,
    );
    current.register(
        "sync_errors_open",
        "Sync errors not yet resolved, per connection (the node's own under connection=\"\")",
        open_errors,
    );

    let faults = Counter::<u64>::default();
    faults.inc_by(state.store().storage_faults());
    current.register(
        "storage_errors",
        "Store operations that failed on a fault of the database or its disk, since the node started",
        faults,
    );

    if let Some(status) = state.bridge_status() {
        let started = *state
            .metrics()
            .bridge_started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(since) = status.last_poll.or(started) {
            let lag = Family::<TrackerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
            lag.get_or_create(&TrackerLabel {
                tracker: "servicenow",
            })
            .set(seconds_since(since, now));
            current.register_with_unit(
                "tracker_poll_lag",
                "Time since the tracker was last polled successfully (since the bridge started, before its first poll)",
                Unit::Seconds,
                lag,
            );
        }
    }

    let mut text = String::new();
    encode_registry(&mut text, &state.metrics().registry)
        .and_then(|()| encode_registry(&mut text, &current))
        .and_then(|()| encode_eof(&mut text))
        .map_err(|e| ApiError::Internal(format!("the metrics could not be written: {e}")))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

fn seconds_since(at: jiff::Timestamp, now: jiff::Timestamp) -> f64 {
    now.duration_since(at).as_secs_f64().max(0.0)
}

/// The router of `--metrics-listen`: `/metrics` without a token, nothing else.
pub fn plain_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(
            PATH,
            axum::routing::get(
                |State(state): State<AppState>| async move { exposition(&state).await },
            ),
        )
        .with_state(state)
}

/// Serves [`plain_router`] on `listener` until `cancel` fires.
pub async fn serve_plain(
    listener: tokio::net::TcpListener,
    state: AppState,
    cancel: tokio_util::sync::CancellationToken,
) {
    let served = axum::serve(listener, plain_router(state))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "The metrics address stopped serving.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_stay_bounded_whatever_the_client_sends() {
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::INSUFFICIENT_STORAGE), "5xx");
        assert_eq!(status_class(StatusCode::SWITCHING_PROTOCOLS), "1xx");
    }

    #[test]
    fn counters_and_histograms_are_written_with_their_units() {
        let metrics = Metrics::new();
        metrics.delivery_attempt("desk");
        metrics.delivery_attempt("desk");
        metrics.delivery_failure("desk");
        metrics.applied("desk", Duration::from_millis(3));
        let mut text = String::new();
        encode_registry(&mut text, &metrics.registry).unwrap();
        assert!(
            text.contains("tandem_delivery_attempts_total{connection=\"desk\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tandem_delivery_failures_total{connection=\"desk\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tandem_apply_duration_seconds_count{connection=\"desk\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "tandem_apply_duration_seconds_bucket{le=\"0.004\",connection=\"desk\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# UNIT tandem_apply_duration_seconds seconds\n"),
            "{text}"
        );
    }
}
