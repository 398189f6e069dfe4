//! `rapport serve`, end to end: a real server on a free loopback port, driven by the real
//! command line and by an HTTP client, as a team would use it. Each test runs on a redb file and
//! on PostgreSQL (`each_backend`; skipped, saying so, when `RAPPORT_TEST_POSTGRES` names no
//! server), except those marked `redb only`.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rapport::api::{RunReply, RunRequest};
use rapport::client::{Client, ClientError};
use rapport_tests::{Server, Workspace, each_backend};
use serde_json::{Value as Json, json};

/// The demo company in the workspace, and a server on it.
fn served(ws: &Workspace) -> Server {
    ws.ok(&["demo"]);
    ws.serve(&[])
}

fn run(client: &Client, source: &str) -> Result<RunReply, ClientError> {
    client.run(
        &RunRequest {
            source: source.into(),
            ..RunRequest::default()
        },
        None,
    )
}

fn count(client: &Client, source: &str) -> i64 {
    run(client, source)
        .unwrap_or_else(|e| panic!("{source}: {e}"))
        .value
        .as_i64()
        .unwrap_or_else(|| panic!("{source} is not a number"))
}

/// A user added through the server, and its token.
fn user(client: &Client, name: &str, role: &str) -> String {
    let reply: rapport::api::UserReply = client
        .post("/users", &json!({"name": name, "role": role}))
        .expect("the user is added");
    reply.token.expect("a new user's token")
}

fn api_error(outcome: Result<impl std::fmt::Debug, ClientError>) -> rapport::api::ApiError {
    match outcome {
        Err(ClientError::Api(e)) => *e,
        other => panic!("expected the server's error, got {other:?}"),
    }
}

const LOG_ONE: &str =
    r#"log_interaction(#{contact: "CT000002", template: "OUTGOING", description: "call"})"#;

#[test]
fn while_a_server_holds_the_file_plain_commands_go_through_it() {
    each_backend(|ws| {
        let server = served(ws);
        // The same commands a second terminal types, with no flags: found through the file beside
        // the database (on PostgreSQL, which has no such file, with --server and --token).
        let ws = ws.through(&server);
        assert_eq!(ws.ok(&["eval", "contacts().count()"]).trim(), "50");
        let export = ws.ok(&["export", "entries"]);
        assert_eq!(export.lines().count(), 75, "a header and 74 entries");
        let doc = ws.ok(&[
            "document",
            "sales_invoice",
            "99001",
            "--customer",
            "10000",
            "--action",
            "emailed",
        ]);
        assert!(
            doc.starts_with("recorded as interaction log entry 75"),
            "{doc}"
        );
        assert_eq!(
            ws.ok(&["check"]).lines().next(),
            Some("ok: 75 entries; indexes, statistics and attachments agree")
        );
        let stats = ws.ok(&["stats", "template", "s_statm"]);
        assert!(stats.contains("count         7"), "{stats}");
    });
}

#[test]
fn a_repl_through_the_server_keeps_its_variables_between_lines() {
    each_backend(|ws| {
        let server = served(ws);
        let run = ws
            .through(&server)
            .run_with_input(&["repl"], "let x = 41\nx + 1\n");
        assert!(run.success, "{}", run.stderr);
        assert!(
            run.stderr.contains("through http://127.0.0.1:"),
            "the greeting (on stderr when piped) says where: {}",
            run.stderr
        );
        assert!(run.stdout.lines().any(|l| l == "42"), "{}", run.stdout);
    });
}

