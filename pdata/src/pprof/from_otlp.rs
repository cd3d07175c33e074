//! OTLP → pprof (spec `pprof-otlp-mapping.md` §4).

use crate::hash::HashMap;

use super::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType, attr};
use crate::collector::ExportProfilesServiceRequest;
use crate::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use crate::proto::{
    Profile as OProfile, ProfilesDictionary, Sample as OSample, ScopeProfiles,
    ValueType as OValueType,
};
use crate::view::Dict;

/// One pprof produced by [`from_otlp`], with the context it came from.
#[derive(Debug, Clone)]
pub struct PprofOut {
    pub profile: Profile,
    /// Resource attributes of the source ResourceProfiles.
    pub resource: Vec<KeyValue>,
    /// The source InstrumentationScope.
    pub scope: Option<InstrumentationScope>,
}

/// What [`from_otlp`] dropped or combined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FromOtlpStats {
    /// Sample attributes that have no pprof label form (empty, bytes, kvlist, arrays of more than
    /// one element, empty strings).
    pub attributes_dropped: usize,
    /// Per-sample timestamps dropped (pprof has none).
    pub timestamps_dropped: usize,
    /// Location lines with function index 0, which pprof cannot express.
    pub lines_without_function: usize,
    /// ScopeProfiles reassembled into one multi-type pprof via `pprof.scope.sample_type_order`.
    pub reassembled_scopes: usize,
    /// OTLP samples folded into another with the same identity.
    pub merged_samples: usize,
}

struct Strings {
    table: Vec<Vec<u8>>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            table: vec![Vec::new()],
            index: HashMap::default(),
        }
    }

    fn get(&mut self, s: &str) -> i64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = i64::try_from(self.table.len()).unwrap_or(i64::MAX);
        self.table.push(s.as_bytes().to_vec());
        self.index.insert(s.to_owned(), i);
        i
    }
}

enum LabelValue {
    Str(String),
    Num(i64),
}

fn format_double(d: f64) -> String {
    let s = format!("{d}");
    if s.len() > 24 { format!("{d:e}") } else { s }
}

/// The label form of an attribute value (spec §4.3), `None` when it has none.
fn label_value(v: Option<&AnyValue>, dict: Dict<'_>, nested: bool) -> Option<LabelValue> {
    match v.and_then(|v| v.value.as_ref())? {
        Value::StringValue(s) if !s.is_empty() => Some(LabelValue::Str(s.clone())),
        Value::StringValueStrindex(i) => {
            let s = dict.string(*i);
            (!s.is_empty()).then(|| LabelValue::Str(s.to_owned()))
        }
        Value::BoolValue(b) => Some(LabelValue::Str(b.to_string())),
        Value::IntValue(i) => Some(LabelValue::Num(*i)),
        Value::DoubleValue(d) => Some(LabelValue::Str(format_double(*d))),
        Value::ArrayValue(a) if !nested && a.values.len() == 1 => {
            label_value(a.values.first(), dict, true)
        }
        _ => None,
    }
}

/// A plain string from a string-typed attribute value.
fn string_of<'a>(v: Option<&'a AnyValue>, dict: Dict<'a>) -> Option<&'a str> {
    match v.and_then(|v| v.value.as_ref())? {
        Value::StringValue(s) => Some(s),
        Value::StringValueStrindex(i) => Some(dict.string(*i)),
        _ => None,
    }
}

fn is_true(v: Option<&AnyValue>, dict: Dict<'_>) -> bool {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::BoolValue(b)) => *b,
        Some(Value::IntValue(i)) => *i != 0,
        _ => string_of(v, dict).is_some_and(|s| s.eq_ignore_ascii_case("true")),
    }
}

