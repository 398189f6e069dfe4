//! The `rapport` binary, end to end: the demo, the check, statistics, and errors that change nothing.
//! Every test runs on a redb file and on PostgreSQL (`each_backend`; skipped, saying so, when
//! `RAPPORT_TEST_POSTGRES` names no server).

use rapport_tests::{Workspace, assert_output, each_backend};

#[test]
fn demo_loads_the_company_and_prints_statistics_per_template() {
    each_backend(|ws| {
        let out = ws.ok(&["demo"]);
        let first = out.lines().next().unwrap();
        assert!(first.starts_with("Loaded the demo company into"), "{out}");
        assert!(
            first.ends_with(
                "6 groups, 31 templates, 5 salespeople, 50 contacts, 3 segments, 74 interactions."
            ),
            "{first}"
        );
        assert!(
            out.contains(
                "S_STATM     Statement                           7        56         7      8.00"
            ),
            "{out}"
        );
    });
}

#[test]
fn demo_a_second_time_says_it_is_there_and_changes_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        let out = ws.ok(&["demo"]);
        assert!(out.starts_with("The demo company is already in"), "{out}");
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn check_passes_on_the_demo() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let check = ws.ok(&["check"]);
        let mut lines = check.lines();
        assert_eq!(
            lines.next(),
            Some("ok: 74 entries; indexes, statistics and attachments agree")
        );
        let fingerprint = lines.next().and_then(|l| l.strip_prefix("fingerprint: "));
        assert!(
            fingerprint.is_some_and(|f| f.len() == 64 && f.bytes().all(|b| b.is_ascii_hexdigit())),
            "{check}"
        );
    });
}

#[test]
fn stats_prints_count_cost_duration_and_averages() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let out = ws.ok(&["stats", "template", "s_statm"]);
        assert_output(
            "template S_STATM\ncount         7\ncost          56\nduration      7\navg_cost      8.00\navg_duration  1.00\n",
            &out,
        );
    });
}

#[test]
fn stats_over_a_date_range_before_any_history_is_empty() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let out = ws.ok(&[
            "stats",
            "group",
            "SALES",
            "--from",
            "2000-01-01",
            "--to",
            "2000-12-31",
        ]);
        assert!(out.contains("count         0"), "{out}");
    });
}

#[test]
fn an_unknown_template_is_an_error_that_changes_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        let run = ws.run(&["stats", "template", "NOPE"]);
        assert!(!run.success);
        assert_output(
            "error: template NOPE does not exist; check the template code or number, or create the template first\n",
            &run.stderr,
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn an_unknown_statistics_kind_names_the_kinds_that_exist() {
    each_backend(|ws| {
        let run = ws.run(&["stats", "templat", "BUS"]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("\"template\", \"group\", \"contact\""),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn help_gives_an_example_for_every_command() {
    each_backend(|ws| {
        for command in [
            "repl",
            "run",
            "eval",
            "demo",
            "document",
            "import",
            "export",
            "plugins",
            "check",
            "stats",
            "completions",
        ] {
            let out = ws.ok(&[command, "--help"]);
            assert!(
                out.contains("Example: rapport"),
                "{command} --help has no example:\n{out}"
            );
        }
    });
}

#[test]
fn eval_prints_a_value() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        assert_output(
            "10\n",
            &ws.ok(&["eval", r#"contacts().filter(#{city: "Oslo"}).count()"#]),
        );
    });
}

#[test]
fn eval_prints_records_as_a_table_or_as_json() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let table = ws.ok(&["eval", "groups().limit(2).list()"]);
        assert!(
            table.contains("LETTER") && table.contains("Meetings") && table.ends_with("(2 rows)\n"),
            "{table}"
        );
        let json = ws.ok(&["--format", "json", "eval", r#"group("LETTER")"#]);
        assert_output(
            "{\n  \"code\": \"LETTER\",\n  \"description\": \"Letters\"\n}\n",
            &json,
        );
    });
}

#[test]
fn run_executes_a_script_file_in_one_transaction() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/record_documents.rhai");
        let out = ws.ok(&["run", script.to_str().unwrap()]);
        assert!(out.starts_with("sales_quote 1020: not recorded: no business relation links customer 99999 to a contact\n"), "{out}");
        assert!(out.contains("recorded     ┆ 4"), "{out}");
        assert_output("78\n", &ws.ok(&["eval", "entries().count()"]));
    });
}

