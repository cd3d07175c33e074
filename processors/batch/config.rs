//! `processors.batch` config.

use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Problems, de_duration};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Flush a partial batch this long after its first sample arrived.
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Flush once a batch holds this many samples.
    pub send_batch_size: usize,
    /// Split flushed batches larger than this (0: no limit).
    pub send_batch_max_size: usize,
    /// Client metadata keys whose values partition batches (e.g. `x-scope-orgid`).
    pub metadata_keys: Vec<String>,
    /// The most distinct metadata value combinations held at once.
    pub metadata_cardinality_limit: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            timeout: Duration::from_millis(200),
            send_batch_size: 8192,
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl ComponentConfig for BatchConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            p.push(
                "send_batch_max_size",
                "must be greater than or equal to send_batch_size",
            );
        }
        if self.send_batch_size == 0 {
            p.push("send_batch_size", "must be greater than 0");
        }
        if !self.metadata_keys.is_empty() && self.metadata_cardinality_limit == 0 {
            p.push(
                "metadata_cardinality_limit",
                "must be greater than 0 when metadata_keys are set",
            );
        }
        for k in &mut self.metadata_keys {
            *k = k.to_ascii_lowercase();
        }
    }
}

impl BatchConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<BatchConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }
}
