//! The error envelope every ServiceNow REST API answers with:
//! `{"error": {"message", "detail"}, "status": "failure"}` (tracker-apis.md §1.8).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::records::DataError;

/// An error answer: status, message, detail and any extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<String>,
    /// Extra headers (a `Vec`, not a `HeaderMap`, to keep the error small).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>, detail: Option<String>) -> Self {
        Self {
            status,
            message: message.into(),
            detail,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, Some(detail.into()))
    }

    /// 404 as ServiceNow words it for a record that is absent or hidden by an ACL.
    pub fn no_record() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "No Record found",
            Some("Record doesn't exist or ACL restricts the record retrieval".into()),
        )
    }

    /// 401 for a request without credentials or with wrong ones.
    pub fn unauthenticated() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            Some("Required to provide Auth information".into()),
        );
        e.headers.push((
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Service-now\""),
        ));
        e
    }

    /// 403 for an operation an ACL refuses.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Failed API level ACL Validation",
            Some("Operation Failed".into()),
        )
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}

impl From<DataError> for ApiError {
    fn from(e: DataError) -> Self {
        match e {
            // (inference) An unknown table is a bad URI: 400, as §1.8 lists for those.
            DataError::UnknownTable(_) => Self::new(StatusCode::BAD_REQUEST, e.to_string(), None),
            DataError::NotFound { .. } => Self::no_record(),
            // Data-policy failures come back as 403 (§1.8).
            DataError::DataPolicy { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "Operation Failed",
                Some(e.to_string()),
            ),
            DataError::DuplicateSysId { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "Operation Failed",
                Some(e.to_string()),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "message": self.message, "detail": self.detail },
            "status": "failure",
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
