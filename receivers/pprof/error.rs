//! Why the pprof receiver did not take a payload.

use profcol_pdata::pprof::PprofError;
use profcol_pipeline::ConsumeError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    /// Undecodable or over the size limit: 400 / 413.
    #[error("{0}")]
    Invalid(#[from] PprofError),
    /// The pipeline refused it: 400 when permanent, else 503 with `Retry-After`.
    #[error(transparent)]
    Refused(#[from] ConsumeError),
}
