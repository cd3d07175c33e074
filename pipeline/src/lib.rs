//! Component traits, the factory registry, graph building, fan-out, the exporter queue, shutdown
//! and internal telemetry (metrics, health), and the helpers every component is built from:
//!
//! - [`error`]: [`ConsumeError`] with its [`ErrorKind`] (retryable, throttled, permanent), the
//!   one error type of consumes and sends (`exporter_helper::SendError` is an alias), carrying
//!   its source error; [`BuildError`] and [`StartError`] name the component.
//! - [`receiver_helper`]: [`ReceiverObserver`] forwards a receiver's batches to the next consumer
//!   and counts accepted/refused samples and requests per transport;
//!   [`metadata_from_headers`] / [`metadata_from_grpc`] turn HTTP headers or gRPC metadata into
//!   request metadata (`include_metadata`).
//! - [`task`]: [`TaskSet`] (background tasks, their stop token, a bounded wait on shutdown) and
//!   [`TaskComponent`], the component of anything that only runs tasks ([`Tasks`]).
//! - [`exporter_helper`]: [`QueuedExporter`](exporter_helper::QueuedExporter) around a
//!   [`Sender`](exporter_helper::Sender): bounded queue, consumers, retries honouring the error
//!   kind and `retry_after`, the Collector's exporter metrics.
//! - [`grpc_codec`]: [`RawCodec`], the tonic codec moving raw message bytes both ways (receivers
//!   decode requests themselves, exporters send encoded bytes as they are).
//! - [`metrics`] and [`telemetry`]: metric definitions ([`MetricDef`]) declared once as
//!   constants — the Collector's own in [`metrics`], component-specific ones beside their
//!   component in a metric-set struct built once — and the registry serving them.

pub mod budget;
pub mod component;
pub mod consumer;
pub mod error;
pub mod exporter_helper;
pub mod grpc_codec;
pub mod health;
pub mod host;
pub mod memory;
pub mod metrics;
pub mod receiver_helper;
pub mod service;
pub mod task;
pub mod telemetry;

pub use budget::{BudgetError, ByteBudget, BytePermit};
pub use component::{
    BuildError, Built, BuiltExtension, Component, ComponentInfo, Context, ExporterFactory,
    ExtensionFactory, Factory, ProcessorFactory, ReceiverFactory, Registry, StartError,
};
pub use consumer::{BoxFuture, Consumer, Fanout};
pub use error::{BoxError, ConsumeError, ErrorKind};
pub use grpc_codec::RawCodec;
pub use host::{
    AuthError, ClientAuthenticator, Host, HostError, Offers, Principal, ServerAuthenticator,
    StorageArea, StorageExtension,
};
pub use metrics::ProcessorItems;
pub use receiver_helper::{
    ReceiverObserver, TransportMetrics, metadata_from_grpc, metadata_from_headers,
};
pub use service::Service;
pub use task::{TaskComponent, TaskSet, Tasks};
pub use telemetry::{Counter, Gauge, MetricDef, Telemetry};

#[cfg(test)]
mod tests;
