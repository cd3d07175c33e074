//! Hash-interning dictionary builder, and a request builder that copies profiles from validated
//! source requests into one shared dictionary, keeping only the entries they use.
//!
//! Every operation is O(1) expected per dictionary entry or sample, so merging and splitting are
//! O(size of the input).

use crate::hash::HashMap;

use prost::Message;

use crate::collector::ExportProfilesServiceRequest;
use crate::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use crate::resource::Resource;

type LocationKey = (i32, u64, Vec<(i32, i64, i64)>, Vec<i32>);
type MappingKey = (u64, u64, u64, i32, Vec<i32>);

/// Builds a deduplicated `ProfilesDictionary`. Index 0 of every table is the zero value.
#[derive(Debug, Clone)]
pub struct DictionaryBuilder {
    dict: ProfilesDictionary,
    strings: HashMap<String, i32>,
    functions: HashMap<(i32, i32, i32, i64), i32>,
    mappings: HashMap<MappingKey, i32>,
    locations: HashMap<LocationKey, i32>,
    stacks: HashMap<Vec<i32>, i32>,
    links: HashMap<(Vec<u8>, Vec<u8>), i32>,
    attributes: HashMap<(i32, Vec<u8>, i32), i32>,
}

impl Default for DictionaryBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn is_zero_link(trace: &[u8], span: &[u8]) -> bool {
    trace.iter().chain(span).all(|&b| b == 0)
}

fn idx(len: usize) -> i32 {
    // Tables are bounded by the input sizes, which are far below i32::MAX entries.
    i32::try_from(len).unwrap_or(i32::MAX)
}

impl DictionaryBuilder {
    pub fn new() -> DictionaryBuilder {
        let mut b = DictionaryBuilder {
            dict: ProfilesDictionary {
                mapping_table: vec![Mapping::default()],
                location_table: vec![Location::default()],
                function_table: vec![Function::default()],
                link_table: vec![Link::default()],
                string_table: vec![String::new()],
                attribute_table: vec![KeyValueAndUnit::default()],
                stack_table: vec![Stack::default()],
            },
            strings: HashMap::default(),
            functions: HashMap::default(),
            mappings: HashMap::default(),
            locations: HashMap::default(),
            stacks: HashMap::default(),
            links: HashMap::default(),
            attributes: HashMap::default(),
        };
        b.strings.insert(String::new(), 0);
        b.functions.insert((0, 0, 0, 0), 0);
        b.mappings.insert((0, 0, 0, 0, Vec::new()), 0);
        b.locations.insert((0, 0, Vec::new(), Vec::new()), 0);
        b.stacks.insert(Vec::new(), 0);
        b.attributes.insert((0, Vec::new(), 0), 0);
        b
    }

