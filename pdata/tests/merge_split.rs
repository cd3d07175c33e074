//! Property tests for merge / split (spec `otlp-profiles.md` §4, §5).
//!
//! Requests are generated from random "recipes": string tables, functions, mappings, locations
//! with 0-3 lines, stacks, attributes (including duplicates of equal entries and string-table
//! references), links, several resources / scopes / profiles and samples of all three shapes.
//! Every sample is reduced to a canonical, fully resolved tuple that does not depend on any
//! dictionary index; merge and split must preserve the multiset of those tuples exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use profcol_pdata::common::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value};
use profcol_pdata::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use profcol_pdata::resource::Resource;
use profcol_pdata::{
    ExportProfilesServiceRequest, SampleView, ValidationOptions, merge, sample_count, samples,
    split, validate,
};
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;

type Req = ExportProfilesServiceRequest;

// ---------------------------------------------------------------------------------------------
// Canonical resolved samples
// ---------------------------------------------------------------------------------------------

/// Text of an attribute value with every string-table reference resolved. `None` and an
/// `AnyValue` without an arm are the same (empty) value.
fn value_text(v: Option<&AnyValue>, strings: &[String]) -> String {
    use any_value::Value;
    let s = |i: i32| strings[usize::try_from(i).unwrap()].clone();
    match v.and_then(|v| v.value.as_ref()) {
        None => "-".into(),
        Some(Value::StringValue(x)) => format!("s:{x}"),
        Some(Value::StringValueStrindex(i)) => format!("s:{}", s(*i)),
        Some(Value::BoolValue(b)) => format!("b:{b}"),
        Some(Value::IntValue(i)) => format!("i:{i}"),
        Some(Value::DoubleValue(d)) => format!("d:{:x}", d.to_bits()),
        Some(Value::BytesValue(b)) => format!("x:{b:?}"),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a
                .values
                .iter()
                .map(|x| value_text(Some(x), strings))
                .collect();
            format!("[{}]", items.join(","))
        }
        Some(Value::KvlistValue(l)) => {
            format!("{{{}}}", key_values_text(&l.values, strings).join(","))
        }
    }
}

fn key_values_text(kvs: &[KeyValue], strings: &[String]) -> Vec<String> {
    kvs.iter()
        .map(|kv| {
            let key = if kv.key_strindex > 0 {
                strings[kv.key_strindex as usize].clone()
            } else {
                kv.key.clone()
            };
            format!("{key}={}", value_text(kv.value.as_ref(), strings))
        })
        .collect()
}

type AttrText = (String, String, String);

fn attr_text(d: &ProfilesDictionary, i: i32) -> AttrText {
    let a = &d.attribute_table[i as usize];
    (
        d.string_table[a.key_strindex as usize].clone(),
        value_text(a.value.as_ref(), &d.string_table),
        d.string_table[a.unit_strindex as usize].clone(),
    )
}

fn attr_list_text(d: &ProfilesDictionary, list: &[i32]) -> Vec<AttrText> {
    let mut v: Vec<AttrText> = list.iter().map(|&i| attr_text(d, i)).collect();
    v.sort();
    v
}

fn value_type_text(d: &ProfilesDictionary, vt: &Option<ValueType>) -> Option<(String, String)> {
    vt.as_ref().map(|vt| {
        (
            d.string_table[vt.type_strindex as usize].clone(),
            d.string_table[vt.unit_strindex as usize].clone(),
        )
    })
}

/// Everything a location stands for, resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LocationText {
    mapping: Option<(String, u64, u64, u64, Vec<AttrText>)>,
    address: u64,
    lines: Vec<(String, String, String, i64, i64, i64)>,
    attributes: Vec<AttrText>,
}

fn location_text(d: &ProfilesDictionary, i: i32) -> LocationText {
    let l = &d.location_table[i as usize];
    let s = |i: i32| d.string_table[i as usize].clone();
    LocationText {
        mapping: (l.mapping_index != 0).then(|| {
            let m = &d.mapping_table[l.mapping_index as usize];
            (
                s(m.filename_strindex),
                m.memory_start,
                m.memory_limit,
                m.file_offset,
                attr_list_text(d, &m.attribute_indices),
            )
        }),
        address: l.address,
        lines: l
            .lines
            .iter()
            .map(|line| {
                let f = &d.function_table[line.function_index as usize];
                (
                    s(f.name_strindex),
                    s(f.system_name_strindex),
                    s(f.filename_strindex),
                    f.start_line,
                    line.line,
                    line.column,
                )
            })
            .collect(),
        attributes: attr_list_text(d, &l.attribute_indices),
    }
}

type FrameText = (String, String, String, i64, bool, String, u64);

/// The frames `SampleView::frames` must produce for a resolved stack: leaf first, one frame per
/// line, every line but the last of a location inlined into the next (spec: `lines[last]` is
/// the caller); a location without lines is one frame labelled by its mapping and address.
fn expected_frames(stack: &[LocationText]) -> Vec<FrameText> {
    let mut out = Vec::new();
    for l in stack {
        let mapping = l.mapping.as_ref().map(|m| m.0.clone()).unwrap_or_default();
        let label = |name: &str| {
            if !name.is_empty() {
                name.to_owned()
            } else if !mapping.is_empty() {
                format!("{mapping}+0x{:x}", l.address)
            } else {
                format!("0x{:x}", l.address)
            }
        };
        if l.lines.is_empty() {
            out.push((
                label(""),
                String::new(),
                String::new(),
                0,
                false,
                mapping.clone(),
                l.address,
            ));
        }
        for (i, (name, system_name, file, _, line, _)) in l.lines.iter().enumerate() {
            let shown = if name.is_empty() { system_name } else { name };
            let inlined = i + 1 != l.lines.len();
            out.push((
                label(shown),
                system_name.clone(),
                file.clone(),
                *line,
                inlined,
                mapping.clone(),
                l.address,
            ));
        }
    }
    out
}

