//! Validated requests → rows in per-partition [`Tables`]: the one flattening of OTLP samples
//! into the layout, used by the `parquet` exporter and by `profcol query --input`.
//!
//! Frames come from the pdata view ([`Dict::location_frames`]), so every field is resolved in one
//! place. What a row holds (the spec, `specs/parquet.md`, plus profcol's choices where it is
//! silent):
//! - `time`: the sample's first timestamp, else the profile's `time_unix_nano`, else the time
//!   profcol received it (`fallback_time`);
//! - `value`: the sum of `values`, or the number of timestamps without values;
//!   `observation_values` only when there is more than one value;
//! - frames: one per line of each location, leaf first; a location without lines is one frame
//!   with empty function fields (no synthetic `mapping+0xADDR` label);
//! - `span_name`: the sample attribute `span.name`, else `span_name` (empty is null);
//! - ids (`trace_id`, `span_id`, `profile_id`) are null when all zero; `period` is set when the
//!   profile has a period type; attribute values are text; empty maps are null.

use profcol_pdata::hash::HashMap;
use std::borrow::Cow;

use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::common::KeyValue;
use profcol_pdata::proto::{Profile, Sample, ValueType};
use profcol_pdata::view::{Dict, Frame};

use crate::partition::{NSEC_PER_HOUR, PartKey, UNKNOWN_SERVICE, sample_time};
use crate::schema::PROMOTED;
use crate::tables::{Consts, ELEMENT_BYTES, FrameRow, NONE, ROW_BYTES, RowLimits, Tables, d};

fn resource_attr<'a>(dict: Dict<'a>, attrs: &'a [KeyValue], key: &str) -> Option<Cow<'a, str>> {
    attrs
        .iter()
        .find(|kv| dict.key_of(kv) == key)
        .map(|kv| dict.value_text(kv.value.as_ref()))
}

/// Strings of one profile group, resolved once per profile.
struct GroupStrings<'a> {
    dict: [Option<Cow<'a, str>>; d::N_CONSTS],
    period: Option<i64>,
    profile_id: Option<[u8; 16]>,
    profile_time: i64,
    duration: Option<i64>,
    profile_attrs: Vec<(&'a str, Cow<'a, str>)>,
}

/// Strings of one resource and scope, resolved once per scope.
struct ResourceStrings<'a> {
    service: String,
    promoted: [Option<Cow<'a, str>>; 7],
    attrs: Vec<(&'a str, Cow<'a, str>)>,
    scope_name: Option<&'a str>,
    scope_version: Option<&'a str>,
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn nonzero_id<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    let a: [u8; N] = b.try_into().ok()?;
    a.iter().any(|&x| x != 0).then_some(a)
}

fn vt<'a>(dict: Dict<'a>, v: &Option<ValueType>) -> Option<(&'a str, &'a str)> {
    v.as_ref()
        .map(|v| (dict.string(v.type_strindex), dict.string(v.unit_strindex)))
}

fn group_strings<'a>(dict: Dict<'a>, r: &ResourceStrings<'a>, p: &'a Profile) -> GroupStrings<'a> {
    let (st, su) = vt(dict, &p.sample_type).unwrap_or(("", ""));
    let period = vt(dict, &p.period_type);
    let (pt, pu) = period.unwrap_or(("", ""));
    let mut g: [Option<Cow<'a, str>>; d::N_CONSTS] = Default::default();
    g[d::PROFILE_TYPE] = Some(Cow::Owned(format!("{st}:{su}:{pt}:{pu}")));
    g[d::SAMPLE_TYPE] = Some(Cow::Borrowed(st));
    g[d::SAMPLE_UNIT] = Some(Cow::Borrowed(su));
    g[d::PERIOD_TYPE] = period.map(|(t, _)| Cow::Borrowed(t));
    g[d::PERIOD_UNIT] = period.map(|(_, u)| Cow::Borrowed(u));
    g[d::PAYLOAD_FORMAT] = non_empty(&p.original_payload_format).map(Cow::Borrowed);
    for (i, v) in r.promoted.iter().enumerate() {
        g[d::PROMOTED + i] = v.clone();
    }
    g[d::SCOPE_NAME] = r.scope_name.map(Cow::Borrowed);
    g[d::SCOPE_VERSION] = r.scope_version.map(Cow::Borrowed);
    GroupStrings {
        dict: g,
        period: period.map(|_| p.period),
        profile_id: nonzero_id::<16>(&p.profile_id),
        profile_time: i64::try_from(p.time_unix_nano).unwrap_or(i64::MAX),
        duration: (p.duration_nano > 0).then(|| i64::try_from(p.duration_nano).unwrap_or(i64::MAX)),
        profile_attrs: p
            .attribute_indices
            .iter()
            .filter_map(|&i| dict.attribute(i))
            .map(|(k, v, _)| (k, dict.value_text(v)))
            .collect(),
    }
}

