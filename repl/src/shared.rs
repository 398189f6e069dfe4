//! What the local commands, the same commands through a server (`remote`) and the server
//! itself (`serve`) share: the work of a command on an open database (plugins, a document
//! event, statistics, plugin settings, users) and how its outcome is printed.

use std::path::Path;
use std::process::ExitCode;

use rapport::api::{CheckReply, DocumentReply, FieldInfo, ImportReply, InfoReply, UserReply};
use rapport::client::{Client, new_token};
use rapport::error::CliError;
use rapport::out::Out;
use rapport::output::{self, Format};
use rapport_engine::model::{FieldRecord, Role};
use rapport_engine::ops::{StatKind, Statistics};
use rapport_engine::{Database, Error};
use rapport_script::value::entry_json_with;
use rapport_script::{
    Limits, PluginReport, RunOptions, ScriptError, ScriptHost, Variables, plugin,
};

use crate::cli::{Cli, Command};

/// The bundled plugins and those in the database's plugin folders.
pub(crate) fn load_plugins(db: &Database, host: &mut ScriptHost) -> Result<PluginReport, CliError> {
    let (sources, problems) = plugin_sources(db)?;
    Ok(host.load_plugins_with(db, &sources, problems)?)
}

/// The plugins a database can use: the bundled ones and those in its folders, with the
/// problems met finding them.
pub(crate) fn plugin_sources(
    db: &Database,
) -> Result<(Vec<plugin::PluginSource>, Vec<plugin::PluginProblem>), CliError> {
    let settings = db.read(|v| v.plugin_settings())?;
    let mut sources = plugin::bundled();
    let mut problems = Vec::new();
    for folder in &settings.folders {
        let (found, trouble) = plugin::from_folder(Path::new(folder));
        sources.extend(found);
        problems.extend(trouble);
    }
    Ok((sources, problems))
}

/// The event map `rapport document …` sends.
pub(crate) fn document_event(cli: &Cli) -> serde_json::Map<String, serde_json::Value> {
    let mut event = serde_json::Map::new();
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
    }) = &cli.command
    else {
        return event;
    };
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
    event
}

/// Records a document event through the language (so the plugins' document hooks take part),
/// as `rapport document` and the server's `POST /v1/documents` do.
pub(crate) fn record_document(
    db: &Database,
    host: &ScriptHost,
    event: &serde_json::Value,
) -> Result<DocumentReply, ScriptError> {
    let mut variables = Variables::new();
    variables.set_json("event", event)?;
    let outcome = host
        .run_with(
            db,
            "document",
            "record_document(event)",
            &mut variables,
            RunOptions::default(),
        )?
        .value;
    let entry_no = outcome
        .field("entry_no")
        .and_then(|n| n.as_int())
        .and_then(|n| u64::try_from(n).ok());
    let entry = match entry_no {
        Some(no) => db
            .read(|v| {
                let declared = v.declared_fields(FieldRecord::Entry)?;
                v.entry(no)?
                    .map(|e| entry_json_with(v, &e, &declared))
                    .transpose()
            })
            .map_err(|e| ScriptError::engine("document", &e))?,
        None => None,
    };
    Ok(DocumentReply {
        recorded: entry_no.is_some(),
        entry_no,
        reason: outcome.field("reason").and_then(|r| r.as_text()),
        entry,
    })
}

/// Prints a command's result: in JSON or CSV, `json` alone (standard output is the result, for
/// the program that reads it); in tables, the lines people read (`human`).
pub(crate) fn show_result(
    out: &mut Out,
    format: Format,
    json: &serde_json::Value,
    human: impl FnOnce(&mut Out) -> Result<(), CliError>,
) -> Result<(), CliError> {
    if format == Format::Table {
        human(out)
    } else {
        out.line(output::render_json(json.clone(), format))
    }
}

