//! `receivers.pprof` config: `server` (HTTP push), `remote` (scrape of `/debug/pprof`), `file`.

use std::collections::BTreeMap;
use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Problems, TlsServerConfig, de_duration, present};
use serde::Deserialize;

pub const DEFAULT_SERVER_ENDPOINT: &str = "localhost:4041";
pub const DEFAULT_PUSH_PATH: &str = "/v1/pprof";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PprofReceiverConfig {
    #[serde(deserialize_with = "present")]
    pub server: Option<ServerMode>,
    #[serde(deserialize_with = "present")]
    pub remote: Option<RemoteMode>,
    #[serde(deserialize_with = "present")]
    pub file: Option<FileMode>,
    /// Resource attributes put on every profile (e.g. `service.name`).
    pub resource_attributes: BTreeMap<String, String>,
    /// pprof labels that carry a span id / trace id and become OTLP Links.
    pub span_id_labels: Option<Vec<String>>,
    pub trace_id_labels: Option<Vec<String>>,
    /// Keep the correlation labels as sample attributes as well.
    pub keep_correlation_labels: bool,
    pub drop_zero_samples: bool,
    /// Attach the received pprof bytes as `original_payload`.
    pub include_original_payload: bool,
    /// Largest pprof accepted, after decompression (default 64 MiB).
    pub max_profile_size: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerMode {
    pub endpoint: String,
    pub path: String,
    pub max_request_body_size: u64,
    pub include_metadata: bool,
    /// Serve HTTPS (the Collector's server `tls` keys).
    pub tls: Option<TlsServerConfig>,
}

impl Default for ServerMode {
    fn default() -> Self {
        ServerMode {
            endpoint: DEFAULT_SERVER_ENDPOINT.into(),
            path: DEFAULT_PUSH_PATH.into(),
            max_request_body_size: 64 << 20,
            include_metadata: false,
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `host:port` or a base URL (`http://host:port`).
    pub endpoint: String,
    /// Resource attributes for this target (`service.name`, ...); `service_name` is read as
    /// `service.name`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ProfileType {
    pub enabled: bool,
    pub path: String,
    /// Append `?seconds=<delta_profiling_duration>` (a profile taken over that time).
    pub delta: bool,
}

fn pt(enabled: bool, path: &str, delta: bool) -> ProfileType {
    ProfileType {
        enabled,
        path: path.into(),
        delta,
    }
}

impl Default for ProfileType {
    fn default() -> Self {
        pt(true, "", false)
    }
}

/// Per profile type; defaults as Alloy's `pyroscope.scrape`. A type given in the config keeps
/// the defaults of the fields it leaves out (`memory: {enabled: true}` keeps its path).
#[derive(Debug, Clone)]
pub struct ProfileTypes {
    pub process_cpu: ProfileType,
    pub memory: ProfileType,
    pub goroutine: ProfileType,
    pub mutex: ProfileType,
    pub block: ProfileType,
    pub fgprof: ProfileType,
    pub godeltaprof_memory: ProfileType,
    pub godeltaprof_mutex: ProfileType,
    pub godeltaprof_block: ProfileType,
}

impl Default for ProfileTypes {
    fn default() -> Self {
        ProfileTypes {
            process_cpu: pt(true, "/debug/pprof/profile", true),
            memory: pt(true, "/debug/pprof/allocs", false),
            goroutine: pt(true, "/debug/pprof/goroutine", false),
            mutex: pt(true, "/debug/pprof/mutex", false),
            block: pt(true, "/debug/pprof/block", false),
            fgprof: pt(false, "/debug/fgprof", true),
            godeltaprof_memory: pt(false, "/debug/pprof/delta_heap", false),
            godeltaprof_mutex: pt(false, "/debug/pprof/delta_mutex", false),
            godeltaprof_block: pt(false, "/debug/pprof/delta_block", false),
        }
    }
}

/// The fields of one profile type that the config sets.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileTypeOverride {
    enabled: Option<bool>,
    path: Option<String>,
    delta: Option<bool>,
}

impl ProfileTypeOverride {
    fn apply(self, t: &mut ProfileType) {
        if let Some(e) = self.enabled {
            t.enabled = e;
        }
        if let Some(p) = self.path {
            t.path = p;
        }
        if let Some(d) = self.delta {
            t.delta = d;
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ProfileTypesOverride {
    process_cpu: ProfileTypeOverride,
    memory: ProfileTypeOverride,
    goroutine: ProfileTypeOverride,
    mutex: ProfileTypeOverride,
    block: ProfileTypeOverride,
    fgprof: ProfileTypeOverride,
    godeltaprof_memory: ProfileTypeOverride,
    godeltaprof_mutex: ProfileTypeOverride,
    godeltaprof_block: ProfileTypeOverride,
}

impl<'de> Deserialize<'de> for ProfileTypes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = ProfileTypesOverride::deserialize(d)?;
        let mut t = ProfileTypes::default();
        o.process_cpu.apply(&mut t.process_cpu);
        o.memory.apply(&mut t.memory);
        o.goroutine.apply(&mut t.goroutine);
        o.mutex.apply(&mut t.mutex);
        o.block.apply(&mut t.block);
        o.fgprof.apply(&mut t.fgprof);
        o.godeltaprof_memory.apply(&mut t.godeltaprof_memory);
        o.godeltaprof_mutex.apply(&mut t.godeltaprof_mutex);
        o.godeltaprof_block.apply(&mut t.godeltaprof_block);
        Ok(t)
    }
}

/// What a profile type needs from the scraper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `process_cpu`, `memory`, ... (godeltaprof types are renamed to memory/mutex/block).
    pub name: &'static str,
    pub path: String,
    pub seconds: bool,
    /// Cumulative on the server: profcol subtracts the previous scrape.
    pub client_delta: bool,
}

impl ProfileTypes {
    pub fn jobs(&self) -> Vec<Job> {
        let all: [(&'static str, &'static str, &ProfileType, bool); 9] = [
            ("process_cpu", "process_cpu", &self.process_cpu, false),
            ("memory", "memory", &self.memory, true),
            ("goroutine", "goroutine", &self.goroutine, false),
            ("mutex", "mutex", &self.mutex, true),
            ("block", "block", &self.block, true),
            ("fgprof", "fgprof", &self.fgprof, false),
            (
                "godeltaprof_memory",
                "memory",
                &self.godeltaprof_memory,
                false,
            ),
            ("godeltaprof_mutex", "mutex", &self.godeltaprof_mutex, false),
            ("godeltaprof_block", "block", &self.godeltaprof_block, false),
        ];
        all.iter()
            .filter(|(_, _, t, _)| t.enabled)
            .map(|(_, name, t, delta)| Job {
                name,
                path: t.path.clone(),
                seconds: t.delta,
                client_delta: *delta,
            })
            .collect()
    }
}

/// `remote.scheme`: how targets given as `host:port` are scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Scheme {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteMode {
    pub targets: Vec<Target>,
    #[serde(deserialize_with = "de_duration")]
    pub scrape_interval: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub scrape_timeout: Duration,
    #[serde(deserialize_with = "de_duration")]
    pub delta_profiling_duration: Duration,
    pub scheme: Scheme,
    pub path_prefix: String,
    pub profiles: ProfileTypes,
    /// Consecutive 404s after which a profile type is disabled for a target.
    pub disable_after_not_found: u32,
}

impl Default for RemoteMode {
    fn default() -> Self {
        RemoteMode {
            targets: Vec::new(),
            scrape_interval: Duration::from_secs(15),
            scrape_timeout: Duration::from_secs(10),
            delta_profiling_duration: Duration::from_secs(14),
            scheme: Scheme::Http,
            path_prefix: String::new(),
            profiles: ProfileTypes::default(),
            disable_after_not_found: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileMode {
    /// Glob patterns of pprof files to read (each file once).
    pub include: Vec<String>,
    #[serde(deserialize_with = "de_duration")]
    pub poll_interval: Duration,
}

impl Default for FileMode {
    fn default() -> Self {
        FileMode {
            include: Vec::new(),
            poll_interval: Duration::from_secs(10),
        }
    }
}

impl ComponentConfig for PprofReceiverConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.server.is_none() && self.remote.is_none() && self.file.is_none() {
            p.push("", "configure at least one mode: server, remote or file");
        }
        if let Some(s) = &self.server {
            if !s.path.starts_with('/') {
                p.push("server.path", "must start with '/'");
            }
            if s.max_request_body_size == 0 {
                p.push("server.max_request_body_size", "must be greater than 0");
            }
            if let Some(tls) = &s.tls {
                tls.check("server.tls", p);
            }
        }
        if let Some(r) = &self.remote {
            if r.targets.is_empty() {
                p.push("remote.targets", "must list at least one target");
            }
            for (i, t) in r.targets.iter().enumerate() {
                if t.endpoint.trim().is_empty() {
                    p.push(&format!("remote.targets[{i}].endpoint"), "must be set");
                }
            }
            if r.scrape_interval < Duration::from_secs(1) {
                p.push("remote.scrape_interval", "must be at least 1s");
            }
            if r.scrape_timeout.is_zero() {
                p.push("remote.scrape_timeout", "must be greater than 0");
            }
            if r.delta_profiling_duration <= Duration::from_secs(1)
                || r.delta_profiling_duration + Duration::from_secs(1) > r.scrape_interval
            {
                p.push(
                    "remote.delta_profiling_duration",
                    "must be more than 1s and at most scrape_interval - 1s",
                );
            }
            if r.profiles.jobs().is_empty() {
                p.push("remote.profiles", "every profile type is disabled");
            }
        }
        if let Some(f) = &self.file {
            if f.include.is_empty() {
                p.push("file.include", "must list at least one glob pattern");
            }
            for (i, pattern) in f.include.iter().enumerate() {
                if let Err(e) = glob::Pattern::new(pattern) {
                    p.push(&format!("file.include[{i}]"), format!("invalid glob: {e}"));
                }
            }
            if f.poll_interval.is_zero() {
                p.push("file.poll_interval", "must be greater than 0");
            }
        }
    }
}

impl PprofReceiverConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<PprofReceiverConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }

    pub fn max_profile_bytes(&self) -> usize {
        usize::try_from(self.max_profile_size.unwrap_or(64 << 20)).unwrap_or(usize::MAX)
    }
}
