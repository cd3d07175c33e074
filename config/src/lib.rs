//! Collector-compatible configuration for profcol.
//!
//! Reads OpenTelemetry Collector YAML from one or more sources, deep-merges them, expands
//! `${...}` references, and produces a [`Config`] whose component sections are JSON
//! [`Section`]s that remember the file and line of every key. [`resolve`] then checks the
//! result against a component [`Catalog`].

mod config;
mod error;
mod expand;
mod ids;
mod resolve;
mod section;
mod yaml;

use std::path::PathBuf;
use std::sync::Arc;

pub use crate::config::{Config, LimitsConfig, PipelineConfig, TelemetryConfig};
pub use crate::error::{ConfigError, ConfigErrors, Location, Warning};
pub use crate::ids::{ComponentId, IdError, Kind, PipelineId, Signal};
pub use crate::resolve::{Catalog, ComponentInfo, resolve};
pub use crate::section::Section;

use crate::error::Loc;
use crate::yaml::{Node, Value};

/// One config source: a file path, or inline YAML (for `yaml:` sources and the embedded default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Yaml { name: String, text: String },
}

impl Source {
    /// Interprets a `--config` argument: `file:<path>`, `yaml:<text>`, `env:<VAR>` (the YAML in
    /// that environment variable; empty when unset) or a plain path.
    pub fn parse_arg(arg: &str) -> Source {
        if let Some(path) = arg.strip_prefix("file:") {
            Source::File(PathBuf::from(path))
        } else if let Some(text) = arg.strip_prefix("yaml:") {
            Source::Yaml {
                name: "yaml".to_string(),
                text: text.to_string(),
            }
        } else if let Some(var) = arg.strip_prefix("env:") {
            Source::Yaml {
                name: format!("env:{var}"),
                text: std::env::var(var).unwrap_or_default(),
            }
        } else {
            Source::File(PathBuf::from(arg))
        }
    }

    /// The name used in locations: the file path or the inline source's name.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Yaml { name, .. } => name.clone(),
        }
    }
}

/// Reads one source into a node tree; `None` when it could not be read or parsed.
fn read_source(source: &Source, errors: &mut Vec<ConfigError>) -> Option<Node> {
    let name: Arc<str> = Arc::from(source.name());
    let text = match source {
        Source::File(p) => {
            let s = p.to_string_lossy();
            if s.starts_with("http://") || s.starts_with("https://") {
                errors.push(ConfigError::new(
                    "",
                    format!("config source \"{s}\": http(s) sources are not supported"),
                ));
                return None;
            }
            match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(ConfigError::new(
                        "",
                        format!("cannot read config file \"{s}\": {e}"),
                    ));
                    return None;
                }
            }
        }
        Source::Yaml { text, .. } => text.clone(),
    };
    let parsed = match yaml::parse(&text, &name, None) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    errors.extend(parsed.errors);
    let mut root = parsed.root;
    match root.value {
        Value::Map(_) => {}
        Value::Null => root.value = Value::Map(Vec::new()),
        _ => {
            let msg = format!(
                "the top level of a config must be a map, found {}",
                root.describe()
            );
            errors.push(ConfigError::at("", &root.loc, msg));
            return None;
        }
    }
    yaml::unflatten(&mut root);
    Some(root)
}

/// Reads, expands, deep-merges (maps merge, lists replace; later sources win) and types the
/// sources. All errors found are returned together, not just the first.
pub fn load(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<Warning>), ConfigErrors> {
    let mut errors = Vec::new();
    let mut merged: Option<Node> = None;
    for source in sources {
        let Some(root) = read_source(source, &mut errors) else {
            continue;
        };
        match merged.as_mut() {
            Some(base) => yaml::merge(base, root),
            None => merged = Some(root),
        }
    }
    let mut root = merged
        .unwrap_or_else(|| Node::new(Loc::new(&Arc::from("<empty>"), 1), Value::Map(Vec::new())));

    let mut expander = expand::Expander {
        env,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    expander.expand_tree(&mut root, "");
    errors.append(&mut expander.errors);

    let mut builder = config::Builder {
        errors: Vec::new(),
        warnings: expander.warnings,
    };
    let config = builder.build(root);
    errors.append(&mut builder.errors);

    if errors.is_empty() {
        Ok((config, builder.warnings))
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Serde helper for optional sub-sections where, like in the Collector, a key written with an
/// empty value (`grpc:`) means "enabled with defaults": null becomes `Some(T)` decoded from an
/// empty map, an absent key (with `#[serde(default)]`) stays `None`.
///
/// ```text
/// #[serde(default, deserialize_with = "profcol_config::null_as_empty")]
/// grpc: Option<GrpcConfig>,
/// ```
pub fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);

    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map or null")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            let empty =
                serde::de::value::MapDeserializer::<_, E>::new(std::iter::empty::<(&str, &str)>());
            T::deserialize(empty).map(Some)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            self.visit_none()
        }

        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            T::deserialize(d).map(Some)
        }
    }

    deserializer.deserialize_option(V(std::marker::PhantomData))
}
