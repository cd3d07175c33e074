//! Rewrites of a pprof so the server accepts it (spec §1.4, §6 rule 5, §7.2): CPU scaling,
//! sample type names, per-sample label keys and limits.

use std::collections::BTreeSet;

use crate::hash::{HashMap, HashSet};
use crate::pprof::{Profile, ValueType};

use super::names::sanitize_label_name;
use super::{label, string_index};

/// The index of `s` in the string table, appending it when absent.
fn intern(p: &mut Profile, s: &str) -> i64 {
    if s.is_empty() {
        return 0;
    }
    if let Some(i) = string_index(p, s) {
        return i;
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
