//! The `pyroscope` exporter against a Push API test server: created through its factory, fed
//! batches, and checked on what arrives (labels, profile type ids, pprof contents, headers), on
//! retries, rejections, limits and the ingestion window.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use profcol_config::{ComponentId, Section};
use profcol_pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use profcol_pdata::pprof::{self, Profile};
use profcol_pdata::pyroscope::attr;
use profcol_pdata::pyroscope::series;
use profcol_pdata::{Batch, ExportProfilesServiceRequest, RequestContext};
use profcol_pipeline::{Component, Consumer, Context, ExporterFactory, Telemetry};
use profcol_testkit::pyroscope_server::{
    PushServer, Reply, check_with_go, common_checks, expected_cpu_stacks, label, pushed, stacks,
    totals_by_type,
};
use profcol_testkit::require::testdata;
use prost::Message;
use serde_json::json;

use super::PyroscopeFactory;
use super::config::PyroscopeConfig;

const EBPF: &str = "grafana-pyroscope/otlp/otel-ebpf-profile.v1_10.pb.bin";
const EBPF_EXPECTED: &str = "grafana-pyroscope/otlp/otel-ebpf-profile-cpu.expected.json";

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn validated(mut req: ExportProfilesServiceRequest) -> ExportProfilesServiceRequest {
    let report = profcol_pdata::validate(&mut req, &Default::default()).expect("validates");
    assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
    req
}

