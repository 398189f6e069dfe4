//! The command line, as clap parses it. The doc comments are the `--help` text.
#![expect(
    clippy::doc_markdown,
    reason = "doc comments here are --help text for people, not Rust docs"
)]

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use rapport::import::ImportKind;
use rapport::output::Format;
use rapport::transfer::ExportKind;
use rapport_script::Limits;

/// rapport: relationship management you drive with scripts.
///
/// Every command works on one embedded database file (--db, default ./rapport.redb), or through
/// a rapport serve (--server URL, or found beside the file while a server holds it). Without a
/// command, rapport opens the REPL.
#[derive(Parser)]
#[command(name = "rapport", version)]
pub struct Cli {
    /// The database file (created if missing).
    #[arg(
        long,
        global = true,
        env = "RAPPORT_DB",
        default_value = "rapport.redb"
    )]
    pub db: PathBuf,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: Format,
    /// Work through the rapport serve at this URL (e.g. http://127.0.0.1:7480) instead of
    /// opening the file. Without it, a file a server holds is reached through that server.
    #[arg(long, global = true, env = "RAPPORT_SERVER")]
    pub server: Option<String>,
    /// The token for --server (rapport users add makes one). A server found beside the file
    /// gives its owner a token of its own.
    #[arg(long, global = true, env = "RAPPORT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Open the file for reading only (queries, export, stats, check, backup): no lock is
    /// taken against other readers, and nothing can be changed. Automatic for a file you may
    /// not write.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Run this code and print its result, as `eval CODE` does (psql's -c).
    #[arg(short = 'c', long = "command", value_name = "CODE")]
    pub code: Option<String>,
    /// A text variable the script (run, eval, -c) sees, as jq's --arg: NAME=TEXT. Repeat for
    /// more.
    #[arg(long = "arg", global = true, value_name = "NAME=TEXT")]
    pub args: Vec<String>,
    /// A variable the script sees, its value JSON (a number, true, a list, a map), as jq's
    /// --argjson: NAME=JSON. Repeat for more.
    #[arg(long = "argjson", global = true, value_name = "NAME=JSON")]
    pub argjson: Vec<String>,
    /// Run the script (run, eval, -c), then keep nothing: what it would change is dropped.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Say less on standard error: no greeting, no progress bars, no notes (errors and warnings
    /// still).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Limits of a script run (the defaults suit bulk work on millions of records).
