//! Builds small valid requests from readable stacks, for tests and benches.

use profcol_pdata::collector::ExportProfilesServiceRequest;
use profcol_pdata::common::InstrumentationScope;
use profcol_pdata::dict::DictionaryBuilder;
use profcol_pdata::proto::{
    Function, Line, Location, Profile, ResourceProfiles, Sample, ScopeProfiles, ValueType,
};
use profcol_pdata::resource::Resource;

/// One sample: frames root first (`["main", "handler", "hot"]`), its value, and optional
/// string sample attributes.
#[derive(Debug, Clone)]
pub struct StackSample<'a> {
    pub frames: &'a [&'a str],
    pub value: i64,
    pub attributes: &'a [(&'a str, &'a str)],
}

/// A string-valued OTLP attribute.
pub use profcol_pdata::string_attribute as kv;

/// A request with one resource (`service.name` = `service`), one scope and one `cpu/nanoseconds`
/// profile holding the given samples.
pub fn request(service: &str, samples: &[StackSample<'_>]) -> ExportProfilesServiceRequest {
    let mut d = DictionaryBuilder::new();
    let mut out = Vec::new();
    for s in samples {
        let mut locs = Vec::new();
        for name in s.frames.iter().rev() {
            let n = d.string(name);
            let file = d.string(&format!("{name}.go"));
            let f = d.function(Function {
                name_strindex: n,
                system_name_strindex: n,
                filename_strindex: file,
                start_line: 1,
            });
            locs.push(d.location(Location {
                mapping_index: 0,
                address: 0,
                lines: vec![Line {
                    function_index: f,
                    line: 10,
                    column: 0,
                }],
                attribute_indices: vec![],
            }));
        }
        let stack_index = d.stack(locs);
        let attribute_indices = s
            .attributes
            .iter()
            .map(|(k, v)| d.attribute_str(k, v))
            .collect();
        out.push(Sample {
            stack_index,
            attribute_indices,
            link_index: 0,
            values: vec![s.value],
            timestamps_unix_nano: vec![],
        });
    }
    let sample_type = Some(ValueType {
        type_strindex: d.string("cpu"),
        unit_strindex: d.string("nanoseconds"),
    });
    let period_type = sample_type;
    let profile = Profile {
        sample_type,
        samples: out,
        time_unix_nano: 1_700_000_000_000_000_000,
        duration_nano: 10_000_000_000,
        period_type,
        period: 10_000_000,
        ..Default::default()
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(InstrumentationScope {
                    name: "profcol-synth".into(),
                    ..Default::default()
                }),
                profiles: vec![profile],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(d.finish()),
    }
}

/// Shorthand: samples without attributes.
pub fn stacks(service: &str, stacks: &[(&[&str], i64)]) -> ExportProfilesServiceRequest {
    let samples: Vec<StackSample<'_>> = stacks
        .iter()
        .map(|(f, v)| StackSample {
            frames: f,
            value: *v,
            attributes: &[],
        })
        .collect();
    request(service, &samples)
}

/// [`stacks`] of `n` samples of value 1, sample `i` with the frames `frames(i)` (root first).
pub fn numbered_stacks(
    service: &str,
    n: usize,
    frames: impl Fn(usize) -> Vec<String>,
) -> ExportProfilesServiceRequest {
    let owned: Vec<Vec<String>> = (0..n).map(frames).collect();
    let refs: Vec<Vec<&str>> = owned
        .iter()
        .map(|f| f.iter().map(String::as_str).collect())
        .collect();
    let st: Vec<(&[&str], i64)> = refs.iter().map(|f| (f.as_slice(), 1)).collect();
    stacks(service, &st)
}

/// Per resolved stack (`root;...;leaf`), the summed sample totals of a validated request.
pub fn totals_by_stack(
    req: &ExportProfilesServiceRequest,
) -> std::collections::BTreeMap<String, i64> {
    let mut m = std::collections::BTreeMap::new();
    for s in profcol_pdata::samples(req) {
        let key: Vec<String> = s.frames().iter().rev().map(|f| f.label()).collect();
        *m.entry(key.join(";")).or_insert(0) += s.total();
    }
    m
}
