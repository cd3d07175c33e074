//! Internal metrics, served in the Prometheus text format with the Collector's metric names.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

type Labels = Vec<(&'static str, String)>;

#[derive(Clone)]
enum Cell {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<AtomicI64>),
}

struct Family {
    help: &'static str,
    unit: &'static str,
    series: BTreeMap<Labels, Cell>,
}

#[derive(Default)]
struct Registry {
    families: BTreeMap<&'static str, Family>,
}

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, v: i64) {
        self.0.fetch_add(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A metric's name, description and unit, declared once as a constant (see [`crate::metrics`]
/// for the Collector's own; components declare theirs beside their metric set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The OpenTelemetry name (counters get `_total` in the Prometheus output).
    pub name: &'static str,
    pub help: &'static str,
    pub unit: &'static str,
}

impl MetricDef {
    pub const fn new(name: &'static str, help: &'static str, unit: &'static str) -> MetricDef {
        MetricDef { name, help, unit }
    }
}

/// The process-wide metrics registry handle. Cheap to clone.
#[derive(Clone, Default)]
pub struct Telemetry {
    inner: Arc<Mutex<Registry>>,
}

impl Telemetry {
    pub fn new() -> Telemetry {
        Telemetry::default()
    }

    fn cell(
        &self,
        name: &'static str,
        help: &'static str,
        unit: &'static str,
        labels: &[(&'static str, &str)],
        gauge: bool,
    ) -> Cell {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut reg = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let fam = reg.families.entry(name).or_insert_with(|| Family {
            help,
            unit,
            series: BTreeMap::new(),
        });
        fam.series
            .entry(labels)
            .or_insert_with(|| {
                if gauge {
                    Cell::Gauge(Arc::default())
                } else {
                    Cell::Counter(Arc::default())
                }
            })
            .clone()
    }

    /// A counter series (created on first use). `name` is the OpenTelemetry name, e.g.
    /// `otelcol_receiver_accepted_profile_samples`; Prometheus output adds `_total`.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        unit: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Counter {
        match self.cell(name, help, unit, labels, false) {
            Cell::Counter(c) => Counter(c),
            Cell::Gauge(_) => Counter::default(),
        }
    }

    pub fn gauge(
        &self,
        name: &'static str,
        help: &'static str,
        unit: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Gauge {
        match self.cell(name, help, unit, labels, true) {
            Cell::Gauge(g) => Gauge(g),
            Cell::Counter(_) => Gauge::default(),
        }
    }

    /// The counter series of `def` with `labels`.
    pub fn counter_of(&self, def: &MetricDef, labels: &[(&'static str, &str)]) -> Counter {
        self.counter(def.name, def.help, def.unit, labels)
    }

    /// The gauge series of `def` with `labels`.
    pub fn gauge_of(&self, def: &MetricDef, labels: &[(&'static str, &str)]) -> Gauge {
        self.gauge(def.name, def.help, def.unit, labels)
    }

    /// Renders every series in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let reg = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut out = String::new();
        for (name, fam) in &reg.families {
            let is_counter = fam
                .series
                .values()
                .next()
                .is_some_and(|c| matches!(c, Cell::Counter(_)));
            let full = if is_counter {
                format!("{name}_total")
            } else {
                (*name).to_owned()
            };
            let _ = writeln!(out, "# HELP {full} {} [{}]", fam.help, fam.unit);
            let _ = writeln!(
                out,
                "# TYPE {full} {}",
                if is_counter { "counter" } else { "gauge" }
            );
            for (labels, cell) in &fam.series {
                out.push_str(&full);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let v = v
                            .replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n");
                        let _ = write!(out, "{k}=\"{v}\"");
                    }
                    out.push('}');
                }
                let value = match cell {
                    Cell::Counter(c) => c.load(Ordering::Relaxed).to_string(),
                    Cell::Gauge(g) => g.load(Ordering::Relaxed).to_string(),
                };
                let _ = writeln!(out, " {value}");
            }
        }
        out
    }

    /// The current value of a series, for tests and the debug output.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<i64> {
        let reg = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let fam = reg.families.get(name)?;
        fam.series.iter().find_map(|(l, c)| {
            let matches = labels
                .iter()
                .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v));
            matches.then(|| match c {
                Cell::Counter(c) => i64::try_from(c.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
                Cell::Gauge(g) => g.load(Ordering::Relaxed),
            })
        })
    }
}

/// Binds `addr` and serves `GET /metrics` until `stop` fires. Binding errors (e.g. the port is in
/// use) are returned before anything is served.
pub async fn serve_metrics(
    telemetry: Telemetry,
    addr: &str,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot serve internal metrics on {addr}: {e}"),
        )
    })?;
    let local = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let t = telemetry.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    t.render(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok(local)
}
