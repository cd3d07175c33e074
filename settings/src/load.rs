//! Loading a component's config: decode the section with serde, then run the semantic checks,
//! collecting every problem instead of stopping at the first.

use profcol_config::{ConfigError, ConfigErrors, Section};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// The problems found in one component section. Each is a [`ConfigError`] carrying the key path
/// (`exporters.otlp_grpc.sending_queue.queue_size`) and, when known, the file and line.
pub struct Problems<'s> {
    section: &'s Section,
    errors: Vec<ConfigError>,
}

impl<'s> Problems<'s> {
    pub fn new(section: &'s Section) -> Problems<'s> {
        Problems {
            section,
            errors: Vec::new(),
        }
    }

    /// The section being checked.
    pub fn section(&self) -> &'s Section {
        self.section
    }

    /// Records a problem at `path`, relative to the section (`""` is the section itself).
    pub fn push(&mut self, path: &str, message: impl std::fmt::Display) {
        self.errors
            .push(self.section.error(path, message.to_string()));
    }

    /// Records the error of `result`, if any, at `path`; returns the value when there is one.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        path: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(path, e);
                None
            }
        }
    }

    /// Records an already built error.
    pub fn push_error(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `value` when nothing was recorded, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// `prefix.key`, or `key` when `prefix` is empty: builds sub paths for shared settings' checks.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A component's config: serde decodes the section (unknown keys and invalid values, including
/// an enum option's value, fail there with the allowed values listed), then [`check`] looks at
/// the decoded settings, fills derived defaults and records every problem it finds.
///
/// Factories use [`ComponentConfig::load`] in `create` and [`ComponentConfig::validate`] in
/// `validate`, so `profcol validate` lists all problems of every component.
///
/// [`check`]: ComponentConfig::check
pub trait ComponentConfig: DeserializeOwned + Sized {
    /// Semantic checks after decoding; records each problem in `problems` and goes on.
    fn check(&mut self, problems: &mut Problems<'_>);

    /// Decodes and checks `section`; all problems are returned together.
    fn load(section: &Section) -> Result<Self, ConfigErrors> {
        let mut cfg: Self = section.decode()?;
        let mut problems = Problems::new(section);
        cfg.check(&mut problems);
        problems.finish(cfg)
    }

    /// [`load`](ComponentConfig::load) without keeping the result.
    fn validate(section: &Section) -> Result<(), ConfigErrors> {
        Self::load(section).map(|_| ())
    }
}

/// For `Option<T>` fields where a present-but-null key means "enabled with defaults"
/// (e.g. `protocols: {grpc: }`); use with `#[serde(default)]` so an absent key stays `None`.
pub fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(de)?.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Two {
        a: u32,
        b: u32,
    }

    impl ComponentConfig for Two {
        fn check(&mut self, p: &mut Problems<'_>) {
            if self.a == 0 {
                p.push("a", "must be greater than 0");
            }
            if self.b == 0 {
                p.push("b", "must be greater than 0");
            }
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let s = Section::from_value("processors.two", serde_json::json!({}));
        let e = Two::load(&s).expect_err("two problems");
        assert_eq!(
            e.to_string(),
            "processors.two.a: must be greater than 0\nprocessors.two.b: must be greater than 0"
        );
        let s = Section::from_value("processors.two", serde_json::json!({"a": 1, "b": 2}));
        assert!(Two::validate(&s).is_ok());
        let s = Section::from_value("processors.two", serde_json::json!({"c": 1}));
        assert!(
            Two::load(&s)
                .expect_err("unknown")
                .to_string()
                .contains("c")
        );
    }

    #[test]
    fn joins() {
        assert_eq!(join("", "tls"), "tls");
        assert_eq!(join("protocols.grpc", "tls"), "protocols.grpc.tls");
    }
}
