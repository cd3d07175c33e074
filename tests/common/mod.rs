//! Helpers shared by the end-to-end tests: free ports, running `profcol` processes, the Python
//! client, HTTP calls, reading what the file exporter wrote and summarizing profiles. What the
//! tests need from the machine comes from `profcol_testkit::require`.
//!
//! Every test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use profcol_pdata::ExportProfilesServiceRequest;
use prost::Message;

/// The `profcol` binary under test.
pub fn profcol_bin() -> &'static str {
    env!("CARGO_BIN_EXE_profcol")
}

/// The repository root (where `Cargo.toml` of the `profcol` package is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the tests need from the machine (the shared test inputs, the Python venv, Go, openssl,
/// Node.js): each fails the test, naming what is missing and how README's test command installs
/// it, rather than letting it pass without having run. (Each test binary uses some of them.)
#[allow(unused_imports)]
pub use profcol_testkit::require::{
    EBPF_CAPTURE, EBPF_CAPTURE_OLD, default_ports, go, node_sdk, openssl, python, python_with,
    testdata,
};

/// A currently free loopback port (bound, read, released), never one this test process was
/// given before: the kernel may hand a just-released port out again, and two components of one
/// config on the same port fail to start.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// `service.telemetry` for a test instance: internal metrics on `metrics_port`, or off.
pub fn telemetry_yaml(metrics_port: Option<u16>) -> String {
    match metrics_port {
        Some(p) => format!(
            "  telemetry:\n    logs:\n      level: info\n    metrics:\n      level: normal\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: {p}\n"
        ),
        None => "  telemetry:\n    logs:\n      level: info\n    metrics:\n      level: none\n"
            .to_owned(),
    }
}

/// Runs `cmd` to completion with a time limit, killing it when the limit passes.
pub fn output_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// Runs `profcol ARGS` (no server) and returns its output.
pub fn profcol_cmd(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(profcol_bin());
    cmd.args(args).current_dir(repo_root());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    output_with_timeout(cmd, Duration::from_secs(30))
}

/// Runs a script from `tests/python` with the given arguments.
pub fn run_python(python: &Path, script: &str, args: &[String], limit: Duration) -> Output {
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("tests/python").join(script))
        .args(args);
    output_with_timeout(cmd, limit)
}

/// A running `profcol --config FILE`, stopped with SIGTERM when dropped.
pub struct Profcol {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub stderr_path: PathBuf,
    /// The `health_check` port, when the config has one (used to wait for readiness).
    pub health_port: Option<u16>,
    name: String,
}

impl Profcol {
    /// Writes `yaml` to a fresh temp dir and starts profcol on it. `{dir}` in the YAML is replaced
    /// with that directory (for file exporter paths).
    pub fn start(name: &str, yaml: &str, health_port: Option<u16>) -> Profcol {
        Profcol::start_with(name, yaml, health_port, &[], &[])
    }

