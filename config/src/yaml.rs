//! YAML → located node tree.
//!
//! Built on saphyr's event parser so that every node and every mapping key keeps its line, and
//! so that plain scalars can be typed the way the Collector's YAML library (go-yaml v3) types
//! them (`0x1F`, `1_000`, `0o17`, `True`, ...).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};

use crate::error::{ConfigError, Loc};

/// How deep collections may nest before the document is rejected.
const MAX_DEPTH: usize = 200;
/// How many nodes alias expansion may produce in one document ("billion laughs" guard).
const ALIAS_NODE_BUDGET: usize = 100_000;

/// A YAML node with the place it was written.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub loc: Loc,
    pub value: Value,
    /// For scalars produced by a whole-value `${...}` reference: the text before typing.
    /// A string-typed field receives this text instead of the typed value (spec §2).
    pub original: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_loc: Loc,
    pub value: Node,
}

impl Node {
    pub fn new(loc: Loc, value: Value) -> Node {
        Node {
            loc,
            value,
            original: None,
        }
    }

    pub fn null(loc: Loc) -> Node {
        Node::new(loc, Value::Null)
    }

    /// A short description of the node's type, for error messages.
    pub fn describe(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// The text of a scalar: the original text when known, else a canonical rendering.
    /// `None` for lists and maps.
    pub fn scalar_text(&self) -> Option<String> {
        if let Some(o) = &self.original {
            return Some(o.clone());
        }
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// Counts this node and everything below it, stopping early once `budget` is used up.
    fn count_within(&self, budget: &mut usize) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match &self.value {
            Value::Seq(items) => items.iter().all(|n| n.count_within(budget)),
            Value::Map(entries) => entries.iter().all(|e| e.value.count_within(budget)),
            _ => true,
        }
    }
}

/// Appends a map key to a path: `a` + `b` → `a.b`.
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Appends a list index to a path: `a` + 2 → `a[2]`.
pub(crate) fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The result of parsing one document.
pub(crate) struct Parsed {
    pub root: Node,
    /// Problems that did not stop parsing (duplicate keys, bad tagged values, ...).
    pub errors: Vec<ConfigError>,
}

/// Parses the first YAML document of `text`. An empty document gives a null root.
///
/// With `fixed` set, every node gets that location (used for text that came out of a `${...}`
/// reference, whose lines mean nothing in the config file).
pub(crate) fn parse(
    text: &str,
    file: &Arc<str>,
    fixed: Option<&Loc>,
) -> Result<Parsed, ConfigError> {
    let mut b = Builder {
        parser: Parser::new_from_str(text),
        file: Arc::clone(file),
        fixed: fixed.cloned(),
        anchors: HashMap::new(),
        anchor_keys: HashMap::new(),
        budget: ALIAS_NODE_BUDGET,
        errors: Vec::new(),
    };
    let root = b.document()?;
    Ok(Parsed {
        root,
        errors: b.errors,
    })
}

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    file: Arc<str>,
    fixed: Option<Loc>,
    anchors: HashMap<usize, Node>,
    anchor_keys: HashMap<usize, String>,
    budget: usize,
    errors: Vec<ConfigError>,
}

impl<'a> Builder<'a> {
    fn loc(&self, span: &Span) -> Loc {
        match &self.fixed {
            Some(l) => l.clone(),
            None => Loc::new(&self.file, span.start.line().max(1)),
        }
    }