#[test]
fn run_dry_run_changes_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        let run = ws.run(&[
            "eval",
            "--dry-run",
            r#"log_interaction(#{contact: "CT000002", template: "OUTGOING"})"#,
        ]);
        assert!(run.success, "{}", run.stderr);
        assert_output("75\n", &run.stdout);
        assert_output("dry run: nothing was changed\n", &run.stderr);
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn a_script_error_exits_non_zero_shows_a_caret_and_changes_nothing() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        let run = ws.run(&["eval", "log_interaction(#{contact: \"CT000002\", template: \"OUTGOING\"});\nlog_interaction(#{contact: \"CT000002\", template: \"NOPE\"})"]);
        assert!(!run.success);
        assert_output(
            "error: eval:2:1: template NOPE does not exist; check the template code or number, or create the template first\n   2 | log_interaction(#{contact: \"CT000002\", template: \"NOPE\"})\n     | ^\n",
            &run.stderr,
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn a_script_over_its_operation_limit_is_stopped_and_says_which_limit() {
    each_backend(|ws| {
        let run = ws.run(&["eval", "--max-operations", "5000", "loop {}"]);
        assert!(!run.success);
        assert!(
            run.stderr
                .contains("went over its limit of 5000 operations"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn document_prints_the_entry_it_recorded() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let out = ws.ok(&[
            "document",
            "sales_invoice",
            "103017",
            "--customer",
            "10000",
            "--action",
            "emailed",
        ]);
        assert!(
            out.starts_with("recorded as interaction log entry 75\n"),
            "{out}"
        );
        assert!(
            out.contains("document_no") && out.contains("103017"),
            "{out}"
        );
    });
}

#[test]
fn document_records_a_cover_sheet_without_a_number() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let out = ws.ok(&["document", "cover_sheet", "--contact", "CT000001"]);
        assert!(
            out.starts_with("recorded as interaction log entry 75\n"),
            "{out}"
        );
        let run = ws.run(&["document", "sales_invoice", "--customer", "10000"]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("give the document's no"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn document_says_why_nothing_was_recorded() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        assert_output(
            "not recorded: no business relation links customer 99999 to a contact\n",
            &ws.ok(&["document", "sales_quote", "1", "--customer", "99999"]),
        );
        assert_output(
            "not recorded: previews are never recorded\n",
            &ws.ok(&[
                "document",
                "sales_quote",
                "1",
                "--customer",
                "10000",
                "--action",
                "preview",
            ]),
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn document_with_an_unknown_type_is_an_error() {
    each_backend(|ws| {
        let run = ws.run(&["document", "sales_bill", "1", "--customer", "10000"]);
        assert!(!run.success);
        assert!(
            run.stderr
                .contains("error: record_document: type \"sales_bill\" is not one of"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn import_contacts_refuses_columns_that_are_not_declared_listing_them() {
    each_backend(|ws| {
        let csv = ws.file(
            "contacts.csv",
            b"name,kind,ctiy,revenue\nAcme,company,Oslo,600\n",
        );
        let before = ws.content_hash();
        let run = ws.run(&["import", "contacts", csv.to_str().unwrap()]);
        assert!(!run.success);
        assert_output(
            "error: import contacts: header columns ctiy (did you mean city?), revenue are not contact fields and not declared; rename the column, declare the field with field_define, or import with --define-fields\n",
            &run.stderr,
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn import_contacts_with_define_fields_declares_each_new_column_with_the_type_of_its_cells() {
    each_backend(|ws| {
        let csv = ws.file(
        "contacts.csv",
        b"name,kind,city,revenue,zip,vip,since\nAcme,company,Oslo,600,00123,yes,2020-01-31\nBeta,company,Bergen,12.5,5000,no,\n",
    );
        assert_output(
            "declaring contact field revenue (number)\ndeclaring contact field zip (text)\ndeclaring contact field vip (flag)\ndeclaring contact field since (date)\nimported 2 contacts\n",
            &ws.ok(&[
                "import",
                "contacts",
                csv.to_str().unwrap(),
                "--define-fields",
            ]),
        );
        assert_output(
            "600\n",
            &ws.ok(&[
                "eval",
                r#"contacts().filter(#{name: "Acme"}).first().revenue"#,
            ]),
        );
        assert_output(
            "00123\n",
            &ws.ok(&["eval", r#"contacts().filter(#{name: "Acme"}).first().zip"#]),
        );
        assert_output(
            "true\n",
            &ws.ok(&["eval", r#"contacts().filter(#{name: "Acme"}).first().vip"#]),
        );
        // Declared now: the same columns import without the option, checked against their type.
        let more = ws.file("more.csv", b"name,revenue\nGamma,lots\n");
        let run = ws.run(&["import", "contacts", more.to_str().unwrap()]);
        assert!(
            run.stderr
                .contains("line 2: column revenue is \"lots\", not a number"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn a_bad_csv_row_aborts_the_whole_import_naming_the_line() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        for (content, message) in [
            (
                &b"name,kind\nGood,company\nBad,robot\n"[..],
                "error: line 3: column kind: \"robot\" is not one of \"company\", \"person\"; use one of those words\n",
            ),
            (
                &b"name,kind\nGood,company\n,company\n"[..],
                "error: line 3: row contact CT000052: name is required; give the contact a name; fix that row; nothing was imported\n",
            ),
            (
                &b"name,kind\nGood,company,extra\n"[..],
                "error: line 2: row has 3 columns, but the header has 2; fix that row; nothing was imported\n",
            ),
            (
                &b"name,city\nGood,\xff\xfe\n"[..],
                "error: line 2: row is not valid UTF-8; fix that row; nothing was imported\n",
            ),
        ] {
            let csv = ws.file("bad.csv", content);
            let run = ws.run(&["import", "contacts", csv.to_str().unwrap()]);
            assert!(!run.success);
            assert_output(message, &run.stderr);
            assert_eq!(before, ws.content_hash());
        }
    });
}

#[test]
fn export_writes_contacts_as_csv_and_entries_as_json() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let csv = ws.ok(&["--format", "csv", "export", "contacts"]);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(
                "no,name,kind,company_no,salesperson,language,correspondence,email,phone,mobile,city,country,exclude_from_segment,privacy_blocked,no_letters"
            )
        );
        assert_eq!(csv.lines().count(), 51);
        let json = ws.ok(&["--format", "json", "export", "entries"]);
        assert!(
            json.starts_with("[\n{") && json.ends_with("}\n]\n"),
            "{json}"
        );
        assert_eq!(json.matches("\"entry_no\":").count(), 74);
    });
}

#[test]
fn export_to_a_file_round_trips_through_import() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let out = ws.file("contacts.csv", b"");
        ws.ok(&[
            "--format",
            "csv",
            "export",
            "contacts",
            "--out",
            out.to_str().unwrap(),
        ]);
        let other = ws.another();
        let missing = other.run(&[
            "import",
            "contacts",
            out.to_str().unwrap(),
            "--define-fields",
        ]);
        assert!(
            missing.stderr.contains("salesperson JO does not exist"),
            "contacts name their salesperson: {}",
            missing.stderr
        );
        other.ok(&[
            "eval",
            r#"for sp in ["JO", "PS", "BC", "HR", "OF"] { salesperson_create(#{code: sp}); }"#,
        ]);
        let undeclared = other.run(&["import", "contacts", out.to_str().unwrap()]);
        assert!(
            undeclared
                .stderr
                .contains("column no_letters is not a contact field"),
            "the demo's declared field must be declared here too: {}",
            undeclared.stderr
        );
        let imported = other.ok(&[
            "import",
            "contacts",
            out.to_str().unwrap(),
            "--define-fields",
        ]);
        assert_output(
            "declaring contact field no_letters (text)\nimported 50 contacts\n",
            &imported,
        );
    });
}

#[test]
fn plugins_list_shows_the_bundled_plugins_none_enabled() {
    each_backend(|ws| {
        let out = ws.ok(&["--format", "csv", "plugins", "list"]);
        assert!(
            out.starts_with("name,version,description,enabled,from,hooks\n")
                || out.contains("document_rules"),
            "{out}"
        );
        for name in ["document_rules", "retention", "duplicates"] {
            assert!(out.contains(&format!("{name},")), "{out}");
        }
        assert!(
            !out.contains(",true,"),
            "nothing is enabled by default: {out}"
        );
    });
}

#[test]
fn a_consultant_adds_a_rule_as_a_plugin_folder_and_sees_it_act_without_compiling() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let folder = ws.plugin(
            "my-plugins",
            "big_quotes",
            "name = \"big_quotes\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"after_document\"]\n[capabilities]\nwrite = [\"entries\"]\n",
            "fn after_document(d) {\n  if d.type == \"sales_quote\" && d.recorded && d.amount > 10000 {\n    let e = entry(d.entry_no);\n    log_interaction(#{contact: e.contact_no, template: \"OUTGOING\", description: `Call about quote ${d.no}`, postponed: true});\n  }\n}\n",
        );
        ws.ok(&["plugins", "folder", folder.to_str().unwrap()]);
        assert_output(
            "enabled big_quotes\n",
            &ws.ok(&["plugins", "enable", "big_quotes"]),
        );
        ws.ok(&[
            "document",
            "sales_quote",
            "Q1",
            "--contact",
            "CT000002",
            "--amount",
            "25000",
        ]);
        assert_output(
            "[\"Call about quote Q1\"]\n",
            &ws.ok(&[
                "eval",
                "entries().filter(#{postponed: true}).list().map(|e| e.description)",
            ]),
        );
        assert_output(
            "disabled big_quotes\n",
            &ws.ok(&["plugins", "disable", "big_quotes"]),
        );
        ws.ok(&[
            "document",
            "sales_quote",
            "Q2",
            "--contact",
            "CT000002",
            "--amount",
            "25000",
        ]);
        assert_output(
            "1\n",
            &ws.ok(&["eval", "entries().filter(#{postponed: true}).count()"]),
        );
    });
}

#[test]
fn a_broken_plugin_is_a_warning_at_start_and_rapport_still_works() {
    each_backend(|ws| {
        let folder = ws.plugin(
            "plugins-dir",
            "oops",
            "name = \"oops\"\nversion = \"1\"\nrequires = \"0.1\"\n",
            "fn f() {\n  let = 1;\n}\n",
        );
        ws.ok(&["plugins", "folder", folder.to_str().unwrap()]);
        let run = ws.run(&["eval", "1 + 1"]);
        assert!(run.success);
        assert_output("2\n", &run.stdout);
        assert!(
            run.stderr.starts_with("warning: plugin oops (")
                && run.stderr.contains("oops/main.rhai:2:"),
            "{}",
            run.stderr
        );
        let refused = ws.run(&["plugins", "enable", "oops"]);
        assert!(
            !refused.success && refused.stderr.contains("it does not load"),
            "{}",
            refused.stderr
        );
    });
}

#[test]
fn completions_print_a_shell_script() {
    each_backend(|ws| {
        let out = ws.ok(&["completions", "bash"]);
        assert!(out.contains("_rapport()"), "{out}");
    });
}

#[test]
fn the_repl_takes_multi_line_input_help_and_shows_errors_with_a_caret() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run_with_input(&["repl"], "let n = contacts().filter(#{\n  city: \"Oslo\"\n}).count();\nn\n:help count\nfoo(1)\n:quit\n");
        assert!(
            !run.success,
            "piped input with a failed input ends with a failure"
        );
        assert_output(
            "10\nquery.count() -> int\n  How many records match (streams; nothing is held).\nerror: repl:1:1: no function foo(int); :help lists the functions there are\n   1 | foo(1)\n     | ^\n",
            &run.stdout,
        );
    });
}

#[test]
fn the_repls_help_shows_the_declared_fields() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run_with_input(&["repl"], ":help no_letters\n:help\n");
        assert!(run.success, "{}", run.stderr);
        let line = "contact.no_letters                 flag field. Send no statements or reminders (read by the document_rules plugin)\n";
        assert!(run.stdout.starts_with(line), "{}", run.stdout);
        assert!(
            run.stdout
                .contains(&format!("fields() lists them):\n{line}")),
            "{}",
            run.stdout
        );
    });
}

#[test]
fn the_repl_greets_an_empty_database_with_one_line_of_help() {
    each_backend(|ws| {
        let run = ws.run_with_input(&[], "");
        let greeting = "rapport: this database is empty; `rapport demo` (in the shell) loads the demo company. :help lists the functions, Ctrl-D leaves.\n";
        assert!(run.stderr.ends_with(greeting), "{}", run.stderr);
        assert_eq!(
            run.stdout, "",
            "piped, standard output carries results alone"
        );
    });
}

#[test]
fn the_repl_keeps_variables_between_inputs_and_each_input_is_its_own_transaction() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run_with_input(&[], "let s = segment(\"SM00001\");\nlog_interaction(#{contact: \"CT000002\", template: \"NOPE\"})\ns.lines().len()\n");
        assert!(
            run.stdout
                .contains("error: repl:1:1: template NOPE does not exist"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.ends_with("10\n"), "{}", run.stdout);
    });
}

#[test]
fn the_readme_tour_runs_in_the_repl_as_written() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .unwrap();
    let tour = readme
        .split("<!-- tour:start -->")
        .nth(1)
        .and_then(|t| t.split("<!-- tour:end -->").next())
        .expect("README.md has the tour");
    let lines: Vec<&str> = tour.lines().filter(|l| !l.starts_with("```")).collect();
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run_with_input(&[], &lines.join("\n"));
        assert!(run.success, "{}", run.stderr);
        assert!(
            !run.stdout.contains("error"),
            "the tour failed:\n{}",
            run.stdout
        );
        let answers: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty())
            .collect();
        // new entry no, timeline length, lines added, entries logged, dry-run count, purged, BUS count after
        assert_eq!(
            answers,
            ["75", "3", "8", "8", "8", "8", "0"],
            "{}",
            run.stdout
        );
    });
}