fn scope_attr<'a>(sp: &'a ScopeProfiles, key: &str) -> Option<&'a AnyValue> {
    sp.scope
        .as_ref()?
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// The original sample-type index of each Profile, when the scope carries a consistent
/// `pprof.scope.sample_type_order` (spec §4.1).
fn reassembly_order(sp: &ScopeProfiles, dict: Dict<'_>) -> Option<Vec<usize>> {
    let Value::ArrayValue(a) = scope_attr(sp, attr::SAMPLE_TYPE_ORDER)?.value.as_ref()? else {
        return None;
    };
    let n = sp.profiles.len();
    if n == 0 || a.values.len() != n {
        return None;
    }
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for x in &a.values {
        let Some(Value::IntValue(i)) = x.value else {
            return None;
        };
        let u = usize::try_from(i).ok()?;
        let slot = seen.get_mut(u)?;
        if *slot {
            return None;
        }
        *slot = true;
        order.push(u);
    }
    let first = sp.profiles.first()?;
    let pt = |p: &OProfile| {
        p.period_type
            .map(|vt| (dict.string(vt.type_strindex), dict.string(vt.unit_strindex)))
    };
    let consistent = sp.profiles.iter().all(|p| {
        p.time_unix_nano == first.time_unix_nano
            && p.duration_nano == first.duration_nano
            && p.period == first.period
            && pt(p) == pt(first)
    });
    consistent.then_some(order)
}

/// The pprof value of an OTLP sample (spec §4.1 table).
fn sample_value(s: &OSample) -> i64 {
    if s.values.is_empty() {
        i64::try_from(s.timestamps_unix_nano.len()).unwrap_or(i64::MAX)
    } else {
        s.values.iter().fold(0i64, |a, &v| a.saturating_add(v))
    }
}

struct Row {
    stack: i32,
    attrs: Vec<i32>,
    link: i32,
    values: Vec<i64>,
    seen: Vec<bool>,
}

#[derive(Default, Clone, Copy)]
struct FlagAcc {
    locations: usize,
    all_lines: bool,
    all_names: bool,
    all_files: bool,
    any_inline: bool,
}

struct Job<'p> {
    /// (profile, original sample-type index)
    parts: Vec<(&'p OProfile, usize)>,
    n: usize,
    default_type: Option<String>,
}

struct Ctx<'a> {
    dict: Dict<'a>,
    all_mappings: bool,
    derive_flags: bool,
}

fn vt(st: &mut Strings, dict: Dict<'_>, v: Option<OValueType>) -> ValueType {
    match v {
        Some(v) => ValueType {
            r#type: st.get(dict.string(v.type_strindex)),
            unit: st.get(dict.string(v.unit_strindex)),
        },
        None => ValueType::default(),
    }
}

fn u64_to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn id_of(i: usize) -> u64 {
    u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1)
}

