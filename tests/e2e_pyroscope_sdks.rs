//! Real Pyroscope SDKs that nobody here wrote, run against a running `profcol` whose `pyroscope`
//! receiver writes OTLP to a file: PyPI `pyroscope-io` (Push API), `pyroscope-otel` with the
//! OpenTelemetry SDK (span profiles → Links), npm `@pyroscope/nodejs` (`/ingest`), and grpcio
//! speaking gRPC Push. Then `examples/pyroscope-to-otlp.yaml` forwarding replayed SDK captures to
//! a second profcol.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Http, Profcol, free_port, poll, read_proto_records, telemetry_yaml};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::pyroscope::PushRequest;
use profcol_pdata::view::any_value_text;
use prost::Message;

/// A profcol with the `pyroscope` receiver on a free port, writing length-prefixed OTLP protobuf.
struct Receiver {
    p: Profcol,
    port: u16,
}

impl Receiver {
    fn start(name: &str) -> Receiver {
        let (port, health) = (free_port(), free_port());
        let yaml = format!(
            r#"receivers:
  pyroscope:
    endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: "{{dir}}/profiles.pb"
    format: proto
    flush_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [pyroscope]
      exporters: [file]
{}"#,
            telemetry_yaml(None)
        );
        let mut p = Profcol::start(name, &yaml, Some(health));
        p.wait_ready(Some(port));
        Receiver { p, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn records(&self) -> Vec<ExportProfilesServiceRequest> {
        read_proto_records(&self.p.dir.path().join("profiles.pb"))
    }
}

/// One OTLP sample, flattened.
#[derive(Debug, Clone)]
struct Flat {
    resource: BTreeMap<String, String>,
    scope_name: String,
    scope_version: String,
    scope_attrs: BTreeMap<String, String>,
    sample_type: String,
    period_type: String,
    /// Function names, leaf first.
    frames: Vec<String>,
    attrs: BTreeMap<String, String>,
    /// `(span_id hex, trace_id hex)`.
    link: Option<(String, String)>,
    total: i64,
}

fn kvs(list: &[profcol_pdata::common::KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), any_value_text(kv.value.as_ref())))
        .collect()
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Validates every request and flattens its samples.
fn flatten(reqs: &[ExportProfilesServiceRequest]) -> Vec<Flat> {
    let mut out = Vec::new();
    for req in reqs {
        let mut copy = req.clone();
        let report = profcol_pdata::validate(&mut copy, &Default::default())
            .unwrap_or_else(|e| panic!("output does not validate: {e}"));
        assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
        for v in profcol_pdata::samples(req) {
            let (t, u) = v.sample_type();
            let period_type = v
                .profile
                .period_type
                .as_ref()
                .map(|p| {
                    format!(
                        "{}/{}",
                        v.dict.string(p.type_strindex),
                        v.dict.string(p.unit_strindex)
                    )
                })
                .unwrap_or_default();
            let scope = v.scope.scope.clone().unwrap_or_default();
            out.push(Flat {
                resource: v
                    .resource
                    .resource
                    .as_ref()
                    .map(|r| kvs(&r.attributes))
                    .unwrap_or_default(),
                scope_name: scope.name.clone(),
                scope_version: scope.version.clone(),
                scope_attrs: kvs(&scope.attributes),
                sample_type: format!("{t}/{u}"),
                period_type,
                frames: v.frames().iter().map(|f| f.function.to_owned()).collect(),
                attrs: v
                    .attributes()
                    .map(|(k, val, _)| (k.to_owned(), any_value_text(val)))
                    .collect(),
                link: v.link().map(|l| (hexs(&l.span_id), hexs(&l.trace_id))),
                total: v.total(),
            });
        }
    }
    out
}

/// Runs a tests/python script; returns its last stdout line parsed as JSON.
fn run_script(py: &Path, script: &str, args: &[String]) -> serde_json::Value {
    let out = common::run_python(py, script, args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{script}: last line is not JSON ({e}): {stdout}\n{stderr}"))
}

/// Whether a frame's function name is `function`: exactly, or as @pyroscope/nodejs names
/// functions (`<path>:<function>:<line>`, its own rewrite before upload).
fn is_function(frame: &str, function: &str) -> bool {
    frame == function || frame.split(':').any(|part| part == function)
}

/// Waits until the output holds a sample of `service` whose stack contains `function`.
fn wait_for_function(r: &Receiver, service: &str, function: &str) -> Vec<Flat> {
    let found = poll(Duration::from_secs(20), || {
        let flat = flatten(&r.records());
        flat.iter()
            .any(|f| {
                f.resource.get("service.name").map(String::as_str) == Some(service)
                    && f.frames.iter().any(|fr| is_function(fr, function))
            })
            .then_some(flat)
    });
    found.unwrap_or_else(|| {
        let flat = flatten(&r.records());
        let names: BTreeSet<&str> = flat
            .iter()
            .flat_map(|f| f.frames.iter().map(String::as_str))
            .collect();
        panic!(
            "no sample of {service} with {function} arrived; {} samples, functions {names:?}\nprofcol log:\n{}",
            flat.len(),
            r.p.stderr()
        )
    })
}

#[test]
fn pyroscope_io_sdk_push() {
    let py = common::python_with(&["pyroscope"]);
    let r = Receiver::start("pyroscope-io");
    let app = "profcol-e2e-python";
    let summary = run_script(
        &py,
        "pyroscope_sdk_push.py",
        &[r.url(), app.into(), "3".into()],
    );
    assert_eq!(summary["shutdown"], true, "{summary}");
    let flat = wait_for_function(&r, app, "profcol_hot_loop");
    let mine: Vec<&Flat> = flat
        .iter()
        .filter(|f| f.resource.get("service.name").map(String::as_str) == Some(app))
        .collect();
    assert!(!mine.is_empty());
    for f in &mine {
        assert_eq!(f.resource["env"], "e2e", "tags are resource attributes");
        assert_eq!(f.resource["team"], "profcol");
        assert_eq!(f.resource["process.runtime.name"], "cpython");
        assert_eq!(f.sample_type, "cpu/nanoseconds");
        assert_eq!(f.period_type, "cpu/nanoseconds");
        assert_eq!(f.scope_name, "com.grafana.pyroscope/python");
        assert_eq!(f.scope_attrs["pyroscope.profile.name"], "process_cpu");
        assert!(f.total > 0);
    }
    let hot: i64 = mine
        .iter()
        .filter(|f| f.frames.iter().any(|fr| fr == "profcol_hot_loop"))
        .map(|f| f.total)
        .sum();
    // py-spy samples at 100 Hz: each sample is 10 ms of CPU.
    assert!(
        hot >= 10_000_000 && hot % 10_000_000 == 0,
        "profcol_hot_loop total {hot} ns"
    );
    r.p.stop();
}

#[test]
fn pyroscope_otel_span_profiles_become_links() {
    let py = common::python_with(&["pyroscope", "pyroscope.otel", "opentelemetry.sdk.trace"]);
    let r = Receiver::start("pyroscope-otel");
    let app = "profcol-e2e-otel";
    let summary = run_script(
        &py,
        "pyroscope_sdk_otel.py",
        &[r.url(), app.into(), "3".into()],
    );
    let span_id = summary["span_id"].as_str().unwrap().to_owned();
    let trace_id = summary["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(span_id.len(), 16);
    assert_eq!(
        summary["profile_id_attribute"].as_str(),
        Some(span_id.as_str()),
        "the span's pyroscope.profile.id is its span id"
    );
    let flat = wait_for_function(&r, app, "profcol_traced_work");
    let in_span: Vec<&Flat> = flat
        .iter()
        .filter(|f| f.frames.iter().any(|fr| fr == "profcol_traced_work"))
        .collect();
    assert!(!in_span.is_empty());
    for f in &in_span {
        let (s, t) = f
            .link
            .clone()
            .unwrap_or_else(|| panic!("sample inside the root span has no Link: {f:?}"));
        assert_eq!(s, span_id, "Link.span_id = the root span's id");
        assert_eq!(t, trace_id, "Link.trace_id = the trace's id");
        assert!(
            !f.attrs.contains_key("span_id") && !f.attrs.contains_key("trace_id"),
            "the ids became the Link, not attributes: {:?}",
            f.attrs
        );
        assert_eq!(
            f.attrs.get("span_name").map(String::as_str),
            Some("profcol-root")
        );
        assert_eq!(f.sample_type, "cpu/nanoseconds");
    }
    r.p.stop();
}

#[test]
fn nodejs_sdk_ingest() {
    let dir = common::node_sdk();
    let r = Receiver::start("nodejs");
    let app = "profcol-e2e-node";
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("pyroscope_sdk.js"))
        .args([r.url(), app.to_owned(), "3".to_owned()])
        .current_dir(&dir);
    let out = common::output_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "node SDK script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let flat = wait_for_function(&r, app, "profcolNodeHotLoop");
    let mine: Vec<&Flat> = flat
        .iter()
        .filter(|f| f.resource.get("service.name").map(String::as_str) == Some(app))
        .collect();
    let types: BTreeSet<&str> = mine.iter().map(|f| f.sample_type.as_str()).collect();
    assert!(types.contains("wall/nanoseconds"), "{types:?}");
    for f in &mine {
        assert_eq!(f.resource["env"], "e2e", "tags are resource attributes");
        assert_eq!(f.resource["team"], "profcol");
        assert_eq!(f.resource["process.runtime.name"], "nodejs");
        assert_eq!(f.scope_name, "com.grafana.pyroscope/nodejs");
        assert!(!f.scope_version.is_empty());
        assert_eq!(f.scope_attrs["pyroscope.spy"], "nodespy");
        let name = f.scope_attrs["pyroscope.profile.name"].as_str();
        assert!(name == "wall" || name == "memory", "{name}");
    }
    let hot_wall: i64 = mine
        .iter()
        .filter(|f| {
            f.sample_type == "wall/nanoseconds"
                && f.frames
                    .iter()
                    .any(|fr| is_function(fr, "profcolNodeHotLoop"))
        })
        .map(|f| f.total)
        .sum();
    assert!(hot_wall > 0, "wall time in profcolNodeHotLoop");
    r.p.stop();
}

/// A gzip-decoded capture body.
fn capture_push(stem: &str) -> (Vec<u8>, PushRequest) {
    let p = common::testdata(&format!("sdk-captures/{stem}.body.bin"));
    let gz = std::fs::read(p).expect("reading capture");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .expect("gunzip capture");
    let push = PushRequest::decode(&raw[..]).expect("capture is a PushRequest");
    (gz, push)
}

/// Per `(service.name, sample type)` the summed pprof values of a PushRequest.
fn push_totals(push: &PushRequest) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for s in &push.series {
        let service = s
            .labels
            .iter()
            .find(|l| l.name == "service_name")
            .map(|l| l.value.clone())
            .unwrap_or_default();
        for smp in &s.samples {
            let (p, _) = profcol_pdata::pprof::decode(&smp.raw_profile, 64 << 20).expect("pprof");
            for (i, (t, u)) in p.sample_type_names().into_iter().enumerate() {
                let sum: i64 = p.sample.iter().filter_map(|x| x.value.get(i)).sum();
                *out.entry((service.clone(), format!("{t}/{u}")))
                    .or_insert(0) += sum;
            }
        }
    }
    out
}

fn flat_totals(flat: &[Flat]) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for f in flat {
        *out.entry((
            f.resource.get("service.name").cloned().unwrap_or_default(),
            f.sample_type.clone(),
        ))
        .or_insert(0) += f.total;
    }
    out
}

