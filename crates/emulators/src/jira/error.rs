//! Jira's error envelope, `ErrorCollection`: `{"errorMessages": [..], "errors": {field: msg}}`
//! (tracker-apis.md §2.9), for every 4xx and 5xx the emulator answers.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answer: status, messages, per-field errors and any extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub messages: Vec<String>,
    /// Boxed to keep `Result<_, ApiError>` small.
    pub errors: Box<Map<String, Value>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            messages: vec![message.into()],
            errors: Box::default(),
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 naming the fields at fault, as create and edit answer.
    pub fn fields(errors: Map<String, Value>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            messages: Vec::new(),
            errors: Box::new(errors),
            headers: Vec::new(),
        }
    }

    /// 400 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.to_owned(), Value::String(message.into()));
        Self::fields(errors)
    }

    /// 404 for an issue that is absent or hidden: Jira does not tell them apart.
    pub fn no_issue() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Issue does not exist or you do not have permission to see it.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 401 for a request without credentials or with wrong ones.
    pub fn unauthenticated() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated. Authentication required to perform this operation.",
        );
        e.headers.push((
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"protected-area\""),
        ));
        e
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "errorMessages": self.messages, "errors": self.errors });
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_have_no_messages_and_name_the_field() {
        let e = ApiError::field("summary", "You must specify a summary of the issue.");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.messages.is_empty());
        assert_eq!(
            e.errors["summary"],
            "You must specify a summary of the issue."
        );
    }
}
