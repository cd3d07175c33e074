//! Configuration end to end: the Collector-compatible example validates and runs unchanged, config
//! errors name file, line and key path, startup failures are quick and clear, SIGTERM drains
//! queued data, and `profcol components` lists what this build has.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Http, Profcol, free_port, poll, read_proto_records, summarize, telemetry_yaml};
use profcol_pdata::ExportProfilesServiceRequest;
use prost::Message;

const EXAMPLE: &str = "examples/otelcol-contrib-profiles.yaml";

/// A downstream instance: OTLP gRPC + HTTP in, length-prefixed protobuf file out.
fn downstream_yaml(grpc: u16, http: u16, health: u16) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  file:
    path: "{{dir}}/received.pb"
    format: proto
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

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The line of `text` mentioning `key_path`, which must also carry `file:line`.
fn assert_error_line(text: &str, key_path: &str, file_line: &str) {
    let line = text
        .lines()
        .find(|l| l.contains(key_path))
        .unwrap_or_else(|| panic!("no error mentions {key_path:?}:\n{text}"));
    assert!(
        line.contains(file_line),
        "the error for {key_path} should name {file_line}: {line:?}"
    );
}

#[test]
fn collector_example_validates_with_alias_warnings() {
    let out = common::profcol_cmd(
        &[
            "validate",
            "--config",
            EXAMPLE,
            "--feature-gates=service.profilesSupport",
        ],
        &[],
    );
    let err = stderr_of(&out);
    assert!(
        out.status.success(),
        "validate failed ({}):\n{err}",
        out.status
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("valid"),
        "validate should say the config is valid"
    );
    for (alias, current) in [("otlp", "otlp_grpc"), ("otlphttp", "otlp_http")] {
        let line = err
            .lines()
            .find(|l| l.contains("deprecated") && l.contains(&format!("\"{alias}\"")))
            .unwrap_or_else(|| panic!("no deprecation warning for {alias}:\n{err}"));
        assert!(
            line.contains(current),
            "the warning for {alias} should name {current}: {line}"
        );
        assert!(
            line.contains(EXAMPLE),
            "the warning should name the file: {line}"
        );
    }
}

#[test]
fn collector_example_runs_unchanged_and_forwards() {
    let capture = common::testdata(common::EBPF_CAPTURE);
    let capture = std::fs::read(capture).expect("reading capture");
    let (b_grpc, b_http, b_health) = (free_port(), free_port(), free_port());
    let mut b = Profcol::start(
        "example-downstream",
        &downstream_yaml(b_grpc, b_http, b_health),
        Some(b_health),
    );

    let (a_grpc, a_http, a_health, a_metrics) =
        (free_port(), free_port(), free_port(), free_port());
    let env = [
        ("HEALTH_ENDPOINT", format!("127.0.0.1:{a_health}")),
        ("OTLP_GRPC_ENDPOINT", format!("127.0.0.1:{a_grpc}")),
        ("OTLP_HTTP_ENDPOINT", format!("127.0.0.1:{a_http}")),
        ("PYROSCOPE_ENDPOINT", format!("127.0.0.1:{b_grpc}")),
        (
            "BACKUP_OTLP_HTTP_ENDPOINT",
            format!("http://127.0.0.1:{b_http}"),
        ),
        ("METRICS_HOST", "127.0.0.1".to_owned()),
        ("METRICS_PORT", a_metrics.to_string()),
    ];
    let example = common::repo_root().join(EXAMPLE);
    let mut a = Profcol::start_file(
        "example",
        &example,
        Some(a_health),
        &["--feature-gates=service.profilesSupport"],
        &env,
    );
    b.wait_ready(None);
    a.wait_ready(None);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", a_grpc)).is_ok(),
        "the gRPC receiver should listen on the port given by OTLP_GRPC_ENDPOINT"
    );
    assert!(
        common::http_get(a_metrics, "/metrics").is_some_and(|(c, _)| c == 200),
        "metrics on METRICS_HOST:METRICS_PORT"
    );

    let http = Http::new();
    let r = http.post(
        &format!("http://127.0.0.1:{a_http}/v1development/profiles"),
        "application/x-protobuf",
        capture.clone(),
    );
    assert_eq!(
        r.status,
        200,
        "sending the capture to the example config: {}",
        String::from_utf8_lossy(&r.body)
    );

    // Both exporters (gRPC via `otlp`, HTTP via `otlphttp`) deliver to the downstream instance.
    let req = ExportProfilesServiceRequest::decode(&capture[..]).expect("capture decodes");
    let expected = summarize([&req, &req]);
    let path = b.dir.path().join("received.pb");
    let got = poll(Duration::from_secs(30), || {
        Some(summarize(&read_proto_records(&path))).filter(|s| s.weight() == expected.weight())
    })
    .unwrap_or_else(|| summarize(&read_proto_records(&path)));
    assert!(
        got.totals == expected.totals,
        "downstream totals differ (expected weight {}, got {}):\n{}\nexample instance stderr:\n{}",
        expected.weight(),
        got.weight(),
        expected.diff(&got),
        a.stderr()
    );
    assert_eq!(got.resources, expected.resources);

    let log = a.stop();
    assert!(
        log.contains("deprecated"),
        "running the example should warn about the deprecated aliases:\n{log}"
    );
    b.stop();
}

