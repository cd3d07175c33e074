//! Samples as rows of the Parquet layout: an owned row model, an Arrow batch builder for it, and
//! the conversion of an OTLP request into such rows (for `--input FILE`).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, FixedSizeBinaryBuilder, Int64Builder, ListBuilder, MapBuilder,
    StringBuilder, StringDictionaryBuilder, TimestampNanosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{Int32Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use profcol_pdata::ExportProfilesServiceRequest;

use crate::error::Result;
use crate::schema;

/// One frame (one line of a location), as the `frames_*` columns hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FrameRow {
    pub function_name: String,
    pub system_name: String,
    pub file_name: String,
    pub function_start_line: i64,
    pub line: i64,
    pub column: i64,
    pub inlined: bool,
    pub address: u64,
    pub mapping_file: String,
    pub mapping_build_id: String,
    pub mapping_start: u64,
    pub mapping_limit: u64,
    pub mapping_offset: u64,
    pub frame_type: String,
}

impl FrameRow {
    /// A frame that only has a function name (and a file derived from it).
    pub fn named(name: &str) -> FrameRow {
        FrameRow {
            function_name: name.into(),
            system_name: name.into(),
            file_name: format!("{name}.go"),
            line: 1,
            frame_type: "go".into(),
            ..Default::default()
        }
    }
}

/// One sample. `frames` are leaf first.
#[derive(Debug, Clone, Default)]
pub struct SampleRow {
    pub time: i64,
    pub sample_type: String,
    pub sample_unit: String,
    pub period_type: Option<String>,
    pub period_unit: Option<String>,
    pub period: Option<i64>,
    pub value: i64,
    pub observation_values: Option<Vec<i64>>,
    pub observation_timestamps: Option<Vec<i64>>,
    pub frames: Vec<FrameRow>,
    pub trace_id: Option<[u8; 16]>,
    pub span_id: Option<[u8; 8]>,
    pub span_name: Option<String>,
    pub sample_attributes: Vec<(String, String)>,
    pub profile_id: Option<[u8; 16]>,
    pub profile_time: i64,
    pub profile_duration_nanos: Option<i64>,
    pub profile_attributes: Vec<(String, String)>,
    /// Values of [`schema::PROMOTED_RESOURCE`], in its order.
    pub promoted: [Option<String>; 7],
    pub resource_attributes: Vec<(String, String)>,
    pub scope_name: Option<String>,
    pub scope_version: Option<String>,
    /// Partition values; written to the path, not the file (see [`RowsBuilder::with_partitions`]).
    pub service_name: String,
}

impl SampleRow {
    /// `sample_type:sample_unit:period_type:period_unit`.
    pub fn profile_type(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.sample_type,
            self.sample_unit,
            self.period_type.as_deref().unwrap_or(""),
            self.period_unit.as_deref().unwrap_or("")
        )
    }

    /// `service.version` (a promoted resource attribute).
    pub fn set_service_version(&mut self, v: &str) {
        self.promoted[1] = Some(v.into());
    }
}

/// A stable 64-bit hash (FNV-1a) of a frame sequence: the same frames give the same id in every
/// file and every run.
pub fn stack_id(frames: &[FrameRow]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for f in frames {
        eat(f.function_name.as_bytes());
        eat(&[0]);
        eat(f.file_name.as_bytes());
        eat(&[0]);
        eat(&f.line.to_le_bytes());
        eat(&f.address.to_le_bytes());
        eat(f.mapping_file.as_bytes());
        eat(&[1]);
    }
    h
}

type DictB = StringDictionaryBuilder<Int32Type>;

fn dict_opt(b: &mut DictB, v: Option<&str>) {
    match v {
        Some(s) => b.append_value(s),
        None => b.append_null(),
    }
}

fn map_append(b: &mut MapBuilder<StringBuilder, StringBuilder>, kv: &[(String, String)]) {
    if kv.is_empty() {
        // Spec: nullable; an empty list reads as no attributes.
        let _ = b.append(false);
        return;
    }
    for (k, v) in kv {
        b.keys().append_value(k);
        b.values().append_value(v);
    }
    let _ = b.append(true);
}

