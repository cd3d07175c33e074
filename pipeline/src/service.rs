//! Builds the component graph from a resolved config and runs it.
//!
//! Like the Collector: a receiver or exporter used by several pipelines is one instance;
//! processors are created per pipeline. Data flows receiver → processors (in order) → fan-out →
//! exporter queues.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use profcol_config::{ComponentId, Config, ConfigError, Kind};
use tokio_util::sync::CancellationToken;

use crate::budget::ByteBudget;
use crate::component::{BuildError, Component, Context, Factory, Registry, StartError};
use crate::consumer::{Consumer, Fanout};
use crate::host::Host;
use crate::memory::available_memory;
use crate::telemetry::Telemetry;

struct Named {
    id: String,
    component: Box<dyn Component>,
}

/// A built, not yet started service.
pub struct Service {
    receivers: Vec<Named>,
    /// Per pipeline, in pipeline order.
    processors: Vec<Named>,
    exporters: Vec<Named>,
    extensions: Vec<Named>,
    shutdown: CancellationToken,
    ready: Arc<AtomicBool>,
    pub telemetry: Telemetry,
}

fn undefined(id: &ComponentId, kind: Kind) -> BuildError {
    BuildError::Undefined {
        id: id.to_string(),
        kind,
    }
}

fn unknown(id: &ComponentId, kind: Kind) -> BuildError {
    BuildError::UnknownType {
        id: id.to_string(),
        kind,
    }
}

/// Checks every component config through its factory, returning all errors.
pub fn validate_components(config: &Config, registry: &Registry) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let groups = [
        (Kind::Receiver, &config.receivers),
        (Kind::Processor, &config.processors),
        (Kind::Exporter, &config.exporters),
        (Kind::Extension, &config.extensions),
    ];
    for (kind, map) in groups {
        for (id, section) in map.iter() {
            if let Some(f) = registry.get(kind, &id.ty)
                && let Err(e) = f.validate(section)
            {
                errors.extend(e);
            }
        }
    }
    errors
}

impl Service {
    /// Creates every component. The config must have passed `profcol_config::resolve`.
    pub fn build(
        config: &Config,
        registry: &Registry,
        telemetry: Telemetry,
    ) -> Result<Service, BuildError> {
        let shutdown = CancellationToken::new();
        let ready = Arc::new(AtomicBool::new(false));
        let budget = ByteBudget::from_config(&config.limits, available_memory(), &telemetry);
        let base = Context {
            id: ComponentId::new("service", None),
            telemetry: telemetry.clone(),
            shutdown: shutdown.clone(),
            ready: ready.clone(),
            host: Arc::new(Host::new()),
            budget,
        };

        // Extensions first: the others find what they offer (storage, authenticators).
        let mut host = Host::new();
        let mut extensions = Vec::new();
        for id in &config.service_extensions {
            let section = config
                .extensions
                .get(id)
                .ok_or_else(|| undefined(id, Kind::Extension))?;
            let Some(Factory::Extension(f)) = registry.get(Kind::Extension, &id.ty) else {
                return Err(unknown(id, Kind::Extension));
            };
            let (component, offers) = f.create(
                Context {
                    id: id.clone(),
                    ..base.clone()
                },
                section,
            )?;
            host.insert(&id.to_string(), offers);
            extensions.push(Named {
                id: id.to_string(),
                component,
            });
        }
        let host = Arc::new(host);
        let ctx = |id: &ComponentId| Context {
            id: id.clone(),
            host: host.clone(),
            ..base.clone()
        };

        // Exporters, once each.
        let mut exporter_consumers: BTreeMap<ComponentId, Arc<dyn Consumer>> = BTreeMap::new();
        let mut exporters = Vec::new();
        for p in config.pipelines.values() {
            for id in &p.exporters {
                if exporter_consumers.contains_key(id) {
                    continue;
                }
                let section = config
                    .exporters
                    .get(id)
                    .ok_or_else(|| undefined(id, Kind::Exporter))?;
                let Some(Factory::Exporter(f)) = registry.get(Kind::Exporter, &id.ty) else {
                    return Err(unknown(id, Kind::Exporter));
                };
                let (consumer, component) = f.create(ctx(id), section)?;
                exporter_consumers.insert(id.clone(), consumer);
                exporters.push(Named {
                    id: id.to_string(),
                    component,
                });
            }
        }

        // Processors per pipeline, built back to front.
        let mut processors = Vec::new();
        let mut heads: BTreeMap<ComponentId, Vec<Arc<dyn Consumer>>> = BTreeMap::new();
        for (pid, p) in &config.pipelines {
            let mut next = Fanout::of(
                p.exporters
                    .iter()
                    .filter_map(|e| exporter_consumers.get(e).cloned())
                    .collect(),
            );
            let mut built = Vec::new();
            for id in p.processors.iter().rev() {
                let section = config
                    .processors
                    .get(id)
                    .ok_or_else(|| undefined(id, Kind::Processor))?;
                let Some(Factory::Processor(f)) = registry.get(Kind::Processor, &id.ty) else {
                    return Err(unknown(id, Kind::Processor));
                };
                let (consumer, component) = f.create(ctx(id), section, next)?;
                next = consumer;
                built.push(Named {
                    id: format!("{id} (pipeline {pid})"),
                    component,
                });
            }
            built.reverse();
            processors.extend(built);
            for r in &p.receivers {
                heads.entry(r.clone()).or_default().push(next.clone());
            }
        }

        // Receivers, once each, feeding every pipeline that lists them.
        let mut receivers = Vec::new();
        for (id, nexts) in heads {
            let section = config
                .receivers
                .get(&id)
                .ok_or_else(|| undefined(&id, Kind::Receiver))?;
            let Some(Factory::Receiver(f)) = registry.get(Kind::Receiver, &id.ty) else {
                return Err(unknown(&id, Kind::Receiver));
            };
            let component = f.create(ctx(&id), section, Fanout::of(nexts))?;
            receivers.push(Named {
                id: id.to_string(),
                component,
            });
        }

        Ok(Service {
            receivers,
            processors,
            exporters,
            extensions,
            shutdown,
            ready,
            telemetry,
        })
    }

    /// Starts extensions, exporters, processors, then receivers. On error, what started is shut down.
    pub async fn start(&self) -> Result<(), StartError> {
        let order = [
            &self.extensions,
            &self.exporters,
            &self.processors,
            &self.receivers,
        ];
        let mut started: Vec<&Named> = Vec::new();
        for group in order {
            for n in group.iter() {
                tracing::debug!(component = %n.id, "starting");
                if let Err(e) = n.component.start().await {
                    for s in started.iter().rev() {
                        s.component.shutdown().await;
                    }
                    self.shutdown.cancel();
                    return Err(e);
                }
                started.push(n);
            }
        }
        self.ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// A token that fires when shutdown begins.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops receivers, flushes processors in pipeline order, drains exporters, stops extensions.
    pub async fn shutdown(&self) {
        self.ready.store(false, Ordering::Relaxed);
        self.shutdown.cancel();
        for group in [
            &self.receivers,
            &self.processors,
            &self.exporters,
            &self.extensions,
        ] {
            for n in group.iter() {
                tracing::debug!(component = %n.id, "shutting down");
                n.component.shutdown().await;
            }
        }
    }
}
