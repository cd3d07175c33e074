//! The exporter send loop: a bounded in-memory queue, consumers, retries with exponential backoff
//! and `Retry-After`, and the Collector's exporter metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use profcol_pdata::Batch;
use profcol_settings::{QueueConfig, RetryConfig};
use tokio::sync::{Mutex, mpsc};

use crate::component::{Component, Context, StartError};
use crate::consumer::{BoxFuture, ConsumeError, Consumer};
use crate::metrics::{
    EXPORTER_ENQUEUE_FAILED, EXPORTER_QUEUE_CAPACITY, EXPORTER_QUEUE_SIZE, EXPORTER_SEND_FAILED,
    EXPORTER_SENT,
};
use crate::telemetry::{Counter, Gauge};

/// A failed send: the same type as [`ConsumeError`] (a kind, an optional `retry_after`, the
/// underlying error), so an exporter's classification reaches the pipeline unchanged.
pub type SendError = ConsumeError;

/// The part of an exporter that turns a batch into one network call or write.
pub trait Sender: Send + Sync + 'static {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>>;
    /// Called once when the exporter stops, after the queue drained.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

struct Metrics {
    sent: Counter,
    send_failed: Counter,
    enqueue_failed: Counter,
    queue_size: Gauge,
}

struct Shared<S> {
    sender: S,
    retry: RetryConfig,
    metrics: Metrics,
    id: String,
    /// Set when shutdown begins: retries stop at this deadline.
    deadline: std::sync::Mutex<Option<Instant>>,
}

struct Item {
    batch: Batch,
    done: Option<tokio::sync::oneshot::Sender<Result<(), SendError>>>,
}

/// A queued, retrying exporter around a [`Sender`]. It is both the exporter's [`Consumer`] and
/// its [`Component`].
pub struct QueuedExporter<S: Sender> {
    shared: Arc<Shared<S>>,
    queue: QueueConfig,
    tx: std::sync::Mutex<Option<mpsc::Sender<Item>>>,
    rx: Arc<Mutex<mpsc::Receiver<Item>>>,
    workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    drain_timeout: Duration,
}

impl<S: Sender> QueuedExporter<S> {
    pub fn new(
        ctx: &Context,
        sender: S,
        queue: QueueConfig,
        retry: RetryConfig,
    ) -> Arc<QueuedExporter<S>> {
        let id = ctx.id.to_string();
        if queue.batch.is_some() {
            tracing::warn!(
                exporter = %id,
                "sending_queue.batch is accepted for compatibility but not implemented; requests are sent as queued (use the batch processor to merge them)"
            );
        }
        let t = &ctx.telemetry;
        let labels = [("exporter", id.as_str())];
        let queue_labels = [("exporter", id.as_str()), ("data_type", "profiles")];
        let metrics = Metrics {
            sent: t.counter_of(&EXPORTER_SENT, &labels),
            send_failed: t.counter_of(&EXPORTER_SEND_FAILED, &labels),
            enqueue_failed: t.counter_of(&EXPORTER_ENQUEUE_FAILED, &labels),
            queue_size: t.gauge_of(&EXPORTER_QUEUE_SIZE, &queue_labels),
        };
        let cap = if queue.enabled {
            queue.queue_size.max(1)
        } else {
            1
        };
        t.gauge_of(&EXPORTER_QUEUE_CAPACITY, &queue_labels)
            .set(i64::try_from(cap).unwrap_or(i64::MAX));
        let (tx, rx) = mpsc::channel(cap);
        Arc::new(QueuedExporter {
            shared: Arc::new(Shared {
                sender,
                retry,
                metrics,
                id,
                deadline: std::sync::Mutex::new(None),
            }),
            queue,
            tx: std::sync::Mutex::new(Some(tx)),
            rx: Arc::new(Mutex::new(rx)),
            workers: std::sync::Mutex::new(Vec::new()),
            drain_timeout: Duration::from_secs(30),
        })
    }

    /// The inner sender (for tests and introspection).
    pub fn sender(&self) -> &S {
        &self.shared.sender
    }

    fn tx(&self) -> Option<mpsc::Sender<Item>> {
        self.tx.lock().ok().and_then(|g| g.clone())
    }
}

impl<S: Sender> Shared<S> {
    fn past_deadline(&self) -> bool {
        self.deadline
            .lock()
            .ok()
            .and_then(|d| *d)
            .is_some_and(|d| Instant::now() >= d)
    }

