//! The `memory_limiter` processor: checks the memory the process holds every `check_interval`
//! and refuses data with a retryable error while usage is above the soft limit
//! (`limit - spike_limit`), so receivers answer 503 / `UNAVAILABLE` and senders back off.
//!
//! Usage is the allocator's live bytes (jemalloc's `stats.allocated` in the `profcol` binary),
//! not the resident set: freed memory counts as free at once, so the limiter admits data again
//! as soon as the load that filled memory is gone (the resident set lags behind: allocators keep
//! freed pages for a while; jemalloc's background threads return them to the OS).

pub mod config;
mod error;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use profcol_config::{ConfigErrors, Kind, Section, Signal};
use profcol_pdata::Batch;
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, Built, Component, ComponentInfo, ConsumeError, Consumer, Context, Counter,
    MetricDef, ProcessorFactory, ProcessorItems, StartError, TaskSet,
};

pub use config::{Limits, MemoryLimiterConfig};
pub use error::MemoryLimitError;

pub const REFUSED_SAMPLES: MetricDef = MetricDef::new(
    "profcol_processor_memory_limiter_refused_profile_samples",
    "Samples refused because memory was above the soft limit.",
    "{sample}",
);

/// Reads the memory the process uses, in bytes.
pub type UsageFn = Arc<dyn Fn() -> u64 + Send + Sync>;

pub use profcol_pipeline::memory::available_memory as total_memory;
pub use profcol_pipeline::memory::process_rss;

/// What the process holds: the allocator's live bytes where the binary installed its probe,
/// else the resident set size (see `profcol_pipeline::memory`).
pub fn process_memory() -> u64 {
    profcol_pipeline::memory::in_use().0
}

pub struct MemoryLimiterFactory;

impl ProcessorFactory for MemoryLimiterFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            kind: Kind::Processor,
            ty: "memory_limiter",
            aliases: &[],
            signals: &[
                Signal::Traces,
                Signal::Metrics,
                Signal::Logs,
                Signal::Profiles,
            ],
            description: "refuses data (retryable) while process memory is above the soft limit",
        }
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        MemoryLimiterConfig::load(section).map(|_| ())
    }
    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Built, BuildError> {
        let cfg = MemoryLimiterConfig::load(section)?;
        let p = MemoryLimiter::new(&ctx, cfg, next, Arc::new(process_memory), total_memory());
        Ok((p.clone(), Box::new(LimiterComponent(p))))
    }
}

pub struct MemoryLimiter {
    cfg: MemoryLimiterConfig,
    limits: Limits,
    next: Arc<dyn Consumer>,
    usage: UsageFn,
    over: AtomicBool,
    last_usage: AtomicU64,
    counters: ProcessorItems,
    refused: Counter,
    /// The checking task and its stop token.
    tasks: TaskSet,
    id: String,
}

impl MemoryLimiter {
    pub fn new(
        ctx: &Context,
        cfg: MemoryLimiterConfig,
        next: Arc<dyn Consumer>,
        usage: UsageFn,
        total: u64,
    ) -> Arc<MemoryLimiter> {
        let id = ctx.id.to_string();
        let limits = cfg.limits(total);
        Arc::new(MemoryLimiter {
            limits,
            next,
            usage,
            over: AtomicBool::new(false),
            last_usage: AtomicU64::new(0),
            counters: ProcessorItems::new(&ctx.telemetry, &id),
            refused: ctx
                .telemetry
                .counter_of(&REFUSED_SAMPLES, &[("processor", &id)]),
            tasks: TaskSet::new(),
            cfg,
            id,
        })
    }

    /// Reads usage once and updates the refusing state.
    pub fn check(&self) {
        let used = (self.usage)();
        self.last_usage.store(used, Ordering::Relaxed);
        let was = self.over.load(Ordering::Relaxed);
        let now = used > self.limits.soft;
        if now != was {
            if now {
                tracing::warn!(processor = %self.id, used_mib = used >> 20, soft_limit_mib = self.limits.soft >> 20, "memory usage above the soft limit; refusing data");
            } else {
                tracing::info!(processor = %self.id, used_mib = used >> 20, "memory usage back below the soft limit; accepting data");
            }
        }
        self.over.store(now, Ordering::Relaxed);
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn interval(&self) -> Duration {
        self.cfg.check_interval
    }
}

impl Consumer for MemoryLimiter {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.sample_count() as u64;
            self.counters.incoming.add(n);
            if self.over.load(Ordering::Relaxed) {
                self.refused.add(n);
                return Err(ConsumeError::throttled(MemoryLimitError {
                    used_mib: self.last_usage.load(Ordering::Relaxed) >> 20,
                    soft_limit_mib: self.limits.soft >> 20,
                })
                .with_retry_after(Some(self.interval().max(Duration::from_secs(1)))));
            }
            self.next.consume(batch).await?;
            self.counters.outgoing.add(n);
            Ok(())
        })
    }
}

struct LimiterComponent(Arc<MemoryLimiter>);

impl Component for LimiterComponent {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        let p = self.0.clone();
        p.check();
        let stop = p.tasks.stop_token();
        self.0.tasks.spawn(async move {
            let mut tick = tokio::time::interval(p.interval());
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => p.check(),
                }
            }
        });
        Box::pin(async { Ok(()) })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.0.tasks.shutdown())
    }
}

#[cfg(test)]
mod tests;