fn convert(ctx: &Ctx<'_>, job: &Job<'_>, stats: &mut FromOtlpStats) -> Profile {
    let dict = ctx.dict;
    let mut st = Strings::new();
    let mut sample_type = vec![ValueType::default(); job.n];
    for (p, slot) in &job.parts {
        if let Some(x) = sample_type.get_mut(*slot) {
            *x = vt(&mut st, dict, p.sample_type);
        }
    }

    // Rows joined by identity (stack, attribute set, link).
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<(i32, Vec<i32>, i32), usize> = HashMap::default();
    for (p, slot) in &job.parts {
        for s in &p.samples {
            stats.timestamps_dropped += s.timestamps_unix_nano.len();
            let mut sorted = s.attribute_indices.clone();
            sorted.sort_unstable();
            let key = (s.stack_index, sorted, s.link_index);
            let ri = match index.get(&key) {
                Some(&ri) => ri,
                None => {
                    rows.push(Row {
                        stack: s.stack_index,
                        attrs: s.attribute_indices.clone(),
                        link: s.link_index,
                        values: vec![0; job.n],
                        seen: vec![false; job.n],
                    });
                    index.insert(key, rows.len() - 1);
                    rows.len() - 1
                }
            };
            if let Some(r) = rows.get_mut(ri) {
                if let Some(seen) = r.seen.get_mut(*slot) {
                    if *seen {
                        stats.merged_samples += 1;
                    }
                    *seen = true;
                }
                if let Some(v) = r.values.get_mut(*slot) {
                    *v = v.saturating_add(sample_value(s));
                }
            }
        }
    }

    // Referenced tables, renumbered to ids 1..n in dictionary order.
    let empty: &[i32] = &[];
    let stack_locs = |stack: i32| {
        dict.stack(stack)
            .map(|s| s.location_indices.as_slice())
            .unwrap_or(empty)
    };
    let mut locs: Vec<i32> = rows
        .iter()
        .flat_map(|r| stack_locs(r.stack))
        .copied()
        .collect();
    locs.sort_unstable();
    locs.dedup();
    let mut maps: Vec<i32> = locs
        .iter()
        .filter_map(|&l| dict.location(l).map(|l| l.mapping_index))
        .filter(|&m| m != 0)
        .collect();
    if ctx.all_mappings {
        maps.extend((1..dict.raw.mapping_table.len()).filter_map(|i| i32::try_from(i).ok()));
    }
    maps.sort_unstable();
    maps.dedup();
    let mut funcs: Vec<i32> = locs
        .iter()
        .filter_map(|&l| dict.location(l))
        .flat_map(|l| l.lines.iter().map(|x| x.function_index))
        .filter(|&f| f != 0)
        .collect();
    funcs.sort_unstable();
    funcs.dedup();
    let loc_id: HashMap<i32, u64> = locs
        .iter()
        .enumerate()
        .map(|(i, &l)| (l, id_of(i)))
        .collect();
    let map_id: HashMap<i32, u64> = maps
        .iter()
        .enumerate()
        .map(|(i, &m)| (m, id_of(i)))
        .collect();
    let func_id: HashMap<i32, u64> = funcs
        .iter()
        .enumerate()
        .map(|(i, &f)| (f, id_of(i)))
        .collect();

    let function: Vec<Function> = funcs
        .iter()
        .enumerate()
        .map(|(i, &fi)| {
            let f = dict.function(fi).copied().unwrap_or_default();
            Function {
                id: id_of(i),
                name: st.get(dict.string(f.name_strindex)),
                system_name: st.get(dict.string(f.system_name_strindex)),
                filename: st.get(dict.string(f.filename_strindex)),
                start_line: f.start_line,
            }
        })
        .collect();

    let mut flags: HashMap<i32, FlagAcc> = HashMap::default();
    let mut location = Vec::with_capacity(locs.len());
    for (i, &li) in locs.iter().enumerate() {
        let Some(l) = dict.location(li) else {
            continue;
        };
        let mut line = Vec::with_capacity(l.lines.len());
        for x in &l.lines {
            match func_id.get(&x.function_index) {
                Some(&function_id) => line.push(Line {
                    function_id,
                    line: x.line,
                    column: x.column,
                }),
                None => stats.lines_without_function += 1,
            }
        }
        let is_folded = l.attribute_indices.iter().any(|&a| {
            dict.attribute(a)
                .is_some_and(|(k, v, _)| k == attr::IS_FOLDED && is_true(v, dict))
        });
        if l.mapping_index != 0 {
            let acc = flags.entry(l.mapping_index).or_insert(FlagAcc {
                locations: 0,
                all_lines: true,
                all_names: true,
                all_files: true,
                any_inline: false,
            });
            acc.locations += 1;
            acc.all_lines &= !l.lines.is_empty();
            for x in &l.lines {
                let f = dict.function(x.function_index);
                acc.all_names &= f.is_some_and(|f| !dict.string(f.name_strindex).is_empty());
                acc.all_files &= f.is_some_and(|f| !dict.string(f.filename_strindex).is_empty());
            }
            acc.any_inline |= l.lines.len() > 1;
        }
        location.push(Location {
            id: id_of(i),
            mapping_id: map_id.get(&l.mapping_index).copied().unwrap_or(0),
            address: l.address,
            line,
            is_folded,
        });
    }

    let mut mapping = Vec::with_capacity(maps.len());
    for (i, &mi) in maps.iter().enumerate() {
        let Some(m) = dict.mapping(mi) else {
            continue;
        };
        let mut build_ids: [Option<&str>; 3] = [None; 3];
        let mut explicit: Option<[bool; 4]> = None;
        for &a in &m.attribute_indices {
            let Some((key, value, _)) = dict.attribute(a) else {
                continue;
            };
            let slot = match key {
                attr::BUILD_ID_GNU => Some(0),
                attr::BUILD_ID_GO => Some(1),
                attr::BUILD_ID_HTLHASH => Some(2),
                _ => None,
            };
            if let Some(slot) = slot {
                if let (Some(b), Some(s)) = (build_ids.get_mut(slot), string_of(value, dict)) {
                    *b = Some(s);
                }
                continue;
            }
            let flag = match key {
                attr::HAS_FUNCTIONS => Some(0),
                attr::HAS_FILENAMES => Some(1),
                attr::HAS_LINE_NUMBERS => Some(2),
                attr::HAS_INLINE_FRAMES => Some(3),
                _ => None,
            };
            if let Some(flag) = flag {
                let e = explicit.get_or_insert([false; 4]);
                if let Some(x) = e.get_mut(flag) {
                    *x = is_true(value, dict);
                }
            }
        }
        let [
            has_functions,
            has_filenames,
            has_line_numbers,
            has_inline_frames,
        ] = match explicit {
            Some(e) => e,
            None if ctx.derive_flags => match flags.get(&mi) {
                Some(acc) if acc.locations > 0 => [
                    acc.all_lines && acc.all_names,
                    acc.all_lines && acc.all_files,
                    acc.all_lines,
                    acc.any_inline,
                ],
                _ => [false; 4],
            },
            None => [false; 4],
        };
        let build_id = build_ids.iter().flatten().find(|s| !s.is_empty()).copied();
        mapping.push(Mapping {
            id: id_of(i),
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: st.get(dict.string(m.filename_strindex)),
            build_id: build_id.map(|b| st.get(b)).unwrap_or(0),
            has_functions,
            has_filenames,
            has_line_numbers,
            has_inline_frames,
        });
    }

    let mut sample = Vec::with_capacity(rows.len());
    for r in &rows {
        let location_id = stack_locs(r.stack)
            .iter()
            .filter_map(|l| loc_id.get(l).copied())
            .collect();
        let mut label = Vec::with_capacity(r.attrs.len() + 2);
        let mut keys: Vec<&str> = Vec::with_capacity(r.attrs.len() + 2);
        for &a in &r.attrs {
            let Some((key, value, unit)) = dict.attribute(a) else {
                continue;
            };
            match label_value(value, dict, false) {
                Some(LabelValue::Str(s)) => label.push(Label {
                    key: st.get(key),
                    str: st.get(&s),
                    num: 0,
                    num_unit: 0,
                }),
                Some(LabelValue::Num(n)) => label.push(Label {
                    key: st.get(key),
                    str: 0,
                    num: n,
                    num_unit: st.get(unit),
                }),
                None => {
                    stats.attributes_dropped += 1;
                    continue;
                }
            }
            keys.push(key);
        }
        if let Some(link) = dict.link(r.link) {
            for (key, id, len) in [
                ("span_id", &link.span_id, 8usize),
                ("trace_id", &link.trace_id, 16usize),
            ] {
                if id.len() == len && id.iter().any(|&b| b != 0) && !keys.contains(&key) {
                    label.push(Label {
                        key: st.get(key),
                        str: st.get(&hex::encode(id)),
                        num: 0,
                        num_unit: 0,
                    });
                }
            }
        }
        sample.push(Sample {
            location_id,
            value: r.values.clone(),
            label,
        });
    }

    // Profile fields and attributes come from the first Profile.
    let mut out = Profile {
        sample_type,
        sample,
        mapping,
        location,
        function,
        ..Default::default()
    };
    if let Some((p, _)) = job.parts.first() {
        out.time_nanos = u64_to_i64(p.time_unix_nano);
        out.duration_nanos = u64_to_i64(p.duration_nano);
        out.period = p.period;
        out.period_type = p.period_type.map(|v| vt(&mut st, dict, Some(v)));
        let mut comments: Vec<String> = Vec::new();
        let mut numbered: Vec<(u64, String)> = Vec::new();
        for &a in &p.attribute_indices {
            let Some((key, value, _)) = dict.attribute(a) else {
                continue;
            };
            match key {
                attr::DROP_FRAMES => {
                    out.drop_frames = st.get(string_of(value, dict).unwrap_or(""));
                }
                attr::KEEP_FRAMES => {
                    out.keep_frames = st.get(string_of(value, dict).unwrap_or(""));
                }
                attr::DOC_URL => out.doc_url = st.get(string_of(value, dict).unwrap_or("")),
                attr::COMMENT => match value.and_then(|v| v.value.as_ref()) {
                    Some(Value::ArrayValue(arr)) => comments.extend(
                        arr.values
                            .iter()
                            .map(|x| string_of(Some(x), dict).unwrap_or("").to_owned()),
                    ),
                    _ => {
                        if let Some(s) = string_of(value, dict) {
                            comments.extend(s.split(',').map(str::to_owned));
                        }
                    }
                },
                _ => {
                    if let Some(i) = key
                        .strip_prefix(attr::COMMENT)
                        .and_then(|r| r.strip_prefix('.'))
                        .and_then(|r| r.parse::<u64>().ok())
                    {
                        numbered.push((i, string_of(value, dict).unwrap_or("").to_owned()));
                    }
                }
            }
        }
        numbered.sort_by_key(|(i, _)| *i);
        comments.extend(numbered.into_iter().map(|(_, c)| c));
        out.comment = comments.iter().map(|c| st.get(c)).collect();
    }
    out.default_sample_type = job.default_type.as_deref().map(|s| st.get(s)).unwrap_or(0);
    out.string_table = st.table;
    out
}

