//! Errors, warnings and source locations.

use std::fmt;
use std::sync::Arc;

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file path, or the name of an inline source (`yaml`, `env:VAR`, ...).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

fn write_prefix(
    f: &mut fmt::Formatter<'_>,
    location: Option<&Location>,
    path: &str,
) -> fmt::Result {
    if let Some(loc) = location {
        write!(f, "{loc}: ")?;
    }
    if !path.is_empty() {
        write!(f, "{path}: ")?;
    }
    Ok(())
}

/// One configuration problem.
///
/// Displays as `<file>:<line>: <path>: <message>`; the location part is left out when unknown
/// and the path part when empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Dotted path of the offending value, e.g. `exporters.otlp_grpc/2.endpoint`.
    pub path: String,
    /// Where the value was written, when known.
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error without a location.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.into(),
            location: None,
            message: message.into(),
        }
    }

    /// The same error with the given location.
    #[must_use]
    pub fn with_location(mut self, location: Option<Location>) -> ConfigError {
        self.location = location;
        self
    }

    pub(crate) fn at(
        path: impl Into<String>,
        loc: &Loc,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            path: path.into(),
            location: Some(loc.to_location()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_prefix(f, self.location.as_ref(), &self.path)?;
        f.write_str(&self.message)
    }
}

/// Every problem found in a configuration, in the order they were found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Something that does not stop the configuration from loading but that the user should see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Dotted path of the value concerned.
    pub path: String,
    /// Where the value was written, when known.
    pub location: Option<Location>,
    /// What the warning is about.
    pub message: String,
}

impl Warning {
    pub(crate) fn at(
        path: impl Into<String>,
        loc: Option<&Loc>,
        message: impl Into<String>,
    ) -> Warning {
        Warning {
            path: path.into(),
            location: loc.map(Loc::to_location),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_prefix(f, self.location.as_ref(), &self.path)?;
        f.write_str(&self.message)
    }
}

/// Internal, cheaply clonable location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: Arc<str>,
    pub line: usize,
}

impl Loc {
    pub fn new(file: &Arc<str>, line: usize) -> Loc {
        Loc {
            file: Arc::clone(file),
            line,
        }
    }

    pub fn to_location(&self) -> Location {
        Location {
            file: self.file.to_string(),
            line: self.line,
        }
    }
}
