//! Safe pprof decoding (spec `pprof-otlp-mapping.md` §2): gzip sniffing with a decompressed-size
//! limit, concatenation and legacy-format detection, lossy UTF-8 strings and Go's validity rules.

use crate::hash::{HashMap, HashSet};
use std::borrow::Cow;
use std::io::Read;

use prost::Message;

use super::{DecodeStats, PprofError, Profile};

/// At most this many gzip layers are removed (spec §2.1: "at most twice").
pub const MAX_GZIP_LAYERS: usize = 2;

/// The default decompressed-size limit (64 MiB, as for OTLP requests).
pub const DEFAULT_LIMIT: usize = 64 << 20;

/// True when `b` starts with the gzip magic `1f 8b`.
pub fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
}

fn gunzip_limited(b: &[u8], limit: usize) -> Result<Vec<u8>, PprofError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(b)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(PprofError::Gzip)?;
    if out.len() > limit {
        return Err(PprofError::TooLarge { limit });
    }
    Ok(out)
}

/// Removes up to [`MAX_GZIP_LAYERS`] gzip layers, sniffed by magic bytes, enforcing `limit` on
/// every inflated layer and on the result. Returns the payload and the number of layers removed.
pub fn decompress(bytes: &[u8], limit: usize) -> Result<(Cow<'_, [u8]>, usize), PprofError> {
    let mut data = Cow::Borrowed(bytes);
    let mut layers = 0;
    while is_gzip(&data) {
        if layers == MAX_GZIP_LAYERS {
            return Err(PprofError::TooManyGzipLayers {
                max: MAX_GZIP_LAYERS,
            });
        }
        data = Cow::Owned(gunzip_limited(&data, limit)?);
        layers += 1;
    }
    if data.len() > limit {
        return Err(PprofError::TooLarge { limit });
    }
    Ok((data, layers))
}

fn read_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Scans the top-level wire fields for a second `time_nanos` (field 9), which is how Go's parser
/// recognises concatenated profiles. Stops quietly at malformed wire data.
fn is_concatenated(b: &[u8]) -> bool {
    let mut pos = 0usize;
    let mut seen = false;
    while pos < b.len() {
        let Some(key) = read_varint(b, &mut pos) else {
            return false;
        };
        match key & 7 {
            0 => {
                if read_varint(b, &mut pos).is_none() {
                    return false;
                }
            }
            1 => pos = pos.saturating_add(8),
            2 => {
                let Some(len) = read_varint(b, &mut pos) else {
                    return false;
                };
                pos = pos.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            }
            5 => pos = pos.saturating_add(4),
            _ => return false,
        }
        if key >> 3 == 9 {
            if seen {
                return true;
            }
            seen = true;
        }
    }
    false
}

fn binary_cpu_header(b: &[u8]) -> bool {
    for width in [4usize, 8] {
        for big_endian in [false, true] {
            let word = |i: usize| -> Option<u64> {
                let chunk = b.get(i * width..(i + 1) * width)?;
                let mut v = 0u64;
                if big_endian {
                    for &x in chunk {
                        v = (v << 8) | u64::from(x);
                    }
                } else {
                    for &x in chunk.iter().rev() {
                        v = (v << 8) | u64::from(x);
                    }
                }
                Some(v)
            };
            let words: Option<Vec<u64>> = (0..5).map(word).collect();
            // Header words: 0, 3, 0 (C++) or 1 (Java), period > 0, 0.
            if let Some(&[0, 3, kind, period, 0]) = words.as_deref()
                && kind <= 1
                && period > 0
            {
                return true;
            }
        }
    }
    false
}

