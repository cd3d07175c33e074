//! Legacy `POST /ingest` (spec `pyroscope.md` §4).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use profcol_pdata::RequestBuilder;
use profcol_pdata::folded::{self, FoldedStack};
use profcol_pdata::pprof::{self, Profile};
use profcol_pdata::pyroscope::ingest as rules;

use super::{RecvError, Shared, read_body};
use crate::multipart;

/// `application/x-www-form-urlencoded` decoding of one query component.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn query_params(query: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.entry(percent_decode(k))
            .or_insert_with(|| percent_decode(v));
    }
    m
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The series labels of an `/ingest` request: `__name__`, `__delta__`, `pyroscope_spy`,
/// `service_name` (or `app_name` when the tags carry a `service_name`), then the tags that do not
/// start with `__` (`__session_id__` excepted).
fn series_labels(
    profile_name: &str,
    service: &str,
    spy: &str,
    tags: &[(String, String)],
) -> Vec<(String, String)> {
    let mut labels = vec![
        ("__name__".to_owned(), profile_name.to_owned()),
        ("__delta__".to_owned(), "false".to_owned()),
        ("pyroscope_spy".to_owned(), spy.to_owned()),
    ];
    if tags.iter().any(|(k, _)| k == "service_name") {
        labels.push(("app_name".to_owned(), service.to_owned()));
    } else {
        labels.push(("service_name".to_owned(), service.to_owned()));
    }
    for (k, v) in tags {
        if !k.starts_with("__") || k == "__session_id__" {
            labels.push((k.clone(), v.clone()));
        }
    }
    labels
}

/// `"<file> <func>"` names, as Pyroscope writes them for scripting-language spies.
fn prefix_file_names(p: &mut Profile) {
    for i in 0..p.function.len() {
        let (name, file) = (p.function[i].name, p.function[i].filename);
        let file_s = p.string(file).into_owned();
        if file_s.is_empty() {
            continue;
        }
        let joined = format!("{file_s} {}", p.string(name));
        p.string_table.push(joined.into_bytes());
        p.function[i].name = i64::try_from(p.string_table.len() - 1).unwrap_or(0);
    }
}

pub(super) async fn handle(
    shared: &Shared,
    query: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), RecvError> {
    let q = query_params(query);
    let name = q.get("name").map(String::as_str).unwrap_or("");
    let (app, tags) = rules::parse_name(name).map_err(|e| RecvError::BadRequest(e.to_string()))?;
    let now = now_ns();
    let from = rules::parse_time("from", q.get("from").map(String::as_str).unwrap_or(""), now)
        .map_err(|e| RecvError::BadRequest(e.to_string()))?;
    let until = rules::parse_time(
        "until",
        q.get("until").map(String::as_str).unwrap_or(""),
        now,
    )
    .map_err(|e| RecvError::BadRequest(e.to_string()))?;
    let format = q
        .get("format")
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let spy = q
        .get("spyName")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let sample_rate: i64 = q
        .get("sampleRate")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|r| *r >= 0)
        .unwrap_or(100);
    if tags.iter().any(|(k, v)| k == "profile_id" && !v.is_empty()) {
        // Pyroscope silently drops these (span profiles arrive through labels, not `name`).
        shared.dropped_profile_id.add(1);
        return Ok(());
    }
    // The media type matches case-insensitively; the multipart boundary is case-sensitive.
    let ct_raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ct = ct_raw.to_ascii_lowercase();
    let limit = usize::try_from(shared.cfg.max_request_body_size).unwrap_or(usize::MAX);
    let body = read_body(body, headers, limit).await?;
    let metadata = shared.metadata(headers);

    if format == "trie"
        || format == "tree"
        || format == "speedscope"
        || ct.starts_with("binary/octet-stream+trie")
        || ct.starts_with("binary/octet-stream+tree")
    {
        return Err(RecvError::BadRequest(format!(
            "format not supported: {}",
            if format.is_empty() {
                ct.as_str()
            } else {
                format.as_str()
            }
        )));
    }
    if format == "jfr" {
        return Err(RecvError::Unsupported("format=jfr is not supported yet: JFR decoding is not implemented in profcol; send pprof (format=pprof) or use the Push API".into()));
    }
    let builder = if format == "lines" || (format != "pprof" && !ct.contains("multipart/form-data"))
    {
        folded_body(
            shared,
            &app,
            &tags,
            &spy,
            sample_rate,
            from,
            until,
            &body,
            format == "lines",
        )?
    } else {
        pprof_body(shared, &app, &tags, &spy, from, ct_raw, &body)?
    };
    shared.send(builder, metadata, "ingest").await
}

