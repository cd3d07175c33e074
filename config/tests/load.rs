//! Loading: structure checks, error reporting, merging, sections and telemetry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::PathBuf;

use common::{TestCatalog, env_from, line_of, load_err, load_ok, yaml};
use profcol_config::{ComponentId, PipelineId, Section, Signal, Source, load, resolve};
use serde::Deserialize;
use serde_json::json;

fn id(s: &str) -> ComponentId {
    match s.parse() {
        Ok(id) => id,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn paths_and_lines(errors: &profcol_config::ConfigErrors) -> Vec<(String, Option<usize>)> {
    errors
        .iter()
        .map(|e| (e.path.clone(), e.location.as_ref().map(|l| l.line)))
        .collect()
}

#[test]
fn unknown_top_level_key() {
    let text = "receivers:\n  otlp:\nrecievers:\n  otlp:\n";
    let errors = load_err(text, &[]);
    assert_eq!(
        paths_and_lines(&errors),
        vec![("recievers".to_string(), Some(3))]
    );
    assert_eq!(
        errors.0[0].to_string(),
        "test.yaml:3: recievers: unknown top-level key \"recievers\"; expected receivers, processors, \
         exporters, connectors, extensions or service"
    );
}

#[test]
fn unknown_keys_under_service_telemetry_and_pipelines() {
    let text = "\
service:
  extensions: []
  pipeline: {}
  telemetry:
    logs:
      level: debug
      colour: true
    metrics:
      lvl: basic
    tracing: {}
  pipelines:
    profiles:
      receivers: [otlp]
      processor: [batch]
      exporters: [debug]
";
    let errors = load_err(text, &[]);
    assert_eq!(
        paths_and_lines(&errors),
        vec![
            (
                "service.pipeline".to_string(),
                Some(line_of(text, "pipeline:"))
            ),
            (
                "service.telemetry.logs.colour".to_string(),
                Some(line_of(text, "colour"))
            ),
            (
                "service.telemetry.metrics.lvl".to_string(),
                Some(line_of(text, "lvl"))
            ),
            (
                "service.telemetry.tracing".to_string(),
                Some(line_of(text, "tracing"))
            ),
            (
                "service.pipelines.profiles.processor".to_string(),
                Some(line_of(text, "processor:"))
            ),
        ],
        "{errors}"
    );
}

#[test]
fn all_errors_of_all_sources_are_reported() {
    let a = "receivers:\n  otlp:\nbogus: 1\nexporters:\n  debug: [1]\n";
    let b = "service:\n  telemetry:\n    logs:\n      level: loud\n  pipelines:\n    nope: {}\n";
    let c = "receivers: [\n";
    let env = env_from(&[]);
    let errors = match load(
        &[yaml("a.yaml", a), yaml("b.yaml", b), yaml("c.yaml", c)],
        &env,
    ) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    };
    let rendered = errors.to_string();
    assert_eq!(errors.len(), 5, "{rendered}");
    assert!(rendered.contains("c.yaml:"), "{rendered}");
    assert!(rendered.contains("invalid YAML"), "{rendered}");
    assert!(
        rendered.contains("a.yaml:3: bogus: unknown top-level key"),
        "{rendered}"
    );
    assert!(
        rendered.contains("a.yaml:5: exporters.debug: expected a map of settings, found a list"),
        "{rendered}"
    );
    assert!(
        rendered.contains("b.yaml:4: service.telemetry.logs.level: unknown log level \"loud\""),
        "{rendered}"
    );
    assert!(
        rendered.contains("b.yaml:6: service.pipelines.nope: invalid pipeline id"),
        "{rendered}"
    );
    // One error per line.
    assert_eq!(rendered.lines().count(), 5);
}

#[test]
fn duplicate_yaml_keys_and_ids_are_errors() {
    let text = "receivers:\n  otlp:\n  otlp/a:\n  \"otlp / a\":\n";
    let errors = load_err(text, &[]);
    assert_eq!(
        paths_and_lines(&errors),
        vec![("receivers.otlp / a".to_string(), Some(4))],
        "{errors}"
    );
    assert!(errors.0[0].message.contains("defined twice"), "{errors}");
}

#[test]
fn two_sources_deep_merge() {
    let base = "\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
exporters:
  debug:
    verbosity: basic
    list: [a, b, c]
service:
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [debug]
";
    let over = "\
exporters:
  debug:
    verbosity: detailed
    list: [z]
service::pipelines::profiles::processors: [batch]
processors:
  batch:
";
    let env = env_from(&[]);
    let (config, _) = match load(&[yaml("base.yaml", base), yaml("over.yaml", over)], &env) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let otlp = &config.receivers[&id("otlp")];
    assert_eq!(
        otlp.value,
        json!({"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": null}})
    );
    let debug = &config.exporters[&id("debug")];
    // Maps merge, scalars and lists are replaced by the later source.
    assert_eq!(debug.value, json!({"verbosity": "detailed", "list": ["z"]}));
    // Each path keeps the location of the source that supplied it.
    let loc = debug.location_of("verbosity").map(|l| (l.file, l.line));
    assert_eq!(loc, Some(("over.yaml".to_string(), 3)));
    let loc = otlp
        .location_of("protocols.grpc.endpoint")
        .map(|l| (l.file, l.line));
    assert_eq!(loc, Some(("base.yaml".to_string(), 5)));
    let p = &config.pipelines[&PipelineId::new(Signal::Profiles, None)];
    assert_eq!(p.receivers, vec![id("otlp")]);
    assert_eq!(p.processors, vec![id("batch")]);
    assert_eq!(p.exporters, vec![id("debug")]);
    assert!(config.processors.contains_key(&id("batch")));
}

