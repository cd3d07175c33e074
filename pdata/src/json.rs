//! OTLP/JSON encoding and decoding for the profiles signal (opentelemetry-proto v1.10.0).
//!
//! This is a hand-written protojson mapping with the OTLP deviations (see
//! `shared/specs/otlp-profiles.md` §7):
//!
//! * Output keys are lowerCamelCase. Input accepts lowerCamelCase and the original snake_case names.
//! * Fields holding default values, empty repeated fields and unset messages are omitted on
//!   output. A message that is set but empty is written as `{}`, so presence survives a round trip.
//! * 64-bit integers (`int64`, `uint64`, `fixed64`) are written as decimal strings. Input accepts
//!   a string or a number. 32-bit integers are written as numbers, and input accepts both forms too.
//! * `traceId`, `spanId` and `profileId` are written as lowercase hex. Input accepts hex (any
//!   case) or standard/URL-safe base64, told apart by length.
//! * Other `bytes` fields (`originalPayload`, `bytesValue`) are standard base64.
//! * Doubles are JSON numbers, or the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
//! * On input, `null` means "absent" and unknown fields are ignored.
//!
//! Parsing uses a small JSON reader of its own rather than `serde_json::Value`. That keeps
//! integer and float conversions exact, because numbers are converted from their source text,
//! and it bounds nesting: [`MAX_JSON_DEPTH`] for raw JSON, [`MAX_ANY_VALUE_DEPTH`] for `AnyValue`.
//! Neither the decoder nor the encoder panics on any input.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD as B64_ENCODE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::collector::{
    ExportProfilesPartialSuccess, ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use crate::common::any_value::Value;
use crate::common::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use crate::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use crate::resource::Resource;

/// Deepest `AnyValue` nesting accepted on input. An `AnyValue` held directly by a `KeyValue` or
/// `KeyValueAndUnit` is level 1. This matches prost's default recursion limit of 100.
pub const MAX_ANY_VALUE_DEPTH: usize = 100;

/// Deepest nesting of JSON arrays and objects accepted on input. Each `AnyValue` level takes
/// three or four JSON levels, so [`MAX_ANY_VALUE_DEPTH`] is normally the limit that applies.
pub const MAX_JSON_DEPTH: usize = 512;

/// Length of an OTLP trace id and profile id.
const ID16: usize = 16;
/// Length of an OTLP span id.
const ID8: usize = 8;

/// The longest input value quoted verbatim in an error message.
const MAX_QUOTED: usize = 40;

/// An OTLP/JSON document that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OTLP/JSON at {path}: {message}")]
pub struct JsonError {
    /// Where the problem is, e.g.
    /// `resourceProfiles[0].scopeProfiles[1].profiles[2].samples[5].values[0]`.
    /// It is `$` for the document itself, which includes syntax errors.
    pub path: String,
    /// What is wrong, in English.
    pub message: String,
}

/// Decodes an OTLP/JSON `ExportProfilesServiceRequest`. The same layout is also valid for `ProfilesData`.
pub fn decode_request(bytes: &[u8]) -> Result<ExportProfilesServiceRequest, JsonError> {
    let doc = parse_document(bytes)?;
    dec_request(doc, &Path::ROOT)
}

/// Encodes a request as compact OTLP/JSON: a single line with no trailing newline.
pub fn encode_request(req: &ExportProfilesServiceRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimate_capacity(req));
    enc_request(&mut out, req);
    out
}

/// Decodes an OTLP/JSON `ExportProfilesServiceResponse`.
pub fn decode_response(bytes: &[u8]) -> Result<ExportProfilesServiceResponse, JsonError> {
    let doc = parse_document(bytes)?;
    dec_response(doc, &Path::ROOT)
}

/// Encodes a response as compact OTLP/JSON. A response without `partialSuccess` is `{}`.
pub fn encode_response(resp: &ExportProfilesServiceResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    enc_response(&mut out, resp);
    out
}

/// google.rpc.Status {code, message} as JSON, for HTTP error bodies.
///
/// As in protojson, a zero `code` and an empty `message` are omitted.
pub fn encode_status(code: i32, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 32);
    let mut o = ObjWriter::begin(&mut out);
    o.i32("code", code);
    o.str("message", message);
    o.end();
    out
}

/// Decodes a `google.rpc.Status` JSON body (for example an OTLP/HTTP error response) into
/// `(code, message)`. `details` and unknown fields are ignored, and missing fields are `0` / `""`.
pub fn decode_status(bytes: &[u8]) -> Result<(i32, String), JsonError> {
    let doc = parse_document(bytes)?;
    let p = &Path::ROOT;
    let mut code = 0;
    let mut message = String::new();
    for (k, v) in fields(doc, p)? {
        match k.as_ref() {
            "code" => code = int_i32(v, &p.field("code"))?,
            "message" => message = string(v, &p.field("message"))?,
            _ => {}
        }
    }
    Ok((code, message))
}

// ---------------------------------------------------------------------------------------------
// Error paths
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Seg {
    Root,
    Field(&'static str),
    Index(usize),
}

/// A location in the document as a linked list on the stack, rendered only when an error occurs.
#[derive(Clone, Copy)]
struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    seg: Seg,
}