/// OTLP → pprof (spec §4). The request must have passed [`crate::validate`].
///
/// A ScopeProfiles with a consistent `pprof.scope.sample_type_order` becomes one pprof with its
/// sample types in the original order and `default_sample_type` restored; every other Profile
/// becomes its own single-type pprof whose default is its own type.
///
/// Tables hold only what the samples reference, except that a request with a single
/// ScopeProfiles keeps every dictionary mapping (so unreferenced pprof mappings survive a round
/// trip). `has_*` mapping flags come from the `pprof.mapping.has_*` attributes; for data that did
/// not come from pprof (no `pprof.scope.sample_type_order`) they are derived from the locations.
pub fn from_otlp(req: &ExportProfilesServiceRequest) -> (Vec<PprofOut>, FromOtlpStats) {
    let mut stats = FromOtlpStats::default();
    let empty = ProfilesDictionary::default();
    let dict = Dict::new(req.dictionary.as_ref().unwrap_or(&empty));
    let scopes: usize = req
        .resource_profiles
        .iter()
        .map(|rp| rp.scope_profiles.len())
        .sum();
    let mut out = Vec::new();
    for rp in &req.resource_profiles {
        let resource = rp
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        for sp in &rp.scope_profiles {
            let ctx = Ctx {
                dict,
                all_mappings: scopes == 1,
                derive_flags: scope_attr(sp, attr::SAMPLE_TYPE_ORDER).is_none(),
            };
            let jobs: Vec<Job<'_>> = match reassembly_order(sp, dict) {
                Some(order) => {
                    stats.reassembled_scopes += 1;
                    vec![Job {
                        parts: sp.profiles.iter().zip(order).collect(),
                        n: sp.profiles.len(),
                        default_type: string_of(scope_attr(sp, attr::DEFAULT_SAMPLE_TYPE), dict)
                            .map(str::to_owned),
                    }]
                }
                None => sp
                    .profiles
                    .iter()
                    .map(|p| Job {
                        parts: vec![(p, 0)],
                        n: 1,
                        default_type: p
                            .sample_type
                            .map(|v| dict.string(v.type_strindex).to_owned()),
                    })
                    .collect(),
            };
            for job in &jobs {
                out.push(PprofOut {
                    profile: convert(&ctx, job, &mut stats),
                    resource: resource.clone(),
                    scope: sp.scope.clone(),
                });
            }
        }
    }
    (out, stats)
}
