//! A component's config section as JSON, with the source line of every path.

use std::collections::HashMap;
use std::sync::Arc;

use serde_path_to_error::Segment;

use crate::error::{ConfigError, Loc, Location};
use crate::yaml::{join_index, join_key};

/// Locations of the paths of one section (relative to the section, `""` is the section itself),
/// plus the pre-typing text of values that came from whole-value `${...}` references.
#[derive(Debug, Default)]
pub(crate) struct LineMap {
    pub locs: HashMap<String, Loc>,
    pub originals: HashMap<String, String>,
}

/// A component's raw config section after env expansion, converted to JSON so components can
/// deserialize it with serde. `value` is `Value::Object(empty)` when the YAML had null/empty.
#[derive(Clone, Debug)]
pub struct Section {
    /// Path of the section in the config, e.g. `receivers.otlp`.
    pub path: String,
    /// The section's settings.
    pub value: serde_json::Value,
    lines: Arc<LineMap>,
}

/// Removes the last segment of a relative path: `a.b[2]` → `a.b`, `a.b` → `a`, `a` → ``.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']')
        && let Some(i) = path.rfind('[')
    {
        return Some(&path[..i]);
    }
    Some(path.rfind('.').map_or("", |i| &path[..i]))
}

fn segments_to_path<'a>(segments: impl Iterator<Item = &'a Segment>) -> String {
    let mut path = String::new();
    for s in segments {
        path = match s {
            Segment::Seq { index } => join_index(&path, *index),
            Segment::Map { key } => join_key(&path, key),
            Segment::Enum { variant } => join_key(&path, variant),
            Segment::Unknown => join_key(&path, "?"),
        };
    }
    path
}

/// Finds the value at a serde_path_to_error path.
fn value_at_mut<'v>(
    value: &'v mut serde_json::Value,
    path: &serde_path_to_error::Path,
) -> Option<&'v mut serde_json::Value> {
    let mut cur = value;
    for s in path {
        cur = match (s, cur) {
            (Segment::Seq { index }, serde_json::Value::Array(items)) => items.get_mut(*index)?,
            (Segment::Map { key }, serde_json::Value::Object(map)) => map.get_mut(key)?,
            _ => return None,
        };
    }
    Some(cur)
}

impl Section {
    pub(crate) fn new(path: String, value: serde_json::Value, lines: LineMap) -> Section {
        Section {
            path,
            value,
            lines: Arc::new(lines),
        }
    }

    /// A section with no YAML behind it (used for embedded defaults / tests).
    pub fn from_value(path: impl Into<String>, value: serde_json::Value) -> Section {
        Section {
            path: path.into(),
            value,
            lines: Arc::new(LineMap::default()),
        }
    }

    /// The full config path of a sub path of this section.
    pub fn full_path(&self, sub_path: &str) -> String {
        if sub_path.is_empty() {
            self.path.clone()
        } else if sub_path.starts_with('[') || self.path.is_empty() {
            format!("{}{}", self.path, sub_path)
        } else {
            format!("{}.{}", self.path, sub_path)
        }
    }

    /// Where the section itself was written.
    pub fn location(&self) -> Option<Location> {
        self.location_of("")
    }

    /// The location of the deepest existing node on `sub_path` (e.g. `protocols.grpc.endpoint`).
    pub fn location_of(&self, sub_path: &str) -> Option<Location> {
        let mut p = Some(sub_path);
        while let Some(cur) = p {
            if let Some(loc) = self.lines.locs.get(cur) {
                return Some(loc.to_location());
            }
            p = parent(cur);
        }
        None
    }

    /// Builds a ConfigError for a sub path (e.g. `protocols.grpc.endpoint`) with its line, for
    /// semantic validation errors.
    pub fn error(&self, sub_path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.full_path(sub_path),
            location: self.location_of(sub_path),
            message: message.into(),
        }
    }

    /// Deserializes into `T` (which should use `#[serde(deny_unknown_fields)]`).
    ///
    /// On error the returned ConfigError's path is `<section path>.<field path>` and its
    /// location is the line of the deepest existing node on that path (for an unknown field,
    /// the line of that key).
    ///
    /// Like the Collector, a value that came from a whole-value `${...}` reference and was typed
    /// (`${env:PORT}` → `0123` → 123) is given to a string field as its original text (`"0123"`).
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let mut patched: Option<serde_json::Value> = None;
        // Each retry replaces one more typed value by its text, so this terminates.
        for _ in 0..=self.lines.originals.len() {
            let value = patched.as_ref().unwrap_or(&self.value);
            let err = match serde_path_to_error::deserialize::<_, T>(value) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let sub = segments_to_path(err.path().iter());
            let message = err.inner().to_string();
            if message.starts_with("invalid type")
                && let Some(original) = self.lines.originals.get(&sub)
            {
                let target = patched.get_or_insert_with(|| self.value.clone());
                if let Some(slot) = value_at_mut(target, err.path())
                    && !slot.is_string()
                {
                    *slot = serde_json::Value::String(original.clone());
                    continue;
                }
            }
            return Err(self.error(&sub, message));
        }
        Err(self.error("", "cannot decode the section"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_paths() {
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a.b"), Some("a"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn from_value_has_no_location() {
        let s = Section::from_value("receivers.x", serde_json::json!({"a": 1}));
        let e = s.error("a", "bad");
        assert_eq!(e.to_string(), "receivers.x.a: bad");
        assert_eq!(s.error("[0]", "bad").path, "receivers.x[0]");
    }
}
