//! `file` mode: reads every file matching the `include` globs once, polling for new ones.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Ingest;
use super::config::FileMode;

fn matches(patterns: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        match glob::glob(p) {
            Ok(paths) => out.extend(paths.filter_map(Result::ok).filter(|p| p.is_file())),
            Err(e) => tracing::warn!(pattern = %p, error = %e, "invalid glob"),
        }
    }
    out.sort();
    out
}

/// A file changed within the last second may still be being written: it is read on a later poll.
fn recently_modified(path: &PathBuf) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < std::time::Duration::from_secs(1))
}

/// Reads one file once; errors are logged and counted, the loop goes on.
async fn read_one(ingest: &Ingest, path: &PathBuf) {
    let size = tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    if size > ingest.limit as u64 {
        ingest.count_invalid("file");
        tracing::warn!(file = %path.display(), size, limit = ingest.limit, "pprof file larger than the limit; skipped");
        return;
    }
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) => {
            ingest.count_invalid("file");
            tracing::warn!(file = %path.display(), error = %e, "cannot read pprof file");
            return;
        }
    };
    let mut labels = BTreeMap::new();
    labels.insert("profcol.pprof.file".to_owned(), path.display().to_string());
    match ingest
        .ingest(&bytes, &labels, BTreeMap::new(), "file")
        .await
    {
        Ok(n) => tracing::debug!(file = %path.display(), samples = n, "read pprof file"),
        Err(e) => tracing::warn!(file = %path.display(), error = %e, "pprof file not ingested"),
    }
}

pub(super) fn start(
    cfg: FileMode,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: HashSet<PathBuf> = HashSet::new();
        loop {
            for path in matches(&cfg.include) {
                if stop.is_cancelled() {
                    return;
                }
                if seen.contains(&path) || recently_modified(&path) {
                    continue;
                }
                seen.insert(path.clone());
                read_one(&ingest, &path).await;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(cfg.poll_interval) => {}
            }
        }
    })
}