    fn scan_error(&self, e: &ScanError) -> ConfigError {
        let loc = match &self.fixed {
            Some(l) => l.clone(),
            None => Loc::new(&self.file, e.marker().line().max(1)),
        };
        ConfigError::at("", &loc, format!("invalid YAML: {}", e.info()))
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), ConfigError> {
        match self.parser.next() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => {
                let loc = self
                    .fixed
                    .clone()
                    .unwrap_or_else(|| Loc::new(&self.file, 1));
                Err(ConfigError::at(
                    "",
                    &loc,
                    "invalid YAML: unexpected end of input",
                ))
            }
        }
    }

    fn document(&mut self) -> Result<Node, ConfigError> {
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(Node::null(self.loc(&span))),
                Event::DocumentStart(_) => break,
                other => {
                    let loc = self.loc(&span);
                    return Err(ConfigError::at(
                        "",
                        &loc,
                        format!("invalid YAML: unexpected event {other:?}"),
                    ));
                }
            }
        }
        let (ev, span) = self.next()?;
        if ev == Event::DocumentEnd {
            return Ok(Node::null(self.loc(&span)));
        }
        // Only the first document is used, as go-yaml's Unmarshal does.
        self.node(ev, span, "", 0)
    }

    fn node(
        &mut self,
        ev: Event<'a>,
        span: Span,
        path: &str,
        depth: usize,
    ) -> Result<Node, ConfigError> {
        let loc = self.loc(&span);
        if depth > MAX_DEPTH {
            return Err(ConfigError::at(
                path,
                &loc,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let value = match scalar_value(&text, style, tag.as_deref()) {
                    Ok(v) => v,
                    Err(e) => {
                        self.errors.push(ConfigError::at(path, &loc, e.to_string()));
                        Value::Str(text.to_string())
                    }
                };
                let node = Node::new(loc, value);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                    self.anchor_keys.insert(anchor, text.into_owned());
                }
                Ok(node)
            }
            Event::SequenceStart(anchor, _tag) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    let child = join_index(path, items.len());
                    items.push(self.node(ev, span, &child, depth + 1)?);
                }
                let node = Node::new(loc, Value::Seq(items));
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(node)
            }
            Event::MappingStart(anchor, _tag) => {
                let node = Node::new(loc, Value::Map(self.mapping(path, depth)?));
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(node)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(ConfigError::at(
                        path,
                        &loc,
                        "alias refers to an unknown anchor",
                    ));
                };
                if !target.count_within(&mut self.budget) {
                    return Err(ConfigError::at(
                        path,
                        &loc,
                        "alias expansion produces too many nodes",
                    ));
                }
                Ok(target.clone())
            }
            other => Err(ConfigError::at(
                path,
                &loc,
                format!("invalid YAML: unexpected event {other:?}"),
            )),
        }
    }

    /// Reads the entries of a mapping up to its end event, applying `<<` merge keys.
    fn mapping(&mut self, path: &str, depth: usize) -> Result<Vec<Entry>, ConfigError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut merges: Vec<Node> = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if ev == Event::MappingEnd {
                break;
            }
            let key_loc = self.loc(&span);
            let (key, is_merge) = self.key(ev, span, path, depth)?;
            let (vev, vspan) = self.next()?;
            let child = join_key(path, &key);
            let value = self.node(vev, vspan, &child, depth + 1)?;
            if is_merge {
                merges.push(value);
                continue;
            }
            if let Some(prev) = entries.iter().find(|e| e.key == key) {
                let msg = format!(
                    "mapping key \"{key}\" already defined at line {}",
                    prev.key_loc.line
                );
                self.errors.push(ConfigError::at(child, &key_loc, msg));
                continue;
            }
            entries.push(Entry {
                key,
                key_loc,
                value,
            });
        }
        // Merge keys: explicit keys win; among merged maps, earlier ones win.
        for m in merges {
            let sources = match m.value {
                Value::Map(es) => vec![es],
                Value::Seq(items) => {
                    let mut maps = Vec::new();
                    for item in items {
                        match item.value {
                            Value::Map(es) => maps.push(es),
                            _ => self.errors.push(ConfigError::at(
                                join_key(path, "<<"),
                                &item.loc,
                                "a merge key (<<) list must contain only maps",
                            )),
                        }
                    }
                    maps
                }
                _ => {
                    self.errors.push(ConfigError::at(
                        join_key(path, "<<"),
                        &m.loc,
                        "a merge key (<<) needs a map or a list of maps",
                    ));
                    Vec::new()
                }
            };
            for source in sources {
                for e in source {
                    if !entries.iter().any(|x| x.key == e.key) {
                        entries.push(e);
                    }
                }
            }
        }
        Ok(entries)
    }

    /// Reads a mapping key. Keys must be scalars; their raw text is the key.
    fn key(
        &mut self,
        ev: Event<'a>,
        span: Span,
        path: &str,
        depth: usize,
    ) -> Result<(String, bool), ConfigError> {
        let loc = self.loc(&span);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let is_merge = text == "<<"
                    && style == ScalarStyle::Plain
                    && tag
                        .as_ref()
                        .is_none_or(|t| t.is_yaml_core_schema() && t.suffix == "merge");
                if anchor > 0 {
                    self.anchors
                        .insert(anchor, Node::new(loc, Value::Str(text.to_string())));
                    self.anchor_keys.insert(anchor, text.to_string());
                }
                Ok((text.into_owned(), is_merge))
            }
            Event::Alias(id) => match self.anchor_keys.get(&id) {
                Some(k) => Ok((k.clone(), false)),
                None => Err(ConfigError::at(
                    path,
                    &loc,
                    "a mapping key alias must refer to a scalar",
                )),
            },
            other => {
                // Consume the complex key so the error is reported at the right place.
                let _ = self.node(other, span, path, depth + 1)?;
                Err(ConfigError::at(path, &loc, "mapping keys must be scalars"))
            }
        }
    }
}

