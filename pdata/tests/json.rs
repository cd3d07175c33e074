//! Tests for the OTLP/JSON mapping in `profcol_pdata::json`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use profcol_pdata::collector::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use profcol_pdata::common::any_value::Value;
use profcol_pdata::common::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use profcol_pdata::json::{
    JsonError, decode_request, decode_response, decode_status, encode_request, encode_response,
    encode_status,
};
use profcol_pdata::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use profcol_pdata::resource::Resource;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn sv(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(s.to_owned())),
    })
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value,
        key_strindex: 0,
    }
}

fn roundtrip(req: &ExportProfilesServiceRequest) -> ExportProfilesServiceRequest {
    let json = encode_request(req);
    match decode_request(&json) {
        Ok(back) => back,
        Err(e) => panic!(
            "decode failed: {e}\njson: {}",
            String::from_utf8_lossy(&json)
        ),
    }
}

fn decode_str(s: &str) -> ExportProfilesServiceRequest {
    match decode_request(s.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("decode failed: {e}\njson: {s}"),
    }
}

fn decode_err(s: &str) -> JsonError {
    match decode_request(s.as_bytes()) {
        Ok(r) => panic!("expected an error, got {r:?}\njson: {s}"),
        Err(e) => e,
    }
}

/// Wraps a profile JSON object into a full request.
fn with_profile(profile: &str) -> String {
    format!(r#"{{"resourceProfiles":[{{"scopeProfiles":[{{"profiles":[{profile}]}}]}}]}}"#)
}

fn first_profile(req: &ExportProfilesServiceRequest) -> &Profile {
    match req
        .resource_profiles
        .first()
        .and_then(|r| r.scope_profiles.first())
        .and_then(|s| s.profiles.first())
    {
        Some(p) => p,
        None => panic!("no profile in {req:?}"),
    }
}

fn camel_to_snake(k: &str) -> String {
    let mut out = String::new();
    for c in k.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every object key to snake_case by text substitution. (Going through
/// `serde_json::Value` would not do: its default float parsing is not exact.)
fn snake_keys(json: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(json).into_owned();
    for k in ALL_KEYS {
        let snake = camel_to_snake(k);
        if snake != *k {
            text = text.replace(&format!("\"{k}\":"), &format!("\"{snake}\":"));
        }
    }
    text
}

fn collect_keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                collect_keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

fn parse_value(bytes: &[u8]) -> serde_json::Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!(
            "encoder produced invalid JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// A request that sets every field of every message to a non-default value.
fn full_request() -> ExportProfilesServiceRequest {
    let nested = AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![
                kv(
                    "arr",
                    Some(AnyValue {
                        value: Some(Value::ArrayValue(ArrayValue {
                            values: vec![
                                AnyValue {
                                    value: Some(Value::BoolValue(true)),
                                },
                                AnyValue {
                                    value: Some(Value::BoolValue(false)),
                                },
                                AnyValue {
                                    value: Some(Value::IntValue(i64::MIN)),
                                },
                                AnyValue {
                                    value: Some(Value::DoubleValue(-1.25e-300)),
                                },
                                AnyValue {
                                    value: Some(Value::DoubleValue(f64::INFINITY)),
                                },
                                AnyValue {
                                    value: Some(Value::BytesValue(vec![0, 1, 2, 0xff])),
                                },
                                AnyValue {
                                    value: Some(Value::StringValueStrindex(3)),
                                },
                                AnyValue { value: None },
                                AnyValue {
                                    value: Some(Value::ArrayValue(ArrayValue::default())),
                                },
                                AnyValue {
                                    value: Some(Value::KvlistValue(KeyValueList::default())),
                                },
                                AnyValue {
                                    value: Some(Value::StringValue(String::new())),
                                },
                                AnyValue {
                                    value: Some(Value::IntValue(0)),
                                },
                            ],
                        })),
                    }),
                ),
                kv("nothing", None),
            ],
        })),
    };
    let resource = Resource {
        attributes: vec![
            kv("service.name", sv("svc \"quoted\" \u{1} ü 😀")),
            KeyValue {
                key: String::new(),
                value: Some(AnyValue {
                    value: Some(Value::StringValueStrindex(2)),
                }),
                key_strindex: 1,
            },
            kv("nested", Some(nested.clone())),
        ],
        dropped_attributes_count: 7,
        entity_refs: vec![EntityRef {
            schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
            r#type: "service".to_owned(),
            id_keys: vec!["service.name".to_owned(), "service.namespace".to_owned()],
            description_keys: vec!["service.version".to_owned()],
        }],
    };
    let scope = InstrumentationScope {
        name: "otel-ebpf-profiler".to_owned(),
        version: "v0.0.1".to_owned(),
        attributes: vec![kv("scope.attr", sv("x"))],
        dropped_attributes_count: 3,
    };
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            Sample {
                stack_index: 1,
                attribute_indices: vec![1, 2],
                link_index: 1,
                values: vec![i64::MAX, i64::MIN, -1, 0],
                timestamps_unix_nano: vec![0, 1, u64::MAX, 1_700_000_000_000_000_000],
            },
            Sample::default(),
        ],
        time_unix_nano: u64::MAX,
        duration_nano: 10_000_000_000,
        period_type: Some(ValueType {
            type_strindex: 3,
            unit_strindex: 4,
        }),
        period: -50_000_000,
        profile_id: (0u8..16).collect(),
        dropped_attributes_count: 9,
        original_payload_format: "pprof".to_owned(),
        original_payload: b"\x1f\x8b\x08\x00payload".to_vec(),
        attribute_indices: vec![2, 1],
    };
    let dictionary = ProfilesDictionary {
        mapping_table: vec![
            Mapping::default(),
            Mapping {
                memory_start: 0x1000,
                memory_limit: u64::MAX,
                file_offset: 0x200,
                filename_strindex: 5,
                attribute_indices: vec![1],
            },
        ],
        location_table: vec![
            Location::default(),
            Location {
                mapping_index: 1,
                address: 0xffff_ffff_8100_0000,
                lines: vec![
                    Line {
                        function_index: 1,
                        line: 42,
                        column: -3,
                    },
                    Line::default(),
                ],
                attribute_indices: vec![2],
            },
        ],
        function_table: vec![
            Function::default(),
            Function {
                name_strindex: 1,
                system_name_strindex: 2,
                filename_strindex: 5,
                start_line: i64::MAX,
            },
        ],
        link_table: vec![
            Link::default(),
            Link {
                trace_id: vec![0xab; 16],
                span_id: vec![0xcd; 8],
            },
        ],
        string_table: vec![
            String::new(),
            "cpu".to_owned(),
            "nanoseconds".to_owned(),
            "\\back\\slash\t/tab".to_owned(),
            "count".to_owned(),
            "/usr/lib/libc.so.6".to_owned(),
        ],
        attribute_table: vec![
            KeyValueAndUnit::default(),
            KeyValueAndUnit {
                key_strindex: 1,
                value: Some(nested),
                unit_strindex: 2,
            },
            KeyValueAndUnit {
                key_strindex: 3,
                value: Some(AnyValue {
                    value: Some(Value::DoubleValue(0.1)),
                }),
                unit_strindex: 0,
            },
        ],
        stack_table: vec![
            Stack::default(),
            Stack {
                location_indices: vec![1, 1, 0],
            },
        ],
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![
            ResourceProfiles {
                resource: Some(resource),
                scope_profiles: vec![
                    ScopeProfiles {
                        scope: Some(scope),
                        profiles: vec![profile, Profile::default()],
                        schema_url: "https://opentelemetry.io/schemas/1.29.0".to_owned(),
                    },
                    ScopeProfiles::default(),
                ],
                schema_url: "https://opentelemetry.io/schemas/1.28.0".to_owned(),
            },
            ResourceProfiles {
                resource: Some(Resource::default()),
                scope_profiles: vec![ScopeProfiles {
                    scope: Some(InstrumentationScope::default()),
                    profiles: vec![],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
        dictionary: Some(dictionary),
    }
}

/// Every lowerCamelCase key of the v1.10 profiles JSON mapping.
const ALL_KEYS: &[&str] = &[
    "resourceProfiles",
    "dictionary",
    "mappingTable",
    "locationTable",
    "functionTable",
    "linkTable",
    "stringTable",
    "attributeTable",
    "stackTable",
    "resource",
    "scopeProfiles",
    "schemaUrl",
    "scope",
    "profiles",
    "sampleType",
    "samples",
    "timeUnixNano",
    "durationNano",
    "periodType",
    "period",
    "profileId",
    "droppedAttributesCount",
    "originalPayloadFormat",
    "originalPayload",
    "attributeIndices",
    "stackIndex",
    "linkIndex",
    "values",
    "timestampsUnixNano",
    "locationIndices",
    "mappingIndex",
    "address",
    "lines",
    "functionIndex",
    "line",
    "column",
    "nameStrindex",
    "systemNameStrindex",
    "filenameStrindex",
    "startLine",
    "memoryStart",
    "memoryLimit",
    "fileOffset",
    "traceId",
    "spanId",
    "typeStrindex",
    "unitStrindex",
    "keyStrindex",
    "value",
    "key",
    "stringValue",
    "boolValue",
    "intValue",
    "doubleValue",
    "arrayValue",
    "kvlistValue",
    "bytesValue",
    "stringValueStrindex",
    "attributes",
    "entityRefs",
    "type",
    "idKeys",
    "descriptionKeys",
    "name",
    "version",
];

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn full_request_round_trips() {
    let req = full_request();
    assert_eq!(roundtrip(&req), req);
}

#[test]
fn full_request_uses_every_key() {
    let json = encode_request(&full_request());
    let mut keys = BTreeSet::new();
    collect_keys(&parse_value(&json), &mut keys);
    let expected: BTreeSet<String> = ALL_KEYS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(keys, expected);
}

#[test]
fn full_request_round_trips_from_snake_case() {
    let req = full_request();
    let text = snake_keys(&encode_request(&req));
    assert!(text.contains("\"resource_profiles\"") && text.contains("\"string_value_strindex\""));
    assert_eq!(decode_str(&text), req);
}

#[test]
fn empty_request_and_empty_dictionary() {
    let empty = ExportProfilesServiceRequest::default();
    assert_eq!(encode_request(&empty), b"{}");
    assert_eq!(roundtrip(&empty), empty);
    let with_dict = ExportProfilesServiceRequest {
        resource_profiles: vec![],
        dictionary: Some(ProfilesDictionary::default()),
    };
    assert_eq!(encode_request(&with_dict), br#"{"dictionary":{}}"#);
    assert_eq!(roundtrip(&with_dict), with_dict);
}

#[test]
fn non_finite_doubles() {
    for (v, text) in [
        (f64::NAN, r#"{"doubleValue":"NaN"}"#),
        (f64::INFINITY, r#"{"doubleValue":"Infinity"}"#),
        (f64::NEG_INFINITY, r#"{"doubleValue":"-Infinity"}"#),
    ] {
        let req = ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![kv(
                        "d",
                        Some(AnyValue {
                            value: Some(Value::DoubleValue(v)),
                        }),
                    )],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            dictionary: None,
        };
        let json = String::from_utf8_lossy(&encode_request(&req)).into_owned();
        assert!(json.contains(text), "{json}");
        let back = decode_str(&json);
        let got = back
            .resource_profiles
            .first()
            .and_then(|r| r.resource.as_ref())
            .and_then(|r| r.attributes.first())
            .and_then(|a| a.value.as_ref())
            .and_then(|v| v.value.clone());
        match got {
            Some(Value::DoubleValue(d)) => assert_eq!(d.to_bits(), v.to_bits()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn real_ebpf_capture_round_trips() {
    use prost::Message as _;
    let path = profcol_testkit::require::testdata(profcol_testkit::require::EBPF_CAPTURE);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let req = match ExportProfilesServiceRequest::decode(bytes.as_slice()) {
        Ok(r) => r,
        Err(e) => panic!("fixture does not decode as protobuf: {e}"),
    };
    assert!(!req.resource_profiles.is_empty());
    let json = encode_request(&req);
    assert!(!json.contains(&b'\n'));
    let back = roundtrip(&req);
    assert_eq!(back, req);
    // Byte-identical protobuf after the JSON detour.
    assert_eq!(back.encode_to_vec(), req.encode_to_vec());
    // Snake_case spelling of the same document decodes to the same message.
    let snake = snake_keys(&json);
    assert_eq!(decode_str(&snake), req);
}

// ---------------------------------------------------------------------------------------------
// Property test
// ---------------------------------------------------------------------------------------------

fn arb_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>()
    ]
}

fn arb_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(-1),
        Just(i64::MIN),
        Just(i64::MAX),
        any::<i64>()
    ]
}

fn arb_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(0i32),
        1..20i32,
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        any::<i32>()
    ]
}

fn arb_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("NaN never compares equal", |f| !f.is_nan()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(f64::MAX),
        Just(0.1),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z.]{1,12}", any::<String>()]
}

fn arb_id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), len),
        // Wrong lengths survive too, for the validator to reject later.
        prop::collection::vec(any::<u8>(), 1..40),
    ]
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40)
}

