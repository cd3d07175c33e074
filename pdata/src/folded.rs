//! Folded / collapsed stack text (spec `pprof-otlp-mapping.md` §6): Brendan Gregg's
//! `frame;frame;leaf 123` and jfr-parser's `frame:LINE;...;leaf:LINE [v1 v2 …]`.

use std::collections::BTreeMap;

use crate::hash::HashMap;

use crate::collector::ExportProfilesServiceRequest;
use crate::common::{InstrumentationScope, KeyValue};
use crate::dict::DictionaryBuilder;
use crate::proto::{
    Function, Line, Location, Profile, ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles,
    ValueType,
};
use crate::resource::Resource;
use crate::view::Dict;

/// One parsed line: frames root first, and one value per sample type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedStack {
    pub frames: Vec<String>,
    pub values: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldedError {
    /// `line` is 1-based.
    #[error("folded line {line}: {message}")]
    Line { line: usize, message: String },
    /// Two trailing counts: Brendan Gregg's differential ("difffolded") format.
    #[error(
        "folded line {line}: two trailing counts (differential 'difffolded' format) are not supported"
    )]
    Differential { line: usize },
}

/// Non-fatal findings of [`parse_with_report`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldedReport {
    /// Fractional counts rounded to the nearest integer (flamegraph.pl accepts them).
    pub fractional_counts_rounded: usize,
    pub empty_lines_skipped: usize,
}

/// Parses an unsigned count `\d+(\.\d*)?`, rounding a fraction. `Ok(None)` when it is no number.
fn parse_count(s: &str) -> Option<(i64, bool)> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match frac {
        None => int.parse::<i64>().ok().map(|v| (v, false)),
        Some(f) if f.bytes().all(|b| b.is_ascii_digit()) => {
            let v: f64 = s.trim_end_matches('.').parse().ok()?;
            let r = v.round();
            if !(0.0..9.2e18).contains(&r) {
                return None;
            }
            // In range, checked above.
            Some((r as i64, !f.is_empty() && f.bytes().any(|b| b != b'0')))
        }
        Some(_) => None,
    }
}

fn is_count(s: &str) -> bool {
    parse_count(s).is_some()
}

fn split_frames(stack: &str) -> Vec<String> {
    stack.split(';').map(str::to_owned).collect()
}

/// Parses folded text in either variant, with a report of non-fatal findings.
pub fn parse_with_report(text: &str) -> Result<(Vec<FoldedStack>, FoldedReport), FoldedError> {
    let mut out = Vec::new();
    let mut report = FoldedReport::default();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end();
        if line.trim_start().is_empty() {
            report.empty_lines_skipped += 1;
            continue;
        }
        let err = |message: &str| FoldedError::Line {
            line: line_no,
            message: message.to_owned(),
        };
        if let Some(body) = line.strip_suffix(']') {
            let Some((stack, list)) = body.rsplit_once('[') else {
                return Err(err("']' without a matching '['"));
            };
            let mut values = Vec::new();
            for tok in list.split_whitespace() {
                let (neg, digits) = match tok.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, tok),
                };
                let (v, frac) = parse_count(digits)
                    .ok_or_else(|| err(&format!("invalid value {tok:?} in brackets")))?;
                if frac {
                    report.fractional_counts_rounded += 1;
                }
                values.push(if neg { -v } else { v });
            }
            if values.is_empty() {
                return Err(err("empty value list"));
            }
            out.push(FoldedStack {
                // The oracle writes exactly one space before the list.
                frames: split_frames(stack.strip_suffix(' ').unwrap_or(stack)),
                values,
            });
            continue;
        }
        let Some((stack, count)) = line.rsplit_once([' ', '\t']) else {
            return Err(err("missing count after the stack"));
        };
        let Some((v, frac)) = parse_count(count) else {
            return Err(err(&format!("invalid count {count:?}")));
        };
        // Only the separator goes: flamegraph.pl keeps a frame made of spaces (`a;  3` has the
        // leaf frame " ").
        if let Some((_, prev)) = stack.rsplit_once([' ', '\t'])
            && is_count(prev)
        {
            return Err(FoldedError::Differential { line: line_no });
        }
        if stack.is_empty() {
            return Err(err("empty stack"));
        }
        if frac {
            report.fractional_counts_rounded += 1;
        }
        out.push(FoldedStack {
            frames: split_frames(stack),
            values: vec![v],
        });
    }
    Ok((out, report))
}

/// Parses `a;b;c 12` (split at the last space; a fractional count is rounded) and
/// `a;b;c [12 3]` (bracketed list). Empty lines are skipped; two trailing counts are rejected as
/// the differential format.
pub fn parse(text: &str) -> Result<Vec<FoldedStack>, FoldedError> {
    parse_with_report(text).map(|(s, _)| s)
}

