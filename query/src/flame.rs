//! Flame graphs (SVG through `inferno`, CDDL-1.0) and exports of folded stacks for other
//! viewers: folded text, speedscope JSON, pprof.

use std::collections::HashMap;

use profcol_pdata::folded::FoldedStack;

use crate::error::{QueryError, Result};

/// Options of the SVG.
#[derive(Debug, Clone, Default)]
pub struct SvgOptions {
    pub title: String,
    pub subtitle: Option<String>,
    /// The sample unit (`nanoseconds`, `bytes`, …) shown in tooltips.
    pub unit: String,
}

fn render_error(e: std::io::Error) -> QueryError {
    QueryError::Render {
        what: "flame graph",
        message: e.to_string(),
    }
}

fn inferno_options(o: &SvgOptions) -> inferno::flamegraph::Options<'static> {
    let mut opt = inferno::flamegraph::Options::default();
    opt.title = o.title.clone();
    opt.subtitle = o.subtitle.clone();
    if !o.unit.is_empty() {
        opt.count_name = o.unit.clone();
    }
    opt.deterministic = true;
    opt
}

/// A flame graph of `(root;…;leaf, value)` stacks.
pub fn svg(stacks: &[(String, i64)], o: &SvgOptions) -> Result<Vec<u8>> {
    let text = folded_text(stacks);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    if lines.is_empty() {
        return Err(QueryError::NoData("no stacks to draw".into()));
    }
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut inferno_options(o), lines, &mut out)
        .map_err(render_error)?;
    Ok(out)
}

/// Scales `from` values so both sides total the same, as `difffolded.pl -n` does: the
/// differential then shows changes in share, not in sample count.
pub fn normalize(stacks: &[(String, i64, i64)]) -> Vec<(String, i64, i64)> {
    let ta: i128 = stacks.iter().map(|s| i128::from(s.1)).sum();
    let tb: i128 = stacks.iter().map(|s| i128::from(s.2)).sum();
    if ta == 0 || tb == 0 {
        return stacks.to_vec();
    }
    stacks
        .iter()
        .map(|(s, a, b)| {
            let scaled = (i128::from(*a) * tb + ta / 2) / ta;
            (s.clone(), i64::try_from(scaled).unwrap_or(i64::MAX), *b)
        })
        .collect()
}

/// A differential flame graph: widths from the `to` side, red where a stack grew (from → to),
/// blue where it shrank. Sides are normalized to the same total first.
pub fn diff_svg(stacks: &[(String, i64, i64)], o: &SvgOptions) -> Result<Vec<u8>> {
    let norm = normalize(stacks);
    let mut lines: Vec<String> = norm
        .iter()
        .filter(|(_, a, b)| *a != 0 || *b != 0)
        .map(|(s, a, b)| format!("{} {a} {b}", sanitize(s)))
        .collect();
    lines.sort_unstable();
    if lines.is_empty() {
        return Err(QueryError::NoData("no stacks to draw".into()));
    }
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(
        &mut inferno_options(o),
        lines.iter().map(String::as_str),
        &mut out,
    )
    .map_err(render_error)?;
    Ok(out)
}

/// Folded lines never hold a newline inside a frame name.
fn sanitize(stack: &str) -> String {
    stack.replace(['\n', '\r'], " ")
}

