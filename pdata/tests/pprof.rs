//! Tests for the pprof codec (`profcol_pdata::pprof`) against the real fixtures in
//! `shared/testdata` and hand-built profiles.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use profcol_pdata::collector::ExportProfilesServiceRequest;
use profcol_pdata::common::any_value::Value;
use profcol_pdata::common::{AnyValue, KeyValue};
use profcol_pdata::pprof::{
    self, DEFAULT_LIMIT, Function, Label, Line, Location, Mapping, PprofError, Profile, Sample,
    ToOtlpOptions, ValueType, attr,
};
use profcol_pdata::{ValidationOptions, validate};
use profcol_testkit::synth;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The shared test inputs (fails the test when they are absent).
fn testdata() -> PathBuf {
    profcol_testkit::require::testdata_dir()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => panic!("reading {}: {e}", dir.display()),
    };
    v.sort();
    v
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Every profile.proto fixture (positive cases).
fn proto_fixtures(td: &Path) -> Vec<PathBuf> {
    let mut out = vec![
        td.join("google-pprof/large.cpu"),
        td.join("google-pprof/go.nomappings.crash"),
    ];
    out.extend(
        files_in(&td.join("google-pprof/legacy"))
            .into_iter()
            .filter(|p| name_of(p).ends_with(".converted.pb.gz")),
    );
    out.extend(files_in(&td.join("grafana-pyroscope/pprof")));
    out.extend(
        files_in(&td.join("grafana-alloy"))
            .into_iter()
            .filter(|p| name_of(p).ends_with(".pprof")),
    );
    out.extend(
        files_in(&td.join("grafana-pyroscope/ingest-multipart"))
            .into_iter()
            .filter(|p| name_of(p).ends_with(".pprof")),
    );
    out
}

/// The pre-protobuf files in google-pprof/legacy (not their .string dumps or conversions).
fn legacy_fixtures(td: &Path) -> Vec<PathBuf> {
    files_in(&td.join("google-pprof/legacy"))
        .into_iter()
        .filter(|p| {
            let n = name_of(p);
            !n.ends_with(".string") && !n.ends_with(".converted.pb.gz") && !n.ends_with(".md")
        })
        .collect()
}

