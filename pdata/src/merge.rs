//! Merge two validated requests into one dictionary, and split a request by sample count.

use crate::collector::ExportProfilesServiceRequest;
use crate::dict::{Remapper, RequestBuilder};
use crate::proto::ProfilesDictionary;

/// Merges two validated requests. Resources and scopes that are equal are combined; the result's
/// dictionary holds each distinct entry once and nothing unused. O(size of a + size of b).
pub fn merge(
    a: &ExportProfilesServiceRequest,
    b: &ExportProfilesServiceRequest,
) -> ExportProfilesServiceRequest {
    let mut builder = RequestBuilder::new();
    builder.push_request(a);
    builder.push_request(b);
    builder.finish()
}

/// Splits a validated request into parts of at most `max_samples` samples each (a Profile with more
/// samples is cut into several Profiles with the same metadata). Each part has its own dictionary
/// holding only what it uses. `max_samples == 0` means no limit. O(size of the request).
pub fn split(
    req: &ExportProfilesServiceRequest,
    max_samples: usize,
) -> Vec<ExportProfilesServiceRequest> {
    if max_samples == 0 || crate::sample_count(req) <= max_samples {
        let mut b = RequestBuilder::new();
        b.push_request(req);
        return vec![b.finish()];
    }
    let empty = ProfilesDictionary::default();
    let src = req.dictionary.as_ref().unwrap_or(&empty);
    let mut parts = Vec::new();
    let mut current = RequestBuilder::new();
    let mut remap = Remapper::new(src);
    for rp in &req.resource_profiles {
        for sp in &rp.scope_profiles {
            for p in &sp.profiles {
                let mut rest = p.samples.as_slice();
                loop {
                    let room = max_samples - current.sample_count();
                    let take = room.min(rest.len());
                    if take > 0 || rest.is_empty() {
                        current.push_profile(&mut remap, rp, sp, p, &rest[..take]);
                    }
                    rest = &rest[take..];
                    if current.sample_count() >= max_samples {
                        parts.push(std::mem::take(&mut current).finish());
                        remap = Remapper::new(src);
                    }
                    if rest.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    // Trailing profiles without samples do not make a part of their own.
    if !current.is_empty() && (current.sample_count() > 0 || parts.is_empty()) {
        parts.push(current.finish());
    }
    parts
}
