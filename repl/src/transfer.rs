//! Data in and out: `import contacts FILE.csv` (all or nothing, a bad row names its line) and
//! `export contacts|entries` as CSV or JSON, streamed record by record. Long work shows a
//! progress bar on stderr when it is a terminal.

use std::io::{Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rapport_engine::model::{Contact, FieldDef, FieldRecord, FieldType, FieldValue};
use rapport_engine::ops::View;
use rapport_engine::{Database, Error};
use rapport_script::value::{contact_json_with, entry_json_with};
use serde_json::Value;

use crate::error::CliError;

/// The built-in contact columns a CSV may have.
const CONTACT_COLUMNS: &[&str] = Contact::FIELDS;

/// Set by `--quiet`: no progress bars in this process.
pub static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A progress bar on stderr (drawn only when stderr is a terminal, and not with `--quiet`).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// The number a CSV cell says exactly (so "00123" and "1e3" stay text).
fn number_text(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && n.to_string() == text)
}

fn date_text(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn flag_text(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

/// The type of a column's values, for `--define-fields`: number, flag or date when every
/// non-empty cell is one, otherwise text.
fn inferred_type(cells: &[String]) -> FieldType {
    let all = |test: &dyn Fn(&str) -> bool| !cells.is_empty() && cells.iter().all(|c| test(c));
    if all(&|c| number_text(c).is_some()) {
        FieldType::Number
    } else if all(&|c| flag_text(c).is_some()) {
        FieldType::Flag
    } else if all(&|c| date_text(c).is_some()) {
        FieldType::Date
    } else {
        FieldType::Text
    }
}

/// A custom field's value from CSV text, read as its declared type.
fn typed_value(line: u64, column: &str, t: FieldType, text: &str) -> Result<FieldValue, Error> {
    let value = match t {
        FieldType::Text => Some(FieldValue::Text(text.to_string())),
        FieldType::Number => number_text(text.trim()).map(FieldValue::Number),
        FieldType::Flag => flag_text(text).map(FieldValue::Bool),
        FieldType::Date => date_text(text.trim()).map(FieldValue::Date),
    };
    value.ok_or_else(|| {
        Error::invalid(
            format!("line {line}"),
            "column",
            format!("{column} is \"{text}\", not {}", t.example()),
            "fix the cell; nothing was imported",
        )
    })
}

fn flag(line: u64, column: &str, text: &str) -> Result<bool, Error> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" | "" => Ok(false),
        _ => Err(Error::invalid(
            format!("line {line}"),
            "column",
            format!("{column} is \"{text}\", not yes/no"),
            "write true or false",
        )),
    }
}

fn contact_from(
    line: u64,
    header: &csv::StringRecord,
    row: &csv::StringRecord,
    declared: &[FieldDef],
) -> Result<Contact, Error> {
    let mut c = Contact::default();
    for (column, value) in header.iter().zip(row.iter()) {
        let column = column.trim();
        if value.is_empty() {
            continue;
        }
        let word = |problem: String| {
            Error::invalid(
                format!("line {line}"),
                "column",
                format!("{column}: {problem}"),
                "use one of those words",
            )
        };
        match column {
            "no" => c.no = value.to_string(),
            "name" => c.name = value.to_string(),
            "kind" => c.kind = value.parse().map_err(word)?,
            "company_no" => c.company_no = value.to_string(),
            "salesperson" => c.salesperson = value.to_string(),
            "language" => c.language = value.to_string(),
            "correspondence" => c.correspondence = value.parse().map_err(word)?,
            "email" => c.email = value.to_string(),
            "phone" => c.phone = value.to_string(),
            "mobile" => c.mobile = value.to_string(),
            "city" => c.city = value.to_string(),
            "country" => c.country = value.to_string(),
            "exclude_from_segment" => c.exclude_from_segment = flag(line, column, value)?,
            "privacy_blocked" => c.privacy_blocked = flag(line, column, value)?,
            custom => {
                // Every column was checked to be built-in or declared before the first row.
                let t = declared
                    .iter()
                    .find(|d| d.name == custom)
                    .map_or(FieldType::Text, |d| d.field_type);
                c.custom
                    .insert(custom.to_string(), typed_value(line, column, t, value)?);
            }
        }
    }
    Ok(c)
}

/// The bytes of a file to import.
pub fn read_file(file: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(file).map_err(|e| unreadable(&file.display().to_string(), e))
}