// ---- a query's results stream to the output --------------------------------------------------

#[test]
fn a_query_result_prints_as_its_list_would_in_every_format() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        for format in ["table", "json", "csv"] {
            for query in [
                "contacts()",
                "entries()",
                "templates()",
                "segments()",
                "contacts().where(|c| { let n = c.name; n.len() > 10 })",
            ] {
                let streamed = ws.ok(&["--format", format, "eval", query]);
                let listed = ws.ok(&["--format", format, "eval", &format!("{query}.list()")]);
                assert_eq!(streamed, listed, "{query} --format {format}");
            }
        }
    });
}

#[test]
fn a_long_query_result_prints_in_pages_of_a_thousand_with_one_count_at_the_end() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        ws.ok(&[
            "eval",
            r#"for i in 0..2450 { contact_create(#{name: "Bulk " + i, city: "Oslo"}); }"#,
        ]);
        let table = ws.ok(&["eval", "contacts()"]);
        let headers = table.lines().filter(|l| l.starts_with("│ no ")).count();
        assert_eq!(headers, 3, "2,500 rows in pages of 1,000");
        assert_eq!(table.lines().last(), Some("(2500 rows)"));
        assert_eq!(table.matches("(2500 rows)").count(), 1);
        let json = ws.ok(&["--format", "json", "eval", "contacts()"]);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("one JSON array");
        assert_eq!(parsed.as_array().map(Vec::len), Some(2500));
        let csv = ws.ok(&["--format", "csv", "eval", "contacts()"]);
        assert_eq!(csv.lines().count(), 2501, "a header, then a line a contact");
        assert_eq!(csv.lines().filter(|l| l.starts_with("no,")).count(), 1);
    });
}

#[test]
fn a_query_result_stops_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    each_backend(|ws| {
        ws.ok(&["demo"]);
        ws.ok(&[
            "eval",
            r#"for i in 0..3000 { contact_create(#{name: "Bulk " + i}); }"#,
        ]);
        let mut child = std::process::Command::new(rapport_tests::rapport_bin())
            .arg("--db")
            .arg(ws.db_arg())
            .args(["--format", "csv", "eval", "contacts()"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("rapport starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("a line");
        assert!(first.starts_with("no,"), "{first}");
        let out = child.wait_with_output().expect("rapport ends");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    });
}

#[test]
fn an_empty_query_result_prints_no_rows_an_empty_array_or_a_header() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let none = r#"contacts().filter(#{city: "Nowhere"})"#;
        assert_eq!(ws.ok(&["eval", none]), "(0 rows)\n");
        assert_eq!(ws.ok(&["--format", "json", "eval", none]), "[]\n");
        let csv = ws.ok(&["--format", "csv", "eval", none]);
        assert_eq!(csv.lines().count(), 1, "{csv}");
        assert!(csv.starts_with("no,name,"), "{csv}");
    });
}

