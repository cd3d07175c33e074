//! The file exporter's errors and their kinds.

use std::path::PathBuf;

use profcol_pipeline::{ConsumeError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum FileExporterError {
    #[error("cannot create directory {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Compress(#[source] std::io::Error),
    #[error("record larger than 4 GiB")]
    TooLarge,
    #[error("rotating {}: {source}", path.display())]
    Rotate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("file writer poisoned")]
    Poisoned,
}

impl FileExporterError {
    /// IO failures by their IO kind (a full disk or an interruption may pass); the rest never
    /// will.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FileExporterError::CreateDir { source, .. }
            | FileExporterError::Open { source, .. }
            | FileExporterError::Rotate { source, .. }
            | FileExporterError::Write { source, .. } => ErrorKind::of_io(source),
            FileExporterError::Compress(_)
            | FileExporterError::TooLarge
            | FileExporterError::Poisoned => ErrorKind::Permanent,
        }
    }
}

impl From<FileExporterError> for ConsumeError {
    fn from(e: FileExporterError) -> ConsumeError {
        ConsumeError::new(e.kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind as Io};

    #[test]
    fn kinds() {
        let write = |k| FileExporterError::Write {
            path: "p".into(),
            source: Error::from(k),
        };
        assert_eq!(write(Io::StorageFull).kind(), ErrorKind::Retryable);
        assert_eq!(write(Io::Interrupted).kind(), ErrorKind::Retryable);
        assert_eq!(write(Io::PermissionDenied).kind(), ErrorKind::Permanent);
        assert_eq!(FileExporterError::TooLarge.kind(), ErrorKind::Permanent);
        let e = ConsumeError::from(write(Io::StorageFull));
        assert!(e.is_retryable());
        assert!(e.to_string().starts_with("writing p: "));
        assert!(e.downcast_ref::<FileExporterError>().is_some());
    }
}
