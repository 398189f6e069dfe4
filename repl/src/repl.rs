//! The REPL: one line (or one multi-line block) at a time, each its own transaction, with
//! variables kept between lines. Ctrl-C cancels the running script (not the REPL), Ctrl-D exits.
//! When stdin is not a terminal it reads plain lines with the same continuation rules.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::complete::Completion;
use rapport::api::{FieldInfo, InfoReply, RunRequest, SessionReply};
use rapport::client::{Client, ClientError};
use rapport::output::{self, Format};
use rapport_engine::Database;
use rapport_engine::model::{FieldRecord, Role};
use rapport_script::docs::{FUNCTIONS, lookup};
use rapport_script::query::{SOURCES, Source};
use rapport_script::{RunOptions, ScriptHost, Variables};
use rustyline::completion::FilenameCompleter;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::HistoryHinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper, Hinter};

const COMMANDS: &[(&str, &str)] = &[
    (
        ":help",
        "this list; :help NAME shows a function's signature and what it does, or a declared field",
    ),
    (":load FILE", "run a script file in this session"),
    (
        ":reload",
        "load the plugins again (after changing one, or enabling or disabling one)",
    ),
    (
        ":backup FILE",
        "copy the database as it is now into a new file (restore: open that file)",
    ),
    (
        ":tables",
        "the kinds of record, with how many there are of each",
    ),
    (
        ":fields KIND",
        "a kind's fields: built-in (type, whether indexed) and declared",
    ),
    (
        ":output [FILE]",
        "results go into a new FILE from now on (alone: to the terminal again)",
    ),
    (":time [on|off]", "time each input (alone: switch)"),
    (
        ":format [table|vertical|json|csv]",
        "how results print from now on (alone: say which)",
    ),
    (":quit", "leave (Ctrl-D too)"),
];

/// Whether `input` is a complete piece of code: every bracket closed, no string left open.
pub fn is_complete(input: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = input.chars().peekable();
    let mut in_string: Option<char> = None;
    while let Some(c) = chars.next() {
        match in_string {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    in_string = None;
                }
            }
            None => match c {
                '"' | '`' => in_string = Some(c),
                '\'' => {
                    // a character literal: 'x' or '\n'
                    if chars.next() == Some('\\') {
                        chars.next();
                    }
                    chars.next();
                }
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    depth <= 0 && in_string.is_none()
}

/// Completion, highlighting and multi-line validation for rustyline.
#[derive(Helper, Hinter)]
struct ReplHelper {
    completion: Completion,
    files: FilenameCompleter,
    /// Hints from history (fish's way): the rest of the latest earlier line that starts with
    /// what is typed, shown greyed; → takes it.
    #[rustyline(Hinter)]
    hints: HistoryHinter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        match self.completion.candidates(line, pos) {
            Some((start, words)) => Ok((
                start,
                words
                    .into_iter()
                    .map(|w| Pair {
                        display: w.clone(),
                        replacement: w,
                    })
                    .collect(),
            )),
            // A file name (after :load and :output).
            None => self.files.complete(line, pos, ctx),
        }
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned(highlighted(line))
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

/// A line with colours: a command in cyan; strings green, numbers yellow, keywords bold blue,
/// a `//` comment grey.
fn highlighted(line: &str) -> String {
    const STRING: &str = "\x1b[32m";
    const NUMBER: &str = "\x1b[33m";
    const KEYWORD: &str = "\x1b[1;34m";
    const COMMENT: &str = "\x1b[90m";
    const RESET: &str = "\x1b[0m";
    if line.starts_with(':') {
        return format!("\x1b[36m{line}{RESET}");
    }
    let mut out = String::with_capacity(line.len() + 32);
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '`' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.push_str(STRING);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            out.push_str(COMMENT);
            out.extend(&chars[i..]);
            out.push_str(RESET);
            break;
        } else if c.is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
        {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || chars[j] == '.' || chars[j] == '_')
            {
                j += 1;
            }
            out.push_str(NUMBER);
            out.extend(&chars[i..j]);
            out.push_str(RESET);
            i = j;
        } else if c.is_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if crate::complete::KEYWORDS.contains(&word.as_str()) {
                out.push_str(KEYWORD);
                out.push_str(&word);
                out.push_str(RESET);
            } else {
                out.push_str(&word);
            }
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        Ok(
            if input.trim_start().starts_with(':') || is_complete(input) {
                ValidationResult::Valid(None)
            } else {
                ValidationResult::Incomplete
            },
        )
    }
}

