//! Resolved views of samples: frames, attributes and links without index juggling.
//!
//! Views index the dictionary directly, so they must only be built over validated requests; an
//! out-of-range index (impossible after validation) resolves to the zero entry instead of panicking.

use std::borrow::Cow;

use crate::collector::ExportProfilesServiceRequest;
use crate::common::{AnyValue, KeyValue, any_value::Value};
use crate::proto::{
    Function, KeyValueAndUnit, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack,
};

fn get<T>(table: &[T], i: i32) -> Option<&T> {
    usize::try_from(i).ok().and_then(|u| table.get(u))
}

/// One resolved stack frame: one line of a location (a location without lines is one frame with
/// empty function fields), with its mapping and the location's frame type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Function name, or its system name when the name is unset, or "" when unknown.
    pub function: &'a str,
    pub system_name: &'a str,
    pub file: &'a str,
    /// The function's `start_line` (0 when unknown).
    pub start_line: i64,
    pub line: i64,
    pub column: i64,
    pub address: u64,
    /// File name of the mapping (binary or library), "" when unknown.
    pub mapping: &'a str,
    /// The mapping's build id: the attribute `process.executable.build_id.gnu`, else `.go`, else
    /// `.htlhash` (the precedence of a pprof mapping's build id), "" when none.
    pub build_id: &'a str,
    /// The mapping's `memory_start`, `memory_limit` and `file_offset` (0 without a mapping).
    pub mapping_start: u64,
    pub mapping_limit: u64,
    pub mapping_offset: u64,
    /// The location attribute `profile.frame.type` as text (`native`, `kernel`, `go`, …), ""
    /// when absent.
    pub frame_type: Cow<'a, str>,
    /// True when this frame was inlined into the next (caller) frame.
    pub inlined: bool,
}

impl Frame<'_> {
    /// A human-readable label: the function name, else `mapping+0xaddr`, else `0xaddr`.
    pub fn label(&self) -> String {
        if !self.function.is_empty() {
            self.function.to_owned()
        } else if !self.mapping.is_empty() {
            format!("{}+0x{:x}", self.mapping, self.address)
        } else {
            format!("0x{:x}", self.address)
        }
    }
}

/// A validated dictionary with resolving accessors.
#[derive(Clone, Copy)]
pub struct Dict<'a> {
    pub raw: &'a ProfilesDictionary,
}

impl<'a> Dict<'a> {
    /// The dictionary of a request (an empty one when the request has none).
    pub fn of_request(req: &'a ExportProfilesServiceRequest) -> Dict<'a> {
        static EMPTY: std::sync::OnceLock<ProfilesDictionary> = std::sync::OnceLock::new();
        Dict::new(
            req.dictionary
                .as_ref()
                .unwrap_or_else(|| EMPTY.get_or_init(ProfilesDictionary::default)),
        )
    }

    pub fn new(raw: &'a ProfilesDictionary) -> Dict<'a> {
        Dict { raw }
    }

    pub fn string(&self, i: i32) -> &'a str {
        get(&self.raw.string_table, i)
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn function(&self, i: i32) -> Option<&'a Function> {
        get(&self.raw.function_table, i)
    }

    pub fn mapping(&self, i: i32) -> Option<&'a Mapping> {
        get(&self.raw.mapping_table, i)
    }

