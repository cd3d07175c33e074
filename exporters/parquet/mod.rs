//! The `parquet` exporter: one row per sample in hive-partitioned Parquet files
//! (`<base>/profiles/service_name=…/date=…/hour=…/part-<min_time_ns>-<uuid>.parquet`), on a local
//! disk or in object storage. The layout (schema, rows, `stack_id`, writer settings) is the
//! `profcol-layout` crate's; this module rolls, stages and commits the files. See README.md.

pub mod config;
mod error;
pub mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::{Batch, ExportProfilesServiceRequest};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::exporter_helper::{QueuedExporter, SendError, Sender};
use profcol_pipeline::{
    BuildError, Built, Component, ComponentInfo, Context, ExporterFactory, StartError, TaskSet,
};
use profcol_settings::ComponentConfig;

pub use config::{Layout, ParquetConfig, Scheme, Target};
pub use error::{LostRows, classify_store, classify_write};
pub use writer::{Metrics, Settings, State, WriteError};

use writer::{Finished, commit_local, io, is_stale};

pub struct ParquetFactory;

impl ExporterFactory for ParquetFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Exporter,
            "parquet",
            "writes hive-partitioned Parquet (one row per sample) to a directory or object storage",
        )
    }

    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        ParquetConfig::validate(section)
    }

    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError> {
        let cfg = ParquetConfig::load(section)?;
        let id = ctx.id.to_string();
        let metrics = Metrics::new(&ctx.telemetry, &id);
        let exporter = ParquetExporter::new(&cfg, &id, metrics)
            .map_err(|e| BuildError::component(&ctx.id, e))?;
        let tick = exporter.tick_interval();
        let queued = QueuedExporter::new(
            &ctx,
            exporter.clone(),
            cfg.sending_queue.clone(),
            cfg.retry_on_failure.clone(),
        );
        let component = ParquetComponent {
            queued: queued.clone(),
            exporter,
            tick,
            // A tick may be uploading: give it time to finish before the final flush.
            ticker: TaskSet::with_wait(Duration::from_secs(300)),
        };
        Ok((queued, Box::new(component)))
    }
}

/// The exporter's lifecycle: the queue's, plus a timer that applies the time-based rules.
struct ParquetComponent {
    queued: Arc<QueuedExporter<ParquetExporter>>,
    exporter: ParquetExporter,
    tick: Duration,
    ticker: TaskSet,
}

impl Component for ParquetComponent {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        Box::pin(async move {
            self.queued.start().await?;
            let exporter = self.exporter.clone();
            let stop = self.ticker.stop_token();
            let every = self.tick;
            self.ticker.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(every) => exporter.tick().await,
                    }
                }
            });
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.ticker.shutdown().await;
            // Drains the queue, then calls `ParquetExporter::close`, which completes every file.
            self.queued.shutdown().await;
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Where complete files go.
pub enum Dest {
    Local(PathBuf),
    Object {
        store: Arc<dyn ObjectStore>,
        /// Key prefix without leading or trailing `/` (may be empty).
        prefix: String,
        /// Shown in logs.
        url: String,
    },
}

/// Finished files in `<staging>/ready/<pid>-<uuid>/` waiting for their upload: `<i>.parquet`
/// with its object key in `<i>.key`, uploaded in order of `i` (stacks before profiles).
struct ReadyGroup {
    dir: PathBuf,
    files: Vec<(PathBuf, String, u64)>,
    rows: u64,
    attempts: u32,
    not_before: Instant,
}

struct Shared {
    settings: Arc<Settings>,
    metrics: Metrics,
    dest: Dest,
    state: Mutex<State>,
    pending: Mutex<Vec<ReadyGroup>>,
    closed: AtomicBool,
}

/// The writer behind the exporter queue. Cheap to clone.
#[derive(Clone)]
pub struct ParquetExporter {
    shared: Arc<Shared>,
}

const PART_SIZE: usize = 16 << 20;

/// What the exporter reports (each names the path, option or file it is about).
#[derive(Debug, thiserror::Error)]
pub enum ParquetExporterError {
    #[error("path: {0}")]
    Path(String),
    #[error("storage.{key}: {source}")]
    StorageOption {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{url}: {source}")]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parquet exporter is stopped")]
    Stopped,
    #[error("parquet writer task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Rows that could not be written or committed (each names the file).
    #[error("{}", error::join(.0))]
    Lost(Vec<LostRows>),
}

/// An upload of one finished file failed.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {source}")]
pub struct UploadError {
    key: String,
    #[source]
    source: UploadFailure,
}

