//! profcol's Parquet layout, in one place: the schemas and promoted columns ([`schema`]), the
//! flattening of validated OTLP requests into rows ([`append`], [`tables`], [`arrays`]), the
//! `stack_id` hash ([`hash`]), partitions ([`partition`]) and the writer settings ([`props`]).
//!
//! The `parquet` exporter writes files with it and `profcol query --input` builds its in-memory
//! table with it, so both give the same rows for the same request. Arrow and Parquet only: no
//! DataFusion, no I/O beyond [`props::write_profiles_file`].
//!
//! The layout follows `specs/parquet.md` (outside this repository; each module says what it
//! relies on): one row per OTLP sample, frames as parallel leaf-first lists, hive partitions
//! `service_name=/date=/hour=` in the path only.

pub mod append;
pub mod arrays;
pub mod error;
pub mod hash;
pub mod partition;
pub mod props;
pub mod schema;
pub mod tables;

pub use append::{Sink, append_request};
pub use arrays::{flatten, profiles_batch, stacks_batch, with_partition_columns};
pub use error::LayoutError;
pub use hash::StableHash;
pub use partition::{PartKey, UNKNOWN_SERVICE};
pub use props::{FileLayout, FileOptions, TableKind, writer_properties};
pub use schema::{PROMOTED, SCHEMA_VERSION};
pub use tables::{RowLimits, Tables};
