//! Component and pipeline IDs (spec §3).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::{line_of, load_err};
use profcol_config::{ComponentId, IdError, PipelineId, Signal};

fn cid(s: &str) -> Result<ComponentId, IdError> {
    s.parse()
}

#[test]
fn good_component_ids() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("otlp", "otlp", None),
        ("otlp_grpc/pyroscope", "otlp_grpc", Some("pyroscope")),
        ("resource/env-prod", "resource", Some("env-prod")),
        (" otlp / x ", "otlp", Some("x")),
        ("a/b/c", "a", Some("b/c")),
        ("x/with.dot:colon", "x", Some("with.dot:colon")),
        ("x/ünïcode", "x", Some("ünïcode")),
        ("X9_", "X9_", None),
    ];
    for (input, ty, name) in cases {
        match cid(input) {
            Ok(id) => {
                assert_eq!(id.ty, *ty, "{input}");
                assert_eq!(id.name.as_deref(), *name, "{input}");
            }
            Err(e) => panic!("{input}: {e}"),
        }
    }
    let max_type = format!("a{}", "b".repeat(62));
    assert!(cid(&max_type).is_ok());
    let max_name = format!("t/{}", "n".repeat(1024));
    assert!(cid(&max_name).is_ok());
}

#[test]
fn bad_component_ids() {
    let long_type = format!("a{}", "b".repeat(63));
    let long_name = format!("t/{}", "n".repeat(1025));
    let cases: Vec<&str> = vec![
        "",
        "  ",
        "1otlp",
        "_otlp",
        "otlp-grpc",
        "otlp.grpc",
        &long_type,
        "otlp/",
        "otlp/   ",
        "otlp/a b",
        "otlp/a$b",
        "otlp/a+b",
        "otlp/tab\there",
        "/name",
        &long_name,
    ];
    for input in cases {
        assert!(cid(input).is_err(), "{input:?} should be rejected");
    }
}

#[test]
fn component_id_display_round_trips() {
    for s in ["otlp", "otlp_grpc/pyroscope", "resource/env-prod"] {
        assert_eq!(cid(s).map(|id| id.to_string()), Ok(s.to_string()));
    }
    assert_eq!(
        cid(" otlp / x ").map(|id| id.to_string()),
        Ok("otlp/x".to_string())
    );
}

#[test]
fn pipeline_ids() {
    let p: Result<PipelineId, IdError> = "profiles".parse();
    assert_eq!(
        p,
        Ok(PipelineId {
            signal: Signal::Profiles,
            name: None
        })
    );
    let p: Result<PipelineId, IdError> = "traces/correlation".parse();
    assert_eq!(
        p,
        Ok(PipelineId {
            signal: Signal::Traces,
            name: Some("correlation".to_string())
        })
    );
    let p: Result<PipelineId, IdError> = " metrics / x ".parse();
    assert_eq!(p.map(|p| p.to_string()), Ok("metrics/x".to_string()));
    for bad in ["profile", "Profiles", "spans/x", "logs/", "logs/a b", ""] {
        let p: Result<PipelineId, IdError> = bad.parse();
        assert!(p.is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn signal_round_trips() {
    for s in Signal::ALL {
        assert_eq!(s.to_string().parse::<Signal>(), Ok(s));
    }
    assert!("spans".parse::<Signal>().is_err());
}

#[test]
fn bad_ids_in_a_config_name_the_key_and_line() {
    let text = "\
receivers:
  otlp:
  bad-type:
exporters:
  debug/:
service:
  pipelines:
    profile:
      receivers: [otlp]
      exporters: [debug, \"x y\"]
";
    let errors = load_err(text, &[]);
    let got: Vec<(String, Option<usize>)> = errors
        .iter()
        .map(|e| (e.path.clone(), e.location.as_ref().map(|l| l.line)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "receivers.bad-type".to_string(),
                Some(line_of(text, "bad-type"))
            ),
            (
                "exporters.debug/".to_string(),
                Some(line_of(text, "debug/"))
            ),
            (
                "service.pipelines.profile".to_string(),
                Some(line_of(text, "profile:"))
            ),
        ],
        "{errors}"
    );
    assert!(
        errors.0[0]
            .message
            .contains("invalid receiver id \"bad-type\""),
        "{errors}"
    );
    assert!(
        errors.0[2].message.contains("unknown signal \"profile\""),
        "{errors}"
    );
}

#[test]
fn bad_id_in_a_pipeline_list_names_the_element() {
    let text = "\
service:
  pipelines:
    profiles:
      receivers: [otlp]
      exporters:
        - debug
        - \"x y\"
";
    let errors = load_err(text, &[]);
    assert_eq!(errors.len(), 1, "{errors}");
    assert_eq!(errors.0[0].path, "service.pipelines.profiles.exporters[1]");
    assert_eq!(
        errors.0[0].location.as_ref().map(|l| l.line),
        Some(line_of(text, "x y"))
    );
}
