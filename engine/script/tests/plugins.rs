//! Plugins: hooks fire in order inside the operation's transaction, may veto or amend, are held
//! to their capabilities and their own limits; a broken plugin is reported and left out;
//! functions are namespaced; and the bundled plugins do what they say.

use std::path::Path;

use rapport_engine::Database;
use rapport_engine::ops::PluginSettings;
use rapport_script::plugin::{self};
use rapport_script::{Limits, RunOptions, ScriptError, ScriptHost};
use rapport_testkit::*;
use rhai::{Dynamic, Map};

/// Writes a plugin folder.
fn plugin_dir(root: &Path, name: &str, manifest: &str, source: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    std::fs::write(dir.join("main.rhai"), source).unwrap();
}

fn manifest(name: &str, hooks: &[&str], read: &[&str], write: &[&str]) -> String {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "name = \"{name}\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [{}]\n[capabilities]\nread = [{}]\nwrite = [{}]\n",
        list(hooks),
        list(read),
        list(write)
    )
}

fn enable(db: &Database, names: &[&str]) {
    db.write(|tx| {
        tx.plugin_settings_set(&PluginSettings {
            enabled: names.iter().map(|s| (*s).to_string()).collect(),
            folders: vec![],
        })
    })
    .unwrap();
}

/// A host with the plugins in `root` plus the bundled ones.
fn host(db: &Database, root: &Path) -> (ScriptHost, rapport_script::PluginReport) {
    let (mut sources, problems) = plugin::from_folder(root);
    assert!(problems.is_empty(), "{problems:?}");
    sources.extend(plugin::bundled());
    let mut host = ScriptHost::new(Limits::user());
    let report = host.load_plugins(db, &sources).unwrap();
    (host, report)
}

/// A database (the test kit's) with one plugin, `name`, written into a folder and enabled, and
/// a host with it (and the bundled ones); the folder lives as long as the `TempDir`.
fn one_plugin(
    name: &str,
    manifest: &str,
    source: &str,
) -> (Database, tempfile::TempDir, ScriptHost) {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(dir.path(), name, manifest, source);
    enable(&db, &[name]);
    let (host, _) = host(&db, dir.path());
    (db, dir, host)
}

/// Runs a script for its effect; it must succeed.
fn exec(host: &ScriptHost, db: &Database, src: &str) {
    if let Err(e) = run(host, db, src) {
        panic!("{e}");
    }
}

fn run(host: &ScriptHost, db: &Database, src: &str) -> Result<Dynamic, ScriptError> {
    host.run(db, "test", src, RunOptions::default())
        .map(|o| o.value.into_dynamic())
}

#[each_backend]
fn hooks_fire_in_order_of_the_enabled_list() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    for (name, tag) in [("first", "A"), ("second", "B")] {
        plugin_dir(
            dir.path(),
            name,
            &manifest(name, &["before_log"], &[], &[]),
            &format!("fn before_log(d) {{ d.description += \"{tag}\"; d }}"),
        );
    }
    enable(&db, &["second", "first"]);
    let (host, _) = host(&db, dir.path());
    let no = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", description: "x"})"#,
    )
    .unwrap();
    assert_eq!(
        entry(&db, no.as_int().unwrap() as u64).description,
        "xBA",
        "second, then first, each amending the draft"
    );
}

#[each_backend]
fn a_veto_leaves_nothing_written_and_names_the_plugin_file_line_and_column() {
    let (db, dir, host) = one_plugin(
        "gate",
        &manifest("gate", &["before_log"], &[], &[]),
        "fn before_log(d) {\n  if d.template == \"CALL\" {\n    throw \"no calls on Sundays\";\n  }\n  d\n}",
    );
    let before = db.fingerprint().unwrap();
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert_eq!(before, db.fingerprint().unwrap());
    let file = dir.path().join("gate/main.rhai");
    assert!(
        err.message.starts_with(&format!(
            "plugin gate ({}:3:5), hook before_log: no calls on Sundays",
            file.display()
        )),
        "{err}"
    );
}