/// What `rapport document` prints: the entry, or why nothing was recorded. In JSON, the reply
/// (`recorded`, `entry_no`, `reason`, `entry`); in CSV, the entry, or why there is none.
pub(crate) fn show_document(
    out: &mut Out,
    reply: &DocumentReply,
    format: Format,
) -> Result<(), CliError> {
    match format {
        Format::Json => {
            let json = serde_json::to_value(reply).map_err(|e| CliError::Output(e.into()))?;
            return out.line(output::render_json(json, format));
        }
        Format::Csv => {
            let json = reply.entry.clone().unwrap_or_else(|| {
                serde_json::json!({"recorded": false, "reason": reply.reason.clone().unwrap_or_default()})
            });
            return out.line(output::render_json(json, format));
        }
        Format::Table => {}
    }
    match (reply.entry_no, &reply.entry) {
        (Some(no), Some(entry)) => {
            out.line(format!("recorded as interaction log entry {no}"))?;
            out.line(output::render_json(entry.clone(), format))?;
        }
        (Some(no), None) => {
            return Err(Error::not_found("interaction log entry", no.to_string()).into());
        }
        (None, _) => out.line(reply.reason.clone().unwrap_or_default())?,
    }
    Ok(())
}

/// The plugins as `rapport plugins list` shows them.
pub(crate) fn plugin_rows(report: &PluginReport) -> Vec<serde_json::Value> {
    let loaded = report.plugins.iter().map(|p| {
        let functions: Vec<_> = p.functions().into_iter().map(|(f, _)| f).collect();
        serde_json::json!({
            "name": p.manifest.name,
            "version": p.manifest.version,
            "enabled": p.enabled,
            "hooks": p.manifest.hooks.join(", "),
            "functions": functions.join("; "),
            "capabilities": p.capabilities(),
            "from": p.origin,
            "description": p.manifest.description,
        })
    });
    let broken = report.broken.iter().map(|b| {
        serde_json::json!({
            "name": b.name,
            "version": "",
            "enabled": true,
            "hooks": b.hooks.as_ref().map_or_else(|| "(unknown: all)".to_string(), |h| h.join(", ")),
            "functions": "",
            "capabilities": "",
            "from": "",
            "description": format!("NOT LOADED, so what its hooks guard is stopped: {}", b.reason),
        })
    });
    loaded.chain(broken).collect()
}

/// The order `plugins show` lists a plugin's fields in (others after them).
const PLUGIN_FIELD_ORDER: &[&str] = &[
    "name",
    "version",
    "enabled",
    "loaded",
    "problem",
    "description",
    "hooks",
    "functions",
    "capabilities",
    "stops",
    "from",
    "file",
];

