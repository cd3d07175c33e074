//! Unit tests of the parquet exporter: every column read back with the `parquet` crate's reader,
//! the file rules (staging, rolling, caps), object storage through `object_store`'s in-memory
//! store, the normalized layout, the config, and per-stack totals of the real test profiles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type, TimestampNanosecondType, UInt64Type};
use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;
use profcol_config::Section;
use profcol_pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use profcol_pdata::proto::{
    Function, Line, Location, Mapping, Profile, ResourceProfiles, Sample, ScopeProfiles, ValueType,
};
use profcol_pdata::resource::Resource;
use profcol_pdata::{DictionaryBuilder, ExportProfilesServiceRequest};
use profcol_testkit::require::testdata;
use profcol_testkit::synth;

use super::config::parse_target;
use super::writer::{CloseReason, FlushReason, clean_staging};
use super::*;
use profcol_layout::StableHash;
use profcol_layout::partition::{PartKey, encode_value};
use profcol_layout::{arrays, schema};

const HOUR: i64 = 3_600_000_000_000;
/// 2023-11-14T22:13:20Z, the synth requests' profile time.
const T0: i64 = 1_700_000_000_000_000_000;

fn config(path: &str, f: impl FnOnce(&mut ParquetConfig)) -> ParquetConfig {
    let mut c = ParquetConfig {
        path: path.into(),
        ..Default::default()
    };
    f(&mut c);
    c
}

fn local(dir: &Path, f: impl FnOnce(&mut ParquetConfig)) -> ParquetExporter {
    let c = config(&dir.display().to_string(), f);
    ParquetExporter::new(&c, "parquet", Metrics::default()).expect("exporter")
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_bytes(b: Bytes) -> (Vec<RecordBatch>, Arc<ParquetMetaData>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(b).expect("parquet footer");
    let meta = builder.metadata().clone();
    let batches = builder
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches");
    (batches, meta)
}

fn read(path: &Path) -> (Vec<RecordBatch>, Arc<ParquetMetaData>) {
    read_bytes(Bytes::from(std::fs::read(path).expect("read file")))
}

fn kv_meta(meta: &ParquetMetaData, key: &str) -> Option<String> {
    meta.file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
}

fn dict_str(b: &RecordBatch, col: &str, i: usize) -> Option<String> {
    let c = b.column_by_name(col).expect(col);
    if c.is_null(i) {
        return None;
    }
    let d = c.as_dictionary::<Int32Type>();
    let k = d.keys().value(i) as usize;
    Some(d.values().as_string::<i32>().value(k).to_owned())
}

fn list_strs(b: &RecordBatch, col: &str, i: usize) -> Vec<String> {
    let l = b.column_by_name(col).expect(col).as_list::<i32>();
    let v = l.value(i);
    let d = v.as_dictionary::<Int32Type>();
    let s = d.values().as_string::<i32>();
    (0..d.len())
        .map(|j| s.value(d.keys().value(j) as usize).to_owned())
        .collect()
}

fn list_i64(b: &RecordBatch, col: &str, i: usize) -> Vec<i64> {
    let l = b.column_by_name(col).expect(col).as_list::<i32>();
    l.value(i).as_primitive::<Int64Type>().values().to_vec()
}

fn list_u64(b: &RecordBatch, col: &str, i: usize) -> Vec<u64> {
    let l = b.column_by_name(col).expect(col).as_list::<i32>();
    l.value(i).as_primitive::<UInt64Type>().values().to_vec()
}

fn list_bool(b: &RecordBatch, col: &str, i: usize) -> Vec<bool> {
    let l = b.column_by_name(col).expect(col).as_list::<i32>();
    let v = l.value(i);
    let bb = v.as_boolean();
    (0..bb.len()).map(|j| bb.value(j)).collect()
}

fn map_of(b: &RecordBatch, col: &str, i: usize) -> Option<BTreeMap<String, String>> {
    let c = b.column_by_name(col).expect(col);
    if c.is_null(i) {
        return None;
    }
    let m = c.as_map();
    let e = m.value(i);
    let k = e.column(0).as_string::<i32>();
    let v = e.column(1).as_string::<i32>();
    Some(
        (0..e.len())
            .map(|j| (k.value(j).to_owned(), v.value(j).to_owned()))
            .collect(),
    )
}

fn fixed(b: &RecordBatch, col: &str, i: usize) -> Option<Vec<u8>> {
    let c = b.column_by_name(col).expect(col);
    (!c.is_null(i)).then(|| c.as_fixed_size_binary().value(i).to_vec())
}

fn i64_at(b: &RecordBatch, col: &str, i: usize) -> Option<i64> {
    let c = b.column_by_name(col).expect(col);
    (!c.is_null(i)).then(|| c.as_primitive::<Int64Type>().value(i))
}

fn ts_at(b: &RecordBatch, col: &str, i: usize) -> i64 {
    b.column_by_name(col)
        .expect(col)
        .as_primitive::<TimestampNanosecondType>()
        .value(i)
}

/// The stack of row `i` as labels root → leaf (the view's `Frame::label` rule).
fn folded(b: &RecordBatch, i: usize) -> String {
    let names = list_strs(b, "frames_function_name", i);
    let maps = list_strs(b, "frames_mapping_file", i);
    let addrs = list_u64(b, "frames_address", i);
    let mut labels: Vec<String> = names
        .iter()
        .zip(&maps)
        .zip(&addrs)
        .map(|((n, m), a)| {
            if !n.is_empty() {
                n.clone()
            } else if !m.is_empty() {
                format!("{m}+0x{a:x}")
            } else {
                format!("0x{a:x}")
            }
        })
        .collect();
    labels.reverse();
    labels.join(";")
}

type Totals = BTreeMap<(String, String), i64>;

/// (profile_type, folded stack) → summed value, read back from files.
fn totals_of(batches: &[RecordBatch]) -> Totals {
    let mut t = Totals::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let pt = dict_str(b, "profile_type", i).unwrap_or_default();
            let v = b
                .column_by_name("value")
                .expect("value")
                .as_primitive::<Int64Type>()
                .value(i);
            *t.entry((pt, folded(b, i))).or_default() += v;
        }
    }
    t
}

/// The same from the input requests.
fn expected_totals<'a>(reqs: impl IntoIterator<Item = &'a ExportProfilesServiceRequest>) -> Totals {
    let mut t = Totals::new();
    for req in reqs {
        for v in profcol_pdata::samples(req) {
            let d = v.dict;
            let vt = |x: &Option<ValueType>| {
                x.as_ref()
                    .map(|x| (d.string(x.type_strindex), d.string(x.unit_strindex)))
                    .unwrap_or(("", ""))
            };
            let (st, su) = vt(&v.profile.sample_type);
            let (pt, pu) = vt(&v.profile.period_type);
            let mut labels: Vec<String> = v.frames().iter().map(|f| f.label()).collect();
            labels.reverse();
            *t.entry((format!("{st}:{su}:{pt}:{pu}"), labels.join(";")))
                .or_default() += v.total();
        }
    }
    t
}