/// Per (request, partition) memo from source dictionary indices to partition table entries.
#[derive(Default)]
struct Memo<'r> {
    /// source location → (start, len) in `loc_frames`; start `NONE` = not yet resolved
    loc: Vec<(u32, u32)>,
    loc_frames: Vec<u32>,
    /// source stack → partition stack
    stack: Vec<u32>,
    /// sample attribute list → (map id, span name key)
    attrs: HashMap<&'r [i32], (u32, i32)>,
    scratch: Vec<u32>,
    /// The resolved frames of one location.
    view: Vec<Frame<'r>>,
}

/// Where appended rows go: the partitions (created on demand by the sink).
pub trait Sink {
    /// The tables of `key`'s partition, creating it (which may close another) when absent.
    fn partition(&mut self, key: &PartKey) -> &mut Tables;
    /// Called when `key`'s partition was closed and dropped while appending (memos must go).
    fn take_evicted(&mut self) -> Vec<PartKey>;
    /// When a partition's buffered rows must be written out before more are appended.
    fn limits(&self) -> RowLimits;
    /// Writes `key`'s buffered rows out (they reached [`Sink::limits`]) in the middle of a
    /// request, so one request cannot buffer without bound.
    fn flush_full(&mut self, key: &PartKey);
}

/// Appends every sample of a validated request; returns the number of rows appended.
/// `fallback_time` (Unix ns) stands in for samples and profiles without a time.
pub fn append_request(
    req: &ExportProfilesServiceRequest,
    fallback_time: i64,
    sink: &mut dyn Sink,
) -> usize {
    let dict = Dict::of_request(req);
    let mut memos: HashMap<PartKey, Memo<'_>> = HashMap::default();
    let mut appended = 0usize;
    let mut times: Vec<i64> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    let limits = sink.limits();
    for rp in &req.resource_profiles {
        let attrs: &[KeyValue] = rp
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        let service = resource_attr(dict, attrs, "service.name")
            .filter(|s| !s.is_empty())
            .map(|s| s.into_owned())
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
        let mut promoted: [Option<Cow<'_, str>>; 7] = Default::default();
        for (slot, (_, keys)) in PROMOTED.iter().enumerate() {
            promoted[slot] = keys
                .iter()
                .find_map(|k| resource_attr(dict, attrs, k).filter(|v| !v.is_empty()));
        }
        let rattrs: Vec<(&str, Cow<'_, str>)> = attrs
            .iter()
            .map(|kv| (dict.key_of(kv), dict.value_text(kv.value.as_ref())))
            .collect();
        for sp in &rp.scope_profiles {
            let rs = ResourceStrings {
                service: service.clone(),
                promoted: promoted.clone(),
                attrs: rattrs.clone(),
                scope_name: sp.scope.as_ref().and_then(|s| non_empty(&s.name)),
                scope_version: sp.scope.as_ref().and_then(|s| non_empty(&s.version)),
            };
            for p in &sp.profiles {
                if p.samples.is_empty() {
                    continue;
                }
                let gs = group_strings(dict, &rs, p);
                times.clear();
                times.extend(p.samples.iter().map(|s| sample_time(s, p, fallback_time)));
                // Samples in hour order (stable, so each hour keeps the sample order), in one
                // pass however many hours the profile spans.
                let hour_of = |i: usize| times.get(i).map_or(0, |t| t.div_euclid(NSEC_PER_HOUR));
                order.clear();
                order.extend(0..p.samples.len());
                order.sort_by_key(|&i| hour_of(i));
                for run in order.chunk_by(|&a, &b| hour_of(a) == hour_of(b)) {
                    let Some(&first) = run.first() else {
                        continue;
                    };
                    let key = PartKey {
                        service: rs.service.clone(),
                        hour: hour_of(first),
                    };
                    let mut rest = run;
                    while !rest.is_empty() {
                        let tables = sink.partition(&key);
                        let consts = intern_consts(tables, &gs, &rs);
                        let memo = memos.entry(key.clone()).or_default();
                        let mut taken = 0;
                        for &i in rest {
                            // Counted before anything else, so `rest` always shrinks.
                            taken += 1;
                            let (Some(s), Some(&t)) = (p.samples.get(i), times.get(i)) else {
                                continue;
                            };
                            push_sample(tables, memo, dict, s, t, consts);
                            appended += 1;
                            if limits.reached(&tables.rows) {
                                break;
                            }
                        }
                        let full = limits.reached(&tables.rows);
                        rest = rest.get(taken..).unwrap_or(&[]);
                        if full {
                            sink.flush_full(&key);
                        }
                        for k in sink.take_evicted() {
                            memos.remove(&k);
                        }
                    }
                }
            }
        }
    }
    appended
}

fn intern_consts(t: &mut Tables, g: &GroupStrings<'_>, r: &ResourceStrings<'_>) -> u32 {
    let mut keys = [-1i32; d::N_CONSTS];
    for (i, v) in g.dict.iter().enumerate() {
        if let Some(v) = v {
            keys[i] = t.dicts[i].intern(v);
        }
    }
    let c = Consts {
        dict: keys,
        period: g.period,
        profile_id: g.profile_id,
        profile_time: g.profile_time,
        duration: g.duration,
        profile_attrs: t
            .maps
            .intern(g.profile_attrs.iter().map(|(k, v)| (*k, v.clone()))),
        resource_attrs: t.maps.intern(r.attrs.iter().map(|(k, v)| (*k, v.clone()))),
    };
    t.consts.push(c);
    u32::try_from(t.consts.len() - 1).unwrap_or(NONE)
}

/// The frames of one source location, interned into the partition (leaf first).
fn location_frames<'r>(
    t: &mut Tables,
    dict: Dict<'r>,
    loc_index: i32,
    view: &mut Vec<Frame<'r>>,
    out: &mut Vec<u32>,
) {
    view.clear();
    dict.location_frames(loc_index, view);
    for f in view.iter() {
        let s = [
            t.dicts[d::F_FUNCTION].intern(f.function),
            t.dicts[d::F_SYSTEM].intern(f.system_name),
            t.dicts[d::F_FILE].intern(f.file),
            t.dicts[d::F_MAPPING_FILE].intern(f.mapping),
            t.dicts[d::F_BUILD_ID].intern(f.build_id),
            t.dicts[d::F_FRAME_TYPE].intern(&f.frame_type),
        ];
        out.push(t.frame(FrameRow {
            s,
            start_line: f.start_line,
            line: f.line,
            column: f.column,
            inlined: f.inlined,
            address: f.address,
            m: [f.mapping_start, f.mapping_limit, f.mapping_offset],
        }));
    }
}

fn stack_of<'r>(t: &mut Tables, memo: &mut Memo<'r>, dict: Dict<'r>, stack_index: i32) -> u32 {
    let si = usize::try_from(stack_index).unwrap_or(0);
    if memo.stack.is_empty() {
        memo.stack = vec![NONE; dict.raw.stack_table.len().max(1)];
        memo.loc = vec![(NONE, 0); dict.raw.location_table.len().max(1)];
    }
    if let Some(&s) = memo.stack.get(si)
        && s != NONE
    {
        return s;
    }
    let mut frames = std::mem::take(&mut memo.scratch);
    frames.clear();
    if let Some(st) = dict.stack(stack_index) {
        for &l in &st.location_indices {
            let li = usize::try_from(l).unwrap_or(usize::MAX);
            match memo.loc.get(li) {
                Some(&(start, len)) if start != NONE => {
                    let (a, b) = (start as usize, start as usize + len as usize);
                    frames.extend_from_slice(memo.loc_frames.get(a..b).unwrap_or(&[]));
                }
                Some(_) => {
                    let start = memo.loc_frames.len();
                    location_frames(t, dict, l, &mut memo.view, &mut memo.loc_frames);
                    let len = memo.loc_frames.len() - start;
                    if let Some(slot) = memo.loc.get_mut(li) {
                        *slot = (
                            u32::try_from(start).unwrap_or(NONE),
                            u32::try_from(len).unwrap_or(0),
                        );
                    }
                    frames.extend_from_slice(&memo.loc_frames[start..]);
                }
                None => {}
            }
        }
    }
    let s = t.stack(&frames);
    memo.scratch = frames;
    if let Some(slot) = memo.stack.get_mut(si) {
        *slot = s;
    }
    s
}