    /// Sends with retries per `retry_on_failure`.
    async fn send_with_retry(&self, batch: &Batch) -> Result<(), SendError> {
        let samples = batch.sample_count() as u64;
        let start = Instant::now();
        let mut interval = self.retry.initial_interval;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.sender.send(batch).await {
                Ok(()) => {
                    self.metrics.sent.add(samples);
                    return Ok(());
                }
                Err(e) => {
                    let give_up = !e.is_retryable()
                        || !self.retry.enabled
                        || self.past_deadline()
                        || (!self.retry.max_elapsed_time.is_zero()
                            && start.elapsed() >= self.retry.max_elapsed_time);
                    if give_up {
                        self.metrics.send_failed.add(samples);
                        tracing::error!(exporter = %self.id, samples, attempts = attempt, retryable = e.is_retryable(), kind = %e.kind(), error = %e, "exporting failed, dropping data");
                        return Err(e);
                    }
                    let jitter =
                        1.0 + self.retry.randomization_factor * (2.0 * pseudo_random() - 1.0);
                    let mut wait = interval.mul_f64(jitter.max(0.0));
                    if let Some(ra) = e.retry_after() {
                        wait = wait.max(ra);
                    }
                    if !self.retry.max_elapsed_time.is_zero() {
                        let left = self.retry.max_elapsed_time.saturating_sub(start.elapsed());
                        wait = wait.min(left);
                    }
                    tracing::warn!(exporter = %self.id, kind = %e.kind(), error = %e, retry_in = ?wait, "exporting failed, will retry");
                    tokio::time::sleep(wait).await;
                    interval = interval
                        .mul_f64(self.retry.multiplier)
                        .min(self.retry.max_interval);
                }
            }
        }
    }
}

/// A cheap, non-cryptographic random number in [0, 1) for retry jitter.
fn pseudo_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl<S: Sender> Consumer for QueuedExporter<S> {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let samples = batch.sample_count() as u64;
            if !self.queue.enabled {
                return self.shared.send_with_retry(&batch).await;
            }
            let Some(tx) = self.tx() else {
                self.shared.metrics.enqueue_failed.add(samples);
                return Err(ConsumeError::retryable(format!(
                    "exporter {} is shutting down",
                    self.shared.id
                )));
            };
            let (done_tx, done_rx) = if self.queue.wait_for_result {
                let (a, b) = tokio::sync::oneshot::channel();
                (Some(a), Some(b))
            } else {
                (None, None)
            };
            let item = Item {
                batch,
                done: done_tx,
            };
            let res = if self.queue.block_on_overflow {
                tx.send(item).await.map_err(|_| ())
            } else {
                tx.try_send(item).map_err(|_| ())
            };
            if res.is_err() {
                self.shared.metrics.enqueue_failed.add(samples);
                return Err(ConsumeError::throttled(format!(
                    "sending queue of exporter {} is full",
                    self.shared.id
                ))
                .with_retry_after(Some(Duration::from_secs(1))));
            }
            self.shared.metrics.queue_size.add(1);
            if let Some(rx) = done_rx {
                return match rx.await {
                    Ok(r) => r,
                    Err(_) => Err(ConsumeError::retryable("exporter stopped before sending")),
                };
            }
            Ok(())
        })
    }
}

impl<S: Sender> Component for QueuedExporter<S> {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        Box::pin(async move {
            if !self.queue.enabled {
                return Ok(());
            }
            let mut workers = match self.workers.lock() {
                Ok(w) => w,
                Err(p) => p.into_inner(),
            };
            for _ in 0..self.queue.num_consumers {
                let rx = self.rx.clone();
                let shared = self.shared.clone();
                workers.push(tokio::spawn(async move {
                    loop {
                        let item = { rx.lock().await.recv().await };
                        let Some(item) = item else { break };
                        shared.metrics.queue_size.add(-1);
                        let r = shared.send_with_retry(&item.batch).await;
                        if let Some(done) = item.done {
                            let _ = done.send(r);
                        }
                    }
                }));
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Close the queue: workers finish what is queued, retrying until the deadline.
            if let Ok(mut tx) = self.tx.lock() {
                tx.take();
            }
            if let Ok(mut d) = self.shared.deadline.lock() {
                *d = Some(Instant::now() + self.drain_timeout);
            }
            let workers: Vec<_> = match self.workers.lock() {
                Ok(mut w) => w.drain(..).collect(),
                Err(p) => p.into_inner().drain(..).collect(),
            };
            let all = futures::future::join_all(workers);
            if tokio::time::timeout(self.drain_timeout + Duration::from_secs(1), all)
                .await
                .is_err()
            {
                let left = self.shared.metrics.queue_size.get();
                tracing::error!(exporter = %self.shared.id, batches = left, "shutdown deadline passed; queued data lost");
            }
            self.shared.sender.close().await;
        })
    }
}

/// Adapts an `Arc<QueuedExporter>` into the (consumer, component) pair factories return.
pub fn into_parts<S: Sender>(q: Arc<QueuedExporter<S>>) -> crate::component::Built {
    (q.clone(), Box::new(ArcComponent(q)))
}

/// A component behind an `Arc`.
pub struct ArcComponent<T: Component + ?Sized>(pub Arc<T>);

impl<T: Component + ?Sized> Component for ArcComponent<T> {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        self.0.start()
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.0.shutdown()
    }
}