/// Appends [`SampleRow`]s into Arrow builders of the spec's schema.
pub struct RowsBuilder {
    with_partitions: bool,
    len: usize,
    time: TimestampNanosecondBuilder,
    profile_type: DictB,
    sample_type: DictB,
    sample_unit: DictB,
    period_type: DictB,
    period_unit: DictB,
    period: Int64Builder,
    value: Int64Builder,
    observation_values: ListBuilder<Int64Builder>,
    observation_timestamps: ListBuilder<TimestampNanosecondBuilder>,
    stack_id: UInt64Builder,
    f_function_name: ListBuilder<DictB>,
    f_system_name: ListBuilder<DictB>,
    f_file_name: ListBuilder<DictB>,
    f_start_line: ListBuilder<Int64Builder>,
    f_line: ListBuilder<Int64Builder>,
    f_column: ListBuilder<Int64Builder>,
    f_inlined: ListBuilder<BooleanBuilder>,
    f_address: ListBuilder<UInt64Builder>,
    f_mapping_file: ListBuilder<DictB>,
    f_build_id: ListBuilder<DictB>,
    f_mapping_start: ListBuilder<UInt64Builder>,
    f_mapping_limit: ListBuilder<UInt64Builder>,
    f_mapping_offset: ListBuilder<UInt64Builder>,
    f_frame_type: ListBuilder<DictB>,
    trace_id: FixedSizeBinaryBuilder,
    span_id: FixedSizeBinaryBuilder,
    span_name: DictB,
    sample_attributes: MapBuilder<StringBuilder, StringBuilder>,
    profile_id: FixedSizeBinaryBuilder,
    profile_time: TimestampNanosecondBuilder,
    profile_duration: Int64Builder,
    profile_attributes: MapBuilder<StringBuilder, StringBuilder>,
    original_payload_format: DictB,
    promoted: Vec<DictB>,
    resource_attributes: MapBuilder<StringBuilder, StringBuilder>,
    scope_name: DictB,
    scope_version: DictB,
    p_service: StringBuilder,
    p_date: StringBuilder,
    p_hour: StringBuilder,
}

fn ts_builder() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}

fn map_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
}

impl Default for RowsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RowsBuilder {
    /// Rows for a Parquet file body (no partition columns).
    pub fn new() -> RowsBuilder {
        RowsBuilder {
            with_partitions: false,
            len: 0,
            time: ts_builder(),
            profile_type: DictB::new(),
            sample_type: DictB::new(),
            sample_unit: DictB::new(),
            period_type: DictB::new(),
            period_unit: DictB::new(),
            period: Int64Builder::new(),
            value: Int64Builder::new(),
            observation_values: ListBuilder::new(Int64Builder::new()),
            observation_timestamps: ListBuilder::new(ts_builder()),
            stack_id: UInt64Builder::new(),
            f_function_name: ListBuilder::new(DictB::new()),
            f_system_name: ListBuilder::new(DictB::new()),
            f_file_name: ListBuilder::new(DictB::new()),
            f_start_line: ListBuilder::new(Int64Builder::new()),
            f_line: ListBuilder::new(Int64Builder::new()),
            f_column: ListBuilder::new(Int64Builder::new()),
            f_inlined: ListBuilder::new(BooleanBuilder::new()),
            f_address: ListBuilder::new(UInt64Builder::new()),
            f_mapping_file: ListBuilder::new(DictB::new()),
            f_build_id: ListBuilder::new(DictB::new()),
            f_mapping_start: ListBuilder::new(UInt64Builder::new()),
            f_mapping_limit: ListBuilder::new(UInt64Builder::new()),
            f_mapping_offset: ListBuilder::new(UInt64Builder::new()),
            f_frame_type: ListBuilder::new(DictB::new()),
            trace_id: FixedSizeBinaryBuilder::new(16),
            span_id: FixedSizeBinaryBuilder::new(8),
            span_name: DictB::new(),
            sample_attributes: map_builder(),
            profile_id: FixedSizeBinaryBuilder::new(16),
            profile_time: ts_builder(),
            profile_duration: Int64Builder::new(),
            profile_attributes: map_builder(),
            original_payload_format: DictB::new(),
            promoted: (0..schema::PROMOTED_RESOURCE.len())
                .map(|_| DictB::new())
                .collect(),
            resource_attributes: map_builder(),
            scope_name: DictB::new(),
            scope_version: DictB::new(),
            p_service: StringBuilder::new(),
            p_date: StringBuilder::new(),
            p_hour: StringBuilder::new(),
        }
    }

