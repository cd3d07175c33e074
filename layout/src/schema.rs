//! The Arrow schemas of the files: `profiles` (one row per sample), and for the normalized
//! layout `profiles` without the frame lists plus `stacks`.
//!
//! These are the columns of the layout spec (`specs/parquet.md`, outside this repository), in
//! its order: `Dict` = `Dictionary(Int32, Utf8)`, `Ts` = `Timestamp(Nanosecond, "UTC")`; frames
//! are parallel leaf-first lists (one list column per frame field, since DataFusion cannot read
//! one field of a `List<Struct>` without reading them all); the partition columns
//! (`service_name`, `date`, `hour`) are in the path only.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// Written to every file's key-value metadata as `profcol.schema_version`. Bump it when a column
/// changes meaning or the `stack_id` hash changes.
pub const SCHEMA_VERSION: &str = "1";

/// Key-value metadata keys.
pub mod meta {
    pub const SCHEMA_VERSION: &str = "profcol.schema_version";
    pub const LAYOUT: &str = "profcol.layout";
    pub const TABLE: &str = "profcol.table";
    pub const SERVICE_NAME: &str = "profcol.partition.service_name";
    pub const DATE: &str = "profcol.partition.date";
    pub const HOUR: &str = "profcol.partition.hour";
    pub const MIN_TIME: &str = "profcol.min_time_unix_nano";
    pub const MAX_TIME: &str = "profcol.max_time_unix_nano";
    pub const ROWS: &str = "profcol.rows";
}

/// `Dictionary(Int32, Utf8)`.
pub fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// `Timestamp(Nanosecond, "UTC")`.
pub fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// A list of `item` (Arrow's conventional, nullable item field; the items are never null).
pub fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// The entries field of `Map<Utf8, Utf8>`.
pub fn map_entries() -> Arc<Field> {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("keys", DataType::Utf8, false),
            Field::new("values", DataType::Utf8, true),
        ])),
        false,
    ))
}

pub fn map() -> DataType {
    DataType::Map(map_entries(), false)
}

/// The frame columns in file order: name and element type.
pub fn frame_fields() -> Vec<Field> {
    let l = |name: &str, t: DataType| Field::new(name, list_of(t), false);
    vec![
        l("frames_function_name", dict()),
        l("frames_system_name", dict()),
        l("frames_file_name", dict()),
        l("frames_function_start_line", DataType::Int64),
        l("frames_line", DataType::Int64),
        l("frames_column", DataType::Int64),
        l("frames_inlined", DataType::Boolean),
        l("frames_address", DataType::UInt64),
        l("frames_mapping_file", dict()),
        l("frames_mapping_build_id", dict()),
        l("frames_mapping_start", DataType::UInt64),
        l("frames_mapping_limit", DataType::UInt64),
        l("frames_mapping_offset", DataType::UInt64),
        l("frames_frame_type", dict()),
    ]
}

/// Promoted resource attributes: column name and the attribute keys it reads, first present wins.
pub const PROMOTED: [(&str, &[&str]); 7] = [
    ("service_namespace", &["service.namespace"]),
    ("service_version", &["service.version"]),
    (
        "deployment_environment",
        &["deployment.environment.name", "deployment.environment"],
    ),
    ("host_name", &["host.name"]),
    ("k8s_namespace_name", &["k8s.namespace.name"]),
    ("k8s_pod_name", &["k8s.pod.name"]),
    ("container_id", &["container.id"]),
];

fn sample_fields(with_frames: bool) -> Vec<Field> {
    let mut f = vec![
        Field::new("time", ts(), false),
        Field::new("profile_type", dict(), false),
        Field::new("sample_type", dict(), false),
        Field::new("sample_unit", dict(), false),
        Field::new("period_type", dict(), true),
        Field::new("period_unit", dict(), true),
        Field::new("period", DataType::Int64, true),
        Field::new("value", DataType::Int64, false),
        Field::new("observation_values", list_of(DataType::Int64), true),
        Field::new("observation_timestamps", list_of(ts()), true),
        Field::new("stack_id", DataType::UInt64, false),
    ];
    if with_frames {
        f.extend(frame_fields());
    }
    f.extend([
        Field::new("trace_id", DataType::FixedSizeBinary(16), true),
        Field::new("span_id", DataType::FixedSizeBinary(8), true),
        Field::new("span_name", dict(), true),
        Field::new("sample_attributes", map(), true),
        Field::new("profile_id", DataType::FixedSizeBinary(16), true),
        Field::new("profile_time", ts(), false),
        Field::new("profile_duration_nanos", DataType::Int64, true),
        Field::new("profile_attributes", map(), true),
        Field::new("original_payload_format", dict(), true),
    ]);
    for (name, _) in PROMOTED {
        f.push(Field::new(name, dict(), true));
    }
    f.extend([
        Field::new("resource_attributes", map(), true),
        Field::new("scope_name", dict(), true),
        Field::new("scope_version", dict(), true),
    ]);
    f
}

/// The `profiles` table of the default (denormalized) layout.
pub fn profiles_schema() -> SchemaRef {
    Arc::new(Schema::new(sample_fields(true)))
}

/// The `profiles` table of the normalized layout: no frame lists, join `stacks` on `stack_id`.
pub fn normalized_profiles_schema() -> SchemaRef {
    Arc::new(Schema::new(sample_fields(false)))
}

/// The `stacks` table of the normalized layout: one row per distinct stack of a profiles file.
pub fn stacks_schema() -> SchemaRef {
    let mut f = vec![Field::new("stack_id", DataType::UInt64, false)];
    f.extend(frame_fields());
    Arc::new(Schema::new(f))
}

/// Hive partition columns, outermost first. Their values are strings in the path
/// (`service_name=shop/date=2026-11-25/hour=10`), never columns of the file body (DataFusion
/// refuses a column that is in both).
pub const PARTITION_COLUMNS: [&str; 3] = ["service_name", "date", "hour"];

/// The `profiles` schema plus the partition columns (Utf8) as a hive-partitioned reader shows
/// them: the `samples` table of `profcol query`.
pub fn table_schema() -> SchemaRef {
    let mut f: Vec<Field> = sample_fields(true);
    for p in PARTITION_COLUMNS {
        f.push(Field::new(p, DataType::Utf8, false));
    }
    Arc::new(Schema::new(f))
}

/// Columns with bloom filters.
pub const BLOOM_COLUMNS: [&str; 3] = ["trace_id", "span_id", "profile_id"];
