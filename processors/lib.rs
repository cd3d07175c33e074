//! profcol processors: one folder per processor.

pub mod batch;
pub mod memory_limiter;

use profcol_pipeline::{Counter, Factory, Registry, Telemetry};

/// Adds every processor factory to the registry.
pub fn register(registry: &mut Registry) {
    registry.register(Factory::Processor(Box::new(batch::BatchFactory)));
    registry.register(Factory::Processor(Box::new(
        memory_limiter::MemoryLimiterFactory,
    )));
}

/// `otelcol_processor_incoming_items` / `otelcol_processor_outgoing_items` for one processor.
pub(crate) struct ItemCounters {
    pub incoming: Counter,
    pub outgoing: Counter,
}

impl ItemCounters {
    pub fn new(t: &Telemetry, id: &str) -> ItemCounters {
        let l = [("processor", id), ("otel_signal", "profiles")];
        ItemCounters {
            incoming: t.counter(
                "otelcol_processor_incoming_items",
                "Number of items passed to the processor.",
                "{item}",
                &l,
            ),
            outgoing: t.counter(
                "otelcol_processor_outgoing_items",
                "Number of items emitted from the processor.",
                "{item}",
                &l,
            ),
        }
    }
}
