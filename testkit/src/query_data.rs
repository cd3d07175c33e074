//! Parquet trees in profcol's layout (`<base>/profiles/service_name=/date=/hour=/part-….parquet`)
//! for the query tests and the query bench: a small profile with known answers, and large
//! synthetic data.
//!
//! Both are built as OTLP requests and written through the layout crate (the `parquet`
//! exporter's flattening and writer settings), so the test data is what the exporter writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::synth::kv;
use arrow::array::{ArrayRef, AsArray, Int64Array, TimestampNanosecondArray, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::TimestampNanosecondType;
use arrow::record_batch::RecordBatch;
use profcol_layout::partition::{NSEC_PER_HOUR, PartKey};
use profcol_layout::props::{FileOptions, write_profiles_file};
use profcol_layout::{LayoutError, flatten};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::common::{InstrumentationScope, KeyValue};
use profcol_pdata::dict::DictionaryBuilder;
use profcol_pdata::proto::{
    Function, Line, Location, Mapping, Profile, ResourceProfiles, Sample, ScopeProfiles, ValueType,
};
use profcol_pdata::resource::Resource;

/// Nanoseconds of 2026-11-25T10:00:00Z, the hour the known profile's v1 samples fall in.
pub const KNOWN_V1_TIME: i64 = 1_795_600_800_000_000_000;
/// One hour later: the v2 samples.
pub const KNOWN_V2_TIME: i64 = KNOWN_V1_TIME + 3_600_000_000_000;
/// CPU nanoseconds per unit of the known profile's stack weights (one 10 ms sample).
pub const KNOWN_UNIT: i64 = 10_000_000;

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

/// The function the synthetic data makes hottest by self time (stack 0 is its leaf and is drawn
/// most often).
pub const SYNTHETIC_HOTTEST: &str = "pkg.hottest";

fn value_type(d: &mut DictionaryBuilder, ty: &str, unit: &str) -> Option<ValueType> {
    Some(ValueType {
        type_strindex: d.string(ty),
        unit_strindex: d.string(unit),
    })
}

fn resource(attrs: Vec<KeyValue>, scope: &str, profiles: Vec<Profile>) -> ResourceProfiles {
    ResourceProfiles {
        resource: Some(Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_profiles: vec![ScopeProfiles {
            scope: Some(InstrumentationScope {
                name: scope.into(),
                ..Default::default()
            }),
            profiles,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// A location of the known profile: function `name` in `name.go`, line 1, a `go` frame.
fn named_location(d: &mut DictionaryBuilder, name: &str) -> i32 {
    let n = d.string(name);
    let file = d.string(&format!("{name}.go"));
    let function_index = d.function(Function {
        name_strindex: n,
        system_name_strindex: n,
        filename_strindex: file,
        start_line: 0,
    });
    let frame_type = d.attribute_str("profile.frame.type", "go");
    d.location(Location {
        mapping_index: 0,
        address: 0,
        lines: vec![Line {
            function_index,
            line: 1,
            column: 0,
        }],
        attribute_indices: vec![frame_type],
    })
}

/// A profile of one sample of `value` on `stack` (root first, like a folded line) at `time`: one
/// profile per row, so each row's `profile_time` is its `time` and it has no observation
/// timestamps.
fn one_sample(
    d: &mut DictionaryBuilder,
    types: [(&str, &str); 2],
    period: i64,
    time: i64,
    stack: &str,
    value: i64,
) -> Profile {
    let locations: Vec<i32> = stack
        .split(';')
        .rev()
        .map(|name| named_location(d, name))
        .collect();
    let stack_index = d.stack(locations);
    Profile {
        sample_type: value_type(d, types[0].0, types[0].1),
        period_type: value_type(d, types[1].0, types[1].1),
        period,
        samples: vec![Sample {
            stack_index,
            values: vec![value],
            ..Default::default()
        }],
        time_unix_nano: u64::try_from(time).unwrap_or(0),
        duration_nano: 60_000_000_000,
        ..Default::default()
    }
}

const CPU: [(&str, &str); 2] = [("cpu", "nanoseconds"), ("cpu", "nanoseconds")];

/// The known profile as one request: service `shop` v1 (hour 10) and v2 (hour 11) CPU samples,
/// one sample per 10 ms unit (so stacks repeat over rows and files), plus noise the filters must
/// remove: an `alloc_space` profile in `shop` where `allocator` is hottest (1 GiB), and a
/// service `cart` where `cart_hot` is hottest.
pub fn known_request() -> ExportProfilesServiceRequest {
    let mut d = DictionaryBuilder::new();
    let mut resources = Vec::new();
    for (version, base, stacks) in [
        ("v1", KNOWN_V1_TIME, KNOWN_V1),
        ("v2", KNOWN_V2_TIME, KNOWN_V2),
    ] {
        let mut profiles = Vec::new();
        let mut t = base;
        for (stack, units) in stacks {
            for _ in 0..*units {
                t += 1_000_000_000;
                profiles.push(one_sample(&mut d, CPU, KNOWN_UNIT, t, stack, KNOWN_UNIT));
            }
        }
        profiles.push(one_sample(
            &mut d,
            [("alloc_space", "bytes"), ("space", "bytes")],
            524_288,
            base + 5_000_000_000,
            "main;serve;allocator",
            1 << 30,
        ));
        let attrs = vec![kv("service.name", "shop"), kv("service.version", version)];
        resources.push(resource(attrs, "profcol-testdata", profiles));
    }
    let cart = one_sample(
        &mut d,
        CPU,
        KNOWN_UNIT,
        KNOWN_V1_TIME + 7_000_000_000,
        "main;cart_hot",
        500 * KNOWN_UNIT,
    );
    let attrs = vec![kv("service.name", "cart"), kv("service.version", "v1")];
    resources.push(resource(attrs, "profcol-testdata", vec![cart]));
    ExportProfilesServiceRequest {
        resource_profiles: resources,
        dictionary: Some(d.finish()),
    }
}

/// The smallest `time` of a `profiles` batch (0 when empty).
fn min_time(b: &RecordBatch) -> i64 {
    b.column(0)
        .as_primitive_opt::<TimestampNanosecondType>()
        .and_then(arrow::compute::min)
        .unwrap_or(0)
}

/// Writes one `profiles` file of `key`'s partition under `base`; returns its path.
fn write_partition(
    base: &Path,
    key: &PartKey,
    name: &str,
    batch: &RecordBatch,
) -> Result<PathBuf, LayoutError> {
    let dir = base.join("profiles").join(key.dir());
    std::fs::create_dir_all(&dir).map_err(|source| LayoutError::Io {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(name);
    write_profiles_file(
        &path,
        &FileOptions::default(),
        key,
        std::slice::from_ref(batch),
    )?;
    Ok(path)
}

/// Flattens validated requests as the `parquet` exporter does and writes one file per partition
/// (in partition order: service, then hour). Returns the files.
pub fn write_requests(
    base: &Path,
    reqs: &[ExportProfilesServiceRequest],
) -> Result<Vec<PathBuf>, LayoutError> {
    let mut out = Vec::new();
    for (i, (key, batch)) in flatten(reqs, 0)?.iter().enumerate() {
        let name = format!("part-{}-{i:08}.parquet", min_time(batch));
        out.push(write_partition(base, key, &name, batch)?);
    }
    Ok(out)
}

/// Writes [`known_request`] under `base`; returns the files (cart, shop hour 10, shop hour 11).
pub fn write_known(base: &Path) -> Result<Vec<PathBuf>, LayoutError> {
    write_requests(base, &[known_request()])
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

/// One row per distinct stack (row `s` is stack `s`): `distinct_stacks` stacks over `functions`
/// names, leaf first, the leaf of stack 0 being [`SYNTHETIC_HOTTEST`], spread over 8 hosts.
fn stack_table(spec: &Synthetic, rng: &mut Rng) -> Result<RecordBatch, LayoutError> {
    let functions = spec.functions.max(2);
    let names: Vec<String> = (0..functions)
        .map(|i| {
            if i == 0 {
                SYNTHETIC_HOTTEST.to_owned()
            } else {
                format!("pkg{}.(*Type{}).method{}", i % 37, i % 101, i)
            }
        })
        .collect();
    let mut d = DictionaryBuilder::new();
    let build_id = d.attribute_str("process.executable.build_id.gnu", "b1d0");
    let app = d.string("/usr/bin/app");
    let mapping = d.mapping(Mapping {
        memory_start: 0,
        memory_limit: 0x80_0000,
        file_offset: 0,
        filename_strindex: app,
        attribute_indices: vec![build_id],
    });
    let go = d.attribute_str("profile.frame.type", "go");
    let mut by_host: Vec<Vec<Profile>> = vec![Vec::new(); 8];
    for s in 0..spec.distinct_stacks {
        let depth = 4 + rng.below((spec.max_depth.max(5) - 4) as u64) as usize;
        let mut locations = Vec::with_capacity(depth);
        for level in 0..depth {
            // Leaf first: the leaf of stack 0 is the hottest function; roots are shared.
            let idx = if level == 0 && s == 0 {
                0
            } else if level + 3 >= depth {
                1 + (depth - level)
            } else {
                1 + rng.below(functions as u64 - 1) as usize
            };
            let idx = idx.min(functions - 1);
            let name = d.string(&names[idx]);
            let file = d.string(&format!("src/pkg{}/file{}.go", idx % 37, idx % 211));
            let function_index = d.function(Function {
                name_strindex: name,
                system_name_strindex: name,
                filename_strindex: file,
                start_line: (idx % 500) as i64,
            });
            locations.push(d.location(Location {
                mapping_index: mapping,
                address: 0x40_0000 + (idx as u64) * 0x40,
                lines: vec![Line {
                    function_index,
                    line: (idx % 500) as i64 + 7,
                    column: 0,
                }],
                attribute_indices: vec![go],
            }));
        }
        let stack_index = d.stack(locations);
        // Stack s at time s (ns): the sorted rows come out in stack order.
        by_host[s % 8].push(Profile {
            sample_type: value_type(&mut d, "cpu", "nanoseconds"),
            period_type: value_type(&mut d, "cpu", "nanoseconds"),
            period: 10_000_000,
            samples: vec![Sample {
                stack_index,
                values: vec![0],
                ..Default::default()
            }],
            time_unix_nano: u64::try_from(KNOWN_V1_TIME).unwrap_or(0) + s as u64,
            duration_nano: 60_000_000_000,
            ..Default::default()
        });
    }
    let resources = by_host
        .into_iter()
        .enumerate()
        .map(|(h, profiles)| {
            let attrs = vec![
                kv("service.version", "v1"),
                kv("deployment.environment", "prod"),
                kv("host.name", &format!("host-{h}")),
            ];
            resource(attrs, "profcol-synthetic", profiles)
        })
        .collect();
    let req = ExportProfilesServiceRequest {
        resource_profiles: resources,
        dictionary: Some(d.finish()),
    };
    let mut parts = flatten([&req], 0)?;
    match parts.pop() {
        Some((_, b)) if parts.is_empty() => Ok(b),
        _ => Err(LayoutError::Arrow(arrow::error::ArrowError::ComputeError(
            "synthetic stacks span more than one partition".into(),
        ))),
    }
}

/// Writes synthetic CPU samples: `distinct_stacks` stacks over `functions` names, drawn with a
/// skewed distribution (stack 0, leaf [`SYNTHETIC_HOTTEST`], most often), spread over
/// `services` services and consecutive hours of 2026-11-25/26. Returns the files written.
pub fn write_synthetic(base: &Path, spec: &Synthetic) -> Result<Vec<PathBuf>, LayoutError> {
    let mut rng = Rng(spec.seed);
    let table = stack_table(spec, &mut rng)?;
    let time_idx = table.schema().index_of("time")?;
    let value_idx = table.schema().index_of("value")?;
    let pt_idx = table.schema().index_of("profile_time")?;
    let mut out = Vec::new();
    let mut written = 0usize;
    let mut file_no = 0usize;
    let stacks = spec.distinct_stacks.max(1) as u64;
    while written < spec.samples {
        let n = spec.rows_per_file.min(spec.samples - written);
        let key = PartKey {
            service: format!("svc{}", file_no % spec.services.max(1)),
            hour: KNOWN_V1_TIME / NSEC_PER_HOUR + (file_no / spec.services.max(1)) as i64,
        };
        let hour_start = key.hour * NSEC_PER_HOUR;
        // Skewed draw: half the time the low stacks (0 most of all), else uniform.
        let idx: UInt32Array = (0..n)
            .map(|_| {
                let r = rng.next_u64();
                let s = if r.is_multiple_of(4) {
                    0
                } else if r.is_multiple_of(2) {
                    (r >> 8) % stacks.min(16)
                } else {
                    (r >> 8) % stacks
                };
                s as u32
            })
            .collect();
        let mut cols: Vec<ArrayRef> = table
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &idx, None))
            .collect::<Result<_, _>>()?;
        let times = TimestampNanosecondArray::from(
            (0..n)
                .map(|i| hour_start + (i as i64) * (NSEC_PER_HOUR / n as i64))
                .collect::<Vec<i64>>(),
        )
        .with_timezone("UTC");
        cols[time_idx] = Arc::new(times.clone());
        cols[pt_idx] = Arc::new(times);
        cols[value_idx] = Arc::new(Int64Array::from_value(10_000_000, n));
        let batch = RecordBatch::try_new(table.schema(), cols)?;
        let name = format!("part-{hour_start}-{file_no:08}.parquet");
        out.push(write_partition(base, &key, &name, &batch)?);
        written += n;
        file_no += 1;
    }
    Ok(out)
}
