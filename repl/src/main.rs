//! `rapport`: the command line. It parses arguments, opens the database, calls the engine and
//! prints; every rule lives in `rapport-engine`.

mod cli;
mod repl;

use rapport::{output, transfer};

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, ExportKind, ImportKind, PluginAction, ScriptLimits};
use output::Format;
use rapport_engine::demo::{self, DemoOutcome};
use rapport_engine::ops::StatKind;
use rapport_engine::plugin;
use rapport_engine::script::value::entry_map;
use rapport_engine::script::{Limits, PluginReport, RunOptions, ScriptHost};
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

/// A script host with the given limits and this database's plugins (a plugin that fails to load
/// is a warning, never a reason not to start).
fn host(db: &Database, limits: ScriptLimits) -> Result<ScriptHost, Error> {
    let mut host = ScriptHost::new(Limits {
        max_operations: limits.max_operations,
        max_time: std::time::Duration::from_secs(limits.max_seconds),
        max_memory: limits.max_memory_mib * 1024 * 1024,
        ..Limits::user()
    });
    host.set_memory_probe(|| ALLOCATED.allocated());
    let report = load_plugins(db, &mut host)?;
    for problem in &report.problems {
        eprintln!("warning: {problem}; it is left out");
    }
    Ok(host)
}

/// The bundled plugins and those in the database's plugin folders.
fn load_plugins(db: &Database, host: &mut ScriptHost) -> Result<PluginReport, Error> {
    let settings = db.read(|v| v.plugin_settings())?;
    let mut sources = plugin::bundled();
    let mut problems = Vec::new();
    for folder in &settings.folders {
        let (found, trouble) = plugin::from_folder(std::path::Path::new(folder));
        sources.extend(found);
        problems.extend(trouble);
    }
    let mut report = host
        .load_plugins(db, &sources)
        .map_err(|e| Error::Script(e.to_string()))?;
    report.problems.extend(problems);
    Ok(report)
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
            repl::Repl::new(&db, host(&db, *limits)?, cli.format)
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
                &host(&db, *limits)?,
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
            &host(&db, *limits)?,
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
            amount,
            person,
        } => {
            let mut event = rhai::Map::new();
            let mut put = |k: &str, v: Option<&String>| {
                if let Some(v) = v {
                    event.insert(k.into(), v.clone().into());
                }
            };
            put("type", Some(document_type));
            put("no", Some(no));
            put("customer", customer.as_ref());
            put("vendor", vendor.as_ref());
            put("contact", contact.as_ref());
            put("action", Some(action));
            put("salesperson", salesperson.as_ref());
            put("campaign", campaign.as_ref());
            put("description", description.as_ref());
            put("person", person.as_ref());
            if let Some(a) = amount {
                event.insert("amount".into(), rhai::Dynamic::from_float(*a));
            }
            // Through the language, so the plugins' document hooks take part.
            let host = host(&db, ScriptLimits::default())?;
            let mut scope = rhai::Scope::new();
            scope.push("event", event);
            let outcome = host
                .run_in_scope(
                    &db,
                    "document",
                    "record_document(event)",
                    &mut scope,
                    RunOptions::default(),
                )
                .map_err(|e| Error::Script(e.message))?
                .value
                .try_cast::<rhai::Map>()
                .unwrap_or_default();
            match outcome.get("entry_no").and_then(|n| n.as_int().ok()) {
                Some(entry_no) => {
                    let entry_no = u64::try_from(entry_no).unwrap_or_default();
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
                None => say!(
                    out,
                    "{}",
                    outcome
                        .get("reason")
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
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
        Command::Plugins { action } => plugins(
            &db,
            action.clone().unwrap_or(PluginAction::List),
            cli.format,
            out,
        ),
        Command::Backup { file } => {
            let records = db.backup(file.as_path())?;
            say!(
                out,
                "backed up {records} records of {} to {}",
                cli.db.display(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
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
                let b = transfer::progress(total, what);
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

/// `rapport plugins …`: list, enable, disable, add a folder.
fn plugins(
    db: &Database,
    action: PluginAction,
    format: Format,
    out: &mut String,
) -> Result<ExitCode, Error> {
    let mut host = ScriptHost::new(Limits::user());
    let report = load_plugins(db, &mut host)?;
    let mut settings = db.read(|v| v.plugin_settings())?;
    match action {
        PluginAction::List => {
            let rows: rhai::Array = report
                .plugins
                .iter()
                .map(|p| {
                    let mut m = rhai::Map::new();
                    m.insert("name".into(), p.manifest.name.clone().into());
                    m.insert("version".into(), p.manifest.version.clone().into());
                    m.insert("enabled".into(), p.enabled.into());
                    m.insert("hooks".into(), p.manifest.hooks.join(", ").into());
                    m.insert("from".into(), p.origin.clone().into());
                    m.insert("description".into(), p.manifest.description.clone().into());
                    rhai::Dynamic::from_map(m)
                })
                .collect();
            say!(
                out,
                "{}",
                output::render(&rhai::Dynamic::from_array(rows), format)
            );
            for problem in &report.problems {
                say!(out, "not loaded: {problem}");
            }
        }
        PluginAction::Enable { name } => {
            if !report.plugins.iter().any(|p| p.manifest.name == name) {
                let why = report
                    .problems
                    .iter()
                    .find(|p| p.plugin == name)
                    .map_or_else(
                        || {
                            "there is no plugin of that name; rapport plugins list shows them"
                                .to_string()
                        },
                        |p| format!("it does not load: {p}"),
                    );
                return Err(Error::refused(
                    format!("plugin {name}"),
                    why,
                    "fix it or pick another",
                ));
            }
            if !settings.enabled.contains(&name) {
                settings.enabled.push(name.clone());
                db.write(|tx| tx.plugin_settings_set(&settings))?;
            }
            say!(out, "enabled {name}");
        }
        PluginAction::Disable { name } => {
            let before = settings.enabled.len();
            settings.enabled.retain(|n| *n != name);
            if settings.enabled.len() == before {
                return Err(Error::refused(
                    format!("plugin {name}"),
                    "it is not enabled",
                    "rapport plugins list shows what is",
                ));
            }
            db.write(|tx| tx.plugin_settings_set(&settings))?;
            say!(out, "disabled {name}");
        }
        PluginAction::Folder { path } => {
            let path = std::fs::canonicalize(&path).map_err(|e| {
                Error::invalid(
                    "plugins folder",
                    "path",
                    format!("{} cannot be read: {e}", path.display()),
                    "give an existing folder",
                )
            })?;
            let path = path.display().to_string();
            if !settings.folders.contains(&path) {
                settings.folders.push(path.clone());
                db.write(|tx| tx.plugin_settings_set(&settings))?;
            }
            say!(out, "plugins are also looked for in {path}");
        }
    }
    Ok(ExitCode::SUCCESS)
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
            let shown = output::outcome(&result, format);
            if !shown.is_empty() {
                say!(out, "{shown}");
            }
            if dry_run {
                eprintln!("dry run: nothing was changed");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", output::failure(&e, source));
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
