use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use profcol_config::Section;
use profcol_pdata::{Batch, RequestContext};
use profcol_pipeline::consumer::Discard;
use profcol_pipeline::{Consumer, Context, ProcessorFactory, Telemetry};
use profcol_testkit::synth::stacks;
use serde_json::json;

use super::{MemoryLimiter, MemoryLimiterConfig, MemoryLimiterFactory};

fn ctx() -> Context {
    Context::new(
        profcol_config::ComponentId::new("memory_limiter", None),
        Telemetry::new(),
    )
}

fn cfg(v: serde_json::Value) -> MemoryLimiterConfig {
    MemoryLimiterConfig::load(&Section::from_value("processors.memory_limiter", v)).unwrap()
}

#[tokio::test]
async fn refuses_above_soft_limit_and_recovers() {
    let used = Arc::new(AtomicU64::new(10 << 20));
    let u = used.clone();
    let lim = MemoryLimiter::new(
        &ctx(),
        cfg(json!({"check_interval": "1s", "limit_mib": 100, "spike_limit_mib": 20})),
        Arc::new(Discard),
        Arc::new(move || u.load(Ordering::Relaxed)),
        0,
    );
    assert_eq!(lim.limits().soft, 80 << 20);
    let b = || Batch::new(stacks("s", &[(&["a"], 1)]), RequestContext::default());
    lim.check();
    assert!(lim.consume(b()).await.is_ok());
    used.store(90 << 20, Ordering::Relaxed);
    lim.check();
    let e = lim.consume(b()).await.unwrap_err();
    assert!(e.is_retryable(), "memory refusals must be retryable");
    assert!(e.to_string().contains("high memory usage"), "{e}");
    used.store(50 << 20, Ordering::Relaxed);
    lim.check();
    assert!(lim.consume(b()).await.is_ok());
}

#[test]
fn limits_from_percentages() {
    let c =
        cfg(json!({"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20}));
    let l = c.limits(1000 << 20);
    assert_eq!(l.hard, 800 << 20);
    assert_eq!(l.soft, 600 << 20);
    // Default spike: 20 % of the limit.
    let c = cfg(json!({"check_interval": "1s", "limit_mib": 500}));
    assert_eq!(c.limits(0).soft, 400 << 20);
}

#[test]
fn config_rules() {
    let bad = [
        (json!({"limit_mib": 100}), "check_interval"),
        (json!({"check_interval": "1s"}), "limit_mib"),
        (
            json!({"check_interval": "1s", "limit_mib": 100, "spike_limit_mib": 100}),
            "spike_limit_mib",
        ),
        (
            json!({"check_interval": "1s", "limit_mib": 100, "limit_percentage": 50}),
            "limit_percentage",
        ),
        (
            json!({"check_interval": "1s", "limit_percentage": 150}),
            "limit_percentage",
        ),
    ];
    for (v, key) in bad {
        let e = MemoryLimiterFactory
            .validate(&Section::from_value("processors.memory_limiter", v.clone()))
            .unwrap_err();
        assert!(e.to_string().contains(key), "{v}: {e}");
    }
}

#[test]
fn reads_real_process_memory() {
    assert!(super::process_rss() > 0);
    assert!(super::total_memory() > 0);
}
