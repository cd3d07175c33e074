//! `exporters.debug` config.

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Problems};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    /// One summary line per batch.
    Basic,
    /// One line per sample: the stack root-first as `a;b;c` and its values.
    Normal,
    /// Every profile with its metadata and every sample with resolved frames, attributes and link.
    Detailed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    /// Log the first N batches each second...
    pub sampling_initial: u64,
    /// ...then every Mth.
    pub sampling_thereafter: u64,
    /// Write through the log (stderr) when true, else to stdout.
    pub use_internal_logger: bool,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
        }
    }
}

impl ComponentConfig for DebugConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.sampling_thereafter == 0 {
            p.push("sampling_thereafter", "must be greater than 0");
        }
    }
}

impl DebugConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<DebugConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }
}