fn read_all(dir: &Path) -> Vec<RecordBatch> {
    files_under(&dir.join("profiles"), ".parquet")
        .iter()
        .flat_map(|p| read(p).0)
        .collect()
}

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: s(v),
        key_strindex: 0,
    }
}

/// A request using every column: promoted resource attributes, scope, period, profile id,
/// duration, attributes, payload format, links, span names, observations, an inlined frame, a
/// mapping with a build id and a frame type.
fn rich_request() -> ExportProfilesServiceRequest {
    let mut d = DictionaryBuilder::new();
    let build = d.attribute_str("process.executable.build_id.gnu", "abc123");
    let app = d.string("/usr/bin/app");
    let mapping = d.mapping(Mapping {
        memory_start: 0x1000,
        memory_limit: 0x9000,
        file_offset: 0x200,
        filename_strindex: app,
        attribute_indices: vec![build],
    });
    let native = d.attribute_str("profile.frame.type", "native");
    let f = |d: &mut DictionaryBuilder, name: &str, file: &str, start: i64| {
        let n = d.string(name);
        let sys = d.string(&format!("_Z{name}"));
        let fl = d.string(file);
        d.function(Function {
            name_strindex: n,
            system_name_strindex: sys,
            filename_strindex: fl,
            start_line: start,
        })
    };
    let main = f(&mut d, "main", "main.c", 1);
    let inl = f(&mut d, "inlined_helper", "helper.h", 5);
    let work = f(&mut d, "work", "work.c", 20);
    // Location with two lines: `inlined_helper` inlined into `work`.
    let l_work = d.location(Location {
        mapping_index: mapping,
        address: 0x1234,
        lines: vec![
            Line {
                function_index: inl,
                line: 7,
                column: 3,
            },
            Line {
                function_index: work,
                line: 25,
                column: 9,
            },
        ],
        attribute_indices: vec![native],
    });
    let l_main = d.location(Location {
        mapping_index: mapping,
        address: 0x1100,
        lines: vec![Line {
            function_index: main,
            line: 2,
            column: 0,
        }],
        attribute_indices: vec![native],
    });
    // An unsymbolized frame: no lines, no mapping.
    let l_raw = d.location(Location {
        mapping_index: 0,
        address: 0xdead,
        lines: vec![],
        attribute_indices: vec![],
    });
    let stack = d.stack(vec![l_raw, l_work, l_main]);
    let trace = [7u8; 16];
    let span = [9u8; 8];
    let link = d.link(&trace, &span);
    let a_span = d.attribute_str("span_name", "GET /users");
    let a_thread = d.attribute_str("thread.name", "worker-1");
    let p_attr = d.attribute_str("profile.note", "x");
    let cpu = d.string("cpu");
    let ns = d.string("nanoseconds");
    let samples = vec![
        Sample {
            stack_index: stack,
            attribute_indices: vec![a_span, a_thread],
            link_index: link,
            values: vec![10, 20, 30],
            timestamps_unix_nano: vec![T0 as u64 + 5, T0 as u64 + 6, T0 as u64 + 7],
        },
        Sample {
            stack_index: stack,
            attribute_indices: vec![],
            link_index: 0,
            values: vec![4],
            timestamps_unix_nano: vec![],
        },
    ];
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: cpu,
            unit_strindex: ns,
        }),
        samples,
        time_unix_nano: T0 as u64,
        duration_nano: 10_000_000_000,
        period_type: Some(ValueType {
            type_strindex: cpu,
            unit_strindex: ns,
        }),
        period: 10_000_000,
        profile_id: vec![1u8; 16],
        original_payload_format: "pprof".into(),
        original_payload: b"payload bytes are not stored".to_vec(),
        attribute_indices: vec![p_attr],
        ..Default::default()
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "checkout"),
                    kv("service.namespace", "shop"),
                    kv("service.version", "1.2.3"),
                    kv("deployment.environment.name", "prod"),
                    kv("host.name", "h1"),
                    kv("k8s.namespace.name", "ns1"),
                    kv("k8s.pod.name", "pod-1"),
                    kv("container.id", "c0ffee"),
                ],
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: "ebpf".into(),
                    version: "0.9".into(),
                    ..Default::default()
                }),
                profiles: vec![profile],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(d.finish()),
    }
}

fn validated(mut req: ExportProfilesServiceRequest) -> Arc<ExportProfilesServiceRequest> {
    let report = profcol_pdata::validate(&mut req, &Default::default()).expect("valid");
    assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
    Arc::new(req)
}