    pub fn string(&mut self, s: &str) -> i32 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = idx(self.dict.string_table.len());
        self.dict.string_table.push(s.to_owned());
        self.strings.insert(s.to_owned(), i);
        i
    }

    /// Interns a function whose string indices already belong to this builder.
    pub fn function(&mut self, f: Function) -> i32 {
        let key = (
            f.name_strindex,
            f.system_name_strindex,
            f.filename_strindex,
            f.start_line,
        );
        let next = idx(self.dict.function_table.len());
        let i = *self.functions.entry(key).or_insert(next);
        if i == next {
            self.dict.function_table.push(f);
        }
        i
    }

    pub fn mapping(&mut self, m: Mapping) -> i32 {
        let key = (
            m.memory_start,
            m.memory_limit,
            m.file_offset,
            m.filename_strindex,
            m.attribute_indices.clone(),
        );
        let next = idx(self.dict.mapping_table.len());
        let i = *self.mappings.entry(key).or_insert(next);
        if i == next {
            self.dict.mapping_table.push(m);
        }
        i
    }

    pub fn location(&mut self, l: Location) -> i32 {
        let key = (
            l.mapping_index,
            l.address,
            l.lines
                .iter()
                .map(|x| (x.function_index, x.line, x.column))
                .collect(),
            l.attribute_indices.clone(),
        );
        let next = idx(self.dict.location_table.len());
        let i = *self.locations.entry(key).or_insert(next);
        if i == next {
            self.dict.location_table.push(l);
        }
        i
    }

    pub fn stack(&mut self, location_indices: Vec<i32>) -> i32 {
        if let Some(&i) = self.stacks.get(&location_indices) {
            return i;
        }
        let i = idx(self.dict.stack_table.len());
        self.stacks.insert(location_indices.clone(), i);
        self.dict.stack_table.push(Stack { location_indices });
        i
    }

    pub fn link(&mut self, trace_id: &[u8], span_id: &[u8]) -> i32 {
        if is_zero_link(trace_id, span_id) {
            return 0;
        }
        let key = (trace_id.to_vec(), span_id.to_vec());
        if let Some(&i) = self.links.get(&key) {
            return i;
        }
        let i = idx(self.dict.link_table.len());
        self.links.insert(key, i);
        self.dict.link_table.push(Link {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
        });
        i
    }

    /// Interns an attribute. The value must not contain string-table references (use
    /// [`DictionaryBuilder::attribute_str`] or resolve first).
    pub fn attribute(&mut self, key: &str, value: Option<AnyValue>, unit: &str) -> i32 {
        let k = self.string(key);
        let u = self.string(unit);
        let enc = value
            .as_ref()
            .map(|v| v.encode_to_vec())
            .unwrap_or_default();
        let next = idx(self.dict.attribute_table.len());
        let i = *self.attributes.entry((k, enc, u)).or_insert(next);
        if i == next {
            self.dict.attribute_table.push(KeyValueAndUnit {
                key_strindex: k,
                value,
                unit_strindex: u,
            });
        }
        i
    }

    /// Interns a string-valued attribute.
    pub fn attribute_str(&mut self, key: &str, value: &str) -> i32 {
        self.attribute(
            key,
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            "",
        )
    }

    pub fn dictionary(&self) -> &ProfilesDictionary {
        &self.dict
    }

    pub fn finish(self) -> ProfilesDictionary {
        self.dict
    }
}

/// Copies entries of one validated source dictionary into a builder, memoising the index mapping
/// so each source entry is translated once.
pub struct Remapper<'a> {
    src: &'a ProfilesDictionary,
    strings: Vec<i32>,
    functions: Vec<i32>,
    mappings: Vec<i32>,
    locations: Vec<i32>,
    stacks: Vec<i32>,
    links: Vec<i32>,
    attributes: Vec<i32>,
}

const UNSET: i32 = -1;

impl<'a> Remapper<'a> {
    pub fn new(src: &'a ProfilesDictionary) -> Remapper<'a> {
        let init = |n: usize| {
            let mut v = vec![UNSET; n];
            if let Some(z) = v.first_mut() {
                *z = 0;
            }
            v
        };
        Remapper {
            src,
            strings: init(src.string_table.len()),
            functions: init(src.function_table.len()),
            mappings: init(src.mapping_table.len()),
            locations: init(src.location_table.len()),
            stacks: init(src.stack_table.len()),
            links: init(src.link_table.len()),
            attributes: init(src.attribute_table.len()),
        }
    }

    /// Index 0 (and, defensively, anything out of range) maps to 0.
    fn slot(table: &[i32], i: i32) -> Option<i32> {
        match usize::try_from(i).ok().and_then(|u| table.get(u)) {
            Some(&v) => Some(v),
            None => Some(0),
        }
    }

    pub fn string(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        match Self::slot(&self.strings, i) {
            Some(UNSET) => {
                let s = &self.src.string_table[i as usize];
                let n = b.string(s);
                self.strings[i as usize] = n;
                n
            }
            Some(v) => v,
            None => 0,
        }
    }

    pub fn function(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        if Self::slot(&self.functions, i) != Some(UNSET) {
            return Self::slot(&self.functions, i).unwrap_or(0);
        }
        let f = &self.src.function_table[i as usize];
        let nf = Function {
            name_strindex: self.string(b, f.name_strindex),
            system_name_strindex: self.string(b, f.system_name_strindex),
            filename_strindex: self.string(b, f.filename_strindex),
            start_line: f.start_line,
        };
        let n = b.function(nf);
        self.functions[i as usize] = n;
        n
    }

    pub fn attribute_list(&mut self, b: &mut DictionaryBuilder, list: &[i32]) -> Vec<i32> {
        list.iter().map(|&a| self.attribute(b, a)).collect()
    }

    pub fn attribute(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        if Self::slot(&self.attributes, i) != Some(UNSET) {
            return Self::slot(&self.attributes, i).unwrap_or(0);
        }
        let a = &self.src.attribute_table[i as usize];
        let key = self
            .src
            .string_table
            .get(a.key_strindex as usize)
            .map(String::as_str)
            .unwrap_or("");
        let unit = self
            .src
            .string_table
            .get(a.unit_strindex as usize)
            .map(String::as_str)
            .unwrap_or("");
        let value = a.value.clone().map(|mut v| {
            resolve_value_refs(&mut v, &self.src.string_table);
            v
        });
        let n = b.attribute(key, value, unit);
        self.attributes[i as usize] = n;
        n
    }

    pub fn mapping(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        if Self::slot(&self.mappings, i) != Some(UNSET) {
            return Self::slot(&self.mappings, i).unwrap_or(0);
        }
        let m = &self.src.mapping_table[i as usize];
        let nm = Mapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename_strindex: self.string(b, m.filename_strindex),
            attribute_indices: self.attribute_list(b, &m.attribute_indices),
        };
        let n = b.mapping(nm);
        self.mappings[i as usize] = n;
        n
    }

