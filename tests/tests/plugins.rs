//! Plugins through the real binary, as a consultant uses them: a rule written once holds on
//! every path that makes an entry (logging by hand, a segment's lines, a recorded document, a
//! resumed postponed interaction, an import of entries); an enabled plugin that goes missing stops what it guarded;
//! plugins come with tests that `rapport plugins test` runs; what a failing run printed is shown.
//! Every test runs on a redb file and on PostgreSQL (`each_backend`).

use rapport_tests::{Workspace, assert_output, each_backend};

/// The issue's first rule: no interaction over 500 unless the salesperson is a manager.
const COST_GATE_MANIFEST: &str = "name = \"cost_gate\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"before_log\"]\n[capabilities]\nread = [\"salespeople\"]\n";
const COST_GATE: &str = r"fn before_log(d) {
    if d.cost > 500 {
        let sp = salesperson(d.salesperson);
        if sp == () || sp.manager != true {
            throw `${d.source}: cost ${d.cost} is over 500 and ${d.salesperson} is no manager`;
        }
    }
    d
}
";

/// The issue's second rule: every interaction counts as a touch of its contact.
const TOUCHES_MANIFEST: &str = "name = \"touches\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"after_log\"]\n[capabilities]\nwrite = [\"contacts\"]\n";
const TOUCHES: &str = r"fn after_log(e) {
    if e.postponed { return; }
    let c = contact(e.contact_no);
    let n = if c.touches == () { 0 } else { c.touches };
    contact_update(e.contact_no, #{touches: n + 1});
}
";

/// The demo company, a manager MG (custom field `manager`), a DINNER template costing 600,
/// quotes costing 600 too, and the contact field `touches`.
fn company(ws: &Workspace) {
    ws.ok(&["demo"]);
    ws.ok(&[
        "eval",
        r#"field_define(#{record: "salesperson", name: "manager", type: "flag"});
           field_define(#{record: "contact", name: "touches", type: "number"});
           salesperson_create(#{code: "MG", name: "Mia Gold", manager: true});
           template_define(#{code: "DINNER", description: "Client dinner", group: "LETTER",
                             unit_cost: 600, unit_duration: 120, flow: "outbound", initiated_by: "us"});
           template_define(#{code: "S_QUOTE", description: "Sales Quote", group: "SALES",
                             unit_cost: 600, unit_duration: 1, flow: "outbound", initiated_by: "us"});"#,
    ]);
}

fn enable(ws: &Workspace, name: &str, manifest: &str, main: &str) {
    let folder = ws.plugin("my-plugins", name, manifest, main);
    ws.ok(&["plugins", "folder", folder.to_str().unwrap()]);
    ws.ok(&["plugins", "enable", name]);
}

/// How many entries the database has.
fn entries(ws: &Workspace) -> String {
    ws.ok(&["eval", "entries().count()"])
}