#[tokio::test]
async fn every_column_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = local(dir.path(), |_| {});
    let req = validated(rich_request());
    ex.write(req.clone(), SystemTime::now())
        .await
        .expect("write");
    // Nothing is visible before the file completes.
    assert!(files_under(dir.path(), ".parquet").is_empty());
    ex.finish().await;
    let files = files_under(&dir.path().join("profiles"), ".parquet");
    assert_eq!(files.len(), 1, "{files:?}");
    let rel = files[0]
        .strip_prefix(dir.path())
        .expect("under base")
        .to_string_lossy()
        .into_owned();
    assert!(
        rel.starts_with(
            "profiles/service_name=checkout/date=2023-11-14/hour=22/part-1700000000000000000-"
        ) && rel.ends_with(".parquet"),
        "{rel}"
    );
    let (batches, meta) = read(&files[0]);
    // The Arrow schema is stored in the file: dictionaries, timestamps with UTC, maps, lists.
    assert_eq!(batches[0].schema(), schema::profiles_schema());
    for c in ["service_name", "date", "hour"] {
        assert!(
            batches[0].column_by_name(c).is_none(),
            "{c} is a path column only"
        );
    }
    assert_eq!(
        kv_meta(&meta, "profcol.schema_version").as_deref(),
        Some("1")
    );
    assert_eq!(
        kv_meta(&meta, "profcol.partition.service_name").as_deref(),
        Some("checkout")
    );
    assert_eq!(
        kv_meta(&meta, "profcol.partition.date").as_deref(),
        Some("2023-11-14")
    );
    assert_eq!(
        kv_meta(&meta, "profcol.partition.hour").as_deref(),
        Some("22")
    );
    assert_eq!(
        kv_meta(&meta, "profcol.layout").as_deref(),
        Some("denormalized")
    );
    assert_eq!(kv_meta(&meta, "profcol.rows").as_deref(), Some("2"));
    let rg = meta.row_group(0);
    let sorting = rg.sorting_columns().expect("sorting columns recorded");
    assert_eq!(sorting.len(), 2);
    assert_eq!((sorting[0].column_idx, sorting[1].column_idx), (1, 0));
    for c in rg.columns() {
        assert!(
            matches!(c.compression(), parquet::basic::Compression::ZSTD(_)),
            "{}",
            c.column_path()
        );
        let name = c.column_path().string();
        let bloom = c.bloom_filter_offset().is_some();
        assert_eq!(
            bloom,
            ["trace_id", "span_id", "profile_id"].contains(&name.as_str()),
            "bloom filter on {name}"
        );
        let frame_strings = [
            "frames_function_name",
            "frames_system_name",
            "frames_file_name",
            "frames_mapping_file",
            "frames_mapping_build_id",
            "frames_frame_type",
        ];
        assert_eq!(
            c.statistics().is_some(),
            !frame_strings.iter().any(|f| name.starts_with(f)),
            "statistics on {name}"
        );
        assert!(c.offset_index_offset().is_some(), "offset index on {name}");
        assert_eq!(
            c.column_index_offset().is_some(),
            c.statistics().is_some(),
            "column index on {name}"
        );
    }

    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    assert_eq!(b.num_rows(), 2);
    // Sorted by (profile_type, time): the plain sample (the profile's time) precedes the linked
    // one (its first observation).
    let (other, linked) = (0usize, 1usize);
    assert_eq!(ts_at(&b, "time", other), T0);
    assert_eq!(ts_at(&b, "time", linked), T0 + 5);
    for i in 0..2 {
        assert_eq!(
            dict_str(&b, "profile_type", i).as_deref(),
            Some("cpu:nanoseconds:cpu:nanoseconds")
        );
        assert_eq!(dict_str(&b, "sample_type", i).as_deref(), Some("cpu"));
        assert_eq!(
            dict_str(&b, "sample_unit", i).as_deref(),
            Some("nanoseconds")
        );
        assert_eq!(dict_str(&b, "period_type", i).as_deref(), Some("cpu"));
        assert_eq!(
            dict_str(&b, "period_unit", i).as_deref(),
            Some("nanoseconds")
        );
        assert_eq!(i64_at(&b, "period", i), Some(10_000_000));
        assert_eq!(
            list_strs(&b, "frames_function_name", i),
            ["", "inlined_helper", "work", "main"]
        );
        assert_eq!(
            list_strs(&b, "frames_system_name", i),
            ["", "_Zinlined_helper", "_Zwork", "_Zmain"]
        );
        assert_eq!(
            list_strs(&b, "frames_file_name", i),
            ["", "helper.h", "work.c", "main.c"]
        );
        assert_eq!(list_i64(&b, "frames_function_start_line", i), [0, 5, 20, 1]);
        assert_eq!(list_i64(&b, "frames_line", i), [0, 7, 25, 2]);
        assert_eq!(list_i64(&b, "frames_column", i), [0, 3, 9, 0]);
        assert_eq!(
            list_bool(&b, "frames_inlined", i),
            [false, true, false, false]
        );
        assert_eq!(
            list_u64(&b, "frames_address", i),
            [0xdead, 0x1234, 0x1234, 0x1100]
        );
        assert_eq!(
            list_strs(&b, "frames_mapping_file", i),
            ["", "/usr/bin/app", "/usr/bin/app", "/usr/bin/app"]
        );
        assert_eq!(
            list_strs(&b, "frames_mapping_build_id", i),
            ["", "abc123", "abc123", "abc123"]
        );
        assert_eq!(
            list_u64(&b, "frames_mapping_start", i),
            [0, 0x1000, 0x1000, 0x1000]
        );
        assert_eq!(
            list_u64(&b, "frames_mapping_limit", i),
            [0, 0x9000, 0x9000, 0x9000]
        );
        assert_eq!(
            list_u64(&b, "frames_mapping_offset", i),
            [0, 0x200, 0x200, 0x200]
        );
        assert_eq!(
            list_strs(&b, "frames_frame_type", i),
            ["", "native", "native", "native"]
        );
        assert_eq!(fixed(&b, "profile_id", i), Some(vec![1u8; 16]));
        assert_eq!(ts_at(&b, "profile_time", i), T0);
        assert_eq!(
            i64_at(&b, "profile_duration_nanos", i),
            Some(10_000_000_000)
        );
        assert_eq!(
            map_of(&b, "profile_attributes", i),
            Some(BTreeMap::from([("profile.note".into(), "x".into())]))
        );
        assert_eq!(
            dict_str(&b, "original_payload_format", i).as_deref(),
            Some("pprof")
        );
        for (col, v) in [
            ("service_namespace", "shop"),
            ("service_version", "1.2.3"),
            ("deployment_environment", "prod"),
            ("host_name", "h1"),
            ("k8s_namespace_name", "ns1"),
            ("k8s_pod_name", "pod-1"),
            ("container_id", "c0ffee"),
        ] {
            assert_eq!(dict_str(&b, col, i).as_deref(), Some(v), "{col}");
        }
        let res = map_of(&b, "resource_attributes", i).expect("resource attributes");
        assert_eq!(
            res.get("service.name").map(String::as_str),
            Some("checkout")
        );
        assert_eq!(res.len(), 8);
        assert_eq!(dict_str(&b, "scope_name", i).as_deref(), Some("ebpf"));
        assert_eq!(dict_str(&b, "scope_version", i).as_deref(), Some("0.9"));
    }
    let sid = b
        .column_by_name("stack_id")
        .expect("stack_id")
        .as_primitive::<UInt64Type>();
    assert_eq!(sid.value(0), sid.value(1), "same stack, same id");
    // The linked sample.
    let i = linked;
    assert_eq!(
        b.column_by_name("value")
            .expect("v")
            .as_primitive::<Int64Type>()
            .value(i),
        60
    );
    assert_eq!(list_i64(&b, "observation_values", i), [10, 20, 30]);
    let ts = b
        .column_by_name("observation_timestamps")
        .expect("ts")
        .as_list::<i32>()
        .value(i);
    assert_eq!(
        ts.as_primitive::<TimestampNanosecondType>()
            .values()
            .to_vec(),
        [T0 + 5, T0 + 6, T0 + 7]
    );
    assert_eq!(fixed(&b, "trace_id", i), Some(vec![7u8; 16]));
    assert_eq!(fixed(&b, "span_id", i), Some(vec![9u8; 8]));
    assert_eq!(dict_str(&b, "span_name", i).as_deref(), Some("GET /users"));
    assert_eq!(
        map_of(&b, "sample_attributes", i),
        Some(BTreeMap::from([
            ("span_name".into(), "GET /users".into()),
            ("thread.name".into(), "worker-1".into())
        ]))
    );
    // The plain sample: nulls where there is nothing.
    let i = other;
    assert_eq!(
        b.column_by_name("value")
            .expect("v")
            .as_primitive::<Int64Type>()
            .value(i),
        4
    );
    for col in [
        "observation_values",
        "observation_timestamps",
        "trace_id",
        "span_id",
        "span_name",
        "sample_attributes",
    ] {
        assert!(
            b.column_by_name(col).expect(col).is_null(i),
            "{col} is null"
        );
    }
    assert_eq!(totals_of(&batches), expected_totals([req.as_ref()]));
}

