//! OTLP → Pyroscope Push: profile names, profile type ids, series labels, and the preparation of
//! the pprof payloads so the server accepts them (spec `pyroscope.md` §1.4–§1.6, §3, §6, §7.2).
//!
//! Everything here is pure: no I/O, no clocks. The `pyroscope` exporter drives it.

use std::collections::BTreeSet;

use crate::hash::{HashMap, HashSet};

use crate::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use crate::pprof::{Function, Location, Mapping, Profile, Sample, ValueType};
use crate::proto::Profile as OProfile;
use crate::view::Dict;

use super::{LabelPair, attr};

/// `validation.max-label-names-per-series`.
pub const MAX_LABEL_NAMES_PER_SERIES: usize = 30;
/// `validation.max-length-label-name` (bytes).
pub const MAX_LABEL_NAME_LENGTH: usize = 1024;
/// `validation.max-length-label-value` (bytes).
pub const MAX_LABEL_VALUE_LENGTH: usize = 2048;
/// `validation.max-profile-stacktrace-samples`.
pub const MAX_PROFILE_SAMPLES: usize = 16000;
/// `validation.max-profile-stacktrace-sample-labels`.
pub const MAX_SAMPLE_LABELS: usize = 100;
/// `validation.max-profile-size-bytes` (uncompressed pprof).
pub const MAX_PROFILE_SIZE_BYTES: usize = 4 << 20;
/// The `service_name` Pyroscope uses when none is known.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Label names with a meaning to Pyroscope.
pub mod label {
    pub const NAME: &str = "__name__";
    pub const DELTA: &str = "__delta__";
    pub const SERVICE_NAME: &str = "service_name";
    pub const SPY: &str = "pyroscope_spy";
    pub const SCOPE_NAME: &str = "otel.scope.name";
    pub const SCOPE_VERSION: &str = "otel.scope.version";
    /// Per-sample pprof labels for Links (§7.2); never series labels.
    pub const SPAN_ID: &str = "span_id";
    pub const TRACE_ID: &str = "trace_id";
    /// Renamed to `span_id` by the server.
    pub const PROFILE_ID: &str = "profile_id";
}

/// Resource and sample attribute keys read by the mapping.
pub mod attr_keys {
    pub const SERVICE_NAME: &str = "service.name";
    pub const PROCESS_EXECUTABLE_NAME: &str = "process.executable.name";
}

// ---------------------------------------------------------------------------------------------
// Profile names and type ids
// ---------------------------------------------------------------------------------------------

/// The type strings of one sample type of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileType {
    pub sample_type: String,
    pub sample_unit: String,
    /// `None` when the profile has no period type.
    pub period_type: Option<(String, String)>,
    pub period: i64,
}

impl ProfileType {
    /// The type of an OTLP Profile.
    pub fn from_otlp(p: &OProfile, dict: Dict<'_>) -> ProfileType {
        let (sample_type, sample_unit) = match p.sample_type {
            Some(vt) => (
                dict.string(vt.type_strindex).to_owned(),
                dict.string(vt.unit_strindex).to_owned(),
            ),
            None => (String::new(), String::new()),
        };
        ProfileType {
            sample_type,
            sample_unit,
            period_type: p.period_type.map(|vt| {
                (
                    dict.string(vt.type_strindex).to_owned(),
                    dict.string(vt.unit_strindex).to_owned(),
                )
            }),
            period: p.period,
        }
    }

    /// The type of sample type `i` of a pprof (`None` when out of range).
    pub fn from_pprof(p: &Profile, i: usize) -> Option<ProfileType> {
        let vt = p.sample_type.get(i)?;
        Some(ProfileType {
            sample_type: p.string(vt.r#type).into_owned(),
            sample_unit: p.string(vt.unit).into_owned(),
            period_type: p.period_type.map(|pt| {
                (
                    p.string(pt.r#type).into_owned(),
                    p.string(pt.unit).into_owned(),
                )
            }),
            period: p.period,
        })
    }

    /// Pyroscope's OTLP key `type:unit:period_type:period_unit`, with the period part empty when
    /// there is no period type or the period is 0 (spec §6 rule 5).
    pub fn otlp_key(&self) -> String {
        let (pt, pu) = match &self.period_type {
            Some((t, u)) if self.period != 0 => (t.as_str(), u.as_str()),
            _ => ("", ""),
        };
        format!("{}:{}:{pt}:{pu}", self.sample_type, self.sample_unit)
    }

    /// `__profile_type__`: `<name>:<type>:<unit>:<period_type>:<period_unit>` (spec §1.5), the
    /// period parts empty when there is no period type.
    pub fn id(&self, name: &str) -> String {
        let (pt, pu) = match &self.period_type {
            Some((t, u)) => (t.as_str(), u.as_str()),
            None => ("", ""),
        };
        format!("{name}:{}:{}:{pt}:{pu}", self.sample_type, self.sample_unit)
    }
}

/// Where a profile name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// The scope attribute `pyroscope.profile.name` (data that came from Pyroscope).
    ScopeAttribute,
    /// `samples:count:cpu:nanoseconds` → `process_cpu`.
    ProcessCpu,
    /// `off_cpu:nanoseconds::` → `off_cpu`.
    OffCpu,
    /// Pyroscope's default: the period type string.
    PeriodType,
    /// profcol's fallback when the period type is empty (Pyroscope would reject the series with
    /// `invalid metric name`): the sample type string.
    SampleType,
}

/// The `__name__` of a profile and what its pprof needs before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileName {
    /// A valid, non-empty metric name.
    pub name: String,
    pub source: NameSource,
    /// `Some(period)` for `samples:count:cpu:nanoseconds` derived by rule 5: multiply values by
    /// the period and retype the sample type `cpu:nanoseconds` ([`scale_samples_to_cpu`]).
    pub scale_by_period: Option<i64>,
}

