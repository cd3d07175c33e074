//! What the process holds in memory, as the memory limiter reads it.
//!
//! With an allocator probe installed (the `profcol` binary installs jemalloc's: `stats.allocated`,
//! the bytes of live allocations), usage is what the process really holds: it falls as soon as
//! data is freed, so the limiter recovers when the load ends even while the allocator still
//! keeps freed pages (RSS lags; jemalloc's background threads return them to the OS after its
//! decay time). Without a probe (components run by hand, tests), usage is the resident set size.

use std::sync::OnceLock;

/// Reads the allocator's live bytes; `None` when the allocator cannot tell.
pub type AllocatorProbe = fn() -> Option<u64>;

static PROBE: OnceLock<AllocatorProbe> = OnceLock::new();

/// Installs the allocator probe (once, at startup; later calls are ignored).
pub fn install_allocator_probe(probe: AllocatorProbe) {
    let _ = PROBE.set(probe);
}

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The allocator's live bytes.
    Allocator,
    /// The resident set size (`/proc/self/status` VmRSS).
    Rss,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Allocator => "allocated",
            Source::Rss => "rss",
        }
    }
}

/// The bytes the process holds and how they were measured.
pub fn in_use() -> (u64, Source) {
    if let Some(v) = PROBE.get().and_then(|p| p()) {
        return (v, Source::Allocator);
    }
    (process_rss(), Source::Rss)
}

/// Resident set size of this process from `/proc/self/status` (0 where unavailable).
pub fn process_rss() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rss_is_read_without_a_probe() {
        let (v, src) = super::in_use();
        assert_eq!(src, super::Source::Rss);
        assert!(v > 1 << 20, "{v}");
    }
}