#[test]
fn partition_values_are_encoded() {
    assert_eq!(encode_value("checkout-api_v1.2"), "checkout-api_v1.2");
    assert_eq!(encode_value("a b/c%ä"), "a%20b%2Fc%25%C3%A4");
    let k = PartKey {
        service: "x y".into(),
        hour: T0 / HOUR,
    };
    assert_eq!(k.dir(), "service_name=x%20y/date=2023-11-14/hour=22");
    let k = PartKey {
        service: "s".into(),
        hour: 0,
    };
    assert_eq!(k.dir(), "service_name=s/date=1970-01-01/hour=00");
    // 2024-02-29 (leap day) 23:00.
    let k = PartKey {
        service: "s".into(),
        hour: 1_709_247_600 / 3600,
    };
    assert_eq!(k.date_hour(), ("2024-02-29".into(), "23".into()));
}

#[tokio::test]
async fn service_names_and_hours_partition_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = local(dir.path(), |_| {});
    let mut a = synth::stacks("web shop", &[(&["main", "a"], 1)]);
    // Missing service.name → unknown_service; a sample in the next hour via its timestamp.
    let mut b = synth::stacks("", &[(&["main", "b"], 2), (&["main", "c"], 3)]);
    b.resource_profiles[0]
        .resource
        .as_mut()
        .expect("resource")
        .attributes
        .clear();
    b.resource_profiles[0].scope_profiles[0].profiles[0].samples[1].timestamps_unix_nano =
        vec![(T0 + HOUR) as u64];
    a = Arc::unwrap_or_clone(validated(a));
    let b = validated(b);
    ex.write(Arc::new(a.clone()), SystemTime::now())
        .await
        .expect("write a");
    ex.write(b.clone(), SystemTime::now())
        .await
        .expect("write b");
    ex.finish().await;
    let mut dirs: Vec<String> = files_under(&dir.path().join("profiles"), ".parquet")
        .iter()
        .map(|p| {
            p.parent()
                .and_then(|d| d.strip_prefix(dir.path()).ok())
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    dirs.sort();
    assert_eq!(
        dirs,
        [
            "profiles/service_name=unknown_service/date=2023-11-14/hour=22",
            "profiles/service_name=unknown_service/date=2023-11-14/hour=23",
            "profiles/service_name=web%20shop/date=2023-11-14/hour=22",
        ]
    );
    assert_eq!(
        totals_of(&read_all(dir.path())),
        expected_totals([&a, b.as_ref()])
    );
}

#[tokio::test]
async fn samples_without_time_use_the_receive_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = local(dir.path(), |_| {});
    let mut r = synth::stacks("svc", &[(&["main"], 1)]);
    r.resource_profiles[0].scope_profiles[0].profiles[0].time_unix_nano = 0;
    let received = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    ex.write(validated(r), received).await.expect("write");
    ex.finish().await;
    let files = files_under(&dir.path().join("profiles"), ".parquet");
    assert_eq!(files.len(), 1);
    assert!(
        files[0]
            .to_string_lossy()
            .contains("date=2027-01-15/hour=08"),
        "{files:?}"
    );
    let (b, _) = read(&files[0]);
    assert_eq!(ts_at(&b[0], "time", 0), 1_800_000_000_000_000_000);
    assert_eq!(ts_at(&b[0], "profile_time", 0), 0);
}

