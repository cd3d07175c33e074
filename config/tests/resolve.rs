//! Alias resolution and pipeline graph checks (spec §3, §4).

mod common;

use common::{TestCatalog, line_of, load_ok};
use profcol_config::{ComponentId, Config, ConfigErrors, PipelineId, Signal, Warning, resolve};

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
