//! The OTLP receiver: `ProfilesService/Export` over gRPC and `POST /v1development/profiles` over
//! HTTP (protobuf and JSON).

pub mod config;
mod grpc;
mod http;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use profcol_config::{ConfigErrors, Kind, Section, Signal};
use profcol_pdata::collector::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use profcol_pdata::{Batch, RequestContext, ValidationOptions};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, Component, ComponentInfo, ConsumeError, Consumer, Context, Counter,
    ReceiverFactory, StartError,
};
use tokio_util::sync::CancellationToken;

pub use config::OtlpReceiverConfig;

pub struct OtlpReceiverFactory;

impl ReceiverFactory for OtlpReceiverFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            kind: Kind::Receiver,
            ty: "otlp",
            aliases: &[],
            signals: &[Signal::Profiles],
            description: "OTLP profiles over gRPC (localhost:4317) and HTTP (localhost:4318, /v1development/profiles)",
        }
    }

    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        OtlpReceiverConfig::load(section).map(|_| ())
    }

    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Box<dyn Component>, BuildError> {
        let cfg = OtlpReceiverConfig::load(section)?;
        Ok(Box::new(OtlpReceiver {
            cfg,
            ingest: Arc::new(Ingest::new(&ctx, next)),
            stop: CancellationToken::new(),
            tasks: Default::default(),
            ctx,
        }))
    }
}

/// Why a request was not (fully) taken.
#[derive(Debug)]
pub(crate) enum IngestError {
    /// Undecodable or invalid: 400 / INVALID_ARGUMENT.
    Invalid(String),
    /// The pipeline pushed back: 503 / UNAVAILABLE.
    Refused(ConsumeError),
}

struct TransportMetrics {
    accepted: Counter,
    refused: Counter,
    requests_ok: Counter,
    requests_err: Counter,
}

/// Validation, counting and hand-off shared by both transports.
pub(crate) struct Ingest {
    next: Arc<dyn Consumer>,
    grpc: TransportMetrics,
    http: TransportMetrics,
    opts: ValidationOptions,
    id: String,
}

#[derive(Clone, Copy)]
pub(crate) enum Transport {
    Grpc,
    Http,
}

impl Ingest {
    fn new(ctx: &Context, next: Arc<dyn Consumer>) -> Ingest {
        let id = ctx.id.to_string();
        let m = |transport: &str| {
            let l = [("receiver", id.as_str()), ("transport", transport)];
            let t = &ctx.telemetry;
            TransportMetrics {
                accepted: t.counter(
                    "otelcol_receiver_accepted_profile_samples",
                    "Number of profile samples successfully pushed into the pipeline.",
                    "{sample}",
                    &l,
                ),
                refused: t.counter(
                    "otelcol_receiver_refused_profile_samples",
                    "Number of profile samples that could not be pushed into the pipeline.",
                    "{sample}",
                    &l,
                ),
                requests_ok: t.counter(
                    "otelcol_receiver_requests",
                    "Number of requests received.",
                    "{request}",
                    &[
                        ("receiver", id.as_str()),
                        ("transport", transport),
                        ("outcome", "success"),
                    ],
                ),
                requests_err: t.counter(
                    "otelcol_receiver_requests",
                    "Number of requests received.",
                    "{request}",
                    &[
                        ("receiver", id.as_str()),
                        ("transport", transport),
                        ("outcome", "failure"),
                    ],
                ),
            }
        };
        Ingest {
            next,
            grpc: m("grpc"),
            http: m("http"),
            opts: ValidationOptions::default(),
            id,
        }
    }

    fn metrics(&self, t: Transport) -> &TransportMetrics {
        match t {
            Transport::Grpc => &self.grpc,
            Transport::Http => &self.http,
        }
    }

