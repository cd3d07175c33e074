//! Why the OTLP receiver did not (fully) take a request.

use profcol_pdata::ValidationError;
use profcol_pipeline::{ConsumeError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    /// Invalid: 400 / INVALID_ARGUMENT.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The pipeline refused it: by kind, 503 / UNAVAILABLE or 400 / INVALID_ARGUMENT.
    #[error(transparent)]
    Refused(#[from] ConsumeError),
}

/// How a receiver answers: the HTTP status and gRPC code of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 400 / INVALID_ARGUMENT.
    Invalid,
    /// 503 / UNAVAILABLE (with `Retry-After` over HTTP).
    Unavailable,
}

impl IngestError {
    pub(crate) fn answer(&self) -> Answer {
        match self {
            IngestError::Invalid(_) => Answer::Invalid,
            IngestError::Refused(e) => match e.kind() {
                ErrorKind::Permanent => Answer::Invalid,
                // OTLP has no throttling status of its own: both ask the client to retry.
                ErrorKind::Retryable | ErrorKind::Throttled => Answer::Unavailable,
            },
        }
    }
}
