//! The `debug` exporter: prints what flows through the pipeline, with resolved frames that a
//! person can read.

pub mod config;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::view::{Dict, any_value_text};
use profcol_pdata::{Batch, ExportProfilesServiceRequest};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::exporter_helper::{QueuedExporter, SendError, Sender, into_parts};
use profcol_pipeline::{BuildError, Built, ComponentInfo, Context, ExporterFactory};
use profcol_settings::ComponentConfig;
use profcol_settings::{QueueConfig, RetryConfig};

pub use config::{DebugConfig, Verbosity};

pub struct DebugFactory;

impl ExporterFactory for DebugFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Exporter,
            "debug",
            "prints profiles (verbosity basic, normal or detailed)",
        )
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        DebugConfig::validate(section)
    }
    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError> {
        let cfg = DebugConfig::load(section)?;
        let queue = QueueConfig {
            enabled: false,
            ..Default::default()
        };
        let retry = RetryConfig {
            enabled: false,
            ..Default::default()
        };
        Ok(into_parts(QueuedExporter::new(
            &ctx,
            DebugSender {
                cfg,
                seen: AtomicU64::new(0),
            },
            queue,
            retry,
        )))
    }
}

pub struct DebugSender {
    cfg: DebugConfig,
    seen: AtomicU64,
}

fn kv_list(attrs: &[profcol_pdata::common::KeyValue]) -> String {
    attrs
        .iter()
        .map(|kv| format!("{}={}", kv.key, any_value_text(kv.value.as_ref())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary line for a request.
pub fn summary(req: &ExportProfilesServiceRequest) -> String {
    format!(
        "Profiles: {} resource profiles, {} profiles, {} samples",
        req.resource_profiles.len(),
        profcol_pdata::profile_count(req),
        profcol_pdata::sample_count(req)
    )
}

/// Renders a request at the given verbosity.
pub fn render(req: &ExportProfilesServiceRequest, verbosity: Verbosity) -> String {
    let mut out = summary(req);
    if verbosity == Verbosity::Basic {
        return out;
    }
    let empty = Default::default();
    let dict = Dict::new(req.dictionary.as_ref().unwrap_or(&empty));
    for (ri, rp) in req.resource_profiles.iter().enumerate() {
        let attrs = rp
            .resource
            .as_ref()
            .map(|r| kv_list(&r.attributes))
            .unwrap_or_default();
        let _ = write!(out, "\nResourceProfiles #{ri} [{attrs}]");
        for (si, sp) in rp.scope_profiles.iter().enumerate() {
            let (name, version) = sp
                .scope
                .as_ref()
                .map(|s| (s.name.as_str(), s.version.as_str()))
                .unwrap_or(("", ""));
            let _ = write!(out, "\n  ScopeProfiles #{si} {name} {version}");
            for (pi, p) in sp.profiles.iter().enumerate() {
                let (ty, unit) = p
                    .sample_type
                    .as_ref()
                    .map(|v| (dict.string(v.type_strindex), dict.string(v.unit_strindex)))
                    .unwrap_or(("", ""));
                let _ = write!(
                    out,
                    "\n    Profile #{pi} {ty}/{unit}: {} samples, time {} ns, duration {} ns",
                    p.samples.len(),
                    p.time_unix_nano,
                    p.duration_nano
                );
                if let Some(pt) = &p.period_type {
                    let _ = write!(
                        out,
                        ", period {} {}/{}",
                        p.period,
                        dict.string(pt.type_strindex),
                        dict.string(pt.unit_strindex)
                    );
                }
                if !p.profile_id.is_empty() {
                    let _ = write!(out, ", profile_id {}", hex::encode(&p.profile_id));
                }
                for (smi, s) in p.samples.iter().enumerate() {
                    let frames = dict.stack_frames(s.stack_index);
                    let values = if s.values.is_empty() {
                        format!("{} timestamps", s.timestamps_unix_nano.len())
                    } else {
                        format!("{:?}", s.values)
                    };
                    let attrs: Vec<String> = s
                        .attribute_indices
                        .iter()
                        .filter_map(|&a| dict.attribute(a))
                        .map(|(k, v, _)| format!("{k}={}", any_value_text(v)))
                        .collect();
                    let link = dict
                        .link(s.link_index)
                        .map(|l| {
                            format!(
                                " trace_id={} span_id={}",
                                hex::encode(&l.trace_id),
                                hex::encode(&l.span_id)
                            )
                        })
                        .unwrap_or_default();
                    match verbosity {
                        Verbosity::Normal => {
                            let stack: Vec<String> =
                                frames.iter().rev().map(|f| f.label()).collect();
                            let _ = write!(out, "\n      {} {values}", stack.join(";"));
                            if !attrs.is_empty() {
                                let _ = write!(out, " {{{}}}", attrs.join(", "));
                            }
                            out.push_str(&link);
                        }
                        _ => {
                            let _ = write!(out, "\n      Sample #{smi}: values {values}");
                            if !s.timestamps_unix_nano.is_empty() {
                                let _ = write!(out, ", timestamps {:?}", s.timestamps_unix_nano);
                            }
                            if !attrs.is_empty() {
                                let _ = write!(out, "\n        attributes: {}", attrs.join(", "));
                            }
                            if !link.is_empty() {
                                let _ = write!(out, "\n        link:{link}");
                            }
                            for f in &frames {
                                let _ = write!(out, "\n        at {}", f.label());
                                if !f.file.is_empty() {
                                    let _ = write!(out, " ({}:{})", f.file, f.line);
                                }
                                if f.address != 0 {
                                    let _ = write!(
                                        out,
                                        " [0x{:x}{}{}]",
                                        f.address,
                                        if f.mapping.is_empty() { "" } else { " in " },
                                        f.mapping
                                    );
                                }
                                if f.inlined {
                                    out.push_str(" (inlined)");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

impl Sender for DebugSender {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let n = self.seen.fetch_add(1, Ordering::Relaxed);
            let show = n < self.cfg.sampling_initial
                || (n - self.cfg.sampling_initial).is_multiple_of(self.cfg.sampling_thereafter)
                || self.cfg.verbosity != Verbosity::Basic;
            if show {
                let text = render(&batch.request, self.cfg.verbosity);
                if self.cfg.use_internal_logger {
                    tracing::info!(target: "profcol::debug_exporter", "{text}");
                } else {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{text}");
                }
            }
            Ok(())
        })
    }
}