impl<'p> Path<'p> {
    const ROOT: Path<'static> = Path {
        parent: None,
        seg: Seg::Root,
    };

    fn field(&self, name: &'static str) -> Path<'_> {
        Path {
            parent: Some(self),
            seg: Seg::Field(name),
        }
    }

    fn index(&self, i: usize) -> Path<'_> {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur: Option<&Path<'_>> = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut s = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Field(name) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(name);
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        if s.is_empty() { "$".to_owned() } else { s }
    }

    fn err(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            path: self.render(),
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON reader
// ---------------------------------------------------------------------------------------------

/// A parsed JSON value. Numbers keep their source text so that conversions are exact.
enum Json<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

fn parse_document(bytes: &[u8]) -> Result<Json<'_>, JsonError> {
    let src = std::str::from_utf8(bytes).map_err(|e| {
        Path::ROOT.err(format!(
            "input is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let mut p = Parser {
        src,
        pos: 0,
        depth: 0,
    };
    if src.starts_with('\u{feff}') {
        p.pos = '\u{feff}'.len_utf8();
    }
    p.skip_ws();
    let v = p.parse_value()?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.error("unexpected trailing characters after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> JsonError {
        let consumed = self.src.as_bytes().get(..self.pos).unwrap_or_default();
        let line = 1 + consumed.iter().filter(|&&b| b == b'\n').count();
        let line_start = consumed
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = 1 + self.pos.saturating_sub(line_start);
        Path::ROOT.err(format!(
            "syntax error: {what} at line {line} column {column}"
        ))
    }

    /// An error for "expected X", which says "unexpected end of input" at the end.
    fn expected(&self, what: &str) -> JsonError {
        match self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            None => self.error(&format!("unexpected end of input (expected {what})")),
            Some(c) => self.error(&format!("expected {what}, found {c:?}")),
        }
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a str, JsonError> {
        self.src
            .get(start..end)
            .ok_or_else(|| self.error("internal error: slice not on a character boundary"))
    }

    fn parse_value(&mut self) -> Result<Json<'a>, JsonError> {
        match self.peek() {
            Some(b'{') => self.parse_object(),
            Some(b'[') => self.parse_array(),
            Some(b'"') => Ok(Json::Str(self.parse_string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            _ => Err(self.expected("a JSON value")),
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, JsonError> {
        let rest = self.src.as_bytes().get(self.pos..).unwrap_or_default();
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.expected("a JSON value"))
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_JSON_DEPTH {
            return Err(self.error(&format!(
                "JSON nesting is deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        self.pos += 1; // the opening bracket
        self.skip_ws();
        Ok(())
    }

    fn parse_object(&mut self) -> Result<Json<'a>, JsonError> {
        self.enter()?;
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Json::Obj(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.expected("a string key"));
            }
            let key = self.parse_string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.expected("':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.parse_value()?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("',' or '}'")),
            }
        }
        self.depth -= 1;
        Ok(Json::Obj(members))
    }

    fn parse_array(&mut self) -> Result<Json<'a>, JsonError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.parse_value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("',' or ']'")),
            }
        }
        self.depth -= 1;
        Ok(Json::Arr(items))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn parse_number(&mut self) -> Result<Json<'a>, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.expected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.expected("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.expected("a digit in the exponent"));
            }
        }
        Ok(Json::Num(self.slice(start, self.pos)?))
    }

    fn parse_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let bytes = self.src.as_bytes();
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: no escapes, borrow from the input.
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.expected("'\"' to end the string")),
                Some(b'"') => {
                    let s = self.slice(start, self.pos)?;
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => {
                    return Err(self.error("unescaped control character in string"));
                }
                Some(_) => self.pos += 1,
            }
        }
        let mut buf = String::from(self.slice(start, self.pos)?);
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.expected("'\"' to end the string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(buf));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            buf.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.expected("a valid escape sequence")),
                    };
                    self.pos += 1;
                    buf.push(c);
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.error("unescaped control character in string"));
                }
                Some(_) => {
                    let run = self.pos;
                    while let Some(&c) = bytes.get(self.pos) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    buf.push_str(self.slice(run, self.pos)?);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.expected("4 hex digits after \\u"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// Reads the part after `\u`. Lone surrogates become U+FFFD, as in Go's encoding/json.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            let bytes = self.src.as_bytes();
            if bytes.get(self.pos) == Some(&b'\\') && bytes.get(self.pos + 1) == Some(&b'u') {
                let save = self.pos;
                self.pos += 2;
                let lo = self.hex4()?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                // Not a low surrogate: read that escape again on its own.
                self.pos = save;
            }
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        Ok(char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar conversions
// ---------------------------------------------------------------------------------------------

fn quote_short(s: &str) -> String {
    if s.chars().count() <= MAX_QUOTED {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_QUOTED).collect();
        format!("{head:?}…")
    }
}

fn describe(v: &Json<'_>) -> String {
    match v {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => format!("boolean {b}"),
        Json::Num(n) => format!("number {}", quote_short(n).trim_matches('"')),
        Json::Str(s) => format!("string {}", quote_short(s)),
        Json::Arr(_) => "an array".to_owned(),
        Json::Obj(_) => "an object".to_owned(),
    }
}

/// The members of an object; `null` counts as an empty object.
fn fields<'a>(v: Json<'a>, p: &Path<'_>) -> Result<Vec<(Cow<'a, str>, Json<'a>)>, JsonError> {
    match v {
        Json::Obj(members) => Ok(members),
        Json::Null => Ok(Vec::new()),
        other => Err(p.err(format!("expected an object, got {}", describe(&other)))),
    }
}

/// Decodes a message: calls `set` for every member whose value is not `null`.
fn message<'a, T: Default>(
    v: Json<'a>,
    p: &Path<'_>,
    mut set: impl FnMut(&mut T, &str, Json<'a>, &Path<'_>) -> Result<(), JsonError>,
) -> Result<T, JsonError> {
    let mut m = T::default();
    for (k, val) in fields(v, p)? {
        if matches!(val, Json::Null) {
            continue;
        }
        set(&mut m, &k, val, p)?;
    }
    Ok(m)
}

/// Decodes a JSON array with `item` for each element.
fn list<'a, T>(
    v: Json<'a>,
    p: &Path<'_>,
    mut item: impl FnMut(Json<'a>, &Path<'_>) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    match v {
        Json::Arr(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, it)| item(it, &p.index(i)))
            .collect(),
        other => Err(p.err(format!("expected an array, got {}", describe(&other)))),
    }
}

#[derive(Debug)]
enum IntErr {
    Syntax,
    NotInteger,
    Range,
}

