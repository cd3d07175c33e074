//! `exporters.parquet` config.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Problems, QueueConfig, RetryConfig, de_duration};
use serde::Deserialize;

/// How samples and stacks are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One row per sample with the frames as parallel lists (the default; readable with no joins).
    #[default]
    Denormalized,
    /// Samples reference `stack_id`; each samples file has a `stacks` file beside it.
    Normalized,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParquetConfig {
    /// A local directory, `file:///dir`, `s3://bucket/prefix`, `gs://bucket/prefix` or
    /// `az://container/prefix`.
    pub path: String,
    pub layout: Layout,
    /// A file closes once it reaches this size (bytes; `128MiB`, `64MB` and plain numbers work).
    #[serde(deserialize_with = "de_bytes")]
    pub max_file_size: u64,
    /// A file closes this long after its first row arrived.
    #[serde(deserialize_with = "de_duration")]
    pub max_file_age: Duration,
    /// A file of an hour partition closes this long after the hour ends.
    #[serde(deserialize_with = "de_duration")]
    pub hour_grace_period: Duration,
    /// At most this many partitions are open at once; opening another closes the least recently
    /// written one first.
    pub max_open_writers: usize,
    /// Rows per row group (at most).
    pub row_group_rows: usize,
    /// A partition's buffered rows are written as a row group once they take this much memory.
    #[serde(deserialize_with = "de_bytes")]
    pub row_group_bytes: u64,
    /// Buffered rows of all partitions together; above it the largest buffers are written out.
    #[serde(deserialize_with = "de_bytes")]
    pub max_buffered_bytes: u64,
    /// Buffered rows are written to their open file at least this often.
    #[serde(deserialize_with = "de_duration")]
    pub flush_interval: Duration,
    /// zstd level (1..=22).
    pub compression_level: i32,
    /// Where files are written before they are complete. Default: `<path>/.staging` for local
    /// paths, a directory under the system temp dir for object storage.
    pub staging_dir: Option<String>,
    /// Object-store options (`endpoint`, `region`, `access_key_id`, `secret_access_key`,
    /// `session_token`, `allow_http`, ... any key `object_store` knows for the scheme). The usual
    /// environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`) apply underneath.
    pub storage: BTreeMap<String, serde_json::Value>,
    pub sending_queue: QueueConfig,
    pub retry_on_failure: RetryConfig,
}

