//! Tests for the folded / collapsed stack formats (`profcol_pdata::folded`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use profcol_pdata::folded::{self, FoldedError, FoldedStack};
use profcol_pdata::pprof::{self, Function, Line, Location, Profile, Sample, ValueType};
use profcol_pdata::{ValidationOptions, validate};
use profcol_testkit::synth;

/// The shared test inputs (fails the test when they are absent).
fn testdata() -> PathBuf {
    profcol_testkit::require::testdata_dir()
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn parse_ok(text: &str, what: &str) -> Vec<FoldedStack> {
    folded::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Per `root;...;leaf`, the summed first value.
fn per_stack(stacks: &[FoldedStack]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for s in stacks {
        *m.entry(s.frames.join(";")).or_insert(0) += s.values[0];
    }
    m
}

/// Independent oracle: the integer after the last space of each non-empty line.
fn line_count_sum(text: &str) -> i64 {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let tok = l.trim_end().rsplit(' ').next().unwrap();
            tok.parse::<i64>()
                .unwrap_or_else(|_| panic!("bad count in {l:?}"))
        })
        .sum()
}

fn validated(
    req: &profcol_pdata::ExportProfilesServiceRequest,
) -> profcol_pdata::ExportProfilesServiceRequest {
    let mut v = req.clone();
    let report = validate(&mut v, &ValidationOptions::default()).expect("valid");
    assert_eq!(report.rejected_profiles, 0, "{:?}", report.errors);
    v
}

#[test]
fn flamegraph_files_parse_with_the_right_totals() {
    let td = testdata();
    let list = files(&td.join("brendangregg-FlameGraph"), ".txt");
    assert_eq!(list.len(), 6);
    for f in &list {
        let text = std::fs::read_to_string(f).unwrap();
        let what = f.display().to_string();
        let stacks = parse_ok(&text, &what);
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(stacks.len(), lines, "{what}: one stack per line");
        let total: i64 = stacks.iter().map(|s| s.values[0]).sum();
        assert_eq!(total, line_count_sum(&text), "{what}: total");
        assert!(
            stacks
                .iter()
                .all(|s| s.values.len() == 1 && !s.frames.is_empty())
        );
    }
    // Frames keep their spaces and annotations.
    let js = std::fs::read_to_string(
        td.join("brendangregg-FlameGraph/perf-js-stacks-01-collapsed-all.txt"),
    )
    .unwrap();
    let stacks = parse_ok(&js, "js");
    assert!(
        stacks[0]
            .frames
            .iter()
            .any(|f| f == "Builtin:A builtin from the snapshot_[j]")
    );
    // flamegraph.pl splits at the last space only: `…;  3` has the leaf frame " ".
    let vertx = std::fs::read_to_string(
        td.join("brendangregg-FlameGraph/perf-vertx-stacks-01-collapsed-all.txt"),
    )
    .unwrap();
    assert!(
        parse_ok(&vertx, "vertx")
            .iter()
            .any(|s| s.frames.last().is_some_and(|f| f == " "))
    );
    // -collapsed-pid: the first frame is cmd-PID.
    let pid = std::fs::read_to_string(
        td.join("brendangregg-FlameGraph/perf-iperf-stacks-pidtid-01-collapsed-pid.txt"),
    )
    .unwrap();
    assert!(parse_ok(&pid, "pid").iter().all(|s| {
        s.frames[0]
            .rsplit_once('-')
            .is_some_and(|(cmd, pid)| !cmd.is_empty() && pid.parse::<u32>().is_ok())
    }));
}

