//! Cutting a pprof into parts: by sample subset (keeping only the tables a part needs), by a
//! per-sample label, and by the server's size and sample limits.

use super::string_index;
use crate::hash::{HashMap, HashSet};
use crate::pprof::{Function, Location, Mapping, Profile, Sample, ValueType};

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

    fn value_type(&mut self, vt: &ValueType) -> ValueType {
        ValueType {
            r#type: self.get(vt.r#type),
            unit: self.get(vt.unit),
        }
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
    let sample_type = p.sample_type.iter().map(|vt| st.value_type(vt)).collect();
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
    let period_type = p.period_type.map(|vt| st.value_type(&vt));
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
    let Some(k) = string_index(&p, key).filter(|&k| k != 0) else {
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
