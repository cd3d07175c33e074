//! The `parquet` exporter against readers profcol did not write: DuckDB, pyarrow and DataFusion's
//! Python bindings (PyPI, in the test venv) read every column of what profcol wrote from the eBPF capture and several pprof
//! files, and their per-stack totals equal the input's; the same through an S3-compatible server
//! (moto) with boto3 and pyarrow's S3 filesystem; a killed profcol leaves no partial file visible
//! and a restart continues in new files; the embedded default writes Parquet to ./profcol-data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Http, Profcol, free_port, poll, python, run_python, telemetry_yaml, testdata};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::common::{AnyValue, KeyValue, any_value};
use prost::Message;

/// pprof inputs, all sent through the pprof receiver's HTTP push.
const PPROF_FILES: [&str; 5] = [
    "google-pprof/large.cpu",
    "grafana-pyroscope/pprof/go-heap.pb.gz",
    "grafana-pyroscope/pprof/profile_java.pb.gz",
    "grafana-pyroscope/pprof/nodejs-cpu-js.pb.gz",
    "grafana-pyroscope/pprof/profile_python.pb.gz",
];
const PPROF_SERVICE: &str = "pprof svc";

/// (service_name, profile_type, folded stack root;…;leaf) → summed value.
type Totals = BTreeMap<(String, String, String), i64>;

fn totals_of(reqs: &[ExportProfilesServiceRequest]) -> (Totals, usize) {
    let mut t = Totals::new();
    let mut n = 0;
    for req in reqs {
        let mut req = req.clone();
        profcol_pdata::validate(&mut req, &Default::default()).expect("valid input");
        for v in profcol_pdata::samples(&req) {
            let d = v.dict;
            let vt = |x: &Option<profcol_pdata::proto::ValueType>| {
                x.as_ref()
                    .map(|x| (d.string(x.type_strindex), d.string(x.unit_strindex)))
                    .unwrap_or(("", ""))
            };
            let (st, su) = vt(&v.profile.sample_type);
            let (pt, pu) = vt(&v.profile.period_type);
            let service = v
                .resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .map(|kv| profcol_pdata::view::any_value_text(kv.value.as_ref()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown_service".into());
            let mut labels: Vec<String> = v.frames().iter().map(|f| f.label()).collect();
            labels.reverse();
            *t.entry((service, format!("{st}:{su}:{pt}:{pu}"), labels.join(";")))
                .or_default() += v.total();
            n += 1;
        }
    }
    (t, n)
}

fn totals_from_json(v: &serde_json::Value) -> Totals {
    v.as_array()
        .expect("totals array")
        .iter()
        .map(|row| {
            let s = |i: usize| row[i].as_str().expect("string").to_owned();
            ((s(0), s(1), s(2)), row[3].as_i64().expect("value"))
        })
        .collect()
}

fn diff(want: &Totals, got: &Totals) -> String {
    let mut out = String::new();
    let keys: std::collections::BTreeSet<_> = want.keys().chain(got.keys()).collect();
    for k in keys
        .into_iter()
        .filter(|k| want.get(k) != got.get(k))
        .take(10)
    {
        out.push_str(&format!(
            "  {k:?}: want {:?}, got {:?}\n",
            want.get(k),
            got.get(k)
        ));
    }
    out
}

/// The pprof receiver's conversion of a file, with the receiver's resource attributes.
fn pprof_as_otlp(bytes: &[u8]) -> ExportProfilesServiceRequest {
    use profcol_pdata::pprof;
    let plain = pprof::decompress(bytes, 1 << 30)
        .expect("decompress")
        .0
        .into_owned();
    let (p, _) = pprof::decode(&plain, 1 << 30).expect("decode");
    let resource = vec![KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(PPROF_SERVICE.into())),
        }),
        key_strindex: 0,
    }];
    pprof::to_otlp(&p, resource, &Default::default(), None).0
}

struct Inputs {
    capture: Vec<u8>,
    pprof: Vec<Vec<u8>>,
}

fn inputs() -> Inputs {
    let capture = std::fs::read(testdata(common::EBPF_CAPTURE)).expect("capture");
    let mut pprof = Vec::new();
    for f in PPROF_FILES {
        pprof.push(std::fs::read(testdata(f)).expect("pprof file"));
    }
    Inputs { capture, pprof }
}

