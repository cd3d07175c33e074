//! Selections of samples as SQL predicates: service, profile type, time windows, free SQL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{QueryError, Result};
use profcol_layout::partition::{date_hour, rfc3339};
use profcol_pdata::time::days_from_civil;

/// A SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A time range `[start, end)` in UTC nanoseconds; either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn parse_num(s: &str, what: &str, text: &str) -> Result<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::Invalid(format!(
            "{text}: bad {what} (want YYYY-MM-DD[THH[:MM[:SS]]][Z], a duration ago like 2h, or now)"
        )));
    }
    s.parse()
        .map_err(|_| QueryError::Invalid(format!("{text}: bad {what}")))
}

/// Parses a point in time: `now`, a duration ago (`2h`, `30m`, `1d`, `90s`, `1h30m`), or an
/// RFC 3339-like UTC time `YYYY-MM-DD[THH[:MM[:SS[.fff]]]][Z]` (a space may replace `T`).
pub fn parse_time(text: &str, now: i64) -> Result<i64> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(d) = parse_duration(t.trim_start_matches('-')) {
        return Ok(now.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
    }
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .unwrap_or(t);
    let (date, clock) = match t.split_once(['T', ' ']) {
        Some((d, c)) => (d, c),
        None => (t, ""),
    };
    let mut dp = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(QueryError::Invalid(format!(
            "{text}: not a time (want YYYY-MM-DD[THH[:MM[:SS]]][Z], a duration ago like 2h, or now)"
        )));
    };
    let (y, m, d) = (
        parse_num(y, "year", text)?,
        parse_num(m, "month", text)?,
        parse_num(d, "day", text)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(QueryError::Invalid(format!(
            "{text}: month or day out of range"
        )));
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let mut nanos = 0i64;
    if !clock.is_empty() {
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let parts: Vec<&str> = hms.split(':').collect();
        if parts.len() > 3 {
            return Err(QueryError::Invalid(format!("{text}: bad time of day")));
        }
        let mul = [3600, 60, 1];
        for (p, k) in parts.iter().zip(mul) {
            secs += parse_num(p, "time of day", text)? * k;
        }
        if !frac.is_empty() {
            let digits: String = frac.chars().take(9).collect();
            let v = parse_num(&digits, "fraction", text)?;
            nanos = v * 10i64.pow(9 - digits.len() as u32);
        }
    }
    Ok(secs * 1_000_000_000 + nanos)
}

/// `90s`, `30m`, `2h`, `1d`, `1w`, `1h30m`, `500ms` → a duration.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !c.is_ascii_digit())?;
        if n_end == 0 {
            return None;
        }
        let n: u64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..u_end];
        rest = &rest[u_end..];
        let d = match unit {
            "ns" => Duration::from_nanos(n),
            "us" => Duration::from_micros(n),
            "ms" => Duration::from_millis(n),
            "s" | "sec" | "secs" => Duration::from_secs(n),
            "m" | "min" | "mins" => Duration::from_secs(n * 60),
            "h" | "hr" | "hour" | "hours" => Duration::from_secs(n * 3600),
            "d" | "day" | "days" => Duration::from_secs(n * 86_400),
            "w" | "week" | "weeks" => Duration::from_secs(n * 7 * 86_400),
            _ => return None,
        };
        total += d;
    }
    Some(total)
}

impl TimeWindow {
    /// `START..END`, either side optional (`2026-11-25T10..2026-11-25T11`, `2h..1h`, `1d..`);
    /// a single time without `..` means from then on.
    pub fn parse(text: &str) -> Result<TimeWindow> {
        Self::parse_at(text, now_ns())
    }