/// Shows one plugin (`plugins show`): in JSON or CSV as its record; in a table as lines of
/// `field  value`, a list one item a line, each function with its doc line under it.
pub(crate) fn show_plugin(
    out: &mut Out,
    format: Format,
    detail: &serde_json::Value,
) -> Result<(), CliError> {
    if format != Format::Table {
        return out.line(output::render_json(detail.clone(), format));
    }
    let Some(fields) = detail.as_object() else {
        return Ok(());
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rank = |k: &str| {
        PLUGIN_FIELD_ORDER
            .iter()
            .position(|o| *o == k)
            .unwrap_or(PLUGIN_FIELD_ORDER.len())
    };
    let mut ordered: Vec<_> = fields.iter().collect();
    ordered.sort_by_key(|(k, _)| rank(k));
    for (key, value) in ordered {
        let mut lines: Vec<String> = match value {
            serde_json::Value::Array(items) if items.is_empty() => vec!["none".into()],
            serde_json::Value::Array(items) => items
                .iter()
                .flat_map(|item| match item.get("function") {
                    Some(f) => {
                        let doc = item.get("doc").map(text).unwrap_or_default();
                        let mut pair = vec![text(f)];
                        if !doc.is_empty() {
                            pair.push(format!("  {doc}"));
                        }
                        pair
                    }
                    None => vec![text(item)],
                })
                .collect(),
            other => vec![text(other)],
        };
        let first = lines.remove(0);
        out.line(format!("{key:<13} {first}"))?;
        for line in lines {
            out.line(format!("{:<13} {line}", ""))?;
        }
    }
    Ok(())
}

/// `plugins show NAME`: one plugin in full, or `None` when there is none of that name.
pub(crate) fn plugin_detail(report: &PluginReport, name: &str) -> Option<serde_json::Value> {
    if let Some(p) = report.plugins.iter().find(|p| p.manifest.name == name) {
        let functions: Vec<_> = p
            .functions()
            .into_iter()
            .map(|(function, doc)| serde_json::json!({"function": function, "doc": doc}))
            .collect();
        return Some(serde_json::json!({
            "name": p.manifest.name,
            "version": p.manifest.version,
            "enabled": p.enabled,
            "loaded": true,
            "description": p.manifest.description,
            "hooks": p.manifest.hooks,
            "functions": functions,
            "capabilities": p.capabilities(),
            "from": p.origin,
            "file": p.file,
        }));
    }
    report.broken.iter().find(|b| b.name == name).map(|b| {
        serde_json::json!({
            "name": b.name,
            "enabled": true,
            "loaded": false,
            "problem": b.reason,
            "hooks": b.hooks.as_ref().map_or_else(|| serde_json::json!("(unknown: all)"), |h| serde_json::json!(h)),
            "stops": "every operation its hooks would run in, until it is mended or disabled",
        })
    })
}

/// Says, on stderr, which plugins did not load, and which enabled ones therefore stop what
/// they guard.
pub(crate) fn warn_plugins(report: &rapport_script::PluginReport) {
    for problem in &report.problems {
        if !report.broken.iter().any(|b| problem.is_about(&b.name)) {
            eprintln!("warning: {problem}; it is left out");
        }
    }
    for broken in &report.broken {
        eprintln!(
            "warning: plugin {} is enabled but cannot be loaded ({}); operations its hooks guard are stopped until you mend it or run rapport plugins disable {}",
            broken.name, broken.reason, broken.name
        );
    }
}

/// Why the plugin `name` is not among those loaded: the problem met loading it (a manifest or
/// code error, with its file and position), else `none`.
pub(crate) fn why_not_found(problems: &[plugin::PluginProblem], name: &str, none: &str) -> String {
    problems.iter().find(|p| p.is_about(name)).map_or_else(
        || none.to_string(),
        |p| format!("it does not load: {}", p.where_and_why()),
    )
}

/// Enables or disables a plugin for the database; says what it did.
pub(crate) fn plugin_switch(db: &Database, name: &str, enable: bool) -> Result<String, CliError> {
    let name = name.to_string();
    if enable {
        let mut host = ScriptHost::new(Limits::user());
        let report = load_plugins(db, &mut host)?;
        if !report.plugins.iter().any(|p| p.manifest.name == name) {
            return Err(CliError::Plugin {
                reason: why_not_found(&report.problems, &name, "there is no plugin of that name"),
                name,
                fix: "mend it and enable it again (rapport plugins list shows the plugins)",
            });
        }
    }
    // Read and written in one transaction: two changes at once never lose one.
    let changed = db.write(|tx| {
        let mut settings = tx.view().plugin_settings()?;
        let before = settings.enabled.clone();
        if enable {
            if !settings.enabled.contains(&name) {
                settings.enabled.push(name.clone());
            }
        } else {
            settings.enabled.retain(|n| *n != name);
        }
        if settings.enabled != before {
            tx.plugin_settings_set(&settings)?;
        }
        Ok(settings.enabled != before)
    })?;
    match (enable, changed) {
        (true, _) => Ok(format!("enabled {name}")),
        (false, true) => Ok(format!("disabled {name}")),
        (false, false) => Err(CliError::Plugin {
            name,
            reason: "it is not enabled".into(),
            fix: "rapport plugins list shows what is",
        }),
    }
}

/// Statistics as the API gives them (amounts as exact decimal text).
pub(crate) fn stats_json(kind: StatKind, code: &str, s: &Statistics) -> serde_json::Value {
    serde_json::json!({
        "kind": kind.to_string(),
        "code": code.to_uppercase(),
        "count": s.count,
        "cost": s.cost.to_string(),
        "duration": s.duration.to_string(),
        "avg_cost": s.avg_cost,
        "avg_duration": s.avg_duration,
    })
}

/// The statistics of every record of `kind` (`stats KIND --all`), one row each, read from one
/// snapshot.
pub(crate) fn stats_of_all(
    db: &Database,
    kind: StatKind,
    range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<serde_json::Value, Error> {
    db.read(|v| {
        v.statistics_codes(kind)?
            .iter()
            .map(|code| Ok(stats_json(kind, code, &v.statistics(kind, code, range)?)))
            .collect::<Result<Vec<_>, Error>>()
            .map(serde_json::Value::Array)
    })
}

/// What `rapport stats` prints (in JSON or CSV, the statistics as a record).
pub(crate) fn show_stats(
    out: &mut Out,
    s: &serde_json::Value,
    format: Format,
) -> Result<(), CliError> {
    if format != Format::Table {
        return show_result(out, format, s, |_| Ok(()));
    }
    let text = |k: &str| match &s[k] {
        serde_json::Value::String(t) => t.clone(),
        other => other.to_string(),
    };
    let number = |k: &str| s[k].as_f64().unwrap_or_default();
    out.line(format!("{} {}", text("kind"), text("code")))?;
    out.line(format!("count         {}", text("count")))?;
    out.line(format!("cost          {}", text("cost")))?;
    out.line(format!("duration      {}", text("duration")))?;
    out.line(format!("avg_cost      {:.2}", number("avg_cost")))?;
    out.line(format!("avg_duration  {:.2}", number("avg_duration")))?;
    Ok(())
}

/// Adds a user with a new token.
pub(crate) fn user_add(db: &Database, name: &str, role: &str) -> Result<UserReply, CliError> {
    let role: Role = role.parse().map_err(|problem: String| {
        Error::invalid(
            format!("user {name}"),
            "role",
            problem,
            "give read, log or full",
        )
    })?;
    let token = new_token().map_err(CliError::Output)?;
    let user = db.write(|tx| tx.user_add(name, role, &token))?;
    Ok(UserReply::of(&user, Some(token)))
}

/// What `rapport users add` prints (in JSON or CSV, the user with its token).
pub(crate) fn show_new_user(
    out: &mut Out,
    user: &UserReply,
    format: Format,
) -> Result<(), CliError> {
    if format != Format::Table {
        let json = serde_json::to_value(user).map_err(|e| CliError::Output(e.into()))?;
        return show_result(out, format, &json, |_| Ok(()));
    }
    out.line(format!("added user {} (role {})", user.name, user.role))?;
    out.line(format!("token: {}", user.token.clone().unwrap_or_default()))?;
    out.line("the token is shown once and only its hash is stored: keep it; clients send it with --token or RAPPORT_TOKEN")?;
    Ok(())
}

/// What `rapport users list` prints.
pub(crate) fn show_users(
    out: &mut Out,
    users: &[UserReply],
    format: Format,
) -> Result<(), CliError> {
    let rows = serde_json::to_value(users).unwrap_or_default();
    out.line(output::render_json(rows, format))?;
    Ok(())
}

/// What a REPL shows and completes, and who works: the codes of templates, groups, salespeople
/// and segments, the declared fields, whether the database is empty (the REPL's greeting).
pub(crate) fn info(db: &Database, user: &str, role: Role) -> Result<InfoReply, Error> {
    db.read(|v| {
        let templates = v.templates()?;
        let empty = templates.is_empty() && v.last_entry_no()? == 0;
        let mut by_kind = std::collections::BTreeMap::new();
        by_kind.insert(
            "template".to_string(),
            templates.into_iter().map(|t| t.code).collect::<Vec<_>>(),
        );
        by_kind.insert(
            "group".to_string(),
            v.groups()?.into_iter().map(|g| g.code).collect(),
        );
        by_kind.insert(
            "salesperson".to_string(),
            v.salespeople()?.into_iter().map(|s| s.code).collect(),
        );
        by_kind.insert(
            "segment".to_string(),
            v.segments()?.into_iter().map(|s| s.no).collect(),
        );
        let mut contacts = Vec::new();
        v.each_contact(&mut |c| {
            contacts.push(c.no.clone());
            Ok(contacts.len() < 5_000)
        })?;
        let codes: Vec<String> = by_kind.values().flatten().cloned().collect();
        by_kind.insert("contact".to_string(), contacts);
        let fields = v
            .all_declared_fields()?
            .into_iter()
            .map(|d| FieldInfo {
                record: d.record.to_string(),
                name: d.name,
                field_type: d.field_type.to_string(),
                description: d.description,
            })
            .collect();
        Ok(InfoReply {
            user: user.to_string(),
            role: role.to_string(),
            codes,
            codes_by_kind: by_kind,
            fields,
            empty,
        })
    })
}

/// The source of the script file `rapport run FILE` names.
pub(crate) fn read_script(file: &Path) -> Result<String, CliError> {
    if file == Path::new("-") {
        let mut source = String::new();
        return std::io::Read::read_to_string(&mut std::io::stdin(), &mut source)
            .map(|_| source)
            .map_err(|source| CliError::Read {
                what: "script",
                path: "standard input".into(),
                source,
                fix: "pipe a Rhai script into rapport run -",
            });
    }
    std::fs::read_to_string(file).map_err(|source| CliError::Read {
        what: "script",
        path: file.display().to_string(),
        source,
        fix: "give the path of a Rhai script",
    })
}

/// What `rapport check` prints: `ok: …`, or every difference (in JSON or CSV, the report); the
/// exit status says which, and a difference is also said on standard error.
pub(crate) fn show_check(
    out: &mut Out,
    format: Format,
    report: &CheckReply,
    place: &str,
) -> Result<ExitCode, CliError> {
    let json = serde_json::to_value(report).map_err(|e| CliError::Output(e.into()))?;
    show_result(out, format, &json, |out| {
        if report.ok {
            out.line(format!(
                "ok: {} entries; indexes, statistics and attachments agree",
                report.entries_checked
            ))?;
        } else {
            report.differences.iter().try_for_each(|d| out.line(d))?;
        }
        out.line(format!("fingerprint: {}", report.fingerprint))
    })?;
    if report.ok {
        return Ok(ExitCode::SUCCESS);
    }
    out.flush()?;
    eprintln!(
        "error: {} difference(s) found in {place}",
        report.differences.len()
    );
    Ok(ExitCode::FAILURE)
}

/// What `rapport import` prints: the fields it declared and how many contacts it imported (in
/// JSON or CSV, the reply).
pub(crate) fn show_import(
    out: &mut Out,
    format: Format,
    reply: &ImportReply,
    declared_shown: bool,
) -> Result<(), CliError> {
    let json = serde_json::to_value(reply).map_err(|e| CliError::Output(e.into()))?;
    show_result(out, format, &json, |out| {
        if !declared_shown {
            for d in &reply.declared {
                out.line(declaring_field(&reply.what, d))?;
            }
        }
        out.line(import_summary(reply))
    })
}

/// `declaring contact field region (text)`: said for each field `--define-fields` declares.
pub(crate) fn declaring_field(what: &str, field: &str) -> String {
    let record = match what {
        "salespeople" => "salesperson",
        "templates" => "template",
        "entries" => "interaction log entry",
        _ => "contact",
    };
    format!("declaring {record} field {field}")
}

/// `imported 3 contacts, updated 2`, or `imported the database: 120 records`.
fn import_summary(reply: &ImportReply) -> String {
    use std::fmt::Write as _;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let word = |n| match reply.what.as_str() {
        "salespeople" => plural(n, "salesperson", "salespeople"),
        "groups" => plural(n, "group", "groups"),
        "templates" => plural(n, "template", "templates"),
        "fields" => plural(n, "field", "fields"),
        "entries" => plural(n, "entry", "entries"),
        _ => plural(n, "contact", "contacts"),
    };
    if reply.what == "database" {
        return format!(
            "imported the database: {}",
            plural(reply.imported, "record", "records")
        );
    }
    let mut summary = format!("imported {}", word(reply.imported));
    if reply.updated > 0 || reply.unchanged > 0 {
        let _ = write!(summary, ", updated {}", reply.updated);
    }
    if reply.unchanged > 0 {
        let _ = write!(summary, ", {} unchanged", reply.unchanged);
    }
    summary
}

/// All of `file` (`-`: standard input).
pub(crate) fn read_all(file: &Path) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
    } else {
        std::fs::File::open(file).and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut bytes))
    };
    read.map_err(|source| CliError::Read {
        what: "import file",
        path: file.display().to_string(),
        source,
        fix: "give the path of a CSV or JSON file, or - for standard input",
    })?;
    Ok(bytes)
}

