//! Validation of untrusted requests (spec `otlp-profiles.md` §4, §5, §6, §8).
//!
//! Most tests start from a small, hand-built valid request ([`base`]) and corrupt exactly one
//! field, then check that the error names the field path and the offending index. Per-profile
//! problems must reject only that Profile (partial success); dictionary-internal problems must
//! reject the whole request.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::PathBuf;
use std::sync::OnceLock;

use profcol_pdata::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use profcol_pdata::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use profcol_pdata::resource::Resource;
use profcol_pdata::{
    ExportProfilesServiceRequest, ValidationOptions, merge, sample_count, samples, split, validate,
};
use proptest::prelude::*;
use prost::Message;

type Req = ExportProfilesServiceRequest;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn testdata(name: &str) -> PathBuf {
    profcol_testkit::require::testdata(&format!("grafana-pyroscope/otlp/{name}"))
}

const EBPF: &str = "otel-ebpf-profile.v1_10.pb.bin";
const OLD_V1_8: &str = "otel-ebpf-profile.OLD_v1_8_layout.pb.bin";

/// The fixture's bytes (fails the test when the shared checkout is absent).
fn read_fixture(name: &str) -> Vec<u8> {
    let path = testdata(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The decoded (not yet validated) real eBPF capture, decoded once per test binary.
fn ebpf_request() -> &'static Req {
    static REQ: OnceLock<Req> = OnceLock::new();
    REQ.get_or_init(|| Req::decode(read_fixture(EBPF).as_slice()).expect("v1.10 capture decodes"))
}

// ---------------------------------------------------------------------------------------------
// A small valid request
// ---------------------------------------------------------------------------------------------

const S_CPU: i32 = 1;
const S_NS: i32 = 2;
const S_SERVICE_NAME: i32 = 3;
const S_CHECKOUT: i32 = 4;
const S_MAIN: i32 = 5;
const S_MAIN_GO: i32 = 6;
const S_LIBFOO: i32 = 7;
const S_THREAD: i32 = 8;
const S_WORKER: i32 = 9;
const S_FOO: i32 = 10;
const S_HOST: i32 = 11;

const STRINGS: &[&str] = &[
    "",
    "cpu",
    "nanoseconds",
    "service.name",
    "checkout",
    "main",
    "main.go",
    "libfoo.so",
    "thread.name",
    "worker",
    "foo",
    "host.name",
];

const T0: u64 = 1_700_000_000_000_000_000;

fn str_value(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.to_owned())),
    })
}

fn strindex_value(i: i32) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValueStrindex(i)),
    })
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: str_value(value),
        key_strindex: 0,
    }
}

fn base_dictionary() -> ProfilesDictionary {
    ProfilesDictionary {
        mapping_table: vec![
            Mapping::default(),
            Mapping {
                memory_start: 0x1000,
                memory_limit: 0x9000,
                file_offset: 0,
                filename_strindex: S_LIBFOO,
                attribute_indices: vec![],
            },
        ],
        location_table: vec![
            Location::default(),
            Location {
                mapping_index: 1,
                address: 0x1234,
                lines: vec![
                    Line {
                        function_index: 2,
                        line: 21,
                        column: 0,
                    },
                    Line {
                        function_index: 1,
                        line: 5,
                        column: 3,
                    },
                ],
                attribute_indices: vec![],
            },
            Location {
                mapping_index: 0,
                address: 0x42,
                lines: vec![Line {
                    function_index: 1,
                    line: 7,
                    column: 0,
                }],
                attribute_indices: vec![],
            },
        ],
        function_table: vec![
            Function::default(),
            Function {
                name_strindex: S_MAIN,
                system_name_strindex: 0,
                filename_strindex: S_MAIN_GO,
                start_line: 1,
            },
            Function {
                name_strindex: S_FOO,
                system_name_strindex: 0,
                filename_strindex: S_MAIN_GO,
                start_line: 20,
            },
        ],
        link_table: vec![
            Link::default(),
            Link {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
            },
        ],
        string_table: STRINGS.iter().map(|s| s.to_string()).collect(),
        attribute_table: vec![
            KeyValueAndUnit::default(),
            // 1: thread.name = "worker"
            KeyValueAndUnit {
                key_strindex: S_THREAD,
                value: str_value("worker"),
                unit_strindex: 0,
            },
            // 2: host.name = string_table[S_FOO] (a reference)
            KeyValueAndUnit {
                key_strindex: S_HOST,
                value: strindex_value(S_FOO),
                unit_strindex: 0,
            },
            // 3: thread.name = "other" (same key as 1, different value: legal in the table)
            KeyValueAndUnit {
                key_strindex: S_THREAD,
                value: str_value("other"),
                unit_strindex: 0,
            },
        ],
        stack_table: vec![
            Stack::default(),
            Stack {
                location_indices: vec![1, 2],
            },
            Stack {
                location_indices: vec![2],
            },
        ],
    }
}

fn cpu_type() -> Option<ValueType> {
    Some(ValueType {
        type_strindex: S_CPU,
        unit_strindex: S_NS,
    })
}

/// Profile A (resource 0): two samples of the "both" shape.
fn profile_a() -> Profile {
    Profile {
        sample_type: cpu_type(),
        samples: vec![
            Sample {
                stack_index: 1,
                attribute_indices: vec![1, 2],
                link_index: 1,
                values: vec![10, 20],
                timestamps_unix_nano: vec![T0 + 1, T0 + 2],
            },
            Sample {
                stack_index: 2,
                attribute_indices: vec![],
                link_index: 0,
                values: vec![5],
                timestamps_unix_nano: vec![T0 + 3],
            },
        ],
        time_unix_nano: T0,
        duration_nano: 1_000_000_000,
        period_type: cpu_type(),
        period: 10_000_000,
        profile_id: vec![],
        dropped_attributes_count: 0,
        original_payload_format: String::new(),
        original_payload: vec![],
        attribute_indices: vec![],
    }
}

