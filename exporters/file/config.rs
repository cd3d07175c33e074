//! `exporters.file` config.

use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Compression, Problems, de_duration};
use serde::Deserialize;

/// `format`: how each request is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OTLP/JSON, one request per line.
    #[default]
    Json,
    /// Each request as a 4-byte big-endian length followed by the protobuf bytes.
    Proto,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Proto => "proto",
        }
    }
}

impl PartialEq<&str> for Format {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub path: String,
    /// `json` (OTLP/JSON, one request per line) or `proto` (each request as a 4-byte big-endian
    /// length followed by the protobuf bytes).
    pub format: Format,
    /// Append to an existing file instead of truncating it.
    pub append: bool,
    pub rotation: Option<Rotation>,
    /// `zstd` compresses each record (then even `json` records are length-prefixed); empty or
    /// `none` writes records as they are.
    pub compression: Compression,
    #[serde(deserialize_with = "de_duration")]
    pub flush_interval: Duration,
    pub group_by: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rotation {
    pub max_megabytes: u64,
    pub max_days: u64,
    pub max_backups: u64,
    pub localtime: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_megabytes: 100,
            max_days: 0,
            max_backups: 100,
            localtime: false,
        }
    }
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            path: String::new(),
            format: Format::Json,
            append: false,
            rotation: None,
            compression: Compression::None,
            flush_interval: Duration::from_secs(1),
            group_by: None,
        }
    }
}

impl ComponentConfig for FileConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.path.is_empty() {
            p.push("path", "must be set");
        }
        p.check(
            "compression",
            self.compression
                .supported(&[Compression::Zstd, Compression::None]),
        );
        if let Some(r) = &self.rotation {
            if self.append {
                p.push("append", "append and rotation cannot be used together");
            }
            if r.max_megabytes == 0 {
                p.push("rotation.max_megabytes", "must be greater than 0");
            }
        }
        if self
            .group_by
            .as_ref()
            .is_some_and(|g| g.get("enabled").and_then(|e| e.as_bool()).unwrap_or(false))
        {
            p.push("group_by", "group_by is not supported yet");
        }
    }
}

impl FileConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<FileConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }
}
