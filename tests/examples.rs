//! Every example config validates, `forward-to-otlp.yaml` forwards data as documented, and the
//! embedded default pipeline (README's run command) takes OTLP in and writes ./profcol-data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::time::Duration;

use common::{Http, Profcol, free_port, poll, read_proto_records, summarize, telemetry_yaml};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_testkit::pyroscope_server;
use prost::Message;

fn downstream_yaml(grpc: u16, health: u16) -> String {
    format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
exporters:
  file:
    path: "{{dir}}/received.pb"
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
    )
}

#[test]
fn every_example_validates() {
    let dir = common::repo_root().join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        n += 1;
        let p = path.display().to_string();
        let out = common::profcol_cmd(&["validate", "--config", &p], &[]);
        assert!(
            out.status.success(),
            "{p} does not validate:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(n >= 2, "expected the example configs, found {n}");
}

#[test]
fn forward_to_otlp_example_forwards() {
    let capture = common::testdata(common::EBPF_CAPTURE);
    let capture = std::fs::read(capture).expect("reading capture");
    let (b_grpc, b_health) = (free_port(), free_port());
    let mut b = Profcol::start(
        "forward-downstream",
        &downstream_yaml(b_grpc, b_health),
        Some(b_health),
    );
    let (a_grpc, a_http, a_health) = (free_port(), free_port(), free_port());
    let env = [
        ("OTLP_GRPC_LISTEN", format!("127.0.0.1:{a_grpc}")),
        ("OTLP_HTTP_LISTEN", format!("127.0.0.1:{a_http}")),
        ("HEALTH_LISTEN", format!("127.0.0.1:{a_health}")),
        ("UPSTREAM", format!("127.0.0.1:{b_grpc}")),
        ("METRICS_LEVEL", "none".to_owned()),
    ];
    let example = common::repo_root().join("examples/forward-to-otlp.yaml");
    let mut a = Profcol::start_file("forward", &example, Some(a_health), &[], &env);
    b.wait_ready(None);
    a.wait_ready(None);
    // Three clients at once: the batch processor answers each when the batch it joined was
    // forwarded, so concurrent requests are what it merges.
    let senders: Vec<_> = (0..3)
        .map(|_| {
            let body = capture.clone();
            std::thread::spawn(move || {
                let r = Http::new().post(
                    &format!("http://127.0.0.1:{a_http}/v1development/profiles"),
                    "application/x-protobuf",
                    body,
                );
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    let req = ExportProfilesServiceRequest::decode(&capture[..]).expect("capture decodes");
    let expected = summarize([&req, &req, &req]);
    let path = b.dir.path().join("received.pb");
    let got = poll(Duration::from_secs(30), || {
        Some(summarize(&read_proto_records(&path))).filter(|s| s.weight() == expected.weight())
    })
    .unwrap_or_else(|| summarize(&read_proto_records(&path)));
    assert!(
        got.totals == expected.totals,
        "forwarded totals differ:\n{}\n{}",
        expected.diff(&got),
        a.stderr()
    );
    // The batch processor merged the three requests: fewer records than requests arrived.
    assert!(
        read_proto_records(&path).len() < 3,
        "batch should merge the requests"
    );
    a.stop();
    b.stop();
}

/// README's run command: the embedded default on its fixed ports. Waits for them (held by no
/// other test meanwhile) and fails when one stays taken (another profcol or Collector on this
/// machine).
#[test]
fn embedded_default_pipeline_writes_profcol_data() {
    let capture = common::testdata(common::EBPF_CAPTURE);
    let _ports = common::default_ports();
    let capture = std::fs::read(capture).expect("reading capture");
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
    let mut child = std::process::Command::new(common::profcol_bin())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn profcol");
    let ready = poll(Duration::from_secs(30), || {
        common::http_get(13133, "/").filter(|(c, _)| *c == 200)
    });
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    if ready.is_none() {
        let _ = child.kill();
        panic!("default pipeline not healthy:\n{}", log());
    }
    let http = Http::new();
    let r = http.post(
        "http://127.0.0.1:4318/v1development/profiles",
        "application/x-protobuf",
        capture.clone(),
    );
    assert_eq!(r.status, 200);
    let out = dir.path().join("profcol-data/otlp/profiles.jsonl");
    let req = ExportProfilesServiceRequest::decode(&capture[..]).expect("capture decodes");
    let expected = summarize([&req]);
    let got = poll(Duration::from_secs(30), || {
        Some(summarize(&common::read_json_records(&out)))
            .filter(|s| s.weight() == expected.weight())
    });
    let metrics = common::http_get(8888, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    let got = got.unwrap_or_else(|| panic!("no data in {}:\n{}", out.display(), log()));
    assert!(got.totals == expected.totals, "{}", expected.diff(&got));
    assert!(
        common::metric_sum(
            &metrics,
            "otelcol_receiver_accepted_profile_samples_total",
            &[]
        )
        .unwrap_or(0)
            > 0,
        "{metrics}"
    );
    assert!(status.success(), "exit status {status:?}:\n{}", log());
    assert!(
        log().contains("Profiles:"),
        "the debug exporter prints a summary:\n{}",
        log()
    );
}

/// `otlp-to-pyroscope.yaml`: OTLP in, Pyroscope Push out, the sender's tenant forwarded.
#[test]
fn otlp_to_pyroscope_example_pushes() {
    let capture = common::testdata(common::EBPF_CAPTURE);
    // The capture is old: move its times to now, as a live profiler would send them, so the
    // exporter keeps it inside Pyroscope's ingestion window.
    let mut req =
        ExportProfilesServiceRequest::decode(&std::fs::read(capture).expect("reading capture")[..])
            .expect("capture decodes");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    for p in req
        .resource_profiles
        .iter_mut()
        .flat_map(|r| &mut r.scope_profiles)
        .flat_map(|s| &mut s.profiles)
    {
        let shift = now.saturating_sub(p.time_unix_nano + p.duration_nano);
        p.time_unix_nano += shift;
        for s in &mut p.samples {
            for t in &mut s.timestamps_unix_nano {
                *t += shift;
            }
        }
    }
    let capture = req.encode_to_vec();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(pyroscope_server::PushServer::start());
    let (grpc, http_port) = (free_port(), free_port());
    let env = [
        ("OTLP_GRPC_LISTEN", format!("127.0.0.1:{grpc}")),
        ("OTLP_HTTP_LISTEN", format!("127.0.0.1:{http_port}")),
        ("PYROSCOPE_URL", server.endpoint()),
        ("METRICS_LEVEL", "none".to_owned()),
    ];
    let example = common::repo_root().join("examples/otlp-to-pyroscope.yaml");
    let mut a = Profcol::start_file("otlp-to-pyroscope", &example, None, &[], &env);
    a.wait_ready(Some(http_port));
    let r = Http::new().request(
        "POST",
        &format!("http://127.0.0.1:{http_port}/v1development/profiles"),
        &[
            ("content-type", "application/x-protobuf"),
            ("x-scope-orgid", "team-a"),
        ],
        capture,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let accepted = poll(Duration::from_secs(30), || {
        Some(server.accepted()).filter(|a| !a.is_empty())
    })
    .unwrap_or_else(|| panic!("nothing pushed:\n{}", a.stderr()));
    let received = server.received();
    assert!(
        received
            .iter()
            .all(|r| r.header("x-scope-orgid") == Some("team-a")),
        "tenant forwarded"
    );
    let ps = pyroscope_server::pushed(&accepted);
    let ids: std::collections::BTreeSet<String> = ps.iter().flat_map(|p| p.type_ids()).collect();
    assert!(
        ids.contains("process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
        "{ids:?}"
    );
    assert!(
        ps.iter()
            .all(|p| pyroscope_server::label(&p.labels, "collector") == Some("profcol")),
        "external label"
    );
    a.stop();
}