/// A sample with everything it refers to, without any index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Canon {
    resource: (Vec<String>, u32, String),
    scope: (String, String, Vec<String>, u32, String),
    profile: ProfileText,
    /// From `SampleView::frames`: (label, system name, file, line, inlined, mapping, address),
    /// leaf first.
    frames: Vec<FrameText>,
    /// The stack resolved independently of the view code.
    stack: Vec<LocationText>,
    /// Sorted (key, value text, unit).
    attributes: Vec<AttrText>,
    /// None for no link or an all-zero link.
    link: Option<(Vec<u8>, Vec<u8>)>,
    values: Vec<i64>,
    timestamps: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ProfileText {
    sample_type: Option<(String, String)>,
    view_sample_type: (String, String),
    period_type: Option<(String, String)>,
    period: i64,
    time: u64,
    duration: u64,
    profile_id: Vec<u8>,
    dropped_attributes: u32,
    payload: (String, Vec<u8>),
    attributes: Vec<AttrText>,
}

fn canon(v: &SampleView<'_>) -> Canon {
    let d = v.dict.raw;
    let strings = &d.string_table;
    let res = v.resource.resource.clone().unwrap_or_default();
    let mut res_attrs = key_values_text(&res.attributes, strings);
    res_attrs.sort();
    let scope = v.scope.scope.clone().unwrap_or_default();
    let mut scope_attrs = key_values_text(&scope.attributes, strings);
    scope_attrs.sort();
    let p = v.profile;
    let (st_type, st_unit) = v.sample_type();
    let mut attributes: Vec<AttrText> = v
        .attributes()
        .map(|(k, val, u)| (k.to_owned(), value_text(val, strings), u.to_owned()))
        .collect();
    attributes.sort();
    assert_eq!(attributes, attr_list_text(d, &v.sample.attribute_indices));
    let link = v
        .link()
        .filter(|l| l.trace_id.iter().chain(&l.span_id).any(|&b| b != 0))
        .map(|l| (l.trace_id.clone(), l.span_id.clone()));
    let stack: Vec<LocationText> = d.stack_table[v.sample.stack_index as usize]
        .location_indices
        .iter()
        .map(|&l| location_text(d, l))
        .collect();
    let frames: Vec<FrameText> = v
        .frames()
        .iter()
        .map(|f| {
            (
                f.label(),
                f.system_name.to_owned(),
                f.file.to_owned(),
                f.line,
                f.inlined,
                f.mapping.to_owned(),
                f.address,
            )
        })
        .collect();
    assert_eq!(
        frames,
        expected_frames(&stack),
        "SampleView::frames disagrees with the dictionary"
    );
    Canon {
        resource: (
            res_attrs,
            res.dropped_attributes_count,
            v.resource.schema_url.clone(),
        ),
        scope: (
            scope.name,
            scope.version,
            scope_attrs,
            scope.dropped_attributes_count,
            v.scope.schema_url.clone(),
        ),
        profile: ProfileText {
            sample_type: value_type_text(d, &p.sample_type),
            view_sample_type: (st_type.to_owned(), st_unit.to_owned()),
            period_type: value_type_text(d, &p.period_type),
            period: p.period,
            time: p.time_unix_nano,
            duration: p.duration_nano,
            profile_id: p.profile_id.clone(),
            dropped_attributes: p.dropped_attributes_count,
            payload: (
                p.original_payload_format.clone(),
                p.original_payload.clone(),
            ),
            attributes: attr_list_text(d, &p.attribute_indices),
        },
        frames,
        stack,
        attributes,
        link,
        values: v.sample.values.clone(),
        timestamps: v.sample.timestamps_unix_nano.clone(),
    }
}

/// The sorted multiset of canonical samples of a (validated) request.
fn multiset(req: &Req) -> Vec<Canon> {
    let mut v: Vec<Canon> = samples(req).map(|s| canon(&s)).collect();
    assert_eq!(v.len(), sample_count(req));
    v.sort();
    v
}

fn union(a: &[Canon], b: &[Canon]) -> Vec<Canon> {
    let mut v: Vec<Canon> = a.iter().chain(b).cloned().collect();
    v.sort();
    v
}

/// Panics with the first difference instead of dumping two huge vectors.
fn assert_same_multiset(got: &[Canon], want: &[Canon], what: &str) {
    if got == want {
        return;
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{what}: first difference at sorted position {i}");
    }
    panic!("{what}: {} samples, expected {}", got.len(), want.len());
}

// ---------------------------------------------------------------------------------------------
// Orphans and duplicates
// ---------------------------------------------------------------------------------------------

fn value_strings(v: &AnyValue, used: &mut HashSet<i32>) {
    match &v.value {
        Some(any_value::Value::StringValueStrindex(i)) => {
            used.insert(*i);
        }
        Some(any_value::Value::ArrayValue(a)) => {
            a.values.iter().for_each(|x| value_strings(x, used))
        }
        Some(any_value::Value::KvlistValue(l)) => key_value_strings(&l.values, used),
        _ => {}
    }
}

fn key_value_strings(kvs: &[KeyValue], used: &mut HashSet<i32>) {
    for kv in kvs {
        used.insert(kv.key_strindex);
        if let Some(v) = &kv.value {
            value_strings(v, used);
        }
    }
}

