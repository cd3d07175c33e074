//! Bad input gets the documented error (otlp-profiles.md §2 and §8) and the server keeps serving:
//! after every bad request a valid one still succeeds, and only valid data reaches the exporter.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Http, HttpResponse, Profcol, free_port, read_proto_records, telemetry_yaml};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::common::{AnyValue, KeyValue, any_value};
use profcol_pdata::proto::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesDictionary,
    ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use profcol_pdata::resource::Resource;
use prost::Message;

const LIMIT: usize = 8 << 20;

/// `google.rpc.Status`, the OTLP/HTTP error body.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An instance with the OTLP receiver (8 MiB limits) writing length-prefixed protobuf to a file.
fn start_receiver() -> (Profcol, u16, u16) {
    let (grpc, http, health) = (free_port(), free_port(), free_port());
    let yaml = format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
        max_recv_msg_size_mib: 8
      http:
        endpoint: 127.0.0.1:{http}
        max_request_body_size: {LIMIT}
exporters:
  file:
    path: "{{dir}}/profiles.pb"
    format: proto
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  pipelines:
    profiles:
      receivers: [otlp]
      exporters: [file]
{}"#,
        telemetry_yaml(None)
    );
    let mut p = Profcol::start("errors", &yaml, Some(health));
    p.wait_ready(None);
    (p, grpc, http)
}

/// A one-resource request with `profiles` cpu profiles of one sample each (weight 10 per sample).
fn small_request(profiles: usize) -> ExportProfilesServiceRequest {
    let strings = [
        "",
        "cpu",
        "nanoseconds",
        "main",
        "work",
        "thread.name",
        "t1",
        "app.go",
    ];
    let dictionary = ProfilesDictionary {
        mapping_table: vec![Mapping::default()],
        location_table: vec![
            Location::default(),
            Location {
                lines: vec![Line {
                    function_index: 1,
                    line: 3,
                    column: 0,
                }],
                ..Default::default()
            },
            Location {
                lines: vec![Line {
                    function_index: 2,
                    line: 9,
                    column: 0,
                }],
                ..Default::default()
            },
        ],
        function_table: vec![
            Function::default(),
            Function {
                name_strindex: 3,
                filename_strindex: 7,
                ..Default::default()
            },
            Function {
                name_strindex: 4,
                filename_strindex: 7,
                ..Default::default()
            },
        ],
        link_table: vec![Link::default()],
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        attribute_table: vec![
            KeyValueAndUnit::default(),
            KeyValueAndUnit {
                key_strindex: 5,
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("t1".into())),
                }),
                unit_strindex: 0,
            },
        ],
        stack_table: vec![
            Stack::default(),
            Stack {
                location_indices: vec![2, 1],
            },
        ],
    };
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![Sample {
            stack_index: 1,
            attribute_indices: vec![1],
            values: vec![10],
            ..Default::default()
        }],
        time_unix_nano: 1_700_000_000_000_000_000,
        duration_nano: 1_000_000_000,
        ..Default::default()
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("e2e-errors".into())),
                    }),
                    key_strindex: 0,
                }],
                ..Default::default()
            }),
            scope_profiles: vec![ScopeProfiles {
                profiles: vec![profile; profiles],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dictionary),
    }
}

fn sample0(r: &mut ExportProfilesServiceRequest, profile: usize) -> &mut Sample {
    &mut r.resource_profiles[0].scope_profiles[0].profiles[profile].samples[0]
}

const SAMPLE0: &str = "resource_profiles[0].scope_profiles[0].profiles[0].samples[0]";

