//! What the tests need from the machine: the shared test inputs, the Python venv, Go, openssl,
//! Node.js with the Pyroscope SDK packages, and the fixed ports of the embedded default pipeline.
//!
//! README's test command (`./scripts/test`) installs every tool and checks for the test inputs
//! before it builds anything. A test whose requirement is still missing fails with a message that
//! names what is missing and how to get it: it never passes without having run.
//!
//! Each requirement comes as `try_*` (a typed [`Missing`]) and as a plain function that panics
//! with that message, which is what a test wants.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How README's test command provides what the tests need (appended to every [`Missing`]).
const HOW: &str = "README's test command, ./scripts/test, installs the tools";

/// A requirement of a test that this machine does not meet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error(
        "test data {rel} not found (looked in {looked}): the tests read the project's shared test inputs from ../shared/testdata beside the repository; put the shared folder there (./scripts/test stops early without it)"
    )]
    TestData { rel: String, looked: String },
    #[error(
        "Python for the test clients not found at {path} ({detail}); {HOW}: it creates the venv ~/.cache/profcol-venv from tests/python/requirements.txt (or set PROFCOL_PYTHON to a Python that has them)"
    )]
    Python { path: String, detail: String },
    #[error(
        "{what} not found on PATH; {HOW}: it installs Debian's {package} when missing (apt-get install {package})"
    )]
    Tool {
        what: &'static str,
        package: &'static str,
    },
    #[error("{what} is not installed in {dir} ({detail}); {HOW}: it runs `npm ci` in tests/node")]
    Node {
        what: &'static str,
        dir: String,
        detail: String,
    },
    #[error(
        "port {port} stayed in use for {waited:?}, so the embedded default pipeline cannot start: stop the other profcol or Collector listening on it and run the test again"
    )]
    PortInUse { port: u16, waited: Duration },
}

fn or_panic<T>(r: Result<T, Missing>) -> T {
    r.unwrap_or_else(|e| panic!("cannot run this test: {e}"))
}

/// The repository root (the workspace, one level above this crate).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The folders searched for the shared test inputs, in order: `$PROFCOL_TESTDATA` when set
/// (`./scripts/test` sets it to the folder it found), then `../shared/testdata` beside the
/// repository.
pub fn testdata_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PROFCOL_TESTDATA")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(repo_root().join("../shared/testdata"));
    dirs
}

