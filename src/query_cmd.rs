//! `profcol query`, `top`, `diff` and `flamegraph`: questions over the Parquet output (or one
//! profile file), answered by DataFusion through `profcol-query`.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use profcol_query::ops::{self, TypeInfo};
use profcol_query::render::{Cell, Column, Kind, Table, format_value};
use profcol_query::{Filter, ScanProgress, Session, Side, TimeWindow, filter, flame, render};

/// The largest `--input` file accepted.
const INPUT_LIMIT: u64 = 1 << 30;

#[derive(Args, Clone)]
pub struct SourceArgs {
    /// Parquet data written by the parquet exporter: its base directory (or the `profiles/`
    /// directory, a partition inside it, or one .parquet file), or s3://bucket/base, gs://…,
    /// az://… (credentials from the usual environment variables).
    #[arg(long, value_name = "PATH", required_unless_present = "input")]
    data: Option<String>,
    /// One profile file instead of a Parquet tree: pprof, OTLP, OTLP/JSON or folded stacks
    /// (format sniffed), e.g. `--input cpu.pprof`.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    input: Option<String>,
    /// Show scan progress on stderr even when stderr is not a terminal (on a terminal it shows
    /// once a scan takes more than a second).
    #[arg(long)]
    progress: bool,
    /// Print the SQL that answers the question to stderr.
    #[arg(long)]
    show_sql: bool,
}

#[derive(Args, Clone, Default)]
pub struct FilterArgs {
    /// Only this service (`service_name`).
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Profile type: a sample type (`cpu`, `alloc_space`), or a prefix of / the whole
    /// `sample_type:sample_unit:period_type:period_unit`. Without it CPU is chosen when present,
    /// else the type with the most samples.
    #[arg(long = "type", value_name = "TYPE")]
    profile_type: Option<String>,
    /// Only the last D (`30m`, `2h`, `7d`).
    #[arg(long, value_name = "D", conflicts_with = "window")]
    since: Option<String>,
    /// Only this time window, `START..END` in UTC (`2026-11-25T10..2026-11-25T11`, `3h..1h`).
    #[arg(long, value_name = "START..END")]
    window: Option<String>,
    /// Extra SQL condition on `samples` columns, e.g. `host_name = 'web-1'` (repeatable, ANDed).
    #[arg(long = "where", value_name = "SQL")]
    where_sql: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum TableFormat {
    /// aligned columns
    #[default]
    Table,
    Csv,
    Json,
}

impl From<TableFormat> for render::Format {
    fn from(f: TableFormat) -> Self {
        match f {
            TableFormat::Table => render::Format::Table,
            TableFormat::Csv => render::Format::Csv,
            TableFormat::Json => render::Format::Json,
        }
    }
}

#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// SQL over the `samples` table (one row per sample; see the Parquet layout in README).
    sql: String,
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum SortBy {
    /// time in the function itself (leaf frames)
    #[default]
    #[value(name = "self")]
    SelfValue,
    /// time in the function and its callees (once per stack)
    Total,
}

#[derive(Args)]
pub struct TopArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// How many functions.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    #[arg(long, value_enum, default_value_t)]
    sort: SortBy,
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
}

#[derive(Args, Clone, Default)]
pub struct SidesArgs {
    /// Compare by this column or SQL expression (`service_version`, `host_name`); without it,
    /// --from and --to are time windows `START..END`.
    #[arg(long, value_name = "COLUMN")]
    by: Option<String>,
    /// The baseline: a value of --by, or a time window.
    #[arg(long, value_name = "A")]
    from: Option<String>,
    /// The comparison: a value of --by, or a time window.
    #[arg(long, value_name = "B")]
    to: Option<String>,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    sides: SidesArgs,
    /// Compare self time (leaf) or total time (function and callees).
    #[arg(long, value_enum, default_value_t)]
    metric: SortBy,
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlameFormat {
    /// an interactive SVG flame graph (inferno)
    Svg,
    /// folded stacks `root;…;leaf value` (with --diff: `… from to`)
    Folded,
    /// speedscope JSON (https://www.speedscope.app)
    Speedscope,
    /// gzipped pprof (go tool pprof, Pyroscope, …)
    Pprof,
}

#[derive(Args)]
pub struct FlamegraphArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// A differential flame graph between --from and --to (see `profcol diff`): widths from
    /// --to, red where a stack's share grew, blue where it shrank.
    #[arg(long)]
    diff: bool,
    #[command(flatten)]
    sides: SidesArgs,
    /// Output file, `-` for stdout.
    #[arg(short = 'o', long = "output", default_value = "-")]
    output: String,
    /// Output format (default: from the output file's extension, else svg).
    #[arg(long, value_enum)]
    format: Option<FlameFormat>,
    /// Title of the SVG.
    #[arg(long)]
    title: Option<String>,
}

