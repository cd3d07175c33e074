//! TLS on the receivers, with independent clients (grpcio's secure channel and Python's urllib
//! over `ssl`): OTLP gRPC and HTTP, pprof push and Pyroscope /ingest over TLS deliver, plain HTTP
//! to a TLS port does not, and with `client_ca_file` a client without a certificate is refused
//! on all of them. Certificates come
//! from the `openssl` command line tool (installed by `./scripts/test`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Profcol, free_port, poll, python, read_proto_records, run_python, telemetry_yaml};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, both signed by
/// the CA. Returns the directory holding `ca.pem`, `server.pem`, `server.key`, `client.pem`,
/// `client.key`. Fails the test without openssl.
fn certificates(dir: &Path) -> PathBuf {
    common::openssl();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=profcol test CA",
            days[0],
            days[1],
        ],
    );
    for who in ["server", "client"] {
        let cn = format!(
            "/CN={}",
            if who == "server" {
                "localhost"
            } else {
                "client"
            }
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}.key"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &cn,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{who}.pem"),
                "-extfile",
                &format!("{who}.ext"),
                days[0],
                days[1],
            ],
        );
    }
    dir.to_owned()
}

struct Ports {
    grpc: u16,
    http: u16,
    plain: u16,
    pprof: u16,
    pyroscope: u16,
    health: u16,
}

fn start(certs: &Path, mutual: bool) -> (Profcol, Ports) {
    let p = Ports {
        grpc: free_port(),
        http: free_port(),
        plain: free_port(),
        pprof: free_port(),
        pyroscope: free_port(),
        health: free_port(),
    };
    let c = certs.display();
    // A `tls:` section indented by `n` spaces.
    let tls_at = |n: usize| {
        let pad = " ".repeat(n);
        let mut s =
            format!("{pad}tls:\n{pad}  cert_file: {c}/server.pem\n{pad}  key_file: {c}/server.key");
        if mutual {
            s.push_str(&format!("\n{pad}  client_ca_file: {c}/ca.pem"));
        }
        s
    };
    let (tls, tls_pprof, tls_pyroscope) = (tls_at(8), tls_at(6), tls_at(4));
    let yaml = format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
{tls}
      http:
        endpoint: 127.0.0.1:{http}
{tls}
  otlp/plain:
    protocols:
      http:
        endpoint: 127.0.0.1:{plain}
  pprof:
    server:
      endpoint: 127.0.0.1:{pprof}
{tls_pprof}
  pyroscope:
    endpoint: 127.0.0.1:{pyroscope}
{tls_pyroscope}
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
      receivers: [otlp, otlp/plain, pprof, pyroscope]
      exporters: [file]
{}"#,
        telemetry_yaml(None),
        grpc = p.grpc,
        http = p.http,
        plain = p.plain,
        pprof = p.pprof,
        pyroscope = p.pyroscope,
        health = p.health,
    );
    let mut pc = Profcol::start(if mutual { "mtls" } else { "tls" }, &yaml, Some(p.health));
    pc.wait_ready(None);
    (pc, p)
}

/// A Go heap profile (pushed to the pprof receiver) and a folded-stacks body (sent to the
/// pyroscope receiver's /ingest), written beside the certificates.
fn extra_bodies(certs: &Path) -> (PathBuf, PathBuf) {
    let pprof = common::testdata("grafana-pyroscope/pprof/go-heap.pb.gz");
    let folded = certs.join("cpu.folded");
    std::fs::write(&folded, "main;work;hash 30\nmain;idle 12\n").expect("folded");
    (pprof, folded)
}

