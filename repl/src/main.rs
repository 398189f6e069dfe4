//! `rapport`: the command line. It parses arguments, opens the database, calls the engine and
//! prints; every rule lives in `rapport-engine`.

mod cli;
mod output;
mod repl;
mod transfer;

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, ExportKind, ImportKind, ScriptLimits};
use output::Format;
use rapport_engine::demo::{self, DemoOutcome};
use rapport_engine::model::{AccountKind, DocumentEvent, DocumentParty, DocumentType};
use rapport_engine::ops::StatKind;
use rapport_engine::script::value::entry_map;
use rapport_engine::script::{Limits, RunOptions, ScriptHost};
use rapport_engine::{Database, Error};

/// Counts the process's allocations, so scripts can have a memory limit.
#[global_allocator]
static ALLOCATED: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Appends a line to the output (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = String::new();
    let status = run(&cli, &mut out);
    // A reader that stops early (`rapport demo | head`) is not an error.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    match status {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn host(limits: ScriptLimits) -> ScriptHost {
    let host = ScriptHost::new(Limits {
        max_operations: limits.max_operations,
        max_time: std::time::Duration::from_secs(limits.max_seconds),
        max_memory: limits.max_memory_mib * 1024 * 1024,
        ..Limits::user()
    });
    host.set_memory_probe(|| ALLOCATED.allocated());
    host
}