/// Profile B (resource 1): one timestamps-only sample.
fn profile_b() -> Profile {
    Profile {
        sample_type: cpu_type(),
        samples: vec![Sample {
            stack_index: 1,
            attribute_indices: vec![3],
            link_index: 0,
            values: vec![],
            timestamps_unix_nano: vec![T0 + 5],
        }],
        time_unix_nano: T0,
        duration_nano: 1_000_000_000,
        period_type: None,
        period: 0,
        profile_id: vec![7; 16],
        dropped_attributes_count: 0,
        original_payload_format: String::new(),
        original_payload: vec![],
        attribute_indices: vec![1],
    }
}

fn resource_profiles(service: &str, scope: &str, p: Profile) -> ResourceProfiles {
    ResourceProfiles {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            dropped_attributes_count: 0,
            entity_refs: vec![],
        }),
        scope_profiles: vec![ScopeProfiles {
            scope: Some(InstrumentationScope {
                name: scope.to_owned(),
                version: "1.0".to_owned(),
                attributes: vec![],
                dropped_attributes_count: 0,
            }),
            profiles: vec![p],
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// A valid request: resource 0 holds profile A (2 samples), resource 1 holds profile B (1 sample).
fn base() -> Req {
    Req {
        resource_profiles: vec![
            resource_profiles("checkout", "scope-a", profile_a()),
            resource_profiles("cart", "scope-b", profile_b()),
        ],
        dictionary: Some(base_dictionary()),
    }
}

/// Only resource 0 (profile A).
fn base_only_a() -> Req {
    let mut r = base();
    r.resource_profiles.truncate(1);
    r
}

fn opts() -> ValidationOptions {
    ValidationOptions::default()
}

fn dict_mut(r: &mut Req) -> &mut ProfilesDictionary {
    r.dictionary.as_mut().unwrap()
}

fn prof_a(r: &mut Req) -> &mut Profile {
    &mut r.resource_profiles[0].scope_profiles[0].profiles[0]
}

fn all_profiles(r: &Req) -> Vec<&Profile> {
    r.resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .flat_map(|sp| &sp.profiles)
        .collect()
}

const A: &str = "resource_profiles[0].scope_profiles[0].profiles[0]";

/// `mutate` breaks something in profile A (resource 0). Validation must drop exactly that
/// profile, keep B untouched, and name `path` and `index` in the error; with A alone the whole
/// request must be rejected with the same error.
fn expect_profile_rejected(mutate: impl Fn(&mut Req), path: &str, index: i32) {
    let mut req = base();
    mutate(&mut req);
    let report = validate(&mut req, &opts())
        .unwrap_or_else(|e| panic!("expected partial success for {path}, got Err({e})"));
    assert_eq!(report.rejected_profiles, 1, "{path}: {report:?}");
    assert_eq!(report.rejected_samples, 2, "{path}: {report:?}");
    assert_eq!(report.errors.len(), 1, "{path}: {report:?}");
    let e = &report.errors[0];
    assert!(
        e.starts_with(&format!("{path}: ")),
        "error {e:?} does not name {path}"
    );
    assert!(
        e.contains(&format!("index {index} ")),
        "error {e:?} does not name index {index}"
    );
    assert!(!report.error_message().is_empty());
    // The valid profile survives unchanged, and the emptied resource is gone.
    assert_eq!(all_profiles(&req), vec![&profile_b()]);
    assert_eq!(req.resource_profiles.len(), 1);
    assert_eq!(sample_count(&req), 1);

    let mut alone = base_only_a();
    mutate(&mut alone);
    let e = validate(&mut alone, &opts()).expect_err("the only profile is invalid");
    assert_eq!(e.path, path);
    assert!(e.message.contains(&format!("index {index} ")), "{e}");
}

/// `mutate` breaks something inside the dictionary: the whole request must be rejected.
fn expect_request_rejected(mutate: impl Fn(&mut Req), path: &str, index: i32) {
    let mut req = base();
    mutate(&mut req);
    let e = validate(&mut req, &opts()).expect_err("dictionary-internal error rejects the request");
    assert_eq!(e.path, path, "{e}");
    assert!(e.message.contains(&format!("index {index} ")), "{e}");
    assert!(e.to_string().starts_with(path));
}

/// Out-of-range values to try for an index field of a table with `len` entries.
fn bad_indices(len: usize) -> [i32; 4] {
    [-1, i32::MIN, len as i32, 57]
}

// ---------------------------------------------------------------------------------------------
// The baseline itself
// ---------------------------------------------------------------------------------------------

#[test]
fn hand_built_request_is_valid_without_findings() {
    let mut req = base();
    let report = validate(&mut req, &opts()).expect("base request is valid");
    assert_eq!(report.rejected_profiles, 0);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.warning_count, 0, "{:?}", report.warnings);
    assert_eq!(report.malformed_zero_entries, 0);
    assert_eq!(report.error_message(), "");
    // Nothing to resolve in it, so validation must not change it.
    assert_eq!(req, base());
}

#[test]
fn empty_request_is_valid() {
    let mut req = Req::default();
    let report = validate(&mut req, &opts()).expect("empty request");
    assert_eq!(report.rejected_profiles, 0);
    assert_eq!(sample_count(&req), 0);
}

// ---------------------------------------------------------------------------------------------
// Real captures
// ---------------------------------------------------------------------------------------------

#[test]
fn real_ebpf_capture_validates_without_rejections() {
    let orig = ebpf_request();
    let mut req = orig.clone();
    let by_hand: usize = req
        .resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .flat_map(|sp| &sp.profiles)
        .map(|p| p.samples.len())
        .sum();
    assert!(by_hand > 0, "fixture has samples");
    assert_eq!(sample_count(&req), by_hand);

    let report = validate(&mut req, &opts()).expect("real capture is valid");
    assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
    assert_eq!(report.rejected_samples, 0);
    assert!(report.errors.is_empty());
    // The Go Collector writes the zero attribute as `value: {}`; that is still the zero value.
    assert_eq!(report.malformed_zero_entries, 0, "{report:?}");
    assert_eq!(sample_count(&req), by_hand);
    assert_eq!(
        profcol_pdata::profile_count(&req),
        profcol_pdata::profile_count(orig)
    );

    // Every sample resolves to at least one frame and a sample type.
    let mut n = 0;
    for s in samples(&req) {
        n += 1;
        assert!(!s.frames().is_empty());
        assert_ne!(s.sample_type().0, "");
        assert!(s.total() > 0);
    }
    assert_eq!(n, by_hand);
}

#[test]
fn old_v1_8_capture_fails_cleanly() {
    let bytes = read_fixture(OLD_V1_8);
    match Req::decode(bytes.as_slice()) {
        Err(e) => {
            // The documented failure (spec §3.2).
            let msg = e.to_string();
            assert!(!msg.is_empty());
        }
        Ok(mut req) => {
            let n = profcol_pdata::profile_count(&req);
            match validate(&mut req, &opts()) {
                Err(e) => assert!(!e.path.is_empty()),
                Ok(report) => assert!(
                    n > 0 && report.rejected_profiles > 0,
                    "an old-layout capture must not validate cleanly: {report:?}"
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile indices, per-profile (partial success)
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_sample_stack_index() {
    for bad in bad_indices(3) {
        expect_profile_rejected(
            |r| prof_a(r).samples[0].stack_index = bad,
            &format!("{A}.samples[0].stack_index"),
            bad,
        );
    }
}

#[test]
fn hostile_sample_link_index() {
    for bad in bad_indices(2) {
        expect_profile_rejected(
            |r| prof_a(r).samples[1].link_index = bad,
            &format!("{A}.samples[1].link_index"),
            bad,
        );
    }
}

#[test]
fn hostile_sample_attribute_indices() {
    for bad in bad_indices(4) {
        expect_profile_rejected(
            |r| prof_a(r).samples[0].attribute_indices[1] = bad,
            &format!("{A}.samples[0].attribute_indices[1]"),
            bad,
        );
    }
}

#[test]
fn hostile_profile_attribute_indices() {
    for bad in bad_indices(4) {
        expect_profile_rejected(
            |r| prof_a(r).attribute_indices = vec![1, bad],
            &format!("{A}.attribute_indices[1]"),
            bad,
        );
    }
}

#[test]
fn hostile_value_type_type_strindex() {
    for bad in bad_indices(STRINGS.len()) {
        expect_profile_rejected(
            |r| prof_a(r).sample_type.as_mut().unwrap().type_strindex = bad,
            &format!("{A}.sample_type.type_strindex"),
            bad,
        );
        expect_profile_rejected(
            |r| prof_a(r).period_type.as_mut().unwrap().type_strindex = bad,
            &format!("{A}.period_type.type_strindex"),
            bad,
        );
        expect_profile_rejected(
            |r| prof_a(r).sample_type.as_mut().unwrap().unit_strindex = bad,
            &format!("{A}.sample_type.unit_strindex"),
            bad,
        );
    }
}

#[test]
fn hostile_resource_key_strindex() {
    // Positive out of range (0 means "use the inline key", so only non-zero values are indices).
    for bad in [STRINGS.len() as i32, 57, i32::MAX, -1] {
        expect_profile_rejected(
            |r| {
                let res = r.resource_profiles[0].resource.as_mut().unwrap();
                res.attributes[0].key.clear();
                res.attributes[0].key_strindex = bad;
            },
            "resource_profiles[0].resource.attributes[0].key_strindex",
            bad,
        );
    }
}

#[test]
fn hostile_resource_string_value_strindex() {
    for bad in bad_indices(STRINGS.len()) {
        expect_profile_rejected(
            |r| {
                let res = r.resource_profiles[0].resource.as_mut().unwrap();
                res.attributes[0].value = strindex_value(bad);
            },
            "resource_profiles[0].resource.attributes[0].value.string_value_strindex",
            bad,
        );
    }
}

#[test]
fn hostile_nested_resource_reference() {
    let bad = 57;
    expect_profile_rejected(
        |r| {
            let res = r.resource_profiles[0].resource.as_mut().unwrap();
            res.attributes.push(KeyValue {
                key: "nested".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList {
                        values: vec![KeyValue {
                            key: "inner".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::ArrayValue(ArrayValue {
                                    values: vec![
                                        strindex_value(1).unwrap(),
                                        strindex_value(bad).unwrap(),
                                    ],
                                })),
                            }),
                            key_strindex: 0,
                        }],
                    })),
                }),
                key_strindex: 0,
            });
        },
        "resource_profiles[0].resource.attributes[1].value.kvlist_value[0].value.array_value[1].string_value_strindex",
        bad,
    );
}

