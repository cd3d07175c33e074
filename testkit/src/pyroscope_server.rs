//! A Pyroscope Push API stand-in for tests: `POST /push.v1.PusherService/Push`, Connect unary with
//! `application/proto`, optional `Content-Encoding: gzip`, decoded with prost into `PushRequest`.
//! It checks what Pyroscope's distributor checks on labels (non-empty valid `__name__`, at most 30
//! unique names, no empty names or values) and answers scripted replies (429 with `Retry-After`,
//! 400 with a Connect JSON error, …), recording every attempt.
//!
//! Used by the `pyroscope` exporter's unit tests, `tests/e2e_pyroscope_export.rs` and
//! `tests/examples.rs`.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use profcol_pdata::pprof::{self, Profile};
use profcol_pdata::pyroscope::series::{ProfileType, totals};
use profcol_pdata::pyroscope::{LabelPair, PushRequest};
use prost::Message;

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Ok,
    Error {
        status: u16,
        code: &'static str,
        message: String,
        retry_after: Option<u64>,
    },
}

impl Reply {
    pub fn error(status: u16, code: &'static str, message: &str) -> Reply {
        Reply::Error {
            status,
            code,
            message: message.to_owned(),
            retry_after: None,
        }
    }
    pub fn too_many(retry_after: u64) -> Reply {
        Reply::Error {
            status: 429,
            code: "resource_exhausted",
            message: "ingestion rate limit exceeded".into(),
            retry_after: Some(retry_after),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
    pub request: Option<PushRequest>,
    /// The status the server answered.
    pub status: u16,
    pub error: Option<String>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    /// Answered once the script is empty (default Ok).
    default: Option<Reply>,
    received: Vec<Received>,
}

/// A running test server.
#[derive(Clone)]
pub struct PushServer {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    match inner.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn connect_error(status: u16, code: &str, message: &str, retry_after: Option<u64>) -> Response {
    let body = serde_json::json!({"code": code, "message": message}).to_string();
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(s) = retry_after
        && let Ok(v) = s.to_string().parse()
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Pyroscope's label checks (a subset of `pkg/validation`).
fn validate(req: &PushRequest) -> Result<(), String> {
    for (i, s) in req.series.iter().enumerate() {
        if s.labels.len() > 30 {
            return Err(format!(
                "series {i}: {} label names, the limit is 30",
                s.labels.len()
            ));
        }
        let mut names = HashSet::new();
        for l in &s.labels {
            if l.name.is_empty() || l.value.is_empty() {
                return Err(format!("series {i}: empty label name or value: {l:?}"));
            }
            if l.name.len() > 1024 || l.value.len() > 2048 {
                return Err(format!("series {i}: label {:?} too long", l.name));
            }
            if !names.insert(l.name.as_str()) {
                return Err(format!("series {i}: duplicate label name {:?}", l.name));
            }
        }
        let name = s
            .labels
            .iter()
            .find(|l| l.name == "__name__")
            .map(|l| l.value.as_str())
            .unwrap_or("");
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid {
            return Err(format!("series {i}: invalid metric name {name:?}"));
        }
        if s.samples.is_empty() {
            return Err(format!("series {i}: no samples"));
        }
    }
    Ok(())
}

async fn push(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let hdrs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let get = |n: &str| {
        hdrs.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut rec = Received {
        headers: hdrs.clone(),
        body_len: body.len(),
        request: None,
        status: 200,
        error: None,
    };
    let decoded: Result<PushRequest, (u16, String)> = (|| {
        if get("content-type") != "application/proto" {
            return Err((
                415,
                format!("unsupported content type {:?}", get("content-type")),
            ));
        }
        let plain = match get("content-encoding").as_str() {
            "" | "identity" => body.to_vec(),
            "gzip" => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .map_err(|e| (400, format!("gunzip: {e}")))?;
                out
            }
            other => return Err((415, format!("unsupported encoding {other:?}"))),
        };
        let req = PushRequest::decode(&plain[..]).map_err(|e| (400, format!("decode: {e}")))?;
        validate(&req).map_err(|e| (400, e))?;
        Ok(req)
    })();
    let mut g = lock(&inner);
    let resp = match decoded {
        Err((status, msg)) => {
            rec.status = status;
            rec.error = Some(msg.clone());
            connect_error(status, "invalid_argument", &msg, None)
        }
        Ok(req) => {
            rec.request = Some(req);
            let reply = g
                .script
                .pop_front()
                .or_else(|| g.default.clone())
                .unwrap_or(Reply::Ok);
            match reply {
                Reply::Ok => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/proto")],
                    Vec::<u8>::new(),
                )
                    .into_response(),
                Reply::Error {
                    status,
                    code,
                    message,
                    retry_after,
                } => {
                    rec.status = status;
                    rec.error = Some(message.clone());
                    connect_error(status, code, &message, retry_after)
                }
            }
        }
    };
    g.received.push(rec);
    resp
}

impl PushServer {
    /// Binds a free loopback port and serves until the runtime stops.
    pub async fn start() -> PushServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .route("/push.v1.PusherService/Push", axum::routing::post(push))
            .route(
                "/prefix/push.v1.PusherService/Push",
                axum::routing::post(push),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the test server");
        let port = listener.local_addr().expect("local addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PushServer { port, inner }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replies for the next requests, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.inner).script.extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        lock(&self.inner).default = Some(reply);
    }

    /// Every request, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.inner).received.clone()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<PushRequest> {
        lock(&self.inner)
            .received
            .iter()
            .filter(|r| r.status == 200)
            .filter_map(|r| r.request.clone())
            .collect()
    }

    pub fn clear(&self) {
        lock(&self.inner).received.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Checks on what was pushed
// ---------------------------------------------------------------------------------------------

pub fn label<'a>(labels: &'a [LabelPair], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.value.as_str())
}

/// One pushed pprof with its series labels.
pub struct Pushed {
    pub labels: Vec<LabelPair>,
    pub raw: Vec<u8>,
    pub id: String,
    pub profile: Profile,
}

impl Pushed {
    pub fn name(&self) -> &str {
        label(&self.labels, "__name__").unwrap_or("")
    }
    pub fn type_ids(&self) -> Vec<String> {
        (0..self.profile.sample_type.len())
            .filter_map(|i| ProfileType::from_pprof(&self.profile, i))
            .map(|t| t.id(self.name()))
            .collect()
    }
}

pub fn pushed(reqs: &[PushRequest]) -> Vec<Pushed> {
    let mut out = Vec::new();
    for r in reqs {
        for s in &r.series {
            for smp in &s.samples {
                let (profile, _) = pprof::decode(&smp.raw_profile, 64 << 20)
                    .unwrap_or_else(|e| panic!("pushed pprof does not decode: {e}"));
                pprof::check_valid(&profile).expect("pushed pprof is valid");
                out.push(Pushed {
                    labels: s.labels.clone(),
                    raw: smp.raw_profile.clone(),
                    id: smp.id.clone(),
                    profile,
                });
            }
        }
    }
    out
}

/// Summed values per profile type id.
pub fn totals_by_type(ps: &[Pushed]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for p in ps {
        for (id, t) in p.type_ids().into_iter().zip(totals(&p.profile)) {
            *m.entry(id).or_insert(0) += t;
        }
    }
    m
}

/// Leaf-first function names of each sample, with summed values (first sample type).
pub fn stacks(p: &Profile) -> BTreeMap<Vec<String>, i64> {
    let funcs: BTreeMap<u64, String> = p
        .function
        .iter()
        .map(|f| (f.id, p.string(f.name).into_owned()))
        .collect();
    let locs: BTreeMap<u64, Vec<String>> = p
        .location
        .iter()
        .map(|l| {
            (
                l.id,
                l.line
                    .iter()
                    .map(|x| funcs.get(&x.function_id).cloned().unwrap_or_default())
                    .collect(),
            )
        })
        .collect();
    let mut m = BTreeMap::new();
    for s in &p.sample {
        let frames: Vec<String> = s
            .location_id
            .iter()
            .flat_map(|id| locs.get(id).cloned().unwrap_or_default())
            .collect();
        *m.entry(frames).or_insert(0) += s.value.first().copied().unwrap_or(0);
    }
    m
}

/// Pyroscope's expected CPU result for the eBPF capture: stacks (leaf first) → nanoseconds.
pub fn expected_cpu_stacks(path: &Path) -> BTreeMap<Vec<String>, i64> {
    let text = std::fs::read_to_string(path).expect("reading the expected JSON");
    let v: serde_json::Value = serde_json::from_str(&text).expect("expected JSON");
    assert_eq!(
        v["sample_types"],
        serde_json::json!([{"type": "cpu", "unit": "nanoseconds"}])
    );
    let mut m = BTreeMap::new();
    for s in v["samples"].as_array().expect("samples") {
        let frames: Vec<String> = s["locations"]
            .as_array()
            .expect("locations")
            .iter()
            .flat_map(|l| l["lines"].as_array().cloned().unwrap_or_default())
            .map(|line| {
                // "name[system_name]@file:line"
                let text = line.as_str().unwrap_or_default();
                let head = text.rsplit_once('@').map(|(h, _)| h).unwrap_or(text);
                head.rfind('[')
                    .map(|i| &head[..i])
                    .unwrap_or(head)
                    .to_owned()
            })
            .collect();
        let value: i64 = s["values"]
            .as_str()
            .and_then(|x| x.parse().ok())
            .or_else(|| s["values"].as_i64())
            .expect("value");
        *m.entry(frames).or_insert(0) += value;
    }
    m
}

/// Per-sample-type totals as `go tool pprof -raw` reads them. Fails the test when `go` is
/// missing ([`crate::require::go`]).
pub fn go_tool_totals(raw: &[u8]) -> Vec<i64> {
    let go = crate::require::go();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.pb.gz");
    std::fs::write(&file, raw).expect("write pprof");
    let out = std::process::Command::new(go)
        .args(["tool", "pprof", "-raw", "-symbolize=none"])
        .arg(&file)
        .env("HOME", dir.path())
        .output()
        .expect("running go tool pprof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines().skip_while(|l| !l.starts_with("Samples:"));
    lines.next();
    let n = lines
        .next()
        .map(|l| l.split_whitespace().count())
        .unwrap_or(0);
    let mut totals = vec![0i64; n];
    for l in lines {
        if !l.starts_with(' ') {
            break;
        }
        let Some((vals, _)) = l.split_once(':') else {
            continue;
        };
        let vals: Vec<i64> = match vals
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<i64>, _>>()
        {
            Ok(v) if v.len() == n => v,
            _ => continue,
        };
        for (t, v) in totals.iter_mut().zip(vals) {
            *t += v;
        }
    }
    totals
}

/// Every pushed pprof reads in `go tool pprof` with the totals prost sees.
pub fn check_with_go(ps: &[Pushed]) {
    for p in ps {
        let go = go_tool_totals(&p.raw);
        assert_eq!(
            go,
            totals(&p.profile),
            "go tool pprof totals of {:?}",
            p.type_ids()
        );
    }
}

pub fn common_checks(ps: &[Pushed]) {
    let mut ids = BTreeSet::new();
    for p in ps {
        assert!(!p.name().is_empty());
        assert_eq!(label(&p.labels, "__delta__"), Some("false"));
        assert!(label(&p.labels, "service_name").is_some_and(|s| !s.is_empty()));
        assert!(p.labels.len() <= 30);
        for l in &p.labels {
            assert!(
                !l.name.starts_with("__") || l.name == "__name__" || l.name == "__delta__",
                "{l:?}"
            );
            assert!(l.name != "span_id" && l.name != "trace_id", "{l:?}");
        }
        assert_eq!(p.id.len(), 36, "uuid-like id {:?}", p.id);
        assert!(ids.insert(p.id.clone()), "ids are unique");
        assert!(p.raw.starts_with(&[0x1f, 0x8b]), "raw_profile is gzip");
        for vt in &p.profile.sample_type {
            assert!(!p.profile.string(vt.r#type).contains('-'));
        }
    }
}