fn read_testdata(rel: &str) -> Vec<u8> {
    let path = testdata(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn ebpf_request() -> ExportProfilesServiceRequest {
    let bytes = read_testdata(EBPF);
    validated(ExportProfilesServiceRequest::decode(&bytes[..]).expect("capture decodes"))
}

fn load_pprof(rel: &str) -> Profile {
    let bytes = read_testdata(rel);
    pprof::decode(&bytes, 64 << 20).expect("fixture decodes").0
}

/// A pprof fixture as OTLP (as `profcol convert` and the pprof receiver make it); with
/// `profile_name`, as the Pyroscope receiver makes it (scope attribute `pyroscope.profile.name`).
fn pprof_request(
    p: &Profile,
    service: &str,
    profile_name: Option<&str>,
) -> ExportProfilesServiceRequest {
    let (mut req, _) = pprof::to_otlp(
        p,
        vec![kv("service.name", service)],
        &Default::default(),
        None,
    );
    if let Some(n) = profile_name {
        for rp in &mut req.resource_profiles {
            for sp in &mut rp.scope_profiles {
                sp.scope
                    .get_or_insert_with(InstrumentationScope::default)
                    .attributes
                    .push(kv(attr::PROFILE_NAME, n));
            }
        }
    }
    validated(req)
}

fn ctx(telemetry: &Telemetry) -> Context {
    Context::new(ComponentId::new("pyroscope", None), telemetry.clone())
}

struct Running {
    consumer: Arc<dyn Consumer>,
    component: Box<dyn Component>,
    telemetry: Telemetry,
}

impl Running {
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> i64 {
        self.telemetry.value(name, labels).unwrap_or(0)
    }
}

/// Creates and starts the exporter through its factory. `cfg` gets the server endpoint, no
/// ingestion-window check (the fixtures are old) and fast retries unless it sets them.
async fn exporter(server: &PushServer, mut cfg: serde_json::Value) -> Running {
    let obj = cfg.as_object_mut().expect("config object");
    obj.entry("endpoint").or_insert(json!(server.endpoint()));
    obj.entry("reject_older_than").or_insert(json!("0s"));
    obj.entry("retry_on_failure")
        .or_insert(json!({"initial_interval": "50ms", "max_interval": "200ms"}));
    obj.entry("sending_queue")
        .or_insert(json!({"enabled": false}));
    let telemetry = Telemetry::new();
    let section = Section::from_value("exporters.pyroscope", cfg);
    PyroscopeFactory
        .validate(&section)
        .expect("config validates");
    let (consumer, component) = PyroscopeFactory
        .create(ctx(&telemetry), &section)
        .expect("exporter builds");
    component.start().await.expect("starts");
    Running {
        consumer,
        component,
        telemetry,
    }
}

fn batch(req: ExportProfilesServiceRequest) -> Batch {
    Batch::new(req, RequestContext::default())
}

#[test]
fn config_defaults_and_errors() {
    let load = |v: serde_json::Value| {
        PyroscopeConfig::load(&Section::from_value("exporters.pyroscope", v))
    };
    let c = load(json!({"endpoint": "http://localhost:4040"})).expect("minimal config");
    assert_eq!(
        c.push_url().ok().as_deref(),
        Some("http://localhost:4040/push.v1.PusherService/Push")
    );
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.compression, "gzip");
    assert_eq!(c.max_profile_size_bytes, 4 << 20);
    assert_eq!(c.max_request_size, 16 << 20);
    assert_eq!(c.reject_older_than, Duration::from_secs(3600));
    assert!(!c.sanitize_label_names);
    let c = load(json!({"endpoint": "https://gw.example/pyroscope/"})).expect("prefix");
    assert_eq!(
        c.push_url().ok().as_deref(),
        Some("https://gw.example/pyroscope/push.v1.PusherService/Push")
    );
    for (bad, needle) in [
        (json!({}), "endpoint"),
        (json!({"endpoint": "localhost:4040"}), "http://"),
        (
            json!({"endpoint": "http://x", "compression": "zstd"}),
            "compression",
        ),
        (json!({"endpoint": "http://x", "nope": 1}), "nope"),
        (
            json!({"endpoint": "http://x", "basic_auth": {"username": "u", "password": "p"}, "bearer_token": "t"}),
            "bearer_token",
        ),
        (
            json!({"endpoint": "http://x", "basic_auth": {"username": "u", "pass": "p"}}),
            "pass",
        ),
        (
            json!({"endpoint": "http://x", "external_labels": {"__name__": "x"}}),
            "external_labels",
        ),
        (
            json!({"endpoint": "http://x", "max_profile_size_bytes": 0}),
            "max_profile_size_bytes",
        ),
        (
            json!({"endpoint": "http://x", "headers": {"Authorization": "x"}, "bearer_token": "t"}),
            "Authorization",
        ),
    ] {
        let err = load(bad.clone()).expect_err(&format!("{bad} must be rejected"));
        assert!(err.to_string().contains(needle), "{bad}: {err}");
    }
}

/// The real eBPF capture: process_cpu (with the samples → cpu:nanoseconds rewrite) and off_cpu
/// series, `unknown_service`, and the CPU stacks and totals Pyroscope itself expects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebpf_capture_to_push() {
    let (req, expected) = (ebpf_request(), testdata(EBPF_EXPECTED));
    let expected = expected_cpu_stacks(&expected);
    let server = PushServer::start().await;
    let ex = exporter(&server, json!({"external_labels": {"cluster": "test"}})).await;
    let samples = req
        .resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .flat_map(|sp| &sp.profiles)
        .map(|p| p.samples.len())
        .sum::<usize>();
    // Source totals per type: off_cpu sums values; cpu is 1 per timestamp × period.
    let mut off_cpu_total = 0i64;
    let mut cpu_samples = 0i64;
    for v in profcol_pdata::samples(&req) {
        match v.sample_type() {
            ("off_cpu", _) => off_cpu_total += v.total(),
            ("samples", _) => cpu_samples += v.total(),
            other => panic!("unexpected type {other:?}"),
        }
    }
    ex.consumer.consume(batch(req)).await.expect("exported");
    let received = server.received();
    assert_eq!(received.len(), 1, "one request");
    let r = &received[0];
    assert_eq!(r.header("content-type"), Some("application/proto"));
    assert_eq!(r.header("connect-protocol-version"), Some("1"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(
        r.header("user-agent")
            .is_some_and(|u| u.starts_with("profcol/"))
    );
    assert!(r.header("x-scope-orgid").is_none());
    let ps = pushed(&server.accepted());
    common_checks(&ps);
    let names: BTreeSet<&str> = ps.iter().map(|p| p.name()).collect();
    assert_eq!(names, BTreeSet::from(["off_cpu", "process_cpu"]));
    let ids: BTreeSet<String> = ps.iter().flat_map(|p| p.type_ids()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "off_cpu:off_cpu:nanoseconds::".to_owned(),
            "process_cpu:cpu:nanoseconds:cpu:nanoseconds".to_owned()
        ])
    );
    for p in &ps {
        assert!(
            label(&p.labels, "service_name").is_some_and(|s| s.starts_with("unknown_service")),
            "{:?}",
            p.labels
        );
        assert_eq!(label(&p.labels, "cluster"), Some("test"));
        assert!(
            label(&p.labels, "process.pid").is_some(),
            "int resource attributes are labels"
        );
        assert!(label(&p.labels, "otel.scope.name").is_some());
    }
    // §6 rule 2: no service.name → unknown_service, plus the executable name when known.
    let services: BTreeSet<&str> = ps
        .iter()
        .filter_map(|p| label(&p.labels, "service_name"))
        .collect();
    assert_eq!(
        services,
        BTreeSet::from([
            "unknown_service",
            "unknown_service:containerd",
            "unknown_service:kwin_wayland",
            "unknown_service:xdg-desktop-portal"
        ])
    );
    let totals = totals_by_type(&ps);
    assert_eq!(totals["off_cpu:off_cpu:nanoseconds::"], off_cpu_total);
    assert_eq!(
        totals["process_cpu:cpu:nanoseconds:cpu:nanoseconds"],
        cpu_samples * 50_000_000
    );
    // Pyroscope's own expected conversion of the CPU profile (all services merged).
    let mut got: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for p in ps.iter().filter(|p| p.name() == "process_cpu") {
        for (k, v) in stacks(&p.profile) {
            *got.entry(k).or_insert(0) += v;
        }
    }
    assert_eq!(
        got, expected,
        "CPU stacks and totals match Pyroscope's expected output"
    );
    check_with_go(&ps);
    assert_eq!(
        ex.metric("otelcol_exporter_sent_profile_samples", &[]),
        samples as i64
    );
    ex.component.shutdown().await;
}

