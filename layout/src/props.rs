//! Parquet writer settings of every file, and a plain writer of finished batches.
//!
//! The layout spec (`specs/parquet.md`) asks for: zstd, row groups of at most 128 Ki rows,
//! page statistics, bloom filters on `trace_id`, `span_id` and `profile_id`, rows sorted by
//! (`profile_type`, `time`) with the sort recorded in the file, larger dictionary pages when a
//! partition has very many distinct functions, and the partition values (with a schema version)
//! in each file's key-value metadata, so a single file describes itself.

use std::fs::File;
use std::path::Path;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::LayoutError;
use crate::partition::PartKey;
use crate::schema::{self, BLOOM_COLUMNS, SCHEMA_VERSION, meta};

/// `denormalized` (frames in every row) or `normalized` (a `stacks` file beside each `profiles`
/// file), recorded as `profcol.layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileLayout {
    #[default]
    Denormalized,
    Normalized,
}

impl FileLayout {
    pub fn name(self) -> &'static str {
        match self {
            FileLayout::Denormalized => "denormalized",
            FileLayout::Normalized => "normalized",
        }
    }
}

/// Which table a file holds, recorded as `profcol.table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// One row per sample, sorted by (`profile_type`, `time`).
    Profiles,
    /// One row per distinct stack (normalized layout), sorted by `stack_id`.
    Stacks,
}

impl TableKind {
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Profiles => "profiles",
            TableKind::Stacks => "stacks",
        }
    }
}

/// The settings that shape a file.
#[derive(Debug, Clone, Copy)]
pub struct FileOptions {
    pub layout: FileLayout,
    /// zstd level, 1..=22.
    pub compression_level: i32,
    /// Rows per row group (at most).
    pub row_group_rows: usize,
}

impl Default for FileOptions {
    /// The exporter's defaults: zstd(3), 128 Ki-row row groups.
    fn default() -> Self {
        FileOptions {
            layout: FileLayout::Denormalized,
            compression_level: 3,
            row_group_rows: 128 * 1024,
        }
    }
}

fn ascending(column_idx: i32) -> SortingColumn {
    SortingColumn {
        column_idx,
        descending: false,
        nulls_first: false,
    }
}

/// Writer properties of one file of `key`'s partition. `frame_dict_bytes` (the size of the
/// largest frame-string dictionary) sizes the dictionary pages of the frame string lists.
pub fn writer_properties(
    o: &FileOptions,
    key: &PartKey,
    table: TableKind,
    frame_dict_bytes: usize,
) -> Result<WriterProperties, ParquetError> {
    let (date, hour) = key.date_hour();
    let level = ZstdLevel::try_new(o.compression_level)?;
    let mut b = WriterProperties::builder()
        .set_created_by(format!("profcol {}", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(o.row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(meta::SCHEMA_VERSION.into(), SCHEMA_VERSION.to_owned()),
            KeyValue::new(meta::LAYOUT.into(), o.layout.name().to_owned()),
            KeyValue::new(meta::TABLE.into(), table.name().to_owned()),
            KeyValue::new(meta::SERVICE_NAME.into(), key.service.clone()),
            KeyValue::new(meta::DATE.into(), date),
            KeyValue::new(meta::HOUR.into(), hour),
        ]));
    match table {
        TableKind::Profiles => {
            // Leaf columns 0 and 1 are `time` and `profile_type` in the profiles schemas.
            b = b.set_sorting_columns(Some(vec![ascending(1), ascending(0)]));
            for c in BLOOM_COLUMNS {
                let p = ColumnPath::from(c);
                b = b
                    .set_column_bloom_filter_enabled(p.clone(), true)
                    .set_column_bloom_filter_fpp(p, 0.01);
            }
        }
        TableKind::Stacks => b = b.set_sorting_columns(Some(vec![ascending(0)])),
    }
    // Parquet falls back from dictionary to plain encoding once a column chunk's dictionary
    // passes the page size limit (1 MiB by default); give the frame columns room for every
    // distinct function of a busy partition.
    //
    // Min/max statistics of the frame strings prune nothing (every page holds whole stacks) and
    // cost as much as the rest of the encoding (a string comparison per element), so those six
    // list columns have none.
    let limit = (frame_dict_bytes.saturating_mul(2)).clamp(1 << 20, 64 << 20);
    for f in schema::frame_fields() {
        if matches!(f.data_type(), DataType::List(i) if matches!(i.data_type(), DataType::Dictionary(..)))
        {
            let path = ColumnPath::new(vec![f.name().clone(), "list".into(), "item".into()]);
            b = b
                .set_column_dictionary_page_size_limit(path.clone(), limit)
                .set_column_statistics_enabled(path, EnabledStatistics::None);
        }
    }
    Ok(b.build())
}

/// Writes sorted `profiles` batches of one partition as one Parquet file with the exporter's
/// writer settings (no staging, no rolling, no row counts in the metadata): the encoding step
/// alone, for benchmarks, tools and test data. Returns the file size.
pub fn write_profiles_file(
    path: &Path,
    o: &FileOptions,
    key: &PartKey,
    batches: &[RecordBatch],
) -> Result<u64, LayoutError> {
    let Some(first) = batches.first() else {
        return Ok(0);
    };
    let io = |source| LayoutError::Io {
        path: path.to_owned(),
        source,
    };
    let f = File::create(path).map_err(io)?;
    let props = writer_properties(o, key, TableKind::Profiles, 0)?;
    let mut w = ArrowWriter::try_new(f, first.schema(), Some(props))?;
    for b in batches {
        w.write(b)?;
    }
    let file = w.into_inner()?;
    Ok(file.metadata().map_err(io)?.len())
}
