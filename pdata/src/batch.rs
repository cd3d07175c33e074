//! The unit that flows through a pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::collector::ExportProfilesServiceRequest;

/// Facts about the request a batch came from.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Client metadata (HTTP headers or gRPC metadata), lower-case keys; only filled when the
    /// receiver has `include_metadata: true`.
    pub metadata: BTreeMap<String, Vec<String>>,
    /// When the receiver accepted the request.
    pub received: SystemTime,
}

impl Default for RequestContext {
    fn default() -> Self {
        RequestContext {
            metadata: BTreeMap::new(),
            received: SystemTime::now(),
        }
    }
}

/// A validated request plus its context. Cloning is cheap; mutation is copy-on-write through
/// [`Batch::request_mut`].
#[derive(Debug, Clone)]
pub struct Batch {
    pub request: Arc<ExportProfilesServiceRequest>,
    pub context: Arc<RequestContext>,
    /// The request's protobuf encoding, when it is known to match `request` exactly (set by a
    /// receiver that decoded it and had nothing to resolve). Lets an OTLP→OTLP hop skip re-encoding.
    pub encoded: Option<Bytes>,
    samples: usize,
    /// The protobuf size of `request`, computed on first use.
    size: std::sync::OnceLock<usize>,
}

impl Batch {
    pub fn new(request: ExportProfilesServiceRequest, context: RequestContext) -> Batch {
        let samples = crate::sample_count(&request);
        Batch {
            request: Arc::new(request),
            context: Arc::new(context),
            encoded: None,
            samples,
            size: std::sync::OnceLock::new(),
        }
    }

    pub fn with_encoded(mut self, encoded: Bytes) -> Batch {
        self.encoded = Some(encoded);
        self
    }

    /// Number of samples (cached).
    pub fn sample_count(&self) -> usize {
        self.samples
    }

    /// The request's protobuf encoded size in bytes: what admission budgets and `bytes` queue
    /// sizers count (the original encoding's length when known, else computed once).
    pub fn encoded_len(&self) -> usize {
        *self.size.get_or_init(|| match &self.encoded {
            Some(b) => b.len(),
            None => prost::Message::encoded_len(&*self.request),
        })
    }

    /// Mutable access; clones the request if it is shared and forgets the original encoding.
    pub fn request_mut(&mut self) -> &mut ExportProfilesServiceRequest {
        self.encoded = None;
        self.size = std::sync::OnceLock::new();
        Arc::make_mut(&mut self.request)
    }

    /// Recount samples after a mutation through [`Batch::request_mut`].
    pub fn recount(&mut self) {
        self.samples = crate::sample_count(&self.request);
    }

    /// The values of one metadata key (case-insensitive).
    pub fn metadata(&self, key: &str) -> &[String] {
        self.context
            .metadata
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}
