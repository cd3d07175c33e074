use std::collections::BTreeSet;

use super::super::attr;
use super::*;
use crate::common::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value};
use crate::pprof::{Function, Label, Location, Mapping, Profile, Sample, ValueType};
use crate::proto::Profile as OProfile;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}
fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(v)),
        }),
        ..Default::default()
    }
}
fn d(k: &str, v: f64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::DoubleValue(v)),
        }),
        ..Default::default()
    }
}
fn pt(t: &str, u: &str, period: Option<(&str, &str, i64)>) -> ProfileType {
    ProfileType {
        sample_type: t.into(),
        sample_unit: u.into(),
        period_type: period.map(|(a, b, _)| (a.into(), b.into())),
        period: period.map(|(_, _, p)| p).unwrap_or(0),
    }
}
fn scope_with(attrs: Vec<KeyValue>) -> InstrumentationScope {
    InstrumentationScope {
        name: String::new(),
        version: String::new(),
        attributes: attrs,
        dropped_attributes_count: 0,
    }
}

#[test]
fn name_rules() {
    // (type, period, scope name) → (name, source, scale)
    type Case<'a> = (
        ProfileType,
        Option<&'a str>,
        &'a str,
        NameSource,
        Option<i64>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            pt("samples", "count", Some(("cpu", "nanoseconds", 50_000_000))),
            None,
            "process_cpu",
            NameSource::ProcessCpu,
            Some(50_000_000),
        ),
        (
            pt("off_cpu", "nanoseconds", None),
            None,
            "off_cpu",
            NameSource::OffCpu,
            None,
        ),
        (
            pt("alloc_space", "bytes", Some(("space", "bytes", 524288))),
            None,
            "space",
            NameSource::PeriodType,
            None,
        ),
        (
            pt(
                "cpu",
                "nanoseconds",
                Some(("cpu", "nanoseconds", 10_000_000)),
            ),
            None,
            "cpu",
            NameSource::PeriodType,
            None,
        ),
        // No period type: Pyroscope would give an empty name; we fall back to the type.
        (
            pt("alloc-size", "bytes", None),
            None,
            "alloc_size",
            NameSource::SampleType,
            None,
        ),
        // Period 0 empties the period part, so samples:count:cpu:nanoseconds does not apply.
        (
            pt("samples", "count", Some(("cpu", "nanoseconds", 0))),
            None,
            "samples",
            NameSource::SampleType,
            None,
        ),
        // An empty period type string (py-spy: ""/milliseconds).
        (
            pt("samples", "count", Some(("", "milliseconds", 10))),
            None,
            "samples",
            NameSource::SampleType,
            None,
        ),
        (
            pt("", "", None),
            None,
            "unknown",
            NameSource::SampleType,
            None,
        ),
        // The scope attribute wins and disables the rewrite.
        (
            pt("samples", "count", Some(("cpu", "nanoseconds", 10_000_000))),
            Some("process_cpu"),
            "process_cpu",
            NameSource::ScopeAttribute,
            None,
        ),
        (
            pt("alloc_space", "bytes", Some(("space", "bytes", 1))),
            Some("memory"),
            "memory",
            NameSource::ScopeAttribute,
            None,
        ),
        (
            pt("x", "y", None),
            Some("my-profile.v2"),
            "my_profile_v2",
            NameSource::ScopeAttribute,
            None,
        ),
        // An empty scope attribute falls through to the rules.
        (
            pt("off_cpu", "nanoseconds", None),
            Some(" "),
            "off_cpu",
            NameSource::OffCpu,
            None,
        ),
    ];
    for (t, scope_name, want, source, scale) in cases {
        let scope = scope_name.map(|n| scope_with(vec![s(attr::PROFILE_NAME, n)]));
        let got = profile_name(scope.as_ref(), &t);
        assert_eq!(got.name, want, "{t:?} {scope_name:?}");
        assert_eq!(got.source, source, "{t:?}");
        assert_eq!(got.scale_by_period, scale, "{t:?}");
    }
}

#[test]
fn profile_type_ids() {
    assert_eq!(
        pt("cpu", "nanoseconds", Some(("cpu", "nanoseconds", 1))).id("process_cpu"),
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
    );
    assert_eq!(
        pt("off_cpu", "nanoseconds", None).id("off_cpu"),
        "off_cpu:off_cpu:nanoseconds::"
    );
    assert_eq!(
        pt("samples", "count", Some(("cpu", "nanoseconds", 0))).otlp_key(),
        "samples:count::"
    );
}