/// Requests whose indices are out of range or negative: (name, request, texts the error must contain).
fn bad_index_requests() -> Vec<(&'static str, ExportProfilesServiceRequest, Vec<String>)> {
    let mut cases = Vec::new();
    for (what, idx) in [("out of range", 99), ("negative", -1)] {
        let mut r = small_request(1);
        sample0(&mut r, 0).stack_index = idx;
        cases.push((
            what,
            r,
            vec![format!("{SAMPLE0}.stack_index"), idx.to_string()],
        ));
    }
    for (what, idx) in [("out of range", 50), ("negative", -3)] {
        let mut r = small_request(1);
        r.dictionary.as_mut().unwrap().stack_table[1].location_indices[1] = idx;
        cases.push((
            what,
            r,
            vec![
                "dictionary.stack_table[1].location_indices[1]".to_owned(),
                idx.to_string(),
            ],
        ));
    }
    for (what, idx) in [("out of range", 7), ("negative", -2)] {
        let mut r = small_request(1);
        sample0(&mut r, 0).attribute_indices[0] = idx;
        cases.push((
            what,
            r,
            vec![format!("{SAMPLE0}.attribute_indices[0]"), idx.to_string()],
        ));
    }
    let mut r = small_request(1);
    sample0(&mut r, 0).link_index = 5;
    cases.push((
        "out of range",
        r,
        vec![format!("{SAMPLE0}.link_index"), "5".to_owned()],
    ));
    let mut r = small_request(1);
    r.dictionary.as_mut().unwrap().location_table[2].lines[0].function_index = -4;
    cases.push((
        "negative",
        r,
        vec![
            "dictionary.location_table[2].lines[0].function_index".to_owned(),
            "-4".to_owned(),
        ],
    ));
    cases
}

/// Offsets strictly inside a top-level field of `data` (so a cut there cannot decode).
fn truncation_points(data: &[u8]) -> Vec<usize> {
    fn varint(d: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = d[*pos];
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    }
    let mut boundaries = vec![0usize];
    let mut pos = 0;
    while pos < data.len() {
        let tag = varint(data, &mut pos);
        assert_eq!(
            tag & 7,
            2,
            "top-level fields of a request are length-delimited"
        );
        let len = varint(data, &mut pos) as usize;
        pos += len;
        boundaries.push(pos);
    }
    assert_eq!(pos, data.len(), "capture parses cleanly");
    let mut points = Vec::new();
    for mut p in [
        1,
        3,
        100,
        4096,
        data.len() / 3,
        data.len() / 2,
        data.len() - 1,
    ] {
        while boundaries.contains(&p) {
            p += 1;
        }
        if p < data.len() && !points.contains(&p) {
            points.push(p);
        }
    }
    points
}

fn gzip(chunks: usize, chunk: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for _ in 0..chunks {
        e.write_all(chunk).expect("gzip");
    }
    e.finish().expect("gzip")
}

fn status_message(r: &HttpResponse) -> String {
    if r.content_type.starts_with("application/x-protobuf") {
        RpcStatus::decode(&r.body[..])
            .map(|s| s.message)
            .unwrap_or_else(|e| format!("<undecodable google.rpc.Status: {e}>"))
    } else if r.content_type.starts_with("application/json") {
        profcol_pdata::json::decode_status(&r.body)
            .map(|(_, m)| m)
            .unwrap_or_else(|e| format!("<undecodable JSON status: {e}>"))
    } else {
        String::from_utf8_lossy(&r.body).into_owned()
    }
}

