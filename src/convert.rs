//! `profcol convert`: pprof, OTLP (protobuf request), OTLP/JSON and folded stacks, any to any,
//! through the OTLP data model.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::pprof;
use prost::Message;

/// The largest input accepted, after decompression.
const LIMIT: usize = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// pprof profile.proto (gzip or raw on input; gzip on output)
    Pprof,
    /// a binary OTLP ExportProfilesServiceRequest
    Otlp,
    /// OTLP/JSON (protojson)
    OtlpJson,
    /// folded stacks, `root;...;leaf 123` per line
    Folded,
}

#[derive(Args)]
pub struct ConvertArgs {
    /// Input file, or `-` for stdin.
    pub input: String,
    /// Output file, or `-` for stdout (default).
    #[arg(short = 'o', long = "output", default_value = "-")]
    pub output: String,
    /// Input format (sniffed when absent).
    #[arg(long)]
    pub from: Option<Format>,
    /// Output format (default: from the output file's extension, else otlp-json).
    #[arg(long)]
    pub to: Option<Format>,
    /// Print a summary (sample types, sample counts, totals) to stderr.
    #[arg(long)]
    pub stats: bool,
}

fn read_input(path: &str) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(LIMIT as u64 + 1)
            .read_to_end(&mut buf)
            .context("reading stdin")?;
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
        f.take(LIMIT as u64 + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {path}"))?;
    }
    if buf.len() > LIMIT {
        bail!("input larger than {LIMIT} bytes");
    }
    Ok(buf)
}

/// Guesses the format of `bytes`: gzip or protobuf with a pprof string table → pprof; protobuf
/// that decodes as an OTLP request → otlp; `{` → otlp-json; text → folded.
pub fn sniff(bytes: &[u8]) -> Format {
    let plain = match pprof::decompress(bytes, LIMIT) {
        Ok((b, _)) => b.into_owned(),
        Err(_) => bytes.to_vec(),
    };
    let trimmed = plain
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&plain[..], |i| &plain[i..]);
    if trimmed.starts_with(b"{") {
        return Format::OtlpJson;
    }
    if let Ok(p) = pprof::Profile::decode(&plain[..])
        && !p.string_table.is_empty()
    {
        return Format::Pprof;
    }
    if ExportProfilesServiceRequest::decode(&plain[..])
        .is_ok_and(|r| !r.resource_profiles.is_empty())
    {
        return Format::Otlp;
    }
    if std::str::from_utf8(&plain).is_ok() && pprof::legacy_kind(&plain).is_none() {
        return Format::Folded;
    }
    Format::Pprof
}

fn format_of_path(p: &str) -> Option<Format> {
    let lower = p.to_ascii_lowercase();
    let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
    if lower.ends_with(".pprof") || lower.ends_with(".pb") || lower.ends_with(".prof") {
        Some(Format::Pprof)
    } else if lower.ends_with(".json") || lower.ends_with(".jsonl") {
        Some(Format::OtlpJson)
    } else if lower.ends_with(".folded") || lower.ends_with(".txt") || lower.ends_with(".collapsed")
    {
        Some(Format::Folded)
    } else if lower.ends_with(".otlp") || lower.ends_with(".bin") {
        Some(Format::Otlp)
    } else {
        None
    }
}