#[test]
fn empty_component_sections_are_empty_objects() {
    let (config, _) = load_ok("receivers:\n  otlp:\n  pprof: {}\n  x: ~\n", &[]);
    for name in ["otlp", "pprof", "x"] {
        assert_eq!(config.receivers[&id(name)].value, json!({}), "{name}");
    }
}

#[test]
fn pipeline_lists_accept_a_comma_separated_string() {
    let (config, _) = load_ok(
        "service:\n  pipelines:\n    logs:\n      receivers: otlp,otlp/2\n",
        &[],
    );
    let p = &config.pipelines[&PipelineId::new(Signal::Logs, None)];
    assert_eq!(p.receivers, vec![id("otlp"), id("otlp/2")]);
    assert!(p.exporters.is_empty());
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Grpc {
    endpoint: String,
    #[serde(default)]
    max_recv_msg_size_mib: Option<u32>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Protocols {
    #[serde(default, deserialize_with = "profcol_config::null_as_empty")]
    grpc: Option<GrpcDefaulted>,
    #[serde(default)]
    http: Option<Grpc>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct GrpcDefaulted {
    #[serde(default = "default_endpoint")]
    endpoint: String,
}

fn default_endpoint() -> String {
    "localhost:4317".to_string()
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Receiver {
    protocols: Protocols,
    #[serde(default)]
    tags: Vec<u16>,
}

const DECODE_YAML: &str = "\
receivers:
  otlp:
    protocols:
      grpc:
      http:
        endpoint: 0.0.0.0:4318
        max_recv_msg_size_mib: 64
  otlp/typo:
    protocols:
      http:
        endpoint: x
        endpoit: y
  otlp/badtype:
    protocols: {}
    tags:
      - 1
      - seventy
  otlp/missing:
    protocols:
      http:
        max_recv_msg_size_mib: 1
";

fn section(name: &str) -> Section {
    let (config, _) = load_ok(DECODE_YAML, &[]);
    match config.receivers.get(&id(name)) {
        Some(s) => s.clone(),
        None => panic!("no {name}"),
    }
}

#[test]
fn decode_success_and_null_as_empty() {
    let r: Result<Receiver, _> = section("otlp").decode();
    let want = Receiver {
        protocols: Protocols {
            grpc: Some(GrpcDefaulted {
                endpoint: "localhost:4317".to_string(),
            }),
            http: Some(Grpc {
                endpoint: "0.0.0.0:4318".to_string(),
                max_recv_msg_size_mib: Some(64),
            }),
        },
        tags: vec![],
    };
    assert_eq!(r, Ok(want));
}

#[test]
fn decode_unknown_field_names_path_and_line() {
    let e = match section("otlp/typo").decode::<Receiver>() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    };
    assert_eq!(e.path, "receivers.otlp/typo.protocols.http.endpoit");
    assert_eq!(
        e.location.as_ref().map(|l| l.line),
        Some(line_of(DECODE_YAML, "endpoit"))
    );
    assert!(e.message.contains("unknown field `endpoit`"), "{e}");
    assert!(
        e.to_string()
            .starts_with("test.yaml:12: receivers.otlp/typo.protocols.http.endpoit: "),
        "{e}"
    );
}

#[test]
fn decode_type_error_in_a_list_names_the_element() {
    let e = match section("otlp/badtype").decode::<Receiver>() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    };
    assert_eq!(e.path, "receivers.otlp/badtype.tags[1]");
    assert_eq!(
        e.location.as_ref().map(|l| l.line),
        Some(line_of(DECODE_YAML, "seventy"))
    );
}

#[test]
fn decode_missing_field_points_at_the_parent() {
    let e = match section("otlp/missing").decode::<Receiver>() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    };
    assert_eq!(e.path, "receivers.otlp/missing.protocols.http");
    assert_eq!(
        e.location.as_ref().map(|l| l.line),
        Some(line_of(DECODE_YAML, "otlp/missing") + 2)
    );
    assert!(e.message.contains("missing field `endpoint`"), "{e}");
}

#[test]
fn section_error_uses_the_deepest_known_line() {
    let s = section("otlp");
    let e = s.error("protocols.http.endpoint", "bad endpoint");
    assert_eq!(e.path, "receivers.otlp.protocols.http.endpoint");
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(6));
    // A path below an existing node falls back to that node.
    let e = s.error("protocols.grpc.tls.ca_file", "missing");
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(4));
    let e = s.error("", "whole section");
    assert_eq!(e.path, "receivers.otlp");
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(2));
}

