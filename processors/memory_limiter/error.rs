//! The memory limiter's refusal.

/// Memory is above the soft limit; sent as a throttled refusal with `retry_after`.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "data refused due to high memory usage ({used_mib} MiB used, soft limit {soft_limit_mib} MiB)"
)]
pub struct MemoryLimitError {
    pub used_mib: u64,
    pub soft_limit_mib: u64,
}