#[test]
fn hostile_scope_attribute_reference() {
    let bad = 57;
    expect_profile_rejected(
        |r| {
            let scope = r.resource_profiles[0].scope_profiles[0]
                .scope
                .as_mut()
                .unwrap();
            scope.attributes.push(KeyValue {
                key: String::new(),
                value: str_value("x"),
                key_strindex: bad,
            });
        },
        "resource_profiles[0].scope_profiles[0].scope.attributes[0].key_strindex",
        bad,
    );
}

/// A resource or scope whose attributes cannot be resolved carries no usable data even when it
/// holds no profiles; validation must drop it (with a warning) rather than let its unresolved,
/// out-of-range reference through.
#[test]
fn bad_reference_in_profile_less_resource_does_not_survive() {
    let mut req = base();
    req.resource_profiles[0].scope_profiles[0].profiles.clear();
    let attrs = &mut req.resource_profiles[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes;
    attrs[0].key_strindex = 57;
    let report = validate(&mut req, &opts()).expect("profile B is valid");
    assert_eq!(report.rejected_profiles, 0);
    let path = "resource_profiles[0].resource.attributes[0].key_strindex";
    assert!(
        report.warnings.iter().any(|w| w.starts_with(path)),
        "{:?}",
        report.warnings
    );
    assert_eq!(req.resource_profiles.len(), 1);
    assert_eq!(resource_attrs(&req, 0), &[kv("service.name", "cart")]);
    assert_eq!(all_profiles(&req), vec![&profile_b()]);
}

#[test]
fn bad_reference_in_profile_less_scope_does_not_survive() {
    let mut req = base();
    let sp = &mut req.resource_profiles[1].scope_profiles;
    let mut empty = sp[0].clone();
    empty.profiles.clear();
    empty.scope.as_mut().unwrap().attributes = vec![KeyValue {
        key: "k".into(),
        value: strindex_value(-3),
        key_strindex: 0,
    }];
    sp.insert(0, empty);
    let report = validate(&mut req, &opts()).expect("profiles A and B are valid");
    assert_eq!(report.rejected_profiles, 0);
    assert!(
        report.warnings.iter().any(|w| w.starts_with(
            "resource_profiles[1].scope_profiles[0].scope.attributes[0].value.string_value_strindex"
        )),
        "{:?}",
        report.warnings
    );
    assert_eq!(req.resource_profiles[1].scope_profiles.len(), 1);
    assert_eq!(all_profiles(&req), vec![&profile_a(), &profile_b()]);
}

// ---------------------------------------------------------------------------------------------
// Hostile indices inside the dictionary (whole request rejected)
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_location_mapping_index() {
    for bad in bad_indices(2) {
        expect_request_rejected(
            |r| dict_mut(r).location_table[1].mapping_index = bad,
            "dictionary.location_table[1].mapping_index",
            bad,
        );
    }
}

#[test]
fn hostile_line_function_index() {
    for bad in bad_indices(3) {
        expect_request_rejected(
            |r| dict_mut(r).location_table[1].lines[1].function_index = bad,
            "dictionary.location_table[1].lines[1].function_index",
            bad,
        );
    }
}

#[test]
fn hostile_stack_location_indices() {
    for bad in bad_indices(3) {
        expect_request_rejected(
            |r| dict_mut(r).stack_table[1].location_indices[1] = bad,
            "dictionary.stack_table[1].location_indices[1]",
            bad,
        );
    }
}

#[test]
fn hostile_function_name_strindex() {
    for bad in bad_indices(STRINGS.len()) {
        expect_request_rejected(
            |r| dict_mut(r).function_table[2].name_strindex = bad,
            "dictionary.function_table[2].name_strindex",
            bad,
        );
        expect_request_rejected(
            |r| dict_mut(r).function_table[1].filename_strindex = bad,
            "dictionary.function_table[1].filename_strindex",
            bad,
        );
    }
}

#[test]
fn hostile_mapping_filename_strindex() {
    for bad in bad_indices(STRINGS.len()) {
        expect_request_rejected(
            |r| dict_mut(r).mapping_table[1].filename_strindex = bad,
            "dictionary.mapping_table[1].filename_strindex",
            bad,
        );
    }
}

#[test]
fn hostile_attribute_key_strindex() {
    for bad in bad_indices(STRINGS.len()) {
        expect_request_rejected(
            |r| dict_mut(r).attribute_table[3].key_strindex = bad,
            "dictionary.attribute_table[3].key_strindex",
            bad,
        );
        expect_request_rejected(
            |r| dict_mut(r).attribute_table[1].unit_strindex = bad,
            "dictionary.attribute_table[1].unit_strindex",
            bad,
        );
    }
}

#[test]
fn hostile_attribute_value_strindex() {
    for bad in bad_indices(STRINGS.len()) {
        expect_request_rejected(
            |r| dict_mut(r).attribute_table[2].value = strindex_value(bad),
            "dictionary.attribute_table[2].value.string_value_strindex",
            bad,
        );
    }
}

#[test]
fn hostile_dictionary_attribute_lists() {
    for bad in bad_indices(4) {
        expect_request_rejected(
            |r| dict_mut(r).location_table[2].attribute_indices = vec![bad],
            "dictionary.location_table[2].attribute_indices[0]",
            bad,
        );
        expect_request_rejected(
            |r| dict_mut(r).mapping_table[1].attribute_indices = vec![1, bad],
            "dictionary.mapping_table[1].attribute_indices[1]",
            bad,
        );
    }
}

/// An index into a table that is present but empty is out of range too, and index 0 of a
/// missing table is no exception on the sample side.
#[test]
fn index_into_empty_table_is_rejected() {
    let mut req = base_only_a();
    dict_mut(&mut req).stack_table.clear();
    let e = validate(&mut req, &opts()).expect_err("no stacks");
    assert_eq!(e.path, format!("{A}.samples[0].stack_index"));
    assert!(e.message.contains("index 1 "), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Missing dictionary
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_dictionary_with_samples_is_rejected() {
    let mut req = base();
    req.dictionary = None;
    let e = validate(&mut req, &opts()).expect_err("samples without dictionary");
    assert!(e.path.contains("string_table"), "{e}");
}

#[test]
fn empty_string_table_with_samples_is_rejected() {
    let mut req = base();
    dict_mut(&mut req).string_table.clear();
    let e = validate(&mut req, &opts()).expect_err("samples without strings");
    assert!(e.path.contains("string_table"), "{e}");
}

#[test]
fn missing_dictionary_without_samples_is_accepted() {
    let mut req = base();
    req.dictionary = None;
    for rp in &mut req.resource_profiles {
        for sp in &mut rp.scope_profiles {
            for p in &mut sp.profiles {
                p.samples.clear();
                p.sample_type = None;
                p.period_type = None;
                p.attribute_indices.clear();
            }
        }
    }
    let report = validate(&mut req, &opts()).expect("nothing indexes the dictionary");
    assert_eq!(report.rejected_profiles, 0);
}

// ---------------------------------------------------------------------------------------------
// Duplicate attribute keys (§4, §8 #7)
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_sample_attribute_keys_are_rejected() {
    // Attributes 1 and 3 are different entries with the same key string.
    let mut req = base();
    prof_a(&mut req).samples[0].attribute_indices = vec![1, 2, 3];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    let e = &report.errors[0];
    assert!(
        e.starts_with(&format!("{A}.samples[0].attribute_indices[2]: ")),
        "{e}"
    );
    assert!(e.contains("duplicate"), "{e}");
    assert_eq!(all_profiles(&req), vec![&profile_b()]);
}

#[test]
fn duplicate_keys_are_compared_as_strings_not_indices() {
    // A second string-table entry with the same text: the keys are equal although the
    // key_strindex values differ.
    let mut req = base();
    let d = dict_mut(&mut req);
    d.string_table.push("thread.name".into());
    let k = d.string_table.len() as i32 - 1;
    d.attribute_table.push(KeyValueAndUnit {
        key_strindex: k,
        value: str_value("third"),
        unit_strindex: 0,
    });
    let a = d.attribute_table.len() as i32 - 1;
    prof_a(&mut req).samples[1].attribute_indices = vec![a, 1];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1, "{report:?}");
    assert!(report.errors[0].starts_with(&format!("{A}.samples[1].attribute_indices[1]: ")));
}

#[test]
fn duplicate_keys_in_long_lists_are_found() {
    // Longer lists take a different (hashing) path in the validator.
    let mut req = base();
    let d = dict_mut(&mut req);
    let mut list = Vec::new();
    for i in 0..12 {
        d.string_table.push(format!("k{i}"));
        d.attribute_table.push(KeyValueAndUnit {
            key_strindex: d.string_table.len() as i32 - 1,
            value: str_value("v"),
            unit_strindex: 0,
        });
        list.push(d.attribute_table.len() as i32 - 1);
    }
    list.push(1);
    prof_a(&mut req).samples[0].attribute_indices = list.clone();
    assert_eq!(
        validate(&mut req.clone(), &opts())
            .unwrap()
            .rejected_profiles,
        0
    );
    list.push(3);
    prof_a(&mut req).samples[0].attribute_indices = list;
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    assert!(
        report.errors[0].contains("samples[0].attribute_indices[13]"),
        "{:?}",
        report.errors
    );
}

#[test]
fn repeated_attribute_index_is_a_duplicate_key() {
    let mut req = base();
    prof_a(&mut req).samples[0].attribute_indices = vec![2, 2];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
}

#[test]
fn duplicate_profile_attribute_keys_are_rejected() {
    let mut req = base();
    prof_a(&mut req).attribute_indices = vec![3, 1];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    assert!(report.errors[0].starts_with(&format!("{A}.attribute_indices[1]: ")));
}

#[test]
fn duplicate_keys_in_dictionary_lists_reject_the_request() {
    let mut req = base();
    dict_mut(&mut req).location_table[1].attribute_indices = vec![1, 3];
    let e = validate(&mut req, &opts()).expect_err("dictionary-internal");
    assert!(
        e.path
            .starts_with("dictionary.location_table[1].attribute_indices"),
        "{e}"
    );
}

#[test]
fn repair_mode_keeps_the_first_duplicate() {
    let mut req = base();
    prof_a(&mut req).samples[0].attribute_indices = vec![3, 2, 1];
    prof_a(&mut req).attribute_indices = vec![1, 3];
    let o = ValidationOptions {
        repair_duplicate_keys: true,
        ..Default::default()
    };
    let report = validate(&mut req, &o).expect("repaired");
    assert_eq!(report.rejected_profiles, 0, "{report:?}");
    let a = &req.resource_profiles[0].scope_profiles[0].profiles[0];
    assert_eq!(a.samples[0].attribute_indices, vec![3, 2]);
    assert_eq!(a.attribute_indices, vec![1]);
    // Lists without duplicates are left alone.
    assert_eq!(all_profiles(&req)[1], &profile_b());
}

// ---------------------------------------------------------------------------------------------
// Sample shape (§5, §8 #5, #6)
// ---------------------------------------------------------------------------------------------

#[test]
fn sample_without_values_and_timestamps_is_rejected() {
    let mut req = base();
    let s = &mut prof_a(&mut req).samples[1];
    s.values.clear();
    s.timestamps_unix_nano.clear();
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    assert!(
        report.errors[0].starts_with(&format!("{A}.samples[1]: ")),
        "{:?}",
        report.errors
    );
    assert_eq!(all_profiles(&req), vec![&profile_b()]);
}

#[test]
fn sample_with_mismatched_lengths_is_rejected() {
    for (nv, nt) in [(2, 1), (1, 3)] {
        let mut req = base();
        let s = &mut prof_a(&mut req).samples[0];
        s.values = vec![1; nv];
        s.timestamps_unix_nano = vec![T0; nt];
        let report = validate(&mut req, &opts()).expect("partial success");
        assert_eq!(report.rejected_profiles, 1);
        let e = &report.errors[0];
        assert!(e.starts_with(&format!("{A}.samples[0]: ")), "{e}");
        assert!(
            e.contains(&format!("{nv} values")) && e.contains(&format!("{nt} timestamps")),
            "{e}"
        );
    }
}

#[test]
fn multi_value_sample_without_timestamps_warns_or_sums() {
    let mut req = base();
    for s in &mut prof_a(&mut req).samples {
        s.values = vec![3, 4, 5];
        s.timestamps_unix_nano.clear();
    }
    let mut warned = req.clone();
    let report = validate(&mut warned, &opts()).expect("only a warning");
    assert_eq!(report.rejected_profiles, 0);
    assert_eq!(report.warning_count, 2, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("samples[0]"),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        warned.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].values,
        vec![3, 4, 5]
    );

    let o = ValidationOptions {
        sum_multi_values: true,
        ..Default::default()
    };
    let report = validate(&mut req, &o).expect("summed");
    assert_eq!(report.warning_count, 0, "{:?}", report.warnings);
    for s in &req.resource_profiles[0].scope_profiles[0].profiles[0].samples {
        assert_eq!(s.values, vec![12]);
    }
}

#[test]
fn mixed_shapes_and_out_of_window_timestamps_only_warn() {
    let mut req = base();
    let p = prof_a(&mut req);
    p.samples[1].timestamps_unix_nano.clear(); // values-only next to "both"
    p.samples[0].timestamps_unix_nano[0] = T0 + 2_000_000_000; // after time + duration
    let report = validate(&mut req, &opts()).expect("warnings only");
    assert_eq!(report.rejected_profiles, 0);
    assert_eq!(report.warning_count, 2, "{:?}", report.warnings);
}

// ---------------------------------------------------------------------------------------------
// Ids (§8 #8, #9)
// ---------------------------------------------------------------------------------------------

#[test]
fn link_trace_id_of_5_bytes_rejects_the_request() {
    let mut req = base();
    dict_mut(&mut req).link_table[1].trace_id = vec![9; 5];
    let e = validate(&mut req, &opts()).expect_err("bad link");
    assert_eq!(e.path, "dictionary.link_table[1].trace_id");
    assert!(e.message.contains('5'), "{e}");
}

#[test]
fn link_span_id_of_wrong_length_rejects_the_request() {
    let mut req = base();
    dict_mut(&mut req).link_table[1].span_id = vec![9; 16];
    let e = validate(&mut req, &opts()).expect_err("bad link");
    assert_eq!(e.path, "dictionary.link_table[1].span_id");
}

#[test]
fn zero_link_ids_are_accepted() {
    // v1.11 recommends 16 + 8 zero bytes for link_table[0]; the eBPF capture uses empty ids.
    let mut req = base();
    dict_mut(&mut req).link_table[0] = Link {
        trace_id: vec![0; 16],
        span_id: vec![0; 8],
    };
    let report = validate(&mut req, &opts()).expect("valid");
    assert_eq!(report.malformed_zero_entries, 0);
}

#[test]
fn all_zero_profile_id_rejects_the_profile() {
    let mut req = base();
    prof_a(&mut req).profile_id = vec![0; 16];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    assert!(
        report.errors[0].starts_with(&format!("{A}.profile_id: ")),
        "{:?}",
        report.errors
    );
    assert_eq!(all_profiles(&req), vec![&profile_b()]);
}

#[test]
fn short_profile_id_rejects_the_profile() {
    let mut req = base();
    prof_a(&mut req).profile_id = vec![1; 5];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    assert!(report.errors[0].contains("profile_id"));
}

#[test]
fn original_payload_without_format_rejects_the_profile() {
    let mut req = base();
    prof_a(&mut req).original_payload = vec![1, 2, 3];
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 1);
    assert!(report.errors[0].contains("original_payload"));

    let mut ok = base();
    prof_a(&mut ok).original_payload = vec![1, 2, 3];
    prof_a(&mut ok).original_payload_format = "pprof".into();
    assert_eq!(validate(&mut ok, &opts()).unwrap().rejected_profiles, 0);
}