/// Recognises the legacy pre-protobuf pprof formats (spec §2.1 table, after
/// `google/pprof: profile/legacy_profile.go`). Returns a short description of the kind.
pub fn legacy_kind(b: &[u8]) -> Option<&'static str> {
    if binary_cpu_header(b) {
        return Some("binary CPU profile");
    }
    let head = String::from_utf8_lossy(b.get(..b.len().min(512)).unwrap_or(b));
    let text = head.trim_start();
    let first = text.lines().next().unwrap_or("").trim_end();
    if text.starts_with("heap profile:") {
        return Some("heap profile");
    }
    if first.starts_with("--- heapz 1 ---") || first.starts_with("--- contentionz 1 ---") {
        return Some("Java legacy text profile");
    }
    if text.starts_with("--- contention") || text.starts_with("--- mutex:") {
        return Some("contention profile");
    }
    if text.starts_with("--- threadz") {
        return Some("threads profile");
    }
    if let Some((name, rest)) = first.split_once(" profile: total ")
        && !name.is_empty()
        && !name.contains(char::is_whitespace)
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        return Some("count profile");
    }
    None
}

/// Decodes a pprof payload (spec §2): sniffs gzip (at most [`MAX_GZIP_LAYERS`] layers, `limit`
/// enforced while inflating), decodes, rejects concatenated profiles, recognises legacy formats,
/// replaces invalid UTF-8 in strings, drops all-zero labels and applies [`check_valid`].
pub fn decode(bytes: &[u8], limit: usize) -> Result<(Profile, DecodeStats), PprofError> {
    if bytes.is_empty() {
        return Err(PprofError::Empty);
    }
    let (data, gzip_layers) = decompress(bytes, limit)?;
    if data.is_empty() {
        return Err(PprofError::Empty);
    }
    let mut p = match Profile::decode(&*data) {
        Ok(p) => p,
        Err(e) => {
            return Err(match legacy_kind(&data) {
                Some(kind) => PprofError::Legacy { kind },
                None => PprofError::Decode {
                    message: e.to_string(),
                },
            });
        }
    };
    if is_concatenated(&data) {
        return Err(PprofError::Concatenated);
    }
    let mut stats = DecodeStats {
        gzip_layers,
        decoded_bytes: data.len(),
        ..Default::default()
    };
    for s in &mut p.string_table {
        if std::str::from_utf8(s).is_err() {
            *s = String::from_utf8_lossy(s).into_owned().into_bytes();
            stats.invalid_utf8_strings += 1;
        }
    }
    stats.implicit_ids_assigned = assign_implicit_ids(&mut p);
    for s in &mut p.sample {
        let before = s.label.len();
        s.label
            .retain(|l| l.str != 0 || l.num != 0 || l.num_unit != 0);
        stats.empty_labels_dropped += before - s.label.len();
    }
    check_valid(&p)?;
    Ok((p, stats))
}

/// Some producers (the .NET profiler) write id 0 for every entry of a table and refer to entries
/// by position (1-based). Go's `CheckValid` rejects such profiles; when a whole non-empty table has
/// id 0, profcol assigns `id = position + 1` instead. Returns the number of tables repaired.
fn assign_implicit_ids(p: &mut Profile) -> usize {
    fn repair<T>(items: &mut [T], id: impl Fn(&mut T) -> &mut u64) -> usize {
        if items.is_empty() || !items.iter_mut().all(|x| *id(x) == 0) {
            return 0;
        }
        for (i, x) in items.iter_mut().enumerate() {
            *id(x) = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        }
        1
    }
    repair(&mut p.mapping, |m| &mut m.id)
        + repair(&mut p.location, |l| &mut l.id)
        + repair(&mut p.function, |f| &mut f.id)
}

fn invalid(path: String, message: impl Into<String>) -> PprofError {
    PprofError::Invalid {
        path,
        message: message.into(),
    }
}

/// Checks that ids are non-zero and unique; returns the set of ids.
fn unique_ids(ids: impl Iterator<Item = u64>, table: &str) -> Result<HashSet<u64>, PprofError> {
    let mut seen = HashSet::default();
    for (i, id) in ids.enumerate() {
        if id == 0 {
            return Err(invalid(format!("{table}[{i}].id"), "id 0 is reserved"));
        }
        if !seen.insert(id) {
            return Err(invalid(
                format!("{table}[{i}].id"),
                format!("duplicate id {id}"),
            ));
        }
    }
    Ok(seen)
}