/// Dictionary entries (other than index 0) not reachable from any sample, profile, resource or
/// scope of the request, as `table[index]`.
fn orphans(req: &Req) -> Vec<String> {
    let Some(d) = &req.dictionary else {
        return Vec::new();
    };
    let (mut strings, mut attrs, mut stacks, mut links) = (
        HashSet::new(),
        HashSet::new(),
        HashSet::new(),
        HashSet::new(),
    );
    let (mut locations, mut mappings, mut functions) =
        (HashSet::new(), HashSet::new(), HashSet::new());
    for rp in &req.resource_profiles {
        if let Some(r) = &rp.resource {
            key_value_strings(&r.attributes, &mut strings);
        }
        for sp in &rp.scope_profiles {
            if let Some(s) = &sp.scope {
                key_value_strings(&s.attributes, &mut strings);
            }
            for p in &sp.profiles {
                for vt in p.sample_type.iter().chain(&p.period_type) {
                    strings.insert(vt.type_strindex);
                    strings.insert(vt.unit_strindex);
                }
                attrs.extend(p.attribute_indices.iter().copied());
                for s in &p.samples {
                    stacks.insert(s.stack_index);
                    links.insert(s.link_index);
                    attrs.extend(s.attribute_indices.iter().copied());
                }
            }
        }
    }
    for &s in &stacks {
        locations.extend(d.stack_table[s as usize].location_indices.iter().copied());
    }
    for &l in &locations {
        let loc = &d.location_table[l as usize];
        mappings.insert(loc.mapping_index);
        functions.extend(loc.lines.iter().map(|x| x.function_index));
        attrs.extend(loc.attribute_indices.iter().copied());
    }
    for &m in &mappings {
        let m = &d.mapping_table[m as usize];
        strings.insert(m.filename_strindex);
        attrs.extend(m.attribute_indices.iter().copied());
    }
    for &f in &functions {
        let f = &d.function_table[f as usize];
        strings.extend([f.name_strindex, f.system_name_strindex, f.filename_strindex]);
    }
    for &a in &attrs {
        let a = &d.attribute_table[a as usize];
        strings.extend([a.key_strindex, a.unit_strindex]);
        if let Some(v) = &a.value {
            value_strings(v, &mut strings);
        }
    }
    let mut out = Vec::new();
    let mut check = |name: &str, len: usize, used: &HashSet<i32>| {
        for i in 1..len {
            if !used.contains(&(i as i32)) {
                out.push(format!("{name}[{i}]"));
            }
        }
    };
    check("string_table", d.string_table.len(), &strings);
    check("attribute_table", d.attribute_table.len(), &attrs);
    check("stack_table", d.stack_table.len(), &stacks);
    check("link_table", d.link_table.len(), &links);
    check("location_table", d.location_table.len(), &locations);
    check("mapping_table", d.mapping_table.len(), &mappings);
    check("function_table", d.function_table.len(), &functions);
    out
}

fn dup_entries<T: Message>(name: &str, table: &[T], out: &mut Vec<String>) {
    let mut seen = BTreeMap::new();
    for (i, e) in table.iter().enumerate() {
        if let Some(first) = seen.insert(e.encode_to_vec(), i) {
            out.push(format!("{name}[{i}] == {name}[{first}]"));
        }
    }
}

/// Entries that are byte-for-byte equal to another entry of the same table. Links are compared
/// with all-zero ids treated as empty (both mean "no link").
fn duplicates(d: &ProfilesDictionary) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, s) in d.string_table.iter().enumerate() {
        if !seen.insert(s) {
            out.push(format!("string_table[{i}] {s:?}"));
        }
    }
    dup_entries("function_table", &d.function_table, &mut out);
    dup_entries("mapping_table", &d.mapping_table, &mut out);
    dup_entries("location_table", &d.location_table, &mut out);
    dup_entries("stack_table", &d.stack_table, &mut out);
    dup_entries("attribute_table", &d.attribute_table, &mut out);
    let links: Vec<Link> = d
        .link_table
        .iter()
        .map(|l| {
            if l.trace_id.iter().chain(&l.span_id).all(|&b| b == 0) {
                Link::default()
            } else {
                l.clone()
            }
        })
        .collect();
    dup_entries("link_table", &links, &mut out);
    out
}

fn table_sizes(d: &ProfilesDictionary) -> [usize; 7] {
    [
        d.string_table.len(),
        d.function_table.len(),
        d.mapping_table.len(),
        d.location_table.len(),
        d.stack_table.len(),
        d.link_table.len(),
        d.attribute_table.len(),
    ]
}

const TABLES: [&str; 7] = [
    "string_table",
    "function_table",
    "mapping_table",
    "location_table",
    "stack_table",
    "link_table",
    "attribute_table",
];

/// An output of merge or split must pass validation with nothing to report, and validation must
/// have nothing left to change in it.
fn assert_clean_output(req: &Req, what: &str) {
    let mut copy = req.clone();
    let report = validate(&mut copy, &ValidationOptions::default())
        .unwrap_or_else(|e| panic!("{what} does not validate: {e}"));
    assert_eq!(report.rejected_profiles, 0, "{what}: {:?}", report.errors);
    assert_eq!(report.malformed_zero_entries, 0, "{what}");
    let index_warnings: Vec<&String> = report
        .warnings
        .iter()
        .filter(|w| w.contains("index"))
        .collect();
    assert!(index_warnings.is_empty(), "{what}: {index_warnings:?}");
    assert_eq!(
        &copy, req,
        "{what}: validation changed an output of merge/split"
    );
    let d = req.dictionary.as_ref().expect("outputs carry a dictionary");
    assert_eq!(
        d.string_table.first().map(String::as_str),
        Some(""),
        "{what}"
    );
}

// ---------------------------------------------------------------------------------------------
// Random valid requests
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum ValRecipe {
    None,
    Empty,
    Str(String),
    StrRef(Index),
    Int(i64),
    Bool(bool),
    Double(i32),
    Bytes(Vec<u8>),
    Array(Vec<ValRecipe>),
}

fn leaf_value() -> impl Strategy<Value = ValRecipe> {
    prop_oneof![
        Just(ValRecipe::None),
        Just(ValRecipe::Empty),
        "[a-c]{0,2}".prop_map(ValRecipe::Str),
        any::<Index>().prop_map(ValRecipe::StrRef),
        (-3i64..3).prop_map(ValRecipe::Int),
        any::<bool>().prop_map(ValRecipe::Bool),
        (-2i32..2).prop_map(ValRecipe::Double),
        prop::collection::vec(any::<u8>(), 0..3).prop_map(ValRecipe::Bytes),
    ]
}

fn value_recipe() -> impl Strategy<Value = ValRecipe> {
    prop_oneof![
        4 => leaf_value(),
        1 => prop::collection::vec(leaf_value(), 0..3).prop_map(ValRecipe::Array),
    ]
}

