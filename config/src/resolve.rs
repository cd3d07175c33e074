//! Type resolution against the component catalog and pipeline graph checks (spec §3, §4).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::Config;
use crate::error::{ConfigError, ConfigErrors, Warning};
use crate::ids::{ComponentId, Kind, PipelineId, Signal};
use crate::section::Section;

/// What the component registry knows about a type. Implemented by the pipeline crate's registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComponentInfo {
    /// The canonical type.
    pub ty: &'static str,
    /// The signals the type supports. For connectors: the signals it can consume and emit.
    pub signals: &'static [Signal],
    /// Set when the looked-up type is a deprecated alias; names the canonical type.
    pub deprecated_alias_of: Option<&'static str>,
}

/// Looks up component types.
pub trait Catalog {
    /// Information about `ty` for `kind`, or `None` when the type is unknown.
    fn lookup(&self, kind: Kind, ty: &str) -> Option<ComponentInfo>;
}

/// The type a looked-up type resolves to, and whether it was a deprecated alias.
fn canonical_type(ty: &str, info: &ComponentInfo) -> (&'static str, bool) {
    let target = info
        .deprecated_alias_of
        .filter(|t| *t != ty)
        .unwrap_or(info.ty);
    let deprecated = info.deprecated_alias_of.is_some() && target != ty;
    (target, deprecated)
}

struct Resolver {
    errors: Vec<ConfigError>,
    warnings: Vec<Warning>,
    infos: HashMap<(Kind, ComponentId), ComponentInfo>,
    renames: HashMap<Kind, HashMap<ComponentId, ComponentId>>,
}

/// Resolves deprecated type aliases and checks the pipeline graph.
///
/// Aliases are rewritten to the canonical type wherever the component is defined or referenced,
/// with a warning such as `exporter type "otlp" is deprecated; use "otlp_grpc"`. Then: every
/// type is known for its kind, there is at least one pipeline, every pipeline has a receiver and
/// an exporter, every referenced ID is defined, no processor is used twice in one pipeline, every
/// component supports the signal of the pipelines it is used in, connectors are used on both
/// sides, and `service.extensions` are defined. All errors are returned together.
pub fn resolve(config: &mut Config, catalog: &dyn Catalog) -> Result<Vec<Warning>, ConfigErrors> {
    let mut r = Resolver {
        errors: Vec::new(),
        warnings: Vec::new(),
        infos: HashMap::new(),
        renames: HashMap::new(),
    };
    for kind in Kind::ALL {
        r.resolve_types(config, catalog, kind);
    }
    r.rewrite_references(config);
    r.check_ambiguous_connectors(config);
    r.check_pipelines(config);
    r.check_extensions(config);
    if r.errors.is_empty() {
        Ok(r.warnings)
    } else {
        Err(ConfigErrors(r.errors))
    }
}

impl Resolver {
    fn resolve_types(&mut self, config: &mut Config, catalog: &dyn Catalog, kind: Kind) {
        let defs = std::mem::take(config.components_mut(kind));
        let mut staged: Vec<(ComponentId, ComponentId, Section, Option<ComponentInfo>)> =
            Vec::new();
        for (id, section) in defs {
            match catalog.lookup(kind, &id.ty) {
                None => {
                    self.errors
                        .push(section.error("", format!("unknown {kind} type \"{}\"", id.ty)));
                    staged.push((id.clone(), id, section, None));
                }
                Some(info) => {
                    let (ty, deprecated) = canonical_type(&id.ty, &info);
                    if deprecated {
                        let message =
                            format!("{kind} type \"{}\" is deprecated; use \"{ty}\"", id.ty);
                        self.warnings.push(Warning {
                            path: section.path.clone(),
                            location: section.location(),
                            message,
                        });
                    }
                    let new = ComponentId {
                        ty: ty.to_string(),
                        name: id.name.clone(),
                    };
                    staged.push((id, new, section, Some(info)));
                }
            }
        }
        // Unrenamed definitions first, so a clash is reported on the alias.
        staged.sort_by_key(|(old, new, _, _)| old != new);
        let out = config.components_mut(kind);
        for (old, new, section, info) in staged {
            if old != new {
                self.renames
                    .entry(kind)
                    .or_default()
                    .insert(old.clone(), new.clone());
            }
            if out.contains_key(&new) {
                self.errors.push(section.error(
                    "",
                    format!(
                        "{kind} \"{old}\" is the same component as \"{new}\" (type \"{}\" is an alias of \"{}\")",
                        old.ty, new.ty
                    ),
                ));
                continue;
            }
            if let Some(info) = info {
                self.infos.insert((kind, new.clone()), info);
            }
            out.insert(new, section);
        }
    }

    fn renamed(&self, kinds: &[Kind], id: &ComponentId) -> Option<ComponentId> {
        kinds
            .iter()
            .find_map(|k| self.renames.get(k).and_then(|m| m.get(id)).cloned())
    }

