//! The `batch` processor for profiles: merges requests into one dictionary until
//! `send_batch_size` samples or `timeout`, one batch per distinct `metadata_keys` value set, and
//! splits what it sends at `send_batch_max_size`.

pub mod config;
mod error;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::{Batch, RequestBuilder, RequestContext};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, Built, Component, ComponentInfo, ConsumeError, Consumer, Context, Counter,
    MetricDef, ProcessorFactory, ProcessorItems, StartError, TaskSet,
};
use profcol_settings::ComponentConfig;
use tokio::time::Instant;

pub use config::BatchConfig;
pub use error::BatchError;

pub const SIZE_TRIGGER_SEND: MetricDef = MetricDef::new(
    "otelcol_processor_batch_batch_size_trigger_send",
    "Number of times the batch was sent due to a size trigger.",
    "{time}",
);
pub const TIMEOUT_TRIGGER_SEND: MetricDef = MetricDef::new(
    "otelcol_processor_batch_timeout_trigger_send",
    "Number of times the batch was sent due to a timeout trigger.",
    "{time}",
);
pub const DROPPED_SAMPLES: MetricDef = MetricDef::new(
    "profcol_processor_dropped_profile_samples",
    "Samples a processor dropped because the next component refused them.",
    "{sample}",
);

pub struct BatchFactory;

impl ProcessorFactory for BatchFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Processor,
            "batch",
            "merges profiles into batches counted in samples (send_batch_size, timeout, metadata_keys)",
        )
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        BatchConfig::validate(section)
    }
    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Built, BuildError> {
        let cfg = BatchConfig::load(section)?;
        let id = ctx.id.to_string();
        let t = &ctx.telemetry;
        let p = Arc::new(BatchProcessor {
            cfg,
            next,
            shards: Mutex::new(HashMap::new()),
            counters: ProcessorItems::new(t, &id),
            size_trigger: t.counter_of(&SIZE_TRIGGER_SEND, &[("processor", &id)]),
            timeout_trigger: t.counter_of(&TIMEOUT_TRIGGER_SEND, &[("processor", &id)]),
            dropped: t.counter_of(&DROPPED_SAMPLES, &[("processor", &id)]),
            tasks: TaskSet::new(),
            id,
        });
        Ok((p.clone(), Box::new(BatchComponent(p))))
    }
}

type ShardKey = Vec<(String, Vec<String>)>;

struct Shard {
    builder: RequestBuilder,
    deadline: Instant,
    metadata: BTreeMap<String, Vec<String>>,
    received: SystemTime,
}

pub struct BatchProcessor {
    cfg: BatchConfig,
    next: Arc<dyn Consumer>,
    shards: Mutex<HashMap<ShardKey, Shard>>,
    counters: ProcessorItems,
    size_trigger: Counter,
    timeout_trigger: Counter,
    dropped: Counter,
    /// The timer task and its stop token.
    tasks: TaskSet,
    id: String,
}

impl BatchProcessor {
    fn key(&self, batch: &Batch) -> ShardKey {
        self.cfg
            .metadata_keys
            .iter()
            .map(|k| (k.clone(), batch.metadata(k).to_vec()))
            .collect()
    }

    /// Turns a shard into batches no larger than `send_batch_max_size`.
    fn finish(&self, shard: Shard) -> Vec<Batch> {
        let req = shard.builder.finish();
        let ctx = RequestContext {
            metadata: shard.metadata,
            received: shard.received,
        };
        let parts = if self.cfg.send_batch_max_size > 0
            && profcol_pdata::sample_count(&req) > self.cfg.send_batch_max_size
        {
            profcol_pdata::split(&req, self.cfg.send_batch_max_size)
        } else {
            vec![req]
        };
        parts
            .into_iter()
            .map(|p| Batch::new(p, ctx.clone()))
            .collect()
    }

    async fn send(&self, batches: Vec<Batch>) -> Result<(), ConsumeError> {
        let mut result = Ok(());
        for b in batches {
            let n = b.sample_count() as u64;
            match self.next.consume(b).await {
                Ok(()) => self.counters.outgoing.add(n),
                Err(e) => {
                    self.dropped.add(n);
                    tracing::warn!(processor = %self.id, samples = n, error = %e, "next component refused a batch");
                    result = Err(e);
                }
            }
        }
        result
    }

    /// Takes the shards whose deadline passed (or all of them).
    fn take_expired(&self, all: bool) -> Vec<Shard> {
        let now = Instant::now();
        let mut shards = match self.shards.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let keys: Vec<ShardKey> = shards
            .iter()
            .filter(|(_, s)| all || s.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter().filter_map(|k| shards.remove(&k)).collect()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let shards = match self.shards.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        shards.values().map(|s| s.deadline).min()
    }

    async fn run_timer(self: Arc<Self>) {
        let stop = self.tasks.stop_token();
        loop {
            let wake = self
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + self.cfg.timeout);
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
            let expired = self.take_expired(false);
            for shard in expired {
                self.timeout_trigger.add(1);
                let batches = self.finish(shard);
                let _ = self.send(batches).await;
            }
        }
    }
}

impl Consumer for BatchProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.sample_count();
            self.counters.incoming.add(n as u64);
            let key = self.key(&batch);
            let ready = {
                let mut shards = match self.shards.lock() {
                    Ok(s) => s,
                    Err(p) => p.into_inner(),
                };
                if !shards.contains_key(&key)
                    && shards.len() >= self.cfg.metadata_cardinality_limit.max(1)
                {
                    return Err(ConsumeError::permanent(BatchError::TooManyShards {
                        limit: self.cfg.metadata_cardinality_limit,
                    }));
                }
                let shard = shards.entry(key.clone()).or_insert_with(|| Shard {
                    builder: RequestBuilder::new(),
                    deadline: Instant::now() + self.cfg.timeout,
                    metadata: key.iter().filter(|(_, v)| !v.is_empty()).cloned().collect(),
                    received: batch.context.received,
                });
                shard.builder.push_request(&batch.request);
                if shard.builder.sample_count() >= self.cfg.send_batch_size {
                    shards.remove(&key)
                } else {
                    None
                }
            };
            match ready {
                Some(shard) => {
                    self.size_trigger.add(1);
                    let batches = self.finish(shard);
                    self.send(batches).await
                }
                None => Ok(()),
            }
        })
    }
}

/// The processor's lifecycle: a timer task while running, a final flush on shutdown.
struct BatchComponent(Arc<BatchProcessor>);

impl Component for BatchComponent {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        self.0.tasks.spawn(self.0.clone().run_timer());
        Box::pin(async { Ok(()) })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let p = &self.0;
            p.tasks.shutdown().await;
            for shard in p.take_expired(true) {
                let batches = p.finish(shard);
                let _ = p.send(batches).await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
