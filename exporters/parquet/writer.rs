//! Open partitions, their files and the rules that roll them: row groups (rows, bytes, interval,
//! memory), files (size, age, hour + grace, eviction, shutdown), staging and commit.
//!
//! Every file is written under the staging directory as `<pid>-<uuid>.tmp` and becomes visible
//! only when complete: a local file is renamed into place; for object storage the finished file
//! moves to `<staging>/ready/<pid>-<uuid>/` and is uploaded from there (see `mod.rs`).

use profcol_pdata::hash::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use profcol_layout::arrays::{profiles_batch, stacks_batch};
use profcol_layout::partition::PartKey;
use profcol_layout::props::{FileLayout, FileOptions, TableKind, writer_properties};
use profcol_layout::schema::{self, meta};
use profcol_layout::tables::{RowLimits, Rows, Tables, sorted_rows};
use profcol_layout::{LayoutError, Sink};

use super::config::Layout;

mod metrics;
mod staging;

pub use metrics::{CloseReason, FlushReason, Metrics};
pub use staging::{clean_staging, commit_local, idle_for, is_stale, owner_name};

/// A row group is written before its list columns pass this many elements (Arrow `List` offsets
/// are 32-bit).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// Errors writing or committing files.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> WriteError {
    let context = context.into();
    move |source| WriteError::Io { context, source }
}

/// Resolved settings.
pub struct Settings {
    pub layout: Layout,
    pub max_file_size: u64,
    pub max_file_age: Duration,
    pub hour_grace_period: Duration,
    pub max_open_writers: usize,
    pub row_group_rows: usize,
    pub row_group_bytes: u64,
    pub max_buffered_bytes: u64,
    pub flush_interval: Duration,
    pub compression_level: i32,
    /// Where files are written until complete.
    pub staging: PathBuf,
    pub profiles_schema: SchemaRef,
    pub stacks_schema: SchemaRef,
}

impl Settings {
    pub fn new(cfg: &super::config::ParquetConfig, staging: PathBuf) -> Settings {
        Settings {
            layout: cfg.layout,
            max_file_size: cfg.max_file_size,
            max_file_age: cfg.max_file_age,
            hour_grace_period: cfg.hour_grace_period,
            max_open_writers: cfg.max_open_writers,
            row_group_rows: cfg.row_group_rows,
            row_group_bytes: cfg.row_group_bytes,
            max_buffered_bytes: cfg.max_buffered_bytes,
            flush_interval: cfg.flush_interval,
            compression_level: cfg.compression_level,
            staging,
            profiles_schema: match cfg.layout {
                Layout::Denormalized => schema::profiles_schema(),
                Layout::Normalized => schema::normalized_profiles_schema(),
            },
            stacks_schema: schema::stacks_schema(),
        }
    }

    /// The settings that shape each file.
    pub fn file_options(&self) -> FileOptions {
        FileOptions {
            layout: match self.layout {
                Layout::Denormalized => FileLayout::Denormalized,
                Layout::Normalized => FileLayout::Normalized,
            },
            compression_level: self.compression_level,
            row_group_rows: self.row_group_rows,
        }
    }
}

/// One finished file in staging and where it belongs (relative to the base).
#[derive(Debug, Clone)]
pub struct FinishedFile {
    pub staging: PathBuf,
    /// `profiles/service_name=…/date=…/hour=…/part-<min>-<uuid>.parquet`
    pub rel: String,
    pub bytes: u64,
}

/// The files of one closed partition file, in commit order (stacks before profiles).
#[derive(Debug)]
pub struct Finished {
    pub files: Vec<FinishedFile>,
    pub rows: u64,
}

struct OpenFile {
    writer: ArrowWriter<File>,
    path: PathBuf,
}

/// A partition: its tables, buffered rows and (once a row group was written) its open file.
pub struct Partition {
    pub key: PartKey,
    pub tables: Tables,
    file: Option<OpenFile>,
    opened: Instant,
    opened_wall_ns: i64,
    buffer_since: Option<Instant>,
    last_use: u64,
}

