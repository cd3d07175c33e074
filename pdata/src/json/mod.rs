//! OTLP/JSON encoding and decoding for the profiles signal (opentelemetry-proto v1.10.0).
//!
//! This is a hand-written protojson mapping with the OTLP deviations (see
//! `shared/specs/otlp-profiles.md` §7):
//!
//! * Output keys are lowerCamelCase. Input accepts lowerCamelCase and the original snake_case names.
//! * Fields holding default values, empty repeated fields and unset messages are omitted on
//!   output. A message that is set but empty is written as `{}`, so presence survives a round trip.
//! * 64-bit integers (`int64`, `uint64`, `fixed64`) are written as decimal strings. Input accepts
//!   a string or a number. 32-bit integers are written as numbers, and input accepts both forms too.
//! * `traceId`, `spanId` and `profileId` are written as lowercase hex. Input accepts hex (any
//!   case) or standard/URL-safe base64, told apart by length.
//! * Other `bytes` fields (`originalPayload`, `bytesValue`) are standard base64.
//! * Doubles are JSON numbers, or the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
//! * On input, `null` means "absent" and unknown fields are ignored.
//!
//! Parsing uses a small JSON reader of its own rather than `serde_json::Value`. That keeps
//! integer and float conversions exact, because numbers are converted from their source text,
//! and it bounds nesting: [`MAX_JSON_DEPTH`] for raw JSON, [`MAX_ANY_VALUE_DEPTH`] for `AnyValue`.
//! Neither the decoder nor the encoder panics on any input.

mod decode;
mod encode;
mod path;
mod reader;
mod scalar;
mod writer;

#[cfg(test)]
mod tests;

use crate::collector::{ExportProfilesServiceRequest, ExportProfilesServiceResponse};

use path::Path;
use reader::parse_document;
use scalar::{fields, int_i32, string};
use writer::ObjWriter;

/// Deepest `AnyValue` nesting accepted on input. An `AnyValue` held directly by a `KeyValue` or
/// `KeyValueAndUnit` is level 1. This matches prost's default recursion limit of 100.
pub const MAX_ANY_VALUE_DEPTH: usize = 100;

/// Deepest nesting of JSON arrays and objects accepted on input. Each `AnyValue` level takes
/// three or four JSON levels, so [`MAX_ANY_VALUE_DEPTH`] is normally the limit that applies.
pub const MAX_JSON_DEPTH: usize = 512;

/// Length of an OTLP trace id and profile id.
const ID16: usize = 16;
/// Length of an OTLP span id.
const ID8: usize = 8;

/// The longest input value quoted verbatim in an error message.
const MAX_QUOTED: usize = 40;

/// An OTLP/JSON document that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OTLP/JSON at {path}: {message}")]
pub struct JsonError {
    /// Where the problem is, e.g.
    /// `resourceProfiles[0].scopeProfiles[1].profiles[2].samples[5].values[0]`.
    /// It is `$` for the document itself, which includes syntax errors.
    pub path: String,
    /// What is wrong, in English.
    pub message: String,
}

/// Decodes an OTLP/JSON `ExportProfilesServiceRequest`. The same layout is also valid for `ProfilesData`.
pub fn decode_request(bytes: &[u8]) -> Result<ExportProfilesServiceRequest, JsonError> {
    let doc = parse_document(bytes)?;
    decode::dec_request(doc, &Path::ROOT)
}

/// Encodes a request as compact OTLP/JSON: a single line with no trailing newline.
pub fn encode_request(req: &ExportProfilesServiceRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(encode::estimate_capacity(req));
    encode::enc_request(&mut out, req);
    out
}

/// Decodes an OTLP/JSON `ExportProfilesServiceResponse`.
pub fn decode_response(bytes: &[u8]) -> Result<ExportProfilesServiceResponse, JsonError> {
    let doc = parse_document(bytes)?;
    decode::dec_response(doc, &Path::ROOT)
}

/// Encodes a response as compact OTLP/JSON. A response without `partialSuccess` is `{}`.
pub fn encode_response(resp: &ExportProfilesServiceResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode::enc_response(&mut out, resp);
    out
}

/// google.rpc.Status {code, message} as JSON, for HTTP error bodies.
///
/// As in protojson, a zero `code` and an empty `message` are omitted.
pub fn encode_status(code: i32, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 32);
    let mut o = ObjWriter::begin(&mut out);
    o.i32("code", code);
    o.str("message", message);
    o.end();
    out
}

/// Decodes a `google.rpc.Status` JSON body (for example an OTLP/HTTP error response) into
/// `(code, message)`. `details` and unknown fields are ignored, and missing fields are `0` / `""`.
pub fn decode_status(bytes: &[u8]) -> Result<(i32, String), JsonError> {
    let doc = parse_document(bytes)?;
    let p = &Path::ROOT;
    let mut code = 0;
    let mut message = String::new();
    for (k, v) in fields(doc, p)? {
        match k.as_ref() {
            "code" => code = int_i32(v, &p.field("code"))?,
            "message" => message = string(v, &p.field("message"))?,
            _ => {}
        }
    }
    Ok((code, message))
}
