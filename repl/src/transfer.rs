//! Data out: `export contacts|entries|…` as CSV or JSON, and `export database`, streamed record
//! by record (imports are `import.rs`). Long work shows a progress bar on stderr when it is a
//! terminal.

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use rapport_engine::model::{FieldDef, FieldRecord};
use rapport_engine::ops::{DumpEnd, DumpHeader, View};
use rapport_engine::{Database, Error};
use rapport_script::value::{
    contact_json_with, entry_json_with, group_json, salesperson_json_with, template_json_with,
};
use serde_json::Value;

use crate::error::CliError;
use crate::output::Format;

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

/// How an export writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per record, a header of field names.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// How `export` writes `kind` in the command line's `format`: JSON as JSON, anything else as
/// CSV; a database always as JSON lines (asking for CSV is refused).
pub fn export_format(kind: ExportKind, format: Format) -> Result<ExportFormat, CliError> {
    if kind == ExportKind::Database && format == Format::Csv {
        return Err(Error::invalid(
            "export database",
            "format",
            "is JSON lines, not CSV (a database has records of many shapes)",
            "leave --format out, or export one kind of record as CSV: export contacts, entries, salespeople, groups or templates",
        )
        .into());
    }
    Ok(if format == Format::Json {
        ExportFormat::Json
    } else {
        ExportFormat::Csv
    })
}

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportKind {
    /// Contacts (custom fields as extra columns).
    Contacts,
    /// Interaction log entries.
    Entries,
    /// Salespeople.
    Salespeople,
    /// Interaction groups.
    Groups,
    /// Interaction templates (without their language rows and attachments, which `export
    /// database` carries).
    Templates,
    /// Declared custom fields: record, name, type, description (import them first, and the
    /// records' custom columns keep their types).
    Fields,
    /// The whole database: every record of every kind, as JSON lines (a first line saying
    /// what the file is, then one record a line); `import database` reads it into an empty
    /// database, on any backend.
    Database,
}

impl ExportKind {
    /// The word for its records (in the server's paths too).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Contacts => "contacts",
            ExportKind::Entries => "entries",
            ExportKind::Salespeople => "salespeople",
            ExportKind::Groups => "groups",
            ExportKind::Templates => "templates",
            ExportKind::Fields => "fields",
            ExportKind::Database => "database",
        }
    }

    /// The kind of record whose declared fields it has (groups and the database: none apart).
    fn record(self) -> Option<FieldRecord> {
        match self {
            ExportKind::Contacts => Some(FieldRecord::Contact),
            ExportKind::Entries => Some(FieldRecord::Entry),
            ExportKind::Salespeople => Some(FieldRecord::Salesperson),
            ExportKind::Templates => Some(FieldRecord::Template),
            ExportKind::Groups | ExportKind::Fields | ExportKind::Database => None,
        }
    }

    /// The built-in columns of a CSV export.
    fn built_in(self) -> &'static [&'static str] {
        match self {
            ExportKind::Groups => &["code", "description"],
            ExportKind::Fields => &["record", "name", "type", "description"],
            // Language rows hold attachments, which a row cannot carry.
            ExportKind::Templates => rapport_engine::model::InteractionTemplate::FIELDS
                .split_last()
                .map_or(&[], |(_, fields)| fields),
            other => other.record().map_or(&[], FieldRecord::built_in),
        }
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
        // Few records: read whole, then visited.
        ExportKind::Salespeople => v.salespeople()?.iter().try_for_each(|s| {
            visit(salesperson_json_with(v, s, declared)?);
            Ok(())
        }),
        ExportKind::Groups => v.groups()?.iter().try_for_each(|g| {
            visit(group_json(g));
            Ok(())
        }),
        ExportKind::Templates => v.templates()?.iter().try_for_each(|t| {
            visit(template_json_with(v, t, declared)?);
            Ok(())
        }),
        ExportKind::Fields => v.all_declared_fields()?.iter().try_for_each(|d| {
            visit(serde_json::json!({
                "record": d.record.as_str(),
                "name": d.name,
                "type": d.field_type.as_str(),
                "description": d.description,
            }));
            Ok(())
        }),
        ExportKind::Database => unreachable!("export_from writes a database's records itself"),
    }?;
    failure.map_or(Ok(()), Err)
}

/// The columns of a CSV export: the record's built-in fields, then its declared ones.
fn columns(kind: ExportKind, declared: &[FieldDef]) -> Vec<String> {
    kind.built_in()
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
    let declared = match kind.record() {
        Some(record) => v.declared_fields(record)?,
        None => Vec::new(),
    };
    if kind == ExportKind::Database {
        // JSON lines whatever the format: what the file is, then one record a line.
        let header = serde_json::to_string(&DumpHeader::current())
            .map_err(|e| CliError::output(e.into()))?;
        writeln!(out, "{header}").map_err(CliError::output)?;
        // Written as they are (table, key, value in that order), each as it is read.
        let mut failure = None;
        v.dump(&mut |record| {
            let line = serde_json::to_writer(&mut *out, &record)
                .map_err(|e| CliError::output(e.into()))
                .and_then(|()| out.write_all(b"\n").map_err(CliError::output));
            n += 1;
            Ok(line.map_err(|e| failure = Some(e)).is_ok())
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        // The count last: an import knows a file that was cut short.
        let end = serde_json::to_string(&DumpEnd::of(n as u64))
            .map_err(|e| CliError::output(e.into()))?;
        writeln!(out, "{end}").map_err(CliError::output)?;
        return Ok(n);
    }
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