    /// Rows for an in-memory `samples` table: the partition columns are appended, derived from
    /// `service_name` and `time` (UTC).
    pub fn with_partitions() -> RowsBuilder {
        RowsBuilder {
            with_partitions: true,
            ..RowsBuilder::new()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn append(&mut self, r: &SampleRow) {
        self.len += 1;
        self.time.append_value(r.time);
        self.profile_type.append_value(r.profile_type());
        self.sample_type.append_value(&r.sample_type);
        self.sample_unit.append_value(&r.sample_unit);
        dict_opt(&mut self.period_type, r.period_type.as_deref());
        dict_opt(&mut self.period_unit, r.period_unit.as_deref());
        self.period.append_option(r.period);
        self.value.append_value(r.value);
        match &r.observation_values {
            Some(v) => self
                .observation_values
                .append_value(v.iter().map(|x| Some(*x))),
            None => self.observation_values.append_null(),
        }
        match &r.observation_timestamps {
            Some(v) => {
                for t in v {
                    self.observation_timestamps.values().append_value(*t);
                }
                self.observation_timestamps.append(true);
            }
            None => self.observation_timestamps.append_null(),
        }
        self.stack_id.append_value(stack_id(&r.frames));
        for f in &r.frames {
            self.f_function_name.values().append_value(&f.function_name);
            self.f_system_name.values().append_value(&f.system_name);
            self.f_file_name.values().append_value(&f.file_name);
            self.f_start_line
                .values()
                .append_value(f.function_start_line);
            self.f_line.values().append_value(f.line);
            self.f_column.values().append_value(f.column);
            self.f_inlined.values().append_value(f.inlined);
            self.f_address.values().append_value(f.address);
            self.f_mapping_file.values().append_value(&f.mapping_file);
            self.f_build_id.values().append_value(&f.mapping_build_id);
            self.f_mapping_start.values().append_value(f.mapping_start);
            self.f_mapping_limit.values().append_value(f.mapping_limit);
            self.f_mapping_offset
                .values()
                .append_value(f.mapping_offset);
            self.f_frame_type.values().append_value(&f.frame_type);
        }
        self.f_function_name.append(true);
        self.f_system_name.append(true);
        self.f_file_name.append(true);
        self.f_start_line.append(true);
        self.f_line.append(true);
        self.f_column.append(true);
        self.f_inlined.append(true);
        self.f_address.append(true);
        self.f_mapping_file.append(true);
        self.f_build_id.append(true);
        self.f_mapping_start.append(true);
        self.f_mapping_limit.append(true);
        self.f_mapping_offset.append(true);
        self.f_frame_type.append(true);
        // Builders of the declared width cannot fail on a slice of that width.
        match &r.trace_id {
            Some(t) => {
                let _ = self.trace_id.append_value(t);
            }
            None => self.trace_id.append_null(),
        }
        match &r.span_id {
            Some(t) => {
                let _ = self.span_id.append_value(t);
            }
            None => self.span_id.append_null(),
        }
        dict_opt(&mut self.span_name, r.span_name.as_deref());
        map_append(&mut self.sample_attributes, &r.sample_attributes);
        match &r.profile_id {
            Some(t) => {
                let _ = self.profile_id.append_value(t);
            }
            None => self.profile_id.append_null(),
        }
        self.profile_time.append_value(r.profile_time);
        self.profile_duration
            .append_option(r.profile_duration_nanos);
        map_append(&mut self.profile_attributes, &r.profile_attributes);
        self.original_payload_format.append_null();
        for (b, v) in self.promoted.iter_mut().zip(&r.promoted) {
            dict_opt(b, v.as_deref());
        }
        map_append(&mut self.resource_attributes, &r.resource_attributes);
        dict_opt(&mut self.scope_name, r.scope_name.as_deref());
        dict_opt(&mut self.scope_version, r.scope_version.as_deref());
        if self.with_partitions {
            let (date, hour) = date_hour(r.time);
            self.p_service.append_value(&r.service_name);
            self.p_date.append_value(date);
            self.p_hour.append_value(hour);
        }
    }

    /// The schema of the batches this builder makes.
    pub fn schema(&self) -> SchemaRef {
        if self.with_partitions {
            schema::table_schema()
        } else {
            schema::file_schema()
        }
    }

    /// The rows appended since the last call, as one batch.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.len = 0;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.profile_type.finish()),
            Arc::new(self.sample_type.finish()),
            Arc::new(self.sample_unit.finish()),
            Arc::new(self.period_type.finish()),
            Arc::new(self.period_unit.finish()),
            Arc::new(self.period.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.observation_values.finish()),
            Arc::new(self.observation_timestamps.finish()),
            Arc::new(self.stack_id.finish()),
            Arc::new(self.f_function_name.finish()),
            Arc::new(self.f_system_name.finish()),
            Arc::new(self.f_file_name.finish()),
            Arc::new(self.f_start_line.finish()),
            Arc::new(self.f_line.finish()),
            Arc::new(self.f_column.finish()),
            Arc::new(self.f_inlined.finish()),
            Arc::new(self.f_address.finish()),
            Arc::new(self.f_mapping_file.finish()),
            Arc::new(self.f_build_id.finish()),
            Arc::new(self.f_mapping_start.finish()),
            Arc::new(self.f_mapping_limit.finish()),
            Arc::new(self.f_mapping_offset.finish()),
            Arc::new(self.f_frame_type.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.span_name.finish()),
            Arc::new(self.sample_attributes.finish()),
            Arc::new(self.profile_id.finish()),
            Arc::new(self.profile_time.finish()),
            Arc::new(self.profile_duration.finish()),
            Arc::new(self.profile_attributes.finish()),
            Arc::new(self.original_payload_format.finish()),
        ];
        for b in &mut self.promoted {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.resource_attributes.finish()));
        cols.push(Arc::new(self.scope_name.finish()));
        cols.push(Arc::new(self.scope_version.finish()));
        if self.with_partitions {
            cols.push(Arc::new(self.p_service.finish()));
            cols.push(Arc::new(self.p_date.finish()));
            cols.push(Arc::new(self.p_hour.finish()));
        }
        Ok(RecordBatch::try_new(self.schema(), cols)?)
    }
}

