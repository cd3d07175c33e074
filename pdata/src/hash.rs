//! Hash maps for interning and indexing input data.
//!
//! foldhash instead of the standard SipHash: the keys here are short integer tuples and strings
//! hashed once per sample or table entry, where SipHash was a fifth of pprof → OTLP conversion.
//! The state is seeded randomly per process, so colliding keys cannot be precomputed offline.

pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