fn build_value(v: &ValRecipe, strings: usize) -> Option<AnyValue> {
    use any_value::Value;
    let val = match v {
        ValRecipe::None => return None,
        ValRecipe::Empty => None,
        ValRecipe::Str(s) => Some(Value::StringValue(s.clone())),
        ValRecipe::StrRef(i) => Some(Value::StringValueStrindex(i.index(strings) as i32)),
        ValRecipe::Int(i) => Some(Value::IntValue(*i)),
        ValRecipe::Bool(b) => Some(Value::BoolValue(*b)),
        ValRecipe::Double(d) => Some(Value::DoubleValue(f64::from(*d) / 2.0)),
        ValRecipe::Bytes(b) => Some(Value::BytesValue(b.clone())),
        ValRecipe::Array(items) => Some(Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .filter_map(|x| build_value(x, strings))
                .collect(),
        })),
    };
    Some(AnyValue { value: val })
}

/// A resource or scope attribute: inline or by reference, key and value independently.
#[derive(Debug, Clone)]
struct KvRecipe {
    key: usize,
    key_ref: Option<Index>,
    value: usize,
    value_ref: Option<Index>,
}

const KEYS: [&str; 3] = ["service.name", "host.name", "k8s.pod.name"];
const VALUES: [&str; 3] = ["checkout", "cart", ""];

fn kv_recipe() -> impl Strategy<Value = KvRecipe> {
    (
        0..KEYS.len(),
        prop::option::weighted(0.3, any::<Index>()),
        0..VALUES.len(),
        prop::option::weighted(0.3, any::<Index>()),
    )
        .prop_map(|(key, key_ref, value, value_ref)| KvRecipe {
            key,
            key_ref,
            value,
            value_ref,
        })
}