fn decode_ok(bytes: &[u8], what: &str) -> (Profile, pprof::DecodeStats) {
    match pprof::decode(bytes, DEFAULT_LIMIT) {
        Ok(x) => x,
        Err(e) => panic!("{what}: decode failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison helpers
// ---------------------------------------------------------------------------------------------

/// (function-name stack leaf..root, sorted label set)
type Key = (Vec<String>, Vec<String>);

fn is_hex_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0')
}

/// Per sample type, the total per (stack of function names, label set). Labels are normalised
/// the way the mapping defines them: `profile_id` (a span-id alias) reads as `span_id` when no
/// `span_id` label exists, and hex ids are lowercase.
fn totals(p: &Profile) -> Vec<BTreeMap<Key, i64>> {
    let locs: BTreeMap<u64, &Location> = p.location.iter().map(|l| (l.id, l)).collect();
    let funcs: BTreeMap<u64, &Function> = p.function.iter().map(|f| (f.id, f)).collect();
    let mut out = vec![BTreeMap::new(); p.sample_type.len()];
    for s in &p.sample {
        let mut stack = Vec::new();
        for id in &s.location_id {
            let l = locs[id];
            if l.line.is_empty() {
                stack.push(format!("@0x{:x}", l.address));
            }
            for ln in &l.line {
                let f = funcs[&ln.function_id];
                stack.push(format!("{}:{}", p.string(f.name), ln.line));
            }
        }
        let has_span = s.label.iter().any(|l| p.string(l.key) == "span_id");
        let mut labels: Vec<String> = s
            .label
            .iter()
            .map(|l| {
                let mut k = p.string(l.key).into_owned();
                if l.str != 0 {
                    let mut v = p.string(l.str).into_owned();
                    if k == "profile_id" && !has_span && is_hex_id(&v, 16) {
                        k = "span_id".into();
                    }
                    if (k == "span_id" && is_hex_id(&v, 16))
                        || (k == "trace_id" && is_hex_id(&v, 32))
                    {
                        v = v.to_ascii_lowercase();
                    }
                    format!("{k}={v}")
                } else {
                    format!("{k}=#{}[{}]", l.num, p.string(l.num_unit))
                }
            })
            .collect();
        labels.sort();
        let key = (stack, labels);
        for (i, v) in s.value.iter().enumerate() {
            *out[i].entry(key.clone()).or_insert(0) += v;
        }
    }
    out
}

fn mapping_summary(p: &Profile) -> Vec<(u64, u64, u64, String, String, [bool; 4])> {
    p.mapping
        .iter()
        .map(|m| {
            (
                m.memory_start,
                m.memory_limit,
                m.file_offset,
                p.string(m.filename).into_owned(),
                p.string(m.build_id).into_owned(),
                [
                    m.has_functions,
                    m.has_filenames,
                    m.has_line_numbers,
                    m.has_inline_frames,
                ],
            )
        })
        .collect()
}

fn strings(p: &Profile, idx: &[i64]) -> Vec<String> {
    idx.iter().map(|&i| p.string(i).into_owned()).collect()
}

fn period_type(p: &Profile) -> Option<(String, String)> {
    p.period_type.map(|v| {
        (
            p.string(v.r#type).into_owned(),
            p.string(v.unit).into_owned(),
        )
    })
}

fn validated(req: &ExportProfilesServiceRequest, what: &str) -> ExportProfilesServiceRequest {
    let mut v = req.clone();
    match validate(&mut v, &ValidationOptions::default()) {
        Ok(r) => assert_eq!(
            r.rejected_profiles, 0,
            "{what}: validation rejected profiles: {:?}",
            r.errors
        ),
        Err(e) => panic!("{what}: validation failed: {e}"),
    }
    v
}

fn scope_attr<'a>(req: &'a ExportProfilesServiceRequest, key: &str) -> Option<&'a Value> {
    req.resource_profiles[0].scope_profiles[0]
        .scope
        .as_ref()?
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

/// pprof → OTLP → pprof, checking everything the mapping promises to keep.
fn round_trip(p: &Profile, what: &str) -> Profile {
    let resource = vec![synth::kv("service.name", "fixture")];
    let (req, _stats) = pprof::to_otlp(p, resource, &ToOtlpOptions::default(), None);
    let req = validated(&req, what);
    assert_eq!(
        profcol_pdata::profile_count(&req),
        p.sample_type.len(),
        "{what}: one OTLP profile per sample type"
    );
    // The OTLP default profile is the pprof default sample type.
    if let Some(d) = p.default_sample_index() {
        let dict = req.dictionary.as_ref().unwrap();
        let first = &req.resource_profiles[0].scope_profiles[0].profiles[0];
        let vt = first.sample_type.unwrap();
        assert_eq!(
            dict.string_table[vt.type_strindex as usize],
            p.sample_type_names()[d].0,
            "{what}: profiles[0] is the default sample type"
        );
    }
    let (outs, fstats) = pprof::from_otlp(&req);
    assert_eq!(outs.len(), 1, "{what}: reassembled into one pprof");
    assert_eq!(fstats.reassembled_scopes, 1, "{what}");
    let out = &outs[0];
    assert_eq!(out.resource, vec![synth::kv("service.name", "fixture")]);
    let back = out.profile.clone();
    // The result is itself a valid pprof, also after a byte round trip.
    let (back, _) = decode_ok(&pprof::encode_gzip(&back), what);

    assert_eq!(
        back.sample_type_names(),
        p.sample_type_names(),
        "{what}: sample types and their order"
    );
    assert_eq!(
        back.string(back.default_sample_type),
        p.string(p.default_sample_type),
        "{what}: default_sample_type"
    );
    assert_eq!(
        back.default_sample_index(),
        p.default_sample_index(),
        "{what}"
    );
    assert_eq!(
        mapping_summary(&back),
        mapping_summary(p),
        "{what}: mappings (count, order, build ids, flags)"
    );
    assert_eq!(
        strings(&back, &back.comment),
        strings(p, &p.comment),
        "{what}: comments"
    );
    assert_eq!(
        back.string(back.drop_frames),
        p.string(p.drop_frames),
        "{what}: drop_frames"
    );
    assert_eq!(
        back.string(back.keep_frames),
        p.string(p.keep_frames),
        "{what}: keep_frames"
    );
    assert_eq!(back.string(back.doc_url), p.string(p.doc_url), "{what}");
    assert_eq!(back.period, p.period, "{what}: period");
    assert_eq!(period_type(&back), period_type(p), "{what}: period_type");
    assert_eq!(back.time_nanos, p.time_nanos.max(0), "{what}: time_nanos");
    assert_eq!(
        back.duration_nanos,
        p.duration_nanos.max(0),
        "{what}: duration_nanos"
    );
    let (a, b) = (totals(p), totals(&back));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let tx: i64 = x.values().sum();
        let ty: i64 = y.values().sum();
        assert_eq!(tx, ty, "{what}: total of sample type {i}");
        assert_eq!(
            x, y,
            "{what}: totals per (stack, labels) of sample type {i}"
        );
    }
    back
}

// ---------------------------------------------------------------------------------------------
// Fixture tests
// ---------------------------------------------------------------------------------------------

#[test]
fn every_fixture_decodes_and_round_trips() {
    let td = testdata();
    let files = proto_fixtures(&td);
    assert!(
        files.len() >= 25,
        "expected the full fixture set, got {}",
        files.len()
    );
    for f in &files {
        let what = f.strip_prefix(&td).unwrap_or(f).display().to_string();
        let (p, stats) = decode_ok(&read(f), &what);
        assert!(!p.sample.is_empty(), "{what}: has samples");
        let back = round_trip(&p, &what);
        // A second round trip is a fixed point for the totals.
        let again = round_trip(&back, &what);
        assert_eq!(totals(&again), totals(&p), "{what}: second round trip");
        eprintln!("ok {what}: {} samples, {stats:?}", p.sample.len());
    }
}

#[test]
fn legacy_formats_are_refused_with_the_conversion_hint() {
    let td = testdata();
    let files = legacy_fixtures(&td);
    assert_eq!(
        files.len(),
        4,
        "cppbench.cpu, cppbench.heap, go.crc32.cpu, java.cpu"
    );
    for f in &files {
        match pprof::decode(&read(f), DEFAULT_LIMIT) {
            Err(e @ PprofError::Legacy { .. }) => assert!(
                e.to_string().contains(
                    "legacy pprof format not supported; convert with 'go tool pprof -proto'"
                ),
                "{e}"
            ),
            other => panic!("{}: expected Legacy, got {other:?}", f.display()),
        }
        // Their Go conversions decode.
        let conv = PathBuf::from(format!("{}.converted.pb.gz", f.display()));
        let (p, _) = decode_ok(&read(&conv), &conv.display().to_string());
        assert_eq!(
            p.time_nanos, 0,
            "converted legacy profiles have time_nanos 0"
        );
    }
    // Text signatures from the spec table, also gzip-wrapped.
    for text in [
        "heap profile:   1:   2 [ 3:  4] @ heap/1048576\n",
        "goroutine profile: total 12\n1 @ 0x1 0x2\n",
        "--- contention:\ncycles/second=100\n",
        "--- mutex:\ncycles/second=100\n",
        "--- threadz 1 ---\n",
        "--- heapz 1 ---\nformat = java\n",
        "--- contentionz 1 ---\nformat = java\n",
    ] {
        for bytes in [text.as_bytes().to_vec(), gzip(text.as_bytes())] {
            match pprof::decode(&bytes, DEFAULT_LIMIT) {
                Err(PprofError::Legacy { .. }) => {}
                other => panic!("{text:?}: expected Legacy, got {other:?}"),
            }
        }
    }
}

#[test]
fn go_nomappings_crash_is_proto() {
    let td = testdata();
    let (p, stats) = decode_ok(
        &read(&td.join("google-pprof/go.nomappings.crash")),
        "go.nomappings.crash",
    );
    assert_eq!(stats.gzip_layers, 1);
    assert!(p.mapping.is_empty() && p.function.is_empty());
    assert_eq!(p.location.len(), 11);
}

#[test]
fn invalid_utf8_is_replaced_and_counted() {
    let td = testdata();
    let (p, stats) = decode_ok(
        &read(&td.join("grafana-pyroscope/pprof/invalid_utf8.pb.gz")),
        "invalid_utf8",
    );
    assert!(stats.invalid_utf8_strings > 0);
    assert!(
        p.string_table
            .iter()
            .all(|s| std::str::from_utf8(s).is_ok())
    );
    assert!(
        p.string_table
            .iter()
            .any(|s| String::from_utf8_lossy(s).contains('\u{FFFD}'))
    );
    let (req, _) = pprof::to_otlp(&p, vec![], &ToOtlpOptions::default(), None);
    validated(&req, "invalid_utf8");
}

#[test]
fn edge_case_fixtures_decode_and_convert() {
    let td = testdata();
    for name in ["no_addr_no_line.pb.gz", "cpu_go_truncated_1.pb.gz"] {
        let (p, _) = decode_ok(&read(&td.join("grafana-pyroscope/pprof").join(name)), name);
        let (req, _) = pprof::to_otlp(&p, vec![], &ToOtlpOptions::default(), None);
        let req = validated(&req, name);
        assert_eq!(profcol_pdata::profile_count(&req), p.sample_type.len());
    }
    // no_addr_no_line has locations with neither address nor lines; they survive.
    let (p, _) = decode_ok(
        &read(&td.join("grafana-pyroscope/pprof/no_addr_no_line.pb.gz")),
        "no_addr_no_line",
    );
    assert!(
        p.location
            .iter()
            .any(|l| l.address == 0 && l.line.is_empty())
    );
}

#[test]
fn raw_protobuf_named_gz_decodes_without_gzip() {
    let td = testdata();
    for name in ["dotnet-pprof-3.pb.gz", "pyspy-1.pb.gz"] {
        let bytes = read(&td.join("grafana-pyroscope/pprof").join(name));
        assert!(!pprof::is_gzip(&bytes), "{name} is raw protobuf");
        let (p, stats) = decode_ok(&bytes, name);
        assert_eq!(stats.gzip_layers, 0, "{name}");
        assert!(!p.sample.is_empty());
    }
    // The .NET profiler writes id 0 for every function; positions become the ids.
    let (p, stats) = decode_ok(
        &read(&td.join("grafana-pyroscope/pprof/dotnet-pprof-3.pb.gz")),
        "dotnet",
    );
    assert_eq!(stats.implicit_ids_assigned, 1);
    assert_eq!(p.function[0].id, 1);
    assert_eq!(p.sample_type.len(), 6);
}

#[test]
fn exemplar_labels_become_links() {
    let td = testdata();
    let (p, _) = decode_ok(
        &read(&td.join("grafana-pyroscope/pprof/go-cpu-exemplars.pb.gz")),
        "exemplars",
    );
    let (req, stats) = pprof::to_otlp(&p, vec![], &ToOtlpOptions::default(), None);
    let req = validated(&req, "exemplars");
    assert!(stats.linked_samples > 0);
    let dict = req.dictionary.as_ref().unwrap();
    assert!(dict.link_table.len() > 1);
    // `profile_id` was consumed into links.
    for s in profcol_pdata::samples(&req) {
        assert!(s.attributes().all(|(k, _, _)| k != "profile_id"));
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn truncated_and_random_input_errors_cleanly() {
    let td = testdata();
    let gz = read(&td.join("google-pprof/large.cpu"));
    let (raw, layers) = pprof::decompress(&gz, DEFAULT_LIMIT).unwrap();
    assert_eq!(layers, 1);
    let raw = raw.into_owned();
    let n = raw.len();
    let mut errors = 0;
    let offsets = [1, 2, 7, 100, 4096, n / 3, n / 2, n - 100, n - 2, n - 1];
    for &k in &offsets {
        // Never panics; a cut in the middle of a field is a decode error.
        if pprof::decode(&raw[..k], DEFAULT_LIMIT).is_err() {
            errors += 1;
        }
    }
    assert!(
        errors >= offsets.len() - 2,
        "only {errors} truncations failed"
    );
    for &k in &[10, gz.len() / 2, gz.len() - 4] {
        assert!(
            matches!(
                pprof::decode(&gz[..k], DEFAULT_LIMIT),
                Err(PprofError::Gzip(_))
            ),
            "truncated gzip at {k}"
        );
    }
    // Deterministic pseudo-random bytes (xorshift), raw and gzip-wrapped.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for len in [1usize, 3, 16, 100, 1000, 65536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(
            pprof::decode(&bytes, DEFAULT_LIMIT).is_err(),
            "random {len}"
        );
        assert!(
            pprof::decode(&gzip(&bytes), DEFAULT_LIMIT).is_err(),
            "gz random {len}"
        );
    }
    assert!(matches!(
        pprof::decode(&[], DEFAULT_LIMIT),
        Err(PprofError::Empty)
    ));
    assert!(matches!(
        pprof::decode(&gzip(&[]), DEFAULT_LIMIT),
        Err(PprofError::Empty)
    ));
}

#[test]
fn gzip_bomb_and_size_limits() {
    let zeros = vec![0u8; 16 << 20];
    let bomb = gzip(&zeros);
    assert!(bomb.len() < 64 << 10);
    let limit = 1 << 20;
    assert!(matches!(
        pprof::decode(&bomb, limit),
        Err(PprofError::TooLarge { limit: 1048576 })
    ));
    // Two layers: the outer one is small, the inner one explodes.
    let double = gzip(&bomb);
    assert!(matches!(
        pprof::decode(&double, limit),
        Err(PprofError::TooLarge { .. })
    ));
    // Three layers are refused.
    let p = tiny_profile();
    let triple = gzip(&gzip(&gzip(&pprof::encode(&p))));
    assert!(matches!(
        pprof::decode(&triple, DEFAULT_LIMIT),
        Err(PprofError::TooManyGzipLayers { max: 2 })
    ));
    let (_, st) = decode_ok(&gzip(&gzip(&pprof::encode(&p))), "two layers");
    assert_eq!(st.gzip_layers, 2);
    // The limit applies to raw input too.
    let raw = pprof::encode(&p);
    assert!(matches!(
        pprof::decode(&raw, raw.len() - 1),
        Err(PprofError::TooLarge { .. })
    ));
    assert!(pprof::decode(&raw, raw.len()).is_ok());
}

#[test]
fn concatenated_profiles_are_refused() {
    let mut p = tiny_profile();
    p.time_nanos = 1_700_000_000_000_000_000;
    let one = pprof::encode(&p);
    assert!(pprof::decode(&one, DEFAULT_LIMIT).is_ok());
    let mut two = one.clone();
    two.extend_from_slice(&one);
    assert!(matches!(
        pprof::decode(&two, DEFAULT_LIMIT),
        Err(PprofError::Concatenated)
    ));
    assert!(matches!(
        pprof::decode(&gzip(&two), DEFAULT_LIMIT),
        Err(PprofError::Concatenated)
    ));
    assert_eq!(
        PprofError::Concatenated.to_string(),
        "concatenated profiles detected"
    );
}

#[test]
fn validity_rules_name_field_and_index() {
    type Mutation = Box<dyn Fn(&mut Profile)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|p| p.string_table[0] = b"x".to_vec()),
            "string_table[0]",
        ),
        (Box::new(|p| p.sample[1].value.push(1)), "sample[1].value"),
        (
            Box::new(|p| p.sample[1].location_id[1] = 99),
            "sample[1].location_id[1]",
        ),
        (Box::new(|p| p.location[1].id = 1), "location[1].id"),
        (
            Box::new(|p| p.location[0].line[0].function_id = 7),
            "location[0].line[0].function_id",
        ),
        (
            Box::new(|p| p.location[0].mapping_id = 5),
            "location[0].mapping_id",
        ),
        (Box::new(|p| p.function[0].name = 1000), "function[0].name"),
        (
            Box::new(|p| p.function[0].filename = -1),
            "function[0].filename",
        ),
        (
            Box::new(|p| p.mapping[0].build_id = 1000),
            "mapping[0].build_id",
        ),
        (
            Box::new(|p| {
                p.sample[0].label.push(Label {
                    key: 3,
                    str: 500,
                    num: 0,
                    num_unit: 0,
                })
            }),
            "sample[0].label[0].str",
        ),
        (Box::new(|p| p.sample_type.clear()), "sample_type"),
        (
            Box::new(|p| p.default_sample_type = 77),
            "default_sample_type",
        ),
        (Box::new(|p| p.comment = vec![1, 99]), "comment[1]"),
        (
            Box::new(|p| {
                p.period_type = Some(ValueType {
                    r#type: 1,
                    unit: 99,
                })
            }),
            "period_type.unit",
        ),
    ];
    for (mutate, path) in cases {
        let mut p = tiny_profile();
        mutate(&mut p);
        match pprof::decode(&pprof::encode(&p), DEFAULT_LIMIT) {
            Err(PprofError::Invalid { path: got, .. }) => assert_eq!(got, path),
            other => panic!("{path}: expected Invalid, got {other:?}"),
        }
        // Conversion of the unvalidated profile still never panics and stays valid OTLP.
        let (req, _) = pprof::to_otlp(&p, vec![], &ToOtlpOptions::default(), None);
        validated(&req, path);
    }
    // All-zero labels are dropped as Go's decoder does.
    let mut p = tiny_profile();
    p.sample[0].label.push(Label {
        key: 3,
        str: 0,
        num: 0,
        num_unit: 0,
    });
    let (q, st) = decode_ok(&pprof::encode(&p), "empty label");
    assert_eq!(st.empty_labels_dropped, 1);
    assert!(q.sample[0].label.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Hand-built profiles
// ---------------------------------------------------------------------------------------------

/// Builds a profile from a string list; `s(x)` is the index of `x`, added on first use.
struct B {
    p: Profile,
}

impl B {
    fn new(types: &[(&str, &str)]) -> B {
        let mut b = B {
            p: Profile {
                string_table: vec![Vec::new()],
                ..Default::default()
            },
        };
        for (t, u) in types {
            let vt = ValueType {
                r#type: b.s(t),
                unit: b.s(u),
            };
            b.p.sample_type.push(vt);
        }
        b
    }

    fn s(&mut self, x: &str) -> i64 {
        if x.is_empty() {
            return 0;
        }
        if let Some(i) = self.p.string_table.iter().position(|s| s == x.as_bytes()) {
            return i as i64;
        }
        self.p.string_table.push(x.as_bytes().to_vec());
        (self.p.string_table.len() - 1) as i64
    }

    /// A location with one line of a function named `name` (created once).
    fn frame(&mut self, name: &str) -> u64 {
        let n = self.s(name);
        let fid = match self.p.function.iter().find(|f| f.name == n) {
            Some(f) => f.id,
            None => {
                let id = self.p.function.len() as u64 + 1;
                let file = self.s(&format!("{name}.go"));
                self.p.function.push(Function {
                    id,
                    name: n,
                    system_name: n,
                    filename: file,
                    start_line: 1,
                });
                id
            }
        };
        if let Some(l) = self
            .p
            .location
            .iter()
            .find(|l| l.line.first().is_some_and(|x| x.function_id == fid))
        {
            return l.id;
        }
        let id = self.p.location.len() as u64 + 1;
        self.p.location.push(Location {
            id,
            mapping_id: if self.p.mapping.is_empty() { 0 } else { 1 },
            address: 0x1000 + id,
            line: vec![Line {
                function_id: fid,
                line: 10 + id as i64,
                column: 0,
            }],
            is_folded: false,
        });
        id
    }

    /// A sample over `stack` (root first) with string labels `k=v` and numeric `k=#n[unit]`.
    fn sample(&mut self, stack: &[&str], values: &[i64], labels: &[(&str, &str)]) {
        let location_id = stack.iter().rev().map(|f| self.frame(f)).collect();
        let label = labels
            .iter()
            .map(|(k, v)| {
                let key = self.s(k);
                match v.strip_prefix('#') {
                    Some(num) => {
                        let (n, unit) = num.split_once('[').unwrap_or((num, "]"));
                        Label {
                            key,
                            str: 0,
                            num: n.parse().unwrap(),
                            num_unit: self.s(unit.trim_end_matches(']')),
                        }
                    }
                    None => Label {
                        key,
                        str: self.s(v),
                        num: 0,
                        num_unit: 0,
                    },
                }
            })
            .collect();
        self.p.sample.push(Sample {
            location_id,
            value: values.to_vec(),
            label,
        });
    }
}

fn tiny_profile() -> Profile {
    let mut b = B::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    let f = b.s("/bin/app");
    let bid = b.s("abc123");
    b.p.mapping.push(Mapping {
        id: 1,
        memory_start: 0x1000,
        memory_limit: 0x9000,
        file_offset: 0,
        filename: f,
        build_id: bid,
        has_functions: true,
        has_filenames: true,
        has_line_numbers: false,
        has_inline_frames: false,
    });
    b.sample(&["main", "work"], &[1, 10], &[]);
    b.sample(&["main", "work", "hot"], &[2, 20], &[]);
    b.p.period = 10;
    b.p.period_type = Some(ValueType {
        r#type: b.s("cpu"),
        unit: b.s("nanoseconds"),
    });
    b.p
}

fn otlp_of(
    p: &Profile,
    opts: &ToOtlpOptions,
) -> (ExportProfilesServiceRequest, pprof::ToOtlpStats) {
    let (req, stats) = pprof::to_otlp(p, vec![], opts, None);
    (validated(&req, "hand-built"), stats)
}

fn str_attr(s: &profcol_pdata::SampleView<'_>, key: &str) -> Option<String> {
    s.attributes().find(|(k, _, _)| *k == key).map(|(_, v, _)| {
        match v.and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(x)) => x.clone(),
            other => panic!("{key}: not a string: {other:?}"),
        }
    })
}