/// Push → OTLP → Push: a series mapped the way the `pyroscope` receiver maps it (labels to
/// resource and scope attributes, `pyroscope.*` scope attributes) comes back with the same labels
/// and as one multi-type pprof with the original profile type ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_round_trip() {
    let src = load_pprof("grafana-pyroscope/pprof/go-cpu-uncompressed.pb");
    let labels: Vec<(String, String)> = [
        ("__name__", "process_cpu"),
        ("__delta__", "false"),
        ("service_name", "checkout"),
        ("pyroscope_spy", "gospy"),
        ("region", "eu"),
        ("otel.scope.version", "1.2.3"),
        ("otel.scope.name", "com.grafana.pyroscope/go"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (mut req, _) = pprof::to_otlp(&src, Vec::new(), &Default::default(), None);
    profcol_pdata::pyroscope::ingest::apply_series_labels(&mut req, &labels);
    let req = validated(req);
    let server = PushServer::start().await;
    let ex = exporter(&server, json!({})).await;
    ex.consumer.consume(batch(req)).await.expect("sent");
    let ps = pushed(&server.accepted());
    common_checks(&ps);
    assert_eq!(ps.len(), 1, "one multi-type pprof");
    let mut want: Vec<(String, String)> = labels.clone();
    want.sort();
    let got: Vec<(String, String)> = ps[0]
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        ps[0].type_ids(),
        vec![
            "process_cpu:samples:count:cpu:nanoseconds",
            "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        ]
    );
    assert_eq!(series::totals(&ps[0].profile), series::totals(&src));
    assert_eq!(
        ps[0].profile.string(ps[0].profile.default_sample_type),
        src.string(src.default_sample_type)
    );
    ex.component.shutdown().await;
}

/// `sanitize_label_names: true` maps series label names and per-sample label keys to
/// `[a-zA-Z_][a-zA-Z0-9_]*` (servers before v2.0); off, dots are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sanitize_label_names_option() {
    let req = ebpf_request();
    let server = PushServer::start().await;
    let ex = exporter(&server, json!({"sanitize_label_names": true})).await;
    ex.consumer.consume(batch(req.clone())).await.expect("sent");
    let ps = pushed(&server.accepted());
    common_checks(&ps);
    for p in &ps {
        for l in &p.labels {
            assert!(
                l.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{l:?}"
            );
        }
        assert!(label(&p.labels, "process_pid").is_some());
        assert!(label(&p.labels, "otel_scope_name").is_some());
        for s in &p.profile.sample {
            for l in &s.label {
                let k = p.profile.string(l.key);
                assert!(!k.contains('.'), "sample label key {k}");
            }
        }
    }
    assert!(ps.iter().any(|p| p.profile.sample.iter().any(|s| {
        s.label
            .iter()
            .any(|l| p.profile.string(l.key) == "thread_name")
    })));
    ex.component.shutdown().await;

    server.clear();
    let ex = exporter(&server, json!({})).await;
    ex.consumer.consume(batch(req)).await.expect("sent");
    let ps = pushed(&server.accepted());
    assert!(ps.iter().all(|p| label(&p.labels, "process.pid").is_some()));
    ex.component.shutdown().await;
}

