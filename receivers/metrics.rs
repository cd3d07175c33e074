//! Metrics profcol's receivers add to the Collector's (which
//! [`ReceiverObserver`](profcol_pipeline::ReceiverObserver) counts), declared once.

use profcol_pipeline::MetricDef;

pub const EMPTY_PROFILES: MetricDef = MetricDef::new(
    "profcol_receiver_empty_profiles",
    "Profiles without samples, counted and dropped.",
    "{profile}",
);
pub const INVALID_PAYLOADS: MetricDef = MetricDef::new(
    "profcol_receiver_invalid_payloads",
    "Payloads that could not be decoded.",
    "{payload}",
);
pub const PPROF_INVALID_UTF8: MetricDef = MetricDef::new(
    "profcol_pprof_invalid_utf8_strings",
    "pprof strings that were not valid UTF-8 (replaced with U+FFFD).",
    "{string}",
);
pub const PPROF_MULTI_VALUE_LABEL_DROPPED: MetricDef = MetricDef::new(
    "profcol_pprof_multi_value_label_dropped",
    "pprof labels dropped because their key repeated in a sample.",
    "{label}",
);
pub const PYROSCOPE_PROFILE_ID_DROPPED: MetricDef = MetricDef::new(
    "profcol_receiver_pyroscope_profile_id_dropped",
    "/ingest profiles dropped because `name` carried a profile_id label (as Pyroscope does).",
    "{profile}",
);
pub const SCRAPER_SCRAPED: MetricDef = MetricDef::new(
    "otelcol_scraper_scraped_profile_records",
    "Number of profiles successfully scraped.",
    "{record}",
);
pub const SCRAPER_ERRORED: MetricDef = MetricDef::new(
    "otelcol_scraper_errored_profile_records",
    "Number of profiles that could not be scraped.",
    "{record}",
);
