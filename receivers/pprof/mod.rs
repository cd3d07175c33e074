//! The `pprof` receiver: pprof in by HTTP push (`server`), by scraping `/debug/pprof` endpoints
//! (`remote`), or from files (`file`), converted to OTLP profiles (one Profile per sample type,
//! span labels turned into Links).

pub mod config;
pub mod delta;
mod file;
pub(crate) mod scrape;
mod server;

use std::collections::BTreeMap;
use std::sync::Arc;

use profcol_config::{ConfigError, Kind, Section, Signal};
use profcol_pdata::common::KeyValue;
use profcol_pdata::pprof::{self, PprofError, ToOtlpOptions};
use profcol_pdata::string_attribute as kv;
use profcol_pdata::{Batch, RequestContext};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, Component, ComponentInfo, ConsumeError, Consumer, Context, Counter,
    ReceiverFactory, StartError, Telemetry,
};
use tokio_util::sync::CancellationToken;

pub use config::PprofReceiverConfig;

pub struct PprofReceiverFactory;

impl ReceiverFactory for PprofReceiverFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            kind: Kind::Receiver,
            ty: "pprof",
            aliases: &[],
            signals: &[Signal::Profiles],
            description: "pprof by HTTP push (server), /debug/pprof scraping (remote) or files (file)",
        }
    }

    fn validate(&self, section: &Section) -> Result<(), ConfigError> {
        PprofReceiverConfig::load(section).map(|_| ())
    }

    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Box<dyn Component>, BuildError> {
        let cfg = PprofReceiverConfig::load(section)?;
        let ingest = Arc::new(Ingest::new(&ctx, &cfg, next));
        Ok(Box::new(PprofReceiver {
            cfg,
            ingest,
            ctx,
            stop: CancellationToken::new(),
            tasks: Default::default(),
        }))
    }
}

/// Why a pprof payload was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    #[error("{0}")]
    Invalid(#[from] PprofError),
    #[error("{0}")]
    Refused(ConsumeError),
}

struct Counters {
    accepted: Counter,
    refused: Counter,
    empty: Counter,
    invalid: Counter,
}

/// Decoding, conversion, counting and hand-off shared by the three modes.
pub(crate) struct Ingest {
    next: Arc<dyn Consumer>,
    opts: ToOtlpOptions,
    resource: BTreeMap<String, String>,
    limit: usize,
    telemetry: Telemetry,
    id: String,
    invalid_utf8: Counter,
    multi_value_dropped: Counter,
    counters: std::sync::Mutex<BTreeMap<&'static str, Arc<Counters>>>,
}

impl Ingest {
    fn new(ctx: &Context, cfg: &PprofReceiverConfig, next: Arc<dyn Consumer>) -> Ingest {
        let mut opts = ToOtlpOptions {
            drop_zero_samples: cfg.drop_zero_samples,
            keep_correlation_labels: cfg.keep_correlation_labels,
            include_original_payload: cfg.include_original_payload,
            ..Default::default()
        };
        if let Some(l) = &cfg.span_id_labels {
            opts.span_id_labels = l.clone();
        }
        if let Some(l) = &cfg.trace_id_labels {
            opts.trace_id_labels = l.clone();
        }
        let id = ctx.id.to_string();
        let t = &ctx.telemetry;
        Ingest {
            next,
            opts,
            resource: cfg.resource_attributes.clone(),
            limit: cfg.max_profile_bytes(),
            invalid_utf8: t.counter(
                "profcol_pprof_invalid_utf8_strings",
                "pprof strings that were not valid UTF-8 (replaced with U+FFFD).",
                "{string}",
                &[("receiver", &id)],
            ),
            multi_value_dropped: t.counter(
                "profcol_pprof_multi_value_label_dropped",
                "pprof labels dropped because their key repeated in a sample.",
                "{label}",
                &[("receiver", &id)],
            ),
            telemetry: t.clone(),
            id,
            counters: Default::default(),
        }
    }