/// Where an import's CSV is read from: bytes in memory (a server's request body), or a file,
/// read as a stream each time it is needed — never whole in memory (a million contacts' file
/// is 50 MB).
#[derive(Debug, Clone, Copy)]
pub enum CsvInput<'a> {
    /// CSV text in memory.
    Bytes(&'a [u8]),
    /// A CSV file.
    File(&'a Path),
}

impl<'a> CsvInput<'a> {
    /// A reader of the CSV from its start: cells trimmed of surrounding spaces, the delimiter
    /// the header row uses (`,`, `;`, tab or `|`: spreadsheets in many countries write `;`).
    fn reader(self) -> std::io::Result<csv::Reader<Box<dyn Read + 'a>>> {
        let (read, first_line): (Box<dyn Read + 'a>, Vec<u8>) = match self {
            CsvInput::Bytes(bytes) => {
                let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
                (Box::new(bytes), line.to_vec())
            }
            CsvInput::File(path) => {
                let mut line = Vec::new();
                std::io::BufRead::read_until(
                    &mut std::io::BufReader::new(std::fs::File::open(path)?),
                    b'\n',
                    &mut line,
                )?;
                (Box::new(std::fs::File::open(path)?), line)
            }
        };
        Ok(csv::ReaderBuilder::new()
            .has_headers(true)
            .delimiter(delimiter_of(&first_line))
            .trim(csv::Trim::All)
            .from_reader(read))
    }

    /// How many lines it has (for the progress bar).
    fn lines(self) -> std::io::Result<u64> {
        let count = |bytes: &[u8]| bytes.split(|b| *b == b'\n').count() as u64 - 1;
        match self {
            CsvInput::Bytes(bytes) => Ok(count(bytes)),
            CsvInput::File(path) => {
                let mut file = std::fs::File::open(path)?;
                let (mut buf, mut n) = (vec![0_u8; 1 << 16], 0);
                loop {
                    match file.read(&mut buf)? {
                        0 => return Ok(n),
                        got => n += count(&buf[..got]),
                    }
                }
            }
        }
    }
}

/// The delimiter a header row uses: of `,`, `;`, tab and `|`, the one it has most of outside
/// quotes (`,` when it has none).
fn delimiter_of(header: &[u8]) -> u8 {
    let mut counts = [0_usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for b in header {
        if *b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = candidates.iter().position(|c| c == b) {
            counts[i] += 1;
        }
    }
    // The most used; on a tie, not the comma (`Name;Straße, Nr.;PLZ, Ort` is ;-separated: a
    // comma is likelier inside a name than a semicolon).
    let most = counts.iter().copied().max().unwrap_or(0);
    if most == 0 {
        return b',';
    }
    let best = (1..candidates.len())
        .find(|&i| counts[i] == most)
        .unwrap_or(0);
    candidates[best]
}

/// The columns of a contact CSV that are neither built-in nor declared, each declared as a
/// contact field with the type its cells have (`--define-fields`: shown, then declared by the
/// import itself).
pub fn fields_to_define(
    db: &Database,
    input: CsvInput<'_>,
    name: &str,
) -> Result<Vec<FieldDef>, CliError> {
    let header = header_of(input, name)?;
    let declared = db.read(|v| v.declared_fields(FieldRecord::Contact))?;
    let new: Vec<(usize, &str)> = header
        .iter()
        .map(str::trim)
        .enumerate()
        .filter(|(_, c)| !CONTACT_COLUMNS.contains(c) && !declared.iter().any(|d| d.name == *c))
        .collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); new.len()];
    if !new.is_empty() {
        for row in input.reader().map_err(|e| unreadable(name, e))?.records() {
            // A row that cannot be read is the import's to report, with its line.
            let Ok(row) = row else { break };
            for ((i, _), cells) in new.iter().zip(&mut cells) {
                if let Some(cell) = row.get(*i).filter(|c| !c.is_empty()) {
                    cells.push(cell.to_string());
                }
            }
        }
    }
    Ok(new
        .iter()
        .zip(&cells)
        .map(|((_, column), cells)| FieldDef {
            record: FieldRecord::Contact,
            name: (*column).to_string(),
            field_type: inferred_type(cells),
            description: format!("imported from {name}"),
        })
        .collect())
}

