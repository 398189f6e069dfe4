//! One function per command. Each gets the parsed command line, the open database and standard
//! output, calls the engine or the language, and writes what it prints as it goes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use rapport::error::CliError;
use rapport::out::Out;
use rapport::output::{self, Format};
use rapport::transfer::{self, ExportFormat, ExportKind};
use rapport_engine::ops::{PluginSettings, Progress, StatKind};
use rapport_engine::{Database, Error};
use rapport_script::demo::{self, DemoOutcome};
use rapport_script::value::entry_json;
use rapport_script::{Limits, PluginReport, RunOptions, ScriptHost, Variables, plugin};

use crate::cli::{Cli, Command, ImportKind, PluginAction, ScriptLimits};

/// What every command has: the command line, the database and standard output.
struct Ctx<'a> {
    cli: &'a Cli,
    db: Database,
    out: Out,
}

/// Runs the command the command line names (the REPL without one).
pub fn run(cli: &Cli) -> Result<ExitCode, CliError> {
    if let Some(Command::Completions { shell }) = &cli.command {
        return completions(*shell);
    }
    let mut db = Database::open(&cli.db)?;
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        db.context_mut().progress = Some(progress_bar());
    }
    let mut ctx = Ctx {
        cli,
        db,
        out: Out::stdout(),
    };
    let default = Command::Repl {
        limits: ScriptLimits::default(),
    };
    let code = match cli.command.as_ref().unwrap_or(&default) {
        Command::Repl { limits } => repl(&mut ctx, *limits),
        Command::Run {
            file,
            dry_run,
            limits,
        } => run_file(&mut ctx, file, *dry_run, *limits),
        Command::Eval {
            code,
            dry_run,
            limits,
        } => eval(&mut ctx, code, *dry_run, *limits),
        Command::Demo => load_demo(&mut ctx),
        Command::Document { .. } => document(&mut ctx),
        Command::Import {
            what: ImportKind::Contacts,
            file,
            define_fields,
        } => import(&mut ctx, file, *define_fields),
        Command::Export { what, out } => export(&mut ctx, *what, out.as_deref()),
        Command::Plugins { action } => {
            plugins(&mut ctx, action.clone().unwrap_or(PluginAction::List))
        }
        Command::Backup { file } => backup(&mut ctx, file),
        Command::Check => check(&mut ctx),
        Command::Stats {
            kind,
            code,
            from,
            to,
        } => stats(&mut ctx, kind, code, from.zip(*to)),
        Command::Completions { .. } => unreachable!("handled before the database opens"),
    }?;
    ctx.out.flush()?;
    Ok(code)
}

/// `rapport completions SHELL`.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode, CliError> {
    let mut out = Out::stdout();
    clap_complete::generate(shell, &mut Cli::command(), "rapport", out.writer());
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A script host with the given limits and this database's plugins (a plugin that fails to load
/// is a warning, never a reason not to start).
fn host(db: &Database, limits: ScriptLimits) -> Result<ScriptHost, CliError> {
    let mut host = ScriptHost::new(Limits {
        max_operations: limits.max_operations,
        max_time: std::time::Duration::from_secs(limits.max_seconds),
        max_memory: limits.max_memory_mib * 1024 * 1024,
        ..Limits::user()
    });
    host.set_memory_probe(crate::allocated);
    let report = load_plugins(db, &mut host)?;
    for problem in &report.problems {
        eprintln!("warning: {problem}; it is left out");
    }
    Ok(host)
}

/// The bundled plugins and those in the database's plugin folders.
fn load_plugins(db: &Database, host: &mut ScriptHost) -> Result<PluginReport, CliError> {
    let settings = db.read(|v| v.plugin_settings())?;
    let mut sources = plugin::bundled();
    let mut problems = Vec::new();
    for folder in &settings.folders {
        let (found, trouble) = plugin::from_folder(Path::new(folder));
        sources.extend(found);
        problems.extend(trouble);
    }
    let mut report = host.load_plugins(db, &sources)?;
    report.problems.extend(problems);
    Ok(report)
}

