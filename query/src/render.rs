//! Result tables: aligned text (numbers right-aligned, values with units), CSV and JSON.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;

/// One value of a result table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
}

/// How a column is shown as text (CSV and JSON show the raw value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    /// A profile value in this sample unit (`nanoseconds`, `bytes`, `count`, …).
    Value(String),
    /// Percent (`12.34%`).
    Percent,
    /// Change in percentage points (`+35.00 pp`).
    PercentPoints,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

impl Column {
    pub fn new(name: impl Into<String>, kind: Kind) -> Column {
        Column {
            name: name.into(),
            kind,
        }
    }
}

/// A result table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// Output formats of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
}

fn group_thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A profile value with its unit made readable: nanoseconds as seconds (CPU seconds), bytes as
/// KiB/MiB/GiB, counts with thousands separators.
pub fn format_value(v: f64, unit: &str) -> String {
    let a = v.abs();
    match unit {
        "nanoseconds" | "ns" => {
            // CPU seconds, so a column reads in one unit; tiny values in ms/µs/ns.
            if a >= 1e7 || a == 0.0 {
                format!("{:.2} s", v / 1e9)
            } else if a >= 1e6 {
                format!("{:.3} s", v / 1e9)
            } else if a >= 1e3 {
                format!("{:.2} µs", v / 1e3)
            } else {
                format!("{v:.0} ns")
            }
        }
        "microseconds" | "us" => format_value(v * 1e3, "nanoseconds"),
        "milliseconds" | "ms" => format_value(v * 1e6, "nanoseconds"),
        "seconds" | "s" => format_value(v * 1e9, "nanoseconds"),
        "bytes" | "By" => {
            const K: f64 = 1024.0;
            let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
            let mut x = v;
            let mut i = 0;
            while x.abs() >= K && i + 1 < units.len() {
                x /= K;
                i += 1;
            }
            if i == 0 {
                format!("{x:.0} B")
            } else {
                format!("{x:.1} {}", units[i])
            }
        }
        "count" | "" | "samples" => {
            if v.fract() == 0.0 && a < 9e18 {
                group_thousands(v as i64)
            } else {
                format!("{v:.2}")
            }
        }
        other => {
            if v.fract() == 0.0 && a < 9e18 {
                format!("{} {other}", group_thousands(v as i64))
            } else {
                format!("{v:.2} {other}")
            }
        }
    }
}

impl Cell {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn text(&self, kind: &Kind) -> String {
        match (self, kind) {
            (Cell::Null, _) => String::new(),
            (Cell::Str(s), _) => s.clone(),
            (c, Kind::Value(unit)) => format_value(c.as_f64().unwrap_or(0.0), unit),
            (c, Kind::Percent) => format!("{:.2}%", c.as_f64().unwrap_or(0.0)),
            (c, Kind::PercentPoints) => format!("{:+.2} pp", c.as_f64().unwrap_or(0.0)),
            (Cell::Int(i), _) => i.to_string(),
            (Cell::Float(f), _) => {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    format!("{f:.1}")
                } else {
                    format!("{f}")
                }
            }
        }
    }

    fn json(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) if f.is_finite() => serde_json::Value::from(*f).to_string(),
            Cell::Float(_) => "null".into(),
            Cell::Str(s) => serde_json::Value::from(s.as_str()).to_string(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Str(s) => {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.clone()
                }
            }
        }
    }
}