    pub fn start_with(
        name: &str,
        yaml: &str,
        health_port: Option<u16>,
        extra_args: &[&str],
        envs: &[(&str, String)],
    ) -> Profcol {
        let dir = tempfile::Builder::new()
            .prefix(&format!("profcol-e2e-{name}-"))
            .tempdir()
            .expect("tempdir");
        let config_path = dir.path().join("config.yaml");
        let yaml = yaml.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&config_path, yaml).expect("writing config");
        Profcol::spawn(name, dir, config_path, health_port, extra_args, envs)
    }

    /// Starts profcol on an existing config file (not copied).
    pub fn start_file(
        name: &str,
        config: &Path,
        health_port: Option<u16>,
        extra_args: &[&str],
        envs: &[(&str, String)],
    ) -> Profcol {
        let dir = tempfile::Builder::new()
            .prefix(&format!("profcol-e2e-{name}-"))
            .tempdir()
            .expect("tempdir");
        Profcol::spawn(
            name,
            dir,
            config.to_path_buf(),
            health_port,
            extra_args,
            envs,
        )
    }

    fn spawn(
        name: &str,
        dir: tempfile::TempDir,
        config_path: PathBuf,
        health_port: Option<u16>,
        extra_args: &[&str],
        envs: &[(&str, String)],
    ) -> Profcol {
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr log");
        let mut cmd = Command::new(profcol_bin());
        cmd.arg("--config")
            .arg(&config_path)
            .args(extra_args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", profcol_bin()));
        Profcol {
            child: Some(child),
            dir,
            config_path,
            stderr_path,
            health_port,
            name: name.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Panics (with the log) if the process has exited.
    fn check_alive(&mut self, what: &str) {
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            self.child = None;
            panic!(
                "profcol {} exited ({status}) while {what}; stderr:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits until the health check answers 200 (or, without one, until `tcp_port` accepts).
    pub fn wait_ready(&mut self, tcp_port: Option<u16>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.check_alive("starting");
            let ready = match (self.health_port, tcp_port) {
                (Some(h), _) => http_get(h, "/").is_some_and(|(code, _)| code == 200),
                (None, Some(p)) => TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], p)),
                    Duration::from_millis(200),
                )
                .is_ok(),
                (None, None) => panic!("wait_ready needs a health port or a TCP port"),
            };
            if ready {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "profcol {} not ready after 30s; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Waits for exit, killing the process after `limit`. `None` when it had to be killed.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits up to 20 s; panics (with the log) unless it exits 0.
    pub fn stop(mut self) -> String {
        self.sigterm();
        let status = self.wait_exit(Duration::from_secs(20));
        let log = self.stderr();
        match status {
            Some(s) if s.success() => log,
            Some(s) => panic!(
                "profcol {} exited with {s} after SIGTERM; stderr:\n{log}",
                self.name
            ),
            None => panic!(
                "profcol {} did not exit within 20s of SIGTERM; stderr:\n{log}",
                self.name
            ),
        }
    }
}

impl Drop for Profcol {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.sigterm();
            let _ = self.wait_exit(Duration::from_secs(10));
        }
    }
}

/// A minimal blocking HTTP/1.0 GET on 127.0.0.1 (health checks, metrics): `(status, body)`.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((code, body))
}

/// An HTTP response as seen by the tests.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A blocking HTTP client over reqwest (one current-thread runtime per client).
pub struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

impl Http {
    pub fn new() -> Http {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Http { rt, client }
    }

    /// Sends a request; panics on a transport error.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> HttpResponse {
        self.try_request(method, url, headers, body)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    /// Sends a request; a transport error comes back as its full error chain.
    pub fn try_request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, String> {
        fn chain(e: &dyn std::error::Error) -> String {
            let mut out = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                out.push_str(&format!(": {s}"));
                src = s.source();
            }
            out
        }
        self.rt.block_on(async {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut rb = self.client.request(method, url);
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            let resp = rb.body(body).send().await.map_err(|e| chain(&e))?;
            let status = resp.status().as_u16();
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let content_type = headers
                .iter()
                .find(|(k, _)| k == "content-type")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let body = resp.bytes().await.map_err(|e| chain(&e))?.to_vec();
            Ok(HttpResponse {
                status,
                content_type,
                headers,
                body,
            })
        })
    }

    pub fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> HttpResponse {
        self.request("POST", url, &[("content-type", content_type)], body)
    }
}

/// The sum of every series of a counter in Prometheus text (`name` is the full name, e.g.
/// `otelcol_receiver_accepted_profile_samples_total`), restricted to series whose label text
/// contains each of `label_filters` (e.g. `exporter="otlp_grpc"`). `None` when no series matches.
pub fn metric_sum(text: &str, name: &str, label_filters: &[&str]) -> Option<u64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        if !label_filters.iter().all(|f| labels.contains(f)) {
            continue;
        }
        if let Ok(v) = value.trim().parse::<f64>() {
            *found.get_or_insert(0) += v as u64;
        }
    }
    found
}

/// Records written by the `file` exporter with `format: proto`: 4-byte big-endian length + an
/// ExportProfilesServiceRequest. A trailing partial record (a write in progress) is ignored.
pub fn read_proto_records(path: &Path) -> Vec<ExportProfilesServiceRequest> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if rest.len() < 4 + len {
            break;
        }
        let rec = &rest[4..4 + len];
        out.push(
            ExportProfilesServiceRequest::decode(rec)
                .unwrap_or_else(|e| panic!("{}: undecodable record: {e}", path.display())),
        );
        rest = &rest[4 + len..];
    }
    out
}