#[test]
fn a_query_result_prints_as_it_is_read_and_stays_open_when_the_run_fails() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run(&[
            "--format",
            "json",
            "eval",
            r#"contacts().where(|c| if c.no == "CT000050" { throw "stopped at the last contact" } else { true })"#,
        ]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("stopped at the last contact"),
            "{}",
            run.stderr
        );
        assert!(run.stdout.starts_with("[\n  {"), "{}", run.stdout);
        assert!(
            run.stdout.contains("\"CT000049\""),
            "the records before the failure were printed"
        );
        assert!(
            !run.stdout.trim_end().ends_with(']'),
            "a failed result is not closed as if whole"
        );
    });
}

// ---- standard output carries results; habits of psql and friends ------------------------------

#[test]
fn print_goes_to_standard_error_when_results_are_json_or_csv() {
    each_backend(|ws| {
        let json = ws.run(&["--format", "json", "eval", r#"print("a note"); 1 + 1"#]);
        assert_eq!(json.stdout, "2\n");
        assert!(json.stderr.contains("a note"), "{}", json.stderr);
        let table = ws.run(&["eval", r#"print("a note"); 1 + 1"#]);
        assert_eq!(
            table.stdout, "a note\n2\n",
            "in tables, print shows with the result"
        );
    });
}

#[test]
fn a_csv_value_that_is_not_a_record_is_quoted_as_csv_quotes_it() {
    each_backend(|ws| {
        let out = ws.ok(&["--format", "csv", "eval", r#""Berg, Anna""#]);
        assert_eq!(out, "\"Berg, Anna\"\n");
    });
}

#[test]
fn every_command_prints_json_alone_when_asked_for_json() {
    each_backend(|ws| {
        let demo = ws.ok(&["--format", "json", "demo"]);
        let backup = ws.path().join("copy.redb");
        let csv = ws.file("one.csv", b"name,city\nNew One,Oslo\n");
        let commands: Vec<Vec<&str>> = vec![
            vec!["stats", "template", "S_STATM"],
            vec!["check"],
            vec![
                "document",
                "sales_invoice",
                "103017",
                "--customer",
                "CT000001",
                "--action",
                "emailed",
            ],
            vec!["import", "contacts", csv.to_str().unwrap()],
            vec!["users", "add", "anna", "--role", "log"],
            vec!["users", "list"],
            vec!["users", "revoke", "anna"],
            vec!["plugins", "list"],
            vec!["plugins", "enable", "document_rules"],
            vec!["plugins", "disable", "document_rules"],
            vec!["export", "contacts"],
            vec!["backup", backup.to_str().unwrap()],
        ];
        let mut outputs = vec![("demo".to_string(), demo)];
        for args in commands {
            let mut all = vec!["--format", "json"];
            all.extend(&args);
            outputs.push((args.join(" "), ws.ok(&all)));
        }
        for (command, out) in outputs {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out);
            assert!(
                parsed.is_ok(),
                "{command}: standard output is not JSON alone:\n{out}"
            );
        }
    });
}

#[test]
fn piped_repl_input_ends_with_a_failure_status_after_a_failed_input() {
    each_backend(|ws| {
        let run = ws.run_with_input(&[], "1 + 1\nnope(1)\n2 + 2\n");
        assert!(!run.success);
        assert!(run.stdout.starts_with("2\n"), "{}", run.stdout);
        assert!(run.stdout.ends_with("4\n"), "the inputs after it still run");
        let fine = ws.run_with_input(&[], "1 + 1\n");
        assert!(fine.success, "{}", fine.stderr);
    });
}

#[test]
fn dash_c_runs_code_as_eval_does() {
    each_backend(|ws| {
        assert_eq!(ws.ok(&["-c", "40 + 2"]), "42\n");
        let both = ws.run(&["-c", "1", "check"]);
        assert!(
            !both.success && both.stderr.contains("-c"),
            "{}",
            both.stderr
        );
    });
}

#[test]
fn run_dash_reads_the_script_from_standard_input() {
    each_backend(|ws| {
        let run = ws.run_with_input(&["run", "-"], "let x = 40;\nx + 2\n");
        assert!(run.success, "{}", run.stderr);
        assert_eq!(run.stdout, "42\n");
    });
}

#[test]
fn arg_gives_a_script_text_and_argjson_gives_it_json() {
    each_backend(|ws| {
        let out = ws.ok(&[
            "eval",
            r#"city + ": " + (n + 1) + " " + type_of(no) + " [" + eq + "][" + empty + "]""#,
            "--arg",
            "city=Oslo",
            "--argjson",
            "n=41",
            "--arg",
            "no=10001",
            "--arg",
            "eq=a=b",
            "--arg",
            "empty=",
        ]);
        assert_eq!(out, "Oslo: 42 string [a=b][]\n");
        let file = ws.file("greet.rhai", b"`hello ${who}`");
        assert_eq!(
            ws.ok(&["run", file.to_str().unwrap(), "--arg", "who=Anna"]),
            "hello Anna\n"
        );
        assert_eq!(ws.ok(&["-c", "who", "--arg", "who=Bo"]), "Bo\n");
        for bad in [
            vec!["eval", "1", "--arg", "2x=1"],
            vec!["eval", "1", "--arg", "let=1"],
            vec!["eval", "1", "--arg", "novalue"],
            vec!["eval", "1", "--argjson", "n=abc"],
            vec!["check", "--arg", "a=1"],
        ] {
            let run = ws.run(&bad);
            assert!(
                !run.success && run.stderr.contains("--arg"),
                "{bad:?}: {}",
                run.stderr
            );
        }
    });
}

#[test]
fn dry_run_may_come_before_the_command_and_only_scripts_take_it() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.content_hash();
        let run = ws.run(&[
            "--dry-run",
            "eval",
            r#"contact_create(#{name: "Kept nowhere"})"#,
        ]);
        assert!(run.success, "{}", run.stderr);
        assert!(run.stderr.contains("dry run"), "{}", run.stderr);
        assert_eq!(ws.content_hash(), before);
        let refused = ws.run(&["--dry-run", "check"]);
        assert!(
            !refused.success && refused.stderr.contains("--dry-run"),
            "{}",
            refused.stderr
        );
    });
}

#[test]
fn quiet_leaves_notes_out_of_standard_error() {
    each_backend(|ws| {
        let run = ws.run(&["--quiet", "--dry-run", "eval", "1"]);
        assert!(run.success);
        assert_eq!(run.stderr, "");
        let piped = ws.run_with_input(&["--quiet"], "1\n");
        assert_eq!(piped.stderr, "", "no greeting");
    });
}

#[test]
fn stats_from_alone_counts_from_that_day_on() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        // The demo's history is dated on the work date.
        let day = |code: &str| ws.ok(&["eval", code]).trim().to_string();
        let (today, tomorrow, yesterday) = (day("today()"), day("today() + 1"), day("today() - 1"));
        let count = |args: &[&str]| {
            let mut all = vec!["--format", "json", "stats", "template", "S_STATM"];
            all.extend(args);
            serde_json::from_str::<serde_json::Value>(&ws.ok(&all)).unwrap()["count"].clone()
        };
        assert_eq!(count(&[]), serde_json::json!(7));
        assert_eq!(count(&["--from", &today]), serde_json::json!(7));
        assert_eq!(
            count(&["--from", &tomorrow]),
            serde_json::json!(0),
            "from alone is a bound"
        );
        assert_eq!(
            count(&["--to", &yesterday]),
            serde_json::json!(0),
            "to alone is a bound"
        );
    });
}