fn stack_ids(req: &ExportProfilesServiceRequest) -> Vec<u64> {
    let batches = arrays::flatten([req], T0).expect("flatten");
    batches
        .iter()
        .flat_map(|(_, b)| {
            b.column_by_name("stack_id")
                .expect("stack_id")
                .as_primitive::<UInt64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

#[test]
fn stack_ids_are_stable() {
    // Same frames through differently ordered dictionaries → the same id.
    let a = synth::stacks("s", &[(&["main", "x"], 1), (&["main", "y"], 1)]);
    let b = synth::stacks("s", &[(&["main", "y"], 1), (&["main", "x"], 1)]);
    let (ia, ib) = (stack_ids(&a), stack_ids(&b));
    assert_eq!(ia.len(), 2);
    let mut sa = ia.clone();
    sa.sort();
    let mut sb = ib.clone();
    sb.sort();
    assert_eq!(sa, sb);
    assert_ne!(ia[0], ia[1]);
    // Pinned: the hash is part of schema version 1, so it must never change.
    let one = synth::stacks("s", &[(&["main", "work"], 1)]);
    assert_eq!(
        stack_ids(&one),
        [0x0170_b8a8_ee7a_7c81],
        "{:#x}",
        stack_ids(&one)[0]
    );
    let mut h = StableHash::new();
    h.str("abc");
    h.word(42);
    assert_eq!(h.finish(), 0x7fa3_ca50_de70_8cb6, "{:#x}", h.finish());
}

#[tokio::test]
async fn rows_are_sorted_within_row_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = local(dir.path(), |c| c.row_group_rows = 100);
    let mut reqs = Vec::new();
    for (i, ty) in ["wall", "cpu", "alloc"].iter().enumerate() {
        let mut r = synth::stacks("svc", &[(&["main", "a"][..], 1i64); 70]);
        let p = &mut r.resource_profiles[0].scope_profiles[0].profiles[0];
        for (j, s) in p.samples.iter_mut().enumerate() {
            // Times out of order, all in one hour.
            s.timestamps_unix_nano = vec![(T0 + ((j * 7919 + i * 13) % 1000) as i64 * 1000) as u64];
        }
        let d = r.dictionary.as_mut().expect("dict");
        d.string_table.push((*ty).into());
        let idx = (d.string_table.len() - 1) as i32;
        if let Some(st) = p.sample_type.as_mut() {
            st.type_strindex = idx;
        }
        reqs.push(validated(r));
    }
    for r in &reqs {
        ex.write(r.clone(), SystemTime::now()).await.expect("write");
    }
    ex.finish().await;
    let files = files_under(&dir.path().join("profiles"), ".parquet");
    assert_eq!(files.len(), 1);
    let (batches, meta) = read(&files[0]);
    assert_eq!(
        meta.num_row_groups(),
        3,
        "210 rows in groups of at most 100"
    );
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let mut start = 0;
    for g in 0..meta.num_row_groups() {
        let n = meta.row_group(g).num_rows() as usize;
        let keys: Vec<(String, i64)> = (start..start + n)
            .map(|i| {
                (
                    dict_str(&b, "profile_type", i).unwrap_or_default(),
                    ts_at(&b, "time", i),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            keys, sorted,
            "row group {g} is sorted by (profile_type, time)"
        );
        start += n;
    }
    let refs: Vec<&ExportProfilesServiceRequest> = reqs.iter().map(|r| r.as_ref()).collect();
    assert_eq!(totals_of(&batches), expected_totals(refs));
}

fn state(dir: &Path, f: impl FnOnce(&mut ParquetConfig)) -> (ParquetExporter, Metrics) {
    let c = config(&dir.display().to_string(), f);
    let m = Metrics::default();
    (
        ParquetExporter::new(&c, "parquet", m.clone()).expect("exporter"),
        m,
    )
}

/// Appends on the state directly with a chosen clock, committing what closes.
fn append_at(ex: &ParquetExporter, req: &ExportProfilesServiceRequest, now: Instant, wall: i64) {
    let base = PathBuf::from(ex.settings().staging.parent().expect("base"));
    ex.with_state_blocking(|st| {
        st.set_clock(now, wall);
        st.append(req, wall);
        commit_all(st, &base);
    });
}

fn tick_at(ex: &ParquetExporter, now: Instant, wall: i64) {
    let base = PathBuf::from(ex.settings().staging.parent().expect("base"));
    ex.with_state_blocking(|st| {
        st.set_clock(now, wall);
        st.tick();
        commit_all(st, &base);
    });
}

fn commit_all(st: &mut State, base: &Path) {
    for f in std::mem::take(&mut st.finished) {
        writer::commit_local(base, &f).expect("commit");
    }
    assert!(st.errors.is_empty(), "{:?}", st.errors);
}

fn req_at(service: &str, t: i64, n: usize) -> ExportProfilesServiceRequest {
    let mut r = synth::stacks(service, &vec![(&["main", "work"][..], 1i64); n]);
    for s in &mut r.resource_profiles[0].scope_profiles[0].profiles[0].samples {
        s.timestamps_unix_nano = vec![t as u64];
    }
    Arc::unwrap_or_clone(validated(r))
}

#[test]
fn interval_flushes_then_age_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| {
        c.flush_interval = Duration::from_secs(5);
        c.max_file_age = Duration::from_secs(60);
    });
    let t = Instant::now();
    // Wall clock inside the data's hour: the hour rule does not fire.
    let wall = T0 + 60_000_000_000;
    append_at(&ex, &req_at("svc", T0, 3), t, wall);
    tick_at(&ex, t + Duration::from_secs(4), wall);
    assert_eq!(m.row_groups[FlushReason::Interval as usize].get(), 0);
    tick_at(&ex, t + Duration::from_secs(5), wall);
    assert_eq!(m.row_groups[FlushReason::Interval as usize].get(), 1);
    assert_eq!(m.files_created.get(), 1);
    // Written to the open file in staging, still invisible.
    assert_eq!(files_under(&dir.path().join(".staging"), ".tmp").len(), 1);
    assert!(files_under(dir.path(), ".parquet").is_empty());
    append_at(
        &ex,
        &req_at("svc", T0, 2),
        t + Duration::from_secs(30),
        wall,
    );
    tick_at(&ex, t + Duration::from_secs(59), wall);
    assert_eq!(m.files_closed[CloseReason::Age as usize].get(), 0);
    tick_at(&ex, t + Duration::from_secs(60), wall);
    assert_eq!(m.files_closed[CloseReason::Age as usize].get(), 1);
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 1);
    let (_, meta) = read(&files[0]);
    assert_eq!(meta.file_metadata().num_rows(), 5);
    assert_eq!(meta.num_row_groups(), 2, "one interval flush, one at close");
    assert!(files_under(&dir.path().join(".staging"), ".tmp").is_empty());
    assert_eq!(m.open_writers.get(), 0);
}

#[test]
fn hour_end_plus_grace_closes_and_late_data_opens_a_new_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| {
        c.hour_grace_period = Duration::from_secs(300);
        c.max_file_age = Duration::from_secs(3600 * 24);
    });
    let t = Instant::now();
    let hour_end = (T0 / HOUR + 1) * HOUR;
    append_at(&ex, &req_at("svc", T0, 1), t, T0);
    tick_at(&ex, t, hour_end + 299_000_000_000);
    assert_eq!(m.files_closed[CloseReason::Hour as usize].get(), 0);
    tick_at(&ex, t, hour_end + 300_000_000_000);
    assert_eq!(m.files_closed[CloseReason::Hour as usize].get(), 1);
    assert_eq!(files_under(dir.path(), ".parquet").len(), 1);
    // Late data for the old hour: a new file in the old partition, kept for a grace period.
    let late = hour_end + 400_000_000_000;
    append_at(&ex, &req_at("svc", T0 + 1, 2), t, late);
    tick_at(&ex, t, late + 1);
    assert_eq!(m.files_closed[CloseReason::Hour as usize].get(), 1);
    tick_at(&ex, t, late + 300_000_000_000);
    assert_eq!(m.files_closed[CloseReason::Hour as usize].get(), 2);
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 2);
    assert!(
        files
            .iter()
            .all(|f| f.to_string_lossy().contains("/hour=22/"))
    );
}

#[test]
fn size_rolls_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| {
        c.max_file_size = 1;
        c.row_group_rows = 10;
    });
    let t = Instant::now();
    for i in 0..3 {
        append_at(&ex, &req_at("svc", T0 + i, 10), t, T0);
    }
    assert_eq!(m.files_closed[CloseReason::Size as usize].get(), 3);
    assert_eq!(m.row_groups[FlushReason::Rows as usize].get(), 3);
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 3);
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for i in 0..3 {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("part-{}-", T0 + i))),
            "file named by its minimum time: {names:?}"
        );
    }
}

/// One large request is written in row groups of at most `row_group_rows` as it is appended,
/// not buffered whole; a row's budget counts its frames.
#[test]
fn one_request_is_cut_into_row_groups_while_it_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| c.row_group_rows = 1000);
    let t = Instant::now();
    append_at(&ex, &req_at("svc", T0, 10_500), t, T0);
    assert_eq!(m.row_groups[FlushReason::Rows as usize].get(), 10);
    ex.with_state_blocking(|st| {
        st.close_all();
        commit_all(st, dir.path());
    });
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 1);
    let (_, meta) = read(&files[0]);
    assert_eq!(meta.file_metadata().num_rows(), 10_500);
    assert_eq!(meta.num_row_groups(), 11);
    assert!(meta.row_groups().iter().all(|g| g.num_rows() <= 1000));

    // Deep stacks: the byte budget (frames included) cuts row groups before the row limit.
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| c.row_group_bytes = 1 << 20);
    let deep: Vec<String> = (0..200).map(|i| format!("f{i}")).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    let r = Arc::unwrap_or_clone(validated(synth::stacks(
        "svc",
        &vec![(&deep[..], 1i64); 500],
    )));
    append_at(&ex, &r, t, T0);
    let groups = m.row_groups[FlushReason::Bytes as usize].get();
    // 500 rows of 200 frames at 88 bytes a frame: about 8.4 MiB, so 8 row groups of 1 MiB.
    assert!((7..=9).contains(&groups), "{groups} row groups");
}