#[each_backend]
fn an_after_hook_error_undoes_the_operation_even_when_the_script_catches_it() {
    let (db, _dir, host) = one_plugin(
        "audit",
        &manifest("audit", &["after_log"], &[], &[]),
        "fn after_log(e) { if e.cost > 5.0 { throw \"too expensive\"; } }",
    );
    exec(
        &host,
        &db,
        r#"try { log_interaction(#{contact: "P1", template: "BUS"}); } catch {} log_interaction(#{contact: "P1", template: "CALL"})"#,
    );
    assert_eq!(
        db.read(|v| v.last_entry_no()).unwrap(),
        1,
        "the BUS entry (cost 8) was undone with its number"
    );
    assert_eq!(entry(&db, 1).template, "CALL");
    assert_consistent(&db);
}

#[each_backend]
fn a_hook_may_write_inside_the_transaction() {
    let (db, _dir, host) = one_plugin(
        "echo",
        &manifest("echo", &["after_log"], &[], &["entries"]),
        "fn after_log(e) { if e.template == \"INCOME\" { log_interaction(#{contact: e.contact_no, template: \"CALL\", description: \"Call back\"}); } }",
    );
    exec(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "INCOME"})"#,
    );
    assert_eq!(
        entry(&db, 2).description,
        "Call back",
        "the hook's own log does not fire hooks again"
    );
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 2);
}

#[each_backend]
fn a_call_outside_the_capabilities_fails_naming_the_missing_capability() {
    let (db, _dir, host) = one_plugin(
        "nosy",
        &manifest("nosy", &["before_log"], &["entries"], &[]),
        "fn before_log(d) { contact_update(d.contact_no, #{city: \"x\"}); d }",
    );
    let before = db.fingerprint().unwrap();
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(
        err.message.contains("plugin nosy (")
            && err.message.contains("hook before_log: it may not write contacts; add \"contacts\" to capabilities.write in its plugin.toml"),
        "{err}"
    );
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn a_hook_has_its_own_limits() {
    let (db, _dir, host) = one_plugin(
        "spin",
        &manifest("spin", &["before_log"], &[], &[]),
        "fn before_log(d) { loop { } }",
    );
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(
        err.message.contains("plugin spin") && err.message.contains("limit of 1000000 operations"),
        "{err}"
    );
}

#[each_backend]
fn a_broken_plugin_is_reported_with_its_file_and_position_and_the_rest_load() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "broken",
        &manifest("broken", &[], &[], &[]),
        "fn f() {\n  let x = ;\n}",
    );
    plugin_dir(
        dir.path(),
        "fine",
        &manifest("fine", &[], &[], &[]),
        "fn hello() { \"hello\" }",
    );
    plugin_dir(
        dir.path(),
        "badhook",
        &manifest("badhook", &["before_log"], &[], &[]),
        "fn other(d) { d }",
    );
    enable(&db, &["broken", "fine", "badhook"]);
    let (host, report) = host(&db, dir.path());
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    let broken = problems
        .iter()
        .find(|p| p.starts_with("plugin broken ("))
        .expect("broken is reported");
    assert!(
        broken.contains("broken/main.rhai:2:11): Unexpected ';'"),
        "{broken}"
    );
    let badhook = problems
        .iter()
        .find(|p| p.starts_with("plugin badhook ("))
        .expect("badhook is reported");
    assert!(
        badhook.ends_with("its manifest names the hook before_log, but it has no fn before_log(x)"),
        "{badhook}"
    );
    assert_eq!(
        run(&host, &db, "fine::hello()")
            .unwrap()
            .into_string()
            .unwrap(),
        "hello"
    );
}

#[each_backend]
fn plugin_functions_are_namespaced_and_only_there_when_enabled() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "tools",
        &manifest("tools", &[], &[], &[]),
        "fn answer() { 42 }",
    );
    let (host, report) = host(&db, dir.path());
    assert!(
        report
            .plugins
            .iter()
            .any(|p| p.manifest.name == "tools" && !p.enabled)
    );
    assert!(run(&host, &db, "tools::answer()").is_err());
    enable(&db, &["tools"]);
    let (host, _) = host_again(&db, dir.path());
    assert_eq!(
        run(&host, &db, "tools::answer()")
            .unwrap()
            .as_int()
            .unwrap(),
        42
    );
}

fn host_again(db: &Database, root: &Path) -> (ScriptHost, rapport_script::PluginReport) {
    host(db, root)
}

// ---- the bundled plugins ----------------------------------------------------------------------