/// What `rapport check` answers: the integrity check and the content fingerprint, of one
/// snapshot.
pub(crate) fn check_reply(db: &Database) -> Result<CheckReply, rapport_engine::Error> {
    let (report, fingerprint) =
        db.read(|v| Ok((v.integrity_check()?, v.content_fingerprint()?)))?;
    Ok(CheckReply {
        ok: report.is_ok(),
        entries_checked: report.entries_checked,
        differences: report.differences,
        fingerprint,
    })
}

/// The days `stats --from … --to …` asks for: either alone is open on its other side (from
/// the first day there can be, up to the last).
pub(crate) fn stats_range(
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let first = chrono::NaiveDate::from_ymd_opt(1, 1, 1).expect("a date");
    let last = chrono::NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date");
    match (from, to) {
        (None, None) => None,
        (from, to) => Some((from.unwrap_or(first), to.unwrap_or(last))),
    }
}

/// The variables `--arg NAME=TEXT` and `--argjson NAME=JSON` give a script (as jq's: text
/// as it is; JSON parsed, or refused).
pub(crate) fn script_args(
    cli: &Cli,
) -> Result<serde_json::Map<String, serde_json::Value>, CliError> {
    let mut vars = serde_json::Map::new();
    let given = cli
        .args
        .iter()
        .map(|a| (a, "--arg"))
        .chain(cli.argjson.iter().map(|a| (a, "--argjson")));
    for (arg, flag) in given {
        let refuse = |problem: String, fix: &str| -> CliError {
            Error::invalid("command line", flag, problem, fix.to_string()).into()
        };
        let Some((name, value)) = arg.split_once('=') else {
            return Err(refuse(
                format!("{arg} is not NAME=VALUE"),
                "give e.g. --arg city=Oslo or --argjson limit=10",
            ));
        };
        let is_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !crate::complete::KEYWORDS.contains(&name);
        if !is_name {
            return Err(refuse(
                format!(
                    "{name} is not a name a script can use (letters, digits and _, not a keyword)"
                ),
                "give another name",
            ));
        }
        let value = if flag == "--arg" {
            serde_json::Value::String(value.to_string())
        } else {
            serde_json::from_str(value).map_err(|e| {
                refuse(
                    format!("{name}: {value} is not JSON ({e})"),
                    "give JSON (10, true, \"text\", [1, 2]), or text with --arg",
                )
            })?
        };
        vars.insert(name.to_string(), value);
    }
    Ok(vars)
}

