//! Showing script values to people: records and arrays of records as tables, a record or map as
//! a key/value list, everything else as text; or JSON with `--format json`. Records (maps and
//! segment handles alike) go through their JSON form, so every kind shows the same way.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use rapport_script::{ResultSink, ScriptError, ScriptHost, ScriptOutput, Value as ScriptValue};
use serde_json::Value;

use crate::api::{ApiError, RunReply, shown_as_text};
use crate::error::CliError;

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
    format!("{}\n{}", table_page(rows), row_count(rows.len() as u64))
}

/// `(N rows)`, the line under a table.
fn row_count(n: u64) -> String {
    format!("({n} row{})", if n == 1 { "" } else { "s" })
}

/// Records as one table (no count under it).
fn table_page(rows: &[Object]) -> String {
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
    t.to_string()
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

/// How many records a streamed table holds: each such page is a table fitted to its own rows,
/// as psql shows results with `FETCH_COUNT` set, so printing never waits for the last record.
pub const PAGE_ROWS: usize = 1000;

/// A query's results as they come ([`rapport_script::ResultSink`]): JSON written record by
/// record, CSV and tables a page of [`PAGE_ROWS`] at a time. Memory holds one page, not the
/// result; the first failure to write (a closed pipe) stops the query.
pub struct Streamer {
    format: Format,
    w: Box<dyn Write>,
    /// The fields the query's records have (built-in and declared), for the CSV header.
    fields: Vec<String>,
    page: Vec<Object>,
    /// The CSV header, once written.
    header: Option<Vec<String>>,
    rows: u64,
    /// Whether results began (a run that failed before them shows nothing here).
    started: bool,
    failed: Option<CliError>,
}

/// Sends the results of `host`'s runs whose value is a query to standard output in `format`, as
/// they come; the caller [`Streamer::finish`]es them after the run.
pub fn stream_to_stdout(host: &ScriptHost, format: Format) -> Rc<RefCell<Streamer>> {
    let w = Box::new(std::io::BufWriter::new(std::io::stdout()));
    let streamer = Rc::new(RefCell::new(Streamer::new(format, w)));
    host.stream_results(Some(streamer.clone()));
    streamer
}

impl Streamer {
    /// Results in `format`, written to `w`.
    pub fn new(format: Format, w: Box<dyn Write>) -> Self {
        Self {
            format,
            w,
            fields: Vec::new(),
            page: Vec::new(),
            header: None,
            rows: 0,
            started: false,
            failed: None,
        }
    }

    /// Ends the results: the last page, then what closes them (the row count under a table,
    /// `]` after JSON); `stopped` adds that they were stopped early (a table says it under the
    /// count; JSON and CSV, which scripts read, say it on standard error). The first failure to
    /// write, if any.
    pub fn finish(&mut self, stopped: bool) -> Result<(), CliError> {
        if !std::mem::take(&mut self.started) {
            return Ok(());
        }
        self.flush_page();
        let rows = self.rows;
        let end = match self.format {
            Format::Json if rows == 0 => "[]".to_string(),
            Format::Json => "\n]".to_string(),
            Format::Csv if self.header.is_none() => {
                self.write_csv_page(&[]);
                String::new()
            }
            Format::Csv => String::new(),
            Format::Table if stopped => format!("{} — stopped", row_count(rows)),
            Format::Table => row_count(rows),
        };
        if !end.is_empty() {
            self.write(format!("{end}\n").as_bytes());
        }
        if stopped && self.format != Format::Table && self.failed.is_none() {
            eprintln!("stopped after {rows} record(s)");
        }
        if let Err(e) = self.w.flush() {
            self.fail(CliError::output(e));
        }
        self.rows = 0;
        self.header = None;
        self.failed.take().map_or(Ok(()), Err)
    }

    fn fail(&mut self, e: CliError) {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_none()
            && let Err(e) = self.w.write_all(bytes)
        {
            self.fail(CliError::output(e));
        }
    }

    fn flush_page(&mut self) {
        if self.page.is_empty() {
            return;
        }
        let page = std::mem::take(&mut self.page);
        match self.format {
            Format::Table => {
                let text = table_page(&page);
                self.write(format!("{text}\n").as_bytes());
            }
            Format::Csv => self.write_csv_page(&page),
            // JSON is written record by record.
            Format::Json => {}
        }
    }

    /// A page of CSV rows, after the header if it is the first: the query's fields and any
    /// other field the first page's records have. A later record with a field outside the
    /// header fails the output (a column of its own would not line up).
    fn write_csv_page(&mut self, page: &[Object]) {
        let header = if let Some(h) = self.header.take() {
            h
        } else {
            let mut known: Vec<Object> = page.to_vec();
            known.push(
                self.fields
                    .iter()
                    .map(|f| (f.clone(), Value::Null))
                    .collect(),
            );
            let h = columns(&known);
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record(&h);
            let bytes = w.into_inner().unwrap_or_default();
            self.write(&bytes);
            h
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        for (i, row) in page.iter().enumerate() {
            if let Some(k) = row.keys().find(|k| !header.contains(k)) {
                let at = self.rows - page.len() as u64 + i as u64 + 1;
                self.fail(CliError::Output(std::io::Error::other(format!(
                    "record {at} has the field {k}, which is not in the CSV header (the query's fields and those of its first {PAGE_ROWS} records); declare it with field_define, or .list() the results"
                ))));
                break;
            }
            let _ = w.write_record(
                header
                    .iter()
                    .map(|c| row.get(c).map(cell).unwrap_or_default()),
            );
        }
        let bytes = w.into_inner().unwrap_or_default();
        self.write(&bytes);
        self.header = Some(header);
    }
}

impl ResultSink for Streamer {
    fn start(&mut self, fields: &[String], printed: &[String]) {
        self.started = true;
        self.fields = fields.to_vec();
        for line in printed {
            self.write(format!("{line}\n").as_bytes());
        }
    }

    fn item(&mut self, value: ScriptValue) -> bool {
        let record = match value.to_json() {
            Value::Object(o) => o,
            other => std::iter::once(("value".to_string(), other)).collect(),
        };
        self.rows += 1;
        if self.format == Format::Json {
            let text = serde_json::to_string_pretty(&Value::Object(record)).unwrap_or_default();
            let mut out = String::with_capacity(text.len() + 8);
            out.push_str(if self.rows == 1 { "[\n" } else { ",\n" });
            for (i, line) in text.lines().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str("  ");
                out.push_str(line);
            }
            self.write(out.as_bytes());
        } else {
            self.page.push(record);
            if self.page.len() == PAGE_ROWS {
                self.flush_page();
            }
        }
        self.failed.is_none()
    }
}
