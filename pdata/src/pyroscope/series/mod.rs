//! OTLP → Pyroscope Push: profile names, profile type ids, series labels, and the preparation of
//! the pprof payloads so the server accepts them (spec `pyroscope.md` §1.4–§1.6, §3, §6, §7.2).
//!
//! Everything here is pure: no I/O, no clocks. The `pyroscope` exporter drives it.

mod labels;
mod names;
mod prepare;
mod split;

#[cfg(test)]
mod tests;

pub use labels::{
    LabelConfig, LabelStats, SampleLabelInfo, SeriesLabels, series_labels, service_name,
};
pub use names::{
    NameSource, ProfileName, ProfileType, profile_name, sanitize_label_name, sanitize_metric_name,
};
pub use prepare::{
    fix_sample_type_names, limit_sample_labels, promoted_sample_label_keys,
    sanitize_sample_label_keys, scale_samples_to_cpu,
};
pub use split::{SplitProfile, split_by_sample_label, split_profile, subset, totals};

/// `validation.max-label-names-per-series`.
pub const MAX_LABEL_NAMES_PER_SERIES: usize = 30;
/// `validation.max-length-label-name` (bytes).
pub const MAX_LABEL_NAME_LENGTH: usize = 1024;
/// `validation.max-length-label-value` (bytes).
pub const MAX_LABEL_VALUE_LENGTH: usize = 2048;
/// `validation.max-profile-stacktrace-samples`.
pub const MAX_PROFILE_SAMPLES: usize = 16000;
/// `validation.max-profile-stacktrace-sample-labels`.
pub const MAX_SAMPLE_LABELS: usize = 100;
/// `validation.max-profile-size-bytes` (uncompressed pprof).
pub const MAX_PROFILE_SIZE_BYTES: usize = 4 << 20;
/// The `service_name` Pyroscope uses when none is known.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Label names with a meaning to Pyroscope.
pub mod label {
    pub const NAME: &str = "__name__";
    pub const DELTA: &str = "__delta__";
    pub const SERVICE_NAME: &str = "service_name";
    pub const SPY: &str = "pyroscope_spy";
    pub const SCOPE_NAME: &str = "otel.scope.name";
    pub const SCOPE_VERSION: &str = "otel.scope.version";
    /// Per-sample pprof labels for Links (§7.2); never series labels.
    pub const SPAN_ID: &str = "span_id";
    pub const TRACE_ID: &str = "trace_id";
    /// Renamed to `span_id` by the server.
    pub const PROFILE_ID: &str = "profile_id";
}

/// Resource and sample attribute keys read by the mapping.
pub mod attr_keys {
    pub const SERVICE_NAME: &str = "service.name";
    pub const PROCESS_EXECUTABLE_NAME: &str = "process.executable.name";
}

/// The index of the first entry of `p`'s string table equal to `s`.
fn string_index(p: &crate::pprof::Profile, s: &str) -> Option<i64> {
    p.string_table
        .iter()
        .position(|x| x.as_slice() == s.as_bytes())
        .and_then(|i| i64::try_from(i).ok())
}