/// pprof fixtures as OTLP, named by Pyroscope's OTLP rules or carrying `pyroscope.profile.name`:
/// profile type ids, reassembly, the `-` fix, and totals in prost and `go tool pprof`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pprof_fixtures_to_push() {
    struct Case {
        file: &'static str,
        profile_name: Option<&'static str>,
        /// Expected profile type ids.
        ids: &'static [&'static str],
        /// pprofs expected (1 when reassembled).
        pprofs: usize,
    }
    let cases = [
        Case {
            file: "grafana-pyroscope/pprof/go-cpu-uncompressed.pb",
            profile_name: None,
            ids: &[
                "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                "cpu:cpu:nanoseconds:cpu:nanoseconds",
            ],
            pprofs: 2,
        },
        Case {
            file: "grafana-pyroscope/pprof/go-cpu-uncompressed.pb",
            profile_name: Some("process_cpu"),
            ids: &[
                "process_cpu:samples:count:cpu:nanoseconds",
                "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
            ],
            pprofs: 1,
        },
        Case {
            file: "grafana-pyroscope/pprof/go-heap.pb.gz",
            profile_name: Some("memory"),
            ids: &[
                "memory:alloc_objects:count:space:bytes",
                "memory:alloc_space:bytes:space:bytes",
                "memory:inuse_objects:count:space:bytes",
                "memory:inuse_space:bytes:space:bytes",
            ],
            pprofs: 1,
        },
        Case {
            file: "grafana-pyroscope/pprof/go-heap.pb.gz",
            profile_name: None,
            ids: &[
                "space:alloc_objects:count:space:bytes",
                "space:alloc_space:bytes:space:bytes",
                "space:inuse_objects:count:space:bytes",
                "space:inuse_space:bytes:space:bytes",
            ],
            pprofs: 1,
        },
        Case {
            file: "grafana-pyroscope/pprof/pyspy-1.pb.gz",
            profile_name: None,
            ids: &["samples:samples:count::milliseconds"],
            pprofs: 1,
        },
        Case {
            file: "grafana-pyroscope/pprof/profile_rust.pb.gz",
            profile_name: Some("process_cpu"),
            ids: &["process_cpu:cpu:nanoseconds:cpu:nanoseconds"],
            pprofs: 1,
        },
        Case {
            file: "grafana-pyroscope/pprof/dotnet-pprof-3.pb.gz",
            profile_name: None,
            ids: &[
                "cpu:cpu:nanoseconds::nanoseconds",
                "exception:exception:count::nanoseconds",
                "alloc_samples:alloc_samples:count::nanoseconds",
                "alloc_size:alloc_size:bytes::nanoseconds",
                "lock_count:lock_count:count::nanoseconds",
                "lock_time:lock_time:nanoseconds::nanoseconds",
            ],
            pprofs: 6,
        },
    ];
    let server = PushServer::start().await;
    let ex = exporter(&server, json!({})).await;
    for case in cases {
        let src = load_pprof(case.file);
        server.clear();
        let req = pprof_request(&src, "fixture-svc", case.profile_name);
        ex.consumer
            .consume(batch(req))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.file));
        let ps = pushed(&server.accepted());
        common_checks(&ps);
        assert_eq!(ps.len(), case.pprofs, "{}: pprofs", case.file);
        let ids: BTreeSet<String> = ps.iter().flat_map(|p| p.type_ids()).collect();
        let want_ids: BTreeSet<String> = case.ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids, want_ids, "{}", case.file);
        for p in &ps {
            assert_eq!(label(&p.labels, "service_name"), Some("fixture-svc"));
        }
        // Totals per sample type survive, scaled by the period where rule 5 rewrites
        // samples:count:cpu:nanoseconds (`ids` lists the ids in source sample-type order).
        let want: BTreeMap<String, i64> = case
            .ids
            .iter()
            .zip(series::totals(&src))
            .zip(&src.sample_type)
            .map(|((id, t), vt)| {
                let scaled =
                    id.starts_with("process_cpu:cpu:") && src.string(vt.r#type) == "samples";
                (id.to_string(), if scaled { t * src.period } else { t })
            })
            .collect();
        assert_eq!(totals_by_type(&ps), want, "{}", case.file);
        check_with_go(&ps);
    }
    ex.component.shutdown().await;
}

