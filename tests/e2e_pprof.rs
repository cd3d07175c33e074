//! End-to-end tests of profcol's pprof support, with Go's own `go tool pprof` as the oracle:
//! `profcol convert` round trips (pprof → OTLP → pprof) of every real profile.proto fixture,
//! bad and odd inputs, `--stats`, folded stacks, scraping a real Go program's `/debug/pprof`
//! (client-side deltas) and HTTP push to the `pprof` receiver.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    Http, Profcol, free_port, metric_sum, profcol_cmd, read_proto_records, telemetry_yaml, testdata,
};
use profcol_pdata::ExportProfilesServiceRequest;
use prost::Message;

const LEGACY_MESSAGE: &str =
    "legacy pprof format not supported; convert with 'go tool pprof -proto'";

// ---------------------------------------------------------------------------------------------
// Go tooling
// ---------------------------------------------------------------------------------------------

/// A `go` command with a private build cache, no network and no inherited GOFLAGS.
fn go_command(go: &Path) -> Command {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut cmd = Command::new(go);
    cmd.env("GOCACHE", home.join(".cache/profcol-go-cache"))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("PPROF_TMPDIR", std::env::temp_dir());
    cmd
}

/// `go tool pprof -raw -symbolize=none FILE`: stdout, or Go's error text.
fn go_pprof_raw(go: &Path, file: &Path) -> Result<Vec<u8>, String> {
    let mut cmd = go_command(go);
    cmd.args(["tool", "pprof", "-raw", "-symbolize=none"])
        .arg(file);
    let out = common::output_with_timeout(cmd, Duration::from_secs(120));
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing `go tool pprof -raw` (google/pprof `Profile.String()`)
// ---------------------------------------------------------------------------------------------

/// One label as Go prints it: `key:[inner]`, from the string-label or the numeric-label line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawLabel {
    key: String,
    /// What is between the brackets: one string value, `num`, or `num unit`.
    value: String,
    numeric: bool,
}

#[derive(Debug, Default)]
struct RawSample {
    values: Vec<i64>,
    locations: Vec<u64>,
    labels: Vec<RawLabel>,
}

/// What the oracle compares, parsed from Go's text dump.
#[derive(Debug, Default)]
struct RawProfile {
    /// `Comment:`, `PeriodType:`, `Period:`, `Time:`, `Duration:` lines.
    header: Vec<String>,
    /// The sample type line, e.g. `samples/count cpu/nanoseconds[dflt]`.
    types_line: String,
    /// `type/unit` per value index.
    types: Vec<String>,
    samples: Vec<RawSample>,
    /// Location id → identity text: address, `[F]`, and each line's
    /// `function file:line s=start_line(system_name)`, leaf first.
    locations: BTreeMap<u64, String>,
    /// Mapping lines without their id: `start/limit/offset file build_id [flags]`.
    mappings: Vec<String>,
}

/// `key:[...]` entries of a label line. The next entry starts after `] ` at a key without
/// spaces followed by `:[`; values are kept whole (Go prints several values space-separated).
fn parse_label_line(line: &str, numeric: bool) -> Vec<RawLabel> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find(":[") {
        let key = rest[..open].to_owned();
        let body = &rest[open + 2..];
        // The closing bracket: the last `]` of the line, or one followed by ` key:[`.
        let mut end = None;
        for (i, _) in body.match_indices(']') {
            let after = &body[i + 1..];
            if after.is_empty() {
                end = Some((i, after));
                break;
            }
            if let Some(next) = after.strip_prefix(' ')
                && let Some(k) = next.find(":[")
                && !next[..k].contains([' ', ']', '['])
            {
                end = Some((i, next));
                break;
            }
        }
        let Some((close, next)) = end else {
            out.push(RawLabel {
                key,
                value: body.to_owned(),
                numeric,
            });
            break;
        };
        out.push(RawLabel {
            key,
            value: body[..close].to_owned(),
            numeric,
        });
        rest = next;
    }
    out
}

