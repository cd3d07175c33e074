//! The questions the query commands answer (spec "Questions the query commands answer"):
//! top functions, diffs between two selections, folded stacks for flame graphs.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{QueryError, Result};
use crate::filter::{Filter, TimeWindow, quote};
use crate::source::{Session, TABLE};

/// The frame list the questions read: function names, leaf first.
pub const FRAMES: &str = "frames_function_name";

/// One profile type present in a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// `sample_type:sample_unit:period_type:period_unit`.
    pub profile_type: String,
    pub sample_type: String,
    pub unit: String,
    pub samples: i64,
    pub total: i64,
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| QueryError::Invalid(format!("query result has no column {name}")))
}

/// A result column as strings (nulls → "").
pub fn strings(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    let c = cast(column(b, name)?, &DataType::Utf8)?;
    let a = c.as_string::<i32>();
    Ok((0..a.len())
        .map(|i| {
            if a.is_null(i) {
                String::new()
            } else {
                a.value(i).to_owned()
            }
        })
        .collect())
}

/// A result column as i64 (nulls → 0).
pub fn ints(b: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    let c = cast(column(b, name)?, &DataType::Int64)?;
    let a = c.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0 } else { a.value(i) })
        .collect())
}

/// A result column as f64 (nulls → 0).
pub fn floats(b: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let c = cast(column(b, name)?, &DataType::Float64)?;
    let a = c.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0.0 } else { a.value(i) })
        .collect())
}

/// The profile types in a selection, most samples first.
pub async fn profile_types(session: &Session, predicate: &str) -> Result<Vec<TypeInfo>> {
    let sql = format!(
        "SELECT CAST(profile_type AS VARCHAR) AS profile_type, \
         CAST(sample_type AS VARCHAR) AS sample_type, CAST(sample_unit AS VARCHAR) AS sample_unit, \
         count(*) AS n, sum(value) AS v \
         FROM {TABLE} WHERE {predicate} GROUP BY 1, 2, 3 ORDER BY n DESC, 1"
    );
    let mut out = Vec::new();
    for b in session.sql(&sql).await? {
        let pt = strings(&b, "profile_type")?;
        let st = strings(&b, "sample_type")?;
        let su = strings(&b, "sample_unit")?;
        let n = ints(&b, "n")?;
        let v = ints(&b, "v")?;
        for i in 0..b.num_rows() {
            out.push(TypeInfo {
                profile_type: pt[i].clone(),
                sample_type: st[i].clone(),
                unit: su[i].clone(),
                samples: n[i],
                total: v[i],
            });
        }
    }
    Ok(out)
}

/// The profile type a command works on, and the others the selection also holds. Values of
/// different types never add up, so one is chosen: CPU when present, else the one with the most
/// samples.
pub async fn resolve_type(
    session: &Session,
    filter: &Filter,
    extra: &str,
) -> Result<(TypeInfo, Vec<TypeInfo>)> {
    let pred = format!("{} AND ({extra})", filter.predicate());
    let mut types = profile_types(session, &pred).await?;
    if types.is_empty() {
        return Err(QueryError::NoData(format!(
            "no samples in {} match {pred}",
            session.location
        )));
    }
    let pick = types
        .iter()
        .position(|t| t.sample_type == "cpu")
        .unwrap_or(0);
    let chosen = types.remove(pick);
    Ok((chosen, types))
}

/// Sort key of [`top`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopOrder {
    #[default]
    SelfValue,
    Total,
}

#[derive(Debug, Clone)]
pub struct TopOptions {
    pub filter: Filter,
    pub limit: usize,
    pub order: TopOrder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    pub function: String,
    /// Sum of the samples whose leaf is this function.
    pub self_value: i64,
    /// Sum of the samples whose stack holds this function (once per stack).
    pub total_value: i64,
}

#[derive(Debug, Clone)]
pub struct TopResult {
    pub profile: TypeInfo,
    pub other_types: Vec<TypeInfo>,
    /// The sum over the selection (the 100 % of the percentages).
    pub grand_total: i64,
    pub rows: Vec<TopRow>,
    pub sql: String,
}

/// Aggregates the selection by stack first, so each frame list is read once per distinct stack.
fn stacks_cte(predicate: &str, sums: &str) -> String {
    format!(
        "s AS (SELECT stack_id, {sums}, first_value({FRAMES}) AS frames \
         FROM {TABLE} WHERE {predicate} GROUP BY stack_id)"
    )
}

/// The SQL of `top`: self (leaf, `frames[1]`) and total (each function once per stack:
/// `unnest(array_distinct(frames))`), in one pass over the stacks (DataFusion does not
/// materialize CTEs, so a second reference to `s` would scan the files again). The leaf is in the
/// distinct list exactly once, so `function = leaf` picks each stack's self value once.
pub fn top_sql(predicate: &str, order: TopOrder, limit: usize) -> String {
    let order = match order {
        TopOrder::SelfValue => "self_value DESC, total_value DESC",
        TopOrder::Total => "total_value DESC, self_value DESC",
    };
    format!(
        "WITH {s}, \
         u AS (SELECT unnest(array_distinct(frames)) AS function, frames[1] AS leaf, v FROM s) \
         SELECT CAST(function AS VARCHAR) AS function, \
         sum(CASE WHEN function = leaf THEN v ELSE 0 END) AS self_value, sum(v) AS total_value \
         FROM u GROUP BY 1 ORDER BY {order}, function LIMIT {limit}",
        s = stacks_cte(predicate, "sum(value) AS v"),
    )
}