    pub fn location(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        if Self::slot(&self.locations, i) != Some(UNSET) {
            return Self::slot(&self.locations, i).unwrap_or(0);
        }
        let l = &self.src.location_table[i as usize];
        let mapping_index = self.mapping(b, l.mapping_index);
        let lines = l
            .lines
            .iter()
            .map(|x| Line {
                function_index: self.function(b, x.function_index),
                line: x.line,
                column: x.column,
            })
            .collect();
        let attribute_indices = self.attribute_list(b, &l.attribute_indices);
        let n = b.location(Location {
            mapping_index,
            address: l.address,
            lines,
            attribute_indices,
        });
        self.locations[i as usize] = n;
        n
    }

    pub fn stack(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        if Self::slot(&self.stacks, i) != Some(UNSET) {
            return Self::slot(&self.stacks, i).unwrap_or(0);
        }
        let locs: Vec<i32> = self.src.stack_table[i as usize]
            .location_indices
            .iter()
            .map(|&l| self.location(b, l))
            .collect();
        let n = b.stack(locs);
        self.stacks[i as usize] = n;
        n
    }

    pub fn link(&mut self, b: &mut DictionaryBuilder, i: i32) -> i32 {
        if Self::slot(&self.links, i) != Some(UNSET) {
            return Self::slot(&self.links, i).unwrap_or(0);
        }
        let l = &self.src.link_table[i as usize];
        let n = b.link(&l.trace_id, &l.span_id);
        self.links[i as usize] = n;
        n
    }

    pub fn value_type(
        &mut self,
        b: &mut DictionaryBuilder,
        vt: &Option<ValueType>,
    ) -> Option<ValueType> {
        vt.as_ref().map(|v| ValueType {
            type_strindex: self.string(b, v.type_strindex),
            unit_strindex: self.string(b, v.unit_strindex),
        })
    }

    pub fn sample(&mut self, b: &mut DictionaryBuilder, s: &Sample) -> Sample {
        Sample {
            stack_index: self.stack(b, s.stack_index),
            attribute_indices: self.attribute_list(b, &s.attribute_indices),
            link_index: self.link(b, s.link_index),
            values: s.values.clone(),
            timestamps_unix_nano: s.timestamps_unix_nano.clone(),
        }
    }

    /// A copy of `p` with the given samples, remapped into `b`.
    pub fn profile(
        &mut self,
        b: &mut DictionaryBuilder,
        p: &Profile,
        samples: &[Sample],
    ) -> Profile {
        Profile {
            sample_type: self.value_type(b, &p.sample_type),
            samples: samples.iter().map(|s| self.sample(b, s)).collect(),
            time_unix_nano: p.time_unix_nano,
            duration_nano: p.duration_nano,
            period_type: self.value_type(b, &p.period_type),
            period: p.period,
            profile_id: p.profile_id.clone(),
            dropped_attributes_count: p.dropped_attributes_count,
            original_payload_format: p.original_payload_format.clone(),
            original_payload: p.original_payload.clone(),
            attribute_indices: self.attribute_list(b, &p.attribute_indices),
        }
    }
}

