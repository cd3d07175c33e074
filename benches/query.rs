//! `top` over >= 10M samples, beside DuckDB running the same SQL on the same files.
//!
//! Generates the Parquet tree once (cached in `$PROFCOL_BENCH_DATA`, default
//! `$TMPDIR/profcol-bench-query-<samples>`), then times:
//! - `top` as `profcol top --type cpu` runs it (profile type resolution + the top query),
//! - the top query alone,
//! - `benches/duckdb_top.py` (the equivalent SQL in DuckDB), when a Python with `duckdb` is found
//!   (`$PROFCOL_PYTHON`, else `~/.cache/profcol-venv/bin/python3`, else `python3`),
//!
//! and prints both times and their ratio. Both engines must agree on the top functions.
//! `PROFCOL_BENCH_SAMPLES` changes the size (default 10,000,000), `PROFCOL_BENCH_RUNS` the runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use profcol_query::ops::{self, TopOptions, TopOrder};
use profcol_query::{Filter, Session};
use profcol_testkit::query_data::{SYNTHETIC_HOTTEST, Synthetic, write_synthetic};

const PROFILE_TYPE: &str = "cpu:nanoseconds:cpu:nanoseconds";

fn env_usize(k: &str, default: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn dir_size(p: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                let (f, b) = dir_size(&path);
                files += f;
                bytes += b;
            } else if path.extension().is_some_and(|x| x == "parquet") {
                files += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (files, bytes)
}

fn data(samples: usize) -> PathBuf {
    let dir = std::env::var_os("PROFCOL_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("profcol-bench-query-{samples}")));
    let marker = dir.join(".complete");
    if marker.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let spec = Synthetic {
        samples,
        ..Default::default()
    };
    eprintln!("generating {samples} samples under {} ...", dir.display());
    let t = Instant::now();
    let files = write_synthetic(&dir, &spec).expect("writing synthetic Parquet");
    std::fs::write(&marker, format!("{spec:?}\n")).expect("marker");
    eprintln!(
        "generated {} files in {:.1} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );
    dir
}

fn python() -> Option<PathBuf> {
    let mut c: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("PROFCOL_PYTHON") {
        c.push(PathBuf::from(p));
    }
    if let Some(h) = std::env::var_os("HOME") {
        c.push(PathBuf::from(h).join(".cache/profcol-venv/bin/python3"));
    }
    c.push(PathBuf::from("python3"));
    c.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn stats(times: &[Duration]) -> (f64, f64) {
    let mut s: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    (s[0], s[s.len() / 2])
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that quick.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("query bench: run with `cargo bench --bench query`");
        return;
    }
    let samples = env_usize("PROFCOL_BENCH_SAMPLES", 10_000_000);
    let runs = env_usize("PROFCOL_BENCH_RUNS", 5).max(1);
    let dir = data(samples);
    let (files, bytes) = dir_size(&dir);
    println!(
        "data: {samples} samples, {files} files, {:.1} MiB at {}",
        bytes as f64 / 1048576.0,
        dir.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let session = rt
        .block_on(Session::open(dir.to_str().expect("UTF-8 path")))
        .expect("opening the data");
    let opts = TopOptions {
        filter: Filter {
            profile_type: Some("cpu".into()),
            ..Default::default()
        },
        limit: 20,
        order: TopOrder::SelfValue,
    };
    // Warm-up (page cache, file metadata), and the answer check.
    let r = rt.block_on(ops::top(&session, &opts)).expect("top");
    assert_eq!(r.rows[0].function, SYNTHETIC_HOTTEST);
    assert_eq!(r.profile.samples as usize, samples);
    let mut full = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rt.block_on(ops::top(&session, &opts)).expect("top");
        full.push(t.elapsed());
    }
    let pred = format!("profile_type = '{PROFILE_TYPE}'");
    let sql = ops::top_sql(&pred, TopOrder::SelfValue, 20);
    let mut only = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rt.block_on(session.sql(&sql)).expect("top sql");
        only.push(t.elapsed());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (full_min, full_med) = stats(&full);
    let (only_min, only_med) = stats(&only);
    println!("datafusion 55, {threads} threads, {runs} runs:");
    println!("  profcol top (type resolution + top): min {full_min:.3} s, median {full_med:.3} s");
    println!("  top query alone:                     min {only_min:.3} s, median {only_med:.3} s");
    println!(
        "  throughput: {:.1} M samples/s (top query, min)",
        samples as f64 / only_min / 1e6
    );

    let Some(py) = python() else {
        println!("duckdb: skipped (no Python with the duckdb package; pip install duckdb)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_top.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&dir)
        .args(["--runs", &runs.to_string(), "--type", PROFILE_TYPE])
        .output()
        .expect("running duckdb_top.py");
    assert!(
        out.status.success(),
        "duckdb_top.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("duckdb JSON");
    let times: Vec<Duration> = v["times"]
        .as_array()
        .expect("times")
        .iter()
        .map(|t| Duration::from_secs_f64(t.as_f64().unwrap_or(0.0)))
        .collect();
    let (d_min, d_med) = stats(&times);
    println!(
        "{} ({} threads): min {d_min:.3} s, median {d_med:.3} s",
        v["engine"].as_str().unwrap_or("duckdb"),
        v["threads"]
    );
    println!(
        "ratio profcol/duckdb (min): top query {:.2}x, full top {:.2}x",
        only_min / d_min,
        full_min / d_min
    );
    // Same answer from both engines.
    let rows = v["rows"].as_array().expect("rows");
    for (i, (mine, theirs)) in r.rows.iter().zip(rows).enumerate() {
        assert_eq!(theirs[0].as_str(), Some(mine.function.as_str()), "row {i}");
        assert_eq!(theirs[1].as_i64(), Some(mine.self_value), "row {i}");
        assert_eq!(theirs[2].as_i64(), Some(mine.total_value), "row {i}");
    }
    println!("both engines agree on the top {} functions", rows.len());
}
