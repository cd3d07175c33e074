//! Series labels (spec §3 steps 2–3, §6): names, priorities, limits and `service_name`.

use std::collections::BTreeSet;

use crate::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use crate::hash::HashSet;

use super::super::{LabelPair, attr};
use super::names::{sanitize_label_name, sanitize_metric_name};
use super::{
    MAX_LABEL_NAME_LENGTH, MAX_LABEL_NAMES_PER_SERIES, MAX_LABEL_VALUE_LENGTH, UNKNOWN_SERVICE,
    attr_keys, label,
};

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

    /// Adds an attribute as a label when its value is a string or an int (counted otherwise).
    fn push_attribute(&mut self, name: &str, value: Option<&AnyValue>) {
        match scalar_text(value) {
            Some(v) => self.push(name, &v, false),
            None => self.stats.unsupported_values += 1,
        }
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
        b.push_attribute(&kv.key, kv.value.as_ref());
    }
    if let Some(sc) = scope {
        for kv in &sc.attributes {
            let key = match kv.key.as_str() {
                attr::SPY => label::SPY,
                attr::PROFILE_NAME | attr::DELTA => continue,
                k if k.starts_with("pprof.") || k.starts_with("pyroscope.") => continue,
                k => k,
            };
            b.push_attribute(key, kv.value.as_ref());
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