#[test]
fn section_from_value_decodes_without_locations() {
    let s = Section::from_value("exporters.debug", json!({"endpoint": 5}));
    let e = match s.decode::<Grpc>() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    };
    assert_eq!(e.path, "exporters.debug.endpoint");
    assert!(e.location.is_none());
    assert!(
        e.to_string()
            .starts_with("exporters.debug.endpoint: invalid type"),
        "{e}"
    );
}

#[test]
fn telemetry_defaults() {
    let (config, _) = load_ok("receivers: {}\n", &[]);
    let t = &config.telemetry;
    assert_eq!(
        (
            t.logs_level.as_str(),
            t.logs_encoding.as_str(),
            t.metrics_level.as_str(),
            t.metrics_address.as_str()
        ),
        ("info", "console", "normal", "localhost:8888")
    );
}

#[test]
fn telemetry_settings() {
    let text = "\
service:
  telemetry:
    logs:
      level: WARN
      encoding: json
      sampling: {enabled: false}
    metrics:
      level: Detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 0.0.0.0
                port: 9999
    traces:
      propagators: [tracecontext]
    resource:
      service.name: profcol
";
    let (config, warnings) = load_ok(text, &[]);
    let t = &config.telemetry;
    assert_eq!(t.logs_level, "warn");
    assert_eq!(t.logs_encoding, "json");
    assert_eq!(t.metrics_level, "detailed");
    assert_eq!(t.metrics_address, "0.0.0.0:9999");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn telemetry_legacy_metrics_address_warns() {
    let text = "service:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:7777\n";
    let (config, warnings) = load_ok(text, &[]);
    assert_eq!(config.telemetry.metrics_address, "127.0.0.1:7777");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].path, "service.telemetry.metrics.address");
    assert_eq!(warnings[0].location.as_ref().map(|l| l.line), Some(4));
}

