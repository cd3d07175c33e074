//! How the parquet exporter's failures are classified: local IO by its IO kind (a full disk or
//! an interruption may pass), object stores by their error (connection errors, timeouts and 5xx
//! surface as `Generic` once the store's own retries are spent: retryable; missing objects,
//! permissions and bad paths are permanent).

use profcol_pipeline::{ConsumeError, ErrorKind};

use super::writer::WriteError;
use super::{ParquetExporterError, UploadError, UploadFailure};

/// Rows that could not be written or committed.
#[derive(Debug, thiserror::Error)]
pub enum LostRows {
    /// Reported by the writer (its messages name the file).
    #[error("{0}")]
    Writer(String),
    /// A finished file that could not be moved into place.
    #[error("committing a Parquet file: {0}")]
    Commit(#[source] WriteError),
}

impl LostRows {
    pub fn kind(&self) -> ErrorKind {
        match self {
            // The writer reports messages only: nothing says a retry could pass.
            LostRows::Writer(_) => ErrorKind::Permanent,
            LostRows::Commit(e) => classify_write(e),
        }
    }
}

pub(super) fn join(lost: &[LostRows]) -> String {
    lost.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn io_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

/// A write or commit failure: by the IO error in it, when there is one; encoding errors are
/// permanent.
pub fn classify_write(e: &WriteError) -> ErrorKind {
    match e {
        WriteError::Io { source, .. } => ErrorKind::of_io(source),
        other => io_in(other).map_or(ErrorKind::Permanent, ErrorKind::of_io),
    }
}

/// An object-store failure.
pub fn classify_store(e: &object_store::Error) -> ErrorKind {
    use object_store::Error as E;
    match e {
        E::Generic { .. } | E::JoinError { .. } => ErrorKind::Retryable,
        _ => ErrorKind::Permanent,
    }
}

impl UploadError {
    pub fn kind(&self) -> ErrorKind {
        match &self.source {
            UploadFailure::Key(_) => ErrorKind::Permanent,
            UploadFailure::Read(e) => ErrorKind::of_io(e),
            UploadFailure::Store(e) => classify_store(e),
        }
    }
}

impl ParquetExporterError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ParquetExporterError::Path(_)
            | ParquetExporterError::StorageOption { .. }
            | ParquetExporterError::Stopped => ErrorKind::Permanent,
            ParquetExporterError::Store { source, .. } => classify_store(source),
            ParquetExporterError::CreateDir { source, .. } => ErrorKind::of_io(source),
            ParquetExporterError::Task(e) if e.is_cancelled() => ErrorKind::Retryable,
            ParquetExporterError::Task(_) => ErrorKind::Permanent,
            // Retried only when every loss may pass on retry (the batch is then written again).
            ParquetExporterError::Lost(lost) => {
                if !lost.is_empty() && lost.iter().all(|l| l.kind().is_retryable()) {
                    ErrorKind::Retryable
                } else {
                    ErrorKind::Permanent
                }
            }
        }
    }
}

impl From<ParquetExporterError> for ConsumeError {
    fn from(e: ParquetExporterError) -> ConsumeError {
        ConsumeError::new(e.kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind as Io};

    fn io(kind: Io) -> WriteError {
        super::super::writer::io("renaming x")(Error::from(kind))
    }

    #[test]
    fn write_kinds() {
        assert_eq!(classify_write(&io(Io::StorageFull)), ErrorKind::Retryable);
        assert_eq!(classify_write(&io(Io::Interrupted)), ErrorKind::Retryable);
        assert_eq!(
            classify_write(&io(Io::PermissionDenied)),
            ErrorKind::Permanent
        );
        let external = WriteError::Parquet(parquet::errors::ParquetError::External(Box::new(
            Error::from(Io::TimedOut),
        )));
        assert_eq!(classify_write(&external), ErrorKind::Retryable);
        let general = WriteError::Parquet(parquet::errors::ParquetError::General("bad".into()));
        assert_eq!(classify_write(&general), ErrorKind::Permanent);
    }

    #[test]
    fn store_kinds() {
        let generic = object_store::Error::Generic {
            store: "S3",
            source: Box::new(Error::from(Io::TimedOut)),
        };
        assert_eq!(classify_store(&generic), ErrorKind::Retryable);
        let denied = object_store::Error::PermissionDenied {
            path: "p".into(),
            source: Box::new(Error::from(Io::PermissionDenied)),
        };
        assert_eq!(classify_store(&denied), ErrorKind::Permanent);
        let missing = object_store::Error::NotFound {
            path: "p".into(),
            source: Box::new(Error::from(Io::NotFound)),
        };
        assert_eq!(classify_store(&missing), ErrorKind::Permanent);
    }

    #[test]
    fn exporter_kinds() {
        let lost = |v| ParquetExporterError::Lost(v);
        let retryable = lost(vec![LostRows::Commit(io(Io::StorageFull))]);
        assert_eq!(retryable.kind(), ErrorKind::Retryable);
        let e = ConsumeError::from(retryable);
        assert!(e.is_retryable());
        assert!(
            e.to_string()
                .starts_with("committing a Parquet file: renaming x")
        );
        let mixed = lost(vec![
            LostRows::Commit(io(Io::StorageFull)),
            LostRows::Writer("part-1.parquet: encoding failed".into()),
        ]);
        assert_eq!(mixed.kind(), ErrorKind::Permanent);
        assert_eq!(ParquetExporterError::Stopped.kind(), ErrorKind::Permanent);
        let create = ParquetExporterError::CreateDir {
            path: "d".into(),
            source: Error::from(Io::StorageFull),
        };
        assert_eq!(create.kind(), ErrorKind::Retryable);
    }
}