#[test]
fn stats_refuse_a_first_day_after_the_last() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run(&[
            "stats",
            "template",
            "S_STATM",
            "--from",
            "2026-12-01",
            "--to",
            "2026-01-01",
        ]);
        assert!(!run.success);
        assert!(run.stderr.contains("from"), "{}", run.stderr);
    });
}

#[test]
fn the_repls_time_and_format_commands_set_what_they_say() {
    each_backend(|ws| {
        let run = ws.run_with_input(&[], ":time on\n:time on\n:format json\n#{a: 1}\n:format\n");
        assert!(run.success, "{}", run.stderr);
        assert!(run.stdout.starts_with("timing on\n"), "{}", run.stdout);
        assert_eq!(
            run.stdout.matches("timing on").count(),
            2,
            "on twice stays on: {}",
            run.stdout
        );
        assert!(run.stdout.contains("{\n  \"a\": 1\n}"), "{}", run.stdout);
        assert!(
            run.stdout.contains("results print as json"),
            "{}",
            run.stdout
        );
    });
}

#[test]
fn a_table_wider_than_the_terminal_shows_each_record_as_a_block_of_fields() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let narrow = ws.run_with_env(&[("COLUMNS", "80")], &["eval", "contacts().limit(2)"]);
        assert!(narrow.success, "{}", narrow.stderr);
        assert!(
            narrow.stdout.starts_with("-[ RECORD 1 ]-\nno "),
            "{}",
            narrow.stdout
        );
        assert!(
            narrow.stdout.contains("\n-[ RECORD 2 ]-\n"),
            "{}",
            narrow.stdout
        );
        assert!(
            narrow.stdout.contains("name                 │ Anna Berg\n"),
            "{}",
            narrow.stdout
        );
        assert!(
            narrow.stdout.lines().all(|l| l.chars().count() <= 80),
            "{}",
            narrow.stdout
        );
        let wide = ws.run_with_env(&[("COLUMNS", "400")], &["eval", "contacts().limit(2)"]);
        assert!(
            wide.stdout.starts_with('┌'),
            "a table that fits stays a table"
        );
    });
}

#[test]
fn numbers_are_right_aligned_in_tables() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let out = ws.ok(&["eval", r#"templates().filter(#{code: "BUS"})"#]);
        assert!(
            out.contains("┆         8 ┆"),
            "unit_cost right-aligned:\n{out}"
        );
        assert!(
            out.contains("│ BUS  ┆ LETTER ┆"),
            "text stays left-aligned:\n{out}"
        );
    });
}

#[test]
fn a_records_fields_print_in_the_specs_order() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let one = ws.ok(&["eval", r#"contact("CT000002")"#]);
        let at = |field: &str| {
            one.find(&format!("│ {field} "))
                .unwrap_or_else(|| panic!("{field} in\n{one}"))
        };
        assert!(at("no") < at("name") && at("name") < at("kind") && at("kind") < at("company_no"));
        assert!(at("email") < at("city") && at("city") < at("country"));
        let list = ws.ok(&["--format", "csv", "eval", "contacts().limit(1)"]);
        assert!(
            list.starts_with("no,name,kind,company_no,salesperson,"),
            "{list}"
        );
    });
}

#[test]
fn a_database_file_that_was_not_there_is_said_to_be_new() {
    let ws = rapport_tests::Workspace::new();
    let first = ws.run(&["eval", "contacts().count()"]);
    assert!(first.success, "{}", first.stderr);
    assert!(
        first.stderr.contains("there was no database at") && first.stderr.contains("check --db"),
        "{}",
        first.stderr
    );
    let again = ws.run(&["eval", "contacts().count()"]);
    assert_eq!(
        again.stderr, "",
        "an existing file is opened without a word"
    );
    let other = rapport_tests::Workspace::new();
    let demo = other.run(&["demo"]);
    assert!(
        !demo.stderr.contains("no database"),
        "demo makes one on purpose: {}",
        demo.stderr
    );
}

#[test]
fn import_reads_a_semicolon_separated_file_and_trims_its_cells() {
    each_backend(|ws| {
        let csv = ws.file(
            "semi.csv",
            b"name ; city\n Anna Berg ; Oslo \n\"Holm; Bart\";Bergen\n",
        );
        let run = ws.run(&["import", "contacts", csv.to_str().unwrap()]);
        assert!(run.success, "{}", run.stderr);
        let out = ws.ok(&[
            "--format",
            "json",
            "eval",
            "contacts().order_by(\"name\").list()",
        ]);
        let contacts: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(contacts[0]["name"], "Anna Berg", "{out}");
        assert_eq!(contacts[0]["city"], "Oslo", "{out}");
        assert_eq!(
            contacts[1]["name"], "Holm; Bart",
            "a quoted ; stays in its cell: {out}"
        );
        assert_eq!(contacts[1]["city"], "Bergen", "{out}");
    });
}

#[test]
fn the_repl_lists_the_kinds_of_record_and_a_kinds_fields() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run_with_input(&[], ":tables\n:fields contacts\n:fields entries\n");
        assert!(run.success, "{}", run.stderr);
        assert!(
            run.stdout.contains("│ contacts         ┆      50 │"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("│ entries          ┆      74 │"),
            "{}",
            run.stdout
        );
        let line = |start: &str| {
            run.stdout
                .lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no {start} in\n{}", run.stdout))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(line("city "), "city text built-in yes");
        assert_eq!(line("privacy_blocked "), "privacy_blocked flag built-in");
        assert!(line("no_letters ").starts_with("no_letters flag declared Send no"));
        assert_eq!(line("cost "), "cost number built-in");
        assert_eq!(line("template "), "template text built-in yes");
        let wrong = ws.run_with_input(&[], ":fields contcts\n");
        assert!(!wrong.success);
        assert!(
            wrong.stdout.contains("did you mean contacts?"),
            "{}",
            wrong.stdout
        );
    });
}

#[test]
fn the_repls_output_command_sends_results_to_a_new_file_until_it_is_given_alone() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let file = ws.path().join("out.csv");
        let input = format!(
            ":format csv\n:output {0}\ncontacts().limit(2)\n40 + 2\nnope()\n:output\n1 + 1\n:output {0}\n",
            file.display()
        );
        let run = ws.run_with_input(&[], &input);
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.starts_with("no,name,"), "{written}");
        assert_eq!(
            written.lines().count(),
            4,
            "a header, two contacts, 42:\n{written}"
        );
        assert!(written.ends_with("42\n"), "{written}");
        assert!(
            run.stderr.contains("no function nope"),
            "errors stay in front of the user (on stderr: results are CSV): {}",
            run.stderr
        );
        assert!(
            run.stdout.contains("\n2\n"),
            "after :output alone, results show again: {}",
            run.stdout
        );
        assert!(
            run.stderr.contains("never overwritten"),
            "an existing file is refused: {}",
            run.stderr
        );
        assert!(
            !run.success,
            "the failed inputs make piped input end non-zero"
        );
    });
}

