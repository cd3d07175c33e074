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
pub mod rows;
pub mod schema;
pub mod source;
pub mod testdata;

pub use error::{QueryError, Result};
pub use filter::{Filter, TimeWindow};
pub use ops::{DiffOptions, Metric, Side, TopOptions, TopOrder};
pub use source::{ScanProgress, Session};
