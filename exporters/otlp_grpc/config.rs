//! `exporters.otlp_grpc` config (deprecated alias `otlp`).

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::grpc::EndpointError;
use profcol_settings::{
    ComponentConfig, Compression, GrpcTarget, Problems, QueueConfig, RetryConfig, TlsClientConfig,
    check_headers, de_duration, de_headers,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// `host:port`; `http://` / `https://` / `dns:///` prefixes are accepted.
    pub endpoint: String,
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "de_headers")]
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default), `zstd`, `deflate` or `none`.
    pub compression: Compression,
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
            compression: Compression::Gzip,
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
pub type Target = GrpcTarget;

/// The compressions gRPC supports here (`grpc-encoding`).
const SUPPORTED_COMPRESSION: [Compression; 4] = [
    Compression::Gzip,
    Compression::Zstd,
    Compression::Deflate,
    Compression::None,
];

impl ComponentConfig for OtlpGrpcConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.endpoint.trim().is_empty() {
            p.push("endpoint", "must be set (host:port)");
        } else {
            p.check("endpoint", self.target());
        }
        p.check(
            "compression",
            self.compression.supported(&SUPPORTED_COMPRESSION),
        );
        check_headers(&self.headers, p);
        self.tls.check("tls", p);
        if self.tls.insecure_skip_verify {
            p.push(
                "tls.insecure_skip_verify",
                "not supported by the gRPC exporter; give ca_file instead",
            );
        }
        self.sending_queue.check("sending_queue", p);
        if self.auth.is_some() {
            p.push(
                "auth",
                "authenticator extensions are not supported yet; use headers",
            );
        }
    }
}

impl OtlpGrpcConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<OtlpGrpcConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }

    /// Parses `endpoint` the way the Collector does (see [`GrpcTarget::parse`]).
    pub fn target(&self) -> Result<Target, EndpointError> {
        GrpcTarget::parse(&self.endpoint, self.tls.insecure)
    }
}
