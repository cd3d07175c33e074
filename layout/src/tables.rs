//! Per-partition tables of interned rows.
//!
//! A partition (service, hour) keeps, for the life of its current file, interned dictionaries
//! (one per dictionary column), a frame table, a stack table and a table of attribute maps. Each
//! buffered row then holds a few numbers and references into those tables, so a buffered sample
//! costs about a hundred bytes however deep its stack is; the frame lists are expanded only when
//! a row group is built (`arrays.rs`). Rows are appended by `append.rs`.

use profcol_pdata::hash::HashMap;
use std::borrow::Cow;

use crate::hash::StableHash;

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
/// Rough per-entry overhead of a hash-map entry, for memory accounting.
pub(crate) const ENTRY: usize = 48;

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
    pub(crate) fn intern<'a>(
        &mut self,
        kv: impl IntoIterator<Item = (&'a str, Cow<'a, str>)>,
    ) -> u32 {
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

    pub(crate) fn frame(&mut self, f: FrameRow) -> u32 {
        if let Some(&i) = self.frame_index.get(&f) {
            return i;
        }
        let i = u32::try_from(self.frames.len()).unwrap_or(NONE);
        self.frames.push(f);
        self.frame_index.insert(f, i);
        i
    }

    pub(crate) fn stack(&mut self, frames: &[u32]) -> u32 {
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

    /// The stable `stack_id` (the spec asks for a stable 64-bit hash of the frame sequence, the
    /// same in every file): the number of frames, then for each frame, leaf first, the strings
    /// of `function_name`, `system_name`, `file_name`, `mapping_file`, `mapping_build_id`,
    /// `frame_type`, then `function_start_line`, `line`, `column`, `inlined`, `address`,
    /// `mapping_start`, `mapping_limit`, `mapping_offset`, folded by [`StableHash`].
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