    fn rewrite_references(&self, config: &mut Config) {
        let rewrite = |ids: &mut Vec<ComponentId>, kinds: &[Kind]| {
            for id in ids.iter_mut() {
                if let Some(new) = self.renamed(kinds, id) {
                    *id = new;
                }
            }
        };
        for p in config.pipelines.values_mut() {
            rewrite(&mut p.receivers, &[Kind::Receiver, Kind::Connector]);
            rewrite(&mut p.processors, &[Kind::Processor]);
            rewrite(&mut p.exporters, &[Kind::Exporter, Kind::Connector]);
        }
        rewrite(&mut config.service_extensions, &[Kind::Extension]);
    }

    fn check_ambiguous_connectors(&mut self, config: &Config) {
        for (id, section) in &config.connectors {
            for kind in [Kind::Receiver, Kind::Exporter] {
                if config.components(kind).contains_key(id) {
                    self.errors.push(section.error(
                        "",
                        format!(
                            "ambiguous id: \"{id}\" is both a {kind} and a connector; rename one of them \
                             (e.g. \"{id}\" connector to \"{}/connector\")",
                            id.ty
                        ),
                    ));
                }
            }
        }
    }

    /// Reports an error about a part of `service`, at the line where that part was written.
    fn service_error(&mut self, config: &Config, path: &str, message: String) {
        let location = config.location_of(path).cloned();
        self.errors
            .push(ConfigError::new(path, message).with_location(location));
    }

    fn check_signal(
        &mut self,
        config: &Config,
        kind: Kind,
        id: &ComponentId,
        signal: Signal,
        path: &str,
    ) {
        if let Some(info) = self.infos.get(&(kind, id.clone()))
            && !info.signals.contains(&signal)
        {
            let message = format!("{kind} \"{id}\" does not support {signal}");
            self.service_error(config, path, message);
        }
    }

    /// Checks one side (receivers or exporters) of a pipeline, which may also name connectors.
    fn check_side(
        &mut self,
        config: &Config,
        kind: Kind,
        pid: &PipelineId,
        ids: &[ComponentId],
        connector_uses: &mut BTreeMap<ComponentId, Vec<PipelineId>>,
    ) {
        let base = format!("service.pipelines.{pid}.{}", kind.section());
        if ids.is_empty() {
            let message = format!("pipeline \"{pid}\" must have at least one {kind}");
            self.service_error(config, &base, message);
        }
        for (i, id) in ids.iter().enumerate() {
            let path = format!("{base}[{i}]");
            if config.components(kind).contains_key(id) {
                self.check_signal(config, kind, id, pid.signal, &path);
            } else if config.connectors.contains_key(id) {
                self.check_signal(config, Kind::Connector, id, pid.signal, &path);
                connector_uses
                    .entry(id.clone())
                    .or_default()
                    .push(pid.clone());
            } else {
                let message = format!("references {kind} \"{id}\" which is not configured");
                self.service_error(config, &path, message);
            }
        }
    }

    fn check_pipelines(&mut self, config: &Config) {
        if config.pipelines.is_empty() {
            let message = "at least one pipeline must be configured".to_string();
            self.service_error(config, "service.pipelines", message);
        }
        let mut as_receiver: BTreeMap<ComponentId, Vec<PipelineId>> = BTreeMap::new();
        let mut as_exporter: BTreeMap<ComponentId, Vec<PipelineId>> = BTreeMap::new();
        for (pid, p) in &config.pipelines {
            self.check_side(config, Kind::Receiver, pid, &p.receivers, &mut as_receiver);
            let mut seen: HashSet<&ComponentId> = HashSet::new();
            for (i, id) in p.processors.iter().enumerate() {
                let path = format!("service.pipelines.{pid}.processors[{i}]");
                if !seen.insert(id) {
                    let message = format!("references processor \"{id}\" multiple times");
                    self.service_error(config, &path, message);
                } else if config.processors.contains_key(id) {
                    self.check_signal(config, Kind::Processor, id, pid.signal, &path);
                } else {
                    let message = format!("references processor \"{id}\" which is not configured");
                    self.service_error(config, &path, message);
                }
            }
            self.check_side(config, Kind::Exporter, pid, &p.exporters, &mut as_exporter);
        }
        for (id, section) in &config.connectors {
            let (recv, exp) = (as_receiver.get(id), as_exporter.get(id));
            let message = match (recv, exp) {
                (Some(_), None) => "is used as a receiver but not as an exporter in any pipeline",
                (None, Some(_)) => "is used as an exporter but not as a receiver in any pipeline",
                _ => continue,
            };
            self.errors
                .push(section.error("", format!("connector \"{id}\" {message}")));
        }
    }

    fn check_extensions(&mut self, config: &Config) {
        let mut seen: HashSet<&ComponentId> = HashSet::new();
        for (i, id) in config.service_extensions.iter().enumerate() {
            let path = format!("service.extensions[{i}]");
            if !seen.insert(id) {
                let message = format!("references extension \"{id}\" multiple times");
                self.service_error(config, &path, message);
            } else if !config.extensions.contains_key(id) {
                let message = format!("references extension \"{id}\" which is not configured");
                self.service_error(config, &path, message);
            }
        }
    }
}