fn demo_with(names: &[&str]) -> (Database, ScriptHost) {
    let db = empty_db();
    rapport_script::demo::load(&db).unwrap();
    enable(&db, names);
    let mut host = ScriptHost::new(Limits::user());
    let report = host.load_plugins(&db, &plugin::bundled()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    (db, host)
}

fn map(v: Dynamic) -> Map {
    v.try_cast::<Map>().unwrap()
}

#[each_backend]
fn document_rules_skip_statements_for_contacts_who_want_no_letters() {
    let (db, host) = demo_with(&["document_rules"]);
    exec(
        &host,
        &db,
        r#"contact_update("CT000001", #{no_letters: true})"#,
    );
    let out = map(run(
        &host,
        &db,
        r#"record_document(#{type: "sales_statement", no: "ST1", customer: "10000"})"#,
    )
    .unwrap());
    assert_eq!(
        out["reason"].clone().into_string().unwrap(),
        "not recorded: contact CT000001 asked for no letters"
    );
    let out = map(run(
        &host,
        &db,
        r#"record_document(#{type: "sales_statement", no: "ST2", customer: "20000"})"#,
    )
    .unwrap());
    assert!(out["recorded"].as_bool().unwrap());
}

#[each_backend]
fn document_rules_record_to_the_person_named_on_the_document() {
    let (db, host) = demo_with(&["document_rules"]);
    let out = map(run(&host, &db, r#"record_document(#{type: "sales_invoice", no: "I1", customer: "10000", person: "CT000003"})"#).unwrap());
    let e = entry(&db, out["entry_no"].as_int().unwrap() as u64);
    assert_eq!(
        (e.contact_no.as_str(), e.contact_company_no.as_str()),
        ("CT000003", "CT000001")
    );
}

#[each_backend]
fn document_rules_add_a_postponed_follow_up_call_for_a_large_printed_quote() {
    let (db, host) = demo_with(&["document_rules"]);
    let before = db.read(|v| v.last_entry_no()).unwrap();
    exec(
        &host,
        &db,
        r#"record_document(#{type: "sales_quote", no: "Q9", contact: "CT000002", amount: 25000})"#,
    );
    exec(
        &host,
        &db,
        r#"record_document(#{type: "sales_quote", no: "Q10", contact: "CT000002", amount: 500})"#,
    );
    let follow_up = entry(&db, before + 2);
    assert_eq!(
        (follow_up.template.as_str(), follow_up.postponed),
        ("OUTGOING", true)
    );
    assert_eq!(follow_up.description, "Follow up on quote Q9");
    assert_eq!(
        db.read(|v| v.last_entry_no()).unwrap(),
        before + 3,
        "the small quote got no follow-up"
    );
}

#[each_backend]
fn retention_lists_then_purges_canceled_entries_older_than_n_days() {
    let (db, host) = demo_with(&["retention"]);
    exec(
        &host,
        &db,
        "cancel(entries().filter(#{template: \"OUTGOING\"}))",
    );
    let dry = map(run(&host, &db, "retention::purge_older_than(10)").unwrap());
    let would = dry["count"].as_int().unwrap();
    assert!(
        would > 0 && would < 10,
        "only the older canceled calls: {would}"
    );
    let done = map(run(&host, &db, "retention::purge_older_than(10, true)").unwrap());
    assert_eq!(done["deleted"].as_int().unwrap(), would);
    assert_consistent(&db);
}

#[each_backend]
fn duplicates_finds_contacts_alike_by_name_or_email() {
    let (db, host) = demo_with(&["duplicates"]);
    exec(
        &host,
        &db,
        r#"contact_create(#{name: "the cannon group, plc"}); contact_create(#{name: "Someone", email: "ANNA.BERG@example.com"})"#,
    );
    let groups = run(&host, &db, "duplicates::find()")
        .unwrap()
        .into_array()
        .unwrap();
    let text = format!("{groups:?}");
    assert!(
        text.contains("CT000001") && text.contains("CT000051"),
        "{text}"
    );
    assert!(text.contains("email:anna.berg@example.com"), "{text}");
}

#[each_backend]
fn a_plugin_has_no_file_access() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "x").unwrap();
    let source = format!(
        "fn before_log(d) {{ template_attach(\"BUS\", \"ENU\", \"{}\"); d }}",
        secret.display()
    );
    plugin_dir(
        dir.path(),
        "reader",
        &manifest("reader", &["before_log"], &[], &["catalogue"]),
        &source,
    );
    enable(&db, &["reader"]);
    let (host, _) = host(&db, dir.path());
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(err.message.contains("plugins have no file access"), "{err}");
}

#[each_backend]
fn before_purge_sees_a_purge_without_a_filter_too() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    db.write(|tx| tx.set_entries_canceled(&[1], rapport_engine::ops::CancelMode::Cancel, false))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "keep",
        &manifest("keep", &["before_purge"], &[], &[]),
        "fn before_purge(f) { throw \"nothing is purged here\"; }",
    );
    enable(&db, &["keep"]);
    let (host, _) = host(&db, dir.path());
    for src in ["purge_canceled()", "purge_canceled(#{})"] {
        let err = run(&host, &db, src).unwrap_err();
        assert!(
            err.message.contains("nothing is purged here"),
            "{src}: {err}"
        );
    }
    assert!(db.read(|v| v.entry(1)).unwrap().is_some());
}

