//! Alias resolution and pipeline graph checks (spec §3, §4).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{TestCatalog, env_from, line_of, load_ok, yaml};
use profcol_config::{
    ComponentId, Config, ConfigErrors, PipelineId, Signal, Warning, load, resolve,
};

fn id(s: &str) -> ComponentId {
    match s.parse() {
        Ok(id) => id,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn resolved(text: &str) -> (Config, Vec<Warning>) {
    let (mut config, _) = load_ok(text, &[]);
    match resolve(&mut config, &TestCatalog) {
        Ok(w) => (config, w),
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn resolve_errors(text: &str) -> ConfigErrors {
    let (mut config, _) = load_ok(text, &[]);
    match resolve(&mut config, &TestCatalog) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

/// Asserts there is exactly one error, with this path and a message containing `needle`.
fn single_error(text: &str, path: &str, needle: &str) -> profcol_config::ConfigError {
    let errors = resolve_errors(text);
    assert_eq!(errors.len(), 1, "{errors}");
    let e = errors.0[0].clone();
    assert_eq!(e.path, path, "{e}");
    assert!(e.message.contains(needle), "{e}");
    e
}

const VALID: &str = "\
receivers:
  otlp:
processors:
  batch:
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
";

#[test]
fn valid_config_resolves_without_warnings() {
    let (_, warnings) = resolved(VALID);
    assert!(warnings.is_empty());
}

#[test]
fn deprecated_aliases_are_rewritten_with_a_warning() {
    let text = "\
receivers:
  otlp:
processors:
  k8sattributes:
exporters:
  otlp/pyroscope:
    endpoint: pyroscope:4040
  otlphttp:
service:
  pipelines:
    profiles:
      receivers: [otlp]
      processors: [k8sattributes]
      exporters: [otlp/pyroscope, otlphttp]
";
    let (config, warnings) = resolved(text);
    // The receiver "otlp" is not an alias.
    assert!(config.receivers.contains_key(&id("otlp")));
    assert!(config.processors.contains_key(&id("k8s_attributes")));
    let pyro = &config.exporters[&id("otlp_grpc/pyroscope")];
    assert_eq!(pyro.value["endpoint"], "pyroscope:4040");
    assert!(config.exporters.contains_key(&id("otlp_http")));
    assert!(!config.exporters.contains_key(&id("otlp/pyroscope")));
    let p = &config.pipelines[&PipelineId::new(Signal::Profiles, None)];
    assert_eq!(p.receivers, vec![id("otlp")]);
    assert_eq!(p.processors, vec![id("k8s_attributes")]);
    assert_eq!(
        p.exporters,
        vec![id("otlp_grpc/pyroscope"), id("otlp_http")]
    );

    let rendered: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        rendered,
        vec![
            format!(
                "test.yaml:{}: processors.k8sattributes: processor type \"k8sattributes\" is deprecated; use \"k8s_attributes\"",
                line_of(text, "  k8sattributes:")
            ),
            format!(
                "test.yaml:{}: exporters.otlp/pyroscope: exporter type \"otlp\" is deprecated; use \"otlp_grpc\"",
                line_of(text, "otlp/pyroscope:")
            ),
            format!(
                "test.yaml:{}: exporters.otlphttp: exporter type \"otlphttp\" is deprecated; use \"otlp_http\"",
                line_of(text, "  otlphttp:")
            ),
        ]
    );
}

#[test]
fn alias_and_canonical_with_the_same_name_clash() {
    let text = "\
receivers:
  otlp:
exporters:
  otlp_grpc/x:
  otlp/x:
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp/x]
";
    let e = single_error(
        text,
        "exporters.otlp/x",
        "same component as \"otlp_grpc/x\"",
    );
    assert_eq!(e.location.map(|l| l.line), Some(5));
}

#[test]
fn unknown_type_names_the_key_and_line() {
    let text = VALID.replace("  debug:\n", "  debug:\n  foo/bar:\n");
    let e = single_error(&text, "exporters.foo/bar", "unknown exporter type \"foo\"");
    assert_eq!(e.location.map(|l| l.line), Some(line_of(&text, "foo/bar")));
    // The receiver kind has no "debug" type, even though the exporter kind has.
    let text = VALID.replace("  otlp:\n", "  otlp:\n  debug:\n");
    single_error(&text, "receivers.debug", "unknown receiver type \"debug\"");
}

#[test]
fn at_least_one_pipeline() {
    single_error(
        "receivers:\n  otlp:\n",
        "service.pipelines",
        "at least one pipeline",
    );
}

#[test]
fn pipeline_needs_a_receiver_and_an_exporter() {
    let text = VALID.replace("      receivers: [otlp]\n", "");
    single_error(
        &text,
        "service.pipelines.traces.receivers",
        "at least one receiver",
    );
    let text = VALID.replace("      exporters: [debug]\n", "      exporters: []\n");
    single_error(
        &text,
        "service.pipelines.traces.exporters",
        "at least one exporter",
    );
}

#[test]
fn undefined_references() {
    let text = VALID.replace("exporters: [debug]", "exporters: [debug, otlp_grpc/nope]");
    single_error(
        &text,
        "service.pipelines.traces.exporters[1]",
        "references exporter \"otlp_grpc/nope\" which is not configured",
    );
    let text = VALID.replace("receivers: [otlp]", "receivers: [otlp/2]");
    single_error(
        &text,
        "service.pipelines.traces.receivers[0]",
        "references receiver \"otlp/2\"",
    );
    let text = VALID.replace("processors: [batch]", "processors: [memory_limiter]");
    single_error(
        &text,
        "service.pipelines.traces.processors[0]",
        "references processor \"memory_limiter\"",
    );
}

#[test]
fn processor_twice_in_one_pipeline() {
    let text = VALID.replace("processors: [batch]", "processors: [batch, batch]");
    single_error(
        &text,
        "service.pipelines.traces.processors[1]",
        "references processor \"batch\" multiple times",
    );
}

#[test]
fn component_must_support_the_pipeline_signal() {
    let text = VALID.replace("    traces:\n", "    profiles:\n");
    single_error(
        &text,
        "service.pipelines.profiles.processors[0]",
        "processor \"batch\" does not support profiles",
    );
}

#[test]
fn service_extensions_must_be_defined() {
    let text =
        format!("{VALID}  extensions: [zpages, health_check, zpages]\nextensions:\n  zpages:\n");
    let errors = resolve_errors(&text);
    let got: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        got,
        vec!["service.extensions[1]", "service.extensions[2]"],
        "{errors}"
    );
    assert!(
        errors.0[0]
            .message
            .contains("references extension \"health_check\" which is not configured")
    );
    assert!(errors.0[1].message.contains("multiple times"));
}

#[test]
fn connectors_link_pipelines() {
    let text = "\
receivers:
  otlp:
exporters:
  debug:
connectors:
  forward:
  count:
service:
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [forward, count]
    profiles/2:
      receivers: [forward]
      exporters: [debug]
    metrics:
      receivers: [count]
      exporters: [debug]
";
    let _ = resolved(text);
}

#[test]
fn connector_must_be_used_on_both_sides() {
    let text = "\
receivers:
  otlp:
exporters:
  debug:
connectors:
  forward:
service:
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [debug, forward]
";
    let e = single_error(
        text,
        "connectors.forward",
        "used as an exporter but not as a receiver",
    );
    assert_eq!(e.location.map(|l| l.line), Some(6));
}

#[test]
fn connector_signal_support() {
    let text = "\
receivers:
  otlp:
exporters:
  debug:
connectors:
  count:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [count]
    metrics:
      receivers: [count]
      exporters: [debug]
";
    single_error(
        text,
        "service.pipelines.traces.exporters[0]",
        "connector \"count\" does not support traces",
    );
}

#[test]
fn connector_id_must_not_also_be_a_receiver_or_exporter() {
    let text = "\
receivers:
  otlp:
  forward:
exporters:
  debug:
connectors:
  forward:
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [debug]
";
    let errors = resolve_errors(text);
    assert!(
        errors
            .iter()
            .any(|e| e.path == "connectors.forward" && e.message.contains("ambiguous")),
        "{errors}"
    );
}

#[test]
fn all_graph_errors_are_reported_together() {
    let text = "\
receivers:
  otlp:
  nope:
processors:
  batch:
exporters:
  debug:
service:
  extensions: [zpages]
  pipelines:
    profiles:
      receivers: [otlp, missing]
      processors: [batch, batch]
    logs:
      exporters: [debug]
";
    let errors = resolve_errors(text);
    let got: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "receivers.nope",
            "service.pipelines.logs.receivers",
            "service.pipelines.profiles.receivers[1]",
            "service.pipelines.profiles.processors[0]",
            "service.pipelines.profiles.processors[1]",
            "service.pipelines.profiles.exporters",
            "service.extensions[0]",
        ],
        "{errors}"
    );
}