/// Go's `CheckValid` plus the decoder's rules (spec §2.2). Errors name the field and index.
pub fn check_valid(p: &Profile) -> Result<(), PprofError> {
    match p.string_table.first() {
        Some(s) if s.is_empty() => {}
        _ => {
            return Err(invalid(
                "string_table[0]".into(),
                "string_table[0] must be ''",
            ));
        }
    }
    let n = p.string_table.len();
    let check = |i: i64, path: &dyn Fn() -> String| -> Result<(), PprofError> {
        if usize::try_from(i).is_ok_and(|u| u < n) {
            Ok(())
        } else {
            Err(invalid(
                path(),
                format!("string index {i} out of range (string_table has {n} entries)"),
            ))
        }
    };
    check(p.drop_frames, &|| "drop_frames".into())?;
    check(p.keep_frames, &|| "keep_frames".into())?;
    check(p.default_sample_type, &|| "default_sample_type".into())?;
    check(p.doc_url, &|| "doc_url".into())?;
    for (i, &c) in p.comment.iter().enumerate() {
        check(c, &|| format!("comment[{i}]"))?;
    }
    if let Some(vt) = &p.period_type {
        check(vt.r#type, &|| "period_type.type".into())?;
        check(vt.unit, &|| "period_type.unit".into())?;
    }
    for (i, vt) in p.sample_type.iter().enumerate() {
        check(vt.r#type, &|| format!("sample_type[{i}].type"))?;
        check(vt.unit, &|| format!("sample_type[{i}].unit"))?;
    }
    let mappings = unique_ids(p.mapping.iter().map(|m| m.id), "mapping")?;
    for (i, m) in p.mapping.iter().enumerate() {
        check(m.filename, &|| format!("mapping[{i}].filename"))?;
        check(m.build_id, &|| format!("mapping[{i}].build_id"))?;
    }
    let functions = unique_ids(p.function.iter().map(|f| f.id), "function")?;
    for (i, f) in p.function.iter().enumerate() {
        check(f.name, &|| format!("function[{i}].name"))?;
        check(f.system_name, &|| format!("function[{i}].system_name"))?;
        check(f.filename, &|| format!("function[{i}].filename"))?;
    }
    let locations = unique_ids(p.location.iter().map(|l| l.id), "location")?;
    for (i, l) in p.location.iter().enumerate() {
        if l.mapping_id != 0 && !mappings.contains(&l.mapping_id) {
            return Err(invalid(
                format!("location[{i}].mapping_id"),
                format!("mapping id {} not found", l.mapping_id),
            ));
        }
        for (j, ln) in l.line.iter().enumerate() {
            if !functions.contains(&ln.function_id) {
                return Err(invalid(
                    format!("location[{i}].line[{j}].function_id"),
                    format!("function id {} not found", ln.function_id),
                ));
            }
        }
    }
    let nt = p.sample_type.len();
    if !p.sample.is_empty() && nt == 0 {
        return Err(invalid(
            "sample_type".into(),
            "profile has samples but no sample types",
        ));
    }
    for (i, s) in p.sample.iter().enumerate() {
        if s.value.len() != nt {
            return Err(invalid(
                format!("sample[{i}].value"),
                format!(
                    "sample has {} values but the profile has {nt} sample types",
                    s.value.len()
                ),
            ));
        }
        for (j, id) in s.location_id.iter().enumerate() {
            if !locations.contains(id) {
                return Err(invalid(
                    format!("sample[{i}].location_id[{j}]"),
                    format!("location id {id} not found"),
                ));
            }
        }
        for (j, l) in s.label.iter().enumerate() {
            check(l.key, &|| format!("sample[{i}].label[{j}].key"))?;
            check(l.str, &|| format!("sample[{i}].label[{j}].str"))?;
            check(l.num_unit, &|| format!("sample[{i}].label[{j}].num_unit"))?;
        }
    }
    Ok(())
}

/// Maps pprof ids to positions in their table (first occurrence wins).
pub(crate) fn id_index<T>(items: &[T], id: impl Fn(&T) -> u64) -> HashMap<u64, usize> {
    let mut m = HashMap::with_capacity_and_hasher(items.len(), Default::default());
    for (i, x) in items.iter().enumerate() {
        m.entry(id(x)).or_insert(i);
    }
    m
}
