//! Validated requests → per-partition row buffers.
//!
//! A partition (service, hour) keeps, for the life of its current file, interned dictionaries
//! (one per dictionary column), a frame table, a stack table and a table of attribute maps. Each
//! buffered row then holds a few numbers and references into those tables, so a buffered sample
//! costs about a hundred bytes however deep its stack is; the frame lists are expanded only when
//! a row group is built (`arrays.rs`).

use profcol_pdata::hash::HashMap;
use std::borrow::Cow;

use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::common::{AnyValue, KeyValue, any_value::Value};
use profcol_pdata::proto::{Profile, ProfilesDictionary, Sample, ValueType};
use profcol_pdata::view::{Dict, any_value_text};

use super::schema::PROMOTED;

/// Dictionary columns: indices into [`Tables::dicts`].
pub mod d {
    pub const PROFILE_TYPE: usize = 0;
    pub const SAMPLE_TYPE: usize = 1;
    pub const SAMPLE_UNIT: usize = 2;
    pub const PERIOD_TYPE: usize = 3;
    pub const PERIOD_UNIT: usize = 4;
    pub const PAYLOAD_FORMAT: usize = 5;
    /// The 7 promoted resource columns start here (schema::PROMOTED order).
    pub const PROMOTED: usize = 6;
    pub const SCOPE_NAME: usize = 13;
    pub const SCOPE_VERSION: usize = 14;
    /// Row-level dictionary keys held per profile group.
    pub const N_CONSTS: usize = 15;
    pub const SPAN_NAME: usize = 15;
    pub const F_FUNCTION: usize = 16;
    pub const F_SYSTEM: usize = 17;
    pub const F_FILE: usize = 18;
    pub const F_MAPPING_FILE: usize = 19;
    pub const F_BUILD_ID: usize = 20;
    pub const F_FRAME_TYPE: usize = 21;
    pub const N: usize = 22;
}

/// No entry (null).
pub const NONE: u32 = u32::MAX;
const NSEC_PER_HOUR: i64 = 3_600_000_000_000;
/// Rough per-entry overhead of a hash-map entry, for memory accounting.
const ENTRY: usize = 48;

/// Interned strings of one dictionary column (or of the attribute maps).
#[derive(Default)]
pub struct Interner {
    map: HashMap<Box<str>, i32>,
    pub values: Vec<Box<str>>,
    pub bytes: usize,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> i32 {
        if let Some(&k) = self.map.get(s) {
            return k;
        }
        let k = i32::try_from(self.values.len()).unwrap_or(i32::MAX);
        self.values.push(s.into());
        self.map.insert(s.into(), k);
        self.bytes += 2 * s.len() + ENTRY;
        k
    }

