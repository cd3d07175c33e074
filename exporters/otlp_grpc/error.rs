//! The `otlp_grpc` exporter's errors and its classification of gRPC statuses.

use std::time::Duration;

use profcol_pdata::rpc::Status as RpcStatus;
use profcol_pipeline::{BoxError, ConsumeError, ErrorKind};
use prost::Message;
use tonic::{Code, Status};

/// The exporter cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum GrpcBuildError {
    /// `endpoint`, `tls` files: as the settings report them.
    #[error("{0}")]
    Settings(#[source] BoxError),
    #[error("invalid endpoint: {0}")]
    Endpoint(#[source] tonic::transport::Error),
    #[error("invalid user_agent: {0}")]
    UserAgent(#[source] tonic::transport::Error),
    #[error("invalid tls settings: {0}")]
    Tls(#[source] tonic::transport::Error),
    #[error("invalid header {key}: {source}")]
    HeaderName {
        key: String,
        #[source]
        source: tonic::metadata::errors::InvalidMetadataKey,
    },
    #[error("invalid header value for {key}: {source}")]
    HeaderValue {
        key: String,
        #[source]
        source: tonic::metadata::errors::InvalidMetadataValue,
    },
}

impl GrpcBuildError {
    /// A settings error, whatever type the settings report it in.
    pub fn settings(e: impl Into<BoxError>) -> GrpcBuildError {
        GrpcBuildError::Settings(e.into())
    }
}

/// A failed export.
#[derive(Debug, thiserror::Error)]
pub enum GrpcSendError {
    #[error("connecting to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The server (or the transport) answered with a non-OK status.
    #[error("{:?}: {}", .0.code(), .0.message())]
    Status(Status),
    #[error("decoding response: {0}")]
    Response(#[source] prost::DecodeError),
}

/// The `RetryInfo.retry_delay` in a status's details, when there is one.
pub fn retry_delay(status: &Status) -> Option<Duration> {
    RpcStatus::decode(status.details()).ok()?.retry_delay()
}

/// The OTLP/gRPC rules: `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`,
/// `UNAVAILABLE` and `DATA_LOSS` are retryable; `RESOURCE_EXHAUSTED` is throttling when the server
/// says when to come back (details present, `RetryInfo`), else permanent; every other code is
/// permanent.
pub fn classify(status: &Status) -> (ErrorKind, Option<Duration>) {
    let kind = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => ErrorKind::Retryable,
        Code::ResourceExhausted if !status.details().is_empty() => ErrorKind::Throttled,
        _ => ErrorKind::Permanent,
    };
    let after = if kind.is_retryable() {
        retry_delay(status)
    } else {
        None
    };
    (kind, after)
}

impl From<GrpcSendError> for ConsumeError {
    fn from(e: GrpcSendError) -> ConsumeError {
        match &e {
            GrpcSendError::Connect { .. } => ConsumeError::retryable(e),
            GrpcSendError::Status(s) => {
                let (kind, after) = classify(s);
                ConsumeError::new(kind, e).with_retry_after(after)
            }
            GrpcSendError::Response(_) => ConsumeError::permanent(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_info(secs: i64) -> bytes::Bytes {
        use profcol_pdata::rpc::{Any, ProtoDuration, RETRY_INFO_TYPE, RetryInfo};
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: secs,
                nanos: 0,
            }),
        };
        RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: "slow down".into(),
            details: vec![Any {
                type_url: RETRY_INFO_TYPE.into(),
                value: info.encode_to_vec(),
            }],
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn status_kinds() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert_eq!(
                classify(&Status::new(code, "x")).0,
                ErrorKind::Retryable,
                "{code:?}"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::Internal,
            Code::ResourceExhausted,
        ] {
            assert_eq!(
                classify(&Status::new(code, "x")).0,
                ErrorKind::Permanent,
                "{code:?}"
            );
        }
        let throttled = Status::with_details(Code::ResourceExhausted, "slow down", retry_info(7));
        assert_eq!(
            classify(&throttled),
            (ErrorKind::Throttled, Some(Duration::from_secs(7)))
        );
        let e = ConsumeError::from(GrpcSendError::Status(throttled));
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.to_string(), "ResourceExhausted: slow down");
        let unavailable = Status::with_details(Code::Unavailable, "later", retry_info(2));
        assert_eq!(
            classify(&unavailable),
            (ErrorKind::Retryable, Some(Duration::from_secs(2)))
        );
    }
}
