//! OTLP → Pyroscope series labels and profile type names (spec `pyroscope.md` §3, §6).
//! (Filled in by the Pyroscope exporter work.)
