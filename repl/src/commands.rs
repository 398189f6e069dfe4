//! One function per command. Each gets the parsed command line, the open database and standard
//! output, calls the engine or the language, and writes what it prints as it goes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use rapport::api::UserReply;
use rapport::client::{Client, Discovery};
use rapport::error::CliError;
use rapport::import::{self, ImportKind, ImportOptions, Input};
use rapport::out::Out;
use rapport::output::{self, Format};
use rapport::transfer::{self, ExportKind};
use rapport_engine::model::Doing;
use rapport_engine::ops::{Progress, StatKind};
use rapport_engine::{Database, Error, ErrorKind};
use rapport_script::demo::{self, DemoOutcome};
use rapport_script::{Limits, RunOptions, ScriptHost, Variables, plugin};

use crate::cli::{Cli, Command, PluginAction, ScriptLimits, UserAction};
use crate::shared::{
    document_event, load_plugins, plugin_detail, plugin_rows, plugin_switch, record_document,
    show_check, show_document, show_done, show_import, show_new_user, show_not_loaded, show_result,
    show_stats, show_users, stats_json, user_add,
};

/// What every command has: the command line, the database and standard output.
struct Ctx<'a> {
    cli: &'a Cli,
    db: Database,
    out: Out,
    /// The script is one a command wrote (`history`, `undo`, `erase`): its errors show the
    /// message, not a position in it.
    generated: bool,
}