#[test]
fn telemetry_bad_values() {
    let text =
        "service:\n  telemetry:\n    logs:\n      encoding: xml\n    metrics:\n      level: loud\n";
    let errors = load_err(text, &[]);
    assert_eq!(
        paths_and_lines(&errors),
        vec![
            ("service.telemetry.logs.encoding".to_string(), Some(4)),
            ("service.telemetry.metrics.level".to_string(), Some(6)),
        ]
    );
}

#[test]
fn parse_arg_forms() {
    assert_eq!(
        Source::parse_arg("file:/etc/a.yaml"),
        Source::File(PathBuf::from("/etc/a.yaml"))
    );
    assert_eq!(
        Source::parse_arg("conf.yaml"),
        Source::File(PathBuf::from("conf.yaml"))
    );
    assert_eq!(
        Source::parse_arg("yaml:processors::batch::timeout: 2s"),
        Source::Yaml {
            name: "yaml".to_string(),
            text: "processors::batch::timeout: 2s".to_string()
        }
    );
    match Source::parse_arg("env:PROFCOL_TEST_SURELY_UNSET_VAR") {
        Source::Yaml { name, text } => {
            assert_eq!(name, "env:PROFCOL_TEST_SURELY_UNSET_VAR");
            assert_eq!(text, "");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn yaml_arg_with_double_colon_keys_overrides() {
    let base = yaml(
        "base.yaml",
        "processors:\n  batch:\n    timeout: 1s\n    send_batch_size: 10\n",
    );
    let env = env_from(&[]);
    let (config, _) = match load(
        &[
            base,
            Source::parse_arg("yaml:processors::batch::timeout: 2s"),
        ],
        &env,
    ) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        config.processors[&id("batch")].value,
        json!({"timeout": "2s", "send_batch_size": 10})
    );
}

#[test]
fn file_sources() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let path = dir.path().join("c.yaml");
    if let Err(e) = std::fs::write(&path, "receivers:\n  otlp:\n  bad type:\n") {
        panic!("{e}");
    }
    let env = env_from(&[]);
    let errors = match load(
        &[
            Source::File(path.clone()),
            Source::File(dir.path().join("missing.yaml")),
        ],
        &env,
    ) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    };
    assert_eq!(errors.len(), 2, "{errors}");
    let bad = errors.iter().find(|e| e.path == "receivers.bad type");
    let loc = bad
        .and_then(|e| e.location.as_ref())
        .map(|l| (l.file.clone(), l.line));
    assert_eq!(loc, Some((path.display().to_string(), 3)), "{errors}");
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("cannot read config file")),
        "{errors}"
    );
}

#[test]
fn non_map_document_is_an_error() {
    let errors = load_err("- a\n- b\n", &[]);
    assert_eq!(errors.len(), 1);
    assert!(errors.0[0].message.contains("must be a map"), "{errors}");
}

/// The annotated example of spec §10.
pub const SPEC_EXAMPLE: &str = r#"extensions:
  health_check:
    endpoint: 0.0.0.0:13133          # default is localhost:13133
  pprof: {}                          # localhost:1777
  zpages: {}                         # localhost:55679

receivers:
  otlp:                              # the receiver keeps the name "otlp"
    protocols:
      grpc:                          # present means enabled
        endpoint: 0.0.0.0:4317
        max_recv_msg_size_mib: 64    # Collector default is 4 MiB
      http:
        endpoint: 0.0.0.0:4318       # profiles at POST /v1development/profiles (fixed)
        max_request_body_size: 67108864   # 64 MiB; default 20 MiB

processors:
  memory_limiter:
    check_interval: 1s               # required
    limit_percentage: 80
    spike_limit_percentage: 20
  resource/env:                      # "type/name" ID; resource: profiles = development
    attributes:
      - key: deployment.environment.name
        value: ${env:DEPLOY_ENV:-dev}     # default used only if DEPLOY_ENV is unset
        action: upsert
  batch: {}                          # traces only; batch refuses profiles

