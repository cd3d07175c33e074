//! `headers` on clients (`confighttp.ClientConfig.headers`, `configgrpc.ClientConfig.headers`):
//! written as a map `{Name: value}` or, like newer Collectors, a list `[{name, value}]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::load::Problems;

/// Deserializes `headers` from a map, a list of `{name, value}` or null.
pub fn de_headers<'de, D: Deserializer<'de>>(de: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        name: String,
        value: String,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Map(BTreeMap<String, String>),
        List(Vec<Pair>),
        Null(()),
    }
    Ok(match Raw::deserialize(de)? {
        Raw::Map(m) => m,
        Raw::List(l) => l.into_iter().map(|p| (p.name, p.value)).collect(),
        Raw::Null(()) => BTreeMap::new(),
    })
}

/// A header that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("invalid header {0}")]
    Name(String),
    #[error("invalid header value for {0}")]
    Value(String),
}

/// Records every header whose name or value could not be sent, at `headers.<name>`.
pub fn check_headers(headers: &BTreeMap<String, String>, problems: &mut Problems<'_>) {
    for (k, v) in headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            problems.push(&format!("headers.{k}"), "invalid header name");
        } else if http::HeaderValue::from_str(v).is_err() {
            problems.push(&format!("headers.{k}"), "invalid header value");
        }
    }
}

/// Configured `headers` as a request header map.
pub fn header_map(headers: &BTreeMap<String, String>) -> Result<http::HeaderMap, HeaderError> {
    let mut out = http::HeaderMap::new();
    for (k, v) in headers {
        let name =
            http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| HeaderError::Name(k.clone()))?;
        let value = http::HeaderValue::from_str(v).map_err(|_| HeaderError::Value(k.clone()))?;
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_config::Section;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "de_headers")]
        headers: BTreeMap<String, String>,
    }

    #[test]
    fn map_list_and_null() {
        let h = |j| serde_json::from_value::<T>(j).map(|t| t.headers);
        let want: BTreeMap<String, String> = [("A".to_owned(), "1".to_owned())].into();
        assert_eq!(
            h(serde_json::json!({"headers": {"A": "1"}})).ok(),
            Some(want.clone())
        );
        assert_eq!(
            h(serde_json::json!({"headers": [{"name": "A", "value": "1"}]})).ok(),
            Some(want)
        );
        assert_eq!(
            h(serde_json::json!({"headers": null})).ok(),
            Some(BTreeMap::new())
        );
    }

    #[test]
    fn bad_headers_are_all_reported() {
        let s = Section::from_value("exporters.x", serde_json::json!({}));
        let mut p = Problems::new(&s);
        let headers: BTreeMap<String, String> = [
            ("bad name".to_owned(), "v".to_owned()),
            ("Ok".to_owned(), "line\nbreak".to_owned()),
        ]
        .into();
        check_headers(&headers, &mut p);
        let e = p.finish(()).expect_err("two").to_string();
        assert!(e.contains("headers.bad name: invalid header name"), "{e}");
        assert!(e.contains("headers.Ok: invalid header value"), "{e}");
        assert!(header_map(&headers).is_err());
    }
}