fn arb_any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        arb_string().prop_map(|s| Some(Value::StringValue(s))),
        any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        arb_i64().prop_map(|i| Some(Value::IntValue(i))),
        arb_f64().prop_map(|d| Some(Value::DoubleValue(d))),
        arb_bytes().prop_map(|b| Some(Value::BytesValue(b))),
        arb_i32().prop_map(|i| Some(Value::StringValueStrindex(i))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            prop::collection::vec((arb_string(), prop::option::of(inner), arb_i32()), 0..5)
                .prop_map(|kvs| AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList {
                        values: kvs
                            .into_iter()
                            .map(|(key, value, key_strindex)| KeyValue {
                                key,
                                value,
                                key_strindex,
                            })
                            .collect(),
                    })),
                }),
        ]
    })
}

fn arb_key_value() -> impl Strategy<Value = KeyValue> {
    (arb_string(), prop::option::of(arb_any_value()), arb_i32()).prop_map(
        |(key, value, key_strindex)| KeyValue {
            key,
            value,
            key_strindex,
        },
    )
}

fn arb_indices() -> impl Strategy<Value = Vec<i32>> {
    prop::collection::vec(arb_i32(), 0..5)
}

fn arb_value_type() -> impl Strategy<Value = ValueType> {
    (arb_i32(), arb_i32()).prop_map(|(type_strindex, unit_strindex)| ValueType {
        type_strindex,
        unit_strindex,
    })
}