fn scope_string<'a>(scope: Option<&'a InstrumentationScope>, key: &str) -> Option<&'a str> {
    let kv = scope?.attributes.iter().find(|kv| kv.key == key)?;
    match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Makes `s` a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`): other characters become
/// `_`, and a leading digit gets a `_` prefix. Valid names are returned unchanged.
pub fn sanitize_metric_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Makes `s` a label name of the classic form `[a-zA-Z_][a-zA-Z0-9_]*` (dots and every other
/// character become `_`, a leading digit gets a `_` prefix).
pub fn sanitize_label_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The `__name__` of a profile (spec §3 step 2, §6 rule 5):
/// 1. the scope attribute `pyroscope.profile.name` when present and non-empty;
/// 2. `samples:count:cpu:nanoseconds` → `process_cpu`, with values × period and the type
///    rewritten to `cpu:nanoseconds`;
/// 3. `off_cpu:nanoseconds::` → `off_cpu`;
/// 4. otherwise the period type string;
/// 5. when that is empty, the sample type string (else `unknown`), so the series is never
///    rejected for `invalid metric name`.
///
/// The result is always a valid metric name ([`sanitize_metric_name`]).
pub fn profile_name(scope: Option<&InstrumentationScope>, t: &ProfileType) -> ProfileName {
    if let Some(n) = scope_string(scope, attr::PROFILE_NAME)
        && !n.trim().is_empty()
    {
        return ProfileName {
            name: sanitize_metric_name(n.trim()),
            source: NameSource::ScopeAttribute,
            scale_by_period: None,
        };
    }
    let key = t.otlp_key();
    let (name, source, scale) = match key.as_str() {
        "samples:count:cpu:nanoseconds" => ("process_cpu", NameSource::ProcessCpu, Some(t.period)),
        "off_cpu:nanoseconds::" => ("off_cpu", NameSource::OffCpu, None),
        _ => match &t.period_type {
            Some((pt, _)) if t.period != 0 && !pt.is_empty() => {
                (pt.as_str(), NameSource::PeriodType, None)
            }
            _ if !t.sample_type.is_empty() => {
                (t.sample_type.as_str(), NameSource::SampleType, None)
            }
            _ => ("unknown", NameSource::SampleType, None),
        },
    };
    ProfileName {
        name: sanitize_metric_name(name),
        source,
        scale_by_period: scale,
    }
}

// ---------------------------------------------------------------------------------------------
// Series labels
// ---------------------------------------------------------------------------------------------

/// Exporter-wide label settings.
#[derive(Debug, Clone)]
pub struct LabelConfig {
    /// Added to every series; labels the data already carries win.
    pub external_labels: Vec<(String, String)>,
    /// Map label names to `[a-zA-Z_][a-zA-Z0-9_]*` (for servers before v2.0). Off by default:
    /// Pyroscope v2 accepts any UTF-8 name, dots included.
    pub sanitize_label_names: bool,
    pub max_label_names: usize,
    pub max_name_length: usize,
    pub max_value_length: usize,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            external_labels: Vec::new(),
            sanitize_label_names: false,
            max_label_names: MAX_LABEL_NAMES_PER_SERIES,
            max_name_length: MAX_LABEL_NAME_LENGTH,
            max_value_length: MAX_LABEL_VALUE_LENGTH,
        }
    }
}

/// What the pprof samples of a series contribute to its labels.
#[derive(Debug, Clone, Default)]
pub struct SampleLabelInfo {
    /// The sample attribute `service.name` of this part of the profile (§6 rule 3); it overrides
    /// the resource's.
    pub service_name: Option<String>,
    /// Keys of per-sample string labels that the server promotes to series labels (§1.4); they
    /// count against the label limit unless the series already has them.
    pub promoted_keys: BTreeSet<String>,
}

/// Labels dropped or changed while building series labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelStats {
    /// Dropped to stay within the label-count limit.
    pub over_limit: usize,
    /// `__`-prefixed names other than `__name__` and `__delta__`.
    pub reserved: usize,
    /// A name already present (first key wins).
    pub duplicates: usize,
    /// Names longer than the limit.
    pub names_too_long: usize,
    /// Values cut to the length limit.
    pub values_truncated: usize,
    /// Attribute values that are neither string nor int.
    pub unsupported_values: usize,
    /// Empty names or values.
    pub empty: usize,
}

impl LabelStats {
    pub fn add(&mut self, o: &LabelStats) {
        self.over_limit += o.over_limit;
        self.reserved += o.reserved;
        self.duplicates += o.duplicates;
        self.names_too_long += o.names_too_long;
        self.values_truncated += o.values_truncated;
        self.unsupported_values += o.unsupported_values;
        self.empty += o.empty;
    }

    /// Labels dropped (truncated values are not drops).
    pub fn dropped(&self) -> usize {
        self.over_limit
            + self.reserved
            + self.duplicates
            + self.names_too_long
            + self.unsupported_values
            + self.empty
    }
}

/// A string or int attribute as label text.
fn scalar_text(v: Option<&AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

/// `service.name` as Pyroscope reads it: string, int, or a one-element array of those.
fn service_text(v: Option<&AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        Value::ArrayValue(a) if a.values.len() == 1 => scalar_text(a.values.first()),
        _ => scalar_text(v),
    }
}

/// `service_name` for a resource (spec §6 rule 2): `service.name`, else `unknown_service` plus
/// `:<process.executable.name>` for each such attribute.
pub fn service_name(resource: &[KeyValue]) -> String {
    if let Some(s) = resource
        .iter()
        .filter(|kv| kv.key == attr_keys::SERVICE_NAME)
        .find_map(|kv| service_text(kv.value.as_ref()))
        .filter(|s| !s.is_empty())
    {
        return s;
    }
    let mut out = UNKNOWN_SERVICE.to_owned();
    for kv in resource
        .iter()
        .filter(|kv| kv.key == attr_keys::PROCESS_EXECUTABLE_NAME)
    {
        if let Some(exe) = scalar_text(kv.value.as_ref()).filter(|s| !s.is_empty()) {
            out.push(':');
            out.push_str(&exe);
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    s.get(..i).unwrap_or("")
}

struct Builder<'a> {
    cfg: &'a LabelConfig,
    promoted: &'a BTreeSet<String>,
    labels: Vec<LabelPair>,
    names: HashSet<String>,
    stats: LabelStats,
}

impl Builder<'_> {
    /// Labels the series will have on the server: ours plus promoted sample labels.
    fn effective_count(&self) -> usize {
        self.labels.len()
            + self
                .promoted
                .iter()
                .filter(|k| !self.names.contains(*k))
                .count()
    }

    /// Adds one label unless a rule drops it. `forced` labels skip the name filters and the limit.
    fn push(&mut self, name: &str, value: &str, forced: bool) {
        let name = if self.cfg.sanitize_label_names && !forced {
            sanitize_label_name(name)
        } else {
            name.to_owned()
        };
        if name.is_empty() || value.is_empty() {
            self.stats.empty += 1;
            return;
        }
        if !forced && name.starts_with("__") {
            self.stats.reserved += 1;
            return;
        }
        if name.len() > self.cfg.max_name_length {
            self.stats.names_too_long += 1;
            return;
        }
        if self.names.contains(&name) {
            self.stats.duplicates += 1;
            return;
        }
        if !forced
            && !self.promoted.contains(&name)
            && self.effective_count() + 1 > self.cfg.max_label_names
        {
            self.stats.over_limit += 1;
            return;
        }
        let v = truncate_utf8(value, self.cfg.max_value_length);
        if v.len() < value.len() {
            self.stats.values_truncated += 1;
        }
        self.names.insert(name.clone());
        self.labels.push(LabelPair {
            name,
            value: v.to_owned(),
        });
    }
}

/// The labels of a built series, sorted by name, and what was dropped on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesLabels {
    pub labels: Vec<LabelPair>,
    pub stats: LabelStats,
}

impl SeriesLabels {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }
}

/// Builds the series labels of a profile (spec §3 steps 2–3), by priority:
/// 1. `__name__` = `profile_name`, `__delta__="false"`, `service_name` (from the sample's
///    `service.name`, else [`service_name`] of the resource);
/// 2. the configured external labels;
/// 3. the string and int resource attributes (except `service.name`), in order;
/// 4. the string and int scope attributes, except profcol's `pprof.*` and `pyroscope.*` bookkeeping
///    (`pyroscope.spy` becomes `pyroscope_spy`);
/// 5. `otel.scope.name` / `otel.scope.version` from the scope.
///
/// The first occurrence of a name wins. Names starting with `__` (other than the two above) are
/// dropped, as are names longer than the limit; values are cut to the length limit. Labels of the
/// lowest priority are dropped to keep the series, including the sample labels the server will
/// promote ([`SampleLabelInfo::promoted_keys`]), within the label-count limit. Links are never
/// series labels: they travel as per-sample `span_id`/`trace_id` pprof labels.
pub fn series_labels(
    resource: &[KeyValue],
    scope: Option<&InstrumentationScope>,
    profile_name: &str,
    cfg: &LabelConfig,
    sample: &SampleLabelInfo,
) -> SeriesLabels {
    let mut b = Builder {
        cfg,
        promoted: &sample.promoted_keys,
        labels: Vec::new(),
        names: HashSet::default(),
        stats: LabelStats::default(),
    };
    let name = if profile_name.is_empty() {
        "unknown".to_owned()
    } else {
        sanitize_metric_name(profile_name)
    };
    b.push(label::NAME, &name, true);
    b.push(label::DELTA, "false", true);
    let service = sample
        .service_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| service_name(resource));
    b.push(label::SERVICE_NAME, &service, true);

    for (k, v) in &cfg.external_labels {
        b.push(k, v, false);
    }
    for kv in resource {
        if kv.key == attr_keys::SERVICE_NAME {
            continue;
        }
        match scalar_text(kv.value.as_ref()) {
            Some(v) => b.push(&kv.key, &v, false),
            None => b.stats.unsupported_values += 1,
        }
    }
    if let Some(sc) = scope {
        for kv in &sc.attributes {
            let key = match kv.key.as_str() {
                attr::SPY => label::SPY,
                attr::PROFILE_NAME | attr::DELTA => continue,
                k if k.starts_with("pprof.") || k.starts_with("pyroscope.") => continue,
                k => k,
            };
            match scalar_text(kv.value.as_ref()) {
                Some(v) => b.push(key, &v, false),
                None => b.stats.unsupported_values += 1,
            }
        }
        if !sc.name.is_empty() {
            b.push(label::SCOPE_NAME, &sc.name, false);
        }
        if !sc.version.is_empty() {
            b.push(label::SCOPE_VERSION, &sc.version, false);
        }
    }
    let mut labels = b.labels;
    labels.sort();
    SeriesLabels {
        labels,
        stats: b.stats,
    }
}

// ---------------------------------------------------------------------------------------------
// pprof preparation
// ---------------------------------------------------------------------------------------------

/// The index of `s` in the string table, appending it when absent.
fn intern(p: &mut Profile, s: &str) -> i64 {
    if s.is_empty() {
        return 0;
    }
    if let Some(i) = p.string_table.iter().position(|x| x == s.as_bytes()) {
        return i64::try_from(i).unwrap_or(0);
    }
    if p.string_table.is_empty() {
        p.string_table.push(Vec::new());
    }
    p.string_table.push(s.as_bytes().to_vec());
    i64::try_from(p.string_table.len() - 1).unwrap_or(0)
}

/// Applies rule 5's rewrite for `samples:count:cpu:nanoseconds`: every value × `period`, every
/// sample type (and the default) becomes `cpu:nanoseconds`. Meant for single-type profiles.
pub fn scale_samples_to_cpu(p: &mut Profile, period: i64) {
    for s in &mut p.sample {
        for v in &mut s.value {
            *v = v.saturating_mul(period);
        }
    }
    let cpu = intern(p, "cpu");
    let ns = intern(p, "nanoseconds");
    let had_default = p.default_sample_type != 0;
    for vt in &mut p.sample_type {
        *vt = ValueType {
            r#type: cpu,
            unit: ns,
        };
    }
    if had_default {
        p.default_sample_type = cpu;
    }
}

/// Pyroscope rejects a sample type containing `-` (`sample type contains -`): such type strings
/// (and a `default_sample_type` naming them) are replaced by copies with `_`. Returns how many
/// sample types were renamed.
pub fn fix_sample_type_names(p: &mut Profile) -> usize {
    let mut renamed = 0;
    for i in 0..p.sample_type.len() {
        let Some(vt) = p.sample_type.get(i).copied() else {
            continue;
        };
        let s = p.string(vt.r#type).into_owned();
        if !s.contains('-') {
            continue;
        }
        let new = intern(p, &s.replace('-', "_"));
        if p.default_sample_type == vt.r#type {
            p.default_sample_type = new;
        }
        if let Some(x) = p.sample_type.get_mut(i) {
            x.r#type = new;
        }
        renamed += 1;
    }
    renamed
}

fn is_link_label(key: &str) -> bool {
    matches!(key, label::SPAN_ID | label::TRACE_ID | label::PROFILE_ID)
}

/// Keys of the per-sample string labels the server turns into series labels (§1.4): every string
/// label except `span_id`, `trace_id` and `profile_id`.
pub fn promoted_sample_label_keys(p: &Profile) -> BTreeSet<String> {
    let mut keys: HashSet<i64> = HashSet::default();
    for s in &p.sample {
        for l in &s.label {
            if l.str != 0 {
                keys.insert(l.key);
            }
        }
    }
    keys.into_iter()
        .map(|k| p.string(k).into_owned())
        .filter(|k| !k.is_empty() && !is_link_label(k))
        .collect()
}

/// Renames per-sample label keys to `[a-zA-Z_][a-zA-Z0-9_]*` (the `sanitize_label_names` option,
/// for servers that reject dots), keeping `span_id`/`trace_id`. Returns how many keys changed.
pub fn sanitize_sample_label_keys(p: &mut Profile) -> usize {
    let mut map: HashMap<i64, i64> = HashMap::default();
    let keys: BTreeSet<i64> = p
        .sample
        .iter()
        .flat_map(|s| s.label.iter().map(|l| l.key))
        .collect();
    for k in keys {
        let s = p.string(k).into_owned();
        let clean = sanitize_label_name(&s);
        if clean != s && !s.is_empty() {
            let n = intern(p, &clean);
            map.insert(k, n);
        }
    }
    if map.is_empty() {
        return 0;
    }
    for s in &mut p.sample {
        for l in &mut s.label {
            if let Some(&n) = map.get(&l.key) {
                l.key = n;
            }
        }
    }
    map.len()
}

/// Keeps at most `max` labels per sample (`validation.max-profile-stacktrace-sample-labels`),
/// `span_id`/`trace_id` first. Returns how many labels were dropped.
pub fn limit_sample_labels(p: &mut Profile, max: usize) -> usize {
    let link_keys: HashSet<i64> = p
        .string_table
        .iter()
        .enumerate()
        .filter(|(_, s)| s.as_slice() == b"span_id" || s.as_slice() == b"trace_id")
        .filter_map(|(i, _)| i64::try_from(i).ok())
        .collect();
    let mut dropped = 0;
    for s in &mut p.sample {
        if s.label.len() <= max {
            continue;
        }
        let (mut keep, rest): (Vec<_>, Vec<_>) =
            s.label.iter().partition(|l| link_keys.contains(&l.key));
        keep.truncate(max);
        let room = max.saturating_sub(keep.len());
        keep.extend(rest.into_iter().take(room));
        dropped += s.label.len() - keep.len();
        s.label = keep;
    }
    dropped
}

/// Maps old string indexes to a new, compact table.
struct StringRemap<'a> {
    src: &'a [Vec<u8>],
    map: HashMap<i64, i64>,
    table: Vec<Vec<u8>>,
}

impl StringRemap<'_> {
    fn get(&mut self, i: i64) -> i64 {
        if i == 0 {
            return 0;
        }
        if let Some(&n) = self.map.get(&i) {
            return n;
        }
        let Some(s) = usize::try_from(i).ok().and_then(|u| self.src.get(u)) else {
            return 0;
        };
        let n = i64::try_from(self.table.len()).unwrap_or(0);
        self.table.push(s.clone());
        self.map.insert(i, n);
        n
    }
}

/// A copy of `p` with only the samples at `indices`, and only the locations, functions, mappings
/// and strings they need (ids are kept).
pub fn subset(p: &Profile, indices: &[usize]) -> Profile {
    let samples: Vec<&Sample> = indices.iter().filter_map(|&i| p.sample.get(i)).collect();
    let loc_ids: HashSet<u64> = samples
        .iter()
        .flat_map(|s| s.location_id.iter().copied())
        .collect();
    let location: Vec<Location> = p
        .location
        .iter()
        .filter(|l| loc_ids.contains(&l.id))
        .cloned()
        .collect();
    let func_ids: HashSet<u64> = location
        .iter()
        .flat_map(|l| l.line.iter().map(|x| x.function_id))
        .collect();
    let map_ids: HashSet<u64> = location.iter().map(|l| l.mapping_id).collect();

    let mut st = StringRemap {
        src: &p.string_table,
        map: HashMap::default(),
        table: vec![Vec::new()],
    };
    let sample_type = p
        .sample_type
        .iter()
        .map(|vt| ValueType {
            r#type: st.get(vt.r#type),
            unit: st.get(vt.unit),
        })
        .collect();
    let sample = samples
        .iter()
        .map(|s| Sample {
            location_id: s.location_id.clone(),
            value: s.value.clone(),
            label: s
                .label
                .iter()
                .map(|l| crate::pprof::Label {
                    key: st.get(l.key),
                    str: st.get(l.str),
                    num: l.num,
                    num_unit: st.get(l.num_unit),
                })
                .collect(),
        })
        .collect();
    let mapping = p
        .mapping
        .iter()
        .filter(|m| map_ids.contains(&m.id))
        .map(|m| Mapping {
            filename: st.get(m.filename),
            build_id: st.get(m.build_id),
            ..m.clone()
        })
        .collect();
    let function = p
        .function
        .iter()
        .filter(|f| func_ids.contains(&f.id))
        .map(|f| Function {
            id: f.id,
            name: st.get(f.name),
            system_name: st.get(f.system_name),
            filename: st.get(f.filename),
            start_line: f.start_line,
        })
        .collect();
    let period_type = p.period_type.map(|vt| ValueType {
        r#type: st.get(vt.r#type),
        unit: st.get(vt.unit),
    });
    let comment = p.comment.iter().map(|&c| st.get(c)).collect();
    let drop_frames = st.get(p.drop_frames);
    let keep_frames = st.get(p.keep_frames);
    let default_sample_type = st.get(p.default_sample_type);
    let doc_url = st.get(p.doc_url);
    Profile {
        sample_type,
        sample,
        mapping,
        location,
        function,
        string_table: st.table,
        drop_frames,
        keep_frames,
        time_nanos: p.time_nanos,
        duration_nanos: p.duration_nanos,
        period_type,
        period: p.period,
        comment,
        default_sample_type,
        doc_url,
    }
}

/// Splits a profile by the string value of one per-sample label (e.g. `service.name`, §6 rule 3),
/// removing that label. Samples without it form the `None` part. A profile in which no sample
/// carries the label is returned whole.
pub fn split_by_sample_label(p: Profile, key: &str) -> Vec<(Option<String>, Profile)> {
    let Some(k) = p
        .string_table
        .iter()
        .position(|s| s.as_slice() == key.as_bytes())
        .and_then(|i| i64::try_from(i).ok())
        .filter(|&k| k != 0)
    else {
        return vec![(None, p)];
    };
    let value_of = |s: &Sample| {
        s.label
            .iter()
            .find(|l| l.key == k && l.str != 0)
            .map(|l| l.str)
    };
    if !p.sample.iter().any(|s| value_of(s).is_some()) {
        return vec![(None, p)];
    }
    let mut order: Vec<Option<i64>> = Vec::new();
    let mut groups: HashMap<Option<i64>, Vec<usize>> = HashMap::default();
    for (i, s) in p.sample.iter().enumerate() {
        let v = value_of(s);
        groups
            .entry(v)
            .or_insert_with(|| {
                order.push(v);
                Vec::new()
            })
            .push(i);
    }
    let mut out = Vec::with_capacity(order.len());
    for v in order {
        let Some(idx) = groups.get(&v) else {
            continue;
        };
        let mut part = p.clone();
        part.sample = idx
            .iter()
            .filter_map(|&i| p.sample.get(i).cloned())
            .collect();
        for s in &mut part.sample {
            s.label.retain(|l| l.key != k);
        }
        let all: Vec<usize> = (0..part.sample.len()).collect();
        let part = subset(&part, &all);
        out.push((v.map(|v| p.string(v).into_owned()), part));
    }
    out
}

/// The result of [`split_profile`].
#[derive(Debug, Clone, Default)]
pub struct SplitProfile {
    pub parts: Vec<Profile>,
    /// Samples that alone (with the tables they need) exceed the size limit.
    pub dropped_samples: usize,
}

/// Splits a profile by samples so that every part has at most `max_samples` samples and encodes
/// to at most `max_bytes` (uncompressed). Parts carry only the tables they need. A profile within
/// both limits comes back unchanged.
pub fn split_profile(p: Profile, max_bytes: usize, max_samples: usize) -> SplitProfile {
    use prost::Message as _;
    let max_samples = max_samples.max(1);
    let n = p.sample.len();
    let size = p.encoded_len();
    if n <= max_samples && size <= max_bytes {
        return SplitProfile {
            parts: vec![p],
            dropped_samples: 0,
        };
    }
    let by_size = if max_bytes == 0 {
        n
    } else {
        size.div_ceil(max_bytes)
    };
    let pieces = n.div_ceil(max_samples).max(by_size).clamp(1, n.max(1));
    let chunk = n.div_ceil(pieces).max(1);
    let mut work: Vec<Vec<usize>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(chunk)
        .rev()
        .map(<[usize]>::to_vec)
        .collect();
    let mut out = SplitProfile::default();
    while let Some(idx) = work.pop() {
        let part = subset(&p, &idx);
        if part.encoded_len() <= max_bytes && idx.len() <= max_samples {
            out.parts.push(part);
        } else if idx.len() <= 1 {
            out.dropped_samples += idx.len();
        } else {
            let mid = idx.len() / 2;
            work.push(idx[mid..].to_vec());
            work.push(idx[..mid].to_vec());
        }
    }
    out
}

/// Per-sample-type totals of a pprof.
pub fn totals(p: &Profile) -> Vec<i64> {
    let mut t = vec![0i64; p.sample_type.len()];
    for s in &p.sample {
        for (a, v) in t.iter_mut().zip(&s.value) {
            *a = a.saturating_add(*v);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{ArrayValue, KeyValue};
    use crate::pprof::Label;

    fn s(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }
    fn i(k: &str, v: i64) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::IntValue(v)),
            }),
            ..Default::default()
        }
    }
    fn d(k: &str, v: f64) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::DoubleValue(v)),
            }),
            ..Default::default()
        }
    }
    fn pt(t: &str, u: &str, period: Option<(&str, &str, i64)>) -> ProfileType {
        ProfileType {
            sample_type: t.into(),
            sample_unit: u.into(),
            period_type: period.map(|(a, b, _)| (a.into(), b.into())),
            period: period.map(|(_, _, p)| p).unwrap_or(0),
        }
    }
    fn scope_with(attrs: Vec<KeyValue>) -> InstrumentationScope {
        InstrumentationScope {
            name: String::new(),
            version: String::new(),
            attributes: attrs,
            dropped_attributes_count: 0,
        }
    }

    #[test]
    fn name_rules() {
        // (type, period, scope name) → (name, source, scale)
        type Case<'a> = (
            ProfileType,
            Option<&'a str>,
            &'a str,
            NameSource,
            Option<i64>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                pt("samples", "count", Some(("cpu", "nanoseconds", 50_000_000))),
                None,
                "process_cpu",
                NameSource::ProcessCpu,
                Some(50_000_000),
            ),
            (
                pt("off_cpu", "nanoseconds", None),
                None,
                "off_cpu",
                NameSource::OffCpu,
                None,
            ),
            (
                pt("alloc_space", "bytes", Some(("space", "bytes", 524288))),
                None,
                "space",
                NameSource::PeriodType,
                None,
            ),
            (
                pt(
                    "cpu",
                    "nanoseconds",
                    Some(("cpu", "nanoseconds", 10_000_000)),
                ),
                None,
                "cpu",
                NameSource::PeriodType,
                None,
            ),
            // No period type: Pyroscope would give an empty name; we fall back to the type.
            (
                pt("alloc-size", "bytes", None),
                None,
                "alloc_size",
                NameSource::SampleType,
                None,
            ),
            // Period 0 empties the period part, so samples:count:cpu:nanoseconds does not apply.
            (
                pt("samples", "count", Some(("cpu", "nanoseconds", 0))),
                None,
                "samples",
                NameSource::SampleType,
                None,
            ),
            // An empty period type string (py-spy: ""/milliseconds).
            (
                pt("samples", "count", Some(("", "milliseconds", 10))),
                None,
                "samples",
                NameSource::SampleType,
                None,
            ),
            (
                pt("", "", None),
                None,
                "unknown",
                NameSource::SampleType,
                None,
            ),
            // The scope attribute wins and disables the rewrite.
            (
                pt("samples", "count", Some(("cpu", "nanoseconds", 10_000_000))),
                Some("process_cpu"),
                "process_cpu",
                NameSource::ScopeAttribute,
                None,
            ),
            (
                pt("alloc_space", "bytes", Some(("space", "bytes", 1))),
                Some("memory"),
                "memory",
                NameSource::ScopeAttribute,
                None,
            ),
            (
                pt("x", "y", None),
                Some("my-profile.v2"),
                "my_profile_v2",
                NameSource::ScopeAttribute,
                None,
            ),
            // An empty scope attribute falls through to the rules.
            (
                pt("off_cpu", "nanoseconds", None),
                Some(" "),
                "off_cpu",
                NameSource::OffCpu,
                None,
            ),
        ];
        for (t, scope_name, want, source, scale) in cases {
            let scope = scope_name.map(|n| scope_with(vec![s(attr::PROFILE_NAME, n)]));
            let got = profile_name(scope.as_ref(), &t);
            assert_eq!(got.name, want, "{t:?} {scope_name:?}");
            assert_eq!(got.source, source, "{t:?}");
            assert_eq!(got.scale_by_period, scale, "{t:?}");
        }
    }

    #[test]
    fn profile_type_ids() {
        assert_eq!(
            pt("cpu", "nanoseconds", Some(("cpu", "nanoseconds", 1))).id("process_cpu"),
            "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        );
        assert_eq!(
            pt("off_cpu", "nanoseconds", None).id("off_cpu"),
            "off_cpu:off_cpu:nanoseconds::"
        );
        assert_eq!(
            pt("samples", "count", Some(("cpu", "nanoseconds", 0))).otlp_key(),
            "samples:count::"
        );
    }

    #[test]
    fn metric_and_label_name_sanitizing() {
        assert_eq!(sanitize_metric_name("process_cpu"), "process_cpu");
        assert_eq!(sanitize_metric_name("a:b"), "a:b");
        assert_eq!(sanitize_metric_name("9lives"), "_9lives");
        assert_eq!(sanitize_label_name("k8s.pod.name"), "k8s_pod_name");
        assert_eq!(sanitize_label_name("a:b-c/d"), "a_b_c_d");
        assert_eq!(sanitize_label_name("1x"), "_1x");
        assert_eq!(sanitize_label_name("ünï"), "_n_");
    }

    fn get<'a>(l: &'a SeriesLabels, k: &str) -> Option<&'a str> {
        l.get(k)
    }

    #[test]
    fn service_name_rules() {
        assert_eq!(service_name(&[s("service.name", "api")]), "api");
        assert_eq!(service_name(&[i("service.name", 7)]), "7");
        let arr = KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::StringValue("one".into())),
                    }],
                })),
            }),
            ..Default::default()
        };
        assert_eq!(service_name(&[arr]), "one");
        assert_eq!(service_name(&[]), "unknown_service");
        assert_eq!(
            service_name(&[s("process.executable.name", "nginx")]),
            "unknown_service:nginx"
        );
        assert_eq!(
            service_name(&[s("service.name", ""), s("process.executable.name", "x")]),
            "unknown_service:x"
        );
    }

    #[test]
    fn labels_basic_order_and_scope() {
        let resource = vec![
            s("service.name", "checkout"),
            s("k8s.namespace.name", "shop"),
            i("process.pid", 42),
            d("ratio", 0.5),
            s("k8s.namespace.name", "other"),
            s("__session_id__", "abc"),
            s("host.name", ""),
        ];
        let scope = InstrumentationScope {
            name: "go.opentelemetry.io/ebpf".into(),
            version: "1.2.3".into(),
            attributes: vec![
                s(attr::PROFILE_NAME, "process_cpu"),
                s(attr::DELTA, "false"),
                s(attr::SPY, "gospy"),
                s("pprof.scope.default_sample_type", "cpu"),
                s("k8s.namespace.name", "scope-loses"),
                s("region", "eu"),
            ],
            dropped_attributes_count: 0,
        };
        let cfg = LabelConfig {
            external_labels: vec![
                ("cluster".into(), "prod".into()),
                ("region".into(), "us".into()),
            ],
            ..Default::default()
        };
        let l = series_labels(
            &resource,
            Some(&scope),
            "process_cpu",
            &cfg,
            &SampleLabelInfo::default(),
        );
        let names: Vec<&str> = l.labels.iter().map(|x| x.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "labels are sorted");
        assert_eq!(get(&l, "__name__"), Some("process_cpu"));
        assert_eq!(get(&l, "__delta__"), Some("false"));
        assert_eq!(get(&l, "service_name"), Some("checkout"));
        assert_eq!(get(&l, "service.name"), None, "represented by service_name");
        assert_eq!(
            get(&l, "k8s.namespace.name"),
            Some("shop"),
            "first key wins"
        );
        assert_eq!(get(&l, "process.pid"), Some("42"), "ints are used");
        assert_eq!(get(&l, "ratio"), None, "doubles are not");
        assert_eq!(get(&l, "cluster"), Some("prod"));
        assert_eq!(
            get(&l, "region"),
            Some("us"),
            "external labels outrank the scope"
        );
        assert_eq!(get(&l, "pyroscope_spy"), Some("gospy"));
        assert_eq!(get(&l, "otel.scope.name"), Some("go.opentelemetry.io/ebpf"));
        assert_eq!(get(&l, "otel.scope.version"), Some("1.2.3"));
        assert_eq!(get(&l, "__session_id__"), None);
        assert_eq!(get(&l, "host.name"), None, "empty values are dropped");
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("pprof.") || n.starts_with("pyroscope."))
        );
        assert_eq!(l.stats.reserved, 1);
        assert_eq!(l.stats.duplicates, 3);
        assert_eq!(l.stats.unsupported_values, 1);
        assert_eq!(l.stats.empty, 1);
    }

    #[test]
    fn labels_external_labels_do_not_override_data() {
        let cfg = LabelConfig {
            external_labels: vec![
                ("service_name".into(), "ext".into()),
                ("__name__".into(), "evil".into()),
                ("env".into(), "prod".into()),
            ],
            ..Default::default()
        };
        let l = series_labels(
            &[s("service.name", "svc"), s("env", "dev")],
            None,
            "memory",
            &cfg,
            &SampleLabelInfo::default(),
        );
        assert_eq!(get(&l, "service_name"), Some("svc"));
        assert_eq!(get(&l, "__name__"), Some("memory"));
        assert_eq!(
            get(&l, "env"),
            Some("prod"),
            "external labels come before resources"
        );
        assert_eq!(l.stats.reserved, 1);
    }

    #[test]
    fn labels_service_name_fallback_and_sample_service() {
        let l = series_labels(
            &[i("process.pid", 1), s("process.executable.name", "node")],
            None,
            "off_cpu",
            &LabelConfig::default(),
            &SampleLabelInfo::default(),
        );
        assert_eq!(get(&l, "service_name"), Some("unknown_service:node"));
        let l = series_labels(
            &[s("service.name", "res")],
            None,
            "off_cpu",
            &LabelConfig::default(),
            &SampleLabelInfo {
                service_name: Some("from-sample".into()),
                promoted_keys: BTreeSet::new(),
            },
        );
        assert_eq!(get(&l, "service_name"), Some("from-sample"));
    }

    #[test]
    fn labels_limit_drops_lowest_priority() {
        let resource: Vec<KeyValue> = (0..40).map(|n| s(&format!("r{n:02}"), "v")).collect();
        let scope = InstrumentationScope {
            name: "scope".into(),
            ..Default::default()
        };
        let cfg = LabelConfig {
            external_labels: vec![("cluster".into(), "c1".into())],
            ..Default::default()
        };
        let l = series_labels(
            &resource,
            Some(&scope),
            "wall",
            &cfg,
            &SampleLabelInfo::default(),
        );
        assert_eq!(l.labels.len(), 30);
        for k in [
            "__name__",
            "__delta__",
            "service_name",
            "cluster",
            "r00",
            "r25",
        ] {
            assert!(get(&l, k).is_some(), "{k} kept");
        }
        assert!(get(&l, "r26").is_none());
        assert!(get(&l, "otel.scope.name").is_none());
        assert_eq!(l.stats.over_limit, 15);

        // Promoted sample labels take slots unless the series already has them.
        let promoted: BTreeSet<String> = ["thread.name", "r00", "job"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        let l = series_labels(
            &resource,
            None,
            "wall",
            &cfg,
            &SampleLabelInfo {
                service_name: None,
                promoted_keys: promoted,
            },
        );
        assert_eq!(l.labels.len(), 28, "2 slots left for thread.name and job");
        assert!(get(&l, "r00").is_some());
        assert!(get(&l, "r23").is_some());
        assert!(get(&l, "r24").is_none());
    }

    #[test]
    fn labels_lengths_and_sanitizing() {
        let long_name = "n".repeat(1025);
        let long_value = "é".repeat(1500); // 3000 bytes
        let l = series_labels(
            &[
                s(&long_name, "x"),
                s("big", &long_value),
                s("k8s.pod.name", "p"),
                s("k8s_pod_name", "dup"),
            ],
            None,
            "cpu",
            &LabelConfig {
                sanitize_label_names: true,
                ..Default::default()
            },
            &SampleLabelInfo::default(),
        );
        assert_eq!(l.stats.names_too_long, 1);
        assert_eq!(l.stats.values_truncated, 1);
        let v = get(&l, "big").unwrap_or_default();
        assert!(v.len() <= 2048 && v.len() >= 2046, "{}", v.len());
        assert_eq!(get(&l, "k8s_pod_name"), Some("p"));
        assert_eq!(l.stats.duplicates, 1);
        assert!(get(&l, "k8s.pod.name").is_none());

        // Off (the default): dots are kept.
        let l = series_labels(
            &[s("k8s.pod.name", "p")],
            None,
            "cpu",
            &LabelConfig::default(),
            &SampleLabelInfo::default(),
        );
        assert_eq!(get(&l, "k8s.pod.name"), Some("p"));
    }

    fn tiny_profile() -> Profile {
        // strings: 0 "", 1 samples, 2 count, 3 cpu, 4 nanoseconds, 5 f, 6 g, 7 thread, 8 main,
        //          9 span_id, 10 00000000000000aa, 11 service.name, 12 a, 13 b, 14 bin
        let strings = [
            "",
            "samples",
            "count",
            "cpu",
            "nanoseconds",
            "f",
            "g",
            "thread",
            "main",
            "span_id",
            "00000000000000aa",
            "service.name",
            "a",
            "b",
            "bin",
        ];
        let lab = |k: i64, v: i64| Label {
            key: k,
            str: v,
            num: 0,
            num_unit: 0,
        };
        Profile {
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            sample: vec![
                Sample {
                    location_id: vec![1, 2],
                    value: vec![3],
                    label: vec![lab(7, 8), lab(9, 10), lab(11, 12)],
                },
                Sample {
                    location_id: vec![2],
                    value: vec![4],
                    label: vec![lab(11, 13)],
                },
                Sample {
                    location_id: vec![2],
                    value: vec![5],
                    label: vec![],
                },
            ],
            mapping: vec![Mapping {
                id: 1,
                filename: 14,
                ..Default::default()
            }],
            location: vec![
                Location {
                    id: 1,
                    mapping_id: 1,
                    line: vec![crate::pprof::Line {
                        function_id: 1,
                        line: 1,
                        column: 0,
                    }],
                    ..Default::default()
                },
                Location {
                    id: 2,
                    mapping_id: 0,
                    line: vec![crate::pprof::Line {
                        function_id: 2,
                        line: 2,
                        column: 0,
                    }],
                    ..Default::default()
                },
            ],
            function: vec![
                Function {
                    id: 1,
                    name: 5,
                    ..Default::default()
                },
                Function {
                    id: 2,
                    name: 6,
                    ..Default::default()
                },
            ],
            string_table: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
            period_type: Some(ValueType { r#type: 3, unit: 4 }),
            period: 10,
            ..Default::default()
        }
    }

    #[test]
    fn cpu_rewrite_and_dash_fix() {
        let mut p = tiny_profile();
        scale_samples_to_cpu(&mut p, 10);
        assert_eq!(totals(&p), vec![120]);
        let t = ProfileType::from_pprof(&p, 0).unwrap_or_default();
        assert_eq!(
            t.id("process_cpu"),
            "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        );

        let mut p = tiny_profile();
        p.string_table[1] = b"alloc-samples".to_vec();
        p.default_sample_type = 1;
        assert_eq!(fix_sample_type_names(&mut p), 1);
        assert_eq!(p.string(p.sample_type[0].r#type), "alloc_samples");
        assert_eq!(p.string(p.default_sample_type), "alloc_samples");
    }

    #[test]
    fn promoted_keys_exclude_links_and_numbers() {
        let mut p = tiny_profile();
        p.sample[2].label.push(Label {
            key: 2,
            str: 0,
            num: 5,
            num_unit: 0,
        });
        let keys = promoted_sample_label_keys(&p);
        let want: BTreeSet<String> = ["service.name", "thread"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(keys, want);
    }

    #[test]
    fn split_by_service_and_subset() {
        let p = tiny_profile();
        let parts = split_by_sample_label(p, "service.name");
        let got: Vec<(Option<String>, Vec<i64>)> =
            parts.iter().map(|(k, p)| (k.clone(), totals(p))).collect();
        assert_eq!(
            got,
            vec![
                (Some("a".into()), vec![3]),
                (Some("b".into()), vec![4]),
                (None, vec![5])
            ]
        );
        for (_, part) in &parts {
            assert!(crate::pprof::check_valid(part).is_ok());
            assert!(
                !promoted_sample_label_keys(part).contains("service.name"),
                "the label is consumed"
            );
        }
        // Part "b" needs only location 2 / function 2 and no mapping.
        let b = &parts[1].1;
        assert_eq!(b.location.len(), 1);
        assert_eq!(b.function.len(), 1);
        assert!(b.mapping.is_empty());
        assert!(b.string_table.len() < 8);
        assert_eq!(b.string(b.function[0].name), "g");
    }

    #[test]
    fn split_profile_by_samples_and_size() {
        use prost::Message as _;
        let mut p = tiny_profile();
        for n in 0..1000 {
            p.sample.push(Sample {
                location_id: vec![1, 2],
                value: vec![n],
                label: vec![],
            });
        }
        let total = totals(&p);
        let size = p.encoded_len();
        let out = split_profile(p.clone(), usize::MAX, 100);
        assert_eq!(out.parts.len(), 11);
        assert!(out.parts.iter().all(|q| q.sample.len() <= 100));
        let sum: i64 = out.parts.iter().map(|q| totals(q)[0]).sum();
        assert_eq!(vec![sum], total);

        let out = split_profile(p.clone(), size / 3, usize::MAX);
        assert!(out.parts.len() >= 3, "{}", out.parts.len());
        assert!(out.parts.iter().all(|q| q.encoded_len() <= size / 3));
        let sum: i64 = out.parts.iter().map(|q| totals(q)[0]).sum();
        assert_eq!(vec![sum], total);
        assert_eq!(out.dropped_samples, 0);

        let out = split_profile(p.clone(), 10, usize::MAX);
        assert!(out.parts.is_empty());
        assert_eq!(out.dropped_samples, 1003);

        let out = split_profile(p.clone(), usize::MAX, usize::MAX);
        assert_eq!(out.parts.len(), 1);
        assert_eq!(out.parts[0], p);
    }

    #[test]
    fn sample_label_limit_keeps_links() {
        let mut p = tiny_profile();
        assert_eq!(limit_sample_labels(&mut p, 1), 2);
        assert_eq!(p.sample[0].label.len(), 1);
        assert_eq!(p.string(p.sample[0].label[0].key), "span_id");
    }

    #[test]
    fn sample_label_key_sanitizing() {
        let mut p = tiny_profile();
        assert_eq!(sanitize_sample_label_keys(&mut p), 1);
        let keys = promoted_sample_label_keys(&p);
        assert!(keys.contains("service_name") && keys.contains("thread"));
    }

    /// Links become per-sample `span_id`/`trace_id` pprof labels (pdata's from_otlp, §4.4) and
    /// never series labels.
    #[test]
    fn links_are_sample_labels_not_series_labels() {
        use crate::collector::ExportProfilesServiceRequest;
        use crate::proto::{
            Link, ProfilesDictionary, ResourceProfiles, Sample as OSample, ScopeProfiles, Stack,
            ValueType as OValueType,
        };
        use crate::resource::Resource;
        let dict = ProfilesDictionary {
            string_table: vec![
                String::new(),
                "cpu".into(),
                "nanoseconds".into(),
                "main".into(),
                "thread.name".into(),
            ],
            function_table: vec![
                Default::default(),
                crate::proto::Function {
                    name_strindex: 3,
                    ..Default::default()
                },
            ],
            location_table: vec![
                Default::default(),
                crate::proto::Location {
                    lines: vec![crate::proto::Line {
                        function_index: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            stack_table: vec![
                Default::default(),
                Stack {
                    location_indices: vec![1],
                },
            ],
            link_table: vec![
                Link::default(),
                Link {
                    trace_id: (1..=16).collect(),
                    span_id: (1..=8).collect(),
                },
            ],
            attribute_table: vec![
                Default::default(),
                crate::proto::KeyValueAndUnit {
                    key_strindex: 4,
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("worker".into())),
                    }),
                    unit_strindex: 0,
                },
            ],
            ..Default::default()
        };
        let profile = OProfile {
            sample_type: Some(OValueType {
                type_strindex: 1,
                unit_strindex: 2,
            }),
            samples: vec![
                OSample {
                    stack_index: 1,
                    values: vec![7],
                    link_index: 1,
                    attribute_indices: vec![1],
                    ..Default::default()
                },
                OSample {
                    stack_index: 1,
                    values: vec![5],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let req = ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![s("service.name", "svc")],
                    ..Default::default()
                }),
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![profile],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(dict),
        };
        let (outs, _) = crate::pprof::from_otlp(&req);
        assert_eq!(outs.len(), 1);
        let p = &outs[0].profile;
        assert_eq!(
            p.sample.len(),
            2,
            "samples with different links are not merged"
        );
        let linked = p
            .sample
            .iter()
            .find(|s| s.value == vec![7])
            .map(|s| {
                s.label
                    .iter()
                    .map(|l| (p.string(l.key).into_owned(), p.string(l.str).into_owned()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        assert!(linked.contains(&("span_id".into(), "0102030405060708".into())));
        assert!(linked.contains(&("trace_id".into(), "0102030405060708090a0b0c0d0e0f10".into())));
        let keys = promoted_sample_label_keys(p);
        assert!(!keys.contains("span_id") && !keys.contains("trace_id"));
        assert!(keys.contains("thread.name"));
        let l = series_labels(
            &outs[0].resource,
            outs[0].scope.as_ref(),
            "cpu",
            &LabelConfig::default(),
            &SampleLabelInfo {
                service_name: None,
                promoted_keys: keys,
            },
        );
        assert!(
            l.labels
                .iter()
                .all(|x| x.name != "span_id" && x.name != "trace_id"),
            "{:?}",
            l.labels
        );
    }
}
