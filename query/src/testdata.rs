//! Writes Parquet trees in the spec's layout (`<base>/profiles/service_name=/date=/hour=/part-….parquet`):
//! a small profile with known answers for tests, and large synthetic data for benches.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, TimestampNanosecondArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::{KeyValue, SortingColumn};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use crate::error::{QueryError, Result};
use crate::rows::{FrameRow, RowsBuilder, SampleRow, date_hour};
use crate::schema;

/// Nanoseconds of 2026-11-25T10:00:00Z, the hour the known profile's v1 samples fall in.
pub const KNOWN_V1_TIME: i64 = 1_795_600_800_000_000_000;
/// One hour later: the v2 samples.
pub const KNOWN_V2_TIME: i64 = KNOWN_V1_TIME + 3_600_000_000_000;
/// CPU nanoseconds per unit of the known profile's stack weights (one 10 ms sample).
pub const KNOWN_UNIT: i64 = 10_000_000;

/// Writer properties as the spec's exporter uses them: zstd(3), 128 Ki-row row groups, page
/// statistics, bloom filters on the id columns, and the partition values in the metadata.
pub fn writer_properties(service: &str, date: &str, hour: &str) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_max_row_group_bytes(Some(128 << 20))
        .set_sorting_columns(Some(vec![
            // (profile_type, time), as the rows are written.
            SortingColumn {
                column_idx: 1,
                descending: false,
                nulls_first: false,
            },
            SortingColumn {
                column_idx: 0,
                descending: false,
                nulls_first: false,
            },
        ]))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                "profcol.schema_version".into(),
                schema::SCHEMA_VERSION.to_owned(),
            ),
            KeyValue::new("profcol.service_name".into(), service.to_owned()),
            KeyValue::new("profcol.date".into(), date.to_owned()),
            KeyValue::new("profcol.hour".into(), hour.to_owned()),
        ]));
    for c in ["trace_id", "span_id", "profile_id"] {
        b = b.set_column_bloom_filter_enabled(ColumnPath::from(c), true);
    }
    b.build()
}

/// The directory of one partition under `base`.
pub fn partition_dir(base: &Path, service: &str, date: &str, hour: &str) -> PathBuf {
    base.join("profiles")
        .join(format!("service_name={service}"))
        .join(format!("date={date}"))
        .join(format!("hour={hour}"))
}

/// Writes `batches` (file schema) as one Parquet file of a partition; returns its path.
pub fn write_file(
    base: &Path,
    service: &str,
    date: &str,
    hour: &str,
    name: &str,
    batches: &[RecordBatch],
) -> Result<PathBuf> {
    let dir = partition_dir(base, service, date, hour);
    std::fs::create_dir_all(&dir).map_err(|e| QueryError::io(dir.display().to_string(), e))?;
    let path = dir.join(name);
    let f = File::create(&path).map_err(|e| QueryError::io(path.display().to_string(), e))?;
    let mut w = ArrowWriter::try_new(
        f,
        schema::file_schema(),
        Some(writer_properties(service, date, hour)),
    )?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(path)
}

/// Groups rows by partition (service, date, hour) and writes one file per partition.
pub fn write_rows(base: &Path, rows: &[SampleRow]) -> Result<Vec<PathBuf>> {
    let mut parts: HashMap<(String, String, String), Vec<&SampleRow>> = HashMap::new();
    for r in rows {
        let (d, h) = date_hour(r.time);
        parts
            .entry((r.service_name.clone(), d, h))
            .or_default()
            .push(r);
    }
    let mut keys: Vec<_> = parts.keys().cloned().collect();
    keys.sort();
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let mut rs = parts.remove(k).unwrap_or_default();
        rs.sort_by_key(|a| (a.profile_type(), a.time));
        let mut b = RowsBuilder::new();
        for r in rs {
            b.append(r);
        }
        let min_time = i64::MIN;
        let name = format!("part-{min_time}-{i:08}.parquet");
        out.push(write_file(base, &k.0, &k.1, &k.2, &name, &[b.finish()?])?);
    }
    Ok(out)
}

