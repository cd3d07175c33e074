use std::sync::{Arc, Mutex};
use std::time::Duration;

use profcol_config::Section;
use profcol_pdata::{Batch, RequestContext};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{ConsumeError, Consumer, Context, ProcessorFactory, Telemetry};
use profcol_testkit::synth::{StackSample, numbered_stacks, request, stacks, totals_by_stack};
use serde_json::json;

use super::BatchFactory;

/// Collects what the processor sends on.
#[derive(Default)]
struct Sink {
    got: Mutex<Vec<Batch>>,
}

impl Consumer for Sink {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.got.lock().unwrap().push(batch);
            Ok(())
        })
    }
}

fn ctx() -> Context {
    Context::new(
        profcol_config::ComponentId::new("batch", None),
        Telemetry::new(),
    )
}

fn make(
    cfg: serde_json::Value,
) -> (
    Arc<dyn Consumer>,
    Box<dyn profcol_pipeline::Component>,
    Arc<Sink>,
) {
    let sink = Arc::new(Sink::default());
    let (c, comp) = BatchFactory
        .create(
            ctx(),
            &Section::from_value("processors.batch", cfg),
            sink.clone(),
        )
        .unwrap();
    (c, comp, sink)
}

fn batch(service: &str, n: usize) -> Batch {
    let req = numbered_stacks(service, n, |i| vec!["main".to_string(), format!("f{i}")]);
    Batch::new(req, RequestContext::default())
}

#[tokio::test]
async fn size_trigger_merges_and_keeps_every_sample() {
    let (c, comp, sink) = make(json!({"send_batch_size": 10, "timeout": "1h"}));
    comp.start().await.unwrap();
    // Each request waits for the batch it joined; the third fills it and all three are answered.
    let answers = futures::future::join_all((0..3).map(|_| c.consume(batch("a", 4)))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    // 12 samples ≥ 10: one merged batch went out.
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sample_count(), 12);
    // The three identical resources were merged into one and the dictionary deduplicated.
    assert_eq!(got[0].request.resource_profiles.len(), 1);
    let totals = totals_by_stack(&got[0].request);
    assert_eq!(totals.get("main;f0"), Some(&3));
    assert_eq!(
        got[0]
            .request
            .dictionary
            .as_ref()
            .unwrap()
            .string_table
            .iter()
            .filter(|s| *s == "f3")
            .count(),
        1
    );
    comp.shutdown().await;
}

#[tokio::test]
async fn timeout_flushes_partial_batch() {
    let (c, comp, sink) = make(json!({"send_batch_size": 1000, "timeout": "50ms"}));
    comp.start().await.unwrap();
    // The request is answered once the timer sent its batch, not before.
    c.consume(batch("a", 3)).await.unwrap();
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sample_count(), 3);
    comp.shutdown().await;
}

#[tokio::test]
async fn max_size_splits() {
    let (c, comp, sink) =
        make(json!({"send_batch_size": 10, "send_batch_max_size": 10, "timeout": "1h"}));
    comp.start().await.unwrap();
    c.consume(batch("a", 25)).await.unwrap();
    let got = sink.got.lock().unwrap().clone();
    let sizes: Vec<usize> = got.iter().map(Batch::sample_count).collect();
    assert_eq!(sizes, vec![10, 10, 5]);
    comp.shutdown().await;
}