#[test]
fn grpc_push_from_grpcio() {
    let py = common::python_with(&["grpc"]);
    let (_, push) = capture_push("pyroscope-rs-2.1.5_push_cpu_auth_001");
    let r = Receiver::start("grpc-push");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("push.bin");
    std::fs::write(&good, push.encode_to_vec()).unwrap();
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, [0xffu8, 0xff, 0xff]).unwrap();
    let no_name = dir.path().join("no_name.bin");
    let mut nn = push.clone();
    nn.series[0].labels.retain(|l| l.name != "__name__");
    std::fs::write(&no_name, nn.encode_to_vec()).unwrap();
    let target = format!("127.0.0.1:{}", r.port);
    let files = [&good, &bad, &no_name].map(|p| p.display().to_string());
    for gzip in [false, true] {
        let mut args = vec!["--target".to_owned(), target.clone()];
        if gzip {
            args.push("--gzip".into());
        }
        args.extend(files.iter().cloned());
        let out = common::run_python(
            &py,
            "pyroscope_grpc_push.py",
            &args,
            Duration::from_secs(60),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let codes: Vec<String> = stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["code"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            codes,
            ["OK", "INVALID_ARGUMENT", "INVALID_ARGUMENT"],
            "gzip={gzip}: {stdout}"
        );
    }
    // The accepted request arrived twice (plain and gzip), with the pprof's totals each time.
    let expected: BTreeMap<(String, String), i64> = push_totals(&push)
        .into_iter()
        .map(|(k, v)| (k, v * 2))
        .collect();
    assert!(expected.values().all(|&v| v > 0));
    let got = poll(Duration::from_secs(10), || {
        let t = flat_totals(&flatten(&r.records()));
        (t == expected).then_some(t)
    });
    assert!(
        got.is_some(),
        "expected {expected:?}, got {:?}",
        flat_totals(&flatten(&r.records()))
    );
    r.p.stop();
}