/// The subcommands this module runs.
pub enum Cmd {
    Query(QueryArgs),
    Top(TopArgs),
    Diff(DiffArgs),
    Flamegraph(FlamegraphArgs),
}

/// Runs a query subcommand to completion.
pub fn run(cmd: Cmd) -> ExitCode {
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
    let r = rt.block_on(async move {
        match cmd {
            Cmd::Query(a) => query(a).await,
            Cmd::Top(a) => top(a).await,
            Cmd::Diff(a) => diff(a).await,
            Cmd::Flamegraph(a) => flamegraph(a).await,
        }
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn human_bytes(b: u64) -> String {
    format_value(b as f64, "bytes")
}

fn progress_printer(force: bool) -> Option<profcol_query::source::ProgressFn> {
    let tty = std::io::stderr().is_terminal();
    if !tty && !force {
        return None;
    }
    Some(Arc::new(move |p: ScanProgress| {
        let mut line = if p.total_bytes > 0 {
            format!(
                "scanning {} files: {} of {} read ({:.0}%), {:.1} s",
                p.files,
                human_bytes(p.bytes_scanned),
                human_bytes(p.total_bytes),
                100.0 * p.bytes_scanned as f64 / p.total_bytes as f64,
                p.elapsed.as_secs_f64()
            )
        } else {
            format!("running, {:.1} s", p.elapsed.as_secs_f64())
        };
        if p.done {
            line.push_str(", done");
        }
        let mut err = std::io::stderr().lock();
        if tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if p.done {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }))
}

async fn open(src: &SourceArgs) -> anyhow::Result<Session> {
    let mut session = match (&src.data, &src.input) {
        (_, Some(path)) => {
            let mut bytes = Vec::new();
            if path == "-" {
                std::io::stdin()
                    .lock()
                    .take(INPUT_LIMIT + 1)
                    .read_to_end(&mut bytes)
                    .context("reading stdin")?;
            } else {
                std::fs::File::open(path)
                    .with_context(|| format!("opening {path}"))?
                    .take(INPUT_LIMIT + 1)
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("reading {path}"))?;
            }
            if bytes.len() as u64 > INPUT_LIMIT {
                bail!("{path} is larger than {INPUT_LIMIT} bytes");
            }
            let format = crate::convert::sniff(&bytes);
            let req = crate::convert::to_request(&bytes, format)
                .with_context(|| format!("reading {path} as {format:?}"))?;
            Session::from_request(&req, path)?
        }
        (Some(data), None) => Session::open(data)
            .await
            .with_context(|| format!("opening {data}"))?,
        (None, None) => bail!("give --data PATH or --input FILE"),
    };
    session.set_progress(progress_printer(src.progress));
    Ok(session)
}

fn filter_of(f: &FilterArgs) -> anyhow::Result<Filter> {
    let window = match (&f.since, &f.window) {
        (Some(d), _) => TimeWindow::since(
            filter::parse_duration(d)
                .with_context(|| format!("--since {d}: not a duration (30m, 2h, 7d)"))?,
        ),
        (None, Some(w)) => TimeWindow::parse(w).context("--window")?,
        (None, None) => TimeWindow::default(),
    };
    Ok(Filter {
        service: f.service.clone(),
        profile_type: f.profile_type.clone(),
        window,
        where_sql: f.where_sql.clone(),
    })
}

fn sides_of(s: &SidesArgs) -> anyhow::Result<(Side, Side)> {
    let (Some(from), Some(to)) = (&s.from, &s.to) else {
        bail!("give --from and --to (values of --by COLUMN, or time windows START..END)");
    };
    Ok(match &s.by {
        Some(by) => (Side::by(by, from), Side::by(by, to)),
        None => (
            Side::window(TimeWindow::parse(from).context("--from")?),
            Side::window(TimeWindow::parse(to).context("--to")?),
        ),
    })
}

fn note_other_types(chosen: &TypeInfo, others: &[TypeInfo]) {
    if others.is_empty() {
        return;
    }
    let list: Vec<String> = others
        .iter()
        .map(|t| format!("{} ({} samples)", t.profile_type, t.samples))
        .collect();
    eprintln!(
        "note: showing {}; the selection also holds {} (pick one with --type)",
        chosen.profile_type,
        list.join(", ")
    );
}

fn show_sql(src: &SourceArgs, sql: &str) {
    if src.show_sql {
        eprintln!("{sql}");
    }
}

fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).context("writing stdout")?;
    out.flush().context("writing stdout")
}

async fn query(a: QueryArgs) -> anyhow::Result<()> {
    let session = open(&a.source).await?;
    show_sql(&a.source, &a.sql);
    let batches = session.sql(&a.sql).await?;
    let table = Table::from_batches(&batches)?;
    print_out(&table.render(a.format.into()))?;
    if a.format == TableFormat::Table {
        let n = table.rows.len();
        eprintln!("({n} row{})", if n == 1 { "" } else { "s" });
    }
    Ok(())
}

fn pct(v: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * v as f64 / total as f64
    }
}