#[test]
fn two_repls_and_a_document_recorder_work_at_once() {
    each_backend(|ws| {
        let server = served(ws);
        let mut lines = String::new();
        for i in 0..20 {
            let _ = writeln!(lines, "let n{i} = {LOG_ONE}");
        }
        lines.push_str("n19 - n0\n");
        let through = ws.through(&server);
        std::thread::scope(|s| {
            let repls: Vec<_> = (0..2)
                .map(|_| s.spawn(|| through.run_with_input(&["repl"], &lines)))
                .collect();
            let recorder = s.spawn(|| {
                for i in 0..10 {
                    let no = format!("{}", 99100 + i);
                    through.ok(&[
                        "document",
                        "sales_invoice",
                        &no,
                        "--customer",
                        "10000",
                        "--action",
                        "posted",
                    ]);
                }
            });
            for r in repls {
                let out = r.join().expect("the REPL ends");
                assert!(out.success, "{}", out.stderr);
                assert!(!out.stdout.contains("error"), "{}", out.stdout);
            }
            recorder.join().expect("the recorder ends");
        });
        let client = server.client(Some(&server.owner_token()));
        assert_eq!(count(&client, "entries().count()"), 74 + 2 * 20 + 10);
        assert_eq!(
            through.ok(&["check"]).lines().next(),
            Some("ok: 124 entries; indexes, statistics and attachments agree")
        );
    });
}

/// Waits until the server counts `n` running scripts.
fn until_running(server: &Server, n: u64) {
    let watcher = server.client(None);
    loop {
        let health: Json = watcher.get("/health").expect("health");
        if health["running"].as_u64() == Some(n) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn readers_never_wait_for_a_writer() {
    each_backend(|ws| {
        let server = served(ws);
        let token = server.owner_token();
        // The writer logs an interaction (taking the write transaction) and then never ends, until
        // it is cancelled: every read below happens while it holds the write transaction.
        let cancel = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            let writer_client = server.client(Some(&token));
            let flag = cancel.clone();
            let writer = s.spawn(move || {
                writer_client.run(
                    &RunRequest {
                        source: format!("{LOG_ONE}; loop {{ }}"),
                        ..RunRequest::default()
                    },
                    Some(&flag),
                )
            });
            until_running(&server, 1);
            std::thread::sleep(std::time::Duration::from_millis(300));
            let reader = server.client(Some(&token));
            for _ in 0..20 {
                assert_eq!(
                    count(&reader, "entries().count()"),
                    74,
                    "a snapshot without the writer's entry"
                );
            }
            assert!(!writer.is_finished(), "the writer never ends by itself");
            cancel.store(true, Ordering::SeqCst);
            let e = api_error(writer.join().expect("the writer ends"));
            assert_eq!(e.kind, "cancelled");
        });
        assert_eq!(count(&server.client(Some(&token)), "entries().count()"), 74);
    });
}

#[test]
fn a_request_without_a_token_is_refused() {
    each_backend(|ws| {
        let server = served(ws);
        let e = api_error(run(&server.client(None), "contacts().count()"));
        assert_eq!((e.kind.as_str(), e.status()), ("unauthorized", 401));
        assert!(e.message.contains("Authorization: Bearer"), "{}", e.message);
    });
}

#[test]
fn a_wrong_token_is_refused() {
    each_backend(|ws| {
        let server = served(ws);
        let e = api_error(run(&server.client(Some("rpt_not_a_token")), "1"));
        assert_eq!(e.kind, "unauthorized");
        assert!(e.message.contains("not valid"), "{}", e.message);
    });
}

#[test]
fn a_revoked_token_is_refused() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let token = user(&owner, "rita", "read");
        assert_eq!(
            count(&server.client(Some(&token)), "contacts().count()"),
            50
        );
        ws.through(&server).ok(&["users", "revoke", "rita"]);
        let e = api_error(run(&server.client(Some(&token)), "contacts().count()"));
        assert_eq!(e.kind, "unauthorized");
    });
}