/// The line of an error's location; fails when it has none or it is not in `test.yaml`.
fn line(e: &profcol_config::ConfigError) -> usize {
    match &e.location {
        Some(l) if l.file == "test.yaml" => l.line,
        other => panic!("{e}: location {other:?}"),
    }
}

#[test]
fn undefined_exporter_reference_names_its_line() {
    // Flow list: the line of the list.
    let text = VALID.replace("exporters: [debug]", "exporters: [debug, otlp_grpc/nope]");
    let e = single_error(
        &text,
        "service.pipelines.traces.exporters[1]",
        "references exporter \"otlp_grpc/nope\" which is not configured",
    );
    assert_eq!(
        line(&e),
        line_of(&text, "exporters: [debug, otlp_grpc/nope]")
    );
    assert_eq!(
        e.to_string(),
        format!(
            "test.yaml:{}: service.pipelines.traces.exporters[1]: references exporter \"otlp_grpc/nope\" which is not configured",
            line(&e)
        )
    );

    // Block list: the line of the item itself.
    let text = VALID.replace(
        "      exporters: [debug]\n",
        "      exporters:\n        - debug\n        - otlp_grpc/nope\n",
    );
    let e = single_error(
        &text,
        "service.pipelines.traces.exporters[1]",
        "references exporter \"otlp_grpc/nope\"",
    );
    assert_eq!(line(&e), line_of(&text, "- otlp_grpc/nope"));

    // Undefined receivers and processors too.
    let text = VALID.replace("receivers: [otlp]", "receivers: [otlp/2]");
    let e = single_error(&text, "service.pipelines.traces.receivers[0]", "otlp/2");
    assert_eq!(line(&e), line_of(&text, "receivers: [otlp/2]"));
    let text = VALID.replace("processors: [batch]", "processors: [memory_limiter]");
    let e = single_error(
        &text,
        "service.pipelines.traces.processors[0]",
        "memory_limiter",
    );
    assert_eq!(line(&e), line_of(&text, "processors: [memory_limiter]"));
}