#[tokio::test]
async fn metadata_keys_partition_batches() {
    let (c, comp, sink) =
        make(json!({"send_batch_size": 100, "timeout": "1h", "metadata_keys": ["X-Scope-OrgID"]}));
    comp.start().await.unwrap();
    let mut waiting = Vec::new();
    for tenant in ["t1", "t2", "t1"] {
        let mut ctx = RequestContext::default();
        ctx.metadata
            .insert("x-scope-orgid".into(), vec![tenant.into()]);
        let s = [StackSample {
            frames: &["main", tenant],
            value: 5,
            attributes: &[],
        }];
        let c = c.clone();
        let b = Batch::new(request("svc", &s), ctx);
        waiting.push(tokio::spawn(async move { c.consume(b).await }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.got.lock().unwrap().is_empty());
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "nothing is acknowledged before it is sent"
    );
    // Shutdown flushes; every waiting request is answered with the outcome.
    comp.shutdown().await;
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one batch per tenant");
    for b in &got {
        let tenant = b.metadata("x-scope-orgid");
        assert_eq!(tenant.len(), 1);
        let totals = totals_by_stack(&b.request);
        let expected = if tenant[0] == "t1" { 10 } else { 5 };
        assert_eq!(totals.get(&format!("main;{}", tenant[0])), Some(&expected));
        assert_eq!(totals.len(), 1, "tenants must not mix");
    }
}

#[tokio::test]
async fn cardinality_limit_refuses_new_combinations() {
    let (c, comp, _sink) = make(
        json!({"send_batch_size": 100, "timeout": "1h", "metadata_keys": ["tenant"], "metadata_cardinality_limit": 1}),
    );
    comp.start().await.unwrap();
    let tenant_batch = |t: &str| {
        let mut ctx = RequestContext::default();
        ctx.metadata.insert("tenant".into(), vec![t.into()]);
        Batch::new(stacks("s", &[(&["x"], 1)]), ctx)
    };
    let first = {
        let c = c.clone();
        let b = tenant_batch("a");
        tokio::spawn(async move { c.consume(b).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = c.consume(tenant_batch("b")).await;
    assert!(second.is_err_and(|e| e.is_permanent()));
    comp.shutdown().await;
    first.await.unwrap().unwrap();
}

/// Refuses every batch (a full exporter queue, a memory limit).
struct Refusing;

impl Consumer for Refusing {
    fn consume(&self, _batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async {
            Err(ConsumeError::throttled("queue full")
                .with_retry_after(Some(Duration::from_secs(1))))
        })
    }
}

/// Takes batches only when the test opens the gate.
struct Gated {
    gate: tokio::sync::Semaphore,
    got: Mutex<usize>,
}

impl Consumer for Gated {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let _p = self.gate.acquire().await.unwrap();
            *self.got.lock().unwrap() += batch.sample_count();
            Ok(())
        })
    }
}

/// The observed bug: the processor answered success, then dropped what the next component
/// refused. Now every client whose data was in the refused batch gets the refusal.
#[tokio::test]
async fn a_refused_batch_is_refused_to_every_client_in_it() {
    let t = Telemetry::new();
    let ctx = Context::new(profcol_config::ComponentId::new("batch", None), t.clone());
    let (c, comp) = BatchFactory
        .create(
            ctx,
            &Section::from_value(
                "processors.batch",
                json!({"send_batch_size": 10, "timeout": "50ms"}),
            ),
            Arc::new(Refusing),
        )
        .unwrap();
    comp.start().await.unwrap();
    // Three fill a batch (size trigger), one more waits for the timer: all four are refused.
    let mut answers = futures::future::join_all((0..3).map(|_| c.consume(batch("a", 4)))).await;
    answers.push(c.consume(batch("a", 1)).await);
    for a in &answers {
        let e = a
            .as_ref()
            .expect_err("refused downstream must not be acknowledged");
        assert!(e.is_retryable() && e.retry_after().is_some(), "{e:?}");
    }
    let refused = t.value("profcol_processor_batch_refused_profile_samples", &[]);
    assert_eq!(refused, Some(13), "{}", t.render());
    comp.shutdown().await;
}

#[tokio::test]
async fn a_request_is_answered_only_once_the_next_component_took_its_batch() {
    let gated = Arc::new(Gated {
        gate: tokio::sync::Semaphore::new(0),
        got: Mutex::new(0),
    });
    let (c, comp) = BatchFactory
        .create(
            ctx(),
            &Section::from_value(
                "processors.batch",
                json!({"send_batch_size": 1000, "timeout": "10ms"}),
            ),
            gated.clone(),
        )
        .unwrap();
    comp.start().await.unwrap();
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move { c.consume(batch("a", 5)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "answered before the batch was taken"
    );
    gated.gate.add_permits(1);
    waiting.await.unwrap().unwrap();
    assert_eq!(*gated.got.lock().unwrap(), 5);
    comp.shutdown().await;
}

#[test]
fn config_errors_name_the_key() {
    let s = Section::from_value(
        "processors.batch",
        json!({"send_batch_size": 10, "send_batch_max_size": 5}),
    );
    let e = BatchFactory.validate(&s).unwrap_err();
    assert!(e.to_string().contains("send_batch_max_size"), "{e}");
    let s = Section::from_value("processors.batch", json!({"sendbatchsize": 10}));
    assert!(
        BatchFactory
            .validate(&s)
            .unwrap_err()
            .to_string()
            .contains("sendbatchsize")
    );
    let s = Section::from_value("processors.batch", json!({"timeout": "soon"}));
    assert!(
        BatchFactory
            .validate(&s)
            .unwrap_err()
            .to_string()
            .contains("timeout")
    );
}