fn send(
    py: &Path,
    certs: &Path,
    p: &Ports,
    request: &Path,
    client_cert: bool,
) -> serde_json::Value {
    let c = certs.display();
    let mut args = vec![
        "--grpc".to_owned(),
        format!("localhost:{}", p.grpc),
        "--https".to_owned(),
        format!("https://localhost:{}/v1development/profiles", p.http),
        "--request".to_owned(),
        request.display().to_string(),
        "--ca".to_owned(),
        format!("{c}/ca.pem"),
        // The TLS port spoken to in plain HTTP.
        "--plain-http".to_owned(),
        format!("http://127.0.0.1:{}/v1development/profiles", p.http),
    ];
    {
        let (pprof, folded) = extra_bodies(certs);
        args.extend([
            "--post".to_owned(),
            format!("https://localhost:{}/v1/pprof", p.pprof),
            pprof.display().to_string(),
            "application/octet-stream".to_owned(),
            "--post".to_owned(),
            format!(
                "https://localhost:{}/ingest?name=tlsapp.cpu&format=folded",
                p.pyroscope
            ),
            folded.display().to_string(),
            "text/plain".to_owned(),
        ]);
    }
    if client_cert {
        args.extend([
            "--cert".to_owned(),
            format!("{c}/client.pem"),
            "--key".to_owned(),
            format!("{c}/client.key"),
        ]);
    }
    let out = run_python(py, "tls_send.py", &args, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "tls_send.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    eprintln!("client certificate {client_cert}: {v}");
    v
}

fn delivered(pc: &Profcol, n: usize) -> usize {
    let path = pc.dir.path().join("profiles.pb");
    poll(Duration::from_secs(20), || {
        let got = read_proto_records(&path).len();
        (got >= n).then_some(got)
    })
    .unwrap_or_else(|| read_proto_records(&path).len())
}

#[test]
fn otlp_over_tls_and_mutual_tls() {
    let (py, capture) = (python(), common::testdata(common::EBPF_CAPTURE));
    let tmp = tempfile::tempdir().expect("tempdir");
    let certs = certificates(tmp.path());

    // Server TLS: both transports deliver; plain HTTP to the TLS port gets no answer.
    let (pc, p) = start(&certs, false);
    let r = send(&py, &certs, &p, &capture, false);
    assert_eq!(r["grpc"], "ok", "{r}\n{}", pc.stderr());
    assert_eq!(r["https"], "ok", "{r}\n{}", pc.stderr());
    assert_ne!(r["plain_http"], "ok", "{r}");
    // pprof push and Pyroscope /ingest over TLS too.
    assert_eq!(
        r["posts"],
        serde_json::json!(["ok", "ok"]),
        "{r}\n{}",
        pc.stderr()
    );
    assert_eq!(delivered(&pc, 4), 4, "{}", pc.stderr());
    pc.stop();

    // Mutual TLS: the client certificate is required.
    let (pc, p) = start(&certs, true);
    let r = send(&py, &certs, &p, &capture, false);
    assert_ne!(r["grpc"], "ok", "no client certificate: {r}");
    assert_ne!(r["https"], "ok", "no client certificate: {r}");
    for post in r["posts"].as_array().into_iter().flatten() {
        assert_ne!(post, "ok", "no client certificate: {r}");
    }
    let r = send(&py, &certs, &p, &capture, true);
    assert_eq!(r["grpc"], "ok", "{r}\n{}", pc.stderr());
    assert_eq!(r["https"], "ok", "{r}\n{}", pc.stderr());
    assert_eq!(
        r["posts"],
        serde_json::json!(["ok", "ok"]),
        "{r}\n{}",
        pc.stderr()
    );
    assert_eq!(delivered(&pc, 4), 4, "{}", pc.stderr());
    pc.stop();
}

/// A `tls` section naming files that are not a certificate and key fails validation with the key.
#[test]
fn unusable_tls_files_are_config_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let yaml = format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        tls:\n          cert_file: {j}\n          key_file: {j}\nexporters:\n  debug:\nservice:\n  pipelines:\n    profiles:\n      receivers: [otlp]\n      exporters: [debug]\n",
        j = junk.display()
    );
    let cfg = tmp.path().join("c.yaml");
    std::fs::write(&cfg, yaml).expect("write");
    let out = common::profcol_cmd(&["validate", "--config", &cfg.display().to_string()], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protocols.http.tls"), "{err}");
    assert!(err.contains("cert"), "{err}");
}