/// A file or folder of the shared test inputs (`rel` is relative to `testdata/`).
pub fn try_testdata(rel: &str) -> Result<PathBuf, Missing> {
    let candidates: Vec<PathBuf> = testdata_dirs().into_iter().map(|d| d.join(rel)).collect();
    match candidates.iter().find(|c| c.exists()) {
        Some(c) => Ok(c.clone()),
        None => Err(Missing::TestData {
            rel: rel.to_owned(),
            looked: candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// [`try_testdata`], failing the test when the input is missing.
pub fn testdata(rel: &str) -> PathBuf {
    or_panic(try_testdata(rel))
}

/// The shared test inputs folder itself.
pub fn testdata_dir() -> PathBuf {
    testdata("")
}

/// The real eBPF profiler capture in the v1.10 layout (relative to `testdata/`).
pub const EBPF_CAPTURE: &str = "grafana-pyroscope/otlp/otel-ebpf-profile.v1_10.pb.bin";
/// The same kind of capture in the incompatible pre-v1.10 layout.
pub const EBPF_CAPTURE_OLD: &str =
    "grafana-pyroscope/otlp/otel-ebpf-profile.OLD_v1_8_layout.pb.bin";

/// The Python of the test clients: `$PROFCOL_PYTHON`, else `~/.cache/profcol-venv/bin/python3`,
/// with every module of `modules` importable.
pub fn try_python_with(modules: &[&str]) -> Result<PathBuf, Missing> {
    let p = match std::env::var_os("PROFCOL_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cache/profcol-venv/bin/python3"),
    };
    let missing = |detail: String| Missing::Python {
        path: p.display().to_string(),
        detail,
    };
    if !p.is_file() {
        return Err(missing("no such file".into()));
    }
    if modules.is_empty() {
        return Ok(p);
    }
    let code = format!("import {}", modules.join(", "));
    match Command::new(&p).args(["-c", &code]).output() {
        Ok(o) if o.status.success() => Ok(p),
        Ok(o) => Err(missing(format!(
            "`{code}` fails: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(missing(format!("cannot run it: {e}"))),
    }
}

/// The Python of the test clients (see [`try_python_with`]), failing the test when it is missing.
pub fn python() -> PathBuf {
    or_panic(try_python_with(&[]))
}

/// The Python of the test clients with `modules` importable, failing the test otherwise.
pub fn python_with(modules: &[&str]) -> PathBuf {
    or_panic(try_python_with(modules))
}

/// An executable named `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `go` from `PATH` (Debian's golang-go).
pub fn try_go() -> Result<PathBuf, Missing> {
    on_path("go").ok_or(Missing::Tool {
        what: "`go`",
        package: "golang-go",
    })
}

/// `go` from `PATH`, failing the test when it is missing.
pub fn go() -> PathBuf {
    or_panic(try_go())
}

/// `openssl` from `PATH`.
pub fn try_openssl() -> Result<PathBuf, Missing> {
    on_path("openssl").ok_or(Missing::Tool {
        what: "`openssl`",
        package: "openssl",
    })
}

/// `openssl` from `PATH`, failing the test when it is missing.
pub fn openssl() -> PathBuf {
    or_panic(try_openssl())
}

/// `tests/node` with `node` runnable and `@pyroscope/nodejs` installed by `npm ci`.
pub fn try_node_sdk() -> Result<PathBuf, Missing> {
    let dir = repo_root().join("tests/node");
    let package = dir.join("node_modules/@pyroscope/nodejs/package.json");
    if !package.is_file() {
        return Err(Missing::Node {
            what: "@pyroscope/nodejs",
            dir: dir.display().to_string(),
            detail: format!("{} is absent", package.display()),
        });
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(dir),
        other => Err(Missing::Node {
            what: "a runnable `node`",
            dir: dir.display().to_string(),
            detail: format!("`node --version`: {other:?}"),
        }),
    }
}

/// `tests/node` ready to run the Node.js SDK, failing the test otherwise.
pub fn node_sdk() -> PathBuf {
    or_panic(try_node_sdk())
}

/// The fixed ports of the embedded default pipeline (OTLP gRPC and HTTP, health check, metrics).
pub const DEFAULT_PORTS: [u16; 4] = [4317, 4318, 13133, 8888];

/// Exclusive use of fixed loopback ports across every test process of this machine: holds a
/// lock file (so two test binaries, or two clones, never start the default pipeline at once)
/// and waits up to `limit` for each port to be free. Dropping it releases the lock.
pub struct FixedPorts {
    _lock: Option<File>,
}

/// [`FixedPorts`] for `ports`.
pub fn try_fixed_ports(ports: &[u16], limit: Duration) -> Result<FixedPorts, Missing> {
    let lock = File::create(std::env::temp_dir().join("profcol-fixed-ports.lock"))
        .ok()
        .filter(|f| f.lock().is_ok());
    let start = Instant::now();
    for &port in ports {
        while TcpListener::bind(("127.0.0.1", port)).is_err() {
            if start.elapsed() > limit {
                return Err(Missing::PortInUse {
                    port,
                    waited: limit,
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(FixedPorts { _lock: lock })
}

/// The embedded default pipeline's ports (waiting up to a minute), failing the test when one
/// stays in use.
pub fn default_ports() -> FixedPorts {
    or_panic(try_fixed_ports(&DEFAULT_PORTS, Duration::from_secs(60)))
}
