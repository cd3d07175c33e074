//! A slow OTLP/HTTP backend for fault and load tests: `POST /v1development/profiles`
//! (protobuf, gzip or identity), taking each request after a configured delay, one at a time
//! (or `concurrency` at a time), and counting the samples it took per `service.name`. Tests run
//! the profcol binary against it and check that every sample a client was told succeeded
//! arrived. It runs on its own thread and runtime so blocking tests can use it.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use profcol_pdata::collector::{ExportProfilesServiceRequest, ExportProfilesServiceResponse};
use prost::Message;

#[derive(Default)]
struct Counts {
    /// Samples taken, by `service.name`.
    by_service: BTreeMap<String, u64>,
    requests: u64,
}

struct Inner {
    delay: Mutex<Duration>,
    /// Answer 503 to everything while set (a backend outage).
    down: std::sync::atomic::AtomicBool,
    gate: tokio::sync::Semaphore,
    counts: Mutex<Counts>,
}

/// A running sink; it stops with the test process.
pub struct OtlpSink {
    port: u16,
    inner: Arc<Inner>,
}

fn service_of(rp: &profcol_pdata::proto::ResourceProfiles) -> String {
    rp.resource
        .as_ref()
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(profcol_pdata::common::any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

async fn export(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if inner.down.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, Vec::new());
    }
    let _slot = inner.gate.acquire().await.expect("sink gate");
    let delay = *inner.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let plain = if gzip {
        let mut out = Vec::new();
        if flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .is_err()
        {
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
        out
    } else {
        body.to_vec()
    };
    let Ok(req) = ExportProfilesServiceRequest::decode(&plain[..]) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut c = inner.counts.lock().unwrap();
    c.requests += 1;
    for rp in &req.resource_profiles {
        let service = service_of(rp);
        let n: u64 = rp
            .scope_profiles
            .iter()
            .flat_map(|sp| &sp.profiles)
            .map(|p| p.samples.len() as u64)
            .sum();
        *c.by_service.entry(service).or_default() += n;
    }
    (
        StatusCode::OK,
        ExportProfilesServiceResponse::default().encode_to_vec(),
    )
}

impl OtlpSink {
    /// Starts a sink taking one request per `delay`, `concurrency` at a time.
    pub fn start(delay: Duration, concurrency: usize) -> OtlpSink {
        let inner = Arc::new(Inner {
            delay: Mutex::new(delay),
            down: std::sync::atomic::AtomicBool::new(false),
            gate: tokio::sync::Semaphore::new(concurrency.max(1)),
            counts: Mutex::new(Counts::default()),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let state = inner.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("sink runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("binding the sink");
                tx.send(listener.local_addr().expect("addr").port())
                    .expect("port");
                let app = axum::Router::new()
                    .route("/v1development/profiles", axum::routing::post(export))
                    .layer(axum::extract::DefaultBodyLimit::disable())
                    .with_state(state);
                let _ = axum::serve(listener, app).await;
            });
        });
        let port = rx.recv().expect("sink started");
        OtlpSink { port, inner }
    }

    /// The base URL (for `otlp_http`'s `endpoint`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes the per-request delay.
    pub fn set_delay(&self, delay: Duration) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    /// While down, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.inner
            .down
            .store(down, std::sync::atomic::Ordering::Relaxed);
    }

    /// Samples taken so far, by `service.name`.
    pub fn samples_by_service(&self) -> BTreeMap<String, u64> {
        self.inner.counts.lock().unwrap().by_service.clone()
    }

    /// Requests taken so far.
    pub fn requests(&self) -> u64 {
        self.inner.counts.lock().unwrap().requests
    }
}