/// A sample of the known profile: `stack` root first, like a folded line.
fn cpu_row(service: &str, version: &str, time: i64, stack: &str, units: i64) -> SampleRow {
    let frames: Vec<FrameRow> = stack.split(';').rev().map(FrameRow::named).collect();
    let mut r = SampleRow {
        time,
        sample_type: "cpu".into(),
        sample_unit: "nanoseconds".into(),
        period_type: Some("cpu".into()),
        period_unit: Some("nanoseconds".into()),
        period: Some(KNOWN_UNIT),
        value: units * KNOWN_UNIT,
        frames,
        profile_time: time,
        profile_duration_nanos: Some(60_000_000_000),
        service_name: service.into(),
        scope_name: Some("profcol-testdata".into()),
        ..Default::default()
    };
    r.set_service_version(version);
    r.resource_attributes = vec![
        ("service.name".into(), service.into()),
        ("service.version".into(), version.into()),
    ];
    r
}

/// The known profile's CPU stacks (root first) and weights in [`KNOWN_UNIT`]s, per version.
/// Each version totals 100 units. v1: `hot_loop` 50 %, `regressed_fn` 5 %; v2: `hot_loop` 30 %,
/// `regressed_fn` 40 %. `recurse` appears three times in one stack (its total counts once).
pub const KNOWN_V1: &[(&str, i64)] = &[
    ("main;serve;hot_loop", 50),
    ("main;serve;parse;json_decode", 20),
    ("main;serve;regressed_fn", 5),
    ("main;gc", 11),
    ("main;serve;compress", 10),
    ("main;recurse;recurse;recurse", 4),
];
/// See [`KNOWN_V1`].
pub const KNOWN_V2: &[(&str, i64)] = &[
    ("main;serve;hot_loop", 30),
    ("main;serve;parse;json_decode", 12),
    ("main;serve;regressed_fn", 40),
    ("main;gc", 6),
    ("main;serve;compress", 8),
    ("main;recurse;recurse;recurse", 4),
];

/// The known profile as rows: service `shop` v1 (hour 10) and v2 (hour 11) CPU samples, one row
/// per 10 ms unit (so stacks repeat over rows and files), plus noise the filters must remove:
/// an `alloc_space` profile in `shop` where `allocator` is hottest, and a service `cart` where
/// `cart_hot` is hottest.
pub fn known_rows() -> Vec<SampleRow> {
    let mut rows = Vec::new();
    for (version, base, stacks) in [
        ("v1", KNOWN_V1_TIME, KNOWN_V1),
        ("v2", KNOWN_V2_TIME, KNOWN_V2),
    ] {
        let mut t = base;
        for (stack, units) in stacks {
            for _ in 0..*units {
                t += 1_000_000_000;
                rows.push(cpu_row("shop", version, t, stack, 1));
            }
        }
        // Memory: a different profile type whose hottest leaf is `allocator`, 1 GiB of it.
        let mut m = cpu_row(
            "shop",
            version,
            base + 5_000_000_000,
            "main;serve;allocator",
            0,
        );
        m.sample_type = "alloc_space".into();
        m.sample_unit = "bytes".into();
        m.period_type = Some("space".into());
        m.period_unit = Some("bytes".into());
        m.period = Some(524_288);
        m.value = 1 << 30;
        rows.push(m);
    }
    rows.push(cpu_row(
        "cart",
        "v1",
        KNOWN_V1_TIME + 7_000_000_000,
        "main;cart_hot",
        500,
    ));
    rows
}

/// Writes [`known_rows`] under `base`; returns the files.
pub fn write_known(base: &Path) -> Result<Vec<PathBuf>> {
    write_rows(base, &known_rows())
}

/// Tiny deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The shape of synthetic data.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub samples: usize,
    pub distinct_stacks: usize,
    pub functions: usize,
    pub max_depth: usize,
    pub services: usize,
    pub rows_per_file: usize,
    pub seed: u64,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic {
            samples: 10_000_000,
            distinct_stacks: 5_000,
            functions: 2_000,
            max_depth: 32,
            services: 4,
            rows_per_file: 256 * 1024,
            seed: 42,
        }
    }
}

/// The function the synthetic data makes hottest by self time (stack 0 is its leaf and is drawn
/// most often).
pub const SYNTHETIC_HOTTEST: &str = "pkg.hottest";