    pub fn parse_at(text: &str, now: i64) -> Result<TimeWindow> {
        let (a, b) = text.split_once("..").unwrap_or((text, ""));
        let start = (!a.trim().is_empty())
            .then(|| parse_time(a, now))
            .transpose()?;
        let end = (!b.trim().is_empty())
            .then(|| parse_time(b, now))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(QueryError::Invalid(format!(
                "{text}: the window ends before it starts"
            )));
        }
        Ok(TimeWindow { start, end })
    }

    /// The last `d` before now.
    pub fn since(d: Duration) -> TimeWindow {
        let now = now_ns();
        TimeWindow {
            start: Some(now.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))),
            end: None,
        }
    }

    /// The predicate on `time`, plus one on the partition columns so whole directories are
    /// skipped.
    pub fn predicate(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.start {
            let (d, h) = date_hour(s);
            parts.push(format!(
                "(date > {d} OR (date = {d} AND hour >= {h}))",
                d = quote(&d),
                h = quote(&h)
            ));
            parts.push(format!("time >= {}", ts_literal(s)));
        }
        if let Some(e) = self.end {
            let (d, h) = date_hour(e);
            parts.push(format!(
                "(date < {d} OR (date = {d} AND hour <= {h}))",
                d = quote(&d),
                h = quote(&h)
            ));
            parts.push(format!("time < {}", ts_literal(e)));
        }
        if parts.is_empty() {
            "TRUE".into()
        } else {
            parts.join(" AND ")
        }
    }

    /// For titles: `2026-11-25T10:00:00Z..2026-11-25T11:00:00Z`.
    pub fn describe(&self) -> String {
        format!(
            "{}..{}",
            self.start.map(rfc3339).unwrap_or_default(),
            self.end.map(rfc3339).unwrap_or_default()
        )
    }
}

/// A `Timestamp(ns, UTC)` literal.
fn ts_literal(ns: i64) -> String {
    format!("to_timestamp_nanos({ns}) AT TIME ZONE 'UTC'")
}

/// Which samples a command looks at. All parts are ANDed.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `service_name` equals this.
    pub service: Option<String>,
    /// A profile type: a sample type (`cpu`), a prefix of the full type (`cpu:nanoseconds`), or
    /// the whole `sample_type:sample_unit:period_type:period_unit`.
    pub profile_type: Option<String>,
    pub window: TimeWindow,
    /// Extra SQL conditions on `samples` columns, e.g. `service_version = 'v2'`.
    pub where_sql: Vec<String>,
}

impl Filter {
    pub fn predicate(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.service {
            parts.push(format!("service_name = {}", quote(s)));
        }
        if let Some(t) = &self.profile_type {
            parts.push(type_predicate(t));
        }
        let w = self.window.predicate();
        if w != "TRUE" {
            parts.push(w);
        }
        for w in &self.where_sql {
            parts.push(format!("({w})"));
        }
        if parts.is_empty() {
            "TRUE".into()
        } else {
            parts.join(" AND ")
        }
    }
}

/// The predicate for a `--type` value.
pub fn type_predicate(t: &str) -> String {
    if t.matches(':').count() == 3 {
        format!("profile_type = {}", quote(t))
    } else {
        format!(
            "starts_with(CAST(profile_type AS VARCHAR), {})",
            quote(&format!("{t}:"))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-11-25T10:00:00Z", 0).unwrap(),
            profcol_testkit::query_data::KNOWN_V1_TIME
        );
        assert_eq!(
            parse_time("2026-11-25T10", 0).unwrap(),
            profcol_testkit::query_data::KNOWN_V1_TIME
        );
        assert_eq!(
            parse_time("2026-11-25 10:00:00.5", 0).unwrap(),
            profcol_testkit::query_data::KNOWN_V1_TIME + 500_000_000
        );
        assert_eq!(
            parse_time("2h", 10_000_000_000_000).unwrap(),
            2_800_000_000_000
        );
        assert_eq!(parse_time("now", 7).unwrap(), 7);
        assert!(parse_time("yesterday", 0).is_err());
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1x"), None);
        let w = TimeWindow::parse_at("2026-11-25T10..2026-11-25T11", 0).unwrap();
        assert_eq!(w.start, Some(profcol_testkit::query_data::KNOWN_V1_TIME));
        assert_eq!(w.end, Some(profcol_testkit::query_data::KNOWN_V2_TIME));
        assert!(TimeWindow::parse_at("2026-11-25T11..2026-11-25T10", 0).is_err());
        assert_eq!(
            rfc3339(profcol_testkit::query_data::KNOWN_V1_TIME),
            "2026-11-25T10:00:00Z"
        );
    }

    #[test]
    fn predicates() {
        assert_eq!(Filter::default().predicate(), "TRUE");
        let f = Filter {
            service: Some("o'neil".into()),
            profile_type: Some("cpu".into()),
            ..Default::default()
        };
        assert_eq!(
            f.predicate(),
            "service_name = 'o''neil' AND starts_with(CAST(profile_type AS VARCHAR), 'cpu:')"
        );
    }
}
