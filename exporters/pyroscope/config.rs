//! `exporters.pyroscope` config.

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_pdata::pyroscope::series::{
    MAX_LABEL_NAMES_PER_SERIES, MAX_PROFILE_SAMPLES, MAX_PROFILE_SIZE_BYTES, MAX_SAMPLE_LABELS,
};
use profcol_settings::http::{is_http_url, join_url};
use profcol_settings::{
    ComponentConfig, Compression, Problems, QueueConfig, RetryConfig, TlsClientConfig,
    check_headers, de_duration, de_headers,
};
use serde::Deserialize;

/// The Push API path appended to `endpoint`.
pub const PUSH_PATH: &str = "push.v1.PusherService/Push";

/// `basic_auth`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PyroscopeConfig {
    /// Base URL of the server (may carry a path prefix); requests go to
    /// `{endpoint}/push.v1.PusherService/Push`.
    pub endpoint: String,
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "de_headers")]
    pub headers: BTreeMap<String, String>,
    pub basic_auth: Option<BasicAuth>,
    /// Sent as `Authorization: Bearer …`.
    pub bearer_token: Option<String>,
    /// Sent as `X-Scope-OrgID`. When unset, the batch's `x-scope-orgid` request metadata (from a
    /// receiver with `include_metadata: true`) is forwarded.
    pub tenant_id: Option<String>,
    /// Labels added to every series; labels the data carries win.
    pub external_labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Body compression: `gzip` (default) or `none`.
    pub compression: Compression,
    /// Map label names to `[a-zA-Z_][a-zA-Z0-9_]*` (servers before v2.0). Off: names are sent as
    /// they are, dots included.
    pub sanitize_label_names: bool,
    /// Largest uncompressed pprof; bigger profiles are split by samples (Pyroscope's
    /// `validation.max-profile-size-bytes`, 4 MiB).
    pub max_profile_size_bytes: usize,
    /// Most samples per pprof; bigger profiles are split (`max-profile-stacktrace-samples`).
    pub max_samples_per_profile: usize,
    /// Most labels per pprof sample (`max-profile-stacktrace-sample-labels`).
    pub max_labels_per_sample: usize,
    /// Most label names per series (`max-label-names-per-series`).
    pub max_label_names_per_series: usize,
    /// Largest encoded PushRequest (before body compression); bigger batches are split into
    /// several requests.
    pub max_request_size: usize,
    /// Profiles older than this are not sent, and retries stop before data gets this old
    /// (Pyroscope's `validation.reject-older-than`). `0` disables the check.
    #[serde(deserialize_with = "de_duration")]
    pub reject_older_than: Duration,
    /// Profiles timed further than this in the future are not sent (`reject-newer-than`). `0`
    /// disables the check.
    #[serde(deserialize_with = "de_duration")]
    pub reject_newer_than: Duration,
    pub retry_on_failure: RetryConfig,
    pub sending_queue: QueueConfig,
}

impl Default for PyroscopeConfig {
    fn default() -> Self {
        PyroscopeConfig {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            basic_auth: None,
            bearer_token: None,
            tenant_id: None,
            external_labels: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            compression: Compression::Gzip,
            sanitize_label_names: false,
            max_profile_size_bytes: MAX_PROFILE_SIZE_BYTES,
            max_samples_per_profile: MAX_PROFILE_SAMPLES,
            max_labels_per_sample: MAX_SAMPLE_LABELS,
            max_label_names_per_series: MAX_LABEL_NAMES_PER_SERIES,
            max_request_size: 16 << 20,
            reject_older_than: Duration::from_secs(3600),
            reject_newer_than: Duration::from_secs(600),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
        }
    }
}

/// Why no Push URL can be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be set (e.g. http://localhost:4040)")]
pub struct NoEndpoint;

impl ComponentConfig for PyroscopeConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        match self.push_url() {
            Err(e) => p.push("endpoint", e),
            Ok(url) if !is_http_url(&url) => p.push(
                "endpoint",
                format!(
                    "{:?} must start with http:// or https://",
                    self.endpoint.trim()
                ),
            ),
            Ok(_) => {}
        }
        p.check(
            "compression",
            self.compression
                .supported(&[Compression::Gzip, Compression::None]),
        );
        check_headers(&self.headers, p);
        let has_auth_header = self
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("authorization"));
        if self.basic_auth.is_some() && self.bearer_token.is_some() {
            p.push(
                "bearer_token",
                "basic_auth and bearer_token cannot both be set",
            );
        }
        if has_auth_header && (self.basic_auth.is_some() || self.bearer_token.is_some()) {
            p.push(
                "headers.Authorization",
                "conflicts with basic_auth/bearer_token",
            );
        }
        if self.tenant_id.is_some()
            && self
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("x-scope-orgid"))
        {
            p.push("headers.X-Scope-OrgID", "conflicts with tenant_id");
        }
        if let Some(b) = &self.basic_auth
            && (b.username.is_empty() || b.username.contains(':'))
        {
            p.push(
                "basic_auth.username",
                "must be non-empty and must not contain ':'",
            );
        }
        for (path, v) in [
            ("bearer_token", self.bearer_token.as_deref()),
            ("tenant_id", self.tenant_id.as_deref()),
        ] {
            if let Some(v) = v
                && (v.is_empty() || http::HeaderValue::from_str(v).is_err())
            {
                p.push(path, "must be a non-empty, valid header value");
            }
        }
        for k in self.external_labels.keys() {
            if k.is_empty() || k.starts_with("__") {
                p.push(
                    &format!("external_labels.{k}"),
                    "label names must be non-empty and must not start with \"__\"",
                );
            }
        }
        for (path, v) in [
            ("max_profile_size_bytes", self.max_profile_size_bytes),
            ("max_samples_per_profile", self.max_samples_per_profile),
            ("max_labels_per_sample", self.max_labels_per_sample),
            ("max_request_size", self.max_request_size),
        ] {
            if v == 0 {
                p.push(path, "must be greater than 0");
            }
        }
        if self.max_label_names_per_series < 3 {
            p.push(
                "max_label_names_per_series",
                "must be at least 3 (__name__, __delta__, service_name)",
            );
        }
        if self.timeout.is_zero() {
            p.push("timeout", "must be greater than 0");
        }
        self.tls.check("tls", p);
        self.sending_queue.check("sending_queue", p);
    }
}

impl PyroscopeConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<PyroscopeConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }

    /// The Push URL.
    pub fn push_url(&self) -> Result<String, NoEndpoint> {
        let base = self.endpoint.trim();
        if base.is_empty() {
            return Err(NoEndpoint);
        }
        Ok(join_url(base, PUSH_PATH))
    }
}