/// A scalar whose text does not fit its core-schema tag (`!!int abc`).
#[derive(Debug, thiserror::Error)]
#[error("cannot decode \"{text}\" as !!{suffix}")]
struct TagMismatch {
    text: String,
    suffix: String,
}

/// Types a scalar from its text, style and tag.
fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, TagMismatch> {
    let core = tag
        .filter(|t| t.is_yaml_core_schema())
        .map(|t| t.suffix.as_str());
    match core {
        Some("str") => Ok(Value::Str(text.to_string())),
        Some(suffix @ ("null" | "bool" | "int" | "float")) => {
            let v = resolve_plain(text);
            let ok = match (suffix, &v) {
                ("null", Value::Null) | ("bool", Value::Bool(_)) => true,
                ("int", Value::Int(_) | Value::UInt(_)) => true,
                ("float", Value::Float(_)) => true,
                ("float", Value::Int(i)) => return Ok(Value::Float(*i as f64)),
                ("float", Value::UInt(u)) => return Ok(Value::Float(*u as f64)),
                _ => false,
            };
            if ok {
                Ok(v)
            } else {
                Err(TagMismatch {
                    text: text.to_owned(),
                    suffix: suffix.to_owned(),
                })
            }
        }
        // Other core tags (!!binary, !!timestamp, ...) keep the text.
        Some(_) => Ok(Value::Str(text.to_string())),
        None if style != ScalarStyle::Plain => Ok(Value::Str(text.to_string())),
        None => Ok(resolve_plain(text)),
    }
}

static FLOAT_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").ok());

/// Types an untagged plain scalar like go-yaml v3 does (timestamps stay strings, and
/// `.inf`/`.nan` stay strings because JSON cannot hold them).
pub(crate) fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let numeric_start =
        s.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == '.');
    if !numeric_start {
        return Value::Str(s.to_string());
    }
    let plain: Cow<'_, str> = if s.contains('_') {
        Cow::Owned(s.replace('_', ""))
    } else {
        Cow::Borrowed(s)
    };
    if let Some(v) = parse_int(&plain) {
        return v;
    }
    if FLOAT_RE.as_ref().is_some_and(|r| r.is_match(&plain))
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// Integer syntax with an optional sign and a base prefix (`0x`, `0o`, `0b`, or a leading `0`
/// for octal), as Go's `strconv.ParseInt(s, 0, 64)` accepts it; falls back to `u64` for large
/// unsigned values.
fn parse_int(s: &str) -> Option<Value> {
    let (negative, signed, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, true, &s[1..]),
        Some(b'+') => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = rest.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &rest[2..]),
        Some("0o") => (8, &rest[2..]),
        Some("0b") => (2, &rest[2..]),
        _ if rest.len() > 1 && rest.starts_with('0') => (8, &rest[1..]),
        _ => (10, rest),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let limit = i64::MAX.unsigned_abs() + 1;
        if magnitude > limit {
            return None;
        }
        // magnitude <= 2^63, so the i128 negation fits i64.
        return i64::try_from(-i128::from(magnitude)).ok().map(Value::Int);
    }
    match i64::try_from(magnitude) {
        Ok(i) => Some(Value::Int(i)),
        Err(_) if !signed => Some(Value::UInt(magnitude)),
        Err(_) => None,
    }
}