/// A profile whose samples span many hours goes to one partition per hour, each sample once.
#[test]
fn samples_of_one_profile_spread_over_many_hours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| c.max_open_writers = 4);
    let mut r = synth::stacks("svc", &vec![(&["main", "work"][..], 1i64); 300]);
    for (i, s) in r.resource_profiles[0].scope_profiles[0].profiles[0]
        .samples
        .iter_mut()
        .enumerate()
    {
        // 3 samples an hour, interleaved: hour i % 100.
        s.timestamps_unix_nano = vec![(T0 + (i as i64 % 100) * HOUR) as u64];
    }
    let r = Arc::unwrap_or_clone(validated(r));
    append_at(&ex, &r, Instant::now(), T0);
    ex.with_state_blocking(|st| {
        st.close_all();
        commit_all(st, dir.path());
    });
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 100, "one file per hour");
    let rows: i64 = files
        .iter()
        .map(|f| read(f).1.file_metadata().num_rows())
        .collect::<Vec<_>>()
        .iter()
        .sum();
    assert_eq!(rows, 300);
    assert!(
        files
            .iter()
            .all(|f| read(f).1.file_metadata().num_rows() == 3)
    );
    assert_eq!(m.files_closed[CloseReason::Evicted as usize].get(), 96);
}

/// After shutdown began, a write that raced it is refused, not appended to a new file.
#[tokio::test]
async fn writes_after_finish_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = local(dir.path(), |_| {});
    let r = validated(req_at("svc", T0, 5));
    ex.write(r.clone(), SystemTime::now()).await.expect("write");
    ex.finish().await;
    let err = ex
        .write(r.clone(), SystemTime::now())
        .await
        .expect_err("refused after finish");
    assert!(matches!(err, ParquetExporterError::Stopped), "{err}");
    // A write that passed the first check just before shutdown is refused under the lock.
    ex.shared.closed.store(false, Ordering::SeqCst);
    let err = ex
        .write(r, SystemTime::now())
        .await
        .expect_err("refused under the lock");
    assert!(matches!(err, ParquetExporterError::Stopped), "{err}");
    assert_eq!(ex.with_state_blocking(|st| st.open_writers()), 0);
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 1);
    assert!(files_under(&dir.path().join(".staging"), ".tmp").is_empty());
}

#[test]
fn open_writers_are_capped_lru_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| c.max_open_writers = 2);
    let t = Instant::now();
    append_at(&ex, &req_at("a", T0, 1), t, T0);
    append_at(&ex, &req_at("b", T0, 1), t, T0);
    append_at(&ex, &req_at("a", T0, 1), t, T0);
    append_at(&ex, &req_at("c", T0, 1), t, T0);
    assert_eq!(m.files_closed[CloseReason::Evicted as usize].get(), 1);
    let files = files_under(dir.path(), ".parquet");
    assert_eq!(files.len(), 1);
    assert!(
        files[0].to_string_lossy().contains("service_name=b/"),
        "b was least recently used"
    );
    assert_eq!(m.open_writers.get(), 2);
    ex.with_state_blocking(|st| {
        st.close_all();
        commit_all(st, dir.path());
    });
    assert_eq!(files_under(dir.path(), ".parquet").len(), 3);
}

#[test]
fn memory_cap_writes_largest_buffers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ex, m) = state(dir.path(), |c| c.max_buffered_bytes = 64 << 10);
    let t = Instant::now();
    append_at(&ex, &req_at("a", T0, 2000), t, T0);
    assert!(m.row_groups[FlushReason::Memory as usize].get() >= 1);
    assert!(
        m.buffered_bytes.get() <= 64 << 10,
        "{}",
        m.buffered_bytes.get()
    );
}

#[test]
fn stale_staging_files_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let staging = dir.path().join(".staging");
    std::fs::create_dir_all(&staging).expect("mkdir");
    // The host part of our own names.
    let own = writer::owner_name();
    let host = own.split('-').nth(1).expect("host part").to_owned();
    let dead = staging.join(format!("4000000000-{host}-aaaa.tmp"));
    let ours = staging.join(format!("{}-{host}-bbbb.tmp", std::process::id()));
    let live = staging.join(format!("1-{host}-cccc.tmp"));
    // Another instance on a shared volume: left alone while it may still be writing.
    let elsewhere = staging.join("4000000000-otherhost-dddd.tmp");
    let other = staging.join("notes.txt");
    for p in [&dead, &ours, &live, &elsewhere, &other] {
        std::fs::write(p, b"partial").expect("write");
    }
    let hour = Duration::from_secs(3600);
    let removed = clean_staging(&staging, hour);
    assert!(!dead.exists() && !ours.exists());
    assert!(other.exists());
    assert!(elsewhere.exists(), "another host's recent file stays");
    if Path::new("/proc/1").exists() {
        assert!(live.exists(), "a running process's file stays");
        assert_eq!(removed, 2);
    }
    // Idle for longer than the abandon time, another host's file goes too.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(clean_staging(&staging, Duration::from_millis(10)), 1);
    assert!(!elsewhere.exists());
    assert!(writer::is_stale(
        "4000000000-otherhost-x.tmp",
        Some(2 * hour),
        hour
    ));
    assert!(!writer::is_stale("4000000000-otherhost-x.tmp", None, hour));
    // A new exporter does the same on start.
    std::fs::write(&dead, b"partial").expect("write");
    let _ex = local(dir.path(), |_| {});
    assert!(!dead.exists());
}

