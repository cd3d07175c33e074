//! Staging files: who wrote them (`<pid>-<host>-<uuid>`), moving finished ones into place, and
//! cleaning up after processes that are gone.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use super::{Finished, WriteError, io};

/// `<pid>-<host>-<uuid>`: who wrote a staging entry, so a restart can tell its own abandoned
/// files from those of another instance sharing the directory.
pub fn owner_name() -> String {
    format!(
        "{}-{}-{}",
        std::process::id(),
        host_tag(),
        uuid::Uuid::new_v4()
    )
}

/// This machine's host name, alphanumerics only (at most 32), or `host`.
fn host_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let tag: String = raw
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        if tag.is_empty() { "host".into() } else { tag }
    })
}

/// Moves finished files of a local base into place (stacks before profiles). Returns the bytes.
pub fn commit_local(base: &Path, f: &Finished) -> Result<u64, WriteError> {
    let mut bytes = 0;
    for file in &f.files {
        let dest = base.join(&file.rel);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        std::fs::rename(&file.staging, &dest).map_err(io(format!(
            "moving {} to {}",
            file.staging.display(),
            dest.display()
        )))?;
        if let Some(dir) = dest.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        bytes += file.bytes;
    }
    Ok(bytes)
}

/// Whether a process id is running (Linux `/proc`; elsewhere assume it is).
fn pid_alive(pid: u32) -> bool {
    let proc_ = Path::new("/proc");
    if !proc_.join("self").exists() {
        return true;
    }
    proc_.join(pid.to_string()).exists()
}

/// True when a staging entry named `<pid>-<host>-…` ([`owner_name`]) was abandoned: written on
/// this host by a process that is gone (or by a previous process with our pid, e.g. pid 1 in a
/// restarted container), or, written elsewhere (another instance on a shared volume), untouched
/// for longer than `abandon_after`. `idle` is how long ago the entry was last modified.
pub fn is_stale(name: &str, idle: Option<Duration>, abandon_after: Duration) -> bool {
    let mut parts = name.splitn(3, '-');
    let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    if parts.next() == Some(host_tag()) {
        pid == std::process::id() || !pid_alive(pid)
    } else {
        idle.is_some_and(|d| d > abandon_after)
    }
}

/// How long ago a file was last modified.
pub fn idle_for(meta: &std::fs::Metadata) -> Option<Duration> {
    meta.modified().ok()?.elapsed().ok()
}

/// Deletes the abandoned `*.tmp` files in a staging directory (they were never visible; see
/// [`is_stale`]). Returns how many were removed.
pub fn clean_staging(dir: &Path, abandon_after: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let idle = e.metadata().ok().and_then(|m| idle_for(&m));
        if name.ends_with(".tmp")
            && is_stale(&name, idle, abandon_after)
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
