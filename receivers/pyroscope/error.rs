//! Why the Pyroscope receiver did not take a request, with the status Pyroscope answers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use profcol_pipeline::{ConsumeError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub(crate) enum RecvError {
    /// 400 `invalid_argument`.
    #[error("{0}")]
    BadRequest(String),
    /// 422 (`/ingest` pprof or JFR that could not be ingested).
    #[error("{0}")]
    Unprocessable(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 415.
    #[error("{0}")]
    Unsupported(String),
    /// The pipeline refused it: 400 when permanent, else 429 (Pyroscope's answer to both
    /// retryable and throttled refusals).
    #[error(transparent)]
    Refused(#[from] ConsumeError),
}

impl RecvError {
    pub(crate) fn status(&self) -> (StatusCode, &'static str) {
        match self {
            RecvError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
            RecvError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_argument"),
            RecvError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "resource_exhausted"),
            RecvError::Unsupported(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_argument"),
            RecvError::Refused(e) => match e.kind() {
                ErrorKind::Permanent => (StatusCode::BAD_REQUEST, "invalid_argument"),
                ErrorKind::Retryable | ErrorKind::Throttled => {
                    (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted")
                }
            },
        }
    }

    pub(crate) fn message(&self) -> String {
        self.to_string()
    }

    /// Whether the pipeline asked the client to come back later.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, RecvError::Refused(e) if e.is_retryable())
    }

    /// The Connect-style JSON error response Pyroscope sends.
    pub(crate) fn response(&self) -> Response {
        let (status, code) = self.status();
        let body = serde_json::json!({"code": code, "message": self.message()}).to_string();
        let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let RecvError::Refused(e) = self
            && e.is_retryable()
        {
            let secs = e.retry_after().map_or(1, |d| d.as_secs().max(1));
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    }
}