/// Turns keys written as `a::b::c` into nested maps, as the Collector's config maps do
/// (`::` is its key delimiter, e.g. `--config=yaml:processors::batch::timeout: 2s`).
pub(crate) fn unflatten(node: &mut Node) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(unflatten),
        Value::Map(entries) => {
            let old = std::mem::take(entries);
            for mut e in old {
                unflatten(&mut e.value);
                let Some((first, rest)) = e.key.split_once("::") else {
                    merge_entry(entries, e);
                    continue;
                };
                // Build the nested chain from the innermost key outwards.
                let parts: Vec<&str> = rest.split("::").collect();
                let mut value = e.value;
                for part in parts.iter().rev() {
                    let inner = Entry {
                        key: (*part).to_string(),
                        key_loc: e.key_loc.clone(),
                        value,
                    };
                    value = Node::new(e.key_loc.clone(), Value::Map(vec![inner]));
                }
                let outer = Entry {
                    key: first.to_string(),
                    key_loc: e.key_loc,
                    value,
                };
                merge_entry(entries, outer);
            }
        }
        _ => {}
    }
}

/// Deep-merges `over` into `base`: maps merge key by key, anything else is replaced.
pub(crate) fn merge(base: &mut Node, over: Node) {
    match (&mut base.value, over.value) {
        (Value::Map(base_entries), Value::Map(over_entries)) => {
            for e in over_entries {
                merge_entry(base_entries, e);
            }
        }
        (_, value) => {
            base.value = value;
            base.loc = over.loc;
            base.original = over.original;
        }
    }
}

fn merge_entry(entries: &mut Vec<Entry>, e: Entry) {
    match entries.iter_mut().find(|x| x.key == e.key) {
        Some(existing) => {
            existing.key_loc = e.key_loc;
            merge(&mut existing.value, e.value);
        }
        None => entries.push(e),
    }
}

