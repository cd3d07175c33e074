//! Typed errors of the query library.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] ParquetError),
    #[error("object store: {0}")]
    ObjectStore(#[from] datafusion::object_store::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The data location holds no Parquet files (or none that match).
    #[error("no data: {0}")]
    NoData(String),
    /// A bad argument: an unknown column, a malformed time window, ...
    #[error("{0}")]
    Invalid(String),
    /// Rendering a flame graph or an output format failed.
    #[error("rendering {what}: {message}")]
    Render { what: &'static str, message: String },
}

impl QueryError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        QueryError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;