/// Display width in characters (not bytes): `µ` and non-ASCII names count once.
fn width(s: &str) -> usize {
    s.chars().count()
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Aligned text: a header, a rule, one line per row; text left, numbers right.
    pub fn to_text(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&self.columns)
                    .map(|(c, col)| c.text(&col.kind).replace(['\n', '\t'], " "))
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| width(&c.name)).collect();
        for r in &cells {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(width(c));
            }
        }
        let right: Vec<bool> = self.columns.iter().map(|c| c.kind != Kind::Text).collect();
        let line = |vals: &[String]| {
            let mut s = String::new();
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = widths[i].saturating_sub(width(v));
                let last = i + 1 == vals.len();
                if right[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(v);
                } else {
                    s.push_str(v);
                    if !last {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s.truncate(s.trim_end().len());
            s.push('\n');
            s
        };
        let header: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let mut out = line(&header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for r in &cells {
            out.push_str(&line(r));
        }
        out
    }

    pub fn to_csv(&self) -> String {
        let mut out = self
            .columns
            .iter()
            .map(|c| Cell::Str(c.name.clone()).csv())
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for r in &self.rows {
            out.push_str(&r.iter().map(Cell::csv).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }

    /// A JSON array of objects, keys in column order.
    pub fn to_json(&self) -> String {
        let mut out = String::from("[");
        for (i, r) in self.rows.iter().enumerate() {
            out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
            for (j, (c, col)) in r.iter().zip(&self.columns).enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::Value::from(col.name.as_str()).to_string());
                out.push_str(": ");
                out.push_str(&c.json());
            }
            out.push('}');
        }
        out.push_str(if self.rows.is_empty() { "]\n" } else { "\n]\n" });
        out
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.to_text(),
            Format::Csv => self.to_csv(),
            Format::Json => self.to_json(),
        }
    }

    /// Any query result: integers and floats stay numbers, everything else is shown as Arrow
    /// displays it (timestamps in RFC 3339, lists as `[a, b]`).
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Table> {
        let Some(first) = batches.first() else {
            return Ok(Table::default());
        };
        let schema = first.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let dt = f.data_type();
                let kind = if dt.is_integer() || dt.is_floating() || dt.is_numeric() {
                    Kind::Number
                } else {
                    Kind::Text
                };
                Column::new(f.name().clone(), kind)
            })
            .collect();
        let mut t = Table::new(columns);
        let opts = FormatOptions::default().with_null("");
        for b in batches {
            let mut cols: Vec<Vec<Cell>> = Vec::with_capacity(b.num_columns());
            for c in b.columns() {
                let dt = c.data_type();
                let cells: Vec<Cell> = if dt.is_integer() && *dt != DataType::UInt64 {
                    let a = cast(c, &DataType::Int64)?;
                    let a = a.as_primitive::<Int64Type>();
                    (0..a.len())
                        .map(|i| {
                            if a.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Int(a.value(i))
                            }
                        })
                        .collect()
                } else if dt.is_floating() || matches!(dt, DataType::Decimal128(..)) {
                    let a = cast(c, &DataType::Float64)?;
                    let a = a.as_primitive::<Float64Type>();
                    (0..a.len())
                        .map(|i| {
                            if a.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Float(a.value(i))
                            }
                        })
                        .collect()
                } else {
                    let f = ArrayFormatter::try_new(c.as_ref(), &opts)?;
                    (0..c.len())
                        .map(|i| {
                            if c.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Str(f.value(i).to_string())
                            }
                        })
                        .collect()
                };
                cols.push(cells);
            }
            for i in 0..b.num_rows() {
                t.rows.push(cols.iter().map(|c| c[i].clone()).collect());
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_units() {
        assert_eq!(format_value(1.5e9, "nanoseconds"), "1.50 s");
        assert_eq!(format_value(2.5e6, "nanoseconds"), "0.003 s");
        assert_eq!(format_value(2.5e5, "nanoseconds"), "250.00 µs");
        assert_eq!(format_value(8e8, "nanoseconds"), "0.80 s");
        assert_eq!(format_value(1536.0, "bytes"), "1.5 KiB");
        assert_eq!(format_value((1u64 << 30) as f64, "bytes"), "1.0 GiB");
        assert_eq!(format_value(1234567.0, "count"), "1,234,567");
        assert_eq!(format_value(-1234.0, ""), "-1,234");
        assert_eq!(format_value(3.0, "widgets"), "3 widgets");
    }

    #[test]
    fn aligned_text() {
        let mut t = Table::new(vec![
            Column::new("function", Kind::Text),
            Column::new("self", Kind::Value("nanoseconds".into())),
            Column::new("self%", Kind::Percent),
        ]);
        t.rows.push(vec![
            Cell::Str("hot_loop".into()),
            Cell::Int(800_000_000),
            Cell::Float(40.0),
        ]);
        t.rows.push(vec![
            Cell::Str("µ".into()),
            Cell::Int(12_000_000_000),
            Cell::Float(5.5),
        ]);
        let text = t.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "function     self   self%");
        assert_eq!(lines[1], "--------  -------  ------");
        assert_eq!(lines[2], "hot_loop   0.80 s  40.00%");
        assert_eq!(lines[3], "µ         12.00 s   5.50%");
        assert_eq!(
            t.to_csv(),
            "function,self,self%\nhot_loop,800000000,40\nµ,12000000000,5.5\n"
        );
        let v: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
        assert_eq!(v[0]["self"], 800_000_000);
        assert_eq!(v[1]["function"], "µ");
    }
}
