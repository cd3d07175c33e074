//! `receivers.otlp` config.

use profcol_config::{ConfigError, Section};
use serde::Deserialize;

use crate::server_config::{GrpcServerConfig, HttpServerConfig, present};

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

impl OtlpReceiverConfig {
    /// Decodes and checks the section, filling endpoint defaults.
    pub fn load(section: &Section) -> Result<OtlpReceiverConfig, ConfigError> {
        let mut cfg: OtlpReceiverConfig = section.decode()?;
        if cfg.protocols.grpc.is_none() && cfg.protocols.http.is_none() {
            return Err(section.error(
                "protocols",
                "must specify at least one protocol (grpc or http)",
            ));
        }
        if let Some(g) = &mut cfg.protocols.grpc {
            if g.endpoint.is_empty() {
                g.endpoint = DEFAULT_GRPC_ENDPOINT.into();
            }
            if g.transport != "tcp" {
                return Err(section.error(
                    "protocols.grpc.transport",
                    format!("transport {:?} is not supported; use \"tcp\"", g.transport),
                ));
            }
            if g.auth.is_some() {
                return Err(section.error(
                    "protocols.grpc.auth",
                    "authenticator extensions are not supported yet",
                ));
            }
            if g.max_recv_msg_size_mib == Some(0) {
                return Err(section.error(
                    "protocols.grpc.max_recv_msg_size_mib",
                    "must be greater than 0",
                ));
            }
            if let Some(tls) = &g.tls {
                tls.identity()
                    .map_err(|e| section.error("protocols.grpc.tls", e))?;
            }
        }
        if let Some(h) = &mut cfg.protocols.http {
            if h.endpoint.is_empty() {
                h.endpoint = DEFAULT_HTTP_ENDPOINT.into();
            }
            if let Some(tls) = &h.tls {
                crate::http_server::rustls_config(tls)
                    .map_err(|e| section.error("protocols.http.tls", e.to_string()))?;
            }
            if h.auth.is_some() {
                return Err(section.error(
                    "protocols.http.auth",
                    "authenticator extensions are not supported yet",
                ));
            }
            if h.max_request_body_size == 0 {
                return Err(section.error(
                    "protocols.http.max_request_body_size",
                    "must be greater than 0",
                ));
            }
            match &h.profiles_url_path {
                Some(p) if !p.starts_with('/') => {
                    return Err(
                        section.error("protocols.http.profiles_url_path", "must start with '/'")
                    );
                }
                None => h.profiles_url_path = Some(DEFAULT_PROFILES_PATH.into()),
                _ => {}
            }
        }
        Ok(cfg)
    }
}