#[tokio::test]
async fn object_store_objects_appear_only_when_complete() {
    let staging = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(InMemory::new());
    let c = config("s3://bucket/some/prefix", |_| {});
    let ex = ParquetExporter::with_dest(
        &c,
        Dest::Object {
            store: store.clone(),
            prefix: "some/prefix".into(),
            url: "memory://".into(),
        },
        staging.path().to_path_buf(),
        Metrics::default(),
    )
    .expect("exporter");
    let req = validated(rich_request());
    let other = validated(synth::stacks("billing", &[(&["main", "pay"], 5)]));
    ex.write(req.clone(), SystemTime::now())
        .await
        .expect("write");
    ex.write(other.clone(), SystemTime::now())
        .await
        .expect("write");
    let list = |store: Arc<InMemory>| async move {
        use futures::TryStreamExt;
        let mut v: Vec<String> = store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .expect("list");
        v.sort();
        v
    };
    assert!(list(store.clone()).await.is_empty());
    ex.finish().await;
    let keys = list(store.clone()).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys[0]
            .starts_with("some/prefix/profiles/service_name=billing/date=2023-11-14/hour=22/part-")
    );
    assert!(
        keys[1].starts_with(
            "some/prefix/profiles/service_name=checkout/date=2023-11-14/hour=22/part-"
        )
    );
    let mut batches = Vec::new();
    for k in &keys {
        let data = store
            .get(&object_store::path::Path::parse(k).expect("path"))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        batches.extend(read_bytes(data).0);
    }
    assert_eq!(
        totals_of(&batches),
        expected_totals([req.as_ref(), other.as_ref()])
    );
    // Staging is empty once uploaded.
    assert!(files_under(staging.path(), ".parquet").is_empty());
    assert!(files_under(staging.path(), ".tmp").is_empty());
}

#[tokio::test]
async fn finished_files_of_a_previous_run_are_uploaded() {
    let staging = tempfile::tempdir().expect("tempdir");
    let c = config("s3://bucket/p", |_| {});
    let dest = |store: &Arc<InMemory>| Dest::Object {
        store: store.clone(),
        prefix: "p".into(),
        url: "memory://".into(),
    };
    // Run 1 completes a file but "dies" before the upload: leave it in ready/.
    let first = Arc::new(InMemory::new());
    let ex =
        ParquetExporter::with_dest(&c, dest(&first), staging.path().into(), Metrics::default())
            .expect("exporter");
    let req = validated(synth::stacks("svc", &[(&["main", "x"], 3)]));
    ex.with_state_blocking(|st| {
        st.append(&req, T0);
        st.close_all();
        let finished = std::mem::take(&mut st.finished);
        assert_eq!(finished.len(), 1);
        to_ready(&st.settings.staging, &finished[0]).expect("ready");
    });
    drop(ex);
    // Run 2 (same staging) uploads it.
    let second = Arc::new(InMemory::new());
    let m = Metrics::default();
    let ex = ParquetExporter::with_dest(&c, dest(&second), staging.path().into(), m.clone())
        .expect("exporter");
    assert_eq!(m.pending_uploads.get(), 1);
    ex.finish().await;
    assert_eq!(m.pending_uploads.get(), 0);
    assert_eq!(m.rows_written.get(), 1);
    use futures::TryStreamExt;
    let objects: Vec<_> = second.list(None).try_collect().await.expect("list");
    assert_eq!(objects.len(), 1);
    assert!(
        objects[0]
            .location
            .to_string()
            .starts_with("p/profiles/service_name=svc/")
    );
    assert!(
        !staging
            .path()
            .join("ready")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn normalized_layout_joins_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = local(dir.path(), |c| c.layout = Layout::Normalized);
    let req = validated(rich_request());
    let other = validated(synth::stacks(
        "checkout",
        &[(&["main", "x"], 2), (&["main", "y"], 3)],
    ));
    ex.write(req.clone(), SystemTime::now())
        .await
        .expect("write");
    ex.write(other.clone(), SystemTime::now())
        .await
        .expect("write");
    ex.finish().await;
    let profiles = files_under(&dir.path().join("profiles"), ".parquet");
    let stacks = files_under(&dir.path().join("stacks"), ".parquet");
    assert_eq!(profiles.len(), 1);
    assert_eq!(stacks.len(), 1);
    assert_eq!(
        profiles[0].strip_prefix(dir.path().join("profiles")).ok(),
        stacks[0].strip_prefix(dir.path().join("stacks")).ok(),
        "the stacks file mirrors its profiles file"
    );
    let (pb, pmeta) = read(&profiles[0]);
    assert_eq!(pb[0].schema(), schema::normalized_profiles_schema());
    assert!(pb[0].column_by_name("frames_function_name").is_none());
    assert_eq!(
        kv_meta(&pmeta, "profcol.layout").as_deref(),
        Some("normalized")
    );
    let (sb, smeta) = read(&stacks[0]);
    assert_eq!(sb[0].schema(), schema::stacks_schema());
    assert_eq!(kv_meta(&smeta, "profcol.table").as_deref(), Some("stacks"));
    // Join: stack_id → folded stack.
    let mut by_id = BTreeMap::new();
    for b in &sb {
        let ids = b
            .column_by_name("stack_id")
            .expect("id")
            .as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            assert!(
                by_id.insert(ids.value(i), folded(b, i)).is_none(),
                "ids are unique"
            );
        }
    }
    assert_eq!(by_id.len(), 3);
    let mut got = Totals::new();
    for b in &pb {
        let ids = b
            .column_by_name("stack_id")
            .expect("id")
            .as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            let v = b
                .column_by_name("value")
                .expect("v")
                .as_primitive::<Int64Type>()
                .value(i);
            let pt = dict_str(b, "profile_type", i).unwrap_or_default();
            *got.entry((pt, by_id[&ids.value(i)].clone())).or_default() += v;
        }
    }
    assert_eq!(got, expected_totals([req.as_ref(), other.as_ref()]));
    // The same ids as the denormalized layout.
    let flat = arrays::flatten([req.as_ref()], T0).expect("flatten");
    let id = flat[0]
        .1
        .column_by_name("stack_id")
        .expect("id")
        .as_primitive::<UInt64Type>()
        .value(0);
    assert!(by_id.contains_key(&id));
}

fn section(yaml: serde_json::Value) -> Section {
    Section::from_value("exporters.parquet", yaml)
}