/// 429 with Retry-After, then 200: delivered once, after waiting at least Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_429_delivers_once() {
    let src = load_pprof("grafana-pyroscope/pprof/profile_rust.pb.gz");
    let server = PushServer::start().await;
    server.script([Reply::too_many(1)]);
    let ex = exporter(&server, json!({})).await;
    let start = Instant::now();
    ex.consumer
        .consume(batch(pprof_request(&src, "svc", Some("process_cpu"))))
        .await
        .expect("delivered after a retry");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let rec = server.received();
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[0].status, 429);
    assert_eq!(rec[1].status, 200);
    assert_eq!(server.accepted().len(), 1, "delivered exactly once");
    // The same ids on the retry (the request is not rebuilt).
    let ids = |i: usize| {
        rec[i]
            .request
            .as_ref()
            .map(|r| {
                r.series
                    .iter()
                    .flat_map(|s| s.samples.iter().map(|x| x.id.clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids(0), ids(1));
    assert_eq!(
        ex.metric("profcol_exporter_pyroscope_rejected_series", &[]),
        0
    );
    ex.component.shutdown().await;
}

/// 400 with a Connect JSON error: not retried, the server's message reported, counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_is_not_retried() {
    let src = load_pprof("grafana-pyroscope/pprof/go-cpu-uncompressed.pb");
    let server = PushServer::start().await;
    server.script([Reply::error(400, "invalid_argument", "profile is too old")]);
    let ex = exporter(&server, json!({})).await;
    let req = pprof_request(&src, "svc", None);
    let n = profcol_pdata::sample_count(&req) as i64;
    let err = ex
        .consumer
        .consume(batch(req))
        .await
        .expect_err("a 400 fails the batch");
    match &err {
        e if e.is_permanent() => {
            let m = e.to_string();
            assert!(
                m.contains("profile is too old") && m.contains("invalid_argument"),
                "{m}"
            )
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
    assert_eq!(server.received().len(), 1, "not retried");
    assert_eq!(
        ex.metric("profcol_exporter_pyroscope_rejected_series", &[]),
        2
    );
    assert_eq!(
        ex.metric("otelcol_exporter_send_failed_profile_samples", &[]),
        n
    );

    // 401 (multitenancy on, no tenant) is permanent too; 503 is retried.
    server.script([
        Reply::error(503, "unavailable", "ingester down"),
        Reply::error(401, "unauthenticated", "no org id"),
    ]);
    let err = ex
        .consumer
        .consume(batch(pprof_request(&src, "svc", Some("process_cpu"))))
        .await
        .expect_err("401 fails");
    assert!(err.to_string().contains("no org id"), "{err}");
    assert_eq!(server.received().len(), 3);
    ex.component.shutdown().await;
}

/// basic_auth, bearer_token, tenant_id and custom headers arrive; without tenant_id the batch's
/// `x-scope-orgid` metadata is forwarded; `compression: none` sends a plain body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_tenant_and_headers() {
    let src = load_pprof("grafana-pyroscope/pprof/profile_rust.pb.gz");
    let req = pprof_request(&src, "svc", Some("process_cpu"));
    let with_tenant = |t: &str| {
        let mut c = RequestContext::default();
        c.metadata
            .insert("x-scope-orgid".into(), vec![t.to_owned()]);
        Batch::new(req.clone(), c)
    };
    let server = PushServer::start().await;

    let ex = exporter(
        &server,
        json!({"basic_auth": {"username": "user", "password": "s3cret"}, "tenant_id": "team-a", "headers": {"X-Extra": "1"}}),
    )
    .await;
    ex.consumer
        .consume(with_tenant("ignored"))
        .await
        .expect("sent");
    let r = server.received().pop().expect("received");
    // base64("user:s3cret")
    assert_eq!(r.header("authorization"), Some("Basic dXNlcjpzM2NyZXQ="));
    assert_eq!(
        r.header("x-scope-orgid"),
        Some("team-a"),
        "config wins over metadata"
    );
    assert_eq!(r.header("x-extra"), Some("1"));
    ex.component.shutdown().await;

    let ex = exporter(
        &server,
        json!({"bearer_token": "tok", "compression": "none"}),
    )
    .await;
    ex.consumer
        .consume(with_tenant("team-b"))
        .await
        .expect("sent");
    let r = server.received().pop().expect("received");
    assert_eq!(r.header("authorization"), Some("Bearer tok"));
    assert_eq!(
        r.header("x-scope-orgid"),
        Some("team-b"),
        "metadata forwarded"
    );
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.status, 200);
    ex.consumer.consume(batch(req.clone())).await.expect("sent");
    let r = server.received().pop().expect("received");
    assert_eq!(r.header("x-scope-orgid"), None);
    ex.component.shutdown().await;

    // A path prefix in the endpoint.
    let ex = exporter(
        &server,
        json!({"endpoint": format!("{}/prefix/", server.endpoint())}),
    )
    .await;
    ex.consumer
        .consume(batch(req.clone()))
        .await
        .expect("sent under a prefix");
    ex.component.shutdown().await;
}

/// Profiles over the size or sample limits are split into several pprofs of the same series, and
/// batches over `max_request_size` into several requests; nothing is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_profiles_and_requests() {
    let src = load_pprof("grafana-pyroscope/pprof/profile_ruby.pb.gz");
    let server = PushServer::start().await;
    let ex = exporter(
        &server,
        json!({"max_profile_size_bytes": 40000, "max_samples_per_profile": 500, "max_request_size": 30000}),
    )
    .await;
    let req = pprof_request(&src, "ruby", Some("process_cpu"));
    ex.consumer.consume(batch(req)).await.expect("sent");
    let accepted = server.accepted();
    assert!(accepted.len() > 1, "several requests: {}", accepted.len());
    let ps = pushed(&accepted);
    common_checks(&ps);
    assert!(ps.len() >= 4, "split into {} pprofs", ps.len());
    let first = &ps[0].labels;
    for p in &ps {
        assert_eq!(&p.labels, first, "one series");
        assert!(p.profile.sample.len() <= 500);
        assert!(pprof::encode(&p.profile).len() <= 40000);
    }
    let total: i64 = ps.iter().map(|p| series::totals(&p.profile)[0]).sum();
    assert_eq!(total, series::totals(&src)[0]);
    let n: usize = ps.iter().map(|p| p.profile.sample.len()).sum();
    assert!(n <= src.sample.len());
    assert_eq!(
        ex.metric("profcol_exporter_pyroscope_split_profiles", &[]),
        1
    );
    check_with_go(&ps[..2]);
    ex.component.shutdown().await;
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Profiles older than `reject_older_than` are not sent; retries stop when the data would fall out
/// of the window instead of running to `max_elapsed_time`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_window() {
    let mut src = load_pprof("grafana-pyroscope/pprof/profile_rust.pb.gz");
    let server = PushServer::start().await;
    let ex = exporter(&server, json!({"reject_older_than": "1h"})).await;
    // The fixture is from 2022: dropped before sending.
    let err = ex
        .consumer
        .consume(batch(pprof_request(&src, "svc", Some("process_cpu"))))
        .await
        .expect_err("nothing to send");
    assert!(err.to_string().contains("too old 1"), "{err}");
    assert!(server.received().is_empty());
    assert_eq!(
        ex.metric(
            "profcol_exporter_pyroscope_dropped_profiles",
            &[("reason", "too_old")]
        ),
        1
    );
    // Too far in the future.
    src.time_nanos = now_nanos() + 3_600_000_000_000;
    assert!(
        ex.consumer
            .consume(batch(pprof_request(&src, "svc", Some("process_cpu"))))
            .await
            .is_err()
    );
    assert_eq!(
        ex.metric(
            "profcol_exporter_pyroscope_dropped_profiles",
            &[("reason", "too_new")]
        ),
        1
    );
    ex.component.shutdown().await;

    // Fresh data and a server that keeps answering 503: with a 3 s window the exporter gives up
    // well before max_elapsed_time (1 min).
    server.set_default(Reply::error(503, "unavailable", "down"));
    let ex = exporter(
        &server,
        json!({"reject_older_than": "3s", "retry_on_failure": {"initial_interval": "400ms", "max_interval": "400ms", "max_elapsed_time": "1m", "randomization_factor": 0}}),
    )
    .await;
    src.time_nanos = now_nanos();
    let start = Instant::now();
    let err = ex
        .consumer
        .consume(batch(pprof_request(&src, "svc", Some("process_cpu"))))
        .await
        .expect_err("gives up");
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "stopped at the window, took {took:?}"
    );
    assert!(err.to_string().contains("ingestion window"), "{err}");
    assert!(
        server.received().len() >= 3,
        "retried while the data was fresh"
    );
    assert_eq!(
        ex.metric(
            "profcol_exporter_pyroscope_dropped_profiles",
            &[("reason", "ingestion_window")]
        ),
        1
    );
    ex.component.shutdown().await;
}

