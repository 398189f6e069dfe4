//! Data in and out: `import contacts FILE.csv` (all or nothing, a bad row names its line) and
//! `export contacts|entries` as CSV or JSON, streamed record by record. Long work shows a
//! progress bar on stderr when it is a terminal.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rapport_engine::model::{Contact, FieldValue, InteractionLogEntry};
use rapport_engine::{Database, Error};
use rapport_script::value::{contact_json, entry_json};
use serde_json::Value;

use crate::error::CliError;

/// The built-in contact columns a CSV may have.
const CONTACT_COLUMNS: &[&str] = Contact::FIELDS;

/// A progress bar on stderr (drawn only when stderr is a terminal).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// A custom field's value from CSV text: a number or yes/no only when the text says exactly
/// that (so "00123" stays text), otherwise text.
fn custom_value(text: &str) -> FieldValue {
    if let Ok(n) = text.parse::<f64>()
        && n.is_finite()
        && n.to_string() == text
    {
        return FieldValue::Number(n);
    }
    match text {
        "true" => FieldValue::Bool(true),
        "false" => FieldValue::Bool(false),
        _ => FieldValue::Text(text.to_string()),
    }
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
                c.custom.insert(custom.to_string(), custom_value(value));
            }
        }
    }
    Ok(c)
}

/// Imports contacts in one transaction; returns how many.
pub fn import_contacts(db: &Database, file: &Path) -> Result<usize, CliError> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| unreadable(&name, e))?;
    import_contacts_csv(db, &bytes, &name)
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

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes)
}

/// Imports contacts from CSV text in one transaction; `name` names the source in errors.
pub fn import_contacts_csv(db: &Database, bytes: &[u8], name: &str) -> Result<usize, CliError> {
    let lines = bytes.split(|b| *b == b'\n').count().saturating_sub(2) as u64;
    let header = reader(bytes)
        .headers()
        .map_err(|e| unreadable(name, e))?
        .clone();
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
        let mut reader = reader(bytes);
        // The header row first, so rows know their line numbers (it was read without fault above).
        let _ = reader.headers();
        let mut n = 0;
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
            let contact = contact_from(line, &header, &row)?;
            tx.contact_create(contact).map_err(|e| {
                Error::invalid(
                    format!("line {line}"),
                    "row",
                    e.to_string(),
                    "fix that row; nothing was imported",
                )
            })?;
            n += 1;
            bar.inc(1);
        }
        Ok(n)
    });
    bar.finish_and_clear();
    Ok(result?)
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

/// Visits each record of `kind` as JSON, in key order, until `emit` returns `false`.
fn each_record(
    db: &Database,
    kind: ExportKind,
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
    db.read(|v| match kind {
        ExportKind::Entries => v.each_entry(&mut |e| Ok(visit(entry_json(&e)))),
        ExportKind::Contacts => v.each_contact(&mut |c| Ok(visit(contact_json(&c)))),
    })?;
    failure.map_or(Ok(()), Err)
}

/// The columns of a CSV export: the record's fields (for contacts, then every custom field
/// any contact has, in the order first met).
fn columns(db: &Database, kind: ExportKind) -> Result<Vec<String>, CliError> {
    Ok(match kind {
        ExportKind::Entries => {
            let blank =
                InteractionLogEntry::blank(0, chrono::NaiveDate::MIN, chrono::NaiveTime::MIN);
            match entry_json(&blank) {
                Value::Object(fields) => fields.keys().cloned().collect(),
                _ => Vec::new(),
            }
        }
        ExportKind::Contacts => {
            let mut columns: Vec<String> =
                CONTACT_COLUMNS.iter().map(|c| (*c).to_string()).collect();
            db.read(|v| {
                v.each_contact(&mut |c| {
                    for k in c.custom.keys() {
                        if !columns.contains(k) {
                            columns.push(k.clone());
                        }
                    }
                    Ok(true)
                })
            })?;
            columns
        }
    })
}

/// Writes every record of `kind` to `out` as it is read; returns how many.
pub fn export(
    db: &Database,
    kind: ExportKind,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let mut n = 0;
    match format {
        ExportFormat::Csv => {
            let columns = columns(db, kind)?;
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&columns).map_err(CliError::csv_output)?;
            each_record(db, kind, &mut |record| {
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
            each_record(db, kind, &mut |record| {
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