#[test]
fn a_read_only_token_cannot_write_and_nothing_changes() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let reader = server.client(Some(&user(&owner, "rita", "read")));
        let e = api_error(run(&reader, LOG_ONE));
        assert_eq!(
            (e.kind.as_str(), e.field.as_deref()),
            ("denied", Some("role"))
        );
        assert!(
            e.message
                .contains("user rita (role read) may not write entries"),
            "{}",
            e.message
        );
        let e = api_error(reader.post::<Json>(
            "/documents",
            &json!({"type": "sales_invoice", "no": "1", "customer": "10000"}),
        ));
        assert_eq!(e.kind, "denied");
        drop(server);
        assert_eq!(ws.ok(&["eval", "entries().count()"]).trim(), "74");
    });
}

#[test]
fn a_log_token_logs_and_records_documents_but_cannot_cancel() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let logger = server.client(Some(&user(&owner, "bill", "log")));
        let no = count(&logger, LOG_ONE);
        let e = api_error(run(&logger, &format!("cancel(entry({no}))")));
        assert_eq!(e.kind, "denied");
        assert!(
            e.message.contains("role log only adds interactions"),
            "{}",
            e.message
        );
        let doc: rapport::api::DocumentReply = logger
        .post(
            "/documents",
            &json!({"type": "sales_invoice", "no": "99001", "customer": "10000", "action": "posted"}),
        )
        .expect("a log token records documents");
        assert!(doc.recorded);
    });
}

#[test]
fn an_entry_records_the_authenticated_user() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let logger = server.client(Some(&user(&owner, "bill", "log")));
        let reply = run(&logger, &format!("entry({LOG_ONE}).user")).expect("logged");
        assert_eq!(reply.value, json!("bill"));
    });
}

#[test]
fn a_script_through_the_server_cannot_read_files() {
    each_backend(|ws| {
        let server = served(ws);
        let file = ws.file("letter.txt", b"Dear customer");
        let owner = server.client(Some(&server.owner_token()));
        let full = server.client(Some(&user(&owner, "fu", "full")));
        let source = format!(r#"template_attach("OUTGOING", "", "{}")"#, file.display());
        let e = api_error(run(&full, &source));
        assert_eq!(
            (e.kind.as_str(), e.field.as_deref()),
            ("denied", Some("file_path"))
        );
        assert!(e.message.contains("no file access"), "{}", e.message);
    });
}

#[test]
fn an_oversized_request_is_refused_and_nothing_is_written() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let server = ws.serve(&["--max-request-mib", "1"]);
        let client = server.client(Some(&server.owner_token()));
        let big = format!("{LOG_ONE}; \"{}\"", "x".repeat(2 * 1024 * 1024));
        let e = api_error(run(&client, &big));
        assert_eq!((e.kind.as_str(), e.status()), ("too_large", 413));
        assert!(e.message.contains("--max-request-mib"), "{}", e.message);
        assert_eq!(count(&client, "entries().count()"), 74);
    });
}

#[test]
fn a_malformed_request_is_refused_with_a_clear_error_and_nothing_is_written() {
    each_backend(|ws| {
        let server = served(ws);
        let client = server.client(Some(&server.owner_token()));
        let e = api_error(client.post::<Json>("/run", &json!({"sourc": LOG_ONE})));
        assert_eq!((e.kind.as_str(), e.status()), ("bad_request", 400));
        assert!(e.message.contains("unknown field `sourc`"), "{}", e.message);
        let e = api_error(client.post_bytes::<Json>("/run", "application/json", b"{not json"));
        assert_eq!(e.kind, "bad_request");
        let e = api_error(client.get::<Json>("/nowhere"));
        assert_eq!(e.kind, "not_found");
        assert_eq!(count(&client, "entries().count()"), 74);
    });
}

#[test]
fn a_script_error_through_the_server_names_the_record_and_field_as_locally() {
    each_backend(|ws| {
        let server = served(ws);
        let client = server.client(Some(&server.owner_token()));
        let e = api_error(run(
            &client,
            r#"log_interaction(#{contact: "CT999999", template: "OUTGOING"})"#,
        ));
        assert_eq!(e.kind, "not_found");
        assert_eq!(e.record.as_deref(), Some("contact CT999999"));
        // The command line prints it as a local run does.
        let out = ws.through(&server).run(&[
            "eval",
            r#"log_interaction(#{contact: "CT999999", template: "OUTGOING"})"#,
        ]);
        assert!(!out.success);
        assert!(
            out.stderr
                .starts_with("error: eval:1:1: contact CT999999 does not exist"),
            "{}",
            out.stderr
        );
    });
}

