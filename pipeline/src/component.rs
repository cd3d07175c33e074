//! Component lifecycles, factories and the registry.

use std::sync::Arc;

use profcol_config::{Catalog, ComponentId, ConfigError, ConfigErrors, Kind, Section, Signal};
use tokio_util::sync::CancellationToken;

use crate::consumer::{BoxFuture, Consumer};
use crate::error::BoxError;
use crate::telemetry::Telemetry;

/// A running part of the service with a start and a shutdown.
pub trait Component: Send + Sync {
    /// Binds servers, opens files, spawns tasks. Errors stop the service from starting.
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        Box::pin(async { Ok(()) })
    }
    /// Stops taking new work and flushes or drains what it holds.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A component that has nothing to start or stop.
pub struct Passive;
impl Component for Passive {}

/// A component could not start (a port in use, a bad certificate...). Names the component.
///
/// The typed cause is kept in `cause` and shown in the message; it is not also returned by
/// `source()`, so chain printers (`{:#}` of anyhow) do not repeat it.
#[derive(Debug, thiserror::Error)]
#[error("{id}: {cause}")]
pub struct StartError {
    pub id: String,
    pub cause: BoxError,
}

impl StartError {
    pub fn new(id: &ComponentId, cause: impl Into<BoxError>) -> StartError {
        StartError {
            id: id.to_string(),
            cause: cause.into(),
        }
    }
}

/// A component could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Its configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Every problem of a component's config.
    #[error("{0}")]
    Configs(#[from] ConfigErrors),
    /// A pipeline names a component that has no section (the config was not resolved).
    #[error("{id}: {kind} is not defined")]
    Undefined { id: String, kind: Kind },
    /// No factory for the component's type.
    #[error("{id}: unknown {kind} type")]
    UnknownType { id: String, kind: Kind },
    /// The factory failed (a client that cannot be built, a directory that cannot be created).
    /// The typed cause is shown in the message, not repeated by `source()` (as [`StartError`]).
    #[error("{id}: {cause}")]
    Component { id: String, cause: BoxError },
}

impl BuildError {
    /// A factory failure of component `id`.
    pub fn component(id: &ComponentId, cause: impl Into<BoxError>) -> BuildError {
        BuildError::Component {
            id: id.to_string(),
            cause: cause.into(),
        }
    }
}

/// What every factory gets when it creates a component.
#[derive(Clone)]
pub struct Context {
    pub id: ComponentId,
    pub telemetry: Telemetry,
    /// Fires when the service begins shutting down.
    pub shutdown: CancellationToken,
    /// True while the whole service is started and not shutting down (health checks read it).
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// The service's extensions (storage, authenticators), by id.
    pub host: Arc<crate::host::Host>,
    /// The process-wide budget of bytes in flight (`service.limits`).
    pub budget: Arc<crate::budget::ByteBudget>,
}

impl Context {
    /// The context of a component run outside a service (tests, tools): no extensions, an
    /// unlimited budget, not ready.
    pub fn new(id: ComponentId, telemetry: Telemetry) -> Context {
        Context {
            id,
            telemetry,
            shutdown: CancellationToken::new(),
            ready: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            host: Arc::new(crate::host::Host::new()),
            budget: crate::budget::ByteBudget::unlimited(),
        }
    }
}

/// Static facts about a component type.
#[derive(Debug, Clone, Copy)]
pub struct ComponentInfo {
    pub kind: Kind,
    pub ty: &'static str,
    pub aliases: &'static [&'static str],
    pub signals: &'static [Signal],
    pub description: &'static str,
}

impl ComponentInfo {
    /// A component type of `kind` for the profiles signal, without aliases.
    pub const fn profiles(kind: Kind, ty: &'static str, description: &'static str) -> Self {
        ComponentInfo {
            kind,
            ty,
            aliases: &[],
            signals: &[Signal::Profiles],
            description,
        }
    }

    /// The same with deprecated aliases that still resolve to this type.
    pub const fn with_aliases(self, aliases: &'static [&'static str]) -> Self {
        ComponentInfo { aliases, ..self }
    }
}

/// What extension factories create: the lifecycle, and what the extension offers the others.
pub type BuiltExtension = (Box<dyn Component>, crate::host::Offers);

/// What processor and exporter factories create: the consumer to push into and the lifecycle.
pub type Built = (Arc<dyn Consumer>, Box<dyn Component>);

pub trait ReceiverFactory: Send + Sync {
    fn info(&self) -> ComponentInfo;
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors>;
    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Box<dyn Component>, BuildError>;
}

pub trait ProcessorFactory: Send + Sync {
    fn info(&self) -> ComponentInfo;
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors>;
    fn create(
        &self,
        ctx: Context,
        section: &Section,
        next: Arc<dyn Consumer>,
    ) -> Result<Built, BuildError>;
}

pub trait ExporterFactory: Send + Sync {
    fn info(&self) -> ComponentInfo;
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors>;
    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError>;
}

pub trait ExtensionFactory: Send + Sync {
    fn info(&self) -> ComponentInfo;
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors>;
    /// The extension's lifecycle and what it offers other components.
    fn create(&self, ctx: Context, section: &Section) -> Result<BuiltExtension, BuildError>;
}

pub enum Factory {
    Receiver(Box<dyn ReceiverFactory>),
    Processor(Box<dyn ProcessorFactory>),
    Exporter(Box<dyn ExporterFactory>),
    Extension(Box<dyn ExtensionFactory>),
}

impl Factory {
    pub fn info(&self) -> ComponentInfo {
        match self {
            Factory::Receiver(f) => f.info(),
            Factory::Processor(f) => f.info(),
            Factory::Exporter(f) => f.info(),
            Factory::Extension(f) => f.info(),
        }
    }

    pub fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        match self {
            Factory::Receiver(f) => f.validate(section),
            Factory::Processor(f) => f.validate(section),
            Factory::Exporter(f) => f.validate(section),
            Factory::Extension(f) => f.validate(section),
        }
    }
}

/// The one explicit list of every component type profcol knows.
#[derive(Default)]
pub struct Registry {
    factories: Vec<Factory>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(&mut self, f: Factory) -> &mut Registry {
        self.factories.push(f);
        self
    }

    pub fn factories(&self) -> &[Factory] {
        &self.factories
    }

    /// The factory for a canonical type name of the given kind.
    pub fn get(&self, kind: Kind, ty: &str) -> Option<&Factory> {
        self.factories.iter().find(|f| {
            let i = f.info();
            i.kind == kind && i.ty == ty
        })
    }
}

impl Catalog for Registry {
    fn lookup(&self, kind: Kind, ty: &str) -> Option<profcol_config::ComponentInfo> {
        self.factories.iter().find_map(|f| {
            let i = f.info();
            if i.kind != kind {
                return None;
            }
            if i.ty == ty {
                Some(profcol_config::ComponentInfo {
                    ty: i.ty,
                    signals: i.signals,
                    deprecated_alias_of: None,
                })
            } else if i.aliases.contains(&ty) {
                Some(profcol_config::ComponentInfo {
                    ty: i.ty,
                    signals: i.signals,
                    deprecated_alias_of: Some(i.ty),
                })
            } else {
                None
            }
        })
    }
}