exporters:
  otlp_grpc/pyroscope:               # was "otlp/pyroscope" before v0.144
    endpoint: ${env:PYROSCOPE_HOST:-pyroscope}:4040   # Pyroscope serves OTLP gRPC on its HTTP port
    tls:
      insecure: true
    headers:
      X-Scope-OrgID: ${env:TENANT:-anonymous}
    sending_queue:
      batch: {}                      # opt-in queue batching (items = samples)
  otlp_grpc/tempo:
    endpoint: tempo:4317
    tls:
      insecure: true
  debug:
    verbosity: basic

service:
  extensions: [health_check, pprof, zpages]
  pipelines:
    profiles:                        # needs --feature-gates=service.profilesSupport
      receivers: [otlp]
      processors: [memory_limiter, resource/env]
      exporters: [otlp_grpc/pyroscope, debug]
    traces/correlation:              # spans carrying pyroscope.profile.id
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_grpc/tempo]
  telemetry:
    logs:
      level: info
    metrics:
      level: normal                  # Prometheus pull on localhost:8888
"#;

#[test]
fn spec_example_loads_and_resolves() {
    let (mut config, warnings) = load_ok(SPEC_EXAMPLE, &[("TENANT", "acme")]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let warnings = match resolve(&mut config, &TestCatalog) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    assert!(warnings.is_empty(), "{warnings:?}");

    assert_eq!(config.extensions.len(), 3);
    assert_eq!(config.receivers.len(), 1);
    assert_eq!(config.processors.len(), 3);
    assert_eq!(config.exporters.len(), 3);
    assert_eq!(
        config.service_extensions,
        vec![id("health_check"), id("pprof"), id("zpages")]
    );
    assert_eq!(config.pipelines.len(), 2);
    let traces = &config.pipelines[&PipelineId::new(Signal::Traces, Some("correlation"))];
    assert_eq!(traces.processors, vec![id("memory_limiter"), id("batch")]);

    let resource = &config.processors[&id("resource/env")];
    assert_eq!(resource.value["attributes"][0]["value"], json!("dev"));
    let pyro = &config.exporters[&id("otlp_grpc/pyroscope")];
    assert_eq!(pyro.value["endpoint"], json!("pyroscope:4040"));
    assert_eq!(pyro.value["headers"]["X-Scope-OrgID"], json!("acme"));
    assert_eq!(pyro.value["sending_queue"], json!({"batch": {}}));
    let otlp = &config.receivers[&id("otlp")];
    assert_eq!(
        otlp.value["protocols"]["http"]["max_request_body_size"],
        json!(67108864)
    );
    assert_eq!(
        otlp.location_of("protocols.grpc.max_recv_msg_size_mib")
            .map(|l| l.line),
        Some(12)
    );
    assert_eq!(config.telemetry.metrics_address, "localhost:8888");
}

#[test]
fn service_limits() {
    let (c, _) = load_ok("service:\n  limits:\n    in_flight_mib: 128\n", &[]);
    assert_eq!(c.limits.in_flight_mib, Some(128));
    assert_eq!(c.limits.in_flight_percentage, None);
    let (c, _) = load_ok("service:\n  limits:\n    in_flight_percentage: 30\n", &[]);
    assert_eq!(c.limits.in_flight_percentage, Some(30));

    let errors = load_err(
        "service:\n  limits:\n    in_flight_mib: lots\n    in_flight_percentage: 130\n    burst: 1\n",
        &[],
    );
    let paths: Vec<String> = errors.iter().map(|e| e.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            "service.limits.in_flight_mib",
            "service.limits.in_flight_percentage",
            "service.limits.burst"
        ],
        "{errors}"
    );
    let both = load_err(
        "service:\n  limits:\n    in_flight_mib: 1\n    in_flight_percentage: 10\n",
        &[],
    );
    assert!(both.to_string().contains("only one of"), "{both}");
}