fn header_of(input: CsvInput<'_>, name: &str) -> Result<csv::StringRecord, CliError> {
    Ok(input
        .reader()
        .map_err(|e| unreadable(name, e))?
        .headers()
        .map_err(|e| unreadable(name, e))?
        .clone())
}

/// Refuses, in one error, every column that is neither a contact field nor declared.
fn check_columns(header: &csv::StringRecord, declared: &[FieldDef]) -> Result<(), Error> {
    let known: Vec<String> = CONTACT_COLUMNS
        .iter()
        .map(ToString::to_string)
        .chain(declared.iter().map(|d| d.name.clone()))
        .collect();
    let unknown: Vec<String> = header
        .iter()
        .map(str::trim)
        .filter(|c| !known.iter().any(|k| k == c))
        .map(
            |c| match rapport_engine::ops::closest(c, known.iter().map(String::as_str)) {
                Some(k) => format!("{c} (did you mean {k}?)"),
                None => c.to_string(),
            },
        )
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        "import contacts",
        "header",
        if unknown.len() == 1 {
            format!(
                "column {} is not a contact field and not declared",
                unknown[0]
            )
        } else {
            format!(
                "columns {} are not contact fields and not declared",
                unknown.join(", ")
            )
        },
        "rename the column, declare the field with field_define, or import with --define-fields",
    ))
}

/// The error of an import source that cannot be read (as a file, or as CSV).
fn unreadable(name: &str, e: impl Into<std::io::Error>) -> CliError {
    CliError::Read {
        what: "CSV file",
        path: name.to_string(),
        source: e.into(),
        fix: "give the path of a CSV file",
    }
}

/// How many rows an import announces to the store at a time.
const IMPORT_CHUNK: usize = 1000;

/// Creates the contacts of `chunk` (emptied), in order, after announcing their numbers to the
/// store; an error names the row's line.
fn create_contacts(
    tx: &mut rapport_engine::Tx<'_>,
    chunk: &mut Vec<(u64, Contact)>,
    bar: &ProgressBar,
) -> Result<usize, Error> {
    let nos: Vec<&str> = chunk.iter().map(|(_, c)| c.no.as_str()).collect();
    tx.view().prefetch_contacts(&nos)?;
    let n = chunk.len();
    for (line, contact) in chunk.drain(..) {
        tx.contact_create(contact).map_err(|e| {
            Error::invalid(
                format!("line {line}"),
                "row",
                e.to_string(),
                "fix that row; nothing was imported",
            )
        })?;
        bar.inc(1);
    }
    Ok(n)
}

/// Imports contacts from CSV in one transaction, after declaring `define`; `name` names the
/// source in errors.
pub fn import_contacts_csv(
    db: &Database,
    input: CsvInput<'_>,
    name: &str,
    define: &[FieldDef],
) -> Result<usize, CliError> {
    let lines = input
        .lines()
        .map_err(|e| unreadable(name, e))?
        .saturating_sub(1);
    let header = header_of(input, name)?;
    if !header.iter().any(|h| h.trim() == "name") {
        return Err(CliError::Engine(Error::required(
            "import contacts",
            "name column",
            format!(
                "add a header row with at least \"name\"; known columns: {}",
                CONTACT_COLUMNS.join(", ")
            ),
        )));
    }
    let bar = progress(lines, "importing contacts");
    let result = db.write(|tx| {
        // Read from the start each time: a transaction another writer overtook runs again.
        bar.set_position(0);
        for def in define {
            tx.field_define(def)?;
        }
        let declared = tx.view().declared_fields(FieldRecord::Contact)?;
        check_columns(&header, &declared)?;
        // What the contacts share (fields, companies, salespeople, counters) is read once.
        tx.batch_contacts(|tx| import_rows(tx, input, name, &header, &declared, &bar))
    });
    bar.finish_and_clear();
    Ok(result?)
}

