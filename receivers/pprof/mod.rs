//! The `pprof` receiver: pprof in by HTTP push (`server`), by scraping `/debug/pprof` endpoints
//! (`remote`), or from files (`file`), converted to OTLP profiles (one Profile per sample type,
//! span labels turned into Links).

pub mod config;
pub mod delta;
mod error;
mod file;
pub(crate) mod scrape;
mod server;

use std::collections::BTreeMap;
use std::sync::Arc;

use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::common::KeyValue;
use profcol_pdata::pprof::{self, ToOtlpOptions};
use profcol_pdata::string_attribute as kv;
use profcol_pdata::{Batch, RequestContext};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{
    BuildError, Component, ComponentInfo, Consumer, Context, Counter, ReceiverFactory,
    ReceiverObserver, StartError, TaskComponent, TaskSet, Tasks,
};
use profcol_settings::ComponentConfig;

pub use config::PprofReceiverConfig;
pub(crate) use error::IngestError;

use crate::metrics::{
    EMPTY_PROFILES, INVALID_PAYLOADS, PPROF_INVALID_UTF8, PPROF_MULTI_VALUE_LABEL_DROPPED,
};

pub struct PprofReceiverFactory;

impl ReceiverFactory for PprofReceiverFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Receiver,
            "pprof",
            "pprof by HTTP push (server), /debug/pprof scraping (remote) or files (file)",
        )
    }

    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        PprofReceiverConfig::validate(section)
    }

    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Box<dyn Component>, BuildError> {
        let cfg = PprofReceiverConfig::load(section)?;
        let ingest = Arc::new(Ingest::new(&ctx, &cfg, next));
        Ok(Box::new(TaskComponent::new(PprofReceiver {
            cfg,
            ingest,
            ctx,
        })))
    }
}

/// profcol's own counters of one transport.
struct Counters {
    empty: Counter,
    invalid: Counter,
}

/// Decoding, conversion, counting and hand-off shared by the three modes.
pub(crate) struct Ingest {
    observer: ReceiverObserver,
    opts: ToOtlpOptions,
    resource: BTreeMap<String, String>,
    limit: usize,
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
        opts.override_link_labels(
            cfg.span_id_labels.as_deref(),
            cfg.trace_id_labels.as_deref(),
        );
        let id = ctx.id.to_string();
        let t = &ctx.telemetry;
        Ingest {
            observer: ReceiverObserver::new(ctx, next, &[]),
            opts,
            resource: cfg.resource_attributes.clone(),
            limit: cfg.max_profile_bytes(),
            invalid_utf8: t.counter_of(&PPROF_INVALID_UTF8, &[("receiver", &id)]),
            multi_value_dropped: t
                .counter_of(&PPROF_MULTI_VALUE_LABEL_DROPPED, &[("receiver", &id)]),
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
                let l = [("receiver", self.observer.id()), ("transport", transport)];
                let t = self.observer.telemetry();
                Arc::new(Counters {
                    empty: t.counter_of(&EMPTY_PROFILES, &l),
                    invalid: t.counter_of(&INVALID_PAYLOADS, &l),
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
                self.observer.refuse(transport, 0);
                return Err(e.into());
            }
        };
        self.convert_and_send(
            &profile,
            stats.invalid_utf8_strings,
            bytes,
            extra,
            metadata,
            transport,
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
        self.convert_and_send(profile, 0, &[], extra, BTreeMap::new(), transport)
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
        transport: &'static str,
    ) -> Result<usize, IngestError> {
        self.invalid_utf8.add(invalid_utf8 as u64);
        if profile.sample.is_empty() {
            self.counters(transport).empty.add(1);
            self.observer.succeed(transport);
            tracing::debug!(receiver = %self.observer.id(), "dropping a pprof profile without samples");
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
        self.observer.forward(transport, batch).await?;
        Ok(n)
    }
}

struct PprofReceiver {
    cfg: PprofReceiverConfig,
    ingest: Arc<Ingest>,
    ctx: Context,
}

impl Tasks for PprofReceiver {
    fn start<'a>(&'a self, tasks: &'a TaskSet) -> BoxFuture<'a, Result<(), StartError>> {
        Box::pin(async move {
            if let Some(s) = &self.cfg.server {
                tasks.add(
                    server::serve(s.clone(), self.ingest.clone(), tasks.stop_token())
                        .await
                        .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Some(r) = &self.cfg.remote {
                tasks.extend(
                    scrape::start(
                        r.clone(),
                        self.ingest.clone(),
                        &self.ctx,
                        tasks.stop_token(),
                    )
                    .map_err(|e| StartError::new(&self.ctx.id, e))?,
                );
            }
            if let Some(f) = &self.cfg.file {
                tasks.add(file::start(
                    f.clone(),
                    self.ingest.clone(),
                    tasks.stop_token(),
                ));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