    fn counters(&self, transport: &'static str) -> Arc<Counters> {
        let mut m = match self.counters.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.entry(transport)
            .or_insert_with(|| {
                let l = [("receiver", self.id.as_str()), ("transport", transport)];
                let t = &self.telemetry;
                Arc::new(Counters {
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
                    empty: t.counter(
                        "profcol_receiver_empty_profiles",
                        "Profiles without samples, counted and dropped.",
                        "{profile}",
                        &l,
                    ),
                    invalid: t.counter(
                        "profcol_receiver_invalid_payloads",
                        "Payloads that could not be decoded.",
                        "{payload}",
                        &l,
                    ),
                })
            })
            .clone()
    }

    /// The resource attributes of a profile: the receiver's, overridden by per-source ones.
    /// `service_name` is read as `service.name`.
    fn resource(&self, extra: &BTreeMap<String, String>) -> Vec<KeyValue> {
        let mut m = self.resource.clone();
        for (k, v) in extra {
            let k = if k == "service_name" {
                "service.name".to_owned()
            } else {
                k.clone()
            };
            m.insert(k, v.clone());
        }
        m.iter().map(|(k, v)| kv(k, v)).collect()
    }

    /// Decodes and forwards one pprof payload; returns the number of samples forwarded (0 for an
    /// empty profile, which is counted and dropped).
    pub(crate) async fn ingest(
        &self,
        bytes: &[u8],
        extra: &BTreeMap<String, String>,
        metadata: BTreeMap<String, Vec<String>>,
        transport: &'static str,
    ) -> Result<usize, IngestError> {
        let c = self.counters(transport);
        let (profile, stats) = match pprof::decode(bytes, self.limit) {
            Ok(x) => x,
            Err(e) => {
                c.invalid.add(1);
                return Err(e.into());
            }
        };
        self.convert_and_send(
            &profile,
            stats.invalid_utf8_strings,
            bytes,
            extra,
            metadata,
            &c,
        )
        .await
    }

    /// Forwards an already decoded profile (the scraper decodes first to compute deltas).
    pub(crate) async fn ingest_profile(
        &self,
        profile: &pprof::Profile,
        extra: &BTreeMap<String, String>,
        transport: &'static str,
    ) -> Result<usize, IngestError> {
        let c = self.counters(transport);
        self.convert_and_send(profile, 0, &[], extra, BTreeMap::new(), &c)
            .await
    }

    pub(crate) fn count_invalid(&self, transport: &'static str) {
        self.counters(transport).invalid.add(1);
    }

    async fn convert_and_send(
        &self,
        profile: &pprof::Profile,
        invalid_utf8: usize,
        original: &[u8],
        extra: &BTreeMap<String, String>,
        metadata: BTreeMap<String, Vec<String>>,
        c: &Counters,
    ) -> Result<usize, IngestError> {
        self.invalid_utf8.add(invalid_utf8 as u64);
        if profile.sample.is_empty() {
            c.empty.add(1);
            tracing::debug!(receiver = %self.id, "dropping a pprof profile without samples");
            return Ok(0);
        }
        let orig = (self.opts.include_original_payload && !original.is_empty()).then_some(original);
        let (req, stats) = pprof::to_otlp(profile, self.resource(extra), &self.opts, orig);
        self.multi_value_dropped
            .add(stats.multi_value_labels_dropped as u64);
        let batch = Batch::new(
            req,
            RequestContext {
                metadata,
                received: std::time::SystemTime::now(),
            },
        );
        let n = batch.sample_count();
        match self.next.consume(batch).await {
            Ok(()) => {
                c.accepted.add(n as u64);
                Ok(n)
            }
            Err(e) => {
                c.refused.add(n as u64);
                Err(IngestError::Refused(e))
            }
        }
    }
}

struct PprofReceiver {
    cfg: PprofReceiverConfig,
    ingest: Arc<Ingest>,
    ctx: Context,
    stop: CancellationToken,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Component for PprofReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        Box::pin(async move {
            let mut handles = Vec::new();
            if let Some(s) = &self.cfg.server {
                handles.push(
                    server::serve(s.clone(), self.ingest.clone(), self.stop.clone())
                        .await
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Some(r) = &self.cfg.remote {
                handles.extend(
                    scrape::start(r.clone(), self.ingest.clone(), &self.ctx, self.stop.clone())
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Some(f) = &self.cfg.file {
                handles.push(file::start(
                    f.clone(),
                    self.ingest.clone(),
                    self.stop.clone(),
                ));
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
