//! pprof → OTLP (spec `pprof-otlp-mapping.md` §3).

use crate::hash::{HashMap, HashSet};
use std::borrow::Cow;

use super::decode::id_index;
use super::{Profile, Sample, attr};
use crate::collector::ExportProfilesServiceRequest;
use crate::common::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value};
use crate::dict::DictionaryBuilder;
use crate::proto::{
    Function as OFunction, Line as OLine, Location as OLocation, Mapping as OMapping,
    Profile as OProfile, ResourceProfiles, Sample as OSample, ScopeProfiles,
    ValueType as OValueType,
};
use crate::resource::Resource;

/// Options of [`to_otlp`].
#[derive(Debug, Clone)]
pub struct ToOtlpOptions {
    /// Drop samples whose value for a sample type is 0 from that type's Profile (off by default
    /// so that a round trip is exact).
    pub drop_zero_samples: bool,
    /// Keep the labels consumed into Links as ordinary sample attributes too.
    pub keep_correlation_labels: bool,
    /// Label keys holding a span id (16 hex chars), by priority: the first one present decides.
    /// Default `["span_id", "profile_id"]`; add `pyroscope.profile.id` or
    /// `process.context.label.span_id` to opt in to those aliases.
    pub span_id_labels: Vec<String>,
    /// Label keys holding a trace id (32 hex chars), by priority. Default `["trace_id"]`.
    pub trace_id_labels: Vec<String>,
    /// Put `original_payload_format = "pprof"` and the received bytes on the first Profile.
    pub include_original_payload: bool,
    /// Name of the emitted InstrumentationScope (default `profcol`).
    pub scope_name: String,
    pub scope_version: String,
}

impl ToOtlpOptions {
    /// Replaces the label names read as span and trace ids where a config names them (`None`
    /// keeps the defaults).
    pub fn override_link_labels(
        &mut self,
        span_id: Option<&[String]>,
        trace_id: Option<&[String]>,
    ) {
        if let Some(l) = span_id {
            self.span_id_labels = l.to_vec();
        }
        if let Some(l) = trace_id {
            self.trace_id_labels = l.to_vec();
        }
    }
}

impl Default for ToOtlpOptions {
    fn default() -> Self {
        ToOtlpOptions {
            drop_zero_samples: false,
            keep_correlation_labels: false,
            span_id_labels: vec!["span_id".into(), "profile_id".into()],
            trace_id_labels: vec!["trace_id".into()],
            include_original_payload: false,
            scope_name: "profcol".into(),
            scope_version: String::new(),
        }
    }
}

/// What [`to_otlp`] changed or dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToOtlpStats {
    /// Labels dropped because their key already occurred in the sample
    /// (`pprof_multi_value_label_dropped`), including numeric labels shadowed by a string one.
    pub multi_value_labels_dropped: usize,
    /// Correlation labels whose value was not valid hex of the right length (or all zero); they
    /// stay ordinary attributes.
    pub invalid_link_labels: usize,
    /// Negative `time_nanos` / `duration_nanos` replaced by 0.
    pub negative_times: usize,
    /// Samples that got a Link.
    pub linked_samples: usize,
    /// pprof samples folded into an earlier one with the same stack, labels and link.
    pub merged_samples: usize,
    /// OTLP samples left out by `drop_zero_samples`.
    pub zero_samples_dropped: usize,
    /// Sample `location_id`s that name no location (only possible on unvalidated input).
    pub unknown_location_ids: usize,
}

fn string_value(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(s.to_owned())),
    })
}

fn bool_true() -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::BoolValue(true)),
    })
}

fn key_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// Parses exactly `N * 2` hex digits into `N` bytes; all-zero ids count as invalid.
fn parse_hex_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        let hi = nib(*b.get(2 * i)?)?;
        let lo = nib(*b.get(2 * i + 1)?)?;
        *o = (hi << 4) | lo;
    }
    if out.iter().all(|&x| x == 0) {
        return None;
    }
    Some(out)
}

type LocKey = (i32, u64, Vec<(i32, i64, i64)>, bool);

struct Conv<'a> {
    p: &'a Profile,
    d: DictionaryBuilder,
    /// pprof strindex → dictionary strindex (-1 = not interned yet)
    strs: Vec<i32>,
    mapping_index: HashMap<u64, i32>,
    mappings: Vec<OMapping>,
    pprof_functions: HashMap<u64, usize>,
    function_by_id: HashMap<u64, i32>,
    function_keys: HashMap<(i32, i32, i32, i64), i32>,
    functions: Vec<OFunction>,
    pprof_locations: HashMap<u64, usize>,
    location_by_id: HashMap<u64, i32>,
    location_keys: HashMap<LocKey, i32>,
    locations: Vec<OLocation>,
    folded_attr: Option<i32>,
}

