//! The `otlp_http` exporter's errors and its classification of HTTP statuses.

use std::time::Duration;

use profcol_pipeline::{BoxError, ConsumeError, ErrorKind};

/// The exporter cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpBuildError(#[source] pub BoxError);

impl HttpBuildError {
    /// A settings error, whatever type the settings report it in.
    pub fn settings(e: impl Into<BoxError>) -> HttpBuildError {
        HttpBuildError(e.into())
    }
}

/// A failed export.
#[derive(Debug, thiserror::Error)]
pub enum HttpSendError {
    #[error("compressing: {0}")]
    Compress(#[source] std::io::Error),
    /// No response (connection refused, reset, timed out).
    #[error("POST {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("HTTP {status} from {url}: {message}")]
    Status {
        status: reqwest::StatusCode,
        url: String,
        message: String,
        retry_after: Option<Duration>,
    },
}

/// The OTLP/HTTP rules: 429 is throttling, 502, 503 and 504 are retryable, every other status is
/// permanent.
pub fn classify(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttled,
        502..=504 => ErrorKind::Retryable,
        _ => ErrorKind::Permanent,
    }
}

impl From<HttpSendError> for ConsumeError {
    fn from(e: HttpSendError) -> ConsumeError {
        match &e {
            HttpSendError::Compress(_) => ConsumeError::permanent(e),
            HttpSendError::Request { .. } => ConsumeError::retryable(e),
            HttpSendError::Status {
                status,
                retry_after,
                ..
            } => {
                let after = *retry_after;
                ConsumeError::new(classify(status.as_u16()), e).with_retry_after(after)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_kinds() {
        assert_eq!(classify(429), ErrorKind::Throttled);
        for s in [502, 503, 504] {
            assert_eq!(classify(s), ErrorKind::Retryable, "{s}");
        }
        for s in [400, 401, 403, 404, 413, 415, 500, 501] {
            assert_eq!(classify(s), ErrorKind::Permanent, "{s}");
        }
        let e = ConsumeError::from(HttpSendError::Status {
            status: reqwest::StatusCode::TOO_MANY_REQUESTS,
            url: "http://x/v1development/profiles".into(),
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(3)),
        });
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            e.to_string(),
            "HTTP 429 Too Many Requests from http://x/v1development/profiles: slow down"
        );
    }
}