pub async fn top(session: &Session, opts: &TopOptions) -> Result<TopResult> {
    let (profile, other_types) = resolve_type(session, &opts.filter, "TRUE").await?;
    let pred = format!(
        "{} AND profile_type = {}",
        opts.filter.predicate(),
        quote(&profile.profile_type)
    );
    let sql = top_sql(&pred, opts.order, opts.limit);
    let mut rows = Vec::new();
    for b in session.sql(&sql).await? {
        let f = strings(&b, "function")?;
        let s = ints(&b, "self_value")?;
        let t = ints(&b, "total_value")?;
        for i in 0..b.num_rows() {
            rows.push(TopRow {
                function: f[i].clone(),
                self_value: s[i],
                total_value: t[i],
            });
        }
    }
    Ok(TopResult {
        grand_total: profile.total,
        profile,
        other_types,
        rows,
        sql,
    })
}

/// One side of a comparison.
#[derive(Debug, Clone)]
pub struct Side {
    /// For headers: `v1`, `2026-11-25T10:00:00Z..`.
    pub label: String,
    pub predicate: String,
}

impl Side {
    /// `expr = value` (the expression is SQL over `samples`, e.g. `service_version`).
    pub fn by(expr: &str, value: &str) -> Side {
        Side {
            label: value.to_owned(),
            predicate: format!("CAST({expr} AS VARCHAR) = {}", quote(value)),
        }
    }

    pub fn window(w: TimeWindow) -> Side {
        Side {
            label: w.describe(),
            predicate: w.predicate(),
        }
    }
}

/// What a diff compares per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    #[default]
    SelfValue,
    Total,
}

#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub filter: Filter,
    pub from: Side,
    pub to: Side,
    pub metric: Metric,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    pub function: String,
    pub from_value: i64,
    pub to_value: i64,
    /// Share of its side's total, in percent.
    pub from_pct: f64,
    pub to_pct: f64,
    /// `to_pct - from_pct`, in percentage points.
    pub delta_pp: f64,
}

#[derive(Debug, Clone)]
pub struct DiffResult {
    pub profile: TypeInfo,
    pub other_types: Vec<TypeInfo>,
    pub from_total: i64,
    pub to_total: i64,
    pub rows: Vec<DiffRow>,
    pub sql: String,
}

fn side_sums(from: &Side, to: &Side) -> String {
    format!(
        "sum(CASE WHEN {} THEN value ELSE 0 END) AS a, sum(CASE WHEN {} THEN value ELSE 0 END) AS b",
        from.predicate, to.predicate
    )
}

fn share(x: &str, total: &str) -> String {
    format!(
        "CASE WHEN {total} = 0 THEN 0.0 ELSE 100.0 * CAST({x} AS DOUBLE) / CAST({total} AS DOUBLE) END"
    )
}

/// The SQL of `diff`: per function, its share of each side (cast to double before dividing) and
/// the change in percentage points, largest change first. One pass over the stacks: self and
/// total per function from the unnested distinct frames; each side's total is the sum of the
/// self values (every stack has one leaf).
pub fn diff_sql(predicate: &str, from: &Side, to: &Side, metric: Metric, limit: usize) -> String {
    let (a, b) = match metric {
        Metric::SelfValue => ("sa", "sb"),
        Metric::Total => ("xa", "xb"),
    };
    let a_pct = share("a", "ta");
    let b_pct = share("b", "tb");
    format!(
        "WITH {s}, \
         u AS (SELECT unnest(array_distinct(frames)) AS function, frames[1] AS leaf, a, b FROM s), \
         f AS (SELECT function, sum(CASE WHEN function = leaf THEN a ELSE 0 END) AS sa, \
               sum(CASE WHEN function = leaf THEN b ELSE 0 END) AS sb, sum(a) AS xa, sum(b) AS xb \
               FROM u GROUP BY 1), \
         g AS (SELECT function, {a} AS a, {b} AS b, sum(sa) OVER () AS ta, sum(sb) OVER () AS tb FROM f) \
         SELECT * FROM (SELECT CAST(function AS VARCHAR) AS function, a AS from_value, \
         b AS to_value, {a_pct} AS from_pct, {b_pct} AS to_pct, ({b_pct}) - ({a_pct}) AS delta_pp \
         FROM g WHERE a <> 0 OR b <> 0) ORDER BY abs(delta_pp) DESC, function LIMIT {limit}",
        s = stacks_cte(
            &format!(
                "{predicate} AND (({}) OR ({}))",
                from.predicate, to.predicate
            ),
            &side_sums(from, to)
        ),
    )
}