#[test]
fn comma_separated_references_name_the_line_of_the_string() {
    let text = VALID.replace("exporters: [debug]", "exporters: debug,otlp_grpc/nope");
    let e = single_error(
        &text,
        "service.pipelines.traces.exporters[1]",
        "references exporter \"otlp_grpc/nope\"",
    );
    assert_eq!(line(&e), line_of(&text, "exporters: debug,otlp_grpc/nope"));
}

#[test]
fn duplicate_processor_names_its_line() {
    let text = VALID.replace(
        "      processors: [batch]\n",
        "      processors:\n        - batch\n        - batch # again\n",
    );
    let e = single_error(
        &text,
        "service.pipelines.traces.processors[1]",
        "references processor \"batch\" multiple times",
    );
    assert_eq!(line(&e), line_of(&text, "- batch # again"));
}

#[test]
fn pipeline_without_exporters_names_its_line() {
    // No `exporters` key: the line of the pipeline.
    let text = VALID.replace("      exporters: [debug]\n", "");
    let e = single_error(
        &text,
        "service.pipelines.traces.exporters",
        "at least one exporter",
    );
    assert_eq!(line(&e), line_of(&text, "    traces:"));
    // An empty list: the line of the key.
    let text = VALID.replace("      exporters: [debug]\n", "      exporters: []\n");
    let e = single_error(
        &text,
        "service.pipelines.traces.exporters",
        "at least one exporter",
    );
    assert_eq!(line(&e), line_of(&text, "exporters: []"));
    // Same for receivers.
    let text = VALID.replace("      receivers: [otlp]\n", "      receivers:\n");
    let e = single_error(
        &text,
        "service.pipelines.traces.receivers",
        "at least one receiver",
    );
    assert_eq!(line(&e), line_of(&text, "      receivers:"));
}

