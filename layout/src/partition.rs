//! Partitions: a file's (service, UTC hour), the hive path `service_name=/date=/hour=` and the
//! time of a row.
//!
//! The layout spec (`specs/parquet.md`, kept outside this repository) says: files live under
//! `<base>/profiles/service_name=<svc>/date=YYYY-MM-DD/hour=HH/`, `unknown_service` when the
//! resource has no `service.name`, and partition values restricted to `[A-Za-z0-9._-]` or
//! percent-encoded. The partition columns live only in the path, never in the file body.

use profcol_pdata::proto::{Profile, Sample};

/// Nanoseconds per hour.
pub const NSEC_PER_HOUR: i64 = 3_600_000_000_000;

/// The service of a resource without `service.name`.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Partition identity: the service and the hour (hours since the Unix epoch, UTC).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartKey {
    pub service: String,
    pub hour: i64,
}

impl PartKey {
    /// `YYYY-MM-DD` and `HH` (UTC).
    pub fn date_hour(&self) -> (String, String) {
        let days = self.hour.div_euclid(24);
        let h = self.hour.rem_euclid(24);
        let (y, m, d) = civil_from_days(days);
        (format!("{y:04}-{m:02}-{d:02}"), format!("{h:02}"))
    }

    /// `service_name=<svc>/date=<date>/hour=<HH>` with the service percent-encoded.
    pub fn dir(&self) -> String {
        let (date, hour) = self.date_hour();
        format!(
            "service_name={}/date={date}/hour={hour}",
            encode_value(&self.service)
        )
    }

    /// When the hour ends (Unix nanoseconds).
    pub fn hour_end_ns(&self) -> i64 {
        self.hour.saturating_add(1).saturating_mul(NSEC_PER_HOUR)
    }
}

pub use profcol_pdata::time::civil_from_days;

/// A partition value for a path: `[A-Za-z0-9._-]` kept, every other byte `%XX` (uppercase hex).
pub fn encode_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for &b in v.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// (`YYYY-MM-DD`, `HH`) of a UTC timestamp in nanoseconds: the partition values of a row.
pub fn date_hour(time_ns: i64) -> (String, String) {
    PartKey {
        service: String::new(),
        hour: time_ns.div_euclid(NSEC_PER_HOUR),
    }
    .date_hour()
}

pub use profcol_pdata::time::rfc3339;

/// The time of a sample: its first observation, else the profile's time, else `fallback`.
pub fn sample_time(s: &Sample, p: &Profile, fallback: i64) -> i64 {
    let t = s
        .timestamps_unix_nano
        .first()
        .copied()
        .filter(|&t| t > 0)
        .unwrap_or(p.time_unix_nano);
    if t == 0 {
        fallback
    } else {
        i64::try_from(t).unwrap_or(i64::MAX)
    }
}
