//! Test support shared by profcol's test suites and benches. Only ever a `[dev-dependencies]`
//! entry: nothing here is compiled into the profcol binary.

pub mod query_data;