/// Each path, as `rapport` runs it, by the salesperson `sp` (JO is no manager, MG is).
fn path_args(ws: &Workspace, path: &str, sp: &str) -> Vec<String> {
    let eval = |code: String| vec!["eval".to_string(), code];
    match path {
        "manual" => eval(format!(
            r#"log_interaction(#{{contact: "CT000002", template: "DINNER", salesperson: "{sp}"}})"#
        )),
        "segment" => eval(format!(
            r#"let s = segment_create(#{{description: "Dinners", template: "DINNER", salesperson: "{sp}"}});
               s.add(["CT000002", "CT000003"]);
               s.log()"#
        )),
        "document" => [
            "document",
            "sales_quote",
            &format!("Q-{sp}"),
            "--contact",
            "CT000002",
            "--salesperson",
            sp,
        ]
        .map(String::from)
        .to_vec(),
        "resume" => eval(format!(
            r#"let n = log_interaction(#{{contact: "CT000002", template: "OUTGOING", salesperson: "{sp}", postponed: true}});
               resume_interaction(n, #{{cost: 900}})"#
        )),
        "import" => {
            let file = ws.file(
                &format!("dinners-{sp}.csv"),
                format!("contact_no,template,salesperson\nCT000002,DINNER,{sp}\n").as_bytes(),
            );
            ["import", "entries", file.to_str().unwrap()]
                .map(String::from)
                .to_vec()
        }
        other => unreachable!("{other}"),
    }
}

const PATHS: [&str; 5] = ["manual", "segment", "document", "resume", "import"];

#[test]
fn a_cost_veto_holds_on_every_path_that_makes_an_entry() {
    each_backend(|ws| {
        company(ws);
        enable(ws, "cost_gate", COST_GATE_MANIFEST, COST_GATE);
        for path in PATHS {
            let before = entries(ws);
            let args = path_args(ws, path, "JO");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = ws.run(&args);
            assert!(!run.success, "{path}: {}", run.stdout);
            assert!(
                run.stderr
                    .contains(&format!("hook before_log: {path}: cost 600"))
                    || run
                        .stderr
                        .contains(&format!("hook before_log: {path}: cost 900")),
                "{path}: {}",
                run.stderr
            );
            assert_eq!(before, entries(ws), "{path}: the vetoed run wrote nothing");
            // The same by a manager goes through.
            let args = path_args(ws, path, "MG");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ws.ok(&args);
            assert_ne!(before, entries(ws), "{path}: a manager's entry is written");
        }
        ws.ok(&["check"]);
    });
}

#[test]
fn a_touch_counter_counts_every_path_that_makes_an_entry() {
    each_backend(|ws| {
        company(ws);
        enable(ws, "touches", TOUCHES_MANIFEST, TOUCHES);
        for (n, path) in PATHS.iter().enumerate() {
            let args = path_args(ws, path, "MG");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ws.ok(&args);
            // A postponed interaction counts when it is resumed, once.
            let expected = n + 1;
            assert_output(
                &format!("{expected}\n"),
                &ws.ok(&["eval", r#"contact("CT000002").touches"#]),
            );
        }
    });
}

#[test]
fn an_enabled_plugin_that_went_missing_stops_what_it_guarded_until_disabled() {
    each_backend(|ws| {
        company(ws);
        enable(ws, "cost_gate", COST_GATE_MANIFEST, COST_GATE);
        std::fs::remove_dir_all(ws.path().join("my-plugins").join("cost_gate")).unwrap();
        let before = entries(ws);
        let run = ws.run(&[
            "eval",
            r#"log_interaction(#{contact: "CT000002", template: "OUTGOING"})"#,
        ]);
        assert!(!run.success);
        assert!(
            run.stderr
                .contains("plugin cost_gate is enabled but cannot be loaded")
                && run.stderr.contains("rapport plugins disable cost_gate"),
            "{}",
            run.stderr
        );
        assert_eq!(before, entries(ws), "nothing was logged");
        // Plain reads go on, with a warning.
        let read = ws.run(&["eval", "contacts().count()"]);
        assert!(
            read.success
                && read
                    .stderr
                    .contains("warning: plugin cost_gate is enabled but cannot be loaded"),
            "{}",
            read.stderr
        );
        let list = ws.ok(&["--format", "json", "plugins", "list"]);
        assert!(list.contains("NOT LOADED"), "{list}");
        ws.ok(&["plugins", "disable", "cost_gate"]);
        ws.ok(&[
            "eval",
            r#"log_interaction(#{contact: "CT000002", template: "OUTGOING"})"#,
        ]);
    });
}

#[test]
fn enabling_a_plugin_with_a_bad_manifest_says_what_is_wrong_with_it() {
    each_backend(|ws| {
        let folder = ws.plugin(
            "my-plugins",
            "typo",
            "name = \"typo\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"before_lunch\"]\n",
            "fn before_lunch(d) { d }\n",
        );
        ws.ok(&["plugins", "folder", folder.to_str().unwrap()]);
        let run = ws.run(&["plugins", "enable", "typo"]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("it does not load")
                && run.stderr.contains("typo/plugin.toml")
                && run.stderr.contains("before_lunch"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn every_bundled_plugin_passes_its_own_tests() {
    let ws = Workspace::new();
    for (plugin, tests) in [("document_rules", 3), ("retention", 1), ("duplicates", 1)] {
        let out = ws.ok(&["plugins", "test", plugin]);
        assert!(
            out.ends_with(&format!("plugin {plugin}: {tests} passed, 0 failed\n")),
            "{out}"
        );
    }
}

#[test]
fn a_plugin_test_that_fails_is_reported_with_its_line_and_what_it_printed() {
    let ws = Workspace::new();
    let folder = ws.plugin(
        "my-plugins",
        "stamp",
        "name = \"stamp\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"before_log\"]\n",
        "fn before_log(d) { d.description = \"stamped\"; d }\n",
    );
    let tests = folder.join("stamp").join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("a_passes.rhai"),
        "let n = log_interaction(#{contact: \"CT000002\", template: \"OUTGOING\"});\nassert_eq(entry(n).description, \"stamped\");\n",
    )
    .unwrap();
    std::fs::write(
        tests.join("b_fails.rhai"),
        "let n = log_interaction(#{contact: \"CT000002\", template: \"OUTGOING\"});\nprint(`logged ${n}`);\nassert_eq(entry(n).description, \"Outgoing phone call\");\n",
    )
    .unwrap();
    // From its folder: no database needed.
    let run = ws.run_plain(&["plugins", "test", folder.join("stamp").to_str().unwrap()]);
    assert!(!run.success);
    assert!(
        run.stdout.contains("ok    ") && run.stdout.contains("a_passes.rhai"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("FAIL  ")
            && run
                .stdout
                .contains("b_fails.rhai:3:1: expected \"Outgoing phone call\", got \"stamped\"")
            && run.stdout.contains("logged 75"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("plugin stamp: 1 passed, 1 failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn what_a_failing_run_printed_is_shown_before_its_error() {
    each_backend(|ws| {
        let run = ws.run(&[
            "eval",
            "print(\"step 1\"); debug(\"step 2\"); throw \"boom\"",
        ]);
        assert!(!run.success);
        let step = run.stderr.find("step 1").expect("print shown");
        let error = run.stderr.find("error: ").expect("the error");
        assert!(
            step < error && run.stderr.contains("step 2"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn plugins_show_lists_hooks_functions_and_capabilities() {
    each_backend(|ws| {
        let shown = ws.ok(&["--format", "json", "plugins", "show", "retention"]);
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(v["capabilities"], "read entries; write entries");
        let functions: Vec<_> = v["functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["function"].as_str().unwrap())
            .collect();
        assert_eq!(
            functions,
            [
                "retention::purge_older_than(days)",
                "retention::purge_older_than(days, delete)"
            ]
        );
        let shown = ws.ok(&["--format", "json", "plugins", "show", "document_rules"]);
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(
            v["hooks"],
            serde_json::json!(["before_document", "after_document"])
        );
    });
}

#[test]
fn the_repl_reloads_a_changed_plugin_and_helps_with_its_functions() {
    use std::io::{BufRead, BufReader, Write};
    each_backend(|ws| {
        let folder = ws.plugin(
            "my-plugins",
            "kit",
            "name = \"kit\"\nversion = \"1.0\"\nrequires = \"0.1\"\n",
            "/// The answer.\nfn answer() { 41 }\n",
        );
        ws.ok(&["plugins", "folder", folder.to_str().unwrap()]);
        ws.ok(&["plugins", "enable", "kit"]);
        let mut repl = std::process::Command::new(rapport_tests::rapport_bin())
            .current_dir(ws.path())
            .arg("--db")
            .arg(ws.db_arg())
            .arg("--quiet")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = repl.stdin.take().unwrap();
        let mut stdout = BufReader::new(repl.stdout.take().unwrap());
        writeln!(stdin, "kit::answer()").unwrap();
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert_eq!(first, "41\n");
        std::fs::write(
            folder.join("kit").join("main.rhai"),
            "/// The answer, mended.\nfn answer() { 42 }\n",
        )
        .unwrap();
        writeln!(
            stdin,
            ":reload\nkit::answer()\n:help kit::answer\n:help kit"
        )
        .unwrap();
        drop(stdin);
        let out = repl.wait_with_output().unwrap();
        let rest: String = stdout.lines().map(|l| l.unwrap() + "\n").collect();
        let all = rest + String::from_utf8_lossy(&out.stderr).as_ref();
        assert!(all.contains("plugins loaded again; enabled: kit"), "{all}");
        assert!(all.contains("42\n"), "{all}");
        assert!(
            all.matches("kit::answer()\n  The answer, mended.").count() == 2,
            ":help of the function, and of the plugin: {all}"
        );
    });
}

#[test]
fn plugins_test_runs_every_plugin_of_a_folder_of_plugins() {
    let ws = Workspace::new();
    let folder = ws.plugin(
        "my-plugins",
        "one",
        "name = \"one\"\nversion = \"1.0\"\nrequires = \"0.1\"\n",
        "fn f() { 1 }\n",
    );
    ws.plugin(
        "my-plugins",
        "two",
        "name = \"two\"\nversion = \"1.0\"\nrequires = \"0.1\"\n",
        "fn f() { 2 }\n",
    );
    for (plugin, test) in [
        ("one", "assert_eq(one::f(), 1);"),
        ("two", "assert_eq(two::f(), 3);"),
    ] {
        let tests = folder.join(plugin).join("tests");
        std::fs::create_dir_all(&tests).unwrap();
        std::fs::write(tests.join("f.rhai"), test).unwrap();
    }
    let run = ws.run_plain(&["plugins", "test", folder.to_str().unwrap()]);
    assert!(!run.success, "two fails");
    assert!(
        run.stdout.contains("plugin one: 1 passed, 0 failed")
            && run.stdout.contains("plugin two: 0 passed, 1 failed")
            && run.stdout.contains("expected 3, got 2"),
        "{}",
        run.stdout
    );
}

#[test]
fn plugins_show_prints_one_line_a_field_and_each_function_with_its_doc() {
    let ws = Workspace::new();
    let out = ws.ok(&["plugins", "show", "retention"]);
    assert!(out.starts_with("name          retention\n"), "{out}");
    assert!(
        out.contains("functions     retention::purge_older_than(days)\n                Lists the canceled interactions"),
        "{out}"
    );
}