/// Runs one command, appending what it prints to `out`.
fn run(cli: &Cli, out: &mut String) -> Result<ExitCode, Error> {
    if let Some(Command::Completions { shell }) = &cli.command {
        let mut buf = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "rapport", &mut buf);
        out.push_str(&String::from_utf8_lossy(&buf));
        return Ok(ExitCode::SUCCESS);
    }
    let mut db = Database::open(&cli.db)?;
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        db.context_mut().progress = Some(progress_bar());
    }
    let db = db;
    match cli.command.as_ref().unwrap_or(&Command::Repl {
        limits: ScriptLimits::default(),
    }) {
        Command::Repl { limits } => {
            repl::Repl::new(&db, host(*limits), cli.format)
                .run_loop()
                .map_err(|e| Error::Storage(format!("the terminal failed: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            file,
            dry_run,
            limits,
        } => {
            let source = std::fs::read_to_string(file).map_err(|e| {
                Error::invalid(
                    "run",
                    "file",
                    format!("{} cannot be read: {e}", file.display()),
                    "give the path of a Rhai script",
                )
            })?;
            Ok(script(
                &db,
                &host(*limits),
                &file.display().to_string(),
                &source,
                *dry_run,
                cli.format,
                out,
            ))
        }
        Command::Eval {
            code,
            dry_run,
            limits,
        } => Ok(script(
            &db,
            &host(*limits),
            "eval",
            code,
            *dry_run,
            cli.format,
            out,
        )),
        Command::Demo => {
            match demo::load(&db)? {
                DemoOutcome::Loaded(s) => say!(
                    out,
                    "Loaded the demo company into {}: {} groups, {} templates, {} salespeople, {} contacts, {} segments, {} interactions.",
                    cli.db.display(),
                    s.groups,
                    s.templates,
                    s.salespeople,
                    s.contacts,
                    s.segments,
                    s.entries
                ),
                DemoOutcome::AlreadyLoaded => say!(
                    out,
                    "The demo company is already in {}; nothing changed.",
                    cli.db.display()
                ),
            }
            print_template_statistics(&db, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Document {
            document_type,
            no,
            customer,
            vendor,
            contact,
            action,
            salesperson,
            campaign,
            description,
        } => {
            let document_type: DocumentType = document_type.parse().map_err(|problem| {
                Error::invalid(
                    "document",
                    "type",
                    problem,
                    "use a document type of the spec",
                )
            })?;
            let party = match (customer, vendor, contact) {
                (Some(c), _, _) => DocumentParty {
                    kind: AccountKind::Customer,
                    no: c.clone(),
                },
                (_, Some(v), _) => DocumentParty {
                    kind: AccountKind::Vendor,
                    no: v.clone(),
                },
                (_, _, Some(c)) => DocumentParty {
                    kind: AccountKind::Contact,
                    no: c.clone(),
                },
                _ => {
                    return Err(Error::required(
                        format!("document {document_type} {no}"),
                        "party",
                        "give --customer, --vendor or --contact",
                    ));
                }
            };
            let event = DocumentEvent {
                document_type,
                document_no: no.clone(),
                party,
                action: action.parse().map_err(|problem| {
                    Error::invalid(
                        "document",
                        "action",
                        problem,
                        "use printed, emailed, posted or preview",
                    )
                })?,
                salesperson: salesperson.clone(),
                campaign: campaign.clone().unwrap_or_default(),
                description: description.clone().unwrap_or_default(),
                version_no: 0,
            };
            let outcome = db.write(|tx| tx.record_document(&event))?;
            match outcome.entry_no {
                Some(entry_no) => {
                    let entry = db.read(|v| v.entry(entry_no))?.ok_or_else(|| {
                        Error::not_found("interaction log entry", entry_no.to_string())
                    })?;
                    say!(out, "recorded as interaction log entry {entry_no}");
                    say!(
                        out,
                        "{}",
                        output::render(&rhai::Dynamic::from_map(entry_map(&entry)), cli.format)
                    );
                }
                None => say!(out, "{}", outcome.reason),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            what: ImportKind::Contacts,
            file,
        } => {
            let n = transfer::import_contacts(&db, file)?;
            say!(out, "imported {n} contact{}", if n == 1 { "" } else { "s" });
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { what, out: file } => {
            let format = if cli.format == Format::Json {
                transfer::ExportFormat::Json
            } else {
                transfer::ExportFormat::Csv
            };
            let entries = matches!(what, ExportKind::Entries);
            if let Some(path) = file {
                let mut f = std::fs::File::create(path).map_err(|e| {
                    Error::invalid(
                        "export",
                        "out",
                        format!("{} cannot be written: {e}", path.display()),
                        "give a path in a folder you can write",
                    )
                })?;
                let n = transfer::export(&db, entries, format, &mut f)?;
                eprintln!(
                    "exported {n} record{} to {}",
                    if n == 1 { "" } else { "s" },
                    path.display()
                );
            } else {
                let mut buf = Vec::new();
                transfer::export(&db, entries, format, &mut buf)?;
                out.push_str(&String::from_utf8_lossy(&buf));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins { .. } => Err(Error::refused(
            "plugins",
            "plugins are not available yet: they arrive with the plugin issue",
            "use rapport run with a script for now",
        )),
        Command::Check => {
            let report = db.read(|v| v.integrity_check())?;
            if report.is_ok() {
                say!(
                    out,
                    "ok: {} entries; indexes, statistics and attachments agree",
                    report.entries_checked
                );
                Ok(ExitCode::SUCCESS)
            } else {
                for d in &report.differences {
                    say!(out, "{d}");
                }
                eprintln!(
                    "error: {} difference(s) found in {}",
                    report.differences.len(),
                    cli.db.display()
                );
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Stats {
            kind,
            code,
            from,
            to,
        } => {
            let kind: StatKind = kind.parse().map_err(|problem| {
                Error::invalid(
                    "stats",
                    "kind",
                    problem,
                    "give one of the kinds listed by rapport stats --help",
                )
            })?;
            let range = from.zip(*to);
            let s = db.read(|v| v.statistics(kind, code, range))?;
            say!(out, "{kind} {}", code.to_uppercase());
            say!(out, "count         {}", s.count);
            say!(out, "cost          {}", s.cost);
            say!(out, "duration      {}", s.duration);
            say!(out, "avg_cost      {:.2}", s.avg_cost);
            say!(out, "avg_duration  {:.2}", s.avg_duration);
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { .. } => unreachable!("handled before the database opens"),
    }
}

/// A progress bar on stderr for long engine work (logging a large segment, purging, canceling).
fn progress_bar() -> rapport_engine::ops::Progress {
    let bar: std::sync::Mutex<Option<(String, indicatif::ProgressBar)>> =
        std::sync::Mutex::new(None);
    rapport_engine::ops::Progress(std::sync::Arc::new(
        move |what: &str, done: u64, total: u64| {
            let Ok(mut slot) = bar.lock() else { return };
            if slot.as_ref().is_none_or(|(w, _)| w != what) {
                let b = indicatif::ProgressBar::new(total);
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})")
                {
                    b.set_style(style);
                }
                b.set_message(what.to_string());
                *slot = Some((what.to_string(), b));
            }
            if let Some((_, b)) = slot.as_ref() {
                b.set_position(done);
                if done >= total {
                    b.finish_and_clear();
                    *slot = None;
                }
            }
        },
    ))
}

/// Runs a script; prints what it printed, then its result; on error, the position with a caret.
fn script(
    db: &Database,
    host: &ScriptHost,
    name: &str,
    source: &str,
    dry_run: bool,
    format: Format,
    out: &mut String,
) -> ExitCode {
    match host.run(db, name, source, RunOptions { dry_run }) {
        Ok(result) => {
            for line in &result.printed {
                say!(out, "{line}");
            }
            let shown = output::render(&result.value, format);
            if !shown.is_empty() {
                say!(out, "{shown}");
            }
            if dry_run {
                eprintln!("dry run: nothing was changed");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(caret) = output::caret(source, e.line, e.column) {
                eprintln!("{caret}");
            }
            ExitCode::FAILURE
        }
    }
}

/// One line per template that has interactions: count, cost, duration, averages.
fn print_template_statistics(db: &Database, out: &mut String) -> Result<(), Error> {
    let rows = db.read(|v| {
        let mut rows = Vec::new();
        for t in v.templates()? {
            let s = v.statistics(StatKind::Template, &t.code, None)?;
            if s.count > 0 {
                rows.push((t.code, t.description, s));
            }
        }
        Ok(rows)
    })?;
    out.push('\n');
    say!(
        out,
        "{:<10}  {:<30}  {:>5}  {:>8}  {:>8}  {:>8}",
        "template",
        "description",
        "count",
        "cost",
        "minutes",
        "avg cost"
    );
    for (code, description, s) in rows {
        say!(
            out,
            "{code:<10}  {description:<30}  {:>5}  {:>8}  {:>8}  {:>8.2}",
            s.count,
            s.cost.to_string(),
            s.duration.to_string(),
            s.avg_cost
        );
    }
    Ok(())
}