    pub fn get(&self, k: i32) -> &str {
        usize::try_from(k)
            .ok()
            .and_then(|i| self.values.get(i))
            .map(|s| &**s)
            .unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// One frame (one line of a location), with its strings as dictionary keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FrameRow {
    /// function, system name, file, mapping file, build id, frame type
    pub s: [i32; 6],
    pub start_line: i64,
    pub line: i64,
    pub column: i64,
    pub inlined: bool,
    pub address: u64,
    /// mapping start, limit, offset
    pub m: [u64; 3],
}

const FRAME_DICTS: [usize; 6] = [
    d::F_FUNCTION,
    d::F_SYSTEM,
    d::F_FILE,
    d::F_MAPPING_FILE,
    d::F_BUILD_ID,
    d::F_FRAME_TYPE,
];

/// Distinct stacks as runs of frame ids.
#[derive(Default)]
pub struct Stacks {
    index: HashMap<Box<[u32]>, u32>,
    /// `offsets[i]..offsets[i+1]` are stack i's frames in `frames`, leaf first.
    pub offsets: Vec<u32>,
    pub frames: Vec<u32>,
    /// The stable `stack_id` of each stack.
    pub ids: Vec<u64>,
}

impl Stacks {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn frames_of(&self, i: u32) -> &[u32] {
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.frames.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Distinct attribute maps as runs of (key, value) string ids.
#[derive(Default)]
pub struct Maps {
    pub strings: Interner,
    index: HashMap<Box<[(i32, i32)]>, u32>,
    pub offsets: Vec<u32>,
    pub pairs: Vec<(i32, i32)>,
}

impl Maps {
    pub fn entries(&self, i: u32) -> &[(i32, i32)] {
        if i == NONE {
            return &[];
        }
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.pairs.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Interns a map; an empty one is [`NONE`] (null).
    fn intern<'a>(&mut self, kv: impl IntoIterator<Item = (&'a str, Cow<'a, str>)>) -> u32 {
        let pairs: Vec<(i32, i32)> = kv
            .into_iter()
            .map(|(k, v)| (self.strings.intern(k), self.strings.intern(&v)))
            .collect();
        if pairs.is_empty() {
            return NONE;
        }
        if let Some(&i) = self.index.get(&pairs[..]) {
            return i;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let i = u32::try_from(self.offsets.len() - 1).unwrap_or(NONE);
        self.pairs.extend_from_slice(&pairs);
        self.offsets
            .push(u32::try_from(self.pairs.len()).unwrap_or(u32::MAX));
        self.index.insert(pairs.into_boxed_slice(), i);
        i
    }

    fn bytes(&self) -> usize {
        self.strings.bytes + self.pairs.len() * 16 + self.index.len() * ENTRY
    }
}

/// Values shared by the samples of one profile (and its resource and scope).
#[derive(Clone, Copy, Debug)]
pub struct Consts {
    /// Dictionary keys of the row-level dictionary columns `0..d::N_CONSTS`; -1 is null.
    pub dict: [i32; d::N_CONSTS],
    pub period: Option<i64>,
    pub profile_id: Option<[u8; 16]>,
    pub profile_time: i64,
    pub duration: Option<i64>,
    pub profile_attrs: u32,
    pub resource_attrs: u32,
}

/// Buffered rows (not yet written), column by column.
#[derive(Default)]
pub struct Rows {
    pub time: Vec<i64>,
    pub value: Vec<i64>,
    pub consts: Vec<u32>,
    pub stack: Vec<u32>,
    /// `(start, len)` in `values_flat`; len 0 is null.
    pub obs_values: Vec<(u32, u32)>,
    pub obs_ts: Vec<(u32, u32)>,
    pub values_flat: Vec<i64>,
    pub ts_flat: Vec<i64>,
    pub trace: Vec<Option<[u8; 16]>>,
    pub span: Vec<Option<[u8; 8]>>,
    pub span_name: Vec<i32>,
    pub sample_attrs: Vec<u32>,
    /// List elements the row group will hold (frames, map entries, observations).
    pub elements: usize,
    pub bytes: usize,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// Partition identity: the service and the hour (hours since the Unix epoch, UTC).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartKey {
    pub service: String,
    pub hour: i64,
}

impl PartKey {
    /// `YYYY-MM-DD` and `HH` (UTC).
    pub fn date_hour(&self) -> (String, String) {
        let days = self.hour.div_euclid(24);
        let h = self.hour.rem_euclid(24);
        let (y, m, d) = civil_from_days(days);
        (format!("{y:04}-{m:02}-{d:02}"), format!("{h:02}"))
    }

    /// `service_name=<svc>/date=<date>/hour=<HH>` with the service percent-encoded.
    pub fn dir(&self) -> String {
        let (date, hour) = self.date_hour();
        format!(
            "service_name={}/date={date}/hour={hour}",
            encode_value(&self.service)
        )
    }

    /// When the hour ends (Unix nanoseconds).
    pub fn hour_end_ns(&self) -> i64 {
        self.hour.saturating_add(1).saturating_mul(NSEC_PER_HOUR)
    }
}

pub use profcol_settings::time::civil_from_days;

/// A partition value for a path: `[A-Za-z0-9._-]` kept, every other byte `%XX` (uppercase hex).
pub fn encode_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for &b in v.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The tables and buffered rows of one partition's current file.
pub struct Tables {
    pub dicts: Vec<Interner>,
    frame_index: HashMap<FrameRow, u32>,
    pub frames: Vec<FrameRow>,
    pub stacks: Stacks,
    pub maps: Maps,
    pub consts: Vec<Consts>,
    pub rows: Rows,
    /// Rows appended since the file began (written or buffered).
    pub total_rows: u64,
    pub min_time: i64,
    pub max_time: i64,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            dicts: (0..d::N).map(|_| Interner::default()).collect(),
            frame_index: HashMap::default(),
            frames: Vec::new(),
            stacks: Stacks::default(),
            maps: Maps::default(),
            consts: Vec::new(),
            rows: Rows::default(),
            total_rows: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }
}

impl Tables {
    /// Memory held by the tables (not the buffered rows).
    pub fn table_bytes(&self) -> usize {
        self.dicts.iter().map(|i| i.bytes).sum::<usize>()
            + self.frames.len() * (std::mem::size_of::<FrameRow>() * 2 + ENTRY)
            + self.stacks.frames.len() * 8
            + self.stacks.ids.len() * (16 + ENTRY)
            + self.maps.bytes()
            + self.consts.len() * std::mem::size_of::<Consts>()
    }