/// Links arrive as per-sample `span_id`/`trace_id` pprof labels, never as series labels; samples
/// with a `service.name` attribute go to their own series (Pyroscope's OTLP rule 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_sample_service_names() {
    let mut src = load_pprof("grafana-pyroscope/pprof/go-cpu-exemplars.pb.gz");
    // Half the samples belong to another service (a sample label `service.name`).
    let key = src.string_table.len() as i64;
    src.string_table.push(b"service.name".to_vec());
    src.string_table.push(b"other-svc".to_vec());
    for s in src.sample.iter_mut().step_by(2) {
        s.label.push(pprof::Label {
            key,
            str: key + 1,
            num: 0,
            num_unit: 0,
        });
    }
    let req = pprof_request(&src, "main-svc", Some("process_cpu"));
    let has_links = req
        .dictionary
        .as_ref()
        .is_some_and(|d| d.link_table.len() > 1);
    assert!(
        has_links,
        "the fixture's span_id/profile_id labels became Links"
    );
    let server = PushServer::start().await;
    let ex = exporter(&server, json!({})).await;
    ex.consumer.consume(batch(req)).await.expect("sent");
    let ps = pushed(&server.accepted());
    common_checks(&ps);
    let services: BTreeSet<&str> = ps
        .iter()
        .filter_map(|p| label(&p.labels, "service_name"))
        .collect();
    assert_eq!(services, BTreeSet::from(["main-svc", "other-svc"]));
    let mut span_labels = 0;
    for p in &ps {
        for s in &p.profile.sample {
            for l in &s.label {
                let k = p.profile.string(l.key);
                assert_ne!(k, "service.name", "consumed into service_name");
                if k == "span_id" {
                    assert_eq!(p.profile.string(l.str).len(), 16);
                    span_labels += 1;
                }
            }
        }
    }
    assert!(span_labels > 0, "span ids travel as sample labels");
    let total: Vec<i64> = ps.iter().fold(vec![0, 0], |mut acc, p| {
        for (a, t) in acc.iter_mut().zip(series::totals(&p.profile)) {
            *a += t;
        }
        acc
    });
    assert_eq!(total, series::totals(&src));
    check_with_go(&ps);
    ex.component.shutdown().await;
}

/// The queue path: consume returns at once, the data is delivered in the background, and a 400
/// is counted by the queue's `otelcol_exporter_send_failed_profile_samples`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_delivery() {
    let src = load_pprof("grafana-pyroscope/pprof/profile_rust.pb.gz");
    let server = PushServer::start().await;
    server.script([Reply::Ok, Reply::error(400, "invalid_argument", "bad")]);
    let ex = exporter(&server, json!({"sending_queue": {"num_consumers": 1}})).await;
    let req = pprof_request(&src, "svc", Some("process_cpu"));
    let n = profcol_pdata::sample_count(&req) as i64;
    ex.consumer
        .consume(batch(req.clone()))
        .await
        .expect("queued");
    ex.consumer.consume(batch(req)).await.expect("queued");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ex.metric("otelcol_exporter_send_failed_profile_samples", &[]) == 0 {
        assert!(Instant::now() < deadline, "the 400 was not counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ex.metric("otelcol_exporter_sent_profile_samples", &[]), n);
    assert_eq!(
        ex.metric("otelcol_exporter_send_failed_profile_samples", &[]),
        n
    );
    assert_eq!(
        ex.metric("profcol_exporter_pyroscope_rejected_series", &[]),
        1
    );
    ex.component.shutdown().await;
}
