//! End-to-end tests of `profcol query`, `top`, `diff` and `flamegraph`: the real binary on
//! Parquet data with known answers (`hot_loop` hottest in `shop`; `regressed_fn` grew from 5 % in
//! v1 to 40 % in v2), and on a single pprof file with `go tool pprof -top` as the oracle.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn profcol(args: &[&str]) -> Output {
    let mut cmd = Command::new(common::profcol_bin());
    cmd.args(args).current_dir(common::repo_root());
    common::output_with_timeout(cmd, Duration::from_secs(120))
}

fn ok(args: &[&str]) -> String {
    let out = profcol(args);
    assert!(
        out.status.success(),
        "profcol {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn json(args: &[&str]) -> serde_json::Value {
    let text = ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn known() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    profcol_testkit::query_data::write_known(dir.path()).unwrap();
    let p = dir.path().to_str().unwrap().to_owned();
    (dir, p)
}

/// The `<title>` texts of an SVG, which must parse as XML.
fn svg_titles(path: &Path) -> Vec<String> {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut depth, mut in_title, mut titles) = (0i32, false, Vec::new());
    loop {
        match r.read_event().expect("the SVG is well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                in_title = e.name().as_ref() == b"title";
            }
            Event::End(_) => {
                depth -= 1;
                in_title = false;
            }
            Event::Text(t) if in_title => titles.push(t.decode().unwrap().into_owned()),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    titles
}

#[test]
fn top_names_the_hottest_function() {
    let (_d, data) = known();
    let v = json(&[
        "top",
        "--data",
        &data,
        "--service",
        "shop",
        "--format",
        "json",
    ]);
    assert_eq!(v[0]["function"], "hot_loop");
    assert_eq!(v[0]["self"], 800_000_000);
    assert_eq!(v[0]["self%"], 40.0);
    let recurse = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["function"] == "recurse")
        .unwrap();
    assert_eq!(recurse["total"], 80_000_000, "recursion counts once");

    // The table: a header line, aligned columns, CPU seconds and percentages.
    let text = ok(&["top", "--data", &data, "--service", "shop", "-n", "3"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("cpu:nanoseconds:cpu:nanoseconds: 200 samples, total 2.00 s"));
    assert_eq!(lines[1], "  self   self%   total  total%  function");
    assert_eq!(lines[3], "0.80 s  40.00%  0.80 s  40.00%  hot_loop");
    assert_eq!(lines[4], "0.45 s  22.50%  0.45 s  22.50%  regressed_fn");
    assert_eq!(lines.len(), 6);

    // Filters: the memory profile, all services, CSV.
    let v = json(&[
        "top",
        "--data",
        &data,
        "--service",
        "shop",
        "--type",
        "alloc_space",
        "--format",
        "json",
    ]);
    assert_eq!(v[0]["function"], "allocator");
    let csv = ok(&["top", "--data", &data, "-n", "1", "--format", "csv"]);
    assert_eq!(
        csv,
        "self,self%,total,total%,function\n5000000000,71.42857142857143,5000000000,71.42857142857143,cart_hot\n"
    );
    let text = ok(&[
        "top",
        "--data",
        &data,
        "--service",
        "shop",
        "--type",
        "alloc_space",
    ]);
    assert!(text.contains("2.0 GiB"), "{text}");
}

#[test]
fn diff_names_the_regression() {
    let (_d, data) = known();
    let by_version = json(&[
        "diff",
        "--data",
        &data,
        "--service",
        "shop",
        "--by",
        "service_version",
        "--from",
        "v1",
        "--to",
        "v2",
        "--format",
        "json",
    ]);
    let by_time = json(&[
        "diff",
        "--data",
        &data,
        "--service",
        "shop",
        "--from",
        "2026-11-25T10:00..2026-11-25T11:00",
        "--to",
        "2026-11-25T11:00..2026-11-25T12:00",
        "--format",
        "json",
    ]);
    for v in [&by_version, &by_time] {
        assert_eq!(v[0]["function"], "regressed_fn", "{v}");
        assert_eq!(v[0]["from%"], 5.0);
        assert_eq!(v[0]["to%"], 40.0);
        assert_eq!(v[0]["change"], 35.0);
        assert_eq!(v[1]["function"], "hot_loop");
    }
    let text = ok(&[
        "diff",
        "--data",
        &data,
        "--service",
        "shop",
        "--by",
        "service_version",
        "--from",
        "v1",
        "--to",
        "v2",
        "-n",
        "2",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        "  from      to   from%     to%     change  function"
    );
    assert_eq!(
        lines[3],
        "0.05 s  0.40 s   5.00%  40.00%  +35.00 pp  regressed_fn"
    );
    assert_eq!(
        lines[4],
        "0.50 s  0.30 s  50.00%  30.00%  -20.00 pp  hot_loop"
    );
}

#[test]
fn flamegraph_svg_and_other_formats() {
    let (d, data) = known();
    let svg = d.path().join("shop.svg");
    ok(&[
        "flamegraph",
        "--data",
        &data,
        "--service",
        "shop",
        "-o",
        svg.to_str().unwrap(),
    ]);
    let titles = svg_titles(&svg);
    let hot = titles
        .iter()
        .find(|t| t.starts_with("hot_loop "))
        .expect("the SVG names the hottest function");
    assert!(hot.contains("40.00%"), "{hot}");

    let diff = d.path().join("diff.svg");
    ok(&[
        "flamegraph",
        "--data",
        &data,
        "--service",
        "shop",
        "--diff",
        "--by",
        "service_version",
        "--from",
        "v1",
        "--to",
        "v2",
        "-o",
        diff.to_str().unwrap(),
    ]);
    let titles = svg_titles(&diff);
    let reg = titles
        .iter()
        .find(|t| t.starts_with("regressed_fn "))
        .unwrap();
    assert!(reg.contains("+35.00%"), "{reg}");

    let folded = ok(&[
        "flamegraph",
        "--data",
        &data,
        "--service",
        "shop",
        "--format",
        "folded",
    ]);
    assert!(
        folded.contains("main;serve;hot_loop 800000000\n"),
        "{folded}"
    );
    assert_eq!(folded.lines().count(), 6);

    let ss = json(&[
        "flamegraph",
        "--data",
        &data,
        "--service",
        "shop",
        "--format",
        "speedscope",
    ]);
    assert_eq!(ss["profiles"][0]["unit"], "nanoseconds");
    assert_eq!(ss["profiles"][0]["endValue"], 2_000_000_000i64);

    // pprof out, read back by profcol itself: same stacks.
    let pb = d.path().join("shop.pb.gz");
    ok(&[
        "flamegraph",
        "--data",
        &data,
        "--service",
        "shop",
        "-o",
        pb.to_str().unwrap(),
    ]);
    let back = ok(&["convert", pb.to_str().unwrap(), "--to", "folded"]);
    assert!(back.contains("main;serve;hot_loop 800000000\n"), "{back}");
}

#[test]
fn query_prints_sql_results() {
    let (_d, data) = known();
    let text = ok(&[
        "query",
        "--data",
        &data,
        "SELECT service_name, service_version, count(*) AS samples, sum(value) AS cpu_ns \
         FROM samples WHERE sample_type = 'cpu' GROUP BY 1, 2 ORDER BY 1, 2",
    ]);
    assert_eq!(
        text,
        "service_name  service_version  samples      cpu_ns\n\
         ------------  ---------------  -------  ----------\n\
         cart          v1                     1  5000000000\n\
         shop          v1                   100  1000000000\n\
         shop          v2                   100  1000000000\n"
    );
    let csv = ok(&[
        "query",
        "--data",
        &data,
        "--format",
        "csv",
        "SELECT frames_function_name[1] AS leaf, count(*) AS n FROM samples \
         WHERE service_name = 'shop' AND sample_type = 'cpu' GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    ]);
    assert_eq!(csv, "leaf,n\nhot_loop,80\n");
    let out = profcol(&["query", "--data", &data, "SELECT nope FROM samples"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

/// `go tool pprof -top` rows: (flat seconds, cum seconds, function).
fn go_top(go: &Path, file: &Path) -> Vec<(f64, f64, String)> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut cmd = Command::new(go);
    cmd.env("GOCACHE", home.join(".cache/profcol-go-cache"))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .args(["tool", "pprof", "-top", "-symbolize=none", "-nodecount=10"])
        .arg(file);
    let out = common::output_with_timeout(cmd, Duration::from_secs(180));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let secs = |s: &str| -> f64 {
        if s == "0" {
            0.0
        } else if let Some(v) = s.strip_suffix("ms") {
            v.parse::<f64>().unwrap() / 1e3
        } else {
            s.strip_suffix('s').unwrap().parse().unwrap()
        }
    };
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (secs(f[0]), secs(f[3]), f[5..].join(" "))
        })
        .collect()
}

#[test]
fn top_on_one_pprof_file_agrees_with_go_tool_pprof() {
    let file = common::testdata("google-pprof/large.cpu");
    let go = common::go();
    let want = go_top(&go, &file);
    assert!(want.len() >= 3, "{want:?}");
    let got = json(&[
        "top",
        "--input",
        file.to_str().unwrap(),
        "-n",
        "3",
        "--format",
        "json",
    ]);
    for (i, (flat, cum, name)) in want.iter().take(3).enumerate() {
        assert_eq!(got[i]["function"], name.as_str(), "row {i}: {got}");
        let self_s = got[i]["self"].as_i64().unwrap() as f64 / 1e9;
        let total_s = got[i]["total"].as_i64().unwrap() as f64 / 1e9;
        assert!((self_s - flat).abs() < 0.006, "row {i}: {self_s} vs {flat}");
        assert!((total_s - cum).abs() < 0.006, "row {i}: {total_s} vs {cum}");
    }
    // The table names the type chosen (CPU over the sample count) and shows seconds.
    let text = ok(&["top", "--input", file.to_str().unwrap(), "-n", "1"]);
    assert!(text.starts_with("cpu:nanoseconds:"), "{text}");
    assert!(text.contains(&want[0].2), "{text}");
    // And a flame graph of the same file.
    let d = tempfile::tempdir().unwrap();
    let svg = d.path().join("large.svg");
    ok(&[
        "flamegraph",
        "--input",
        file.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(
        svg_titles(&svg)
            .iter()
            .any(|t| t.starts_with(&format!("{} ", want[0].2)))
    );
}

#[test]
fn top_on_a_folded_file() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("x.folded");
    std::fs::write(&f, "main;a;hot 70\nmain;b 20\nmain;a 10\n").unwrap();
    let v = json(&["top", "--input", f.to_str().unwrap(), "--format", "json"]);
    assert_eq!(v[0]["function"], "hot");
    assert_eq!(v[0]["self"], 70);
    assert_eq!(v[0]["self%"], 70.0);
    let a = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["function"] == "a")
        .unwrap();
    assert_eq!(a["total"], 80);
    let text = ok(&["top", "--input", f.to_str().unwrap(), "-n", "1"]);
    assert!(
        text.starts_with("samples:count::: 3 samples, total 100"),
        "{text}"
    );
}