    /// Bytes of the frame-column dictionaries (sizes the Parquet dictionary pages).
    pub fn frame_dict_bytes(&self) -> usize {
        FRAME_DICTS
            .iter()
            .map(|&i| self.dicts[i].bytes / 2)
            .max()
            .unwrap_or(0)
    }

    fn frame(&mut self, f: FrameRow) -> u32 {
        if let Some(&i) = self.frame_index.get(&f) {
            return i;
        }
        let i = u32::try_from(self.frames.len()).unwrap_or(NONE);
        self.frames.push(f);
        self.frame_index.insert(f, i);
        i
    }

    fn stack(&mut self, frames: &[u32]) -> u32 {
        if let Some(&i) = self.stacks.index.get(frames) {
            return i;
        }
        let id = self.stack_id(frames);
        let st = &mut self.stacks;
        if st.offsets.is_empty() {
            st.offsets.push(0);
        }
        let i = u32::try_from(st.ids.len()).unwrap_or(NONE);
        st.frames.extend_from_slice(frames);
        st.offsets
            .push(u32::try_from(st.frames.len()).unwrap_or(u32::MAX));
        st.ids.push(id);
        st.index.insert(frames.into(), i);
        i
    }

    /// The stable `stack_id`: a 64-bit hash over every field of every frame, leaf first.
    fn stack_id(&self, frames: &[u32]) -> u64 {
        let mut h = StableHash::new();
        h.word(frames.len() as u64);
        for &f in frames {
            let Some(fr) = self.frames.get(f as usize) else {
                continue;
            };
            for (slot, &dict) in FRAME_DICTS.iter().enumerate() {
                h.str(self.dicts[dict].get(fr.s[slot]));
            }
            h.word(fr.start_line as u64);
            h.word(fr.line as u64);
            h.word(fr.column as u64);
            h.word(u64::from(fr.inlined));
            h.word(fr.address);
            h.word(fr.m[0]);
            h.word(fr.m[1]);
            h.word(fr.m[2]);
        }
        h.finish()
    }

    /// Memory held by buffered rows plus tables.
    pub fn bytes(&self) -> usize {
        self.rows.bytes + self.table_bytes()
    }
}

/// The `stack_id` hash: each 64-bit word is folded in with the SplitMix64 finalizer; strings
/// are their length, then their bytes as little-endian words (zero padded). Fixed forever for
/// schema version 1, so ids agree across files, processes and releases.
pub struct StableHash(u64);

impl StableHash {
    pub fn new() -> StableHash {
        StableHash(u64::from_le_bytes(*b"profcol1"))
    }

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn word(&mut self, w: u64) {
        self.0 = Self::mix(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ w);
    }

