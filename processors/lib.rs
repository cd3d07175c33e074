//! profcol processors: one folder per processor.

pub mod batch;
pub mod memory_limiter;

use profcol_pipeline::{Factory, Registry};

/// Adds every processor factory to the registry.
pub fn register(registry: &mut Registry) {
    registry.register(Factory::Processor(Box::new(batch::BatchFactory)));
    registry.register(Factory::Processor(Box::new(
        memory_limiter::MemoryLimiterFactory,
    )));
}