fn downstream_yaml(grpc: u16, health: u16) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
exporters:
  file:
    path: "{{dir}}/received.pb"
    format: proto
    flush_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [file]
{}"#,
        telemetry_yaml(None)
    )
}

#[test]
fn pyroscope_to_otlp_example_forwards_push_replays() {
    let stems = [
        "pyroscope-io-1.4.0_push_cpu_001",
        "pyroscope-io-1.4.0_push_mem+cpu_002",
        "pyroscope-rs-2.1.5_push_cpu_auth_001",
    ];
    let mut captures = Vec::new();
    for s in stems {
        captures.push(capture_push(s));
    }
    let (b_grpc, b_health) = (free_port(), free_port());
    let mut b = Profcol::start(
        "pyroscope-example-downstream",
        &downstream_yaml(b_grpc, b_health),
        Some(b_health),
    );
    let (a_port, a_health) = (free_port(), free_port());
    let env = [
        ("PYROSCOPE_LISTEN", format!("127.0.0.1:{a_port}")),
        ("HEALTH_LISTEN", format!("127.0.0.1:{a_health}")),
        ("UPSTREAM", format!("127.0.0.1:{b_grpc}")),
        ("METRICS_LEVEL", "none".to_owned()),
    ];
    let example = common::repo_root().join("examples/pyroscope-to-otlp.yaml");
    let mut a = Profcol::start_file("pyroscope-example", &example, Some(a_health), &[], &env);
    b.wait_ready(None);
    a.wait_ready(None);
    let http = Http::new();
    let url = format!("http://127.0.0.1:{a_port}/push.v1.PusherService/Push");
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (gz, push) in &captures {
        // As the SDKs send it: the whole PushRequest gzipped, Content-Encoding: gzip.
        let resp = http.request(
            "POST",
            &url,
            &[
                ("content-type", "application/proto"),
                ("content-encoding", "gzip"),
                ("user-agent", "pyroscope-rs/pyspy/1.4.0 reqwest"),
            ],
            gz.clone(),
        );
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        for (k, v) in push_totals(push) {
            *expected.entry(k).or_insert(0) += v;
        }
    }
    let path = b.dir.path().join("received.pb");
    let got = poll(Duration::from_secs(20), || {
        let t = flat_totals(&flatten(&read_proto_records(&path)));
        (t == expected).then_some(t)
    });
    assert!(
        got.is_some(),
        "downstream got {:?}, expected {expected:?}\nA log:\n{}\nB log:\n{}",
        flat_totals(&flatten(&read_proto_records(&path))),
        a.stderr(),
        b.stderr()
    );
    // The series labels survived the trip: scope, profile name, runtime attributes.
    let flat = flatten(&read_proto_records(&path));
    let names: BTreeSet<(&str, &str)> = flat
        .iter()
        .map(|f| {
            (
                f.resource["service.name"].as_str(),
                f.scope_attrs["pyroscope.profile.name"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("py-capture-app", "memory"),
            ("py-capture-app", "process_cpu"),
            ("rust-capture-app", "process_cpu"),
        ]
        .into()
    );
    assert!(
        flat.iter()
            .all(|f| f.resource.contains_key("process.runtime.name")
                && f.scope_name.starts_with("com.grafana.pyroscope/"))
    );
    a.stop();
    b.stop();
}