fn build_kvs(kvs: &[KvRecipe], strings: usize) -> Vec<KeyValue> {
    kvs.iter()
        .map(|r| {
            let key_strindex = r.key_ref.map_or(0, |i| i.index(strings) as i32);
            KeyValue {
                key: if key_strindex > 0 {
                    String::new()
                } else {
                    KEYS[r.key].to_owned()
                },
                key_strindex,
                value: Some(AnyValue {
                    value: Some(match r.value_ref {
                        Some(i) => any_value::Value::StringValueStrindex(i.index(strings) as i32),
                        None => any_value::Value::StringValue(VALUES[r.value].to_owned()),
                    }),
                }),
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct SampleRecipe {
    stack: Index,
    attrs: Vec<Index>,
    link: Index,
    /// 0: values only, 1: timestamps only, 2: both
    shape: u8,
    values: Vec<i64>,
}

fn sample_recipe() -> impl Strategy<Value = SampleRecipe> {
    (
        any::<Index>(),
        prop::collection::vec(any::<Index>(), 0..4),
        any::<Index>(),
        0u8..3,
        prop::collection::vec(-5i64..1000, 1..4),
    )
        .prop_map(|(stack, attrs, link, shape, values)| SampleRecipe {
            stack,
            attrs,
            link,
            shape,
            values,
        })
}

#[derive(Debug, Clone)]
struct ProfileRecipe {
    sample_type: (Index, Index),
    period_type: Option<(Index, Index)>,
    period: i64,
    attrs: Vec<Index>,
    profile_id: Option<[u8; 16]>,
    time_offset: u64,
    payload: bool,
    samples: Vec<SampleRecipe>,
}

fn profile_recipe() -> impl Strategy<Value = ProfileRecipe> {
    (
        (any::<Index>(), any::<Index>()),
        prop::option::of((any::<Index>(), any::<Index>())),
        0i64..3,
        prop::collection::vec(any::<Index>(), 0..3),
        prop::option::of(any::<[u8; 16]>()),
        0u64..3,
        prop::bool::weighted(0.1),
        prop::collection::vec(sample_recipe(), 0..8),
    )
        .prop_map(
            |(
                sample_type,
                period_type,
                period,
                attrs,
                profile_id,
                time_offset,
                payload,
                samples,
            )| {
                ProfileRecipe {
                    sample_type,
                    period_type,
                    period,
                    attrs,
                    profile_id,
                    time_offset,
                    payload,
                    samples,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct ScopeRecipe {
    name: usize,
    attrs: Vec<KvRecipe>,
    profiles: Vec<ProfileRecipe>,
}

#[derive(Debug, Clone)]
struct ResourceRecipe {
    attrs: Vec<KvRecipe>,
    schema: bool,
    scopes: Vec<ScopeRecipe>,
}

fn resource_recipe() -> impl Strategy<Value = ResourceRecipe> {
    let scope = (
        0usize..3,
        prop::collection::vec(kv_recipe(), 0..2),
        prop::collection::vec(profile_recipe(), 1..3),
    )
        .prop_map(|(name, attrs, profiles)| ScopeRecipe {
            name,
            attrs,
            profiles,
        });
    (
        prop::collection::vec(kv_recipe(), 0..3),
        prop::bool::weighted(0.2),
        prop::collection::vec(scope, 1..3),
    )
        .prop_map(|(attrs, schema, scopes)| ResourceRecipe {
            attrs,
            schema,
            scopes,
        })
}

type FunctionRecipe = (Index, Index, Index, i64);
type MappingRecipe = (u64, u64, u64, Index, Vec<Index>);
type LocationRecipe = (Index, u64, Vec<(Index, i64, i64)>, Vec<Index>);

#[derive(Debug, Clone)]
struct Recipe {
    strings: Vec<String>,
    functions: Vec<FunctionRecipe>,
    attributes: Vec<(Index, ValRecipe, Index)>,
    mappings: Vec<MappingRecipe>,
    locations: Vec<LocationRecipe>,
    stacks: Vec<Vec<Index>>,
    /// None: a link with empty ids (a second "no link" entry).
    links: Vec<Option<([u8; 16], [u8; 8])>>,
    resources: Vec<ResourceRecipe>,
    /// Per table (in the order of [`TABLES`]): entries to append again as exact duplicates.
    dups: [Vec<Index>; 7],
    /// Per table: entries to append again with one field changed (near duplicates, which a
    /// deduplicating key that misses a field would wrongly merge).
    near: [Vec<(Index, u8)>; 7],
}

/// With `dups`, tables contain exact duplicates (including duplicate strings, so equal keys
/// have different key_strindex values); without, every table is free of equal entries.
fn recipe(dups: bool) -> impl Strategy<Value = Recipe> {
    let d = if dups { 0..3usize } else { 0..1 };
    let near = prop::collection::vec((any::<Index>(), any::<u8>()), 0..3);
    let near_lists = [
        near.clone(),
        near.clone(),
        near.clone(),
        near.clone(),
        near.clone(),
        near.clone(),
        near,
    ];
    let dup_lists = [
        prop::collection::vec(any::<Index>(), d.clone()),
        prop::collection::vec(any::<Index>(), d.clone()),
        prop::collection::vec(any::<Index>(), d.clone()),
        prop::collection::vec(any::<Index>(), d.clone()),
        prop::collection::vec(any::<Index>(), d.clone()),
        prop::collection::vec(any::<Index>(), d.clone()),
        prop::collection::vec(any::<Index>(), d),
    ];
    let tables = (
        prop::collection::hash_set("[a-e]{1,3}", 1..12).prop_map(|s| {
            let mut v: Vec<String> = s.into_iter().collect();
            v.sort();
            v
        }),
        prop::collection::vec(
            (any::<Index>(), any::<Index>(), any::<Index>(), 0i64..3),
            0..8,
        ),
        prop::collection::vec((any::<Index>(), value_recipe(), any::<Index>()), 0..8),
        prop::collection::vec(
            (
                0u64..4,
                1u64..4,
                0u64..2,
                any::<Index>(),
                prop::collection::vec(any::<Index>(), 0..2),
            ),
            0..4,
        ),
        prop::collection::vec(
            (
                any::<Index>(),
                0u64..0x5000,
                prop::collection::vec((any::<Index>(), 0i64..50, 0i64..3), 0..4),
                prop::collection::vec(any::<Index>(), 0..2),
            ),
            0..10,
        ),
        prop::collection::vec(prop::collection::vec(any::<Index>(), 0..5), 0..8),
        prop::collection::vec(
            prop::option::weighted(0.8, any::<([u8; 16], [u8; 8])>()),
            0..3,
        ),
    );
    (
        tables,
        prop::collection::vec(resource_recipe(), 1..4),
        dup_lists,
        near_lists,
    )
        .prop_map(
            |(
                (strings, functions, attributes, mappings, locations, stacks, links),
                resources,
                dups,
                near,
            )| {
                Recipe {
                    strings,
                    functions,
                    attributes,
                    mappings,
                    locations,
                    stacks,
                    links,
                    resources,
                    dups,
                    near,
                }
            },
        )
}

/// Drops later entries equal to an earlier one (nothing references the table yet).
fn dedup_table<T: PartialEq>(table: &mut Vec<T>) {
    let mut out: Vec<T> = Vec::with_capacity(table.len());
    for e in table.drain(..) {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    *table = out;
}

/// Appends near duplicates of the chosen non-zero entries (changed by `tweak`), then either
/// appends exact copies (if `dedup` is off) or removes equal entries.
fn finish_table<T: PartialEq + Clone>(
    table: &mut Vec<T>,
    near: &[(Index, u8)],
    tweak: impl Fn(&mut T, u8),
    copies: &[Index],
    dedup: bool,
) {
    if table.len() > 1 {
        for (at, how) in near {
            let mut e = table[1 + at.index(table.len() - 1)].clone();
            tweak(&mut e, *how);
            table.push(e);
        }
    }
    if dedup {
        dedup_table(table);
    } else if table.len() > 1 {
        for c in copies {
            let e = table[1 + c.index(table.len() - 1)].clone();
            table.push(e);
        }
    }
}

/// Picks attributes from the table keeping only the first of each key string (validity rule).
fn pick_attrs(d: &ProfilesDictionary, picks: &[Index]) -> Vec<i32> {
    let mut keys = HashSet::new();
    let mut out = Vec::new();
    for p in picks {
        let i = p.index(d.attribute_table.len());
        let key = &d.string_table[d.attribute_table[i].key_strindex as usize];
        if keys.insert(key.clone()) {
            out.push(i as i32);
        }
    }
    out
}

const T0: u64 = 1_700_000_000_000_000_000;

fn build(r: &Recipe) -> Req {
    let dedup = r.dups.iter().all(Vec::is_empty);
    let mut d = ProfilesDictionary::default();
    let ix = |i: &Index, len: usize| i.index(len) as i32;

    d.string_table = std::iter::once(String::new())
        .chain(r.strings.iter().cloned())
        .collect();
    finish_table(
        &mut d.string_table,
        &r.near[0],
        |s, _| s.push('x'),
        &r.dups[0],
        dedup,
    );
    let ns = d.string_table.len();

    d.function_table = std::iter::once(Function::default())
        .chain(r.functions.iter().map(|(n, s, f, start)| Function {
            name_strindex: ix(n, ns),
            system_name_strindex: ix(s, ns),
            filename_strindex: ix(f, ns),
            start_line: *start,
        }))
        .collect();
    let tweak_function = |f: &mut Function, how: u8| match how % 4 {
        0 => f.start_line += 1,
        1 => std::mem::swap(&mut f.name_strindex, &mut f.system_name_strindex),
        2 => f.filename_strindex = (f.filename_strindex + 1) % ns as i32,
        _ => f.system_name_strindex = (f.system_name_strindex + 1) % ns as i32,
    };
    finish_table(
        &mut d.function_table,
        &r.near[1],
        tweak_function,
        &r.dups[1],
        dedup,
    );

    d.attribute_table = std::iter::once(KeyValueAndUnit::default())
        .chain(r.attributes.iter().map(|(k, v, u)| KeyValueAndUnit {
            key_strindex: ix(k, ns),
            value: build_value(v, ns),
            unit_strindex: ix(u, ns),
        }))
        .collect();
    let tweak_attribute = |a: &mut KeyValueAndUnit, how: u8| match how % 3 {
        0 => a.unit_strindex = (a.unit_strindex + 1) % ns as i32,
        1 => a.key_strindex = (a.key_strindex + 1) % ns as i32,
        _ => {
            a.value = Some(AnyValue {
                value: Some(any_value::Value::IntValue(i64::from(how))),
            })
        }
    };
    finish_table(
        &mut d.attribute_table,
        &r.near[6],
        tweak_attribute,
        &r.dups[6],
        dedup,
    );

    let mappings: Vec<Mapping> = r
        .mappings
        .iter()
        .map(|(start, len, off, file, attrs)| Mapping {
            memory_start: start * 0x1000,
            memory_limit: (start + len) * 0x1000,
            file_offset: off * 0x1000,
            filename_strindex: ix(file, ns),
            attribute_indices: pick_attrs(&d, attrs),
        })
        .collect();
    d.mapping_table = std::iter::once(Mapping::default())
        .chain(mappings)
        .collect();
    let tweak_mapping = |m: &mut Mapping, how: u8| match how % 4 {
        0 => m.file_offset += 0x1000,
        1 => m.memory_limit += 0x1000,
        2 => m.filename_strindex = (m.filename_strindex + 1) % ns as i32,
        _ => m.attribute_indices.clear(),
    };
    finish_table(
        &mut d.mapping_table,
        &r.near[2],
        tweak_mapping,
        &r.dups[2],
        dedup,
    );

    let (nm, nf) = (d.mapping_table.len(), d.function_table.len());
    let locations: Vec<Location> = r
        .locations
        .iter()
        .map(|(m, addr, lines, attrs)| Location {
            mapping_index: ix(m, nm),
            address: *addr,
            lines: lines
                .iter()
                .map(|(f, line, column)| Line {
                    function_index: ix(f, nf),
                    line: *line,
                    column: *column,
                })
                .collect(),
            attribute_indices: pick_attrs(&d, attrs),
        })
        .collect();
    d.location_table = std::iter::once(Location::default())
        .chain(locations)
        .collect();
    let tweak_location = |l: &mut Location, how: u8| match how % 6 {
        0 => l.address += 1,
        1 => l.mapping_index = (l.mapping_index + 1) % nm as i32,
        2 => l.lines.reverse(),
        3 => l.lines.iter_mut().for_each(|x| x.line += 1),
        4 => l.lines.iter_mut().for_each(|x| x.column += 1),
        _ => l.attribute_indices.clear(),
    };
    finish_table(
        &mut d.location_table,
        &r.near[3],
        tweak_location,
        &r.dups[3],
        dedup,
    );

    let nl = d.location_table.len();
    d.stack_table = std::iter::once(Stack::default())
        .chain(r.stacks.iter().map(|s| Stack {
            location_indices: s.iter().map(|l| ix(l, nl)).collect(),
        }))
        .collect();
    let tweak_stack = |s: &mut Stack, how: u8| match how % 3 {
        0 => s.location_indices.reverse(),
        1 => {
            s.location_indices.pop();
        }
        _ => s.location_indices.push(i32::from(how) % nl as i32),
    };
    finish_table(
        &mut d.stack_table,
        &r.near[4],
        tweak_stack,
        &r.dups[4],
        dedup,
    );

    d.link_table = std::iter::once(Link::default())
        .chain(r.links.iter().map(|l| match l {
            Some((t, s)) => Link {
                trace_id: t.to_vec(),
                span_id: s.to_vec(),
            },
            None => Link::default(),
        }))
        .collect();
    let tweak_link = |l: &mut Link, how: u8| {
        let ids = if how & 1 == 0 {
            &mut l.trace_id
        } else {
            &mut l.span_id
        };
        if let Some(b) = ids.last_mut() {
            *b ^= 1;
        }
    };
    finish_table(&mut d.link_table, &r.near[5], tweak_link, &r.dups[5], dedup);

    let (nstacks, nlinks) = (d.stack_table.len(), d.link_table.len());
    let mut resource_profiles = Vec::new();
    for res in &r.resources {
        let mut scope_profiles = Vec::new();
        for sc in &res.scopes {
            let mut profiles = Vec::new();
            for p in &sc.profiles {
                let time = T0 + p.time_offset * 1_000_000_000;
                let samples = p
                    .samples
                    .iter()
                    .map(|s| {
                        let ts: Vec<u64> = (0..s.values.len() as u64)
                            .map(|i| time + i * 1000)
                            .collect();
                        let (values, timestamps_unix_nano) = match s.shape {
                            0 => (s.values[..1].to_vec(), vec![]),
                            1 => (vec![], ts),
                            _ => (s.values.clone(), ts),
                        };
                        Sample {
                            stack_index: ix(&s.stack, nstacks),
                            attribute_indices: pick_attrs(&d, &s.attrs),
                            link_index: ix(&s.link, nlinks),
                            values,
                            timestamps_unix_nano,
                        }
                    })
                    .collect();
                let vt = |(t, u): &(Index, Index)| ValueType {
                    type_strindex: ix(t, ns),
                    unit_strindex: ix(u, ns),
                };
                profiles.push(Profile {
                    sample_type: Some(vt(&p.sample_type)),
                    samples,
                    time_unix_nano: time,
                    duration_nano: 1_000_000_000,
                    period_type: p.period_type.as_ref().map(vt),
                    period: p.period,
                    profile_id: p
                        .profile_id
                        .map(|mut id| {
                            id[0] |= 1;
                            id.to_vec()
                        })
                        .unwrap_or_default(),
                    dropped_attributes_count: 0,
                    original_payload_format: if p.payload {
                        "pprof".into()
                    } else {
                        String::new()
                    },
                    original_payload: if p.payload { vec![1, 2, 3] } else { vec![] },
                    attribute_indices: pick_attrs(&d, &p.attrs),
                });
            }
            scope_profiles.push(ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: ["", "s1", "s2"][sc.name].to_owned(),
                    version: String::new(),
                    attributes: build_kvs(&sc.attrs, ns),
                    dropped_attributes_count: 0,
                }),
                profiles,
                schema_url: String::new(),
            });
        }
        resource_profiles.push(ResourceProfiles {
            resource: Some(Resource {
                attributes: build_kvs(&res.attrs, ns),
                dropped_attributes_count: 0,
                entity_refs: vec![],
            }),
            scope_profiles,
            schema_url: if res.schema {
                "https://example.com/schema".into()
            } else {
                String::new()
            },
        });
    }
    Req {
        resource_profiles,
        dictionary: Some(d),
    }
}

/// Builds and validates a generated request; generated requests are valid by construction.
fn valid(r: &Recipe) -> Req {
    let mut req = build(r);
    let n = sample_count(&req);
    let report = validate(&mut req, &ValidationOptions::default())
        .unwrap_or_else(|e| panic!("generated request rejected: {e}"));
    assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
    assert_eq!(sample_count(&req), n);
    req
}

// ---------------------------------------------------------------------------------------------
// Checker self-tests (the checkers above must be able to fail)
// ---------------------------------------------------------------------------------------------

fn tiny() -> Req {
    let recipe = Recipe {
        strings: vec!["main".into(), "cpu".into()],
        functions: vec![],
        attributes: vec![],
        mappings: vec![],
        locations: vec![],
        stacks: vec![],
        links: vec![],
        resources: vec![],
        dups: Default::default(),
        near: Default::default(),
    };
    let mut req = build(&recipe);
    let d = req.dictionary.as_mut().unwrap();
    d.function_table.push(Function {
        name_strindex: 1,
        ..Default::default()
    });
    d.location_table.push(Location {
        lines: vec![Line {
            function_index: 1,
            line: 3,
            column: 0,
        }],
        ..Default::default()
    });
    d.stack_table.push(Stack {
        location_indices: vec![1],
    });
    req.resource_profiles.push(ResourceProfiles {
        resource: None,
        scope_profiles: vec![ScopeProfiles {
            scope: None,
            profiles: vec![Profile {
                sample_type: Some(ValueType {
                    type_strindex: 2,
                    unit_strindex: 0,
                }),
                samples: vec![Sample {
                    stack_index: 1,
                    values: vec![1],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    });
    req
}

#[test]
fn orphan_and_duplicate_checkers_detect_problems() {
    let mut req = tiny();
    assert!(orphans(&req).is_empty(), "{:?}", orphans(&req));
    assert!(duplicates(req.dictionary.as_ref().unwrap()).is_empty());
    let d = req.dictionary.as_mut().unwrap();
    d.string_table.push("unused".into());
    d.function_table.push(Function {
        name_strindex: 3,
        ..Default::default()
    }); // only references the unused string: both are orphans
    d.string_table.push("main".into());
    d.stack_table.push(Stack {
        location_indices: vec![1],
    });
    let found = orphans(&req);
    // string_table[3] is referenced only by the orphan function, so it is an orphan too.
    assert_eq!(
        found,
        vec![
            "string_table[3]",
            "string_table[4]",
            "stack_table[2]",
            "function_table[2]"
        ]
    );
    let dups = duplicates(req.dictionary.as_ref().unwrap());
    assert_eq!(dups.len(), 2, "{dups:?}");
}

#[test]
fn canonical_form_ignores_indices_but_not_content() {
    let req = tiny();
    let base = multiset(&req);
    // Same content at other indices.
    let mut moved = req.clone();
    let d = moved.dictionary.as_mut().unwrap();
    d.string_table.swap(1, 2);
    d.function_table[1].name_strindex = 2;
    let p = &mut moved.resource_profiles[0].scope_profiles[0].profiles[0];
    p.sample_type.as_mut().unwrap().type_strindex = 1;
    assert_same_multiset(&multiset(&moved), &base, "moved strings");
    // Different content.
    let mut changed = req.clone();
    changed.dictionary.as_mut().unwrap().location_table[1].lines[0].line = 4;
    assert_ne!(multiset(&changed), base);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests_are_valid(r in recipe(true)) {
        let req = valid(&r);
        // Validation resolved all resource and scope references.
        for rp in &req.resource_profiles {
            for kv in &rp.resource.as_ref().unwrap().attributes {
                prop_assert_eq!(kv.key_strindex, 0);
            }
        }
    }

    /// merge(a, b) holds exactly the samples of a and b, fully resolved; split(merge(a, b), n)
    /// yields parts of at most n samples whose union is the same multiset.
    #[test]
    fn merge_then_split_preserves_resolved_samples(
        ra in recipe(true),
        rb in recipe(true),
        n in 1usize..50,
    ) {
        let (a, b) = (valid(&ra), valid(&rb));
        let (ma, mb) = (multiset(&a), multiset(&b));
        let merged = merge(&a, &b);
        let mm = multiset(&merged);
        assert_same_multiset(&mm, &union(&ma, &mb), "merge(a, b)");

        let total = mm.len();
        let parts = split(&merged, n);
        prop_assert!(!parts.is_empty());
        let mut all = Vec::new();
        for p in &parts {
            let c = sample_count(p);
            prop_assert!(c <= n, "part has {} samples, limit {}", c, n);
            all.extend(multiset(p));
        }
        all.sort();
        assert_same_multiset(&all, &mm, "split(merge(a, b), n)");
        if total > 0 {
            let non_empty = parts.iter().filter(|p| sample_count(p) > 0).count();
            prop_assert_eq!(non_empty, total.div_ceil(n), "parts are filled up to the limit");
        }

        // Splitting an unmerged request directly works the same way.
        let mut direct = Vec::new();
        for p in split(&a, n) {
            prop_assert!(sample_count(&p) <= n);
            direct.extend(multiset(&p));
        }
        direct.sort();
        assert_same_multiset(&direct, &ma, "split(a, n)");
    }

    /// Every dictionary entry of a split part (and of a merge result) is used by that request.
    #[test]
    fn outputs_have_no_orphans(ra in recipe(true), rb in recipe(true), n in 1usize..50) {
        let (a, b) = (valid(&ra), valid(&rb));
        let merged = merge(&a, &b);
        let o = orphans(&merged);
        prop_assert!(o.is_empty(), "merge result has orphans: {:?}", o);
        for (i, p) in split(&merged, n).iter().enumerate() {
            let o = orphans(p);
            prop_assert!(o.is_empty(), "part {} has orphans: {:?}", i, o);
        }
        for (i, p) in split(&a, 0).iter().enumerate() {
            let o = orphans(p);
            prop_assert!(o.is_empty(), "unlimited part {} has orphans: {:?}", i, o);
        }
    }

    /// Merge results and split parts pass validation with no findings about indices, need no
    /// changes by it, and hold no duplicate dictionary entries.
    #[test]
    fn outputs_validate_cleanly_and_are_deduplicated(
        ra in recipe(true),
        rb in recipe(true),
        n in 1usize..50,
    ) {
        let (a, b) = (valid(&ra), valid(&rb));
        let merged = merge(&a, &b);
        assert_clean_output(&merged, "merge(a, b)");
        let dups = duplicates(merged.dictionary.as_ref().unwrap());
        prop_assert!(dups.is_empty(), "merge result has duplicates: {:?}", dups);
        for (i, p) in split(&merged, n).iter().enumerate() {
            assert_clean_output(p, &format!("part {i}"));
            let dups = duplicates(p.dictionary.as_ref().unwrap());
            prop_assert!(dups.is_empty(), "part {} has duplicates: {:?}", i, dups);
        }
    }

    /// Merging a duplicate-free request with itself adds no dictionary entries: each table is no
    /// larger than the original's, and exactly what the request alone needs.
    #[test]
    fn merge_with_itself_dedupes(r in recipe(false)) {
        let a = valid(&r);
        let original = a.dictionary.as_ref().unwrap();
        prop_assert!(duplicates(original).is_empty(), "generator made duplicates");
        let twice = merge(&a, &a);
        prop_assert_eq!(sample_count(&twice), 2 * sample_count(&a));
        let merged = twice.dictionary.as_ref().unwrap();
        let (before, after) = (table_sizes(original), table_sizes(merged));
        for t in 0..TABLES.len() {
            prop_assert!(after[t] <= before[t], "{} grew from {} to {}", TABLES[t], before[t], after[t]);
        }
        let once = merge(&a, &Req::default());
        prop_assert_eq!(twice.dictionary.as_ref(), once.dictionary.as_ref());
        prop_assert_eq!(profcol_pdata::profile_count(&twice), 2 * profcol_pdata::profile_count(&a));
    }

    /// Requests with duplicates shrink when merged with themselves.
    #[test]
    fn merge_with_itself_removes_duplicates(r in recipe(true)) {
        let a = valid(&r);
        let twice = merge(&a, &a);
        let (before, after) = (
            table_sizes(a.dictionary.as_ref().unwrap()),
            table_sizes(twice.dictionary.as_ref().unwrap()),
        );
        for t in 0..TABLES.len() {
            prop_assert!(after[t] <= before[t], "{} grew from {} to {}", TABLES[t], before[t], after[t]);
        }
        assert_same_multiset(&multiset(&twice), &union(&multiset(&a), &multiset(&a)), "merge(a, a)");
    }
}

#[test]
fn split_without_limit_returns_one_part() {
    let req = tiny();
    for max in [0, 1, 1000] {
        let parts = split(&req, max);
        assert_eq!(parts.len(), 1);
        assert_same_multiset(&multiset(&parts[0]), &multiset(&req), "split");
    }
    assert_eq!(
        split(&Req::default(), 10)
            .iter()
            .map(sample_count)
            .sum::<usize>(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Real capture
// ---------------------------------------------------------------------------------------------

/// The validated eBPF capture (fails the test when the shared checkout is absent).
fn ebpf() -> &'static Req {
    static REQ: OnceLock<Req> = OnceLock::new();
    REQ.get_or_init(|| {
        let path = profcol_testkit::require::testdata(profcol_testkit::require::EBPF_CAPTURE);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut req = Req::decode(bytes.as_slice()).expect("decodes");
        let report = validate(&mut req, &ValidationOptions::default()).expect("valid");
        assert_eq!(report.rejected_profiles, 0);
        req
    })
}

#[test]
fn real_capture_split_100() {
    let req = ebpf();
    let total = sample_count(req);
    assert!(
        total > 100,
        "fixture should need splitting ({total} samples)"
    );
    let parts = split(req, 100);
    let counts: Vec<usize> = parts.iter().map(sample_count).collect();
    assert_eq!(counts.iter().sum::<usize>(), total, "{counts:?}");
    assert!(counts.iter().all(|&c| c <= 100), "{counts:?}");
    assert_eq!(parts.len(), total.div_ceil(100), "{counts:?}");
    let mut all = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        assert_clean_output(p, &format!("part {i}"));
        assert!(orphans(p).is_empty(), "part {i}: {:?}", orphans(p));
        all.extend(multiset(p));
    }
    all.sort();
    assert_same_multiset(&all, &multiset(req), "split(ebpf, 100)");
}

#[test]
fn real_capture_merge_with_itself() {
    let req = ebpf();
    let merged = merge(req, req);
    assert_eq!(sample_count(&merged), 2 * sample_count(req));
    let distinct = |r: &Req| {
        r.dictionary
            .as_ref()
            .unwrap()
            .string_table
            .iter()
            .collect::<HashSet<_>>()
            .len()
    };
    assert_eq!(distinct(&merged), distinct(req));
    let (before, after) = (
        table_sizes(req.dictionary.as_ref().unwrap()),
        table_sizes(merged.dictionary.as_ref().unwrap()),
    );
    for t in 0..TABLES.len() {
        assert!(
            after[t] <= before[t],
            "{} grew from {} to {}",
            TABLES[t],
            before[t],
            after[t]
        );
    }
    assert_clean_output(&merged, "merge(ebpf, ebpf)");
    assert!(orphans(&merged).is_empty());
    assert!(duplicates(merged.dictionary.as_ref().unwrap()).is_empty());
    let m = multiset(req);
    assert_same_multiset(&multiset(&merged), &union(&m, &m), "merge(ebpf, ebpf)");
}
