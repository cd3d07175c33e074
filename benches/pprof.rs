//! pprof benchmarks: decode (gzip sniffing, validation, lossy strings) and pprof → OTLP, each
//! beside the same-run baseline of a plain prost decode of the same (decompressed) pprof bytes.
//!
//! Inputs: `google-pprof/large.cpu` (~20k samples) and `grafana-alloy/stress-failure.after.pprof`.
//! Run: `cargo bench --bench pprof` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use profcol_pdata::pprof::{self, Profile, ToOtlpOptions};
use prost::Message;

/// A shared test input's bytes (fails when the shared test data is absent).
fn fixture(rel: &str) -> Vec<u8> {
    let p = profcol_testkit::require::testdata(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn bench_file(c: &mut Criterion, name: &str, rel: &str) {
    let bytes = fixture(rel);
    // The baseline decodes the same protobuf bytes, so decompress once up front.
    let plain = pprof::decompress(&bytes, 1 << 30)
        .expect("fixture decompresses")
        .0
        .into_owned();
    let (profile, _) = pprof::decode(&plain, 1 << 30).expect("fixture decodes");
    let opts = ToOtlpOptions::default();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("prost_only", |b| {
        b.iter(|| Profile::decode(black_box(&plain[..])).expect("decodes"))
    });
    g.bench_function("pprof_decode", |b| {
        b.iter(|| pprof::decode(black_box(&plain), 1 << 30).expect("decodes"))
    });
    g.bench_function("to_otlp", |b| {
        b.iter(|| pprof::to_otlp(black_box(&profile), Vec::new(), &opts, None))
    });
    g.bench_function("decode+to_otlp", |b| {
        b.iter(|| {
            let (p, _) = pprof::decode(black_box(&plain), 1 << 30).expect("decodes");
            pprof::to_otlp(&p, Vec::new(), &opts, None)
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_file(&mut c, "large_cpu", "google-pprof/large.cpu");
    bench_file(
        &mut c,
        "stress_failure",
        "grafana-alloy/stress-failure.after.pprof",
    );
    c.final_summary();
}
