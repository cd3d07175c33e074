//! `exporters.file` config.

use std::time::Duration;

use profcol_config::{ConfigError, Section};
use profcol_pipeline::exporter_helper::de_duration;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub path: String,
    /// `json` (OTLP/JSON, one request per line) or `proto` (each request as a 4-byte big-endian
    /// length followed by the protobuf bytes).
    pub format: String,
    /// Append to an existing file instead of truncating it.
    pub append: bool,
    pub rotation: Option<Rotation>,
    /// `zstd` compresses each record (then even `json` records are length-prefixed).
    pub compression: String,
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
            format: "json".into(),
            append: false,
            rotation: None,
            compression: String::new(),
            flush_interval: Duration::from_secs(1),
            group_by: None,
        }
    }
}

impl FileConfig {
    pub fn load(section: &Section) -> Result<FileConfig, ConfigError> {
        let cfg: FileConfig = section.decode()?;
        if cfg.path.is_empty() {
            return Err(section.error("path", "must be set"));
        }
        if !matches!(cfg.format.as_str(), "json" | "proto") {
            return Err(section.error(
                "format",
                format!("unsupported format {:?} (json or proto)", cfg.format),
            ));
        }
        if !matches!(cfg.compression.as_str(), "" | "zstd") {
            return Err(section.error(
                "compression",
                format!(
                    "unsupported compression {:?} (zstd or empty)",
                    cfg.compression
                ),
            ));
        }
        if let Some(r) = &cfg.rotation {
            if cfg.append {
                return Err(section.error("append", "append and rotation cannot be used together"));
            }
            if r.max_megabytes == 0 {
                return Err(section.error("rotation.max_megabytes", "must be greater than 0"));
            }
        }
        if cfg
            .group_by
            .as_ref()
            .is_some_and(|g| g.get("enabled").and_then(|e| e.as_bool()).unwrap_or(false))
        {
            return Err(section.error("group_by", "group_by is not supported yet"));
        }
        Ok(cfg)
    }
}
