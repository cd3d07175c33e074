//! Errors of the layout crate.

use std::path::PathBuf;

/// Building batches or writing a file failed.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