/// Whether a label value looks like Go's numeric rendering (`123` or `123 unit`).
fn looks_numeric(value: &str) -> bool {
    let num = value.split_once(' ').map_or(value, |(n, _)| n);
    let digits = num.strip_prefix('-').unwrap_or(num);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `   12   3456: 1 2 3 ` → values and location ids, when the line is a sample line.
fn parse_sample_line(line: &str, n_types: usize) -> Option<(Vec<i64>, Vec<u64>)> {
    let (left, right) = line.split_once(": ")?;
    let values: Vec<i64> = left
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() != n_types {
        return None;
    }
    let locations: Vec<u64> = right
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    Some((values, locations))
}

/// `     7: 0x4a1b2c M=1 [F] rest` → (7, "0x4a1b2c [F]", rest).
fn parse_location_line(line: &str) -> Option<(u64, String, String)> {
    let t = line.trim_start();
    let (id, rest) = t.split_once(": ")?;
    let id: u64 = id.parse().ok()?;
    let rest = rest.strip_prefix("0x")?;
    let (addr, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if !addr.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if let Some(r) = rest.strip_prefix("M=")
        && let Some((m, after)) = r.split_once(' ')
        && m.bytes().all(|b| b.is_ascii_digit())
    {
        rest = after;
    }
    let mut head = format!("0x{addr}");
    if let Some(r) = rest.strip_prefix("[F] ") {
        head.push_str(" [F]");
        rest = r;
    }
    Some((id, head, rest.to_owned()))
}

fn parse_raw(bytes: &[u8]) -> RawProfile {
    // Lossy per line: profcol replaces invalid UTF-8 in each string with U+FFFD.
    let lines: Vec<String> = bytes
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let mut p = RawProfile::default();
    let mut i = 0;
    while i < lines.len() && lines[i] != "Samples:" {
        p.header.push(lines[i].clone());
        i += 1;
    }
    assert!(
        i < lines.len(),
        "no 'Samples:' line in go tool pprof -raw output"
    );
    i += 1;
    p.types_line = lines.get(i).cloned().unwrap_or_default();
    p.types = p
        .types_line
        .split_whitespace()
        .map(|t| t.trim_end_matches("[dflt]").to_owned())
        .collect();
    i += 1;
    // Label lines of the current sample; a line that is neither a sample nor a label line
    // continues the previous one (a string with a newline in it).
    let mut label_lines: Vec<String> = Vec::new();
    let flush = |s: Option<&mut RawSample>, label_lines: &mut Vec<String>| {
        if let Some(s) = s {
            // Go prints the string labels first, then the numeric ones, each on its own line.
            for (n, text) in label_lines.iter().enumerate() {
                let numeric = if n == 0 {
                    let parsed = parse_label_line(text, false);
                    label_lines.len() == 1
                        && !parsed.is_empty()
                        && parsed.iter().all(|l| looks_numeric(&l.value))
                } else {
                    true
                };
                s.labels.extend(parse_label_line(text, numeric));
            }
        }
        label_lines.clear();
    };
    while i < lines.len() && lines[i] != "Locations" {
        let line = &lines[i];
        i += 1;
        if let Some((values, locations)) = parse_sample_line(line, p.types.len()) {
            flush(p.samples.last_mut(), &mut label_lines);
            p.samples.push(RawSample {
                values,
                locations,
                labels: Vec::new(),
            });
        } else if let Some(text) = line.strip_prefix("                ") {
            label_lines.push(text.to_owned());
        } else if let Some(last) = label_lines.last_mut() {
            last.push('\n');
            last.push_str(line);
        } else {
            panic!("unexpected line in the samples of go tool pprof -raw: {line:?}");
        }
    }
    flush(p.samples.last_mut(), &mut label_lines);
    i += 1;
    let mut current: Option<u64> = None;
    while i < lines.len() && lines[i] != "Mappings" {
        let line = &lines[i];
        i += 1;
        if let Some((id, head, rest)) = parse_location_line(line) {
            let text = if rest.is_empty() {
                head
            } else {
                format!("{head} {rest}")
            };
            p.locations.insert(id, text);
            current = Some(id);
        } else if let Some(t) = current.and_then(|id| p.locations.get_mut(&id)) {
            // An inlined frame (13 spaces), or the rest of a string with a newline in it.
            match line.strip_prefix("             ") {
                Some(more) => {
                    t.push_str(" | ");
                    t.push_str(more);
                }
                None => {
                    t.push('\n');
                    t.push_str(line);
                }
            }
        } else if !line.is_empty() {
            panic!("unexpected line in the locations of go tool pprof -raw: {line:?}");
        }
    }
    i += 1;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() {
            continue;
        }
        let m = line.split_once(": ").map_or(line, |(_, m)| m);
        p.mappings
            .push(m.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    p
}

/// Parses exactly `2 * n` hex digits that are not all zero, lowercased.
fn hex_id(s: &str, n: usize) -> Option<String> {
    (s.len() == 2 * n && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0'))
        .then(|| s.to_ascii_lowercase())
}

/// The labels profcol is expected to give back for the original's labels (spec §3.4, §4.4):
/// the first string label among `span_id`, `profile_id` holding 16 hex digits comes back as
/// `span_id` (lowercase), a `trace_id` of 32 hex digits comes back lowercase; everything else
/// unchanged.
fn expected_labels(labels: &[RawLabel]) -> Vec<RawLabel> {
    let mut out: Vec<RawLabel> = labels.to_vec();
    for (keys, n) in [(&["span_id", "profile_id"][..], 8), (&["trace_id"][..], 16)] {
        let found = keys.iter().find_map(|k| {
            out.iter()
                .position(|l| !l.numeric && l.key == *k)
                .map(|pos| (pos, k))
        });
        if let Some((pos, _)) = found
            && let Some(id) = hex_id(&out[pos].value, n)
        {
            out.remove(pos);
            out.push(RawLabel {
                key: keys[0].to_owned(),
                value: id,
                numeric: false,
            });
        }
    }
    out
}

fn label_key(labels: &[RawLabel]) -> String {
    let mut v: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={}", l.key, l.value))
        .collect();
    v.sort();
    v.join(", ")
}

/// `(type/unit, stack, labels)` → total, leaving out zero totals.
type Series = BTreeMap<(String, String, String), i128>;

impl RawProfile {
    fn stack(&self, ids: &[u64]) -> String {
        ids.iter()
            .map(|id| {
                self.locations
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| format!("<unknown location {id}>"))
            })
            .collect::<Vec<_>>()
            .join(" <- ")
    }

    fn series(&self, normalize_labels: bool) -> Series {
        let mut m = Series::new();
        for s in &self.samples {
            let stack = self.stack(&s.locations);
            let labels = if normalize_labels {
                label_key(&expected_labels(&s.labels))
            } else {
                label_key(&s.labels)
            };
            for (t, v) in self.types.iter().zip(&s.values) {
                *m.entry((t.clone(), stack.clone(), labels.clone()))
                    .or_insert(0) += i128::from(*v);
            }
        }
        m.retain(|_, v| *v != 0);
        m
    }

    fn totals(&self) -> BTreeMap<String, i128> {
        let mut m: BTreeMap<String, i128> = self.types.iter().map(|t| (t.clone(), 0)).collect();
        for s in &self.samples {
            for (t, v) in self.types.iter().zip(&s.values) {
                *m.entry(t.clone()).or_insert(0) += i128::from(*v);
            }
        }
        m
    }

    /// The sample type tools show by default: the one marked `[dflt]`, else the last.
    fn default_type(&self) -> String {
        self.types_line
            .split_whitespace()
            .find_map(|t| t.strip_suffix("[dflt]"))
            .map(str::to_owned)
            .or_else(|| self.types.last().cloned())
            .unwrap_or_default()
    }
}

fn diff_series(expected: &Series, got: &Series) -> String {
    let keys: BTreeSet<_> = expected.keys().chain(got.keys()).collect();
    let mut out = String::new();
    let mut n = 0;
    for k in keys {
        let (a, b) = (expected.get(k), got.get(k));
        if a != b {
            n += 1;
            if n <= 8 {
                out.push_str(&format!(
                    "  type {}\n    labels {{{}}}\n    stack {}\n    expected {a:?}, got {b:?}\n",
                    k.0, k.2, k.1
                ));
            }
        }
    }
    if n > 8 {
        out.push_str(&format!("  ... {} differing series in all\n", n));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// profcol helpers
// ---------------------------------------------------------------------------------------------

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit 0, or exit 1 with a line starting `error:`; never a panic (101) or a signal.
fn assert_clean_outcome(what: &str, out: &Output) {
    let stderr = text(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(1) => assert!(
            stderr.lines().any(|l| l.starts_with("error:")),
            "{what}: exit 1 without an 'error:' line; stderr:\n{stderr}"
        ),
        other => panic!(
            "{what}: exit status {other:?} ({}), expected 0 or 1; stderr:\n{stderr}",
            out.status
        ),
    }
}

/// `profcol convert IN --to pprof -o DIR/out.pb.gz`; the one output file (fails on more).
fn convert_to_pprof(input: &Path, dir: &Path) -> PathBuf {
    let out_path = dir.join("out.pb.gz");
    let out = profcol_cmd(
        &[
            "convert",
            &input.display().to_string(),
            "--to",
            "pprof",
            "-o",
            &out_path.display().to_string(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "profcol convert {} --to pprof failed ({}): {}",
        input.display(),
        out.status,
        text(&out.stderr)
    );
    let written: Vec<String> = std::fs::read_dir(dir)
        .expect("reading the output dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        written,
        vec!["out.pb.gz".to_owned()],
        "{}: pprof → pprof must reassemble one profile, but profcol wrote {written:?}; stderr:\n{}",
        input.display(),
        text(&out.stderr)
    );
    out_path
}

/// Per `type/unit` totals from `profcol convert FILE --stats` (stderr
/// `profile N: type/unit: K samples, total T`), in profile order.
fn profcol_stats(input: &Path) -> Vec<(String, i128)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("stats.otlp");
    let out = profcol_cmd(
        &[
            "convert",
            &input.display().to_string(),
            "--stats",
            "--to",
            "otlp",
            "-o",
            &out_path.display().to_string(),
        ],
        &[],
    );
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "profcol convert --stats {} failed: {stderr}",
        input.display()
    );
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("profile ")?;
            let (_, rest) = rest.split_once(": ")?;
            let (ty, rest) = rest.split_once(": ")?;
            let total = rest.rsplit_once("total ")?.1.trim().parse().ok()?;
            Some((ty.to_owned(), total))
        })
        .collect()
}

/// Every profile.proto fixture: google-pprof (large.cpu, go.nomappings.crash when gzip, the
/// `legacy/*.converted.pb.gz`), grafana-pyroscope/pprof/*, grafana-alloy/*.pprof.
fn proto_fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files.push(testdata("google-pprof/large.cpu"));
    let p = testdata("google-pprof/go.nomappings.crash");
    if std::fs::read(&p).is_ok_and(|b| b.starts_with(&[0x1f, 0x8b])) {
        files.push(p);
    }
    let mut list = |dir: &str, keep: &dyn Fn(&str) -> bool| {
        let d = testdata(dir);
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("reading test data")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(keep))
            .collect();
        v.sort();
        files.extend(v);
    };
    list("google-pprof/legacy", &|n| n.ends_with(".converted.pb.gz"));
    list("grafana-pyroscope/pprof", &|n| !n.ends_with(".md"));
    list("grafana-alloy", &|n| n.ends_with(".pprof"));
    files
}

// ---------------------------------------------------------------------------------------------
// 1. Round trip through profcol, checked by go tool pprof
// ---------------------------------------------------------------------------------------------

/// For every profile.proto fixture Go can read: pprof → OTLP → pprof through `profcol convert`
/// yields one profile that Go reads back with the same header (period, time, duration,
/// comments), the same sample types in the same order with the same default, the same mappings,
/// and per sample type the same total and the same total per (stack of locations, label set).
#[test]
fn go_pprof_oracle_round_trip() {
    let go = common::go();
    let files = proto_fixtures();
    if files.is_empty() {
        return;
    }
    let start = Instant::now();
    let mut compared = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for input in &files {
        let name = input
            .strip_prefix(input.ancestors().nth(2).unwrap_or(Path::new("")))
            .unwrap_or(input)
            .display()
            .to_string();
        let original = match go_pprof_raw(&go, input) {
            Ok(o) => parse_raw(&o),
            Err(e) => {
                eprintln!("NOTE: go tool pprof cannot read {name}, not compared: {e}");
                skipped.push(name);
                continue;
            }
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let out = convert_to_pprof(input, dir.path());
        let back = match go_pprof_raw(&go, &out) {
            Ok(o) => parse_raw(&o),
            Err(e) => {
                failures.push(format!(
                    "{name}: go tool pprof cannot read profcol's output: {e}"
                ));
                continue;
            }
        };
        let mut problems = Vec::new();
        if original.header != back.header {
            problems.push(format!(
                "header differs:\n    original {:?}\n    profcol  {:?}",
                original.header, back.header
            ));
        }
        if original.types_line != back.types_line {
            problems.push(format!(
                "sample types differ: original {:?}, profcol {:?}",
                original.types_line, back.types_line
            ));
        }
        if original.totals() != back.totals() {
            problems.push(format!(
                "totals per sample type differ: original {:?}, profcol {:?}",
                original.totals(),
                back.totals()
            ));
        }
        let (want, got) = (original.series(true), back.series(false));
        if want != got {
            problems.push(format!(
                "totals per (stack, labels) differ:\n{}",
                diff_series(&want, &got)
            ));
        }
        if original.mappings != back.mappings {
            problems.push(format!(
                "mappings differ:\n    original {:?}\n    profcol  {:?}",
                original.mappings, back.mappings
            ));
        }
        if problems.is_empty() {
            compared.push(format!(
                "{name} ({} samples, {} series)",
                original.samples.len(),
                want.len()
            ));
        } else {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    eprintln!(
        "round trip matched go tool pprof for {} files in {:?}: {}",
        compared.len(),
        start.elapsed(),
        compared.join("; ")
    );
    assert!(
        failures.is_empty(),
        "{} of {} files differ after pprof → OTLP → pprof:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(
        skipped.len() <= 2,
        "go tool pprof could not read {} fixtures (at most 2 expected): {skipped:?}",
        skipped.len()
    );
    assert!(
        compared.len() >= 20 || compared.len() + skipped.len() == files.len(),
        "only {} files compared",
        compared.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Edge inputs through `profcol convert`
// ---------------------------------------------------------------------------------------------

/// Real profiles with quirks convert (to pprof and to OTLP/JSON): invalid UTF-8 becomes U+FFFD
/// with a warning, locations without address or line, truncated Go stacks, and raw protobuf
/// files named `.gz`. profcol repairs the .NET file's all-zero ids, so Go reads its output with
/// the same totals.
#[test]
fn quirky_real_profiles_convert() {
    let names = [
        "invalid_utf8.pb.gz",
        "no_addr_no_line.pb.gz",
        "cpu_go_truncated_1.pb.gz",
        "dotnet-pprof-3.pb.gz",
        "pyspy-1.pb.gz",
    ];
    for name in names {
        let input = testdata(&format!("grafana-pyroscope/pprof/{name}"));
        let arg = input.display().to_string();
        let dir = tempfile::tempdir().expect("tempdir");
        let out_pprof = convert_to_pprof(&input, dir.path());
        let json = profcol_cmd(&["convert", &arg, "--to", "otlp-json"], &[]);
        assert_clean_outcome(name, &json);
        assert!(
            json.status.success(),
            "{name}: convert to otlp-json failed: {}",
            text(&json.stderr)
        );
        let req = profcol_pdata::json::decode_request(&json.stdout)
            .unwrap_or_else(|e| panic!("{name}: profcol's OTLP/JSON does not decode: {e}"));
        assert!(
            profcol_pdata::sample_count(&req) > 0,
            "{name}: no samples in the OTLP/JSON"
        );
        if name == "invalid_utf8.pb.gz" {
            assert!(
                text(&json.stderr).contains("not valid UTF-8"),
                "{name}: no warning about invalid UTF-8: {}",
                text(&json.stderr)
            );
            let strings = &req.dictionary.as_ref().expect("dictionary").string_table;
            assert!(
                strings.iter().any(|s| s.contains('\u{FFFD}')),
                "{name}: no U+FFFD in the string table: {strings:?}"
            );
        }
        // The pprof output reads back with the same per-type totals as the input.
        let (a, b) = (profcol_stats(&input), profcol_stats(&out_pprof));
        let sorted = |v: &[(String, i128)]| v.iter().cloned().collect::<BTreeMap<_, _>>();
        assert_eq!(
            sorted(&a),
            sorted(&b),
            "{name}: totals change in pprof → pprof"
        );
        assert!(!a.is_empty(), "{name}: --stats printed no profiles");
        if name == "dotnet-pprof-3.pb.gz" {
            let go = common::go();
            let raw = go_pprof_raw(&go, &out_pprof).unwrap_or_else(|e| {
                panic!("{name}: go tool pprof cannot read profcol's repaired output: {e}")
            });
            let totals = parse_raw(&raw).totals();
            assert_eq!(
                totals,
                sorted(&a),
                "{name}: Go's totals of profcol's output differ from profcol --stats of the input"
            );
        }
    }
}

/// Every file of google-pprof/legacy that is not profile.proto fails cleanly: the legacy
/// profiles (binary CPU, heap text) with the legacy message, Go's text dumps (`*.string`) with
/// an `error:` line. Sniffed and with `--from pprof`.
#[test]
fn legacy_formats_are_refused() {
    let dir = testdata("google-pprof/legacy");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reading legacy dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.to_string_lossy().ends_with(".converted.pb.gz"))
        .collect();
    files.sort();
    let mut legacy = 0;
    for f in &files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let is_dump = name.ends_with(".string");
        for from in [None, Some("pprof")] {
            let out_dir = tempfile::tempdir().expect("tempdir");
            let out_path = out_dir.path().join("out.pb.gz");
            let mut args = vec![
                "convert".to_owned(),
                f.display().to_string(),
                "--to".into(),
                "pprof".into(),
                "-o".into(),
                out_path.display().to_string(),
            ];
            if let Some(fr) = from {
                args.extend(["--from".into(), fr.into()]);
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = profcol_cmd(&argv, &[]);
            let what = format!("{name} (--from {from:?})");
            assert_clean_outcome(&what, &out);
            assert_eq!(out.status.code(), Some(1), "{what}: expected exit 1");
            let stderr = text(&out.stderr);
            if !is_dump {
                assert!(
                    stderr.contains(LEGACY_MESSAGE),
                    "{what}: stderr lacks the legacy message: {stderr}"
                );
            }
            assert!(!out_path.exists(), "{what}: wrote an output anyway");
        }
        if !is_dump {
            legacy += 1;
        }
    }
    assert!(legacy >= 4, "expected 4 legacy profiles, found {legacy}");
}

/// xorshift64*: deterministic pseudo-random bytes.
fn pseudo_random(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip")
}

/// Random bytes (raw, gzip-wrapped, behind a gzip magic), and large.cpu cut at 10 offsets
/// (compressed and decompressed): every run either converts or exits 1 with an `error:` line,
/// never a panic or a signal, whatever `--from` says.
#[test]
fn garbage_and_truncated_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for seed in [1u64, 0xdead_beef, 42] {
        let r = pseudo_random(seed, 4096);
        inputs.push((format!("random-{seed:x}"), r.clone()));
        inputs.push((format!("random-{seed:x}.gz"), gzip(&r)));
        let mut magic = vec![0x1f, 0x8b];
        magic.extend_from_slice(&r);
        inputs.push((format!("random-{seed:x}-gzip-magic"), magic));
    }
    let mut truncated: Vec<(String, Vec<u8>)> = Vec::new();
    {
        let large = testdata("google-pprof/large.cpu");
        let gz = std::fs::read(&large).expect("reading large.cpu");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain)
            .expect("gunzip large.cpu");
        for (label, data) in [("gz", &gz), ("raw", &plain)] {
            for k in 1..=10usize {
                // Spread over the file, plus an odd shift so cuts land inside fields.
                let at = (data.len() * k / 11 + k * 7).min(data.len() - 1);
                truncated.push((format!("large.cpu.{label}.cut{at}"), data[..at].to_vec()));
            }
        }
    }
    let mut runs = 0;
    let mut converted = 0;
    for (set, formats) in [
        (
            &inputs,
            &[
                None,
                Some("pprof"),
                Some("otlp"),
                Some("otlp-json"),
                Some("folded"),
            ][..],
        ),
        (&truncated, &[None, Some("pprof")][..]),
    ] {
        for (name, bytes) in set.iter() {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("writing input");
            for from in formats {
                let out_path = dir.path().join("out.json");
                let _ = std::fs::remove_file(&out_path);
                let mut args = vec![
                    "convert".to_owned(),
                    path.display().to_string(),
                    "-o".into(),
                    out_path.display().to_string(),
                ];
                if let Some(f) = from {
                    args.extend(["--from".into(), (*f).into()]);
                }
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = profcol_cmd(&argv, &[]);
                assert_clean_outcome(&format!("{name} --from {from:?}"), &out);
                runs += 1;
                if out.status.success() {
                    converted += 1;
                }
            }
        }
    }
    eprintln!("{runs} garbage/truncated conversions, {converted} of them exit 0");
    assert!(runs >= 3 * 3 * 5, "only {runs} conversions ran");
}

/// `profcol convert --stats` on large.cpu prints one line per sample type, the default type
/// first, with the totals go tool pprof computes.
#[test]
fn stats_match_go_totals() {
    let go = common::go();
    let large = testdata("google-pprof/large.cpu");
    let raw = parse_raw(&go_pprof_raw(&go, &large).expect("go tool pprof reads large.cpu"));
    let stats = profcol_stats(&large);
    assert_eq!(
        stats.len(),
        raw.types.len(),
        "profile lines {stats:?} vs Go's sample types {:?}",
        raw.types
    );
    assert_eq!(
        stats[0].0,
        raw.default_type(),
        "the first profile is not the default sample type"
    );
    let got: BTreeMap<String, i128> = stats.into_iter().collect();
    assert_eq!(
        got,
        raw.totals(),
        "--stats totals differ from go tool pprof's"
    );
    assert!(got.values().all(|&v| v > 0), "zero totals: {got:?}");
}

/// `a;b;c 12` lines summed per stack.
fn folded_totals(text: &str) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let (stack, count) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("folded line without a count: {line:?}"));
        let n: i64 = count
            .parse()
            .unwrap_or_else(|_| panic!("bad count in {line:?}"));
        *m.entry(stack.to_owned()).or_insert(0) += n;
    }
    m
}

