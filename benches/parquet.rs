//! Parquet write rate of the `parquet` exporter, in samples (rows) per second, beside pyarrow
//! writing the same flattened table in the same run.
//!
//! Inputs, each replicated to at least 1M samples (every copy shifted by 10 s, so rows spread
//! over hours and partitions like a long capture would):
//! - the real eBPF capture (`grafana-pyroscope/otlp/otel-ebpf-profile.v1_10.pb.bin`), merged into
//!   batches of about 8k samples (what the batch processor sends);
//! - `google-pprof/large.cpu` converted to OTLP, one request per copy.
//!
//! Benchmarks (criterion, throughput in samples):
//! - `<input>/exporter`: the whole exporter path, validated requests in → complete, visible files
//!   (flattening, interning, sorting, Parquet encoding with zstd(3), bloom filters, statistics);
//! - `<input>/parquet_encode_only`: the same rows already flattened into one Arrow batch, written
//!   by the `parquet` crate with the exporter's writer settings (the step pyarrow is compared to).
//!
//! Then the baseline: the flattened batch goes to an Arrow IPC file and
//! `benches/pyarrow_baseline.py` (pyarrow, C++ Parquet writer) reads it and times only the write,
//! with the same settings; the summary prints both rates and their ratio.
//!
//! Run: `cargo bench --bench parquet` (add `-- --quick` for a short run; `cargo test --benches`
//! runs it as a smoke test on a few thousand samples). Python: `$PROFCOL_PYTHON`
//! or `~/.cache/profcol-venv/bin/python3` with pyarrow (tests/python/requirements.txt).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput};
use profcol_exporters::parquet::{ParquetConfig, ParquetExporter, Settings, writer};
use profcol_layout::arrays;
use profcol_pdata::{ExportProfilesServiceRequest, RequestBuilder, ValidationOptions, validate};
use prost::Message;

const TARGET_SAMPLES: usize = 1_000_000;
/// Under `cargo test --benches` (no `--bench` argument): a smoke run on a few thousand samples.
const SMOKE_SAMPLES: usize = 5_000;

fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}
const SHIFT_NS: u64 = 10_000_000_000;

/// A shared test input's bytes (fails when the shared test data is absent).
fn fixture(rel: &str) -> Vec<u8> {
    let p = profcol_testkit::require::testdata(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn validated(mut req: ExportProfilesServiceRequest) -> ExportProfilesServiceRequest {
    let report = validate(&mut req, &ValidationOptions::default()).expect("valid");
    assert_eq!(report.rejected_profiles, 0);
    req
}

/// A copy of `req` with every time moved by `by` nanoseconds.
fn shifted(req: &ExportProfilesServiceRequest, by: u64) -> ExportProfilesServiceRequest {
    let mut r = req.clone();
    for p in r
        .resource_profiles
        .iter_mut()
        .flat_map(|rp| &mut rp.scope_profiles)
        .flat_map(|sp| &mut sp.profiles)
    {
        p.time_unix_nano += by;
        for s in &mut p.samples {
            for t in &mut s.timestamps_unix_nano {
                *t += by;
            }
        }
    }
    r
}

/// Replicates `req` to at least 1M samples; copies are merged `per_batch` at a time.
fn replicate(
    req: &ExportProfilesServiceRequest,
    per_batch: usize,
) -> Vec<Arc<ExportProfilesServiceRequest>> {
    let n = profcol_pdata::sample_count(req).max(1);
    let target = if smoke() {
        SMOKE_SAMPLES
    } else {
        TARGET_SAMPLES
    };
    let copies = target.div_ceil(n);
    let mut out = Vec::new();
    let mut i = 0;
    while i < copies {
        let mut b = RequestBuilder::new();
        for k in i..(i + per_batch).min(copies) {
            b.push_request(&shifted(req, k as u64 * SHIFT_NS));
        }
        out.push(Arc::new(validated(b.finish())));
        i += per_batch;
    }
    out
}

fn ebpf() -> Option<Vec<Arc<ExportProfilesServiceRequest>>> {
    let bytes = fixture("grafana-pyroscope/otlp/otel-ebpf-profile.v1_10.pb.bin");
    let req = validated(ExportProfilesServiceRequest::decode(&bytes[..]).expect("capture decodes"));
    let per_batch = (8192 / profcol_pdata::sample_count(&req).max(1)).max(1);
    Some(replicate(&req, per_batch))
}

fn large_cpu() -> Option<Vec<Arc<ExportProfilesServiceRequest>>> {
    use profcol_pdata::pprof;
    let bytes = fixture("google-pprof/large.cpu");
    let plain = pprof::decompress(&bytes, 1 << 30)
        .expect("decompress")
        .0
        .into_owned();
    let (p, _) = pprof::decode(&plain, 1 << 30).expect("decode");
    let (req, _) = pprof::to_otlp(&p, Vec::new(), &Default::default(), None);
    Some(replicate(&validated(req), 1))
}

fn config(dir: &Path) -> ParquetConfig {
    ParquetConfig {
        path: dir.display().to_string(),
        ..Default::default()
    }
}

/// The exporter path: every request written, then every file completed. Returns the elapsed
/// time of writing and closing only.
fn run_exporter(
    rt: &tokio::runtime::Runtime,
    batches: &[Arc<ExportProfilesServiceRequest>],
) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex =
        ParquetExporter::new(&config(dir.path()), "bench", Default::default()).expect("exporter");
    let start = Instant::now();
    rt.block_on(async {
        for b in batches {
            ex.write(b.clone(), SystemTime::now()).await.expect("write");
        }
        ex.finish().await;
    });
    start.elapsed()
}

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("PROFCOL_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache/profcol-venv/bin/python3"),
    };
    p.is_file().then_some(p)
}