#[test]
fn partial_success_message_lists_every_rejected_profile() {
    let mut req = base();
    // Three more copies of profile B, two of them broken.
    let mut extra = profile_b();
    extra.samples[0].stack_index = 99;
    let sp = &mut req.resource_profiles[1].scope_profiles[0];
    sp.profiles.push(extra.clone());
    sp.profiles.push(profile_b());
    sp.profiles.push(extra);
    let report = validate(&mut req, &opts()).expect("partial success");
    assert_eq!(report.rejected_profiles, 2, "{report:?}");
    assert_eq!(report.rejected_samples, 2);
    // Paths use the positions in the request as received.
    let msg = report.error_message();
    let p = "resource_profiles[1].scope_profiles[0].profiles";
    assert!(
        msg.contains(&format!("{p}[1].samples[0].stack_index: index 99 ")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{p}[3].samples[0].stack_index: index 99 ")),
        "{msg}"
    );
    assert_eq!(
        all_profiles(&req),
        vec![&profile_a(), &profile_b(), &profile_b()]
    );
}

// ---------------------------------------------------------------------------------------------
// Zero entries (§4, §8 #4)
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_zero_entries_are_counted_not_rejected() {
    let mut req = base();
    let d = dict_mut(&mut req);
    d.string_table[0] = "not empty".into();
    d.function_table[0].name_strindex = S_MAIN;
    d.link_table[0].trace_id = vec![1; 16];
    let report = validate(&mut req, &opts()).expect("counted only");
    assert_eq!(report.rejected_profiles, 0);
    assert_eq!(report.malformed_zero_entries, 3);
}

#[test]
fn empty_any_value_in_zero_attribute_is_the_zero_value() {
    // What the Go Collector (and the eBPF profiler) write for attribute_table[0].
    let mut req = base();
    dict_mut(&mut req).attribute_table[0].value = Some(AnyValue { value: None });
    let report = validate(&mut req, &opts()).expect("valid");
    assert_eq!(report.malformed_zero_entries, 0);

    let mut req = base();
    dict_mut(&mut req).attribute_table[0].value = str_value("x");
    let report = validate(&mut req, &opts()).expect("counted only");
    assert_eq!(report.malformed_zero_entries, 1);
}

// ---------------------------------------------------------------------------------------------
// Reference resolution (§6)
// ---------------------------------------------------------------------------------------------

fn resource_attrs(r: &Req, ri: usize) -> &[KeyValue] {
    &r.resource_profiles[ri]
        .resource
        .as_ref()
        .unwrap()
        .attributes
}

#[test]
fn resource_references_resolve_to_inline_strings() {
    let mut req = base();
    req.resource_profiles[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes = vec![
        KeyValue {
            key: String::new(),
            value: strindex_value(S_CHECKOUT),
            key_strindex: S_SERVICE_NAME,
        },
        // Index 0 of string_value_strindex resolves to "".
        KeyValue {
            key: "empty".into(),
            value: strindex_value(0),
            key_strindex: 0,
        },
    ];
    let report = validate(&mut req, &opts()).expect("valid");
    assert_eq!(report.warning_count, 0, "{:?}", report.warnings);
    assert_eq!(
        resource_attrs(&req, 0),
        &[kv("service.name", "checkout"), kv("empty", "")]
    );
}

/// Collector bug #15793 overwrote every inline key with `string_table[0]` because it tested
/// `key_strindex >= 0`. Index 0 means "unset": the inline key must stay.
#[test]
fn inline_key_with_zero_key_strindex_is_kept() {
    let mut req = base();
    req.resource_profiles[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes = vec![KeyValue {
        key: "service.name".into(),
        value: str_value("checkout"),
        key_strindex: 0,
    }];
    req.resource_profiles[0].scope_profiles[0]
        .scope
        .as_mut()
        .unwrap()
        .attributes = vec![kv("scope.attr", "v")];
    validate(&mut req, &opts()).expect("valid");
    assert_eq!(resource_attrs(&req, 0), &[kv("service.name", "checkout")]);
    assert_eq!(
        req.resource_profiles[0].scope_profiles[0]
            .scope
            .as_ref()
            .unwrap()
            .attributes,
        vec![kv("scope.attr", "v")]
    );
}

#[test]
fn key_and_key_strindex_both_set_prefers_key_strindex_with_a_warning() {
    let mut req = base();
    req.resource_profiles[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes = vec![KeyValue {
        key: "inline".into(),
        value: str_value("checkout"),
        key_strindex: S_SERVICE_NAME,
    }];
    let report = validate(&mut req, &opts()).expect("valid");
    assert_eq!(report.warning_count, 1);
    assert_eq!(resource_attrs(&req, 0), &[kv("service.name", "checkout")]);
}

#[test]
fn nested_and_scope_references_resolve() {
    let mut req = base();
    let nested = AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: String::new(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![
                            strindex_value(S_WORKER).unwrap(),
                            AnyValue {
                                value: Some(any_value::Value::IntValue(4)),
                            },
                        ],
                    })),
                }),
                key_strindex: S_THREAD,
            }],
        })),
    };
    req.resource_profiles[1]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(KeyValue {
            key: "nested".into(),
            value: Some(nested),
            key_strindex: 0,
        });
    req.resource_profiles[1].scope_profiles[0]
        .scope
        .as_mut()
        .unwrap()
        .attributes = vec![KeyValue {
        key: String::new(),
        value: strindex_value(S_FOO),
        key_strindex: S_HOST,
    }];
    validate(&mut req, &opts()).expect("valid");

    let expected_nested = AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "thread.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![
                            str_value("worker").unwrap(),
                            AnyValue {
                                value: Some(any_value::Value::IntValue(4)),
                            },
                        ],
                    })),
                }),
                key_strindex: 0,
            }],
        })),
    };
    assert_eq!(
        resource_attrs(&req, 1),
        &[
            kv("service.name", "cart"),
            KeyValue {
                key: "nested".into(),
                value: Some(expected_nested),
                key_strindex: 0,
            }
        ]
    );
    assert_eq!(
        req.resource_profiles[1].scope_profiles[0]
            .scope
            .as_ref()
            .unwrap()
            .attributes,
        vec![kv("host.name", "foo")]
    );
}

