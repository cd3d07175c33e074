//! `processors.memory_limiter` config.

use std::time::Duration;

use profcol_config::{ConfigErrors, Section};
use profcol_settings::{ComponentConfig, Problems, de_duration};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    #[serde(deserialize_with = "de_duration")]
    pub check_interval: Duration,
    pub limit_mib: u64,
    pub spike_limit_mib: u64,
    pub limit_percentage: u64,
    pub spike_limit_percentage: u64,
    /// Go GC tuning keys, accepted for compatibility; Rust has no garbage collector to trigger.
    pub min_gc_interval_when_soft_limited: Option<serde_json::Value>,
    pub min_gc_interval_when_hard_limited: Option<serde_json::Value>,
    pub max_gc_interval_when_soft_limited: Option<serde_json::Value>,
    pub max_gc_interval_when_hard_limited: Option<serde_json::Value>,
}

impl Default for MemoryLimiterConfig {
    fn default() -> Self {
        MemoryLimiterConfig {
            check_interval: Duration::ZERO,
            limit_mib: 0,
            spike_limit_mib: 0,
            limit_percentage: 0,
            spike_limit_percentage: 0,
            min_gc_interval_when_soft_limited: None,
            min_gc_interval_when_hard_limited: None,
            max_gc_interval_when_soft_limited: None,
            max_gc_interval_when_hard_limited: None,
        }
    }
}

/// Limits in bytes, resolved against the machine (or cgroup) memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hard: u64,
    pub soft: u64,
}

impl ComponentConfig for MemoryLimiterConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.check_interval.is_zero() {
            p.push("check_interval", "must be greater than zero (e.g. 1s)");
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            p.push(
                "limit_mib",
                "one of limit_mib or limit_percentage must be greater than zero",
            );
        }
        if self.limit_mib > 0 && self.limit_percentage > 0 {
            p.push(
                "limit_percentage",
                "set only one of limit_mib and limit_percentage",
            );
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            p.push("spike_limit_mib", "must be smaller than limit_mib");
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            p.push("limit_percentage", "percentages must be at most 100");
        }
        if self.limit_percentage > 0 && self.spike_limit_percentage >= self.limit_percentage {
            p.push(
                "spike_limit_percentage",
                "must be smaller than limit_percentage",
            );
        }
    }
}

impl MemoryLimiterConfig {
    /// Decodes and checks the section; every problem is returned.
    pub fn load(section: &Section) -> Result<MemoryLimiterConfig, ConfigErrors> {
        <Self as ComponentConfig>::load(section)
    }

    /// The hard and soft limits in bytes, given the total memory available to the process.
    pub fn limits(&self, total_memory: u64) -> Limits {
        const MIB: u64 = 1 << 20;
        let (hard, spike) = if self.limit_mib > 0 {
            let spike = if self.spike_limit_mib > 0 {
                self.spike_limit_mib
            } else {
                self.limit_mib / 5
            };
            (self.limit_mib * MIB, spike * MIB)
        } else {
            let spike_pct = if self.spike_limit_percentage > 0 {
                self.spike_limit_percentage
            } else {
                self.limit_percentage / 5
            };
            (
                total_memory / 100 * self.limit_percentage,
                total_memory / 100 * spike_pct,
            )
        };
        Limits {
            hard,
            soft: hard.saturating_sub(spike),
        }
    }
}
