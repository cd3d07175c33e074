//! Grafana Pyroscope wire types and naming rules (spec `pyroscope.md`).

pub mod ingest;
pub mod series;

/// `push.v1.PushRequest`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

/// `push.v1.PushResponse` (empty).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct PushResponse {}

/// `push.v1.RawProfileSeries`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct RawProfileSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<ProfileAnnotation>,
}

/// `push.v1.RawSample`: a pprof (gzip or plain) and a client-chosen id.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct RawSample {
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    #[prost(string, tag = "2")]
    pub id: String,
}

/// `types.v1.LabelPair`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Message)]
pub struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `types.v1.ProfileAnnotation`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ProfileAnnotation {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Scope attributes that carry Pyroscope series facts through OTLP (profcol's own names), so a
/// Push → OTLP → Push round trip is lossless.
pub mod attr {
    pub const PROFILE_NAME: &str = "pyroscope.profile.name";
    pub const DELTA: &str = "pyroscope.delta";
    pub const SPY: &str = "pyroscope.spy";
}

/// Decodes a `PushRequest` from its JSON form (`series[].labels[{name,value}]`,
/// `samples[{rawProfile (base64), ID}]`, `annotations[{key,value}]`).
pub fn push_request_from_json(bytes: &[u8]) -> Result<PushRequest, String> {
    use base64::Engine as _;
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut out = PushRequest::default();
    let series = match v.get("series") {
        None | Some(serde_json::Value::Null) => return Ok(out),
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => return Err("series: expected an array".into()),
    };
    let s =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    for (i, se) in series.iter().enumerate() {
        let mut rs = RawProfileSeries::default();
        for l in se
            .get("labels")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            rs.labels.push(LabelPair {
                name: s(l, "name"),
                value: s(l, "value"),
            });
        }
        for (j, smp) in se
            .get("samples")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let b64 = smp
                .get("rawProfile")
                .or_else(|| smp.get("raw_profile"))
                .and_then(|x| x.as_str())
                .unwrap_or("");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(b64))
                .map_err(|e| format!("series[{i}].samples[{j}].rawProfile: invalid base64: {e}"))?;
            let id = smp
                .get("ID")
                .or_else(|| smp.get("id"))
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_owned();
            rs.samples.push(RawSample {
                raw_profile: raw,
                id,
            });
        }
        for a in se
            .get("annotations")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            rs.annotations.push(ProfileAnnotation {
                key: s(a, "key"),
                value: s(a, "value"),
            });
        }
        out.series.push(rs);
    }
    Ok(out)
}