fn staging_name() -> String {
    format!("{}.tmp", owner_name())
}

/// Writer properties of one file (the layout crate's, with this exporter's settings).
fn properties(
    s: &Settings,
    key: &PartKey,
    table: TableKind,
    dict_bytes: usize,
) -> Result<WriterProperties, WriteError> {
    Ok(writer_properties(
        &s.file_options(),
        key,
        table,
        dict_bytes,
    )?)
}

impl Partition {
    fn new(key: PartKey, now: Instant, wall_ns: i64, tick: u64) -> Partition {
        Partition {
            key,
            tables: Tables::default(),
            file: None,
            opened: now,
            opened_wall_ns: wall_ns,
            buffer_since: None,
            last_use: tick,
        }
    }

    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    fn open(&mut self, s: &Settings, m: &Metrics) -> Result<(), WriteError> {
        if self.file.is_some() {
            return Ok(());
        }
        std::fs::create_dir_all(&s.staging).map_err(io(format!(
            "creating staging directory {}",
            s.staging.display()
        )))?;
        let path = s.staging.join(staging_name());
        let f = File::create(&path).map_err(io(format!("creating {}", path.display())))?;
        let dict_bytes = self.tables.frame_dict_bytes();
        let writer = properties(s, &self.key, TableKind::Profiles, dict_bytes).and_then(|props| {
            Ok(ArrowWriter::try_new(
                f,
                s.profiles_schema.clone(),
                Some(props),
            )?)
        });
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        m.files_created.add(1);
        self.file = Some(OpenFile { writer, path });
        Ok(())
    }

    /// Writes the buffered rows (sorted) to the open file. Returns the rows written.
    pub fn flush(
        &mut self,
        s: &Settings,
        m: &Metrics,
        reason: FlushReason,
    ) -> Result<usize, WriteError> {
        let n = self.tables.rows.len();
        if n == 0 {
            return Ok(0);
        }
        let order = sorted_rows(&self.tables);
        let batch = profiles_batch(
            &self.tables,
            &order,
            &s.profiles_schema,
            s.layout == Layout::Denormalized,
        )?;
        self.open(s, m)?;
        if let Some(f) = self.file.as_mut() {
            f.writer.write(&batch)?;
            f.writer.flush()?;
        }
        self.tables.rows = Rows::default();
        self.buffer_since = None;
        m.row_groups[reason as usize].add(1);
        Ok(n)
    }

    pub fn file_size(&self) -> u64 {
        self.file
            .as_ref()
            .map(|f| f.writer.bytes_written() as u64)
            .unwrap_or(0)
    }

    /// Flushes, completes the file(s) in staging and returns them for commit; `None` when the
    /// partition never got a row.
    /// Completes the file (its staging file is removed when that fails).
    pub fn finish(mut self, s: &Settings, m: &Metrics) -> Result<Option<Finished>, WriteError> {
        if let Err(e) = self.flush(s, m, FlushReason::Close) {
            self.discard();
            return Err(e);
        }
        let Some(f) = self.file.take() else {
            return Ok(None);
        };
        let path = f.path.clone();
        let done = self.complete(f, s);
        if done.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        done.map(Some)
    }

    fn complete(&self, mut f: OpenFile, s: &Settings) -> Result<Finished, WriteError> {
        let t = &self.tables;
        let rows = t.total_rows;
        for (k, v) in [
            (meta::MIN_TIME, t.min_time.to_string()),
            (meta::MAX_TIME, t.max_time.to_string()),
            (meta::ROWS, rows.to_string()),
        ] {
            f.writer
                .append_key_value_metadata(KeyValue::new(k.into(), v));
        }
        let file = f.writer.into_inner()?;
        file.sync_all()
            .map_err(io(format!("syncing {}", f.path.display())))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(file);
        let uuid = uuid::Uuid::new_v4();
        let name = format!("part-{}-{uuid}.parquet", t.min_time);
        let dir = self.key.dir();
        let mut files = Vec::new();
        if s.layout == Layout::Normalized {
            files.push(write_stacks(
                s,
                &self.key,
                t,
                &format!("stacks/{dir}/{name}"),
            )?);
        }
        files.push(FinishedFile {
            staging: f.path,
            rel: format!("profiles/{dir}/{name}"),
            bytes,
        });
        Ok(Finished { files, rows })
    }

