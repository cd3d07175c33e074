//! Tests of the exporter queue, fan-out and telemetry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use profcol_pdata::{Batch, RequestContext};
use profcol_testkit::synth::stacks;

use crate::component::{Component, Context};
use crate::consumer::{BoxFuture, ConsumeError, Consumer, Fanout};
use crate::exporter_helper::{QueuedExporter, SendError, Sender};
use crate::telemetry::Telemetry;
use profcol_settings::{QueueConfig, RetryConfig};

/// Fails the first `fail` sends with the given error, then succeeds; counts calls.
struct Flaky {
    fail: usize,
    retryable: bool,
    calls: AtomicUsize,
    delay: Duration,
}

impl Sender for Flaky {
    fn send<'a>(&'a self, _batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.fail {
                Err(if self.retryable {
                    SendError::retryable("boom")
                } else {
                    SendError::permanent("boom")
                })
            } else {
                Ok(())
            }
        })
    }
}

fn ctx(t: &Telemetry) -> Context {
    Context::new(profcol_config::ComponentId::new("test", None), t.clone())
}

fn batch() -> Batch {
    Batch::new(
        stacks("svc", &[(&["a", "b"], 3), (&["a", "c"], 4)]),
        RequestContext::default(),
    )
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_interval: Duration::from_millis(5),
        max_interval: Duration::from_millis(20),
        ..Default::default()
    }
}

#[tokio::test]
async fn retries_retryable_errors_then_counts_sent() {
    let t = Telemetry::new();
    let q = QueuedExporter::new(
        &ctx(&t),
        Flaky {
            fail: 2,
            retryable: true,
            calls: AtomicUsize::new(0),
            delay: Duration::ZERO,
        },
        QueueConfig::default(),
        fast_retry(),
    );
    q.start().await.unwrap();
    q.consume(batch()).await.unwrap();
    q.shutdown().await;
    assert_eq!(q.sender().calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        t.value(
            "otelcol_exporter_sent_profile_samples",
            &[("exporter", "test")]
        ),
        Some(2)
    );
    assert_eq!(
        t.value("otelcol_exporter_send_failed_profile_samples", &[]),
        Some(0)
    );
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let t = Telemetry::new();
    let q = QueuedExporter::new(
        &ctx(&t),
        Flaky {
            fail: 5,
            retryable: false,
            calls: AtomicUsize::new(0),
            delay: Duration::ZERO,
        },
        QueueConfig::default(),
        fast_retry(),
    );
    q.start().await.unwrap();
    q.consume(batch()).await.unwrap();
    q.shutdown().await;
    assert_eq!(q.sender().calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        t.value("otelcol_exporter_send_failed_profile_samples", &[]),
        Some(2)
    );
}

#[tokio::test]
async fn full_queue_refuses_with_retryable_error() {
    let t = Telemetry::new();
    let queue = QueueConfig {
        queue_size: 2,
        num_consumers: 1,
        ..Default::default()
    };
    let q = QueuedExporter::new(
        &ctx(&t),
        Flaky {
            fail: 0,
            retryable: true,
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(200),
        },
        queue,
        fast_retry(),
    );
    q.start().await.unwrap();
    let mut results = Vec::new();
    for _ in 0..6 {
        results.push(q.consume(batch()).await);
    }
    let refused = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(ConsumeError::is_retryable))
        .count();
    assert!(
        refused >= 3,
        "expected refusals once the queue is full, got {refused}"
    );
    assert_eq!(
        t.value("otelcol_exporter_enqueue_failed_profile_samples", &[]),
        Some(2 * refused as i64)
    );
    // Shutdown drains what was accepted.
    q.shutdown().await;
    assert_eq!(q.sender().calls.load(Ordering::SeqCst), 6 - refused);
}

#[tokio::test]
async fn fanout_waits_for_all_and_reports_failure() {
    struct Refuse;
    impl Consumer for Refuse {
        fn consume(&self, _b: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async { Err(ConsumeError::retryable("full")) })
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Consumer for Count {
        fn consume(&self, _b: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }
    let f = Fanout::of(vec![
        Arc::new(Count(count.clone())),
        Arc::new(Count(count.clone())),
    ]);
    f.consume(batch()).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let f = Fanout::of(vec![Arc::new(Count(count.clone())), Arc::new(Refuse)]);
    assert!(f.consume(batch()).await.unwrap_err().is_retryable());
}

#[test]
fn prometheus_text() {
    let t = Telemetry::new();
    t.counter(
        "otelcol_receiver_accepted_profile_samples",
        "help",
        "{sample}",
        &[("receiver", "otlp"), ("transport", "grpc")],
    )
    .add(7);
    t.gauge(
        "otelcol_exporter_queue_size",
        "help",
        "{batch}",
        &[("exporter", "x\"y")],
    )
    .set(3);
    let text = t.render();
    assert!(
        text.contains("# TYPE otelcol_receiver_accepted_profile_samples_total counter"),
        "{text}"
    );
    assert!(text.contains("otelcol_receiver_accepted_profile_samples_total{receiver=\"otlp\",transport=\"grpc\"} 7"), "{text}");
    assert!(
        text.contains("otelcol_exporter_queue_size{exporter=\"x\\\"y\"} 3"),
        "{text}"
    );
}