/// `rapport` / `rapport repl`.
fn repl(ctx: &mut Ctx<'_>, limits: ScriptLimits) -> Result<ExitCode, CliError> {
    let host = host(&ctx.db, limits)?;
    crate::repl::Repl::new(&ctx.db, host, ctx.cli.format)
        .run_loop()
        .map_err(CliError::Terminal)?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport run FILE`.
fn run_file(
    ctx: &mut Ctx<'_>,
    file: &Path,
    dry_run: bool,
    limits: ScriptLimits,
) -> Result<ExitCode, CliError> {
    let source = std::fs::read_to_string(file).map_err(|source| CliError::Read {
        what: "script",
        path: file.display().to_string(),
        source,
        fix: "give the path of a Rhai script",
    })?;
    let host = host(&ctx.db, limits)?;
    script(ctx, &host, &file.display().to_string(), &source, dry_run)
}

/// `rapport eval CODE`.
fn eval(
    ctx: &mut Ctx<'_>,
    code: &str,
    dry_run: bool,
    limits: ScriptLimits,
) -> Result<ExitCode, CliError> {
    let host = host(&ctx.db, limits)?;
    script(ctx, &host, "eval", code, dry_run)
}

/// Runs a script; prints what it printed, then its result; on error, the position with a caret.
fn script(
    ctx: &mut Ctx<'_>,
    host: &ScriptHost,
    name: &str,
    source: &str,
    dry_run: bool,
) -> Result<ExitCode, CliError> {
    match host.run(&ctx.db, name, source, RunOptions { dry_run }) {
        Ok(result) => {
            for line in &result.printed {
                ctx.out.line(line)?;
            }
            ctx.out
                .shown(&output::render(&result.value, ctx.cli.format))?;
            if dry_run {
                eprintln!("dry run: nothing was changed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", output::failure(&e, source));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `rapport demo`: loads the demo company once, then prints the statistics per template.
fn load_demo(ctx: &mut Ctx<'_>) -> Result<ExitCode, CliError> {
    let db_name = ctx.cli.db.display();
    match demo::load(&ctx.db)? {
        DemoOutcome::Loaded(s) => ctx.out.line(format!(
            "Loaded the demo company into {db_name}: {} groups, {} templates, {} salespeople, {} contacts, {} segments, {} interactions.",
            s.groups, s.templates, s.salespeople, s.contacts, s.segments, s.entries
        ))?,
        DemoOutcome::AlreadyLoaded => ctx.out.line(format!(
            "The demo company is already in {db_name}; nothing changed."
        ))?,
    }
    let rows = ctx.db.read(|v| {
        let mut rows = Vec::new();
        for t in v.templates()? {
            let s = v.statistics(StatKind::Template, &t.code, None)?;
            if s.count > 0 {
                rows.push((t.code, t.description, s));
            }
        }
        Ok(rows)
    })?;
    ctx.out.line("")?;
    ctx.out.line(format!(
        "{:<10}  {:<30}  {:>5}  {:>8}  {:>8}  {:>8}",
        "template", "description", "count", "cost", "minutes", "avg cost"
    ))?;
    for (code, description, s) in rows {
        ctx.out.line(format!(
            "{code:<10}  {description:<30}  {:>5}  {:>8}  {:>8}  {:>8.2}",
            s.count,
            s.cost.to_string(),
            s.duration.to_string(),
            s.avg_cost
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `rapport document TYPE NO …`: through the language, so the plugins' document hooks take part.
fn document(ctx: &mut Ctx<'_>) -> Result<ExitCode, CliError> {
    let Some(Command::Document {
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
    }) = &ctx.cli.command
    else {
        unreachable!("called for the document command")
    };
    let mut event = serde_json::Map::new();
    let fields = [
        ("type", Some(document_type)),
        ("no", no.as_ref()),
        ("customer", customer.as_ref()),
        ("vendor", vendor.as_ref()),
        ("contact", contact.as_ref()),
        ("action", Some(action)),
        ("salesperson", salesperson.as_ref()),
        ("campaign", campaign.as_ref()),
        ("description", description.as_ref()),
        ("person", person.as_ref()),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            event.insert(key.into(), v.clone().into());
        }
    }
    if let Some(a) = amount {
        event.insert("amount".into(), (*a).into());
    }
    let host = host(&ctx.db, ScriptLimits::default())?;
    let mut variables = Variables::new();
    variables.set_json("event", &serde_json::Value::Object(event))?;
    let outcome = host
        .run_with(
            &ctx.db,
            "document",
            "record_document(event)",
            &mut variables,
            RunOptions::default(),
        )
        .map_err(CliError::Command)?
        .value;
    match outcome.field("entry_no").and_then(|n| n.as_int()) {
        Some(entry_no) => {
            let entry_no = u64::try_from(entry_no).unwrap_or_default();
            let entry = ctx
                .db
                .read(|v| v.entry(entry_no))?
                .ok_or_else(|| Error::not_found("interaction log entry", entry_no.to_string()))?;
            ctx.out
                .line(format!("recorded as interaction log entry {entry_no}"))?;
            ctx.out
                .line(output::render_json(entry_json(&entry), ctx.cli.format))?;
        }
        None => ctx.out.line(
            outcome
                .field("reason")
                .and_then(|r| r.as_text())
                .unwrap_or_default(),
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `rapport import contacts FILE`.
fn import(ctx: &mut Ctx<'_>, file: &Path, define_fields: bool) -> Result<ExitCode, CliError> {
    let bytes = transfer::read_file(file)?;
    let name = file.display().to_string();
    let define = if define_fields {
        transfer::fields_to_define(&ctx.db, &bytes, &name)?
    } else {
        Vec::new()
    };
    for def in &define {
        ctx.out.line(format!(
            "declaring contact field {} ({})",
            def.name, def.field_type
        ))?;
    }
    let n = transfer::import_contacts_csv(&ctx.db, &bytes, &name, &define)?;
    ctx.out.line(format!(
        "imported {n} contact{}",
        if n == 1 { "" } else { "s" }
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport export contacts|entries [--out FILE]`: streams to the file or to stdout.
fn export(ctx: &mut Ctx<'_>, what: ExportKind, file: Option<&Path>) -> Result<ExitCode, CliError> {
    let format = if ctx.cli.format == Format::Json {
        ExportFormat::Json
    } else {
        ExportFormat::Csv
    };
    let Some(path) = file else {
        transfer::export(&ctx.db, what, format, ctx.out.writer())?;
        return Ok(ExitCode::SUCCESS);
    };
    let cannot_write = |source| CliError::Write {
        what: "export file",
        path: path.display().to_string(),
        source,
        fix: "give a path in a folder you can write",
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(cannot_write)?);
    let n = match transfer::export(&ctx.db, what, format, &mut f) {
        // A file is not a pipe: every failure to write it is an error about the file.
        Err(CliError::Output(e)) => return Err(cannot_write(e)),
        Err(CliError::Closed) => {
            return Err(cannot_write(std::io::ErrorKind::BrokenPipe.into()));
        }
        other => other?,
    };
    std::io::Write::flush(&mut f).map_err(cannot_write)?;
    eprintln!(
        "exported {n} record{} to {}",
        if n == 1 { "" } else { "s" },
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `rapport plugins …`: list, enable, disable, add a folder.
fn plugins(ctx: &mut Ctx<'_>, action: PluginAction) -> Result<ExitCode, CliError> {
    let mut host = ScriptHost::new(Limits::user());
    let report = load_plugins(&ctx.db, &mut host)?;
    let mut settings = ctx.db.read(|v| v.plugin_settings())?;
    let save = |db: &Database, settings: &PluginSettings| -> Result<(), CliError> {
        Ok(db.write(|tx| tx.plugin_settings_set(settings))?)
    };
    match action {
        PluginAction::List => {
            let rows: Vec<serde_json::Value> = report
                .plugins
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "name": p.manifest.name,
                        "version": p.manifest.version,
                        "enabled": p.enabled,
                        "hooks": p.manifest.hooks.join(", "),
                        "from": p.origin,
                        "description": p.manifest.description,
                    })
                })
                .collect();
            ctx.out.line(output::render_json(
                serde_json::Value::Array(rows),
                ctx.cli.format,
            ))?;
            for problem in &report.problems {
                ctx.out.line(format!("not loaded: {problem}"))?;
            }
        }
        PluginAction::Enable { name } => {
            if !report.plugins.iter().any(|p| p.manifest.name == name) {
                let reason = report
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
                return Err(CliError::Plugin {
                    name,
                    reason,
                    fix: "fix it or pick another",
                });
            }
            if !settings.enabled.contains(&name) {
                settings.enabled.push(name.clone());
                save(&ctx.db, &settings)?;
            }
            ctx.out.line(format!("enabled {name}"))?;
        }
        PluginAction::Disable { name } => {
            let before = settings.enabled.len();
            settings.enabled.retain(|n| *n != name);
            if settings.enabled.len() == before {
                return Err(CliError::Plugin {
                    name,
                    reason: "it is not enabled".into(),
                    fix: "rapport plugins list shows what is",
                });
            }
            save(&ctx.db, &settings)?;
            ctx.out.line(format!("disabled {name}"))?;
        }
        PluginAction::Folder { path } => {
            let path: PathBuf = std::fs::canonicalize(&path).map_err(|source| CliError::Read {
                what: "plugin folder",
                path: path.display().to_string(),
                source,
                fix: "give an existing folder",
            })?;
            let path = path.display().to_string();
            if !settings.folders.contains(&path) {
                settings.folders.push(path.clone());
                save(&ctx.db, &settings)?;
            }
            ctx.out
                .line(format!("plugins are also looked for in {path}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rapport backup FILE`.
fn backup(ctx: &mut Ctx<'_>, file: &Path) -> Result<ExitCode, CliError> {
    let records = ctx.db.backup(file)?;
    ctx.out.line(format!(
        "backed up {records} records of {} to {}",
        ctx.cli.db.display(),
        file.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport check`: exits non-zero on any difference.
fn check(ctx: &mut Ctx<'_>) -> Result<ExitCode, CliError> {
    let report = ctx.db.read(|v| v.integrity_check())?;
    if report.is_ok() {
        ctx.out.line(format!(
            "ok: {} entries; indexes, statistics and attachments agree",
            report.entries_checked
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    for d in &report.differences {
        ctx.out.line(d)?;
    }
    ctx.out.flush()?;
    eprintln!(
        "error: {} difference(s) found in {}",
        report.differences.len(),
        ctx.cli.db.display()
    );
    Ok(ExitCode::FAILURE)
}

/// `rapport stats KIND CODE [--from --to]`.
fn stats(
    ctx: &mut Ctx<'_>,
    kind: &str,
    code: &str,
    range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ExitCode, CliError> {
    let kind: StatKind = kind.parse().map_err(|problem| {
        Error::invalid(
            "stats",
            "kind",
            problem,
            "give one of the kinds listed by rapport stats --help",
        )
    })?;
    let s = ctx.db.read(|v| v.statistics(kind, code, range))?;
    ctx.out.line(format!("{kind} {}", code.to_uppercase()))?;
    ctx.out.line(format!("count         {}", s.count))?;
    ctx.out.line(format!("cost          {}", s.cost))?;
    ctx.out.line(format!("duration      {}", s.duration))?;
    ctx.out.line(format!("avg_cost      {:.2}", s.avg_cost))?;
    ctx.out
        .line(format!("avg_duration  {:.2}", s.avg_duration))?;
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on stderr for long engine work (logging a large segment, purging, canceling).
fn progress_bar() -> Progress {
    let bar: std::sync::Mutex<Option<(String, indicatif::ProgressBar)>> =
        std::sync::Mutex::new(None);
    Progress(std::sync::Arc::new(
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
