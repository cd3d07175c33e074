//! One Parquet layout: what the `parquet` exporter writes for a request is, row for row and
//! column for column, what `profcol query --input` shows for the same request.
//!
//! For the eBPF capture and five pprof files, the real binary runs an OTLP receiver feeding the
//! `parquet` exporter; `profcol query --data` then reads the files and `profcol query --input`
//! the same request, both as JSON, and every row must be equal (rows sorted by their JSON
//! text). Only times profcol made up itself (samples and profiles without any time get the time
//! they were received or read) may differ.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::Path;

use common::{Http, Profcol, free_port, profcol_cmd, telemetry_yaml, testdata};
use serde_json::{Map, Value};

/// The pprof inputs: symbolized C++ (large.cpu), locations without lines or addresses, Go with
/// span labels, a heap profile with several sample types, Java.
const PPROF: [&str; 5] = [
    "google-pprof/large.cpu",
    "grafana-pyroscope/pprof/no_addr_no_line.pb.gz",
    "grafana-pyroscope/pprof/go-cpu-exemplars.pb.gz",
    "grafana-alloy/heap.pprof",
    "grafana-pyroscope/pprof/profile_java.pb.gz",
];

fn config(http: u16, health: u16, data: &Path) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  parquet:
    path: {}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [parquet]
{}"#,
        data.display(),
        telemetry_yaml(None)
    )
}

/// `profcol query ARGS --format json "SELECT * FROM samples"` as JSON rows.
fn select_all(args: &[&str]) -> Vec<Map<String, Value>> {
    let mut a = vec!["query"];
    a.extend_from_slice(args);
    a.extend(["--format", "json", "SELECT * FROM samples"]);
    let out = profcol_cmd(&a, &[]);
    assert!(
        out.status.success(),
        "profcol {a:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("profcol {a:?}: not JSON ({e})"));
    match v {
        Value::Array(rows) => rows
            .into_iter()
            .map(|r| match r {
                Value::Object(m) => m,
                other => panic!("profcol {a:?}: a row is not an object: {other}"),
            })
            .collect(),
        other => panic!("profcol {a:?}: not an array: {other}"),
    }
}

/// A row with no time from the request (no observation timestamps, profile time 0): its `time`
/// and the partition columns derived from it are the time profcol received or read it.
fn mask_made_up_time(row: &mut Map<String, Value>) {
    let no_time = row.get("observation_timestamps") == Some(&Value::Null)
        && row
            .get("profile_time")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("1970-01-01T00:00:00"));
    if no_time {
        for c in ["time", "date", "hour"] {
            row.insert(c.into(), Value::String("<received>".into()));
        }
    }
}

/// The rows in a deterministic order: by their JSON text.
fn canonical(rows: Vec<Map<String, Value>>) -> Vec<String> {
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|mut r| {
            mask_made_up_time(&mut r);
            Value::Object(r).to_string()
        })
        .collect();
    out.sort();
    out
}

/// Sends the OTLP request `otlp` through the exporter and compares both sides.
fn check(name: &str, otlp: &Path) {
    let data = tempfile::tempdir().expect("tempdir");
    let (http, health) = (free_port(), free_port());
    let mut pc = Profcol::start(
        &format!("layout-{name}"),
        &config(http, health, data.path()),
        Some(health),
    );
    pc.wait_ready(None);
    let body = std::fs::read(otlp).expect("reading the request");
    let r = Http::new().post(
        &format!("http://127.0.0.1:{http}/v1development/profiles"),
        "application/x-protobuf",
        body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Shutdown completes every file.
    let _log = pc.stop();

    let data_dir = data.path().to_str().expect("UTF-8 path");
    let written = select_all(&["--data", data_dir]);
    let input = select_all(&["--input", otlp.to_str().expect("UTF-8 path")]);
    assert!(!written.is_empty(), "{name}: the exporter wrote no rows");

    // One schema: both tables have exactly the layout's columns.
    let mut want: Vec<String> = profcol_layout::schema::table_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    want.sort();
    for (side, rows) in [("--data", &written), ("--input", &input)] {
        let mut got: Vec<String> = rows[0].keys().cloned().collect();
        got.sort();
        assert_eq!(got, want, "{name}: the columns of query {side}");
    }

    assert_eq!(written.len(), input.len(), "{name}: row count");
    let (w, i) = (canonical(written), canonical(input));
    for (n, (a, b)) in w.iter().zip(&i).enumerate() {
        assert_eq!(
            a, b,
            "{name}: row {n} (sorted) differs between the exporter's files and query --input"
        );
    }
}

#[test]
fn exporter_files_and_query_input_have_the_same_rows() {
    let capture = testdata(common::EBPF_CAPTURE);
    check("ebpf", &capture);
    let tmp = tempfile::tempdir().expect("tempdir");
    for (n, rel) in PPROF.iter().enumerate() {
        let src = testdata(rel);
        let otlp = tmp.path().join(format!("{n}.otlp"));
        let out = profcol_cmd(
            &[
                "convert",
                src.to_str().expect("UTF-8 path"),
                "-o",
                otlp.to_str().expect("UTF-8 path"),
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "convert {rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        check(&rel.replace('/', "_"), &otlp);
    }
}