/// Where the REPL's lines run: on the file, with a host and variables of its own; or in a
/// session of a `rapport serve`, which keeps the variables.
enum Where<'a> {
    Local {
        db: &'a Database,
        host: Box<ScriptHost>,
        variables: Variables,
    },
    Remote {
        client: Client,
        session: String,
        cancel: Arc<AtomicBool>,
    },
}

/// The REPL's state.
pub struct Repl<'a> {
    at: Where<'a>,
    timing: bool,
    format: Format,
    /// Whether an input failed (piped input then ends with a failure status).
    failed: bool,
    /// No greeting (`--quiet`).
    quiet: bool,
    /// Where results go instead of standard output (`:output FILE`).
    output: Option<(PathBuf, std::fs::File)>,
    /// Through a server: its enabled plugins' functions, asked once (`:reload` asks again).
    remote_functions: std::cell::RefCell<Option<Vec<(String, String)>>>,
}

fn history_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    let dir = base.join("rapport");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

impl<'a> Repl<'a> {
    /// A REPL on `db`.
    pub fn new(db: &'a Database, host: ScriptHost, format: Format) -> Self {
        Self {
            at: Where::Local {
                db,
                host: Box::new(host),
                variables: Variables::new(),
            },
            timing: false,
            format,
            failed: false,
            quiet: false,
            output: None,
            remote_functions: std::cell::RefCell::new(None),
        }
    }

    /// Without a greeting (`--quiet`).
    #[must_use]
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// A REPL in a new session of the server `client` talks to.
    pub fn remote(client: Client, format: Format) -> Result<Self, ClientError> {
        let session: SessionReply = client.post("/sessions", &serde_json::json!({}))?;
        Ok(Self {
            at: Where::Remote {
                client,
                session: session.session,
                cancel: Arc::new(AtomicBool::new(false)),
            },
            timing: false,
            format,
            failed: false,
            quiet: false,
            output: None,
            remote_functions: std::cell::RefCell::new(None),
        })
    }

    fn info(&self) -> Option<InfoReply> {
        match &self.at {
            Where::Local { db, .. } => crate::shared::info(db, &db.context().user, Role::Full).ok(),
            Where::Remote { client, .. } => client.get("/info").ok(),
        }
    }

    /// The functions the enabled plugins add (`name::function(a, b)`), with their doc lines
    /// (none through a server).
    fn plugin_functions(&self) -> Vec<(String, String)> {
        match &self.at {
            Where::Local { host, .. } => host.plugin_functions(),
            Where::Remote { client, .. } => {
                let mut cache = self.remote_functions.borrow_mut();
                cache
                    .get_or_insert_with(|| {
                        let list: serde_json::Value = client.get("/plugins").unwrap_or_default();
                        list["plugins"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|p| p["enabled"] == true)
                            .filter_map(|p| p["functions"].as_str())
                            .flat_map(|f| f.split("; ").filter(|f| !f.is_empty()))
                            .map(|f| (f.to_string(), String::new()))
                            .collect()
                    })
                    .clone()
            }
        }
    }

    /// What Tab offers now: the language's functions and methods, the fields, this session's
    /// variables, the commands and the codes by kind.
    fn completion(&self) -> Completion {
        let is_method = |signature: &str| {
            signature
                .split('(')
                .next()
                .is_some_and(|head| head.contains('.'))
        };
        let info = self.info();
        let plugin_functions = self.plugin_functions();
        Completion {
            functions: FUNCTIONS
                .iter()
                .filter(|f| !is_method(f.signature))
                .map(|f| f.name.to_string())
                .chain(
                    plugin_functions
                        .iter()
                        .map(|(sig, _)| sig.split('(').next().unwrap_or(sig).to_string()),
                )
                .collect(),
            methods: FUNCTIONS
                .iter()
                .filter(|f| is_method(f.signature))
                .map(|f| f.name.to_string())
                .collect(),
            fields: self.field_names(),
            variables: match &self.at {
                Where::Local { variables, .. } => variables.names(),
                Where::Remote { .. } => Vec::new(),
            },
            commands: COMMANDS
                .iter()
                .map(|(c, _)| c.split(' ').next().unwrap_or(c).to_string())
                .collect(),
            codes: info.map(|i| i.codes_by_kind).unwrap_or_default(),
        }
    }

