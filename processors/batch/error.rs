//! The batch processor's own refusals.

/// Why the batch processor refused a batch (always permanent).
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    #[error("too many batcher metadata-value combinations (limit {limit})")]
    TooManyShards { limit: usize },
}
