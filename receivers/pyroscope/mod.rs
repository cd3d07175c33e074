//! The `pyroscope` receiver: what Pyroscope SDKs and Alloy send. `POST /ingest` (and
//! `/pyroscope/ingest`) with pprof, folded or `lines` bodies, and
//! `POST /push.v1.PusherService/Push` over Connect (protobuf or JSON) and gRPC, all on one port.

pub mod config;
mod error;
mod grpc;
mod ingest;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::common::KeyValue;
use profcol_pdata::pprof::{self, ToOtlpOptions};
use profcol_pdata::pyroscope::{self as pyro, PushRequest};
use profcol_pdata::string_attribute as kv;
use profcol_pdata::{Batch, RequestBuilder, RequestContext};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, Component, ComponentInfo, Consumer, Context, Counter, ReceiverFactory,
    ReceiverObserver, StartError, TaskComponent, TaskSet, Tasks, metadata_from_headers,
};
use profcol_settings::ComponentConfig;
use prost::Message;

pub use config::PyroscopeReceiverConfig;
pub(crate) use error::RecvError;

use crate::error::{ServeError, bind};
use crate::metrics::{EMPTY_PROFILES, PYROSCOPE_PROFILE_ID_DROPPED};
use profcol_settings::{DecompressError, decompress};

pub struct PyroscopeReceiverFactory;

impl ReceiverFactory for PyroscopeReceiverFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Receiver,
            "pyroscope",
            "Pyroscope SDKs and Alloy: /ingest and push.v1.PusherService/Push (localhost:4040)",
        )
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        PyroscopeReceiverConfig::validate(section)
    }
    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Box<dyn Component>, BuildError> {
        let cfg = PyroscopeReceiverConfig::load(section)?;
        let shared = Arc::new(Shared::new(&ctx, cfg, next));
        Ok(Box::new(TaskComponent::new(PyroscopeReceiver {
            shared,
            ctx,
        })))
    }
}

pub(crate) struct Shared {
    observer: ReceiverObserver,
    cfg: PyroscopeReceiverConfig,
    opts: ToOtlpOptions,
    id: String,
    empty: Counter,
    dropped_profile_id: Counter,
}

impl Shared {
    fn new(ctx: &Context, cfg: PyroscopeReceiverConfig, next: Arc<dyn Consumer>) -> Shared {
        // The scope comes from the `otel.scope.*` labels; without them it stays unnamed, so a
        // Push → OTLP → Push round trip adds no `otel.scope.name` label.
        let mut opts = ToOtlpOptions {
            scope_name: String::new(),
            ..Default::default()
        };
        opts.override_link_labels(
            cfg.span_id_labels.as_deref(),
            cfg.trace_id_labels.as_deref(),
        );
        let id = ctx.id.to_string();
        let t = &ctx.telemetry;
        Shared {
            empty: t.counter_of(&EMPTY_PROFILES, &[("receiver", &id)]),
            dropped_profile_id: t.counter_of(&PYROSCOPE_PROFILE_ID_DROPPED, &[("receiver", &id)]),
            observer: ReceiverObserver::new(ctx, next, &[]),
            cfg,
            opts,
            id,
        }
    }

    fn limit(&self) -> usize {
        usize::try_from(self.cfg.max_profile_size).unwrap_or(usize::MAX)
    }

    fn base_resource(&self) -> Vec<KeyValue> {
        self.cfg
            .resource_attributes
            .iter()
            .map(|(k, v)| kv(k, v))
            .collect()
    }

    fn metadata(&self, headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
        if self.cfg.include_metadata {
            metadata_from_headers(headers)
        } else {
            BTreeMap::new()
        }
    }

    /// Hands a finished request to the pipeline.
    pub(crate) async fn send(
        &self,
        builder: RequestBuilder,
        metadata: BTreeMap<String, Vec<String>>,
        transport: &'static str,
    ) -> Result<(), RecvError> {
        if builder.sample_count() == 0 {
            self.observer.succeed(transport);
            return Ok(());
        }
        let batch = Batch::new(
            builder.finish(),
            RequestContext {
                metadata,
                received: std::time::SystemTime::now(),
            },
        );
        Ok(self.observer.forward(transport, batch).await?)
    }

    /// Converts every series of a Push request; one bad series fails the whole request.
    pub(crate) fn convert_push(&self, push: &PushRequest) -> Result<RequestBuilder, RecvError> {
        let mut builder = RequestBuilder::new();
        for (i, series) in push.series.iter().enumerate() {
            let labels: Vec<(String, String)> = series
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            let name = labels
                .iter()
                .find(|(k, _)| k == "__name__")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            if name.is_empty() {
                return Err(RecvError::BadRequest(format!(
                    "series[{i}]: invalid metric name: the __name__ label is required"
                )));
            }
            let mut names = std::collections::HashSet::new();
            for (k, _) in &labels {
                if k.is_empty() {
                    return Err(RecvError::BadRequest(format!(
                        "series[{i}]: empty label name"
                    )));
                }
                if !names.insert(k.as_str()) {
                    return Err(RecvError::BadRequest(format!(
                        "series[{i}]: duplicate label name {k:?}"
                    )));
                }
            }
            for (j, sample) in series.samples.iter().enumerate() {
                let (profile, _) =
                    pprof::decode(&sample.raw_profile, self.limit()).map_err(|e| match e {
                        pprof::PprofError::TooLarge { limit } => RecvError::TooLarge(format!(
                            "series[{i}].samples[{j}]: pprof exceeds {limit} bytes"
                        )),
                        e => RecvError::BadRequest(format!(
                            "series[{i}].samples[{j}].raw_profile: {e}"
                        )),
                    })?;
                if profile.sample.is_empty() {
                    self.empty.add(1);
                    continue;
                }
                let (mut req, _) = pprof::to_otlp(&profile, self.base_resource(), &self.opts, None);
                pyro::ingest::apply_series_labels(&mut req, &labels);
                builder.push_request(&req);
            }
        }
        Ok(builder)
    }
}