#[test]
fn metric_and_label_name_sanitizing() {
    assert_eq!(sanitize_metric_name("process_cpu"), "process_cpu");
    assert_eq!(sanitize_metric_name("a:b"), "a:b");
    assert_eq!(sanitize_metric_name("9lives"), "_9lives");
    assert_eq!(sanitize_label_name("k8s.pod.name"), "k8s_pod_name");
    assert_eq!(sanitize_label_name("a:b-c/d"), "a_b_c_d");
    assert_eq!(sanitize_label_name("1x"), "_1x");
    assert_eq!(sanitize_label_name("ünï"), "_n_");
}

fn get<'a>(l: &'a SeriesLabels, k: &str) -> Option<&'a str> {
    l.get(k)
}

#[test]
fn service_name_rules() {
    assert_eq!(service_name(&[s("service.name", "api")]), "api");
    assert_eq!(service_name(&[i("service.name", 7)]), "7");
    let arr = KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("one".into())),
                }],
            })),
        }),
        ..Default::default()
    };
    assert_eq!(service_name(&[arr]), "one");
    assert_eq!(service_name(&[]), "unknown_service");
    assert_eq!(
        service_name(&[s("process.executable.name", "nginx")]),
        "unknown_service:nginx"
    );
    assert_eq!(
        service_name(&[s("service.name", ""), s("process.executable.name", "x")]),
        "unknown_service:x"
    );
}

#[test]
fn labels_basic_order_and_scope() {
    let resource = vec![
        s("service.name", "checkout"),
        s("k8s.namespace.name", "shop"),
        i("process.pid", 42),
        d("ratio", 0.5),
        s("k8s.namespace.name", "other"),
        s("__session_id__", "abc"),
        s("host.name", ""),
    ];
    let scope = InstrumentationScope {
        name: "go.opentelemetry.io/ebpf".into(),
        version: "1.2.3".into(),
        attributes: vec![
            s(attr::PROFILE_NAME, "process_cpu"),
            s(attr::DELTA, "false"),
            s(attr::SPY, "gospy"),
            s("pprof.scope.default_sample_type", "cpu"),
            s("k8s.namespace.name", "scope-loses"),
            s("region", "eu"),
        ],
        dropped_attributes_count: 0,
    };
    let cfg = LabelConfig {
        external_labels: vec![
            ("cluster".into(), "prod".into()),
            ("region".into(), "us".into()),
        ],
        ..Default::default()
    };
    let l = series_labels(
        &resource,
        Some(&scope),
        "process_cpu",
        &cfg,
        &SampleLabelInfo::default(),
    );
    let names: Vec<&str> = l.labels.iter().map(|x| x.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "labels are sorted");
    assert_eq!(get(&l, "__name__"), Some("process_cpu"));
    assert_eq!(get(&l, "__delta__"), Some("false"));
    assert_eq!(get(&l, "service_name"), Some("checkout"));
    assert_eq!(get(&l, "service.name"), None, "represented by service_name");
    assert_eq!(
        get(&l, "k8s.namespace.name"),
        Some("shop"),
        "first key wins"
    );
    assert_eq!(get(&l, "process.pid"), Some("42"), "ints are used");
    assert_eq!(get(&l, "ratio"), None, "doubles are not");
    assert_eq!(get(&l, "cluster"), Some("prod"));
    assert_eq!(
        get(&l, "region"),
        Some("us"),
        "external labels outrank the scope"
    );
    assert_eq!(get(&l, "pyroscope_spy"), Some("gospy"));
    assert_eq!(get(&l, "otel.scope.name"), Some("go.opentelemetry.io/ebpf"));
    assert_eq!(get(&l, "otel.scope.version"), Some("1.2.3"));
    assert_eq!(get(&l, "__session_id__"), None);
    assert_eq!(get(&l, "host.name"), None, "empty values are dropped");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("pprof.") || n.starts_with("pyroscope."))
    );
    assert_eq!(l.stats.reserved, 1);
    assert_eq!(l.stats.duplicates, 3);
    assert_eq!(l.stats.unsupported_values, 1);
    assert_eq!(l.stats.empty, 1);
}

