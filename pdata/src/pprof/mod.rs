//! The pprof codec: safe decoding of `profile.proto` (package `perftools.profiles`) and the
//! pprof ⇄ OTLP profiles mapping (spec `pprof-otlp-mapping.md`).
//!
//! The message structs below are written by hand for prost. They differ from a generated
//! `profile.proto` binding in one point: `string_table` is decoded as bytes, so invalid UTF-8 in a
//! string never fails decoding (spec §2.3). [`decode`] replaces invalid sequences with U+FFFD.

use std::borrow::Cow;

mod decode;
mod from_otlp;
mod to_otlp;

pub use decode::{
    DEFAULT_LIMIT, MAX_GZIP_LAYERS, check_valid, decode, decompress, is_gzip, legacy_kind,
};
pub use from_otlp::{FromOtlpStats, PprofOut, from_otlp};
pub use to_otlp::{ToOtlpOptions, ToOtlpStats, to_otlp};

/// Attribute keys written by [`to_otlp`] and read by [`from_otlp`].
pub mod attr {
    /// Scope attribute: the original `default_sample_type` string (omitted when unset).
    pub const DEFAULT_SAMPLE_TYPE: &str = "pprof.scope.default_sample_type";
    /// Scope attribute: int[] with the original sample-type index of each OTLP profile.
    pub const SAMPLE_TYPE_ORDER: &str = "pprof.scope.sample_type_order";
    /// Location attribute (bool), present only when true.
    pub const IS_FOLDED: &str = "pprof.location.is_folded";
    pub const BUILD_ID_GNU: &str = "process.executable.build_id.gnu";
    pub const BUILD_ID_GO: &str = "process.executable.build_id.go";
    pub const BUILD_ID_HTLHASH: &str = "process.executable.build_id.htlhash";
    pub const HAS_FUNCTIONS: &str = "pprof.mapping.has_functions";
    pub const HAS_FILENAMES: &str = "pprof.mapping.has_filenames";
    pub const HAS_LINE_NUMBERS: &str = "pprof.mapping.has_line_numbers";
    pub const HAS_INLINE_FRAMES: &str = "pprof.mapping.has_inline_frames";
    pub const DROP_FRAMES: &str = "pprof.profile.drop_frames";
    pub const KEEP_FRAMES: &str = "pprof.profile.keep_frames";
    /// Profile attribute: string[] (semconv). Input also accepts `pprof.profile.comment.<i>` keys
    /// and a single comma-joined string.
    pub const COMMENT: &str = "pprof.profile.comment";
    pub const DOC_URL: &str = "pprof.profile.doc_url";
    /// The value of `original_payload_format` for pprof payloads.
    pub const PAYLOAD_FORMAT: &str = "pprof";
}

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Raw bytes; after [`decode`] every entry is valid UTF-8.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_table: Vec<Vec<u8>>,
    /// strindex
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    /// strindex
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// strindex each
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// strindex of a sample type's `type` string
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
    /// strindex
    #[prost(int64, tag = "15")]
    pub doc_url: i64,
}

/// `perftools.profiles.ValueType` (both fields are strindex).
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `perftools.profiles.Sample`. `location_id[0]` is the leaf.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `perftools.profiles.Label`: a string label when `str != 0`, else a numeric one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Label {
    /// strindex
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// strindex
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
    /// strindex
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// `perftools.profiles.Mapping`.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    /// strindex
    #[prost(int64, tag = "5")]
    pub filename: i64,
    /// strindex
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// `perftools.profiles.Location`. `line[last]` is the caller; earlier lines were inlined into it.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// `perftools.profiles.Line`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
    #[prost(int64, tag = "3")]
    pub column: i64,
}

/// `perftools.profiles.Function` (name, system_name and filename are strindex).
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

/// Why a pprof payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum PprofError {
    #[error("empty pprof input")]
    Empty,
    /// A pre-protobuf pprof format (spec §2.1 step 4); `kind` names the detected signature.
    #[error(
        "legacy pprof format not supported; convert with 'go tool pprof -proto' (detected {kind})"
    )]
    Legacy { kind: &'static str },
    /// A second top-level `time_nanos` field: several profiles were concatenated.
    #[error("concatenated profiles detected")]
    Concatenated,
    #[error("decoding pprof: {message}")]
    Decode { message: String },
    /// The (decompressed) payload is larger than the limit.
    #[error("pprof payload exceeds the size limit of {limit} bytes after decompression")]
    TooLarge { limit: usize },
    #[error("gunzip pprof: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("pprof payload is gzip-compressed more than {max} times")]
    TooManyGzipLayers { max: usize },
    /// The profile decoded but breaks a validity rule (spec §2.2); `path` names the field and
    /// index, e.g. `sample[3].location_id[1]`.
    #[error("invalid pprof: {path}: {message}")]
    Invalid { path: String, message: String },
}

/// What [`decode`] found that did not stop it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// `string_table` entries that were not valid UTF-8 (replaced with U+FFFD);
    /// `profcol_pprof_invalid_utf8_strings_total`.
    pub invalid_utf8_strings: usize,
    /// gzip layers removed (0, 1 or 2).
    pub gzip_layers: usize,
    /// Size of the protobuf after decompression.
    pub decoded_bytes: usize,
    /// Labels with `str`, `num` and `num_unit` all zero, dropped as Go's decoder does.
    pub empty_labels_dropped: usize,
    /// Tables (mapping, location, function) whose ids were all 0 and got position-based ids
    /// (the .NET profiler writes such function tables).
    pub implicit_ids_assigned: usize,
}

impl Profile {
    /// The string at `i` (lossy UTF-8), or `""` when `i` is out of range.
    pub fn string(&self, i: i64) -> Cow<'_, str> {
        match usize::try_from(i)
            .ok()
            .and_then(|u| self.string_table.get(u))
        {
            Some(b) => String::from_utf8_lossy(b),
            None => Cow::Borrowed(""),
        }
    }

    /// `type`/`unit` strings of each sample type.
    pub fn sample_type_names(&self) -> Vec<(String, String)> {
        self.sample_type
            .iter()
            .map(|vt| {
                (
                    self.string(vt.r#type).into_owned(),
                    self.string(vt.unit).into_owned(),
                )
            })
            .collect()
    }

    /// The index of the sample type tools show by default: the first whose type string equals
    /// `default_sample_type`, else the last one (Go's `SampleIndexByName`). `None` without types.
    pub fn default_sample_index(&self) -> Option<usize> {
        let n = self.sample_type.len();
        if n == 0 {
            return None;
        }
        let want = self.string(self.default_sample_type);
        if !want.is_empty()
            && let Some(i) = self
                .sample_type
                .iter()
                .position(|vt| self.string(vt.r#type) == want)
        {
            return Some(i);
        }
        Some(n - 1)
    }
}

/// Encodes a profile as plain protobuf.
pub fn encode(p: &Profile) -> Vec<u8> {
    prost::Message::encode_to_vec(p)
}

/// Encodes a profile as gzip-compressed protobuf (what Go's `Profile.Write` produces).
pub fn encode_gzip(p: &Profile) -> Vec<u8> {
    use std::io::Write;
    let raw = encode(p);
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    match enc.write_all(&raw) {
        Ok(()) => enc.finish().unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}