#[test]
fn http_bad_requests_get_documented_errors_and_server_keeps_serving() {
    let ebpf_path = common::testdata(common::EBPF_CAPTURE);
    let old_path = common::testdata(common::EBPF_CAPTURE_OLD);
    let ebpf = std::fs::read(&ebpf_path).expect("reading capture");
    let old = std::fs::read(&old_path).expect("reading capture");
    let ebpf_samples = profcol_pdata::sample_count(
        &ExportProfilesServiceRequest::decode(&ebpf[..]).expect("capture decodes"),
    );

    let (server, _, http_port) = start_receiver();
    let url = format!("http://127.0.0.1:{http_port}/v1development/profiles");
    let http = Http::new();
    const PROTO: &str = "application/x-protobuf";
    const JSON: &str = "application/json";

    let valid_sends = std::cell::Cell::new(0usize);
    let check_still_serving = |after: &str| {
        let r = http.post(&url, PROTO, ebpf.clone());
        assert_eq!(
            r.status,
            200,
            "valid request after {after}: {}\n{}",
            status_message(&r),
            server.stderr()
        );
        let resp = profcol_pdata::ExportProfilesServiceResponse::decode(&r.body[..])
            .expect("response decodes");
        assert!(
            resp.partial_success.is_none(),
            "valid request after {after} got {:?}",
            resp.partial_success
        );
        valid_sends.set(valid_sends.get() + 1);
    };
    // Asserts status, error-body encoding, and that the message mentions each of `needles`.
    let expect =
        |what: &str, r: HttpResponse, status: u16, content_type: &str, needles: &[&str]| {
            assert_eq!(
                r.status,
                status,
                "{what}: expected {status}, got {} ({})",
                r.status,
                status_message(&r)
            );
            assert!(
                r.content_type.starts_with(content_type),
                "{what}: content-type {:?}, expected {content_type}",
                r.content_type
            );
            let msg = status_message(&r);
            for n in needles {
                assert!(
                    msg.contains(n),
                    "{what}: message {msg:?} should mention {n:?}"
                );
            }
        };
    check_still_serving("start");

    // The pre-v1.10 layout does not decode as a v1.10 request.
    expect(
        "old layout",
        http.post(&url, PROTO, old.clone()),
        400,
        PROTO,
        &["ExportProfilesServiceRequest"],
    );
    check_still_serving("old layout");

    // Truncated protobuf bodies.
    for cut in truncation_points(&ebpf) {
        expect(
            &format!("capture cut at {cut}"),
            http.post(&url, PROTO, ebpf[..cut].to_vec()),
            400,
            PROTO,
            &["decode"],
        );
        check_still_serving(&format!("truncation at {cut}"));
    }

    // Out-of-range and negative indices, as protobuf and as OTLP/JSON.
    for (what, req, needles) in bad_index_requests() {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let label = format!("{what} {}", needles[0]);
        expect(
            &label,
            http.post(&url, PROTO, req.encode_to_vec()),
            400,
            PROTO,
            &needles,
        );
        check_still_serving(&label);
        expect(
            &format!("{label} (JSON)"),
            http.post(&url, JSON, profcol_pdata::json::encode_request(&req)),
            400,
            JSON,
            &needles,
        );
        check_still_serving(&format!("{label} (JSON)"));
    }

    // Undecodable JSON.
    expect(
        "broken JSON",
        http.post(&url, JSON, b"{\"resourceProfiles\": [".to_vec()),
        400,
        JSON,
        &[],
    );
    check_still_serving("broken JSON");

    // A body over the limit as sent, and a gzip bomb (100 MiB of zeros) over it after decompression.
    // hyper closes the connection right after answering without reading the rest of the body,
    // so the client may see the reset (EPIPE / ECONNRESET) before it reads the 413.
    match http.try_request("POST", &url, &[("content-type", PROTO)], vec![0u8; 9 << 20]) {
        Ok(r) => expect("9 MiB body", r, 413, PROTO, &["limit"]),
        Err(e) => eprintln!("9 MiB body: connection reset before the 413 was read ({e})"),
    }
    check_still_serving("9 MiB body");
    let bomb = gzip(100, &vec![0u8; 1 << 20]);
    assert!(
        bomb.len() < LIMIT / 8,
        "the bomb itself is small ({} bytes)",
        bomb.len()
    );
    let r = http.request(
        "POST",
        &url,
        &[("content-type", PROTO), ("content-encoding", "gzip")],
        bomb,
    );
    expect("gzip bomb", r, 413, PROTO, &["limit"]);
    check_still_serving("gzip bomb");

    // A gzip body that is valid works; corrupt gzip is a 400.
    let r = http.request(
        "POST",
        &url,
        &[("content-type", PROTO), ("content-encoding", "gzip")],
        gzip(1, &ebpf),
    );
    assert_eq!(
        r.status,
        200,
        "gzip-encoded capture: {}",
        status_message(&r)
    );
    valid_sends.set(valid_sends.get() + 1);
    let r = http.request(
        "POST",
        &url,
        &[("content-type", PROTO), ("content-encoding", "gzip")],
        b"\x1f\x8bnot really gzip".to_vec(),
    );
    expect("corrupt gzip", r, 400, PROTO, &["gzip"]);
    check_still_serving("corrupt gzip");

    // The other encodings the Collector accepts, encoded as profcol's otlp_http exporter sends
    // them; `snappy` also takes the framing format (older Collectors sent that).
    use profcol_settings::Compression;
    let framed = Compression::SnappyFramed
        .compress(&ebpf)
        .expect("snappy framed");
    for (label, encoding, body) in [
        (
            "snappy block",
            "snappy",
            Compression::Snappy.compress(&ebpf),
        ),
        ("snappy framed as snappy", "snappy", Ok(framed.clone())),
        ("x-snappy-framed", "x-snappy-framed", Ok(framed)),
        ("lz4", "lz4", Compression::Lz4.compress(&ebpf)),
    ] {
        let body = body.expect(label);
        assert_ne!(body, ebpf, "{label}: compressed");
        let r = http.request(
            "POST",
            &url,
            &[("content-type", PROTO), ("content-encoding", encoding)],
            body,
        );
        assert_eq!(r.status, 200, "{label}: {}", status_message(&r));
        valid_sends.set(valid_sends.get() + 1);
    }
    // A snappy block whose stated length is over the limit: refused before decompression.
    let bomb = Compression::Snappy
        .compress(&vec![0u8; 20 << 20])
        .expect("snappy bomb");
    assert!(bomb.len() < LIMIT, "{} bytes", bomb.len());
    let r = http.request(
        "POST",
        &url,
        &[("content-type", PROTO), ("content-encoding", "snappy")],
        bomb,
    );
    expect("snappy bomb", r, 413, PROTO, &["limit"]);
    let r = http.request(
        "POST",
        &url,
        &[("content-type", PROTO), ("content-encoding", "lz4")],
        b"not lz4 at all".to_vec(),
    );
    expect("corrupt lz4", r, 400, PROTO, &["lz4"]);
    check_still_serving("corrupt lz4");

    // Unknown Content-Encoding.
    let r = http.request(
        "POST",
        &url,
        &[("content-type", PROTO), ("content-encoding", "br-unknown")],
        ebpf.clone(),
    );
    expect(
        "unknown Content-Encoding",
        r,
        400,
        PROTO,
        &["Content-Encoding"],
    );
    check_still_serving("unknown Content-Encoding");

    // Wrong Content-Type, wrong method, wrong path.
    // (Small bodies: the server answers 415 without reading the body.)
    let r = http.post(&url, "text/plain", ebpf[..200].to_vec());
    assert_eq!(r.status, 415, "text/plain: {}", status_message(&r));
    check_still_serving("text/plain");
    let r = http.request("POST", &url, &[], ebpf[..200].to_vec());
    assert_eq!(r.status, 415, "no Content-Type: {}", status_message(&r));
    check_still_serving("no Content-Type");
    let r = http.request("GET", &url, &[], Vec::new());
    assert_eq!(r.status, 405, "GET: {}", status_message(&r));
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "allow" && v.contains("POST")),
        "405 should carry Allow: POST: {:?}",
        r.headers
    );
    check_still_serving("GET");
    let r = http.post(
        &format!("http://127.0.0.1:{http_port}/v1/profiles"),
        PROTO,
        ebpf.clone(),
    );
    assert_eq!(r.status, 404, "unknown path: {}", status_message(&r));
    check_still_serving("unknown path");

    // Content-Type parameters are ignored, and application/protobuf is accepted.
    let r = http.post(&url, "application/x-protobuf; charset=utf-8", ebpf.clone());
    assert_eq!(
        r.status,
        200,
        "Content-Type with parameters: {}",
        status_message(&r)
    );
    valid_sends.set(valid_sends.get() + 1);
    let r = http.post(&url, "application/protobuf", ebpf.clone());
    assert_eq!(
        r.status,
        200,
        "application/protobuf: {}",
        status_message(&r)
    );
    valid_sends.set(valid_sends.get() + 1);

    // One bad Profile among good ones: 200 with partial success naming the bad one.
    let mut partial = small_request(2);
    sample0(&mut partial, 1).stack_index = 42;
    for (ct, body) in [
        (PROTO, partial.encode_to_vec()),
        (JSON, profcol_pdata::json::encode_request(&partial)),
    ] {
        let r = http.post(&url, ct, body);
        assert_eq!(r.status, 200, "partial ({ct}): {}", status_message(&r));
        let resp = if ct == PROTO {
            profcol_pdata::ExportProfilesServiceResponse::decode(&r.body[..]).expect("response")
        } else {
            profcol_pdata::json::decode_response(&r.body).expect("JSON response")
        };
        let ps = resp
            .partial_success
            .unwrap_or_else(|| panic!("partial ({ct}): partial_success unset"));
        assert_eq!(ps.rejected_profiles, 1, "partial ({ct}): {ps:?}");
        assert!(
            ps.error_message
                .contains("profiles[1].samples[0].stack_index"),
            "partial ({ct}): message {:?}",
            ps.error_message
        );
        check_still_serving("partial success");
    }

    // Empty requests succeed with partial_success unset.
    for (ct, body) in [(PROTO, Vec::new()), (JSON, b"{}".to_vec())] {
        let r = http.post(&url, ct, body);
        assert_eq!(r.status, 200, "empty ({ct}): {}", status_message(&r));
        assert!(
            r.content_type.starts_with(ct),
            "empty ({ct}): content-type {}",
            r.content_type
        );
        let resp = if ct == PROTO {
            profcol_pdata::ExportProfilesServiceResponse::decode(&r.body[..]).expect("response")
        } else {
            profcol_pdata::json::decode_response(&r.body).expect("JSON response")
        };
        assert!(resp.partial_success.is_none(), "empty ({ct}): {resp:?}");
    }
    check_still_serving("empty requests");

    // Only valid data reached the exporter: every valid capture plus the good profile of each
    // partial request (the file exporter writes before the receiver answers).
    let written: usize = read_proto_records(&server.dir.path().join("profiles.pb"))
        .iter()
        .map(profcol_pdata::sample_count)
        .sum();
    assert_eq!(
        written,
        valid_sends.get() * ebpf_samples + 2,
        "samples written by the file exporter"
    );
    server.stop();
}