impl Inputs {
    fn expected(&self, capture: bool, pprof: bool) -> (Totals, usize) {
        let mut reqs = Vec::new();
        if capture {
            reqs.push(
                ExportProfilesServiceRequest::decode(&self.capture[..]).expect("capture decodes"),
            );
        }
        if pprof {
            reqs.extend(self.pprof.iter().map(|b| pprof_as_otlp(b)));
        }
        totals_of(&reqs)
    }
}

fn config(http: u16, pprof: u16, health: u16, parquet: &str, metrics: Option<u16>) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
  pprof:
    resource_attributes:
      service.name: "{PPROF_SERVICE}"
    server:
      endpoint: 127.0.0.1:{pprof}
processors:
  batch:
    timeout: 200ms
exporters:
  parquet:
{parquet}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp, pprof]
      processors: [batch]
      exporters: [parquet]
{}"#,
        telemetry_yaml(metrics)
    )
}

struct Ports {
    http: u16,
    pprof: u16,
    health: u16,
}

fn ports() -> Ports {
    Ports {
        http: free_port(),
        pprof: free_port(),
        health: free_port(),
    }
}

fn send(p: &Ports, inputs: &Inputs, capture: bool, pprof: bool) {
    let http = Http::new();
    if capture {
        let r = http.post(
            &format!("http://127.0.0.1:{}/v1development/profiles", p.http),
            "application/x-protobuf",
            inputs.capture.clone(),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    if pprof {
        for b in &inputs.pprof {
            let r = http.post(
                &format!("http://127.0.0.1:{}/v1/pprof", p.pprof),
                "application/octet-stream",
                b.clone(),
            );
            assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
        }
    }
}

/// Every column of the profiles table, plus the three path columns.
const COLUMNS: [&str; 47] = [
    "time",
    "profile_type",
    "sample_type",
    "sample_unit",
    "period_type",
    "period_unit",
    "period",
    "value",
    "observation_values",
    "observation_timestamps",
    "stack_id",
    "frames_function_name",
    "frames_system_name",
    "frames_file_name",
    "frames_function_start_line",
    "frames_line",
    "frames_column",
    "frames_inlined",
    "frames_address",
    "frames_mapping_file",
    "frames_mapping_build_id",
    "frames_mapping_start",
    "frames_mapping_limit",
    "frames_mapping_offset",
    "frames_frame_type",
    "trace_id",
    "span_id",
    "span_name",
    "sample_attributes",
    "profile_id",
    "profile_time",
    "profile_duration_nanos",
    "profile_attributes",
    "original_payload_format",
    "service_namespace",
    "service_version",
    "deployment_environment",
    "host_name",
    "k8s_namespace_name",
    "k8s_pod_name",
    "container_id",
    "resource_attributes",
    "scope_name",
    "scope_version",
    "service_name",
    "date",
    "hour",
];

/// pyarrow's dataset reader, DuckDB, and DataFusion 55 (its Python bindings).
const READERS: [&str; 3] = ["pyarrow", "duckdb", "datafusion"];

/// Checks one reader's summary against the input.
fn check_reader(name: &str, v: &serde_json::Value, want: &Totals, rows: usize) {
    let r = &v[name];
    assert_eq!(r["rows"].as_u64(), Some(rows as u64), "{name}: rows");
    let cols: Vec<&str> = r["columns"]
        .as_object()
        .expect("columns")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want_cols = COLUMNS.to_vec();
    want_cols.sort();
    let mut got_cols = cols.clone();
    got_cols.sort();
    assert_eq!(got_cols, want_cols, "{name}: columns");
    let got = totals_from_json(&r["totals"]);
    assert!(
        &got == want,
        "{name}: per-stack totals differ from the input ({} vs {} stacks):\n{}",
        got.len(),
        want.len(),
        diff(want, &got)
    );
}

/// Waits until an open staging file under `dir` holds a written row group (over 1000 bytes).
fn wait_for_row_group(dir: &Path, pc: &Profcol) {
    poll(Duration::from_secs(30), || {
        with_ext(&all_files(dir), ".tmp")
            .iter()
            .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 1000))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no row group reached staging:\n{}", pc.stderr()));
}

/// `top`'s first row (JSON) is the hottest function by self value, with that value, of one of the
/// input's profile types (of `service`, when given).
fn assert_top_names_hottest(top: &serde_json::Value, want: &Totals, service: Option<&str>) {
    let first = &top[0];
    let (func, self_value) = (
        first["function"].as_str().unwrap_or_default(),
        first["self"].as_i64().unwrap_or_default(),
    );
    // Self value per (profile type, leaf function) in the input.
    let mut leaf_self: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for ((svc, ty, stack), v) in want {
        if service.is_some_and(|s| s != svc) {
            continue;
        }
        let leaf = stack.rsplit(';').next().unwrap_or_default();
        *leaf_self.entry((ty, leaf)).or_default() += v;
    }
    let hottest_of_a_type = leaf_self.keys().any(|&(ty, _)| {
        let hottest = leaf_self
            .iter()
            .filter(|((t, _), _)| *t == ty)
            .max_by_key(|(_, v)| **v);
        hottest.is_some_and(|((_, f), v)| *f == func && *v == self_value)
    });
    assert!(
        hottest_of_a_type,
        "top's first row {first} is not the input's hottest function of any profile type"
    );
}

fn read_local(py: &Path, dir: &Path) -> serde_json::Value {
    let out = run_python(
        py,
        "parquet_check.py",
        &["read-local".into(), dir.display().to_string()],
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "parquet_check.py read-local failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from parquet_check.py")
}

/// Every file under `dir`, hidden directories included.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn with_ext(files: &[PathBuf], ext: &str) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .cloned()
        .collect()
}

#[test]
fn duckdb_and_pyarrow_read_every_column_with_the_input_totals() {
    let (py, inputs) = (python(), inputs());
    let p = ports();
    let metrics = free_port();
    let base = tempfile::tempdir().expect("tempdir");
    let data = base.path().join("data");
    let parquet = format!(
        "    path: {}\n    row_group_rows: 4096\n    flush_interval: 500ms",
        data.display()
    );
    let mut pc = Profcol::start(
        "parquet-readers",
        &config(p.http, p.pprof, p.health, &parquet, Some(metrics)),
        Some(p.health),
    );
    pc.wait_ready(None);
    send(&p, &inputs, true, true);
    let (want, rows) = inputs.expected(true, true);
    // Everything reaches the exporter; files stay invisible until they complete.
    let sent = poll(Duration::from_secs(60), || {
        let m = common::http_get(metrics, "/metrics")?.1;
        let n = common::metric_sum(
            &m,
            "otelcol_exporter_sent_profile_samples_total",
            &["exporter=\"parquet\""],
        )?;
        (n as usize == rows).then_some(m)
    })
    .unwrap_or_else(|| panic!("not all samples reached the exporter:\n{}", pc.stderr()));
    assert!(
        common::metric_sum(&sent, "profcol_exporter_parquet_open_writers", &[]).unwrap_or(0) > 0,
        "{sent}"
    );
    pc.stop();
    let files = all_files(&data);
    assert!(
        with_ext(&files, ".tmp").is_empty(),
        "staging is empty after shutdown: {files:?}"
    );
    assert!(!with_ext(&files, ".parquet").is_empty());
    let v = read_local(&py, &data);
    for reader in READERS {
        check_reader(reader, &v, &want, rows);
    }
    // Types as the readers see them.
    let dt = &v["duckdb"]["columns"];
    assert_eq!(dt["frames_function_name"], "VARCHAR[]");
    assert_eq!(dt["frames_address"], "UBIGINT[]");
    assert_eq!(dt["trace_id"], "BLOB");
    assert_eq!(dt["sample_attributes"], "MAP(VARCHAR, VARCHAR)");
    assert_eq!(dt["time"], "TIMESTAMPTZ_NS");
    let pt = &v["pyarrow"]["columns"];
    assert_eq!(pt["time"], "timestamp[ns, tz=UTC]");
    assert_eq!(pt["trace_id"], "fixed_size_binary[16]");
    assert_eq!(pt["stack_id"], "uint64");
}

/// A moto S3 server (`moto_server` from the venv), killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start(py: &Path) -> Moto {
        let bin = py.parent().unwrap_or(py).join("moto_server");
        assert!(
            bin.exists(),
            "{} not found: README's test command, ./scripts/test, installs moto[server] from tests/python/requirements.txt into the venv",
            bin.display()
        );
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning moto_server");
        let mut m = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let up = poll(Duration::from_secs(30), || {
            TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_millis(200),
            )
            .ok()
        });
        if up.is_none() {
            let _ = m.child.kill();
            panic!("moto_server did not start");
        }
        m
    }

    fn script(&self, py: &Path, args: &[&str]) -> serde_json::Value {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--endpoint".into(), self.endpoint.clone()]);
        let out = run_python(py, "parquet_check.py", &a, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "parquet_check.py {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn s3_objects_appear_complete_and_read_back() {
    let (py, inputs) = (python(), inputs());
    let moto = Moto::start(&py);
    let bucket = "profcol-test";
    moto.script(&py, &["create-bucket", "--bucket", bucket]);
    let p = ports();
    let base = tempfile::tempdir().expect("tempdir");
    let staging = base.path().join("staging");
    // Endpoint and region from the config, credentials from the usual environment variables.
    let parquet = format!(
        "    path: s3://{bucket}/some/prefix\n    staging_dir: {}\n    flush_interval: 200ms\n    storage:\n      endpoint: {}\n      allow_http: true\n      region: us-east-1",
        staging.display(),
        moto.endpoint
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ];
    let mut pc = Profcol::start_with(
        "parquet-s3",
        &config(p.http, p.pprof, p.health, &parquet, None),
        Some(p.health),
        &[],
        &env,
    );
    pc.wait_ready(None);
    send(&p, &inputs, true, true);
    // Rows reach open files in staging; nothing is in the bucket yet.
    wait_for_row_group(&staging, &pc);
    let listed = moto.script(&py, &["list-s3", "--bucket", bucket]);
    assert_eq!(
        listed["keys"],
        serde_json::json!([]),
        "objects visible before completion"
    );
    pc.stop();
    let v = moto.script(
        &py,
        &["read-s3", "--bucket", bucket, "--prefix", "some/prefix"],
    );
    let keys: Vec<&str> = v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(
            k.starts_with("some/prefix/profiles/service_name=") && k.ends_with(".parquet"),
            "{k}"
        );
    }
    let (want, rows) = inputs.expected(true, true);
    for reader in READERS {
        check_reader(reader, &v, &want, rows);
    }
    assert!(
        all_files(&staging)
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".parquet"))
    );

    // profcol's own query commands read the bucket back through s3://, with the endpoint and
    // credentials from the usual environment variables only.
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    let data = format!("s3://{bucket}/some/prefix");
    let out = common::profcol_cmd(
        &[
            "query",
            "--data",
            &data,
            "--format",
            "json",
            "SELECT service_name, profile_type, count(*) AS n, sum(value) AS total \
             FROM samples GROUP BY 1, 2 ORDER BY 1, 2",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "profcol query over s3:// failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("query JSON");
    let got: BTreeMap<(String, String), (u64, i64)> = got
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().expect("text column").to_owned();
            let n = r["n"].as_u64().expect("count");
            let total = r["total"].as_i64().expect("sum");
            ((s("service_name"), s("profile_type")), (n, total))
        })
        .collect();
    let mut per_type: BTreeMap<(String, String), i64> = BTreeMap::new();
    for ((svc, ty, _), v) in &want {
        *per_type.entry((svc.clone(), ty.clone())).or_default() += v;
    }
    let got_totals: BTreeMap<_, _> = got.iter().map(|(k, (_, t))| (k.clone(), *t)).collect();
    assert_eq!(
        got_totals, per_type,
        "profcol query over s3:// vs the input"
    );
    assert_eq!(
        got.values().map(|(n, _)| *n).sum::<u64>(),
        rows as u64,
        "rows read back over s3://"
    );
    let out = common::profcol_cmd(
        &[
            "top",
            "--data",
            &data,
            "--service",
            PPROF_SERVICE,
            "--limit",
            "3",
            "--format",
            "json",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "profcol top over s3:// failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top: serde_json::Value = serde_json::from_slice(&out.stdout).expect("top JSON");
    assert_top_names_hottest(&top, &want, Some(PPROF_SERVICE));
}

#[test]
fn killed_mid_write_leaves_nothing_visible_and_restart_continues() {
    let (py, inputs) = (python(), inputs());
    let base = tempfile::tempdir().expect("tempdir");
    let data = base.path().join("data");
    let parquet = format!(
        "    path: {}\n    flush_interval: 100ms\n    max_file_age: 1h\n    hour_grace_period: 1h",
        data.display()
    );
    let p = ports();
    let yaml = config(p.http, p.pprof, p.health, &parquet, None);
    let mut pc = Profcol::start("parquet-kill", &yaml, Some(p.health));
    pc.wait_ready(None);
    send(&p, &inputs, true, false);
    wait_for_row_group(&data, &pc);
    let status = Command::new("kill")
        .args(["-KILL", &pc.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(pc.wait_exit(Duration::from_secs(10)).is_some());
    let files = all_files(&data);
    assert!(
        with_ext(&files, ".parquet").is_empty(),
        "a partial file is visible: {files:?}"
    );
    let partial = with_ext(&files, ".tmp");
    assert!(!partial.is_empty());

    // Restart on the same directory: the partial file goes, new data lands in new files.
    let p = ports();
    let mut pc = Profcol::start(
        "parquet-restart",
        &config(p.http, p.pprof, p.health, &parquet, None),
        Some(p.health),
    );
    pc.wait_ready(None);
    for f in &partial {
        assert!(!f.exists(), "{} was not cleaned up", f.display());
    }
    send(&p, &inputs, false, true);
    pc.stop();
    let files = all_files(&data);
    assert!(with_ext(&files, ".tmp").is_empty(), "{files:?}");
    let (want, rows) = inputs.expected(false, true);
    let v = read_local(&py, &data);
    for reader in READERS {
        check_reader(reader, &v, &want, rows);
    }
}

/// README's run command (the embedded default on its fixed ports) writes Parquet under
/// ./profcol-data. Waits for the fixed ports (held by no other test meanwhile) and fails when one
/// stays taken.
#[test]
fn embedded_default_writes_parquet() {
    let (py, inputs) = (python(), inputs());
    let _ports = common::default_ports();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(common::profcol_bin())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn profcol");
    let ready = poll(Duration::from_secs(30), || {
        common::http_get(13133, "/").filter(|(c, _)| *c == 200)
    });
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    if ready.is_none() {
        let _ = child.kill();
        panic!("default pipeline not healthy:\n{}", read_log());
    }
    let r = Http::new().post(
        "http://127.0.0.1:4318/v1development/profiles",
        "application/x-protobuf",
        inputs.capture.clone(),
    );
    assert_eq!(r.status, 200);
    // Wait until the exporter holds every sample, then stop (which completes the files).
    let (want, rows) = inputs.expected(true, false);
    let sent = poll(Duration::from_secs(30), || {
        let m = common::http_get(8888, "/metrics")?.1;
        let n = common::metric_sum(
            &m,
            "otelcol_exporter_sent_profile_samples_total",
            &["exporter=\"parquet\""],
        )?;
        (n as usize == rows).then_some(())
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(
        sent.is_some(),
        "samples did not reach the parquet exporter:\n{}",
        read_log()
    );
    assert!(status.success(), "{status:?}:\n{}", read_log());
    let data = dir.path().join("profcol-data");
    let parquet = with_ext(&all_files(&data.join("profiles")), ".parquet");
    assert!(
        parquet.iter().all(|f| f
            .to_string_lossy()
            .contains("/profiles/service_name=unknown_service/date=")),
        "{parquet:?}"
    );
    let v = read_local(&py, &data);
    check_reader("duckdb", &v, &want, rows);

    // README: `profcol top --data ./profcol-data` works right after the run command. Its hottest
    // function by self value is the input's.
    let out = common::output_with_timeout(
        {
            let mut cmd = Command::new(common::profcol_bin());
            cmd.current_dir(dir.path()).args([
                "top",
                "--data",
                "./profcol-data",
                "--limit",
                "5",
                "--format",
                "json",
            ]);
            cmd
        },
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "profcol top failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top: serde_json::Value = serde_json::from_slice(&out.stdout).expect("top JSON");
    assert_top_names_hottest(&top, &want, None);

    // The same question asked of the input file directly (`--input`, no pipeline) gets the same
    // answer as over the exporter's Parquet.
    let capture = testdata(common::EBPF_CAPTURE);
    let capture = capture.to_string_lossy();
    let out = common::profcol_cmd(
        &[
            "top", "--input", &capture, "--limit", "5", "--format", "json",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "profcol top --input failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let direct: serde_json::Value = serde_json::from_slice(&out.stdout).expect("top JSON");
    assert_eq!(
        direct, top,
        "top --input vs top --data over the exporter's files"
    );
}
