//! `remote` mode: scrapes `/debug/pprof/*` of each target on an interval (with jitter), turns
//! cumulative profiles into deltas (the first scrape only primes), disables a profile type on a
//! target after repeated 404s, and counts every failure without stopping the other targets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use profcol_pdata::pprof;
use profcol_pipeline::{Context, Counter};
use tokio_util::sync::CancellationToken;

use super::Ingest;
use super::config::{Job, RemoteMode, Target};
use super::delta::DeltaState;
use crate::metrics::{SCRAPER_ERRORED, SCRAPER_SCRAPED};

/// The URL of one profile type on one target.
pub fn url(cfg: &RemoteMode, target: &Target, job: &Job) -> String {
    let base = target.endpoint.trim().trim_end_matches('/');
    let base = if base.starts_with("http://") || base.starts_with("https://") {
        base.to_owned()
    } else {
        format!("{}://{base}", cfg.scheme)
    };
    let mut u = format!(
        "{base}{}{}",
        cfg.path_prefix.trim_end_matches('/'),
        job.path
    );
    if job.seconds {
        u.push_str(if u.contains('?') { "&" } else { "?" });
        u.push_str(&format!(
            "seconds={}",
            cfg.delta_profiling_duration.as_secs().max(1)
        ));
    }
    u
}

/// A stable offset in [0, interval) per target and type, so scrapes spread out.
fn jitter(key: &str, interval: Duration) -> Duration {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

struct Loop {
    url: String,
    job: Job,
    labels: BTreeMap<String, String>,
    timeout: Duration,
    interval: Duration,
    disable_after: u32,
    ingest: Arc<Ingest>,
    client: reqwest::Client,
    scraped: Counter,
    errored: Counter,
}

#[derive(Debug)]
enum ScrapeError {
    NotFound,
    Other(String),
}

impl Loop {
    async fn fetch(&self) -> Result<Vec<u8>, ScrapeError> {
        let resp = self
            .client
            .get(&self.url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| ScrapeError::Other(format!("GET {}: {e}", self.url)))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ScrapeError::NotFound);
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(ScrapeError::Other(format!(
                "GET {}: HTTP {status}: {}",
                self.url,
                body.chars().take(200).collect::<String>()
            )));
        }
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ScrapeError::Other(format!("GET {}: reading body: {e}", self.url)))?;
        if body.is_empty() {
            return Err(ScrapeError::Other(format!("GET {}: empty body", self.url)));
        }
        if ct.starts_with("text/") {
            let text = String::from_utf8_lossy(&body);
            return Err(ScrapeError::Other(format!(
                "GET {}: expected a pprof body, got {ct}: {}",
                self.url,
                text.chars().take(200).collect::<String>()
            )));
        }
        Ok(body.to_vec())
    }

    async fn run(self, stop: CancellationToken) {
        let mut delta = DeltaState::default();
        let mut not_found = 0u32;
        let first = jitter(&self.url, self.interval);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(first) => {}
        }
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let result = tokio::select! {
                _ = stop.cancelled() => return,
                r = self.fetch() => r,
            };
            let body = match result {
                Ok(b) => {
                    not_found = 0;
                    b
                }
                Err(ScrapeError::NotFound) => {
                    self.errored.add(1);
                    not_found += 1;
                    if not_found >= self.disable_after {
                        tracing::warn!(url = %self.url, profile = self.job.name, "profile endpoint answered 404 {not_found} times; no longer scraping it");
                        return;
                    }
                    continue;
                }
                Err(ScrapeError::Other(e)) => {
                    self.errored.add(1);
                    tracing::warn!(profile = self.job.name, error = %e, "scrape failed");
                    continue;
                }
            };
            let profile = match pprof::decode(&body, self.ingest.limit) {
                Ok((p, _)) => p,
                Err(e) => {
                    self.errored.add(1);
                    self.ingest.count_invalid("scrape");
                    tracing::warn!(url = %self.url, error = %e, "scraped body is not a valid pprof");
                    continue;
                }
            };
            let profile = if self.job.client_delta {
                match delta.apply(&profile) {
                    Some(d) => d,
                    None => {
                        tracing::debug!(url = %self.url, "first scrape of a cumulative profile primes the delta");
                        self.scraped.add(1);
                        continue;
                    }
                }
            } else {
                profile
            };
            self.scraped.add(1);
            match self
                .ingest
                .ingest_profile(&profile, &self.labels, "scrape")
                .await
            {
                Ok(n) => tracing::debug!(url = %self.url, samples = n, "scraped"),
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "scraped profile not accepted")
                }
            }
        }
    }
}

/// The scrapers could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrapeStartError {
    #[error("building the scrape client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Starts one loop per (target, profile type).
pub(super) fn start(
    cfg: RemoteMode,
    ingest: Arc<Ingest>,
    ctx: &Context,
    stop: CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ScrapeStartError> {
    let client = reqwest::Client::builder()
        .user_agent(format!("profcol/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(ScrapeStartError::Client)?;
    let id = ctx.id.to_string();
    let mut handles = Vec::new();
    for target in &cfg.targets {
        for job in cfg.profiles.jobs() {
            let mut labels = target.labels.clone();
            let instance = target
                .endpoint
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_owned();
            labels
                .entry("service.instance.id".into())
                .or_insert(instance);
            let scraper = [("receiver", id.as_str()), ("scraper", job.name)];
            let timeout = if job.seconds {
                cfg.scrape_timeout + cfg.delta_profiling_duration
            } else {
                cfg.scrape_timeout
            };
            let l = Loop {
                url: url(&cfg, target, &job),
                labels,
                timeout,
                interval: cfg.scrape_interval,
                disable_after: cfg.disable_after_not_found.max(1),
                ingest: ingest.clone(),
                client: client.clone(),
                scraped: ctx.telemetry.counter_of(&SCRAPER_SCRAPED, &scraper),
                errored: ctx.telemetry.counter_of(&SCRAPER_ERRORED, &scraper),
                job,
            };
            tracing::info!(url = %l.url, interval = ?l.interval, "scraping pprof");
            handles.push(tokio::spawn(l.run(stop.clone())));
        }
    }
    Ok(handles)
}
