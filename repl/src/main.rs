//! `rapport`: the command line. It parses arguments, opens the database, calls the engine and
//! prints; every rule lives in `rapport-engine`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

mod output;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use output::Format;
use rapport_engine::demo::{self, DemoOutcome};
use rapport_engine::ops::StatKind;
use rapport_engine::script::{Limits, RunOptions, ScriptHost};
use rapport_engine::{Database, Error};

/// Counts the process's allocations, so scripts can have a memory limit.
#[global_allocator]
static ALLOCATED: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// rapport: relationship management you drive with scripts.
///
/// Every command works on one embedded database file (`--db`, default ./rapport.redb).
#[derive(Parser)]
#[command(name = "rapport", version, arg_required_else_help = true)]
struct Cli {
    /// The database file (created if missing).
    #[arg(
        long,
        global = true,
        env = "RAPPORT_DB",
        default_value = "rapport.redb"
    )]
    db: PathBuf,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

/// Limits of a script run (the defaults suit bulk work on millions of records).
#[derive(clap::Args, Clone, Copy)]
#[allow(clippy::struct_field_names)] // the fields are the flags' names
struct ScriptLimits {
    /// Stop a script after this many operations (0: no limit).
    #[arg(long, default_value_t = Limits::user().max_operations)]
    max_operations: u64,
    /// Stop a script after this many seconds.
    #[arg(long, default_value_t = Limits::user().max_time.as_secs())]
    max_seconds: u64,
    /// Stop a script that allocates more than this many MiB.
    #[arg(long, default_value_t = Limits::user().max_memory / (1024 * 1024))]
    max_memory_mib: usize,
}

impl ScriptLimits {
    fn host(self) -> ScriptHost {
        let limits = Limits {
            max_operations: self.max_operations,
            max_time: std::time::Duration::from_secs(self.max_seconds),
            max_memory: self.max_memory_mib * 1024 * 1024,
            ..Limits::user()
        };
        let host = ScriptHost::new(limits);
        host.set_memory_probe(|| ALLOCATED.allocated());
        host
    }
}

#[derive(Subcommand)]
#[allow(clippy::doc_markdown)] // these doc comments are --help text for people
enum Command {
    /// Load the demo company (groups, templates, setup, salespeople, 50 contacts, segments and
    /// history) and print its statistics per template. Running it again changes nothing.
    ///
    /// Example: rapport --db demo.redb demo
    Demo,
    /// Run a Rhai script in one transaction and print its result. If the script fails, nothing
    /// it did is kept.
    ///
    /// Example: rapport run scripts/campaign.rhai
    Run {
        /// The script file.
        file: PathBuf,
        /// Run it, then keep nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        limits: ScriptLimits,
    },
    /// Evaluate Rhai code in one transaction and print its result.
    ///
    /// Example: rapport eval 'contacts().filter(#{city: "Oslo"}).count()'
    Eval {
        /// The code.
        code: String,
        /// Run it, then keep nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        limits: ScriptLimits,
    },
    /// Verify indexes, statistics and attachment references against the entries; exits non-zero
    /// on any difference.
    ///
    /// Example: rapport check
    Check,
    /// Print the statistics of one template, group, contact, salesperson, campaign entry or
    /// logged segment, for all time or between two dates.
    ///
    /// Example: rapport stats template BUS --from 2026-01-01 --to 2026-12-31
    Stats {
        /// `template`, `group`, `contact`, `salesperson`, `campaign_entry` or `logged_segment`.
        kind: String,
        /// Its code or number.
        code: String,
        /// First day (YYYY-MM-DD).
        #[arg(long, requires = "to")]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD).
        #[arg(long, requires = "from")]
        to: Option<NaiveDate>,
    },
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

/// Appends a line to the output (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Runs one command, appending what it prints to `out`.
fn run(cli: &Cli, out: &mut String) -> Result<ExitCode, Error> {
    let db = Database::open(&cli.db)?;
    match &cli.command {
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
                DemoOutcome::AlreadyLoaded => {
                    say!(
                        out,
                        "The demo company is already in {}; nothing changed.",
                        cli.db.display()
                    );
                }
            }
            print_template_statistics(&db, out)?;
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
                &limits.host(),
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
            &limits.host(),
            "eval",
            code,
            *dry_run,
            cli.format,
            out,
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
    }
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
