//! The errors that cross component boundaries.
//!
//! One type, [`ConsumeError`], serves both directions of the data path: a consumer refusing a
//! batch ([`Consumer::consume`](crate::Consumer::consume)) and an exporter's send failing
//! ([`Sender::send`](crate::exporter_helper::Sender::send); `SendError` is an alias of it). It
//! carries an [`ErrorKind`], an optional delay the other side asked for, and the error that
//! caused it, kept as a real `std::error::Error` (its `source()` chain intact) rather than a
//! string:
//!
//! | kind | meaning | exporter queue | receivers answer |
//! |---|---|---|---|
//! | [`ErrorKind::Retryable`] | a transient failure (connection, timeout, 5xx, shutting down) | retries with backoff | 503 / `UNAVAILABLE` |
//! | [`ErrorKind::Throttled`] | the other side asked to slow down (queue full, memory limit, 429, `RESOURCE_EXHAUSTED` with `RetryInfo`) | retries, waiting at least `retry_after` | as retryable; 429 / `RESOURCE_EXHAUSTED` where the protocol has it |
//! | [`ErrorKind::Permanent`] | the data can never be accepted | drops the data | 400 / `INVALID_ARGUMENT` |
//!
//! `Display` and `source()` are those of the wrapped error (like `#[error(transparent)]`), so
//! wrapping changes no message; [`ConsumeError::get_ref`] and [`ConsumeError::downcast_ref`]
//! reach the wrapped error itself.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The boxed error a [`ConsumeError`] is built from (`String`, `&str` and every error type
/// convert into it).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// How the sender of a refused batch should react.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Transient: trying again later may succeed.
    Retryable,
    /// The receiving side is overloaded and asked to slow down; retry after `retry_after`.
    Throttled,
    /// The data can never be accepted: do not retry.
    Permanent,
}

impl ErrorKind {
    /// Whether a retry may succeed (retryable and throttled).
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorKind::Permanent)
    }

    /// The kind of a local IO failure: interruptions, timeouts, a full disk, a busy resource and
    /// broken connections may pass; anything else (not found, permission denied, invalid data)
    /// will not.
    pub fn of_io(e: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as Io;
        match e.kind() {
            Io::Interrupted
            | Io::TimedOut
            | Io::WouldBlock
            | Io::StorageFull
            | Io::ResourceBusy
            | Io::OutOfMemory
            | Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::BrokenPipe
            | Io::NetworkDown
            | Io::NetworkUnreachable
            | Io::HostUnreachable => ErrorKind::Retryable,
            _ => ErrorKind::Permanent,
        }
    }

    /// A short lower-case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Permanent => "permanent",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a batch was not taken or not sent: a kind, the delay the other side asked for, and the
/// underlying error. Cheap to clone (the error is shared).
#[derive(Clone)]
pub struct ConsumeError {
    kind: ErrorKind,
    retry_after: Option<Duration>,
    error: Arc<dyn StdError + Send + Sync + 'static>,
}

impl ConsumeError {
    /// An error of `kind` caused by `error`.
    pub fn new(kind: ErrorKind, error: impl Into<BoxError>) -> ConsumeError {
        ConsumeError {
            kind,
            retry_after: None,
            error: Arc::from(error.into()),
        }
    }

    /// A transient failure.
    pub fn retryable(error: impl Into<BoxError>) -> ConsumeError {
        ConsumeError::new(ErrorKind::Retryable, error)
    }

    /// The other side asked to slow down.
    pub fn throttled(error: impl Into<BoxError>) -> ConsumeError {
        ConsumeError::new(ErrorKind::Throttled, error)
    }

    /// The data can never be accepted.
    pub fn permanent(error: impl Into<BoxError>) -> ConsumeError {
        ConsumeError::new(ErrorKind::Permanent, error)
    }

    /// Sets the delay the other side asked for (HTTP `Retry-After`, gRPC `RetryInfo`).
    pub fn with_retry_after(mut self, after: Option<Duration>) -> ConsumeError {
        self.retry_after = after;
        self
    }

    /// The same error with another kind (e.g. a retryable failure that must not be retried
    /// because part of the data was already delivered).
    pub fn with_kind(mut self, kind: ErrorKind) -> ConsumeError {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Retryable or throttled.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    pub fn is_permanent(&self) -> bool {
        self.kind == ErrorKind::Permanent
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// The wrapped error as `T`, when it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.error.downcast_ref::<T>()
    }
}

impl fmt::Debug for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumeError")
            .field("kind", &self.kind)
            .field("retry_after", &self.retry_after)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.error, f)
    }
}

impl StdError for ConsumeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn kinds_messages_and_sources() {
        let e =
            ConsumeError::retryable("queue full").with_retry_after(Some(Duration::from_secs(1)));
        assert_eq!(e.to_string(), "queue full");
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        assert!(ConsumeError::throttled("slow down").is_retryable());
        assert!(ConsumeError::permanent("bad").is_permanent());
        assert!(!ConsumeError::permanent("bad").is_retryable());

        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        let e = ConsumeError::retryable(Outer(io));
        assert_eq!(e.to_string(), "outer");
        assert!(e.downcast_ref::<Outer>().is_some());
        let src = e.source().map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("timed out"));
        assert_eq!(
            e.clone().with_kind(ErrorKind::Permanent).kind(),
            ErrorKind::Permanent
        );
    }

    #[test]
    fn io_kinds() {
        use std::io::{Error, ErrorKind as Io};
        for k in [
            Io::Interrupted,
            Io::TimedOut,
            Io::StorageFull,
            Io::ConnectionReset,
        ] {
            assert_eq!(
                ErrorKind::of_io(&Error::from(k)),
                ErrorKind::Retryable,
                "{k:?}"
            );
        }
        for k in [Io::NotFound, Io::PermissionDenied, Io::InvalidData] {
            assert_eq!(
                ErrorKind::of_io(&Error::from(k)),
                ErrorKind::Permanent,
                "{k:?}"
            );
        }
    }
}
