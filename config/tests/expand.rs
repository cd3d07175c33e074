//! `${...}` expansion (spec §2).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{line_of, load_err, load_ok};
use profcol_config::{ComponentId, Warning};
use serde::Deserialize;
use serde_json::{Value, json};

/// Loads `receivers: {r: {v: <value>}}` and returns `v` and the warnings.
fn expand(value: &str, vars: &[(&str, &str)]) -> (Value, Vec<Warning>) {
    let text = format!("receivers:\n  r:\n    v: {value}\n");
    let (config, warnings) = load_ok(&text, vars);
    let section = &config.receivers[&ComponentId::new("r", None)];
    (section.value["v"].clone(), warnings)
}

fn expand_value(value: &str, vars: &[(&str, &str)]) -> Value {
    expand(value, vars).0
}

fn expand_error(value: &str, vars: &[(&str, &str)]) -> String {
    let text = format!("receivers:\n  r:\n    v: {value}\n");
    let errors = load_err(&text, vars);
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.0[0];
    assert_eq!(e.path, "receivers.r.v");
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(3), "{e}");
    e.message.clone()
}

#[test]
fn env_reference() {
    assert_eq!(
        expand_value("${env:HOST}", &[("HOST", "example")]),
        json!("example")
    );
}

#[test]
fn env_reference_without_scheme_defaults_to_env() {
    assert_eq!(
        expand_value("${HOST}", &[("HOST", "example")]),
        json!("example")
    );
}

#[test]
fn default_is_used_only_when_unset() {
    let (v, warnings) = expand("${env:MISSING:-dflt}", &[]);
    assert_eq!(v, json!("dflt"));
    assert!(warnings.is_empty());
    // Set but empty stays empty, unlike bash.
    assert_eq!(
        expand_value("x${env:EMPTY:-dflt}y", &[("EMPTY", "")]),
        json!("xy")
    );
    assert_eq!(
        expand_value("${env:SET:-dflt}", &[("SET", "val")]),
        json!("val")
    );
}

#[test]
fn explicit_empty_default() {
    let (v, warnings) = expand("a${env:MISSING:-}b", &[]);
    assert_eq!(v, json!("ab"));
    assert!(warnings.is_empty());
}

#[test]
fn default_is_typed_for_whole_values() {
    assert_eq!(expand_value("${env:MISSING:-42}", &[]), json!(42));
}

#[test]
fn bare_default_syntax_is_an_error_with_a_hint() {
    let msg = expand_error("${HOST:-localhost}", &[("HOST", "x")]);
    assert!(msg.contains("unsupported scheme \"HOST\""), "{msg}");
    assert!(msg.contains("${env:HOST:-localhost}"), "{msg}");
    // Names the scheme syntax rejects get the hint too.
    let msg = expand_error("${X:-1}", &[]);
    assert!(msg.contains("${env:X:-1}"), "{msg}");
    let msg = expand_error("${_under:-1}", &[]);
    assert!(msg.contains("${env:_under:-1}"), "{msg}");
}

#[test]
fn dollar_var_without_braces_stays_literal() {
    assert_eq!(
        expand_value("$HOST", &[("HOST", "example")]),
        json!("$HOST")
    );
    assert_eq!(
        expand_value("a$HOST/b", &[("HOST", "example")]),
        json!("a$HOST/b")
    );
}

#[test]
fn double_dollar_escapes() {
    assert_eq!(expand_value("a$$b", &[]), json!("a$b"));
    assert_eq!(
        expand_value("$${env:HOST}", &[("HOST", "example")]),
        json!("${env:HOST}")
    );
    assert_eq!(
        expand_value("$$${env:HOST}", &[("HOST", "example")]),
        json!("$example")
    );
    // An escaped reference does not stop the others from expanding.
    assert_eq!(
        expand_value("$${env:A}-${env:B}", &[("A", "1"), ("B", "2")]),
        json!("${env:A}-2")
    );
}

#[test]
fn unset_variable_expands_to_nothing_with_a_warning() {
    let (v, warnings) = expand("pre-${env:NOPE}-post", &[]);
    assert_eq!(v, json!("pre--post"));
    assert_eq!(warnings.len(), 1);
    let w = &warnings[0];
    assert_eq!(w.path, "receivers.r.v");
    assert_eq!(w.location.as_ref().map(|l| l.line), Some(3));
    assert!(
        w.message.contains("unset environment variable \"NOPE\""),
        "{w}"
    );
}

#[test]
fn whole_value_references_are_typed() {
    assert_eq!(expand_value("${env:N}", &[("N", "5")]), json!(5));
    assert_eq!(expand_value("${env:B}", &[("B", "true")]), json!(true));
    assert_eq!(expand_value("${env:F}", &[("F", "1.5")]), json!(1.5));
    assert_eq!(
        expand_value("${env:L}", &[("L", "[a, b]")]),
        json!(["a", "b"])
    );
    assert_eq!(
        expand_value("${env:M}", &[("M", "{k: 1}")]),
        json!({"k": 1})
    );
    // A string stays verbatim.
    assert_eq!(
        expand_value("${env:S}", &[("S", "hello world")]),
        json!("hello world")
    );
    // Quoted in the file does not matter: the reference is still the whole value.
    assert_eq!(expand_value("\"${env:N}\"", &[("N", "5")]), json!(5));
}