// ---------------------------------------------------------------------------------------------
// Fuzz-ish: corrupt random i32 fields (or bytes) and run everything downstream
// ---------------------------------------------------------------------------------------------

fn any_value_i32s<'a>(v: &'a mut AnyValue, out: &mut Vec<&'a mut i32>) {
    match &mut v.value {
        Some(any_value::Value::StringValueStrindex(i)) => out.push(i),
        Some(any_value::Value::ArrayValue(a)) => {
            for x in &mut a.values {
                any_value_i32s(x, out);
            }
        }
        Some(any_value::Value::KvlistValue(l)) => key_values_i32s(&mut l.values, out),
        _ => {}
    }
}

fn key_values_i32s<'a>(kvs: &'a mut [KeyValue], out: &mut Vec<&'a mut i32>) {
    for kv in kvs {
        out.push(&mut kv.key_strindex);
        if let Some(v) = &mut kv.value {
            any_value_i32s(v, out);
        }
    }
}

fn value_type_i32s<'a>(vt: &'a mut Option<ValueType>, out: &mut Vec<&'a mut i32>) {
    if let Some(vt) = vt {
        out.push(&mut vt.type_strindex);
        out.push(&mut vt.unit_strindex);
    }
}

/// Every i32 field of a request (all of them are indices).
fn i32_fields(req: &mut Req) -> Vec<&mut i32> {
    let mut out = Vec::new();
    if let Some(d) = &mut req.dictionary {
        for m in &mut d.mapping_table {
            out.push(&mut m.filename_strindex);
            out.extend(m.attribute_indices.iter_mut());
        }
        for l in &mut d.location_table {
            out.push(&mut l.mapping_index);
            for line in &mut l.lines {
                out.push(&mut line.function_index);
            }
            out.extend(l.attribute_indices.iter_mut());
        }
        for f in &mut d.function_table {
            out.push(&mut f.name_strindex);
            out.push(&mut f.system_name_strindex);
            out.push(&mut f.filename_strindex);
        }
        for s in &mut d.stack_table {
            out.extend(s.location_indices.iter_mut());
        }
        for a in &mut d.attribute_table {
            out.push(&mut a.key_strindex);
            out.push(&mut a.unit_strindex);
            if let Some(v) = &mut a.value {
                any_value_i32s(v, &mut out);
            }
        }
    }
    for rp in &mut req.resource_profiles {
        if let Some(r) = &mut rp.resource {
            key_values_i32s(&mut r.attributes, &mut out);
        }
        for sp in &mut rp.scope_profiles {
            if let Some(s) = &mut sp.scope {
                key_values_i32s(&mut s.attributes, &mut out);
            }
            for p in &mut sp.profiles {
                value_type_i32s(&mut p.sample_type, &mut out);
                value_type_i32s(&mut p.period_type, &mut out);
                out.extend(p.attribute_indices.iter_mut());
                for s in &mut p.samples {
                    out.push(&mut s.stack_index);
                    out.push(&mut s.link_index);
                    out.extend(s.attribute_indices.iter_mut());
                }
            }
        }
    }
    out
}

