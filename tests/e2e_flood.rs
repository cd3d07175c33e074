//! Floods against a slow backend, through the real binary: OTLP/HTTP clients far faster than the
//! backend, profcol with `memory_limiter` and `batch` in the pipeline and an `otlp_http`
//! exporter to a backend that takes one request at a time (testkit's `OtlpSink`).
//!
//! What must hold (issue "trusted with production load"): every sample a client was told
//! succeeded arrives at the backend (counted by a unique `service.name` per request); refusals
//! are 503 with `Retry-After`; the process's memory stays under the limiter's limit; and once the
//! flood stops, the process admits data again within seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Http, Profcol, free_port, http_get, metric_sum, poll, telemetry_yaml};
use profcol_testkit::otlp_sink::OtlpSink;
use profcol_testkit::synth::numbered_stacks;
use prost::Message;

/// A request of `samples` samples with distinct, long frame names (so it weighs something),
/// whose `service.name` is a fixed-width placeholder [`id_bytes`] replaces in the encoding.
fn template(samples: usize) -> Vec<u8> {
    numbered_stacks(PLACEHOLDER, samples, |i| {
        vec![
            "main".to_owned(),
            format!("package/module/handler_{i:06}_with_a_long_descriptive_name"),
            format!("package/module/leaf_function_{i:06}_doing_the_actual_work"),
        ]
    })
    .encode_to_vec()
}

const PLACEHOLDER: &str = "flood-XX-XXXXXXX";

fn id(thread: usize, n: usize) -> String {
    format!("flood-{thread:02}-{n:07}")
}

/// The template with its placeholder replaced by `id` (same length, so the encoding stays valid).
fn with_id(template: &[u8], id: &str) -> Vec<u8> {
    assert_eq!(id.len(), PLACEHOLDER.len());
    let mut out = template.to_vec();
    let pos = out
        .windows(PLACEHOLDER.len())
        .position(|w| w == PLACEHOLDER.as_bytes())
        .expect("placeholder in the encoding");
    out[pos..pos + id.len()].copy_from_slice(id.as_bytes());
    out
}

fn rss_of(pid: u32) -> u64 {
    profcol_pipeline::memory::rss_of(&pid.to_string())
}

struct Flood {
    /// Acknowledged request ids.
    acked: Vec<String>,
    /// Answers by status.
    statuses: BTreeMap<u16, u64>,
    peak_rss: u64,
}