#[test]
fn a_bad_manifest_is_reported_at_the_manifest_file_whatever_the_main_file_is_called() {
    let db = db();
    let source = plugin::PluginSource {
        origin: "folder/odd".into(),
        manifest_file: "folder/odd/plugin.toml".into(),
        manifest: "name = \"odd\"\nversion = \"1\"\nrequires = \"0.1\"\nmain = \"lib.rhai\"\nhooks = [\"before_lunch\"]\n".into(),
        file: "folder/odd/lib.rhai".into(),
        source: "fn f() { 1 }".into(),
        tests: vec![],
    };
    let mut host = ScriptHost::new(Limits::user());
    let report = host.load_plugins(&db, &[source]).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].file, "folder/odd/plugin.toml");
    assert!(report.problems[0].message.contains("before_lunch"));
}

/// A script that makes one entry on each of the four paths: manual (1), a segment of P1 (2),
/// a recorded invoice for customer 10000 → C1 (3), a postponed call (4) resumed.
fn four_paths(db: &Database, host: &ScriptHost) {
    let segment = segment_of(db, "BUS", &["P1"]);
    exec(
        host,
        db,
        &format!(
            r#"log_interaction(#{{contact: "P1", template: "BUS"}});
               segment("{segment}").log();
               record_document(#{{type: "sales_invoice", no: "I1", customer: "10000"}});
               let n = log_interaction(#{{contact: "P2", template: "CALL", postponed: true}});
               resume_interaction(n, #{{}});"#
        ),
    );
}

#[each_backend]
fn before_log_sees_every_new_entry_whole_with_the_path_that_made_it() {
    let (db, _dir, host) = one_plugin(
        "stamp",
        &manifest("stamp", &["before_log"], &[], &[]),
        "fn before_log(d) { d.description = `${d.source} ${d.cost} ${d.duration} ${d.salesperson} ${d.group}`; d }",
    );
    four_paths(&db, &host);
    let descriptions: Vec<_> = (1..=4).map(|n| entry(&db, n).description).collect();
    assert_eq!(
        descriptions,
        [
            "manual 8.0 30.0 JO LETTER",
            "segment 8.0 30.0 JO LETTER",
            "document 8.0 1.0 JO SALES",
            "resume 1.0 15.0 PS PHONE",
        ],
        "every path, with the template's cost and duration and the contact's salesperson"
    );
    assert_consistent(&db);
}

#[each_backend]
fn after_log_sees_every_new_entry_with_the_path_that_made_it() {
    let (db, _dir, host) = one_plugin(
        "touches",
        &manifest("touches", &["after_log"], &[], &["contacts"]),
        "fn after_log(e) {
            let c = contact(e.contact_no);
            let n = if c.touches == () { 0 } else { c.touches };
            contact_update(e.contact_no, #{touches: n + 1, last_source: e.source});
        }",
    );
    exec(
        &host,
        &db,
        r#"field_define(#{record: "contact", name: "touches", type: "number"});
           field_define(#{record: "contact", name: "last_source", type: "text"});"#,
    );
    four_paths(&db, &host);
    let touches = run(
        &host,
        &db,
        r#"[contact("P1").touches, contact("C1").touches, contact("P2").touches, contact("P2").last_source]"#,
    )
    .unwrap();
    assert_eq!(
        touches.to_string(),
        "[2, 1, 2, \"resume\"]",
        "P1: manual and segment; C1: the invoice; P2: logged postponed, then resumed"
    );
}

#[each_backend]
fn an_amended_draft_is_checked_again_and_a_refusal_writes_nothing() {
    let (db, _dir, host) = one_plugin(
        "bad",
        &manifest("bad", &["before_log"], &[], &[]),
        "fn before_log(d) { if d.source == \"segment\" { d.salesperson = \"NOBODY\" } else { d.cost = -1 } d }",
    );
    let before = db.fingerprint().unwrap();
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "BUS"})"#,
    )
    .unwrap_err();
    assert!(
        err.message.contains("cost") && err.message.contains("below zero"),
        "{err}"
    );
    assert_eq!(before, db.fingerprint().unwrap());
    let segment = segment_of(&db, "BUS", &["P1"]);
    let before_segment = db.fingerprint().unwrap();
    let err = run(&host, &db, &format!(r#"segment("{segment}").log()"#)).unwrap_err();
    assert!(err.message.contains("NOBODY"), "{err}");
    assert_eq!(before_segment, db.fingerprint().unwrap());
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 0);
}

#[each_backend]
fn a_before_log_hook_may_not_change_what_the_entry_is() {
    let (db, _dir, host) = one_plugin(
        "mover",
        &manifest("mover", &["before_log"], &[], &[]),
        "fn before_log(d) { d.contact_no = \"P2\"; d }",
    );
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "BUS"})"#,
    )
    .unwrap_err();
    assert!(
        err.message.contains(
            "interaction for contact P1, as plugin mover's before_log hook left it: contact_no was changed, and a before_log hook may change only"
        ),
        "{err}"
    );
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 0);
}