/// Reads any supported format into a validated OTLP request.
pub fn to_request(bytes: &[u8], from: Format) -> anyhow::Result<ExportProfilesServiceRequest> {
    let mut req = match from {
        Format::Pprof => {
            let (p, stats) = pprof::decode(bytes, LIMIT)?;
            if stats.invalid_utf8_strings > 0 {
                eprintln!(
                    "warning: {} pprof strings were not valid UTF-8 (replaced with U+FFFD)",
                    stats.invalid_utf8_strings
                );
            }
            pprof::to_otlp(&p, Vec::new(), &pprof::ToOtlpOptions::default(), None).0
        }
        Format::Otlp => {
            let (plain, _) = pprof::decompress(bytes, LIMIT)?;
            ExportProfilesServiceRequest::decode(&plain[..])
                .context("decoding an OTLP ExportProfilesServiceRequest")?
        }
        Format::OtlpJson => {
            let (plain, _) = pprof::decompress(bytes, LIMIT)?;
            profcol_pdata::json::decode_request(&plain)?
        }
        Format::Folded => {
            let (plain, _) = pprof::decompress(bytes, LIMIT)?;
            let text = std::str::from_utf8(&plain).context("folded input is not UTF-8 text")?;
            let stacks = profcol_pdata::folded::parse(text)?;
            let types: Vec<(&str, &str)> = if stacks.first().is_some_and(|s| s.values.len() > 1) {
                Vec::new()
            } else {
                vec![("samples", "count")]
            };
            profcol_pdata::folded::to_otlp(&stacks, &types, Vec::new())
        }
    };
    let report = profcol_pdata::validate(&mut req, &Default::default())
        .context("the input is not a valid profile")?;
    if report.rejected_profiles > 0 {
        eprintln!(
            "warning: {} invalid profiles dropped: {}",
            report.rejected_profiles,
            report.error_message()
        );
    }
    Ok(req)
}

/// Encodes a request in the output format; several outputs when the format holds one profile
/// per file (pprof, folded) and the request has several.
pub fn from_request(req: &ExportProfilesServiceRequest, to: Format) -> Vec<Vec<u8>> {
    match to {
        Format::Otlp => vec![req.encode_to_vec()],
        Format::OtlpJson => {
            let mut v = profcol_pdata::json::encode_request(req);
            v.push(b'\n');
            vec![v]
        }
        Format::Pprof => pprof::from_otlp(req)
            .0
            .iter()
            .map(|o| pprof::encode_gzip(&o.profile))
            .collect(),
        Format::Folded => profcol_pdata::folded::from_otlp(req)
            .into_iter()
            .map(|(_, text)| text.into_bytes())
            .collect(),
    }
}

/// `name.ext` → `name.N.ext` for the N-th extra output.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("out");
    let (stem, ext) = match name.find('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    path.with_file_name(format!("{stem}.{n}{ext}"))
}

fn print_stats(req: &ExportProfilesServiceRequest) {
    let empty = Default::default();
    let dict = profcol_pdata::view::Dict::new(req.dictionary.as_ref().unwrap_or(&empty));
    let mut n = 0;
    for rp in &req.resource_profiles {
        for sp in &rp.scope_profiles {
            for p in &sp.profiles {
                let (ty, unit) = p
                    .sample_type
                    .as_ref()
                    .map(|v| (dict.string(v.type_strindex), dict.string(v.unit_strindex)))
                    .unwrap_or(("", ""));
                let total: i64 = profcol_pdata::samples(req)
                    .filter(|s| std::ptr::eq(s.profile, p))
                    .map(|s| s.total())
                    .sum();
                eprintln!(
                    "profile {n}: {ty}/{unit}: {} samples, total {total}",
                    p.samples.len()
                );
                n += 1;
            }
        }
    }
    eprintln!("{n} profiles, {} samples", profcol_pdata::sample_count(req));
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let bytes = read_input(&args.input)?;
    let from = args.from.unwrap_or_else(|| sniff(&bytes));
    let req =
        to_request(&bytes, from).with_context(|| format!("reading {} as {from:?}", args.input))?;
    let to = args
        .to
        .or_else(|| format_of_path(&args.output))
        .unwrap_or(Format::OtlpJson);
    if args.stats {
        print_stats(&req);
    }
    let outputs = from_request(&req, to);
    if outputs.is_empty() {
        bail!("nothing to write: the input has no profiles");
    }
    if args.output == "-" {
        if outputs.len() > 1 {
            bail!(
                "the input has {} profiles, which {to:?} writes as one file each; give -o FILE",
                outputs.len()
            );
        }
        std::io::stdout()
            .lock()
            .write_all(&outputs[0])
            .context("writing stdout")?;
        return Ok(());
    }
    let base = PathBuf::from(&args.output);
    for (i, out) in outputs.iter().enumerate() {
        let path = if i == 0 {
            base.clone()
        } else {
            numbered(&base, i)
        };
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        if outputs.len() > 1 {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}
