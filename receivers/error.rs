//! Errors the receivers share: starting a server.

use std::net::SocketAddr;

use profcol_pipeline::BoxError;
use tokio::net::TcpListener;

/// A server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The endpoint cannot be bound (in use, not an address, not permitted).
    #[error("cannot listen for {what} on {endpoint}: {source}")]
    Bind {
        what: &'static str,
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    LocalAddr(#[source] std::io::Error),
    /// The `tls` files cannot be read.
    #[error("{0}")]
    TlsFiles(#[source] BoxError),
    /// The `tls` section cannot be used (bad PEM, versions...).
    #[error("tls: {0}")]
    Tls(#[from] profcol_settings::TlsError),
    /// tonic refused the TLS settings.
    #[error("invalid tls settings: {0}")]
    GrpcTls(#[source] tonic::transport::Error),
}

/// Binds `endpoint` for the server named `what` (in the error message).
pub async fn bind(
    what: &'static str,
    endpoint: &str,
) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(endpoint)
        .await
        .map_err(|source| ServeError::Bind {
            what,
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::LocalAddr)?;
    Ok((listener, local))
}
