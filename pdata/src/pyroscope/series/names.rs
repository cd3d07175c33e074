//! Profile names (`__name__`) and profile type ids (spec §3 step 2, §6 rule 5), and the name
//! sanitizing rules they share with labels.

use crate::common::{InstrumentationScope, any_value::Value};
use crate::pprof::Profile;
use crate::proto::Profile as OProfile;
use crate::view::Dict;

use super::super::attr;

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
    /// the period and retype the sample type `cpu:nanoseconds` ([`scale_samples_to_cpu`](super::scale_samples_to_cpu)).
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
    sanitize(s, |c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Makes `s` a label name of the classic form `[a-zA-Z_][a-zA-Z0-9_]*` (dots and every other
/// character become `_`, a leading digit gets a `_` prefix).
pub fn sanitize_label_name(s: &str) -> String {
    sanitize(s, |c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces every character that `keep` rejects with `_`, and prefixes a leading digit with `_`.
fn sanitize(s: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out: String = s.chars().map(|c| if keep(c) { c } else { '_' }).collect();
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
