//! The `pyroscope` exporter: OTLP profiles → Grafana Pyroscope's Push API
//! (`POST {endpoint}/push.v1.PusherService/Push`, Connect unary, gzip; spec `pyroscope.md` §3).
//!
//! Each batch is converted once ([`push::prepare`]), packed into requests of at most
//! `max_request_size`, and each request is sent with its own retry loop: a batch split over
//! several requests never re-sends a request the server already accepted, and pprofs that would
//! reach the server after Pyroscope's ingestion window are dropped instead of retried.

pub mod config;
mod error;
pub mod push;

use std::time::{Duration, Instant, SystemTime};

use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::Batch;
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::exporter_helper::{QueuedExporter, SendError, Sender, into_parts};
use profcol_pipeline::{
    BuildError, Built, ComponentInfo, ConsumeError, Context, ErrorKind, ExporterFactory, MetricDef,
    Telemetry,
};
use profcol_settings::ComponentConfig;
use profcol_settings::{Compression, RetryConfig};
use prost::Message;
use tokio_util::sync::CancellationToken;

pub use config::PyroscopeConfig;
pub use error::{PushError, PyroscopeBuildError, classify};
use push::{PrepareOptions, PrepareStats, PreparedSeries};

/// Request metadata key of the tenant (lower case, as receivers store it).
pub const TENANT_METADATA_KEY: &str = "x-scope-orgid";
/// How long retries may go on once the service starts shutting down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

pub struct PyroscopeFactory;

impl ExporterFactory for PyroscopeFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Exporter,
            "pyroscope",
            "Grafana Pyroscope Push API (pprof series over Connect)",
        )
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        PyroscopeConfig::validate(section)
    }
    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError> {
        let cfg = PyroscopeConfig::load(section)?;
        let sender = PushSender::new(&cfg, &ctx).map_err(|e| BuildError::component(&ctx.id, e))?;
        // Retries happen per request inside the sender (see the module docs); the queue only
        // queues.
        let queue_retry = RetryConfig {
            enabled: false,
            ..cfg.retry_on_failure.clone()
        };
        Ok(into_parts(QueuedExporter::new(
            &ctx,
            sender,
            cfg.sending_queue.clone(),
            queue_retry,
        )))
    }
}

/// The server's Connect error body.
#[derive(Debug, Default, serde::Deserialize)]
struct ConnectError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A cheap random number in [0, 1) for retry jitter.
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

pub const DROPPED_PROFILES: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_dropped_profiles",
    "pprofs the Pyroscope exporter did not send (too old, too new, empty, oversize, no sample type, outside the ingestion window on retry).",
    "{profile}",
);
pub const DROPPED_LABELS: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_dropped_labels",
    "Series labels the Pyroscope exporter dropped to satisfy Pyroscope's label rules.",
    "{label}",
);
pub const DROPPED_SAMPLES: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_dropped_samples",
    "pprof samples the Pyroscope exporter dropped because one sample alone exceeds max_profile_size_bytes.",
    "{sample}",
);
pub const TRUNCATED_LABEL_VALUES: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_truncated_label_values",
    "Series label values cut to Pyroscope's length limit.",
    "{label}",
);
pub const DROPPED_SAMPLE_LABELS: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_dropped_sample_labels",
    "Per-sample pprof labels dropped beyond max_labels_per_sample.",
    "{label}",
);
pub const SPLIT_PROFILES: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_split_profiles",
    "pprofs split into several because of max_profile_size_bytes or max_samples_per_profile.",
    "{profile}",
);
pub const REJECTED_SERIES: MetricDef = MetricDef::new(
    "profcol_exporter_pyroscope_rejected_series",
    "Series in Push requests the server rejected permanently (4xx other than 408/429).",
    "{series}",
);

/// The exporter's own counters; a series per `reason` label is created on first use.
struct Metrics {
    telemetry: Telemetry,
    id: String,
}

