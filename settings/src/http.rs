//! HTTP settings (`confighttp`): the server's keys ([`HttpServerConfig`]) and joining a client's
//! base `endpoint` with a signal path.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::load::{Problems, join};
use crate::tls::TlsServerConfig;

/// `confighttp.ServerConfig` (default `max_request_body_size`: 64 MiB). Keys profcol accepts
/// but does not act on are listed as such in each receiver's README.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServerConfig {
    pub endpoint: String,
    pub tls: Option<TlsServerConfig>,
    pub cors: Option<serde_json::Value>,
    pub auth: Option<serde_json::Value>,
    pub max_request_body_size: u64,
    pub include_metadata: bool,
    pub response_headers: BTreeMap<String, String>,
    pub compression_algorithms: Option<Vec<String>>,
    pub read_timeout: Option<serde_json::Value>,
    pub read_header_timeout: Option<serde_json::Value>,
    pub write_timeout: Option<serde_json::Value>,
    pub idle_timeout: Option<serde_json::Value>,
    pub keep_alives_enabled: Option<bool>,
    pub middlewares: Vec<serde_json::Value>,
    /// OTLP receiver only; the other signals' paths are accepted for compatibility.
    pub traces_url_path: Option<String>,
    pub metrics_url_path: Option<String>,
    pub logs_url_path: Option<String>,
    /// profcol extension: the profiles path (default `/v1development/profiles`).
    pub profiles_url_path: Option<String>,
}

/// The default `max_request_body_size` of the Collector's HTTP servers.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: u64 = 64 << 20;

impl HttpServerConfig {
    pub fn with_endpoint(endpoint: &str) -> HttpServerConfig {
        HttpServerConfig {
            endpoint: endpoint.into(),
            ..Default::default()
        }
    }

    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.max_request_body_size).unwrap_or(usize::MAX)
    }

    /// Records what profcol cannot serve; `prefix` is the path of this section.
    pub fn check(&self, prefix: &str, problems: &mut Problems<'_>) {
        if let Some(tls) = &self.tls {
            tls.check(&join(prefix, "tls"), problems);
        }
        if self.auth.is_some() {
            problems.push(
                &join(prefix, "auth"),
                "authenticator extensions are not supported yet",
            );
        }
        if self.max_request_body_size == 0 {
            problems.push(
                &join(prefix, "max_request_body_size"),
                "must be greater than 0",
            );
        }
    }
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            endpoint: String::new(),
            tls: None,
            cors: None,
            auth: None,
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            include_metadata: false,
            response_headers: BTreeMap::new(),
            compression_algorithms: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            keep_alives_enabled: None,
            middlewares: Vec::new(),
            traces_url_path: None,
            metrics_url_path: None,
            logs_url_path: None,
            profiles_url_path: None,
        }
    }
}

/// `base` and `path` joined by exactly one `/` (`http://h:4318` + `v1development/profiles`).
pub fn join_url(base: &str, path: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

/// True when `url` is an `http://` or `https://` URL.
pub fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(join_url("http://h:1", "a/b"), "http://h:1/a/b");
        assert_eq!(join_url("http://h:1/p/", "a"), "http://h:1/p/a");
        assert!(is_http_url("https://x"));
        assert!(!is_http_url("localhost:4040"));
    }

    #[test]
    fn server_problems_are_collected() {
        let s = profcol_config::Section::from_value("receivers.x", serde_json::json!({}));
        let h = HttpServerConfig {
            max_request_body_size: 0,
            auth: Some(serde_json::json!({"authenticator": "a"})),
            ..Default::default()
        };
        let mut p = Problems::new(&s);
        h.check("http", &mut p);
        assert_eq!(p.finish(()).expect_err("two").len(), 2);
    }
}