#[test]
fn cancelling_a_run_stops_it_and_keeps_nothing() {
    each_backend(|ws| {
        let server = served(ws);
        let client = server.client(Some(&server.owner_token()));
        let cancel = Arc::new(AtomicBool::new(false));
        let endless = format!("{LOG_ONE}; loop {{ }}");
        std::thread::scope(|s| {
            let (flag, server) = (cancel.clone(), &server);
            s.spawn(move || {
                until_running(server, 1);
                flag.store(true, Ordering::SeqCst);
            });
            let request = RunRequest {
                source: endless,
                ..RunRequest::default()
            };
            let e = api_error(client.run(&request, Some(&cancel)));
            assert_eq!(e.kind, "cancelled");
        });
        assert_eq!(count(&client, "entries().count()"), 74);
    });
}

// redb only: the discovery file is what it checks (a server on PostgreSQL writes none)
#[test]
fn sigterm_stops_the_server_cleanly_and_removes_its_discovery_file() {
    let ws = Workspace::new();
    let server = served(&ws);
    let discovery = server.discovery().to_path_buf();
    assert!(discovery.exists());
    let (ok, stderr) = server.terminate();
    assert!(ok, "{stderr}");
    assert!(stderr.contains("stopped after"), "{stderr}");
    assert!(!discovery.exists());
    // The file is free again: a local command opens it.
    assert_eq!(
        ws.ok(&["check"]).lines().next(),
        Some("ok: 74 entries; indexes, statistics and attachments agree")
    );
}

#[test]
fn sigterm_lets_a_running_write_finish_within_the_grace_period() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let server = ws.serve(&["--grace-seconds", "60"]);
        let client = server.client(Some(&server.owner_token()));
        // A write that takes a moment: it is running when the signal comes, and is let finish.
        let write = std::thread::spawn(move || {
            run(
                &client,
                &format!("let n = {LOG_ONE}; let i = 0; while i < 300000 {{ i += 1; }} n"),
            )
        });
        until_running(&server, 1);
        let (ok, stderr) = server.terminate();
        assert!(ok, "{stderr}");
        assert!(
            write.join().expect("the client ends").is_ok(),
            "the running write was let finish"
        );
        assert_eq!(ws.ok(&["eval", "entries().count()"]).trim(), "75");
    });
}

#[test]
fn sigterm_stops_a_write_that_outlasts_the_grace_period_and_keeps_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let server = ws.serve(&["--grace-seconds", "0"]);
        let client = server.client(Some(&server.owner_token()));
        let write = std::thread::spawn(move || run(&client, &format!("{LOG_ONE}; loop {{ }}")));
        until_running(&server, 1);
        let (ok, stderr) = server.terminate();
        assert!(ok, "{stderr}");
        let e = api_error(write.join().expect("the client ends"));
        assert_eq!(e.kind, "cancelled");
        assert_eq!(ws.ok(&["eval", "entries().count()"]).trim(), "74");
        assert!(ws.ok(&["check"]).starts_with("ok:"));
    });
}