impl Metrics {
    fn add(&self, def: &MetricDef, reason: Option<&str>, n: usize) {
        if n == 0 {
            return;
        }
        let mut labels: Vec<(&'static str, &str)> = vec![("exporter", self.id.as_str())];
        if let Some(r) = reason {
            labels.push(("reason", r));
        }
        self.telemetry
            .counter_of(def, &labels)
            .add(u64::try_from(n).unwrap_or(u64::MAX));
    }

    fn dropped_profiles(&self, reason: &str, n: usize) {
        self.add(&DROPPED_PROFILES, Some(reason), n);
    }

    fn dropped_labels(&self, reason: &str, n: usize) {
        self.add(&DROPPED_LABELS, Some(reason), n);
    }

    fn record(&self, s: &PrepareStats) {
        self.dropped_profiles("too_old", s.dropped_too_old);
        self.dropped_profiles("too_new", s.dropped_too_new);
        self.dropped_profiles("empty", s.dropped_empty);
        self.dropped_profiles("no_sample_type", s.dropped_no_sample_type);
        self.add(
            &DROPPED_SAMPLES,
            Some("oversize"),
            s.dropped_oversize_samples,
        );
        self.dropped_labels("limit", s.labels.over_limit);
        self.dropped_labels("reserved", s.labels.reserved);
        self.dropped_labels("duplicate", s.labels.duplicates);
        self.dropped_labels("name_too_long", s.labels.names_too_long);
        self.dropped_labels("unsupported_value", s.labels.unsupported_values);
        self.add(&TRUNCATED_LABEL_VALUES, None, s.labels.values_truncated);
        self.add(&DROPPED_SAMPLE_LABELS, None, s.sample_labels_dropped);
        self.add(&SPLIT_PROFILES, None, s.split_profiles);
    }

    fn rejected_series(&self, n: usize) {
        self.add(&REJECTED_SERIES, None, n);
    }
}

/// Sends batches to Pyroscope's Push API.
pub struct PushSender {
    client: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    basic_auth: Option<(String, String)>,
    bearer_token: Option<String>,
    tenant_id: Option<String>,
    gzip: bool,
    prepare: PrepareOptions,
    max_request_size: usize,
    retry: RetryConfig,
    metrics: Metrics,
    shutdown: CancellationToken,
    shutdown_seen: std::sync::OnceLock<Instant>,
    id: String,
}

impl PushSender {
    pub fn new(cfg: &PyroscopeConfig, ctx: &Context) -> Result<PushSender, PyroscopeBuildError> {
        let url = cfg.push_url().map_err(PyroscopeBuildError::settings)?;
        let client = crate::http_client::http_client(&cfg.tls, cfg.timeout)
            .map_err(PyroscopeBuildError::settings)?;
        let headers =
            profcol_settings::header_map(&cfg.headers).map_err(PyroscopeBuildError::settings)?;
        Ok(PushSender {
            client,
            url,
            headers,
            basic_auth: cfg
                .basic_auth
                .as_ref()
                .map(|b| (b.username.clone(), b.password.clone())),
            bearer_token: cfg.bearer_token.clone(),
            tenant_id: cfg.tenant_id.clone(),
            gzip: cfg.compression == Compression::Gzip,
            prepare: PrepareOptions {
                labels: profcol_pdata::pyroscope::series::LabelConfig {
                    external_labels: cfg
                        .external_labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    sanitize_label_names: cfg.sanitize_label_names,
                    max_label_names: cfg.max_label_names_per_series,
                    ..Default::default()
                },
                max_profile_size_bytes: cfg.max_profile_size_bytes,
                max_samples_per_profile: cfg.max_samples_per_profile,
                max_labels_per_sample: cfg.max_labels_per_sample,
                reject_older_than: cfg.reject_older_than,
                reject_newer_than: cfg.reject_newer_than,
            },
            max_request_size: cfg.max_request_size,
            retry: cfg.retry_on_failure.clone(),
            metrics: Metrics {
                telemetry: ctx.telemetry.clone(),
                id: ctx.id.to_string(),
            },
            shutdown: ctx.shutdown.clone(),
            shutdown_seen: std::sync::OnceLock::new(),
            id: ctx.id.to_string(),
        })
    }

    /// The tenant for a batch: `tenant_id`, else the batch's `x-scope-orgid` metadata (unless
    /// `headers` sets `X-Scope-OrgID` itself).
    fn tenant(&self, batch: &Batch) -> Option<String> {
        if let Some(t) = &self.tenant_id {
            return Some(t.clone());
        }
        if self.headers.contains_key("x-scope-orgid") {
            return None;
        }
        let t = batch.metadata(TENANT_METADATA_KEY).first()?.trim();
        if t.is_empty() || reqwest::header::HeaderValue::from_str(t).is_err() {
            return None;
        }
        Some(t.to_owned())
    }

    /// Time left for retries once shutdown began (`None` while running).
    fn shutdown_left(&self) -> Option<Duration> {
        if !self.shutdown.is_cancelled() {
            return None;
        }
        let seen = *self.shutdown_seen.get_or_init(Instant::now);
        Some(SHUTDOWN_GRACE.saturating_sub(seen.elapsed()))
    }

    /// How early before its deadline a pprof counts as too old (covers the request's own time).
    fn window_margin(&self) -> Duration {
        (self.prepare.reject_older_than / 10).min(Duration::from_secs(5))
    }

