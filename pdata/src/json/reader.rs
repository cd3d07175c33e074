//! A small JSON reader: numbers keep their source text, nesting is bounded by
//! [`MAX_JSON_DEPTH`](super::MAX_JSON_DEPTH).

use std::borrow::Cow;

use super::path::Path;
use super::{JsonError, MAX_JSON_DEPTH};

/// A parsed JSON value. Numbers keep their source text so that conversions are exact.
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

pub(super) fn parse_document(bytes: &[u8]) -> Result<Json<'_>, JsonError> {
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

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    pub(super) depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    pub(super) fn error(&self, what: &str) -> JsonError {
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
    pub(super) fn expected(&self, what: &str) -> JsonError {
        match self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            None => self.error(&format!("unexpected end of input (expected {what})")),
            Some(c) => self.error(&format!("expected {what}, found {c:?}")),
        }
    }

    pub(super) fn slice(&self, start: usize, end: usize) -> Result<&'a str, JsonError> {
        self.src
            .get(start..end)
            .ok_or_else(|| self.error("internal error: slice not on a character boundary"))
    }

    pub(super) fn parse_value(&mut self) -> Result<Json<'a>, JsonError> {
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

    pub(super) fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, JsonError> {
        let rest = self.src.as_bytes().get(self.pos..).unwrap_or_default();
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.expected("a JSON value"))
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), JsonError> {
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

    pub(super) fn parse_object(&mut self) -> Result<Json<'a>, JsonError> {
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

    pub(super) fn parse_array(&mut self) -> Result<Json<'a>, JsonError> {
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

    pub(super) fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    pub(super) fn parse_number(&mut self) -> Result<Json<'a>, JsonError> {
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

    pub(super) fn parse_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
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

    pub(super) fn hex4(&mut self) -> Result<u32, JsonError> {
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
    pub(super) fn unicode_escape(&mut self) -> Result<char, JsonError> {
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
