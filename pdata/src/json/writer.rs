//! Low-level JSON output: numbers, escaped strings, hex, base64, arrays, and [`ObjWriter`],
//! which writes one object and skips default values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64_ENCODE;

pub(super) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
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

pub(super) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

pub(super) fn push_quoted_u64(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    push_u64(out, v);
    out.push(b'"');
}

pub(super) fn push_quoted_i64(out: &mut Vec<u8>, v: i64) {
    out.push(b'"');
    push_i64(out, v);
    out.push(b'"');
}

pub(super) fn push_f64(out: &mut Vec<u8>, v: f64) {
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

pub(super) const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

pub(super) fn push_str(out: &mut Vec<u8>, s: &str) {
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

pub(super) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        out.push(HEX_DIGITS[usize::from(b >> 4)]);
        out.push(HEX_DIGITS[usize::from(b & 0xf)]);
    }
    out.push(b'"');
}

pub(super) fn push_b64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(B64_ENCODE.encode(bytes).as_bytes());
    out.push(b'"');
}

pub(super) fn push_array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut each: impl FnMut(&mut Vec<u8>, &T),
) {
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
pub(super) struct ObjWriter<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl<'w> ObjWriter<'w> {
    pub(super) fn begin(out: &'w mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjWriter { out, first: true }
    }

    pub(super) fn end(self) {
        self.out.push(b'}');
    }

    /// Writes the key (a plain ASCII identifier) and returns the buffer for the value.
    pub(super) fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub(super) fn str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            push_str(self.key(k), v);
        }
    }

    pub(super) fn i32(&mut self, k: &str, v: i32) {
        if v != 0 {
            push_i64(self.key(k), i64::from(v));
        }
    }

    pub(super) fn u32(&mut self, k: &str, v: u32) {
        if v != 0 {
            push_u64(self.key(k), u64::from(v));
        }
    }

    pub(super) fn i64(&mut self, k: &str, v: i64) {
        if v != 0 {
            push_quoted_i64(self.key(k), v);
        }
    }

    pub(super) fn u64(&mut self, k: &str, v: u64) {
        if v != 0 {
            push_quoted_u64(self.key(k), v);
        }
    }

    pub(super) fn i32s(&mut self, k: &str, v: &[i32]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, &x| push_i64(o, i64::from(x)));
        }
    }

    pub(super) fn i64s(&mut self, k: &str, v: &[i64]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, &x| push_quoted_i64(o, x));
        }
    }

    pub(super) fn u64s(&mut self, k: &str, v: &[u64]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, &x| push_quoted_u64(o, x));
        }
    }

    pub(super) fn strs(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            push_array(self.key(k), v, |o, s| push_str(o, s));
        }
    }

    pub(super) fn b64(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            push_b64(self.key(k), v);
        }
    }

    pub(super) fn hex(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            push_hex(self.key(k), v);
        }
    }

    pub(super) fn msg<T>(&mut self, k: &str, v: Option<&T>, enc: fn(&mut Vec<u8>, &T)) {
        if let Some(v) = v {
            enc(self.key(k), v);
        }
    }

    pub(super) fn msgs<T>(&mut self, k: &str, v: &[T], enc: fn(&mut Vec<u8>, &T)) {
        if !v.is_empty() {
            push_array(self.key(k), v, enc);
        }
    }
}