/// The sums of each side, to check neither is empty.
async fn side_totals(session: &Session, pred: &str, from: &Side, to: &Side) -> Result<(i64, i64)> {
    let sql = format!(
        "SELECT {} FROM {TABLE} WHERE {pred} AND (({}) OR ({}))",
        side_sums(from, to),
        from.predicate,
        to.predicate
    );
    let batches = session.sql(&sql).await?;
    let b = batches
        .first()
        .ok_or_else(|| QueryError::NoData("empty result".into()))?;
    Ok((ints(b, "a")?[0], ints(b, "b")?[0]))
}

pub async fn diff(session: &Session, opts: &DiffOptions) -> Result<DiffResult> {
    let either = format!("({}) OR ({})", opts.from.predicate, opts.to.predicate);
    let (profile, other_types) = resolve_type(session, &opts.filter, &either).await?;
    let pred = format!(
        "{} AND profile_type = {}",
        opts.filter.predicate(),
        quote(&profile.profile_type)
    );
    let (from_total, to_total) = side_totals(session, &pred, &opts.from, &opts.to).await?;
    for (total, side, name) in [(from_total, &opts.from, "from"), (to_total, &opts.to, "to")] {
        if total == 0 {
            return Err(QueryError::NoData(format!(
                "the {name} side ({}) has no {} samples",
                side.predicate, profile.profile_type
            )));
        }
    }
    let sql = diff_sql(&pred, &opts.from, &opts.to, opts.metric, opts.limit);
    let mut rows = Vec::new();
    for b in session.sql(&sql).await? {
        let f = strings(&b, "function")?;
        let a = ints(&b, "from_value")?;
        let bv = ints(&b, "to_value")?;
        let ap = floats(&b, "from_pct")?;
        let bp = floats(&b, "to_pct")?;
        let d = floats(&b, "delta_pp")?;
        for i in 0..b.num_rows() {
            rows.push(DiffRow {
                function: f[i].clone(),
                from_value: a[i],
                to_value: bv[i],
                from_pct: ap[i],
                to_pct: bp[i],
                delta_pp: d[i],
            });
        }
    }
    Ok(DiffResult {
        profile,
        other_types,
        from_total,
        to_total,
        rows,
        sql,
    })
}

/// The SQL of folded stacks: `root;…;leaf` with summed values.
pub fn folded_sql(predicate: &str) -> String {
    format!(
        "WITH {s} SELECT array_to_string(array_reverse(frames), ';') AS stack, sum(v) AS v \
         FROM s GROUP BY 1 ORDER BY 1",
        s = stacks_cte(predicate, "sum(value) AS v")
    )
}

/// Folded stacks of one selection.
#[derive(Debug, Clone)]
pub struct Folded {
    pub profile: TypeInfo,
    pub other_types: Vec<TypeInfo>,
    /// `(root;…;leaf, value)`, sorted by stack.
    pub stacks: Vec<(String, i64)>,
    pub sql: String,
}

pub async fn folded(session: &Session, filter: &Filter) -> Result<Folded> {
    let (profile, other_types) = resolve_type(session, filter, "TRUE").await?;
    let pred = format!(
        "{} AND profile_type = {}",
        filter.predicate(),
        quote(&profile.profile_type)
    );
    let sql = folded_sql(&pred);
    let mut stacks = Vec::new();
    for b in session.sql(&sql).await? {
        let s = strings(&b, "stack")?;
        let v = ints(&b, "v")?;
        stacks.extend(s.into_iter().zip(v).filter(|(_, v)| *v != 0));
    }
    Ok(Folded {
        profile,
        other_types,
        stacks,
        sql,
    })
}

/// Folded stacks of two selections: `(stack, from_value, to_value)`.
#[derive(Debug, Clone)]
pub struct FoldedDiff {
    pub profile: TypeInfo,
    pub other_types: Vec<TypeInfo>,
    pub stacks: Vec<(String, i64, i64)>,
    pub sql: String,
}

pub async fn folded_diff(
    session: &Session,
    filter: &Filter,
    from: &Side,
    to: &Side,
) -> Result<FoldedDiff> {
    let either = format!("({}) OR ({})", from.predicate, to.predicate);
    let (profile, other_types) = resolve_type(session, filter, &either).await?;
    let pred = format!(
        "{} AND profile_type = {} AND ({either})",
        filter.predicate(),
        quote(&profile.profile_type)
    );
    let sql = format!(
        "WITH {s} SELECT array_to_string(array_reverse(frames), ';') AS stack, \
         sum(a) AS a, sum(b) AS b FROM s GROUP BY 1 ORDER BY 1",
        s = stacks_cte(&pred, &side_sums(from, to))
    );
    let mut stacks = Vec::new();
    for b in session.sql(&sql).await? {
        let s = strings(&b, "stack")?;
        let a = ints(&b, "a")?;
        let bv = ints(&b, "b")?;
        for i in 0..b.num_rows() {
            stacks.push((s[i].clone(), a[i], bv[i]));
        }
    }
    Ok(FoldedDiff {
        profile,
        other_types,
        stacks,
        sql,
    })
}
