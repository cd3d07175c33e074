//! The Parquet layout of `specs/parquet.md`: one row per sample, frames as parallel leaf-first
//! lists, partition columns (`service_name`, `date`, `hour`) in the path only.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// The schema version written in each file's key-value metadata (`profcol.schema_version`).
pub const SCHEMA_VERSION: &str = "1";

/// Hive partition columns, outermost first. Their values are strings in the path
/// (`service_name=shop/date=2026-11-25/hour=10`).
pub const PARTITION_COLUMNS: [&str; 3] = ["service_name", "date", "hour"];

/// `Dictionary(Int32, Utf8)`.
pub fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// `Timestamp(Nanosecond, "UTC")`.
pub fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// A list of `item` (nullable items, as Arrow's list builders make them).
pub fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// `Map<Utf8, Utf8>` as Arrow's map builder makes it.
pub fn string_map() -> DataType {
    let entries = Fields::from(vec![
        Field::new("keys", DataType::Utf8, false),
        Field::new("values", DataType::Utf8, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

/// The frame list columns in file order, with their element type.
pub fn frame_columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("frames_function_name", dict()),
        ("frames_system_name", dict()),
        ("frames_file_name", dict()),
        ("frames_function_start_line", DataType::Int64),
        ("frames_line", DataType::Int64),
        ("frames_column", DataType::Int64),
        ("frames_inlined", DataType::Boolean),
        ("frames_address", DataType::UInt64),
        ("frames_mapping_file", dict()),
        ("frames_mapping_build_id", dict()),
        ("frames_mapping_start", DataType::UInt64),
        ("frames_mapping_limit", DataType::UInt64),
        ("frames_mapping_offset", DataType::UInt64),
        ("frames_frame_type", dict()),
    ]
}

/// Promoted resource attributes: (column, the OTLP attribute keys it reads, first non-empty
/// wins), as the `parquet` exporter writes them (`tests/layout_agreement.rs` holds the two equal).
pub const PROMOTED_RESOURCE: [(&str, &[&str]); 7] = [
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

/// The columns stored in each file (no partition columns).
pub fn file_schema() -> SchemaRef {
    let mut f = vec![
        Field::new("time", ts(), false),
        Field::new("profile_type", dict(), false),
        Field::new("sample_type", dict(), false),
        Field::new("sample_unit", dict(), false),
        Field::new("period_type", dict(), true),
        Field::new("period_unit", dict(), true),
        Field::new("period", DataType::Int64, true),
        Field::new("value", DataType::Int64, false),
        Field::new("observation_values", list(DataType::Int64), true),
        Field::new("observation_timestamps", list(ts()), true),
        Field::new("stack_id", DataType::UInt64, false),
    ];
    for (name, item) in frame_columns() {
        f.push(Field::new(name, list(item), false));
    }
    f.extend([
        Field::new("trace_id", DataType::FixedSizeBinary(16), true),
        Field::new("span_id", DataType::FixedSizeBinary(8), true),
        Field::new("span_name", dict(), true),
        Field::new("sample_attributes", string_map(), true),
        Field::new("profile_id", DataType::FixedSizeBinary(16), true),
        Field::new("profile_time", ts(), false),
        Field::new("profile_duration_nanos", DataType::Int64, true),
        Field::new("profile_attributes", string_map(), true),
        Field::new("original_payload_format", dict(), true),
    ]);
    for (name, _) in PROMOTED_RESOURCE {
        f.push(Field::new(name, dict(), true));
    }
    f.extend([
        Field::new("resource_attributes", string_map(), true),
        Field::new("scope_name", dict(), true),
        Field::new("scope_version", dict(), true),
    ]);
    Arc::new(Schema::new(f))
}

/// The file schema plus the partition columns as the `samples` table shows them (Utf8).
pub fn table_schema() -> SchemaRef {
    let base = file_schema();
    let mut f: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    for p in PARTITION_COLUMNS {
        f.push(Field::new(p, DataType::Utf8, false));
    }
    Arc::new(Schema::new(f))
}