// redb only: the discovery file beside the database file (a server on PostgreSQL writes none)
#[test]
fn the_discovery_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let server = served(&ws);
    let mode = std::fs::metadata(server.discovery())
        .expect("the discovery file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

// On PostgreSQL the rapport process is killed, not the database server (postgres.rs kills that).
#[test]
fn a_server_killed_in_the_middle_of_a_segment_log_leaves_the_log_whole_or_absent() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let mut csv = String::from("no,name,kind,salesperson\n");
        for i in 0..5000 {
            let _ = writeln!(csv, "K{i:06},Person {i},person,JO");
        }
        let file = ws.file("people.csv", csv.as_bytes());
        ws.ok(&["import", "contacts", &file.display().to_string()]);
        // Killed at several moments of the log (just after it began, and later into it): each
        // time, after restart the check passes and the log is all there or not there at all.
        for delay_ms in [0, 150, 400, 900] {
            let segment = ws
            .ok(&[
                "eval",
                r#"let s = segment_create(#{description: "Everyone", template: "OUTGOING"}); s.add(#{salesperson: "JO"}); s.no"#,
            ])
            .trim()
            .to_string();
            let server = ws.serve(&[]);
            let client = server.client(Some(&server.owner_token()));
            let lines = count(&client, &format!("segment(\"{segment}\").lines().len()"));
            assert!(lines >= 5000, "{lines}");
            let before = count(&client, "entries().count()");
            let logging = std::thread::spawn(move || {
                run(&client, &format!("segment(\"{segment}\").log()")).map(|r| r.value)
            });
            until_running(&server, 1);
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            server.kill();
            let _ = logging.join().expect("the client ends");
            let check = ws.ok(&["check"]);
            assert!(
                check.starts_with("ok:"),
                "killed after {delay_ms} ms: {check}"
            );
            let after: i64 = ws
                .ok(&["eval", "entries().count()"])
                .trim()
                .parse()
                .expect("a count");
            assert!(
                after == before || after == before + lines,
                "killed after {delay_ms} ms: {} entries of a {lines}-line segment",
                after - before
            );
        }
    });
}

// redb only: --read-only opens a redb file (it is refused for a PostgreSQL URL)
#[test]
fn read_only_opens_the_file_for_queries_and_refuses_writes() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    assert_eq!(
        ws.ok(&["--read-only", "eval", "contacts().count()"]).trim(),
        "50"
    );
    let out = ws.run(&["--read-only", "eval", LOG_ONE]);
    assert!(!out.success);
    assert!(
        out.stderr.contains("open for reading only"),
        "{}",
        out.stderr
    );
    assert_eq!(
        ws.ok(&["--read-only", "check"]).lines().next(),
        Some("ok: 74 entries; indexes, statistics and attachments agree")
    );
    assert_eq!(ws.ok(&["eval", "entries().count()"]).trim(), "74");
}

#[test]
fn a_client_with_server_and_token_flags_works_from_any_folder() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let token = user(&owner, "rita", "read");
        let out = ws.run_plain(&[
            "--server",
            &server.url,
            "--token",
            &token,
            "eval",
            "contacts().count()",
        ]);
        assert!(out.success, "{}", out.stderr);
        assert_eq!(out.stdout.trim(), "50");
    });
}

#[test]
fn many_clients_writing_at_once_all_succeed_and_none_is_lost() {
    each_backend(|ws| {
        let server = served(ws);
        let token = server.owner_token();
        let (clients, each) = (16, 15);
        std::thread::scope(|s| {
            for _ in 0..clients {
                let client = server.client(Some(&token));
                s.spawn(move || {
                    for _ in 0..each {
                        // Read first, then write: the shape that conflicts when writers overtake
                        // each other.
                        let source = format!("let n = entries().count(); {LOG_ONE}");
                        run(&client, &source).unwrap_or_else(|e| panic!("a write failed: {e}"));
                    }
                });
            }
        });
        let client = server.client(Some(&token));
        assert_eq!(count(&client, "entries().count()"), 74 + clients * each);
        drop(server);
        assert!(ws.ok(&["check"]).starts_with("ok:"));
    });
}