/// `profcol validate` reports every problem of a component, not only its first, and an invalid
/// value of an enum option lists the allowed values.
#[test]
fn validate_reports_every_problem_and_lists_allowed_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("many.yaml");
    std::fs::write(
        &path,
        "receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 0
        profiles_url_path: no-slash
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:1
    encoding: xml
  otlp_grpc:
    endpoint: collector:4317
    compression: lz4
    sending_queue:
      queue_size: 0
service:
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [otlp_http, otlp_grpc]
",
    )
    .expect("writing config");
    let file = path.display().to_string();
    let out = common::profcol_cmd(&["validate", "--config", &file], &[]);
    assert!(!out.status.success(), "validate should fail");
    let err = stderr_of(&out);
    for (key, line) in [
        ("receivers.otlp.protocols.http.max_request_body_size", 6),
        ("receivers.otlp.protocols.http.profiles_url_path", 7),
        ("exporters.otlp_http.encoding", 11),
        ("exporters.otlp_grpc.compression", 14),
        ("exporters.otlp_grpc.sending_queue.queue_size", 16),
    ] {
        assert_error_line(&err, key, &format!("{file}:{line}"));
    }
    let encoding = err
        .lines()
        .find(|l| l.contains("exporters.otlp_http.encoding"))
        .unwrap_or_default();
    assert!(
        encoding.contains("`xml`") && encoding.contains("`proto`") && encoding.contains("`json`"),
        "the allowed encodings should be listed: {encoding}"
    );
    let compression = err
        .lines()
        .find(|l| l.contains("exporters.otlp_grpc.compression"))
        .unwrap_or_default();
    assert!(
        compression.contains("gzip, zstd, deflate, none"),
        "the supported compressions should be listed: {compression}"
    );
}

#[test]
fn config_errors_name_file_line_and_key_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.yaml");
    std::fs::write(
        &path,
        "receivers:
  otlp:
    protocols:
      grpc:
        endpiont: 127.0.0.1:4317
exporters:
  debug:
  nosuch_exporter:
    foo: 1
service:
  pipelines:
    profiles:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
  telemetry:
    metrics:
      level: none
",
    )
    .expect("writing config");
    let file = path.display().to_string();
    let expected = [
        ("receivers.otlp.protocols.grpc.endpiont", 5),
        ("exporters.nosuch_exporter", 8),
        ("service.pipelines.profiles.processors", 14),
    ];

    let out = common::profcol_cmd(&["validate", "--config", &file], &[]);
    assert!(!out.status.success(), "validate should fail");
    let err = stderr_of(&out);
    for (key, line) in expected {
        assert_error_line(&err, key, &format!("{file}:{line}"));
    }
    assert!(
        err.contains("endpoint"),
        "the unknown key error should suggest the right name:\n{err}"
    );

    // Running it fails the same way, before anything starts.
    let start = Instant::now();
    let out = common::profcol_cmd(&["--config", &file], &[]);
    assert!(!out.status.success(), "running a broken config should fail");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "a broken config should fail fast"
    );
    let err = stderr_of(&out);
    for (key, line) in expected {
        assert_error_line(&err, key, &format!("{file}:{line}"));
    }
}

#[test]
fn port_in_use_fails_fast_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let free = free_port();
    let cases = [
        (
            "metrics port",
            format!(
                "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{free}\nexporters:\n  debug:\nservice:\n  pipelines:\n    profiles:\n      receivers: [otlp]\n      exporters: [debug]\n{}",
                telemetry_yaml(Some(port))
            ),
        ),
        (
            "receiver port",
            format!(
                "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:{port}\nexporters:\n  debug:\nservice:\n  pipelines:\n    profiles:\n      receivers: [otlp]\n      exporters: [debug]\n{}",
                telemetry_yaml(None)
            ),
        ),
    ];
    for (what, yaml) in cases {
        let mut p = Profcol::start_with("port-in-use", &yaml, None, &[], &[]);
        let status = p.wait_exit(Duration::from_secs(10));
        let log = p.stderr();
        let status = status.unwrap_or_else(|| {
            panic!("{what}: profcol kept running although 127.0.0.1:{port} is taken:\n{log}")
        });
        assert!(
            !status.success(),
            "{what}: profcol should exit non-zero:\n{log}"
        );
        assert!(
            log.contains(&format!("127.0.0.1:{port}")),
            "{what}: the error should name the address:\n{log}"
        );
        assert!(
            log.to_lowercase().contains("in use"),
            "{what}: the error should say the address is in use:\n{log}"
        );
    }
    drop(taken);
}

