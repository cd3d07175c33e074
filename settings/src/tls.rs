//! TLS settings (`configtls`): `tls` on clients ([`TlsClientConfig`]) and servers
//! ([`TlsServerConfig`]), reading their PEM material, and the rustls server configuration.
//!
//! The Collector's keys: `ca_file`/`ca_pem`, `cert_file`/`cert_pem`, `key_file`/`key_pem`,
//! `min_version`/`max_version` (`"1.0"` to `"1.3"`, default 1.2 as the minimum),
//! `include_system_ca_certs_pool`, `cipher_suites`, `curve_preferences`, `reload_interval`;
//! clients add `insecure`, `insecure_skip_verify` and `server_name_override`, servers
//! `client_ca_file` (mutual TLS) and `client_ca_file_reload`. profcol supports TLS 1.2 and 1.3.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Deserializer};

use crate::load::{Problems, join};

/// A PEM certificate chain and its private key.
pub type PemPair = (Vec<u8>, Vec<u8>);

/// `min_version` / `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_0,
    V1_1,
    V1_2,
    V1_3,
}

impl TlsVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_0 => "1.0",
            TlsVersion::V1_1 => "1.1",
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }

    /// True for the versions profcol can speak (1.2 and 1.3).
    pub fn is_supported(self) -> bool {
        self >= TlsVersion::V1_2
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An optional TLS version: absent or `""` is `None`; other values must be one of the
/// Collector's (`"1.0"`, `"1.1"`, `"1.2"`, `"1.3"`), and an error lists them.
pub fn de_opt_version<'de, D: Deserializer<'de>>(de: D) -> Result<Option<TlsVersion>, D::Error> {
    #[derive(Deserialize)]
    enum Raw {
        #[serde(rename = "")]
        Empty,
        #[serde(rename = "1.0")]
        V1_0,
        #[serde(rename = "1.1")]
        V1_1,
        #[serde(rename = "1.2")]
        V1_2,
        #[serde(rename = "1.3")]
        V1_3,
    }
    Ok(match Option::<Raw>::deserialize(de)? {
        None | Some(Raw::Empty) => None,
        Some(Raw::V1_0) => Some(TlsVersion::V1_0),
        Some(Raw::V1_1) => Some(TlsVersion::V1_1),
        Some(Raw::V1_2) => Some(TlsVersion::V1_2),
        Some(Raw::V1_3) => Some(TlsVersion::V1_3),
    })
}

/// Why PEM material or a `tls` section cannot be used; each message names the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {file}: {source}")]
    Read {
        what: &'static str,
        file: String,
        source: std::io::Error,
    },
    #[error("tls needs {0}_file or {0}_pem")]
    Missing(&'static str),
    #[error("cert_file and key_file must be given together")]
    Unpaired,
    #[error("cert_file/cert_pem: no certificate in the PEM")]
    NoCertificate,
    #[error("cert_file/cert_pem: {0}")]
    Certificate(String),
    #[error("key_file/key_pem: {0}")]
    Key(String),
    #[error("client_ca_file: {0}")]
    ClientCa(String),
    #[error("min_version: {0:?} (use \"1.2\" or \"1.3\")")]
    MinVersion(String),
    #[error("max_version: {0:?} (use \"1.2\" or \"1.3\")")]
    MaxVersion(String),
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// The file's bytes, else the inline PEM, else `None`.
fn read_pem(
    file: &Option<String>,
    pem: &Option<String>,
    what: &'static str,
) -> Result<Option<Vec<u8>>, TlsError> {
    match (file, pem) {
        (Some(f), _) => std::fs::read(f).map(Some).map_err(|source| TlsError::Read {
            what,
            file: f.clone(),
            source,
        }),
        (None, Some(p)) => Ok(Some(p.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

/// `tls` on a client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsClientConfig {
    /// Plaintext (gRPC). For HTTP the URL scheme decides.
    pub insecure: bool,
    pub insecure_skip_verify: bool,
    pub ca_file: Option<String>,
    pub ca_pem: Option<String>,
    pub cert_file: Option<String>,
    pub cert_pem: Option<String>,
    pub key_file: Option<String>,
    pub key_pem: Option<String>,
    pub server_name_override: Option<String>,
    #[serde(deserialize_with = "de_opt_version")]
    pub min_version: Option<TlsVersion>,
    /// Accepted, not acted on.
    #[serde(deserialize_with = "de_opt_version")]
    pub max_version: Option<TlsVersion>,
    pub include_system_ca_certs_pool: bool,
    pub cipher_suites: Vec<String>,
    pub reload_interval: Option<String>,
    pub curve_preferences: Vec<String>,
}

impl TlsClientConfig {
    /// The CA bundle (PEM), from `ca_file` or `ca_pem`.
    pub fn ca(&self) -> Result<Option<Vec<u8>>, TlsError> {
        read_pem(&self.ca_file, &self.ca_pem, "ca_file")
    }

    /// Client certificate and key (PEM) for mutual TLS, when both are given.
    pub fn identity(&self) -> Result<Option<PemPair>, TlsError> {
        match (
            read_pem(&self.cert_file, &self.cert_pem, "cert_file")?,
            read_pem(&self.key_file, &self.key_pem, "key_file")?,
        ) {
            (Some(c), Some(k)) => Ok(Some((c, k))),
            (None, None) => Ok(None),
            _ => Err(TlsError::Unpaired),
        }
    }

    /// Checks that referenced files are readable and the minimum version is supported;
    /// `prefix` is the path of this `tls` section (`tls`).
    pub fn check(&self, prefix: &str, problems: &mut Problems<'_>) {
        problems.check(&join(prefix, "ca_file"), self.ca());
        problems.check(&join(prefix, "cert_file"), self.identity());
        if let Some(v) = self.min_version
            && !v.is_supported()
        {
            problems.push(
                &join(prefix, "min_version"),
                format!("unsupported TLS version \"{v}\"; use \"1.2\" or \"1.3\""),
            );
        }
    }
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
    #[serde(deserialize_with = "de_opt_version")]
    pub min_version: Option<TlsVersion>,
    #[serde(deserialize_with = "de_opt_version")]
    pub max_version: Option<TlsVersion>,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub include_system_ca_certs_pool: bool,
}

impl TlsServerConfig {
    /// PEM certificate chain and key, from files or inline PEM.
    pub fn identity(&self) -> Result<PemPair, TlsError> {
        let cert =
            read_pem(&self.cert_file, &self.cert_pem, "cert")?.ok_or(TlsError::Missing("cert"))?;
        let key =
            read_pem(&self.key_file, &self.key_pem, "key")?.ok_or(TlsError::Missing("key"))?;
        Ok((cert, key))
    }

    /// The CA bundle (PEM) client certificates must chain to, for mutual TLS.
    pub fn client_ca(&self) -> Result<Option<Vec<u8>>, TlsError> {
        read_pem(&self.client_ca_file, &None, "client_ca_file")
    }

    /// A rustls server configuration from these keys: the certificate chain and key (files or
    /// inline PEM), `client_ca_file` for mutual TLS, `min_version`/`max_version`, and ALPN for
    /// HTTP/2 and HTTP/1.1.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let (cert_pem, key_pem) = self.identity()?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
        let name = |v: Option<TlsVersion>| v.map(|v| v.as_str().to_owned()).unwrap_or_default();
        if self.min_version.is_some_and(|v| !v.is_supported()) {
            return Err(TlsError::MinVersion(name(self.min_version)));
        }
        if self.max_version.is_some_and(|v| !v.is_supported()) {
            return Err(TlsError::MaxVersion(name(self.max_version)));
        }
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            (TlsVersion::V1_2, &rustls::version::TLS12),
            (TlsVersion::V1_3, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(v, _)| {
            self.min_version.is_none_or(|m| *v >= m) && self.max_version.is_none_or(|m| *v <= m)
        })
        .map(|(_, v)| v)
        .collect();
        if versions.is_empty() {
            return Err(TlsError::MinVersion(name(self.min_version)));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let builder = match self.client_ca()? {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(&ca) {
                    let c = c.map_err(|e| TlsError::ClientCa(e.to_string()))?;
                    roots
                        .add(c)
                        .map_err(|e| TlsError::ClientCa(e.to_string()))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    roots.into(),
                    provider,
                )
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut cfg = builder.with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// Records at `prefix` (the path of this `tls` section) why it cannot serve, if it cannot.
    pub fn check(&self, prefix: &str, problems: &mut Problems<'_>) {
        problems.check(prefix, self.rustls_config());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "de_opt_version")]
            v: Option<TlsVersion>,
        }
        let v = |j: serde_json::Value| serde_json::from_value::<T>(j).map(|t| t.v);
        assert_eq!(v(serde_json::json!({})).ok(), Some(None));
        assert_eq!(v(serde_json::json!({"v": ""})).ok(), Some(None));
        assert_eq!(
            v(serde_json::json!({"v": "1.3"})).ok(),
            Some(Some(TlsVersion::V1_3))
        );
        let e = v(serde_json::json!({"v": "1.4"}))
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("`1.2`") && e.contains("`1.3`"), "{e}");
    }

    #[test]
    fn server_needs_a_certificate() {
        let e = TlsServerConfig::default()
            .rustls_config()
            .expect_err("no cert");
        assert_eq!(e.to_string(), "tls needs cert_file or cert_pem");
        let t = TlsServerConfig {
            cert_pem: Some("junk".into()),
            key_pem: Some("junk".into()),
            ..Default::default()
        };
        assert!(t.rustls_config().is_err());
    }
}
