//! Client settings shared by the OTLP exporters (the Collector's `configgrpc.ClientConfig` /
//! `confighttp.ClientConfig`, `configtls`, `configretry`, exporterhelper queue).

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigError, Section};
use serde::{Deserialize, Deserializer};

/// A PEM certificate chain and its private key.
pub type PemPair = (Vec<u8>, Vec<u8>);

/// `tls` on a client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsClientConfig {
    /// Plaintext (gRPC). For HTTP the URL scheme decides.
    pub insecure: bool,
    pub insecure_skip_verify: bool,
    pub ca_file: Option<String>,
    pub ca_pem: Option<String>,
    pub cert_file: Option<String>,
    pub cert_pem: Option<String>,
    pub key_file: Option<String>,
    pub key_pem: Option<String>,
    pub server_name_override: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    pub include_system_ca_certs_pool: bool,
    pub cipher_suites: Vec<String>,
    pub reload_interval: Option<String>,
    pub curve_preferences: Vec<String>,
}

fn read_pem(
    file: &Option<String>,
    pem: &Option<String>,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    match (file, pem) {
        (Some(f), _) => std::fs::read(f)
            .map(Some)
            .map_err(|e| format!("cannot read {what}_file {f}: {e}")),
        (None, Some(p)) => Ok(Some(p.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

impl TlsClientConfig {
    pub fn ca(&self) -> Result<Option<Vec<u8>>, String> {
        read_pem(&self.ca_file, &self.ca_pem, "ca")
    }

    /// Client certificate and key (PEM) for mutual TLS, when both are given.
    pub fn identity(&self) -> Result<Option<PemPair>, String> {
        match (
            read_pem(&self.cert_file, &self.cert_pem, "cert")?,
            read_pem(&self.key_file, &self.key_pem, "key")?,
        ) {
            (Some(c), Some(k)) => Ok(Some((c, k))),
            (None, None) => Ok(None),
            _ => Err("cert_file and key_file must be given together".into()),
        }
    }

    /// Checks that referenced files are readable; returns (sub path, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        self.ca().map_err(|e| ("tls.ca_file", e))?;
        self.identity().map_err(|e| ("tls.cert_file", e))?;
        if let Some(v) = &self.min_version
            && !matches!(v.as_str(), "1.2" | "1.3")
        {
            return Err((
                "tls.min_version",
                format!("unsupported TLS version {v:?}; use \"1.2\" or \"1.3\""),
            ));
        }
        Ok(())
    }
}

/// `headers`: a map `{Name: value}` or a list `[{name, value}]`.
pub fn de_headers<'de, D: Deserializer<'de>>(de: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        name: String,
        value: String,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Map(BTreeMap<String, String>),
        List(Vec<Pair>),
        Null(()),
    }
    Ok(match Raw::deserialize(de)? {
        Raw::Map(m) => m,
        Raw::List(l) => l.into_iter().map(|p| (p.name, p.value)).collect(),
        Raw::Null(()) => BTreeMap::new(),
    })
}

/// Validates header names and values so sending never fails on them.
pub fn check_headers(
    section: &Section,
    headers: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (k, v) in headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(section.error(&format!("headers.{k}"), "invalid header name"));
        }
        if http::HeaderValue::from_str(v).is_err() {
            return Err(section.error(&format!("headers.{k}"), "invalid header value"));
        }
    }
    Ok(())
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Zlib,
    Deflate,
    /// The snappy block format (what `Content-Encoding: snappy` means; Collectors read both).
    Snappy,
    /// The snappy framing format.
    SnappyFramed,
    /// The LZ4 frame format.
    Lz4,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Compression> {
        Some(match s {
            "" | "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            "zlib" => Compression::Zlib,
            "deflate" => Compression::Deflate,
            "snappy" => Compression::Snappy,
            "x-snappy-framed" => Compression::SnappyFramed,
            "lz4" => Compression::Lz4,
            _ => return None,
        })
    }

    pub fn header(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
            Compression::Zlib => Some("zlib"),
            Compression::Deflate => Some("deflate"),
            Compression::Snappy => Some("snappy"),
            Compression::SnappyFramed => Some("x-snappy-framed"),
            Compression::Lz4 => Some("lz4"),
        }
    }

    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::fast(),
                );
                e.write_all(data)?;
                e.finish()
            }
            Compression::Zlib | Compression::Deflate => {
                let mut e = flate2::write::ZlibEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::fast(),
                );
                e.write_all(data)?;
                e.finish()
            }
            Compression::Zstd => zstd::encode_all(data, 3),
            Compression::Snappy => snap::raw::Encoder::new()
                .compress_vec(data)
                .map_err(std::io::Error::other),
            Compression::SnappyFramed => {
                let mut e = snap::write::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
                e.write_all(data)?;
                e.into_inner()
                    .map_err(|e| std::io::Error::other(e.to_string()))
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
                e.write_all(data)?;
                e.finish().map_err(std::io::Error::other)
            }
        }
    }
}

