//! The `pyroscope` receiver through its factory and real HTTP: `/ingest` (folded, lines, pprof
//! raw and multipart), Connect Push (proto and JSON), gRPC-Web Push, replays of real SDK requests,
//! and Pyroscope's status codes for bad input. The sink records what reaches the pipeline.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use profcol_config::Section;
use profcol_pdata::pprof::{self, Profile};
use profcol_pdata::proto::{ResourceProfiles, ScopeProfiles};
use profcol_pdata::pyroscope::{LabelPair, PushRequest, RawProfileSeries, RawSample};
use profcol_pdata::view::any_value_text;
use profcol_pdata::{Batch, ExportProfilesServiceRequest};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{Component, ConsumeError, Consumer, Context, ReceiverFactory, Telemetry};
use profcol_testkit::require::testdata;
use prost::Message;
use serde_json::json;

use super::PyroscopeReceiverFactory;

// ---------------------------------------------------------------------------------------------
// Harness

#[derive(Default)]
struct Sink {
    got: Mutex<Vec<Batch>>,
    refuse: Mutex<Option<ConsumeError>>,
}

impl Sink {
    fn take(&self) -> Vec<Batch> {
        std::mem::take(&mut *self.got.lock().unwrap())
    }
}

impl Consumer for Sink {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if let Some(e) = self.refuse.lock().unwrap().clone() {
                return Err(e);
            }
            self.got.lock().unwrap().push(batch);
            Ok(())
        })
    }
}

struct Receiver {
    comp: Box<dyn Component>,
    sink: Arc<Sink>,
    telemetry: Telemetry,
    base: String,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the receiver on a free port with `cfg` (its `endpoint` is filled in).
async fn start(mut cfg: serde_json::Value) -> Receiver {
    let port = free_port();
    cfg["endpoint"] = json!(format!("127.0.0.1:{port}"));
    let sink = Arc::new(Sink::default());
    let telemetry = Telemetry::new();
    let ctx = Context::new(
        profcol_config::ComponentId::new("pyroscope", None),
        telemetry.clone(),
    );
    let comp = PyroscopeReceiverFactory
        .create(
            ctx,
            &Section::from_value("receivers.pyroscope", cfg),
            sink.clone(),
        )
        .unwrap();
    comp.start().await.unwrap();
    Receiver {
        comp,
        sink,
        telemetry,
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    }
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn header(&self, k: &str) -> &str {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Receiver {
    async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(method, format!("{}{path_and_query}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.body(body).send().await.unwrap();
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.bytes().await.unwrap().to_vec(),
        }
    }

    async fn post(&self, path_and_query: &str, ct: &str, body: impl Into<Vec<u8>>) -> Resp {
        self.send("POST", path_and_query, &[("content-type", ct)], body.into())
            .await
    }

    async fn push(&self, req: &PushRequest) -> Resp {
        self.post(
            "/push.v1.PusherService/Push",
            "application/proto",
            req.encode_to_vec(),
        )
        .await
    }
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// Reading what arrived

fn attrs(list: &[profcol_pdata::common::KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), any_value_text(kv.value.as_ref())))
        .collect()
}

fn resource_attrs(rp: &ResourceProfiles) -> BTreeMap<String, String> {
    rp.resource
        .as_ref()
        .map(|r| attrs(&r.attributes))
        .unwrap_or_default()
}

fn scope_attrs(sp: &ScopeProfiles) -> BTreeMap<String, String> {
    sp.scope
        .as_ref()
        .map(|s| attrs(&s.attributes))
        .unwrap_or_default()
}

fn string(req: &ExportProfilesServiceRequest, i: i32) -> String {
    req.dictionary
        .as_ref()
        .and_then(|d| d.string_table.get(usize::try_from(i).ok()?))
        .cloned()
        .unwrap_or_default()
}

/// `type/unit` of a value type.
fn vt(req: &ExportProfilesServiceRequest, t: Option<&profcol_pdata::proto::ValueType>) -> String {
    match t {
        Some(t) => format!(
            "{}/{}",
            string(req, t.type_strindex),
            string(req, t.unit_strindex)
        ),
        None => String::new(),
    }
}

/// Summed weight per `(sample type, stack root→leaf)` over every sample of `reqs`, after
/// checking that each request validates.
fn totals<'a>(
    reqs: impl IntoIterator<Item = &'a ExportProfilesServiceRequest>,
) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for req in reqs {
        let mut copy = req.clone();
        let report = profcol_pdata::validate(&mut copy, &Default::default())
            .unwrap_or_else(|e| panic!("request does not validate: {e}"));
        assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
        for v in profcol_pdata::samples(req) {
            let mut frames: Vec<String> = v.frames().iter().map(|f| f.label()).collect();
            frames.reverse();
            let (t, u) = v.sample_type();
            *out.entry((format!("{t}/{u}"), frames.join(";")))
                .or_insert(0) += v.total();
        }
    }
    out
}

/// Summed weight per sample type.
fn type_totals<'a>(
    reqs: impl IntoIterator<Item = &'a ExportProfilesServiceRequest>,
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for ((t, _), v) in totals(reqs) {
        *out.entry(t).or_insert(0) += v;
    }
    out
}

/// Per sample type `type/unit`, the sum of that column over the pprof's samples.
fn pprof_totals(p: &Profile) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (i, (t, u)) in p.sample_type_names().into_iter().enumerate() {
        let sum: i64 = p.sample.iter().filter_map(|s| s.value.get(i)).sum();
        *out.entry(format!("{t}/{u}")).or_insert(0) += sum;
    }
    out
}