#[test]
fn config_defaults_and_errors() {
    let c = ParquetConfig::load(&section(serde_json::json!({"path": "./data"}))).expect("ok");
    assert_eq!(c.max_file_size, 128 << 20);
    assert_eq!(c.max_file_age, Duration::from_secs(600));
    assert_eq!(c.row_group_rows, 131_072);
    assert_eq!(c.compression_level, 3);
    assert_eq!(c.layout, Layout::Denormalized);
    assert_eq!(c.target(), Ok(Target::Local("./data".into())));
    let c = ParquetConfig::load(&section(serde_json::json!({
        "path": "s3://bkt/pre/fix/",
        "layout": "normalized",
        "max_file_size": "64MiB",
        "max_file_age": "5m",
        "hour_grace_period": "30s",
        "flush_interval": "10s",
        "storage": {"endpoint": "http://127.0.0.1:9000", "allow_http": true, "region": "us-east-1",
                    "access_key_id": "k", "secret_access_key": "s", "session_token": "t"},
    })))
    .expect("ok");
    assert_eq!(c.max_file_size, 64 << 20);
    assert_eq!(c.layout, Layout::Normalized);
    assert_eq!(
        c.target(),
        Ok(Target::Object {
            url: "s3://bkt".into(),
            scheme: Scheme::S3,
            prefix: "pre/fix".into()
        })
    );
    let (_, prefix, _) = build_store(&c).expect("store builds");
    assert_eq!(prefix, "pre/fix");
    assert_eq!(
        parse_target("file:///var/data"),
        Ok(Target::Local("/var/data".into()))
    );
    assert!(matches!(
        parse_target("gs://b"),
        Ok(Target::Object {
            scheme: Scheme::Gcs,
            ..
        })
    ));
    assert!(matches!(
        parse_target("az://c/p"),
        Ok(Target::Object {
            scheme: Scheme::Azure,
            ..
        })
    ));
    for (bad, path) in [
        (serde_json::json!({}), "exporters.parquet.path"),
        (serde_json::json!({"path": "x", "bogus": 1}), "bogus"),
        (
            serde_json::json!({"path": "hdfs://x/y"}),
            "exporters.parquet.path",
        ),
        (
            serde_json::json!({"path": "s3://"}),
            "exporters.parquet.path",
        ),
        (
            serde_json::json!({"path": "s3://b/../x"}),
            "exporters.parquet.path",
        ),
        (
            serde_json::json!({"path": "s3://b/a//c"}),
            "exporters.parquet.path",
        ),
        (
            serde_json::json!({"path": "s3://b/a\u{7}c"}),
            "exporters.parquet.path",
        ),
        (
            serde_json::json!({"path": "./d", "storage": {"region": "x"}}),
            "storage.region",
        ),
        (
            serde_json::json!({"path": "s3://b", "storage": {"nope": "x"}}),
            "storage.nope",
        ),
        (
            serde_json::json!({"path": "./d", "layout": "flat"}),
            "layout",
        ),
        (
            serde_json::json!({"path": "./d", "max_file_size": "12 parsecs"}),
            "max_file_size",
        ),
        (
            serde_json::json!({"path": "./d", "max_open_writers": 0}),
            "max_open_writers",
        ),
        (
            serde_json::json!({"path": "./d", "compression_level": 0}),
            "compression_level",
        ),
        (
            serde_json::json!({"path": "./d", "flush_interval": "0"}),
            "flush_interval",
        ),
    ] {
        let e = ParquetConfig::load(&section(bad.clone())).expect_err(&bad.to_string());
        assert!(e.to_string().contains(path), "{bad}: {e}");
    }
}

#[test]
fn byte_sizes() {
    assert_eq!(config::parse_bytes("128MiB"), Ok(128 << 20));
    assert_eq!(config::parse_bytes("64MB"), Ok(64_000_000));
    assert_eq!(config::parse_bytes("1.5 GiB"), Ok(3 << 29));
    assert_eq!(config::parse_bytes("4096"), Ok(4096));
    assert!(config::parse_bytes("-1").is_err());
    assert!(config::parse_bytes("MiB").is_err());
}

fn pprof_request(path: &Path) -> ExportProfilesServiceRequest {
    use profcol_pdata::pprof;
    let bytes = std::fs::read(path).expect("read");
    let plain = pprof::decompress(&bytes, 1 << 30)
        .expect("decompress")
        .0
        .into_owned();
    let (p, _) = pprof::decode(&plain, 1 << 30).expect("decode");
    let (req, _) = pprof::to_otlp(
        &p,
        vec![kv("service.name", "pprof-test")],
        &Default::default(),
        None,
    );
    Arc::unwrap_or_clone(validated(req))
}

#[tokio::test]
async fn real_profiles_keep_their_per_stack_totals() {
    let mut reqs = Vec::new();
    {
        use prost::Message;
        let p = testdata("grafana-pyroscope/otlp/otel-ebpf-profile.v1_10.pb.bin");
        let bytes = std::fs::read(p).expect("read");
        let req = ExportProfilesServiceRequest::decode(&bytes[..]).expect("decode");
        reqs.push(Arc::unwrap_or_clone(validated(req)));
    }
    for f in [
        "google-pprof/large.cpu",
        "grafana-pyroscope/pprof/go-heap.pb.gz",
        "grafana-pyroscope/pprof/profile_java.pb.gz",
        "grafana-pyroscope/pprof/nodejs-cpu-js.pb.gz",
        "grafana-pyroscope/pprof/invalid_utf8.pb.gz",
        "grafana-pyroscope/pprof/no_addr_no_line.pb.gz",
    ] {
        reqs.push(pprof_request(&testdata(f)));
    }
    for layout in [Layout::Denormalized, Layout::Normalized] {
        let dir = tempfile::tempdir().expect("tempdir");
        let ex = local(dir.path(), |c| {
            c.layout = layout;
            c.row_group_rows = 5000;
        });
        for r in &reqs {
            ex.write(Arc::new(r.clone()), SystemTime::now())
                .await
                .expect("write");
        }
        ex.finish().await;
        if layout == Layout::Normalized {
            // Every stack id of the profiles files is in the stacks files.
            let mut ids = std::collections::BTreeSet::new();
            for b in files_under(&dir.path().join("stacks"), ".parquet")
                .iter()
                .flat_map(|p| read(p).0)
            {
                ids.extend(
                    b.column_by_name("stack_id")
                        .expect("id")
                        .as_primitive::<UInt64Type>()
                        .values()
                        .iter()
                        .copied(),
                );
            }
            for b in read_all(dir.path()) {
                for id in b
                    .column_by_name("stack_id")
                    .expect("id")
                    .as_primitive::<UInt64Type>()
                    .values()
                {
                    assert!(ids.contains(id));
                }
            }
            continue;
        }
        let got = totals_of(&read_all(dir.path()));
        let want = expected_totals(reqs.iter());
        assert_eq!(got.len(), want.len());
        assert!(got == want, "per-stack totals differ");
        let rows: usize = read_all(dir.path()).iter().map(|b| b.num_rows()).sum();
        assert_eq!(
            rows,
            reqs.iter().map(profcol_pdata::sample_count).sum::<usize>()
        );
    }
}

#[tokio::test]
async fn large_files_go_up_as_multipart_uploads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("big.parquet");
    // Deterministic, incompressible-looking bytes: two and a bit parts.
    let mut data = Vec::with_capacity(2 * PART_SIZE + 12345);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 2 * PART_SIZE + 12345 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(2 * PART_SIZE + 12345);
    std::fs::write(&local, &data).expect("write");
    let store = InMemory::new();
    let path =
        object_store::path::Path::parse("p/profiles/service_name=a%20b/x.parquet").expect("path");
    upload_file(&store, &path, &local, data.len() as u64)
        .await
        .expect("upload");
    let got = store
        .get(&path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.len(), data.len());
    assert!(got[..] == data[..]);
    // The key keeps the percent-encoded partition value as written locally.
    assert_eq!(path.as_ref(), "p/profiles/service_name=a%20b/x.parquet");
}