#[derive(Debug, thiserror::Error)]
enum UploadFailure {
    #[error("invalid object key: {0}")]
    Key(#[from] object_store::path::Error),
    #[error("reading the staged file: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

fn unix_ns(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Builds the object store for an object-storage `path`: the provider's builder from the
/// environment, then the URL, then the `storage` options.
pub fn build_store(
    cfg: &ParquetConfig,
) -> Result<(Arc<dyn ObjectStore>, String, String), ParquetExporterError> {
    let Target::Object {
        url,
        scheme,
        prefix,
    } = cfg
        .target()
        .map_err(|e| ParquetExporterError::Path(e.to_string()))?
    else {
        return Err(ParquetExporterError::Path(format!(
            "{:?} is not an object-store URL",
            cfg.path
        )));
    };
    let opt_err = |k: &str| {
        let key = k.to_owned();
        move |source| ParquetExporterError::StorageOption { key, source }
    };
    let store_err = |source| ParquetExporterError::Store {
        url: url.clone(),
        source,
    };
    let opts = cfg
        .storage
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), config::option_text(v)));
    let store: Arc<dyn ObjectStore> = match scheme {
        Scheme::S3 => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(&url);
            for (k, v) in opts {
                b = b.with_config(k.parse().map_err(opt_err(&k))?, v);
            }
            Arc::new(b.build().map_err(store_err)?)
        }
        Scheme::Gcs => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(&url);
            for (k, v) in opts {
                b = b.with_config(k.parse().map_err(opt_err(&k))?, v);
            }
            Arc::new(b.build().map_err(store_err)?)
        }
        Scheme::Azure => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(&url);
            for (k, v) in opts {
                b = b.with_config(k.parse().map_err(opt_err(&k))?, v);
            }
            Arc::new(b.build().map_err(store_err)?)
        }
    };
    Ok((store, prefix, url))
}