/// Replaces `string_value_strindex` arms by plain strings (recursively).
pub fn resolve_value_refs(v: &mut AnyValue, strings: &[String]) {
    match &mut v.value {
        Some(any_value::Value::StringValueStrindex(i)) => {
            let s = strings.get(*i as usize).cloned().unwrap_or_default();
            v.value = Some(any_value::Value::StringValue(s));
        }
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter_mut()
            .for_each(|x| resolve_value_refs(x, strings)),
        Some(any_value::Value::KvlistValue(l)) => {
            for kv in &mut l.values {
                if kv.key_strindex > 0 {
                    kv.key = strings
                        .get(kv.key_strindex as usize)
                        .cloned()
                        .unwrap_or_default();
                    kv.key_strindex = 0;
                }
                if let Some(x) = &mut kv.value {
                    resolve_value_refs(x, strings);
                }
            }
        }
        _ => {}
    }
}

/// Groups profiles by resource and scope while copying them into one dictionary.
#[derive(Default)]
pub struct RequestBuilder {
    dict: DictionaryBuilder,
    resources: Vec<ResourceProfiles>,
    /// (encoded resource, schema url) → position in `resources`
    resource_index: HashMap<(Vec<u8>, String), usize>,
    /// (resource position, encoded scope, schema url) → position in that resource's scopes
    scope_index: HashMap<(usize, Vec<u8>, String), usize>,
    samples: usize,
}

fn resource_key(r: &Option<Resource>, schema: &str) -> (Vec<u8>, String) {
    (
        r.as_ref().map(|r| r.encode_to_vec()).unwrap_or_default(),
        schema.to_owned(),
    )
}

fn scope_key(s: &Option<InstrumentationScope>) -> Vec<u8> {
    s.as_ref().map(|s| s.encode_to_vec()).unwrap_or_default()
}

impl RequestBuilder {
    pub fn new() -> RequestBuilder {
        RequestBuilder::default()
    }

    /// Samples added so far.
    pub fn sample_count(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    pub fn dictionary(&mut self) -> &mut DictionaryBuilder {
        &mut self.dict
    }

    /// The scope list to append to, creating resource and scope entries as needed.
    fn scope_slot(&mut self, rp: &ResourceProfiles, sp: &ScopeProfiles) -> &mut ScopeProfiles {
        let rkey = resource_key(&rp.resource, &rp.schema_url);
        let ri = match self.resource_index.get(&rkey) {
            Some(&i) => i,
            None => {
                self.resources.push(ResourceProfiles {
                    resource: rp.resource.clone(),
                    scope_profiles: Vec::new(),
                    schema_url: rp.schema_url.clone(),
                });
                let i = self.resources.len() - 1;
                self.resource_index.insert(rkey, i);
                i
            }
        };
        let skey = (ri, scope_key(&sp.scope), sp.schema_url.clone());
        let scopes = &mut self.resources[ri].scope_profiles;
        let si = match self.scope_index.get(&skey) {
            Some(&i) => i,
            None => {
                scopes.push(ScopeProfiles {
                    scope: sp.scope.clone(),
                    profiles: Vec::new(),
                    schema_url: sp.schema_url.clone(),
                });
                let i = scopes.len() - 1;
                self.scope_index.insert(skey, i);
                i
            }
        };
        &mut self.resources[ri].scope_profiles[si]
    }

    /// Appends a profile (or a slice of its samples) from a validated source request.
    pub fn push_profile(
        &mut self,
        remap: &mut Remapper<'_>,
        rp: &ResourceProfiles,
        sp: &ScopeProfiles,
        p: &Profile,
        samples: &[Sample],
    ) {
        let np = remap.profile(&mut self.dict, p, samples);
        self.samples += np.samples.len();
        self.scope_slot(rp, sp).profiles.push(np);
    }

    /// Appends everything in a validated request.
    pub fn push_request(&mut self, req: &ExportProfilesServiceRequest) {
        let empty = ProfilesDictionary::default();
        let src = req.dictionary.as_ref().unwrap_or(&empty);
        let mut remap = Remapper::new(src);
        for rp in &req.resource_profiles {
            for sp in &rp.scope_profiles {
                if sp.profiles.is_empty() {
                    self.scope_slot(rp, sp);
                }
                for p in &sp.profiles {
                    self.push_profile(&mut remap, rp, sp, p, &p.samples);
                }
            }
        }
    }

    pub fn finish(self) -> ExportProfilesServiceRequest {
        ExportProfilesServiceRequest {
            resource_profiles: self.resources,
            dictionary: Some(self.dict.finish()),
        }
    }
}

/// Resolved key of a resource attribute list entry (inline key; references already resolved).
pub fn key_value<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}
