//! Shared test helpers.
#![allow(dead_code)]

use profcol_config::{
    Catalog, ComponentInfo, Config, ConfigErrors, Kind, Signal, Source, Warning, load,
};

pub const ALL: &[Signal] = &[
    Signal::Traces,
    Signal::Metrics,
    Signal::Logs,
    Signal::Profiles,
];
pub const NO_PROFILES: &[Signal] = &[Signal::Traces, Signal::Metrics, Signal::Logs];
pub const PROFILES: &[Signal] = &[Signal::Profiles];

/// A small catalog with the types of the spec's example and a few aliases.
pub struct TestCatalog;

impl Catalog for TestCatalog {
    fn lookup(&self, kind: Kind, ty: &str) -> Option<ComponentInfo> {
        let (canonical, signals, alias): (&'static str, &'static [Signal], bool) = match (kind, ty)
        {
            (Kind::Receiver, "otlp") => ("otlp", ALL, false),
            (Kind::Receiver, "pprof") => ("pprof", PROFILES, false),
            (Kind::Processor, "memory_limiter") => ("memory_limiter", ALL, false),
            (Kind::Processor, "resource") => ("resource", ALL, false),
            (Kind::Processor, "batch") => ("batch", NO_PROFILES, false),
            (Kind::Processor, "k8s_attributes") => ("k8s_attributes", ALL, false),
            (Kind::Processor, "k8sattributes") => ("k8s_attributes", ALL, true),
            (Kind::Exporter, "otlp_grpc") => ("otlp_grpc", ALL, false),
            (Kind::Exporter, "otlp") => ("otlp_grpc", ALL, true),
            (Kind::Exporter, "otlp_http") => ("otlp_http", ALL, false),
            (Kind::Exporter, "otlphttp") => ("otlp_http", ALL, true),
            (Kind::Exporter, "debug") => ("debug", ALL, false),
            (Kind::Extension, "health_check") => ("health_check", &[], false),
            (Kind::Extension, "pprof") => ("pprof", &[], false),
            (Kind::Extension, "zpages") => ("zpages", &[], false),
            (Kind::Connector, "forward") => ("forward", ALL, false),
            (Kind::Connector, "count") => ("count", &[Signal::Profiles, Signal::Metrics], false),
            _ => return None,
        };
        Some(ComponentInfo {
            ty: canonical,
            signals,
            deprecated_alias_of: alias.then_some(canonical),
        })
    }
}

pub fn yaml(name: &str, text: &str) -> Source {
    Source::Yaml {
        name: name.to_string(),
        text: text.to_string(),
    }
}

pub fn env_from(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub fn load_one(text: &str, vars: &[(&str, &str)]) -> Result<(Config, Vec<Warning>), ConfigErrors> {
    let env = env_from(vars);
    load(&[yaml("test.yaml", text)], &env)
}

pub fn load_ok(text: &str, vars: &[(&str, &str)]) -> (Config, Vec<Warning>) {
    match load_one(text, vars) {
        Ok(r) => r,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

pub fn load_err(text: &str, vars: &[(&str, &str)]) -> ConfigErrors {
    match load_one(text, vars) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

/// The 1-based line of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    match text.lines().position(|l| l.contains(needle)) {
        Some(i) => i + 1,
        None => panic!("{needle:?} not in text"),
    }
}