#[test]
fn embedded_references_are_strings() {
    assert_eq!(
        expand_value("port-${env:N}", &[("N", "5")]),
        json!("port-5")
    );
    assert_eq!(
        expand_value("${env:H}:${env:P}", &[("H", "h"), ("P", "4317")]),
        json!("h:4317")
    );
}

#[test]
fn embedded_map_or_list_is_an_error() {
    let msg = expand_error("x-${env:L}", &[("L", "[a, b]")]);
    assert!(msg.contains("a list"), "{msg}");
    let msg = expand_error("x-${env:M}", &[("M", "{k: v}")]);
    assert!(msg.contains("a map"), "{msg}");
}

#[test]
fn nested_references_resolve_inside_out() {
    let vars = [("WHICH", "HOST"), ("HOST", "example")];
    assert_eq!(expand_value("${env:${env:WHICH}}", &vars), json!("example"));
    assert_eq!(
        expand_value("a-${env:${env:WHICH}}-b", &vars),
        json!("a-example-b")
    );
    assert_eq!(
        expand_value("${env:NOPE:-${env:HOST}}", &vars),
        json!("example")
    );
}

#[test]
fn expanded_values_are_expanded_again() {
    assert_eq!(
        expand_value("${env:A}", &[("A", "${env:B}"), ("B", "7")]),
        json!(7)
    );
}

#[test]
fn recursion_is_capped() {
    let msg = expand_error("${env:LOOP}", &[("LOOP", "${env:LOOP}")]);
    assert!(msg.contains("too many recursive expansions"), "{msg}");
}

#[test]
fn invalid_variable_name_is_an_error() {
    let msg = expand_error("${env:1BAD}", &[]);
    assert!(msg.contains("invalid name"), "{msg}");
    let msg = expand_error("${env:A-B}", &[]);
    assert!(msg.contains("invalid name"), "{msg}");
}

#[test]
fn unknown_scheme_is_an_error() {
    let msg = expand_error("${vault:secret}", &[]);
    assert!(msg.contains("unsupported scheme \"vault\""), "{msg}");
}

#[test]
fn file_references() {
    let dir = tempfile::tempdir().map_err(|e| e.to_string());
    let dir = match dir {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let num = dir.path().join("num.txt");
    let map = dir.path().join("map.yaml");
    let text = dir.path().join("text.txt");
    for (p, c) in [(&num, "8\n"), (&map, "a: 1\nb: [x]\n"), (&text, "secret")] {
        if let Err(e) = std::fs::write(p, c) {
            panic!("{e}");
        }
    }
    assert_eq!(
        expand_value(&format!("${{file:{}}}", num.display()), &[]),
        json!(8)
    );
    assert_eq!(
        expand_value(&format!("${{file:{}}}", map.display()), &[]),
        json!({"a": 1, "b": ["x"]})
    );
    assert_eq!(
        expand_value(&format!("Bearer ${{file:{}}}", text.display()), &[]),
        json!("Bearer secret")
    );
    let missing = dir.path().join("missing");
    let msg = expand_error(&format!("${{file:{}}}", missing.display()), &[]);
    assert!(msg.contains("cannot read file"), "{msg}");
}

#[test]
fn yaml_references() {
    assert_eq!(expand_value("${yaml:[a, b]}", &[]), json!(["a", "b"]));
    assert_eq!(expand_value("${yaml:5}", &[]), json!(5));
}

#[test]
fn keys_are_not_expanded() {
    let text = "receivers:\n  r:\n    ${env:K}: v\n";
    let (config, _) = load_ok(text, &[("K", "key")]);
    let section = &config.receivers[&ComponentId::new("r", None)];
    assert_eq!(section.value, json!({"${env:K}": "v"}));
}

#[test]
fn expansion_applies_to_the_service_section() {
    let text = "receivers:\n  otlp:\nexporters:\n  debug:\nservice:\n  pipelines:\n    profiles:\n      receivers: ${env:R}\n      exporters: [debug]\n";
    let (config, _) = load_ok(text, &[("R", "[otlp]")]);
    let p = config
        .pipelines
        .values()
        .next()
        .map(|p| p.receivers.clone())
        .unwrap_or_default();
    assert_eq!(p, vec![ComponentId::new("otlp", None)]);
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Typed {
    s: String,
    n: u32,
    e: String,
}

#[test]
fn string_fields_receive_the_original_text_of_typed_references() {
    let text = "receivers:\n  r:\n    s: ${env:ID}\n    n: ${env:ID}\n    e: ${env:EMPTY}\n";
    let (config, _) = load_ok(text, &[("ID", "0123"), ("EMPTY", "")]);
    let section = &config.receivers[&ComponentId::new("r", None)];
    // The typed value is what a number field sees (0123 is octal, as in go-yaml)...
    assert_eq!(section.value["n"], json!(83));
    assert_eq!(section.value["e"], Value::Null);
    // ...but a string field gets the text as written.
    let t: Typed = match section.decode() {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(t.s, "0123");
    assert_eq!(t.n, 83);
    assert_eq!(t.e, "");
}

#[test]
fn error_lines_point_at_the_reference() {
    let text = "receivers:\n  r:\n    a: ok\n    b: ${BAD:-x}\n";
    let errors = load_err(text, &[]);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors.0[0].location.as_ref().map(|l| l.line),
        Some(line_of(text, "b:"))
    );
    assert!(
        errors
            .to_string()
            .starts_with("test.yaml:4: receivers.r.b: "),
        "{errors}"
    );
}