    /// One POST; the error says whether to retry.
    async fn post(&self, body: Vec<u8>, tenant: Option<&str>) -> Result<(), SendError> {
        let mut req = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/proto")
            .header("Connect-Protocol-Version", "1")
            .body(body);
        if self.gzip {
            req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        if let Some(t) = tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        if let Some((u, p)) = &self.basic_auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(t) = &self.bearer_token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|source| PushError::Request {
            url: self.url.clone(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let ra = profcol_settings::retry::retry_after(resp.headers());
        let bytes = resp.bytes().await.unwrap_or_default();
        let err: ConnectError = serde_json::from_slice(&bytes).unwrap_or_else(|_| ConnectError {
            code: String::new(),
            message: String::from_utf8_lossy(&bytes).chars().take(512).collect(),
        });
        Err(PushError::Status {
            status,
            code: err.code,
            url: self.url.clone(),
            message: err.message,
            retry_after: ra,
        }
        .into())
    }

    /// Sends one request's series, retrying per `retry_on_failure` and dropping pprofs that would
    /// arrive after their ingestion deadline.
    async fn send_request(
        &self,
        mut series: Vec<PreparedSeries>,
        tenant: Option<&str>,
    ) -> Result<(), SendError> {
        let start = Instant::now();
        let mut interval = self.retry.initial_interval;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let late = push::retain_fresh(&mut series, SystemTime::now() + self.window_margin());
            if late > 0 {
                self.metrics.dropped_profiles("ingestion_window", late);
                tracing::warn!(exporter = %self.id, profiles = late, "dropping profiles that are now outside Pyroscope's ingestion window");
            }
            if series.is_empty() {
                return Err(PushError::OutsideWindow.into());
            }
            let raw = push::to_request(&series).encode_to_vec();
            let body = if self.gzip {
                Compression::Gzip
                    .compress(&raw)
                    .map_err(PushError::Compress)?
            } else {
                raw
            };
            let e = match self.post(body, tenant).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !e.is_retryable() {
                self.metrics.rejected_series(series.len());
                tracing::error!(exporter = %self.id, series = series.len(), error = %e, "Pyroscope rejected the request; not retrying");
                return Err(e);
            }
            if !self.retry.enabled {
                return Err(e);
            }
            let jitter = 1.0 + self.retry.randomization_factor * (2.0 * jitter_unit() - 1.0);
            let mut wait = interval.mul_f64(jitter.max(0.0));
            if let Some(ra) = e.retry_after() {
                wait = wait.max(ra);
            }
            if !self.retry.max_elapsed_time.is_zero() {
                let left = self.retry.max_elapsed_time.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(e);
                }
                wait = wait.min(left);
            }
            if let Some(left) = self.shutdown_left() {
                if left.is_zero() {
                    return Err(e);
                }
                wait = wait.min(left);
            }
            // Data that would be too old by the next attempt is not worth waiting for.
            let next = SystemTime::now() + wait + self.window_margin();
            let late = push::retain_fresh(&mut series, next);
            if late > 0 {
                self.metrics.dropped_profiles("ingestion_window", late);
                tracing::warn!(exporter = %self.id, profiles = late, "not retrying profiles that would fall outside Pyroscope's ingestion window");
            }
            if series.is_empty() {
                return Err(PushError::TooLateToRetry(e).into());
            }
            tracing::warn!(exporter = %self.id, attempt, kind = %e.kind(), error = %e, retry_in = ?wait, "Push failed, will retry");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shutdown.cancelled(), if self.shutdown_left().is_none() => {}
            }
            interval = interval
                .mul_f64(self.retry.multiplier)
                .min(self.retry.max_interval);
        }
    }
}

impl Sender for PushSender {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let (series, stats) = push::prepare(&batch.request, &self.prepare, SystemTime::now());
            self.metrics.record(&stats);
            if stats.renamed_sample_types > 0 {
                tracing::debug!(exporter = %self.id, renamed = stats.renamed_sample_types, "sample types containing '-' renamed with '_' (Pyroscope rejects '-')");
            }
            let dropped = stats.dropped_too_old + stats.dropped_too_new;
            if dropped > 0 {
                tracing::warn!(exporter = %self.id, too_old = stats.dropped_too_old, too_new = stats.dropped_too_new, "dropping profiles outside Pyroscope's ingestion window");
            }
            if series.is_empty() {
                if stats.pprofs > 0 && stats.dropped_empty < stats.pprofs {
                    return Err(PushError::NothingToSend {
                        pprofs: stats.pprofs,
                        too_old: stats.dropped_too_old,
                        too_new: stats.dropped_too_new,
                        no_sample_type: stats.dropped_no_sample_type,
                        oversize: stats.dropped_oversize_samples,
                    }
                    .into());
                }
                return Ok(());
            }
            let tenant = self.tenant(batch);
            let requests = push::pack(series, self.max_request_size);
            let total = requests.len();
            let mut delivered = 0usize;
            let mut last: Option<SendError> = None;
            let mut failed = 0usize;
            for r in requests {
                match self.send_request(r, tenant.as_deref()).await {
                    Ok(()) => delivered += 1,
                    Err(e) => {
                        failed += 1;
                        last = Some(e);
                    }
                }
            }
            let Some(e) = last else {
                return Ok(());
            };
            let e = if total > 1 {
                ConsumeError::from(PushError::Partly {
                    failed,
                    total,
                    last: e,
                })
            } else {
                e
            };
            // Retrying the batch upstream would re-send what was delivered.
            Err(if delivered > 0 {
                e.with_kind(ErrorKind::Permanent)
            } else {
                e
            })
        })
    }
}

#[cfg(test)]
mod tests;