#[test]
fn import_takes_a_tab_or_pipe_delimiter_and_a_comma_in_a_cell_stays_in_it() {
    each_backend(|ws| {
        for (file, bytes) in [
            ("tab.csv", &b"name\tcity\nTab Person\tOslo\n"[..]),
            ("pipe.csv", &b"name|city\nPipe Person|Oslo\n"[..]),
            ("tie.csv", &b"name;city\nTie, Person;Oslo\n"[..]),
        ] {
            let path = ws.file(file, bytes);
            let run = ws.run(&["import", "contacts", path.to_str().unwrap()]);
            assert!(run.success, "{file}: {}", run.stderr);
        }
        let out = ws.ok(&[
            "--format",
            "csv",
            "eval",
            r#"contacts().filter(#{city: "Oslo"}).count()"#,
        ]);
        assert_eq!(out, "3\n");
    });
}

#[test]
fn a_piped_repl_with_json_results_keeps_its_notes_and_errors_off_standard_output() {
    each_backend(|ws| {
        let run = ws.run_with_input(&["--format", "json"], ":time on\n1 + 1\nnope()\n");
        assert_eq!(run.stdout, "2\n", "stdout is the results alone");
        assert!(run.stderr.contains("timing on"), "{}", run.stderr);
        assert!(run.stderr.contains("no function nope"), "{}", run.stderr);
    });
}

/// The `fingerprint: …` line `rapport check` prints.
fn fingerprint_of(ws: &Workspace) -> String {
    let check = ws.ok(&["check"]);
    check
        .lines()
        .find(|l| l.starts_with("fingerprint: "))
        .unwrap_or_else(|| panic!("check names a fingerprint: {check}"))
        .to_string()
}

#[test]
fn a_whole_database_exported_and_imported_into_an_empty_one_has_the_same_check_fingerprint() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        // Canceled entries, a purge and a custom value, so that more than the demo moves.
        ws.ok(&[
            "eval",
            r#"cancel(entries().filter(#{template: "BUS"})); cancel(entries().filter(#{template: "OUTGOING"})); purge_canceled(#{template: "BUS"}); contact_update("CT000001", #{city: "Oslo"})"#,
        ]);
        let dump = ws.file("crm.jsonl", b"");
        std::fs::remove_file(&dump).unwrap();
        ws.ok(&["export", "database", "--out", dump.to_str().unwrap()]);
        let other = ws.another();
        assert_output(
            &format!(
                "imported the database: {} records\n",
                std::fs::read_to_string(&dump).unwrap().lines().count() - 2
            ),
            &other.ok(&["import", "database", dump.to_str().unwrap()]),
        );
        assert_eq!(fingerprint_of(&other), fingerprint_of(ws));
        assert!(other.ok(&["check"]).starts_with("ok: "));
        // The derived data answers as the original's does.
        for question in [
            "stats salesperson --all",
            "stats template --all --from 2026-01-01",
        ] {
            let args: Vec<&str> = question.split(' ').collect();
            assert_eq!(other.ok(&args), ws.ok(&args), "{question}");
        }
    });
}

#[test]
fn a_database_file_moves_to_postgresql_with_the_same_check_fingerprint() {
    let Some(pg) = Workspace::postgres() else {
        eprintln!("postgres: skipped (RAPPORT_TEST_POSTGRES is not set)");
        return;
    };
    let file = Workspace::new();
    file.ok(&["demo"]);
    let dump = file.path().join("crm.jsonl");
    file.ok(&["export", "database", "--out", dump.to_str().unwrap()]);
    pg.ok(&["import", "database", dump.to_str().unwrap()]);
    assert_eq!(fingerprint_of(&pg), fingerprint_of(&file));
}

#[test]
fn a_whole_database_is_imported_only_into_an_empty_one() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let dump = ws.path().join("crm.jsonl");
        ws.ok(&["export", "database", "--out", dump.to_str().unwrap()]);
        let before = ws.content_hash();
        let run = ws.run(&["import", "database", dump.to_str().unwrap()]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("already holds records") && run.stderr.contains("a new file"),
            "{}",
            run.stderr
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn a_database_export_is_refused_by_the_import_of_one_kind_of_record() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let dump = ws.path().join("crm.jsonl");
        ws.ok(&["export", "database", "--out", dump.to_str().unwrap()]);
        let run = ws
            .another()
            .run(&["import", "contacts", dump.to_str().unwrap()]);
        assert!(
            run.stderr.contains("is a database export")
                && run.stderr.contains("rapport import database"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn a_database_is_exported_as_json_lines_and_csv_is_refused() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let text = ws.ok(&["export", "database"]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.first(),
            Some(&r#"{"format":"rapport database","version":1}"#)
        );
        let records = &lines[1..lines.len() - 1];
        for line in records {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                record["table"].is_string() && record["key"].is_string(),
                "{line}"
            );
        }
        // The last line counts them, so an import knows a file cut short.
        assert_eq!(
            lines.last().copied(),
            Some(
                format!(
                    r#"{{"end":"rapport database","records":{}}}"#,
                    records.len()
                )
                .as_str()
            )
        );
        let run = ws.run(&["--format", "csv", "export", "database"]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("is JSON lines, not CSV"),
            "{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    });
}

#[test]
fn fields_salespeople_groups_and_contacts_exported_as_csv_import_into_a_new_database() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let other = ws.another();
        for kind in ["fields", "salespeople", "groups", "contacts"] {
            let csv = ws.file(
                &format!("{kind}.csv"),
                ws.ok(&["--format", "csv", "export", kind]).as_bytes(),
            );
            let run = other.run(&["import", kind, csv.to_str().unwrap()]);
            assert!(run.success, "{kind}: {}", run.stderr);
        }
        for kind in ["fields", "salespeople", "groups", "contacts"] {
            assert_eq!(
                other.ok(&["--format", "json", "export", kind]),
                ws.ok(&["--format", "json", "export", kind]),
                "{kind} came back as they were"
            );
        }
    });
}

#[test]
fn import_refuses_a_record_that_exists_unless_update_naming_the_row() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let csv = ws.file("sp.csv", b"code,name\nNEW,New Person\nJO,Jim Oliver\n");
        let before = ws.content_hash();
        let run = ws.run(&["import", "salespeople", csv.to_str().unwrap()]);
        assert!(!run.success);
        assert_output(
            "error: line 3: row salesperson JO already exists; pick another code or change the existing one; import with --update to change existing records, or leave the row out; nothing was imported\n",
            &run.stderr,
        );
        assert_eq!(before, ws.content_hash());
        assert_output(
            "imported 1 salesperson, updated 1\n",
            &ws.ok(&["import", "salespeople", csv.to_str().unwrap(), "--update"]),
        );
    });
}

