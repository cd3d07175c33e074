//! Message encoders: one per OTLP message, lowerCamelCase keys, default values omitted.

use crate::collector::{ExportProfilesServiceRequest, ExportProfilesServiceResponse};
use crate::common::any_value::Value;
use crate::common::{AnyValue, EntityRef, InstrumentationScope, KeyValue};
use crate::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use crate::resource::Resource;

use super::writer::*;

/// A rough output size, to avoid most reallocations for large requests.
pub(super) fn estimate_capacity(req: &ExportProfilesServiceRequest) -> usize {
    let dict = req.dictionary.as_ref().map_or(0, |d| {
        d.string_table.iter().map(|s| s.len() + 3).sum::<usize>()
            + d.location_table.len() * 64
            + d.function_table.len() * 64
            + d.stack_table.len() * 48
            + d.mapping_table.len() * 128
            + d.attribute_table.len() * 64
            + d.link_table.len() * 96
    });
    let samples: usize = req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
        .map(|p| p.samples.len() * 64 + p.original_payload.len() * 4 / 3)
        .sum();
    (dict + samples + 256).min(1 << 28)
}

pub(super) fn enc_request(out: &mut Vec<u8>, m: &ExportProfilesServiceRequest) {
    let mut o = ObjWriter::begin(out);
    o.msgs(
        "resourceProfiles",
        &m.resource_profiles,
        enc_resource_profiles,
    );
    o.msg("dictionary", m.dictionary.as_ref(), enc_dictionary);
    o.end();
}

pub(super) fn enc_response(out: &mut Vec<u8>, m: &ExportProfilesServiceResponse) {
    let mut o = ObjWriter::begin(out);
    o.msg("partialSuccess", m.partial_success.as_ref(), |out, ps| {
        let mut o = ObjWriter::begin(out);
        o.i64("rejectedProfiles", ps.rejected_profiles);
        o.str("errorMessage", &ps.error_message);
        o.end();
    });
    o.end();
}

pub(super) fn enc_dictionary(out: &mut Vec<u8>, m: &ProfilesDictionary) {
    let mut o = ObjWriter::begin(out);
    o.msgs("mappingTable", &m.mapping_table, enc_mapping);
    o.msgs("locationTable", &m.location_table, enc_location);
    o.msgs("functionTable", &m.function_table, enc_function);
    o.msgs("linkTable", &m.link_table, enc_link);
    o.strs("stringTable", &m.string_table);
    o.msgs("attributeTable", &m.attribute_table, enc_key_value_and_unit);
    o.msgs("stackTable", &m.stack_table, enc_stack);
    o.end();
}

