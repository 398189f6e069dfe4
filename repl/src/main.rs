//! `rapport`: the command line. It parses arguments, opens the database, calls the engine and
//! prints; every rule lives in `rapport-engine`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use rapport_engine::demo::{self, DemoOutcome};
use rapport_engine::ops::StatKind;
use rapport_engine::{Database, Error};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the demo company (groups, templates, setup, salespeople, 50 contacts, segments and
    /// history) and print its statistics per template. Running it again changes nothing.
    ///
    /// Example: rapport --db demo.redb demo
    Demo,
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