#[test]
fn labels_external_labels_do_not_override_data() {
    let cfg = LabelConfig {
        external_labels: vec![
            ("service_name".into(), "ext".into()),
            ("__name__".into(), "evil".into()),
            ("env".into(), "prod".into()),
        ],
        ..Default::default()
    };
    let l = series_labels(
        &[s("service.name", "svc"), s("env", "dev")],
        None,
        "memory",
        &cfg,
        &SampleLabelInfo::default(),
    );
    assert_eq!(get(&l, "service_name"), Some("svc"));
    assert_eq!(get(&l, "__name__"), Some("memory"));
    assert_eq!(
        get(&l, "env"),
        Some("prod"),
        "external labels come before resources"
    );
    assert_eq!(l.stats.reserved, 1);
}

#[test]
fn labels_service_name_fallback_and_sample_service() {
    let l = series_labels(
        &[i("process.pid", 1), s("process.executable.name", "node")],
        None,
        "off_cpu",
        &LabelConfig::default(),
        &SampleLabelInfo::default(),
    );
    assert_eq!(get(&l, "service_name"), Some("unknown_service:node"));
    let l = series_labels(
        &[s("service.name", "res")],
        None,
        "off_cpu",
        &LabelConfig::default(),
        &SampleLabelInfo {
            service_name: Some("from-sample".into()),
            promoted_keys: BTreeSet::new(),
        },
    );
    assert_eq!(get(&l, "service_name"), Some("from-sample"));
}

