//! The `pyroscope` exporter's errors and its classification of Push responses.

use std::time::Duration;

use profcol_pipeline::{BoxError, ConsumeError, ErrorKind};

/// The exporter cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PyroscopeBuildError(#[source] pub BoxError);

impl PyroscopeBuildError {
    /// A settings error, whatever type the settings report it in.
    pub fn settings(e: impl Into<BoxError>) -> PyroscopeBuildError {
        PyroscopeBuildError(e.into())
    }
}

/// A failed Push (or a batch that could not be pushed).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No response (connection refused, reset, timed out).
    #[error("POST {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status (and maybe a Connect error code).
    #[error("HTTP {status}{} from {url}: {message}", code_suffix(.code))]
    Status {
        status: reqwest::StatusCode,
        code: String,
        url: String,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("compressing: {0}")]
    Compress(#[source] std::io::Error),
    #[error(
        "every profile of the request fell outside Pyroscope's ingestion window while retrying"
    )]
    OutsideWindow,
    /// A retryable failure not retried because the data would then be too old.
    #[error("{0}; not retried: the data would fall outside Pyroscope's ingestion window")]
    TooLateToRetry(#[source] ConsumeError),
    #[error(
        "nothing to send: {pprofs} profile(s) dropped (too old {too_old}, too new {too_new}, no sample type {no_sample_type}, oversize samples {oversize})"
    )]
    NothingToSend {
        pprofs: usize,
        too_old: usize,
        too_new: usize,
        no_sample_type: usize,
        oversize: usize,
    },
    /// Some of the requests of a batch failed.
    #[error("{failed} of {total} Push requests failed; last error: {last}")]
    Partly {
        failed: usize,
        total: usize,
        #[source]
        last: ConsumeError,
    },
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    }
}

/// Whether a failed response is worth retrying: the Connect code when the body has one, else the
/// HTTP status. `resource_exhausted` and 429 are throttling; `unavailable`, `internal`,
/// `unknown`, `data_loss`, `aborted`, `deadline_exceeded`, 408 and 5xx other than 501 are
/// retryable; the rest is permanent.
pub fn classify(status: u16, code: &str) -> ErrorKind {
    match code {
        "resource_exhausted" => ErrorKind::Throttled,
        "unavailable" | "internal" | "unknown" | "data_loss" | "aborted" | "deadline_exceeded" => {
            ErrorKind::Retryable
        }
        "" if status == 429 => ErrorKind::Throttled,
        "" if status == 408 || (500..600).contains(&status) && status != 501 => {
            ErrorKind::Retryable
        }
        _ => ErrorKind::Permanent,
    }
}

impl From<PushError> for ConsumeError {
    fn from(e: PushError) -> ConsumeError {
        match &e {
            PushError::Request { .. } => ConsumeError::retryable(e),
            PushError::Status {
                status,
                code,
                retry_after,
                ..
            } => {
                let (kind, after) = (classify(status.as_u16(), code), *retry_after);
                ConsumeError::new(kind, e).with_retry_after(after)
            }
            PushError::Partly { last, .. } => {
                let (kind, after) = (last.kind(), last.retry_after());
                ConsumeError::new(kind, e).with_retry_after(after)
            }
            PushError::Compress(_)
            | PushError::OutsideWindow
            | PushError::TooLateToRetry(_)
            | PushError::NothingToSend { .. } => ConsumeError::permanent(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_kinds() {
        assert_eq!(classify(429, ""), ErrorKind::Throttled);
        assert_eq!(classify(429, "resource_exhausted"), ErrorKind::Throttled);
        assert_eq!(classify(400, "resource_exhausted"), ErrorKind::Throttled);
        for s in [408, 500, 502, 503, 504] {
            assert_eq!(classify(s, ""), ErrorKind::Retryable, "{s}");
        }
        assert_eq!(classify(503, "unavailable"), ErrorKind::Retryable);
        for s in [400, 401, 403, 404, 413, 501] {
            assert_eq!(classify(s, ""), ErrorKind::Permanent, "{s}");
        }
        assert_eq!(classify(400, "invalid_argument"), ErrorKind::Permanent);
        // The Connect code decides over the status.
        assert_eq!(classify(503, "invalid_argument"), ErrorKind::Permanent);

        let e = ConsumeError::from(PushError::Status {
            status: reqwest::StatusCode::TOO_MANY_REQUESTS,
            code: String::new(),
            url: "http://p/push.v1.PusherService/Push".into(),
            message: "slow".into(),
            retry_after: Some(Duration::from_secs(4)),
        });
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
        assert_eq!(
            e.to_string(),
            "HTTP 429 Too Many Requests from http://p/push.v1.PusherService/Push: slow"
        );
        let partly = ConsumeError::from(PushError::Partly {
            failed: 1,
            total: 2,
            last: e,
        });
        assert_eq!(partly.kind(), ErrorKind::Throttled);
        assert!(
            partly
                .to_string()
                .starts_with("1 of 2 Push requests failed")
        );
    }
}