#[test]
fn undefined_service_extension_names_its_line() {
    let text = format!(
        "{VALID}  extensions:\n    - zpages\n    - health_check\n    - zpages # twice\nextensions:\n  zpages:\n"
    );
    let errors = resolve_errors(&text);
    let got: Vec<(&str, usize)> = errors.iter().map(|e| (e.path.as_str(), line(e))).collect();
    assert_eq!(
        got,
        vec![
            ("service.extensions[1]", line_of(&text, "- health_check")),
            ("service.extensions[2]", line_of(&text, "- zpages # twice")),
        ],
        "{errors}"
    );
    assert!(errors.0[0].message.contains("which is not configured"));
}

#[test]
fn unsupported_signal_names_its_line() {
    let text = VALID.replace("    traces:\n", "    profiles:\n");
    let e = single_error(
        &text,
        "service.pipelines.profiles.processors[0]",
        "does not support profiles",
    );
    assert_eq!(line(&e), line_of(&text, "processors: [batch]"));
}

#[test]
fn missing_pipelines_name_the_service_line_when_there_is_one() {
    let text = "receivers:\n  otlp:\nservice:\n  extensions: []\n";
    let e = single_error(text, "service.pipelines", "at least one pipeline");
    assert_eq!(line(&e), 3);
    let text = "receivers:\n  otlp:\nservice:\n  pipelines: {}\n";
    let e = single_error(text, "service.pipelines", "at least one pipeline");
    assert_eq!(line(&e), 4);
    // Nothing was written at all: no line to name.
    let e = single_error(
        "receivers:\n  otlp:\n",
        "service.pipelines",
        "at least one pipeline",
    );
    assert_eq!(e.location, None);
}

#[test]
fn pipeline_locations_use_the_canonical_pipeline_id() {
    let text = VALID.replace("    traces:\n", "    traces / a:\n");
    let text = text.replace("exporters: [debug]", "exporters: [nope]");
    let e = single_error(
        &text,
        "service.pipelines.traces/a.exporters[0]",
        "references exporter \"nope\"",
    );
    assert_eq!(line(&e), line_of(&text, "exporters: [nope]"));
}

#[test]
fn locations_name_the_source_that_wrote_the_pipeline() {
    let base = VALID;
    let overlay = "\
# overlay
service:
  pipelines:
    traces:
      exporters: [debug, nope]
";
    let env = env_from(&[]);
    let (mut config, _) = match load(&[yaml("base.yaml", base), yaml("over.yaml", overlay)], &env) {
        Ok(r) => r,
        Err(e) => panic!("unexpected errors:\n{e}"),
    };
    let errors = match resolve(&mut config, &TestCatalog) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    };
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!(e.path, "service.pipelines.traces.exporters[1]");
    let loc = e.location.clone().map(|l| (l.file, l.line));
    assert_eq!(loc, Some(("over.yaml".to_string(), 5)), "{e}");
    // Keys only in the first source keep its locations.
    let loc = config
        .location_of("service.pipelines.traces.receivers[0]")
        .map(|l| (l.file.as_str(), l.line));
    assert_eq!(loc, Some(("base.yaml", line_of(base, "receivers: [otlp]"))));
}

#[test]
fn every_graph_error_names_a_line() {
    let text = "\
receivers:
  otlp:
processors:
  batch:
exporters:
  debug:
service:
  extensions: [zpages]
  pipelines:
    profiles:
      receivers: [otlp, missing]
      processors: [batch, batch]
    logs:
      exporters: [debug]
";
    let errors = resolve_errors(text);
    let got: Vec<(&str, usize)> = errors.iter().map(|e| (e.path.as_str(), line(e))).collect();
    assert_eq!(
        got,
        vec![
            ("service.pipelines.logs.receivers", 13),
            ("service.pipelines.profiles.receivers[1]", 11),
            ("service.pipelines.profiles.processors[0]", 12),
            ("service.pipelines.profiles.processors[1]", 12),
            ("service.pipelines.profiles.exporters", 10),
            ("service.extensions[0]", 8),
        ],
        "{errors}"
    );
}
