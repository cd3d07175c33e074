//! profcol receivers: one folder per receiver.

pub mod error;
pub mod http_server;
pub mod metrics;
pub mod multipart;
pub mod otlp;
pub mod pprof;
pub mod pyroscope;

use profcol_pipeline::{Factory, Registry};

/// Adds every receiver factory to the registry.
pub fn register(registry: &mut Registry) {
    registry.register(Factory::Receiver(Box::new(otlp::OtlpReceiverFactory)));
    registry.register(Factory::Receiver(Box::new(pprof::PprofReceiverFactory)));
    registry.register(Factory::Receiver(Box::new(
        pyroscope::PyroscopeReceiverFactory,
    )));
}
