//! The Collector's server settings (`configgrpc.ServerConfig`, `confighttp.ServerConfig`), shared by
//! receivers. Keys profcol accepts but does not act on are listed as such in each receiver README.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// For `Option<T>` fields where a present-but-null key means "enabled with defaults"
/// (e.g. `protocols: {grpc: }`).
pub fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(de)?.unwrap_or_default()))
}

/// `tls` on a server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    pub ca_file: Option<String>,
    pub ca_pem: Option<String>,
    pub client_ca_file: Option<String>,
    pub client_ca_file_reload: bool,
    pub reload_interval: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub include_system_ca_certs_pool: bool,
}

impl TlsServerConfig {
    /// PEM certificate chain and key, from files or inline PEM.
    pub fn identity(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let read =
            |file: &Option<String>, pem: &Option<String>, what: &str| -> Result<Vec<u8>, String> {
                match (file, pem) {
                    (Some(f), _) => {
                        std::fs::read(f).map_err(|e| format!("cannot read {what} {f}: {e}"))
                    }
                    (None, Some(p)) => Ok(p.as_bytes().to_vec()),
                    (None, None) => Err(format!("tls needs {what}_file or {what}_pem")),
                }
            };
        Ok((
            read(&self.cert_file, &self.cert_pem, "cert")?,
            read(&self.key_file, &self.key_pem, "key")?,
        ))
    }

    pub fn client_ca(&self) -> Result<Option<Vec<u8>>, String> {
        match &self.client_ca_file {
            Some(f) => std::fs::read(f)
                .map(Some)
                .map_err(|e| format!("cannot read client_ca_file {f}: {e}")),
            None => Ok(None),
        }
    }
}

/// `configgrpc.ServerConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcServerConfig {
    pub endpoint: String,
    pub transport: String,
    pub tls: Option<TlsServerConfig>,
    pub max_recv_msg_size_mib: Option<u64>,
    pub max_concurrent_streams: Option<u32>,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub keepalive: Option<serde_json::Value>,
    pub auth: Option<serde_json::Value>,
    pub include_metadata: bool,
    pub middlewares: Vec<serde_json::Value>,
}

impl GrpcServerConfig {
    pub fn with_endpoint(endpoint: &str) -> GrpcServerConfig {
        GrpcServerConfig {
            endpoint: endpoint.into(),
            ..Default::default()
        }
    }

    /// The decompressed message size limit in bytes (default 64 MiB).
    pub fn max_recv_bytes(&self) -> usize {
        usize::try_from(
            self.max_recv_msg_size_mib
                .unwrap_or(64)
                .saturating_mul(1 << 20),
        )
        .unwrap_or(usize::MAX)
    }
}

impl Default for GrpcServerConfig {
    fn default() -> Self {
        GrpcServerConfig {
            endpoint: String::new(),
            transport: "tcp".into(),
            tls: None,
            max_recv_msg_size_mib: None,
            max_concurrent_streams: None,
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            auth: None,
            include_metadata: false,
            middlewares: Vec::new(),
        }
    }
}

/// `confighttp.ServerConfig`.
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
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            endpoint: String::new(),
            tls: None,
            cors: None,
            auth: None,
            max_request_body_size: 64 << 20,
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
