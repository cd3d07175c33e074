//! End to end: the `profcol` binary with an `otlp` receiver and a `pyroscope` exporter pointed at
//! a Push API test server running in this test process. The real eBPF capture and pprof fixtures
//! (converted with `profcol convert`) go in over OTLP/HTTP; what arrives must be valid Pyroscope
//! series (labels, profile type ids), pprofs that `go tool pprof` reads with the source totals,
//! the CPU stacks Pyroscope itself expects for the capture, delivered once despite a 429, with
//! the client's tenant forwarded; a 400 is not retried and is counted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Http, Profcol, free_port, metric_sum, poll, telemetry_yaml};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::pprof;
use profcol_pdata::pyroscope::series;
use profcol_testkit::pyroscope_server::{
    PushServer, Reply, check_with_go, common_checks, expected_cpu_stacks, label, pushed, stacks,
    totals_by_type,
};
use prost::Message;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn config(http_port: u16, health: u16, metrics: u16, server: &PushServer) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http_port}
        include_metadata: true
exporters:
  pyroscope:
    endpoint: {endpoint}
    external_labels:
      env: e2e
    reject_older_than: 0s
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [pyroscope]
{telemetry}"#,
        endpoint = server.endpoint(),
        telemetry = telemetry_yaml(Some(metrics))
    )
}

