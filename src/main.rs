//! The `profcol` binary: a thin CLI over the workspace crates.

mod alloc;
mod convert;
mod query_cmd;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use profcol_config::{ConfigError, Source};
use profcol_pipeline::{Registry, Service, Telemetry};

const DEFAULT_CONFIG: &str = include_str!("default_config.yaml");

#[derive(Parser)]
#[command(
    name = "profcol",
    version,
    about = "An OpenTelemetry-Collector-compatible pipeline for continuous profiling data",
    long_about = "profcol receives profiles (OTLP over gRPC and HTTP), processes them (batch, memory_limiter) \
and exports them (otlp_grpc, otlp_http, debug, file); it also takes pprof in (pprof receiver). It reads the Collector's pipeline YAML.\n\n\
Without --config it runs an embedded default pipeline: OTLP in on localhost:4317 (gRPC) and \
localhost:4318 (HTTP), batch, debug + file (./profcol-data/otlp/profiles.jsonl) out, health check on \
localhost:13133, metrics on localhost:8888/metrics. `profcol print-default-config` shows it."
)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone, Default)]
struct RunArgs {
    /// Config source: a file path, file:PATH, yaml:INLINE or env:VAR. Repeatable; later sources
    /// are deep-merged over earlier ones (maps merge, lists are replaced).
    #[arg(long = "config", value_name = "SOURCE", global = true)]
    config: Vec<String>,
    /// Accepted for command-line compatibility with the Collector (e.g. service.profilesSupport);
    /// profiles need no gate in profcol.
    #[arg(long = "feature-gates", value_name = "GATES", global = true)]
    feature_gates: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a configuration without starting anything; prints every error with key path and line.
    Validate,
    /// List the component types this build knows.
    Components,
    /// Print the embedded default configuration.
    PrintDefaultConfig,
    /// Convert between pprof, OTLP (protobuf), OTLP/JSON and folded stacks.
    Convert(convert::ConvertArgs),
    /// Run SQL over the Parquet output (the `samples` table) and print a table, CSV or JSON.
    Query(query_cmd::QueryArgs),
    /// Top functions by self and total time (or bytes, ...) over Parquet data or one profile file.
    Top(query_cmd::TopArgs),
    /// The functions whose share changed most between two versions or time windows.
    Diff(query_cmd::DiffArgs),
    /// Flame graph SVG (or folded, speedscope, pprof) of a selection; --diff between two.
    Flamegraph(query_cmd::FlamegraphArgs),
}

fn registry() -> Registry {
    let mut r = Registry::new();
    profcol_receivers::register(&mut r);
    profcol_processors::register(&mut r);
    profcol_exporters::register(&mut r);
    r.register(profcol_pipeline::Factory::Extension(Box::new(
        profcol_pipeline::health::HealthCheckFactory,
    )));
    r
}

fn sources(args: &RunArgs) -> Vec<Source> {
    if args.config.is_empty() {
        vec![Source::Yaml {
            name: "<embedded default config>".into(),
            text: DEFAULT_CONFIG.into(),
        }]
    } else {
        args.config.iter().map(|c| Source::parse_arg(c)).collect()
    }
}

/// Loads, resolves and validates; returns the config and its warnings, or every error found.
fn load(
    args: &RunArgs,
    registry: &Registry,
) -> Result<(profcol_config::Config, Vec<String>), Vec<String>> {
    let env = |k: &str| std::env::var(k).ok();
    let (mut config, warnings) = profcol_config::load(&sources(args), &env)
        .map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let mut warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    let mut errors: Vec<ConfigError> = Vec::new();
    match profcol_config::resolve(&mut config, registry) {
        Ok(w) => warnings.extend(w.iter().map(ToString::to_string)),
        Err(e) => errors.extend(e.0),
    }
    errors.extend(profcol_pipeline::service::validate_components(
        &config, registry,
    ));
    for (pid, p) in config.pipelines.iter().filter(|_| !args.config.is_empty()) {
        if p.processors.iter().any(|id| id.ty == "batch")
            && pid.signal == profcol_config::Signal::Profiles
        {
            warnings.push(format!(
                "service.pipelines.{pid}: the batch processor does not support profiles in the OpenTelemetry Collector; this config will not run on otelcol-contrib (use the exporter's sending_queue.batch there)"
            ));
        }
    }
    if errors.is_empty() {
        Ok((config, warnings))
    } else {
        Err(errors.iter().map(ToString::to_string).collect())
    }
}

fn init_logging(level: &str, encoding: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PROFCOL_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if encoding == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let registry = registry();
    let (config, warnings) = match load(&args, &registry) {
        Ok(x) => x,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            anyhow::bail!(
                "invalid configuration ({} error{})",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
        }
    };
    init_logging(
        &config.telemetry.logs_level,
        &config.telemetry.logs_encoding,
    );
    for w in &warnings {
        tracing::warn!("{w}");
    }
    alloc::init();
    let telemetry = Telemetry::new();
    let service =
        Service::build(&config, &registry, telemetry.clone()).context("building the pipeline")?;
    if config.telemetry.metrics_level != "none" {
        let addr = profcol_pipeline::telemetry::serve_metrics(telemetry, &config.telemetry.metrics_address, service.shutdown_token())
            .await
            .context("starting internal telemetry (set service.telemetry.metrics.level: none to turn it off, or pick another port)")?;
        tracing::info!(address = %addr, "internal metrics at /metrics");
    }
    service.start().await.context("starting components")?;
    tracing::info!("profcol is running; send SIGINT or SIGTERM to stop");
    wait_for_signal().await;
    tracing::info!("shutting down: draining what was accepted");
    service.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = &cli.run.feature_gates;
    match cli.command {
        Some(Command::Components) => {
            let r = registry();
            println!(
                "{:<10} {:<16} {:<14} {:<22} description",
                "kind", "type", "aliases", "signals"
            );
            for f in r.factories() {
                let i = f.info();
                let signals: Vec<String> = i.signals.iter().map(ToString::to_string).collect();
                let kind = format!("{:?}", i.kind).to_lowercase();
                println!(
                    "{:<10} {:<16} {:<14} {:<22} {}",
                    kind,
                    i.ty,
                    i.aliases.join(","),
                    signals.join(","),
                    i.description
                );
            }
            ExitCode::SUCCESS
        }
        Some(Command::Query(a)) => query_cmd::run(query_cmd::Cmd::Query(a)),
        Some(Command::Top(a)) => query_cmd::run(query_cmd::Cmd::Top(a)),
        Some(Command::Diff(a)) => query_cmd::run(query_cmd::Cmd::Diff(a)),
        Some(Command::Flamegraph(a)) => query_cmd::run(query_cmd::Cmd::Flamegraph(a)),
        Some(Command::Convert(args)) => match convert::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Some(Command::PrintDefaultConfig) => {
            print!("{DEFAULT_CONFIG}");
            ExitCode::SUCCESS
        }
        Some(Command::Validate) => match load(&cli.run, &registry()) {
            Ok((_, warnings)) => {
                for w in warnings {
                    eprintln!("warning: {w}");
                }
                println!("configuration is valid");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                eprintln!(
                    "invalid configuration ({} error{})",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                );
                ExitCode::FAILURE
            }
        },
        None => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(cli.run)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