fn next_index(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

impl<'a> Conv<'a> {
    fn new(p: &'a Profile) -> Conv<'a> {
        Conv {
            p,
            d: DictionaryBuilder::new(),
            strs: vec![-1; p.string_table.len()],
            mapping_index: HashMap::default(),
            mappings: vec![OMapping::default()],
            pprof_functions: id_index(&p.function, |f| f.id),
            function_by_id: HashMap::default(),
            function_keys: HashMap::default(),
            functions: vec![OFunction::default()],
            pprof_locations: id_index(&p.location, |l| l.id),
            location_by_id: HashMap::default(),
            location_keys: HashMap::default(),
            locations: vec![OLocation::default()],
            folded_attr: None,
        }
    }

    fn str(&mut self, i: i64) -> i32 {
        let Some(u) = usize::try_from(i).ok() else {
            return 0;
        };
        match self.strs.get(u) {
            None => 0,
            Some(&v) if v >= 0 => v,
            Some(_) => {
                let v = self.d.string(&self.p.string(i));
                if let Some(slot) = self.strs.get_mut(u) {
                    *slot = v;
                }
                v
            }
        }
    }

    /// Every pprof mapping, in order, one OTLP mapping each (no dedup, so unreferenced and
    /// identical mappings survive a round trip).
    fn mappings(&mut self) {
        let p = self.p;
        for m in &p.mapping {
            let mut attrs = Vec::new();
            let build_id = p.string(m.build_id);
            if !build_id.is_empty() {
                attrs.push(self.d.attribute_str(attr::BUILD_ID_GNU, &build_id));
            }
            for (flag, key) in [
                (m.has_functions, attr::HAS_FUNCTIONS),
                (m.has_filenames, attr::HAS_FILENAMES),
                (m.has_line_numbers, attr::HAS_LINE_NUMBERS),
                (m.has_inline_frames, attr::HAS_INLINE_FRAMES),
            ] {
                if flag {
                    attrs.push(self.d.attribute(key, bool_true(), ""));
                }
            }
            let om = OMapping {
                memory_start: m.memory_start,
                memory_limit: m.memory_limit,
                file_offset: m.file_offset,
                filename_strindex: self.str(m.filename),
                attribute_indices: attrs,
            };
            let i = next_index(self.mappings.len());
            self.mappings.push(om);
            self.mapping_index.entry(m.id).or_insert(i);
        }
    }

    fn function(&mut self, id: u64) -> i32 {
        if let Some(&i) = self.function_by_id.get(&id) {
            return i;
        }
        let Some(f) = self
            .pprof_functions
            .get(&id)
            .and_then(|&i| self.p.function.get(i))
        else {
            return 0;
        };
        let of = OFunction {
            name_strindex: self.str(f.name),
            system_name_strindex: self.str(f.system_name),
            filename_strindex: self.str(f.filename),
            start_line: f.start_line,
        };
        let key = (
            of.name_strindex,
            of.system_name_strindex,
            of.filename_strindex,
            of.start_line,
        );
        let i = match self.function_keys.get(&key) {
            Some(&i) => i,
            None => {
                let i = next_index(self.functions.len());
                self.functions.push(of);
                self.function_keys.insert(key, i);
                i
            }
        };
        self.function_by_id.insert(id, i);
        i
    }

    fn location(&mut self, id: u64) -> Option<i32> {
        if let Some(&i) = self.location_by_id.get(&id) {
            return Some(i);
        }
        let p = self.p;
        let l = self
            .pprof_locations
            .get(&id)
            .and_then(|&i| p.location.get(i))?;
        let mapping_index = if l.mapping_id == 0 {
            0
        } else {
            self.mapping_index.get(&l.mapping_id).copied().unwrap_or(0)
        };
        let lines: Vec<OLine> = l
            .line
            .iter()
            .map(|ln| OLine {
                function_index: self.function(ln.function_id),
                line: ln.line,
                column: ln.column,
            })
            .collect();
        let key: LocKey = (
            mapping_index,
            l.address,
            lines
                .iter()
                .map(|x| (x.function_index, x.line, x.column))
                .collect(),
            l.is_folded,
        );
        let i = match self.location_keys.get(&key) {
            Some(&i) => i,
            None => {
                let attribute_indices = if l.is_folded {
                    let a = match self.folded_attr {
                        Some(a) => a,
                        None => {
                            let a = self.d.attribute(attr::IS_FOLDED, bool_true(), "");
                            self.folded_attr = Some(a);
                            a
                        }
                    };
                    vec![a]
                } else {
                    Vec::new()
                };
                let i = next_index(self.locations.len());
                self.locations.push(OLocation {
                    mapping_index,
                    address: l.address,
                    lines,
                    attribute_indices,
                });
                self.location_keys.insert(key, i);
                i
            }
        };
        self.location_by_id.insert(id, i);
        Some(i)
    }

    /// The first string label with `key` among the priority list, parsed as an id.
    fn correlation<const N: usize>(
        &self,
        s: &Sample,
        keys: &[String],
        stats: &mut ToOtlpStats,
    ) -> Option<(usize, [u8; N])> {
        let p = self.p;
        for key in keys {
            let found = s
                .label
                .iter()
                .position(|l| l.str != 0 && p.string(l.key) == key.as_str());
            if let Some(pos) = found {
                let value = s
                    .label
                    .get(pos)
                    .map(|l| p.string(l.str))
                    .unwrap_or_default();
                return match parse_hex_id::<N>(&value) {
                    Some(id) => Some((pos, id)),
                    None => {
                        stats.invalid_link_labels += 1;
                        None
                    }
                };
            }
        }
        None
    }

    /// Sample attributes (first of duplicate keys, string labels before numeric ones) and link.
    fn sample_attributes(
        &mut self,
        s: &Sample,
        opts: &ToOtlpOptions,
        stats: &mut ToOtlpStats,
    ) -> (Vec<i32>, i32) {
        let p = self.p;
        let span = self.correlation::<8>(s, &opts.span_id_labels, stats);
        let trace = self.correlation::<16>(s, &opts.trace_id_labels, stats);
        let consumed = |pos: usize| {
            !opts.keep_correlation_labels
                && (span.is_some_and(|(i, _)| i == pos) || trace.is_some_and(|(i, _)| i == pos))
        };
        let mut seen: HashSet<Cow<'_, str>> =
            HashSet::with_capacity_and_hasher(s.label.len(), Default::default());
        let mut attrs = Vec::with_capacity(s.label.len());
        for (pos, l) in s.label.iter().enumerate().filter(|(_, l)| l.str != 0) {
            let key = p.string(l.key);
            if !seen.insert(key.clone()) {
                stats.multi_value_labels_dropped += 1;
                continue;
            }
            if consumed(pos) {
                continue;
            }
            let value = p.string(l.str);
            attrs.push(self.d.attribute(&key, string_value(&value), ""));
        }
        for l in s
            .label
            .iter()
            .filter(|l| l.str == 0 && (l.num != 0 || l.num_unit != 0))
        {
            let key = p.string(l.key);
            if !seen.insert(key.clone()) {
                stats.multi_value_labels_dropped += 1;
                continue;
            }
            let unit = p.string(l.num_unit);
            let value = Some(AnyValue {
                value: Some(Value::IntValue(l.num)),
            });
            attrs.push(self.d.attribute(&key, value, &unit));
        }
        let link = if span.is_some() || trace.is_some() {
            stats.linked_samples += 1;
            let t = trace.map(|(_, t)| t).unwrap_or([0u8; 16]);
            let sp = span.map(|(_, s)| s).unwrap_or([0u8; 8]);
            self.d.link(&t, &sp)
        } else {
            0
        };
        (attrs, link)
    }
}

struct Group {
    stack: i32,
    attrs: Vec<i32>,
    link: i32,
    values: Vec<i64>,
}

fn nonnegative(v: i64, stats: &mut ToOtlpStats) -> u64 {
    match u64::try_from(v) {
        Ok(u) => u,
        Err(_) => {
            stats.negative_times += 1;
            0
        }
    }
}

/// pprof → one request with one ResourceProfiles (attributes `resource`), one ScopeProfiles and
/// one Profile per sample type, the default sample type first (spec §3).
///
/// `original` is the payload as received, attached when `opts.include_original_payload` is set.
/// The output passes [`crate::validate`] without rejections, also for unvalidated input.
pub fn to_otlp(
    p: &Profile,
    resource: Vec<KeyValue>,
    opts: &ToOtlpOptions,
    original: Option<&[u8]>,
) -> (ExportProfilesServiceRequest, ToOtlpStats) {
    let mut stats = ToOtlpStats::default();
    let mut c = Conv::new(p);
    c.mappings();
    let n = p.sample_type.len();

    // Samples, merged by identity (stack, attribute set, link).
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<(i32, Vec<i32>, i32), usize> = HashMap::default();
    for s in &p.sample {
        let mut locs = Vec::with_capacity(s.location_id.len());
        for &id in &s.location_id {
            match c.location(id) {
                Some(l) => locs.push(l),
                None => stats.unknown_location_ids += 1,
            }
        }
        let stack = c.d.stack(locs);
        let (attrs, link) = c.sample_attributes(s, opts, &mut stats);
        let mut sorted = attrs.clone();
        sorted.sort_unstable();
        let gi = match index.get(&(stack, sorted.clone(), link)) {
            Some(&gi) => {
                stats.merged_samples += 1;
                gi
            }
            None => {
                groups.push(Group {
                    stack,
                    attrs,
                    link,
                    values: vec![0; n],
                });
                index.insert((stack, sorted, link), groups.len() - 1);
                groups.len() - 1
            }
        };
        if let Some(g) = groups.get_mut(gi) {
            for (acc, v) in g.values.iter_mut().zip(&s.value) {
                *acc = acc.saturating_add(*v);
            }
        }
    }

    // Profile-level fields and attributes, shared by every Profile.
    let mut profile_attrs = Vec::new();
    for (i, key) in [
        (p.drop_frames, attr::DROP_FRAMES),
        (p.keep_frames, attr::KEEP_FRAMES),
    ] {
        let v = p.string(i);
        if !v.is_empty() {
            profile_attrs.push(c.d.attribute_str(key, &v));
        }
    }
    if !p.comment.is_empty() {
        let values = p
            .comment
            .iter()
            .map(|&i| AnyValue {
                value: Some(Value::StringValue(p.string(i).into_owned())),
            })
            .collect();
        let v = Some(AnyValue {
            value: Some(Value::ArrayValue(ArrayValue { values })),
        });
        profile_attrs.push(c.d.attribute(attr::COMMENT, v, ""));
    }
    let doc_url = p.string(p.doc_url);
    if !doc_url.is_empty() {
        profile_attrs.push(c.d.attribute_str(attr::DOC_URL, &doc_url));
    }
    let time_unix_nano = nonnegative(p.time_nanos, &mut stats);
    let duration_nano = nonnegative(p.duration_nanos, &mut stats);
    let period_type = p.period_type.map(|vt| OValueType {
        type_strindex: c.str(vt.r#type),
        unit_strindex: c.str(vt.unit),
    });

    // Profile order: the default sample type first, then the others in their original order.
    let order: Vec<usize> = match p.default_sample_index() {
        Some(d) => std::iter::once(d)
            .chain((0..n).filter(|&i| i != d))
            .collect(),
        None => Vec::new(),
    };
    let mut profiles = Vec::with_capacity(n);
    for &ti in &order {
        let vt = p.sample_type.get(ti).copied().unwrap_or_default();
        let sample_type = Some(OValueType {
            type_strindex: c.str(vt.r#type),
            unit_strindex: c.str(vt.unit),
        });
        let mut samples = Vec::with_capacity(groups.len());
        for g in &groups {
            let v = g.values.get(ti).copied().unwrap_or(0);
            if v == 0 && opts.drop_zero_samples {
                stats.zero_samples_dropped += 1;
                continue;
            }
            samples.push(OSample {
                stack_index: g.stack,
                attribute_indices: g.attrs.clone(),
                link_index: g.link,
                values: vec![v],
                timestamps_unix_nano: Vec::new(),
            });
        }
        profiles.push(OProfile {
            sample_type,
            samples,
            time_unix_nano,
            duration_nano,
            period_type,
            period: p.period,
            attribute_indices: profile_attrs.clone(),
            ..Default::default()
        });
    }
    if opts.include_original_payload
        && let (Some(raw), Some(first)) = (original, profiles.first_mut())
        && !raw.is_empty()
    {
        first.original_payload_format = attr::PAYLOAD_FORMAT.into();
        first.original_payload = raw.to_vec();
    }

    let mut scope_attrs = Vec::new();
    let default_name = p.string(p.default_sample_type);
    if !default_name.is_empty() {
        scope_attrs.push(key_value(
            attr::DEFAULT_SAMPLE_TYPE,
            Value::StringValue(default_name.into_owned()),
        ));
    }
    if !order.is_empty() {
        let values = order
            .iter()
            .map(|&i| AnyValue {
                value: Some(Value::IntValue(i64::try_from(i).unwrap_or(i64::MAX))),
            })
            .collect();
        scope_attrs.push(key_value(
            attr::SAMPLE_TYPE_ORDER,
            Value::ArrayValue(ArrayValue { values }),
        ));
    }

    let Conv {
        d,
        mappings,
        functions,
        locations,
        ..
    } = c;
    let mut dict = d.finish();
    dict.mapping_table = mappings;
    dict.function_table = functions;
    dict.location_table = locations;
    let req = ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: opts.scope_name.clone(),
                    version: opts.scope_version.clone(),
                    attributes: scope_attrs,
                    dropped_attributes_count: 0,
                }),
                profiles,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dict),
    };
    (req, stats)
}
