//! `sending_queue` (the Collector's exporterhelper queue; in memory here).

use serde::Deserialize;

use crate::load::{Problems, join};

/// `sending_queue.sizer`: what `queue_size` counts. The Collector's values are `requests`,
/// `items` and `bytes`; profcol implements `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    #[default]
    Requests,
    Items,
    Bytes,
}

impl Sizer {
    pub fn as_str(self) -> &'static str {
        match self {
            Sizer::Requests => "requests",
            Sizer::Items => "items",
            Sizer::Bytes => "bytes",
        }
    }
}

impl PartialEq<&str> for Sizer {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `sending_queue`. Defaults as the Collector's: enabled, 10 consumers, 1000 requests, not
/// blocking on overflow, not waiting for the result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub enabled: bool,
    pub num_consumers: usize,
    pub queue_size: usize,
    /// Only `requests` is implemented; the queue counts batches.
    pub sizer: Sizer,
    pub block_on_overflow: bool,
    pub wait_for_result: bool,
    /// Persistent queues need a storage extension, which profcol does not have yet.
    pub storage: Option<String>,
    /// The Collector's opt-in queue batching (`batch: {}`). Accepted so Collector configs load
    /// unchanged, not acted on: each request is sent as it was queued (use the `batch` processor
    /// to merge requests).
    pub batch: Option<serde_json::Value>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: Sizer::Requests,
            block_on_overflow: false,
            wait_for_result: false,
            storage: None,
            batch: None,
        }
    }
}

impl QueueConfig {
    /// Semantic checks; `prefix` is the path of this section (`sending_queue`).
    pub fn check(&self, prefix: &str, problems: &mut Problems<'_>) {
        if self.enabled && self.queue_size == 0 {
            problems.push(&join(prefix, "queue_size"), "must be greater than 0");
        }
        if self.enabled && self.num_consumers == 0 {
            problems.push(&join(prefix, "num_consumers"), "must be greater than 0");
        }
        if self.sizer != Sizer::Requests {
            problems.push(
                &join(prefix, "sizer"),
                format!(
                    "sizer {:?} is not supported; use \"requests\"",
                    self.sizer.as_str()
                ),
            );
        }
        if self.storage.is_some() {
            problems.push(
                &join(prefix, "storage"),
                "persistent queues are not supported yet",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_config::Section;

    #[test]
    fn sizer_values_and_checks() {
        let s = Section::from_value(
            "exporters.x",
            serde_json::json!({"sending_queue": {"sizer": "furlongs"}}),
        );
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            sending_queue: QueueConfig,
        }
        let e = s.decode::<T>().err().expect("unknown sizer").to_string();
        assert!(
            e.contains("exporters.x.sending_queue.sizer")
                && e.contains("`requests`")
                && e.contains("`bytes`"),
            "{e}"
        );
        let q = QueueConfig {
            sizer: Sizer::Items,
            queue_size: 0,
            ..Default::default()
        };
        let mut p = Problems::new(&s);
        q.check("sending_queue", &mut p);
        let e = p.finish(()).expect_err("two").to_string();
        assert!(e.contains("sending_queue.queue_size"), "{e}");
        assert!(e.contains("sizer \"items\" is not supported"), "{e}");
    }
}
