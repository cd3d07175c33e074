//! What extensions offer the other components, looked up by extension id (the Collector's
//! `host.GetExtensions()`): storage for persistent queues (`sending_queue.storage`), and
//! authenticators for receivers (`auth.authenticator`) and exporters (`auth.authenticator`).
//!
//! The service builds extensions first; each returns its [`Offers`] beside its lifecycle, and
//! every receiver, processor and exporter then finds them through [`Context::host`]
//! (crate::Context). Asking for an extension that is not configured, or that does not offer
//! what was asked, is a [`HostError`] naming both, reported when the component is built.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::BoxError;

/// A storage extension (`file_storage`): durable areas owned by components.
pub trait StorageExtension: Send + Sync {
    /// The directory owned by `owner` (e.g. `exporter/otlp_grpc/backend-profiles`), created if
    /// missing; what the component keeps there is its own.
    fn area(&self, owner: &str) -> Result<StorageArea, BoxError>;
}

/// A directory a component keeps durable state in, and how it must sync writes.
#[derive(Debug, Clone)]
pub struct StorageArea {
    pub directory: std::path::PathBuf,
    /// Whether every acknowledged write is fsync'ed before it is acknowledged.
    pub fsync: bool,
}

/// Who a receiver's client is, once authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// The user or token subject.
    pub subject: String,
}

/// Why a request was not authenticated (answered 401 / `UNAUTHENTICATED`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing credentials: no {0} header")]
    Missing(&'static str),
    #[error("invalid credentials: {0}")]
    Invalid(String),
}

/// A server authenticator (`basicauth`, `bearertokenauth`): checks a request's headers (HTTP
/// headers or gRPC metadata) before its body is read.
pub trait ServerAuthenticator: Send + Sync {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, AuthError>;
}

/// A client authenticator: the headers an exporter adds to every request.
pub trait ClientAuthenticator: Send + Sync {
    fn headers(&self) -> Result<http::HeaderMap, BoxError>;
}

/// What one extension offers.
#[derive(Clone, Default)]
pub struct Offers {
    pub storage: Option<Arc<dyn StorageExtension>>,
    pub server_auth: Option<Arc<dyn ServerAuthenticator>>,
    pub client_auth: Option<Arc<dyn ClientAuthenticator>>,
}

/// A lookup of an extension failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(
        "extension \"{id}\" is not configured (list it under extensions and service.extensions)"
    )]
    Missing { id: String },
    #[error("extension \"{id}\" is not {what}")]
    Wrong { id: String, what: &'static str },
}

/// The extensions of a service, by id.
#[derive(Clone, Default)]
pub struct Host {
    extensions: BTreeMap<String, Offers>,
}

impl Host {
    pub fn new() -> Host {
        Host::default()
    }

    /// Records what the extension `id` offers.
    pub fn insert(&mut self, id: &str, offers: Offers) {
        self.extensions.insert(id.to_string(), offers);
    }

    fn offers(&self, id: &str) -> Result<&Offers, HostError> {
        self.extensions
            .get(id)
            .ok_or_else(|| HostError::Missing { id: id.to_string() })
    }

    pub fn storage(&self, id: &str) -> Result<Arc<dyn StorageExtension>, HostError> {
        self.offers(id)?
            .storage
            .clone()
            .ok_or_else(|| HostError::Wrong {
                id: id.to_string(),
                what: "a storage extension",
            })
    }

    pub fn server_auth(&self, id: &str) -> Result<Arc<dyn ServerAuthenticator>, HostError> {
        self.offers(id)?
            .server_auth
            .clone()
            .ok_or_else(|| HostError::Wrong {
                id: id.to_string(),
                what: "a server authenticator",
            })
    }

    pub fn client_auth(&self, id: &str) -> Result<Arc<dyn ClientAuthenticator>, HostError> {
        self.offers(id)?
            .client_auth
            .clone()
            .ok_or_else(|| HostError::Wrong {
                id: id.to_string(),
                what: "a client authenticator",
            })
    }
}