    /// The declared custom fields (the REPL's help and completion show them).
    fn declared_fields(&self) -> Vec<FieldInfo> {
        self.info().map(|i| i.fields).unwrap_or_default()
    }

    /// The field names completion offers after a `.`: every built-in and declared field.
    fn field_names(&self) -> Vec<String> {
        FieldRecord::ALL
            .iter()
            .flat_map(|r| r.built_in().iter().map(ToString::to_string))
            .chain(self.declared_fields().into_iter().map(|d| d.name))
            .collect()
    }

    fn greeting(&self) -> String {
        let info = self.info();
        let empty = info.as_ref().is_some_and(|i| i.empty);
        let server = match (&self.at, &info) {
            (Where::Remote { client, .. }, Some(i)) => {
                format!(
                    " (through {} as {}, role {})",
                    client.base(),
                    i.user,
                    i.role
                )
            }
            _ => String::new(),
        };
        if empty {
            format!(
                "rapport{server}: this database is empty; `rapport demo` (in the shell) loads the demo company. :help lists the functions, Ctrl-D leaves."
            )
        } else {
            format!("rapport{server}: type :help for the functions, Ctrl-D to leave.")
        }
    }

    /// Copies the database into a new file: here, or from the server.
    fn backup(&self, path: &str) -> Result<String, String> {
        match &self.at {
            Where::Local { db, .. } => db
                .backup(path)
                .map(|records| format!("backed up {records} records to {path}"))
                .map_err(|e| e.to_string()),
            Where::Remote { client, .. } => crate::shared::download_backup(client, Path::new(path))
                .map(|bytes| format!("backed up the server's database to {path} ({bytes} bytes)"))
                .map_err(|e| e.to_string()),
        }
    }

    /// The flag Ctrl-C sets while a line runs.
    fn cancel_flag(&self) -> Arc<AtomicBool> {
        match &self.at {
            Where::Local { host, .. } => host.cancel_flag(),
            Where::Remote { cancel, .. } => cancel.clone(),
        }
    }