/// Folded stacks → one request with one Profile per sample type (default `samples`/`count`):
/// function names only, one Location per distinct frame name, no mappings; identical stacks are
/// summed.
pub fn to_otlp(
    stacks: &[FoldedStack],
    sample_types: &[(&str, &str)],
    resource: Vec<KeyValue>,
) -> ExportProfilesServiceRequest {
    let types: Vec<(&str, &str)> = if sample_types.is_empty() {
        vec![("samples", "count")]
    } else {
        sample_types.to_vec()
    };
    let mut d = DictionaryBuilder::new();
    let mut frame_loc: HashMap<&str, i32> = HashMap::default();
    let mut index: HashMap<i32, usize> = HashMap::default();
    let mut groups: Vec<(i32, Vec<i64>)> = Vec::new();
    for s in stacks {
        let mut locs = Vec::with_capacity(s.frames.len());
        for f in s.frames.iter().rev() {
            let loc = match frame_loc.get(f.as_str()) {
                Some(&l) => l,
                None => {
                    let name = d.string(f);
                    let function_index = d.function(Function {
                        name_strindex: name,
                        ..Default::default()
                    });
                    let l = d.location(Location {
                        mapping_index: 0,
                        address: 0,
                        lines: vec![Line {
                            function_index,
                            line: 0,
                            column: 0,
                        }],
                        attribute_indices: Vec::new(),
                    });
                    frame_loc.insert(f, l);
                    l
                }
            };
            locs.push(loc);
        }
        let stack = d.stack(locs);
        let gi = *index.entry(stack).or_insert_with(|| {
            groups.push((stack, vec![0; types.len()]));
            groups.len() - 1
        });
        if let Some((_, acc)) = groups.get_mut(gi) {
            for (a, v) in acc.iter_mut().zip(&s.values) {
                *a = a.saturating_add(*v);
            }
        }
    }
    let profiles = types
        .iter()
        .enumerate()
        .map(|(ti, (ty, unit))| Profile {
            sample_type: Some(ValueType {
                type_strindex: d.string(ty),
                unit_strindex: d.string(unit),
            }),
            samples: groups
                .iter()
                .map(|(stack, values)| Sample {
                    stack_index: *stack,
                    values: vec![values.get(ti).copied().unwrap_or(0)],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: "profcol".into(),
                    ..Default::default()
                }),
                profiles,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(d.finish()),
    }
}

/// A validated request → one folded text per Profile, as `("type/unit", text)`. Each line is
/// `root;...;leaf total` (frame labels per [`crate::Frame::label`]), one per distinct stack,
/// summed, sorted; stacks totalling 0 are left out.
pub fn from_otlp(req: &ExportProfilesServiceRequest) -> Vec<(String, String)> {
    let empty = ProfilesDictionary::default();
    let dict = Dict::new(req.dictionary.as_ref().unwrap_or(&empty));
    let mut out = Vec::new();
    for p in req
        .resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .flat_map(|sp| &sp.profiles)
    {
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        for s in &p.samples {
            let frames = dict.stack_frames(s.stack_index);
            let key: Vec<String> = frames.iter().rev().map(|f| f.label()).collect();
            let total = if s.values.is_empty() {
                i64::try_from(s.timestamps_unix_nano.len()).unwrap_or(i64::MAX)
            } else {
                s.values.iter().fold(0i64, |a, &v| a.saturating_add(v))
            };
            let e = totals.entry(key.join(";")).or_insert(0);
            *e = e.saturating_add(total);
        }
        let mut text = String::new();
        for (stack, v) in totals.into_iter().filter(|(_, v)| *v != 0) {
            text.push_str(&stack);
            text.push(' ');
            text.push_str(&v.to_string());
            text.push('\n');
        }
        let ty = p
            .sample_type
            .map(|vt| {
                format!(
                    "{}/{}",
                    dict.string(vt.type_strindex),
                    dict.string(vt.unit_strindex)
                )
            })
            .unwrap_or_else(|| "/".into());
        out.push((ty, text));
    }
    out
}

/// Renders a pprof in jfr-parser's oracle format (`grafana/jfr-parser: pprof/parser_test.go
/// stackCollapseProto`): `frame:LINE;...;leaf:LINE [v1 v2 ...]` with one value per sample type,
/// lines sorted, identical stacks merged, all-zero stacks dropped.
pub fn pprof_to_collapsed_with_lines(p: &crate::pprof::Profile) -> String {
    let locations: HashMap<u64, &crate::pprof::Location> =
        p.location.iter().map(|l| (l.id, l)).collect();
    let functions: HashMap<u64, &crate::pprof::Function> =
        p.function.iter().map(|f| (f.id, f)).collect();
    let n = p.sample_type.len();
    let mut merged: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for s in &p.sample {
        let mut frames = Vec::new();
        for id in &s.location_id {
            let Some(l) = locations.get(id) else {
                continue;
            };
            for ln in &l.line {
                let name = functions
                    .get(&ln.function_id)
                    .map(|f| p.string(f.name))
                    .unwrap_or_default();
                frames.push(format!("{name}:{}", ln.line));
            }
        }
        frames.reverse();
        let acc = merged
            .entry(frames.join(";"))
            .or_insert_with(|| vec![0; n.max(s.value.len())]);
        if acc.len() < s.value.len() {
            acc.resize(s.value.len(), 0);
        }
        for (a, v) in acc.iter_mut().zip(&s.value) {
            *a = a.saturating_add(*v);
        }
    }
    let mut out = String::new();
    for (stack, values) in merged {
        if values.iter().all(|&v| v == 0) {
            continue;
        }
        let vals: Vec<String> = values.iter().map(i64::to_string).collect();
        out.push_str(&stack);
        out.push_str(" [");
        out.push_str(&vals.join(" "));
        out.push_str("]\n");
    }
    out
}