    pub fn location(&self, i: i32) -> Option<&'a Location> {
        get(&self.raw.location_table, i)
    }

    pub fn stack(&self, i: i32) -> Option<&'a Stack> {
        get(&self.raw.stack_table, i)
    }

    pub fn link(&self, i: i32) -> Option<&'a Link> {
        if i == 0 {
            return None;
        }
        get(&self.raw.link_table, i)
    }

    pub fn attribute(&self, i: i32) -> Option<(&'a str, Option<&'a AnyValue>, &'a str)> {
        get(&self.raw.attribute_table, i).map(|a: &'a KeyValueAndUnit| {
            (
                self.string(a.key_strindex),
                a.value.as_ref(),
                self.string(a.unit_strindex),
            )
        })
    }

    /// Renders an attribute value as text (as [`any_value_text`]), resolving string-table
    /// references.
    pub fn value_text(&self, v: Option<&'a AnyValue>) -> Cow<'a, str> {
        match v.and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => Cow::Borrowed(s.as_str()),
            Some(Value::StringValueStrindex(i)) => Cow::Borrowed(self.string(*i)),
            _ => Cow::Owned(any_value_text(v)),
        }
    }

    /// The key of a resource or scope attribute: inline, or a string-table reference.
    pub fn key_of(&self, kv: &'a KeyValue) -> &'a str {
        if kv.key.is_empty() && kv.key_strindex > 0 {
            self.string(kv.key_strindex)
        } else {
            &kv.key
        }
    }

    /// The build id of a mapping (see [`Frame::build_id`]).
    pub fn build_id(&self, m: &'a Mapping) -> &'a str {
        let mut found: [&str; 3] = ["", "", ""];
        for &a in &m.attribute_indices {
            let Some((k, v, _)) = self.attribute(a) else {
                continue;
            };
            let slot = match k {
                "process.executable.build_id.gnu" => 0,
                "process.executable.build_id.go" => 1,
                "process.executable.build_id.htlhash" => 2,
                _ => continue,
            };
            match v.and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => found[slot] = s,
                Some(Value::StringValueStrindex(i)) => found[slot] = self.string(*i),
                _ => {}
            }
        }
        found.into_iter().find(|s| !s.is_empty()).unwrap_or("")
    }

    /// The frames of a location, leaf first (inlined callees before their caller).
    pub fn location_frames(&self, loc_index: i32, out: &mut Vec<Frame<'a>>) {
        let Some(loc) = self.location(loc_index) else {
            return;
        };
        let mapping = if loc.mapping_index == 0 {
            None
        } else {
            self.mapping(loc.mapping_index)
        };
        let mut frame_type: Cow<'a, str> = Cow::Borrowed("");
        for &a in &loc.attribute_indices {
            if let Some(("profile.frame.type", v, _)) = self.attribute(a) {
                frame_type = self.value_text(v);
            }
        }
        let base = Frame {
            function: "",
            system_name: "",
            file: "",
            start_line: 0,
            line: 0,
            column: 0,
            address: loc.address,
            mapping: mapping.map_or("", |m| self.string(m.filename_strindex)),
            build_id: mapping.map_or("", |m| self.build_id(m)),
            mapping_start: mapping.map_or(0, |m| m.memory_start),
            mapping_limit: mapping.map_or(0, |m| m.memory_limit),
            mapping_offset: mapping.map_or(0, |m| m.file_offset),
            frame_type,
            inlined: false,
        };
        if loc.lines.is_empty() {
            out.push(base);
            return;
        }
        let last = loc.lines.len() - 1;
        for (i, line) in loc.lines.iter().enumerate() {
            let f = self.function(line.function_index);
            let name = f.map(|f| self.string(f.name_strindex)).unwrap_or("");
            let system_name = f.map(|f| self.string(f.system_name_strindex)).unwrap_or("");
            out.push(Frame {
                function: if name.is_empty() { system_name } else { name },
                system_name,
                file: f.map(|f| self.string(f.filename_strindex)).unwrap_or(""),
                start_line: f.map_or(0, |f| f.start_line),
                line: line.line,
                column: line.column,
                inlined: i != last,
                ..base.clone()
            });
        }
    }

    /// All frames of a stack, leaf first.
    pub fn stack_frames(&self, stack_index: i32) -> Vec<Frame<'a>> {
        let mut out = Vec::new();
        if let Some(st) = self.stack(stack_index) {
            for &l in &st.location_indices {
                self.location_frames(l, &mut out);
            }
        }
        out
    }
}

/// A sample with everything it points at.
#[derive(Clone, Copy)]
pub struct SampleView<'a> {
    pub dict: Dict<'a>,
    pub resource: &'a ResourceProfiles,
    pub scope: &'a ScopeProfiles,
    pub profile: &'a Profile,
    pub sample: &'a Sample,
}

impl<'a> SampleView<'a> {
    /// Frames, leaf first.
    pub fn frames(&self) -> Vec<Frame<'a>> {
        self.dict.stack_frames(self.sample.stack_index)
    }

    /// `(key, value, unit)` of each sample attribute.
    pub fn attributes(
        &self,
    ) -> impl Iterator<Item = (&'a str, Option<&'a AnyValue>, &'a str)> + 'a {
        let dict = self.dict;
        self.sample
            .attribute_indices
            .iter()
            .filter_map(move |&i| dict.attribute(i))
    }

    pub fn link(&self) -> Option<&'a Link> {
        self.dict.link(self.sample.link_index)
    }

    /// `type/unit` of the profile's sample type, e.g. `cpu/nanoseconds`.
    pub fn sample_type(&self) -> (&'a str, &'a str) {
        match &self.profile.sample_type {
            Some(vt) => (
                self.dict.string(vt.type_strindex),
                self.dict.string(vt.unit_strindex),
            ),
            None => ("", ""),
        }
    }

    /// The sample's weight: the sum of its values, or its number of timestamps when it has none.
    pub fn total(&self) -> i64 {
        if self.sample.values.is_empty() {
            i64::try_from(self.sample.timestamps_unix_nano.len()).unwrap_or(i64::MAX)
        } else {
            self.sample
                .values
                .iter()
                .fold(0i64, |a, &v| a.saturating_add(v))
        }
    }
}

/// Every sample of a validated request, in order.
pub fn samples(req: &ExportProfilesServiceRequest) -> impl Iterator<Item = SampleView<'_>> {
    let dict = Dict::of_request(req);
    req.resource_profiles.iter().flat_map(move |resource| {
        resource.scope_profiles.iter().flat_map(move |scope| {
            scope.profiles.iter().flat_map(move |profile| {
                profile.samples.iter().map(move |sample| SampleView {
                    dict,
                    resource,
                    scope,
                    profile,
                    sample,
                })
            })
        })
    })
}

/// Renders an `AnyValue` as plain text (strings unquoted).
pub fn any_value_text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex::encode(b),
        Some(Value::StringValueStrindex(i)) => format!("<strindex {i}>"),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|x| any_value_text(Some(x))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(Value::KvlistValue(l)) => {
            let items: Vec<String> = l
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, any_value_text(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}