fn no_references_left(kvs: &[KeyValue]) -> bool {
    fn value_ok(v: &AnyValue) -> bool {
        match &v.value {
            Some(any_value::Value::StringValueStrindex(_)) => false,
            Some(any_value::Value::ArrayValue(a)) => a.values.iter().all(value_ok),
            Some(any_value::Value::KvlistValue(l)) => no_references_left(&l.values),
            _ => true,
        }
    }
    kvs.iter()
        .all(|kv| kv.key_strindex == 0 && kv.value.as_ref().is_none_or(value_ok))
}

/// Runs `req` through validate and, if accepted, everything that indexes the dictionary.
fn validate_and_exercise(mut req: Req) {
    let before = sample_count(&req);
    let Ok(report) = validate(&mut req, &opts()) else {
        return;
    };
    assert_eq!(sample_count(&req) + report.rejected_samples, before);
    for rp in &req.resource_profiles {
        if let Some(r) = &rp.resource {
            assert!(no_references_left(&r.attributes), "{r:?}");
        }
        for sp in &rp.scope_profiles {
            if let Some(s) = &sp.scope {
                assert!(no_references_left(&s.attributes), "{s:?}");
            }
        }
    }
    let mut n = 0;
    for s in samples(&req) {
        n += 1;
        for f in s.frames() {
            let _ = f.label();
        }
        for (k, v, u) in s.attributes() {
            let _ = (k.len(), profcol_pdata::view::any_value_text(v), u.len());
        }
        let _ = (s.link(), s.sample_type(), s.total());
    }
    assert_eq!(n, sample_count(&req));

    let merged = merge(&req, &req);
    assert_eq!(sample_count(&merged), 2 * n);
    let mut check = merged.clone();
    let r = validate(&mut check, &opts()).expect("merge output is valid");
    assert_eq!(r.rejected_profiles, 0);

    for max in [1, 7, 1000] {
        let parts = split(&req, max);
        assert_eq!(parts.iter().map(sample_count).sum::<usize>(), n);
        for mut p in parts {
            assert!(sample_count(&p) <= max);
            let r = validate(&mut p, &opts()).expect("split output is valid");
            assert_eq!(r.rejected_profiles, 0);
        }
    }
}

