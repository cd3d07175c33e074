//! `exporters.otlp_grpc` config (deprecated alias `otlp`).

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigError, Section};
use profcol_pipeline::exporter_helper::{QueueConfig, RetryConfig, de_duration};
use serde::Deserialize;

use crate::client_config::{Compression, TlsClientConfig, check_headers, de_headers};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// `host:port`; `http://` / `https://` / `dns:///` prefixes are accepted.
    pub endpoint: String,
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "de_headers")]
    pub headers: BTreeMap<String, String>,
    pub compression: String,
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    pub retry_on_failure: RetryConfig,
    pub sending_queue: QueueConfig,
    pub user_agent: Option<String>,
    // Accepted for compatibility, not acted on:
    pub balancer_name: Option<String>,
    pub wait_for_ready: Option<bool>,
    pub authority: Option<String>,
    pub write_buffer_size: Option<u64>,
    pub read_buffer_size: Option<u64>,
    pub keepalive: Option<serde_json::Value>,
    pub auth: Option<serde_json::Value>,
    pub middlewares: Vec<serde_json::Value>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: "gzip".into(),
            timeout: Duration::from_secs(5),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            user_agent: None,
            balancer_name: None,
            wait_for_ready: None,
            authority: None,
            write_buffer_size: None,
            read_buffer_size: None,
            keepalive: None,
            auth: None,
            middlewares: Vec::new(),
        }
    }
}

/// Where to connect and whether TLS is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub authority: String,
    pub tls: bool,
}

impl OtlpGrpcConfig {
    pub fn load(section: &Section) -> Result<OtlpGrpcConfig, ConfigError> {
        let cfg: OtlpGrpcConfig = section.decode()?;
        if cfg.endpoint.trim().is_empty() {
            return Err(section.error("endpoint", "must be set (host:port)"));
        }
        cfg.target().map_err(|e| section.error("endpoint", e))?;
        match Compression::parse(&cfg.compression) {
            Some(
                Compression::None | Compression::Gzip | Compression::Zstd | Compression::Deflate,
            ) => {}
            _ => {
                return Err(section.error(
                    "compression",
                    format!(
                        "unsupported compression {:?} (gzip, zstd, deflate, none)",
                        cfg.compression
                    ),
                ));
            }
        }
        check_headers(section, &cfg.headers)?;
        cfg.tls.check().map_err(|(p, m)| section.error(p, m))?;
        if cfg.tls.insecure_skip_verify {
            return Err(section.error(
                "tls.insecure_skip_verify",
                "not supported by the gRPC exporter; give ca_file instead",
            ));
        }
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

    /// Parses `endpoint` the way the Collector does.
    pub fn target(&self) -> Result<Target, String> {
        let e = self.endpoint.trim();
        let (rest, scheme_tls) = if let Some(r) = e.strip_prefix("https://") {
            (r, Some(true))
        } else if let Some(r) = e.strip_prefix("http://") {
            (r, Some(false))
        } else if let Some(r) = e.strip_prefix("dns:///") {
            (r, None)
        } else if e.starts_with("unix://") {
            return Err("unix sockets are not supported yet".into());
        } else {
            (e, None)
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("invalid endpoint {e:?}; expected host:port"));
        }
        if !authority.contains(':') {
            return Err(format!("endpoint {e:?} has no port; expected host:port"));
        }
        let tls = match scheme_tls {
            Some(t) => t && !self.tls.insecure,
            None => !self.tls.insecure,
        };
        Ok(Target {
            authority: authority.to_owned(),
            tls,
        })
    }
}