    /// Handles one input; returns false to leave.
    pub fn handle(&mut self, input: &str, out: &mut dyn Write) -> bool {
        let trimmed = input.trim();
        // Results (listings) on `out`; notes and errors beside them, on stderr when results
        // are JSON or CSV (standard output is then the results alone).
        let aside = output::prints_aside(self.format);
        let out = std::cell::RefCell::new(out);
        let say = |text: &str| {
            let _ = writeln!(out.borrow_mut(), "{text}");
        };
        let note = |text: &str| {
            if aside {
                eprintln!("{text}");
            } else {
                let _ = writeln!(out.borrow_mut(), "{text}");
            }
        };
        match trimmed.split_whitespace().next() {
            None => return true,
            Some(":quit" | ":q" | ":exit") => return false,
            Some(":help") => {
                let declared = self.declared_fields();
                let field_line = |d: &FieldInfo| {
                    let name = format!("{}.{}", d.record, d.name);
                    format!("{name:<34} {} field. {}", d.field_type, d.description)
                        .trim_end()
                        .to_string()
                };
                if let Some(name) = trimmed.split_whitespace().nth(1) {
                    let fields: Vec<&FieldInfo> =
                        declared.iter().filter(|d| d.name == name).collect();
                    let plugin = self
                        .plugin_functions()
                        .into_iter()
                        // A function (`retention::purge_older_than`), or all of a plugin's
                        // (`retention`).
                        .filter(|(sig, _)| {
                            sig.split('(').next() == Some(name)
                                || sig.starts_with(&format!("{name}::"))
                        })
                        .collect::<Vec<_>>();
                    match lookup(name) {
                        Some(doc) => say(&format!("{}\n  {}", doc.signature, doc.summary)),
                        None if !plugin.is_empty() => {
                            for (sig, doc) in plugin {
                                say(format!("{sig}\n  {doc}").trim_end());
                            }
                        }
                        None if !fields.is_empty() => {
                            for d in fields {
                                say(&field_line(d));
                            }
                        }
                        None => say(&format!(
                            "no function or declared field {name}; :help lists them"
                        )),
                    }
                } else {
                    for (cmd, what) in COMMANDS {
                        say(&format!("{cmd:<12} {what}"));
                    }
                    say("");
                    for f in FUNCTIONS {
                        say(&format!("{:<34} {}", f.name, f.summary));
                    }
                    let plugin = self.plugin_functions();
                    if !plugin.is_empty() {
                        say("\nfunctions of enabled plugins (:help NAME::FUNCTION for one):");
                        for (sig, doc) in plugin {
                            say(format!("{sig:<34} {doc}").trim_end());
                        }
                    }
                    if !declared.is_empty() {
                        say("\ndeclared fields (field_define adds one, fields() lists them):");
                        for d in &declared {
                            say(&field_line(d));
                        }
                    }
                }
                return true;
            }
            Some(":time") => {
                match trimmed.split_whitespace().nth(1) {
                    None => self.timing = !self.timing,
                    Some("on") => self.timing = true,
                    Some("off") => self.timing = false,
                    Some(other) => {
                        self.failed = true;
                        note(&format!("error: :time takes on or off, not {other}"));
                        return true;
                    }
                }
                note(if self.timing {
                    "timing on"
                } else {
                    "timing off"
                });
                return true;
            }
            Some(":tables") => {
                // One run, as any input: each kind with its query function and its count.
                let kinds: Vec<String> = SOURCES
                    .iter()
                    .map(|s| format!("#{{name: \"{0}\", records: {0}().count()}}", s.name()))
                    .collect();
                self.run(
                    ":tables",
                    &format!("[{}]", kinds.join(", ")),
                    &mut **out.borrow_mut(),
                );
                return true;
            }
            Some(":fields") => {
                let word = trimmed.split_whitespace().nth(1).unwrap_or_default();
                let Some(source) = Source::named(word) else {
                    self.failed = true;
                    let names = SOURCES.iter().map(|s| s.name());
                    let hint = rapport_engine::ops::closest(word, names)
                        .map(|n| format!("did you mean {n}? "))
                        .unwrap_or_default();
                    note(&format!(
                        "error: :fields takes a kind of record, e.g. :fields contacts; {hint}:tables lists them"
                    ));
                    return true;
                };
                let record = source.custom_record().map(|r| r.to_string());
                let built_in = source.field_docs().into_iter().map(|f| {
                    serde_json::json!({"field": f.name, "type": f.field_type, "from": "built-in",
                        "indexed": f.indexed, "description": ""})
                });
                let declared = self
                    .declared_fields()
                    .into_iter()
                    .filter(|d| record.as_deref() == Some(d.record.as_str()))
                    .map(|d| {
                        serde_json::json!({"field": d.name, "type": d.field_type, "from": "declared",
                            "indexed": false, "description": d.description})
                    });
                let rows: Vec<serde_json::Value> = built_in.chain(declared).collect();
                if aside {
                    say(&output::render_json(
                        serde_json::Value::Array(rows),
                        self.format,
                    ));
                    return true;
                }
                say(&format!(
                    "{:<30} {:<7} {:<9} {:<7} description",
                    "field", "type", "from", "indexed"
                ));
                for r in &rows {
                    let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                    let indexed = if r["indexed"] == true { "yes" } else { "" };
                    say(format!(
                        "{:<30} {:<7} {:<9} {:<7} {}",
                        text("field"),
                        text("type"),
                        text("from"),
                        indexed,
                        text("description")
                    )
                    .trim_end());
                }
                return true;
            }
            Some(":output") => {
                let path = trimmed.split_once(' ').map(|(_, p)| p.trim());
                match path {
                    None => {
                        output::fit_to_terminal(true);
                        if let Some((file, _)) = self.output.take() {
                            note(&format!(
                                "results go to the terminal again ({} is complete)",
                                file.display()
                            ));
                        } else {
                            note("results go to the terminal");
                        }
                    }
                    Some(path) => match std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)
                    {
                        Ok(file) => {
                            if let Some((before, _)) = self.output.take() {
                                note(&format!("{} is complete", before.display()));
                            }
                            note(&format!("results go into {path} until :output"));
                            // A file gets whole tables, whatever the terminal's width.
                            output::fit_to_terminal(false);
                            self.output = Some((PathBuf::from(path), file));
                        }
                        Err(e) => {
                            self.failed = true;
                            note(&format!(
                                "error: {path} cannot be made: {e}; give a new file (an existing one is never overwritten)"
                            ));
                        }
                    },
                }
                return true;
            }
            Some(":format") => {
                let word = trimmed.split_whitespace().nth(1);
                match word.map(|w| {
                    // `vertical` is a table whose every record is a block of lines.
                    let table = if w.eq_ignore_ascii_case("vertical") {
                        "table"
                    } else {
                        w
                    };
                    (w, <Format as clap::ValueEnum>::from_str(table, true))
                }) {
                    None => {}
                    Some((w, Ok(format))) => {
                        self.format = format;
                        output::set_vertical(w.eq_ignore_ascii_case("vertical"));
                    }
                    Some((w, Err(_))) => {
                        self.failed = true;
                        note(&format!(
                            "error: :format takes table, vertical, json or csv, not {w}"
                        ));
                        return true;
                    }
                }
                let name = match self.format {
                    Format::Table if output::is_vertical() => {
                        "vertical (each record a block of lines)"
                    }
                    Format::Table => "table",
                    Format::Json => "json",
                    Format::Csv => "csv",
                };
                note(&format!("results print as {name}"));
                return true;
            }
            Some(":load") => {
                let Some(path) = trimmed.split_once(' ').map(|(_, p)| p.trim()) else {
                    self.failed = true;
                    note("error: :load needs a file, e.g. :load scripts/campaign.rhai");
                    return true;
                };
                match std::fs::read_to_string(path) {
                    Ok(source) => self.run(path, &source, &mut **out.borrow_mut()),
                    Err(e) => {
                        self.failed = true;
                        note(&format!("error: {path} cannot be read: {e}"));
                    }
                }
                return true;
            }
            Some(":reload") => {
                match &mut self.at {
                    Where::Local { db, host, .. } => match crate::shared::load_plugins(db, host) {
                        Ok(report) => {
                            crate::shared::warn_plugins(&report);
                            let enabled: Vec<_> = report
                                .plugins
                                .iter()
                                .filter(|p| p.enabled)
                                .map(|p| p.manifest.name.as_str())
                                .collect();
                            let broken: Vec<_> =
                                report.broken.iter().map(|b| b.name.as_str()).collect();
                            let not_loaded = if broken.is_empty() {
                                String::new()
                            } else {
                                format!("; enabled but not loaded: {}", broken.join(", "))
                            };
                            note(&format!(
                                "plugins loaded again; enabled: {}{not_loaded}",
                                if enabled.is_empty() {
                                    "none".to_string()
                                } else {
                                    enabled.join(", ")
                                }
                            ));
                        }
                        Err(e) => {
                            self.failed = true;
                            note(&format!("error: {e}"));
                        }
                    },
                    Where::Remote { .. } => {
                        self.remote_functions.borrow_mut().take();
                        note(
                            "the server loads the plugins for every request; their functions are asked for again",
                        );
                    }
                }
                return true;
            }
            Some(":backup") => {
                let Some(path) = trimmed.split_once(' ').map(|(_, p)| p.trim()) else {
                    self.failed = true;
                    note("error: :backup needs a new file, e.g. :backup backup-2026-11-29.redb");
                    return true;
                };
                match self.backup(path) {
                    Ok(done) => note(&done),
                    Err(e) => {
                        self.failed = true;
                        note(&format!("error: {e}"));
                    }
                }
                return true;
            }
            Some(cmd) if cmd.starts_with(':') => {
                self.failed = true;
                note(&format!("error: no command {cmd}; :help lists them"));
                return true;
            }
            Some(_) => {}
        }
        self.run("repl", input, &mut **out.borrow_mut());
        true
    }

    fn run(&mut self, name: &str, source: &str, out: &mut dyn Write) {
        let started = Instant::now();
        let mut failed = true;
        let text = match &mut self.at {
            Where::Local {
                db,
                host,
                variables,
            } => {
                // A query's results stream to standard output (or the :output file) as they
                // come; Ctrl-C stops them.
                let _ = out.flush();
                let streamer = match self.output.as_ref().map(|(_, f)| f.try_clone()) {
                    Some(Ok(file)) => output::stream_to(host, self.format, Box::new(file)),
                    Some(Err(e)) => {
                        self.failed = true;
                        let _ = writeln!(out, "error: the :output file cannot be written: {e}");
                        return;
                    }
                    None => {
                        let streamer = output::stream_to_stdout(host, self.format);
                        if let Some(height) = pager_height(self.format) {
                            streamer
                                .borrow_mut()
                                .page_with(height, Box::new(ask_for_more));
                        }
                        streamer
                    }
                };
                let ran = host.run_with(db, name, source, variables, RunOptions::default());
                let shown = streamer.borrow_mut().finish(output::End::of(&ran));
                match (ran, shown) {
                    (Ok(result), Ok(())) if result.streamed.is_some() => {
                        failed = false;
                        output::printed_lines(&result.printed, self.format).join("\n")
                    }
                    (Ok(result), Ok(())) => {
                        failed = false;
                        output::outcome(&result, self.format)
                    }
                    (Ok(_), Err(e)) => format!("error: {e}"),
                    (Err(e), _) => output::failure(&e, source),
                }
            }
            Where::Remote {
                client,
                session,
                cancel,
            } => {
                let request = RunRequest {
                    source: source.to_string(),
                    name: Some(name.to_string()),
                    session: Some(session.clone()),
                    ..RunRequest::default()
                };
                match client.run(&request, Some(cancel)) {
                    Ok(reply) => {
                        failed = false;
                        output::reply_outcome(&reply, self.format)
                    }
                    Err(ClientError::Api(e)) if e.kind == "gone" => {
                        // The server ended an idle session: go on in a new one.
                        let renewed: Result<SessionReply, _> =
                            client.post("/sessions", &serde_json::json!({}));
                        match renewed {
                            Ok(r) => {
                                *session = r.session;
                                format!(
                                    "error: {e}\na new session is open (variables of the old one are gone): run the line again"
                                )
                            }
                            Err(e2) => format!("error: {e}; a new session cannot be opened: {e2}"),
                        }
                    }
                    Err(ClientError::Api(e)) => output::remote_failure(&e, source),
                    Err(e) => format!("error: {e}"),
                }
            }
        };
        self.failed |= failed;
        let aside = output::prints_aside(self.format);
        if !text.is_empty() {
            // Results into the :output file; errors stay in front of the user (on stderr when
            // results are JSON or CSV).
            match &mut self.output {
                Some((path, file)) if !failed => {
                    if let Err(e) = writeln!(file, "{text}") {
                        self.failed = true;
                        eprintln!("error: {} cannot be written: {e}", path.display());
                    }
                }
                _ if failed && aside => eprintln!("{text}"),
                _ => {
                    let _ = writeln!(out, "{text}");
                }
            }
        }
        if self.timing {
            let took = format!("({:.3} s)", started.elapsed().as_secs_f64());
            if aside {
                eprintln!("{took}");
            } else {
                let _ = writeln!(out, "{took}");
            }
        }
    }

    /// Runs the REPL until `:quit` or end of input. Gives whether piped input had an input
    /// that failed (a script reading the REPL's output ends with a failure status then; at a
    /// terminal, a failed input is just shown).
    pub fn run_loop(mut self) -> std::io::Result<bool> {
        let cancel = self.cancel_flag();
        install_ctrl_c(&cancel);
        let stdout = std::io::stdout();
        if !std::io::stdin().is_terminal() {
            // Piped: standard output carries the results alone (the greeting goes to standard
            // error).
            if !self.quiet {
                eprintln!("{}", self.greeting());
            }
            let mut pending = String::new();
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                pending.push_str(&line);
                pending.push('\n');
                if pending.trim_start().starts_with(':') || is_complete(&pending) {
                    let input = std::mem::take(&mut pending);
                    if !self.handle(&input, &mut stdout.lock()) {
                        return Ok(self.failed);
                    }
                }
            }
            if !pending.trim().is_empty() {
                self.handle(&pending, &mut stdout.lock());
            }
            return Ok(self.failed);
        }
        let mut editor: Editor<ReplHelper, DefaultHistory> =
            Editor::new().map_err(std::io::Error::other)?;
        editor.set_helper(Some(ReplHelper {
            completion: self.completion(),
            files: FilenameCompleter::new(),
            hints: HistoryHinter::new(),
        }));
        let history = history_file();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        if !self.quiet {
            println!("{}", self.greeting());
        }
        loop {
            match editor.readline("rapport> ") {
                Ok(input) => {
                    let _ = editor.add_history_entry(input.as_str());
                    // Written at once: a terminal that dies keeps the history.
                    if let Some(h) = &history {
                        let _ = editor.append_history(h);
                    }
                    if !self.handle(&input, &mut stdout.lock()) {
                        break;
                    }
                    // Codes, fields and variables may have changed.
                    let completion = self.completion();
                    if let Some(helper) = editor.helper_mut() {
                        helper.completion = completion;
                    }
                }
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(std::io::Error::other(e)),
            }
        }
        Ok(false)
    }
}

