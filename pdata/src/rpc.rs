//! `google.rpc.Status` and the one detail profcol reads from it, `google.rpc.RetryInfo`: the error
//! body of OTLP/HTTP (protobuf) and the `grpc-status-details-bin` trailer of gRPC. Field numbers
//! are those of `google/rpc/status.proto`, `google/rpc/error_details.proto` and
//! `google/protobuf/any.proto` / `duration.proto` (github.com/googleapis/googleapis and
//! github.com/protocolbuffers/protobuf). The JSON form is in [`crate::json`].

use std::time::Duration;

use prost::Message;

/// `type_url` of a `google.rpc.RetryInfo` detail.
pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Status {
    /// A status with a code and a message and no details.
    pub fn new(code: i32, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The `RetryInfo.retry_delay` among the details, when there is a valid one (negative
    /// or out-of-range fields give `None`).
    pub fn retry_delay(&self) -> Option<Duration> {
        let info = self
            .details
            .iter()
            .find(|a| a.type_url == RETRY_INFO_TYPE)?;
        let d = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
        let secs = u64::try_from(d.seconds).ok()?;
        let nanos = u32::try_from(d.nanos).ok()?;
        Some(Duration::from_secs(secs) + Duration::from_nanos(u64::from(nanos)))
    }
}