async fn top(a: TopArgs) -> anyhow::Result<()> {
    let session = open(&a.source).await?;
    let opts = profcol_query::TopOptions {
        filter: filter_of(&a.filter)?,
        limit: a.limit,
        order: match a.sort {
            SortBy::SelfValue => profcol_query::TopOrder::SelfValue,
            SortBy::Total => profcol_query::TopOrder::Total,
        },
    };
    let r = ops::top(&session, &opts).await?;
    show_sql(&a.source, &r.sql);
    note_other_types(&r.profile, &r.other_types);
    let unit = r.profile.unit.clone();
    let mut t = Table::new(vec![
        Column::new("self", Kind::Value(unit.clone())),
        Column::new("self%", Kind::Percent),
        Column::new("total", Kind::Value(unit.clone())),
        Column::new("total%", Kind::Percent),
        Column::new("function", Kind::Text),
    ]);
    for row in &r.rows {
        t.rows.push(vec![
            Cell::Int(row.self_value),
            Cell::Float(pct(row.self_value, r.grand_total)),
            Cell::Int(row.total_value),
            Cell::Float(pct(row.total_value, r.grand_total)),
            Cell::Str(row.function.clone()),
        ]);
    }
    if a.format == TableFormat::Table {
        print_out(&format!(
            "{}: {} samples, total {} ({})\n",
            r.profile.profile_type,
            r.profile.samples,
            format_value(r.grand_total as f64, &unit),
            session.location
        ))?;
    }
    print_out(&t.render(a.format.into()))
}

async fn diff(a: DiffArgs) -> anyhow::Result<()> {
    let session = open(&a.source).await?;
    let (from, to) = sides_of(&a.sides)?;
    let opts = profcol_query::DiffOptions {
        filter: filter_of(&a.filter)?,
        from: from.clone(),
        to: to.clone(),
        metric: match a.metric {
            SortBy::SelfValue => profcol_query::Metric::SelfValue,
            SortBy::Total => profcol_query::Metric::Total,
        },
        limit: a.limit,
    };
    let r = ops::diff(&session, &opts).await?;
    show_sql(&a.source, &r.sql);
    note_other_types(&r.profile, &r.other_types);
    let unit = r.profile.unit.clone();
    let mut t = Table::new(vec![
        Column::new("from", Kind::Value(unit.clone())),
        Column::new("to", Kind::Value(unit.clone())),
        Column::new("from%", Kind::Percent),
        Column::new("to%", Kind::Percent),
        Column::new("change", Kind::PercentPoints),
        Column::new("function", Kind::Text),
    ]);
    for row in &r.rows {
        t.rows.push(vec![
            Cell::Int(row.from_value),
            Cell::Int(row.to_value),
            Cell::Float(row.from_pct),
            Cell::Float(row.to_pct),
            Cell::Float(row.delta_pp),
            Cell::Str(row.function.clone()),
        ]);
    }
    if a.format == TableFormat::Table {
        print_out(&format!(
            "{} {}: from {} (total {}) to {} (total {}); shares of each side's total\n",
            r.profile.profile_type,
            match opts.metric {
                profcol_query::Metric::SelfValue => "self",
                profcol_query::Metric::Total => "total",
            },
            from.label,
            format_value(r.from_total as f64, &unit),
            to.label,
            format_value(r.to_total as f64, &unit),
        ))?;
    }
    print_out(&t.render(a.format.into()))
}

