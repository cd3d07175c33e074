//! `receivers.pyroscope` config.

use std::collections::BTreeMap;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Problems, TlsServerConfig};
use serde::Deserialize;

pub const DEFAULT_ENDPOINT: &str = "localhost:4040";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PyroscopeReceiverConfig {
    /// Serves `/ingest`, `/pyroscope/ingest` and `/push.v1.PusherService/Push` (Connect and gRPC).
    pub endpoint: String,
    /// Largest body, compressed and after decompression (default 64 MiB).
    pub max_request_body_size: u64,
    /// Largest pprof after decompression (default 64 MiB; Pyroscope itself allows 4 MiB).
    pub max_profile_size: u64,
    /// Copy request headers (`X-Scope-OrgID`, `Authorization`, ...) into the batch metadata.
    pub include_metadata: bool,
    /// Resource attributes added to every profile (labels of the request win).
    pub resource_attributes: BTreeMap<String, String>,
    pub span_id_labels: Option<Vec<String>>,
    pub trace_id_labels: Option<Vec<String>>,
    /// Serve HTTPS (the Collector's server `tls` keys); gRPC clients get HTTP/2 by ALPN.
    pub tls: Option<TlsServerConfig>,
}

impl Default for PyroscopeReceiverConfig {
    fn default() -> Self {
        PyroscopeReceiverConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            max_request_body_size: 64 << 20,
            max_profile_size: 64 << 20,
            include_metadata: true,
            resource_attributes: BTreeMap::new(),
            span_id_labels: None,
            trace_id_labels: None,
            tls: None,
        }
    }
}

impl ComponentConfig for PyroscopeReceiverConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.endpoint.trim().is_empty() {
            p.push("endpoint", "must be set");
        }
        if self.max_request_body_size == 0 {
            p.push("max_request_body_size", "must be greater than 0");
        }
        if self.max_profile_size == 0 {
            p.push("max_profile_size", "must be greater than 0");
        }
        if let Some(tls) = &self.tls {
            tls.check("tls", p);
        }
    }
}

impl PyroscopeReceiverConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<PyroscopeReceiverConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }
}
