//! The process's allocator: jemalloc, whose statistics tell the memory limiter what the process
//! really holds (`stats.allocated`), and whose background threads return freed pages to the
//! operating system after its decay time, so the resident set follows usage down after a load.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Live bytes allocated through jemalloc (refreshing its statistics first).
fn allocated() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let v = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    u64::try_from(v).ok()
}

/// Turns on jemalloc's background purging and hands its statistics to the memory limiter.
pub fn init() {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!(error = %e, "jemalloc background threads unavailable; freed memory returns to the OS on allocation");
    }
    profcol_pipeline::memory::install_allocator_probe(allocated);
}