    /// Validates and forwards a decoded request.
    pub(crate) async fn export(
        &self,
        mut req: ExportProfilesServiceRequest,
        encoded: Option<Bytes>,
        metadata: BTreeMap<String, Vec<String>>,
        transport: Transport,
    ) -> Result<ExportProfilesServiceResponse, IngestError> {
        let m = self.metrics(transport);
        let before = profcol_pdata::sample_count(&req) as u64;
        let had_references = uses_references(&req);
        let report = match profcol_pdata::validate(&mut req, &self.opts) {
            Ok(r) => r,
            Err(e) => {
                m.refused.add(before);
                m.requests_err.add(1);
                tracing::debug!(receiver = %self.id, error = %e, "rejected invalid request");
                return Err(IngestError::Invalid(e.to_string()));
            }
        };
        if report.warning_count > 0 {
            tracing::debug!(receiver = %self.id, warnings = report.warning_count, first = ?report.warnings.first(), "request has validation warnings");
        }
        let rejected = report.rejected_samples as u64;
        m.refused.add(rejected);
        let partial = (report.rejected_profiles > 0).then(|| ExportProfilesPartialSuccess {
            rejected_profiles: i64::try_from(report.rejected_profiles).unwrap_or(i64::MAX),
            error_message: report.error_message(),
        });
        let samples = before - rejected;
        if samples == 0 {
            // Nothing to forward: answer success as the OTLP spec asks, and count it.
            m.requests_ok.add(1);
            return Ok(ExportProfilesServiceResponse {
                partial_success: partial,
            });
        }
        // The original bytes are only reusable when validation changed nothing.
        let unchanged = report.rejected_profiles == 0
            && !had_references
            && report.malformed_zero_entries == 0
            && !self.opts.sum_multi_values
            && !self.opts.repair_duplicate_keys;
        let mut batch = Batch::new(
            req,
            RequestContext {
                metadata,
                received: std::time::SystemTime::now(),
            },
        );
        if let (Some(enc), true) = (encoded, unchanged) {
            batch = batch.with_encoded(enc);
        }
        match self.next.consume(batch).await {
            Ok(()) => {
                m.accepted.add(samples);
                m.requests_ok.add(1);
                Ok(ExportProfilesServiceResponse {
                    partial_success: partial,
                })
            }
            Err(e) => {
                m.refused.add(samples);
                m.requests_err.add(1);
                tracing::warn!(receiver = %self.id, samples, error = %e, "pipeline refused data");
                Err(IngestError::Refused(e))
            }
        }
    }
}

/// Whether resource or scope attributes point into the string table (validation resolves them, so
/// the decoded request then no longer matches its original bytes).
fn uses_references(req: &ExportProfilesServiceRequest) -> bool {
    use profcol_pdata::common::{AnyValue, KeyValue, any_value::Value};
    fn kv(list: &[KeyValue]) -> bool {
        list.iter()
            .any(|k| k.key_strindex != 0 || k.value.as_ref().is_some_and(val))
    }
    fn val(v: &AnyValue) -> bool {
        match &v.value {
            Some(Value::StringValueStrindex(_)) => true,
            Some(Value::ArrayValue(a)) => a.values.iter().any(val),
            Some(Value::KvlistValue(l)) => kv(&l.values),
            _ => false,
        }
    }
    req.resource_profiles.iter().any(|rp| {
        rp.resource.as_ref().is_some_and(|r| kv(&r.attributes))
            || rp
                .scope_profiles
                .iter()
                .any(|sp| sp.scope.as_ref().is_some_and(|s| kv(&s.attributes)))
    })
}

struct OtlpReceiver {
    cfg: OtlpReceiverConfig,
    ingest: Arc<Ingest>,
    ctx: Context,
    stop: CancellationToken,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Component for OtlpReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        Box::pin(async move {
            let mut handles = Vec::new();
            if let Some(g) = &self.cfg.protocols.grpc {
                handles.push(
                    grpc::serve(g.clone(), self.ingest.clone(), self.stop.clone())
                        .await
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Some(h) = &self.cfg.protocols.http {
                handles.push(
                    http::serve(h.clone(), self.ingest.clone(), self.stop.clone())
                        .await
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Ok(mut t) = self.tasks.lock() {
                t.extend(handles);
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.stop.cancel();
            let tasks: Vec<_> = match self.tasks.lock() {
                Ok(mut t) => t.drain(..).collect(),
                Err(_) => Vec::new(),
            };
            for t in tasks {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t).await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
