//! The typed configuration and its construction from the merged, expanded YAML tree.

use std::collections::{BTreeMap, HashMap};

use crate::error::{ConfigError, Loc, Location, Warning};
use crate::ids::{ComponentId, Kind, PipelineId};
use crate::section::{LineMap, Section};
use crate::yaml::{Entry, Node, Value, join_index, join_key, to_json};

/// One pipeline's component references, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineConfig {
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// `service.telemetry`, reduced to what profcol uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `debug`, `info`, `warn` or `error` (default `info`).
    pub logs_level: String,
    /// `console` or `json` (default `console`).
    pub logs_encoding: String,
    /// `none`, `basic`, `normal` or `detailed` (default `normal`).
    pub metrics_level: String,
    /// `host:port` of the Prometheus pull endpoint for the collector's own metrics
    /// (default `localhost:8888`); empty when readers are configured but none is a Prometheus
    /// pull reader.
    pub metrics_address: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            logs_level: "info".to_string(),
            logs_encoding: "console".to_string(),
            metrics_level: "normal".to_string(),
            metrics_address: "localhost:8888".to_string(),
        }
    }
}

/// `service.limits` (a profcol key; the Collector has no process-wide budget): the bytes of
/// request data the whole process may hold between receivers and exporter queues. Receivers
/// admit a request only while its bytes fit; beyond, they answer 503 / `UNAVAILABLE` with a
/// retry delay. Unset: a quarter of the memory available to the process (cgroup limit or RAM).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `service.limits.in_flight_mib`.
    pub in_flight_mib: Option<u64>,
    /// `service.limits.in_flight_percentage`: of the memory available to the process.
    pub in_flight_percentage: Option<u64>,
}

/// A loaded configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub receivers: BTreeMap<ComponentId, Section>,
    pub processors: BTreeMap<ComponentId, Section>,
    pub exporters: BTreeMap<ComponentId, Section>,
    pub extensions: BTreeMap<ComponentId, Section>,
    pub connectors: BTreeMap<ComponentId, Section>,
    /// `service.extensions`, in order.
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: BTreeMap<PipelineId, PipelineConfig>,
    pub telemetry: TelemetryConfig,
    /// `service.limits`.
    pub limits: LimitsConfig,
    /// Where the parts of `service` that are not [`Section`]s were written, by key path:
    /// `service`, `service.extensions`, `service.extensions[0]`, `service.pipelines`,
    /// `service.pipelines.profiles` (pipeline IDs in their canonical `signal[/name]` form),
    /// `service.pipelines.profiles.exporters` and `service.pipelines.profiles.exporters[1]`.
    /// A list index is the position in the corresponding `Vec` of this `Config`.
    /// See [`Config::location_of`].
    pub locations: BTreeMap<String, Location>,
}

impl Config {
    /// The definitions of one kind.
    pub fn components(&self, kind: Kind) -> &BTreeMap<ComponentId, Section> {
        match kind {
            Kind::Receiver => &self.receivers,
            Kind::Processor => &self.processors,
            Kind::Exporter => &self.exporters,
            Kind::Extension => &self.extensions,
            Kind::Connector => &self.connectors,
        }
    }

    /// The definitions of one kind, mutably.
    pub fn components_mut(&mut self, kind: Kind) -> &mut BTreeMap<ComponentId, Section> {
        match kind {
            Kind::Receiver => &mut self.receivers,
            Kind::Processor => &mut self.processors,
            Kind::Exporter => &mut self.exporters,
            Kind::Extension => &mut self.extensions,
            Kind::Connector => &mut self.connectors,
        }
    }

    /// Where `path` was written: its own entry in [`Config::locations`] or, when it has none
    /// (e.g. a pipeline without an `exporters` key), that of its nearest enclosing path that
    /// has one. `None` when no enclosing path was written either.
    pub fn location_of(&self, path: &str) -> Option<&Location> {
        let mut path = path;
        loop {
            if let Some(loc) = self.locations.get(path) {
                return Some(loc);
            }
            path = parent_path(path)?;
        }
    }
}