/// Runs the command the command line names (the REPL without one).
pub fn run(cli: &Cli) -> Result<ExitCode, CliError> {
    if let Some(Command::Completions { shell }) = &cli.command {
        return completions(*shell);
    }
    // A plugin's tests from its folder (or those of every plugin in a folder of plugins) need
    // no database.
    if let Some(Command::Plugins {
        action: Some(PluginAction::Test { name }),
    }) = &cli.command
        // A path (not a plugin's name that happens to be a folder here too).
        && (name.contains('/') || name.starts_with('.') || Path::new(name).is_absolute())
        && Path::new(name).is_dir()
    {
        let dir = Path::new(name);
        let mut failed_to_load = false;
        let sources = if dir.join("plugin.toml").is_file() {
            vec![plugin::one_folder(dir).map_err(|p| CliError::Plugin {
                name: name.clone(),
                reason: p.where_and_why(),
                fix: "mend the plugin",
            })?]
        } else {
            let (found, problems) = plugin::from_folder(dir);
            if !problems.is_empty() {
                // Said, and the run fails; the other plugins' tests still run.
                for p in &problems {
                    eprintln!("error: {p}; its tests cannot run");
                }
                failed_to_load = true;
            }
            if found.is_empty() && problems.is_empty() {
                return Err(CliError::Plugin {
                    name: name.clone(),
                    reason:
                        "the folder holds no plugin (no plugin.toml in it or in a folder in it)"
                            .into(),
                    fix: "give a plugin's folder, or a folder of plugins",
                });
            }
            found
        };
        let mut out = Out::stdout();
        let mut code = if failed_to_load {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
        for source in &sources {
            if sources.len() > 1 && source.tests.is_empty() {
                out.line(format!(
                    "{}: no tests (no .rhai file in its tests folder)",
                    source.origin
                ))?;
                continue;
            }
            if plugin_tests(&mut out, cli.format, source)? != ExitCode::SUCCESS {
                code = ExitCode::FAILURE;
            }
        }
        out.flush()?;
        return Ok(code);
    }
    let mut db = match open(cli)? {
        Target::Local(db) => db,
        Target::Remote(client) => return crate::remote::run(cli, &client),
    };
    if let Some(Command::Serve {
        listen,
        max_seconds,
        max_memory_mib,
        max_request_mib,
        max_import_mib,
        grace_seconds,
    }) = &cli.command
    {
        let config = crate::serve::Config {
            listen: *listen,
            limits: Limits {
                max_time: std::time::Duration::from_secs(*max_seconds),
                max_memory: max_memory_mib * 1024 * 1024,
                ..Limits::user()
            },
            max_request: max_request_mib * 1024 * 1024,
            max_import: max_import_mib * 1024 * 1024,
            grace: std::time::Duration::from_secs(*grace_seconds),
        };
        // Each request is an operation of the history, named by the script it runs.
        db.context_mut().doing = Doing {
            kind: "request".into(),
            ..Doing::default()
        };
        crate::serve::run(db, &cli.db, config)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        db.context_mut().progress = Some(progress_bar());
    }
    db.context_mut().doing = doing(cli);
    let mut ctx = Ctx {
        cli,
        db,
        out: Out::stdout(),
        generated: matches!(cli.command, Some(Command::Eval { name: Some(_), .. })),
    };
    let default = Command::Repl {
        limits: ScriptLimits::default(),
    };
    let code = match cli.command.as_ref().unwrap_or(&default) {
        Command::Repl { limits } => repl(&mut ctx, *limits),
        Command::Run { file, limits } => run_file(&mut ctx, file, *limits),
        Command::Eval { code, limits, name } => {
            eval(&mut ctx, name.as_deref().unwrap_or("eval"), code, *limits)
        }
        Command::Demo => load_demo(&mut ctx),
        Command::Document { .. } => document(&mut ctx),
        Command::Import {
            what,
            file,
            define_fields,
            update,
            delimiter,
        } => {
            let options = ImportOptions {
                define_fields: *define_fields,
                update: *update,
                delimiter: *delimiter,
                on_server: false,
            };
            import(&mut ctx, *what, file, options)
        }
        Command::Export { what, out } => export(&mut ctx, *what, out.as_deref()),
        Command::Plugins { action } => {
            plugins(&mut ctx, action.clone().unwrap_or(PluginAction::List))
        }
        Command::Backup { file } => backup(&mut ctx, file),
        Command::Check => check(&mut ctx),
        Command::Stats {
            kind,
            code,
            all: _,
            from,
            to,
        } => stats(
            &mut ctx,
            kind,
            code.as_deref(),
            crate::shared::stats_range(*from, *to),
        ),
        Command::Users { action } => users(&mut ctx, action),
        Command::Completions { .. } => unreachable!("handled before the database opens"),
        Command::Serve { .. } => unreachable!("handled above"),
        Command::History { .. } | Command::Undo { .. } | Command::Erase { .. } => {
            unreachable!("cli::settle makes them scripts")
        }
    }?;
    ctx.out.flush()?;
    Ok(code)
}

/// Where a command works: on the file, or through a server.
enum Target {
    Local(Database),
    Remote(Client),
}

/// Opens the database the command line names: through `--server`; read-only when asked (or
/// when the file may not be written); else the file itself — and when a server holds it, that
/// server (its discovery file beside the database says where).
fn open(cli: &Cli) -> Result<Target, CliError> {
    let serving = matches!(cli.command, Some(Command::Serve { .. }));
    if let Some(url) = &cli.server
        && !serving
    {
        return Ok(Target::Remote(Client::new(url, cli.token.clone())));
    }
    if cli.read_only && rapport_engine::postgres_url(&cli.db).is_some() {
        return Err(Error::invalid(
            "database",
            "read_only",
            "is for database files; a PostgreSQL database is opened as it is",
            "leave --read-only out, and give the PostgreSQL user read-only rights (GRANT SELECT) for read-only work",
        )
        .into());
    }
    if cli.read_only || (!serving && read_only_file(&cli.db)) {
        return Ok(Target::Local(Database::open_read_only(&cli.db)?));
    }
    let is_file = rapport_engine::postgres_url(&cli.db).is_none();
    let new_file = is_file && !cli.db.exists();
    match Database::open(&cli.db) {
        Ok(db) => {
            // A mistyped --db must not pass for an empty database unnoticed (demo and import
            // make new ones on purpose, and say what they put there).
            let creates = matches!(cli.command, Some(Command::Demo | Command::Import { .. }));
            if new_file && !creates && !cli.quiet {
                eprintln!(
                    "note: there was no database at {}: a new, empty one was created (check --db)",
                    cli.db.display()
                );
            }
            Ok(Target::Local(db))
        }
        Err(e) if e.kind() == ErrorKind::DatabaseInUse && !serving => {
            match Discovery::find(&cli.db) {
                Some(found) => Ok(Target::Remote(Client::new(
                    &found.url,
                    cli.token.clone().or(Some(found.token)),
                ))),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the file exists and this user may not write it.
fn read_only_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
        && std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
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
    crate::shared::warn_plugins(&report);
    Ok(host)
}

/// `rapport` / `rapport repl`.
fn repl(ctx: &mut Ctx<'_>, limits: ScriptLimits) -> Result<ExitCode, CliError> {
    let host = host(&ctx.db, limits)?;
    let failed = crate::repl::Repl::new(&ctx.db, host, ctx.cli.format)
        .quiet(ctx.cli.quiet)
        .run_loop()
        .map_err(CliError::Terminal)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `rapport run FILE` (`-`: standard input).
fn run_file(ctx: &mut Ctx<'_>, file: &Path, limits: ScriptLimits) -> Result<ExitCode, CliError> {
    let source = crate::shared::read_script(file)?;
    let name = if file == Path::new("-") {
        "stdin".to_string()
    } else {
        file.display().to_string()
    };
    let host = host(&ctx.db, limits)?;
    script(ctx, &host, &name, &source)
}

/// `rapport eval CODE` (and `rapport -c CODE`).
fn eval(
    ctx: &mut Ctx<'_>,
    name: &str,
    code: &str,
    limits: ScriptLimits,
) -> Result<ExitCode, CliError> {
    let host = host(&ctx.db, limits)?;
    script(ctx, &host, name, code)
}

/// Runs a script with its `--arg` variables; prints what it printed, then its result; on
/// error, the position with a caret.
fn script(
    ctx: &mut Ctx<'_>,
    host: &ScriptHost,
    name: &str,
    source: &str,
) -> Result<ExitCode, CliError> {
    let dry_run = ctx.cli.dry_run;
    let mut variables = Variables::new();
    for (arg, value) in crate::shared::script_args(ctx.cli)? {
        variables.set_json(&arg, &value)?;
    }
    // A query's results stream to standard output as they come (what was printed so far first).
    ctx.out.flush()?;
    let streamer = output::stream_to_stdout(host, ctx.cli.format);
    let ran = host.run_with(
        &ctx.db,
        name,
        source,
        &mut variables,
        RunOptions { dry_run },
    );
    streamer.borrow_mut().finish(output::End::of(&ran))?;
    match ran {
        Ok(result) => {
            for line in output::printed_lines(&result.printed, ctx.cli.format) {
                ctx.out.line(line)?;
            }
            if result.streamed.is_none() {
                ctx.out
                    .shown(&output::render(&result.value, ctx.cli.format))?;
            }
            if dry_run && !ctx.cli.quiet {
                eprintln!("dry run: nothing was changed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if ctx.generated {
                eprintln!("{}", output::command_failure(&e.printed, &e.message));
            } else {
                eprintln!("{}", output::failure(&e, source));
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `rapport demo`: loads the demo company once, then prints the statistics per template.
fn load_demo(ctx: &mut Ctx<'_>) -> Result<ExitCode, CliError> {
    // As the backend names it: a file's path as given, a PostgreSQL database without the
    // password its URL may hold.
    let db_name = ctx.db.backend().location();
    let outcome = demo::load(&ctx.db)?;
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
    if ctx.cli.format != Format::Table {
        // The statistics per template, as records; what was loaded on standard error.
        let loaded = match outcome {
            DemoOutcome::Loaded(_) => "loaded",
            DemoOutcome::AlreadyLoaded => "already there, nothing changed",
        };
        if !ctx.cli.quiet {
            eprintln!("the demo company in {db_name}: {loaded}");
        }
        let records: Vec<serde_json::Value> = rows
            .iter()
            .map(|(code, description, s)| {
                serde_json::json!({
                    "template": code,
                    "description": description,
                    "count": s.count,
                    "cost": s.cost.to_string(),
                    "duration": s.duration.to_string(),
                    "avg_cost": s.avg_cost,
                })
            })
            .collect();
        ctx.out.line(output::render_json(
            serde_json::Value::Array(records),
            ctx.cli.format,
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    match outcome {
        DemoOutcome::Loaded(s) => ctx.out.line(format!(
            "Loaded the demo company into {db_name}: {} groups, {} templates, {} salespeople, {} contacts, {} segments, {} interactions.",
            s.groups, s.templates, s.salespeople, s.contacts, s.segments, s.entries
        ))?,
        DemoOutcome::AlreadyLoaded => ctx.out.line(format!(
            "The demo company is already in {db_name}; nothing changed."
        ))?,
    }
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
    let event = document_event(ctx.cli);
    let host = host(&ctx.db, ScriptLimits::default())?;
    let reply = record_document(&ctx.db, &host, &serde_json::Value::Object(event))
        .map_err(CliError::Command)?;
    show_document(&mut ctx.out, &reply, ctx.cli.format)?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport import KIND FILE`.
fn import(
    ctx: &mut Ctx<'_>,
    what: ImportKind,
    file: &Path,
    options: ImportOptions,
) -> Result<ExitCode, CliError> {
    // A file is read as a stream (twice with --define-fields: the new columns' types, then
    // the rows), never whole; standard input (`-`) or a pipe, which can be read once, is read
    // into memory first.
    let regular = file.as_os_str() != "-" && std::fs::metadata(file).is_ok_and(|m| m.is_file());
    let piped = if regular {
        Vec::new()
    } else {
        crate::shared::read_all(file)?
    };
    let input = if regular {
        Input::File(file)
    } else {
        Input::Bytes(&piped)
    };
    let name = file.display().to_string();
    let define = if options.define_fields {
        import::fields_to_define(&ctx.db, what, input, &name, options)?
    } else {
        Vec::new()
    };
    let table = ctx.cli.format == Format::Table;
    if table {
        // Said before the import, which may take a while.
        for d in &define {
            let field = format!("{} ({})", d.name, d.field_type);
            ctx.out
                .line(crate::shared::declaring_field(what.as_str(), &field))?;
        }
        ctx.out.flush()?;
    }
    // Entries it logs go through the plugins' hooks, as every new entry does.
    let host = if what == ImportKind::Entries {
        host(&ctx.db, ScriptLimits::default())?
    } else {
        ScriptHost::new(Limits::user())
    };
    let reply = import::import(&ctx.db, &host, what, input, &name, options, &define)?;
    show_import(&mut ctx.out, ctx.cli.format, &reply, table)?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport export contacts|entries [--out FILE]`: streams to the file or to stdout.
fn export(ctx: &mut Ctx<'_>, what: ExportKind, file: Option<&Path>) -> Result<ExitCode, CliError> {
    let format = transfer::export_format(what, ctx.cli.format)?;
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
    if !ctx.cli.quiet {
        eprintln!(
            "exported {n} record{} to {}",
            if n == 1 { "" } else { "s" },
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `rapport plugins …`: list, enable, disable, add a folder.
fn plugins(ctx: &mut Ctx<'_>, action: PluginAction) -> Result<ExitCode, CliError> {
    // Compiled only for the actions that show plugins (enabling one compiles them itself, a
    // test run reads its plugin's source).
    let report = |db: &Database| load_plugins(db, &mut ScriptHost::new(Limits::user()));
    let mut settings = ctx.db.read(|v| v.plugin_settings())?;
    match action {
        PluginAction::List => {
            let report = report(&ctx.db)?;
            ctx.out.line(output::render_json(
                serde_json::Value::Array(plugin_rows(&report)),
                ctx.cli.format,
            ))?;
            for problem in &report.problems {
                show_not_loaded(&mut ctx.out, ctx.cli.format, &problem.to_string())?;
            }
        }
        PluginAction::Enable { name } => {
            let message = plugin_switch(&ctx.db, &name, true)?;
            let json = serde_json::json!({"plugin": name, "enabled": true});
            show_done(&mut ctx.out, ctx.cli.format, json, &message)?;
        }
        PluginAction::Disable { name } => {
            let message = plugin_switch(&ctx.db, &name, false)?;
            let json = serde_json::json!({"plugin": name, "enabled": false});
            show_done(&mut ctx.out, ctx.cli.format, json, &message)?;
        }
        PluginAction::Show { name } => {
            let detail =
                plugin_detail(&report(&ctx.db)?, &name).ok_or_else(|| CliError::Plugin {
                    name: name.clone(),
                    reason: "there is no plugin of that name".into(),
                    fix: "rapport plugins list shows them",
                })?;
            crate::shared::show_plugin(&mut ctx.out, ctx.cli.format, &detail)?;
        }
        PluginAction::Test { name } => {
            let (sources, problems) = crate::shared::plugin_sources(&ctx.db)?;
            let Some(source) = sources
                .iter()
                .find(|s| plugin::Manifest::parse(&s.manifest).is_ok_and(|m| m.name == name))
            else {
                return Err(CliError::Plugin {
                    reason: crate::shared::why_not_found(
                        &problems,
                        &name,
                        "there is no plugin of that name (a folder is given as a path, e.g. ./NAME)",
                    ),
                    name,
                    fix: "rapport plugins list shows them; or give the plugin's folder",
                });
            };
            return plugin_tests(&mut ctx.out, ctx.cli.format, source);
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
                ctx.db.write(|tx| tx.plugin_settings_set(&settings))?;
            }
            let message = format!("plugins are also looked for in {path}");
            let json = serde_json::json!({"folder": path});
            show_done(&mut ctx.out, ctx.cli.format, json, &message)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rapport plugins test`: runs the plugin's tests and says how each went; fails when one does.
fn plugin_tests(
    out: &mut Out,
    format: output::Format,
    source: &plugin::PluginSource,
) -> Result<ExitCode, CliError> {
    let name = plugin::Manifest::parse(&source.manifest)
        .map_or_else(|_| source.origin.clone(), |m| m.name);
    if source.tests.is_empty() {
        return Err(CliError::Plugin {
            name,
            reason: format!("it has no tests (no .rhai file in {}/tests)", source.origin),
            fix: "add Rhai scripts there: each runs in a scratch database with the demo company (PLUGINS.md, Testing a plugin)",
        });
    }
    let outcomes = plugin::run_tests(source, Limits::user()).map_err(|e| match e {
        plugin::TestsNotRun::Plugin(p) => CliError::Plugin {
            name: name.clone(),
            reason: format!("it does not load: {}", p.where_and_why()),
            fix: "mend it, then run its tests again",
        },
        plugin::TestsNotRun::Scratch(e) => CliError::Script(e),
    })?;
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    if format == output::Format::Table {
        for o in &outcomes {
            match &o.failure {
                None => out.line(format!("ok    {}", o.file))?,
                Some(e) => {
                    out.line(format!("FAIL  {}", o.file))?;
                    for line in output::failure(e, &o.source).lines() {
                        out.line(format!("      {line}"))?;
                    }
                }
            }
        }
        out.line(format!(
            "plugin {name}: {} passed, {failed} failed",
            outcomes.len() - failed
        ))?;
    } else {
        let rows: Vec<_> = outcomes
            .iter()
            .map(|o| {
                serde_json::json!({
                    "plugin": name,
                    "test": o.file,
                    "passed": o.failure.is_none(),
                    "error": o.failure.as_ref().map(ToString::to_string),
                    "line": o.failure.as_ref().and_then(|e| e.line),
                    "printed": o.failure.as_ref().map_or(o.printed.as_slice(), |e| &e.printed),
                })
            })
            .collect();
        out.line(output::render_json(serde_json::Value::Array(rows), format))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `rapport backup FILE`.
fn backup(ctx: &mut Ctx<'_>, file: &Path) -> Result<ExitCode, CliError> {
    let records = ctx.db.backup(file)?;
    let json = serde_json::json!({
        "records": records,
        "from": ctx.db.backend().location(),
        "to": file.display().to_string(),
    });
    show_result(&mut ctx.out, ctx.cli.format, &json, |out| {
        out.line(format!(
            "backed up {records} records of {} to {}",
            ctx.cli.db.display(),
            file.display()
        ))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport check`: exits non-zero on any difference.
fn check(ctx: &mut Ctx<'_>) -> Result<ExitCode, CliError> {
    let reply = crate::shared::check_reply(&ctx.db)?;
    let place = ctx.cli.db.display().to_string();
    show_check(&mut ctx.out, ctx.cli.format, &reply, &place)
}

/// `rapport stats KIND CODE [--from --to]`.
/// `rapport stats KIND CODE|--all`.
fn stats(
    ctx: &mut Ctx<'_>,
    kind: &str,
    code: Option<&str>,
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
    let Some(code) = code else {
        let rows = crate::shared::stats_of_all(&ctx.db, kind, range)?;
        ctx.out.line(output::render_json(rows, ctx.cli.format))?;
        return Ok(ExitCode::SUCCESS);
    };
    let s = ctx.db.read(|v| v.statistics(kind, code, range))?;
    show_stats(&mut ctx.out, &stats_json(kind, code, &s), ctx.cli.format)?;
    Ok(ExitCode::SUCCESS)
}

/// `rapport users add|list|revoke`.
fn users(ctx: &mut Ctx<'_>, action: &UserAction) -> Result<ExitCode, CliError> {
    match action {
        UserAction::Add { name, role } => {
            let user = user_add(&ctx.db, name, role)?;
            show_new_user(&mut ctx.out, &user, ctx.cli.format)?;
        }
        UserAction::List => {
            let users: Vec<UserReply> = ctx
                .db
                .read(|v| v.users())?
                .iter()
                .map(|u| UserReply::of(u, None))
                .collect();
            show_users(&mut ctx.out, &users, ctx.cli.format)?;
        }
        UserAction::Revoke { name } => {
            let user = ctx.db.write(|tx| tx.user_revoke(name))?;
            let message = format!("revoked {}: its token no longer works", user.name);
            let json = serde_json::to_value(UserReply::of(&user, None))
                .map_err(|e| CliError::Output(e.into()))?;
            show_done(&mut ctx.out, ctx.cli.format, json, &message)?;
        }
    }
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

/// `text` with the password of a URL in it (`scheme://user:PASSWORD@host`) left out.
fn without_password(text: &str) -> String {
    let Some(scheme) = text.find("://") else {
        return text.to_string();
    };
    let rest = &text[scheme + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:…{}",
            &text[..scheme + 3],
            &authority[..colon],
            &text[scheme + 3 + at..]
        ),
        _ => text.to_string(),
    }
}

/// What the history says ran a command: its kind, and the command line (without a token).
fn doing(cli: &Cli) -> Doing {
    let kind = match &cli.command {
        None | Some(Command::Repl { .. }) => "repl",
        Some(Command::Run { .. }) => "script",
        Some(Command::Eval { name: None, .. }) => "eval",
        Some(Command::Eval { name: Some(n), .. }) if n.starts_with("rapport undo") => "undo",
        Some(Command::Eval { name: Some(n), .. }) if n.starts_with("rapport erase") => "erase",
        _ => "command",
    };
    // Secrets stay out of the history, which any user may read: a token, the values scripts
    // are given (--arg, --argjson), a password in a database or server URL.
    let mut words = Vec::new();
    let mut secret = false;
    for arg in std::env::args_os().skip(1) {
        let arg = arg.to_string_lossy().into_owned();
        let flag = arg.split('=').next().unwrap_or_default();
        let hidden = matches!(flag, "--token" | "--arg" | "--argjson");
        if secret {
            words.push("…".to_string());
            secret = false;
        } else if hidden && arg.contains('=') && arg.starts_with("--") {
            words.push(format!("{flag}=…"));
        } else if hidden {
            secret = true;
            words.push(arg);
        } else {
            words.push(without_password(&arg));
        }
    }
    let mut what = format!("rapport {}", words.join(" "));
    if what.len() > 1000 {
        let mut end = 1000;
        while !what.is_char_boundary(end) {
            end -= 1;
        }
        what.truncate(end);
    }
    Doing {
        kind: kind.to_string(),
        what,
        script: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_url_keeps_its_user_and_host_but_not_its_password() {
        assert_eq!(
            without_password("postgresql://anna:s3cret@db.example/crm?schema=x"),
            "postgresql://anna:…@db.example/crm?schema=x"
        );
        assert_eq!(
            without_password("postgresql://anna@db.example/crm"),
            "postgresql://anna@db.example/crm"
        );
        assert_eq!(without_password("crm.redb"), "crm.redb");
    }
}