#[test]
fn span_labels_become_links() {
    const SPAN: &str = "0123456789abcdef";
    const TRACE: &str = "0123456789abcdef0123456789ABCDEF";
    const SPAN2: &str = "fedcba9876543210";
    let mut b = B::new(&[("cpu", "nanoseconds")]);
    let stack = ["main", "handler"];
    b.sample(
        &stack,
        &[1],
        &[
            ("span_id", SPAN),
            ("trace_id", TRACE),
            ("span_name", "GET /"),
        ],
    );
    b.sample(&stack, &[2], &[("span_id", SPAN2), ("span_name", "GET /")]);
    b.sample(
        &stack,
        &[4],
        &[
            ("span_name", "GET /"),
            ("trace_id", TRACE),
            ("span_id", SPAN),
        ],
    );
    b.sample(
        &stack,
        &[8],
        &[("span_id", "xyz-not-hex-0000"), ("span_name", "GET /")],
    );
    b.sample(&stack, &[16], &[("profile_id", SPAN2)]);
    b.sample(&stack, &[32], &[("span_name", "GET /")]);
    let p = b.p;
    let (req, stats) = otlp_of(&p, &ToOtlpOptions::default());
    assert_eq!(stats.invalid_link_labels, 1);
    assert_eq!(stats.linked_samples, 4);
    assert_eq!(
        stats.merged_samples, 1,
        "samples 0 and 2 share stack, labels and link"
    );
    let views: Vec<_> = profcol_pdata::samples(&req).collect();
    assert_eq!(views.len(), 5, "different links are never merged");
    let by_value = |v: i64| {
        views
            .iter()
            .find(|s| s.sample.values == [v])
            .unwrap_or_else(|| panic!("no sample with value {v}"))
    };
    let s = by_value(5);
    let link = s.link().expect("linked");
    assert_eq!(
        link.span_id,
        [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
    );
    assert_eq!(
        link.trace_id,
        [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef
        ]
    );
    assert_eq!(str_attr(s, "span_id"), None, "consumed labels are removed");
    assert_eq!(str_attr(s, "trace_id"), None);
    assert_eq!(str_attr(s, "span_name").as_deref(), Some("GET /"));
    let s = by_value(2);
    assert_eq!(
        s.link().unwrap().trace_id,
        [0u8; 16],
        "span only: zero trace id"
    );
    assert_eq!(s.link().unwrap().span_id, hex::decode(SPAN2).unwrap());
    // Invalid hex stays an attribute, without a link.
    let s = by_value(8);
    assert!(s.link().is_none());
    assert_eq!(str_attr(s, "span_id").as_deref(), Some("xyz-not-hex-0000"));
    // The profile_id alias links the same span as sample 2, but its attributes differ.
    let s = by_value(16);
    assert_eq!(s.link().unwrap().span_id, hex::decode(SPAN2).unwrap());
    assert_eq!(s.attributes().count(), 0);
    assert!(by_value(32).link().is_none());

    // keep_correlation_labels keeps them as attributes too.
    let opts = ToOtlpOptions {
        keep_correlation_labels: true,
        ..Default::default()
    };
    let (kept, _) = otlp_of(&p, &opts);
    let s = profcol_pdata::samples(&kept)
        .find(|s| s.sample.values == [5])
        .unwrap();
    assert!(s.link().is_some());
    assert_eq!(str_attr(&s, "span_id").as_deref(), Some(SPAN));

    // Back to pprof: links become span_id / trace_id labels (lowercase hex).
    let (outs, _) = pprof::from_otlp(&req);
    let q = &outs[0].profile;
    let labels_of = |v: i64| -> BTreeMap<String, String> {
        let s = q.sample.iter().find(|s| s.value == [v]).unwrap();
        s.label
            .iter()
            .map(|l| (q.string(l.key).into_owned(), q.string(l.str).into_owned()))
            .collect()
    };
    let l = labels_of(5);
    assert_eq!(l["span_id"], SPAN);
    assert_eq!(l["trace_id"], TRACE.to_ascii_lowercase());
    assert_eq!(l["span_name"], "GET /");
    let l = labels_of(2);
    assert_eq!(l["span_id"], SPAN2);
    assert!(!l.contains_key("trace_id"), "zero trace id gives no label");
    assert_eq!(labels_of(8)["span_id"], "xyz-not-hex-0000");
    assert_eq!(labels_of(16)["span_id"], SPAN2);
    assert_eq!(labels_of(16).len(), 1);
}

#[test]
fn multi_value_labels_keep_the_first() {
    let mut b = B::new(&[("cpu", "nanoseconds")]);
    b.sample(
        &["main"],
        &[1],
        &[
            ("k", "a"),
            ("n", "#1[bytes]"),
            ("k", "b"),
            ("n", "#2[bytes]"),
        ],
    );
    // A numeric label before a string label of the same key: the string one wins.
    b.sample(&["main", "x"], &[1], &[("m", "#5[]"), ("m", "s")]);
    let (req, stats) = otlp_of(&b.p, &ToOtlpOptions::default());
    assert_eq!(stats.multi_value_labels_dropped, 3);
    let views: Vec<_> = profcol_pdata::samples(&req).collect();
    let attrs = |i: usize| -> Vec<(String, String)> {
        views[i]
            .attributes()
            .map(|(k, v, u)| {
                (
                    k.to_owned(),
                    format!("{}{u}", profcol_pdata::view::any_value_text(v)),
                )
            })
            .collect()
    };
    assert_eq!(
        attrs(0),
        vec![("k".into(), "a".into()), ("n".into(), "1bytes".into())]
    );
    assert_eq!(attrs(1), vec![("m".into(), "s".into())]);
}

#[test]
fn numeric_labels_with_units_round_trip() {
    let mut b = B::new(&[("alloc_space", "bytes")]);
    b.sample(
        &["main", "alloc"],
        &[4096],
        &[
            ("bytes", "#1024[bytes]"),
            ("count", "#-3[]"),
            ("kind", "small"),
        ],
    );
    b.sample(&["main", "alloc"], &[512], &[("bytes", "#64[bytes]")]);
    let p = b.p;
    let (req, _) = otlp_of(&p, &ToOtlpOptions::default());
    let s = profcol_pdata::samples(&req)
        .find(|s| s.sample.values == [4096])
        .unwrap();
    let (_, v, unit) = s.attributes().find(|(k, _, _)| *k == "bytes").unwrap();
    assert_eq!(v.unwrap().value, Some(Value::IntValue(1024)));
    assert_eq!(unit, "bytes");
    let (_, v, unit) = s.attributes().find(|(k, _, _)| *k == "count").unwrap();
    assert_eq!(v.unwrap().value, Some(Value::IntValue(-3)));
    assert_eq!(unit, "");
    let back = round_trip(&p, "numeric labels");
    let s = back.sample.iter().find(|s| s.value == [4096]).unwrap();
    let l = s
        .label
        .iter()
        .find(|l| back.string(l.key) == "bytes")
        .unwrap();
    assert_eq!(
        (l.str, l.num, back.string(l.num_unit).as_ref()),
        (0, 1024, "bytes")
    );
    let l = s
        .label
        .iter()
        .find(|l| back.string(l.key) == "count")
        .unwrap();
    assert_eq!((l.num, l.num_unit), (-3, 0));
}

#[test]
fn sample_type_order_and_default() {
    let types = [
        ("a", "count"),
        ("b", "bytes"),
        ("c", "count"),
        ("d", "nanoseconds"),
    ];
    let mut b = B::new(&types);
    b.sample(&["main"], &[1, 2, 3, 4], &[]);
    let c = b.s("c");
    let mut p = b.p;
    // Default "c" (index 2): OTLP order [2, 0, 1, 3].
    p.default_sample_type = c;
    let (req, _) = otlp_of(&p, &ToOtlpOptions::default());
    let dict = req.dictionary.as_ref().unwrap();
    let order: Vec<String> = req.resource_profiles[0].scope_profiles[0]
        .profiles
        .iter()
        .map(|x| dict.string_table[x.sample_type.unwrap().type_strindex as usize].clone())
        .collect();
    assert_eq!(order, ["c", "a", "b", "d"]);
    let ints = |v: Option<&Value>| match v {
        Some(Value::ArrayValue(a)) => a
            .values
            .iter()
            .map(|x| match x.value {
                Some(Value::IntValue(i)) => i,
                _ => panic!("not int"),
            })
            .collect::<Vec<_>>(),
        other => panic!("not an array: {other:?}"),
    };
    assert_eq!(
        ints(scope_attr(&req, attr::SAMPLE_TYPE_ORDER)),
        [2, 0, 1, 3]
    );
    assert_eq!(
        scope_attr(&req, attr::DEFAULT_SAMPLE_TYPE),
        Some(&Value::StringValue("c".into()))
    );
    let scope = req.resource_profiles[0].scope_profiles[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(scope.name, "profcol");
    let back = round_trip(&p, "order");
    assert_eq!(back.string(back.default_sample_type), "c");
    assert_eq!(back.sample[0].value, [1, 2, 3, 4]);

    // Unset default: the last type comes first, and no default attribute is written.
    p.default_sample_type = 0;
    let (req, _) = otlp_of(&p, &ToOtlpOptions::default());
    assert_eq!(
        ints(scope_attr(&req, attr::SAMPLE_TYPE_ORDER)),
        [3, 0, 1, 2]
    );
    assert_eq!(scope_attr(&req, attr::DEFAULT_SAMPLE_TYPE), None);
    let back = round_trip(&p, "order, no default");
    assert_eq!(back.default_sample_type, 0);

    // A default naming no type also falls back to the last one, but the string is kept.
    let mut b = B::new(&types);
    b.sample(&["main"], &[1, 2, 3, 4], &[]);
    b.p.default_sample_type = b.s("nope");
    let (req, _) = otlp_of(&b.p, &ToOtlpOptions::default());
    assert_eq!(
        ints(scope_attr(&req, attr::SAMPLE_TYPE_ORDER)),
        [3, 0, 1, 2]
    );
    let back = round_trip(&b.p, "unknown default");
    assert_eq!(back.string(back.default_sample_type), "nope");
}

#[test]
fn profile_fields_mappings_and_payload() {
    let mut b = B::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    let f = b.s("/bin/app");
    let bid = b.s("deadbeef");
    let lib = b.s("/lib/libc.so");
    b.p.mapping.push(Mapping {
        id: 1,
        memory_start: 0x1000,
        memory_limit: 0x9000,
        filename: f,
        build_id: bid,
        has_functions: true,
        has_line_numbers: true,
        ..Default::default()
    });
    // Unreferenced, and identical to nothing else.
    b.p.mapping.push(Mapping {
        id: 7,
        memory_start: 0x10000,
        memory_limit: 0x20000,
        filename: lib,
        has_inline_frames: true,
        ..Default::default()
    });
    // An all-zero mapping still survives.
    b.p.mapping.push(Mapping {
        id: 9,
        ..Default::default()
    });
    b.sample(&["main", "a"], &[1, 100], &[]);
    b.sample(&["main", "a"], &[2, 200], &[]);
    b.sample(&["main", "b"], &[0, 0], &[]);
    b.p.location[0].is_folded = true;
    b.p.drop_frames = b.s("runtime\\..*");
    b.p.keep_frames = b.s("main");
    b.p.comment = vec![b.s("first comment"), b.s("second, with comma")];
    b.p.doc_url = b.s("https://example.com/doc");
    b.p.time_nanos = 1_700_000_000_000_000_000;
    b.p.duration_nanos = 10_000_000_000;
    b.p.period = 10_000_000;
    b.p.period_type = Some(ValueType {
        r#type: b.s("cpu"),
        unit: b.s("nanoseconds"),
    });
    let p = b.p;
    let raw = pprof::encode_gzip(&p);
    let opts = ToOtlpOptions {
        include_original_payload: true,
        ..Default::default()
    };
    let (req, stats) = pprof::to_otlp(&p, vec![], &opts, Some(&raw));
    let req = validated(&req, "fields");
    assert_eq!(stats.merged_samples, 1);
    let profiles = &req.resource_profiles[0].scope_profiles[0].profiles;
    assert_eq!(profiles[0].original_payload_format, "pprof");
    assert_eq!(profiles[0].original_payload, raw);
    assert!(profiles[1].original_payload.is_empty());
    assert_eq!(profiles[0].samples.len(), 2, "zero samples kept by default");
    assert_eq!(profiles[0].samples[0].values, [300]);
    let dict = req.dictionary.as_ref().unwrap();
    assert_eq!(
        dict.mapping_table.len(),
        4,
        "every mapping plus the null entry"
    );
    let dv = profcol_pdata::view::Dict::new(dict);
    let attr_keys = |list: &[i32]| -> Vec<String> {
        list.iter()
            .map(|&a| dv.attribute(a).unwrap().0.to_owned())
            .collect()
    };
    assert_eq!(
        attr_keys(&dict.mapping_table[1].attribute_indices),
        [
            attr::BUILD_ID_GNU,
            attr::HAS_FUNCTIONS,
            attr::HAS_LINE_NUMBERS
        ]
    );
    assert_eq!(
        attr_keys(&profiles[0].attribute_indices),
        [
            attr::DROP_FRAMES,
            attr::KEEP_FRAMES,
            attr::COMMENT,
            attr::DOC_URL
        ]
    );
    assert!(
        dict.location_table
            .iter()
            .any(|l| attr_keys(&l.attribute_indices) == [attr::IS_FOLDED])
    );
    assert_eq!(profiles[0].time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(profiles[1].duration_nano, 10_000_000_000);

    let back = round_trip(&p, "fields");
    assert!(back.location.iter().any(|l| l.is_folded));
    assert_eq!(back.mapping.len(), 3);
    assert_eq!(back.string(back.mapping[0].build_id), "deadbeef");

    let opts = ToOtlpOptions {
        drop_zero_samples: true,
        ..Default::default()
    };
    let (req, stats) = otlp_of(&p, &opts);
    assert_eq!(stats.zero_samples_dropped, 2);
    assert_eq!(
        req.resource_profiles[0].scope_profiles[0].profiles[0]
            .samples
            .len(),
        1
    );
    // Zero samples dropped in one type come back as 0 after reassembly.
    let (outs, _) = pprof::from_otlp(&req);
    assert_eq!(
        totals(&outs[0].profile),
        totals(&p)
            .into_iter()
            .map(|mut m| {
                m.retain(|_, v| *v != 0);
                m
            })
            .collect::<Vec<_>>()
    );
}

#[test]
fn negative_times_become_zero() {
    let mut p = tiny_profile();
    p.time_nanos = -5;
    p.duration_nanos = -1;
    let (req, stats) = otlp_of(&p, &ToOtlpOptions::default());
    assert_eq!(stats.negative_times, 2);
    let prof = &req.resource_profiles[0].scope_profiles[0].profiles[0];
    assert_eq!((prof.time_unix_nano, prof.duration_nano), (0, 0));
}

fn iv(i: i64) -> AnyValue {
    AnyValue {
        value: Some(Value::IntValue(i)),
    }
}

#[test]
fn otlp_without_pprof_origin_gives_one_pprof_per_profile() {
    // synth builds a cpu profile with no pprof.scope.* attributes.
    let mut req = synth::request(
        "svc",
        &[
            synth::StackSample {
                frames: &["main", "a"],
                value: 3,
                attributes: &[("thread", "t1")],
            },
            synth::StackSample {
                frames: &["main", "b"],
                value: 4,
                attributes: &[],
            },
        ],
    );
    // A second profile in the same scope, and extra attribute shapes on the samples.
    let mut second = req.resource_profiles[0].scope_profiles[0].profiles[0].clone();
    second.samples[0].values = vec![];
    second.samples[0].timestamps_unix_nano =
        vec![1_700_000_000_000_000_001, 1_700_000_000_000_000_002];
    second.samples[1].values = vec![5, 6];
    second.samples[1].timestamps_unix_nano =
        vec![1_700_000_000_000_000_003, 1_700_000_000_000_000_004];
    let dict = req.dictionary.as_mut().unwrap();
    let key = |dict: &mut profcol_pdata::proto::ProfilesDictionary, s: &str| {
        dict.string_table.push(s.into());
        (dict.string_table.len() - 1) as i32
    };
    let add =
        |dict: &mut profcol_pdata::proto::ProfilesDictionary, k: &str, v: Value, unit: &str| {
            let key_strindex = key(dict, k);
            let unit_strindex = if unit.is_empty() { 0 } else { key(dict, unit) };
            dict.attribute_table
                .push(profcol_pdata::proto::KeyValueAndUnit {
                    key_strindex,
                    value: Some(AnyValue { value: Some(v) }),
                    unit_strindex,
                });
            (dict.attribute_table.len() - 1) as i32
        };
    let extra = vec![
        add(dict, "flag", Value::BoolValue(true), ""),
        add(dict, "ratio", Value::DoubleValue(0.25), ""),
        add(dict, "size", Value::IntValue(64), "By"),
        add(
            dict,
            "one",
            Value::ArrayValue(profcol_pdata::common::ArrayValue {
                values: vec![iv(7)],
            }),
            "",
        ),
        add(dict, "blob", Value::BytesValue(vec![1, 2]), ""),
    ];
    second.samples[1].attribute_indices = extra;
    req.resource_profiles[0].scope_profiles[0]
        .profiles
        .push(second);
    let req = validated(&req, "synth");
    let (outs, stats) = pprof::from_otlp(&req);
    assert_eq!(outs.len(), 2, "one pprof per Profile");
    assert_eq!(stats.reassembled_scopes, 0);
    assert_eq!(stats.attributes_dropped, 1, "bytes value");
    assert_eq!(stats.timestamps_dropped, 4);
    for o in &outs {
        let p = &o.profile;
        pprof::check_valid(p).unwrap();
        assert_eq!(
            p.sample_type_names(),
            [("cpu".to_string(), "nanoseconds".to_string())]
        );
        assert_eq!(p.string(p.default_sample_type), "cpu");
        assert_eq!(o.scope.as_ref().unwrap().name, "profcol-synth");
        assert_eq!(o.resource, vec![synth::kv("service.name", "svc")]);
        assert_eq!(p.time_nanos, 1_700_000_000_000_000_000);
        assert_eq!(p.period, 10_000_000);
    }
    let second = &outs[1].profile;
    let vals: Vec<i64> = second.sample.iter().map(|s| s.value[0]).collect();
    assert_eq!(vals, [2, 11], "timestamps-only counts, both-shape sums");
    let labels: BTreeMap<String, String> = second.sample[1]
        .label
        .iter()
        .map(|l| {
            let v = if l.str != 0 {
                second.string(l.str).into_owned()
            } else {
                format!("#{}{}", l.num, second.string(l.num_unit))
            };
            (second.string(l.key).into_owned(), v)
        })
        .collect();
    assert_eq!(labels["flag"], "true");
    assert_eq!(labels["ratio"], "0.25");
    assert_eq!(labels["size"], "#64By");
    assert_eq!(labels["one"], "#7");
    assert!(!labels.contains_key("blob"));
    // has_* flags are derived when the data did not come from pprof: synth locations have no
    // mapping, so there is nothing to derive here; the functions are complete.
    assert!(second.mapping.is_empty());
    assert_eq!(outs[0].profile.sample[0].label.len(), 1);
}

#[test]
fn has_flags_are_derived_for_foreign_otlp() {
    let p = tiny_profile();
    let (mut req, _) = otlp_of(&p, &ToOtlpOptions::default());
    // Strip the pprof origin markers: scope attributes and mapping attributes.
    req.resource_profiles[0].scope_profiles[0]
        .scope
        .as_mut()
        .unwrap()
        .attributes
        .clear();
    for m in &mut req.dictionary.as_mut().unwrap().mapping_table {
        m.attribute_indices.clear();
    }
    let (outs, _) = pprof::from_otlp(&req);
    assert_eq!(outs.len(), 2);
    let m = &outs[0].profile.mapping[0];
    assert!(m.has_functions && m.has_filenames && m.has_line_numbers);
    assert!(!m.has_inline_frames);
    assert_eq!(m.build_id, 0);
}

#[test]
fn build_id_fallbacks_and_comment_variants() {
    let p = tiny_profile();
    let (mut req, _) = otlp_of(&p, &ToOtlpOptions::default());
    let dict = req.dictionary.as_mut().unwrap();
    let mut push_attr = |k: &str, v: Value| {
        dict.string_table.push(k.into());
        let key_strindex = (dict.string_table.len() - 1) as i32;
        dict.attribute_table
            .push(profcol_pdata::proto::KeyValueAndUnit {
                key_strindex,
                value: Some(AnyValue { value: Some(v) }),
                unit_strindex: 0,
            });
        (dict.attribute_table.len() - 1) as i32
    };
    let go = push_attr(attr::BUILD_ID_GO, Value::StringValue("go-id".into()));
    let c1 = push_attr(
        "pprof.profile.comment.1",
        Value::StringValue("second".into()),
    );
    let c0 = push_attr(
        "pprof.profile.comment.0",
        Value::StringValue("first".into()),
    );
    let dict = req.dictionary.as_mut().unwrap();
    dict.mapping_table[1].attribute_indices = vec![go];
    for prof in &mut req.resource_profiles[0].scope_profiles[0].profiles {
        prof.attribute_indices = vec![c1, c0];
    }
    let req = validated(&req, "variants");
    let (outs, _) = pprof::from_otlp(&req);
    let q = &outs[0].profile;
    assert_eq!(q.string(q.mapping[0].build_id), "go-id");
    assert_eq!(strings(q, &q.comment), ["first", "second"]);
}

#[test]
fn inconsistent_order_attribute_falls_back_to_one_pprof_per_profile() {
    let p = tiny_profile();
    let (mut req, _) = otlp_of(&p, &ToOtlpOptions::default());
    req.resource_profiles[0].scope_profiles[0].profiles[1].time_unix_nano += 1;
    let (outs, stats) = pprof::from_otlp(&req);
    assert_eq!((outs.len(), stats.reassembled_scopes), (2, 0));
    // A broken order attribute also falls back.
    let (mut req, _) = otlp_of(&p, &ToOtlpOptions::default());
    let scope = req.resource_profiles[0].scope_profiles[0]
        .scope
        .as_mut()
        .unwrap();
    scope.attributes = vec![KeyValue {
        key: attr::SAMPLE_TYPE_ORDER.into(),
        value: Some(AnyValue {
            value: Some(Value::ArrayValue(profcol_pdata::common::ArrayValue {
                values: vec![iv(0), iv(0)],
            })),
        }),
        key_strindex: 0,
    }];
    let (outs, _) = pprof::from_otlp(&req);
    assert_eq!(outs.len(), 2);
    // Each keeps its own type as the default.
    assert_eq!(
        outs[0].profile.string(outs[0].profile.default_sample_type),
        "cpu"
    );
    assert_eq!(
        outs[1].profile.string(outs[1].profile.default_sample_type),
        "samples"
    );
}

#[test]
fn encode_decode_is_lossless_for_valid_profiles() {
    let p = tiny_profile();
    let (q, st) = decode_ok(&pprof::encode(&p), "raw");
    assert_eq!(q, p);
    assert_eq!(st.gzip_layers, 0);
    let (q, st) = decode_ok(&pprof::encode_gzip(&p), "gzip");
    assert_eq!(q, p);
    assert_eq!(st.gzip_layers, 1);
}