/// `a.b[2]` → `a.b` → `a`; `None` for a path without a parent.
fn parent_path(path: &str) -> Option<&str> {
    let cut = if path.ends_with(']') {
        path.rfind('[')
    } else {
        path.rfind('.')
    };
    cut.map(|i| &path[..i])
}

const TOP_LEVEL_KEYS: &str = "receivers, processors, exporters, connectors, extensions or service";

pub(crate) struct Builder {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<Warning>,
}

fn entries_of(node: Node) -> Option<Vec<Entry>> {
    match node.value {
        Value::Map(es) => Some(es),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

impl Builder {
    fn err(&mut self, path: impl Into<String>, loc: &Loc, message: impl Into<String>) {
        self.errors.push(ConfigError::at(path, loc, message));
    }

    /// Entries of a map-valued node; null counts as empty. Reports anything else.
    fn map_entries(&mut self, node: Node, path: &str, what: &str) -> Vec<Entry> {
        let loc = node.loc.clone();
        let desc = node.describe();
        match entries_of(node) {
            Some(es) => es,
            None => {
                self.err(path, &loc, format!("expected {what}, found {desc}"));
                Vec::new()
            }
        }
    }

    pub fn build(&mut self, root: Node) -> Config {
        let mut config = Config::default();
        for e in self.map_entries(root, "", "a map at the top level") {
            let kind = match e.key.as_str() {
                "receivers" => Kind::Receiver,
                "processors" => Kind::Processor,
                "exporters" => Kind::Exporter,
                "connectors" => Kind::Connector,
                "extensions" => Kind::Extension,
                "service" => {
                    record(&mut config.locations, "service", &e.key_loc);
                    self.service(e.value, &mut config);
                    continue;
                }
                other => {
                    let msg =
                        format!("unknown top-level key \"{other}\"; expected {TOP_LEVEL_KEYS}");
                    self.err(other, &e.key_loc, msg);
                    continue;
                }
            };
            let defs = self.components(kind, e.value);
            config.components_mut(kind).extend(defs);
        }
        config
    }

    fn components(&mut self, kind: Kind, node: Node) -> BTreeMap<ComponentId, Section> {
        let section = kind.section();
        let mut out: BTreeMap<ComponentId, Section> = BTreeMap::new();
        let mut written: HashMap<ComponentId, String> = HashMap::new();
        for e in self.map_entries(node, section, &format!("a map of {kind} definitions")) {
            let path = join_key(section, &e.key);
            let id: ComponentId = match e.key.parse() {
                Ok(id) => id,
                Err(msg) => {
                    self.err(
                        path,
                        &e.key_loc,
                        format!("invalid {kind} id \"{}\": {msg}", e.key),
                    );
                    continue;
                }
            };
            if let Some(first) = written.get(&id) {
                let msg = format!("{kind} \"{id}\" is defined twice (also as \"{first}\")");
                self.err(path, &e.key_loc, msg);
                continue;
            }
            written.insert(id.clone(), e.key.clone());
            let mut lines = LineMap::default();
            lines.locs.insert(String::new(), e.key_loc.clone());
            let value = match e.value.value {
                Value::Null => serde_json::Value::Object(serde_json::Map::new()),
                Value::Map(_) => to_json(&e.value, "", &mut lines.locs, &mut lines.originals),
                _ => {
                    let msg = format!("expected a map of settings, found {}", e.value.describe());
                    self.err(path, &e.value.loc, msg);
                    continue;
                }
            };
            out.insert(id, Section::new(path, value, lines));
        }
        out
    }

    fn service(&mut self, node: Node, config: &mut Config) {
        for e in self.map_entries(node, "service", "a map") {
            let path = join_key("service", &e.key);
            match e.key.as_str() {
                "extensions" => {
                    record(&mut config.locations, &path, &e.key_loc);
                    config.service_extensions =
                        self.id_list(e.value, &path, &mut config.locations, &path);
                }
                "pipelines" => {
                    record(&mut config.locations, &path, &e.key_loc);
                    self.pipelines(e.value, &path, config);
                }
                "telemetry" => config.telemetry = self.telemetry(e.value, &path),
                "limits" => config.limits = self.limits(e.value, &path),
                other => {
                    let msg = format!(
                        "unknown key \"{other}\"; expected extensions, pipelines, telemetry or limits"
                    );
                    self.err(path, &e.key_loc, msg);
                }
            }
        }
    }

    /// A list of component IDs. Like the Collector, a single string is split at commas.
    /// The locations of the IDs are recorded as `locations_path[i]`, `i` being the index in the
    /// result; errors are reported at `path`.
    fn id_list(
        &mut self,
        node: Node,
        path: &str,
        locations: &mut BTreeMap<String, Location>,
        locations_path: &str,
    ) -> Vec<ComponentId> {
        let mut ids = Vec::new();
        match node.value {
            Value::Null => {}
            Value::Str(s) if s.is_empty() => {}
            Value::Str(s) => {
                for part in s.split(',') {
                    match part.parse() {
                        Ok(id) => {
                            record(locations, &join_index(locations_path, ids.len()), &node.loc);
                            ids.push(id);
                        }
                        Err(msg) => self.err(
                            path,
                            &node.loc,
                            format!("invalid component id \"{part}\": {msg}"),
                        ),
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    let p = join_index(path, i);
                    match &item.value {
                        Value::Str(s) => match s.parse() {
                            Ok(id) => {
                                record(
                                    locations,
                                    &join_index(locations_path, ids.len()),
                                    &item.loc,
                                );
                                ids.push(id);
                            }
                            Err(msg) => self.err(
                                p,
                                &item.loc,
                                format!("invalid component id \"{s}\": {msg}"),
                            ),
                        },
                        _ => {
                            let msg = format!("expected a component id, found {}", item.describe());
                            self.err(p, &item.loc, msg);
                        }
                    }
                }
            }
            _ => {
                let msg = format!(
                    "expected a list of component ids, found {}",
                    node.describe()
                );
                self.err(path, &node.loc, msg);
            }
        }
        ids
    }

    fn pipelines(&mut self, node: Node, path: &str, config: &mut Config) {
        let mut written: HashMap<PipelineId, String> = HashMap::new();
        for e in self.map_entries(node, path, "a map of pipelines") {
            let ppath = join_key(path, &e.key);
            let id: PipelineId = match e.key.parse() {
                Ok(id) => id,
                Err(msg) => {
                    self.err(
                        ppath,
                        &e.key_loc,
                        format!("invalid pipeline id \"{}\": {msg}", e.key),
                    );
                    continue;
                }
            };
            if let Some(first) = written.get(&id) {
                let msg = format!("pipeline \"{id}\" is defined twice (also as \"{first}\")");
                self.err(ppath, &e.key_loc, msg);
                continue;
            }
            written.insert(id.clone(), e.key.clone());
            // Locations are keyed by the canonical ID, as `resolve` writes it in its paths.
            let canonical = join_key(path, &id.to_string());
            record(&mut config.locations, &canonical, &e.key_loc);
            let mut pipeline = PipelineConfig::default();
            for pe in self.map_entries(e.value, &ppath, "a map") {
                let p = join_key(&ppath, &pe.key);
                let list = match pe.key.as_str() {
                    "receivers" => &mut pipeline.receivers,
                    "processors" => &mut pipeline.processors,
                    "exporters" => &mut pipeline.exporters,
                    other => {
                        let msg = format!(
                            "unknown key \"{other}\"; expected receivers, processors or exporters"
                        );
                        self.err(p, &pe.key_loc, msg);
                        continue;
                    }
                };
                let side = join_key(&canonical, &pe.key);
                record(&mut config.locations, &side, &pe.key_loc);
                *list = self.id_list(pe.value, &p, &mut config.locations, &side);
            }
            config.pipelines.insert(id, pipeline);
        }
    }

    /// The text of a scalar setting, or an error.
    fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.value {
            Value::Seq(_) | Value::Map(_) => {
                self.err(
                    path,
                    &node.loc,
                    format!("expected a string, found {}", node.describe()),
                );
                None
            }
            _ => node.scalar_text(),
        }
    }

    /// Reports keys not in `allowed`; returns the entries with allowed keys, in order.
    fn checked_entries(&mut self, node: Node, path: &str, allowed: &[&str]) -> Vec<Entry> {
        let mut out = Vec::new();
        for e in self.map_entries(node, path, "a map") {
            if allowed.contains(&e.key.as_str()) {
                out.push(e);
            } else {
                let msg = format!(
                    "unknown key \"{}\"; expected one of {}",
                    e.key,
                    allowed.join(", ")
                );
                self.err(join_key(path, &e.key), &e.key_loc, msg);
            }
        }
        out
    }

    fn unknown_key(&mut self, path: &str, e: &Entry, allowed: &[&str]) {
        let msg = format!(
            "unknown key \"{}\"; expected one of {}",
            e.key,
            allowed.join(", ")
        );
        self.err(join_key(path, &e.key), &e.key_loc, msg);
    }

    fn limits(&mut self, node: Node, path: &str) -> LimitsConfig {
        const ALLOWED: &[&str] = &["in_flight_mib", "in_flight_percentage"];
        let mut l = LimitsConfig::default();
        let loc = node.loc.clone();
        for e in self.map_entries(node, path, "a map") {
            let p = join_key(path, &e.key);
            if !ALLOWED.contains(&e.key.as_str()) {
                self.unknown_key(path, &e, ALLOWED);
                continue;
            }
            let Some(text) = self.text(&e.value, &p) else {
                continue;
            };
            let Ok(v) = text.trim().parse::<u64>() else {
                self.err(
                    p,
                    &e.key_loc,
                    format!("expected a whole number, found \"{text}\""),
                );
                continue;
            };
            if e.key == "in_flight_mib" {
                if v == 0 {
                    self.err(p, &e.key_loc, "must be greater than 0".to_string());
                    continue;
                }
                l.in_flight_mib = Some(v);
            } else {
                if v == 0 || v > 100 {
                    self.err(p, &e.key_loc, "must be between 1 and 100".to_string());
                    continue;
                }
                l.in_flight_percentage = Some(v);
            }
        }
        if l.in_flight_mib.is_some() && l.in_flight_percentage.is_some() {
            self.err(
                path,
                &loc,
                "set only one of in_flight_mib and in_flight_percentage",
            );
        }
        l
    }

    fn telemetry(&mut self, node: Node, path: &str) -> TelemetryConfig {
        let mut t = TelemetryConfig::default();
        const ALLOWED: &[&str] = &["logs", "metrics", "traces", "resource"];
        for e in self.map_entries(node, path, "a map") {
            let p = join_key(path, &e.key);
            match e.key.as_str() {
                "logs" => self.logs(e.value, &p, &mut t),
                "metrics" => self.metrics(e.value, &p, &mut t),
                "traces" => {
                    let allowed = ["level", "propagators", "processors", "sampler", "limits"];
                    self.checked_entries(e.value, &p, &allowed);
                }
                "resource" => {
                    self.map_entries(e.value, &p, "a map of resource attributes");
                }
                _ => self.unknown_key(path, &e, ALLOWED),
            }
        }
        t
    }

    fn logs(&mut self, node: Node, path: &str, t: &mut TelemetryConfig) {
        const ALLOWED: &[&str] = &[
            "level",
            "encoding",
            "development",
            "disable_caller",
            "disable_stacktrace",
            "sampling",
            "output_paths",
            "error_output_paths",
            "initial_fields",
            "processors",
        ];
        for e in self.map_entries(node, path, "a map") {
            let p = join_key(path, &e.key);
            match e.key.as_str() {
                "level" => {
                    let Some(level) = self.text(&e.value, &p) else {
                        continue;
                    };
                    match level.to_ascii_lowercase().as_str() {
                        l @ ("debug" | "info" | "warn" | "error") => t.logs_level = l.to_string(),
                        "dpanic" | "panic" | "fatal" => t.logs_level = "error".to_string(),
                        _ => self.err(
                            p,
                            &e.key_loc,
                            format!(
                                "unknown log level \"{level}\"; expected debug, info, warn or error"
                            ),
                        ),
                    }
                }
                "encoding" => {
                    let Some(enc) = self.text(&e.value, &p) else {
                        continue;
                    };
                    match enc.as_str() {
                        "console" | "json" => t.logs_encoding = enc,
                        _ => self.err(
                            p,
                            &e.key_loc,
                            format!("unknown log encoding \"{enc}\"; expected console or json"),
                        ),
                    }
                }
                k if ALLOWED.contains(&k) => {}
                _ => self.unknown_key(path, &e, ALLOWED),
            }
        }
    }

    fn metrics(&mut self, node: Node, path: &str, t: &mut TelemetryConfig) {
        const ALLOWED: &[&str] = &["level", "readers", "address", "views", "cardinality_limit"];
        let mut readers_address: Option<String> = None;
        let mut legacy_address: Option<String> = None;
        for e in self.map_entries(node, path, "a map") {
            let p = join_key(path, &e.key);
            match e.key.as_str() {
                "level" => {
                    let Some(level) = self.text(&e.value, &p) else {
                        continue;
                    };
                    let lower = level.to_ascii_lowercase();
                    match lower.as_str() {
                        "none" | "basic" | "normal" | "detailed" => t.metrics_level = lower,
                        _ => self.err(
                            p,
                            &e.key_loc,
                            format!("unknown metrics level \"{level}\"; expected none, basic, normal or detailed"),
                        ),
                    }
                }
                "address" => {
                    let Some(addr) = self.text(&e.value, &p) else {
                        continue;
                    };
                    self.warnings.push(Warning::at(
                        &p,
                        Some(&e.key_loc),
                        "service.telemetry.metrics.address is deprecated; use readers with a prometheus pull exporter",
                    ));
                    legacy_address = Some(addr);
                }
                "readers" => readers_address = Some(self.readers(e.value, &p)),
                k if ALLOWED.contains(&k) => {}
                _ => self.unknown_key(path, &e, ALLOWED),
            }
        }
        if let Some(addr) = readers_address.or(legacy_address) {
            t.metrics_address = addr;
        }
    }

    /// The address of the first Prometheus pull reader, or empty when there is none.
    fn readers(&mut self, node: Node, path: &str) -> String {
        let loc = node.loc.clone();
        let items = match node.value {
            Value::Seq(items) => items,
            Value::Null => Vec::new(),
            _ => {
                self.err(
                    path,
                    &loc,
                    format!("expected a list of readers, found {}", node.describe()),
                );
                return String::new();
            }
        };
        let mut address = String::new();
        for (i, reader) in items.iter().enumerate() {
            let p = join_index(path, i);
            let prom = get(reader, "pull")
                .and_then(|n| get(n, "exporter"))
                .and_then(|n| get(n, "prometheus"));
            match prom {
                Some(prom) if address.is_empty() => {
                    let host = get(prom, "host").and_then(Node::scalar_text).filter(|h| !h.is_empty());
                    let port = get(prom, "port").and_then(Node::scalar_text).filter(|p| !p.is_empty());
                    let host = host.unwrap_or_else(|| "localhost".to_string());
                    let port = port.unwrap_or_else(|| "8888".to_string());
                    address = if host.contains(':') && !host.starts_with('[') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    };
                }
                _ => self.warnings.push(Warning::at(
                    p,
                    Some(&reader.loc),
                    "only one pull reader with a prometheus exporter is supported; this reader is ignored",
                )),
            }
        }
        address
    }
}

/// Remembers where `path` was written.
fn record(locations: &mut BTreeMap<String, Location>, path: &str, loc: &Loc) {
    locations.insert(path.to_string(), loc.to_location());
}

/// The value of `key` in a map node.
fn get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Map(es) => es.iter().find(|e| e.key == key).map(|e| &e.value),
        _ => None,
    }
}