/// Converts decimal number text (JSON number grammar, plus leading zeros) to an exact integer.
/// Fractions and exponents are fine when the value is integral, e.g. `1.0` or `1e3`.
fn parse_int_text(text: &str) -> Result<i128, IntErr> {
    let b = text.as_bytes();
    let mut i = 0;
    let neg = b.first() == Some(&b'-');
    if neg {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = b.get(int_start..i).unwrap_or_default();
    if int_digits.is_empty() {
        return Err(IntErr::Syntax);
    }
    let mut frac_digits: &[u8] = &[];
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac_digits = b.get(s..i).unwrap_or_default();
        if frac_digits.is_empty() {
            return Err(IntErr::Syntax);
        }
    }
    let mut exp: i64 = 0;
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let exp_neg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let s = i;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            exp = exp.saturating_mul(10).saturating_add(i64::from(d - b'0'));
            i += 1;
        }
        if i == s {
            return Err(IntErr::Syntax);
        }
        if exp_neg {
            exp = -exp;
        }
    }
    if i != b.len() {
        return Err(IntErr::Syntax);
    }
    // Significant digits, without leading zeros; value = digits * 10^scale.
    let all: Vec<u8> = int_digits.iter().chain(frac_digits).copied().collect();
    let first_nonzero = all.iter().position(|&d| d != b'0');
    let Some(first_nonzero) = first_nonzero else {
        return Ok(0);
    };
    let mut digits = all.get(first_nonzero..).unwrap_or_default();
    let frac_len = i64::try_from(frac_digits.len()).map_err(|_| IntErr::Range)?;
    let mut scale = exp.saturating_sub(frac_len);
    while scale < 0 {
        match digits.split_last() {
            Some((b'0', rest)) => {
                digits = rest;
                scale += 1;
            }
            _ => return Err(IntErr::NotInteger),
        }
    }
    let len = i64::try_from(digits.len()).map_err(|_| IntErr::Range)?;
    // u64::MAX has 20 digits; anything longer is out of range for every target type.
    if len.saturating_add(scale) > 20 {
        return Err(IntErr::Range);
    }
    let mut v: i128 = 0;
    for &d in digits {
        v = v * 10 + i128::from(d - b'0');
    }
    for _ in 0..scale {
        v *= 10;
    }
    Ok(if neg { -v } else { v })
}

/// Reads an integer given as a JSON number or a decimal string and range-checks it.
fn int<T: TryFrom<i128>>(v: Json<'_>, p: &Path<'_>, ty: &str) -> Result<T, JsonError> {
    let text: Cow<'_, str> = match v {
        Json::Num(n) => Cow::Borrowed(n),
        Json::Str(s) => s,
        other => {
            return Err(p.err(format!(
                "expected an integer ({ty}), got {}",
                describe(&other)
            )));
        }
    };
    let shown = quote_short(&text);
    match parse_int_text(&text) {
        Ok(i) => T::try_from(i).map_err(|_| p.err(format!("{shown} is out of range for {ty}"))),
        Err(IntErr::Syntax) => Err(p.err(format!("{shown} is not a valid integer ({ty})"))),
        Err(IntErr::NotInteger) => Err(p.err(format!("{shown} is not an integer ({ty})"))),
        Err(IntErr::Range) => Err(p.err(format!("{shown} is out of range for {ty}"))),
    }
}

fn int_i32(v: Json<'_>, p: &Path<'_>) -> Result<i32, JsonError> {
    int(v, p, "int32")
}

fn int_u32(v: Json<'_>, p: &Path<'_>) -> Result<u32, JsonError> {
    int(v, p, "uint32")
}

fn int_i64(v: Json<'_>, p: &Path<'_>) -> Result<i64, JsonError> {
    int(v, p, "int64")
}

fn int_u64(v: Json<'_>, p: &Path<'_>) -> Result<u64, JsonError> {
    int(v, p, "uint64")
}

/// Whether `s` follows the JSON number grammar (used for doubles given as strings).
fn is_json_number(s: &str) -> bool {
    let mut p = Parser {
        src: s,
        pos: 0,
        depth: 0,
    };
    p.parse_number().is_ok() && p.pos == s.len()
}

fn double(v: Json<'_>, p: &Path<'_>) -> Result<f64, JsonError> {
    let text: Cow<'_, str> = match v {
        Json::Num(n) => Cow::Borrowed(n),
        Json::Str(s) => match s.as_ref() {
            "NaN" => return Ok(f64::NAN),
            "Infinity" => return Ok(f64::INFINITY),
            "-Infinity" => return Ok(f64::NEG_INFINITY),
            t if is_json_number(t) => s,
            _ => {
                return Err(p.err(format!("{} is not a valid double", quote_short(&s))));
            }
        },
        other => {
            return Err(p.err(format!(
                "expected a number (double), got {}",
                describe(&other)
            )));
        }
    };
    text.parse::<f64>()
        .map_err(|_| p.err(format!("{} is not a valid double", quote_short(&text))))
}

fn boolean(v: Json<'_>, p: &Path<'_>) -> Result<bool, JsonError> {
    match v {
        Json::Bool(b) => Ok(b),
        other => Err(p.err(format!("expected a boolean, got {}", describe(&other)))),
    }
}

fn string(v: Json<'_>, p: &Path<'_>) -> Result<String, JsonError> {
    match v {
        Json::Str(s) => Ok(s.into_owned()),
        other => Err(p.err(format!("expected a string, got {}", describe(&other)))),
    }
}

const B64_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const B64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64, padded or not; URL-safe base64 is accepted too, as in protojson.
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64_STANDARD
        .decode(s)
        .or_else(|_| B64_URL_SAFE.decode(s))
        .ok()
}

fn bytes_b64(v: Json<'_>, p: &Path<'_>) -> Result<Vec<u8>, JsonError> {
    match v {
        Json::Str(s) => {
            b64_decode(&s).ok_or_else(|| p.err(format!("{} is not valid base64", quote_short(&s))))
        }
        other => Err(p.err(format!(
            "expected a base64 string, got {}",
            describe(&other)
        ))),
    }
}

