//! Message decoders: one per OTLP message, each accepting lowerCamelCase and snake_case keys.

use crate::collector::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use crate::common::any_value::Value;
use crate::common::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use crate::resource::Resource;

use super::path::Path;
use super::reader::Json;
use super::scalar::*;
use super::{ID8, ID16, JsonError, MAX_ANY_VALUE_DEPTH};

pub(super) fn dec_request(
    v: Json<'_>,
    p: &Path<'_>,
) -> Result<ExportProfilesServiceRequest, JsonError> {
    if !matches!(v, Json::Obj(_)) {
        return Err(p.err(format!("expected an object, got {}", describe(&v))));
    }
    message(v, p, |m: &mut ExportProfilesServiceRequest, k, val, p| {
        match k {
            "resourceProfiles" => m.resource_profiles = list(val, p, dec_resource_profiles)?,
            "dictionary" => m.dictionary = Some(dec_dictionary(val, p)?),
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_response(
    v: Json<'_>,
    p: &Path<'_>,
) -> Result<ExportProfilesServiceResponse, JsonError> {
    if !matches!(v, Json::Obj(_)) {
        return Err(p.err(format!("expected an object, got {}", describe(&v))));
    }
    message(v, p, |m: &mut ExportProfilesServiceResponse, k, val, p| {
        if k == "partialSuccess" {
            m.partial_success = Some(message(
                val,
                p,
                |m: &mut ExportProfilesPartialSuccess, k, val, p| {
                    match k {
                        "rejectedProfiles" => m.rejected_profiles = int_i64(val, p)?,
                        "errorMessage" => m.error_message = string(val, p)?,
                        _ => {}
                    }
                    Ok(())
                },
            )?);
        }
        Ok(())
    })
}

pub(super) fn dec_dictionary(v: Json<'_>, p: &Path<'_>) -> Result<ProfilesDictionary, JsonError> {
    message(v, p, |m: &mut ProfilesDictionary, k, val, p| {
        match k {
            "mappingTable" => m.mapping_table = list(val, p, dec_mapping)?,
            "locationTable" => m.location_table = list(val, p, dec_location)?,
            "functionTable" => m.function_table = list(val, p, dec_function)?,
            "linkTable" => m.link_table = list(val, p, dec_link)?,
            "stringTable" => m.string_table = list(val, p, string)?,
            "attributeTable" => m.attribute_table = list(val, p, dec_key_value_and_unit)?,
            "stackTable" => m.stack_table = list(val, p, dec_stack)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_resource_profiles(
    v: Json<'_>,
    p: &Path<'_>,
) -> Result<ResourceProfiles, JsonError> {
    message(v, p, |m: &mut ResourceProfiles, k, val, p| {
        match k {
            "resource" => m.resource = Some(dec_resource(val, p)?),
            "scopeProfiles" => m.scope_profiles = list(val, p, dec_scope_profiles)?,
            "schemaUrl" => m.schema_url = string(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_scope_profiles(v: Json<'_>, p: &Path<'_>) -> Result<ScopeProfiles, JsonError> {
    message(v, p, |m: &mut ScopeProfiles, k, val, p| {
        match k {
            "scope" => m.scope = Some(dec_scope(val, p)?),
            "profiles" => m.profiles = list(val, p, dec_profile)?,
            "schemaUrl" => m.schema_url = string(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_profile(v: Json<'_>, p: &Path<'_>) -> Result<Profile, JsonError> {
    message(v, p, |m: &mut Profile, k, val, p| {
        match k {
            "sampleType" => m.sample_type = Some(dec_value_type(val, p)?),
            "samples" => m.samples = list(val, p, dec_sample)?,
            "timeUnixNano" => m.time_unix_nano = int_u64(val, p)?,
            "durationNano" => m.duration_nano = int_u64(val, p)?,
            "periodType" => m.period_type = Some(dec_value_type(val, p)?),
            "period" => m.period = int_i64(val, p)?,
            "profileId" => m.profile_id = id_bytes(val, p, ID16)?,
            "droppedAttributesCount" => m.dropped_attributes_count = int_u32(val, p)?,
            "originalPayloadFormat" => m.original_payload_format = string(val, p)?,
            "originalPayload" => m.original_payload = bytes_b64(val, p)?,
            "attributeIndices" => m.attribute_indices = list(val, p, int_i32)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_sample(v: Json<'_>, p: &Path<'_>) -> Result<Sample, JsonError> {
    message(v, p, |m: &mut Sample, k, val, p| {
        match k {
            "stackIndex" => m.stack_index = int_i32(val, p)?,
            "attributeIndices" => m.attribute_indices = list(val, p, int_i32)?,
            "linkIndex" => m.link_index = int_i32(val, p)?,
            "values" => m.values = list(val, p, int_i64)?,
            "timestampsUnixNano" => m.timestamps_unix_nano = list(val, p, int_u64)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_value_type(v: Json<'_>, p: &Path<'_>) -> Result<ValueType, JsonError> {
    message(v, p, |m: &mut ValueType, k, val, p| {
        match k {
            "typeStrindex" => m.type_strindex = int_i32(val, p)?,
            "unitStrindex" => m.unit_strindex = int_i32(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_stack(v: Json<'_>, p: &Path<'_>) -> Result<Stack, JsonError> {
    message(v, p, |m: &mut Stack, k, val, p| {
        if k == "locationIndices" {
            m.location_indices = list(val, p, int_i32)?;
        }
        Ok(())
    })
}

pub(super) fn dec_location(v: Json<'_>, p: &Path<'_>) -> Result<Location, JsonError> {
    message(v, p, |m: &mut Location, k, val, p| {
        match k {
            "mappingIndex" => m.mapping_index = int_i32(val, p)?,
            "address" => m.address = int_u64(val, p)?,
            "lines" => m.lines = list(val, p, dec_line)?,
            "attributeIndices" => m.attribute_indices = list(val, p, int_i32)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_line(v: Json<'_>, p: &Path<'_>) -> Result<Line, JsonError> {
    message(v, p, |m: &mut Line, k, val, p| {
        match k {
            "functionIndex" => m.function_index = int_i32(val, p)?,
            "line" => m.line = int_i64(val, p)?,
            "column" => m.column = int_i64(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_function(v: Json<'_>, p: &Path<'_>) -> Result<Function, JsonError> {
    message(v, p, |m: &mut Function, k, val, p| {
        match k {
            "nameStrindex" => m.name_strindex = int_i32(val, p)?,
            "systemNameStrindex" => m.system_name_strindex = int_i32(val, p)?,
            "filenameStrindex" => m.filename_strindex = int_i32(val, p)?,
            "startLine" => m.start_line = int_i64(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_mapping(v: Json<'_>, p: &Path<'_>) -> Result<Mapping, JsonError> {
    message(v, p, |m: &mut Mapping, k, val, p| {
        match k {
            "memoryStart" => m.memory_start = int_u64(val, p)?,
            "memoryLimit" => m.memory_limit = int_u64(val, p)?,
            "fileOffset" => m.file_offset = int_u64(val, p)?,
            "filenameStrindex" => m.filename_strindex = int_i32(val, p)?,
            "attributeIndices" => m.attribute_indices = list(val, p, int_i32)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_link(v: Json<'_>, p: &Path<'_>) -> Result<Link, JsonError> {
    message(v, p, |m: &mut Link, k, val, p| {
        match k {
            "traceId" => m.trace_id = id_bytes(val, p, ID16)?,
            "spanId" => m.span_id = id_bytes(val, p, ID8)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_key_value_and_unit(
    v: Json<'_>,
    p: &Path<'_>,
) -> Result<KeyValueAndUnit, JsonError> {
    message(v, p, |m: &mut KeyValueAndUnit, k, val, p| {
        match k {
            "keyStrindex" => m.key_strindex = int_i32(val, p)?,
            "value" => m.value = Some(dec_any_value(val, p, 0)?),
            "unitStrindex" => m.unit_strindex = int_i32(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_resource(v: Json<'_>, p: &Path<'_>) -> Result<Resource, JsonError> {
    message(v, p, |m: &mut Resource, k, val, p| {
        match k {
            "attributes" => m.attributes = dec_attributes(val, p)?,
            "droppedAttributesCount" => m.dropped_attributes_count = int_u32(val, p)?,
            "entityRefs" => m.entity_refs = list(val, p, dec_entity_ref)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_entity_ref(v: Json<'_>, p: &Path<'_>) -> Result<EntityRef, JsonError> {
    message(v, p, |m: &mut EntityRef, k, val, p| {
        match k {
            "schemaUrl" => m.schema_url = string(val, p)?,
            "type" => m.r#type = string(val, p)?,
            "idKeys" => m.id_keys = list(val, p, string)?,
            "descriptionKeys" => m.description_keys = list(val, p, string)?,
            _ => {}
        }
        Ok(())
    })
}

pub(super) fn dec_scope(v: Json<'_>, p: &Path<'_>) -> Result<InstrumentationScope, JsonError> {
    message(v, p, |m: &mut InstrumentationScope, k, val, p| {
        match k {
            "name" => m.name = string(val, p)?,
            "version" => m.version = string(val, p)?,
            "attributes" => m.attributes = dec_attributes(val, p)?,
            "droppedAttributesCount" => m.dropped_attributes_count = int_u32(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

/// A top-level attribute list (`Resource` or `InstrumentationScope`).
pub(super) fn dec_attributes(v: Json<'_>, p: &Path<'_>) -> Result<Vec<KeyValue>, JsonError> {
    list(v, p, |it, p| dec_key_value(it, p, 0))
}

/// `depth` is the `AnyValue` level of the enclosing value (0 at the top).
pub(super) fn dec_key_value(
    v: Json<'_>,
    p: &Path<'_>,
    depth: usize,
) -> Result<KeyValue, JsonError> {
    message(v, p, |m: &mut KeyValue, k, val, p| {
        match k {
            "key" => m.key = string(val, p)?,
            "value" => m.value = Some(dec_any_value(val, p, depth)?),
            "keyStrindex" => m.key_strindex = int_i32(val, p)?,
            _ => {}
        }
        Ok(())
    })
}

/// `parent_depth` is the `AnyValue` level of the enclosing value (0 at the top).
pub(super) fn dec_any_value(
    v: Json<'_>,
    p: &Path<'_>,
    parent_depth: usize,
) -> Result<AnyValue, JsonError> {
    let depth = parent_depth + 1;
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(p.err(format!(
            "AnyValue nesting is deeper than {MAX_ANY_VALUE_DEPTH} levels"
        )));
    }
    message(v, p, |m: &mut AnyValue, k, val, field| {
        let value = match k {
            "stringValue" => Value::StringValue(string(val, field)?),
            "boolValue" => Value::BoolValue(boolean(val, field)?),
            "intValue" => Value::IntValue(int_i64(val, field)?),
            "doubleValue" => Value::DoubleValue(double(val, field)?),
            "arrayValue" => {
                Value::ArrayValue(message(val, field, |m: &mut ArrayValue, k, val, p| {
                    if k == "values" {
                        m.values = list(val, p, |it, p| dec_any_value(it, p, depth))?;
                    }
                    Ok(())
                })?)
            }
            "kvlistValue" => {
                Value::KvlistValue(message(val, field, |m: &mut KeyValueList, k, val, p| {
                    if k == "values" {
                        m.values = list(val, p, |it, p| dec_key_value(it, p, depth))?;
                    }
                    Ok(())
                })?)
            }
            "bytesValue" => Value::BytesValue(bytes_b64(val, field)?),
            "stringValueStrindex" => Value::StringValueStrindex(int_i32(val, field)?),
            _ => return Ok(()),
        };
        if m.value.is_some() {
            return Err(p.err("AnyValue has more than one value field set"));
        }
        m.value = Some(value);
        Ok(())
    })
}
