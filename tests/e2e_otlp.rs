//! The headline end-to-end test: an independent OTLP client (Python, official generated classes)
//! sends profiles over every transport to profcol A, which batches them and forwards them over
//! OTLP/gRPC to profcol B, which writes them to files. What arrives must carry exactly the samples
//! that were sent, per resource, sample type and stack.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::time::Duration;

use common::{
    Profcol, Summary, free_port, metric_sum, poll, read_json_records, read_proto_records,
    read_request_dir, summarize, telemetry_yaml,
};

#[test]
fn python_client_through_two_instances() {
    let python = common::python();
    let ebpf = common::testdata(common::EBPF_CAPTURE);

    // B: OTLP/gRPC in, protobuf and OTLP/JSON files out.
    let (b_grpc, b_health) = (free_port(), free_port());
    let b_yaml = format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{b_grpc}
exporters:
  file/proto:
    path: "{{dir}}/out/profiles.pb"
    format: proto
  file/json:
    path: "{{dir}}/out/profiles.jsonl"
    format: json
extensions:
  health_check:
    endpoint: 127.0.0.1:{b_health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [file/proto, file/json]
{}"#,
        telemetry_yaml(None)
    );
    let mut b = Profcol::start("b", &b_yaml, Some(b_health));

    // A: OTLP/gRPC + OTLP/HTTP in, batch, OTLP/gRPC out to B; internal metrics on a free port.
    let (a_grpc, a_http, a_health, a_metrics) =
        (free_port(), free_port(), free_port(), free_port());
    let a_yaml = format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{a_grpc}
      http:
        endpoint: 127.0.0.1:{a_http}
processors:
  batch:
    timeout: 200ms
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:{b_grpc}
    tls:
      insecure: true
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
extensions:
  health_check:
    endpoint: 127.0.0.1:{a_health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_grpc]
{}"#,
        telemetry_yaml(Some(a_metrics))
    );
    let mut a = Profcol::start("a", &a_yaml, Some(a_health));
    b.wait_ready(None);
    a.wait_ready(None);

    // The client sends over gRPC (plain, gzip, raw bytes) and HTTP (protobuf, gzip, JSON).
    let sent_dir = tempfile::tempdir().expect("tempdir");
    let args = vec![
        "--grpc".to_owned(),
        format!("127.0.0.1:{a_grpc}"),
        "--http".to_owned(),
        format!("http://127.0.0.1:{a_http}"),
        "--ebpf".to_owned(),
        ebpf.display().to_string(),
        "--out".to_owned(),
        sent_dir.path().display().to_string(),
    ];
    let out = common::run_python(&python, "send_profiles.py", &args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "send_profiles.py failed ({})\nstdout:\n{stdout}\nstderr:\n{}\nprofcol A stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        a.stderr()
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .expect("summary line from send_profiles.py");
    eprintln!("client: {report}");

    let sent = read_request_dir(sent_dir.path());
    assert_eq!(
        report["requests"].as_u64(),
        Some(sent.len() as u64),
        "one file per request sent"
    );
    assert!(
        sent.len() >= 10,
        "expected at least 10 requests, got {}",
        sent.len()
    );
    for how in [
        "grpc",
        "grpc-gzip",
        "grpc-raw",
        "http-proto",
        "http-proto-gzip",
        "http-json",
    ] {
        assert!(
            report["by_transport"][how].as_u64().unwrap_or(0) > 0,
            "nothing was sent as {how}: {report}"
        );
    }
    let expected = summarize(sent.iter().map(|(_, r)| r));
    let sent_samples: usize = sent
        .iter()
        .map(|(_, r)| profcol_pdata::sample_count(r))
        .sum();
    assert_eq!(report["samples"].as_u64(), Some(sent_samples as u64));
    assert!(
        expected.resources.len() > 4,
        "the client should send several resources"
    );

    // Wait until B has written everything (both files), then compare.
    let proto_path = b.dir.path().join("out/profiles.pb");
    let json_path = b.dir.path().join("out/profiles.jsonl");
    let complete = |got: &Summary| got.weight() == expected.weight();
    let got_proto = poll(Duration::from_secs(30), || {
        Some(summarize(&read_proto_records(&proto_path))).filter(complete)
    })
    .unwrap_or_else(|| summarize(&read_proto_records(&proto_path)));
    let got_json = poll(Duration::from_secs(5), || {
        Some(summarize(&read_json_records(&json_path))).filter(complete)
    })
    .unwrap_or_else(|| summarize(&read_json_records(&json_path)));

    for (what, got) in [("protobuf file", &got_proto), ("OTLP/JSON file", &got_json)] {
        assert!(
            got.totals == expected.totals,
            "{what}: per-series totals differ (expected weight {}, got {}):\n{}\nA stderr:\n{}\nB stderr:\n{}",
            expected.weight(),
            got.weight(),
            expected.diff(got),
            a.stderr(),
            b.stderr()
        );
        assert_eq!(
            got.resources, expected.resources,
            "{what}: resource attribute sets differ"
        );
    }
    eprintln!(
        "sent {} requests, {} samples, {} series, weight {}; B received {} samples in the protobuf file",
        sent.len(),
        expected.samples,
        expected.totals.len(),
        expected.weight(),
        got_proto.samples
    );

    // A's internal metrics: every sample accepted, and the exporter reports what it sent.
    let metrics = || {
        common::http_get(a_metrics, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    };
    let accepted = metric_sum(
        &metrics(),
        "otelcol_receiver_accepted_profile_samples_total",
        &[r#"receiver="otlp""#],
    );
    assert_eq!(
        accepted,
        Some(sent_samples as u64),
        "accepted samples in A's metrics:\n{}",
        metrics()
    );
    let exported = poll(Duration::from_secs(5), || {
        metric_sum(
            &metrics(),
            "otelcol_exporter_sent_profile_samples_total",
            &[r#"exporter="otlp_grpc""#],
        )
        .filter(|&n| n > 0)
    });
    assert!(
        exported.is_some(),
        "A's exporter reported no sent samples:\n{}",
        metrics()
    );
    let failed = metric_sum(
        &metrics(),
        "otelcol_exporter_send_failed_profile_samples_total",
        &[],
    )
    .unwrap_or(0);
    assert_eq!(
        failed,
        0,
        "A's exporter reported failed samples:\n{}",
        metrics()
    );

    a.stop();
    b.stop();
}