/// pyarrow writing the same table: (rows per second, file bytes).
fn pyarrow_rate(ipc: &Path, out: &Path) -> Option<(f64, u64, String)> {
    let py = python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pyarrow_baseline.py");
    let o = std::process::Command::new(py)
        .arg(script)
        .arg(ipc)
        .arg(out)
        .output()
        .ok()?;
    if !o.status.success() {
        eprintln!(
            "pyarrow baseline failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    let rows = v["rows"].as_f64()?;
    let secs = v["seconds"].as_f64()?;
    Some((
        rows / secs,
        v["bytes"].as_u64()?,
        v["pyarrow"].as_str().unwrap_or("?").to_owned(),
    ))
}

fn best_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..n).map(|_| f()).min().unwrap_or_default()
}

fn bench_input(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    batches: &[Arc<ExportProfilesServiceRequest>],
) {
    let samples: usize = batches.iter().map(|b| profcol_pdata::sample_count(b)).sum();
    let flat = arrays::flatten(batches.iter().map(|b| b.as_ref()), 0).expect("flatten");
    let key = flat.first().map(|(k, _)| k.clone()).expect("rows");
    let parts: Vec<_> = flat.into_iter().map(|(_, b)| b).collect();
    let table = arrays::concat(&parts).expect("concat");
    drop(parts);
    assert_eq!(table.num_rows(), samples);
    let settings = Settings::new(&ParquetConfig::default(), PathBuf::new());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("encode_only.parquet");

    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("exporter", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run_exporter(rt, black_box(batches)))
                .sum()
        })
    });
    g.bench_function("parquet_encode_only", |b| {
        b.iter(|| {
            writer::write_parquet(
                &out,
                &settings,
                &key,
                std::slice::from_ref(black_box(&table)),
            )
            .expect("write")
        })
    });
    g.finish();
    if smoke() {
        return;
    }

    // The summary, measured again here so the rates sit side by side.
    let exporter = best_of(3, || run_exporter(rt, batches));
    let mut bytes = 0;
    let encode = best_of(3, || {
        let t = Instant::now();
        bytes = writer::write_parquet(&out, &settings, &key, std::slice::from_ref(&table))
            .expect("write");
        t.elapsed()
    });
    let rate = |d: Duration| samples as f64 / d.as_secs_f64();
    println!("\n== {name}: {samples} samples ({} batches)", batches.len());
    println!(
        "profcol exporter (OTLP → visible files):  {:>12.0} samples/s  ({:.2} s)",
        rate(exporter),
        exporter.as_secs_f64()
    );
    println!(
        "profcol parquet encode only:              {:>12.0} rows/s     ({:.2} s, {} bytes)",
        rate(encode),
        encode.as_secs_f64(),
        bytes
    );
    let ipc = tmp.path().join("table.arrow");
    writer::write_ipc(&ipc, std::slice::from_ref(&table)).expect("ipc");
    match pyarrow_rate(&ipc, &tmp.path().join("pyarrow.parquet")) {
        Some((py, py_bytes, version)) => {
            println!(
                "pyarrow {version} write_table, same table:  {py:>12.0} rows/s     ({} bytes)",
                py_bytes
            );
            println!(
                "ratio: exporter / pyarrow = {:.2}, encode only / pyarrow = {:.2}",
                rate(exporter) / py,
                rate(encode) / py
            );
        }
        None => println!(
            "pyarrow baseline skipped (no Python with pyarrow; see benches/pyarrow_baseline.py)"
        ),
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Some(b) = ebpf() {
        bench_input(&mut c, &rt, "parquet_ebpf_1M", &b);
    }
    if let Some(b) = large_cpu() {
        bench_input(&mut c, &rt, "parquet_large_cpu_1M", &b);
    }
    c.final_summary();
}
