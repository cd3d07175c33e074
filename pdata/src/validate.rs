//! Validation of untrusted requests (spec `otlp-profiles.md` §8).
//!
//! After [`validate`] succeeds every index in the request is in bounds, resource and scope
//! attributes given as string-table references are resolved to plain strings, and code may index
//! the dictionary without further checks.

use crate::hash::HashSet;

use crate::collector::ExportProfilesServiceRequest;
use crate::common::{AnyValue, KeyValue, any_value};
use crate::proto::{Profile, ProfilesDictionary, Sample};

/// A problem that rejects the whole request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValidationError {
    /// The offending field, e.g. `dictionary.stack_table[3].location_indices[1]`.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct ValidationOptions {
    /// Sum multi-value samples that have no timestamps into one value instead of warning only.
    pub sum_multi_values: bool,
    /// Keep the first of duplicate attribute keys instead of rejecting the Profile.
    pub repair_duplicate_keys: bool,
}

/// What validation found that did not reject the whole request.
#[derive(Debug, Clone, Default)]
pub struct ValidationReport {
    /// Profiles removed from the request because they were invalid.
    pub rejected_profiles: usize,
    /// Samples inside the rejected profiles.
    pub rejected_samples: usize,
    /// One message per rejected profile (the first problem found in it), naming path and index.
    pub errors: Vec<String>,
    /// Non-fatal findings (at most [`MAX_WARNINGS`] kept; `warning_count` has them all).
    pub warnings: Vec<String>,
    pub warning_count: usize,
    /// Table entries at index 0 that were not the zero value (treated as null anyway).
    pub malformed_zero_entries: usize,
}

pub const MAX_WARNINGS: usize = 20;

impl ValidationReport {
    fn warn(&mut self, msg: impl FnOnce() -> String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(msg());
        }
    }

    /// The `partial_success.error_message` text for this report, empty when nothing was rejected.
    pub fn error_message(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.errors.iter().take(10).enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(e);
        }
        if self.errors.len() > 10 {
            out.push_str(&format!("; and {} more", self.errors.len() - 10));
        }
        out
    }
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError {
        path: path.into(),
        message: message.into(),
    }
}

fn check_index(
    idx: i32,
    len: usize,
    table: &str,
    path: impl FnOnce() -> String,
) -> Result<(), ValidationError> {
    if idx < 0 || idx as usize >= len {
        return Err(err(
            path(),
            format!("index {idx} out of range ({table} has {len} entries)"),
        ));
    }
    Ok(())
}

/// Table sizes, used to bounds-check indices.
struct Sizes {
    strings: usize,
    mappings: usize,
    locations: usize,
    functions: usize,
    links: usize,
    stacks: usize,
}

impl Sizes {
    fn of(d: &ProfilesDictionary) -> Sizes {
        Sizes {
            strings: d.string_table.len(),
            mappings: d.mapping_table.len(),
            locations: d.location_table.len(),
            functions: d.function_table.len(),
            links: d.link_table.len(),
            stacks: d.stack_table.len(),
        }
    }
}

