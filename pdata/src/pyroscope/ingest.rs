//! What Pyroscope's legacy `/ingest` and the Push API carry, parsed and mapped to OTLP
//! (spec `pyroscope.md` §2 and §4).

use std::collections::BTreeMap;

use crate::collector::ExportProfilesServiceRequest;
use crate::common::{InstrumentationScope, KeyValue};

use super::attr;
use crate::string_attribute as kv;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("name: service name is required")]
    MissingName,
    #[error("name: invalid application name {0:?} (allowed: letters, digits, _ . - /)")]
    InvalidAppName(String),
    #[error("name: {0}")]
    InvalidLabels(String),
    #[error("{param}: cannot parse time {value:?}")]
    InvalidTime { param: &'static str, value: String },
    #[error("unknown profile type {0:?}")]
    UnknownProfileType(String),
}

/// `appname{k=v,k2=v2}` → the app name and its labels, in order.
pub fn parse_name(name: &str) -> Result<(String, Vec<(String, String)>), IngestError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IngestError::MissingName);
    }
    let (app, rest) = match name.find('{') {
        Some(i) => (name[..i].trim(), Some(&name[i + 1..])),
        None => (name, None),
    };
    if app.is_empty() {
        return Err(IngestError::MissingName);
    }
    if !app
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
    {
        return Err(IngestError::InvalidAppName(app.to_owned()));
    }
    let mut labels = Vec::new();
    if let Some(rest) = rest {
        let body = rest
            .trim_end()
            .strip_suffix('}')
            .ok_or_else(|| IngestError::InvalidLabels("missing closing '}'".into()))?;
        for pair in body.split(',') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                IngestError::InvalidLabels(format!("expected key=value, got {pair:?}"))
            })?;
            let k = k.trim();
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
            {
                return Err(IngestError::InvalidLabels(format!(
                    "invalid label key {k:?}"
                )));
            }
            labels.push((k.to_owned(), v.trim().to_owned()));
        }
    }
    Ok((app.to_owned(), labels))
}

/// Parses `from` / `until` to Unix nanoseconds (spec §4.1): all digits → a `YYYYMMDD` date when 8
/// digits form a valid one, else 13 digits ms, 16 µs, 19 ns, any other length seconds; otherwise
/// `now[+-]N<unit>`. Empty → `now_ns`.
pub fn parse_time(param: &'static str, value: &str, now_ns: i64) -> Result<i64, IngestError> {
    let bad = || IngestError::InvalidTime {
        param,
        value: value.to_owned(),
    };
    let v: String = value
        .chars()
        .filter(|c| !matches!(c, '_' | ',' | ' '))
        .collect();
    if v.is_empty() || v == "now" {
        return Ok(now_ns);
    }
    if v.chars().all(|c| c.is_ascii_digit()) {
        if v.len() == 8 {
            let (y, m, d) = (
                v[..4].parse::<i64>().map_err(|_| bad())?,
                v[4..6].parse::<i64>().map_err(|_| bad())?,
                v[6..].parse::<i64>().map_err(|_| bad())?,
            );
            if (1..=12).contains(&m) && (1..=31).contains(&d) && y >= 1970 {
                return Ok(crate::time::days_from_civil(y, m, d).saturating_mul(86_400_000_000_000));
            }
        }
        let n: i64 = v.parse().map_err(|_| bad())?;
        return Ok(match v.len() {
            13 => n.saturating_mul(1_000_000),
            16 => n.saturating_mul(1_000),
            19 => n,
            _ => n.saturating_mul(1_000_000_000),
        });
    }
    let rest = v.strip_prefix("now").ok_or_else(bad)?;
    let (sign, rest) = match rest.as_bytes().first() {
        Some(b'-') => (-1i64, &rest[1..]),
        Some(b'+') => (1, &rest[1..]),
        _ => return Err(bad()),
    };
    let split = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: i64 = rest[..split].parse().map_err(|_| bad())?;
    let unit: i64 = match &rest[split..] {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "M" | "mon" => 30 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    Ok(now_ns.saturating_add(sign * n.saturating_mul(unit).saturating_mul(1_000_000_000)))
}

/// The profile a folded `/ingest` body describes, from the app name's last dot-suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldedType {
    /// `__name__`.
    pub name: &'static str,
    pub sample_type: &'static str,
    pub unit: &'static str,
    /// Counts are samples at `sampleRate` Hz, to be scaled to nanoseconds.
    pub scaled_by_rate: bool,
}