#[test]
fn import_update_changes_only_the_columns_a_row_has() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let before = ws.ok(&["--format", "json", "eval", r#"contact("CT000002")"#]);
        let before: serde_json::Value = serde_json::from_str(&before).unwrap();
        let csv = ws.file("move.csv", b"no,city\nCT000002,Trondheim\n");
        assert_output(
            "imported 0 contacts, updated 1\n",
            &ws.ok(&["import", "contacts", csv.to_str().unwrap(), "--update"]),
        );
        let after = ws.ok(&["--format", "json", "eval", r#"contact("CT000002")"#]);
        let mut after: serde_json::Value = serde_json::from_str(&after).unwrap();
        assert_eq!(after["city"], "Trondheim");
        after["city"] = before["city"].clone();
        assert_eq!(after, before, "every other field stays");
    });
}

#[test]
fn import_reads_json_lines_and_json_arrays() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let lines = ws.file(
            "new.jsonl",
            b"{\"code\": \"AA\", \"name\": \"Ada Ash\", \"blocked\": true}\n\n{\"code\": \"BB\", \"name\": \"Bo Birch\", \"email\": null}\n",
        );
        assert_output(
            "imported 2 salespeople\n",
            &ws.ok(&["import", "salespeople", lines.to_str().unwrap()]),
        );
        assert_output("true\n", &ws.ok(&["eval", r#"salesperson("AA").blocked"#]));
        let array = ws.file(
            "groups.json",
            b"[\n{\"code\": \"FAIR\", \"description\": \"Trade fairs\"},\n{\"code\": \"WEB\", \"description\": \"Web meetings\"}\n]\n",
        );
        assert_output(
            "imported 2 groups\n",
            &ws.ok(&["import", "groups", array.to_str().unwrap()]),
        );
        let bad = ws.file("bad.jsonl", b"{\"code\": \"CC\"}\n{\"code\": [1]}\n");
        let run = ws.run(&["import", "salespeople", bad.to_str().unwrap()]);
        assert!(
            run.stderr
                .contains("line 2: field code holds a list or an object"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn import_takes_the_delimiter_it_is_given() {
    each_backend(|ws| {
        // A header of one column has no delimiter to find: the comma would split the row.
        let csv = ws.file("names.csv", b"name\nHolm, Bart\n");
        ws.ok(&[
            "import",
            "contacts",
            csv.to_str().unwrap(),
            "--delimiter",
            ";",
        ]);
        assert_output("Holm, Bart\n", &ws.ok(&["eval", "contacts().first().name"]));
        let run = ws.run(&[
            "import",
            "contacts",
            csv.to_str().unwrap(),
            "--delimiter",
            ";;",
        ]);
        assert!(
            run.stderr.contains("is not one character"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn import_reads_standard_input_given_as_a_dash() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let run = ws.run_with_input(
            &["import", "groups", "-"],
            "code,description\nFAIR,Trade fairs\n",
        );
        assert!(run.success, "{}", run.stderr);
        assert_output(
            "Trade fairs\n",
            &ws.ok(&["eval", r#"group("FAIR").description"#]),
        );
    });
}

#[test]
fn templates_change_by_import_with_update_and_keep_their_languages() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let languages = ws.ok(&["eval", r#"template("GOLF").languages.len()"#]);
        let csv = ws.file("t.csv", b"code,unit_cost\nGOLF,99.5\n");
        ws.ok(&["import", "templates", csv.to_str().unwrap(), "--update"]);
        assert_output("99.5\n", &ws.ok(&["eval", r#"template("GOLF").unit_cost"#]));
        assert_eq!(
            ws.ok(&["eval", r#"template("GOLF").languages.len()"#]),
            languages
        );
    });
}

#[test]
fn stats_all_gives_one_row_per_record_of_the_kind() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let csv = ws.ok(&["--format", "csv", "stats", "salesperson", "--all"]);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("kind,code,count,cost,duration,avg_cost,avg_duration")
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 5, "{csv}");
        let jo = rows
            .iter()
            .find(|r| r.starts_with("salesperson,JO,"))
            .unwrap();
        let one = ws.ok(&["--format", "csv", "stats", "salesperson", "JO"]);
        assert_eq!(
            Some(*jo),
            one.lines().nth(1),
            "the same numbers as stats salesperson JO"
        );
        let run = ws.run(&["stats", "salesperson"]);
        assert!(!run.success);
    });
}

#[test]
fn an_unknown_call_names_its_argument_types_as_scripts_know_them() {
    let ws = Workspace::new();
    let run = ws.run(&["eval", r#"contacts().filter("x")"#]);
    assert!(
        run.stderr.contains("no function filter(query, string);"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("&str"), "{}", run.stderr);
}

#[test]
fn a_person_listed_before_its_company_is_imported_after_it() {
    each_backend(|ws| {
        let csv = ws.file(
            "people.csv",
            b"no,name,kind,company_no\nP1,Anna Berg,person,C9\nC9,Acme,company,\n",
        );
        assert_output(
            "imported 2 contacts\n",
            &ws.ok(&["import", "contacts", csv.to_str().unwrap()]),
        );
        assert_output("C9\n", &ws.ok(&["eval", r#"contact("P1").company_no"#]));
        // With --update too (rows that name no existing contact create one).
        let more = ws.file(
            "more.csv",
            b"no,name,kind,company_no\nP3,Cleo,person,C10\nC10,Beta,company,\n",
        );
        assert_output(
            "imported 2 contacts\n",
            &ws.ok(&["import", "contacts", more.to_str().unwrap(), "--update"]),
        );
        // A row that leaves the kind out is of the kind the contact has.
        let moved = ws.file(
            "moved.csv",
            b"no,name,kind,company_no\nP1,,,C11\nC11,Gamma,company,\n",
        );
        assert_output(
            "imported 1 contact, updated 1\n",
            &ws.ok(&["import", "contacts", moved.to_str().unwrap(), "--update"]),
        );
        assert_output("C11\n", &ws.ok(&["eval", r#"contact("P1").company_no"#]));
        // A company the file does not have is still refused, naming the person's row.
        let missing = ws.file(
            "missing.csv",
            b"no,name,kind,company_no\nP2,Bo,person,C404\n",
        );
        let before = ws.content_hash();
        let run = ws.run(&["import", "contacts", missing.to_str().unwrap()]);
        assert!(
            run.stderr
                .contains("line 2: row contact C404 does not exist"),
            "{}",
            run.stderr
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn a_database_export_cut_short_is_refused_and_nothing_is_written() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let whole = ws.ok(&["export", "database"]);
        let cut = whole.lines().take(120).collect::<Vec<_>>().join("\n") + "\n";
        let file = ws.file("cut.jsonl", cut.as_bytes());
        let other = ws.another();
        let before = other.content_hash();
        let run = other.run(&["import", "database", file.to_str().unwrap()]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("ends after 119 records") && run.stderr.contains("cut short"),
            "{}",
            run.stderr
        );
        assert_eq!(before, other.content_hash());
    });
}

#[test]
fn a_file_of_another_kind_of_record_is_said_to_be_one() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let contacts = ws.file(
            "contacts.csv",
            ws.ok(&["--format", "csv", "export", "contacts"]).as_bytes(),
        );
        let run = ws.run(&["import", "salespeople", contacts.to_str().unwrap()]);
        assert!(
            run.stderr
                .contains("the columns are those of contacts: import the file with `rapport import contacts FILE`"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("--define-fields"), "{}", run.stderr);
    });
}

#[test]
fn import_update_counts_a_row_that_changes_nothing_as_unchanged() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let csv = ws.file("sp.csv", b"code,name\nJO,Jim Olive\nPS,Pete Saddow\n");
        let before = ws.ok(&["--format", "json", "export", "salespeople"]);
        assert_output(
            "imported 0 salespeople, updated 1, 1 unchanged\n",
            &ws.ok(&["import", "salespeople", csv.to_str().unwrap(), "--update"]),
        );
        let after = ws.ok(&["--format", "json", "export", "salespeople"]);
        assert_eq!(after, before.replace("Peter Saddow", "Pete Saddow"));
    });
}

#[test]
fn an_empty_file_or_a_misspelt_name_column_is_said_to_be_so() {
    each_backend(|ws| {
        let empty = ws.file("empty.csv", b"");
        let run = ws.run(&["import", "contacts", empty.to_str().unwrap()]);
        assert!(
            run.stderr.contains("is empty: it has no header row"),
            "{}",
            run.stderr
        );
        let misspelt = ws.file("nmae.csv", b"nmae,city\nAcme,Oslo\n");
        let run = ws.run(&["import", "contacts", misspelt.to_str().unwrap()]);
        assert!(
            run.stderr.contains("nmae (did you mean name?)"),
            "{}",
            run.stderr
        );
    });
}

#[test]
fn a_template_comes_without_its_languages_only_when_its_default_language_is_emptied() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let other = ws.another();
        let groups = ws.file(
            "groups.csv",
            ws.ok(&["--format", "csv", "export", "groups"]).as_bytes(),
        );
        other.ok(&["import", "groups", groups.to_str().unwrap()]);
        let templates = ws.ok(&["--format", "csv", "export", "templates"]);
        let file = ws.file("templates.csv", templates.as_bytes());
        let before = other.content_hash();
        let run = other.run(&["import", "templates", file.to_str().unwrap()]);
        assert!(
            run.stderr
                .contains("default_language is ENU, a language template GOLF does not have")
                && run.stderr.contains("only with `import database`"),
            "{}",
            run.stderr
        );
        assert_eq!(before, other.content_hash());
        // Emptied, the templates import as they were but for their languages: a template
        // without correspondence keeps none (the default would be e-mail).
        let json = ws.ok(&["--format", "json", "export", "templates"]);
        let mut all: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        for t in &mut all {
            t["default_language"] = serde_json::json!("");
        }
        let emptied = serde_json::to_string(&all).unwrap();
        let file = ws.file("emptied.json", emptied.as_bytes());
        other.ok(&["import", "templates", file.to_str().unwrap()]);
        assert_eq!(
            other.ok(&["eval", r#"template("COVERSH").correspondence"#]),
            ws.ok(&["eval", r#"template("COVERSH").correspondence"#])
        );
        assert_eq!(
            other.ok(&["eval", r#"template("BUS").unit_cost"#]),
            ws.ok(&["eval", r#"template("BUS").unit_cost"#])
        );
    });
}

#[test]
fn a_bad_record_in_the_middle_of_a_json_array_is_named() {
    each_backend(|ws| {
        let file = ws.file(
            "contacts.json",
            br#"[{"name": "Acme", "kind": "company"},
{"name": "Beta", "kind": "robot"},
{"name": "Gamma", "kind": "company"}]"#,
        );
        let before = ws.content_hash();
        let run = ws.run(&["import", "contacts", file.to_str().unwrap()]);
        assert!(
            run.stderr.contains("record 2: column kind: \"robot\""),
            "{}",
            run.stderr
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn json_after_a_byte_order_mark_or_blank_lines_is_read_as_json() {
    each_backend(|ws| {
        let file = ws.file(
            "groups.json",
            b"\xEF\xBB\xBF\n\n{\"code\": \"FAIR\", \"description\": \"Trade fairs\"}\n",
        );
        assert_output(
            "imported 1 group\n",
            &ws.ok(&["import", "groups", file.to_str().unwrap()]),
        );
    });
}

#[test]
fn format_vertical_shows_every_record_as_a_block_and_table_goes_back() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let run = ws.run_with_input(
        &[],
        ":format vertical\nsalespeople().limit(1)\n:format table\nsalespeople().limit(1)\n",
    );
    assert!(run.success, "{}", run.stderr);
    let (vertical, table) = run
        .stdout
        .split_once("(1 row)")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(vertical.contains("-[ RECORD 1 ]-"), "{}", run.stdout);
    assert!(vertical.contains("code "), "{}", run.stdout);
    assert!(
        table.contains('┌') && !table.contains("RECORD"),
        "{}",
        run.stdout
    );
    assert!(
        vertical.contains("results print as vertical"),
        "{}",
        run.stdout
    );
}

#[test]
fn import_entries_logs_each_row_anew_through_the_spec_checks_and_defaults() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let csv = ws.file(
            "history.csv",
            b"contact_no,template,date,time,description\nCT000002,OUTGOING,2026-03-01,09:30,Call about the fair\n",
        );
        assert_output(
            "imported 1 entry\n",
            &ws.ok(&["import", "entries", csv.to_str().unwrap()]),
        );
        let entry = ws.ok(&["--format", "json", "eval", "entry(75)"]);
        let entry: serde_json::Value = serde_json::from_str(&entry).unwrap();
        assert_eq!(entry["date"], "2026-03-01", "{entry}");
        assert_eq!(entry["time"], "09:30:00", "{entry}");
        assert_eq!(entry["description"], "Call about the fair", "{entry}");
        // What the row leaves out comes from the template and the contact, as when logged.
        let template = ws.ok(&["--format", "json", "eval", r#"template("OUTGOING")"#]);
        let template: serde_json::Value = serde_json::from_str(&template).unwrap();
        assert_eq!(entry["cost"], template["unit_cost"], "{entry}");
        assert_eq!(entry["group"], template["group"], "{entry}");
        assert!(ws.ok(&["check"]).starts_with("ok: 75 entries"));
        // A row the log refuses aborts the import, naming its line.
        let bad = ws.file(
            "bad.csv",
            b"contact_no,template\nCT000002,OUTGOING\nCT999999,OUTGOING\n",
        );
        let before = ws.content_hash();
        let run = ws.run(&["import", "entries", bad.to_str().unwrap()]);
        assert!(
            run.stderr
                .contains("line 3: row contact CT999999 does not exist"),
            "{}",
            run.stderr
        );
        assert_eq!(before, ws.content_hash());
    });
}

#[test]
fn an_entries_export_given_to_import_entries_says_how_entries_move() {
    each_backend(|ws| {
        ws.ok(&["demo"]);
        let csv = ws.file(
            "entries.csv",
            ws.ok(&["--format", "csv", "export", "entries"]).as_bytes(),
        );
        let run = ws.run(&["import", "entries", csv.to_str().unwrap()]);
        assert!(!run.success);
        assert!(
            run.stderr.contains("the log sets those")
                && run.stderr.contains("export and import the whole database"),
            "{}",
            run.stderr
        );
    });
}
