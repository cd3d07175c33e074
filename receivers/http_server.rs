//! Serving an axum router on a TCP listener, in plain HTTP or over TLS (rustls), with graceful
//! shutdown. Shared by the HTTP receivers.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server_config::TlsServerConfig;

/// A TLS handshake that has not finished in this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open TLS connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a `tls` section cannot be used; each names the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}")]
    Read(String),
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

fn version(v: &Option<String>) -> Result<Option<u8>, String> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("1.2") => Ok(Some(2)),
        Some("1.3") => Ok(Some(3)),
        Some(other) => Err(other.to_owned()),
    }
}

/// A rustls server configuration from the Collector's `tls` keys: the certificate chain and key
/// (files or inline PEM), `client_ca_file` for mutual TLS, `min_version`/`max_version`, and
/// ALPN for HTTP/2 and HTTP/1.1.
pub fn rustls_config(tls: &TlsServerConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert_pem, key_pem) = tls.identity().map_err(TlsError::Read)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
    let min = version(&tls.min_version).map_err(TlsError::MinVersion)?;
    let max = version(&tls.max_version).map_err(TlsError::MaxVersion)?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| min.is_none_or(|m| *v >= m) && max.is_none_or(|m| *v <= m))
            .map(|(_, v)| v)
            .collect();
    if versions.is_empty() {
        return Err(TlsError::MinVersion(
            tls.min_version.clone().unwrap_or_default(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?;
    let builder = match tls.client_ca().map_err(TlsError::Read)? {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&ca) {
                let c = c.map_err(|e| TlsError::ClientCa(e.to_string()))?;
                roots
                    .add(c)
                    .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Serves `app` on `listener` until `stop` fires (over TLS when `tls` is set); `what` names the
/// server in logs.
pub fn spawn(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: CancellationToken,
    what: &'static str,
) -> tokio::task::JoinHandle<()> {
    match tls {
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, server = what, "HTTP server failed");
            }
        }),
        Some(cfg) => tokio::spawn(serve_tls(listener, app, cfg, stop, what)),
    }
}

async fn serve_tls(
    listener: TcpListener,
    app: axum::Router,
    cfg: Arc<rustls::ServerConfig>,
    stop: CancellationToken,
    what: &'static str,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, server = what, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        // Tracks the connection once its handshake finished, for graceful shutdown.
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, server = what, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, server = what, "TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            let builder = Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, server = what, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(server = what, "open TLS connections did not finish in time");
    }
}
