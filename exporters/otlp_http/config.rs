//! `exporters.otlp_http` config (deprecated alias `otlphttp`).

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigError, Section};
use profcol_pipeline::exporter_helper::{QueueConfig, RetryConfig, de_duration};
use serde::Deserialize;

use crate::client_config::{Compression, TlsClientConfig, check_headers, de_headers};

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
    pub compression: String,
    pub compression_params: Option<serde_json::Value>,
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// `proto` (default) or `json`.
    pub encoding: String,
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
            compression: "gzip".into(),
            compression_params: None,
            timeout: Duration::from_secs(30),
            encoding: "proto".into(),
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

impl OtlpHttpConfig {
    pub fn load(section: &Section) -> Result<OtlpHttpConfig, ConfigError> {
        let cfg: OtlpHttpConfig = section.decode()?;
        let url = cfg.profiles_url().map_err(|e| {
            section.error(
                if cfg.profiles_endpoint.is_some() {
                    "profiles_endpoint"
                } else {
                    "endpoint"
                },
                e,
            )
        })?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(section.error(
                "endpoint",
                format!("{url:?} must start with http:// or https://"),
            ));
        }
        if Compression::parse(&cfg.compression).is_none() {
            return Err(section.error(
                "compression",
                format!(
                    "unsupported compression {:?} (gzip, zstd, zlib, deflate, snappy, x-snappy-framed, lz4, none)",
                    cfg.compression
                ),
            ));
        }
        if !matches!(cfg.encoding.as_str(), "proto" | "json") {
            return Err(section.error(
                "encoding",
                format!("unsupported encoding {:?} (proto or json)", cfg.encoding),
            ));
        }
        check_headers(section, &cfg.headers)?;
        cfg.tls.check().map_err(|(p, m)| section.error(p, m))?;
        cfg.sending_queue
            .check()
            .map_err(|(p, m)| section.error(p, m))?;
        if cfg.auth.is_some() {
            return Err(section.error(
                "auth",
                "authenticator extensions are not supported yet; use headers",
            ));
        }
        Ok(cfg)
    }

    /// The URL profiles are posted to.
    pub fn profiles_url(&self) -> Result<String, String> {
        if let Some(p) = &self.profiles_endpoint {
            return Ok(p.clone());
        }
        let base = self.endpoint.trim();
        if base.is_empty() {
            return Err("endpoint (or profiles_endpoint) must be set".into());
        }
        Ok(if base.ends_with('/') {
            format!("{base}{PROFILES_PATH}")
        } else {
            format!("{base}/{PROFILES_PATH}")
        })
    }
}