fn format_of_output(path: &str) -> FlameFormat {
    let p = path.to_ascii_lowercase();
    if p.ends_with(".folded") || p.ends_with(".txt") || p.ends_with(".collapsed") {
        FlameFormat::Folded
    } else if p.ends_with(".json") {
        FlameFormat::Speedscope
    } else if p.ends_with(".pprof")
        || p.ends_with(".pb.gz")
        || p.ends_with(".pb")
        || p.ends_with(".prof")
    {
        FlameFormat::Pprof
    } else {
        FlameFormat::Svg
    }
}

fn title_of(a: &FlamegraphArgs, f: &Filter, t: &TypeInfo, diff: Option<(&Side, &Side)>) -> String {
    if let Some(t) = &a.title {
        return t.clone();
    }
    let mut parts = Vec::new();
    if let Some(s) = &f.service {
        parts.push(format!("service {s}"));
    }
    parts.push(t.sample_type.clone());
    if let Some((from, to)) = diff {
        let by = a.sides.by.as_deref().unwrap_or("time");
        parts.push(format!("{by}: {} → {}", from.label, to.label));
    }
    format!("profcol: {}", parts.join(", "))
}

async fn flamegraph(a: FlamegraphArgs) -> anyhow::Result<()> {
    let format = a.format.unwrap_or_else(|| format_of_output(&a.output));
    if a.output == "-"
        && std::io::stdout().is_terminal()
        && matches!(format, FlameFormat::Svg | FlameFormat::Pprof)
    {
        bail!("refusing to write {format:?} to a terminal; give -o FILE");
    }
    let session = open(&a.source).await?;
    let filter = filter_of(&a.filter)?;
    let bytes: Vec<u8> = if a.diff {
        let (from, to) = sides_of(&a.sides)?;
        let d = ops::folded_diff(&session, &filter, &from, &to).await?;
        show_sql(&a.source, &d.sql);
        note_other_types(&d.profile, &d.other_types);
        match format {
            FlameFormat::Svg => flame::diff_svg(
                &d.stacks,
                &flame::SvgOptions {
                    title: title_of(&a, &filter, &d.profile, Some((&from, &to))),
                    subtitle: Some(
                        "widths: --to; red: share grew, blue: share shrank (sides normalized)"
                            .into(),
                    ),
                    unit: d.profile.unit.clone(),
                },
            )?,
            FlameFormat::Folded => flame::folded_diff_text(&d.stacks).into_bytes(),
            other => bail!("--diff writes svg or folded, not {other:?}"),
        }
    } else {
        if a.sides.from.is_some() || a.sides.to.is_some() {
            bail!("--from/--to select the sides of a differential flame graph; add --diff");
        }
        let f = ops::folded(&session, &filter).await?;
        show_sql(&a.source, &f.sql);
        note_other_types(&f.profile, &f.other_types);
        match format {
            FlameFormat::Svg => flame::svg(
                &f.stacks,
                &flame::SvgOptions {
                    title: title_of(&a, &filter, &f.profile, None),
                    subtitle: Some(f.profile.profile_type.clone()),
                    unit: f.profile.unit.clone(),
                },
            )?,
            FlameFormat::Folded => flame::folded_text(&f.stacks).into_bytes(),
            FlameFormat::Speedscope => flame::speedscope(
                &f.stacks,
                &title_of(&a, &filter, &f.profile, None),
                &f.profile.unit,
            )
            .into_bytes(),
            FlameFormat::Pprof => flame::pprof(&f.stacks, &f.profile.sample_type, &f.profile.unit)?,
        }
    };
    if a.output == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes).context("writing stdout")?;
        out.flush().context("writing stdout")?;
    } else {
        std::fs::write(&a.output, &bytes).with_context(|| format!("writing {}", a.output))?;
        eprintln!("wrote {} ({format:?})", a.output);
    }
    Ok(())
}