/// Sends from `threads` clients for `duration`, each request `samples` samples.
fn flood(url: &str, pid: u32, threads: usize, samples: usize, duration: Duration) -> Flood {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(BTreeMap::new()));
    let tpl = Arc::new(template(samples));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (stop, acked, statuses, tpl, url) = (
            stop.clone(),
            acked.clone(),
            statuses.clone(),
            tpl.clone(),
            url.to_owned(),
        );
        handles.push(std::thread::spawn(move || {
            let http = Http::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let rid = id(t, n);
                n += 1;
                let body = with_id(&tpl, &rid);
                let Ok(r) = http.try_request(
                    "POST",
                    &url,
                    &[("content-type", "application/x-protobuf")],
                    body,
                ) else {
                    continue;
                };
                *statuses.lock().unwrap().entry(r.status).or_insert(0) += 1;
                match r.status {
                    200 => acked.lock().unwrap().push(rid),
                    503 | 429 => {
                        assert!(
                            r.headers.iter().any(|(k, _)| k == "retry-after"),
                            "a refusal without Retry-After: {:?}",
                            r.headers
                        );
                        // A well-behaved client backs off a little.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    s => panic!(
                        "unexpected status {s}: {}",
                        String::from_utf8_lossy(&r.body)
                    ),
                }
            }
        }));
    }
    let start = Instant::now();
    let mut peak_rss = 0;
    while start.elapsed() < duration {
        peak_rss = peak_rss.max(rss_of(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let statuses = statuses.lock().unwrap().clone();
    Flood {
        acked,
        statuses,
        peak_rss,
    }
}

struct Setup {
    collector: Profcol,
    sink: OtlpSink,
    url: String,
    metrics: u16,
}

fn start(limit_mib: u64, queue_size: usize, sink_delay: Duration) -> Setup {
    let sink = OtlpSink::start(sink_delay, 1);
    let (http, health, metrics) = (free_port(), free_port(), free_port());
    let yaml = format!(
        r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
processors:
  memory_limiter:
    check_interval: 100ms
    limit_mib: {limit_mib}
    spike_limit_mib: {spike}
  batch:
    timeout: 100ms
    send_batch_size: 2000
exporters:
  otlp_http:
    endpoint: {endpoint}
    compression: none
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 500ms
      max_elapsed_time: 0s
    sending_queue:
      queue_size: {queue_size}
      num_consumers: 1
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  limits:
    in_flight_mib: 64
  pipelines:
    profiles:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_http]
{telemetry}"#,
        spike = limit_mib / 5,
        endpoint = sink.endpoint(),
        telemetry = telemetry_yaml(Some(metrics)),
    );
    let mut collector = Profcol::start("flood", &yaml, Some(health));
    collector.wait_ready(None);
    Setup {
        collector,
        sink,
        url: format!("http://127.0.0.1:{http}/v1development/profiles"),
        metrics,
    }
}

fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// Waits until every acknowledged request's samples are at the backend; returns the ids still
/// missing (empty when all arrived) and how many arrived more than once.
fn wait_delivered(
    sink: &OtlpSink,
    acked: &[String],
    samples: u64,
    limit: Duration,
) -> (Vec<String>, usize) {
    let deadline = Instant::now() + limit;
    loop {
        let got = sink.samples_by_service();
        let missing: Vec<String> = acked
            .iter()
            .filter(|id| got.get(*id).copied().unwrap_or(0) < samples)
            .cloned()
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            let dup = acked
                .iter()
                .filter(|id| got.get(*id).copied().unwrap_or(0) > samples)
                .count();
            return (missing, dup);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The batch processor used to answer success and then drop what the full queue refused
/// (~50% of the acknowledged samples in the observed run). Now nothing acknowledged is lost.
#[test]
fn flood_through_batch_loses_nothing_acknowledged() {
    const SAMPLES: usize = 200;
    let s = start(512, 4, Duration::from_millis(30));
    let f = flood(
        &s.url,
        s.collector.pid(),
        12,
        SAMPLES,
        Duration::from_secs(8),
    );
    let refused = f.statuses.get(&503).copied().unwrap_or(0);
    eprintln!(
        "statuses {:?}, acknowledged {}, peak RSS {} MiB",
        f.statuses,
        f.acked.len(),
        f.peak_rss >> 20
    );
    assert!(!f.acked.is_empty(), "nothing was accepted");
    assert!(
        refused > 0,
        "the flood never filled the queue: {:?}",
        f.statuses
    );

    let (missing, dup) = wait_delivered(&s.sink, &f.acked, SAMPLES as u64, Duration::from_secs(90));
    let m = metrics(s.metrics);
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged requests never reached the backend (first: {:?}); metrics:\n{m}\nlog:\n{}",
        missing.len(),
        f.acked.len(),
        missing.first(),
        s.collector.stderr()
    );
    eprintln!("{dup} acknowledged requests arrived more than once");
    // Nothing was dropped after acknowledgement: the exporter never failed a send or an enqueue
    // of data a client had been told was taken.
    let send_failed = metric_sum(
        &m,
        "otelcol_exporter_send_failed_profile_samples_total",
        &[],
    )
    .unwrap_or(0);
    assert_eq!(send_failed, 0, "{m}");
    assert!(
        f.peak_rss < 512 << 20,
        "peak RSS {} MiB over the 512 MiB limit",
        f.peak_rss >> 20
    );
    s.collector.stop();
}

/// The memory limiter used to latch: after a flood, with the queue empty, RSS stayed high (the
/// allocator keeps freed pages) and every request was refused until a restart. It now reads
/// what the process holds (jemalloc's live bytes) and admits again as soon as that falls.
#[test]
fn limiter_admits_again_within_seconds_after_a_flood() {
    const SAMPLES: usize = 4000;
    // A soft limit of 64 - 12 MiB: a flood of ~0.8 MB requests into a 64-batch queue crosses it.
    let s = start(64, 64, Duration::from_millis(40));
    let f = flood(
        &s.url,
        s.collector.pid(),
        8,
        SAMPLES,
        Duration::from_secs(8),
    );
    let m = metrics(s.metrics);
    let limited = metric_sum(
        &m,
        "profcol_processor_memory_limiter_refused_profile_samples_total",
        &[],
    )
    .unwrap_or(0);
    eprintln!(
        "statuses {:?}, acknowledged {}, limiter refused {limited} samples, peak RSS {} MiB",
        f.statuses,
        f.acked.len(),
        f.peak_rss >> 20
    );
    assert!(limited > 0, "the flood never reached the soft limit:\n{m}");

    // The backend drains what was queued; then a normal client is served again within seconds.
    let (missing, _) = wait_delivered(&s.sink, &f.acked, SAMPLES as u64, Duration::from_secs(120));
    assert!(
        missing.is_empty(),
        "{} acknowledged requests lost",
        missing.len()
    );
    let drained = poll(Duration::from_secs(60), || {
        let m = metrics(s.metrics);
        (metric_sum(&m, "otelcol_exporter_queue_size", &[]) == Some(0)).then_some(())
    });
    assert!(
        drained.is_some(),
        "the queue never drained:\n{}",
        metrics(s.metrics)
    );
    let tpl = template(100);
    let http = Http::new();
    let since = Instant::now();
    let admitted = poll(Duration::from_secs(15), || {
        let r = http.post(&s.url, "application/x-protobuf", with_id(&tpl, &id(99, 0)));
        (r.status == 200).then_some(())
    });
    assert!(
        admitted.is_some(),
        "still refusing 15 s after the flood ended and the queue drained; metrics:\n{}\nlog:\n{}",
        metrics(s.metrics),
        s.collector.stderr()
    );
    eprintln!(
        "admitted again {:?} after the queue drained",
        since.elapsed()
    );
    s.collector.stop();
}

/// While a stopping process drains its queue, the health check answers 503 (load balancers stop
/// sending), and the data acknowledged before SIGTERM still reaches the backend.
#[test]
fn draining_reports_unhealthy_and_still_delivers() {
    const SAMPLES: usize = 50;
    let s = start(512, 100, Duration::from_millis(1));
    let health = s.collector.health_port.expect("health port");
    s.sink.set_down(true);
    let tpl = template(SAMPLES);
    let http = Http::new();
    let ids: Vec<String> = (0..5).map(|n| id(0, n)).collect();
    for rid in &ids {
        let r = http.post(&s.url, "application/x-protobuf", with_id(&tpl, rid));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let mut collector = s.collector;
    collector.sigterm();
    let unhealthy = poll(Duration::from_secs(10), || {
        http_get(health, "/").and_then(|(code, _)| (code == 503).then_some(()))
    });
    assert!(
        unhealthy.is_some(),
        "the health check never answered 503 while draining; log:\n{}",
        collector.stderr()
    );
    // The backend comes back: the queue drains and the process exits cleanly.
    s.sink.set_down(false);
    let status = collector.wait_exit(Duration::from_secs(40));
    assert!(
        status.is_some_and(|st| st.success()),
        "{status:?}; log:\n{}",
        collector.stderr()
    );
    let (missing, _) = wait_delivered(&s.sink, &ids, SAMPLES as u64, Duration::from_secs(5));
    assert!(missing.is_empty(), "lost on shutdown: {missing:?}");
}