/// Reads a body up to `limit` bytes and undoes its `Content-Encoding`.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Vec<u8>, RecvError> {
    let raw = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(RecvError::TooLarge(format!(
                "request body exceeds {limit} bytes"
            )));
        }
        Err(e) => return Err(RecvError::BadRequest(format!("reading request body: {e}"))),
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return Ok(raw.to_vec());
    }
    decompress(encoding, &raw, limit).map_err(|e| match e {
        DecompressError::TooLarge(l) => {
            RecvError::TooLarge(format!("decompressed body exceeds {l} bytes"))
        }
        e => RecvError::BadRequest(e.to_string()),
    })
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Connect unary `Push`: `application/proto` (or `application/x-protobuf`) and `application/json`.
async fn connect_push(shared: &Shared, headers: HeaderMap, body: Body) -> Response {
    let ct = content_type(&headers);
    let mt = ct.split(';').next().unwrap_or("").trim().to_owned();
    let json = match mt.as_str() {
        "application/proto" | "application/x-protobuf" | "application/protobuf" => false,
        "application/json" => true,
        _ => {
            return RecvError::Unsupported(format!(
                "unsupported Content-Type {ct:?}; use application/proto or application/json"
            ))
            .response();
        }
    };
    let limit = usize::try_from(shared.cfg.max_request_body_size).unwrap_or(usize::MAX);
    let bytes = match read_body(body, &headers, limit).await {
        Ok(b) => b,
        Err(e) => return e.response(),
    };
    let push = if json {
        pyro::push_request_from_json(&bytes).map_err(RecvError::BadRequest)
    } else {
        PushRequest::decode(&bytes[..])
            .map_err(|e| RecvError::BadRequest(format!("cannot decode PushRequest: {e}")))
    };
    let result = match push {
        Ok(p) => match shared.convert_push(&p) {
            Ok(b) => shared.send(b, shared.metadata(&headers), "push").await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(()) if json => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/proto")],
            Vec::<u8>::new(),
        )
            .into_response(),
        Err(e) => {
            tracing::debug!(receiver = %shared.id, error = %e.message(), "push refused");
            e.response()
        }
    }
}

async fn route(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let is_push = path.ends_with("/push.v1.PusherService/Push");
    let is_ingest =
        path == "/ingest" || path.ends_with("/pyroscope/ingest") || path.ends_with("/ingest");
    if !is_push && !is_ingest {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONNECTION, "close")],
            "404 page not found",
        )
            .into_response();
    }
    if req.method() != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST"), (header::CONNECTION, "close")],
            "405 method not allowed",
        )
            .into_response();
    }
    if is_push {
        let ct = content_type(req.headers());
        if ct.starts_with("application/grpc-web") {
            return grpc::serve_web(shared, req).await;
        }
        if ct.starts_with("application/grpc") {
            return grpc::serve_one(shared, req).await;
        }
        let (parts, body) = req.into_parts();
        return connect_push(&shared, parts.headers, body).await;
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let (parts, body) = req.into_parts();
    match ingest::handle(&shared, &query, &parts.headers, body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::debug!(receiver = %shared.id, error = %e.message(), "ingest refused");
            e.response()
        }
    }
}

struct PyroscopeReceiver {
    shared: Arc<Shared>,
    ctx: Context,
}

impl PyroscopeReceiver {
    async fn serve(&self, tasks: &TaskSet) -> Result<(), ServeError> {
        let (listener, local) = bind("Pyroscope clients", &self.shared.cfg.endpoint).await?;
        let app = axum::Router::new()
            .fallback(route)
            .with_state(self.shared.clone());
        tracing::info!(endpoint = %local, "Pyroscope receiver listening (/ingest, push.v1.PusherService/Push)");
        let tls = self
            .shared
            .cfg
            .tls
            .as_ref()
            .map(|t| t.rustls_config())
            .transpose()?;
        tasks.add(crate::http_server::spawn(
            listener,
            app,
            tls,
            tasks.stop_token(),
            "Pyroscope",
        ));
        Ok(())
    }
}

impl Tasks for PyroscopeReceiver {
    fn start<'a>(&'a self, tasks: &'a TaskSet) -> BoxFuture<'a, Result<(), StartError>> {
        Box::pin(async move {
            self.serve(tasks)
                .await
                .map_err(|e| StartError::new(&self.ctx.id, e))
        })
    }
}

#[cfg(test)]
mod tests;
