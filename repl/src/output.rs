//! Showing script values to people: records and arrays of records as tables, a record or map as
//! a key/value list, everything else as text; or JSON with `--format json`. Records (maps and
//! segment handles alike) go through their JSON form, so every kind shows the same way.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use comfy_table::{CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use rapport_engine::model::{
    Campaign, Contact, InteractionLogEntry, InteractionTemplate, Operation, Salesperson, User,
};
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
    ordered_columns(rows.iter().flat_map(|r| r.keys().map(String::as_str)))
}

/// The built-in fields of each kind of record with a spec, in the spec's order.
const SPEC_ORDERS: &[&[&str]] = &[
    Contact::FIELDS,
    InteractionLogEntry::FIELDS,
    InteractionTemplate::FIELDS,
    Salesperson::FIELDS,
    Campaign::FIELDS,
    User::FIELDS,
    Operation::FIELDS,
    Operation::CHANGE_FIELDS,
    // Statistics (`stats`, `stats KIND --all`).
    &[
        "kind",
        "code",
        "count",
        "cost",
        "duration",
        "avg_cost",
        "avg_duration",
    ],
    // Declared fields (`export fields`).
    &["record", "name", "type", "description"],
];

/// Field names (repeats allowed) as columns: in the spec's order for the kind of record they
/// are (the kind whose fields they hold most of), then the others alphabetically (custom
/// fields); for other records, the leading ones first, the rest alphabetically.
fn ordered_columns<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for k in names {
        if !all.iter().any(|a| a == k) {
            all.push(k.to_string());
        }
    }
    let held = |order: &&[&str]| order.iter().filter(|f| all.iter().any(|a| a == *f)).count();
    let mut best: Option<(&[&str], usize)> = None;
    for order in SPEC_ORDERS {
        let n = held(order);
        if n >= 2 && best.is_none_or(|(_, most)| n > most) {
            best = Some((order, n));
        }
    }
    if let Some((order, _)) = best {
        let mut ordered: Vec<String> = order
            .iter()
            .filter(|f| all.iter().any(|a| a == *f))
            .map(|f| (*f).to_string())
            .collect();
        let mut rest: Vec<String> = all
            .into_iter()
            .filter(|a| !order.contains(&a.as_str()))
            .collect();
        rest.sort();
        ordered.extend(rest);
        return ordered;
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

/// Whether what a script prints goes to standard error: in JSON and CSV, standard output is
/// the result alone, for the program that reads it.
pub fn prints_aside(format: Format) -> bool {
    format != Format::Table
}

/// What a script printed, as `format` shows it: written to standard error in JSON and CSV
/// (nothing left for standard output), else the lines for standard output.
pub fn printed_lines(printed: &[String], format: Format) -> Vec<String> {
    if prints_aside(format) {
        for line in printed {
            eprintln!("{line}");
        }
        Vec::new()
    } else {
        printed.to_vec()
    }
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
            for k in ordered_columns(fields.keys().map(String::as_str)) {
                let v = fields.get(&k).map(cell).unwrap_or_default();
                t.add_row(vec![k, v]);
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
    let cells = rows.iter().map(|row| {
        cols.iter()
            .map(|c| row.get(c).map(cell).unwrap_or_default())
            .collect()
    });
    table_of(&cols, cells, 1, None).0
}

/// A table of `rows` under the header `cols`: numbers right-aligned; when it is wider than the
/// terminal, each row as a block of `field │ value` lines instead (psql's `\x auto`), numbered
/// from `first`. `vertical` keeps an earlier page's choice; gives the text and the choice.
fn table_of(
    cols: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    first: u64,
    vertical: Option<bool>,
) -> (String, bool) {
    let rows: Vec<Vec<String>> = rows.collect();
    if vertical == Some(true) || is_vertical() {
        // An earlier page chose blocks, or every record is one: no table to lay out.
        return (as_blocks(cols, &rows, first), true);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(cols);
    for row in &rows {
        t.add_row(row.clone());
    }
    for i in 0..cols.len() {
        let number = |r: &Vec<String>| {
            r.get(i)
                .is_none_or(|c| c.is_empty() || c.parse::<f64>().is_ok())
        };
        let any = rows.iter().any(|r| r.get(i).is_some_and(|c| !c.is_empty()));
        if any
            && rows.iter().all(number)
            && let Some(column) = t.column_mut(i)
        {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let text = t.to_string();
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let blocks = vertical.is_none() && terminal_width().is_some_and(|width| widest > width);
    if blocks {
        (as_blocks(cols, &rows, first), true)
    } else {
        (text, false)
    }
}

thread_local! {
    /// Whether tables are fitted to the terminal (not while the REPL writes into a file).
    static FIT: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
    /// Whether every record shows as a block of lines, fitting or not (the REPL's
    /// `:format vertical`, psql's `\x on`).
    static VERTICAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Shows every record as a block of `field │ value` lines from now on, or only those of tables
/// wider than the terminal.
pub fn set_vertical(on: bool) {
    VERTICAL.with(|v| v.set(on));
}

/// Whether every record shows as a block ([`set_vertical`]).
pub fn is_vertical() -> bool {
    VERTICAL.with(std::cell::Cell::get)
}

/// Fits tables to the terminal from now on, or not (results written into a file).
pub fn fit_to_terminal(on: bool) {
    FIT.with(|f| f.set(on));
}

/// The width results are fitted to: the terminal's when standard output is one, else `COLUMNS`
/// when it is set; none otherwise (a pipe gets whole tables).
fn terminal_width() -> Option<usize> {
    if !FIT.with(std::cell::Cell::get) {
        return None;
    }
    let t = Table::new();
    if t.is_tty() {
        return t.width().map(usize::from);
    }
    std::env::var("COLUMNS").ok()?.parse().ok()
}

/// Rows as blocks of `field │ value` lines, each under `-[ RECORD n ]-`.
fn as_blocks(cols: &[String], rows: &[Vec<String>], first: u64) -> String {
    use std::fmt::Write as _;
    let name_width = cols.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = write!(out, "-[ RECORD {} ]-", first + n as u64);
        for (c, v) in cols.iter().zip(row) {
            out.push('\n');
            out.push_str(format!("{c:<name_width$} │ {v}").trim_end());
        }
    }
    out
}

/// Records as CSV rows (a single record is one row; anything else is one cell).
fn csv_text(json: &Value) -> String {
    let rows: Vec<Object> = match json {
        Value::Array(items) if items.iter().all(Value::is_object) => items
            .iter()
            .filter_map(|v| v.as_object().cloned())
            .collect(),
        Value::Object(o) => vec![o.clone()],
        // One value: one cell, quoted as CSV quotes it.
        other => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record([cell(other)]);
            let bytes = w.into_inner().unwrap_or_default();
            return String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\r', '\n'])
                .to_string();
        }
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
    let mut lines = printed_lines(&reply.printed, format);
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
/// What the run printed before it failed comes first (it is how a failing script or hook is
/// debugged).
pub fn failure(e: &ScriptError, source: &str) -> String {
    failure_at(&e.printed, &e.to_string(), e.line, e.column, source)
}

/// A failed run through `rapport serve`, shown as [`failure`] shows a local one.
pub fn remote_failure(e: &ApiError, source: &str) -> String {
    failure_at(&e.printed, &e.message, e.line, e.column, source)
}

/// A failed run of a script a command wrote for the user (`history`, `undo`, `erase`): the
/// message alone — its line and column are in a script the user never saw.
pub fn command_failure(printed: &[String], message: &str) -> String {
    let mut lines: Vec<String> = printed.to_vec();
    lines.push(format!("error: {message}"));
    lines.join("\n")
}

fn failure_at(
    printed: &[String],
    message: &str,
    line: Option<usize>,
    column: Option<usize>,
    source: &str,
) -> String {
    let mut lines: Vec<String> = printed.to_vec();
    lines.push(format!("error: {message}"));
    lines.extend(caret(source, line, column));
    lines.join("\n")
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
/// record, CSV and tables a page of [`PAGE_ROWS`] at a time, their cells read straight from the
/// records. Memory holds one page, not the result; the first failure to write (a closed pipe)
/// stops the query.
pub struct Streamer {
    format: Format,
    w: Box<dyn Write>,
    /// The fields the query's records have (built-in and declared), for the CSV header.
    fields: Vec<String>,
    page: Vec<ScriptValue>,
    /// The CSV header, once written.
    header: Option<Layout>,
    rows: u64,
    /// Whether results began (a run that failed before them shows nothing here).
    started: bool,
    /// Whether this result's tables show as blocks (decided by its first page).
    blocks: Option<bool>,
    failed: Option<CliError>,
    /// An interactive terminal's pager: its height in lines, and what asks whether to show
    /// the next screenful.
    pager: Option<(usize, MorePrompt)>,
    /// How many records a page holds (a screenful with a pager, else [`PAGE_ROWS`]).
    page_rows: usize,
    /// Whether a screenful was shown and the next record needs a yes to be shown.
    more: bool,
}

/// Asks, between screenfuls of results, whether to show the next (given how many records were
/// shown): `false` stops the query, as Ctrl-C does.
pub type MorePrompt = Box<dyn FnMut(u64) -> bool>;

/// How streamed results ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// All of them.
    Complete,
    /// Stopped before the last (Ctrl-C).
    Stopped,
    /// The run failed part way.
    Failed,
}

impl End {
    /// How the results of a run that ended so ended.
    pub fn of(ran: &Result<ScriptOutput, ScriptError>) -> End {
        match ran {
            Ok(out) if out.streamed.is_some_and(|s| s.stopped) => End::Stopped,
            Ok(_) => End::Complete,
            Err(_) => End::Failed,
        }
    }
}

/// Sends the results of `host`'s runs whose value is a query to standard output in `format`, as
/// they come; the caller [`Streamer::finish`]es them after the run.
pub fn stream_to_stdout(host: &ScriptHost, format: Format) -> Rc<RefCell<Streamer>> {
    stream_to(host, format, Box::new(std::io::stdout()))
}

/// Sends the results of `host`'s runs whose value is a query to `w` (buffered) in `format`.
pub fn stream_to(host: &ScriptHost, format: Format, w: Box<dyn Write>) -> Rc<RefCell<Streamer>> {
    let w = Box::new(std::io::BufWriter::new(w));
    let streamer = Rc::new(RefCell::new(Streamer::new(format, w)));
    host.stream_results(Some(streamer.clone()));
    streamer
}

/// The names of a result's fields (`value` for one that is not a record).
fn field_names(v: &ScriptValue) -> Vec<String> {
    v.field_names().unwrap_or_else(|| vec!["value".into()])
}

/// Columns, and how to find a record's fields among them quickly: a record gives its fields in
/// name order, which is walked beside the columns sorted by name (no lookup per field).
struct Layout {
    cols: Vec<String>,
    /// The columns by name, each with its place in `cols`.
    by_name: Vec<(String, usize)>,
    /// One row's cells, end to end, and where each column's is (reused row to row).
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Layout {
    fn new(cols: Vec<String>) -> Self {
        let mut by_name: Vec<(String, usize)> = cols
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, c)| (c, i))
            .collect();
        by_name.sort();
        Self {
            spans: vec![(0, 0); cols.len()],
            cols,
            by_name,
            text: String::new(),
        }
    }

    /// A result's cells in column order (one that is not a record is its `value`); `Err` names
    /// a field outside the columns.
    fn row(&mut self, v: &ScriptValue, cell: &mut dyn FnMut(&str)) -> Result<(), String> {
        self.text.clear();
        self.spans.fill((0, 0));
        let (text, spans, by_name) = (&mut self.text, &mut self.spans, &self.by_name);
        let mut at = 0;
        let mut outside: Option<String> = None;
        let mut place = |name: &str, value: &str| {
            // Fields come in name order; so do the columns.
            while at < by_name.len() && by_name[at].0.as_str() < name {
                at += 1;
            }
            match by_name.get(at) {
                Some((col, i)) if col == name => {
                    let start = text.len();
                    text.push_str(value);
                    spans[*i] = (start, text.len());
                }
                _ => {
                    // Not in name order after all (a handle's fields), or not a column.
                    match by_name.iter().find(|(c, _)| c == name) {
                        Some((_, i)) => {
                            let start = text.len();
                            text.push_str(value);
                            spans[*i] = (start, text.len());
                        }
                        None => {
                            outside.get_or_insert_with(|| name.to_string());
                        }
                    }
                }
            }
        };
        if !v.each_cell(&mut place) {
            place("value", &self::cell(&v.to_json()));
        }
        if let Some(name) = outside {
            return Err(name);
        }
        for &(start, end) in &self.spans {
            cell(&self.text[start..end]);
        }
        Ok(())
    }
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
            blocks: None,
            failed: None,
            pager: None,
            page_rows: PAGE_ROWS,
            more: false,
        }
    }

    /// Shows tables a screenful at a time on a terminal `height` lines tall, asking `prompt`
    /// before each next screenful (psql's pager, less's `-- more --`).
    pub fn page_with(&mut self, height: usize, prompt: MorePrompt) {
        self.pager = Some((height, prompt));
    }

    /// With a pager, the first record decides the layout (a table, or blocks when one row is
    /// wider than the terminal) and so how many records fill a screen.
    fn fit_screen(&mut self, first: &ScriptValue) {
        let Some((height, _)) = &self.pager else {
            return;
        };
        let cols = ordered_columns(field_names(first).iter().map(String::as_str));
        let mut layout = Layout::new(cols.clone());
        let mut row = Vec::with_capacity(cols.len());
        let _ = layout.row(first, &mut |c| row.push(c.to_string()));
        let (_, blocks) = table_of(&cols, std::iter::once(row), 1, None);
        self.blocks = Some(blocks);
        // A table's header, rule and bottom line, the count and the prompt; a block's title.
        self.page_rows = if blocks {
            (height.saturating_sub(2) / (cols.len() + 1)).max(1)
        } else {
            height.saturating_sub(7).max(5)
        };
    }

    /// Ends the results: the last page, then what closes them (the row count under a table,
    /// `]` after JSON). Stopped early, they say so (a table under its count; JSON and CSV,
    /// which scripts read, on standard error). Failed part way (the run's error follows them),
    /// nothing closes them: a table has no count, a JSON array stays open, so no reader takes
    /// them for the whole result. Gives the first failure to write, if any.
    pub fn finish(&mut self, end: End) -> Result<(), CliError> {
        if !std::mem::take(&mut self.started) {
            return Ok(());
        }
        self.flush_page();
        let rows = self.rows;
        let stopped = end == End::Stopped;
        let end = match self.format {
            _ if end == End::Failed => String::new(),
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
        self.more = false;
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
                let names: Vec<Vec<String>> = page.iter().map(field_names).collect();
                let mut layout =
                    Layout::new(ordered_columns(names.iter().flatten().map(String::as_str)));
                let rows: Vec<Vec<String>> = page
                    .iter()
                    .map(|v| {
                        let mut row = Vec::with_capacity(layout.cols.len());
                        // The columns are every field of the page: no record has one outside them.
                        let _ = layout.row(v, &mut |c| row.push(c.to_string()));
                        row
                    })
                    .collect();
                let first = self.rows - page.len() as u64 + 1;
                // One layout for the whole result: the first page's.
                let (text, blocks) = table_of(&layout.cols, rows.into_iter(), first, self.blocks);
                self.blocks = Some(blocks);
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
    fn write_csv_page(&mut self, page: &[ScriptValue]) {
        let mut layout = if let Some(h) = self.header.take() {
            h
        } else {
            let names: Vec<Vec<String>> = page.iter().map(field_names).collect();
            let h = ordered_columns(
                self.fields
                    .iter()
                    .chain(names.iter().flatten())
                    .map(String::as_str),
            );
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record(&h);
            let bytes = w.into_inner().unwrap_or_default();
            self.write(&bytes);
            Layout::new(h)
        };
        let mut w = csv::Writer::from_writer(Vec::with_capacity(page.len() * 128));
        for (i, v) in page.iter().enumerate() {
            let written = layout.row(v, &mut |c| {
                let _ = w.write_field(c);
            });
            let _ = w.write_record(None::<&[u8]>);
            if let Err(field) = written {
                let at = self.rows - page.len() as u64 + i as u64 + 1;
                self.fail(CliError::Output(std::io::Error::other(format!(
                    "record {at} has the field {field}, which is not in the CSV header (the query's fields and those of its first {PAGE_ROWS} records); declare it with field_define, or .list() the results"
                ))));
                break;
            }
        }
        let bytes = w.into_inner().unwrap_or_default();
        self.write(&bytes);
        self.header = Some(layout);
    }
}

impl ResultSink for Streamer {
    fn start(&mut self, fields: &[String], printed: &[String]) {
        self.started = true;
        self.fields = fields.to_vec();
        self.page.clear();
        self.header = None;
        self.rows = 0;
        self.blocks = None;
        self.page_rows = PAGE_ROWS;
        self.more = false;
        for line in printed_lines(printed, self.format) {
            self.write(format!("{line}\n").as_bytes());
        }
    }

    fn item(&mut self, value: ScriptValue) -> bool {
        if std::mem::take(&mut self.more)
            && let Some((_, prompt)) = &mut self.pager
        {
            if let Err(e) = self.w.flush() {
                self.fail(CliError::output(e));
                return false;
            }
            if !prompt(self.rows) {
                return false;
            }
        }
        if self.rows == 0 && self.format == Format::Table {
            self.fit_screen(&value);
        }
        self.rows += 1;
        if self.format == Format::Json {
            let text = serde_json::to_string_pretty(&value.to_json()).unwrap_or_default();
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
            self.page.push(value);
            if self.page.len() == self.page_rows {
                self.flush_page();
                self.more = self.pager.is_some();
            }
        }
        self.failed.is_none()
    }
}