/// Brendan Gregg's folded stacks → OTLP/JSON → folded give the input's totals per stack.
#[test]
fn folded_round_trip_through_otlp_json() {
    let dir = testdata("brendangregg-FlameGraph");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reading FlameGraph dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no folded fixtures in {}", dir.display());
    for input in files {
        let name = input.file_name().unwrap_or_default().to_string_lossy();
        let expected = folded_totals(&std::fs::read_to_string(&input).expect("reading input"));
        let tmp = tempfile::tempdir().expect("tempdir");
        let json = tmp.path().join("profile.json");
        let folded = tmp.path().join("back.folded");
        for (from, to) in [(&input, &json), (&json, &folded)] {
            let out = profcol_cmd(
                &[
                    "convert",
                    &from.display().to_string(),
                    "-o",
                    &to.display().to_string(),
                ],
                &[],
            );
            assert!(
                out.status.success(),
                "{name}: convert {} -o {} failed: {}",
                from.display(),
                to.display(),
                text(&out.stderr)
            );
        }
        let written = std::fs::read_dir(tmp.path()).expect("listing").count();
        assert_eq!(
            written, 2,
            "{name}: expected profile.json and back.folded only"
        );
        let got = folded_totals(&std::fs::read_to_string(&folded).expect("reading output"));
        assert_eq!(got.len(), expected.len(), "{name}: stack count differs");
        for (stack, n) in &expected {
            assert_eq!(
                got.get(stack),
                Some(n),
                "{name}: total of stack {stack:?} differs"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Scraping a real Go program
// ---------------------------------------------------------------------------------------------

fn resource_attr(rp: &profcol_pdata::proto::ResourceProfiles, key: &str) -> Option<String> {
    rp.resource.as_ref().and_then(|r| {
        r.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| profcol_pdata::view::any_value_text(kv.value.as_ref()))
    })
}

/// Whether some sample of type `ty/unit` has a frame named `function`.
fn has_frame(reqs: &[ExportProfilesServiceRequest], ty: (&str, &str), function: &str) -> bool {
    reqs.iter().any(|req| {
        profcol_pdata::samples(req)
            .any(|s| s.sample_type() == ty && s.frames().iter().any(|f| f.function == function))
    })
}

/// The summed values of every sample of type `ty/unit`.
fn type_total(reqs: &[ExportProfilesServiceRequest], ty: (&str, &str)) -> i128 {
    reqs.iter()
        .flat_map(profcol_pdata::samples)
        .filter(|s| s.sample_type() == ty)
        .map(|s| i128::from(s.total()))
        .sum()
}

fn alloc_space_total(stats: &[(String, i128)]) -> i128 {
    stats
        .iter()
        .find(|(t, _)| t == "alloc_space/bytes")
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no alloc_space/bytes in {stats:?}"))
}

/// The Go program's cumulative allocation profile, fetched directly.
fn fetch_allocs(http: &Http, port: u16, dir: &Path, name: &str) -> Vec<(String, i128)> {
    let r = http.request(
        "GET",
        &format!("http://127.0.0.1:{port}/debug/pprof/allocs"),
        &[],
        Vec::new(),
    );
    assert_eq!(r.status, 200, "GET /debug/pprof/allocs");
    let path = dir.join(name);
    std::fs::write(&path, &r.body).expect("writing allocs");
    profcol_stats(&path)
}

/// profcol scrapes a real Go service (net/http/pprof) next to a target that does not exist:
/// CPU profiles show `main.burnCPU`, allocation profiles show `main.allocateBuffers` as
/// client-side deltas (the first scrape only primes, so the forwarded allocation total stays
/// within what the program allocated while profcol ran), no value is negative, the target's
/// labels become resource attributes, and the dead target only counts errors.
#[test]
fn scrape_real_go_program() {
    let go = common::go();
    let bin_dir = tempfile::tempdir().expect("tempdir");
    let src = common::repo_root().join("tests/go/pprofserver");
    let mut build = go_command(&go);
    build
        .args(["build", "-o"])
        .arg(bin_dir.path().join("pprofserver"))
        .arg("main.go")
        .current_dir(&src);
    let built = common::output_with_timeout(build, Duration::from_secs(300));
    assert!(
        built.status.success(),
        "go build of tests/go/pprofserver failed: {}",
        text(&built.stderr)
    );

    let go_port = free_port();
    let server = Command::new(bin_dir.path().join("pprofserver"))
        .arg(format!("127.0.0.1:{go_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting pprofserver");
    let spawned = Instant::now();
    let _server = KillOnDrop(server);
    let up = common::poll(Duration::from_secs(20), || {
        common::http_get(go_port, "/debug/pprof/").filter(|(c, _)| *c == 200)
    });
    assert!(up.is_some(), "pprofserver did not answer on port {go_port}");
    // Let the program allocate for more than a scrape interval first, so that a forwarded
    // cumulative first scrape would exceed what it allocates while profcol runs (checked below).
    if let Some(rest) = Duration::from_secs(5).checked_sub(spawned.elapsed()) {
        std::thread::sleep(rest);
    }

    let http = Http::new();
    let work = tempfile::tempdir().expect("tempdir");
    // Everything allocated before profcol starts must never be forwarded.
    let before = alloc_space_total(&fetch_allocs(&http, go_port, work.path(), "before.pb.gz"));

    let (dead_port, metrics) = (free_port(), free_port());
    // Outside profcol's own dir, which goes away with it.
    let out_file = work.path().join("scraped.pb");
    let out = out_file.display();
    let yaml = format!(
        r#"receivers:
  pprof:
    remote:
      targets:
        - endpoint: 127.0.0.1:{go_port}
          labels: {{service.name: pprofserver}}
        - endpoint: 127.0.0.1:{dead_port}
          labels: {{service.name: ghost}}
      scrape_interval: 3s
      scrape_timeout: 2s
      delta_profiling_duration: 2s
      profiles:
        goroutine: {{enabled: false}}
        # Naming a type must keep its default path (/debug/pprof/allocs).
        memory: {{enabled: true}}
exporters:
  file:
    path: "{out}"
    format: proto
    flush_interval: 200ms
service:
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [file]
{}"#,
        telemetry_yaml(Some(metrics))
    );
    let started = Instant::now();
    let mut pc = Profcol::start("pprof-scrape", &yaml, None);
    pc.wait_ready(Some(metrics));

    // A scraper's `otelcol_scraper_scraped_profile_records_total` (0 when it has none yet).
    let scraped = |scraper: &str| -> u64 {
        let body = common::poll(Duration::from_secs(5), || {
            common::http_get(metrics, "/metrics").map(|(_, b)| b)
        })
        .unwrap_or_default();
        metric_sum(
            &body,
            "otelcol_scraper_scraped_profile_records_total",
            &[&format!("scraper=\"{scraper}\"")],
        )
        .unwrap_or(0)
    };

    let deadline = started + Duration::from_secs(40);
    let (mut cpu_at, mut alloc_at) = (None, None);
    let mut memory_scrapes_at_first_alloc = 0;
    while cpu_at.is_none() || alloc_at.is_none() {
        assert!(
            Instant::now() < deadline,
            "after 40s: cpu with main.burnCPU seen: {}, alloc_space with main.allocateBuffers \
             seen: {}; {} records; profcol stderr:\n{}",
            cpu_at.is_some(),
            alloc_at.is_some(),
            read_proto_records(&out_file).len(),
            pc.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
        let recs = read_proto_records(&out_file);
        if cpu_at.is_none() && has_frame(&recs, ("cpu", "nanoseconds"), "main.burnCPU") {
            cpu_at = Some(started.elapsed());
        }
        if alloc_at.is_none() && type_total(&recs, ("alloc_space", "bytes")) > 0 {
            // Counted before forwarding: when a delta is in the file, the scrape that primed
            // it and the one that produced it are both counted.
            memory_scrapes_at_first_alloc = scraped("memory");
            assert!(
                has_frame(&recs, ("alloc_space", "bytes"), "main.allocateBuffers"),
                "the first allocation profiles lack main.allocateBuffers"
            );
            alloc_at = Some(started.elapsed());
        }
    }
    assert!(
        memory_scrapes_at_first_alloc >= 2,
        "the first alloc_space profile was forwarded after {memory_scrapes_at_first_alloc} \
         memory scrape(s); the first scrape of a cumulative profile must only prime the delta"
    );
    let errored = common::poll(Duration::from_secs(10), || {
        let body = common::http_get(metrics, "/metrics")?.1;
        metric_sum(&body, "otelcol_scraper_errored_profile_records_total", &[]).filter(|&n| n > 0)
    });
    assert!(
        errored.is_some(),
        "the unreachable target was never counted as a scrape error"
    );
    assert!(scraped("process_cpu") > 0, "no CPU scrape counted");
    let log = pc.stop();

    let recs = read_proto_records(&out_file);
    let after = alloc_space_total(&fetch_allocs(&http, go_port, work.path(), "after.pb.gz"));
    let forwarded = type_total(&recs, ("alloc_space", "bytes"));
    assert!(
        forwarded > 0 && forwarded <= after - before,
        "forwarded alloc_space {forwarded} must be > 0 and at most what the program allocated \
         while profcol ran ({after} - {before} = {}); a forwarded first (cumulative) scrape \
         would exceed it",
        after - before
    );
    for req in &recs {
        for rp in &req.resource_profiles {
            assert_eq!(
                resource_attr(rp, "service.name").as_deref(),
                Some("pprofserver"),
                "a profile without service.name=pprofserver (the dead target forwards nothing)"
            );
            assert_eq!(
                resource_attr(rp, "service.instance.id"),
                Some(format!("127.0.0.1:{go_port}"))
            );
        }
        for s in profcol_pdata::samples(req) {
            assert!(
                s.sample.values.iter().all(|&v| v >= 0),
                "negative value in a {:?} sample: {:?}",
                s.sample_type(),
                s.sample.values
            );
        }
    }
    assert!(
        log.contains(&dead_port.to_string()),
        "profcol's log does not mention the unreachable target"
    );
    // Under a forwarded first scrape, `forwarded` would be at least the program's total at the
    // last forwarded scrape, which is more than `after - before` when this holds.
    if 2 * before + forwarded <= after {
        eprintln!(
            "NOTE: the program allocated too little before profcol started for the bound to tell"
        );
    }
    eprintln!(
        "scrape: cpu after {cpu_at:?}, first alloc delta after {alloc_at:?} ({} memory scrapes), \
         {} records, alloc_space forwarded {forwarded} of {} allocated meanwhile ({after} in all)",
        memory_scrapes_at_first_alloc,
        recs.len(),
        after - before
    );
}

// ---------------------------------------------------------------------------------------------
// 4. HTTP push
// ---------------------------------------------------------------------------------------------

/// A pprof with a sample type (`empty_marker/count`) and no samples.
fn empty_pprof() -> Vec<u8> {
    let mut b = vec![0x0a, 0x04, 0x08, 0x01, 0x10, 0x02]; // sample_type {type: 1, unit: 2}
    for s in ["", "empty_marker", "count"] {
        b.push(0x32); // string_table
        b.push(s.len() as u8);
        b.extend_from_slice(s.as_bytes());
    }
    b
}

fn multipart(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{name}.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// `(type/unit, stack)` → total, whatever the resource.
fn by_type_and_stack(s: &common::Summary) -> BTreeMap<(String, String), i64> {
    let mut m = BTreeMap::new();
    for ((_, ty, stack), v) in &s.totals {
        *m.entry((ty.clone(), stack.clone())).or_insert(0) += v;
    }
    m.retain(|_, v| *v != 0);
    m
}

/// The push server takes a Go heap profile raw and as the `profile` part of a multipart form
/// (204 each), drops an empty profile (204, nothing forwarded), refuses a legacy heap text with
/// 400 and the legacy message, and exactly the two accepted profiles reach the file exporter,
/// with the receiver's resource attributes.
#[test]
fn push_server() {
    let heap = testdata("grafana-pyroscope/pprof/go-heap.pb.gz");
    let legacy = testdata("google-pprof/legacy/cppbench.heap");
    let heap_bytes = std::fs::read(&heap).expect("reading go-heap");
    let port = free_port();
    // Outside profcol's own dir, which goes away with it.
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out_file = out_dir.path().join("pushed.pb");
    let out = out_file.display();
    let yaml = format!(
        r#"receivers:
  pprof:
    resource_attributes:
      service.name: pushed
    server:
      endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: "{out}"
    format: proto
    flush_interval: 200ms
service:
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [file]
{}"#,
        telemetry_yaml(None)
    );
    let mut pc = Profcol::start("pprof-push", &yaml, None);
    pc.wait_ready(Some(port));
    let url = format!("http://127.0.0.1:{port}/v1/pprof");
    let http = Http::new();

    let r = http.post(&url, "application/octet-stream", heap_bytes.clone());
    assert_eq!(r.status, 204, "raw push: {}", text(&r.body));
    let boundary = "profcol-e2e-boundary-7f3a";
    let body = multipart(
        boundary,
        &[("meta", b"not a profile"), ("profile", &heap_bytes)],
    );
    let r = http.post(
        &url,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    );
    assert_eq!(r.status, 204, "multipart push: {}", text(&r.body));
    let r = http.post(&url, "application/octet-stream", empty_pprof());
    assert_eq!(r.status, 204, "empty profile: {}", text(&r.body));
    let r = http.post(
        &url,
        "text/plain",
        std::fs::read(&legacy).expect("reading cppbench.heap"),
    );
    assert_eq!(r.status, 400, "legacy heap: {}", text(&r.body));
    assert!(
        text(&r.body).contains(LEGACY_MESSAGE),
        "legacy heap answer lacks the legacy message: {}",
        text(&r.body)
    );

    pc.stop();
    let recs = read_proto_records(&out_file);
    // One request per accepted push; none for the empty profile.
    let resources: usize = recs.iter().map(|r| r.resource_profiles.len()).sum();
    assert_eq!(
        resources,
        2,
        "expected the 2 pushed profiles, {} records",
        recs.len()
    );
    assert!(
        !recs
            .iter()
            .flat_map(|r| r.dictionary.iter().flat_map(|d| &d.string_table))
            .any(|s| s == "empty_marker"),
        "the empty profile was forwarded"
    );
    for req in &recs {
        for rp in &req.resource_profiles {
            assert_eq!(
                resource_attr(rp, "service.name").as_deref(),
                Some("pushed"),
                "resource attributes: {}",
                common::resource_key(rp)
            );
        }
    }

    // Expected: twice what profcol convert makes of the same file.
    let tmp = tempfile::tempdir().expect("tempdir");
    let otlp = tmp.path().join("heap.otlp");
    let out = profcol_cmd(
        &[
            "convert",
            &heap.display().to_string(),
            "--to",
            "otlp",
            "-o",
            &otlp.display().to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "convert: {}", text(&out.stderr));
    let one = ExportProfilesServiceRequest::decode(&std::fs::read(&otlp).expect("otlp")[..])
        .expect("decoding convert output");
    let mut expected = by_type_and_stack(&common::summarize([&one]));
    for v in expected.values_mut() {
        *v *= 2;
    }
    let got = by_type_and_stack(&common::summarize(&recs));
    assert_eq!(
        got.len(),
        expected.len(),
        "series count differs from 2 × the profile"
    );
    assert!(
        got == expected,
        "the file does not hold exactly 2 pushes' samples"
    );

    // And per sample type, twice what go tool pprof counts.
    {
        let go = common::go();
        let raw = parse_raw(&go_pprof_raw(&go, &heap).expect("go reads go-heap"));
        let mut totals: BTreeMap<String, i128> = BTreeMap::new();
        for req in &recs {
            for s in profcol_pdata::samples(req) {
                let (t, u) = s.sample_type();
                *totals.entry(format!("{t}/{u}")).or_insert(0) += i128::from(s.total());
            }
        }
        let want: BTreeMap<String, i128> =
            raw.totals().into_iter().map(|(k, v)| (k, 2 * v)).collect();
        assert_eq!(
            totals, want,
            "per-type totals differ from 2 × go tool pprof's"
        );
    }
}
