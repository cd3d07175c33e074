//! Signals, component kinds, component IDs and pipeline IDs (spec §3).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// A telemetry signal, i.e. the data type a pipeline carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
    Profiles,
}

impl Signal {
    /// All signals, in declaration order.
    pub const ALL: [Signal; 4] = [
        Signal::Traces,
        Signal::Metrics,
        Signal::Logs,
        Signal::Profiles,
    ];

    /// The lowercase name used in configs: `traces`, `metrics`, `logs`, `profiles`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Profiles => "profiles",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a component ID, pipeline ID or signal name is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("unknown signal \"{0}\"; expected traces, metrics, logs or profiles")]
    UnknownSignal(String),
    #[error("the type part must not be empty")]
    EmptyType,
    #[error("invalid type \"{0}\": it must match {TYPE_PATTERN}")]
    InvalidType(String),
    #[error("the name part after \"/\" must not be empty")]
    EmptyName,
    #[error("the name part is longer than {MAX_NAME_CHARS} characters")]
    LongName,
    #[error("invalid name \"{0}\": whitespace, control and symbol characters are not allowed")]
    InvalidName(String),
}

impl FromStr for Signal {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "traces" => Ok(Signal::Traces),
            "metrics" => Ok(Signal::Metrics),
            "logs" => Ok(Signal::Logs),
            "profiles" => Ok(Signal::Profiles),
            other => Err(IdError::UnknownSignal(other.to_owned())),
        }
    }
}

/// The kind of a component, i.e. the top-level section it is defined in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Extension,
    Connector,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 5] = [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Extension,
        Kind::Connector,
    ];

    /// Singular lowercase name: `receiver`, `processor`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
            Kind::Connector => "connector",
        }
    }

    /// The top-level config key of this kind: `receivers`, `processors`, ...
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
            Kind::Connector => "connectors",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

static TYPE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][0-9a-zA-Z_]{0,62}$").ok());
static NAME_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[^\pZ\pC\pS]+$").ok());

const TYPE_PATTERN: &str = "^[a-zA-Z][0-9a-zA-Z_]{0,62}$";
const MAX_NAME_CHARS: usize = 1024;

fn matches(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

/// Checks the `name` part of a component or pipeline ID (already trimmed).
fn check_name(name: &str) -> Result<(), IdError> {
    if name.is_empty() {
        return Err(IdError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(IdError::LongName);
    }
    if !matches(&NAME_RE, name) {
        return Err(IdError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// Splits `type[/name]` at the first `/` and trims both parts.
fn split_id(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((ty, name)) => (ty.trim(), Some(name.trim())),
        None => (s.trim(), None),
    }
}

/// A component ID, `type[/name]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ComponentId {
    pub ty: String,
    pub name: Option<String>,
}

impl ComponentId {
    /// Builds an ID from parts without validating them.
    pub fn new(ty: impl Into<String>, name: Option<&str>) -> ComponentId {
        ComponentId {
            ty: ty.into(),
            name: name.map(str::to_string),
        }
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.ty, name),
            None => f.write_str(&self.ty),
        }
    }
}

impl FromStr for ComponentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ty, name) = split_id(s);
        if ty.is_empty() {
            return Err(IdError::EmptyType);
        }
        if !matches(&TYPE_RE, ty) {
            return Err(IdError::InvalidType(ty.to_owned()));
        }
        if let Some(name) = name {
            check_name(name)?;
        }
        Ok(ComponentId {
            ty: ty.to_string(),
            name: name.map(str::to_string),
        })
    }
}

/// A pipeline ID, `signal[/name]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<String>,
}

impl PipelineId {
    /// Builds an ID from parts without validating the name.
    pub fn new(signal: Signal, name: Option<&str>) -> PipelineId {
        PipelineId {
            signal,
            name: name.map(str::to_string),
        }
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.signal, name),
            None => write!(f, "{}", self.signal),
        }
    }
}

impl FromStr for PipelineId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (signal, name) = split_id(s);
        let signal: Signal = signal.parse()?;
        if let Some(name) = name {
            check_name(name)?;
        }
        Ok(PipelineId {
            signal,
            name: name.map(str::to_string),
        })
    }
}
