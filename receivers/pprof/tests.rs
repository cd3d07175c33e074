use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use profcol_config::Section;
use profcol_pdata::Batch;
use profcol_pdata::pprof::{self, Profile};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{ConsumeError, Consumer, Context, ReceiverFactory, Telemetry};
use profcol_testkit::require::testdata;
use serde_json::json;

use super::PprofReceiverFactory;
use super::delta::{DeltaState, is_cumulative};

fn load(rel: &str) -> Profile {
    let path = testdata(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    pprof::decode(&bytes, 64 << 20).expect("fixture decodes").0
}

fn totals(p: &Profile) -> Vec<i64> {
    let mut t = vec![0i64; p.sample_type.len()];
    for s in &p.sample {
        for (a, v) in t.iter_mut().zip(&s.value) {
            *a += v;
        }
    }
    t
}

#[test]
fn delta_of_alloy_pairs() {
    for kind in ["heap", "block", "stress-failure"] {
        let (before, after) = (
            load(&format!("grafana-alloy/{kind}.before.pprof")),
            load(&format!("grafana-alloy/{kind}.after.pprof")),
        );
        let mut state = DeltaState::default();
        assert!(
            state.apply(&before).is_none(),
            "{kind}: the first scrape only primes"
        );
        let d = state.apply(&after).expect("second scrape gives a delta");
        let types: Vec<String> = after
            .sample_type
            .iter()
            .map(|t| after.string(t.r#type).into_owned())
            .collect();
        assert!(types.iter().any(|t| is_cumulative(t)), "{kind}: {types:?}");
        for s in &d.sample {
            assert!(
                s.value.iter().all(|&v| v >= 0),
                "{kind}: negative delta {:?}",
                s.value
            );
            assert!(
                s.value.iter().any(|&v| v != 0),
                "{kind}: all-zero samples are dropped"
            );
        }
        let (tb, ta, td) = (totals(&before), totals(&after), totals(&d));
        for (i, t) in types.iter().enumerate() {
            if is_cumulative(t) {
                assert!(
                    td[i] <= ta[i],
                    "{kind} {t}: delta {} above the cumulative {}",
                    td[i],
                    ta[i]
                );
                // Go's cumulative counters only grow within a process: delta = after - before.
                assert_eq!(td[i], ta[i] - tb[i], "{kind} {t}: delta total");
            } else {
                assert_eq!(
                    td[i], ta[i],
                    "{kind} {t}: in-use values are kept as they are"
                );
            }
        }
        // The same profile again: nothing changed, so nothing cumulative remains.
        let mut state = DeltaState::default();
        state.apply(&after);
        let again = state.apply(&after).expect("delta");
        let t = totals(&again);
        for (i, ty) in types.iter().enumerate() {
            if is_cumulative(ty) {
                assert_eq!(t[i], 0, "{kind} {ty}");
            }
        }
    }
}

#[test]
fn delta_restart_counts_from_zero() {
    let after = load("grafana-alloy/heap.after.pprof");
    let before = load("grafana-alloy/heap.before.pprof");
    let mut state = DeltaState::default();
    state.apply(&after);
    // Values went down: the process restarted; the new values are the delta.
    let d = state.apply(&before).expect("delta");
    assert!(d.sample.iter().all(|s| s.value.iter().all(|&v| v >= 0)));
}

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(cfg: serde_json::Value) -> (Box<dyn profcol_pipeline::Component>, Arc<Sink>, Telemetry) {
    let sink = Arc::new(Sink {
        got: Mutex::new(Vec::new()),
    });
    let telemetry = Telemetry::new();
    let ctx = Context::new(
        profcol_config::ComponentId::new("pprof", None),
        telemetry.clone(),
    );
    let comp = PprofReceiverFactory
        .create(
            ctx,
            &Section::from_value("receivers.pprof", cfg),
            sink.clone(),
        )
        .unwrap();
    (comp, sink, telemetry)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn server_push_raw_gzip_multipart_and_errors() {
    let path = testdata("grafana-pyroscope/pprof/go-cpu-uncompressed.pb");
    let raw = std::fs::read(path).unwrap();
    let port = free_port();
    let (comp, sink, telemetry) = start(
        json!({"server": {"endpoint": format!("127.0.0.1:{port}")}, "resource_attributes": {"service.name": "checkout"}}),
    );
    comp.start().await.unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/pprof");
    let http = reqwest::Client::new();
    let r = http.post(&url).body(raw.clone()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = http.post(&url).body(gzip(&raw)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let mut mp = b"--BOUND\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    mp.extend_from_slice(&gzip(&raw));
    mp.extend_from_slice(b"\r\n--BOUND--\r\n");
    let r = http
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=BOUND")
        .body(mp)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // An empty profile is counted and dropped, not forwarded.
    let empty = pprof::encode(&Profile {
        string_table: vec![Vec::new()],
        ..Default::default()
    });
    let r = http.post(&url).body(empty).send().await.unwrap();
    assert_eq!(r.status(), 204);
    // Garbage and legacy text get 400 with a clear message.
    let r = http.post(&url).body(vec![0xff; 64]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(&url)
        .body("heap profile: 1: 2 [3: 4] @ heap/1048576\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("go tool pprof -proto"));
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);

    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    let expected: i64 = {
        let (p, _) = pprof::decode(&raw, 1 << 30).unwrap();
        let d = p.default_sample_index().unwrap_or(p.sample_type.len() - 1);
        p.sample.iter().map(|s| s.value[d]).sum()
    };
    for b in &got {
        let rp = &b.request.resource_profiles[0];
        let attrs = &rp.resource.as_ref().unwrap().attributes;
        assert!(attrs.iter().any(|kv| kv.key == "service.name"
            && profcol_pdata::view::any_value_text(kv.value.as_ref()) == "checkout"));
        // profiles[0] is the default sample type; its total matches the pprof's default column.
        let first = &rp.scope_profiles[0].profiles[0];
        let total: i64 = first
            .samples
            .iter()
            .map(|s| s.values.iter().sum::<i64>())
            .sum();
        assert_eq!(total, expected);
    }
    assert_eq!(
        telemetry.value("profcol_receiver_empty_profiles", &[("transport", "http")]),
        Some(1)
    );
    assert_eq!(
        telemetry.value(
            "profcol_receiver_invalid_payloads",
            &[("transport", "http")]
        ),
        Some(2)
    );
    comp.shutdown().await;
}

#[tokio::test]
async fn file_mode_reads_each_file_once() {
    let src = testdata("grafana-pyroscope/pprof/go-heap.pb.gz");
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(src).unwrap();
    for name in ["a.pprof", "b.pprof"] {
        std::fs::write(dir.path().join(name), &bytes).unwrap();
    }
    std::fs::write(dir.path().join("bad.pprof"), b"not a profile").unwrap();
    // Make the files look settled.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let pattern = format!("{}/*.pprof", dir.path().display());
    let (comp, sink, telemetry) =
        start(json!({"file": {"include": [pattern], "poll_interval": "100ms"}}));
    comp.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        sink.got.lock().unwrap().len(),
        2,
        "each valid file once, however many polls"
    );
    assert_eq!(
        telemetry.value(
            "profcol_receiver_invalid_payloads",
            &[("transport", "file")]
        ),
        Some(1)
    );
    comp.shutdown().await;
    let files: BTreeMap<String, usize> = sink
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            let attrs = &b.request.resource_profiles[0]
                .resource
                .as_ref()
                .unwrap()
                .attributes;
            let f = attrs
                .iter()
                .find(|kv| kv.key == "profcol.pprof.file")
                .map(|kv| profcol_pdata::view::any_value_text(kv.value.as_ref()))
                .unwrap_or_default();
            (f, b.sample_count())
        })
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn config_errors() {
    let bad = [
        (json!({}), "server, remote or file"),
        (json!({"remote": {"targets": []}}), "remote.targets"),
        (
            json!({"remote": {"targets": [{"endpoint": "x:1"}], "delta_profiling_duration": "20s"}}),
            "delta_profiling_duration",
        ),
        (json!({"file": {"include": ["[bad"]}}), "file.include[0]"),
        (json!({"server": {"endpont": "x"}}), "endpont"),
    ];
    for (v, key) in bad {
        let e = PprofReceiverFactory
            .validate(&Section::from_value("receivers.pprof", v.clone()))
            .unwrap_err();
        assert!(e.to_string().contains(key), "{v}: {e}");
    }
    PprofReceiverFactory
        .validate(&Section::from_value(
            "receivers.pprof",
            json!({"server": null}),
        ))
        .unwrap();
}

#[test]
fn scrape_urls() {
    use super::config::{RemoteMode, Target};
    let cfg = RemoteMode {
        targets: vec![],
        ..Default::default()
    };
    let t = Target {
        endpoint: "localhost:6060".into(),
        labels: Default::default(),
    };
    let jobs = cfg.profiles.jobs();
    let urls: Vec<String> = jobs
        .iter()
        .map(|j| super::scrape::url(&cfg, &t, j))
        .collect();
    assert_eq!(
        urls,
        [
            "http://localhost:6060/debug/pprof/profile?seconds=14",
            "http://localhost:6060/debug/pprof/allocs",
            "http://localhost:6060/debug/pprof/goroutine",
            "http://localhost:6060/debug/pprof/mutex",
            "http://localhost:6060/debug/pprof/block",
        ]
    );
}

#[test]
fn profile_type_overrides_keep_their_defaults() {
    let section = Section::from_value(
        "receivers.pprof",
        json!({"remote": {"targets": [{"endpoint": "127.0.0.1:6060"}], "profiles": {"memory": {"enabled": true}, "process_cpu": {"delta": true}, "goroutine": {"enabled": false}, "mutex": {"path": "/custom/mutex"}}}}),
    );
    let cfg = super::PprofReceiverConfig::load(&section).unwrap();
    let remote = cfg.remote.unwrap();
    let urls: Vec<String> = remote
        .profiles
        .jobs()
        .iter()
        .map(|j| super::scrape::url(&remote, &remote.targets[0], j))
        .collect();
    assert_eq!(
        urls,
        [
            "http://127.0.0.1:6060/debug/pprof/profile?seconds=14",
            "http://127.0.0.1:6060/debug/pprof/allocs",
            "http://127.0.0.1:6060/custom/mutex",
            "http://127.0.0.1:6060/debug/pprof/block",
        ]
    );
    let bad = Section::from_value(
        "receivers.pprof",
        json!({"remote": {"targets": [{"endpoint": "x:1"}], "profiles": {"memory": {"bogus": 1}}}}),
    );
    assert!(
        super::PprofReceiverConfig::load(&bad)
            .unwrap_err()
            .to_string()
            .contains("bogus")
    );
}
