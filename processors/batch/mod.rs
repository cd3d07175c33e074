//! The `batch` processor for profiles: merges requests into one dictionary until
//! `send_batch_size` samples or `timeout`, one batch per distinct `metadata_keys` value set, and
//! splits what it sends at `send_batch_max_size`.
//!
//! It acknowledges nothing it may later drop: a request's `consume` returns only when the batch
//! it joined was taken by the next component (every exporter queue holds it), with that
//! component's answer. A refusal downstream (queue full, memory limit) thus reaches each client
//! whose data was in the batch, who retries, instead of being dropped after a success was
//! already sent. The cost is latency (up to `timeout`) and, if one part of a split batch is
//! refused while another was taken, duplicates of the taken part when clients retry.

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
pub const REFUSED_SAMPLES: MetricDef = MetricDef::new(
    "profcol_processor_batch_refused_profile_samples",
    "Samples of batches the next component refused; every request they came from was answered with the refusal.",
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
            refused: t.counter_of(&REFUSED_SAMPLES, &[("processor", &id)]),
            tasks: TaskSet::new(),
            stopped: std::sync::atomic::AtomicBool::new(false),
            id,
        });
        Ok((p.clone(), Box::new(BatchComponent(p))))
    }
}

type ShardKey = Vec<(String, Vec<String>)>;

/// The answer each request waiting on a shard gets when the shard was sent.
type Waiter = tokio::sync::oneshot::Sender<Result<(), ConsumeError>>;

struct Shard {
    builder: RequestBuilder,
    deadline: Instant,
    metadata: BTreeMap<String, Vec<String>>,
    received: SystemTime,
    /// The requests whose data is in this shard, waiting for its outcome.
    waiters: Vec<Waiter>,
}

pub struct BatchProcessor {
    cfg: BatchConfig,
    next: Arc<dyn Consumer>,
    shards: Mutex<HashMap<ShardKey, Shard>>,
    counters: ProcessorItems,
    size_trigger: Counter,
    timeout_trigger: Counter,
    refused: Counter,
    /// The timer task and its stop token.
    tasks: TaskSet,
    /// Set once shutdown flushed the shards: later requests pass straight through.
    stopped: std::sync::atomic::AtomicBool,
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

    /// Turns a shard into batches no larger than `send_batch_max_size`, and its waiters.
    fn finish(&self, shard: Shard) -> (Vec<Batch>, Vec<Waiter>) {
        let waiters = shard.waiters;
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
        let batches = parts
            .into_iter()
            .map(|p| Batch::new(p, ctx.clone()))
            .collect();
        (batches, waiters)
    }

    /// Sends a finished shard and answers every request waiting on it with the outcome: the
    /// first refusal (a retryable one preferred) if any part was refused.
    async fn send(
        &self,
        (batches, waiters): (Vec<Batch>, Vec<Waiter>),
    ) -> Result<(), ConsumeError> {
        let mut result: Result<(), ConsumeError> = Ok(());
        for b in batches {
            let n = b.sample_count() as u64;
            match self.next.consume(b).await {
                Ok(()) => self.counters.outgoing.add(n),
                Err(e) => {
                    self.refused.add(n);
                    tracing::warn!(processor = %self.id, samples = n, clients = waiters.len(), kind = %e.kind(), error = %e, "next component refused a batch; its clients are told to retry");
                    let replace = match &result {
                        Ok(()) => true,
                        Err(f) => f.is_permanent() && e.is_retryable(),
                    };
                    if replace {
                        result = Err(e);
                    }
                }
            }
        }
        for w in waiters {
            // A client that went away no longer waits; its data was still sent.
            let _ = w.send(result.clone());
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
                let _ = self.send(self.finish(shard)).await;
            }
        }
    }
}

impl Consumer for BatchProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.sample_count();
            self.counters.incoming.add(n as u64);
            if self.stopped.load(std::sync::atomic::Ordering::Acquire) {
                self.next.consume(batch).await?;
                self.counters.outgoing.add(n as u64);
                return Ok(());
            }
            let key = self.key(&batch);
            let (tx, rx) = tokio::sync::oneshot::channel();
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
                    waiters: Vec::new(),
                });
                shard.builder.push_request(&batch.request);
                shard.waiters.push(tx);
                if shard.builder.sample_count() >= self.cfg.send_batch_size {
                    shards.remove(&key)
                } else {
                    None
                }
            };
            if let Some(shard) = ready {
                // This request filled the batch: it sends it, on its own task, and everyone in
                // it gets the answer.
                self.size_trigger.add(1);
                return self.send(self.finish(shard)).await;
            }
            // Wait for the timer (or a later request filling the batch) to send it.
            match rx.await {
                Ok(r) => r,
                Err(_) => Err(ConsumeError::retryable(BatchError::Stopped)),
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
            p.stopped.store(true, std::sync::atomic::Ordering::Release);
            for shard in p.take_expired(true) {
                let _ = p.send(p.finish(shard)).await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
