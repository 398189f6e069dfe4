//! The history as a user meets it through the real binary (README "Undo and history"): who did
//! what to a contact, undo after a dry run, the refusal on conflict, erasure — on a redb file and
//! on PostgreSQL, and through a server.

use rapport_tests::{Workspace, each_backend};

/// Logs the segment of the demo's Oslo contacts; returns the logged segment's entry no.
const LOG_SEGMENT: &str = r#"let s = segment_create(#{description: "Oslo mailing", template: "BUS", salesperson: "JO"});
s.add(contacts().filter(#{city: "Oslo"}));
s.log()"#;

/// The number of the newest operation.
fn last_operation(ws: &Workspace) -> u64 {
    ws.ok(&["eval", r#"history().order_by("no", "desc").first().no"#])
        .trim()
        .parse()
        .unwrap()
}

fn count(ws: &Workspace, code: &str) -> usize {
    ws.ok(&["eval", code]).trim().parse().unwrap()
}

#[test]
fn a_canceled_and_purged_logged_segment_comes_back_with_one_command_after_a_dry_run() {
    each_backend(|ws| {
        ws.ok(&["-q", "demo"]);
        let logged: u64 = ws.ok(&["eval", LOG_SEGMENT]).trim().parse().unwrap();
        let entries = count(ws, "entries().count()");
        let in_segment = count(ws, &format!("logged_segment({logged}).entries().count()"));
        assert!(in_segment > 0);
        ws.ok(&["eval", &format!("logged_segment({logged}).cancel()")]);
        let cancel = last_operation(ws);
        ws.ok(&["eval", "purge_canceled()"]);
        let purge = last_operation(ws);
        assert_eq!(count(ws, "entries().count()"), entries - in_segment);
        let before = ws.content_hash();

        let dry = ws.run(&["undo", &purge.to_string(), &cancel.to_string(), "--dry-run"]);
        assert!(dry.success, "{}", dry.stderr);
        // What scripts print goes with the table (to standard error with --format json or csv).
        assert!(
            dry.stdout.contains(&format!(
                "dry run: undoing operation(s) {purge}, {cancel} would change"
            )),
            "{}",
            dry.stdout
        );
        assert!(dry.stdout.contains("added"), "{}", dry.stdout);
        assert_eq!(
            ws.content_hash(),
            before,
            "the dry run changed the database"
        );

        let out = ws.ok(&["undo", &purge.to_string(), &cancel.to_string()]);
        assert!(out.contains("interaction log entry"), "{out}");
        assert_eq!(count(ws, "entries().count()"), entries);
        assert_eq!(
            count(
                ws,
                &format!("logged_segment({logged}).entries().filter(#{{canceled: false}}).count()")
            ),
            in_segment
        );
        assert!(ws.ok(&["check"]).starts_with("ok:"));
    });
}

#[test]
fn history_of_a_contact_says_who_did_what_to_it() {
    each_backend(|ws| {
        ws.ok(&["-q", "demo"]);
        let moved = ws.run_with_env(
            &[("RAPPORT_USER", "anna")],
            &["eval", r#"contact_update("CT000012", #{city: "Bergen"})"#],
        );
        assert!(moved.success, "{}", moved.stderr);
        let called = ws.run_with_env(
            &[("RAPPORT_USER", "bjorn")],
            &[
                "eval",
                r#"log_interaction(#{contact: "CT000012", template: "OUTGOING", salesperson: "JO", description: "asked about Bergen"})"#,
            ],
        );
        assert!(called.success, "{}", called.stderr);
        let out = ws.ok(&["--format", "csv", "history", "--record", "CT000012"]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("no,date,time,user,kind,record,change,fields,what"),
            "{out}"
        );
        assert!(
            lines[1].contains(",BJORN,eval,interaction log entry ") && lines[1].contains(",added,"),
            "{out}"
        );
        assert!(
            lines[2].contains(",ANNA,eval,contact CT000012,changed,")
                && lines[2].contains("→ Bergen"),
            "{out}"
        );
        // Only one user's.
        let anna = ws.ok(&[
            "--format", "csv", "history", "--record", "CT000012", "--user", "Anna",
        ]);
        assert!(anna.lines().skip(1).all(|l| l.contains(",ANNA,")), "{anna}");
        // Another contact's history does not list them.
        let other = ws.ok(&["--format", "csv", "history", "--record", "CT000013"]);
        assert!(!other.contains("Bergen"), "{other}");
    });
}

#[test]
fn an_undo_is_refused_naming_the_later_operation_and_changes_nothing() {
    each_backend(|ws| {
        ws.ok(&["-q", "demo"]);
        let entry: u64 = ws
            .ok(&[
                "eval",
                r#"log_interaction(#{contact: "CT000012", template: "OUTGOING", salesperson: "JO", description: "x"})"#,
            ])
            .trim()
            .parse()
            .unwrap();
        let logged = last_operation(ws);
        ws.ok(&["eval", &format!("cancel({entry})")]);
        let cancel = last_operation(ws);
        let before = ws.content_hash();
        let out = ws.run(&["undo", &logged.to_string()]);
        assert!(!out.success);
        assert!(
            out.stderr.contains(&format!(
                "interaction log entry {entry}: operation {cancel} changed it after operation {logged}; undo operation {cancel} first"
            )),
            "{}",
            out.stderr
        );
        assert_eq!(ws.content_hash(), before);
    });
}

#[test]
fn one_operation_shows_every_record_it_changed() {
    each_backend(|ws| {
        ws.ok(&["-q", "demo"]);
        ws.ok(&["eval", r#"contact_update("CT000012", #{city: "Bergen"})"#]);
        let op = last_operation(ws);
        let out = ws.run(&["history", &op.to_string()]);
        assert!(out.success, "{}", out.stderr);
        assert!(
            out.stdout.starts_with(&format!("operation {op}: "))
                && out.stdout.contains("~1 contacts"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("contact CT000012"), "{}", out.stdout);
        assert!(out.stdout.contains("city: "), "{}", out.stdout);
    });
}

#[test]
fn erasure_needs_yes_and_leaves_no_trace_of_the_person() {
    each_backend(|ws| {
        ws.ok(&["-q", "demo"]);
        ws.ok(&[
            "eval",
            r#"log_interaction(#{contact: "CT000012", template: "OUTGOING", salesperson: "JO", description: "x"})"#,
        ]);
        let name = ws.ok(&["eval", r#"contact("CT000012").name"#]);
        let name = name.trim().trim_matches('"').to_string();
        let refused = ws.run(&["erase", "CT000012"]);
        assert!(!refused.success);
        assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
        assert_eq!(
            ws.ok(&["eval", r#"contact("CT000012") != ()"#]).trim(),
            "true"
        );
        ws.ok(&["erase", "CT000012", "--yes"]);
        assert_eq!(
            ws.ok(&["eval", r#"contact("CT000012") == ()"#]).trim(),
            "true"
        );
        assert!(ws.ok(&["check"]).starts_with("ok:"));
        let history = ws.ok(&["--format", "json", "history", "--record", "CT000012"]);
        assert_eq!(history.trim(), "[]", "{history}");
        let all = ws.ok(&[
            "--format",
            "json",
            "eval",
            "let all = []; for o in history().list() { all.push(operation(o.no)); } all",
        ]);
        assert!(
            !all.contains("CT000012"),
            "the history still names the contact: {}",
            all.find("CT000012")
                .map_or("", |at| &all[at.saturating_sub(300)..at + 50])
        );
        assert!(!all.contains(&name), "the history still names {name}");
        let receipt = ws.ok(&["--format", "csv", "history", "--kind", "erase"]);
        assert_eq!(receipt.lines().count(), 2, "{receipt}");
    });
}

#[test]
fn undo_through_a_server_needs_a_full_user() {
    each_backend(|ws| {
        ws.ok(&["-q", "demo"]);
        let city = ws.ok(&["eval", r#"contact("CT000012").city"#]);
        let server = ws.serve(&[]);
        let owner = server.client(Some(&server.owner_token()));
        let reply: rapport::api::UserReply = owner
            .post(
                "/users",
                &serde_json::json!({"name": "reader", "role": "read"}),
            )
            .expect("a read user");
        let through = ws.through(&server);
        through.ok(&["eval", r#"contact_update("CT000012", #{city: "Bergen"})"#]);
        let op: u64 = through
            .ok(&["eval", r#"history().order_by("no", "desc").first().no"#])
            .trim()
            .parse()
            .unwrap();
        let denied = ws.run_plain(&[
            "--server",
            &server.url,
            "--token",
            &reply.token.expect("a token"),
            "undo",
            &op.to_string(),
        ]);
        assert!(!denied.success);
        assert!(
            denied.stderr.contains("may not write history"),
            "{}",
            denied.stderr
        );
        let out = through.run(&["undo", &op.to_string()]);
        assert!(out.success, "{}", out.stderr);
        assert_eq!(through.ok(&["eval", r#"contact("CT000012").city"#]), city);
        let kinds = through.ok(&["--format", "csv", "history", "--limit", "2"]);
        assert!(
            kinds.lines().nth(1).is_some_and(|l| l.contains(",undo,")),
            "{kinds}"
        );
    });
}

#[test]
fn the_history_keeps_no_secret_given_on_the_command_line() {
    // redb only: a password in a PostgreSQL URL is the other half (unit-tested in the binary).
    let ws = Workspace::new();
    ws.ok(&["-q", "demo"]);
    ws.ok(&[
        "eval",
        r#"contact_update("CT000012", #{city: town})"#,
        "--arg",
        "town=hunter2town",
    ]);
    let all = ws.ok(&["--format", "json", "eval", "history().list()"]);
    assert!(all.contains("--arg"), "{all}");
    assert!(!all.contains("town=hunter2town"), "{all}");
    // A file name that is not UTF-8 is kept as it can be: the run goes on.
    let name = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"caf\xe9.rhai");
    let path = ws.db().with_file_name(name);
    std::fs::write(&path, r#"contact_update("CT000012", #{city: "Paris"})"#).unwrap();
    let out = std::process::Command::new(rapport_tests::rapport_bin())
        .arg("--db")
        .arg(ws.db())
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn history_says_when_it_shows_only_the_newest_and_limit_zero_shows_all() {
    let ws = Workspace::new();
    ws.ok(&["-q", "demo"]);
    for city in ["Bergen", "Narvik", "Tromso"] {
        ws.ok(&[
            "eval",
            &format!(r#"contact_update("CT000012", #{{city: "{city}"}})"#),
        ]);
    }
    let two = ws.ok(&["--format", "csv", "history", "--limit", "2"]);
    assert_eq!(two.lines().count(), 3, "{two}");
    let out = ws.run(&["--format", "csv", "history", "--limit", "2"]);
    assert!(out.stderr.contains("--limit 0 all"), "{}", out.stderr);
    let all = ws.ok(&["--format", "csv", "history", "--limit", "0"]);
    assert_eq!(
        all.lines().count(),
        5,
        "a header, the demo and three changes: {all}"
    );
    let some = ws.run(&[
        "--format", "csv", "history", "--record", "CT000012", "--limit", "0",
    ]);
    assert!(!some.stderr.contains("--limit"), "{}", some.stderr);
}

#[test]
fn a_command_that_fails_says_why_without_showing_its_script() {
    let ws = Workspace::new();
    ws.ok(&["-q", "demo"]);
    let out = ws.run(&["undo", "99999"]);
    assert!(!out.success);
    assert_eq!(
        out.stderr.trim(),
        "error: operation 99999 does not exist; rapport history (or history()) lists the operations and their numbers"
    );
}

#[test]
fn a_repl_input_is_named_by_the_input_in_the_history() {
    let ws = Workspace::new();
    ws.ok(&["-q", "demo"]);
    let out = ws.run_with_input(&[], "contact_update(\"CT000012\", #{city: \"Bergen\"})\n");
    assert!(out.success, "{}", out.stderr);
    let what = ws.ok(&["eval", r#"history().order_by("no", "desc").first().what"#]);
    assert_eq!(
        what.trim(),
        r#"contact_update("CT000012", #{city: "Bergen"})"#
    );
}
