//! Test support shared by profcol's test suites and benches. Only ever a `[dev-dependencies]`
//! entry: nothing here is compiled into the profcol binary.
//!
//! The crate depends on `profcol-pdata`, so pdata's own unit tests (`#[cfg(test)]` inside
//! `pdata/src`) cannot use it: they would see a second copy of pdata's types. pdata's
//! integration tests (`pdata/tests/`) and every other crate's tests can.

// Test support: a panic here is how a test fails, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod otlp_sink;
pub mod pyroscope_server;
pub mod query_data;
pub mod require;
pub mod synth;
