use std::sync::{Arc, Mutex};
use std::time::Duration;

use profcol_config::Section;
use profcol_pdata::{Batch, RequestContext};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{ConsumeError, Consumer, Context, ProcessorFactory, Telemetry};
use profcol_testkit::synth::{StackSample, request, stacks, totals_by_stack};
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
    let frames: Vec<Vec<String>> = (0..n)
        .map(|i| vec!["main".to_string(), format!("f{i}")])
        .collect();
    let refs: Vec<Vec<&str>> = frames
        .iter()
        .map(|f| f.iter().map(String::as_str).collect())
        .collect();
    let st: Vec<(&[&str], i64)> = refs.iter().map(|f| (f.as_slice(), 1)).collect();
    Batch::new(stacks(service, &st), RequestContext::default())
}

#[tokio::test]
async fn size_trigger_merges_and_keeps_every_sample() {
    let (c, comp, sink) = make(json!({"send_batch_size": 10, "timeout": "1h"}));
    comp.start().await.unwrap();
    for _ in 0..3 {
        c.consume(batch("a", 4)).await.unwrap();
    }
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
    c.consume(batch("a", 3)).await.unwrap();
    assert!(sink.got.lock().unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    for tenant in ["t1", "t2", "t1"] {
        let mut ctx = RequestContext::default();
        ctx.metadata
            .insert("x-scope-orgid".into(), vec![tenant.into()]);
        let s = [StackSample {
            frames: &["main", tenant],
            value: 5,
            attributes: &[],
        }];
        c.consume(Batch::new(request("svc", &s), ctx))
            .await
            .unwrap();
    }
    assert!(sink.got.lock().unwrap().is_empty());
    comp.shutdown().await;
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
    for (i, tenant) in ["a", "b"].iter().enumerate() {
        let mut ctx = RequestContext::default();
        ctx.metadata.insert("tenant".into(), vec![(*tenant).into()]);
        let r = c
            .consume(Batch::new(stacks("s", &[(&["x"], 1)]), ctx))
            .await;
        assert_eq!(r.is_ok(), i == 0);
    }
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
