//! The `file` exporter: OTLP/JSON lines or length-prefixed protobuf, with size-based rotation.

pub mod config;
mod error;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::Batch;
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::exporter_helper::{QueuedExporter, SendError, Sender, into_parts};
use profcol_pipeline::{BuildError, Built, ComponentInfo, Context, ExporterFactory};
use profcol_settings::ComponentConfig;
use profcol_settings::{QueueConfig, RetryConfig};
use prost::Message;

pub use config::{FileConfig, Rotation};
pub use error::FileExporterError;

pub struct FileFactory;

impl ExporterFactory for FileFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Exporter,
            "file",
            "writes OTLP/JSON lines or length-prefixed protobuf to a file, with rotation",
        )
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        FileConfig::validate(section)
    }
    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError> {
        let cfg = FileConfig::load(section)?;
        let sender = FileSender::open(cfg).map_err(|e| BuildError::component(&ctx.id, e))?;
        let queue = QueueConfig {
            enabled: false,
            ..Default::default()
        };
        let retry = RetryConfig {
            enabled: false,
            ..Default::default()
        };
        Ok(into_parts(QueuedExporter::new(&ctx, sender, queue, retry)))
    }
}

struct Output {
    writer: BufWriter<File>,
    size: u64,
}

pub struct FileSender {
    cfg: FileConfig,
    path: PathBuf,
    out: Mutex<Option<Output>>,
}

/// `YYYY-MM-DDTHH-MM-SS.mmm` in UTC (the backup-name time format of lumberjack, which the
/// Collector's file exporter uses).
pub fn backup_stamp(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let c = profcol_settings::time::Civil::from_unix_secs(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
    );
    format!(
        "{}T{:02}-{:02}-{:02}.{:03}",
        c.date(),
        c.hour,
        c.minute,
        c.second,
        d.subsec_millis()
    )
}

fn backup_name(path: &Path, t: SystemTime) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("profiles");
    let ext = path
        .extension()
        .and_then(|s| s.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{}{ext}", backup_stamp(t)))
}

impl FileSender {
    pub fn open(cfg: FileConfig) -> Result<FileSender, FileExporterError> {
        let path = PathBuf::from(&cfg.path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| FileExporterError::CreateDir {
                dir: dir.to_owned(),
                source,
            })?;
        }
        let s = FileSender {
            out: Mutex::new(None),
            path,
            cfg,
        };
        let out = s.open_file(s.cfg.append)?;
        if let Ok(mut o) = s.out.lock() {
            *o = Some(out);
        }
        Ok(s)
    }

    fn open_file(&self, append: bool) -> Result<Output, FileExporterError> {
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&self.path)
            .map_err(|source| FileExporterError::Open {
                path: self.path.clone(),
                source,
            })?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Output {
            writer: BufWriter::new(f),
            size,
        })
    }

    /// Encodes one record.
    fn record(&self, batch: &Batch) -> Result<Vec<u8>, FileExporterError> {
        let body = if self.cfg.format == "json" {
            profcol_pdata::json::encode_request(&batch.request)
        } else {
            match &batch.encoded {
                Some(b) => b.to_vec(),
                None => batch.request.encode_to_vec(),
            }
        };
        let body = if self.cfg.compression == "zstd" {
            zstd::encode_all(&body[..], 3).map_err(FileExporterError::Compress)?
        } else {
            body
        };
        let mut rec = Vec::with_capacity(body.len() + 5);
        if self.cfg.format == "json" && self.cfg.compression == "none" {
            rec.extend_from_slice(&body);
            rec.push(b'\n');
        } else {
            let len = u32::try_from(body.len()).map_err(|_| FileExporterError::TooLarge)?;
            rec.extend_from_slice(&len.to_be_bytes());
            rec.extend_from_slice(&body);
        }
        Ok(rec)
    }

    fn rotate(&self, out: &mut Option<Output>) -> Result<(), FileExporterError> {
        if let Some(mut o) = out.take() {
            let _ = o.writer.flush();
        }
        let backup = backup_name(&self.path, SystemTime::now());
        std::fs::rename(&self.path, &backup).map_err(|source| FileExporterError::Rotate {
            path: self.path.clone(),
            source,
        })?;
        *out = Some(self.open_file(false)?);
        if let Some(r) = &self.cfg.rotation {
            self.prune(r);
        }
        Ok(())
    }

    /// Removes the oldest backups beyond `max_backups` and those older than `max_days`.
    fn prune(&self, r: &Rotation) {
        let Some(dir) = self.path.parent().map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        }) else {
            return;
        };
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("profiles");
        let prefix = format!("{stem}-");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut backups: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p != &self.path
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect();
        backups.sort();
        let now = SystemTime::now();
        let old = |p: &PathBuf| {
            r.max_days > 0
                && std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age.as_secs() > r.max_days * 86400)
        };
        let excess = if r.max_backups > 0 {
            backups.len().saturating_sub(r.max_backups as usize)
        } else {
            0
        };
        for (i, b) in backups.iter().enumerate() {
            if i < excess || old(b) {
                let _ = std::fs::remove_file(b);
            }
        }
    }

    fn write(&self, batch: &Batch) -> Result<(), FileExporterError> {
        let rec = self.record(batch)?;
        let mut guard = self.out.lock().map_err(|_| FileExporterError::Poisoned)?;
        if let Some(r) = &self.cfg.rotation {
            let limit = r.max_megabytes.saturating_mul(1 << 20);
            let size = guard.as_ref().map_or(0, |o| o.size);
            if size > 0 && size + rec.len() as u64 > limit {
                self.rotate(&mut guard)?;
            }
        }
        let out = match guard.take() {
            Some(o) => guard.insert(o),
            None => guard.insert(self.open_file(true)?),
        };
        let written = |source| FileExporterError::Write {
            path: self.path.clone(),
            source,
        };
        out.writer.write_all(&rec).map_err(written)?;
        out.writer.flush().map_err(written)?;
        out.size += rec.len() as u64;
        Ok(())
    }
}

impl Sender for FileSender {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move { self.write(batch).map_err(SendError::from) })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Ok(mut g) = self.out.lock()
                && let Some(o) = g.as_mut()
            {
                let _ = o.writer.flush();
                let _ = o.writer.get_ref().sync_all();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(784_111_777_123);
        assert_eq!(backup_stamp(t), "1994-11-06T08-49-37.123");
        assert_eq!(
            backup_name(Path::new("/x/p.json"), t),
            PathBuf::from("/x/p-1994-11-06T08-49-37.123.json")
        );
    }
}