/// Every Profile of a request with its resource and scope.
fn profiles(
    req: &ExportProfilesServiceRequest,
) -> Vec<(
    &ResourceProfiles,
    &ScopeProfiles,
    &profcol_pdata::proto::Profile,
)> {
    let mut out = Vec::new();
    for rp in &req.resource_profiles {
        for sp in &rp.scope_profiles {
            for p in &sp.profiles {
                out.push((rp, sp, p));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Building pprof

struct PSample<'a> {
    /// `(function, file)`, leaf first.
    stack: &'a [(&'a str, &'a str)],
    values: Vec<i64>,
    labels: &'a [(&'a str, &'a str)],
}

fn build_pprof(
    types: &[(&str, &str)],
    period: Option<(&str, &str, i64)>,
    time_nanos: i64,
    samples: &[PSample<'_>],
) -> Profile {
    let mut strings: Vec<String> = vec![String::new()];
    let mut s = |x: &str| -> i64 {
        match strings.iter().position(|y| y == x) {
            Some(i) => i as i64,
            None => {
                strings.push(x.to_owned());
                (strings.len() - 1) as i64
            }
        }
    };
    let mut p = Profile {
        sample_type: types
            .iter()
            .map(|(t, u)| pprof::ValueType {
                r#type: s(t),
                unit: s(u),
            })
            .collect(),
        time_nanos,
        duration_nanos: 10_000_000_000,
        ..Default::default()
    };
    if let Some((t, u, n)) = period {
        p.period_type = Some(pprof::ValueType {
            r#type: s(t),
            unit: s(u),
        });
        p.period = n;
    }
    let mut funcs: Vec<(String, String)> = Vec::new();
    for smp in samples {
        let mut ids = Vec::new();
        for (f, file) in smp.stack {
            let key = ((*f).to_owned(), (*file).to_owned());
            let id = match funcs.iter().position(|x| *x == key) {
                Some(i) => i as u64 + 1,
                None => {
                    funcs.push(key);
                    let id = funcs.len() as u64;
                    p.function.push(pprof::Function {
                        id,
                        name: s(f),
                        filename: s(file),
                        ..Default::default()
                    });
                    p.location.push(pprof::Location {
                        id,
                        line: vec![pprof::Line {
                            function_id: id,
                            line: 1,
                            column: 0,
                        }],
                        ..Default::default()
                    });
                    id
                }
            };
            ids.push(id);
        }
        p.sample.push(pprof::Sample {
            location_id: ids,
            value: smp.values.clone(),
            label: smp
                .labels
                .iter()
                .map(|(k, v)| pprof::Label {
                    key: s(k),
                    str: s(v),
                    ..Default::default()
                })
                .collect(),
        });
    }
    p.string_table = strings.into_iter().map(String::into_bytes).collect();
    p
}

/// A two-sample CPU profile: `main;work` 30 ms and `main;idle` 10 ms.
fn cpu_pprof() -> Profile {
    build_pprof(
        &[("cpu", "nanoseconds")],
        Some(("cpu", "nanoseconds", 10_000_000)),
        1_700_000_000_000_000_000,
        &[
            PSample {
                stack: &[("work", "app.py"), ("main", "app.py")],
                values: vec![30_000_000],
                labels: &[],
            },
            PSample {
                stack: &[("idle", "app.py"), ("main", "app.py")],
                values: vec![10_000_000],
                labels: &[],
            },
        ],
    )
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| LabelPair {
            name: (*k).into(),
            value: (*v).into(),
        })
        .collect()
}

fn series(pairs: &[(&str, &str)], raw: Vec<u8>) -> RawProfileSeries {
    RawProfileSeries {
        labels: labels(pairs),
        samples: vec![RawSample {
            raw_profile: raw,
            id: "0f4c2a4e-1d55-4f6b-9e1b-6f1c1b0c8a11".into(),
        }],
        annotations: vec![],
    }
}

fn multipart(boundary: &str, parts: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, ct, body) in parts {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

const VALID_FOLDED: &str = "/ingest?name=valid.cpu&sampleRate=100";

// ---------------------------------------------------------------------------------------------
// /ingest folded and lines

#[tokio::test]
async fn folded_ingest_is_cpu_nanoseconds_scaled_by_sample_rate() {
    let r = start(json!({})).await;
    let resp = r
        .post(
            "/ingest?name=app.cpu%7Benv%3Dprod%7D&sampleRate=100&from=1700000000&until=1700000010",
            "text/plain",
            "a;b;c 10\na;b;d 5",
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body.is_empty(), "success has an empty body");
    let got = r.sink.take();
    assert_eq!(got.len(), 1);
    let req = &got[0].request;
    let ps = profiles(req);
    assert_eq!(ps.len(), 1, "one sample type, one Profile");
    let (rp, sp, p) = ps[0];
    assert_eq!(vt(req, p.sample_type.as_ref()), "cpu/nanoseconds");
    assert_eq!(vt(req, p.period_type.as_ref()), "cpu/nanoseconds");
    assert_eq!(p.period, 10_000_000, "1e9 / sampleRate");
    assert_eq!(p.time_unix_nano, 1_700_000_000_000_000_000, "time = from");
    assert_eq!(p.duration_nano, 10_000_000_000, "until - from");
    let t = totals([req.as_ref()]);
    let expect: BTreeMap<(String, String), i64> = [
        (("cpu/nanoseconds".into(), "a;b;c".into()), 100_000_000),
        (("cpu/nanoseconds".into(), "a;b;d".into()), 50_000_000),
    ]
    .into();
    assert_eq!(t, expect, "counts ×1e7 (1e9/100), stacks root first");
    let ra = resource_attrs(rp);
    assert_eq!(ra.get("service.name").map(String::as_str), Some("app"));
    assert_eq!(ra.get("env").map(String::as_str), Some("prod"));
    let sa = scope_attrs(sp);
    assert_eq!(sa["pyroscope.profile.name"], "process_cpu");
    assert_eq!(sa["pyroscope.delta"], "false");
    assert_eq!(sa["pyroscope.spy"], "unknown");
    r.comp.shutdown().await;
}

struct FoldedCase {
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    /// `(type/unit, stack) → total`
    totals: &'static [(&'static str, &'static str, i64)],
    period: Option<(&'static str, i64)>,
    name: &'static str,
    resource: &'static [(&'static str, &'static str)],
    time: Option<u64>,
}

#[tokio::test]
async fn folded_and_lines_variants() {
    let gz_body: &'static [u8] = Box::leak(gzip(b"x;y 3\n").into_boxed_slice());
    let cases = [
        FoldedCase {
            path: "/pyroscope/ingest?name=svc.wall&sampleRate=200&spyName=rbspy",
            headers: &[],
            body: b"x;y 4",
            totals: &[("wall/nanoseconds", "x;y", 4 * 5_000_000)],
            period: Some(("cpu/nanoseconds", 5_000_000)),
            name: "wall",
            resource: &[("service.name", "svc")],
            time: None,
        },
        FoldedCase {
            path: "/ingest?name=svc.alloc_space%7Bservice_name%3Dreal%7D",
            headers: &[],
            body: b"x 2048\n",
            totals: &[("alloc_space/bytes", "x", 2048)],
            period: None,
            name: "memory",
            resource: &[("service.name", "real"), ("app_name", "svc")],
            time: None,
        },
        FoldedCase {
            path: "/ingest?name=svc&sampleRate=0",
            headers: &[],
            body: b"x 3",
            totals: &[("samples/count", "x", 3)],
            period: None,
            name: "process_cpu",
            resource: &[("service.name", "svc")],
            time: None,
        },
        FoldedCase {
            path: "/ingest?name=svc.cpu&format=lines&sampleRate=100&from=1700000000123",
            headers: &[],
            body: b"a;b\na;b\na;c\n",
            totals: &[
                ("cpu/nanoseconds", "a;b", 20_000_000),
                ("cpu/nanoseconds", "a;c", 10_000_000),
            ],
            period: Some(("cpu/nanoseconds", 10_000_000)),
            name: "process_cpu",
            resource: &[("service.name", "svc")],
            time: Some(1_700_000_000_123_000_000),
        },
        FoldedCase {
            path: "/ingest?name=svc.goroutines&from=1700000000000000000",
            headers: &[],
            body: b"runtime.gopark 7",
            totals: &[("goroutine/count", "runtime.gopark", 7)],
            period: None,
            name: "goroutine",
            resource: &[("service.name", "svc")],
            time: Some(1_700_000_000_000_000_000),
        },
        FoldedCase {
            path: "/ingest?name=svc.mutex_duration",
            headers: &[],
            body: b"lock;wait 1000",
            totals: &[("delay/nanoseconds", "lock;wait", 1000)],
            period: None,
            name: "mutex",
            resource: &[("service.name", "svc")],
            time: None,
        },
        FoldedCase {
            // Non-numeric sampleRate falls back to 100; Content-Encoding: gzip is undone.
            path: "/ingest?name=svc.itimer%7Bregion%3Deu%7D&sampleRate=abc",
            headers: &[("content-encoding", "gzip")],
            body: gz_body,
            totals: &[("cpu/nanoseconds", "x;y", 30_000_000)],
            period: Some(("cpu/nanoseconds", 10_000_000)),
            name: "process_cpu",
            resource: &[("service.name", "svc"), ("region", "eu")],
            time: None,
        },
    ];
    let r = start(json!({})).await;
    for c in &cases {
        let mut headers = vec![("content-type", "text/plain")];
        headers.extend_from_slice(c.headers);
        let resp = r.send("POST", c.path, &headers, c.body.to_vec()).await;
        assert_eq!(resp.status, 200, "{}: {}", c.path, resp.text());
        let got = r.sink.take();
        assert_eq!(got.len(), 1, "{}", c.path);
        let req = &got[0].request;
        let expect: BTreeMap<(String, String), i64> = c
            .totals
            .iter()
            .map(|(t, s, v)| ((t.to_string(), s.to_string()), *v))
            .collect();
        assert_eq!(totals([req.as_ref()]), expect, "{}", c.path);
        for (rp, sp, p) in profiles(req) {
            match c.period {
                Some((pt, n)) => {
                    assert_eq!(vt(req, p.period_type.as_ref()), pt, "{}", c.path);
                    assert_eq!(p.period, n, "{}", c.path);
                }
                None => assert_eq!(p.period, 0, "{}", c.path),
            }
            if let Some(t) = c.time {
                assert_eq!(p.time_unix_nano, t, "{}", c.path);
            } else {
                assert!(p.time_unix_nano > 0, "{}: from defaults to now", c.path);
            }
            assert_eq!(
                scope_attrs(sp)["pyroscope.profile.name"],
                c.name,
                "{}",
                c.path
            );
            let ra = resource_attrs(rp);
            for (k, v) in c.resource {
                assert_eq!(
                    ra.get(*k).map(String::as_str),
                    Some(*v),
                    "{}: {ra:?}",
                    c.path
                );
            }
        }
    }
    r.comp.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// /ingest pprof: SDK captures and pyroscope-go multipart

/// `(meta.json, body)` of a capture.
fn capture(stem: &str) -> (serde_json::Value, Vec<u8>) {
    let meta = testdata(&format!("sdk-captures/{stem}.meta.json"));
    let body = testdata(&format!("sdk-captures/{stem}.body.bin"));
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(meta).unwrap()).unwrap();
    (meta, std::fs::read(body).unwrap())
}

/// Replays a capture: its method, path, raw query and headers (less the hop-by-hop ones).
async fn replay(r: &Receiver, meta: &serde_json::Value, body: Vec<u8>) -> Resp {
    let path = meta["path"].as_str().unwrap();
    let query = meta["query_raw"].as_str().unwrap_or("");
    let pq = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let headers: Vec<(String, String)> = meta["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "connection"))
        .collect();
    let hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    r.send(meta["method"].as_str().unwrap(), &pq, &hs, body)
        .await
}

/// The pprof an `/ingest` capture carries (raw body, or the multipart `profile` part).
fn ingest_pprof(meta: &serde_json::Value, body: &[u8]) -> Profile {
    let ct = meta["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "content-type")
        .and_then(|h| h[1].as_str())
        .unwrap_or("");
    let payload = if ct.contains("multipart/form-data") {
        let b = crate::multipart::boundary(ct).unwrap();
        let parts = crate::multipart::parse(body, &b).unwrap();
        parts
            .into_iter()
            .find(|p| p.name == "profile")
            .unwrap()
            .body
            .to_vec()
    } else {
        body.to_vec()
    };
    pprof::decode(&payload, 64 << 20).unwrap().0
}

#[tokio::test]
async fn nodejs_ingest_captures_replayed() {
    let r = start(json!({})).await;
    let stems = [
        ("nodejs-0.6.4_ingest_wall_001", "wall", true),
        ("nodejs-0.6.4_ingest_heap_002", "memory", true),
        ("nodejs-0.4.13_ingest-multipart_wall_001", "wall", false),
        ("nodejs-0.4.13_ingest-multipart_heap_002", "memory", false),
    ];
    for (stem, name, otel_scope) in stems {
        let (meta, body) = capture(stem);
        let resp = replay(&r, &meta, body.clone()).await;
        assert_eq!(resp.status, 200, "{stem}: {}", resp.text());
        let got = r.sink.take();
        assert_eq!(got.len(), 1, "{stem}");
        let req = &got[0].request;
        let pprof = ingest_pprof(&meta, &body);
        let expected = pprof_totals(&pprof);
        assert!(expected.values().all(|&v| v > 0), "{stem}: {expected:?}");
        assert_eq!(
            type_totals([req.as_ref()]),
            expected,
            "{stem}: every sample type with the pprof's totals"
        );
        let ps = profiles(req);
        assert_eq!(ps.len(), pprof.sample_type.len(), "{stem}");
        for (rp, sp, p) in ps {
            let ra = resource_attrs(rp);
            assert_eq!(ra["service.name"], "node-capture-app", "{stem}");
            assert_eq!(ra["env"], "capture", "{stem}");
            assert_eq!(ra["region"], "loopback", "{stem}");
            let sa = scope_attrs(sp);
            assert_eq!(sa["pyroscope.profile.name"], name, "{stem}");
            assert_eq!(sa["pyroscope.spy"], "nodespy", "{stem}");
            assert_eq!(sa["pyroscope.delta"], "false", "{stem}");
            let scope = sp.scope.as_ref().unwrap();
            if otel_scope {
                assert_eq!(scope.name, "com.grafana.pyroscope/nodejs", "{stem}");
                assert_eq!(scope.version, "0.6.4", "{stem}");
                assert_eq!(ra["process.runtime.name"], "nodejs", "{stem}");
                assert!(!ra.contains_key("otel.scope.name"), "{stem}: {ra:?}");
            }
            // The pprof's own time is kept (it is set); the pprof period, not sampleRate.
            assert_eq!(p.time_unix_nano, pprof.time_nanos as u64, "{stem}");
            assert_eq!(p.period, pprof.period, "{stem}");
        }
    }
    r.comp.shutdown().await;
}

#[tokio::test]
async fn pyroscope_go_multipart_with_sample_type_config() {
    let r = start(json!({})).await;
    for (stem, name) in [("req_2", "goroutines"), ("req_5", "memory")] {
        let (pp, st) = (
            testdata(&format!("grafana-pyroscope/ingest-multipart/{stem}.pprof")),
            testdata(&format!(
                "grafana-pyroscope/ingest-multipart/{stem}.st.json"
            )),
        );
        let (pp, st) = (std::fs::read(pp).unwrap(), std::fs::read(st).unwrap());
        // As pyroscope-go's upstream/remote sends it: two file parts, times in ns, no format.
        let body = multipart(
            "a1b2c3d4e5f6",
            &[
                ("profile", "profile.pprof", "application/octet-stream", &pp),
                (
                    "sample_type_config",
                    "sample_type_config.json",
                    "application/octet-stream",
                    &st,
                ),
            ],
        );
        let q = "/ingest?name=go-app%7Benv%3Dprod%2C__session_id__%3D5e3f%7D&from=1700000000000000000&until=1700000010000000000&spyName=gospy&sampleRate=100&units=samples&aggregationType=sum";
        let resp = r
            .post(q, "multipart/form-data; boundary=a1b2c3d4e5f6", body)
            .await;
        assert_eq!(resp.status, 200, "{stem}: {}", resp.text());
        let got = r.sink.take();
        assert_eq!(got.len(), 1, "{stem}");
        let req = &got[0].request;
        let pprof = pprof::decode(&pp, 64 << 20).unwrap().0;
        let expected = pprof_totals(&pprof);
        assert_eq!(type_totals([req.as_ref()]), expected, "{stem}");
        assert!(expected.values().any(|&v| v > 0), "{stem}");
        for (rp, sp, _) in profiles(req) {
            let ra = resource_attrs(rp);
            assert_eq!(ra["service.name"], "go-app", "{stem}");
            assert_eq!(ra["env"], "prod", "{stem}");
            let sa = scope_attrs(sp);
            assert_eq!(sa["pyroscope.profile.name"], name, "{stem}");
            assert_eq!(sa["pyroscope.spy"], "gospy", "{stem}");
        }
    }
    r.comp.shutdown().await;
}

#[tokio::test]
async fn pprof_ingest_names_times_and_pyspy_frames() {
    let r = start(json!({})).await;
    let block = build_pprof(
        &[("contentions", "count"), ("delay", "nanoseconds")],
        Some(("contentions", "count", 1)),
        0,
        &[PSample {
            stack: &[("sync.(*Mutex).Lock", "mutex.go"), ("main", "main.go")],
            values: vec![3, 3000],
            labels: &[],
        }],
    );
    let raw = pprof::encode(&block);
    // Without a sample_type_config, contentions/delay is a mutex profile.
    let resp = r
        .post(
            "/ingest?name=go-app&format=pprof&from=1700000000",
            "application/octet-stream",
            raw.clone(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = r.sink.take();
    let (_, sp, p) = profiles(&got[0].request)[0];
    assert_eq!(scope_attrs(sp)["pyroscope.profile.name"], "mutex");
    assert_eq!(
        p.time_unix_nano, 1_700_000_000_000_000_000,
        "time_nanos 0 is replaced by from"
    );
    // pyroscope-go's block profiles carry a config that names them block_*.
    let cfg = br#"{"contentions":{"units":"lock_samples","display-name":"block_count"},"delay":{"units":"lock_nanoseconds","display-name":"block_duration"}}"#;
    let body = multipart(
        "XyZ",
        &[
            (
                "profile",
                "profile.pprof",
                "application/octet-stream",
                &gzip(&raw),
            ),
            (
                "sample_type_config",
                "sample_type_config.json",
                "application/octet-stream",
                cfg,
            ),
        ],
    );
    let resp = r
        .post(
            "/ingest?name=go-app",
            "multipart/form-data; boundary=XyZ",
            body,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = r.sink.take();
    let (_, sp, _) = profiles(&got[0].request)[0];
    assert_eq!(scope_attrs(sp)["pyroscope.profile.name"], "block");
    assert_eq!(
        type_totals([got[0].request.as_ref()]),
        [
            ("contentions/count".to_string(), 3),
            ("delay/nanoseconds".to_string(), 3000)
        ]
        .into()
    );

    // pyspy (pyroscope-io 0.8.x, gzip Content-Encoding over the pprof): "<file> <func>".
    let cpu = pprof::encode(&cpu_pprof());
    let resp = r
        .send(
            "POST",
            "/ingest?name=py-app&format=pprof&spyName=pyspy&from=1700000000&until=1700000010",
            &[
                ("content-type", "binary/octet-stream"),
                ("content-encoding", "gzip"),
            ],
            gzip(&cpu),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = r.sink.take();
    let t = totals([got[0].request.as_ref()]);
    assert_eq!(
        t.get(&(
            "cpu/nanoseconds".to_string(),
            "app.py main;app.py work".to_string()
        )),
        Some(&30_000_000),
        "{t:?}"
    );
    // Other spies keep the function names.
    let resp = r
        .post(
            "/ingest?name=rs-app&format=pprof&spyName=gospy",
            "application/octet-stream",
            cpu,
        )
        .await;
    assert_eq!(resp.status, 200);
    let got = r.sink.take();
    let t = totals([got[0].request.as_ref()]);
    assert_eq!(
        t.get(&("cpu/nanoseconds".to_string(), "main;work".to_string())),
        Some(&30_000_000),
        "{t:?}"
    );
    r.comp.shutdown().await;
}

#[tokio::test]
async fn profile_id_in_name_is_dropped_silently() {
    let r = start(json!({})).await;
    let resp = r
        .post(
            "/ingest?name=app%7Bprofile_id%3Dabc123%7D",
            "text/plain",
            "a;b 1",
        )
        .await;
    assert_eq!(resp.status, 200);
    assert!(r.sink.take().is_empty(), "Pyroscope drops these");
    assert_eq!(
        r.telemetry
            .value("profcol_receiver_pyroscope_profile_id_dropped", &[]),
        Some(1)
    );
    // An empty profile_id is not a drop.
    let resp = r
        .post("/ingest?name=app%7Bprofile_id%3D%7D", "text/plain", "a;b 1")
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(r.sink.take().len(), 1);
    r.comp.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Push

#[tokio::test]
async fn push_captures_replayed_with_series_labels_mapped() {
    let r = start(json!({})).await;
    for stem in [
        "pyroscope-io-1.4.0_push_cpu_001",
        "pyroscope-io-1.4.0_push_mem+cpu_002",
        "pyroscope-rs-2.1.5_push_cpu_auth_001",
    ] {
        let (meta, body) = capture(stem);
        let resp = replay(&r, &meta, body.clone()).await;
        assert_eq!(resp.status, 200, "{stem}: {}", resp.text());
        assert!(resp.body.is_empty(), "{stem}: an empty PushResponse");
        assert_eq!(resp.header("content-type"), "application/proto", "{stem}");
        let got = r.sink.take();
        assert_eq!(got.len(), 1, "{stem}");
        let req = &got[0].request;
        let push = PushRequest::decode(&gunzip(&body)[..]).unwrap();
        assert!(!push.series.is_empty());
        for s in &push.series {
            let l: BTreeMap<&str, &str> = s
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            let name = l["__name__"];
            // This series' Profiles: the scope that carries its __name__.
            let mine: Vec<_> = profiles(req)
                .into_iter()
                .filter(|(_, sp, _)| scope_attrs(sp)["pyroscope.profile.name"] == name)
                .collect();
            let pprof = pprof::decode(&s.samples[0].raw_profile, 64 << 20)
                .unwrap()
                .0;
            assert_eq!(mine.len(), pprof.sample_type.len(), "{stem} {name}");
            // Expected resource: every label not starting with __, service_name renamed,
            // otel.scope.* moved to the scope.
            let mut expect_res: BTreeMap<String, String> = BTreeMap::new();
            for (k, v) in &l {
                match *k {
                    "service_name" => {
                        expect_res.insert("service.name".into(), v.to_string());
                    }
                    "otel.scope.name" | "otel.scope.version" => {}
                    k if k.starts_with("__") => {}
                    k => {
                        expect_res.insert(k.into(), v.to_string());
                    }
                }
            }
            assert!(expect_res.contains_key("process.runtime.name"));
            let mut per_type = BTreeMap::new();
            for (rp, sp, p) in &mine {
                assert_eq!(resource_attrs(rp), expect_res, "{stem} {name}");
                let scope = sp.scope.as_ref().unwrap();
                assert_eq!(scope.name, l["otel.scope.name"], "{stem}");
                assert_eq!(scope.version, l["otel.scope.version"], "{stem}");
                let sa = scope_attrs(sp);
                assert!(
                    !sa.contains_key("pyroscope.delta"),
                    "{stem}: no __delta__ was sent"
                );
                assert_eq!(p.time_unix_nano, pprof.time_nanos as u64, "{stem}");
                let sum: i64 = p.samples.iter().flat_map(|s| &s.values).sum();
                per_type.insert(vt(req, p.sample_type.as_ref()), sum);
            }
            let expected = pprof_totals(&pprof);
            assert!(expected.values().any(|&v| v > 0), "{stem}");
            assert_eq!(per_type, expected, "{stem} {name}");
        }
        if stem.starts_with("pyroscope-rs") {
            // include_metadata (default on): the tenant and auth go with the batch.
            assert_eq!(got[0].metadata("x-scope-orgid"), ["tenant-a"]);
            assert_eq!(got[0].metadata("authorization"), ["Basic dXNlcjpwYXNz"]);
        }
    }
    r.comp.shutdown().await;
}

#[tokio::test]
async fn push_json_http2_and_whole_batch_failure() {
    let r = start(json!({})).await;
    let raw = pprof::encode(&cpu_pprof());
    // JSON (protojson names), with a gzip raw_profile.
    let b64 = String::from_utf8(super::grpc::b64_encode(&gzip(&raw))).unwrap();
    let body = json!({"series": [{
        "labels": [{"name": "__name__", "value": "process_cpu"}, {"name": "service_name", "value": "json-app"}],
        "samples": [{"rawProfile": b64, "ID": "x"}],
        "annotations": [{"key": "k", "value": "v"}]
    }]});
    let resp = r
        .post(
            "/push.v1.PusherService/Push",
            "application/json",
            body.to_string(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json(), json!({}));
    let got = r.sink.take();
    assert_eq!(got.len(), 1);
    assert_eq!(
        resource_attrs(&got[0].request.resource_profiles[0])["service.name"],
        "json-app"
    );
    assert_eq!(
        type_totals([got[0].request.as_ref()]),
        [("cpu/nanoseconds".to_string(), 40_000_000)].into()
    );

    // Connect over HTTP/2 (h2c prior knowledge), with a path prefix and the protocol header.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let ok = PushRequest {
        series: vec![series(
            &[("__name__", "process_cpu"), ("service_name", "h2-app")],
            raw.clone(),
        )],
    };
    let resp = h2
        .post(format!("{}/pyroscope/push.v1.PusherService/Push", r.base))
        .header("content-type", "application/proto")
        .header("connect-protocol-version", "1")
        .body(ok.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(r.sink.take().len(), 1);

    // One bad series fails the whole batch: nothing of it reaches the pipeline.
    let mixed = PushRequest {
        series: vec![
            series(
                &[("__name__", "process_cpu"), ("service_name", "a")],
                raw.clone(),
            ),
            series(&[("service_name", "b")], raw.clone()),
        ],
    };
    let resp = r.push(&mixed).await;
    assert_eq!(resp.status, 400);
    let j = resp.json();
    assert_eq!(j["code"], "invalid_argument");
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains("invalid metric name"),
        "{j}"
    );
    let dup = PushRequest {
        series: vec![series(
            &[("__name__", "a"), ("env", "x"), ("env", "y")],
            raw.clone(),
        )],
    };
    assert_eq!(r.push(&dup).await.status, 400, "duplicate label names");
    let corrupt = PushRequest {
        series: vec![series(&[("__name__", "process_cpu")], vec![0xff; 16])],
    };
    let resp = r.push(&corrupt).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(r.sink.take().is_empty());
    // An empty request is fine.
    assert_eq!(r.push(&PushRequest::default()).await.status, 200);
    r.comp.shutdown().await;
}

#[tokio::test]
async fn grpc_web_push_binary_and_text() {
    let r = start(json!({})).await;
    let raw = pprof::encode(&cpu_pprof());
    let ok = PushRequest {
        series: vec![series(
            &[("__name__", "process_cpu"), ("service_name", "web-app")],
            raw,
        )],
    }
    .encode_to_vec();
    let frame = |msg: &[u8]| {
        let mut f = vec![0u8];
        f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        f.extend_from_slice(msg);
        f
    };
    let trailer_status = |body: &[u8]| -> String {
        // Skip data frames, return the grpc-status of the trailer frame.
        let mut rest = body;
        while rest.len() >= 5 {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            if rest[0] & 0x80 != 0 {
                let t = String::from_utf8_lossy(&rest[5..5 + len]).into_owned();
                return t
                    .lines()
                    .find_map(|l| l.strip_prefix("grpc-status:"))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
            }
            rest = &rest[5 + len..];
        }
        panic!("no trailer frame in {body:?}");
    };
    let resp = r
        .post(
            "/push.v1.PusherService/Push",
            "application/grpc-web+proto",
            frame(&ok),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), "application/grpc-web+proto");
    assert_eq!(trailer_status(&resp.body), "0");
    assert_eq!(resp.body[..5], [0, 0, 0, 0, 0], "one empty PushResponse");
    assert_eq!(r.sink.take().len(), 1);

    let text = super::grpc::b64_encode(&frame(&ok));
    let resp = r
        .post(
            "/push.v1.PusherService/Push",
            "application/grpc-web-text",
            text,
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        "application/grpc-web-text+proto"
    );
    let decoded = super::grpc::b64_decode(&resp.body).expect("base64 response");
    assert_eq!(trailer_status(&decoded), "0");
    assert_eq!(r.sink.take().len(), 1);

    // A bad message: INVALID_ARGUMENT (3) in the trailers, nothing forwarded.
    let resp = r
        .post(
            "/push.v1.PusherService/Push",
            "application/grpc-web",
            frame(&[0xff, 0xff, 0xff]),
        )
        .await;
    assert_eq!(trailer_status(&resp.body), "3");
    assert_eq!(resp.header("grpc-status"), "3");
    assert!(r.sink.take().is_empty());
    r.comp.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Bad requests

#[tokio::test]
async fn bad_requests_get_pyroscope_status_codes_and_the_server_keeps_serving() {
    const LIMIT: usize = 64 << 10;
    let r = start(json!({"max_request_body_size": LIMIT})).await;
    let cpu = pprof::encode(&cpu_pprof());
    let no_name = PushRequest {
        series: vec![series(&[("service_name", "x")], cpu.clone())],
    }
    .encode_to_vec();
    let big_folded = "a;b 1\n".repeat(LIMIT / 5);
    let big_push = PushRequest {
        series: vec![series(
            &[("__name__", "process_cpu")],
            vec![0u8; LIMIT + 10],
        )],
    }
    .encode_to_vec();
    let prev = multipart(
        "B",
        &[
            ("profile", "profile.pprof", "application/octet-stream", &cpu),
            (
                "prev_profile",
                "profile.pprof",
                "application/octet-stream",
                &cpu,
            ),
        ],
    );
    let push = "/push.v1.PusherService/Push";
    // (method, path, content-type, extra header, body, status, message fragment)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<(&'a str, &'a str)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/ingest?sampleRate=100",
            "text/plain",
            None,
            b"a;b 1".to_vec(),
            400,
            "name",
        ),
        (
            "POST",
            "/ingest?name=%7Benv%3Dx%7D",
            "text/plain",
            None,
            b"a;b 1".to_vec(),
            400,
            "name",
        ),
        (
            "POST",
            "/ingest?name=bad%20app",
            "text/plain",
            None,
            b"a;b 1".to_vec(),
            400,
            "application name",
        ),
        (
            "POST",
            "/ingest?name=my.app",
            "text/plain",
            None,
            b"a;b 1".to_vec(),
            400,
            "unknown profile type",
        ),
        (
            "POST",
            "/ingest?name=app&format=trie",
            "text/plain",
            None,
            b"xx".to_vec(),
            400,
            "format not supported",
        ),
        (
            "POST",
            "/ingest?name=app&format=tree",
            "text/plain",
            None,
            b"xx".to_vec(),
            400,
            "format not supported",
        ),
        (
            "POST",
            "/ingest?name=app&format=speedscope",
            "application/json",
            None,
            b"{}".to_vec(),
            400,
            "format not supported",
        ),
        (
            "POST",
            "/ingest?name=app",
            "binary/octet-stream+trie",
            None,
            b"xx".to_vec(),
            400,
            "format not supported",
        ),
        (
            "POST",
            "/ingest?name=app&format=jfr",
            "application/octet-stream",
            None,
            b"xx".to_vec(),
            415,
            "jfr",
        ),
        (
            "POST",
            "/ingest?name=app&format=jfr",
            "multipart/form-data; boundary=B",
            None,
            b"--B--".to_vec(),
            415,
            "jfr",
        ),
        (
            "POST",
            "/ingest?name=app",
            "text/plain",
            Some(("content-encoding", "gzip")),
            b"not gzip at all".to_vec(),
            400,
            "gzip",
        ),
        (
            "POST",
            "/ingest?name=app",
            "text/plain",
            Some(("content-encoding", "br")),
            b"a;b 1".to_vec(),
            400,
            "Content-Encoding",
        ),
        (
            "POST",
            "/ingest?name=app",
            "text/plain",
            None,
            big_folded.into_bytes(),
            413,
            "exceeds",
        ),
        (
            "POST",
            "/ingest?name=app&format=pprof",
            "application/octet-stream",
            None,
            vec![0xff; 40],
            422,
            "failed to ingest profile",
        ),
        (
            "POST",
            "/ingest?name=app",
            "multipart/form-data; boundary=B",
            None,
            prev,
            422,
            "unsupported client version",
        ),
        (
            "POST",
            "/ingest?name=app",
            "text/plain",
            None,
            b"a;b notanumber".to_vec(),
            400,
            "count",
        ),
        (
            "POST",
            "/ingest?name=app&from=yesterday",
            "text/plain",
            None,
            b"a;b 1".to_vec(),
            400,
            "from",
        ),
        (
            "POST",
            push,
            "application/proto",
            None,
            no_name,
            400,
            "invalid metric name",
        ),
        (
            "POST",
            push,
            "application/proto",
            None,
            vec![0xff, 0xff, 0xff],
            400,
            "PushRequest",
        ),
        (
            "POST",
            push,
            "application/json",
            None,
            b"{not json".to_vec(),
            400,
            "JSON",
        ),
        (
            "POST",
            push,
            "application/proto",
            Some(("content-encoding", "gzip")),
            b"not gzip".to_vec(),
            400,
            "gzip",
        ),
        (
            "POST",
            push,
            "application/proto",
            None,
            big_push,
            413,
            "exceeds",
        ),
        (
            "POST",
            push,
            "text/plain",
            None,
            cpu.clone(),
            415,
            "Content-Type",
        ),
        ("POST", push, "", None, cpu.clone(), 415, "Content-Type"),
    ];
    for (method, path, ct, extra, body, status, fragment) in cases {
        let mut headers = vec![];
        if !ct.is_empty() {
            headers.push(("content-type", ct));
        }
        if let Some(h) = extra {
            headers.push(h);
        }
        let resp = r.send(method, path, &headers, body).await;
        assert_eq!(
            resp.status,
            status,
            "{method} {path} ({ct}): {}",
            resp.text()
        );
        assert_eq!(resp.header("content-type"), "application/json", "{path}");
        let j = resp.json();
        assert!(j["code"].is_string(), "{path}: {j}");
        let m = j["message"].as_str().unwrap_or("");
        assert!(
            m.to_lowercase().contains(&fragment.to_lowercase()),
            "{method} {path}: message {m:?} lacks {fragment:?}"
        );
        if status == 400 {
            assert_eq!(j["code"], "invalid_argument", "{path}");
        }
        // The next valid request still succeeds.
        let ok = r.post(VALID_FOLDED, "text/plain", "ok;fine 1").await;
        assert_eq!(ok.status, 200, "valid request after {path}: {}", ok.text());
    }
    // Routing: unknown path 404, wrong method 405.
    for (method, path, status) in [
        ("POST", "/nope", 404),
        ("GET", "/", 404),
        ("GET", "/ingest?name=app", 405),
        ("PUT", "/ingest?name=app", 405),
        ("GET", push, 405),
    ] {
        let resp = r.send(method, path, &[], Vec::new()).await;
        assert_eq!(resp.status, status, "{method} {path}");
        let ok = r.post(VALID_FOLDED, "text/plain", "ok;fine 1").await;
        assert_eq!(ok.status, 200);
    }
    // Only the valid requests reached the pipeline.
    let got = r.sink.take();
    assert_eq!(got.len(), 24 + 5);
    for b in &got {
        assert_eq!(
            resource_attrs(&b.request.resource_profiles[0])["service.name"],
            "valid"
        );
    }
    r.comp.shutdown().await;
}

#[tokio::test]
async fn oversize_profile_is_413() {
    let r = start(json!({"max_profile_size": 200})).await;
    let big = build_pprof(
        &[("cpu", "nanoseconds")],
        None,
        1,
        &[PSample {
            stack: &[(&"f".repeat(300), "x.py")],
            values: vec![1],
            labels: &[],
        }],
    );
    let raw = gzip(&pprof::encode(&big));
    assert!(raw.len() < 200, "small compressed, large decompressed");
    let resp = r
        .post(
            "/ingest?name=a&format=pprof",
            "application/octet-stream",
            raw.clone(),
        )
        .await;
    assert_eq!(resp.status, 413, "{}", resp.text());
    let resp = r
        .push(&PushRequest {
            series: vec![series(&[("__name__", "process_cpu")], raw)],
        })
        .await;
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert!(r.sink.take().is_empty());
    r.comp.shutdown().await;
}

#[tokio::test]
async fn pipeline_refusal_is_429_or_400() {
    let r = start(json!({})).await;
    *r.sink.refuse.lock().unwrap() = Some(
        ConsumeError::retryable("memory limit").with_retry_after(Some(Duration::from_secs(3))),
    );
    let resp = r.post(VALID_FOLDED, "text/plain", "a 1").await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), "3");
    assert_eq!(resp.json()["code"], "resource_exhausted");
    *r.sink.refuse.lock().unwrap() = Some(ConsumeError::permanent("no"));
    let resp = r
        .push(&PushRequest {
            series: vec![series(
                &[("__name__", "process_cpu")],
                pprof::encode(&cpu_pprof()),
            )],
        })
        .await;
    assert_eq!(resp.status, 400);
    *r.sink.refuse.lock().unwrap() = None;
    assert_eq!(r.post(VALID_FOLDED, "text/plain", "a 1").await.status, 200);
    r.comp.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Config keys

#[tokio::test]
async fn config_resource_attributes_metadata_and_link_labels() {
    let r = start(json!({
        "include_metadata": false,
        "resource_attributes": {"deployment.environment": "test", "service.name": "fallback"},
        "span_id_labels": ["my_span"],
        "trace_id_labels": ["my_trace"],
    }))
    .await;
    let p = build_pprof(
        &[("cpu", "nanoseconds")],
        None,
        1_700_000_000_000_000_000,
        &[PSample {
            stack: &[("f", "x")],
            values: vec![5],
            labels: &[
                ("my_span", "00112233aabbccdd"),
                ("my_trace", "0123456789abcdef0123456789abcdef"),
                ("span_id", "ffffffffffffffff"),
            ],
        }],
    );
    let resp = r
        .send(
            "POST",
            "/push.v1.PusherService/Push",
            &[
                ("content-type", "application/proto"),
                ("x-scope-orgid", "tenant-b"),
            ],
            PushRequest {
                series: vec![series(
                    &[("__name__", "process_cpu"), ("service_name", "from-label")],
                    pprof::encode(&p),
                )],
            }
            .encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let got = r.sink.take();
    assert!(
        got[0].metadata("x-scope-orgid").is_empty(),
        "include_metadata: false"
    );
    let req = &got[0].request;
    let ra = resource_attrs(&req.resource_profiles[0]);
    assert_eq!(ra["deployment.environment"], "test");
    assert_eq!(
        ra["service.name"], "from-label",
        "labels win over resource_attributes"
    );
    let v = profcol_pdata::samples(req).next().unwrap();
    let link = v.link().expect("a Link from my_span/my_trace");
    assert_eq!(hexs(&link.span_id), "00112233aabbccdd");
    assert_eq!(hexs(&link.trace_id), "0123456789abcdef0123456789abcdef");
    let a: Vec<&str> = v.attributes().map(|(k, _, _)| k).collect();
    assert_eq!(
        a,
        ["span_id"],
        "span_id is an ordinary label when not configured"
    );
    r.comp.shutdown().await;
}

#[tokio::test]
async fn default_span_profiles_labels_become_links() {
    let r = start(json!({})).await;
    let p = build_pprof(
        &[("cpu", "nanoseconds")],
        None,
        1_700_000_000_000_000_000,
        &[
            PSample {
                stack: &[("handler", "x")],
                values: vec![5],
                labels: &[
                    ("span_id", "00112233aabbccdd"),
                    ("trace_id", "0123456789abcdef0123456789abcdef"),
                    ("span_name", "GET /"),
                ],
            },
            PSample {
                stack: &[("handler", "x")],
                values: vec![7],
                // jfr-parser's name for it
                labels: &[("profile_id", "8899aabbccddeeff")],
            },
        ],
    );
    let resp = r
        .push(&PushRequest {
            series: vec![series(&[("__name__", "process_cpu")], pprof::encode(&p))],
        })
        .await;
    assert_eq!(resp.status, 200);
    let got = r.sink.take();
    let req = &got[0].request;
    let mut links: Vec<(String, String, i64)> = profcol_pdata::samples(req)
        .map(|v| {
            let l = v.link().expect("link");
            (hexs(&l.span_id), hexs(&l.trace_id), v.total())
        })
        .collect();
    links.sort();
    assert_eq!(
        links,
        [
            (
                "00112233aabbccdd".to_string(),
                "0123456789abcdef0123456789abcdef".to_string(),
                5
            ),
            ("8899aabbccddeeff".to_string(), "0".repeat(32), 7),
        ],
        "samples with different links stay apart"
    );
    r.comp.shutdown().await;
}

#[test]
fn config_defaults_and_errors() {
    use super::config::PyroscopeReceiverConfig;
    let cfg = PyroscopeReceiverConfig::load(&Section::from_value("receivers.pyroscope", json!({})))
        .unwrap();
    assert_eq!(cfg.endpoint, "localhost:4040");
    assert!(cfg.include_metadata);
    for (v, key) in [
        (json!({"endpont": "x"}), "endpont"),
        (json!({"endpoint": ""}), "endpoint"),
        (json!({"max_request_body_size": 0}), "max_request_body_size"),
        (json!({"max_profile_size": 0}), "max_profile_size"),
    ] {
        let e = PyroscopeReceiverFactory
            .validate(&Section::from_value("receivers.pyroscope", v.clone()))
            .unwrap_err();
        assert!(e.to_string().contains(key), "{v}: {e}");
    }
}