pub(super) fn enc_resource_profiles(out: &mut Vec<u8>, m: &ResourceProfiles) {
    let mut o = ObjWriter::begin(out);
    o.msg("resource", m.resource.as_ref(), enc_resource);
    o.msgs("scopeProfiles", &m.scope_profiles, enc_scope_profiles);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

pub(super) fn enc_scope_profiles(out: &mut Vec<u8>, m: &ScopeProfiles) {
    let mut o = ObjWriter::begin(out);
    o.msg("scope", m.scope.as_ref(), enc_scope);
    o.msgs("profiles", &m.profiles, enc_profile);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

pub(super) fn enc_profile(out: &mut Vec<u8>, m: &Profile) {
    let mut o = ObjWriter::begin(out);
    o.msg("sampleType", m.sample_type.as_ref(), enc_value_type);
    o.msgs("samples", &m.samples, enc_sample);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("durationNano", m.duration_nano);
    o.msg("periodType", m.period_type.as_ref(), enc_value_type);
    o.i64("period", m.period);
    o.hex("profileId", &m.profile_id);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.str("originalPayloadFormat", &m.original_payload_format);
    o.b64("originalPayload", &m.original_payload);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.end();
}

pub(super) fn enc_sample(out: &mut Vec<u8>, m: &Sample) {
    let mut o = ObjWriter::begin(out);
    o.i32("stackIndex", m.stack_index);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.i32("linkIndex", m.link_index);
    o.i64s("values", &m.values);
    o.u64s("timestampsUnixNano", &m.timestamps_unix_nano);
    o.end();
}

pub(super) fn enc_value_type(out: &mut Vec<u8>, m: &ValueType) {
    let mut o = ObjWriter::begin(out);
    o.i32("typeStrindex", m.type_strindex);
    o.i32("unitStrindex", m.unit_strindex);
    o.end();
}

pub(super) fn enc_stack(out: &mut Vec<u8>, m: &Stack) {
    let mut o = ObjWriter::begin(out);
    o.i32s("locationIndices", &m.location_indices);
    o.end();
}

pub(super) fn enc_location(out: &mut Vec<u8>, m: &Location) {
    let mut o = ObjWriter::begin(out);
    o.i32("mappingIndex", m.mapping_index);
    o.u64("address", m.address);
    o.msgs("lines", &m.lines, enc_line);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.end();
}

pub(super) fn enc_line(out: &mut Vec<u8>, m: &Line) {
    let mut o = ObjWriter::begin(out);
    o.i32("functionIndex", m.function_index);
    o.i64("line", m.line);
    o.i64("column", m.column);
    o.end();
}

pub(super) fn enc_function(out: &mut Vec<u8>, m: &Function) {
    let mut o = ObjWriter::begin(out);
    o.i32("nameStrindex", m.name_strindex);
    o.i32("systemNameStrindex", m.system_name_strindex);
    o.i32("filenameStrindex", m.filename_strindex);
    o.i64("startLine", m.start_line);
    o.end();
}

pub(super) fn enc_mapping(out: &mut Vec<u8>, m: &Mapping) {
    let mut o = ObjWriter::begin(out);
    o.u64("memoryStart", m.memory_start);
    o.u64("memoryLimit", m.memory_limit);
    o.u64("fileOffset", m.file_offset);
    o.i32("filenameStrindex", m.filename_strindex);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.end();
}

pub(super) fn enc_link(out: &mut Vec<u8>, m: &Link) {
    let mut o = ObjWriter::begin(out);
    o.hex("traceId", &m.trace_id);
    o.hex("spanId", &m.span_id);
    o.end();
}

pub(super) fn enc_key_value_and_unit(out: &mut Vec<u8>, m: &KeyValueAndUnit) {
    let mut o = ObjWriter::begin(out);
    o.i32("keyStrindex", m.key_strindex);
    o.msg("value", m.value.as_ref(), enc_any_value);
    o.i32("unitStrindex", m.unit_strindex);
    o.end();
}

pub(super) fn enc_resource(out: &mut Vec<u8>, m: &Resource) {
    let mut o = ObjWriter::begin(out);
    o.msgs("attributes", &m.attributes, enc_key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.msgs("entityRefs", &m.entity_refs, enc_entity_ref);
    o.end();
}

pub(super) fn enc_entity_ref(out: &mut Vec<u8>, m: &EntityRef) {
    let mut o = ObjWriter::begin(out);
    o.str("schemaUrl", &m.schema_url);
    o.str("type", &m.r#type);
    o.strs("idKeys", &m.id_keys);
    o.strs("descriptionKeys", &m.description_keys);
    o.end();
}

pub(super) fn enc_scope(out: &mut Vec<u8>, m: &InstrumentationScope) {
    let mut o = ObjWriter::begin(out);
    o.str("name", &m.name);
    o.str("version", &m.version);
    o.msgs("attributes", &m.attributes, enc_key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.end();
}

pub(super) fn enc_key_value(out: &mut Vec<u8>, m: &KeyValue) {
    let mut o = ObjWriter::begin(out);
    o.str("key", &m.key);
    o.msg("value", m.value.as_ref(), enc_any_value);
    o.i32("keyStrindex", m.key_strindex);
    o.end();
}

/// The arm that is set is always written, even when it holds its type's default value.
pub(super) fn enc_any_value(out: &mut Vec<u8>, m: &AnyValue) {
    let mut o = ObjWriter::begin(out);
    match &m.value {
        None => {}
        Some(Value::StringValue(s)) => push_str(o.key("stringValue"), s),
        Some(Value::BoolValue(b)) => {
            o.key("boolValue")
                .extend_from_slice(if *b { b"true" } else { b"false" })
        }
        Some(Value::IntValue(i)) => push_quoted_i64(o.key("intValue"), *i),
        Some(Value::DoubleValue(d)) => push_f64(o.key("doubleValue"), *d),
        Some(Value::ArrayValue(a)) => {
            let mut inner = ObjWriter::begin(o.key("arrayValue"));
            inner.msgs("values", &a.values, enc_any_value);
            inner.end();
        }
        Some(Value::KvlistValue(kv)) => {
            let mut inner = ObjWriter::begin(o.key("kvlistValue"));
            inner.msgs("values", &kv.values, enc_key_value);
            inner.end();
        }
        Some(Value::BytesValue(b)) => push_b64(o.key("bytesValue"), b),
        Some(Value::StringValueStrindex(i)) => {
            push_i64(o.key("stringValueStrindex"), i64::from(*i));
        }
    }
    o.end();
}