fn arb_sample() -> impl Strategy<Value = Sample> {
    (
        arb_i32(),
        arb_indices(),
        arb_i32(),
        prop::collection::vec(arb_i64(), 0..5),
        prop::collection::vec(arb_u64(), 0..5),
    )
        .prop_map(
            |(stack_index, attribute_indices, link_index, values, timestamps_unix_nano)| Sample {
                stack_index,
                attribute_indices,
                link_index,
                values,
                timestamps_unix_nano,
            },
        )
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    (
        (
            prop::option::of(arb_value_type()),
            prop::collection::vec(arb_sample(), 0..6),
            arb_u64(),
            arb_u64(),
            prop::option::of(arb_value_type()),
            arb_i64(),
        ),
        (
            arb_id(16),
            any::<u32>(),
            arb_string(),
            arb_bytes(),
            arb_indices(),
        ),
    )
        .prop_map(
            |(
                (sample_type, samples, time_unix_nano, duration_nano, period_type, period),
                (
                    profile_id,
                    dropped_attributes_count,
                    original_payload_format,
                    original_payload,
                    attribute_indices,
                ),
            )| Profile {
                sample_type,
                samples,
                time_unix_nano,
                duration_nano,
                period_type,
                period,
                profile_id,
                dropped_attributes_count,
                original_payload_format,
                original_payload,
                attribute_indices,
            },
        )
}

