//! Building the HTTP client of the HTTP exporters (reqwest over rustls) from the Collector's
//! client `tls` keys; the settings themselves live in `profcol_settings`.

use std::time::Duration;

use profcol_settings::{TlsClientConfig, TlsError, TlsVersion};

/// Why an HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("invalid ca: {0}")]
    Ca(reqwest::Error),
    #[error("invalid client certificate: {0}")]
    Identity(reqwest::Error),
    #[error("building HTTP client: {0}")]
    Build(reqwest::Error),
}

/// An HTTP client (rustls) with the `tls` settings applied and profcol's user agent.
pub fn http_client(
    tls: &TlsClientConfig,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(format!("profcol/{}", env!("CARGO_PKG_VERSION")))
        .use_rustls_tls();
    if let Some(ca) = tls.ca()? {
        let certs = reqwest::Certificate::from_pem_bundle(&ca).map_err(ClientError::Ca)?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
        if !tls.include_system_ca_certs_pool {
            b = b.tls_built_in_root_certs(false);
        }
    }
    if let Some((cert, key)) = tls.identity()? {
        let mut pem = cert;
        pem.extend_from_slice(b"\n");
        pem.extend_from_slice(&key);
        b = b.identity(reqwest::Identity::from_pem(&pem).map_err(ClientError::Identity)?);
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    if tls.min_version == Some(TlsVersion::V1_3) {
        b = b.min_tls_version(reqwest::tls::Version::TLS_1_3);
    }
    b.build().map_err(ClientError::Build)
}
