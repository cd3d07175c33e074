//! Cumulative → delta for scraped pprof (Go's allocs/heap, mutex and block profiles count from
//! process start): subtract the previous scrape of the same target, per sample identity.

use std::collections::HashMap;

use profcol_pdata::pprof::{Profile, Sample};

/// A sample's identity independent of ids: per frame (leaf first) the mapping file, address and
/// function/file/line of each line, plus the sorted labels.
type Key = (
    Vec<(String, u64, Vec<(String, String, i64)>)>,
    Vec<(String, String, i64, String)>,
);

fn sample_key(
    p: &Profile,
    s: &Sample,
    locs: &HashMap<u64, usize>,
    funcs: &HashMap<u64, usize>,
    maps: &HashMap<u64, usize>,
) -> Key {
    let frames = s
        .location_id
        .iter()
        .map(|id| match locs.get(id).and_then(|&i| p.location.get(i)) {
            Some(l) => {
                let mapping = maps
                    .get(&l.mapping_id)
                    .and_then(|&i| p.mapping.get(i))
                    .map(|m| p.string(m.filename).into_owned())
                    .unwrap_or_default();
                let lines = l
                    .line
                    .iter()
                    .map(
                        |ln| match funcs.get(&ln.function_id).and_then(|&i| p.function.get(i)) {
                            Some(f) => (
                                p.string(f.name).into_owned(),
                                p.string(f.filename).into_owned(),
                                ln.line,
                            ),
                            None => (String::new(), String::new(), ln.line),
                        },
                    )
                    .collect();
                (mapping, l.address, lines)
            }
            None => (String::new(), *id, Vec::new()),
        })
        .collect();
    let mut labels: Vec<(String, String, i64, String)> = s
        .label
        .iter()
        .map(|l| {
            (
                p.string(l.key).into_owned(),
                p.string(l.str).into_owned(),
                l.num,
                p.string(l.num_unit).into_owned(),
            )
        })
        .collect();
    labels.sort();
    (frames, labels)
}

/// Whether a sample type accumulates over the process lifetime.
pub fn is_cumulative(type_name: &str) -> bool {
    type_name.starts_with("alloc_") || matches!(type_name, "contentions" | "delay")
}

/// One scrape: its sample type names and the summed values per sample identity.
type Snapshot = (Vec<String>, HashMap<Key, Vec<i64>>);

/// Remembers the previous scrape of one target and profile type.
#[derive(Default)]
pub struct DeltaState {
    prev: Option<Snapshot>,
}

impl DeltaState {
    /// Returns the delta profile, or `None` for the first scrape (it only primes the state).
    /// Sample types that are not cumulative (e.g. `inuse_space`) keep their current values.
    /// A value lower than before (the process restarted) counts from zero again.
    pub fn apply(&mut self, cur: &Profile) -> Option<Profile> {
        let types: Vec<String> = cur
            .sample_type
            .iter()
            .map(|t| cur.string(t.r#type).into_owned())
            .collect();
        let locs: HashMap<u64, usize> = cur
            .location
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i))
            .collect();
        let funcs: HashMap<u64, usize> = cur
            .function
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id, i))
            .collect();
        let maps: HashMap<u64, usize> = cur
            .mapping
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, i))
            .collect();
        // Sum duplicates of the same identity, keeping the first sample as the representative.
        let mut order: Vec<Key> = Vec::new();
        let mut sums: HashMap<Key, (usize, Vec<i64>)> = HashMap::new();
        for (i, s) in cur.sample.iter().enumerate() {
            let k = sample_key(cur, s, &locs, &funcs, &maps);
            match sums.get_mut(&k) {
                Some((_, v)) => {
                    for (a, b) in v.iter_mut().zip(&s.value) {
                        *a = a.saturating_add(*b);
                    }
                }
                None => {
                    order.push(k.clone());
                    sums.insert(k, (i, s.value.clone()));
                }
            }
        }
        let current: HashMap<Key, Vec<i64>> = sums
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect();
        let prev = self.prev.replace((types.clone(), current));
        let (prev_types, prev_values) = prev?;
        if prev_types != types {
            // The sample types changed (a different program answers): start over.
            return None;
        }
        let cumulative: Vec<bool> = types.iter().map(|t| is_cumulative(t)).collect();
        let mut out = cur.clone();
        out.sample.clear();
        for k in order {
            let Some((first, values)) = sums.get(&k) else {
                continue;
            };
            let before = prev_values.get(&k);
            let delta: Vec<i64> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if !cumulative.get(i).copied().unwrap_or(false) {
                        return v;
                    }
                    let b = before.and_then(|p| p.get(i)).copied().unwrap_or(0);
                    if v >= b { v - b } else { v }
                })
                .collect();
            if delta.iter().all(|&v| v == 0) {
                continue;
            }
            let Some(src) = cur.sample.get(*first) else {
                continue;
            };
            out.sample.push(Sample {
                location_id: src.location_id.clone(),
                value: delta,
                label: src.label.clone(),
            });
        }
        Some(out)
    }
}