fn arb_dictionary() -> impl Strategy<Value = ProfilesDictionary> {
    let mapping = (arb_u64(), arb_u64(), arb_u64(), arb_i32(), arb_indices()).prop_map(
        |(memory_start, memory_limit, file_offset, filename_strindex, attribute_indices)| Mapping {
            memory_start,
            memory_limit,
            file_offset,
            filename_strindex,
            attribute_indices,
        },
    );
    let line = (arb_i32(), arb_i64(), arb_i64()).prop_map(|(function_index, line, column)| Line {
        function_index,
        line,
        column,
    });
    let location = (
        arb_i32(),
        arb_u64(),
        prop::collection::vec(line, 0..4),
        arb_indices(),
    )
        .prop_map(
            |(mapping_index, address, lines, attribute_indices)| Location {
                mapping_index,
                address,
                lines,
                attribute_indices,
            },
        );
    let function = (arb_i32(), arb_i32(), arb_i32(), arb_i64()).prop_map(
        |(name_strindex, system_name_strindex, filename_strindex, start_line)| Function {
            name_strindex,
            system_name_strindex,
            filename_strindex,
            start_line,
        },
    );
    let link = (arb_id(16), arb_id(8)).prop_map(|(trace_id, span_id)| Link { trace_id, span_id });
    let attribute = (arb_i32(), prop::option::of(arb_any_value()), arb_i32()).prop_map(
        |(key_strindex, value, unit_strindex)| KeyValueAndUnit {
            key_strindex,
            value,
            unit_strindex,
        },
    );
    let stack = arb_indices().prop_map(|location_indices| Stack { location_indices });
    (
        prop::collection::vec(mapping, 0..4),
        prop::collection::vec(location, 0..6),
        prop::collection::vec(function, 0..6),
        prop::collection::vec(link, 0..4),
        prop::collection::vec(arb_string(), 0..8),
        prop::collection::vec(attribute, 0..4),
        prop::collection::vec(stack, 0..6),
    )
        .prop_map(
            |(
                mapping_table,
                location_table,
                function_table,
                link_table,
                string_table,
                attribute_table,
                stack_table,
            )| ProfilesDictionary {
                mapping_table,
                location_table,
                function_table,
                link_table,
                string_table,
                attribute_table,
                stack_table,
            },
        )
}

fn arb_request() -> impl Strategy<Value = ExportProfilesServiceRequest> {
    let entity_ref = (
        arb_string(),
        arb_string(),
        prop::collection::vec(arb_string(), 0..3),
        prop::collection::vec(arb_string(), 0..3),
    )
        .prop_map(
            |(schema_url, r#type, id_keys, description_keys)| EntityRef {
                schema_url,
                r#type,
                id_keys,
                description_keys,
            },
        );
    let resource = (
        prop::collection::vec(arb_key_value(), 0..4),
        any::<u32>(),
        prop::collection::vec(entity_ref, 0..2),
    )
        .prop_map(
            |(attributes, dropped_attributes_count, entity_refs)| Resource {
                attributes,
                dropped_attributes_count,
                entity_refs,
            },
        );
    let scope = (
        arb_string(),
        arb_string(),
        prop::collection::vec(arb_key_value(), 0..3),
        any::<u32>(),
    )
        .prop_map(|(name, version, attributes, dropped_attributes_count)| {
            InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            }
        });
    let scope_profiles = (
        prop::option::of(scope),
        prop::collection::vec(arb_profile(), 0..3),
        arb_string(),
    )
        .prop_map(|(scope, profiles, schema_url)| ScopeProfiles {
            scope,
            profiles,
            schema_url,
        });
    let resource_profiles = (
        prop::option::of(resource),
        prop::collection::vec(scope_profiles, 0..3),
        arb_string(),
    )
        .prop_map(|(resource, scope_profiles, schema_url)| ResourceProfiles {
            resource,
            scope_profiles,
            schema_url,
        });
    (
        prop::collection::vec(resource_profiles, 0..3),
        prop::option::of(arb_dictionary()),
    )
        .prop_map(
            |(resource_profiles, dictionary)| ExportProfilesServiceRequest {
                resource_profiles,
                dictionary,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_requests_round_trip(req in arb_request()) {
        let json = encode_request(&req);
        prop_assert!(!json.contains(&b'\n'));
        // The encoder's output is valid JSON to an independent parser too.
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
        let back = decode_request(&json);
        prop_assert!(back.is_ok(), "{:?}", back);
        prop_assert_eq!(back.ok(), Some(req));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }

    #[test]
    fn random_responses_round_trip(rejected in arb_i64(), msg in arb_string(), set in any::<bool>()) {
        let resp = ExportProfilesServiceResponse {
            partial_success: set.then_some(ExportProfilesPartialSuccess {
                rejected_profiles: rejected,
                error_message: msg,
            }),
        };
        prop_assert_eq!(decode_response(&encode_response(&resp)).ok(), Some(resp));
    }
}

// ---------------------------------------------------------------------------------------------
// Exact format
// ---------------------------------------------------------------------------------------------

#[test]
fn exact_encoding_of_small_request() {
    let req = ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![kv("service.name", sv("checkout"))],
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: "s".to_owned(),
                    ..Default::default()
                }),
                profiles: vec![Profile {
                    sample_type: Some(ValueType {
                        type_strindex: 1,
                        unit_strindex: 2,
                    }),
                    samples: vec![Sample {
                        stack_index: 1,
                        values: vec![5, -7],
                        timestamps_unix_nano: vec![u64::MAX, 1],
                        ..Default::default()
                    }],
                    time_unix_nano: 123,
                    profile_id: vec![0xAB; 16],
                    original_payload: b"hi!".to_vec(),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(ProfilesDictionary {
            link_table: vec![
                Link::default(),
                Link {
                    trace_id: (1u8..=16).collect(),
                    span_id: vec![0xFF, 0, 1, 2, 3, 4, 5, 0xEE],
                },
            ],
            string_table: vec![String::new(), "cpu".to_owned(), "ns".to_owned()],
            ..Default::default()
        }),
    };
    let expected = concat!(
        r#"{"resourceProfiles":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"#,
        r#""scopeProfiles":[{"scope":{"name":"s"},"profiles":[{"sampleType":{"typeStrindex":1,"unitStrindex":2},"#,
        r#""samples":[{"stackIndex":1,"values":["5","-7"],"timestampsUnixNano":["18446744073709551615","1"]}],"#,
        r#""timeUnixNano":"123","profileId":"abababababababababababababababab","originalPayload":"aGkh"}]}]}],"#,
        r#""dictionary":{"linkTable":[{},{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"ff000102030405ee"}],"#,
        r#""stringTable":["","cpu","ns"]}}"#
    );
    assert_eq!(String::from_utf8_lossy(&encode_request(&req)), expected);
}

