//! pdata benchmarks over the real eBPF capture (`shared/testdata/grafana-pyroscope/otlp/
//! otel-ebpf-profile.v1_10.pb.bin`, a v1.10 ExportProfilesServiceRequest).
//!
//! Every benchmark reports throughput in bytes of the protobuf input, so each one can be read as
//! a ratio to the `decode/prost_only` baseline. `merge/two_captures` counts both inputs.
//!
//! Run: `cargo bench --bench pdata` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use profcol_pdata::{ExportProfilesServiceRequest, ValidationOptions, merge, split, validate};
use prost::Message;

fn fixture_path() -> PathBuf {
    profcol_testkit::require::testdata(profcol_testkit::require::EBPF_CAPTURE)
}

fn decode(bytes: &[u8]) -> ExportProfilesServiceRequest {
    ExportProfilesServiceRequest::decode(bytes).expect("the capture decodes")
}

fn decode_validated(bytes: &[u8]) -> ExportProfilesServiceRequest {
    let mut req = decode(bytes);
    let report = validate(&mut req, &ValidationOptions::default()).expect("the capture is valid");
    assert_eq!(report.rejected_profiles, 0);
    req
}

fn bench_decode(c: &mut Criterion, bytes: &[u8]) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("prost_only", |b| b.iter(|| decode(black_box(bytes))));
    let opts = ValidationOptions::default();
    g.bench_function("prost+validate", |b| {
        b.iter(|| {
            let mut req = decode(black_box(bytes));
            let report = validate(&mut req, &opts).expect("valid");
            (req, report)
        })
    });
    g.finish();
}

fn bench_merge_split(c: &mut Criterion, bytes: &[u8]) {
    let a = decode_validated(bytes);
    let b = decode_validated(bytes);

    let mut g = c.benchmark_group("merge");
    g.throughput(Throughput::Bytes(2 * bytes.len() as u64));
    g.bench_function("two_captures", |bench| {
        bench.iter(|| merge(black_box(&a), black_box(&b)))
    });
    g.finish();

    let mut g = c.benchmark_group("split");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("100_samples", |bench| {
        bench.iter(|| split(black_box(&a), 100))
    });
    g.finish();
}

fn bench_json(c: &mut Criterion, bytes: &[u8]) {
    use profcol_pdata::json::{decode_request, encode_request};

    let req = decode_validated(bytes);
    let json = encode_request(&req);
    // The codec must round-trip the capture, or the numbers below mean nothing.
    let back = decode_request(&json).expect("JSON of the capture decodes");
    assert_eq!(
        profcol_pdata::sample_count(&back),
        profcol_pdata::sample_count(&req)
    );
    println!(
        "json: {} bytes of JSON for {} bytes of protobuf",
        json.len(),
        bytes.len()
    );

    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| encode_request(black_box(&req))));
    g.bench_function("decode", |b| {
        b.iter(|| decode_request(black_box(&json)).expect("decodes"))
    });
    g.finish();
}

fn main() {
    let path = fixture_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut c = Criterion::default().configure_from_args();
    bench_decode(&mut c, &bytes);
    bench_merge_split(&mut c, &bytes);
    bench_json(&mut c, &bytes);
    c.final_summary();
}