#[derive(clap::Args, Clone, Copy)]
#[expect(clippy::struct_field_names, reason = "the fields are the flags' names")]
pub struct ScriptLimits {
    /// Stop a script after this many operations (0: no limit).
    #[arg(long, default_value_t = Limits::user().max_operations)]
    pub max_operations: u64,
    /// Stop a script after this many seconds.
    #[arg(long, default_value_t = Limits::user().max_time.as_secs())]
    pub max_seconds: u64,
    /// Stop a script that allocates more than this many MiB.
    #[arg(long, default_value_t = Limits::user().max_memory / (1024 * 1024))]
    pub max_memory_mib: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        let l = Limits::user();
        Self {
            max_operations: l.max_operations,
            max_seconds: l.max_time.as_secs(),
            max_memory_mib: l.max_memory / (1024 * 1024),
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// The interactive REPL: history, completion, multi-line input, :help, tables (the default).
    ///
    /// Example: rapport repl
    Repl {
        #[command(flatten)]
        limits: ScriptLimits,
    },
    /// Run a Rhai script in one transaction and print its result. If the script fails, nothing
    /// it did is kept.
    ///
    /// Example: rapport run scripts/campaign.rhai --arg city=Oslo
    Run {
        /// The script file (- reads it from standard input).
        file: PathBuf,
        #[command(flatten)]
        limits: ScriptLimits,
    },
    /// Evaluate Rhai code in one transaction and print its result.
    ///
    /// Example: rapport eval 'contacts().filter(#{city: city}).count()' --arg city=Oslo
    Eval {
        /// The code.
        code: String,
        #[command(flatten)]
        limits: ScriptLimits,
        /// The name the run goes by (a command that runs as a script: history, undo, erase).
        #[arg(skip)]
        name: Option<String>,
    },
    /// Load the demo company (groups, templates, setup, salespeople, 50 contacts, segments and
    /// history) and print its statistics per template. Running it again changes nothing.
    ///
    /// Example: rapport --db demo.redb demo
    Demo,
    /// Record a document event (automatic recording) and print the entry, or why nothing was
    /// recorded.
    ///
    /// Example: rapport document sales_invoice 103017 --customer 10000 --action emailed
    Document {
        /// The document type (sales_invoice, purchase_order, cover_sheet, …).
        #[arg(value_name = "TYPE")]
        document_type: String,
        /// The document's number (none for a cover sheet, an e-mail or an outgoing call).
        no: Option<String>,
        /// The customer it is for (found through its business relation).
        #[arg(long, group = "party")]
        customer: Option<String>,
        /// The vendor it is for (found through its business relation).
        #[arg(long, group = "party")]
        vendor: Option<String>,
        /// The contact it is for.
        #[arg(long, group = "party")]
        contact: Option<String>,
        /// What happened to it.
        #[arg(long, default_value = "printed", value_parser = ["printed", "emailed", "posted", "preview"])]
        action: String,
        /// The salesperson (default: the contact's).
        #[arg(long)]
        salesperson: Option<String>,
        /// The campaign (overrides the template's).
        #[arg(long)]
        campaign: Option<String>,
        /// The description (default: the template's).
        #[arg(long)]
        description: Option<String>,
        /// The document's amount (for plugin rules).
        #[arg(long)]
        amount: Option<f64>,
        /// The person the document names (for plugin rules).
        #[arg(long)]
        person: Option<String>,
    },
    /// Import contacts, salespeople, groups, templates or declared fields from CSV (a header
    /// row of field names; `,`, `;`, tab or `|`) or JSON (one object a line, or an array, as
    /// `export --format json` writes), interactions to log (entries: each row logged anew), or
    /// a whole database (`export database`) into an empty one. Columns are the record's fields and declared custom fields (any other is refused,
    /// unless --define-fields); an empty cell leaves a field as it is. A row naming an
    /// existing record (by no or code) is refused unless --update. A bad row aborts the whole
    /// import, naming its line; nothing is written.
    ///
    /// Example: rapport import contacts contacts.csv --define-fields
    Import {
        /// What to import.
        what: ImportKind,
        /// The CSV or JSON file (- for standard input).
        file: PathBuf,
        /// Declare every column that is not a field yet as a custom field, its type read from
        /// its cells (number, flag, date, else text); the fields are listed before the import
        /// and declared in its transaction.
        #[arg(long)]
        define_fields: bool,
        /// Change the records rows name by no or code (the columns the file has; the other
        /// fields stay) instead of refusing them; rows naming no record create one.
        #[arg(long)]
        update: bool,
        /// The CSV delimiter (default: the one the header row uses most of `,` `;` tab `|`).
        #[arg(long, value_parser = rapport::import::delimiter)]
        delimiter: Option<u8>,
    },
    /// Export contacts, entries, salespeople, groups, templates or declared fields as CSV or
    /// JSON (--format), or the whole database as JSON lines (for `import database`: another
    /// file, or PostgreSQL), to a file or stdout.
    ///
    /// Example: rapport --format csv export entries --out entries.csv
    Export {
        /// What to export.
        what: ExportKind,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Plugins of this database: list them, enable or disable one, or add a folder to find
    /// more in. Bundled plugins are always there; none is enabled until you enable it.
    ///
    /// Example: rapport plugins enable document_rules
    Plugins {
        #[command(subcommand)]
        action: Option<PluginAction>,
    },
    /// Copy the database, as of its last commit, into a new file: a consistent copy even while
    /// a script or the REPL (:backup FILE there) is writing. Restoring is using that file as
    /// the database (or copying it back over the old one while no rapport runs).
    ///
    /// Example: rapport backup backups/rapport-2026-11-29.redb
    Backup {
        /// The new file (an existing file is refused).
        file: PathBuf,
    },
    /// Verify indexes, statistics and attachment references against the entries; exits
    /// non-zero on any difference.
    ///
    /// Example: rapport check
    Check,
    /// Print the statistics of one template, group, contact, salesperson, campaign entry or
    /// logged segment — or of every one of a kind (--all) — for all time or between two dates.
    ///
    /// Example: rapport stats template BUS --from 2026-01-01 --to 2026-12-31
    Stats {
        /// template, group, contact, salesperson, campaign_entry or logged_segment.
        kind: String,
        /// Its code or number.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        code: Option<String>,
        /// Every record of the kind, one row each (e.g. stats salesperson --all --format csv).
        #[arg(long)]
        all: bool,
        /// First day (YYYY-MM-DD; alone: from that day on).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD; alone: up to that day).
        #[arg(long)]
        to: Option<NaiveDate>,
    },
    /// Serve the database to many clients at once over HTTP: readers run side by side on
    /// snapshots, writes wait their turn, each request is one transaction. Clients use
    /// --server URL --token TOKEN; on this machine a plain rapport --db FILE finds the server.
    /// Stops cleanly on Ctrl-C or SIGTERM (running requests finish or roll back).
    ///
    /// Example: rapport --db crm.redb serve --listen 127.0.0.1:7480
    Serve {
        /// The address to listen on (port 0: any free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:7480")]
        listen: std::net::SocketAddr,
        /// Stop a request's script after this many seconds.
        #[arg(long, default_value_t = 60)]
        max_seconds: u64,
        /// Stop a request's script that allocates more than this many MiB.
        #[arg(long, default_value_t = 1024)]
        max_memory_mib: usize,
        /// Refuse a request body larger than this many MiB (a CSV import may be larger:
        /// --max-import-mib).
        #[arg(long, default_value_t = 16)]
        max_request_mib: usize,
        /// Refuse a CSV import larger than this many MiB.
        #[arg(long, default_value_t = 1024)]
        max_import_mib: usize,
        /// On shutdown, let running requests finish for this many seconds, then stop them
        /// (a stopped request changes nothing).
        #[arg(long, default_value_t = 10)]
        grace_seconds: u64,
    },
    /// The users of rapport serve: each has a role and a token (only its hash is stored).
    /// Roles: read (queries, exports, statistics, check); log (read, log interactions, record
    /// documents); full (everything: segments, cancel, purge, templates, plugins, users).
    ///
    /// Example: rapport users add billing --role log
    Users {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The history: every change to the database, one operation per command, script run,
    /// REPL input or server request — who, when, what ran, what it changed. Newest first.
    /// With a number, that operation and every record it changed.
    ///
    /// Example: rapport history --record CT000012
    History {
        /// One operation: every record it changed.
        no: Option<u64>,
        /// Only what happened to this record: a contact no (with its entries, segment lines
        /// and business relations), an entry no, or a label ("template CALL").
        #[arg(long, conflicts_with = "no")]
        record: Option<String>,
        /// Only operations of this user (in any case).
        #[arg(long, conflicts_with = "no")]
        user: Option<String>,
        /// Only operations of this kind: command, eval, script, repl, request, undo, erase,
        /// restore.
        #[arg(long, conflicts_with = "no")]
        kind: Option<String>,
        /// Only operations on or after this day (YYYY-MM-DD).
        #[arg(long, conflicts_with = "no")]
        since: Option<NaiveDate>,
        /// Show at most this many (the newest; 0: all).
        #[arg(long, default_value_t = 20, conflicts_with = "no")]
        limit: u64,
    },
    /// Undo one operation of the history (rapport history shows their numbers): every record
    /// it changed gets its value before back, as a new operation (which can be undone in
    /// turn). Refused, changing nothing, when a later operation changed one of those records.
    /// --dry-run shows what it would change.
    ///
    /// Example: rapport undo 42 --dry-run
    Undo {
        /// The operations' numbers: several are undone together, in the order given (newest
        /// first, as rapport history lists them), as one operation.
        #[arg(required = true)]
        nos: Vec<u64>,
    },
    /// Erase a person's data for good (a privacy request): the contact, its entries, segment
    /// lines and business relations, and every trace of them in the history. It cannot be
    /// undone; the history keeps a receipt that names no personal data.
    ///
    /// Example: rapport erase CT000012 --yes
    Erase {
        /// The contact no.
        contact: String,
        /// Confirm: the erasure cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Print a shell completion script.
    ///
    /// Example: rapport completions bash > /etc/bash_completion.d/rapport
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// What `plugins` does.
#[derive(Subcommand, Clone)]
pub enum PluginAction {
    /// List the plugins, enabled or not, and any that failed to load.
    List,
    /// Enable a plugin for this database (its hooks fire, its functions are there).
    Enable {
        /// The plugin's name.
        name: String,
    },
    /// Disable a plugin for this database.
    Disable {
        /// The plugin's name.
        name: String,
    },
    /// Find plugins in this folder too (one sub-folder per plugin).
    Folder {
        /// The folder.
        path: PathBuf,
    },
    /// Show one plugin: its hooks, the functions it adds, its capabilities, where it is from.
    Show {
        /// The plugin's name.
        name: String,
    },
    /// Run a plugin's tests: the Rhai scripts in its tests/ folder, each in a fresh scratch
    /// database with the demo company and only this plugin enabled (assert, assert_eq).
    ///
    /// Example: rapport plugins test document_rules; rapport plugins test ./my-plugins/gate (a
    /// path has a / in it);
    /// rapport plugins test ./my-plugins (every plugin in it)
    Test {
        /// The plugin's name (bundled, or in a folder of this database), its folder, or a
        /// folder of plugins.
        name: String,
    },
}

/// What `users` does.
#[derive(Subcommand, Clone)]
pub enum UserAction {
    /// Add a user and print its token (shown once: keep it).
    Add {
        /// The name entries will record as their user.
        name: String,
        /// What the user may do.
        #[arg(long, value_parser = ["read", "log", "full"])]
        role: String,
    },
    /// List the users (revoked ones too).
    List,
    /// Revoke a user's token (the user's entries keep its name).
    Revoke {
        /// The user.
        name: String,
    },
}

/// What the command line means beyond what clap checks: `-c CODE` is `eval CODE`;
/// `--dry-run` is for scripts only.
pub fn settle(cli: &mut Cli) -> Result<(), rapport::error::CliError> {
    let refuse = |problem: &str, fix: &str| {
        rapport::error::CliError::Engine(rapport_engine::Error::invalid(
            "command line",
            "arguments",
            problem.to_string(),
            fix.to_string(),
        ))
    };
    if let Some(code) = cli.code.take() {
        if cli.command.is_some() {
            return Err(refuse(
                "-c runs its code instead of a command, and a command was given too",
                "give either -c CODE or a command",
            ));
        }
        cli.command = Some(Command::Eval {
            code,
            limits: ScriptLimits::default(),
            name: None,
        });
    }
    if let Some((name, code)) = history_script(cli).map_err(|(p, f)| refuse(&p, f))? {
        // Several operations undone in a dry run: the run itself is the dry run.
        let several = matches!(&cli.command, Some(Command::Undo { nos }) if nos.len() > 1);
        cli.command = Some(Command::Eval {
            code,
            limits: ScriptLimits::default(),
            name: Some(name),
        });
        cli.dry_run = cli.dry_run && several;
    }
    let script = matches!(
        cli.command,
        Some(Command::Run { .. } | Command::Eval { .. })
    );
    if cli.dry_run && !script {
        return Err(refuse(
            "--dry-run is for scripts: run, eval and -c",
            "leave it out, or run the change as a script with --dry-run",
        ));
    }
    if (!cli.args.is_empty() || !cli.argjson.is_empty()) && !script {
        return Err(refuse(
            "--arg and --argjson give variables to scripts: run, eval and -c",
            "leave them out, or give them with a script",
        ));
    }
    Ok(())
}

/// What `rapport history` says when it shows only the newest.
const MORE: &str = "(more: --limit N shows N, --limit 0 all)";

/// The most rows `--limit` lets `rapport history` show (0: all).
fn cap(limit: u64) -> i64 {
    if limit == 0 {
        i64::MAX
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

/// A text as a script's string literal.
fn literal(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The script `history`, `undo` and `erase` run (locally or through a server), with the name
/// the run goes by; `None` for other commands.
fn history_script(cli: &Cli) -> Result<Option<(String, String)>, (String, &'static str)> {
    let (name, code) = match &cli.command {
        Some(Command::History { no: Some(no), .. }) => (
            format!("history {no}"),
            format!(
                "let o = operation({no});\n\
                 let undone = if o.undone_by > 0 {{ `; undone by operation ${{o.undone_by}}` }} else {{ \"\" }};\n\
                 print(`operation ${{o.no}}: ${{o.date}} ${{o.time}} by ${{o.user}} (${{o.kind}}: ${{o.what}}): ${{o.changes}}${{undone}}`);\n\
                 o.records.map(|r| #{{record: r.record, change: r.change, fields: r.fields}})"
            ),
        ),
        Some(Command::History {
            record: Some(record),
            user,
            kind,
            since,
            limit,
            ..
        }) => {
            let mut keep = Vec::new();
            if let Some(user) = user {
                keep.push(format!(
                    "r.user.to_upper() == {}",
                    literal(&user.to_uppercase())
                ));
            }
            if let Some(kind) = kind {
                keep.push(format!("r.kind == {}", literal(kind)));
            }
            if let Some(since) = since {
                keep.push(format!("r.date >= date(\"{since}\")"));
            }
            let keep = if keep.is_empty() {
                "true".to_string()
            } else {
                keep.join(" && ")
            };
            (
                "history".to_string(),
                format!(
                    "let rows = [];\n\
                     let more = false;\n\
                     for r in history_of({record}) {{\n\
                         if !({keep}) {{ continue; }}\n\
                         if rows.len() >= {cap} {{ more = true; break; }}\n\
                         rows.push(#{{no: r.no, date: r.date, time: r.time, user: r.user, record: r.record, change: r.change, fields: r.fields, kind: r.kind, what: r.what, undone_by: r.undone_by}});\n\
                     }}\n\
                     if more {{ print(\"{MORE}\"); }}\n\
                     rows",
                    record = literal(record),
                    cap = cap(*limit),
                ),
            )
        }
        Some(Command::History {
            user,
            kind,
            since,
            limit,
            ..
        }) => {
            let mut steps = Vec::new();
            if let Some(user) = user {
                steps.push(format!(
                    ".where(|o| o.user.to_upper() == {})",
                    literal(&user.to_uppercase())
                ));
            }
            if let Some(kind) = kind {
                steps.push(format!(".filter(#{{kind: {}}})", literal(kind)));
            }
            if let Some(since) = since {
                steps.push(format!(".where(|o| o.date >= date(\"{since}\"))"));
            }
            let query = format!("history(){}", steps.concat());
            (
                "history".to_string(),
                format!(
                    "let rows = [];\n\
                     let more = false;\n\
                     for o in {query}.order_by(\"no\", \"desc\"){fetch}.list() {{\n\
                         if rows.len() >= {cap} {{ more = true; break; }}\n\
                         rows.push(#{{no: o.no, date: o.date, time: o.time, user: o.user, kind: o.kind, what: o.what, changes: o.changes, undone_by: o.undone_by}});\n\
                     }}\n\
                     if more {{ print(\"{MORE}\"); }}\n\
                     rows",
                    cap = cap(*limit),
                    // One more than shown: whether there are more.
                    fetch = if *limit == 0 {
                        String::new()
                    } else {
                        format!(".limit({})", limit + 1)
                    },
                ),
            )
        }
        Some(Command::Undo { nos }) => {
            let list = nos
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (name, options, said) = if cli.dry_run {
                (
                    format!("rapport undo {list} --dry-run"),
                    "#{dry_run: true}",
                    "dry run: undoing operation(s) {list} would change ${n} record(s); nothing was changed",
                )
            } else {
                (
                    format!("rapport undo {list}"),
                    "#{}",
                    "undid operation(s) {list}: ${n} record(s) put back (rapport history shows the new operation)",
                )
            };
            // A dry run of several undoes them for real inside one dry run, so the second sees
            // the first undone; undo's own dry run is for one.
            let said = said.replace("{list}", &list);
            let code = if cli.dry_run && nos.len() > 1 {
                format!(
                    "let rows = [];\n\
                     for no in [{list}] {{ for c in undo(no).records {{ rows.push(#{{operation: no, record: c.record, change: c.change, fields: c.fields}}); }} }}\n\
                     let n = rows.len();\n\
                     print(`{said}`);\n\
                     rows"
                )
            } else {
                format!(
                    "let rows = [];\n\
                     for no in [{list}] {{ for c in undo(no, {options}).records {{ rows.push(#{{operation: no, record: c.record, change: c.change, fields: c.fields}}); }} }}\n\
                     let n = rows.len();\n\
                     print(`{said}`);\n\
                     rows"
                )
            };
            (name, code)
        }
        Some(Command::Erase { contact, yes }) => {
            if cli.dry_run {
                return Err((
                    "erase has no dry run".to_string(),
                    "rapport history --record CONTACT shows what an erasure would take",
                ));
            }
            if !yes {
                return Err((
                    format!("erasing contact {contact} cannot be undone, and --yes was not given"),
                    "add --yes to erase it for good (rapport history --record CONTACT shows what would go)",
                ));
            }
            (
                "rapport erase".to_string(),
                format!("erase_contact({})", literal(contact)),
            )
        }
        _ => return Ok(None),
    };
    Ok(Some((name, code)))
}
