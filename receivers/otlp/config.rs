//! `receivers.otlp` config.

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, GrpcServerConfig, HttpServerConfig, Problems, present};
use serde::Deserialize;

pub const DEFAULT_GRPC_ENDPOINT: &str = "localhost:4317";
pub const DEFAULT_HTTP_ENDPOINT: &str = "localhost:4318";
pub const DEFAULT_PROFILES_PATH: &str = "/v1development/profiles";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    pub protocols: Protocols,
}

/// Each protocol is off unless its key is present; `grpc:` with no value enables the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    #[serde(deserialize_with = "present")]
    pub grpc: Option<GrpcServerConfig>,
    #[serde(deserialize_with = "present")]
    pub http: Option<HttpServerConfig>,
}

impl ComponentConfig for OtlpReceiverConfig {
    /// Fills endpoint and path defaults and records what cannot be served.
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            p.push(
                "protocols",
                "must specify at least one protocol (grpc or http)",
            );
        }
        if let Some(g) = &mut self.protocols.grpc {
            if g.endpoint.is_empty() {
                g.endpoint = DEFAULT_GRPC_ENDPOINT.into();
            }
            g.check("protocols.grpc", p);
        }
        if let Some(h) = &mut self.protocols.http {
            if h.endpoint.is_empty() {
                h.endpoint = DEFAULT_HTTP_ENDPOINT.into();
            }
            h.check("protocols.http", p);
            match &h.profiles_url_path {
                Some(path) if !path.starts_with('/') => {
                    p.push("protocols.http.profiles_url_path", "must start with '/'");
                }
                None => h.profiles_url_path = Some(DEFAULT_PROFILES_PATH.into()),
                _ => {}
            }
        }
    }
}

impl OtlpReceiverConfig {
    /// Decodes and checks the section, filling endpoint defaults; every problem is returned.
    pub fn load(section: &Section) -> Result<OtlpReceiverConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }
}