/// The longest `Retry-After` honoured: a server asking for more gets this (and the retry
/// settings' `max_elapsed_time` still applies), so a hostile value cannot overflow a deadline.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` as delay seconds or an HTTP date (a date in the past means now), at most
/// [`MAX_RETRY_AFTER`].
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => http_date(v)?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); anything else, or a field out of
/// range, is `None`.
pub fn http_date(s: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_weekday, day, month, year, hms, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day: u64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let year: u64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let hms: Vec<u64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms[..] else {
        return None;
    };
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (years counted from March, so the
    // leap day ends a year); every term is bounded by the range checks above.
    let (y, mp) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y % 400;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
}

pub fn de_opt_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    profcol_pipeline::exporter_helper::de_duration(de).map(Some)
}

/// An HTTP client (rustls) with the `tls` settings applied and profcol's user agent.
pub fn http_client(tls: &TlsClientConfig, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(format!("profcol/{}", env!("CARGO_PKG_VERSION")))
        .use_rustls_tls();
    if let Some(ca) = tls.ca()? {
        let certs =
            reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| format!("invalid ca: {e}"))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
        if !tls.include_system_ca_certs_pool {
            b = b.tls_built_in_root_certs(false);
        }
    }
    if let Some((cert, key)) = tls.identity()? {
        let mut pem = cert;
        pem.extend_from_slice(b"\n");
        pem.extend_from_slice(&key);
        b = b.identity(
            reqwest::Identity::from_pem(&pem)
                .map_err(|e| format!("invalid client certificate: {e}"))?,
        );
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    if tls.min_version.as_deref() == Some("1.3") {
        b = b.min_tls_version(reqwest::tls::Version::TLS_1_3);
    }
    b.build().map_err(|e| format!("building HTTP client: {e}"))
}

/// Configured `headers` as a request header map.
pub fn header_map(
    headers: &BTreeMap<String, String>,
) -> Result<reqwest::header::HeaderMap, String> {
    let mut out = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| format!("invalid header {k}: {e}"))?;
        let value = reqwest::header::HeaderValue::from_str(v)
            .map_err(|e| format!("invalid header value for {k}: {e}"))?;
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let secs = |s: &str| {
            http_date(s).map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
        };
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(secs("Thu, 29 Feb 2024 12:00:00 GMT"), Some(1_709_208_000));
        for bad in [
            "yesterday",
            "Mon, 00 Mar 2020 00:00:00 GMT",
            "Mon, 99999999999999999999 Mar 2020 00:00:00 GMT",
            "Mon, 01 Mar 1969 00:00:00 GMT",
            "Mon, 01 Mar 2020 24:00:00 GMT",
            "Mon, 01 Mar 2020 00:00 GMT",
            "Mon, 01 Foo 2020 00:00:00 GMT",
            "Mon, 01 Mar 2020 00:00:00 UTC",
        ] {
            assert_eq!(secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Fri, 31 Dec 9999 23:59:59 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "18446744073709551615".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
    }
}