/// Checks that `indices` point into the attribute table and that their resolved keys are unique.
/// Returns the position of the first duplicate key (if any) instead of failing, so the caller can
/// repair or reject.
fn check_attribute_list(
    indices: &[i32],
    dict: &ProfilesDictionary,
    path: &dyn Fn() -> String,
) -> Result<Option<usize>, ValidationError> {
    let n = dict.attribute_table.len();
    for (i, &a) in indices.iter().enumerate() {
        check_index(a, n, "attribute_table", || format!("{}[{i}]", path()))?;
    }
    if indices.len() < 2 {
        return Ok(None);
    }
    let key = |a: i32| -> &str {
        let k = dict.attribute_table[a as usize].key_strindex;
        dict.string_table
            .get(k as usize)
            .map(String::as_str)
            .unwrap_or("")
    };
    if indices.len() <= 8 {
        for i in 1..indices.len() {
            let ki = key(indices[i]);
            if indices[..i].iter().any(|&j| key(j) == ki) {
                return Ok(Some(i));
            }
        }
        return Ok(None);
    }
    let mut seen = HashSet::with_capacity_and_hasher(indices.len(), Default::default());
    for (i, &a) in indices.iter().enumerate() {
        if !seen.insert(key(a)) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn check_any_value(
    v: &AnyValue,
    strings: usize,
    path: &dyn Fn() -> String,
) -> Result<(), ValidationError> {
    match &v.value {
        Some(any_value::Value::StringValueStrindex(i)) => {
            check_index(*i, strings, "string_table", || {
                format!("{}.string_value_strindex", path())
            })
        }
        Some(any_value::Value::ArrayValue(arr)) => {
            for (i, item) in arr.values.iter().enumerate() {
                check_any_value(item, strings, &|| format!("{}.array_value[{i}]", path()))?;
            }
            Ok(())
        }
        Some(any_value::Value::KvlistValue(kvs)) => {
            for (i, kv) in kvs.values.iter().enumerate() {
                let p = || format!("{}.kvlist_value[{i}]", path());
                check_index(kv.key_strindex, strings, "string_table", || {
                    format!("{}.key_strindex", p())
                })?;
                if let Some(v) = &kv.value {
                    check_any_value(v, strings, &|| format!("{}.value", p()))?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Validates the dictionary itself. Any problem here rejects the whole request, since every
/// profile may depend on the broken entry.
fn validate_dictionary(
    d: &ProfilesDictionary,
    report: &mut ValidationReport,
) -> Result<(), ValidationError> {
    let s = Sizes::of(d);
    let p = "dictionary";
    if let Some(first) = d.string_table.first()
        && !first.is_empty()
    {
        report.malformed_zero_entries += 1;
    }
    for (i, m) in d.mapping_table.iter().enumerate() {
        let path = || format!("{p}.mapping_table[{i}]");
        check_index(m.filename_strindex, s.strings, "string_table", || {
            format!("{}.filename_strindex", path())
        })?;
        if check_attribute_list(&m.attribute_indices, d, &|| {
            format!("{}.attribute_indices", path())
        })?
        .is_some()
        {
            return Err(err(
                format!("{}.attribute_indices", path()),
                "duplicate attribute key",
            ));
        }
        if !(m.memory_start < m.memory_limit || (m.memory_start == 0 && m.memory_limit == 0)) {
            report.warn(|| format!("{}: memory_start is not below memory_limit", path()));
        }
    }
    for (i, l) in d.location_table.iter().enumerate() {
        let path = || format!("{p}.location_table[{i}]");
        check_index(l.mapping_index, s.mappings, "mapping_table", || {
            format!("{}.mapping_index", path())
        })?;
        for (j, line) in l.lines.iter().enumerate() {
            check_index(line.function_index, s.functions, "function_table", || {
                format!("{}.lines[{j}].function_index", path())
            })?;
            if line.line < 0 || line.column < 0 {
                report.warn(|| format!("{}.lines[{j}]: negative line or column", path()));
            }
        }
        if check_attribute_list(&l.attribute_indices, d, &|| {
            format!("{}.attribute_indices", path())
        })?
        .is_some()
        {
            return Err(err(
                format!("{}.attribute_indices", path()),
                "duplicate attribute key",
            ));
        }
    }
    for (i, f) in d.function_table.iter().enumerate() {
        let path = || format!("{p}.function_table[{i}]");
        check_index(f.name_strindex, s.strings, "string_table", || {
            format!("{}.name_strindex", path())
        })?;
        check_index(f.system_name_strindex, s.strings, "string_table", || {
            format!("{}.system_name_strindex", path())
        })?;
        check_index(f.filename_strindex, s.strings, "string_table", || {
            format!("{}.filename_strindex", path())
        })?;
        if i > 0 && f.name_strindex == 0 && f.system_name_strindex == 0 && f.filename_strindex == 0
        {
            report.warn(|| format!("{}: function has no name, system name or filename", path()));
        }
        if f.start_line < 0 {
            report.warn(|| format!("{}: negative start_line", path()));
        }
    }
    for (i, st) in d.stack_table.iter().enumerate() {
        for (j, &loc) in st.location_indices.iter().enumerate() {
            check_index(loc, s.locations, "location_table", || {
                format!("{p}.stack_table[{i}].location_indices[{j}]")
            })?;
        }
    }
    for (i, kv) in d.attribute_table.iter().enumerate() {
        let path = || format!("{p}.attribute_table[{i}]");
        check_index(kv.key_strindex, s.strings, "string_table", || {
            format!("{}.key_strindex", path())
        })?;
        check_index(kv.unit_strindex, s.strings, "string_table", || {
            format!("{}.unit_strindex", path())
        })?;
        if let Some(v) = &kv.value {
            check_any_value(v, s.strings, &|| format!("{}.value", path()))?;
        }
    }
    for (i, l) in d.link_table.iter().enumerate() {
        if !matches!(l.trace_id.len(), 0 | 16) {
            return Err(err(
                format!("{p}.link_table[{i}].trace_id"),
                format!(
                    "trace_id must be 16 bytes or empty, got {}",
                    l.trace_id.len()
                ),
            ));
        }
        if !matches!(l.span_id.len(), 0 | 8) {
            return Err(err(
                format!("{p}.link_table[{i}].span_id"),
                format!("span_id must be 8 bytes or empty, got {}", l.span_id.len()),
            ));
        }
    }
    // Zero entries: present and default, or counted.
    let zero_bad = [
        d.mapping_table
            .first()
            .is_some_and(|m| *m != Default::default()),
        d.location_table
            .first()
            .is_some_and(|m| *m != Default::default()),
        d.function_table
            .first()
            .is_some_and(|m| *m != Default::default()),
        // The Go Collector always writes `value: {}` here; an AnyValue without an arm is empty.
        d.attribute_table.first().is_some_and(|a| {
            a.key_strindex != 0
                || a.unit_strindex != 0
                || a.value.as_ref().is_some_and(|v| v.value.is_some())
        }),
        d.stack_table
            .first()
            .is_some_and(|m| *m != Default::default()),
        d.link_table
            .first()
            .is_some_and(|l| l.trace_id.iter().chain(&l.span_id).any(|&b| b != 0)),
    ];
    report.malformed_zero_entries += zero_bad.iter().filter(|b| **b).count();
    Ok(())
}

/// Resolves `key_strindex` / `string_value_strindex` references in resource or scope attributes.
fn resolve_key_values(
    kvs: &mut [KeyValue],
    strings: &[String],
    path: &dyn Fn() -> String,
    report: &mut ValidationReport,
) -> Result<(), ValidationError> {
    for (i, kv) in kvs.iter_mut().enumerate() {
        let p = || format!("{}[{i}]", path());
        if kv.key_strindex != 0 {
            check_index(kv.key_strindex, strings.len(), "string_table", || {
                format!("{}.key_strindex", p())
            })?;
            if !kv.key.is_empty() {
                report
                    .warn(|| format!("{}: both key and key_strindex set; using key_strindex", p()));
            }
            kv.key = strings[kv.key_strindex as usize].clone();
            kv.key_strindex = 0;
        }
        if let Some(v) = &mut kv.value {
            resolve_any_value(v, strings, &|| format!("{}.value", p()), report)?;
        }
    }
    Ok(())
}

fn resolve_any_value(
    v: &mut AnyValue,
    strings: &[String],
    path: &dyn Fn() -> String,
    report: &mut ValidationReport,
) -> Result<(), ValidationError> {
    match &mut v.value {
        Some(any_value::Value::StringValueStrindex(i)) => {
            let i = *i;
            check_index(i, strings.len(), "string_table", || {
                format!("{}.string_value_strindex", path())
            })?;
            v.value = Some(any_value::Value::StringValue(strings[i as usize].clone()));
        }
        Some(any_value::Value::ArrayValue(arr)) => {
            for (i, item) in arr.values.iter_mut().enumerate() {
                resolve_any_value(
                    item,
                    strings,
                    &|| format!("{}.array_value[{i}]", path()),
                    report,
                )?;
            }
        }
        Some(any_value::Value::KvlistValue(list)) => {
            resolve_key_values(
                &mut list.values,
                strings,
                &|| format!("{}.kvlist_value", path()),
                report,
            )?;
        }
        _ => {}
    }
    Ok(())
}

fn validate_profile(
    prof: &mut Profile,
    d: &ProfilesDictionary,
    s: &Sizes,
    opts: &ValidationOptions,
    path: &dyn Fn() -> String,
    report: &mut ValidationReport,
) -> Result<(), ValidationError> {
    for (name, vt) in [
        ("sample_type", &prof.sample_type),
        ("period_type", &prof.period_type),
    ] {
        if let Some(vt) = vt {
            check_index(vt.type_strindex, s.strings, "string_table", || {
                format!("{}.{name}.type_strindex", path())
            })?;
            check_index(vt.unit_strindex, s.strings, "string_table", || {
                format!("{}.{name}.unit_strindex", path())
            })?;
        }
    }
    if !matches!(prof.profile_id.len(), 0 | 16)
        || (!prof.profile_id.is_empty() && prof.profile_id.iter().all(|&b| b == 0))
    {
        return Err(err(
            format!("{}.profile_id", path()),
            format!(
                "profile_id must be 16 non-zero bytes or empty, got {} bytes",
                prof.profile_id.len()
            ),
        ));
    }
    if prof.original_payload_format.is_empty() != prof.original_payload.is_empty() {
        return Err(err(
            format!("{}.original_payload", path()),
            "original_payload_format and original_payload must be set together",
        ));
    }
    if let Some(dup) = check_attribute_list(&prof.attribute_indices, d, &|| {
        format!("{}.attribute_indices", path())
    })? {
        if opts.repair_duplicate_keys {
            dedup_keys(&mut prof.attribute_indices, d);
        } else {
            return Err(err(
                format!("{}.attribute_indices[{dup}]", path()),
                "duplicate attribute key",
            ));
        }
    }
    let mut shape: Option<(bool, bool)> = None;
    let mut mixed = false;
    let start = prof.time_unix_nano;
    let end = start.saturating_add(prof.duration_nano);
    let mut out_of_window = false;
    for (i, smp) in prof.samples.iter_mut().enumerate() {
        let sp = || format!("{}.samples[{i}]", path());
        check_index(smp.stack_index, s.stacks, "stack_table", || {
            format!("{}.stack_index", sp())
        })?;
        check_index(smp.link_index, s.links, "link_table", || {
            format!("{}.link_index", sp())
        })?;
        if let Some(dup) = check_attribute_list(&smp.attribute_indices, d, &|| {
            format!("{}.attribute_indices", sp())
        })? {
            if opts.repair_duplicate_keys {
                dedup_keys(&mut smp.attribute_indices, d);
            } else {
                return Err(err(
                    format!("{}.attribute_indices[{dup}]", sp()),
                    "duplicate attribute key",
                ));
            }
        }
        check_sample_shape(smp, opts, &sp, report)?;
        let this = (!smp.values.is_empty(), !smp.timestamps_unix_nano.is_empty());
        match shape {
            None => shape = Some(this),
            Some(sh) if sh != this => mixed = true,
            _ => {}
        }
        if prof.duration_nano > 0
            && smp
                .timestamps_unix_nano
                .iter()
                .any(|&t| t < start || t >= end)
        {
            out_of_window = true;
        }
    }
    if mixed {
        report.warn(|| format!("{}: samples mix shapes (values/timestamps)", path()));
    }
    if out_of_window {
        report.warn(|| {
            format!(
                "{}: sample timestamps outside [time, time+duration)",
                path()
            )
        });
    }
    Ok(())
}

fn check_sample_shape(
    smp: &mut Sample,
    opts: &ValidationOptions,
    sp: &dyn Fn() -> String,
    report: &mut ValidationReport,
) -> Result<(), ValidationError> {
    let nv = smp.values.len();
    let nt = smp.timestamps_unix_nano.len();
    if nv == 0 && nt == 0 {
        return Err(err(sp(), "sample has neither values nor timestamps"));
    }
    if nv > 0 && nt > 0 && nv != nt {
        return Err(err(
            sp(),
            format!("sample has {nv} values but {nt} timestamps"),
        ));
    }
    if nt == 0 && nv > 1 {
        if opts.sum_multi_values {
            let total = smp.values.iter().fold(0i64, |a, &v| a.saturating_add(v));
            smp.values = vec![total];
        } else {
            report.warn(|| {
                format!(
                    "{}: {nv} values without timestamps (expected exactly 1)",
                    sp()
                )
            });
        }
    }
    Ok(())
}

fn dedup_keys(indices: &mut Vec<i32>, d: &ProfilesDictionary) {
    let mut seen = HashSet::default();
    indices.retain(|&a| {
        let k = d.attribute_table[a as usize].key_strindex;
        seen.insert(d.string_table[k as usize].clone())
    });
}

/// Validates `req` in place.
///
/// Returns an error when the request as a whole is unusable (a broken dictionary, or every Profile
/// invalid). Invalid Profiles among valid ones are removed and described in the report, to be
/// answered with `partial_success`.
pub fn validate(
    req: &mut ExportProfilesServiceRequest,
    opts: &ValidationOptions,
) -> Result<ValidationReport, ValidationError> {
    let mut report = ValidationReport::default();
    let total_samples = crate::sample_count(req);
    let empty = ProfilesDictionary::default();
    let dict = match &req.dictionary {
        Some(d) => d,
        None => &empty,
    };
    if total_samples > 0 && dict.string_table.is_empty() {
        return Err(err(
            "dictionary.string_table",
            "request has samples but no string table",
        ));
    }
    validate_dictionary(dict, &mut report)?;
    let sizes = Sizes::of(dict);
    let mut total_profiles = 0usize;
    let mut first_error: Option<ValidationError> = None;
    // Resources and scopes whose attributes failed to resolve are dropped even when they hold no
    // profiles, so no unresolved or out-of-range reference survives validation.
    let mut bad_resources = Vec::with_capacity(req.resource_profiles.len());
    for (ri, rp) in req.resource_profiles.iter_mut().enumerate() {
        let mut bad_scopes = Vec::with_capacity(rp.scope_profiles.len());
        let rpath = || format!("resource_profiles[{ri}]");
        let mut resource_err = None;
        if let Some(res) = &mut rp.resource
            && let Err(e) = resolve_key_values(
                &mut res.attributes,
                &dict.string_table,
                &|| format!("{}.resource.attributes", rpath()),
                &mut report,
            )
        {
            resource_err = Some(e);
        }
        if rp.scope_profiles.is_empty() {
            report.warn(|| format!("{}: no scope_profiles", rpath()));
        }
        for (si, sp) in rp.scope_profiles.iter_mut().enumerate() {
            let spath = || format!("{}.scope_profiles[{si}]", rpath());
            let mut scope_err = resource_err.clone();
            if scope_err.is_none()
                && let Some(scope) = &mut sp.scope
                && let Err(e) = resolve_key_values(
                    &mut scope.attributes,
                    &dict.string_table,
                    &|| format!("{}.scope.attributes", spath()),
                    &mut report,
                )
            {
                scope_err = Some(e);
            }
            total_profiles += sp.profiles.len();
            if let (Some(e), true) = (&scope_err, sp.profiles.is_empty()) {
                report.warn(|| format!("{e}; dropped scope without profiles"));
            }
            bad_scopes.push(scope_err.is_some());
            let mut idx = 0usize;
            sp.profiles.retain_mut(|prof| {
                let pi = idx;
                idx += 1;
                let res = match &scope_err {
                    Some(e) => Err(e.clone()),
                    None => validate_profile(
                        prof,
                        dict,
                        &sizes,
                        opts,
                        &|| format!("{}.profiles[{pi}]", spath()),
                        &mut report,
                    ),
                };
                match res {
                    Ok(()) => true,
                    Err(e) => {
                        report.rejected_profiles += 1;
                        report.rejected_samples += prof.samples.len();
                        report.errors.push(e.to_string());
                        if first_error.is_none() {
                            first_error = Some(e);
                        }
                        false
                    }
                }
            });
        }
        let mut bad = bad_scopes.into_iter();
        rp.scope_profiles.retain(|sp| {
            !bad.next().unwrap_or(false)
                && (!sp.profiles.is_empty() || report.rejected_profiles == 0)
        });
        if let (Some(e), true) = (&resource_err, rp.scope_profiles.is_empty()) {
            report.warn(|| format!("{e}; dropped resource without profiles"));
        }
        bad_resources.push(resource_err.is_some());
    }
    let mut bad = bad_resources.into_iter();
    req.resource_profiles.retain(|rp| {
        !bad.next().unwrap_or(false)
            && (!rp.scope_profiles.is_empty() || report.rejected_profiles == 0)
    });
    if report.rejected_profiles > 0
        && report.rejected_profiles == total_profiles
        && let Some(mut e) = first_error
    {
        if total_profiles > 1 {
            e.message = format!("{} (all {total_profiles} profiles rejected)", e.message);
        }
        return Err(e);
    }
    Ok(report)
}