/// An id of `n` bytes: hex (`2n` characters, any case) or padded base64 (`4 * ceil(n / 3)`).
///
/// Hex of another even length is accepted too and keeps its length, so that ids of the wrong
/// size survive for the validator, which rejects only the Profile concerned.
fn id_bytes(v: Json<'_>, p: &Path<'_>, n: usize) -> Result<Vec<u8>, JsonError> {
    let s = match v {
        Json::Str(s) => s,
        other => {
            return Err(p.err(format!("expected a hex string, got {}", describe(&other))));
        }
    };
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let is_hex = s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let b64_len = n.div_ceil(3) * 4;
    if is_hex && s.len() == 2 * n {
        return hex::decode(s.as_bytes()).map_err(|e| p.err(format!("invalid hex id: {e}")));
    }
    if s.len() == b64_len
        && let Some(b) = b64_decode(&s).filter(|b| b.len() == n)
    {
        return Ok(b);
    }
    if is_hex {
        return hex::decode(s.as_bytes()).map_err(|e| p.err(format!("invalid hex id: {e}")));
    }
    Err(p.err(format!(
        "invalid id {}: expected {} hex digits or {b64_len} base64 characters",
        quote_short(&s),
        2 * n
    )))
}

// ---------------------------------------------------------------------------------------------
// Message decoders
// ---------------------------------------------------------------------------------------------

fn dec_request(v: Json<'_>, p: &Path<'_>) -> Result<ExportProfilesServiceRequest, JsonError> {
    if !matches!(v, Json::Obj(_)) {
        return Err(p.err(format!("expected an object, got {}", describe(&v))));
    }
    message(v, p, |m: &mut ExportProfilesServiceRequest, k, val, p| {
        match k {
            "resourceProfiles" | "resource_profiles" => {
                m.resource_profiles =
                    list(val, &p.field("resourceProfiles"), dec_resource_profiles)?;
            }
            "dictionary" => m.dictionary = Some(dec_dictionary(val, &p.field("dictionary"))?),
            _ => {}
        }
        Ok(())
    })
}

fn dec_response(v: Json<'_>, p: &Path<'_>) -> Result<ExportProfilesServiceResponse, JsonError> {
    if !matches!(v, Json::Obj(_)) {
        return Err(p.err(format!("expected an object, got {}", describe(&v))));
    }
    message(v, p, |m: &mut ExportProfilesServiceResponse, k, val, p| {
        if let "partialSuccess" | "partial_success" = k {
            let p = &p.field("partialSuccess");
            m.partial_success = Some(message(
                val,
                p,
                |m: &mut ExportProfilesPartialSuccess, k, val, p| {
                    match k {
                        "rejectedProfiles" | "rejected_profiles" => {
                            m.rejected_profiles = int_i64(val, &p.field("rejectedProfiles"))?;
                        }
                        "errorMessage" | "error_message" => {
                            m.error_message = string(val, &p.field("errorMessage"))?;
                        }
                        _ => {}
                    }
                    Ok(())
                },
            )?);
        }
        Ok(())
    })
}