#[each_backend]
fn a_veto_of_one_segment_line_logs_none_of_the_segment() {
    let (db, _dir, host) = one_plugin(
        "gate",
        &manifest("gate", &["before_log"], &[], &[]),
        "fn before_log(d) { if d.contact_no == \"P2\" { throw \"not P2\" } d }",
    );
    let segment = segment_of(&db, "BUS", &["P1", "P2"]);
    let before = db.fingerprint().unwrap();
    let err = run(&host, &db, &format!(r#"segment("{segment}").log()"#)).unwrap_err();
    assert!(
        err.message.contains(&format!(
            "segment {segment} line for contact P2: plugin gate"
        )),
        "the refusal says which line: {err}"
    );
    assert!(err.message.contains("not P2"), "{err}");
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn cancel_uncancel_and_toggle_count_the_entries_that_changed() {
    let db = db();
    let (host, _) = host(&db, tempfile::tempdir().unwrap().path());
    let counts = run(
        &host,
        &db,
        r#"for i in 0..3 { log_interaction(#{contact: "P1", template: "CALL"}); }
           cancel(1);
           let dry = cancel([1, 2], #{dry_run: true});
           [dry.count, cancel([1, 2]), cancel([1, 2]), uncancel([1, 3]), toggle_canceled([1, 2, 3])]"#,
    )
    .unwrap();
    // The toggle takes its flag from entry 1 (not canceled): 1 and 3 change, 2 was canceled.
    assert_eq!(counts.to_string(), "[1, 1, 0, 1, 2]");
}

#[test]
fn every_bundled_plugin_embeds_the_tests_of_its_folder_and_passes_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins");
    for source in plugin::bundled() {
        let name = plugin::Manifest::parse(&source.manifest).unwrap().name;
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join(&name).join("tests"))
            .unwrap_or_else(|e| panic!("plugins/{name}/tests: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| Path::new(f).extension().is_some_and(|x| x == "rhai"))
            .map(|f| format!("plugins/{name}/tests/{f}"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = source.tests.iter().map(|(f, _)| f.clone()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "plugin::bundled() lists {name}'s tests");
        for outcome in plugin::run_tests(&source, Limits::user()).unwrap() {
            assert!(
                outcome.failure.is_none(),
                "{}: {:?}",
                outcome.file,
                outcome.failure
            );
        }
    }
}

#[test]
fn a_plugin_lists_the_functions_scripts_can_call_with_their_doc_lines() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "kit",
        &manifest("kit", &["after_log"], &[], &[]),
        "/// Twice n.\nfn double(n) { helper(n) * 2 }\nprivate fn helper(n) { [1].map(|x| x * n)[0] }\nfn after_log(e) { }\n",
    );
    let (host, report) = host(&db, dir.path());
    let kit = report
        .plugins
        .iter()
        .find(|p| p.manifest.name == "kit")
        .unwrap();
    assert_eq!(
        kit.functions(),
        [("kit::double(n)".to_string(), "Twice n.".to_string())],
        "no hook, no private function, no closure"
    );
    assert!(host.plugin_functions().is_empty(), "kit is not enabled");
}

#[test]
fn an_assertion_fails_the_run_at_its_line_saying_both_values() {
    let db = db();
    let (host, _) = host(&db, tempfile::tempdir().unwrap().path());
    let err = run(
        &host,
        &db,
        "assert_eq(1 + 1, 2);\nassert_eq([1, \"a\"], [1, \"b\"]);",
    )
    .unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    assert!(
        err.message.contains(r#"expected [1,"b"], got [1,"a"]"#),
        "{err}"
    );
    let err = run(&host, &db, "assert(1 > 2, \"one is not more\")").unwrap_err();
    assert!(err.message.contains("one is not more"), "{err}");
    exec(&host, &db, "assert(true); assert_eq(8, 8.0)");
}

#[each_backend]
fn what_a_failing_hook_printed_comes_with_the_error() {
    let (db, _dir, host) = one_plugin(
        "chatty",
        &manifest("chatty", &["before_log"], &[], &[]),
        "fn before_log(d) { print(`checking ${d.contact_no}`); throw \"no\" }",
    );
    let err = run(
        &host,
        &db,
        r#"print("before"); log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert_eq!(err.printed.to_vec(), ["before", "checking P1"], "{err}");
}

#[each_backend]
fn a_hook_that_amends_a_document_entry_keeps_what_it_did_not_touch() {
    let (db, _dir, host) = one_plugin(
        "pricing",
        &manifest("pricing", &["before_log"], &[], &[]),
        "fn before_log(d) { d.cost = 99; d }",
    );
    // A document template without a description: its entry's description stays blank.
    exec(
        &host,
        &db,
        r#"template_define(#{code: "INV", group: "SALES", description: "", unit_cost: 8, unit_duration: 1, flow: "outbound", initiated_by: "us"});
           record_document(#{type: "sales_invoice", no: "I1", customer: "10000"})"#,
    );
    let e = entry(&db, 1);
    assert_eq!(
        (e.cost.to_string(), e.description.as_str()),
        ("99".to_string(), "")
    );
}

#[each_backend]
fn a_hook_that_changes_the_date_moves_the_comments_and_a_blank_subject_follows_the_description() {
    let (db, _dir, host) = one_plugin(
        "redate",
        &manifest("redate", &["before_log"], &[], &[]),
        r#"fn before_log(d) {
            if d.source == "resume" { d.comments.push("checked"); return d; }
            d.date = date("2026-01-05");
            d.description = "Amended";
            d
        }"#,
    );
    exec(
        &host,
        &db,
        r#"set_work_date(date("2026-03-01"));
           let n = log_interaction(#{contact: "P1", template: "CALL", comments: ["first"], postponed: true});
           set_work_date(date("2026-03-09"));
           resume_interaction(n, #{})"#,
    );
    let e = entry(&db, 1);
    assert_eq!(e.date, day("2026-01-05"));
    assert_eq!(
        (e.description.as_str(), e.subject.as_str()),
        ("Amended", "Amended")
    );
    let comments: Vec<_> = e
        .comments
        .iter()
        .map(|c| (c.date, c.text.as_str()))
        .collect();
    assert_eq!(
        comments,
        [(day("2026-01-05"), "first"), (day("2026-03-09"), "checked")],
        "the logged comment moved with the date; the one added on resuming has the work date"
    );
}

#[each_backend]
fn a_hook_that_privacy_blocks_the_contact_stops_its_entry() {
    let (db, _dir, host) = one_plugin(
        "blocker",
        &manifest("blocker", &["before_log"], &[], &["contacts"]),
        "fn before_log(d) { contact_update(d.contact_no, #{privacy_blocked: true}); d }",
    );
    let before = db.fingerprint().unwrap();
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(err.message.contains("privacy"), "{err}");
    assert_eq!(
        before,
        db.fingerprint().unwrap(),
        "the hook's write went too"
    );
}

#[each_backend]
fn a_hook_may_clear_text_but_not_a_number() {
    let (db, _dir, host) = one_plugin(
        "clear",
        &manifest("clear", &["before_log"], &[], &[]),
        "fn before_log(d) { d.subject = (); if d.template == \"BUS\" { d.cost = (); } d }",
    );
    exec(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", subject: "Own subject"})"#,
    );
    assert_eq!(
        entry(&db, 1).subject,
        "Outgoing call",
        "a cleared subject is the description"
    );
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "BUS"})"#,
    )
    .unwrap_err();
    assert!(err.message.contains("cost was set to ()"), "{err}");
}

#[each_backend]
fn a_caught_veto_leaves_a_run_that_wrote_nothing() {
    let (db, _dir, host) = one_plugin(
        "gate",
        &manifest("gate", &["before_log"], &[], &[]),
        "fn before_log(d) { throw \"no\" }",
    );
    let out = host
        .run(
            &db,
            "test",
            r#"try { log_interaction(#{contact: "P1", template: "CALL"}) } catch { 0 }"#,
            RunOptions::default(),
        )
        .unwrap();
    assert!(
        !out.committed,
        "nothing was written, so nothing was committed"
    );
}

#[each_backend]
fn a_broken_plugin_stops_only_the_operations_its_hooks_cover() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "keeper",
        &manifest("keeper", &["before_purge"], &[], &[]),
        "fn before_purge(f) { f ",
    );
    enable(&db, &["keeper"]);
    let (host, report) = host(&db, dir.path());
    assert_eq!(report.broken.len(), 1, "{:?}", report.broken);
    exec(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"}); cancel(1)"#,
    );
    let err = run(&host, &db, "purge_canceled()").unwrap_err();
    assert!(
        err.message
            .contains("plugin keeper is enabled but cannot be loaded")
            && err.message.contains("hook before_purge"),
        "{err}"
    );
    assert!(entry(&db, 1).canceled, "nothing was purged");
}

#[each_backend]
fn an_import_row_goes_through_before_log_with_source_import() {
    let (db, _dir, host) = one_plugin(
        "stamp",
        &manifest("stamp", &["before_log"], &[], &[]),
        "fn before_log(d) { d.description = d.source; d }",
    );
    let no = host
        .transaction(&db, "import", |h| {
            h.log_interaction(
                draft("P1", "CALL"),
                Default::default(),
                rapport_engine::ops::EntrySource::Import,
            )
            .map_err(|e| rapport_engine::Error::invalid("row", "row", e.message, "fix it"))
        })
        .unwrap();
    assert_eq!(entry(&db, no).description, "import");
}

#[each_backend]
fn a_veto_is_kind_vetoed_and_a_failing_hook_kind_plugin() {
    let (db, _dir, host) = one_plugin(
        "gate",
        &manifest("gate", &["before_log"], &[], &[]),
        "fn before_log(d) { if d.template == \"CALL\" { throw \"no calls\" } salespersn(d.salesperson) }",
    );
    let kinds = run(
        &host,
        &db,
        r#"let kinds = [];
           for t in ["CALL", "BUS"] {
               try { log_interaction(#{contact: "P1", template: t}) } catch (e) { kinds.push(e.kind) }
           }
           kinds"#,
    )
    .unwrap();
    assert_eq!(kinds.to_string(), r#"["vetoed", "plugin"]"#);
}

#[each_backend]
fn a_refused_amendment_names_the_plugin_that_made_it() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "first",
        &manifest("first", &["before_log"], &[], &[]),
        "fn before_log(d) { d.description = \"Checked\"; d }",
    );
    plugin_dir(
        dir.path(),
        "second",
        &manifest("second", &["before_log"], &[], &[]),
        "fn before_log(d) { d.salesperson = \"ZZ\"; d }",
    );
    enable(&db, &["first", "second"]);
    let (host, _) = host(&db, dir.path());
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(
        err.message.contains("salesperson ZZ does not exist")
            && err
                .message
                .contains("plugin second's before_log hook set it")
            && err.message.contains("rapport plugins disable second"),
        "{err}"
    );
    assert_eq!(err.kind_word(), "not_found", "still the rule's own kind");
}

#[test]
fn a_plugin_file_with_a_statement_at_its_top_level_does_not_load() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(
        dir.path(),
        "chatty",
        &manifest("chatty", &[], &[], &[]),
        "fn f() { 1 }\nprint(\"loaded\");\n",
    );
    let (sources, _) = plugin::from_folder(dir.path());
    let mut host = ScriptHost::new(Limits::user());
    let report = host.load_plugins(&db, &sources).unwrap();
    let problem = report
        .problems
        .iter()
        .find(|p| p.plugin == "chatty")
        .expect("refused");
    assert_eq!(problem.line, Some(2));
    assert!(
        problem.message.contains("only define functions"),
        "{problem}"
    );
}

#[each_backend]
fn on_cancel_toggled_tells_only_of_entries_that_changed() {
    let (db, _dir, host) = one_plugin(
        "watch",
        &manifest("watch", &["on_cancel_toggled"], &[], &[]),
        "fn on_cancel_toggled(c) { if c.entry_nos.is_empty() { throw \"told of nothing\" } }",
    );
    exec(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"}); cancel(1); cancel(1)"#,
    );
    assert!(entry(&db, 1).canceled);
}

/// A database with the plugins `(name, source)`, each with a `before_log` hook, enabled in order.
fn before_log_plugins(plugins: &[(&str, &str)]) -> (Database, tempfile::TempDir, ScriptHost) {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in plugins {
        plugin_dir(
            dir.path(),
            name,
            &manifest(name, &["before_log"], &[], &[]),
            source,
        );
    }
    let names: Vec<&str> = plugins.iter().map(|(n, _)| *n).collect();
    enable(&db, &names);
    let (host, _) = host(&db, dir.path());
    (db, dir, host)
}

#[each_backend]
fn a_bad_value_is_blamed_on_the_plugin_that_set_it_not_the_last_to_run() {
    let (db, _dir, host) = before_log_plugins(&[
        ("first", "fn before_log(d) { d.salesperson = \"ZZ\"; d }"),
        (
            "second",
            "fn before_log(d) { d.description = \"Checked\"; d }",
        ),
    ]);
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("plugin first's before_log hook set it"),
        "{err}"
    );
}

#[each_backend]
fn a_rule_broken_by_a_plugin_keeps_its_kind() {
    let (db, _dir, host) = before_log_plugins(&[(
        "long",
        "fn before_log(d) { let s = \"\"; s.pad(5000, \"x\"); d.subject = s; d }",
    )]);
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert_eq!(err.kind_word(), "too_long", "{err}");
    assert!(
        err.message.contains("plugin long's before_log hook set it"),
        "{err}"
    );
}

#[each_backend]
fn each_plugin_gets_the_whole_entry_as_the_ones_before_it_left_it() {
    let (db, _dir, host) = before_log_plugins(&[
        ("partial", "fn before_log(d) { #{cost: 5} }"),
        (
            "redate",
            "fn before_log(d) { d.date = date(\"2026-01-05\"); d }",
        ),
        (
            "note",
            "fn before_log(d) { if d.template != \"CALL\" || d.cost != 5.0 { throw \"not whole\" } d.comments.push(\"noted\"); d }",
        ),
    ]);
    exec(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL", comments: ["first"]})"#,
    );
    let e = entry(&db, 1);
    let comments: Vec<_> = e
        .comments
        .iter()
        .map(|c| (c.date, c.text.as_str()))
        .collect();
    assert_eq!(
        comments,
        [(day("2026-01-05"), "first"), (day("2026-01-05"), "noted")],
        "a later plugin's comments do not bring back the date an earlier one moved"
    );
    assert_eq!(e.cost.to_string(), "5");
}

#[each_backend]
fn an_undeclared_field_a_plugin_sets_names_the_plugin() {
    let (db, _dir, host) = before_log_plugins(&[("extra", "fn before_log(d) { d.mood = 1; d }")]);
    let err = run(
        &host,
        &db,
        r#"log_interaction(#{contact: "P1", template: "CALL"})"#,
    )
    .unwrap_err();
    assert!(
        err.message.contains("mood") && err.message.contains("plugin extra's before_log hook"),
        "{err}"
    );
}