#[test]
fn import_backup_and_plugins_work_through_the_server() {
    each_backend(|ws| {
        let server = served(ws);
        let through = ws.through(&server);
        let csv = ws.file(
            "new.csv",
            b"no,name,kind,vip\nN000001,Nina Holm,person,yes\n",
        );
        let out = through.ok(&[
            "import",
            "contacts",
            &csv.display().to_string(),
            "--define-fields",
        ]);
        assert_eq!(
            out,
            "declaring contact field vip (flag)\nimported 1 contact\n"
        );
        let copy = ws.path().join("copy.redb");
        let out = through.ok(&["backup", &copy.display().to_string()]);
        assert!(
            out.starts_with("backed up the database of http://"),
            "{out}"
        );
        assert!(!ws.path().join("copy.redb.partial").exists());
        let copied = ws.run_plain(&[
            "--db",
            &copy.display().to_string(),
            "eval",
            "contact(\"N000001\").vip",
        ]);
        assert_eq!(copied.stdout.trim(), "true", "{}", copied.stderr);
        assert_eq!(
            through.ok(&["plugins", "enable", "retention"]),
            "enabled retention\n"
        );
        let list = through.ok(&["--format", "json", "plugins"]);
        assert!(list.contains("\"enabled\": true"), "{list}");
    });
}

#[test]
fn a_script_past_the_servers_time_limit_stops_and_keeps_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let server = ws.serve(&["--max-seconds", "1"]);
        let client = server.client(Some(&server.owner_token()));
        let e = api_error(run(&client, &format!("{LOG_ONE}; loop {{ }}")));
        assert_eq!(e.kind, "limit");
        assert!(
            e.message.contains("longer than its limit of 1 s"),
            "{}",
            e.message
        );
        assert_eq!(count(&client, "entries().count()"), 74);
    });
}

#[test]
fn a_backup_through_the_server_never_overwrites_a_file() {
    each_backend(|ws| {
        let server = served(ws);
        let existing = ws.file("taken.redb", b"keep me");
        let out = ws
            .through(&server)
            .run(&["backup", &existing.display().to_string()]);
        assert!(!out.success);
        assert!(out.stderr.contains("exists"), "{}", out.stderr);
        assert_eq!(std::fs::read(&existing).expect("the file"), b"keep me");
    });
}

#[test]
fn a_log_token_cannot_change_the_catalogue_segments_or_fields() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let logger = server.client(Some(&user(&owner, "bill", "log")));
        for source in [
            r#"template_define(#{code: "X1", group: "PHONE", description: "x"})"#,
            r#"segment_create(#{description: "x"})"#,
            r#"contact_create(#{name: "New Person", kind: "person"})"#,
            r#"field_define(#{record: "contact", name: "vip", type: "flag"})"#,
            "purge_canceled(#{})",
        ] {
            let e = api_error(run(&logger, source));
            assert_eq!(e.kind, "denied", "{source}: {}", e.message);
        }
    });
}

#[test]
fn a_session_of_another_user_cannot_be_used_or_closed() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let anna = server.client(Some(&user(&owner, "anna", "log")));
        let rita = server.client(Some(&user(&owner, "rita", "log")));
        let session: rapport::api::SessionReply =
            anna.post("/sessions", &json!({})).expect("a session");
        let e = api_error(rita.run(
            &RunRequest {
                source: "1".into(),
                session: Some(session.session.clone()),
                ..RunRequest::default()
            },
            None,
        ));
        assert_eq!(e.kind, "denied");
        let e = api_error(rita.delete::<Json>(&format!("/sessions/{}", session.session)));
        assert_eq!(e.kind, "denied");
    });
}