/// Splits `app.suffix` into the service name and the folded profile type (spec §4.3 table).
pub fn folded_type(app: &str) -> Result<(String, FoldedType), IngestError> {
    let (base, suffix) = match app.rsplit_once('.') {
        Some((b, s)) => (b, s),
        None => (app, ""),
    };
    let t = |name, sample_type, unit, scaled_by_rate| FoldedType {
        name,
        sample_type,
        unit,
        scaled_by_rate,
    };
    let ft = match suffix {
        "" | "cpu" | "itimer" => t("process_cpu", "cpu", "nanoseconds", true),
        "wall" | "seconds" | "nanoseconds" | "microseconds" | "milliseconds" => {
            t("wall", "wall", "nanoseconds", true)
        }
        "inuse_objects" => t("memory", "inuse_objects", "count", false),
        "alloc_objects" => t("memory", "alloc_objects", "count", false),
        "inuse_space" => t("memory", "inuse_space", "bytes", false),
        "alloc_space" => t("memory", "alloc_space", "bytes", false),
        "bytes" => t("memory", "alloc_space", "bytes", false),
        "alloc_in_new_tlab_objects" => t("memory", "alloc_in_new_tlab_objects", "count", false),
        "alloc_in_new_tlab_bytes" => t("memory", "alloc_in_new_tlab_bytes", "bytes", false),
        "alloc_outside_tlab_objects" => t("memory", "alloc_outside_tlab_objects", "count", false),
        "alloc_outside_tlab_bytes" => t("memory", "alloc_outside_tlab_bytes", "bytes", false),
        "live" => t("memory", "live", "count", false),
        "goroutines" => t("goroutine", "goroutine", "count", false),
        "mutex_count" => t("mutex", "contentions", "count", false),
        "mutex_duration" => t("mutex", "delay", "nanoseconds", false),
        "block_count" | "lock_count" => t("block", "contentions", "count", false),
        "block_duration" | "lock_duration" => t("block", "delay", "nanoseconds", false),
        "exceptions" => t("exceptions", "exceptions", "count", false),
        other => return Err(IngestError::UnknownProfileType(other.to_owned())),
    };
    let service = if suffix.is_empty() { app } else { base };
    Ok((service.to_owned(), ft))
}

/// One `sample_type_config` entry of a multipart `/ingest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleTypeConfig {
    pub units: Option<String>,
    pub display_name: Option<String>,
    pub aggregation: Option<String>,
    pub cumulative: bool,
    pub sampled: bool,
}

/// Parses the `sample_type_config` JSON part.
pub fn parse_sample_type_config(
    bytes: &[u8],
) -> Result<BTreeMap<String, SampleTypeConfig>, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("sample_type_config: invalid JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("sample_type_config: expected an object")?;
    let mut out = BTreeMap::new();
    for (k, e) in obj {
        let s = |key: &str| e.get(key).and_then(|x| x.as_str()).map(str::to_owned);
        let b = |key: &str| e.get(key).and_then(|x| x.as_bool()).unwrap_or(false);
        out.insert(
            k.clone(),
            SampleTypeConfig {
                units: s("units"),
                display_name: s("display-name"),
                aggregation: s("aggregation"),
                cumulative: b("cumulative"),
                sampled: b("sampled"),
            },
        );
    }
    Ok(out)
}

/// `__name__` of an `/ingest` pprof from its sample types (spec §4.3 "pprof").
pub fn pprof_profile_name(
    sample_types: &[String],
    config: &BTreeMap<String, SampleTypeConfig>,
) -> Option<&'static str> {
    if sample_types.iter().any(|t| t == "wall") {
        return Some("wall");
    }
    for t in sample_types {
        let display = config
            .get(t)
            .and_then(|c| c.display_name.clone())
            .unwrap_or_else(|| {
                match t.as_str() {
                    "samples" => "cpu",
                    "goroutine" => "goroutines",
                    "contentions" => "mutex_count",
                    "delay" => "mutex_duration",
                    other => other,
                }
                .to_owned()
            });
        let name = if display.contains("cpu") {
            Some("process_cpu")
        } else if display.contains("alloc_")
            || display.contains("inuse_")
            || display == "space"
            || display == "objects"
        {
            Some("memory")
        } else if display.contains("mutex_") {
            Some("mutex")
        } else if display.contains("block_") {
            Some("block")
        } else if display.contains("goroutines") {
            Some("goroutines")
        } else {
            None
        };
        if name.is_some() {
            return name;
        }
    }
    None
}

