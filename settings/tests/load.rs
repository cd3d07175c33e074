//! Settings decoded from real YAML: an invalid enum value names its key path and `file:line` and
//! lists the allowed values; a component's independent problems are all reported.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use profcol_config::{ConfigErrors, Section, Source};
use profcol_settings::{
    ComponentConfig, Compression, Problems, QueueConfig, TlsClientConfig, de_duration,
};
use serde::Deserialize;

/// The section of exporter `ty` in `yaml` (loaded as `test.yaml`).
fn exporter(yaml: &str, ty: &str) -> Section {
    let source = Source::Yaml {
        name: "test.yaml".into(),
        text: yaml.into(),
    };
    let (config, _) = profcol_config::load(&[source], &|_| None).expect("the YAML loads");
    config
        .exporters
        .into_iter()
        .find(|(id, _)| id.ty == ty)
        .map(|(_, s)| s)
        .expect("the exporter is defined")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Demo {
    compression: Compression,
    #[serde(deserialize_with = "de_duration")]
    timeout: std::time::Duration,
    tls: TlsClientConfig,
    sending_queue: QueueConfig,
}

impl Default for Demo {
    fn default() -> Self {
        Demo {
            compression: Compression::Gzip,
            timeout: std::time::Duration::from_secs(5),
            tls: TlsClientConfig::default(),
            sending_queue: QueueConfig::default(),
        }
    }
}

impl ComponentConfig for Demo {
    fn check(&mut self, p: &mut Problems<'_>) {
        if self.timeout.is_zero() {
            p.push("timeout", "must be greater than 0");
        }
        self.tls.check("tls", p);
        self.sending_queue.check("sending_queue", p);
    }
}

fn load(yaml: &str) -> Result<Demo, ConfigErrors> {
    Demo::load(&exporter(yaml, "demo"))
}

#[test]
fn an_invalid_enum_value_lists_the_allowed_values() {
    let e = load("exporters:\n  demo:\n    compression: brotli\n").expect_err("brotli");
    let e = e.to_string();
    assert!(
        e.starts_with("test.yaml:3: exporters.demo.compression: unknown variant `brotli`"),
        "{e}"
    );
    for v in [
        "none",
        "gzip",
        "zstd",
        "zlib",
        "deflate",
        "snappy",
        "x-snappy-framed",
        "lz4",
    ] {
        assert!(e.contains(&format!("`{v}`")), "{v}: {e}");
    }

    let e = load("exporters:\n  demo:\n    sending_queue:\n      sizer: pages\n")
        .expect_err("pages")
        .to_string();
    assert!(
        e.starts_with("test.yaml:4: exporters.demo.sending_queue.sizer: unknown variant `pages`"),
        "{e}"
    );
    assert!(e.contains("`requests`") && e.contains("`items`") && e.contains("`bytes`"));

    let e = load("exporters:\n  demo:\n    tls:\n      min_version: \"1.4\"\n")
        .expect_err("1.4")
        .to_string();
    assert!(
        e.starts_with("test.yaml:4: exporters.demo.tls.min_version"),
        "{e}"
    );
    assert!(e.contains("`1.2`") && e.contains("`1.3`"), "{e}");
}

#[test]
fn independent_problems_are_all_reported() {
    let e = load(
        "exporters:\n  demo:\n    timeout: 0\n    tls:\n      min_version: \"1.0\"\n    sending_queue:\n      queue_size: 0\n      sizer: bytes\n",
    )
    .expect_err("four problems");
    let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "test.yaml:3: exporters.demo.timeout: must be greater than 0",
            "test.yaml:5: exporters.demo.tls.min_version: unsupported TLS version \"1.0\"; use \"1.2\" or \"1.3\"",
            "test.yaml:7: exporters.demo.sending_queue.queue_size: must be greater than 0",
            "test.yaml:8: exporters.demo.sending_queue.sizer: sizer \"bytes\" is not supported; use \"requests\"",
        ]
    );
    let ok = load("exporters:\n  demo:\n    compression: \"\"\n    timeout: 2s\n").expect("valid");
    assert_eq!(ok.compression, Compression::None);
    assert_eq!(ok.timeout, std::time::Duration::from_secs(2));
}