/// Converts a node to JSON. Records the location of every path (relative to `path`) in `locs`
/// and the original text of whole-value references in `originals`.
pub(crate) fn to_json(
    node: &Node,
    path: &str,
    locs: &mut HashMap<String, Loc>,
    originals: &mut HashMap<String, String>,
) -> serde_json::Value {
    use serde_json::Value as J;
    if let Some(o) = &node.original {
        originals.insert(path.to_string(), o.clone());
    }
    match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| J::String(f.to_string()), J::Number)
        }
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let p = join_index(path, i);
                    locs.insert(p.clone(), item.loc.clone());
                    to_json(item, &p, locs, originals)
                })
                .collect(),
        ),
        Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for e in entries {
                let p = join_key(path, &e.key);
                locs.insert(p.clone(), e.key_loc.clone());
                map.insert(e.key.clone(), to_json(&e.value, &p, locs, originals));
            }
            J::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<str> {
        Arc::from("test.yaml")
    }

    fn parse_ok(text: &str) -> Node {
        match parse(text, &file(), None) {
            Ok(p) => {
                assert!(p.errors.is_empty(), "{:?}", p.errors);
                p.root
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn get<'n>(node: &'n Node, key: &str) -> &'n Node {
        match &node.value {
            Value::Map(es) => match es.iter().find(|e| e.key == key) {
                Some(e) => &e.value,
                None => panic!("no key {key}"),
            },
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn plain_scalars_are_typed_like_go_yaml() {
        let cases: &[(&str, &str)] = &[
            ("5", "Int(5)"),
            ("-5", "Int(-5)"),
            ("0x1F", "Int(31)"),
            ("0o17", "Int(15)"),
            ("017", "Int(15)"),
            ("0b101", "Int(5)"),
            ("1_000", "Int(1000)"),
            ("18446744073709551615", "UInt(18446744073709551615)"),
            ("1.5", "Float(1.5)"),
            ("1e3", "Float(1000.0)"),
            ("True", "Bool(true)"),
            ("~", "Null"),
            ("", "Null"),
            ("yes", "Str(\"yes\")"),
            (".inf", "Str(\".inf\")"),
            ("1.2.3", "Str(\"1.2.3\")"),
            ("0x", "Str(\"0x\")"),
        ];
        for (text, want) in cases {
            assert_eq!(format!("{:?}", resolve_plain(text)), *want, "{text}");
        }
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        let root = parse_ok("a: \"5\"\nb: !!str 6\nc: '0x10'\nd: !!float 3\n");
        assert!(matches!(get(&root, "a").value, Value::Str(ref s) if s == "5"));
        assert!(matches!(get(&root, "b").value, Value::Str(ref s) if s == "6"));
        assert!(matches!(get(&root, "c").value, Value::Str(ref s) if s == "0x10"));
        assert!(matches!(get(&root, "d").value, Value::Float(f) if f == 3.0));
    }

    #[test]
    fn bad_tagged_value_is_an_error() {
        let p = parse("a: !!int abc\n", &file(), None).map_err(|e| e.to_string());
        let errors = p.map(|p| p.errors).unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "a");
    }

    #[test]
    fn lines_of_keys_and_items() {
        let root = parse_ok("# c\na:\n  b: 1\n  c:\n    - x\n    - y\n");
        let Value::Map(top) = &root.value else {
            panic!("map")
        };
        assert_eq!(top[0].key_loc.line, 2);
        let a = get(&root, "a");
        let Value::Map(es) = &a.value else {
            panic!("map")
        };
        assert_eq!(es[0].key_loc.line, 3);
        assert_eq!(es[1].key_loc.line, 4);
        let Value::Seq(items) = &es[1].value.value else {
            panic!("seq")
        };
        assert_eq!(items[1].loc.line, 6);
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let p = parse("a: 1\nb: 2\na: 3\n", &file(), None).map_err(|e| e.to_string());
        let errors = p.map(|p| p.errors).unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "test.yaml:3: a: mapping key \"a\" already defined at line 1"
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let root = parse_ok("base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let other = get(&root, "other");
        assert!(matches!(get(other, "x").value, Value::Int(1)));
        assert!(matches!(get(other, "y").value, Value::Int(3)));
        let Value::Seq(items) = &get(&root, "list").value else {
            panic!("seq")
        };
        assert!(matches!(get(&items[0], "y").value, Value::Int(2)));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = match parse("a: 1\nb: [1, 2\n", &file(), None) {
            Err(e) => e,
            Ok(_) => panic!("expected an error"),
        };
        assert!(e.location.as_ref().is_some_and(|l| l.line >= 2), "{e}");
        assert!(e.message.starts_with("invalid YAML"));
    }

    #[test]
    fn empty_document_is_null() {
        assert!(matches!(parse_ok("").value, Value::Null));
        assert!(matches!(parse_ok("# only a comment\n").value, Value::Null));
    }

    #[test]
    fn double_colon_keys_nest() {
        let mut root = parse_ok(
            "processors::batch::timeout: 2s\nprocessors:\n  batch:\n    send_batch_size: 5\n",
        );
        unflatten(&mut root);
        let batch = get(get(&root, "processors"), "batch");
        assert!(matches!(get(batch, "timeout").value, Value::Str(ref s) if s == "2s"));
        assert!(matches!(get(batch, "send_batch_size").value, Value::Int(5)));
    }

    #[test]
    fn merge_maps_merge_lists_replace() {
        let mut a = parse_ok("m:\n  x: 1\n  l: [1, 2]\n");
        let b = parse_ok("m:\n  y: 2\n  l: [3]\n");
        merge(&mut a, b);
        let m = get(&a, "m");
        assert!(matches!(get(m, "x").value, Value::Int(1)));
        assert!(matches!(get(m, "y").value, Value::Int(2)));
        let Value::Seq(l) = &get(m, "l").value else {
            panic!("seq")
        };
        assert_eq!(l.len(), 1);
    }
}