#[test]
fn flamegraph_round_trip_through_otlp() {
    let td = testdata();
    for f in files(&td.join("brendangregg-FlameGraph"), ".txt") {
        let text = std::fs::read_to_string(&f).unwrap();
        let what = f.display().to_string();
        let stacks = parse_ok(&text, &what);
        let req = folded::to_otlp(&stacks, &[], vec![synth::kv("service.name", "perf")]);
        let req = validated(&req);
        // No mappings; one location and one function per distinct frame name.
        let dict = req.dictionary.as_ref().unwrap();
        assert_eq!(dict.mapping_table.len(), 1, "{what}: no mappings");
        let names: std::collections::BTreeSet<&str> = stacks
            .iter()
            .flat_map(|s| s.frames.iter().map(String::as_str))
            .collect();
        assert_eq!(dict.location_table.len(), names.len() + 1, "{what}");
        assert_eq!(dict.function_table.len(), names.len() + 1, "{what}");
        let prof = &req.resource_profiles[0].scope_profiles[0].profiles[0];
        let vt = prof.sample_type.unwrap();
        assert_eq!(
            (
                dict.string_table[vt.type_strindex as usize].as_str(),
                dict.string_table[vt.unit_strindex as usize].as_str()
            ),
            ("samples", "count")
        );
        assert_eq!(synth::totals_by_stack(&req), per_stack(&stacks), "{what}");
        let out = folded::from_otlp(&req);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "samples/count");
        let back = parse_ok(&out[0].1, &what);
        assert_eq!(
            per_stack(&back),
            per_stack(&stacks),
            "{what}: per-stack totals"
        );
        // Output lines are sorted and distinct.
        let keys: Vec<String> = back.iter().map(|s| s.frames.join(";")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "{what}");
    }
}

#[test]
fn jfr_parser_expected_files_parse_in_bracket_form() {
    let td = testdata();
    let list = files(&td.join("grafana-jfr-parser"), "_expected_collapsed.txt.gz");
    assert_eq!(list.len(), 6);
    for f in &list {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let what = f.display().to_string();
        let stacks = parse_ok(&text, &what);
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(stacks.len(), lines, "{what}");
        for s in &stacks {
            assert_eq!(s.values.len(), 1, "{what}: one sample type per file");
            assert!(s.values[0] > 0, "{what}: all-zero stacks are dropped");
            // Frames are name:line (names may themselves contain ';', so check the leaf).
            let leaf = s.frames.last().unwrap();
            assert!(
                leaf.rsplit_once(':')
                    .is_some_and(|(_, l)| l.parse::<u32>().is_ok()),
                "{what}: leaf {leaf:?} is name:line"
            );
        }
        // Lines are sorted and distinct, as the oracle promises.
        let keys: Vec<String> = stacks.iter().map(|s| s.frames.join(";")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "{what}");
    }
}

#[test]
fn differential_format_is_rejected() {
    match folded::parse("a;b 1\na;b;c 10 12\n") {
        Err(FoldedError::Differential { line: 2 }) => {}
        other => panic!("expected Differential at line 2, got {other:?}"),
    }
    assert!(
        FoldedError::Differential { line: 2 }
            .to_string()
            .contains("differential")
    );
}

#[test]
fn fractional_counts_round_and_empty_lines_skip() {
    let (stacks, report) =
        folded::parse_with_report("a;b 1.5\n\n  \na;c 2.4\r\na;d 3.\na;e 7\n").unwrap();
    let v: Vec<i64> = stacks.iter().map(|s| s.values[0]).collect();
    assert_eq!(v, [2, 2, 3, 7]);
    assert_eq!(report.fractional_counts_rounded, 2);
    assert_eq!(report.empty_lines_skipped, 2);
}

