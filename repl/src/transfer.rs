//! Data in and out: `import contacts FILE.csv` (all or nothing, a bad row names its line) and
//! `export contacts|entries` as CSV or JSON, streamed record by record. Long work shows a
//! progress bar on stderr when it is a terminal.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rapport_engine::model::{Contact, FieldValue};
use rapport_engine::script::value::{contact_map, entry_map, to_json};
use rapport_engine::{Database, Error};
use rhai::Dynamic;

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
pub fn import_contacts(db: &Database, file: &Path) -> Result<usize, Error> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| unreadable(&name, &e))?;
    import_contacts_csv(db, &bytes, &name)
}

/// The error of an import source that cannot be read (as a file, or as CSV).
fn unreadable(name: &str, e: &dyn std::fmt::Display) -> Error {
    Error::invalid(
        "import",
        "file",
        format!("{name} cannot be read: {e}"),
        "give the path of a CSV file",
    )
}

/// Imports contacts from CSV text in one transaction; `name` names the source in errors.
pub fn import_contacts_csv(db: &Database, bytes: &[u8], name: &str) -> Result<usize, Error> {
    let lines = bytes.split(|b| *b == b'\n').count().saturating_sub(2) as u64;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = reader.headers().map_err(|e| unreadable(name, &e))?.clone();
    if !header.iter().any(|h| h.trim() == "name") {
        return Err(Error::required(
            "import contacts",
            "name column",
            format!(
                "add a header row with at least \"name\"; known columns: {}",
                CONTACT_COLUMNS.join(", ")
            ),
        ));
    }
    let bar = progress(lines, "importing contacts");
    let result = db.write(|tx| {
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
    result
}

/// How an export writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per record, a header of field names.
    Csv,
    /// A JSON array of objects.
    Json,
}

fn cell(v: &Dynamic) -> String {
    crate::output::cell(&to_json(v))
}

/// Writes every contact (custom fields as extra columns) or every entry; returns how many.
pub fn export(
    db: &Database,
    entries: bool,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<usize, Error> {
    let io = |e: std::io::Error| Error::Storage(format!("cannot write the export: {e}"));
    let mut columns: Vec<String> = Vec::new();
    if format == ExportFormat::Csv {
        if entries {
            columns = entry_map(&rapport_engine::model::InteractionLogEntry::blank(
                0,
                chrono::NaiveDate::MIN,
                chrono::NaiveTime::MIN,
            ))
            .keys()
            .map(ToString::to_string)
            .collect();
        } else {
            columns = CONTACT_COLUMNS.iter().map(|c| (*c).to_string()).collect();
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
        }
    }
    let csv_error = |e: csv::Error| Error::Storage(format!("cannot write the export: {e}"));
    let mut n = 0;
    if format == ExportFormat::Csv {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&columns).map_err(csv_error)?;
        let mut emit = |record: &rhai::Map| -> Result<bool, Error> {
            let row: Vec<String> = columns
                .iter()
                .map(|c| record.get(c.as_str()).map(cell).unwrap_or_default())
                .collect();
            w.write_record(&row).map_err(csv_error)?;
            n += 1;
            Ok(true)
        };
        db.read(|v| {
            if entries {
                v.each_entry(&mut |e| emit(&entry_map(&e)))
            } else {
                v.each_contact(&mut |c| emit(&contact_map(&c)))
            }
        })?;
        w.flush().map_err(io)?;
    } else {
        out.write_all(b"[").map_err(io)?;
        let mut emit = |record: rhai::Map| -> Result<bool, Error> {
            out.write_all(if n == 0 { b"\n" } else { b",\n" })
                .map_err(io)?;
            out.write_all(to_json(&Dynamic::from_map(record)).to_string().as_bytes())
                .map_err(io)?;
            n += 1;
            Ok(true)
        };
        db.read(|v| {
            if entries {
                v.each_entry(&mut |e| emit(entry_map(&e)))
            } else {
                v.each_contact(&mut |c| emit(contact_map(&c)))
            }
        })?;
        out.write_all(b"\n]\n").map_err(io)?;
    }
    Ok(n)
}