    pub fn str(&mut self, s: &str) {
        self.word(s.len() as u64);
        for chunk in s.as_bytes().chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(b));
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for StableHash {
    fn default() -> Self {
        StableHash::new()
    }
}

/// Renders an attribute value as text, resolving string-table references.
pub fn value_text<'a>(strings: &'a [String], v: Option<&'a AnyValue>) -> Cow<'a, str> {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => Cow::Borrowed(s.as_str()),
        Some(Value::StringValueStrindex(i)) => Cow::Borrowed(
            usize::try_from(*i)
                .ok()
                .and_then(|i| strings.get(i))
                .map(String::as_str)
                .unwrap_or(""),
        ),
        _ => Cow::Owned(any_value_text(v)),
    }
}

/// The key of a resource or scope attribute (inline, or a string-table reference).
fn kv_key<'a>(strings: &'a [String], kv: &'a KeyValue) -> &'a str {
    if kv.key.is_empty() && kv.key_strindex > 0 {
        usize::try_from(kv.key_strindex)
            .ok()
            .and_then(|i| strings.get(i))
            .map(String::as_str)
            .unwrap_or("")
    } else {
        &kv.key
    }
}

fn resource_attr<'a>(
    strings: &'a [String],
    attrs: &'a [KeyValue],
    key: &str,
) -> Option<Cow<'a, str>> {
    attrs
        .iter()
        .find(|kv| kv_key(strings, kv) == key)
        .map(|kv| value_text(strings, kv.value.as_ref()))
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
    let strings = &dict.raw.string_table;
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
            .map(|(k, v, _)| (k, value_text(strings, v)))
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
}

/// The time of a sample: its first observation, else the profile's time, else `fallback`.
pub fn sample_time(s: &Sample, p: &Profile, fallback: i64) -> i64 {
    let t = s
        .timestamps_unix_nano
        .first()
        .copied()
        .filter(|&t| t > 0)
        .unwrap_or(p.time_unix_nano);
    if t == 0 {
        fallback
    } else {
        i64::try_from(t).unwrap_or(i64::MAX)
    }
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

/// Buffered rows of one partition at which they are written as a row group.
#[derive(Debug, Clone, Copy)]
pub struct RowLimits {
    pub rows: usize,
    pub bytes: usize,
    pub elements: usize,
}

impl RowLimits {
    pub fn reached(&self, r: &Rows) -> bool {
        r.len() >= self.rows || r.bytes >= self.bytes || r.elements >= self.elements
    }
}

/// Bytes one list element (a frame, a map entry, an observation) takes once a row group is
/// materialized as Arrow arrays: a frame is 14 list values (7 dictionary keys, 6 64-bit
/// integers, a bit) plus offsets.
pub const ELEMENT_BYTES: usize = 88;
/// Bytes of a row's fixed-width columns when materialized.
pub const ROW_BYTES: usize = 96;

pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Appends every sample of a validated request; returns the number of rows appended.
/// `fallback_time` (Unix ns) stands in for samples and profiles without a time.
pub fn append_request(
    req: &ExportProfilesServiceRequest,
    fallback_time: i64,
    sink: &mut dyn Sink,
) -> usize {
    static EMPTY: std::sync::OnceLock<ProfilesDictionary> = std::sync::OnceLock::new();
    let raw = req
        .dictionary
        .as_ref()
        .unwrap_or_else(|| EMPTY.get_or_init(ProfilesDictionary::default));
    let dict = Dict::new(raw);
    let strings = &raw.string_table;
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
        let service = resource_attr(strings, attrs, "service.name")
            .filter(|s| !s.is_empty())
            .map(|s| s.into_owned())
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
        let mut promoted: [Option<Cow<'_, str>>; 7] = Default::default();
        for (slot, (_, keys)) in PROMOTED.iter().enumerate() {
            promoted[slot] = keys
                .iter()
                .find_map(|k| resource_attr(strings, attrs, k).filter(|v| !v.is_empty()));
        }
        let rattrs: Vec<(&str, Cow<'_, str>)> = attrs
            .iter()
            .map(|kv| (kv_key(strings, kv), value_text(strings, kv.value.as_ref())))
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
fn location_frames(t: &mut Tables, dict: Dict<'_>, loc_index: i32, out: &mut Vec<u32>) {
    let Some(loc) = dict.location(loc_index) else {
        return;
    };
    let strings = &dict.raw.string_table;
    let mapping = if loc.mapping_index == 0 {
        None
    } else {
        dict.mapping(loc.mapping_index)
    };
    let mut build_id = "";
    if let Some(m) = mapping {
        // GNU first, then Go, then htlhash (the pprof mapping's precedence).
        let mut found: [&str; 3] = ["", "", ""];
        for &a in &m.attribute_indices {
            if let Some((k, v, _)) = dict.attribute(a) {
                let slot = match k {
                    "process.executable.build_id.gnu" => 0,
                    "process.executable.build_id.go" => 1,
                    "process.executable.build_id.htlhash" => 2,
                    _ => continue,
                };
                if let Some(Value::StringValue(s)) = v.and_then(|v| v.value.as_ref()) {
                    found[slot] = s;
                } else if let Some(Value::StringValueStrindex(i)) = v.and_then(|v| v.value.as_ref())
                {
                    found[slot] = dict.string(*i);
                }
            }
        }
        build_id = found.into_iter().find(|s| !s.is_empty()).unwrap_or("");
    }
    let mut frame_type: Cow<'_, str> = Cow::Borrowed("");
    for &a in &loc.attribute_indices {
        if let Some(("profile.frame.type", v, _)) = dict.attribute(a) {
            frame_type = value_text(strings, v);
        }
    }
    let mapping_file = mapping
        .map(|m| dict.string(m.filename_strindex))
        .unwrap_or("");
    let m = mapping
        .map(|m| [m.memory_start, m.memory_limit, m.file_offset])
        .unwrap_or([0; 3]);
    let s_mapping = t.dicts[d::F_MAPPING_FILE].intern(mapping_file);
    let s_build = t.dicts[d::F_BUILD_ID].intern(build_id);
    let s_type = t.dicts[d::F_FRAME_TYPE].intern(&frame_type);
    if loc.lines.is_empty() {
        let e = t.dicts[d::F_FUNCTION].intern("");
        let sys = t.dicts[d::F_SYSTEM].intern("");
        let file = t.dicts[d::F_FILE].intern("");
        out.push(t.frame(FrameRow {
            s: [e, sys, file, s_mapping, s_build, s_type],
            start_line: 0,
            line: 0,
            column: 0,
            inlined: false,
            address: loc.address,
            m,
        }));
        return;
    }
    let last = loc.lines.len() - 1;
    for (i, line) in loc.lines.iter().enumerate() {
        let f = dict.function(line.function_index);
        let name = f.map(|f| dict.string(f.name_strindex)).unwrap_or("");
        let system = f.map(|f| dict.string(f.system_name_strindex)).unwrap_or("");
        let file = f.map(|f| dict.string(f.filename_strindex)).unwrap_or("");
        let fname = if name.is_empty() { system } else { name };
        let s = [
            t.dicts[d::F_FUNCTION].intern(fname),
            t.dicts[d::F_SYSTEM].intern(system),
            t.dicts[d::F_FILE].intern(file),
            s_mapping,
            s_build,
            s_type,
        ];
        out.push(t.frame(FrameRow {
            s,
            start_line: f.map(|f| f.start_line).unwrap_or(0),
            line: line.line,
            column: line.column,
            inlined: i != last,
            address: loc.address,
            m,
        }));
    }
}

fn stack_of(t: &mut Tables, memo: &mut Memo<'_>, dict: Dict<'_>, stack_index: i32) -> u32 {
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
                    location_frames(t, dict, l, &mut memo.loc_frames);
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
            let strings = &dict.raw.string_table;
            let kv: Vec<(&str, Cow<'_, str>)> = s
                .attribute_indices
                .iter()
                .filter_map(|&i| dict.attribute(i))
                .map(|(k, v, _)| (k, value_text(strings, v)))
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

/// Row order for a row group: by profile type (its text), then time.
pub fn sorted_rows(t: &Tables) -> Vec<u32> {
    let pt = &t.dicts[d::PROFILE_TYPE];
    let mut by_text: Vec<u32> = (0..pt.len() as u32).collect();
    by_text.sort_by(|&a, &b| pt.get(a as i32).cmp(pt.get(b as i32)));
    let mut rank = vec![0u32; pt.len()];
    for (r, &k) in by_text.iter().enumerate() {
        rank[k as usize] = r as u32;
    }
    let rows = &t.rows;
    let mut keys: Vec<(u32, i64, u32)> = (0..rows.len())
        .map(|i| {
            let c = rows
                .consts
                .get(i)
                .and_then(|&c| t.consts.get(c as usize))
                .map(|c| c.dict[d::PROFILE_TYPE])
                .unwrap_or(0);
            let r = usize::try_from(c)
                .ok()
                .and_then(|c| rank.get(c))
                .copied()
                .unwrap_or(0);
            (r, rows.time[i], i as u32)
        })
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|(_, _, i)| i).collect()
}
