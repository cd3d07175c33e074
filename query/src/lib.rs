//! Queries over profcol's Parquet output (`specs/parquet.md`): the Parquet tree (or one profile
//! file) registered as the `samples` table in DataFusion, and the questions profiling users ask
//! of it — top functions, diffs between versions or time windows, flame graphs.
//!
//! Only the `profcol` binary depends on this crate, so nothing else compiles DataFusion.

pub mod error;
pub mod filter;
pub mod flame;
pub mod ops;
pub mod render;
pub mod source;

/// The Parquet layout the tables follow (the `profcol-layout` crate's schema, shared with the
/// `parquet` exporter).
pub use profcol_layout::schema;

pub use error::{QueryError, Result};
pub use filter::{Filter, TimeWindow};
pub use ops::{DiffOptions, Metric, Side, TopOptions, TopOrder};
pub use source::{ScanProgress, Session};