fn push_sample<'r>(
    t: &mut Tables,
    memo: &mut Memo<'r>,
    dict: Dict<'r>,
    s: &'r Sample,
    time: i64,
    consts: u32,
) {
    let stack = stack_of(t, memo, dict, s.stack_index);
    let (attrs, span_name) = match memo.attrs.get(s.attribute_indices.as_slice()) {
        Some(&v) => v,
        None => {
            let kv: Vec<(&str, Cow<'_, str>)> = s
                .attribute_indices
                .iter()
                .filter_map(|&i| dict.attribute(i))
                .map(|(k, v, _)| (k, dict.value_text(v)))
                .collect();
            let span = kv
                .iter()
                .find(|(k, _)| *k == "span.name")
                .or_else(|| kv.iter().find(|(k, _)| *k == "span_name"))
                .map(|(_, v)| v.clone());
            let span_key = match span {
                Some(v) if !v.is_empty() => t.dicts[d::SPAN_NAME].intern(&v),
                _ => -1,
            };
            let id = t.maps.intern(kv);
            memo.attrs
                .insert(s.attribute_indices.as_slice(), (id, span_key));
            (id, span_key)
        }
    };
    let link = dict.link(s.link_index);
    let r = &mut t.rows;
    r.time.push(time);
    r.value.push(total(s));
    r.consts.push(consts);
    r.stack.push(stack);
    let mut extra = 0usize;
    if s.values.len() > 1 {
        let start = u32::try_from(r.values_flat.len()).unwrap_or(u32::MAX);
        r.values_flat.extend_from_slice(&s.values);
        r.obs_values
            .push((start, u32::try_from(s.values.len()).unwrap_or(0)));
        extra += s.values.len();
    } else {
        r.obs_values.push((0, 0));
    }
    if !s.timestamps_unix_nano.is_empty() {
        let start = u32::try_from(r.ts_flat.len()).unwrap_or(u32::MAX);
        r.ts_flat.extend(
            s.timestamps_unix_nano
                .iter()
                .map(|&t| i64::try_from(t).unwrap_or(i64::MAX)),
        );
        r.obs_ts.push((
            start,
            u32::try_from(s.timestamps_unix_nano.len()).unwrap_or(0),
        ));
        extra += s.timestamps_unix_nano.len();
    } else {
        r.obs_ts.push((0, 0));
    }
    r.trace
        .push(link.and_then(|l| nonzero_id::<16>(&l.trace_id)));
    r.span.push(link.and_then(|l| nonzero_id::<8>(&l.span_id)));
    r.span_name.push(span_name);
    r.sample_attrs.push(attrs);
    let frames = t.stacks.frames_of(stack).len();
    let entries = t.maps.entries(attrs).len();
    r.elements += frames + entries + extra;
    r.bytes += ROW_BYTES + ELEMENT_BYTES * (frames + entries + extra);
    t.total_rows += 1;
    t.min_time = t.min_time.min(time);
    t.max_time = t.max_time.max(time);
}

/// The sample's weight: the sum of its values, or its number of timestamps without values.
pub fn total(s: &Sample) -> i64 {
    if s.values.is_empty() {
        i64::try_from(s.timestamps_unix_nano.len()).unwrap_or(i64::MAX)
    } else {
        s.values.iter().fold(0i64, |a, &v| a.saturating_add(v))
    }
}
