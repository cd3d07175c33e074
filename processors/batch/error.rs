//! The batch processor's own refusals.

/// Why the batch processor refused a batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    /// Permanent.
    #[error("too many batcher metadata-value combinations (limit {limit})")]
    TooManyShards { limit: usize },
    /// Retryable: the processor stopped before the batch was sent.
    #[error("the batch processor stopped before the batch was sent")]
    Stopped,
}