fn hostile_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        -4..4i32,
        0..450i32,
        any::<i32>(),
    ]
}

fn mutate_i32s(req: &mut Req, edits: &[(prop::sample::Index, i32)]) {
    let mut fields = i32_fields(req);
    if fields.is_empty() {
        return;
    }
    for (at, v) in edits {
        let i = at.index(fields.len());
        *fields[i] = *v;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_i32_fields_of_hand_built_request(
        edits in prop::collection::vec((any::<prop::sample::Index>(), hostile_i32()), 1..4),
    ) {
        let mut req = base();
        // Give the small request references to resolve as well.
        req.resource_profiles[1].resource.as_mut().unwrap().attributes.push(KeyValue {
            key: String::new(),
            value: strindex_value(S_WORKER),
            key_strindex: S_THREAD,
        });
        mutate_i32s(&mut req, &edits);
        validate_and_exercise(req);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_i32_fields_of_real_capture(
        edits in prop::collection::vec((any::<prop::sample::Index>(), hostile_i32()), 1..4),
    ) {
        let orig = ebpf_request();
        let mut req = orig.clone();
        mutate_i32s(&mut req, &edits);
        validate_and_exercise(req);
    }

    #[test]
    fn fuzz_bytes_of_real_capture(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        let bytes = BYTES.get_or_init(|| read_fixture(EBPF));
        let mut bytes = bytes.clone();
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        if let Ok(req) = Req::decode(bytes.as_slice()) {
            validate_and_exercise(req);
        }
    }
}
