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
    rss_of("self")
}

/// Resident set size of process `pid` (`"self"` or a number) from `/proc/<pid>/status`, 0 where
/// unavailable.
pub fn rss_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| kib_field(&s, "VmRSS"))
        .unwrap_or(0)
}

/// The bytes of a `Key:   123 kB` line of a `/proc` file (`/proc/meminfo`, `/proc/<pid>/status`).
pub fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Memory available to the process: the cgroup v2 limit when set, else the machine's total
/// (0 where neither can be read).
pub fn available_memory() -> u64 {
    if let Ok(s) = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        && let Ok(v) = s.trim().parse::<u64>()
    {
        return v;
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| kib_field(&s, "MemTotal"))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rss_is_read_without_a_probe() {
        let (v, src) = super::in_use();
        assert_eq!(src, super::Source::Rss);
        assert!(v > 1 << 20, "{v}");
        assert!(super::available_memory() > v);
        assert_eq!(
            super::kib_field("VmHWM:\t 10 kB\nVmRSS:\t  3 kB\n", "VmRSS"),
            Some(3072)
        );
        assert_eq!(super::kib_field("VmRSS: x kB", "VmRSS"), None);
    }
}
