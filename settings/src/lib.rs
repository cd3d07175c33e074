//! The settings profcol's components share, as the OpenTelemetry Collector's `config*` packages
//! define them: their YAML keys, defaults and accepted values, parsing, validation and pure
//! helpers. Building clients and serving stay in the crates that do them.
//!
//! | module | the Collector's | what |
//! |---|---|---|
//! | [`duration`] | Go `time.Duration` | `5s`, `200ms`, `1m30s`, or seconds as a number |
//! | [`time`] | | calendar math, HTTP dates, RFC 3339 |
//! | [`retry`] | `configretry` | `retry_on_failure`, `Retry-After` |
//! | [`queue`] | exporterhelper | `sending_queue` |
//! | [`compression`] | `configcompression` | `compression`, compress and size-limited decompress |
//! | [`tls`] | `configtls` | `tls` on clients and servers |
//! | [`http`] | `confighttp` | HTTP server settings, client URLs |
//! | [`grpc`] | `configgrpc` | gRPC server settings, client endpoints |
//! | [`headers`] | `confighttp`/`configgrpc` | client `headers` |
//! | [`load`] | `component.Config.Validate` | the config-loading trait, all problems at once |

pub mod compression;
pub mod duration;
pub mod grpc;
pub mod headers;
pub mod http;
pub mod load;
pub mod queue;
pub mod retry;
/// Calendar math, HTTP dates and RFC 3339 live in `profcol-pdata` (the layout and query use
/// them without the settings); re-exported here for the components.
pub use profcol_pdata::time;
pub mod tls;

pub use crate::compression::{Compression, DecompressError, decompress};
pub use crate::duration::{DurationError, de_duration, de_opt_duration, parse_go_duration};
pub use crate::grpc::{GrpcServerConfig, GrpcTarget, Transport};
pub use crate::headers::{check_headers, de_headers, header_map};
pub use crate::http::HttpServerConfig;
pub use crate::load::{ComponentConfig, Problems, present};
pub use crate::queue::{QueueConfig, Sizer};
pub use crate::retry::RetryConfig;
pub use crate::tls::{TlsClientConfig, TlsError, TlsServerConfig, TlsVersion};