impl Drop for Repl<'_> {
    /// A session on a server ends with the REPL (the server would end it when idle anyway).
    fn drop(&mut self) {
        if let Where::Remote {
            client, session, ..
        } = &self.at
        {
            let _: Result<serde_json::Value, _> = client.delete(&format!("/sessions/{session}"));
        }
    }
}

/// Ctrl-C while a script runs sets its cancel flag: the script stops and changes nothing, and the
/// REPL goes on. (At the prompt, the line editor reads Ctrl-C itself.)
fn install_ctrl_c(cancel: &Arc<AtomicBool>) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::Relaxed));
}

/// The height of the terminal a person reads tables on (standard input and output both a
/// terminal), for the pager; `None` for pipes, files and JSON or CSV.
fn pager_height(format: Format) -> Option<usize> {
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !terminal || format != Format::Table {
        return None;
    }
    // A terminal that does not say its size (0 rows) gets no pager.
    crossterm::terminal::size()
        .ok()
        .map(|(_, rows)| usize::from(rows))
        .filter(|rows| *rows > 0)
}

/// Between screenfuls: says how many records were shown and waits for Enter (more) or `q`
/// (stop, as Ctrl-C).
fn ask_for_more(shown: u64) -> bool {
    let mut stdout = std::io::stdout();
    let rows = if shown == 1 { "row" } else { "rows" };
    let _ = write!(
        stdout,
        "-- {shown} {rows} shown: Enter for more, q and Enter to stop --"
    );
    let _ = stdout.flush();
    let mut answer = String::new();
    match std::io::stdin().read_line(&mut answer) {
        Ok(0) | Err(_) => false,
        Ok(_) => !answer.trim().eq_ignore_ascii_case("q"),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Completion, FilenameCompleter, HistoryHinter, ReplHelper, highlighted, is_complete,
    };

    #[test]
    fn a_hint_is_the_rest_of_the_latest_earlier_line_that_starts_with_what_is_typed() {
        use rustyline::hint::Hinter;
        use rustyline::history::{DefaultHistory, History};
        let mut history = DefaultHistory::new();
        history.add("contacts().count()").unwrap();
        history.add("contacts().list()").unwrap();
        let ctx = rustyline::Context::new(&history);
        let helper = ReplHelper {
            completion: Completion::default(),
            files: FilenameCompleter::new(),
            hints: HistoryHinter::new(),
        };
        assert_eq!(
            helper.hint("contacts().", 11, &ctx).as_deref(),
            Some("list()")
        );
        assert_eq!(
            helper.hint("contacts().c", 12, &ctx).as_deref(),
            Some("ount()")
        );
        assert_eq!(helper.hint("zz", 2, &ctx), None);
    }

    #[test]
    fn highlighting_colours_keywords_numbers_strings_and_comments() {
        let line = highlighted(r#"let n2 = 42; print("let 7") // done"#);
        assert!(line.starts_with("\x1b[1;34mlet\x1b[0m n2 = "), "{line:?}");
        assert!(line.contains("\x1b[33m42\x1b[0m"), "{line:?}");
        assert!(
            line.contains("\x1b[32m\"let 7\"\x1b[0m"),
            "inside a string nothing else: {line:?}"
        );
        assert!(line.ends_with("\x1b[90m// done\x1b[0m"), "{line:?}");
        assert!(
            !line.contains("\x1b[33m2"),
            "a digit inside a name is not a number: {line:?}"
        );
    }

    #[test]
    fn input_continues_while_a_bracket_or_string_is_open() {
        assert!(is_complete("contacts().count()"));
        assert!(!is_complete("let s = segment_create(#{"));
        assert!(!is_complete("print(\"open"));
        assert!(is_complete("print(\"a ) in a string\")"));
        assert!(is_complete("let x = 1; // a comment with ("));
        assert!(!is_complete("fn f() {\n  1"));
        assert!(is_complete("fn f() {\n  1\n}"));
    }
}