impl ParquetExporter {
    /// An exporter for `cfg` (object stores are built from `cfg.path` and `cfg.storage`).
    pub fn new(
        cfg: &ParquetConfig,
        id: &str,
        metrics: Metrics,
    ) -> Result<ParquetExporter, ParquetExporterError> {
        match cfg
            .target()
            .map_err(|e| ParquetExporterError::Path(e.to_string()))?
        {
            Target::Local(base) => {
                let staging = cfg
                    .staging_dir
                    .as_ref()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| base.join(".staging"));
                Self::with_dest(cfg, Dest::Local(base), staging, metrics)
            }
            Target::Object { .. } => {
                let (store, prefix, url) = build_store(cfg)?;
                let staging = cfg
                    .staging_dir
                    .as_ref()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| default_object_staging(&format!("{url}/{prefix}"), id));
                Self::with_dest(cfg, Dest::Object { store, prefix, url }, staging, metrics)
            }
        }
    }

    /// An exporter writing to `dest` with files staged in `staging`. Deletes the staging files
    /// of processes that were killed mid-write (they were never visible) and picks up finished
    /// files of theirs still waiting for upload.
    pub fn with_dest(
        cfg: &ParquetConfig,
        dest: Dest,
        staging: PathBuf,
        metrics: Metrics,
    ) -> Result<ParquetExporter, ParquetExporterError> {
        let create = |path: &Path| {
            std::fs::create_dir_all(path).map_err(|source| ParquetExporterError::CreateDir {
                path: path.to_owned(),
                source,
            })
        };
        if let Dest::Local(base) = &dest {
            create(base)?;
        }
        create(&staging)?;
        // A live writer touches its file at least once per `max_file_age` (it closes by then);
        // files of other hosts idle much longer than that were abandoned.
        let abandon_after = cfg.max_file_age.max(cfg.flush_interval) * 2 + Duration::from_secs(600);
        let removed = writer::clean_staging(&staging, abandon_after);
        if removed > 0 {
            tracing::info!(staging = %staging.display(), files = removed, "removed incomplete Parquet files of a previous run");
        }
        let settings = Arc::new(Settings::new(cfg, staging.clone()));
        let pending = match &dest {
            Dest::Object { .. } => scan_ready(&staging.join("ready"), abandon_after),
            Dest::Local(_) => Vec::new(),
        };
        if !pending.is_empty() {
            tracing::info!(
                files = pending.len(),
                "found finished Parquet files of a previous run; uploading them"
            );
        }
        metrics
            .pending_uploads
            .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
        Ok(ParquetExporter {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(settings.clone(), metrics.clone())),
                settings,
                metrics,
                dest,
                pending: Mutex::new(pending),
                closed: AtomicBool::new(false),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// How often the time rules are checked.
    pub fn tick_interval(&self) -> Duration {
        let s = &self.shared.settings;
        (s.flush_interval / 2)
            .min(s.max_file_age / 2)
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(10))
    }

    /// Runs `f` on the state in a blocking thread, then commits what closed.
    async fn with_state<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> R + Send + 'static,
    ) -> Result<(R, Vec<LostRows>), ParquetExporterError> {
        let shared = self.shared.clone();
        let (r, ready, errors) = tokio::task::spawn_blocking(move || {
            let mut st = lock(&shared.state);
            let r = f(&mut st);
            let finished = std::mem::take(&mut st.finished);
            let mut errors: Vec<LostRows> = std::mem::take(&mut st.errors)
                .into_iter()
                .map(LostRows::Writer)
                .collect();
            drop(st);
            let ready = shared.commit(finished, &mut errors);
            (r, ready, errors)
        })
        .await?;
        if !ready.is_empty() {
            lock(&self.shared.pending).extend(ready);
            self.upload_pending(false).await;
        }
        Ok((r, errors))
    }

    /// Appends a request (the blocking part runs off the async threads). Errors name files whose
    /// rows were lost.
    pub async fn write(
        &self,
        req: Arc<ExportProfilesServiceRequest>,
        received: SystemTime,
    ) -> Result<usize, ParquetExporterError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(ParquetExporterError::Stopped);
        }
        let fallback = unix_ns(received);
        let (n, errors) = self
            .with_state(move |st| {
                if st.stopped {
                    return None;
                }
                st.set_clock(Instant::now(), unix_ns(SystemTime::now()));
                Some(st.append(&req, fallback))
            })
            .await?;
        let Some(n) = n else {
            return Err(ParquetExporterError::Stopped);
        };
        if errors.is_empty() {
            Ok(n)
        } else {
            Err(ParquetExporterError::Lost(errors))
        }
    }

    /// Applies the time rules now and retries due uploads.
    pub async fn tick(&self) {
        let _ = self
            .with_state(|st| {
                st.set_clock(Instant::now(), unix_ns(SystemTime::now()));
                st.tick()
            })
            .await;
        self.upload_pending(false).await;
    }

    /// Completes every file and uploads what waits (shutdown). Later writes fail.
    pub async fn finish(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let _ = self
            .with_state(|st| {
                st.stopped = true;
                st.set_clock(Instant::now(), unix_ns(SystemTime::now()));
                st.close_all()
            })
            .await;
        self.upload_pending(true).await;
        let left = lock(&self.shared.pending).len();
        if left > 0 {
            tracing::error!(files = left, staging = %self.shared.settings.staging.display(), "finished Parquet files could not be uploaded; the next start uploads them");
        }
    }

    /// Uploads the ready groups that are due (all of them with `all`).
    async fn upload_pending(&self, all: bool) {
        let Dest::Object { store, prefix, url } = &self.shared.dest else {
            return;
        };
        let now = Instant::now();
        let due: Vec<ReadyGroup> = {
            let mut p = lock(&self.shared.pending);
            let (due, later): (Vec<_>, Vec<_>) =
                p.drain(..).partition(|g| all || g.not_before <= now);
            *p = later;
            due
        };
        for mut g in due {
            match upload_group(store.as_ref(), prefix, &mut g).await {
                Ok(bytes) => {
                    self.shared.metrics.rows_written.add(g.rows);
                    self.shared.metrics.bytes_written.add(bytes);
                    let _ = std::fs::remove_dir_all(&g.dir);
                }
                Err(e) => {
                    g.attempts += 1;
                    let backoff = Duration::from_secs(1 << g.attempts.min(8));
                    g.not_before = Instant::now() + backoff;
                    self.shared.metrics.upload_failures.add(1);
                    // Even a permanent failure keeps the file: it is complete on disk and an
                    // operator can fix the bucket or credentials; the next attempt may pass.
                    tracing::warn!(url = %url, error = %e, kind = %e.kind(), retry_in = ?backoff, "uploading a Parquet file failed; will retry");
                    lock(&self.shared.pending).push(g);
                }
            }
        }
        let n = lock(&self.shared.pending).len();
        self.shared
            .metrics
            .pending_uploads
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Runs a closure on the locked state (tests and benches).
    pub fn with_state_blocking<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.shared.state))
    }
}

impl Shared {
    /// Commits finished files: local ones are renamed into place; object-store ones move to the
    /// ready directory and are returned for upload.
    fn commit(&self, finished: Vec<Finished>, errors: &mut Vec<LostRows>) -> Vec<ReadyGroup> {
        let mut ready = Vec::new();
        for f in finished {
            let result = match &self.dest {
                Dest::Local(base) => commit_local(base, &f).map(|bytes| {
                    self.metrics.rows_written.add(f.rows);
                    self.metrics.bytes_written.add(bytes);
                }),
                Dest::Object { .. } => to_ready(&self.settings.staging, &f).map(|g| ready.push(g)),
            };
            if let Err(e) = result {
                for file in &f.files {
                    let _ = std::fs::remove_file(&file.staging);
                }
                self.metrics.dropped_rows.add(f.rows);
                let lost = LostRows::Commit(e);
                tracing::error!(rows = f.rows, error = %lost, kind = %lost.kind(), "parquet exporter lost rows");
                errors.push(lost);
            }
        }
        ready
    }
}