pub use profcol_settings::time::rfc3339;

/// (`YYYY-MM-DD`, `HH`) of a UTC timestamp in nanoseconds: the partition values.
pub fn date_hour(time_ns: i64) -> (String, String) {
    let c = profcol_settings::time::Civil::from_unix_secs(time_ns.div_euclid(1_000_000_000));
    (c.date(), format!("{:02}", c.hour))
}

fn text_attrs<'a>(
    it: impl Iterator<Item = &'a profcol_pdata::common::KeyValue>,
) -> Vec<(String, String)> {
    it.map(|kv| {
        (
            kv.key.clone(),
            profcol_pdata::view::any_value_text(kv.value.as_ref()),
        )
    })
    .collect()
}

/// A validated OTLP request → one row per sample, as the `parquet` exporter lays them out
/// (lossy the same way: attribute values as text). Frames without a function name get the
/// label `mapping+0xADDR` (as `profcol convert --to folded` shows them).
pub fn rows_from_request(req: &ExportProfilesServiceRequest) -> Vec<SampleRow> {
    let mut out = Vec::with_capacity(profcol_pdata::sample_count(req));
    for s in profcol_pdata::samples(req) {
        let res_attrs = s
            .resource
            .resource
            .as_ref()
            .map(|r| text_attrs(r.attributes.iter()))
            .unwrap_or_default();
        let find = |k: &str| {
            res_attrs
                .iter()
                .find(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let mut promoted: [Option<String>; 7] = Default::default();
        for (slot, (_, keys)) in promoted.iter_mut().zip(schema::PROMOTED_RESOURCE) {
            *slot = keys.iter().find_map(|k| find(k));
        }
        let (ty, unit) = s.sample_type();
        let period = s.profile.period_type.as_ref().map(|vt| {
            (
                s.dict.string(vt.type_strindex).to_owned(),
                s.dict.string(vt.unit_strindex).to_owned(),
            )
        });
        let frames = s
            .frames()
            .iter()
            .map(|f| FrameRow {
                function_name: f.label(),
                system_name: f.system_name.into(),
                file_name: f.file.into(),
                line: f.line,
                inlined: f.inlined,
                address: f.address,
                mapping_file: f.mapping.into(),
                ..Default::default()
            })
            .collect();
        let sample_attributes: Vec<(String, String)> = s
            .attributes()
            .map(|(k, v, _)| (k.to_owned(), profcol_pdata::view::any_value_text(v)))
            .collect();
        let span_name = sample_attributes
            .iter()
            .find(|(k, _)| k == "span_name")
            .map(|(_, v)| v.clone());
        let link = s.link();
        let profile_time = i64::try_from(s.profile.time_unix_nano).unwrap_or(i64::MAX);
        let first_ts = s
            .sample
            .timestamps_unix_nano
            .first()
            .map(|t| i64::try_from(*t).unwrap_or(i64::MAX));
        out.push(SampleRow {
            time: first_ts.unwrap_or(profile_time),
            sample_type: ty.into(),
            sample_unit: unit.into(),
            period_type: period.as_ref().map(|p| p.0.clone()),
            period_unit: period.as_ref().map(|p| p.1.clone()),
            period: (s.profile.period != 0).then_some(s.profile.period),
            value: s.total(),
            observation_values: (s.sample.values.len() > 1).then(|| s.sample.values.clone()),
            observation_timestamps: (!s.sample.timestamps_unix_nano.is_empty()).then(|| {
                s.sample
                    .timestamps_unix_nano
                    .iter()
                    .map(|t| i64::try_from(*t).unwrap_or(i64::MAX))
                    .collect()
            }),
            frames,
            trace_id: link.and_then(|l| <[u8; 16]>::try_from(&l.trace_id[..]).ok()),
            span_id: link.and_then(|l| <[u8; 8]>::try_from(&l.span_id[..]).ok()),
            span_name,
            sample_attributes,
            profile_id: <[u8; 16]>::try_from(&s.profile.profile_id[..]).ok(),
            profile_time,
            profile_duration_nanos: (s.profile.duration_nano != 0)
                .then(|| i64::try_from(s.profile.duration_nano).unwrap_or(i64::MAX)),
            profile_attributes: s
                .profile
                .attribute_indices
                .iter()
                .filter_map(|&i| s.dict.attribute(i))
                .map(|(k, v, _)| (k.to_owned(), profcol_pdata::view::any_value_text(v)))
                .collect(),
            service_name: find("service.name").unwrap_or_else(|| "unknown_service".into()),
            promoted,
            resource_attributes: res_attrs,
            scope_name: s.scope.scope.as_ref().map(|sc| sc.name.clone()),
            scope_version: s
                .scope
                .scope
                .as_ref()
                .map(|sc| sc.version.clone())
                .filter(|v| !v.is_empty()),
        });
    }
    out
}
