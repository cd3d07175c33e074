//! profcol's profile data model: the OTLP profiles types, validation of untrusted input,
//! dictionary interning, merge/split, resolved sample views and the OTLP/JSON codec.
//!
//! No I/O and no async live here.

pub use opentelemetry_proto::tonic::collector::profiles::v1development as collector;
pub use opentelemetry_proto::tonic::common::v1 as common;
pub use opentelemetry_proto::tonic::profiles::v1development as proto;
pub use opentelemetry_proto::tonic::resource::v1 as resource;

pub mod batch;
pub mod dict;
pub mod folded;
pub mod hash;
pub mod json;
pub mod merge;
pub mod pprof;
pub mod pyroscope;
pub mod rpc;
pub mod time;
pub mod validate;
pub mod view;

pub use batch::{Batch, RequestContext};
pub use collector::{ExportProfilesServiceRequest, ExportProfilesServiceResponse};
pub use dict::{DictionaryBuilder, RequestBuilder};
pub use merge::{merge, split};
pub use validate::{ValidationError, ValidationOptions, ValidationReport, validate};
pub use view::{Frame, SampleView, samples};

/// A string-valued OTLP attribute.
pub fn string_attribute(key: &str, value: &str) -> common::KeyValue {
    common::KeyValue {
        key: key.to_owned(),
        value: Some(common::AnyValue {
            value: Some(common::any_value::Value::StringValue(value.to_owned())),
        }),
        key_strindex: 0,
    }
}

/// The number of Sample messages in a request (the Collector's `SampleCount()` semantics).
pub fn sample_count(req: &ExportProfilesServiceRequest) -> usize {
    req.resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .flat_map(|sp| &sp.profiles)
        .map(|p| p.samples.len())
        .sum()
}

/// The number of Profile messages in a request.
pub fn profile_count(req: &ExportProfilesServiceRequest) -> usize {
    req.resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .map(|sp| sp.profiles.len())
        .sum()
}
