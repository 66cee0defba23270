//! The node's errors: [`NodeError`] for starting and running, [`ApiError`] for HTTP answers.
//!
//! `ApiError` maps each case to a status code and a JSON body
//! `{"error": {"code": "...", "message": "..."}}` whose message is safe to show: internal
//! faults are logged with their detail and answered with a generic 500.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tandem_store::{StorageFault, StoreError};

/// Seconds a caller is asked to wait after a storage fault other than a full disk.
const STORAGE_RETRY_AFTER: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("cannot use data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error("{0}")]
    Internal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// What was asked for existed once and is gone for good.
    #[error("{0}")]
    Gone(String),
    /// Too many requests of this kind: try again after `retry_after` seconds, when given.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: Option<u64>,
    },
    /// The node cannot take this request now: try again after `retry_after` seconds.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u64 },
    /// The disk holding the node's data is full: the message names it.
    #[error("{0}")]
    InsufficientStorage(String),
    /// The client stopped sending its request before it was complete.
    #[error("{0}")]
    RequestTimeout(String),
    /// Logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Gone(_) => "gone",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// Seconds the caller should wait before trying again (the `Retry-After` header).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests { retry_after, .. } => *retry_after,
            ApiError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The text a caller may see.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "internal error: the node could not complete the request; see its log".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::AlreadyExists(_) | StoreError::VersionConflict { .. } => {
                ApiError::Conflict(e.to_string())
            }
            StoreError::Invalid(v) => ApiError::BadRequest(v.to_string()),
            // Not the request's fault and not a bug: said as it is, so the admin knows what
            // to fix, and whoever called knows to try again later.
            StoreError::Storage {
                fault: StorageFault::Full,
                ..
            } => ApiError::InsufficientStorage(e.to_string()),
            StoreError::Storage { .. } => ApiError::Unavailable {
                message: e.to_string(),
                retry_after: STORAGE_RETRY_AFTER,
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::sync::verify::VerifyError> for ApiError {
    fn from(e: crate::sync::verify::VerifyError) -> Self {
        use crate::sync::verify::VerifyError as E;
        match e {
            E::Store(s) => s.into(),
            E::Sync(s) => s.into(),
            E::Pending { .. } => ApiError::Conflict(e.to_string()),
            E::BadRequest(message) => ApiError::BadRequest(message),
        }
    }
}

impl From<crate::sync::conflicts::RestoreError> for ApiError {
    fn from(e: crate::sync::conflicts::RestoreError) -> Self {
        use crate::sync::conflicts::RestoreError as E;
        match e {
            E::Store(s) => s.into(),
            E::NotFound { .. } => ApiError::NotFound(e.to_string()),
            E::ItemGone { .. } => ApiError::Gone(e.to_string()),
            E::NoSuchField { .. } | E::Invalid { .. } => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<crate::auth::SignInError> for ApiError {
    fn from(e: crate::auth::SignInError) -> Self {
        use crate::auth::throttle::Refusal;
        match e {
            crate::auth::SignInError::Refused(refusal) => {
                let (message, retry_after) = (refusal.message(), refusal.retry_after_secs());
                match refusal {
                    Refusal::Throttled { .. } => ApiError::TooManyRequests {
                        message,
                        retry_after: Some(retry_after),
                    },
                    Refusal::Busy { .. } => ApiError::Unavailable {
                        message,
                        retry_after,
                    },
                }
            }
            crate::auth::SignInError::Node(inner) => inner.into(),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Store(s) => s.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "Request failed.");
        }
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: self.code(),
                message: self.public_message(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiErrorDetail {
    /// What went wrong, for programs.
    #[schema(value_type = String, example = "bad_request")]
    pub code: &'static str,
    /// What went wrong, for people; safe to show.
    pub message: String,
}

/// `Json<T>` whose rejections answer in the API's error shape, naming what was wrong with the
/// body ("expected `,` or `}` at line 1 column 12", "missing field `summary`").
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest(
            "the request body must be JSON: send the header Content-Type: application/json".into(),
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("malformed JSON: {}", source_text(&e)))
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::BadRequest(format!("invalid request body: {}", source_text(&e)))
        }
        JsonRejection::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("the request body is too large".into())
            } else {
                body_error(&e)
            }
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// Why a request body could not be read: 408 when the client stopped sending it (the body
/// timeout), 413 when it is over the route's limit, else 400.
pub fn body_error(e: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut inner: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = inner {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::RequestTimeout(
                "the request body stopped arriving before it was complete".into(),
            );
        }
        if error.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge("the request body is too large".into());
        }
        inner = error.source();
    }
    ApiError::BadRequest(format!("cannot read the request body: {e}"))
}

/// serde's message without axum's "Failed to deserialize the JSON body into the target type"
/// prefix.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}
