//! Nothing lost (RELIABILITY.md), as a user meets it: two rapport processes on one database,
//! backups while the database is in use, hostile scripts and plugins, and the bad-input corpus
//! under tests/corpus, each run through the real binary. Each test runs on a redb file and on
//! PostgreSQL (`each_backend`; skipped, saying so, when `RAPPORT_TEST_POSTGRES` names no
//! server), except those marked `redb only`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rapport_engine::Database;
use rapport_tests::{Workspace, each_backend, rapport_bin};

/// The fingerprint of the database `db` names: a redb file, or a PostgreSQL URL
/// ([`Workspace::db_arg`]).
fn fingerprint(db: impl AsRef<Path>) -> rapport_engine::Fingerprint {
    Database::open(db)
        .expect("the database opens")
        .fingerprint()
        .expect("the database reads")
}

/// `rapport --db <db> check` passes.
fn check_passes(db: &Path) {
    let out = Command::new(rapport_bin())
        .arg("--db")
        .arg(db)
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check failed on {}: {}",
        db.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

// redb only: the file lock between processes is what it checks (PostgreSQL takes many writers)
#[test]
fn a_second_rapport_is_told_the_database_is_in_use_while_the_first_backs_it_up() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let mut repl = Command::new(rapport_bin())
        .arg("--db")
        .arg(ws.db())
        .env("XDG_DATA_HOME", ws.db().parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The greeting (on stderr: piped, stdout carries results alone) says the REPL has the
    // database open.
    let stdout = BufReader::new(repl.stdout.take().unwrap());
    let mut stderr = BufReader::new(repl.stderr.take().unwrap());
    let mut greeting = String::new();
    stderr.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("rapport:"), "{greeting}");

    let second = ws.run(&["eval", "contacts().count()"]);
    assert!(!second.success);
    assert!(
        second.stderr.contains("is in use by another process"),
        "{}",
        second.stderr
    );

    let backup = ws.db().with_file_name("backup.redb");
    let mut stdin = repl.stdin.take().unwrap();
    writeln!(
        stdin,
        "log_interaction(#{{contact: \"CT000002\", template: \"OUTGOING\"}})\n:backup {}\n:quit",
        backup.display()
    )
    .unwrap();
    drop(stdin);
    let mut rest = String::new();
    for line in stdout.lines() {
        rest.push_str(&line.unwrap());
        rest.push('\n');
    }
    assert!(repl.wait().unwrap().success());
    assert!(rest.contains("backed up"), "{rest}");
    // The backup holds the REPL's commit, and restores to the same database.
    check_passes(&backup);
    assert_eq!(fingerprint(&backup), fingerprint(ws.db()));
}

#[test]
fn rapport_backup_makes_a_copy_that_is_the_same_database() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let backup = ws.path().join("copy.redb");
        let said = ws.ok(&["backup", backup.to_str().unwrap()]);
        assert!(said.starts_with("backed up "), "{said}");
        check_passes(&backup);
        assert_eq!(fingerprint(&backup), fingerprint(ws.db_arg()));
        // A second backup to the same name is refused, and the first stays.
        let again = ws.run(&["backup", backup.to_str().unwrap()]);
        assert!(!again.success);
        assert!(again.stderr.contains("exists"), "{}", again.stderr);
        check_passes(&backup);
    });
}

#[test]
fn hostile_scripts_are_stopped_with_a_clear_message_change_nothing_and_the_repl_goes_on() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        let inputs = [
            ("loop {}", "operations"),
            ("fn down(n) { down(n + 1) } down(0)", "levels"),
            ("let s = \"x\"; loop { s += s; }", "limit"),
            ("let a = []; loop { a.push(a.len()); }", "limit"),
            (
                "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
                "limit",
            ),
            (
                "contacts().each(|c| { log_interaction(#{contact: c.no, template: \"OUTGOING\"}); if c.no == \"CT000040\" { throw \"failed at CT000040\" } })",
                "failed at CT000040",
            ),
        ];
        let mut session = String::new();
        for (input, _) in inputs {
            session.push_str(input);
            session.push('\n');
        }
        session.push_str("contacts().count()\n");
        let run = ws.run_with_input(
            &[
                "repl",
                "--max-operations",
                "1000000",
                "--max-memory-mib",
                "256",
            ],
            &session,
        );
        // Piped input whose inputs failed ends with a failure status; the REPL went on.
        assert!(!run.success, "{}", run.stderr);
        let all = format!("{}{}", run.stdout, run.stderr);
        for (input, says) in inputs {
            assert!(all.contains(says), "{input}: no \"{says}\" in\n{all}");
        }
        assert_eq!(
            all.matches("error").count(),
            inputs.len(),
            "one error per hostile input:\n{all}"
        );
        // The REPL still answers after all of them.
        assert!(run.stdout.trim_end().ends_with("50"), "{}", run.stdout);
        assert_eq!(
            ws.content_hash(),
            before,
            "a stopped script changed the database"
        );
    });
}

#[test]
fn a_plugin_hook_that_never_ends_is_stopped_and_its_operation_changes_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let folder = ws.plugin(
            "plugins",
            "stuck",
            "name = \"stuck\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"after_log\"]\n",
            "fn after_log(e) { loop {} }\n",
        );
        ws.ok(&["plugins", "folder", folder.to_str().unwrap()]);
        ws.ok(&["plugins", "enable", "stuck"]);
        let before = ws.content_hash();
        let run = ws.run(&[
            "eval",
            "log_interaction(#{contact: \"CT000002\", template: \"OUTGOING\"})",
        ]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("stuck") && run.stderr.contains("limit"),
            "{}",
            run.stderr
        );
        assert_eq!(ws.content_hash(), before);
    });
}

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Every file of the corpus fails with an error that says what is wrong, and changes nothing.
fn each_is_refused(ws: &Workspace, kind: &str, command: &[&str]) -> usize {
    ws.ok(&["demo"]);
    let before = ws.content_hash();
    let files = corpus(kind);
    for file in &files {
        let mut args = command.to_vec();
        args.push(file.to_str().unwrap());
        let run = ws.run(&args);
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(!run.success, "{name} was accepted:\n{}", run.stdout);
        assert!(
            run.stderr.starts_with("error") && run.stderr.len() > 20,
            "{name}: unclear error: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "{name}: rapport panicked: {}",
            run.stderr
        );
        assert_eq!(ws.content_hash(), before, "{name} changed the database");
    }
    files.len()
}

#[test]
fn every_malformed_csv_of_the_corpus_is_refused_and_imports_nothing() {
    each_backend(|ws| assert!(each_is_refused(ws, "csv", &["import", "contacts"]) >= 8));
}

#[test]
fn every_bad_script_of_the_corpus_is_refused_and_writes_nothing() {
    each_backend(|ws| assert!(each_is_refused(ws, "scripts", &["run"]) >= 10));
}