impl Default for ParquetConfig {
    fn default() -> Self {
        ParquetConfig {
            path: String::new(),
            layout: Layout::Denormalized,
            max_file_size: 128 << 20,
            max_file_age: Duration::from_secs(600),
            hour_grace_period: Duration::from_secs(300),
            max_open_writers: 64,
            row_group_rows: 128 * 1024,
            row_group_bytes: 128 << 20,
            max_buffered_bytes: 512 << 20,
            flush_interval: Duration::from_secs(60),
            compression_level: 3,
            staging_dir: None,
            storage: BTreeMap::new(),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

/// Where files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local(std::path::PathBuf),
    /// An object-store URL: the scheme (`s3`, `gs`, `az`), the bucket/container and the key prefix
    /// (no leading or trailing `/`).
    Object {
        url: String,
        scheme: Scheme,
        prefix: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    S3,
    Gcs,
    Azure,
}

/// Why `path` names no usable place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("file:// needs a directory")]
    EmptyFileUrl,
    #[error("unsupported scheme {0:?} (use a local directory, file://, s3://, gs:// or az://)")]
    Scheme(String),
    #[error("{0:?} names no bucket or container")]
    NoBucket(String),
    #[error("{0:?}: the key prefix must not contain . or ..")]
    DotSegment(String),
    #[error("{path:?}: invalid key prefix: {message}")]
    Prefix { path: String, message: String },
}

/// Parses `path`.
pub fn parse_target(path: &str) -> Result<Target, TargetError> {
    let Some((scheme, rest)) = path.split_once("://") else {
        return Ok(Target::Local(path.into()));
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            if rest.is_empty() {
                return Err(TargetError::EmptyFileUrl);
            }
            // file:///abs/dir (or file://localhost/abs/dir).
            let p = rest.strip_prefix("localhost").unwrap_or(rest);
            return Ok(Target::Local(p.into()));
        }
        "s3" | "s3a" => Scheme::S3,
        "gs" => Scheme::Gcs,
        "az" | "azure" | "abfs" | "abfss" => Scheme::Azure,
        other => {
            return Err(TargetError::Scheme(other.to_owned()));
        }
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(TargetError::NoBucket(path.to_owned()));
    }
    let prefix = prefix.trim_matches('/').to_owned();
    if prefix.split('/').any(|s| s == "." || s == "..") {
        return Err(TargetError::DotSegment(path.to_owned()));
    }
    // Every object key starts with the prefix: refuse one object_store cannot use (empty
    // segments as in `a//b`, control characters) here rather than on every upload.
    if !prefix.is_empty() {
        object_store::path::Path::parse(&prefix).map_err(|e| TargetError::Prefix {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    }
    let url = format!("{}://{bucket}", path.split_once("://").map_or("", |p| p.0));
    Ok(Target::Object {
        url,
        scheme,
        prefix,
    })
}

/// A storage option value as text (`true`, `9000` and strings all work).
pub fn option_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A `storage` key `object_store` does not know for the path's scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage option {0:?} for this scheme")]
pub struct UnknownStorageOption(pub String);

/// Checks that `key` is an option `object_store` knows for `scheme`.
pub fn check_storage_key(scheme: Scheme, key: &str) -> Result<(), UnknownStorageOption> {
    let k = key.to_ascii_lowercase();
    let ok = match scheme {
        Scheme::S3 => object_store::aws::AmazonS3ConfigKey::from_str(&k).is_ok(),
        Scheme::Gcs => object_store::gcp::GoogleConfigKey::from_str(&k).is_ok(),
        Scheme::Azure => object_store::azure::AzureConfigKey::from_str(&k).is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(UnknownStorageOption(key.to_owned()))
    }
}

impl ComponentConfig for ParquetConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.path.is_empty() {
            p.push("path", "must be set");
        } else {
            match parse_target(&self.path) {
                Err(e) => p.push("path", e),
                Ok(Target::Local(_)) => {
                    if let Some(k) = self.storage.keys().next() {
                        p.push(
                            &format!("storage.{k}"),
                            "storage options apply to object-store paths (s3://, gs://, az://) only",
                        );
                    }
                }
                Ok(Target::Object { scheme, .. }) => {
                    for k in self.storage.keys() {
                        p.check(&format!("storage.{k}"), check_storage_key(scheme, k));
                    }
                }
            }
        }
        if self.max_file_size == 0 {
            p.push("max_file_size", "must be greater than 0");
        }
        if self.max_file_age.is_zero() {
            p.push("max_file_age", "must be greater than 0");
        }
        if self.flush_interval.is_zero() {
            p.push("flush_interval", "must be greater than 0");
        }
        if self.max_open_writers == 0 {
            p.push("max_open_writers", "must be greater than 0");
        }
        if self.row_group_rows == 0 || self.row_group_rows > i32::MAX as usize / 4 {
            p.push("row_group_rows", "must be between 1 and 536870911");
        }
        if self.row_group_bytes == 0 {
            p.push("row_group_bytes", "must be greater than 0");
        }
        if self.max_buffered_bytes == 0 {
            p.push("max_buffered_bytes", "must be greater than 0");
        }
        if !(1..=22).contains(&self.compression_level) {
            p.push("compression_level", "must be between 1 and 22 (zstd)");
        }
        self.sending_queue.check("sending_queue", p);
    }
}

impl ParquetConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<ParquetConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }

    pub fn target(&self) -> Result<Target, TargetError> {
        parse_target(&self.path)
    }
}

/// A size that is not a number of bytes with an optional unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("invalid size {0:?} (expected e.g. 128MiB, 64MB or 1048576)")]
    Number(String),
    #[error("invalid size unit in {0:?} (B, KB, MB, GB, KiB, MiB, GiB)")]
    Unit(String),
    #[error("invalid size {0:?}")]
    Range(String),
}

/// Parses `128MiB`, `64MB`, `1.5GiB`, `4096` (bytes) and the like.
pub fn parse_bytes(s: &str) -> Result<u64, SizeError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| SizeError::Number(s.to_owned()))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(SizeError::Unit(s.to_owned())),
    };
    let v = n * mult;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(SizeError::Range(s.to_owned()));
    }
    Ok(v as u64)
}

fn de_bytes<'de, D: serde::Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    match Raw::deserialize(de)? {
        Raw::N(n) => Ok(n),
        Raw::S(s) => parse_bytes(&s).map_err(serde::de::Error::custom),
    }
}
