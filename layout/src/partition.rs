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

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to an era starting on 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

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

/// RFC 3339 (UTC, seconds) of a timestamp in nanoseconds.
pub fn rfc3339(time_ns: i64) -> String {
    let secs = time_ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

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