/// Creates a contact of each CSV row of `input`, in order; an error names the row's line.
fn import_rows(
    tx: &mut rapport_engine::Tx<'_>,
    input: CsvInput<'_>,
    name: &str,
    header: &csv::StringRecord,
    declared: &[FieldDef],
    bar: &ProgressBar,
) -> Result<usize, Error> {
    let mut reader = input.reader().map_err(|e| {
        Error::invalid(
            name,
            "file",
            format!("cannot be read again: {e}"),
            "keep the file in place until the import ends; nothing was imported",
        )
    })?;
    // The header row first, so rows know their line numbers (it was read without fault above).
    let _ = reader.headers();
    let mut n = 0;
    // A thousand rows at a time, announced to the store before they are created (one
    // statement on a server instead of one a contact); errors keep the order of the rows.
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            let problem = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("has {len} columns, but the header has {expected_len}"),
                csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
                _ => e.to_string(),
            };
            Error::invalid(
                format!("line {line}"),
                "row",
                problem,
                "fix that row; nothing was imported",
            )
        })?;
        let line = row.position().map_or(0, csv::Position::line);
        match contact_from(line, header, &row, declared) {
            Ok(contact) => chunk.push((line, contact)),
            Err(e) => {
                // The rows before it first: their error, if any, comes first.
                create_contacts(tx, &mut chunk, bar)?;
                return Err(e);
            }
        }
        if chunk.len() == IMPORT_CHUNK {
            n += create_contacts(tx, &mut chunk, bar)?;
        }
    }
    n += create_contacts(tx, &mut chunk, bar)?;
    Ok(n)
}

/// How an export writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per record, a header of field names.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportKind {
    /// Contacts (custom fields as extra columns).
    Contacts,
    /// Interaction log entries.
    Entries,
}

/// The kind of record an export writes, for its declared fields.
fn record_of(kind: ExportKind) -> FieldRecord {
    match kind {
        ExportKind::Contacts => FieldRecord::Contact,
        ExportKind::Entries => FieldRecord::Entry,
    }
}

/// Visits each record of `kind` as JSON (with its declared fields), in key order, until `emit`
/// returns `false`.
fn each_record(
    v: &View<'_>,
    kind: ExportKind,
    declared: &[FieldDef],
    emit: &mut dyn FnMut(Value) -> Result<bool, CliError>,
) -> Result<(), CliError> {
    // The visitor's own errors (the output) are kept beside the read and returned as they are.
    let mut failure = None;
    let mut visit = |record: Value| match emit(record) {
        Ok(go_on) => go_on,
        Err(e) => {
            failure = Some(e);
            false
        }
    };
    match kind {
        ExportKind::Entries => v.each_entry(&mut |e| Ok(visit(entry_json_with(v, &e, declared)?))),
        ExportKind::Contacts => {
            v.each_contact(&mut |c| Ok(visit(contact_json_with(v, &c, declared)?)))
        }
    }?;
    failure.map_or(Ok(()), Err)
}

/// The columns of a CSV export: the record's built-in fields, then its declared ones.
fn columns(kind: ExportKind, declared: &[FieldDef]) -> Vec<String> {
    record_of(kind)
        .built_in()
        .iter()
        .map(ToString::to_string)
        .chain(declared.iter().map(|d| d.name.clone()))
        .collect()
}

/// Writes every record of `kind` to `out` as it is read; returns how many.
pub fn export(
    db: &Database,
    kind: ExportKind,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    // One snapshot: the columns and the records agree even while others write.
    let mut outcome = Ok(0);
    db.read(|v| {
        outcome = export_from(v, kind, format, out);
        Ok(())
    })?;
    outcome
}

fn export_from(
    v: &View<'_>,
    kind: ExportKind,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let mut n = 0;
    let declared = v.declared_fields(record_of(kind))?;
    match format {
        ExportFormat::Csv => {
            let columns = columns(kind, &declared);
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&columns).map_err(CliError::csv_output)?;
            each_record(v, kind, &declared, &mut |record| {
                let row: Vec<String> = columns
                    .iter()
                    .map(|c| {
                        record
                            .get(c.as_str())
                            .map(crate::output::cell)
                            .unwrap_or_default()
                    })
                    .collect();
                w.write_record(&row).map_err(CliError::csv_output)?;
                n += 1;
                Ok(true)
            })?;
            w.flush().map_err(CliError::output)?;
        }
        ExportFormat::Json => {
            out.write_all(b"[").map_err(CliError::output)?;
            each_record(v, kind, &declared, &mut |record| {
                out.write_all(if n == 0 { b"\n" } else { b",\n" })
                    .map_err(CliError::output)?;
                serde_json::to_writer(&mut *out, &record)
                    .map_err(|e| CliError::output(e.into()))?;
                n += 1;
                Ok(true)
            })?;
            out.write_all(b"\n]\n").map_err(CliError::output)?;
        }
    }
    Ok(n)
}
