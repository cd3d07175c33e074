//! Conversions of JSON values to message fields: objects, arrays, exact integers, doubles,
//! strings, base64 and ids.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::path::Path;
use super::reader::{Json, Parser};
use super::{JsonError, MAX_QUOTED};

pub(super) fn quote_short(s: &str) -> String {
    if s.chars().count() <= MAX_QUOTED {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_QUOTED).collect();
        format!("{head:?}…")
    }
}

pub(super) fn describe(v: &Json<'_>) -> String {
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
pub(super) fn fields<'a>(
    v: Json<'a>,
    p: &Path<'_>,
) -> Result<Vec<(Cow<'a, str>, Json<'a>)>, JsonError> {
    match v {
        Json::Obj(members) => Ok(members),
        Json::Null => Ok(Vec::new()),
        other => Err(p.err(format!("expected an object, got {}", describe(&other)))),
    }
}

/// Decodes a message: calls `set` for every member whose value is not `null`, with the member's
/// key in lowerCamelCase (a snake_case key, as protojson accepts it, is converted first) and the
/// member's path.
pub(super) fn message<'a, T: Default>(
    v: Json<'a>,
    p: &Path<'_>,
    mut set: impl FnMut(&mut T, &str, Json<'a>, &Path<'_>) -> Result<(), JsonError>,
) -> Result<T, JsonError> {
    let mut m = T::default();
    for (k, val) in fields(v, p)? {
        if matches!(val, Json::Null) {
            continue;
        }
        let key = lower_camel(&k);
        set(&mut m, &key, val, &p.field(&key))?;
    }
    Ok(m)
}

/// The lowerCamelCase form of a snake_case field name (`stack_index` → `stackIndex`). Anything
/// else (a lowerCamelCase name, an unknown spelling) comes back unchanged.
pub(super) fn lower_camel(k: &str) -> Cow<'_, str> {
    let snake = k.contains('_')
        && k.split('_').all(|w| {
            w.starts_with(|c: char| c.is_ascii_lowercase())
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !snake {
        return Cow::Borrowed(k);
    }
    let mut out = String::with_capacity(k.len());
    for (i, w) in k.split('_').enumerate() {
        let mut chars = w.chars();
        match chars.next() {
            Some(c) if i > 0 => out.push(c.to_ascii_uppercase()),
            Some(c) => out.push(c),
            None => {}
        }
        out.extend(chars);
    }
    Cow::Owned(out)
}

/// Decodes a JSON array with `item` for each element.
pub(super) fn list<'a, T>(
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
pub(super) enum IntErr {
    Syntax,
    NotInteger,
    Range,
}

/// Converts decimal number text (JSON number grammar, plus leading zeros) to an exact integer.
/// Fractions and exponents are fine when the value is integral, e.g. `1.0` or `1e3`.
pub(super) fn parse_int_text(text: &str) -> Result<i128, IntErr> {
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
pub(super) fn int<T: TryFrom<i128>>(v: Json<'_>, p: &Path<'_>, ty: &str) -> Result<T, JsonError> {
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

pub(super) fn int_i32(v: Json<'_>, p: &Path<'_>) -> Result<i32, JsonError> {
    int(v, p, "int32")
}

pub(super) fn int_u32(v: Json<'_>, p: &Path<'_>) -> Result<u32, JsonError> {
    int(v, p, "uint32")
}

pub(super) fn int_i64(v: Json<'_>, p: &Path<'_>) -> Result<i64, JsonError> {
    int(v, p, "int64")
}

pub(super) fn int_u64(v: Json<'_>, p: &Path<'_>) -> Result<u64, JsonError> {
    int(v, p, "uint64")
}

/// Whether `s` follows the JSON number grammar (used for doubles given as strings).
pub(super) fn is_json_number(s: &str) -> bool {
    let mut p = Parser {
        src: s,
        pos: 0,
        depth: 0,
    };
    p.parse_number().is_ok() && p.pos == s.len()
}

pub(super) fn double(v: Json<'_>, p: &Path<'_>) -> Result<f64, JsonError> {
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

pub(super) fn boolean(v: Json<'_>, p: &Path<'_>) -> Result<bool, JsonError> {
    match v {
        Json::Bool(b) => Ok(b),
        other => Err(p.err(format!("expected a boolean, got {}", describe(&other)))),
    }
}

pub(super) fn string(v: Json<'_>, p: &Path<'_>) -> Result<String, JsonError> {
    match v {
        Json::Str(s) => Ok(s.into_owned()),
        other => Err(p.err(format!("expected a string, got {}", describe(&other)))),
    }
}

pub(super) const B64_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

pub(super) const B64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64, padded or not; URL-safe base64 is accepted too, as in protojson.
pub(super) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64_STANDARD
        .decode(s)
        .or_else(|_| B64_URL_SAFE.decode(s))
        .ok()
}

pub(super) fn bytes_b64(v: Json<'_>, p: &Path<'_>) -> Result<Vec<u8>, JsonError> {
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
pub(super) fn id_bytes(v: Json<'_>, p: &Path<'_>, n: usize) -> Result<Vec<u8>, JsonError> {
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