/// `root;…;leaf value` lines.
pub fn folded_text(stacks: &[(String, i64)]) -> String {
    let mut out = String::new();
    for (s, v) in stacks {
        if *v == 0 {
            continue;
        }
        out.push_str(&sanitize(s));
        out.push(' ');
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// `root;…;leaf from to` lines (Brendan Gregg's differential folded format).
pub fn folded_diff_text(stacks: &[(String, i64, i64)]) -> String {
    let mut out = String::new();
    for (s, a, b) in stacks {
        out.push_str(&format!("{} {a} {b}\n", sanitize(s)));
    }
    out
}

/// speedscope's unit for a sample unit.
fn speedscope_unit(unit: &str) -> &'static str {
    match unit {
        "nanoseconds" | "ns" => "nanoseconds",
        "microseconds" | "us" => "microseconds",
        "milliseconds" | "ms" => "milliseconds",
        "seconds" | "s" => "seconds",
        "bytes" | "By" => "bytes",
        _ => "none",
    }
}

/// A speedscope file (`https://www.speedscope.app/file-format-schema.json`) with one sampled
/// profile: shared frames, one sample (frame indices, root first) and weight per stack.
pub fn speedscope(stacks: &[(String, i64)], name: &str, unit: &str) -> String {
    use serde_json::json;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut frames: Vec<serde_json::Value> = Vec::new();
    let mut samples: Vec<Vec<usize>> = Vec::new();
    let mut weights: Vec<i64> = Vec::new();
    let mut total = 0i64;
    for (s, v) in stacks {
        if *v == 0 {
            continue;
        }
        let ids = s
            .split(';')
            .map(|f| {
                *index.entry(f).or_insert_with(|| {
                    frames.push(json!({ "name": f }));
                    frames.len() - 1
                })
            })
            .collect();
        samples.push(ids);
        weights.push(*v);
        total = total.saturating_add(*v);
    }
    json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "name": name,
        "exporter": "profcol",
        "activeProfileIndex": 0,
        "shared": { "frames": frames },
        "profiles": [{
            "type": "sampled",
            "name": name,
            "unit": speedscope_unit(unit),
            "startValue": 0,
            "endValue": total,
            "samples": samples,
            "weights": weights,
        }],
    })
    .to_string()
}

/// A gzipped pprof profile of the stacks (function names only), one sample type.
pub fn pprof(stacks: &[(String, i64)], sample_type: &str, unit: &str) -> Result<Vec<u8>> {
    let folded: Vec<FoldedStack> = stacks
        .iter()
        .filter(|(_, v)| *v != 0)
        .map(|(s, v)| FoldedStack {
            frames: s.split(';').map(str::to_owned).collect(),
            values: vec![*v],
        })
        .collect();
    let req = profcol_pdata::folded::to_otlp(&folded, &[(sample_type, unit)], Vec::new());
    let (outs, _) = profcol_pdata::pprof::from_otlp(&req);
    let first = outs.first().ok_or_else(|| QueryError::Render {
        what: "pprof",
        message: "no profile to write".into(),
    })?;
    Ok(profcol_pdata::pprof::encode_gzip(&first.profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stacks() -> Vec<(String, i64)> {
        vec![("main;serve;hot_loop".into(), 80), ("main;gc".into(), 20)]
    }

    #[test]
    fn svg_names_functions() {
        let svg = svg(
            &stacks(),
            &SvgOptions {
                title: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let text = String::from_utf8(svg).unwrap();
        assert!(text.starts_with("<?xml"));
        assert!(text.contains("hot_loop"));
    }

    #[test]
    fn normalized_diff() {
        let n = normalize(&[("a".into(), 10, 40), ("b".into(), 10, 60)]);
        assert_eq!(n, vec![("a".into(), 50, 40), ("b".into(), 50, 60)]);
        let svg = diff_svg(&n, &SvgOptions::default()).unwrap();
        assert!(String::from_utf8(svg).unwrap().contains("</svg>"));
    }

    #[test]
    fn speedscope_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&speedscope(&stacks(), "x", "nanoseconds")).unwrap();
        assert_eq!(v["shared"]["frames"][2]["name"], "hot_loop");
        assert_eq!(v["profiles"][0]["samples"][0], serde_json::json!([0, 1, 2]));
        assert_eq!(v["profiles"][0]["weights"][1], 20);
        assert_eq!(v["profiles"][0]["endValue"], 100);
    }

    #[test]
    fn pprof_round_trip() {
        let gz = pprof(&stacks(), "cpu", "nanoseconds").unwrap();
        let (p, _) = profcol_pdata::pprof::decode(&gz, 1 << 20).unwrap();
        let folded = profcol_pdata::folded::pprof_to_collapsed_with_lines(&p);
        assert!(folded.contains("hot_loop"), "{folded}");
        assert_eq!(p.sample.iter().map(|s| s.value[0]).sum::<i64>(), 100);
    }
}
