//! `exporters.otlp_http` config (deprecated alias `otlphttp`).

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::http::{is_http_url, join_url};
use profcol_settings::{
    ComponentConfig, Compression, Problems, QueueConfig, RetryConfig, TlsClientConfig,
    check_headers, de_duration, de_headers,
};
use serde::Deserialize;

/// `encoding`: how requests are serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf`).
    #[default]
    Proto,
    /// OTLP/JSON (`application/json`).
    Json,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Proto => "proto",
            Encoding::Json => "json",
        }
    }
}

impl PartialEq<&str> for Encoding {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

pub const PROFILES_PATH: &str = "v1development/profiles";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Base URL; profiles go to `{endpoint}/v1development/profiles`.
    pub endpoint: String,
    /// Full URL for profiles, used as is (overrides `endpoint`).
    pub profiles_endpoint: Option<String>,
    pub traces_endpoint: Option<String>,
    pub metrics_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "de_headers")]
    pub headers: BTreeMap<String, String>,
    /// Any of the Collector's values; `gzip` by default.
    pub compression: Compression,
    pub compression_params: Option<serde_json::Value>,
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// `proto` (default) or `json`.
    pub encoding: Encoding,
    pub retry_on_failure: RetryConfig,
    pub sending_queue: QueueConfig,
    // Accepted for compatibility, not acted on:
    pub proxy_url: Option<String>,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub max_idle_conns_per_host: Option<u64>,
    pub max_conns_per_host: Option<u64>,
    pub idle_conn_timeout: Option<serde_json::Value>,
    pub disable_keep_alives: Option<bool>,
    pub http2_read_idle_timeout: Option<serde_json::Value>,
    pub http2_ping_timeout: Option<serde_json::Value>,
    pub force_attempt_http2: Option<bool>,
    pub cookies: Option<serde_json::Value>,
    pub auth: Option<serde_json::Value>,
    pub middlewares: Vec<serde_json::Value>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: String::new(),
            profiles_endpoint: None,
            traces_endpoint: None,
            metrics_endpoint: None,
            logs_endpoint: None,
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            compression_params: None,
            timeout: Duration::from_secs(30),
            encoding: Encoding::Proto,
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            proxy_url: None,
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            max_idle_conns_per_host: None,
            max_conns_per_host: None,
            idle_conn_timeout: None,
            disable_keep_alives: None,
            http2_read_idle_timeout: None,
            http2_ping_timeout: None,
            force_attempt_http2: None,
            cookies: None,
            auth: None,
            middlewares: Vec::new(),
        }
    }
}

/// Why no profiles URL can be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("endpoint (or profiles_endpoint) must be set")]
pub struct NoEndpoint;

impl ComponentConfig for OtlpHttpConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        match self.profiles_url() {
            Err(e) => p.push(
                if self.profiles_endpoint.is_some() {
                    "profiles_endpoint"
                } else {
                    "endpoint"
                },
                e,
            ),
            Ok(url) if !is_http_url(&url) => p.push(
                "endpoint",
                format!("{url:?} must start with http:// or https://"),
            ),
            Ok(_) => {}
        }
        check_headers(&self.headers, p);
        self.tls.check("tls", p);
        self.sending_queue.check("sending_queue", p);
        if self.auth.is_some() {
            p.push(
                "auth",
                "authenticator extensions are not supported yet; use headers",
            );
        }
    }
}

impl OtlpHttpConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<OtlpHttpConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }

    /// The URL profiles are posted to.
    pub fn profiles_url(&self) -> Result<String, NoEndpoint> {
        if let Some(p) = &self.profiles_endpoint {
            return Ok(p.clone());
        }
        let base = self.endpoint.trim();
        if base.is_empty() {
            return Err(NoEndpoint);
        }
        Ok(join_url(base, PROFILES_PATH))
    }
}