    /// Drops the partition and its staging file (after a write error).
    fn discard(self) {
        if let Some(f) = self.file {
            let path = f.path.clone();
            drop(f);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The `stacks` file of a normalized partition: every stack of its profiles file, by id.
fn write_stacks(
    s: &Settings,
    key: &PartKey,
    t: &Tables,
    rel: &str,
) -> Result<FinishedFile, WriteError> {
    let path = s.staging.join(staging_name());
    let result = (|| {
        let f = File::create(&path).map_err(io(format!("creating {}", path.display())))?;
        let props = properties(s, key, TableKind::Stacks, t.frame_dict_bytes())?;
        let mut w = ArrowWriter::try_new(f, s.stacks_schema.clone(), Some(props))?;
        let mut order: Vec<u32> = (0..t.stacks.len() as u32).collect();
        order.sort_by_key(|&i| t.stacks.ids.get(i as usize).copied().unwrap_or(0));
        for chunk in order.chunks(s.row_group_rows.max(1)) {
            w.write(&stacks_batch(t, chunk, &s.stacks_schema)?)?;
        }
        let file = w.into_inner()?;
        file.sync_all()
            .map_err(io(format!("syncing {}", path.display())))?;
        Ok(file.metadata().map(|m| m.len()).unwrap_or(0))
    })();
    match result {
        Ok(bytes) => Ok(FinishedFile {
            staging: path,
            rel: rel.to_owned(),
            bytes,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// All open partitions.
pub struct State {
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    parts: HashMap<PartKey, Partition>,
    tick: u64,
    now: Instant,
    wall_ns: i64,
    evicted: Vec<PartKey>,
    /// Files closed since the caller last took them.
    pub finished: Vec<Finished>,
    /// Errors since the caller last took them (the partition's rows are lost).
    pub errors: Vec<String>,
    /// Set by the exporter's shutdown under this state's lock: appends after it are refused, so
    /// no row lands in a file opened after the final close.
    pub stopped: bool,
}

impl State {
    pub fn new(settings: Arc<Settings>, metrics: Metrics) -> State {
        State {
            settings,
            metrics,
            parts: HashMap::default(),
            tick: 0,
            now: Instant::now(),
            wall_ns: 0,
            evicted: Vec::new(),
            stopped: false,
            finished: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Sets the clock used by the next operations (tests pass their own).
    pub fn set_clock(&mut self, now: Instant, wall_ns: i64) {
        self.now = now;
        self.wall_ns = wall_ns;
    }

    pub fn partitions(&self) -> impl Iterator<Item = &Partition> {
        self.parts.values()
    }

    pub fn buffered_bytes(&self) -> usize {
        self.parts.values().map(|p| p.tables.bytes()).sum()
    }

    /// Partitions with an open file or buffered rows.
    pub fn open_writers(&self) -> usize {
        self.parts.len()
    }

    fn update_gauges(&self) {
        self.metrics
            .open_writers
            .set(i64::try_from(self.parts.len()).unwrap_or(i64::MAX));
        self.metrics
            .buffered_bytes
            .set(i64::try_from(self.buffered_bytes()).unwrap_or(i64::MAX));
    }

    /// Removes a partition and completes its file.
    fn close(&mut self, key: &PartKey, reason: CloseReason) {
        let Some(p) = self.parts.remove(key) else {
            return;
        };
        let rows = p.tables.total_rows;
        match p.finish(&self.settings, &self.metrics) {
            Ok(Some(f)) => {
                self.metrics.files_closed[reason as usize].add(1);
                self.finished.push(f);
            }
            Ok(None) => {}
            Err(e) => self.fail(rows, format!("closing {}: {e}", key.dir())),
        }
    }

    fn fail(&mut self, rows: u64, msg: String) {
        self.metrics.dropped_rows.add(rows);
        tracing::error!(rows, error = %msg, "parquet exporter lost rows");
        self.errors.push(msg);
    }

    fn flush_one(&mut self, key: &PartKey, reason: FlushReason) {
        let Some(p) = self.parts.get_mut(key) else {
            return;
        };
        if let Err(e) = p.flush(&self.settings, &self.metrics, reason)
            && let Some(p) = self.parts.remove(key)
        {
            let rows = p.tables.total_rows;
            p.discard();
            self.fail(rows, format!("writing {}: {e}", key.dir()));
        }
    }

    /// Appends a validated request (`fallback_ns` for samples without a time), then applies the
    /// size rules. Returns the rows appended.
    pub fn append(
        &mut self,
        req: &profcol_pdata::ExportProfilesServiceRequest,
        fallback_ns: i64,
    ) -> usize {
        let n = profcol_layout::append_request(req, fallback_ns, self);
        self.after_append();
        n
    }

    fn after_append(&mut self) {
        let keys: Vec<PartKey> = self.parts.keys().cloned().collect();
        for k in &keys {
            let Some(p) = self.parts.get_mut(k) else {
                continue;
            };
            let r = &p.tables.rows;
            if r.is_empty() {
                continue;
            }
            if p.buffer_since.is_none() {
                p.buffer_since = Some(self.now);
            }
            self.flush_rule(k);
        }
        self.enforce_memory();
        self.update_gauges();
    }

    /// Writes `key`'s buffered rows as a row group when they reached the row or byte limit,
    /// then closes the file when it reached `max_file_size`.
    fn flush_rule(&mut self, key: &PartKey) {
        let s = self.settings.clone();
        let Some(r) = self.parts.get(key).map(|p| &p.tables.rows) else {
            return;
        };
        let reason = if r.len() >= s.row_group_rows || r.elements >= MAX_ELEMENTS {
            FlushReason::Rows
        } else if r.bytes as u64 >= s.row_group_bytes {
            FlushReason::Bytes
        } else {
            return;
        };
        self.flush_one(key, reason);
        self.close_if_full(key);
    }

    fn close_if_full(&mut self, key: &PartKey) {
        let max = self.settings.max_file_size;
        if self.parts.get(key).is_some_and(|p| p.file_size() >= max) {
            self.close(key, CloseReason::Size);
        }
    }

    /// Keeps buffered memory under `max_buffered_bytes`: first writes the largest buffers, then
    /// closes the partitions whose tables are largest.
    fn enforce_memory(&mut self) {
        let cap = self.settings.max_buffered_bytes as usize;
        let mut total = self.buffered_bytes();
        if total <= cap {
            return;
        }
        let mut by_rows: Vec<(usize, PartKey)> = self
            .parts
            .iter()
            .map(|(k, p)| (p.tables.rows.bytes, k.clone()))
            .collect();
        by_rows.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (bytes, k) in by_rows {
            if total <= cap || bytes == 0 {
                break;
            }
            self.flush_one(&k, FlushReason::Memory);
            self.close_if_full(&k);
            total = self.buffered_bytes();
        }
        if total <= cap {
            return;
        }
        let mut by_tables: Vec<(usize, PartKey)> = self
            .parts
            .iter()
            .map(|(k, p)| (p.tables.table_bytes(), k.clone()))
            .collect();
        by_tables.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (_, k) in by_tables {
            if total <= cap {
                break;
            }
            self.close(&k, CloseReason::Memory);
            total = self.buffered_bytes();
        }
    }

    /// Applies the time rules: flush interval, file age, hour end + grace.
    pub fn tick(&mut self) {
        let s = self.settings.clone();
        let grace = i64::try_from(s.hour_grace_period.as_nanos()).unwrap_or(i64::MAX);
        let mut closes = Vec::new();
        let mut flushes = Vec::new();
        for (k, p) in &self.parts {
            let due_hour = p
                .key
                .hour_end_ns()
                .max(p.opened_wall_ns)
                .saturating_add(grace);
            if self.wall_ns >= due_hour {
                closes.push((k.clone(), CloseReason::Hour));
            } else if self.now.saturating_duration_since(p.opened) >= s.max_file_age {
                closes.push((k.clone(), CloseReason::Age));
            } else if p
                .buffer_since
                .is_some_and(|t| self.now.saturating_duration_since(t) >= s.flush_interval)
            {
                flushes.push(k.clone());
            }
        }
        closes.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, reason) in closes {
            self.close(&k, reason);
        }
        for k in flushes {
            self.flush_one(&k, FlushReason::Interval);
            if self
                .parts
                .get(&k)
                .is_some_and(|p| p.file_size() >= s.max_file_size)
            {
                self.close(&k, CloseReason::Size);
            }
        }
        self.update_gauges();
    }

    /// Closes every partition (shutdown).
    pub fn close_all(&mut self) {
        let mut keys: Vec<PartKey> = self.parts.keys().cloned().collect();
        keys.sort();
        for k in keys {
            self.close(&k, CloseReason::Shutdown);
        }
        self.update_gauges();
    }
}

impl Sink for State {
    fn partition(&mut self, key: &PartKey) -> &mut Tables {
        self.tick += 1;
        if !self.parts.contains_key(key) {
            while self.parts.len() >= self.settings.max_open_writers {
                let Some(lru) = self
                    .parts
                    .values()
                    .min_by_key(|p| p.last_use)
                    .map(|p| p.key.clone())
                else {
                    break;
                };
                self.close(&lru, CloseReason::Evicted);
                self.evicted.push(lru);
            }
            let p = Partition::new(key.clone(), self.now, self.wall_ns, self.tick);
            self.parts.insert(key.clone(), p);
        }
        let tick = self.tick;
        let now = self.now;
        let p = self
            .parts
            .entry(key.clone())
            .or_insert_with(|| Partition::new(key.clone(), now, 0, tick));
        p.last_use = tick;
        &mut p.tables
    }

    fn take_evicted(&mut self) -> Vec<PartKey> {
        std::mem::take(&mut self.evicted)
    }

    fn limits(&self) -> RowLimits {
        RowLimits {
            rows: self.settings.row_group_rows,
            bytes: usize::try_from(self.settings.row_group_bytes).unwrap_or(usize::MAX),
            elements: MAX_ELEMENTS,
        }
    }

    fn flush_full(&mut self, key: &PartKey) {
        self.flush_rule(key);
        if !self.parts.contains_key(key) {
            self.evicted.push(key.clone());
        }
    }
}

/// Writes sorted `profiles` batches of one partition as a Parquet file with the exporter's
/// writer settings (no staging, no rolling): the encoding step alone, for benchmarks and tools.
/// Returns the file size.
pub fn write_parquet(
    path: &Path,
    s: &Settings,
    key: &PartKey,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<u64, LayoutError> {
    profcol_layout::props::write_profiles_file(path, &s.file_options(), key, batches)
}

/// Writes batches as an Arrow IPC file (to hand the exact table to other writers).
pub fn write_ipc(
    path: &Path,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<(), WriteError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let f = File::create(path).map_err(io(format!("creating {}", path.display())))?;
    let mut w =
        arrow::ipc::writer::FileWriter::try_new(std::io::BufWriter::new(f), &first.schema())?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(())
}