fn dec_dictionary(v: Json<'_>, p: &Path<'_>) -> Result<ProfilesDictionary, JsonError> {
    message(v, p, |m: &mut ProfilesDictionary, k, val, p| {
        match k {
            "mappingTable" | "mapping_table" => {
                m.mapping_table = list(val, &p.field("mappingTable"), dec_mapping)?;
            }
            "locationTable" | "location_table" => {
                m.location_table = list(val, &p.field("locationTable"), dec_location)?;
            }
            "functionTable" | "function_table" => {
                m.function_table = list(val, &p.field("functionTable"), dec_function)?;
            }
            "linkTable" | "link_table" => {
                m.link_table = list(val, &p.field("linkTable"), dec_link)?;
            }
            "stringTable" | "string_table" => {
                m.string_table = list(val, &p.field("stringTable"), string)?;
            }
            "attributeTable" | "attribute_table" => {
                m.attribute_table = list(val, &p.field("attributeTable"), dec_key_value_and_unit)?;
            }
            "stackTable" | "stack_table" => {
                m.stack_table = list(val, &p.field("stackTable"), dec_stack)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_resource_profiles(v: Json<'_>, p: &Path<'_>) -> Result<ResourceProfiles, JsonError> {
    message(v, p, |m: &mut ResourceProfiles, k, val, p| {
        match k {
            "resource" => m.resource = Some(dec_resource(val, &p.field("resource"))?),
            "scopeProfiles" | "scope_profiles" => {
                m.scope_profiles = list(val, &p.field("scopeProfiles"), dec_scope_profiles)?;
            }
            "schemaUrl" | "schema_url" => m.schema_url = string(val, &p.field("schemaUrl"))?,
            _ => {}
        }
        Ok(())
    })
}

fn dec_scope_profiles(v: Json<'_>, p: &Path<'_>) -> Result<ScopeProfiles, JsonError> {
    message(v, p, |m: &mut ScopeProfiles, k, val, p| {
        match k {
            "scope" => m.scope = Some(dec_scope(val, &p.field("scope"))?),
            "profiles" => m.profiles = list(val, &p.field("profiles"), dec_profile)?,
            "schemaUrl" | "schema_url" => m.schema_url = string(val, &p.field("schemaUrl"))?,
            _ => {}
        }
        Ok(())
    })
}

fn dec_profile(v: Json<'_>, p: &Path<'_>) -> Result<Profile, JsonError> {
    message(v, p, |m: &mut Profile, k, val, p| {
        match k {
            "sampleType" | "sample_type" => {
                m.sample_type = Some(dec_value_type(val, &p.field("sampleType"))?);
            }
            "samples" => m.samples = list(val, &p.field("samples"), dec_sample)?,
            "timeUnixNano" | "time_unix_nano" => {
                m.time_unix_nano = int_u64(val, &p.field("timeUnixNano"))?;
            }
            "durationNano" | "duration_nano" => {
                m.duration_nano = int_u64(val, &p.field("durationNano"))?;
            }
            "periodType" | "period_type" => {
                m.period_type = Some(dec_value_type(val, &p.field("periodType"))?);
            }
            "period" => m.period = int_i64(val, &p.field("period"))?,
            "profileId" | "profile_id" => {
                m.profile_id = id_bytes(val, &p.field("profileId"), ID16)?;
            }
            "droppedAttributesCount" | "dropped_attributes_count" => {
                m.dropped_attributes_count = int_u32(val, &p.field("droppedAttributesCount"))?;
            }
            "originalPayloadFormat" | "original_payload_format" => {
                m.original_payload_format = string(val, &p.field("originalPayloadFormat"))?;
            }
            "originalPayload" | "original_payload" => {
                m.original_payload = bytes_b64(val, &p.field("originalPayload"))?;
            }
            "attributeIndices" | "attribute_indices" => {
                m.attribute_indices = list(val, &p.field("attributeIndices"), int_i32)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_sample(v: Json<'_>, p: &Path<'_>) -> Result<Sample, JsonError> {
    message(v, p, |m: &mut Sample, k, val, p| {
        match k {
            "stackIndex" | "stack_index" => m.stack_index = int_i32(val, &p.field("stackIndex"))?,
            "attributeIndices" | "attribute_indices" => {
                m.attribute_indices = list(val, &p.field("attributeIndices"), int_i32)?;
            }
            "linkIndex" | "link_index" => m.link_index = int_i32(val, &p.field("linkIndex"))?,
            "values" => m.values = list(val, &p.field("values"), int_i64)?,
            "timestampsUnixNano" | "timestamps_unix_nano" => {
                m.timestamps_unix_nano = list(val, &p.field("timestampsUnixNano"), int_u64)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_value_type(v: Json<'_>, p: &Path<'_>) -> Result<ValueType, JsonError> {
    message(v, p, |m: &mut ValueType, k, val, p| {
        match k {
            "typeStrindex" | "type_strindex" => {
                m.type_strindex = int_i32(val, &p.field("typeStrindex"))?;
            }
            "unitStrindex" | "unit_strindex" => {
                m.unit_strindex = int_i32(val, &p.field("unitStrindex"))?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_stack(v: Json<'_>, p: &Path<'_>) -> Result<Stack, JsonError> {
    message(v, p, |m: &mut Stack, k, val, p| {
        if let "locationIndices" | "location_indices" = k {
            m.location_indices = list(val, &p.field("locationIndices"), int_i32)?;
        }
        Ok(())
    })
}

fn dec_location(v: Json<'_>, p: &Path<'_>) -> Result<Location, JsonError> {
    message(v, p, |m: &mut Location, k, val, p| {
        match k {
            "mappingIndex" | "mapping_index" => {
                m.mapping_index = int_i32(val, &p.field("mappingIndex"))?;
            }
            "address" => m.address = int_u64(val, &p.field("address"))?,
            "lines" => m.lines = list(val, &p.field("lines"), dec_line)?,
            "attributeIndices" | "attribute_indices" => {
                m.attribute_indices = list(val, &p.field("attributeIndices"), int_i32)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_line(v: Json<'_>, p: &Path<'_>) -> Result<Line, JsonError> {
    message(v, p, |m: &mut Line, k, val, p| {
        match k {
            "functionIndex" | "function_index" => {
                m.function_index = int_i32(val, &p.field("functionIndex"))?;
            }
            "line" => m.line = int_i64(val, &p.field("line"))?,
            "column" => m.column = int_i64(val, &p.field("column"))?,
            _ => {}
        }
        Ok(())
    })
}

fn dec_function(v: Json<'_>, p: &Path<'_>) -> Result<Function, JsonError> {
    message(v, p, |m: &mut Function, k, val, p| {
        match k {
            "nameStrindex" | "name_strindex" => {
                m.name_strindex = int_i32(val, &p.field("nameStrindex"))?;
            }
            "systemNameStrindex" | "system_name_strindex" => {
                m.system_name_strindex = int_i32(val, &p.field("systemNameStrindex"))?;
            }
            "filenameStrindex" | "filename_strindex" => {
                m.filename_strindex = int_i32(val, &p.field("filenameStrindex"))?;
            }
            "startLine" | "start_line" => m.start_line = int_i64(val, &p.field("startLine"))?,
            _ => {}
        }
        Ok(())
    })
}

fn dec_mapping(v: Json<'_>, p: &Path<'_>) -> Result<Mapping, JsonError> {
    message(v, p, |m: &mut Mapping, k, val, p| {
        match k {
            "memoryStart" | "memory_start" => {
                m.memory_start = int_u64(val, &p.field("memoryStart"))?;
            }
            "memoryLimit" | "memory_limit" => {
                m.memory_limit = int_u64(val, &p.field("memoryLimit"))?;
            }
            "fileOffset" | "file_offset" => m.file_offset = int_u64(val, &p.field("fileOffset"))?,
            "filenameStrindex" | "filename_strindex" => {
                m.filename_strindex = int_i32(val, &p.field("filenameStrindex"))?;
            }
            "attributeIndices" | "attribute_indices" => {
                m.attribute_indices = list(val, &p.field("attributeIndices"), int_i32)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_link(v: Json<'_>, p: &Path<'_>) -> Result<Link, JsonError> {
    message(v, p, |m: &mut Link, k, val, p| {
        match k {
            "traceId" | "trace_id" => m.trace_id = id_bytes(val, &p.field("traceId"), ID16)?,
            "spanId" | "span_id" => m.span_id = id_bytes(val, &p.field("spanId"), ID8)?,
            _ => {}
        }
        Ok(())
    })
}

fn dec_key_value_and_unit(v: Json<'_>, p: &Path<'_>) -> Result<KeyValueAndUnit, JsonError> {
    message(v, p, |m: &mut KeyValueAndUnit, k, val, p| {
        match k {
            "keyStrindex" | "key_strindex" => {
                m.key_strindex = int_i32(val, &p.field("keyStrindex"))?;
            }
            "value" => m.value = Some(dec_any_value(val, &p.field("value"), 0)?),
            "unitStrindex" | "unit_strindex" => {
                m.unit_strindex = int_i32(val, &p.field("unitStrindex"))?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_resource(v: Json<'_>, p: &Path<'_>) -> Result<Resource, JsonError> {
    message(v, p, |m: &mut Resource, k, val, p| {
        match k {
            "attributes" => m.attributes = dec_attributes(val, &p.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                m.dropped_attributes_count = int_u32(val, &p.field("droppedAttributesCount"))?;
            }
            "entityRefs" | "entity_refs" => {
                m.entity_refs = list(val, &p.field("entityRefs"), dec_entity_ref)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_entity_ref(v: Json<'_>, p: &Path<'_>) -> Result<EntityRef, JsonError> {
    message(v, p, |m: &mut EntityRef, k, val, p| {
        match k {
            "schemaUrl" | "schema_url" => m.schema_url = string(val, &p.field("schemaUrl"))?,
            "type" => m.r#type = string(val, &p.field("type"))?,
            "idKeys" | "id_keys" => m.id_keys = list(val, &p.field("idKeys"), string)?,
            "descriptionKeys" | "description_keys" => {
                m.description_keys = list(val, &p.field("descriptionKeys"), string)?;
            }
            _ => {}
        }
        Ok(())
    })
}

fn dec_scope(v: Json<'_>, p: &Path<'_>) -> Result<InstrumentationScope, JsonError> {
    message(v, p, |m: &mut InstrumentationScope, k, val, p| {
        match k {
            "name" => m.name = string(val, &p.field("name"))?,
            "version" => m.version = string(val, &p.field("version"))?,
            "attributes" => m.attributes = dec_attributes(val, &p.field("attributes"))?,
            "droppedAttributesCount" | "dropped_attributes_count" => {
                m.dropped_attributes_count = int_u32(val, &p.field("droppedAttributesCount"))?;
            }
            _ => {}
        }
        Ok(())
    })
}

/// A top-level attribute list (`Resource` or `InstrumentationScope`).
fn dec_attributes(v: Json<'_>, p: &Path<'_>) -> Result<Vec<KeyValue>, JsonError> {
    list(v, p, |it, p| dec_key_value(it, p, 0))
}

/// `depth` is the `AnyValue` level of the enclosing value (0 at the top).
fn dec_key_value(v: Json<'_>, p: &Path<'_>, depth: usize) -> Result<KeyValue, JsonError> {
    message(v, p, |m: &mut KeyValue, k, val, p| {
        match k {
            "key" => m.key = string(val, &p.field("key"))?,
            "value" => m.value = Some(dec_any_value(val, &p.field("value"), depth)?),
            "keyStrindex" | "key_strindex" => {
                m.key_strindex = int_i32(val, &p.field("keyStrindex"))?;
            }
            _ => {}
        }
        Ok(())
    })
}

/// `parent_depth` is the `AnyValue` level of the enclosing value (0 at the top).
fn dec_any_value(v: Json<'_>, p: &Path<'_>, parent_depth: usize) -> Result<AnyValue, JsonError> {
    let depth = parent_depth + 1;
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(p.err(format!(
            "AnyValue nesting is deeper than {MAX_ANY_VALUE_DEPTH} levels"
        )));
    }
    message(v, p, |m: &mut AnyValue, k, val, p| {
        let value = match k {
            "stringValue" | "string_value" => {
                Value::StringValue(string(val, &p.field("stringValue"))?)
            }
            "boolValue" | "bool_value" => Value::BoolValue(boolean(val, &p.field("boolValue"))?),
            "intValue" | "int_value" => Value::IntValue(int_i64(val, &p.field("intValue"))?),
            "doubleValue" | "double_value" => {
                Value::DoubleValue(double(val, &p.field("doubleValue"))?)
            }
            "arrayValue" | "array_value" => {
                let p = &p.field("arrayValue");
                Value::ArrayValue(message(val, p, |m: &mut ArrayValue, k, val, p| {
                    if k == "values" {
                        m.values =
                            list(val, &p.field("values"), |it, p| dec_any_value(it, p, depth))?;
                    }
                    Ok(())
                })?)
            }
            "kvlistValue" | "kvlist_value" => {
                let p = &p.field("kvlistValue");
                Value::KvlistValue(message(val, p, |m: &mut KeyValueList, k, val, p| {
                    if k == "values" {
                        m.values =
                            list(val, &p.field("values"), |it, p| dec_key_value(it, p, depth))?;
                    }
                    Ok(())
                })?)
            }
            "bytesValue" | "bytes_value" => {
                Value::BytesValue(bytes_b64(val, &p.field("bytesValue"))?)
            }
            "stringValueStrindex" | "string_value_strindex" => {
                Value::StringValueStrindex(int_i32(val, &p.field("stringValueStrindex"))?)
            }
            _ => return Ok(()),
        };
        if m.value.is_some() {
            return Err(p.err("AnyValue has more than one value field set"));
        }
        m.value = Some(value);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// A rough output size, to avoid most reallocations for large requests.
fn estimate_capacity(req: &ExportProfilesServiceRequest) -> usize {
    let dict = req.dictionary.as_ref().map_or(0, |d| {
        d.string_table.iter().map(|s| s.len() + 3).sum::<usize>()
            + d.location_table.len() * 64
            + d.function_table.len() * 64
            + d.stack_table.len() * 48
            + d.mapping_table.len() * 128
            + d.attribute_table.len() * 64
            + d.link_table.len() * 96
    });
    let samples: usize = req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
        .map(|p| p.samples.len() * 64 + p.original_payload.len() * 4 / 3)
        .sum();
    (dict + samples + 256).min(1 << 28)
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            // `v % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

fn push_quoted_u64(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    push_u64(out, v);
    out.push(b'"');
}

fn push_quoted_i64(out: &mut Vec<u8>, v: i64) {
    out.push(b'"');
    push_i64(out, v);
    out.push(b'"');
}

fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"\"Infinity\"");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"\"-Infinity\"");
    } else {
        // `Debug` prints the shortest text that reads back to the same value, and its forms
        // (`1.0`, `1e-7`, `1e21`, `-0.0`) are all valid JSON numbers.
        out.extend_from_slice(format!("{v:?}").as_bytes());
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(run..i).unwrap_or_default());
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_DIGITS[usize::from(b >> 4)]);
            out.push(HEX_DIGITS[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        run = i + 1;
    }
    out.extend_from_slice(bytes.get(run..).unwrap_or_default());
    out.push(b'"');
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        out.push(HEX_DIGITS[usize::from(b >> 4)]);
        out.push(HEX_DIGITS[usize::from(b & 0xf)]);
    }
    out.push(b'"');
}

fn push_b64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(B64_ENCODE.encode(bytes).as_bytes());
    out.push(b'"');
}

fn push_array<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, it);
    }
    out.push(b']');
}

/// Writes one JSON object, skipping default values.
struct ObjWriter<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl<'w> ObjWriter<'w> {
    fn begin(out: &'w mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjWriter { out, first: true }
    }

    fn end(self) {
        self.out.push(b'}');
    }

    /// Writes the key (a plain ASCII identifier) and returns the buffer for the value.
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            push_str(self.key(k), v);
        }
    }

    fn i32(&mut self, k: &str, v: i32) {
        if v != 0 {
            push_i64(self.key(k), i64::from(v));
        }
    }

    fn u32(&mut self, k: &str, v: u32) {
        if v != 0 {
            push_u64(self.key(k), u64::from(v));
        }
    }

    fn i64(&mut self, k: &str, v: i64) {
        if v != 0 {
            push_quoted_i64(self.key(k), v);
        }
    }

    fn u64(&mut self, k: &str, v: u64) {
        if v != 0 {
            push_quoted_u64(self.key(k), v);
        }
    }

    fn i32s(&mut self, k: &str, v: &[i32]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, &x| push_i64(o, i64::from(x)));
        }
    }

    fn i64s(&mut self, k: &str, v: &[i64]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, &x| push_quoted_i64(o, x));
        }
    }

    fn u64s(&mut self, k: &str, v: &[u64]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, &x| push_quoted_u64(o, x));
        }
    }

    fn strs(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, s| push_str(o, s));
        }
    }

    fn b64(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            push_b64(self.key(k), v);
        }
    }

    fn hex(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            push_hex(self.key(k), v);
        }
    }

    fn msg<T>(&mut self, k: &str, v: Option<&T>, enc: fn(&mut Vec<u8>, &T)) {
        if let Some(v) = v {
            enc(self.key(k), v);
        }
    }

    fn msgs<T>(&mut self, k: &str, v: &[T], enc: fn(&mut Vec<u8>, &T)) {
        if !v.is_empty() {
            push_array(self.key(k), v, enc);
        }
    }
}

fn enc_request(out: &mut Vec<u8>, m: &ExportProfilesServiceRequest) {
    let mut o = ObjWriter::begin(out);
    o.msgs(
        "resourceProfiles",
        &m.resource_profiles,
        enc_resource_profiles,
    );
    o.msg("dictionary", m.dictionary.as_ref(), enc_dictionary);
    o.end();
}

fn enc_response(out: &mut Vec<u8>, m: &ExportProfilesServiceResponse) {
    let mut o = ObjWriter::begin(out);
    o.msg("partialSuccess", m.partial_success.as_ref(), |out, ps| {
        let mut o = ObjWriter::begin(out);
        o.i64("rejectedProfiles", ps.rejected_profiles);
        o.str("errorMessage", &ps.error_message);
        o.end();
    });
    o.end();
}

fn enc_dictionary(out: &mut Vec<u8>, m: &ProfilesDictionary) {
    let mut o = ObjWriter::begin(out);
    o.msgs("mappingTable", &m.mapping_table, enc_mapping);
    o.msgs("locationTable", &m.location_table, enc_location);
    o.msgs("functionTable", &m.function_table, enc_function);
    o.msgs("linkTable", &m.link_table, enc_link);
    o.strs("stringTable", &m.string_table);
    o.msgs("attributeTable", &m.attribute_table, enc_key_value_and_unit);
    o.msgs("stackTable", &m.stack_table, enc_stack);
    o.end();
}

fn enc_resource_profiles(out: &mut Vec<u8>, m: &ResourceProfiles) {
    let mut o = ObjWriter::begin(out);
    o.msg("resource", m.resource.as_ref(), enc_resource);
    o.msgs("scopeProfiles", &m.scope_profiles, enc_scope_profiles);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn enc_scope_profiles(out: &mut Vec<u8>, m: &ScopeProfiles) {
    let mut o = ObjWriter::begin(out);
    o.msg("scope", m.scope.as_ref(), enc_scope);
    o.msgs("profiles", &m.profiles, enc_profile);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn enc_profile(out: &mut Vec<u8>, m: &Profile) {
    let mut o = ObjWriter::begin(out);
    o.msg("sampleType", m.sample_type.as_ref(), enc_value_type);
    o.msgs("samples", &m.samples, enc_sample);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("durationNano", m.duration_nano);
    o.msg("periodType", m.period_type.as_ref(), enc_value_type);
    o.i64("period", m.period);
    o.hex("profileId", &m.profile_id);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.str("originalPayloadFormat", &m.original_payload_format);
    o.b64("originalPayload", &m.original_payload);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.end();
}

fn enc_sample(out: &mut Vec<u8>, m: &Sample) {
    let mut o = ObjWriter::begin(out);
    o.i32("stackIndex", m.stack_index);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.i32("linkIndex", m.link_index);
    o.i64s("values", &m.values);
    o.u64s("timestampsUnixNano", &m.timestamps_unix_nano);
    o.end();
}

fn enc_value_type(out: &mut Vec<u8>, m: &ValueType) {
    let mut o = ObjWriter::begin(out);
    o.i32("typeStrindex", m.type_strindex);
    o.i32("unitStrindex", m.unit_strindex);
    o.end();
}

fn enc_stack(out: &mut Vec<u8>, m: &Stack) {
    let mut o = ObjWriter::begin(out);
    o.i32s("locationIndices", &m.location_indices);
    o.end();
}

fn enc_location(out: &mut Vec<u8>, m: &Location) {
    let mut o = ObjWriter::begin(out);
    o.i32("mappingIndex", m.mapping_index);
    o.u64("address", m.address);
    o.msgs("lines", &m.lines, enc_line);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.end();
}

fn enc_line(out: &mut Vec<u8>, m: &Line) {
    let mut o = ObjWriter::begin(out);
    o.i32("functionIndex", m.function_index);
    o.i64("line", m.line);
    o.i64("column", m.column);
    o.end();
}

fn enc_function(out: &mut Vec<u8>, m: &Function) {
    let mut o = ObjWriter::begin(out);
    o.i32("nameStrindex", m.name_strindex);
    o.i32("systemNameStrindex", m.system_name_strindex);
    o.i32("filenameStrindex", m.filename_strindex);
    o.i64("startLine", m.start_line);
    o.end();
}

fn enc_mapping(out: &mut Vec<u8>, m: &Mapping) {
    let mut o = ObjWriter::begin(out);
    o.u64("memoryStart", m.memory_start);
    o.u64("memoryLimit", m.memory_limit);
    o.u64("fileOffset", m.file_offset);
    o.i32("filenameStrindex", m.filename_strindex);
    o.i32s("attributeIndices", &m.attribute_indices);
    o.end();
}

fn enc_link(out: &mut Vec<u8>, m: &Link) {
    let mut o = ObjWriter::begin(out);
    o.hex("traceId", &m.trace_id);
    o.hex("spanId", &m.span_id);
    o.end();
}

fn enc_key_value_and_unit(out: &mut Vec<u8>, m: &KeyValueAndUnit) {
    let mut o = ObjWriter::begin(out);
    o.i32("keyStrindex", m.key_strindex);
    o.msg("value", m.value.as_ref(), enc_any_value);
    o.i32("unitStrindex", m.unit_strindex);
    o.end();
}

fn enc_resource(out: &mut Vec<u8>, m: &Resource) {
    let mut o = ObjWriter::begin(out);
    o.msgs("attributes", &m.attributes, enc_key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.msgs("entityRefs", &m.entity_refs, enc_entity_ref);
    o.end();
}

fn enc_entity_ref(out: &mut Vec<u8>, m: &EntityRef) {
    let mut o = ObjWriter::begin(out);
    o.str("schemaUrl", &m.schema_url);
    o.str("type", &m.r#type);
    o.strs("idKeys", &m.id_keys);
    o.strs("descriptionKeys", &m.description_keys);
    o.end();
}

fn enc_scope(out: &mut Vec<u8>, m: &InstrumentationScope) {
    let mut o = ObjWriter::begin(out);
    o.str("name", &m.name);
    o.str("version", &m.version);
    o.msgs("attributes", &m.attributes, enc_key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.end();
}

fn enc_key_value(out: &mut Vec<u8>, m: &KeyValue) {
    let mut o = ObjWriter::begin(out);
    o.str("key", &m.key);
    o.msg("value", m.value.as_ref(), enc_any_value);
    o.i32("keyStrindex", m.key_strindex);
    o.end();
}

/// The arm that is set is always written, even when it holds its type's default value.
fn enc_any_value(out: &mut Vec<u8>, m: &AnyValue) {
    let mut o = ObjWriter::begin(out);
    match &m.value {
        None => {}
        Some(Value::StringValue(s)) => push_str(o.key("stringValue"), s),
        Some(Value::BoolValue(b)) => {
            o.key("boolValue")
                .extend_from_slice(if *b { b"true" } else { b"false" })
        }
        Some(Value::IntValue(i)) => push_quoted_i64(o.key("intValue"), *i),
        Some(Value::DoubleValue(d)) => push_f64(o.key("doubleValue"), *d),
        Some(Value::ArrayValue(a)) => {
            let mut inner = ObjWriter::begin(o.key("arrayValue"));
            inner.msgs("values", &a.values, enc_any_value);
            inner.end();
        }
        Some(Value::KvlistValue(kv)) => {
            let mut inner = ObjWriter::begin(o.key("kvlistValue"));
            inner.msgs("values", &kv.values, enc_key_value);
            inner.end();
        }
        Some(Value::BytesValue(b)) => push_b64(o.key("bytesValue"), b),
        Some(Value::StringValueStrindex(i)) => {
            push_i64(o.key("stringValueStrindex"), i64::from(*i));
        }
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_text_exact() {
        assert_eq!(parse_int_text("0").ok(), Some(0));
        assert_eq!(parse_int_text("-0").ok(), Some(0));
        assert_eq!(
            parse_int_text("18446744073709551615").ok(),
            Some(u64::MAX.into())
        );
        assert_eq!(
            parse_int_text("-9223372036854775808").ok(),
            Some(i64::MIN.into())
        );
        assert_eq!(parse_int_text("1e3").ok(), Some(1000));
        assert_eq!(parse_int_text("1.500e3").ok(), Some(1500));
        assert_eq!(parse_int_text("12.0").ok(), Some(12));
        assert_eq!(parse_int_text("007").ok(), Some(7));
        assert_eq!(parse_int_text("0e999999999999999999999").ok(), Some(0));
        assert!(matches!(parse_int_text("1.5"), Err(IntErr::NotInteger)));
        assert!(matches!(parse_int_text("1e-1"), Err(IntErr::NotInteger)));
        assert!(matches!(parse_int_text("1e20"), Err(IntErr::Range)));
        assert!(matches!(
            parse_int_text("1e99999999999999999999"),
            Err(IntErr::Range)
        ));
        for bad in [
            "", "-", "abc", "1.", ".5", "1e", "+1", " 1", "1 ", "0x10", "1_0",
        ] {
            assert!(matches!(parse_int_text(bad), Err(IntErr::Syntax)), "{bad}");
        }
    }

    #[test]
    fn path_rendering() {
        let root = Path::ROOT;
        assert_eq!(root.render(), "$");
        let a = root.field("resourceProfiles");
        let b = a.index(0);
        let c = b.field("scopeProfiles");
        let d = c.index(1);
        assert_eq!(d.render(), "resourceProfiles[0].scopeProfiles[1]");
    }

    #[test]
    fn string_escapes_round_trip() {
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀\u{2028}";
        let mut out = Vec::new();
        push_str(&mut out, s);
        let text = String::from_utf8(out.clone()).unwrap_or_default();
        assert!(text.contains("\\u0001") && text.contains("\\u001f"));
        let mut p = Parser {
            src: &text,
            pos: 0,
            depth: 0,
        };
        match p.parse_value() {
            Ok(Json::Str(back)) => assert_eq!(back, s),
            _ => panic!("string did not parse"),
        }
    }

    #[test]
    fn surrogates() {
        let src = r#""\ud83d\ude00 \ud800 \udc00 \ud800\u0041""#;
        let mut p = Parser {
            src,
            pos: 0,
            depth: 0,
        };
        match p.parse_value() {
            Ok(Json::Str(s)) => assert_eq!(s, "😀 \u{fffd} \u{fffd} \u{fffd}A"),
            _ => panic!("string did not parse"),
        }
    }
}