fn default_object_staging(url: &str, id: &str) -> PathBuf {
    let mut h = profcol_layout::StableHash::new();
    h.str(url);
    h.str(id);
    std::env::temp_dir()
        .join("profcol-parquet-staging")
        .join(format!("{:016x}", h.finish()))
}

fn object_key(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_owned()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// Moves a finished file group into `<staging>/ready/<pid>-<uuid>/`.
fn to_ready(staging: &Path, f: &Finished) -> Result<ReadyGroup, WriteError> {
    let dir = staging.join("ready").join(writer::owner_name());
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut files = Vec::new();
    for (i, file) in f.files.iter().enumerate() {
        let local = dir.join(format!("{i}.parquet"));
        std::fs::rename(&file.staging, &local)
            .map_err(io(format!("moving {}", file.staging.display())))?;
        let key_tmp = dir.join(format!("{i}.key.tmp"));
        std::fs::write(&key_tmp, &file.rel)
            .map_err(io(format!("writing {}", key_tmp.display())))?;
        std::fs::rename(&key_tmp, dir.join(format!("{i}.key")))
            .map_err(io(format!("writing {}", key_tmp.display())))?;
        files.push((local, file.rel.clone(), file.bytes));
    }
    std::fs::write(dir.join("rows"), f.rows.to_string())
        .map_err(io(format!("writing {}", dir.display())))?;
    Ok(ReadyGroup {
        dir,
        files,
        rows: f.rows,
        attempts: 0,
        not_before: Instant::now(),
    })
}

/// Ready groups left by processes that are gone.
fn scan_ready(ready: &Path, abandon_after: Duration) -> Vec<ReadyGroup> {
    let Ok(entries) = std::fs::read_dir(ready) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dir = e.path();
        let idle = e.metadata().ok().and_then(|m| writer::idle_for(&m));
        if !dir.is_dir() || !is_stale(&name, idle, abandon_after) {
            continue;
        }
        let mut files = Vec::new();
        for i in 0.. {
            let local = dir.join(format!("{i}.parquet"));
            let Ok(rel) = std::fs::read_to_string(dir.join(format!("{i}.key"))) else {
                break;
            };
            let Ok(m) = std::fs::metadata(&local) else {
                break;
            };
            files.push((local, rel, m.len()));
        }
        if files.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let rows = std::fs::read_to_string(dir.join("rows"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        out.push(ReadyGroup {
            dir,
            files,
            rows,
            attempts: 0,
            not_before: Instant::now(),
        });
    }
    out
}

/// Uploads a group's remaining files in order (each removed locally once stored). Returns the
/// bytes uploaded.
async fn upload_group(
    store: &dyn ObjectStore,
    prefix: &str,
    g: &mut ReadyGroup,
) -> Result<u64, UploadError> {
    let mut bytes = 0;
    while let Some((local, rel, size)) = g.files.first().cloned() {
        let key = object_key(prefix, &rel);
        let uploaded = match ObjectPath::parse(&key) {
            Ok(path) => upload_file(store, &path, &local, size).await,
            Err(e) => Err(e.into()),
        };
        uploaded.map_err(|source| UploadError { key, source })?;
        let _ = std::fs::remove_file(&local);
        g.files.remove(0);
        bytes += size;
    }
    Ok(bytes)
}

/// One object, visible only once complete: a single PUT for small files, else a multipart
/// upload (aborted on error).
async fn upload_file(
    store: &dyn ObjectStore,
    path: &ObjectPath,
    local: &Path,
    size: u64,
) -> Result<(), UploadFailure> {
    use tokio::io::AsyncReadExt;
    if size <= PART_SIZE as u64 {
        let data = tokio::fs::read(local).await?;
        store.put(path, data.into()).await?;
        return Ok(());
    }
    let upload = store.put_multipart(path).await?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let result: Result<(), UploadFailure> = async {
        let mut f = tokio::fs::File::open(local).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            w.wait_for_capacity(4).await?;
            w.write(&buf[..n]);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => w.finish().await.map(|_| ()).map_err(UploadFailure::from),
        Err(e) => {
            let _ = w.abort().await;
            Err(e)
        }
    }
}

impl Sender for ParquetExporter {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            self.write(batch.request.clone(), batch.context.received)
                .await
                .map(|_| ())
                .map_err(SendError::from)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.finish().await })
    }
}
