//! The OTLP receiver: `ProfilesService/Export` over gRPC and `POST /v1development/profiles` over
//! HTTP (protobuf and JSON).

pub mod config;
mod error;
mod grpc;
mod http;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::collector::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use profcol_pdata::{Batch, RequestContext, ValidationOptions};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, BytePermit, Component, ComponentInfo, Consumer, Context, ReceiverFactory,
    ReceiverObserver, StartError, TaskComponent, TaskSet, Tasks,
};
use profcol_settings::ComponentConfig;

pub use config::OtlpReceiverConfig;
pub(crate) use error::IngestError;

pub struct OtlpReceiverFactory;

impl ReceiverFactory for OtlpReceiverFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Receiver,
            "otlp",
            "OTLP profiles over gRPC (localhost:4317) and HTTP (localhost:4318, /v1development/profiles)",
        )
    }

    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        OtlpReceiverConfig::validate(section)
    }

    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Box<dyn Component>, BuildError> {
        let cfg = OtlpReceiverConfig::load(section)?;
        Ok(Box::new(TaskComponent::new(OtlpReceiver {
            cfg,
            ingest: Arc::new(Ingest::new(&ctx, next)),
            ctx,
        })))
    }
}

/// Validation, counting and hand-off shared by both transports.
pub(crate) struct Ingest {
    observer: ReceiverObserver,
    opts: ValidationOptions,
}

#[derive(Clone, Copy)]
pub(crate) enum Transport {
    Grpc,
    Http,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

impl Ingest {
    fn new(ctx: &Context, next: Arc<dyn Consumer>) -> Ingest {
        Ingest {
            observer: ReceiverObserver::new(ctx, next, &["grpc", "http"]),
            opts: ValidationOptions::default(),
        }
    }

    /// Admits a request's `bytes` (decompressed, not yet decoded) into the process's in-flight
    /// budget; hold the permit until [`export`](Ingest::export) answered.
    pub(crate) fn admit(
        &self,
        transport: Transport,
        bytes: usize,
    ) -> Result<BytePermit, IngestError> {
        Ok(self.observer.admit(transport.label(), bytes)?)
    }

    /// Validates and forwards a decoded request whose bytes `permit` holds.
    pub(crate) async fn export(
        &self,
        mut req: ExportProfilesServiceRequest,
        encoded: Option<Bytes>,
        metadata: BTreeMap<String, Vec<String>>,
        transport: Transport,
        permit: BytePermit,
    ) -> Result<ExportProfilesServiceResponse, IngestError> {
        let t = transport.label();
        let before = profcol_pdata::sample_count(&req) as u64;
        let had_references = uses_references(&req);
        let report = match profcol_pdata::validate(&mut req, &self.opts) {
            Ok(r) => r,
            Err(e) => {
                self.observer.refuse(t, before);
                tracing::debug!(receiver = %self.observer.id(), error = %e, "rejected invalid request");
                return Err(IngestError::Invalid(e));
            }
        };
        if report.warning_count > 0 {
            tracing::debug!(receiver = %self.observer.id(), warnings = report.warning_count, first = ?report.warnings.first(), "request has validation warnings");
        }
        let rejected = report.rejected_samples as u64;
        self.observer.transport(t).refused.add(rejected);
        let partial = (report.rejected_profiles > 0).then(|| ExportProfilesPartialSuccess {
            rejected_profiles: i64::try_from(report.rejected_profiles).unwrap_or(i64::MAX),
            error_message: report.error_message(),
        });
        let samples = before - rejected;
        if samples == 0 {
            // Nothing to forward: answer success as the OTLP spec asks, and count it.
            self.observer.succeed(t);
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
        self.observer.forward_admitted(t, batch, permit).await?;
        Ok(ExportProfilesServiceResponse {
            partial_success: partial,
        })
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
}

impl Tasks for OtlpReceiver {
    fn start<'a>(&'a self, tasks: &'a TaskSet) -> BoxFuture<'a, Result<(), StartError>> {
        Box::pin(async move {
            if let Some(g) = &self.cfg.protocols.grpc {
                tasks.add(
                    grpc::serve(g.clone(), self.ingest.clone(), tasks.stop_token())
                        .await
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Some(h) = &self.cfg.protocols.http {
                tasks.add(
                    http::serve(h.clone(), self.ingest.clone(), tasks.stop_token())
                        .await
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