#[test]
fn grpc_bad_requests_get_documented_errors_and_server_keeps_serving() {
    let python = common::python();
    let ebpf_path = common::testdata(common::EBPF_CAPTURE);
    let old_path = common::testdata(common::EBPF_CAPTURE_OLD);
    let ebpf = std::fs::read(&ebpf_path).expect("reading capture");
    let (server, grpc_port, _) = start_receiver();
    let dir = tempfile::tempdir().expect("tempdir");

    // (file, expected code, texts the status message must contain)
    let mut cases: Vec<(String, &str, Vec<String>)> = Vec::new();
    let mut add = |name: &str, bytes: &[u8], code: &'static str, needles: Vec<String>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("writing case");
        cases.push((path.display().to_string(), code, needles));
    };
    add(
        "old-layout.bin",
        &std::fs::read(&old_path).expect("reading capture"),
        "INVALID_ARGUMENT",
        vec!["ExportProfilesServiceRequest".into()],
    );
    for cut in truncation_points(&ebpf) {
        add(
            &format!("cut-{cut}.bin"),
            &ebpf[..cut],
            "INVALID_ARGUMENT",
            vec!["decode".into()],
        );
    }
    for (i, (_, req, needles)) in bad_index_requests().into_iter().enumerate() {
        add(
            &format!("index-{i}.bin"),
            &req.encode_to_vec(),
            "INVALID_ARGUMENT",
            needles,
        );
    }
    let mut partial = small_request(2);
    sample0(&mut partial, 1).stack_index = 42;
    add("partial.bin", &partial.encode_to_vec(), "OK", Vec::new());
    add("empty.bin", &[], "OK", Vec::new());
    // Over max_recv_msg_size_mib: RESOURCE_EXHAUSTED, which is not retryable (spec §2.1).
    add(
        "oversize.bin",
        &vec![0u8; 9 << 20],
        "RESOURCE_EXHAUSTED",
        Vec::new(),
    );

    let files: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    let run = |gzip: bool, files: &[String]| -> Vec<serde_json::Value> {
        let mut args = vec![
            "--target".to_owned(),
            format!("127.0.0.1:{grpc_port}"),
            "--valid".to_owned(),
            ebpf_path.display().to_string(),
        ];
        if gzip {
            args.push("--gzip".to_owned());
        }
        args.extend(files.iter().cloned());
        let out = common::run_python(&python, "grpc_raw.py", &args, Duration::from_secs(120));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "grpc_raw.py failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    };
    let results = run(false, &files);
    assert_eq!(results.len(), cases.len());
    for r in &results {
        eprintln!(
            "{} -> {} {}",
            r["file"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or(""),
            r["code"],
            r["details"]
        );
    }
    let mut failures = Vec::new();
    for ((file, code, needles), res) in cases.iter().zip(&results) {
        let name = file.rsplit('/').next().unwrap_or(file);
        let got = res["code"].as_str().unwrap_or("");
        let details = res["details"].as_str().unwrap_or("");
        if got != *code {
            failures.push(format!("{name}: expected {code}, got {got} ({details})"));
        }
        for n in needles {
            if !details.contains(n.as_str()) {
                failures.push(format!(
                    "{name}: status message {details:?} should mention {n:?}"
                ));
            }
        }
        if res["valid_after"]["code"] != "OK"
            || res["valid_after"].get("rejected_profiles").is_some()
        {
            failures.push(format!(
                "{name}: the valid request sent afterwards failed: {}",
                res["valid_after"]
            ));
        }
    }
    let partial_res = &results[cases
        .iter()
        .position(|c| c.0.ends_with("partial.bin"))
        .unwrap()];
    if partial_res["rejected_profiles"] != 1
        || !partial_res["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("profiles[1].samples[0].stack_index")
    {
        failures.push(format!(
            "partial.bin: expected rejected_profiles 1 naming the bad sample, got {partial_res}"
        ));
    }
    let empty_res = &results[cases
        .iter()
        .position(|c| c.0.ends_with("empty.bin"))
        .unwrap()];
    if empty_res.get("rejected_profiles").is_some() {
        failures.push(format!(
            "empty.bin: partial_success should be unset, got {empty_res}"
        ));
    }

    // A gzip-compressed message that inflates past the limit.
    let bomb = dir.path().join("bomb.bin");
    std::fs::write(&bomb, vec![0u8; 64 << 20]).expect("writing bomb");
    let res = run(true, &[bomb.display().to_string()]);
    if res[0]["code"] != "RESOURCE_EXHAUSTED" || res[0]["valid_after"]["code"] != "OK" {
        failures.push(format!(
            "gzip bomb: expected RESOURCE_EXHAUSTED then OK, got {}",
            res[0]
        ));
    }
    assert!(
        failures.is_empty(),
        "gRPC error handling:\n  {}\nserver stderr:\n{}",
        failures.join("\n  "),
        server.stderr()
    );
    server.stop();
}