#[test]
fn labels_limit_drops_lowest_priority() {
    let resource: Vec<KeyValue> = (0..40).map(|n| s(&format!("r{n:02}"), "v")).collect();
    let scope = InstrumentationScope {
        name: "scope".into(),
        ..Default::default()
    };
    let cfg = LabelConfig {
        external_labels: vec![("cluster".into(), "c1".into())],
        ..Default::default()
    };
    let l = series_labels(
        &resource,
        Some(&scope),
        "wall",
        &cfg,
        &SampleLabelInfo::default(),
    );
    assert_eq!(l.labels.len(), 30);
    for k in [
        "__name__",
        "__delta__",
        "service_name",
        "cluster",
        "r00",
        "r25",
    ] {
        assert!(get(&l, k).is_some(), "{k} kept");
    }
    assert!(get(&l, "r26").is_none());
    assert!(get(&l, "otel.scope.name").is_none());
    assert_eq!(l.stats.over_limit, 15);

    // Promoted sample labels take slots unless the series already has them.
    let promoted: BTreeSet<String> = ["thread.name", "r00", "job"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let l = series_labels(
        &resource,
        None,
        "wall",
        &cfg,
        &SampleLabelInfo {
            service_name: None,
            promoted_keys: promoted,
        },
    );
    assert_eq!(l.labels.len(), 28, "2 slots left for thread.name and job");
    assert!(get(&l, "r00").is_some());
    assert!(get(&l, "r23").is_some());
    assert!(get(&l, "r24").is_none());
}

#[test]
fn labels_lengths_and_sanitizing() {
    let long_name = "n".repeat(1025);
    let long_value = "é".repeat(1500); // 3000 bytes
    let l = series_labels(
        &[
            s(&long_name, "x"),
            s("big", &long_value),
            s("k8s.pod.name", "p"),
            s("k8s_pod_name", "dup"),
        ],
        None,
        "cpu",
        &LabelConfig {
            sanitize_label_names: true,
            ..Default::default()
        },
        &SampleLabelInfo::default(),
    );
    assert_eq!(l.stats.names_too_long, 1);
    assert_eq!(l.stats.values_truncated, 1);
    let v = get(&l, "big").unwrap_or_default();
    assert!(v.len() <= 2048 && v.len() >= 2046, "{}", v.len());
    assert_eq!(get(&l, "k8s_pod_name"), Some("p"));
    assert_eq!(l.stats.duplicates, 1);
    assert!(get(&l, "k8s.pod.name").is_none());

    // Off (the default): dots are kept.
    let l = series_labels(
        &[s("k8s.pod.name", "p")],
        None,
        "cpu",
        &LabelConfig::default(),
        &SampleLabelInfo::default(),
    );
    assert_eq!(get(&l, "k8s.pod.name"), Some("p"));
}

fn tiny_profile() -> Profile {
    // strings: 0 "", 1 samples, 2 count, 3 cpu, 4 nanoseconds, 5 f, 6 g, 7 thread, 8 main,
    //          9 span_id, 10 00000000000000aa, 11 service.name, 12 a, 13 b, 14 bin
    let strings = [
        "",
        "samples",
        "count",
        "cpu",
        "nanoseconds",
        "f",
        "g",
        "thread",
        "main",
        "span_id",
        "00000000000000aa",
        "service.name",
        "a",
        "b",
        "bin",
    ];
    let lab = |k: i64, v: i64| Label {
        key: k,
        str: v,
        num: 0,
        num_unit: 0,
    };
    Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: vec![
            Sample {
                location_id: vec![1, 2],
                value: vec![3],
                label: vec![lab(7, 8), lab(9, 10), lab(11, 12)],
            },
            Sample {
                location_id: vec![2],
                value: vec![4],
                label: vec![lab(11, 13)],
            },
            Sample {
                location_id: vec![2],
                value: vec![5],
                label: vec![],
            },
        ],
        mapping: vec![Mapping {
            id: 1,
            filename: 14,
            ..Default::default()
        }],
        location: vec![
            Location {
                id: 1,
                mapping_id: 1,
                line: vec![crate::pprof::Line {
                    function_id: 1,
                    line: 1,
                    column: 0,
                }],
                ..Default::default()
            },
            Location {
                id: 2,
                mapping_id: 0,
                line: vec![crate::pprof::Line {
                    function_id: 2,
                    line: 2,
                    column: 0,
                }],
                ..Default::default()
            },
        ],
        function: vec![
            Function {
                id: 1,
                name: 5,
                ..Default::default()
            },
            Function {
                id: 2,
                name: 6,
                ..Default::default()
            },
        ],
        string_table: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
        period_type: Some(ValueType { r#type: 3, unit: 4 }),
        period: 10,
        ..Default::default()
    }
}

#[test]
fn cpu_rewrite_and_dash_fix() {
    let mut p = tiny_profile();
    scale_samples_to_cpu(&mut p, 10);
    assert_eq!(totals(&p), vec![120]);
    let t = ProfileType::from_pprof(&p, 0).unwrap_or_default();
    assert_eq!(
        t.id("process_cpu"),
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
    );

    let mut p = tiny_profile();
    p.string_table[1] = b"alloc-samples".to_vec();
    p.default_sample_type = 1;
    assert_eq!(fix_sample_type_names(&mut p), 1);
    assert_eq!(p.string(p.sample_type[0].r#type), "alloc_samples");
    assert_eq!(p.string(p.default_sample_type), "alloc_samples");
}

#[test]
fn promoted_keys_exclude_links_and_numbers() {
    let mut p = tiny_profile();
    p.sample[2].label.push(Label {
        key: 2,
        str: 0,
        num: 5,
        num_unit: 0,
    });
    let keys = promoted_sample_label_keys(&p);
    let want: BTreeSet<String> = ["service.name", "thread"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(keys, want);
}

#[test]
fn split_by_service_and_subset() {
    let p = tiny_profile();
    let parts = split_by_sample_label(p, "service.name");
    let got: Vec<(Option<String>, Vec<i64>)> =
        parts.iter().map(|(k, p)| (k.clone(), totals(p))).collect();
    assert_eq!(
        got,
        vec![
            (Some("a".into()), vec![3]),
            (Some("b".into()), vec![4]),
            (None, vec![5])
        ]
    );
    for (_, part) in &parts {
        assert!(crate::pprof::check_valid(part).is_ok());
        assert!(
            !promoted_sample_label_keys(part).contains("service.name"),
            "the label is consumed"
        );
    }
    // Part "b" needs only location 2 / function 2 and no mapping.
    let b = &parts[1].1;
    assert_eq!(b.location.len(), 1);
    assert_eq!(b.function.len(), 1);
    assert!(b.mapping.is_empty());
    assert!(b.string_table.len() < 8);
    assert_eq!(b.string(b.function[0].name), "g");
}

#[test]
fn split_profile_by_samples_and_size() {
    use prost::Message as _;
    let mut p = tiny_profile();
    for n in 0..1000 {
        p.sample.push(Sample {
            location_id: vec![1, 2],
            value: vec![n],
            label: vec![],
        });
    }
    let total = totals(&p);
    let size = p.encoded_len();
    let out = split_profile(p.clone(), usize::MAX, 100);
    assert_eq!(out.parts.len(), 11);
    assert!(out.parts.iter().all(|q| q.sample.len() <= 100));
    let sum: i64 = out.parts.iter().map(|q| totals(q)[0]).sum();
    assert_eq!(vec![sum], total);

    let out = split_profile(p.clone(), size / 3, usize::MAX);
    assert!(out.parts.len() >= 3, "{}", out.parts.len());
    assert!(out.parts.iter().all(|q| q.encoded_len() <= size / 3));
    let sum: i64 = out.parts.iter().map(|q| totals(q)[0]).sum();
    assert_eq!(vec![sum], total);
    assert_eq!(out.dropped_samples, 0);

    let out = split_profile(p.clone(), 10, usize::MAX);
    assert!(out.parts.is_empty());
    assert_eq!(out.dropped_samples, 1003);

    let out = split_profile(p.clone(), usize::MAX, usize::MAX);
    assert_eq!(out.parts.len(), 1);
    assert_eq!(out.parts[0], p);
}

#[test]
fn sample_label_limit_keeps_links() {
    let mut p = tiny_profile();
    assert_eq!(limit_sample_labels(&mut p, 1), 2);
    assert_eq!(p.sample[0].label.len(), 1);
    assert_eq!(p.string(p.sample[0].label[0].key), "span_id");
}

#[test]
fn sample_label_key_sanitizing() {
    let mut p = tiny_profile();
    assert_eq!(sanitize_sample_label_keys(&mut p), 1);
    let keys = promoted_sample_label_keys(&p);
    assert!(keys.contains("service_name") && keys.contains("thread"));
}

/// Links become per-sample `span_id`/`trace_id` pprof labels (pdata's from_otlp, §4.4) and
/// never series labels.
#[test]
fn links_are_sample_labels_not_series_labels() {
    use crate::collector::ExportProfilesServiceRequest;
    use crate::proto::{
        Link, ProfilesDictionary, ResourceProfiles, Sample as OSample, ScopeProfiles, Stack,
        ValueType as OValueType,
    };
    use crate::resource::Resource;
    let dict = ProfilesDictionary {
        string_table: vec![
            String::new(),
            "cpu".into(),
            "nanoseconds".into(),
            "main".into(),
            "thread.name".into(),
        ],
        function_table: vec![
            Default::default(),
            crate::proto::Function {
                name_strindex: 3,
                ..Default::default()
            },
        ],
        location_table: vec![
            Default::default(),
            crate::proto::Location {
                lines: vec![crate::proto::Line {
                    function_index: 1,
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        stack_table: vec![
            Default::default(),
            Stack {
                location_indices: vec![1],
            },
        ],
        link_table: vec![
            Link::default(),
            Link {
                trace_id: (1..=16).collect(),
                span_id: (1..=8).collect(),
            },
        ],
        attribute_table: vec![
            Default::default(),
            crate::proto::KeyValueAndUnit {
                key_strindex: 4,
                value: Some(AnyValue {
                    value: Some(Value::StringValue("worker".into())),
                }),
                unit_strindex: 0,
            },
        ],
        ..Default::default()
    };
    let profile = OProfile {
        sample_type: Some(OValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            OSample {
                stack_index: 1,
                values: vec![7],
                link_index: 1,
                attribute_indices: vec![1],
                ..Default::default()
            },
            OSample {
                stack_index: 1,
                values: vec![5],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let req = ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![s("service.name", "svc")],
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                profiles: vec![profile],
                ..Default::default()
            }],
            ..Default::default()
        }],
        dictionary: Some(dict),
    };
    let (outs, _) = crate::pprof::from_otlp(&req);
    assert_eq!(outs.len(), 1);
    let p = &outs[0].profile;
    assert_eq!(
        p.sample.len(),
        2,
        "samples with different links are not merged"
    );
    let linked = p
        .sample
        .iter()
        .find(|s| s.value == vec![7])
        .map(|s| {
            s.label
                .iter()
                .map(|l| (p.string(l.key).into_owned(), p.string(l.str).into_owned()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(linked.contains(&("span_id".into(), "0102030405060708".into())));
    assert!(linked.contains(&("trace_id".into(), "0102030405060708090a0b0c0d0e0f10".into())));
    let keys = promoted_sample_label_keys(p);
    assert!(!keys.contains("span_id") && !keys.contains("trace_id"));
    assert!(keys.contains("thread.name"));
    let l = series_labels(
        &outs[0].resource,
        outs[0].scope.as_ref(),
        "cpu",
        &LabelConfig::default(),
        &SampleLabelInfo {
            service_name: None,
            promoted_keys: keys,
        },
    );
    assert!(
        l.labels
            .iter()
            .all(|x| x.name != "span_id" && x.name != "trace_id"),
        "{:?}",
        l.labels
    );
}