#[test]
fn encoded_json_is_camel_case_and_typed() {
    let json = encode_request(&full_request());
    let text = String::from_utf8_lossy(&json);
    assert!(!text.contains('\n'));
    assert!(!text.ends_with('\n'));
    let v = parse_value(&json);
    let mut keys = BTreeSet::new();
    collect_keys(&v, &mut keys);
    for k in &keys {
        assert!(!k.contains('_'), "non-camelCase key {k}");
    }
    let profile = &v["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0];
    assert_eq!(profile["timeUnixNano"], "18446744073709551615");
    assert_eq!(profile["durationNano"], "10000000000");
    assert_eq!(profile["period"], "-50000000");
    assert_eq!(profile["droppedAttributesCount"], 9);
    assert_eq!(profile["profileId"], "000102030405060708090a0b0c0d0e0f");
    assert_eq!(
        profile["originalPayload"],
        STANDARD.encode(b"\x1f\x8b\x08\x00payload")
    );
    assert_eq!(profile["attributeIndices"], serde_json::json!([2, 1]));
    assert_eq!(
        profile["samples"][0]["values"],
        serde_json::json!(["9223372036854775807", "-9223372036854775808", "-1", "0"])
    );
    // A default sample is an empty object; the empty second profile too.
    assert_eq!(profile["samples"][1], serde_json::json!({}));
    assert_eq!(
        v["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][1],
        serde_json::json!({})
    );
    let dict = &v["dictionary"];
    assert_eq!(dict["linkTable"][0], serde_json::json!({}));
    assert_eq!(dict["linkTable"][1]["traceId"], "ab".repeat(16));
    assert_eq!(dict["linkTable"][1]["spanId"], "cd".repeat(8));
    assert_eq!(
        dict["mappingTable"][1]["memoryLimit"],
        "18446744073709551615"
    );
    assert_eq!(dict["locationTable"][1]["lines"][0]["column"], "-3");
    assert_eq!(dict["functionTable"][1]["startLine"], "9223372036854775807");
    assert_eq!(dict["attributeTable"][2]["value"]["doubleValue"], 0.1);
    let arr = &dict["attributeTable"][1]["value"]["kvlistValue"]["values"][0]["value"]["arrayValue"]
        ["values"];
    assert_eq!(arr[0], serde_json::json!({"boolValue": true}));
    assert_eq!(arr[1], serde_json::json!({"boolValue": false}));
    assert_eq!(
        arr[2],
        serde_json::json!({"intValue": "-9223372036854775808"})
    );
    assert_eq!(arr[4], serde_json::json!({"doubleValue": "Infinity"}));
    assert_eq!(arr[5], serde_json::json!({"bytesValue": "AAEC/w=="}));
    assert_eq!(arr[6], serde_json::json!({"stringValueStrindex": 3}));
    assert_eq!(arr[7], serde_json::json!({}));
    assert_eq!(arr[8], serde_json::json!({"arrayValue": {}}));
    assert_eq!(arr[10], serde_json::json!({"stringValue": ""}));
    assert_eq!(arr[11], serde_json::json!({"intValue": "0"}));
    let res = &v["resourceProfiles"][0]["resource"];
    assert_eq!(
        res["attributes"][1],
        serde_json::json!({"value": {"stringValueStrindex": 2}, "keyStrindex": 1})
    );
    assert_eq!(res["entityRefs"][0]["type"], "service");
    assert_eq!(
        v["resourceProfiles"][1],
        serde_json::json!({"resource": {}, "scopeProfiles": [{"scope": {}}]})
    );
}

#[test]
fn responses_and_status() {
    let full = ExportProfilesServiceResponse {
        partial_success: None,
    };
    assert_eq!(encode_response(&full), b"{}");
    assert_eq!(decode_response(b"{}").ok(), Some(full));
    let partial = ExportProfilesServiceResponse {
        partial_success: Some(ExportProfilesPartialSuccess {
            rejected_profiles: 2,
            error_message: "2 profiles had out-of-range indices".to_owned(),
        }),
    };
    let json = encode_response(&partial);
    assert_eq!(
        String::from_utf8_lossy(&json),
        r#"{"partialSuccess":{"rejectedProfiles":"2","errorMessage":"2 profiles had out-of-range indices"}}"#
    );
    assert_eq!(decode_response(&json).ok(), Some(partial.clone()));
    let lenient = br#"{"partial_success":{"rejected_profiles":2,"error_message":"2 profiles had out-of-range indices","x":1}}"#;
    assert_eq!(decode_response(lenient).ok(), Some(partial));
    let warn_only = ExportProfilesServiceResponse {
        partial_success: Some(ExportProfilesPartialSuccess::default()),
    };
    assert_eq!(encode_response(&warn_only), br#"{"partialSuccess":{}}"#);
    assert!(decode_response(br#"{"partialSuccess":{"rejectedProfiles":"x"}}"#).is_err());

    assert_eq!(
        String::from_utf8_lossy(&encode_status(3, "bad \"body\"\n")),
        r#"{"code":3,"message":"bad \"body\"\n"}"#
    );
    assert_eq!(encode_status(0, ""), b"{}");
    assert_eq!(
        decode_status(&encode_status(8, "slow down")).ok(),
        Some((8, "slow down".to_owned()))
    );
    assert_eq!(
        decode_status(br#"{"code":"14","message":"x","details":[{"@type":"t"}]}"#).ok(),
        Some((14, "x".to_owned()))
    );
}

// ---------------------------------------------------------------------------------------------
// Lenient decoding
// ---------------------------------------------------------------------------------------------

#[test]
fn decodes_snake_case_numbers_and_strings_for_ints() {
    let json = r#"{
      "resource_profiles": [{
        "resource": {"attributes": [{"key": "n", "value": {"int_value": 5}}], "dropped_attributes_count": "2"},
        "scope_profiles": [{
          "schema_url": "u",
          "profiles": [{
            "sample_type": {"type_strindex": "1", "unit_strindex": 2},
            "time_unix_nano": 1700000000000000000,
            "duration_nano": "1e9",
            "period": -5,
            "samples": [{"stack_index": 1, "link_index": "0", "values": [1, -2, "3", 4.0, "5e2"],
                         "timestamps_unix_nano": [18446744073709551615, "18446744073709551615"],
                         "attribute_indices": ["1", 2]}]
          }]
        }]
      }],
      "dictionary": {
        "string_table": ["", "cpu", "ns"],
        "mapping_table": [{"memory_start": 4096, "memory_limit": "8192", "file_offset": 0}],
        "location_table": [{"mapping_index": 0, "address": 9007199254740993, "lines": [{"function_index": 1, "line": 10, "column": "-1"}]}],
        "function_table": [{"name_strindex": 1, "system_name_strindex": 1, "filename_strindex": 2, "start_line": 3}],
        "stack_table": [{"location_indices": [0, 1]}],
        "attribute_table": [{"key_strindex": 1, "value": {"string_value_strindex": 2}, "unit_strindex": 2}]
      }
    }"#;
    let req = decode_str(json);
    let p = first_profile(&req);
    assert_eq!(
        p.sample_type,
        Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2
        })
    );
    assert_eq!(p.time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(p.duration_nano, 1_000_000_000);
    assert_eq!(p.period, -5);
    let s = &p.samples[0];
    assert_eq!(s.stack_index, 1);
    assert_eq!(s.values, vec![1, -2, 3, 4, 500]);
    assert_eq!(s.timestamps_unix_nano, vec![u64::MAX, u64::MAX]);
    assert_eq!(s.attribute_indices, vec![1, 2]);
    let dict = match &req.dictionary {
        Some(d) => d,
        None => panic!("no dictionary"),
    };
    // 2^53 + 1 is not representable as a double: the decoder must be exact.
    assert_eq!(dict.location_table[0].address, 9_007_199_254_740_993);
    assert_eq!(dict.location_table[0].lines[0].column, -1);
    assert_eq!(dict.mapping_table[0].memory_limit, 8192);
    assert_eq!(dict.stack_table[0].location_indices, vec![0, 1]);
    assert_eq!(
        dict.attribute_table[0].value,
        Some(AnyValue {
            value: Some(Value::StringValueStrindex(2))
        })
    );
    let res = req.resource_profiles[0].resource.as_ref();
    assert_eq!(res.map(|r| r.dropped_attributes_count), Some(2));
    assert_eq!(
        res.and_then(|r| r.attributes[0].value.clone()),
        Some(AnyValue {
            value: Some(Value::IntValue(5))
        })
    );
}

#[test]
fn decodes_base64_and_mixed_case_ids() {
    let trace: Vec<u8> = (100u8..116).collect();
    let span: Vec<u8> = (200u8..208).collect();
    let profile_id: Vec<u8> = (0u8..16).map(|b| b.wrapping_mul(17)).collect();
    let json = format!(
        r#"{{"resourceProfiles":[{{"scopeProfiles":[{{"profiles":[{{"profileId":"{}"}}]}}]}}],
            "dictionary":{{"linkTable":[{{}},{{"traceId":"{}","spanId":"{}"}},{{"traceId":"{}","spanId":"{}"}},{{"traceId":"{}","spanId":"{}"}}]}}}}"#,
        STANDARD.encode(&profile_id),
        STANDARD.encode(&trace),
        STANDARD.encode(&span),
        hex::encode_upper(&trace),
        hex::encode_upper(&span),
        "aBcDeF0123456789AbCdEf0123456789",
        "0123456789ABCdef",
    );
    let req = decode_str(&json);
    assert_eq!(first_profile(&req).profile_id, profile_id);
    let links = req.dictionary.map(|d| d.link_table).unwrap_or_default();
    assert_eq!(links.len(), 4);
    assert_eq!(links[0], Link::default());
    assert_eq!(links[1].trace_id, trace);
    assert_eq!(links[1].span_id, span);
    assert_eq!(links[2].trace_id, trace);
    assert_eq!(links[2].span_id, span);
    assert_eq!(
        hex::encode(&links[3].trace_id),
        "abcdef0123456789abcdef0123456789"
    );
    assert_eq!(hex::encode(&links[3].span_id), "0123456789abcdef");
    // URL-safe base64 is accepted as well.
    let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfb_u8; 16]);
    let req = decode_str(&with_profile(&format!(r#"{{"profileId":"{url_safe}"}}"#)));
    assert_eq!(first_profile(&req).profile_id, vec![0xfb; 16]);
}

#[test]
fn nulls_are_absent_and_unknown_fields_ignored() {
    let json = r#"{
      "unknownTop": {"deep": [1, {"x": null}, "s", true, 1.5e300]},
      "resourceProfiles": [{
        "resource": null,
        "schemaUrl": null,
        "futureField": [],
        "scopeProfiles": [{
          "scope": {"name": null, "version": "1", "attributes": null, "extra": {}},
          "profiles": [{
            "sampleType": null, "samples": null, "timeUnixNano": null, "profileId": null,
            "originalPayload": null, "attributeIndices": null, "someNewThing": "x",
            "periodType": {"typeStrindex": null, "unknown": 7}
          }, null]
        }]
      }],
      "dictionary": null
    }"#;
    let req = decode_str(json);
    assert_eq!(req.dictionary, None);
    let rp = &req.resource_profiles[0];
    assert_eq!(rp.resource, None);
    assert_eq!(rp.schema_url, "");
    let sp = &rp.scope_profiles[0];
    assert_eq!(
        sp.scope,
        Some(InstrumentationScope {
            version: "1".to_owned(),
            ..Default::default()
        })
    );
    assert_eq!(
        sp.profiles,
        vec![
            Profile {
                period_type: Some(ValueType::default()),
                ..Default::default()
            },
            Profile::default()
        ]
    );
    // AnyValue arms that are null count as absent.
    let req = decode_str(
        r#"{"resourceProfiles":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":null,"intValue":"4"}},{"key":"n","value":null}]}}]}"#,
    );
    let attrs = req.resource_profiles[0]
        .resource
        .as_ref()
        .map(|r| r.attributes.clone())
        .unwrap_or_default();
    assert_eq!(
        attrs,
        vec![
            kv(
                "k",
                Some(AnyValue {
                    value: Some(Value::IntValue(4))
                })
            ),
            kv("n", None)
        ]
    );
    // A byte order mark and surrounding whitespace are fine.
    assert_eq!(
        decode_request("\u{feff} \n{ }\t\r\n".as_bytes()).ok(),
        Some(ExportProfilesServiceRequest::default())
    );
}

#[test]
fn decodes_doubles_and_escapes() {
    let req = decode_str(
        r#"{"resourceProfiles":[{"resource":{"attributes":[
            {"key":"a","value":{"doubleValue":1}},
            {"key":"b","value":{"doubleValue":"2.5"}},
            {"key":"c","value":{"doubleValue":-1e-320}},
            {"key":"\u00e9\ud83d\ude00\n\"","value":{"bytesValue":"AAEC/w"}}
        ]}}]}"#,
    );
    let attrs = req.resource_profiles[0]
        .resource
        .as_ref()
        .map(|r| r.attributes.clone())
        .unwrap_or_default();
    let val = |i: usize| attrs[i].value.as_ref().and_then(|v| v.value.clone());
    assert_eq!(val(0), Some(Value::DoubleValue(1.0)));
    assert_eq!(val(1), Some(Value::DoubleValue(2.5)));
    assert_eq!(val(2), Some(Value::DoubleValue(-1e-320)));
    assert_eq!(attrs[3].key, "é😀\n\"");
    assert_eq!(val(3), Some(Value::BytesValue(vec![0, 1, 2, 0xff])));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_type_names_the_path() {
    let e = decode_err(&with_profile(r#"{"samples":[{},{"stackIndex":true}]}"#));
    assert_eq!(
        e.path,
        "resourceProfiles[0].scopeProfiles[0].profiles[0].samples[1].stackIndex"
    );
    assert!(e.message.contains("boolean"), "{e}");
    assert!(
        e.to_string()
            .starts_with("invalid OTLP/JSON at resourceProfiles[0]")
    );

    let e = decode_err(r#"{"resourceProfiles":{}}"#);
    assert_eq!(e.path, "resourceProfiles");
    assert!(e.message.contains("expected an array"), "{e}");

    let e = decode_err(r#"{"resource_profiles":[{"scope_profiles":[{"scope":[]}]}]}"#);
    assert_eq!(e.path, "resourceProfiles[0].scopeProfiles[0].scope");

    let e = decode_err(r#"{"dictionary":{"stringTable":["",5]}}"#);
    assert_eq!(e.path, "dictionary.stringTable[1]");

    let e = decode_err(r#"{"dictionary":{"attributeTable":[{"value":{"boolValue":"true"}}]}}"#);
    assert_eq!(e.path, "dictionary.attributeTable[0].value.boolValue");

    let e = decode_err(r#"{"dictionary":{"stackTable":[{"locationIndices":[1,null]}]}}"#);
    assert_eq!(e.path, "dictionary.stackTable[0].locationIndices[1]");

    let e = decode_err("[]");
    assert_eq!(e.path, "$");
    assert!(decode_request(b"null").is_err());
}

#[test]
fn bad_integers() {
    let cases = [
        (
            r#"{"samples":[{"values":["abc"]}]}"#,
            "samples[0].values[0]",
            "abc",
        ),
        (
            r#"{"samples":[{"values":["1","2",1.5]}]}"#,
            "samples[0].values[2]",
            "not an integer",
        ),
        (
            r#"{"samples":[{"values":["9223372036854775808"]}]}"#,
            "samples[0].values[0]",
            "out of range",
        ),
        (
            r#"{"timeUnixNano":"18446744073709551616"}"#,
            "timeUnixNano",
            "out of range",
        ),
        (r#"{"durationNano":-1}"#, "durationNano", "out of range"),
        (r#"{"period":1e30}"#, "period", "out of range"),
        (r#"{"period":" 5"}"#, "period", "not a valid integer"),
        (
            r#"{"attributeIndices":[2147483648]}"#,
            "attributeIndices[0]",
            "int32",
        ),
        (
            r#"{"droppedAttributesCount":-1}"#,
            "droppedAttributesCount",
            "uint32",
        ),
        (
            r#"{"sampleType":{"typeStrindex":"0x1"}}"#,
            "sampleType.typeStrindex",
            "0x1",
        ),
    ];
    for (profile, suffix, needle) in cases {
        let e = decode_err(&with_profile(profile));
        let want = format!("resourceProfiles[0].scopeProfiles[0].profiles[0].{suffix}");
        assert_eq!(e.path, want, "{profile}");
        assert!(e.message.contains(needle), "{profile}: {e}");
    }
}

#[test]
fn bad_ids_and_bytes() {
    let e = decode_err(&format!(
        r#"{{"dictionary":{{"linkTable":[{{}},{{"traceId":"{}"}}]}}}}"#,
        "zz".repeat(16)
    ));
    assert_eq!(e.path, "dictionary.linkTable[1].traceId");
    assert!(e.message.contains("hex"), "{e}");
    let e = decode_err(r#"{"dictionary":{"linkTable":[{"spanId":"abc"}]}}"#);
    assert_eq!(e.path, "dictionary.linkTable[0].spanId");
    let e = decode_err(r#"{"dictionary":{"linkTable":[{"spanId":12}]}}"#);
    assert_eq!(e.path, "dictionary.linkTable[0].spanId");
    let e = decode_err(&with_profile(r#"{"originalPayload":"not base64!"}"#));
    assert_eq!(
        e.path,
        "resourceProfiles[0].scopeProfiles[0].profiles[0].originalPayload"
    );
    // Hex of the wrong length is kept, for the validator to reject the Profile.
    let req = decode_str(&with_profile(r#"{"profileId":"0102"}"#));
    assert_eq!(first_profile(&req).profile_id, vec![1, 2]);
}

#[test]
fn any_value_with_two_arms_is_rejected() {
    let e = decode_err(
        r#"{"resourceProfiles":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"a","intValue":"1"}}]}}]}"#,
    );
    assert_eq!(e.path, "resourceProfiles[0].resource.attributes[0].value");
}

/// An `AnyValue` nested `levels` deep through `arrayValue` (or `kvlistValue`), as a resource attribute.
fn nested_any_value(levels: usize, kvlist: bool) -> String {
    let (open, close) = if kvlist {
        (r#"{"kvlistValue":{"values":[{"key":"k","value":"#, "}]}}")
    } else {
        (r#"{"arrayValue":{"values":["#, "]}}")
    };
    let inner = levels.saturating_sub(1);
    format!(
        r#"{{"resourceProfiles":[{{"resource":{{"attributes":[{{"key":"k","value":{}{{"intValue":"1"}}{}}}]}}}}]}}"#,
        open.repeat(inner),
        close.repeat(inner)
    )
}

#[test]
fn deep_any_value_nesting() {
    for kvlist in [false, true] {
        // 100 levels is the limit and is accepted.
        let ok = decode_request(nested_any_value(100, kvlist).as_bytes());
        assert!(ok.is_ok(), "{ok:?}");
        let e = decode_err(&nested_any_value(101, kvlist));
        assert!(e.message.contains("AnyValue nesting"), "{e}");
        assert!(
            e.path
                .starts_with("resourceProfiles[0].resource.attributes[0].value.")
        );
        let e = decode_err(&nested_any_value(200, kvlist));
        assert!(e.message.contains("nesting"), "{e}");
        let e = decode_err(&nested_any_value(20_000, kvlist));
        assert!(e.message.contains("nesting"), "{e}");
    }
    // Deeply nested raw JSON in an unknown field errors instead of overflowing the stack.
    let deep = format!(
        r#"{{"x":{}{}}}"#,
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    let e = decode_err(&deep);
    assert!(e.message.contains("nesting"), "{e}");
}

#[test]
fn deep_nesting_encodes_and_round_trips_at_the_limit() {
    let req = decode_str(&nested_any_value(100, true));
    assert_eq!(roundtrip(&req), req);
}

#[test]
fn truncated_and_malformed_json() {
    let json = encode_request(&full_request());
    for cut in 0..json.len() {
        let Some(prefix) = json.get(..cut) else {
            continue;
        };
        assert!(
            decode_request(prefix).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
    for bad in [
        "",
        " ",
        "{",
        r#"{"resourceProfiles":[}"#,
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{a:1}"#,
        r#"{"a":01}"#,
        r#"{"a":1.}"#,
        r#"{"a":-}"#,
        r#"{"a":tru}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":"\u12"}"#,
        "{\"a\":\"line\nbreak\"}",
        r#"{"a":NaN}"#,
        r#"{} {}"#,
        r#"{}x"#,
        r#"{'a':1}"#,
    ] {
        let e = decode_err(bad);
        assert_eq!(e.path, "$", "{bad}");
        assert!(e.message.contains("syntax error"), "{bad}: {e}");
    }
    let e = decode_err("{\n  \"a\": [1,\n  2,, 3]}");
    assert!(e.message.contains("line 3"), "{e}");
    assert!(decode_request(b"{\"a\":\"\xff\"}").is_err());
    assert!(decode_response(b"{\"partialSuccess\":").is_err());
}