/// Writes synthetic CPU samples: `distinct_stacks` stacks over `functions` names, drawn with a
/// skewed distribution (stack 0, leaf [`SYNTHETIC_HOTTEST`], most often), spread over
/// `services` services and consecutive hours of 2026-11-25/26. Returns the files written.
pub fn write_synthetic(base: &Path, spec: &Synthetic) -> Result<Vec<PathBuf>> {
    let mut rng = Rng(spec.seed);
    let names: Vec<String> = (0..spec.functions)
        .map(|i| {
            if i == 0 {
                SYNTHETIC_HOTTEST.to_owned()
            } else {
                format!("pkg{}.(*Type{}).method{}", i % 37, i % 101, i)
            }
        })
        .collect();
    // The stack table: one row per distinct stack, file schema.
    let mut b = RowsBuilder::new();
    for s in 0..spec.distinct_stacks {
        let depth = 4 + rng.below((spec.max_depth.max(5) - 4) as u64) as usize;
        let mut frames: Vec<FrameRow> = Vec::with_capacity(depth);
        for d in 0..depth {
            // Leaf first: the leaf of stack 0 is the hottest function; roots are shared.
            let idx = if d == 0 && s == 0 {
                0
            } else if d + 3 >= depth {
                1 + (depth - d)
            } else {
                1 + rng.below(spec.functions as u64 - 1) as usize
            };
            let name = &names[idx.min(spec.functions - 1)];
            frames.push(FrameRow {
                function_name: name.clone(),
                system_name: name.clone(),
                file_name: format!("src/pkg{}/file{}.go", idx % 37, idx % 211),
                function_start_line: (idx % 500) as i64,
                line: (idx % 500) as i64 + 7,
                address: 0x40_0000 + (idx as u64) * 0x40,
                mapping_file: "/usr/bin/app".into(),
                mapping_build_id: "b1d0".into(),
                mapping_limit: 0x80_0000,
                frame_type: "go".into(),
                ..Default::default()
            });
        }
        b.append(&SampleRow {
            time: 0,
            sample_type: "cpu".into(),
            sample_unit: "nanoseconds".into(),
            period_type: Some("cpu".into()),
            period_unit: Some("nanoseconds".into()),
            period: Some(10_000_000),
            value: 0,
            frames,
            profile_time: 0,
            profile_duration_nanos: Some(60_000_000_000),
            scope_name: Some("profcol-synthetic".into()),
            promoted: [
                None,
                Some("v1".into()),
                Some("prod".into()),
                Some(format!("host-{}", s % 8)),
                None,
                None,
                None,
            ],
            ..Default::default()
        });
    }
    let table = b.finish()?;
    let time_idx = table.schema().index_of("time")?;
    let value_idx = table.schema().index_of("value")?;
    let pt_idx = table.schema().index_of("profile_time")?;
    let mut out = Vec::new();
    let mut written = 0usize;
    let mut file_no = 0usize;
    let start = KNOWN_V1_TIME;
    while written < spec.samples {
        let n = spec.rows_per_file.min(spec.samples - written);
        let service = format!("svc{}", file_no % spec.services.max(1));
        let hour_start = start + (file_no / spec.services.max(1)) as i64 * 3_600_000_000_000;
        let (date, hour) = date_hour(hour_start);
        // Skewed draw: half the time the low stacks (0 most of all), else uniform.
        let idx: UInt32Array = (0..n)
            .map(|_| {
                let r = rng.next_u64();
                let s = if r.is_multiple_of(4) {
                    0
                } else if r.is_multiple_of(2) {
                    (r >> 8) % (spec.distinct_stacks as u64).min(16)
                } else {
                    (r >> 8) % spec.distinct_stacks as u64
                };
                s as u32
            })
            .collect();
        let mut cols: Vec<ArrayRef> = table
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &idx, None))
            .collect::<std::result::Result<_, _>>()?;
        let times = TimestampNanosecondArray::from(
            (0..n)
                .map(|i| hour_start + (i as i64) * (3_600_000_000_000 / n as i64))
                .collect::<Vec<i64>>(),
        )
        .with_timezone("UTC");
        cols[time_idx] = Arc::new(times.clone());
        cols[pt_idx] = Arc::new(times);
        cols[value_idx] = Arc::new(Int64Array::from_value(10_000_000, n));
        let batch = RecordBatch::try_new(table.schema(), cols)?;
        let name = format!("part-{hour_start}-{file_no:08}.parquet");
        out.push(write_file(base, &service, &date, &hour, &name, &[batch])?);
        written += n;
        file_no += 1;
    }
    Ok(out)
}
