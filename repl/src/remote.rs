//! Every command, through a `rapport serve` (`--server URL`, or the server found beside the
//! file): the same arguments and the same output as on the file, with the work done by the
//! server in one transaction per request. Files named on the command line are this machine's:
//! a script or CSV is read here and sent, an export or backup is written here as it arrives.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rapport::api::{CheckReply, DocumentReply, ImportReply, RunRequest, UserReply, UserRequest};
use rapport::client::{Client, ClientError};
use rapport::error::CliError;
use rapport::out::Out;
use rapport::output::{self, Format};
use rapport::transfer::{self, ExportFormat, ExportKind};
use serde_json::{Value as Json, json};

use crate::cli::{Cli, Command, PluginAction, UserAction};
use crate::shared;

/// A path segment, escaped.
fn seg(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// Runs the command the command line names through the server.
pub fn run(cli: &Cli, client: &Client) -> Result<ExitCode, CliError> {
    let mut out = Out::stdout();
    let format = cli.format;
    let code = match &cli.command {
        None | Some(Command::Repl { .. }) => {
            let failed = crate::repl::Repl::remote(client.clone(), format)?
                .quiet(cli.quiet)
                .run_loop()
                .map_err(CliError::Terminal)?;
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(Command::Run { file, .. }) => {
            let source = shared::read_script(file)?;
            let name = if file == Path::new("-") {
                "stdin".to_string()
            } else {
                file.display().to_string()
            };
            let script_run = Script {
                generated: false,
                name: &name,
                source: &source,
                params: shared::script_args(cli)?,
            };
            script(client, &mut out, cli, &script_run)?
        }
        Some(Command::Eval { code, name, .. }) => {
            let script_run = Script {
                generated: name.is_some(),
                name: name.as_deref().unwrap_or("eval"),
                source: code,
                params: shared::script_args(cli)?,
            };
            script(client, &mut out, cli, &script_run)?
        }
        Some(Command::Demo) => {
            return Err(CliError::Remote(ClientError::Api(Box::new(
                rapport::api::ApiError::new(
                    "invalid",
                    Some("demo"),
                    None,
                    "the demo loads into a file no server holds: run rapport --db demo.redb demo on a new file".into(),
                ),
            ))));
        }
        Some(Command::Document { .. }) => {
            let reply: DocumentReply =
                client.post("/documents", &Json::Object(shared::document_event(cli)))?;
            shared::show_document(&mut out, &reply, format)?;
            ExitCode::SUCCESS
        }
        Some(Command::Import {
            what,
            file,
            define_fields,
            update,
            delimiter,
        }) => {
            let bytes = shared::read_all(file)?;
            let name = file.display().to_string();
            let delimiter = delimiter.map_or_else(String::new, |d| {
                format!("&delimiter={}", seg(&char::from(d).to_string()))
            });
            let path = format!(
                "/import/{}?define_fields={define_fields}&update={update}&name={}{delimiter}",
                what.as_str(),
                seg(&name)
            );
            let reply: ImportReply =
                client.post_bytes(&path, "application/octet-stream", &bytes)?;
            shared::show_import(&mut out, format, &reply, false)?;
            ExitCode::SUCCESS
        }
        Some(Command::Export { what, out: file }) => export(
            client,
            &mut out,
            (format, cli.quiet),
            *what,
            file.as_deref(),
        )?,
        Some(Command::Plugins { action }) => plugins(
            client,
            &mut out,
            format,
            action.clone().unwrap_or(PluginAction::List),
        )?,
        Some(Command::Backup { file }) => {
            let bytes = shared::download_backup(client, file)?;
            let json = json!({
                "bytes": bytes,
                "from": client.base(),
                "to": file.display().to_string(),
            });
            shared::show_result(&mut out, format, &json, |out| {
                out.line(format!(
                    "backed up the database of {} to {} ({bytes} bytes)",
                    client.base(),
                    file.display()
                ))
            })?;
            ExitCode::SUCCESS
        }
        Some(Command::Check) => {
            let report: CheckReply = client.get("/check")?;
            let place = format!("the database of {}", client.base());
            shared::show_check(&mut out, format, &report, &place)?
        }
        Some(Command::Stats {
            kind,
            code,
            all: _,
            from,
            to,
        }) => {
            let mut path = match code {
                Some(code) => format!("/stats/{}/{}", seg(kind), seg(code)),
                None => format!("/stats/{}", seg(kind)),
            };
            if let Some((from, to)) = shared::stats_range(*from, *to) {
                path = format!("{path}?from={from}&to={to}");
            }
            let s: Json = client.get(&path)?;
            if code.is_some() {
                shared::show_stats(&mut out, &s, format)?;
            } else {
                out.line(output::render_json(s, format))?;
            }
            ExitCode::SUCCESS
        }
        Some(Command::Users { action }) => {
            match action {
                UserAction::Add { name, role } => {
                    let user: UserReply = client.post(
                        "/users",
                        &UserRequest {
                            name: name.clone(),
                            role: role.clone(),
                        },
                    )?;
                    shared::show_new_user(&mut out, &user, format)?;
                }
                UserAction::List => {
                    let users: Vec<UserReply> = client.get("/users")?;
                    shared::show_users(&mut out, &users, format)?;
                }
                UserAction::Revoke { name } => {
                    let user: UserReply = client.delete(&format!("/users/{}", seg(name)))?;
                    let message = format!("revoked {}: its token no longer works", user.name);
                    let json =
                        serde_json::to_value(&user).map_err(|e| CliError::Output(e.into()))?;
                    shared::show_done(&mut out, format, json, &message)?;
                }
            }
            ExitCode::SUCCESS
        }
        Some(Command::Serve { .. } | Command::Completions { .. }) => {
            unreachable!("these never go through a server")
        }
        Some(Command::History { .. } | Command::Undo { .. } | Command::Erase { .. }) => {
            unreachable!("cli::settle makes them scripts")
        }
    };
    out.flush()?;
    Ok(code)
}

/// A script to run on the server.
struct Script<'a> {
    /// A script a command wrote (`history`, `undo`, `erase`): errors show the message alone.
    generated: bool,
    name: &'a str,
    source: &'a str,
    /// Its `--arg` variables.
    params: serde_json::Map<String, Json>,
}

/// Runs a script on the server; prints as a local run does. Ctrl-C asks the server to stop it.
fn script(
    client: &Client,
    out: &mut Out,
    cli: &Cli,
    run: &Script<'_>,
) -> Result<ExitCode, CliError> {
    let (format, dry_run, source) = (cli.format, cli.dry_run, run.source);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    // A second handler cannot be installed; without one, Ctrl-C ends the client and the
    // server stops the run when the connection goes.
    let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::Relaxed));
    let request = RunRequest {
        source: source.to_string(),
        name: Some(run.name.to_string()),
        params: run.params.clone(),
        dry_run,
        ..RunRequest::default()
    };
    match client.run(&request, Some(&cancel)) {
        Ok(reply) => {
            let text = output::reply_outcome(&reply, format);
            if !text.is_empty() {
                out.line(text)?;
            }
            if dry_run && !cli.quiet {
                eprintln!("dry run: nothing was changed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ClientError::Api(e)) => {
            out.flush()?;
            if run.generated {
                eprintln!("{}", output::command_failure(&e.printed, &e.message));
            } else {
                eprintln!("{}", output::remote_failure(&e, source));
            }
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// `rapport export …` through the server: streamed to the file or stdout as it arrives.
fn export(
    client: &Client,
    out: &mut Out,
    (format, quiet): (Format, bool),
    what: ExportKind,
    file: Option<&Path>,
) -> Result<ExitCode, CliError> {
    let path = format!(
        "/export/{}?format={}",
        what.as_str(),
        match transfer::export_format(what, format)? {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        }
    );
    let Some(file) = file else {
        match client.download(&path, out.writer()) {
            // A reader that stops early (`| head`) is not an error.
            Err(ClientError::Protocol { problem, .. }) if problem.contains("Broken pipe") => {
                return Err(CliError::Closed);
            }
            other => other?,
        };
        return Ok(ExitCode::SUCCESS);
    };
    let bytes = shared::download_into(client, &path, file, "export file", false)?;
    if !quiet {
        eprintln!("exported {bytes} bytes to {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `rapport plugins …` through the server (a folder can only be added on its machine).
fn plugins(
    client: &Client,
    out: &mut Out,
    format: Format,
    action: PluginAction,
) -> Result<ExitCode, CliError> {
    let (name, verb) = match action {
        PluginAction::List => {
            let list: Json = client.get("/plugins")?;
            out.line(output::render_json(list["plugins"].clone(), format))?;
            for problem in list["problems"].as_array().into_iter().flatten() {
                shared::show_not_loaded(out, format, problem.as_str().unwrap_or_default())?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        PluginAction::Show { name } => {
            let list: Json = client.get("/plugins")?;
            let row = list["plugins"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name.as_str())
                .cloned()
                .ok_or_else(|| CliError::Plugin {
                    name: name.clone(),
                    reason: "the server has no plugin of that name".into(),
                    fix: "rapport plugins list shows them",
                })?;
            shared::show_plugin(out, format, &row)?;
            return Ok(ExitCode::SUCCESS);
        }
        PluginAction::Test { name } => {
            return Err(CliError::Plugin {
                name,
                reason:
                    "a plugin's tests run on the machine that has its folder, not through a server"
                        .into(),
                fix: "give the plugin's folder: rapport plugins test ./my-plugins/NAME (no database needed)",
            });
        }
        PluginAction::Enable { name } => (name, "enable"),
        PluginAction::Disable { name } => (name, "disable"),
        PluginAction::Folder { path } => {
            return Err(CliError::Plugin {
                name: path.display().to_string(),
                reason: "a plugin folder names a folder on the server's machine".into(),
                fix: "add it there while no server runs (rapport plugins folder PATH), then start the server again",
            });
        }
    };
    let reply: Json = client.post(&format!("/plugins/{}/{verb}", seg(&name)), &json!({}))?;
    let json = json!({"plugin": name, "enabled": verb == "enable"});
    shared::show_done(
        out,
        format,
        json,
        reply["message"].as_str().unwrap_or_default(),
    )?;
    Ok(ExitCode::SUCCESS)
}