#[allow(clippy::too_many_arguments)]
fn folded_body(
    shared: &Shared,
    app: &str,
    tags: &[(String, String)],
    spy: &str,
    sample_rate: i64,
    from: i64,
    until: i64,
    body: &[u8],
    lines: bool,
) -> Result<RequestBuilder, RecvError> {
    let (service, ft) =
        rules::folded_type(app).map_err(|e| RecvError::BadRequest(e.to_string()))?;
    let text = String::from_utf8_lossy(body);
    let mut stacks: Vec<FoldedStack> = if lines {
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            *counts.entry(l).or_insert(0) += 1;
        }
        counts
            .into_iter()
            .map(|(l, n)| FoldedStack {
                frames: l.split(';').map(str::to_owned).collect(),
                values: vec![n],
            })
            .collect()
    } else {
        folded::parse(&text).map_err(|e| RecvError::BadRequest(e.to_string()))?
    };
    let (ty, unit, period) = if ft.scaled_by_rate {
        if sample_rate == 0 {
            ("samples", "count", None)
        } else {
            let step = 1_000_000_000 / sample_rate.max(1);
            for s in &mut stacks {
                for v in &mut s.values {
                    *v = v.saturating_mul(step);
                }
            }
            (ft.sample_type, "nanoseconds", Some(step))
        }
    } else {
        (ft.sample_type, ft.unit, None)
    };
    let mut req = folded::to_otlp(&stacks, &[(ty, unit)], shared.base_resource());
    let mut d = req.dictionary.take().unwrap_or_default();
    let intern = |d: &mut profcol_pdata::proto::ProfilesDictionary, s: &str| -> i32 {
        match d.string_table.iter().position(|x| x == s) {
            Some(i) => i32::try_from(i).unwrap_or(0),
            None => {
                d.string_table.push(s.to_owned());
                i32::try_from(d.string_table.len() - 1).unwrap_or(0)
            }
        }
    };
    let period_type = period.map(|_| profcol_pdata::proto::ValueType {
        type_strindex: intern(&mut d, "cpu"),
        unit_strindex: intern(&mut d, "nanoseconds"),
    });
    for p in req
        .resource_profiles
        .iter_mut()
        .flat_map(|r| &mut r.scope_profiles)
        .flat_map(|s| &mut s.profiles)
    {
        p.time_unix_nano = u64::try_from(from).unwrap_or(0);
        p.duration_nano = u64::try_from(until.saturating_sub(from)).unwrap_or(0);
        if let Some(step) = period {
            p.period_type = period_type;
            p.period = step;
        }
    }
    req.dictionary = Some(d);
    rules::apply_series_labels(&mut req, &series_labels(ft.name, &service, spy, tags));
    let mut b = RequestBuilder::new();
    b.push_request(&req);
    Ok(b)
}

fn pprof_body(
    shared: &Shared,
    app: &str,
    tags: &[(String, String)],
    spy: &str,
    from: i64,
    ct: &str,
    body: &[u8],
) -> Result<RequestBuilder, RecvError> {
    let mut config = BTreeMap::new();
    let payload: &[u8] = if ct.to_ascii_lowercase().contains("multipart/form-data") {
        let boundary = multipart::boundary(ct).ok_or_else(|| {
            RecvError::BadRequest("multipart Content-Type has no boundary".into())
        })?;
        let parts =
            multipart::parse(body, &boundary).map_err(|e| RecvError::BadRequest(e.to_string()))?;
        if parts.iter().any(|p| p.name == "prev_profile") {
            return Err(RecvError::Unprocessable(
                "unsupported client version: prev_profile parts are not supported".into(),
            ));
        }
        if let Some(stc) = parts.iter().find(|p| p.name == "sample_type_config") {
            config = rules::parse_sample_type_config(stc.body).map_err(RecvError::BadRequest)?;
        }
        parts
            .into_iter()
            .find(|p| p.name == "profile")
            .map(|p| p.body)
            .ok_or_else(|| RecvError::BadRequest("multipart body has no \"profile\" part".into()))?
    } else {
        body
    };
    let (mut profile, _) = pprof::decode(payload, shared.limit()).map_err(|e| match e {
        pprof::PprofError::TooLarge { limit } => {
            RecvError::TooLarge(format!("pprof exceeds {limit} bytes"))
        }
        e => RecvError::Unprocessable(format!("failed to ingest profile: {e}")),
    })?;
    if profile.sample.is_empty() {
        shared.empty.add(1);
        return Ok(RequestBuilder::new());
    }
    // A time of 0 or in 1970 means "unset": use `from`.
    if profile.time_nanos < 365 * 86_400 * 1_000_000_000 {
        profile.time_nanos = from;
    }
    if rules::needs_file_prefixed_names(spy) {
        prefix_file_names(&mut profile);
    }
    let types: Vec<String> = profile
        .sample_type
        .iter()
        .map(|t| profile.string(t.r#type).into_owned())
        .collect();
    let name = rules::pprof_profile_name(&types, &config)
        .map(str::to_owned)
        .or_else(|| types.first().cloned())
        .unwrap_or_else(|| "unknown".into());
    let (mut req, _) = pprof::to_otlp(&profile, shared.base_resource(), &shared.opts, None);
    rules::apply_series_labels(&mut req, &series_labels(&name, app, spy, tags));
    let mut b = RequestBuilder::new();
    b.push_request(&req);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = query_params(
            "name=my-app.cpu%7Benv%3Dprod%2Cregion%3Deu%7D&from=1700000000&spyName=gospy&x=a+b&bad=%zz",
        );
        assert_eq!(q["name"], "my-app.cpu{env=prod,region=eu}");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41"), "A");
    }
}