/// Applies Pyroscope series labels to a converted request (spec §2 step 3): `service_name` →
/// resource `service.name`; `otel.scope.name`/`otel.scope.version` → the scope; `__name__`,
/// `__delta__`, `pyroscope_spy` → scope attributes `pyroscope.profile.name`, `pyroscope.delta`,
/// `pyroscope.spy`; other labels not starting with `__` → resource attributes. Existing resource
/// keys are overwritten by the labels.
pub fn apply_series_labels(req: &mut ExportProfilesServiceRequest, labels: &[(String, String)]) {
    let mut resource: Vec<KeyValue> = Vec::new();
    let mut scope_attrs: Vec<KeyValue> = Vec::new();
    let mut scope_name = None;
    let mut scope_version = None;
    let mut seen = crate::hash::HashSet::default();
    for (k, v) in labels {
        if !seen.insert(k.as_str()) {
            continue;
        }
        match k.as_str() {
            "service_name" => resource.push(kv("service.name", v)),
            "otel.scope.name" => scope_name = Some(v.clone()),
            "otel.scope.version" => scope_version = Some(v.clone()),
            "__name__" => scope_attrs.push(kv(attr::PROFILE_NAME, v)),
            "__delta__" => scope_attrs.push(kv(attr::DELTA, v)),
            "pyroscope_spy" => scope_attrs.push(kv(attr::SPY, v)),
            other if other.starts_with("__") => {}
            other => resource.push(kv(other, v)),
        }
    }
    for rp in &mut req.resource_profiles {
        let res = rp.resource.get_or_insert_with(Default::default);
        for a in &resource {
            res.attributes.retain(|x| x.key != a.key);
            res.attributes.push(a.clone());
        }
        for sp in &mut rp.scope_profiles {
            let scope = sp.scope.get_or_insert_with(InstrumentationScope::default);
            if let Some(n) = &scope_name {
                scope.name = n.clone();
            }
            if let Some(v) = &scope_version {
                scope.version = v.clone();
            }
            for a in &scope_attrs {
                scope.attributes.retain(|x| x.key != a.key);
                scope.attributes.push(a.clone());
            }
        }
    }
}

/// For `pyspy`, `rbspy` and `scripting` spies Pyroscope names functions `"<file> <func>"`.
pub fn needs_file_prefixed_names(spy: &str) -> bool {
    matches!(spy, "pyspy" | "rbspy" | "scripting")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let (app, l) = parse_name("my-app.cpu{env=prod, region = eu-1,}").unwrap();
        assert_eq!(app, "my-app.cpu");
        assert_eq!(
            l,
            vec![
                ("env".into(), "prod".into()),
                ("region".into(), "eu-1".into())
            ]
        );
        assert_eq!(parse_name(""), Err(IngestError::MissingName));
        assert!(parse_name("app{env=prod").is_err());
        assert!(parse_name("bad app").is_err());
        assert!(parse_name("app{bad key=1}").is_err());
        assert_eq!(parse_name("app").unwrap(), ("app".into(), vec![]));
    }

    #[test]
    fn times() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(
            parse_time("from", "1700000000", now),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_time("from", "1700000000123", now),
            Ok(1_700_000_000_123_000_000)
        );
        assert_eq!(
            parse_time("from", "1700000000123456", now),
            Ok(1_700_000_000_123_456_000)
        );
        assert_eq!(
            parse_time("from", "1700000000123456789", now),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_time("from", "1_700_000_000", now),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_time("from", "20231114", now),
            Ok(1_699_920_000_000_000_000)
        );
        assert_eq!(
            parse_time("from", "now-1h", now),
            Ok(now - 3_600_000_000_000)
        );
        assert_eq!(
            parse_time("from", "now+30min", now),
            Ok(now + 1_800_000_000_000)
        );
        assert_eq!(parse_time("from", "", now), Ok(now));
        assert!(parse_time("from", "yesterday", now).is_err());
        assert!(parse_time("from", "now-1x", now).is_err());
    }

    #[test]
    fn folded_types() {
        assert_eq!(folded_type("app").unwrap().1.name, "process_cpu");
        assert_eq!(folded_type("app.cpu").unwrap().0, "app");
        assert_eq!(
            folded_type("app.alloc_space").unwrap().1.sample_type,
            "alloc_space"
        );
        assert_eq!(folded_type("svc.wall").unwrap().1.name, "wall");
        assert!(matches!(
            folded_type("my.app"),
            Err(IngestError::UnknownProfileType(_))
        ));
    }

    #[test]
    fn pprof_names() {
        let none = BTreeMap::new();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pprof_profile_name(&s(&["samples", "cpu"]), &none),
            Some("process_cpu")
        );
        assert_eq!(
            pprof_profile_name(
                &s(&[
                    "alloc_objects",
                    "alloc_space",
                    "inuse_objects",
                    "inuse_space"
                ]),
                &none
            ),
            Some("memory")
        );
        assert_eq!(
            pprof_profile_name(&s(&["contentions", "delay"]), &none),
            Some("mutex")
        );
        assert_eq!(
            pprof_profile_name(&s(&["goroutine"]), &none),
            Some("goroutines")
        );
        assert_eq!(
            pprof_profile_name(&s(&["samples", "wall"]), &none),
            Some("wall")
        );
        let cfg = parse_sample_type_config(br#"{"contentions":{"display-name":"block_count"},"delay":{"display-name":"block_duration"}}"#).unwrap();
        assert_eq!(
            pprof_profile_name(&s(&["contentions", "delay"]), &cfg),
            Some("block")
        );
        assert_eq!(pprof_profile_name(&s(&["weird"]), &none), None);
    }
}
