//! gRPC settings (`configgrpc`): the server's keys ([`GrpcServerConfig`]) and a client's
//! `endpoint` ([`GrpcTarget`]).

use serde::Deserialize;

use crate::load::{Problems, join};
use crate::tls::TlsServerConfig;

/// `transport` (`confignet`): Go's network names. profcol serves `tcp` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Tcp4,
    Tcp6,
    Udp,
    Udp4,
    Udp6,
    Ip,
    Ip4,
    Ip6,
    Unix,
    Unixgram,
    Unixpacket,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tcp4 => "tcp4",
            Transport::Tcp6 => "tcp6",
            Transport::Udp => "udp",
            Transport::Udp4 => "udp4",
            Transport::Udp6 => "udp6",
            Transport::Ip => "ip",
            Transport::Ip4 => "ip4",
            Transport::Ip6 => "ip6",
            Transport::Unix => "unix",
            Transport::Unixgram => "unixgram",
            Transport::Unixpacket => "unixpacket",
        }
    }
}

impl PartialEq<&str> for Transport {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `configgrpc.ServerConfig`. Keys profcol accepts but does not act on are listed as such in
/// each receiver's README.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcServerConfig {
    pub endpoint: String,
    pub transport: Transport,
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

    /// Records what profcol cannot serve; `prefix` is the path of this section.
    pub fn check(&self, prefix: &str, problems: &mut Problems<'_>) {
        if self.transport != Transport::Tcp {
            problems.push(
                &join(prefix, "transport"),
                format!(
                    "transport {:?} is not supported; use \"tcp\"",
                    self.transport.as_str()
                ),
            );
        }
        if self.auth.is_some() {
            problems.push(
                &join(prefix, "auth"),
                "authenticator extensions are not supported yet",
            );
        }
        if self.max_recv_msg_size_mib == Some(0) {
            problems.push(
                &join(prefix, "max_recv_msg_size_mib"),
                "must be greater than 0",
            );
        }
        if let Some(tls) = &self.tls {
            // The gRPC server builds its own TLS from the PEM pair.
            problems.check(&join(prefix, "tls"), tls.identity());
        }
    }
}

/// Why a gRPC client `endpoint` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("unix sockets are not supported yet")]
    Unix,
    #[error("invalid endpoint {0:?}; expected host:port")]
    Invalid(String),
    #[error("endpoint {0:?} has no port; expected host:port")]
    NoPort(String),
}

/// Where a gRPC client connects and whether TLS is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcTarget {
    pub authority: String,
    pub tls: bool,
}

impl GrpcTarget {
    /// Parses a client `endpoint` the way the Collector does: `host:port`, optionally prefixed
    /// by `http://` (plaintext), `https://` (TLS) or `dns:///`; without a scheme TLS is on
    /// unless `tls.insecure` is set, and `insecure` also turns an `https://` endpoint plaintext.
    pub fn parse(endpoint: &str, insecure: bool) -> Result<GrpcTarget, EndpointError> {
        let e = endpoint.trim();
        let (rest, scheme_tls) = if let Some(r) = e.strip_prefix("https://") {
            (r, Some(true))
        } else if let Some(r) = e.strip_prefix("http://") {
            (r, Some(false))
        } else if let Some(r) = e.strip_prefix("dns:///") {
            (r, None)
        } else if e.starts_with("unix://") {
            return Err(EndpointError::Unix);
        } else {
            (e, None)
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(EndpointError::Invalid(e.to_owned()));
        }
        if !authority.contains(':') {
            return Err(EndpointError::NoPort(e.to_owned()));
        }
        let tls = match scheme_tls {
            Some(t) => t && !insecure,
            None => !insecure,
        };
        Ok(GrpcTarget {
            authority: authority.to_owned(),
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |e: &str, insecure| GrpcTarget::parse(e, insecure);
        assert_eq!(
            t("collector:4317", false),
            Ok(GrpcTarget {
                authority: "collector:4317".into(),
                tls: true
            })
        );
        assert_eq!(t("http://c:4317/", false).map(|t| t.tls), Ok(false));
        assert_eq!(t("https://c:4317", true).map(|t| t.tls), Ok(false));
        assert_eq!(t("dns:///c:4317", true).map(|t| t.tls), Ok(false));
        assert_eq!(t("unix:///x", false), Err(EndpointError::Unix));
        assert!(matches!(t("c", false), Err(EndpointError::NoPort(_))));
        assert!(matches!(t("c:1/x", false), Err(EndpointError::Invalid(_))));
    }

    #[test]
    fn transports() {
        let s = profcol_config::Section::from_value(
            "receivers.otlp",
            serde_json::json!({"transport": "carrier-pigeon"}),
        );
        let e = s
            .decode::<GrpcServerConfig>()
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("`tcp`") && e.contains("`unix`"), "{e}");
        let s = profcol_config::Section::from_value(
            "receivers.otlp",
            serde_json::json!({"transport": "unix", "max_recv_msg_size_mib": 0}),
        );
        let g: GrpcServerConfig = s.decode().expect("decodes");
        let mut p = Problems::new(&s);
        g.check("", &mut p);
        let e = p.finish(()).expect_err("two").to_string();
        assert!(e.contains("transport \"unix\" is not supported"), "{e}");
        assert!(e.contains("max_recv_msg_size_mib"), "{e}");
    }
}