/// Downloads a backup into `file` (never over an existing one).
pub(crate) fn download_backup(client: &Client, file: &Path) -> Result<u64, CliError> {
    if file.exists() {
        return Err(CliError::Engine(rapport_engine::Error::Storage(
            rapport_engine::store::StoreError::FileExists {
                path: file.display().to_string(),
            },
        )));
    }
    download_into(client, "/backup", file, "backup file", true)
}

/// Downloads `path` into `FILE.partial`, renamed to `file` when whole: a refused request or a
/// broken download leaves `file` as it was.
pub(crate) fn download_into(
    client: &Client,
    path: &str,
    file: &Path,
    what: &'static str,
    sync: bool,
) -> Result<u64, CliError> {
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let cannot_write = |source| CliError::Write {
        what,
        path: file.display().to_string(),
        source,
        fix: "give a file in a folder you can write",
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(cannot_write)?);
    let bytes = match client.download(path, &mut f) {
        Ok(n) => n,
        Err(e) => {
            drop(f);
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    let done = f.into_inner().map_err(|e| cannot_write(e.into_error()))?;
    if sync {
        done.sync_all().map_err(cannot_write)?;
    }
    std::fs::rename(&partial, file).map_err(cannot_write)?;
    Ok(bytes)
}

/// A plugin that did not load, said beside `plugins list`: on stdout in tables, on stderr in
/// JSON and CSV (standard output is the list alone).
pub(crate) fn show_not_loaded(
    out: &mut Out,
    format: Format,
    problem: &str,
) -> Result<(), CliError> {
    if format == Format::Table {
        out.line(format!("not loaded: {problem}"))
    } else {
        eprintln!("not loaded: {problem}");
        Ok(())
    }
}

/// What a command that changed one setting says: `message` in tables; in JSON or CSV, `json`
/// with the message beside it.
pub(crate) fn show_done(
    out: &mut Out,
    format: Format,
    mut json: serde_json::Value,
    message: &str,
) -> Result<(), CliError> {
    if let Some(o) = json.as_object_mut() {
        o.insert("message".into(), message.into());
    }
    show_result(out, format, &json, |out| out.line(message))
}