#[test]
fn split_at_last_space_and_bad_lines() {
    let s = parse_ok("java;Interpreter frame;foo bar 42\n", "spaces");
    assert_eq!(s[0].frames, ["java", "Interpreter frame", "foo bar"]);
    assert_eq!(s[0].values, [42]);
    let s = parse_ok("a;b [1 2 3]\nx:0;y (deleted):12 [0 5]\n", "brackets");
    assert_eq!(s[0].values, [1, 2, 3]);
    assert_eq!(s[1].frames, ["x:0", "y (deleted):12"]);
    for (bad, line) in [
        ("a;b\n", 1),
        ("ok 1\na;b x\n", 2),
        ("a;b -3\n", 1),
        ("a;b []\n", 1),
        ("a;b [1 x]\n", 1),
        ("a;b 1]\n", 1),
    ] {
        match folded::parse(bad) {
            Err(FoldedError::Line { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
            other => panic!("{bad:?}: expected a line error, got {other:?}"),
        }
    }
}

#[test]
fn multi_value_folded_to_otlp() {
    let stacks = parse_ok("main;a [1 10]\nmain;b [2 20]\nmain;a [3 30]\n", "multi");
    let req = folded::to_otlp(
        &stacks,
        &[("samples", "count"), ("cpu", "nanoseconds")],
        vec![],
    );
    let req = validated(&req);
    let out = folded::from_otlp(&req);
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0],
        ("samples/count".into(), "main;a 4\nmain;b 2\n".into())
    );
    assert_eq!(
        out[1],
        ("cpu/nanoseconds".into(), "main;a 40\nmain;b 20\n".into())
    );
    // Folded OTLP converts to pprof as well (one pprof per Profile, names only).
    let (pp, _) = pprof::from_otlp(&req);
    assert_eq!(pp.len(), 2);
    pprof::check_valid(&pp[0].profile).unwrap();
    assert!(pp[0].profile.mapping.is_empty());
}

/// A two-type pprof with an inlined frame, a duplicate stack and an all-zero sample.
fn collapsed_fixture() -> Profile {
    let strings: Vec<Vec<u8>> = [
        "",
        "samples",
        "count",
        "cpu",
        "nanoseconds",
        "main",
        "work",
        "inl",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let f = |id: u64, name: i64| Function {
        id,
        name,
        ..Default::default()
    };
    let loc = |id: u64, lines: &[(u64, i64)]| Location {
        id,
        line: lines
            .iter()
            .map(|&(function_id, line)| Line {
                function_id,
                line,
                column: 0,
            })
            .collect(),
        ..Default::default()
    };
    let s = |location_id: &[u64], value: &[i64]| Sample {
        location_id: location_id.to_vec(),
        value: value.to_vec(),
        label: vec![],
    };
    Profile {
        sample_type: vec![
            ValueType { r#type: 1, unit: 2 },
            ValueType { r#type: 3, unit: 4 },
        ],
        // work:20 has `inl:7` inlined into it (inlined callee first).
        location: vec![loc(1, &[(1, 3)]), loc(2, &[(3, 7), (2, 20)])],
        function: vec![f(1, 5), f(2, 6), f(3, 7)],
        sample: vec![
            s(&[2, 1], &[1, 10]),
            s(&[1], &[2, 20]),
            s(&[2, 1], &[3, 30]),
            s(&[1, 1], &[0, 0]),
        ],
        string_table: strings,
        ..Default::default()
    }
}

#[test]
fn pprof_to_collapsed_with_lines_matches_the_oracle_format() {
    let p = collapsed_fixture();
    let text = folded::pprof_to_collapsed_with_lines(&p);
    assert_eq!(text, "main:3 [2 20]\nmain:3;work:20;inl:7 [4 40]\n");
    // Our rendering parses back in bracket form.
    let back = parse_ok(&text, "collapsed");
    assert_eq!(back[1].frames, ["main:3", "work:20", "inl:7"]);
    assert_eq!(back[1].values, [4, 40]);
}

#[test]
fn pprof_fixture_collapsed_output_is_consistent() {
    // Render a real Java pprof in the oracle format and check it against our own totals.
    let td = testdata();
    let bytes = std::fs::read(td.join("grafana-pyroscope/pprof/profile_java.pb.gz")).unwrap();
    let (p, _) = pprof::decode(&bytes, pprof::DEFAULT_LIMIT).unwrap();
    let text = folded::pprof_to_collapsed_with_lines(&p);
    let stacks = parse_ok(&text, "java collapsed");
    let total: i64 = stacks.iter().map(|s| s.values[0]).sum();
    let expected: i64 = p.sample.iter().map(|s| s.value[0]).sum();
    assert_eq!(total, expected);
}