/// Records written by the `file` exporter with `format: json`: one OTLP/JSON request per line. A
/// trailing line without its newline (a write in progress) is ignored.
pub fn read_json_records(path: &Path) -> Vec<ExportProfilesServiceRequest> {
    let data = std::fs::read(path).unwrap_or_default();
    let complete = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => &data[..=i],
        None => return Vec::new(),
    };
    complete
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            profcol_pdata::json::decode_request(l)
                .unwrap_or_else(|e| panic!("{}: undecodable JSON line: {e}", path.display()))
        })
        .collect()
}

/// Reads every `*.pb` file of a directory (sorted by name) as a serialized request.
pub fn read_request_dir(dir: &Path) -> Vec<(String, ExportProfilesServiceRequest)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("reading request");
            let req = ExportProfilesServiceRequest::decode(&bytes[..])
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                req,
            )
        })
        .collect()
}

/// `(resource attributes, sample type/unit, stack root→leaf)`.
pub type SeriesKey = (String, String, String);

/// What a set of requests carries, independent of how it was split, merged or re-encoded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Summed sample weight (values, or the timestamp count) per series.
    pub totals: BTreeMap<SeriesKey, i64>,
    /// Every distinct resource attribute set.
    pub resources: BTreeSet<String>,
    /// The number of Sample messages (changes when samples are merged).
    pub samples: usize,
}

impl Summary {
    pub fn weight(&self) -> i64 {
        self.totals.values().sum()
    }

    /// A readable list of the series that differ between `self` (expected) and `got`.
    pub fn diff(&self, got: &Summary) -> String {
        let mut out = String::new();
        let keys: BTreeSet<&SeriesKey> = self.totals.keys().chain(got.totals.keys()).collect();
        let mut shown = 0;
        for k in keys {
            let (a, b) = (self.totals.get(k), got.totals.get(k));
            if a != b {
                shown += 1;
                if shown <= 20 {
                    out.push_str(&format!("  {k:?}: expected {a:?}, got {b:?}\n"));
                }
            }
        }
        if shown > 20 {
            out.push_str(&format!("  ... and {} more\n", shown - 20));
        }
        out
    }
}

/// Canonical text of a resource's attributes (sorted `key=value` with the value's type).
pub fn resource_key(rp: &profcol_pdata::proto::ResourceProfiles) -> String {
    let mut attrs: Vec<String> = rp
        .resource
        .as_ref()
        .map(|r| {
            r.attributes
                .iter()
                .map(|kv| {
                    format!(
                        "{}={:?}",
                        kv.key,
                        kv.value.as_ref().and_then(|v| v.value.as_ref())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    attrs.sort();
    attrs.join(", ")
}

/// Validates (a copy of) each request and sums its samples per series.
pub fn summarize<'a>(reqs: impl IntoIterator<Item = &'a ExportProfilesServiceRequest>) -> Summary {
    let mut s = Summary::default();
    for req in reqs {
        let mut req = req.clone();
        let report = profcol_pdata::validate(&mut req, &Default::default())
            .unwrap_or_else(|e| panic!("request does not validate: {e}"));
        assert_eq!(
            report.rejected_profiles, 0,
            "request has invalid profiles: {:?}",
            report.errors
        );
        for rp in &req.resource_profiles {
            s.resources.insert(resource_key(rp));
        }
        for v in profcol_pdata::samples(&req) {
            let mut frames: Vec<String> = v.frames().iter().map(|f| f.label()).collect();
            frames.reverse();
            let (ty, unit) = v.sample_type();
            let key = (
                resource_key(v.resource),
                format!("{ty}/{unit}"),
                frames.join(";"),
            );
            *s.totals.entry(key).or_insert(0) += v.total();
            s.samples += 1;
        }
    }
    s
}

/// Polls `f` every 50 ms until it returns `Some`, or `None` after `limit`.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