/// `profcol convert FILE --to otlp`: the fixture as a serialized OTLP request.
fn convert(path: &std::path::Path, dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join(format!(
        "{}.otlp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let o = common::profcol_cmd(
        &[
            "convert",
            &path.display().to_string(),
            "--to",
            "otlp",
            "-o",
            &out.display().to_string(),
        ],
        &[],
    );
    assert!(
        o.status.success(),
        "profcol convert {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(&out).expect("converted file")
}

fn post(http: &Http, port: u16, body: Vec<u8>, tenant: &str) {
    let r = http.request(
        "POST",
        &format!("http://127.0.0.1:{port}/v1development/profiles"),
        &[
            ("content-type", "application/x-protobuf"),
            ("x-scope-orgid", tenant),
        ],
        body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn otlp_in_pyroscope_push_out() {
    let (ebpf, expected) = (
        common::testdata(common::EBPF_CAPTURE),
        common::testdata("grafana-pyroscope/otlp/otel-ebpf-profile-cpu.expected.json"),
    );
    let fixtures = [
        "grafana-pyroscope/pprof/go-cpu-uncompressed.pb",
        "grafana-pyroscope/pprof/go-heap.pb.gz",
        "grafana-pyroscope/pprof/profile_java.pb.gz",
        "grafana-pyroscope/pprof/nodejs-cpu-js.pb.gz",
    ];
    let paths: Vec<_> = fixtures.iter().map(|f| common::testdata(f)).collect();
    let rt = runtime();
    let server = rt.block_on(PushServer::start());
    // The first push is throttled: the exporter must wait and deliver it once.
    server.script([Reply::too_many(1)]);

    let (http_port, health, metrics) = (free_port(), free_port(), free_port());
    let mut pc = Profcol::start(
        "pyroscope-export",
        &config(http_port, health, metrics, &server),
        Some(health),
    );
    pc.wait_ready(None);
    let http = Http::new();

    let ebpf_bytes = std::fs::read(&ebpf).expect("capture");
    let ebpf_req = ExportProfilesServiceRequest::decode(&ebpf_bytes[..]).expect("capture decodes");
    post(&http, http_port, ebpf_bytes, "tenant-1");
    let conv_dir = tempfile::tempdir().expect("tempdir");
    let mut sources = Vec::new();
    for p in &paths {
        let body = convert(p, conv_dir.path());
        let (src, _) =
            pprof::decode(&std::fs::read(p).expect("fixture"), 64 << 20).expect("decodes");
        sources.push(src);
        post(&http, http_port, body, "tenant-1");
    }
    let batches = 1 + paths.len();
    let accepted = poll(Duration::from_secs(30), || {
        let a = server.accepted();
        (a.len() >= batches).then_some(a)
    })
    .unwrap_or_else(|| {
        panic!(
            "expected {batches} accepted pushes, got {:?}\nprofcol log:\n{}",
            server
                .received()
                .iter()
                .map(|r| r.status)
                .collect::<Vec<_>>(),
            pc.stderr()
        )
    });
    // Give a duplicate a chance to show up, then check there is none.
    std::thread::sleep(Duration::from_millis(300));
    let received = server.received();
    assert_eq!(received[0].status, 429, "the first push was throttled");
    assert_eq!(
        server.accepted().len(),
        batches,
        "each batch delivered exactly once"
    );
    for r in &received {
        assert_eq!(
            r.header("x-scope-orgid"),
            Some("tenant-1"),
            "tenant forwarded"
        );
        assert_eq!(r.header("content-type"), Some("application/proto"));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_eq!(r.header("connect-protocol-version"), Some("1"));
    }

    let ps = pushed(&accepted);
    common_checks(&ps);
    for p in &ps {
        assert_eq!(label(&p.labels, "env"), Some("e2e"));
        assert!(
            label(&p.labels, "service_name").is_some_and(|s| s.starts_with("unknown_service")),
            "{:?}",
            p.labels
        );
        assert_eq!(label(&p.labels, "__delta__"), Some("false"));
    }
    let ids: BTreeSet<String> = ps.iter().flat_map(|p| p.type_ids()).collect();
    for want in [
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        "off_cpu:off_cpu:nanoseconds::",
        "cpu:cpu:nanoseconds:cpu:nanoseconds",
        "space:alloc_objects:count:space:bytes",
        "space:inuse_space:bytes:space:bytes",
        "wall:wall:microseconds:wall:microseconds",
        "wall:sample:count:wall:microseconds",
    ] {
        assert!(ids.contains(want), "{want} missing from {ids:?}");
    }

    // The capture: Pyroscope's expected CPU stacks and totals.
    let ebpf_ps: Vec<_> = ps
        .iter()
        .filter(|p| p.name() == "process_cpu" || p.name() == "off_cpu")
        .filter(|p| label(&p.labels, "process.pid").is_some())
        .collect();
    let mut got: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for p in ebpf_ps.iter().filter(|p| p.name() == "process_cpu") {
        for (k, v) in stacks(&p.profile) {
            *got.entry(k).or_insert(0) += v;
        }
    }
    assert_eq!(got, expected_cpu_stacks(&expected));
    let off_cpu_src: i64 = {
        let mut r = ebpf_req.clone();
        profcol_pdata::validate(&mut r, &Default::default()).expect("validates");
        profcol_pdata::samples(&r)
            .filter(|v| v.sample_type().0 == "off_cpu")
            .map(|v| v.total())
            .sum()
    };
    let off_cpu_got: i64 = ebpf_ps
        .iter()
        .filter(|p| p.name() == "off_cpu")
        .map(|p| series::totals(&p.profile)[0])
        .sum();
    assert_eq!(off_cpu_got, off_cpu_src);

    // The fixtures: per sample type totals, × period where samples:count:cpu:nanoseconds became
    // process_cpu. Each fixture's series carry a distinct profile type set, so sum over all.
    let totals = totals_by_type(&ps);
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for src in &sources {
        let t = series::totals(src);
        for (i, total) in t.iter().enumerate() {
            let ty = series::ProfileType::from_pprof(src, i).expect("type");
            let name = series::profile_name(None, &ty);
            let mut total = *total;
            let mut ty = ty;
            if let Some(period) = name.scale_by_period {
                total *= period;
                ty.sample_type = "cpu".into();
                ty.sample_unit = "nanoseconds".into();
            }
            *want.entry(ty.id(&name.name)).or_insert(0) += total;
        }
    }
    for (id, w) in &want {
        let extra = if id == "process_cpu:cpu:nanoseconds:cpu:nanoseconds" {
            // The capture's CPU profiles share this id.
            ebpf_ps
                .iter()
                .filter(|p| p.name() == "process_cpu")
                .map(|p| series::totals(&p.profile)[0])
                .sum()
        } else {
            0
        };
        assert_eq!(totals.get(id).copied(), Some(w + extra), "{id}");
    }
    check_with_go(&ps);

    let text = common::http_get(metrics, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default();
    assert_eq!(
        metric_sum(
            &text,
            "profcol_exporter_pyroscope_rejected_series_total",
            &[]
        ),
        None
    );
    let log = pc.stop();
    assert!(log.contains("will retry"), "the 429 was logged:\n{log}");
}

#[test]
fn rejected_push_is_not_retried_and_counted() {
    let path = common::testdata("grafana-pyroscope/pprof/profile_rust.pb.gz");
    let rt = runtime();
    let server = rt.block_on(PushServer::start());
    server.script([Reply::error(
        400,
        "invalid_argument",
        "invalid labels: duplicate label name",
    )]);
    let (http_port, health, metrics) = (free_port(), free_port(), free_port());
    let mut pc = Profcol::start(
        "pyroscope-reject",
        &config(http_port, health, metrics, &server),
        Some(health),
    );
    pc.wait_ready(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let body = convert(&path, dir.path());
    let samples = profcol_pdata::sample_count(
        &ExportProfilesServiceRequest::decode(&body[..]).expect("converted request"),
    ) as u64;
    post(&Http::new(), http_port, body, "t");
    let text = poll(Duration::from_secs(20), || {
        let (_, t) = common::http_get(metrics, "/metrics")?;
        metric_sum(&t, "profcol_exporter_pyroscope_rejected_series_total", &[])
            .is_some_and(|v| v >= 1)
            .then_some(t)
    })
    .unwrap_or_else(|| panic!("rejection not counted; log:\n{}", pc.stderr()));
    assert_eq!(
        metric_sum(
            &text,
            "otelcol_exporter_send_failed_profile_samples_total",
            &["exporter=\"pyroscope\""]
        ),
        Some(samples)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.received().len(), 1, "a 400 is not retried");
    let log = pc.stop();
    assert!(
        log.contains("duplicate label name"),
        "the server's message is logged:\n{log}"
    );
}
