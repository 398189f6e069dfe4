//! The history in the language: a run is one operation named by its script; undo, its dry run
//! and its refusal; a caught failure leaves no trace; erasure runs alone; plugins that wrote are
//! named; roles and capabilities hold.

use std::path::Path;

use rapport_engine::Database;
use rapport_engine::model::Role;
use rapport_engine::ops::PluginSettings;
use rapport_script::{Caller, Limits, RunOptions, ScriptError, ScriptHost, plugin};
use rapport_testkit::*;
use rhai::{Array, Dynamic, Map};

fn run(host: &ScriptHost, db: &Database, src: &str) -> Result<Dynamic, ScriptError> {
    host.run(db, "cleanup.rhai", src, RunOptions::default())
        .map(|o| o.value.into_dynamic())
}

fn ok(host: &ScriptHost, db: &Database, src: &str) -> Dynamic {
    run(host, db, src).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a script for its effect; it must succeed.
fn exec(host: &ScriptHost, db: &Database, src: &str) {
    let _ = ok(host, db, src);
}

fn host() -> ScriptHost {
    ScriptHost::new(Limits::user())
}

fn int(v: &Dynamic) -> i64 {
    v.as_int().unwrap()
}

fn field(map: &Dynamic, key: &str) -> Dynamic {
    map.clone().cast::<Map>().get(key).cloned().unwrap()
}

fn last_operation(h: &ScriptHost, db: &Database) -> Dynamic {
    ok(h, db, "history().order_by(\"no\", \"desc\").first()")
}

#[each_backend]
fn a_script_run_is_one_operation_named_by_the_script() {
    let db = db();
    let h = host();
    let src = r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"});
log_interaction(#{contact: "P2", template: "CALL", description: "b"})"#;
    exec(&h, &db, src);
    let op = last_operation(&h, &db);
    assert_eq!(field(&op, "kind").into_string().unwrap(), "script");
    assert_eq!(field(&op, "what").into_string().unwrap(), "cleanup.rhai");
    assert_eq!(field(&op, "script").into_string().unwrap(), src);
    assert_eq!(field(&op, "user").into_string().unwrap(), "TESTER");
    assert_eq!(field(&op, "changes").into_string().unwrap(), "+2 entries");
}

#[each_backend]
fn a_run_that_only_reads_leaves_no_operation() {
    let db = db();
    let h = host();
    let before = int(&ok(&h, &db, "history().count()"));
    exec(&h, &db, "contacts().count()");
    exec(&h, &db, "cancel(entries(), #{dry_run: true})");
    assert_eq!(int(&ok(&h, &db, "history().count()")), before);
}

#[each_backend]
fn a_caught_failure_leaves_no_trace_in_the_operation() {
    let db = db();
    let h = host();
    exec(
        &h,
        &db,
        r#"try { segment_create(#{description: "x", salesperson: "NOBODY"}); } catch (e) { }
log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    );
    let op = last_operation(&h, &db);
    assert_eq!(field(&op, "changes").into_string().unwrap(), "+1 entries");
}

#[each_backend]
fn undo_in_a_script_puts_the_records_back_and_a_dry_run_keeps_nothing() {
    let db = db();
    let h = host();
    let no = int(&ok(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    ));
    let op = int(&field(&last_operation(&h, &db), "no"));
    let dry = ok(&h, &db, &format!("undo({op}, #{{dry_run: true}})"));
    assert!(field(&dry, "dry_run").as_bool().unwrap());
    let records: Array = field(&dry, "records").cast();
    assert_eq!(records.len(), 1);
    assert_eq!(
        field(&records[0], "record").into_string().unwrap(),
        format!("interaction log entry {no}")
    );
    assert_eq!(
        field(&records[0], "change").into_string().unwrap(),
        "removed"
    );
    assert!(
        ok(&h, &db, &format!("entry({no})")).is::<Map>(),
        "the dry run kept its undo"
    );
    exec(&h, &db, &format!("undo({op})"));
    assert!(ok(&h, &db, &format!("entry({no})")).is_unit());
    let undo = last_operation(&h, &db);
    let undoes: Array = field(&undo, "undoes").cast();
    assert_eq!(undoes.iter().map(int).collect::<Vec<_>>(), vec![op]);
}

#[each_backend]
fn a_refused_undo_is_an_error_of_kind_changed_since() {
    let db = db();
    let h = host();
    let no = int(&ok(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    ));
    let op = int(&field(&last_operation(&h, &db), "no"));
    exec(&h, &db, &format!("cancel({no})"));
    let kind = ok(
        &h,
        &db,
        &format!("let k = \"undone\"; try {{ undo({op}); }} catch (e) {{ k = e.kind; }} k"),
    );
    assert_eq!(kind.into_string().unwrap(), "changed_since");
}

#[each_backend]
fn history_of_a_contact_lists_its_entries_changes_newest_first() {
    let db = db();
    let h = host();
    let no = int(&ok(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    ));
    exec(&h, &db, &format!("cancel({no})"));
    let rows: Array = ok(&h, &db, "history_of(\"P1\")").cast();
    assert!(rows.len() >= 2);
    assert_eq!(
        field(&rows[0], "fields").into_string().unwrap(),
        "canceled: false → true"
    );
    assert_eq!(field(&rows[1], "change").into_string().unwrap(), "added");
    let other: Array = ok(&h, &db, "history_of(\"C2\")").cast();
    assert!(
        other
            .iter()
            .all(|r| field(r, "record").into_string().unwrap()
                != format!("interaction log entry {no}")),
        "another contact's history lists P1's entry"
    );
}

#[each_backend]
fn erasure_runs_alone() {
    let db = db();
    let h = host();
    let err = run(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"}); erase_contact("P2")"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("an erasure runs alone"), "{err}");
    let err = run(
        &h,
        &db,
        r#"erase_contact("P2"); log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("erasure is the last write of its run"),
        "{err}"
    );
    assert!(
        ok(&h, &db, "contact(\"P2\")").is::<Map>(),
        "a refused run erased"
    );
    let receipt = ok(&h, &db, "erase_contact(\"P2\")");
    assert_eq!(int(&field(&receipt, "entries")), 0);
    assert!(ok(&h, &db, "contact(\"P2\")").is_unit());
    let op = last_operation(&h, &db);
    assert_eq!(field(&op, "kind").into_string().unwrap(), "erase");
    assert_eq!(field(&op, "script").into_string().unwrap(), "");
}

#[each_backend]
fn a_read_only_user_reads_the_history_but_cannot_undo() {
    let db = db();
    let h = host();
    exec(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    );
    let op = int(&field(&last_operation(&h, &db), "no"));
    let mut reader = host();
    reader.set_caller(Caller {
        user: Some("viewer".into()),
        role: Role::Read,
        file_access: false,
    });
    assert!(int(&ok(&reader, &db, "history().count()")) > 0);
    let err = run(&reader, &db, &format!("undo({op})")).unwrap_err();
    assert!(err.to_string().contains("may not write history"), "{err}");
}

fn plugin_dir(root: &Path, name: &str, manifest: &str, source: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    std::fs::write(dir.join("main.rhai"), source).unwrap();
}

#[each_backend]
fn an_operation_names_the_plugins_whose_hooks_wrote() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "follow_up",
        "name = \"follow_up\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"after_log\"]\n[capabilities]\nread = [\"entries\"]\nwrite = [\"entries\"]\n",
        "fn after_log(e) { if e.description != \"follow-up\" { log_interaction(#{contact: e.contact_no, template: \"CALL\", description: \"follow-up\"}); } }",
    );
    db.write(|tx| {
        tx.plugin_settings_set(&PluginSettings {
            enabled: vec!["follow_up".into()],
            folders: vec![],
        })
    })
    .unwrap();
    let (sources, problems) = plugin::from_folder(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    let mut h = host();
    h.load_plugins(&db, &sources).unwrap();
    exec(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a"})"#,
    );
    let op = last_operation(&h, &db);
    let plugins: Array = field(&op, "plugins").cast();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].clone().into_string().unwrap(), "follow_up");
    assert_eq!(field(&op, "changes").into_string().unwrap(), "+2 entries");
}

#[each_backend]
fn records_in_the_history_read_as_they_do_elsewhere() {
    let db = db();
    let h = host();
    let no = int(&ok(
        &h,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "a", cost: 12.5})"#,
    ));
    let same = ok(
        &h,
        &db,
        &format!(
            "let r = history_of(\"entry {no}\")[0]; r.after.cost == entry({no}).cost && r.after.correspondence == entry({no}).correspondence"
        ),
    );
    assert!(same.as_bool().unwrap());
}
