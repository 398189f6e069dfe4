//! Showing script values to people: records and arrays of records as tables, a record or map as
//! a key/value list, everything else as text; or JSON with `--format json`. Records (maps and
//! segment handles alike) go through their JSON form, so every kind shows the same way.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use rapport_script::{ScriptError, ScriptOutput, Value as ScriptValue};
use serde_json::Value;

use crate::api::{ApiError, RunReply, shown_as_text};

/// A record as JSON fields.
type Object = serde_json::Map<String, Value>;

/// How values are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for records, text for the rest.
    Table,
    /// JSON (records as objects with the spec's field names).
    Json,
    /// CSV: a header of field names and a row per record.
    Csv,
}

/// Fields that lead a record's columns, when it has them; the rest follow alphabetically.
const LEADING: &[&str] = &[
    "entry_no",
    "no",
    "code",
    "name",
    "description",
    "date",
    "contact_no",
    "template",
];

fn columns(rows: &[Object]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for row in rows {
        for k in row.keys() {
            if !all.contains(k) {
                all.push(k.clone());
            }
        }
    }
    let mut ordered: Vec<String> = LEADING
        .iter()
        .filter(|l| all.iter().any(|c| c == *l))
        .map(|l| (*l).to_string())
        .collect();
    all.sort();
    ordered.extend(all.into_iter().filter(|c| !LEADING.contains(&c.as_str())));
    ordered
}

/// A JSON value as the text of a table or CSV cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The text to print for a script's result (empty for `()`).
pub fn render(value: &ScriptValue, format: Format) -> String {
    if value.is_unit() {
        return String::new();
    }
    shape(
        value.to_json(),
        format,
        value.is_list(),
        value.as_text(),
        || value.display(),
    )
}

/// The text to print for data the command line made itself (records as JSON).
pub fn render_json(json: Value, format: Format) -> String {
    let (list, text) = (json.is_array(), json.as_str().map(String::from));
    let display = json.to_string();
    shape(json, format, list, text, || display)
}

/// A value in `format`: a list of records as a table, one record as a key/value list, text as
/// it is, anything else as people read it (`display`).
fn shape(
    json: Value,
    format: Format,
    list: bool,
    text: Option<String>,
    display: impl FnOnce() -> String,
) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(&json).unwrap_or_default();
    }
    if format == Format::Csv {
        return csv_text(&json);
    }
    if shown_as_text(&json, list) {
        return text.unwrap_or_else(display);
    }
    match json {
        Value::Object(fields) => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            for (k, v) in &fields {
                t.add_row(vec![k.clone(), cell(v)]);
            }
            t.to_string()
        }
        Value::Array(items) => {
            let rows: Vec<Object> = items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .collect();
            table(&rows)
        }
        // Not reached: anything else is shown as text above.
        _ => text.unwrap_or_else(display),
    }
}

fn table(rows: &[Object]) -> String {
    let cols = columns(rows);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(cols.clone());
    for row in rows {
        t.add_row(
            cols.iter()
                .map(|c| row.get(c).map(cell).unwrap_or_default())
                .collect::<Vec<_>>(),
        );
    }
    format!(
        "{t}\n({} row{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )
}

/// Records as CSV rows (a single record is one row; anything else is one cell).
fn csv_text(json: &Value) -> String {
    let rows: Vec<Object> = match json {
        Value::Array(items) if items.iter().all(Value::is_object) => items
            .iter()
            .filter_map(|v| v.as_object().cloned())
            .collect(),
        Value::Object(o) => vec![o.clone()],
        other => return cell(other),
    };
    let cols = columns(&rows);
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(&cols);
    for row in &rows {
        let _ = w.write_record(
            cols.iter()
                .map(|c| row.get(c).map(cell).unwrap_or_default()),
        );
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

/// What a successful run shows: the lines it printed, then its result (empty when neither).
pub fn outcome(result: &ScriptOutput, format: Format) -> String {
    reply_outcome(&RunReply::of(result), format)
}

/// What a run through `rapport serve` shows: the same as [`outcome`] shows for a local run.
pub fn reply_outcome(reply: &RunReply, format: Format) -> String {
    let mut lines = reply.printed.clone();
    if !reply.unit {
        let display = reply.display.clone();
        let shown = shape(
            reply.value.clone(),
            format,
            reply.list,
            reply.text.clone(),
            || display,
        );
        if !shown.is_empty() {
            lines.push(shown);
        }
    }
    lines.join("\n")
}

/// A failed run: `error: …`, then the failing line with a caret under the column when known.
pub fn failure(e: &ScriptError, source: &str) -> String {
    failure_at(&e.to_string(), e.line, e.column, source)
}

/// A failed run through `rapport serve`, shown as [`failure`] shows a local one.
pub fn remote_failure(e: &ApiError, source: &str) -> String {
    failure_at(&e.message, e.line, e.column, source)
}

fn failure_at(message: &str, line: Option<usize>, column: Option<usize>, source: &str) -> String {
    match caret(source, line, column) {
        Some(caret) => format!("error: {message}\n{caret}"),
        None => format!("error: {message}"),
    }
}

/// The failing source line with a caret under the column, for error messages.
pub fn caret(source: &str, line: Option<usize>, column: Option<usize>) -> Option<String> {
    let line_no = line?;
    let text = source.lines().nth(line_no.checked_sub(1)?)?;
    let col = column.unwrap_or(1).max(1);
    Some(format!(
        "{line_no:>4} | {text}\n     | {}^",
        " ".repeat(col - 1)
    ))
}