#[test]
fn commands_through_a_server_print_json_alone_and_give_scripts_their_variables() {
    each_backend(|ws| {
        let server = served(ws);
        let ws = ws.through(&server);
        for args in [
            vec!["--format", "json", "stats", "template", "S_STATM"],
            vec!["--format", "json", "check"],
            vec!["--format", "json", "plugins", "list"],
            vec!["--format", "json", "users", "list"],
        ] {
            let out = ws.ok(&args);
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out);
            assert!(parsed.is_ok(), "{args:?}: not JSON alone:\n{out}");
        }
        assert_eq!(
            ws.ok(&[
                "eval",
                "city + (n + 1)",
                "--arg",
                "city=Oslo",
                "--argjson",
                "n=41"
            ]),
            "Oslo42\n"
        );
        let before = ws.ok(&["eval", "contacts().count()"]);
        let dry = ws.run(&[
            "--dry-run",
            "-c",
            r#"contact_create(#{name: "Kept nowhere"})"#,
        ]);
        assert!(dry.success, "{}", dry.stderr);
        assert_eq!(
            ws.ok(&["eval", "contacts().count()"]),
            before,
            "a dry run keeps nothing"
        );
        let piped = ws.run_with_input(&["repl"], "1 + 1\nnope()\n");
        assert!(
            !piped.success,
            "a failed input ends piped input non-zero through a server too"
        );
    });
}

#[test]
fn imports_of_each_kind_statistics_of_all_and_the_database_export_work_through_the_server() {
    each_backend(|ws| {
        let server = served(ws);
        let through = ws.through(&server);
        let csv = ws.file("sp.csv", b"code;name\nNEW;New Person\nJO;Jim Oliver\n");
        assert_eq!(
            through.ok(&[
                "import",
                "salespeople",
                &csv.display().to_string(),
                "--update"
            ]),
            "imported 1 salesperson, updated 1\n"
        );
        let stats = through.ok(&["--format", "csv", "stats", "salesperson", "--all"]);
        assert_eq!(stats.lines().count(), 1 + 6, "{stats}");
        assert!(stats.contains("\nsalesperson,NEW,0,0,0,"), "{stats}");
        let dump = through.ok(&["export", "database"]);
        assert!(
            dump.starts_with("{\"format\":\"rapport database\",\"version\":1}\n"),
            "{}",
            &dump[..80.min(dump.len())]
        );
        let file = ws.file("crm.jsonl", dump.as_bytes());
        let refused = through.run(&["import", "database", &file.display().to_string()]);
        assert!(
            refused.stderr.contains("already holds records"),
            "{}",
            refused.stderr
        );
    });
}

#[test]
fn a_whole_database_imports_through_the_server_and_only_full_users_export_one() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let dump = ws.path().join("crm.jsonl");
        ws.ok(&["export", "database", "--out", dump.to_str().unwrap()]);
        let empty = ws.another();
        let server = empty.serve(&[]);
        let through = empty.through(&server);
        let out = through.ok(&["import", "database", dump.to_str().unwrap()]);
        assert!(out.starts_with("imported the database: "), "{out}");
        let fingerprint = |text: String| {
            text.lines()
                .find(|l| l.starts_with("fingerprint: "))
                .map(str::to_string)
        };
        assert_eq!(
            fingerprint(through.ok(&["check"])),
            fingerprint(ws.ok(&["check"]))
        );
        // A whole database holds the users' token hashes and every attachment: a reader may
        // export contacts, not it.
        let owner = server.client(Some(&server.owner_token()));
        let reader = server.client(Some(&user(&owner, "rita", "read")));
        let e = api_error(reader.download("/export/database", &mut Vec::new()));
        assert_eq!(e.kind, "denied", "{}", e.message);
        assert!(reader.download("/export/contacts", &mut Vec::new()).is_ok());
    });
}

#[test]
fn entries_imported_through_the_server_name_the_clients_user() {
    each_backend(|ws| {
        let server = served(ws);
        let owner = server.client(Some(&server.owner_token()));
        let token = user(&owner, "ines", "full");
        let csv = ws.file(
            "history.csv",
            b"contact_no,template,date\nCT000002,OUTGOING,2026-03-01\n",
        );
        let out = ws.run_plain(&[
            "--server",
            &server.url,
            "--token",
            &token,
            "import",
            "entries",
            &csv.display().to_string(),
        ]);
        assert!(out.success, "{}", out.stderr);
        assert_eq!(
            count(&owner, r#"entries().filter(#{user: "ines"}).count()"#),
            1
        );
    });
}
