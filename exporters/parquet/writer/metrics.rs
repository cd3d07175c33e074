//! The `parquet` exporter's own metrics (beside the exporter helper's `otelcol_exporter_*`).

use profcol_pipeline::{Counter, Gauge, MetricDef, Telemetry};

/// The exporter's own metrics (beside the exporter helper's `otelcol_exporter_*`).
#[derive(Clone, Default)]
pub struct Metrics {
    pub files_created: Counter,
    pub files_closed: [Counter; 6],
    pub rows_written: Counter,
    pub bytes_written: Counter,
    pub row_groups: [Counter; 5],
    pub open_writers: Gauge,
    pub buffered_bytes: Gauge,
    pub dropped_rows: Counter,
    pub pending_uploads: Gauge,
    pub upload_failures: Counter,
}

/// Why a file closed (label `reason` of `files_closed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    Size = 0,
    Age = 1,
    Hour = 2,
    Evicted = 3,
    Memory = 4,
    Shutdown = 5,
}

const CLOSE_REASONS: [&str; 6] = ["size", "age", "hour", "evicted", "memory", "shutdown"];

/// Why buffered rows were written as a row group (label `reason` of `flushes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushReason {
    Rows = 0,
    Bytes = 1,
    Interval = 2,
    Memory = 3,
    Close = 4,
}

const FLUSH_REASONS: [&str; 5] = ["rows", "bytes", "interval", "memory", "close"];

/// The metric definitions, declared once.
pub const FILES_CLOSED: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_files_closed",
    "Parquet files completed (made visible or queued for upload), by reason.",
    "{file}",
);
pub const FLUSHES: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_flushes",
    "Buffered rows written to an open Parquet file as row groups, by reason.",
    "{flush}",
);
pub const FILES_CREATED: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_files_created",
    "Parquet files opened (in staging).",
    "{file}",
);
pub const ROWS_WRITTEN: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_rows_written",
    "Rows (samples) in Parquet files that became visible.",
    "{row}",
);
pub const BYTES_WRITTEN: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_bytes_written",
    "Bytes of Parquet files that became visible (both tables).",
    "By",
);
pub const OPEN_WRITERS: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_open_writers",
    "Open partitions (each one file being written).",
    "{writer}",
);
pub const BUFFERED_BYTES: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_buffered_bytes",
    "Memory held by buffered rows and per-file tables (estimate).",
    "By",
);
pub const DROPPED_ROWS: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_dropped_rows",
    "Rows lost because a file could not be written or committed.",
    "{row}",
);
pub const PENDING_UPLOADS: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_pending_uploads",
    "Finished files waiting for (another attempt at) their upload.",
    "{file}",
);
pub const UPLOAD_FAILURES: MetricDef = MetricDef::new(
    "profcol_exporter_parquet_upload_failures",
    "Failed upload attempts (retried later).",
    "{attempt}",
);

impl Metrics {
    pub fn new(t: &Telemetry, id: &str) -> Metrics {
        let l = [("exporter", id)];
        let closed = |r: &str| t.counter_of(&FILES_CLOSED, &[("exporter", id), ("reason", r)]);
        let flushed = |r: &str| t.counter_of(&FLUSHES, &[("exporter", id), ("reason", r)]);
        Metrics {
            files_created: t.counter_of(&FILES_CREATED, &l),
            files_closed: CLOSE_REASONS.map(closed),
            rows_written: t.counter_of(&ROWS_WRITTEN, &l),
            bytes_written: t.counter_of(&BYTES_WRITTEN, &l),
            row_groups: FLUSH_REASONS.map(flushed),
            open_writers: t.gauge_of(&OPEN_WRITERS, &l),
            buffered_bytes: t.gauge_of(&BUFFERED_BYTES, &l),
            dropped_rows: t.counter_of(&DROPPED_ROWS, &l),
            pending_uploads: t.gauge_of(&PENDING_UPLOADS, &l),
            upload_failures: t.counter_of(&UPLOAD_FAILURES, &l),
        }
    }
}