/// An upstream instance: OTLP/HTTP in, `otlp_grpc` out to `downstream_grpc` with an in-memory
/// sending queue and quick retries.
fn upstream_yaml(http: u16, health: u16, downstream_grpc: u16) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:{downstream_grpc}
    tls:
      insecure: true
    sending_queue:
      enabled: true
      num_consumers: 2
      queue_size: 100
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 300ms
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [otlp_grpc]
{}"#,
        telemetry_yaml(None)
    )
}

/// Sends the capture `n` times to `port`, each answered once queued.
fn send_capture(http: &Http, port: u16, capture: &[u8], n: usize) {
    for i in 0..n {
        let r = http.post(
            &format!("http://127.0.0.1:{port}/v1development/profiles"),
            "application/x-protobuf",
            capture.to_vec(),
        );
        assert_eq!(
            r.status,
            200,
            "send {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[test]
fn sigterm_drains_queued_data() {
    let capture = common::testdata(common::EBPF_CAPTURE);
    let capture = std::fs::read(capture).expect("reading capture");
    let req = ExportProfilesServiceRequest::decode(&capture[..]).expect("capture decodes");
    let http = Http::new();

    // 1. Downstream up: SIGTERM right after the last request was queued.
    let (b_grpc, b_http, b_health) = (free_port(), free_port(), free_port());
    let mut b = Profcol::start(
        "drain-downstream",
        &downstream_yaml(b_grpc, b_http, b_health),
        Some(b_health),
    );
    let (a_http, a_health) = (free_port(), free_port());
    let mut a = Profcol::start(
        "drain",
        &upstream_yaml(a_http, a_health, b_grpc),
        Some(a_health),
    );
    b.wait_ready(None);
    a.wait_ready(None);
    const N: usize = 8;
    send_capture(&http, a_http, &capture, N);
    a.stop();
    let expected = summarize(std::iter::repeat_n(&req, N));
    let got = summarize(&read_proto_records(&b.dir.path().join("received.pb")));
    assert!(
        got.totals == expected.totals,
        "after SIGTERM, downstream is missing data:\n{}",
        expected.diff(&got)
    );
    b.stop();

    // 2. Downstream down while the data is queued and SIGTERM arrives: shutdown keeps retrying
    // (within its drain deadline) and delivers once the downstream comes up.
    let (c_grpc, c_http, c_health) = (free_port(), free_port(), free_port());
    let (a_http, a_health) = (free_port(), free_port());
    let mut a = Profcol::start(
        "drain-late",
        &upstream_yaml(a_http, a_health, c_grpc),
        Some(a_health),
    );
    a.wait_ready(None);
    send_capture(&http, a_http, &capture, 2);
    a.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    let mut c = Profcol::start(
        "drain-late-downstream",
        &downstream_yaml(c_grpc, c_http, c_health),
        Some(c_health),
    );
    c.wait_ready(None);
    let status = a.wait_exit(Duration::from_secs(40));
    let log = a.stderr();
    let status =
        status.unwrap_or_else(|| panic!("upstream did not exit within 40s of SIGTERM:\n{log}"));
    assert!(status.success(), "upstream exited with {status}:\n{log}");
    assert!(
        log.contains("retry"),
        "the upstream should have retried while the downstream was down:\n{log}"
    );
    let expected = summarize([&req, &req]);
    let got = summarize(&read_proto_records(&c.dir.path().join("received.pb")));
    assert!(
        got.totals == expected.totals,
        "queued data was not drained to the late downstream:\n{}\nupstream log:\n{log}",
        expected.diff(&got)
    );
    c.stop();
}

#[test]
fn components_lists_every_type() {
    let out = common::profcol_cmd(&["components"], &[]);
    assert!(
        out.status.success(),
        "components failed: {}",
        stderr_of(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let row = |kind: &str, ty: &str| {
        rows.iter()
            .find(|r| r.len() >= 2 && r[0] == kind && r[1] == ty)
            .unwrap_or_else(|| panic!("`profcol components` does not list {kind} {ty}:\n{text}"))
    };
    row("receiver", "otlp");
    row("processor", "batch");
    row("processor", "memory_limiter");
    assert_eq!(
        row("exporter", "otlp_grpc")[2],
        "otlp",
        "otlp_grpc should list its alias otlp"
    );
    assert_eq!(
        row("exporter", "otlp_http")[2],
        "otlphttp",
        "otlp_http should list its alias otlphttp"
    );
    row("exporter", "debug");
    row("exporter", "file");
    row("extension", "health_check");
}
