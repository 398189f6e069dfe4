//! The `rapport` binary, end to end: the demo, the check, statistics, and errors that change nothing.

use rapport_tests::{Workspace, assert_output};

#[test]
fn demo_loads_the_company_and_prints_statistics_per_template() {
    let ws = Workspace::new();
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
}

#[test]
fn demo_a_second_time_says_it_is_there_and_changes_nothing() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let before = ws.content_hash();
    let out = ws.ok(&["demo"]);
    assert!(out.starts_with("The demo company is already in"), "{out}");
    assert_eq!(before, ws.content_hash());
}

#[test]
fn check_passes_on_the_demo() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    assert_output(
        "ok: 74 entries; indexes, statistics and attachments agree\n",
        &ws.ok(&["check"]),
    );
}

#[test]
fn stats_prints_count_cost_duration_and_averages() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let out = ws.ok(&["stats", "template", "s_statm"]);
    assert_output(
        "template S_STATM\ncount         7\ncost          56\nduration      7\navg_cost      8.00\navg_duration  1.00\n",
        &out,
    );
}

#[test]
fn stats_over_a_date_range_before_any_history_is_empty() {
    let ws = Workspace::new();
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
}

#[test]
fn an_unknown_template_is_an_error_that_changes_nothing() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let before = ws.content_hash();
    let run = ws.run(&["stats", "template", "NOPE"]);
    assert!(!run.success);
    assert_output(
        "error: template NOPE does not exist; check the template code or number, or create the template first\n",
        &run.stderr,
    );
    assert_eq!(before, ws.content_hash());
}

#[test]
fn an_unknown_statistics_kind_names_the_kinds_that_exist() {
    let ws = Workspace::new();
    let run = ws.run(&["stats", "templat", "BUS"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("\"template\", \"group\", \"contact\""),
        "{}",
        run.stderr
    );
}

#[test]
fn no_command_prints_help_and_fails() {
    let ws = Workspace::new();
    let run = ws.run(&[]);
    assert!(!run.success);
    assert!(run.stderr.contains("Usage:"), "{}", run.stderr);
}

#[test]
fn eval_prints_a_value() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    assert_output(
        "10\n",
        &ws.ok(&["eval", r#"contacts().filter(#{city: "Oslo"}).count()"#]),
    );
}

#[test]
fn eval_prints_records_as_a_table_or_as_json() {
    let ws = Workspace::new();
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
}

#[test]
fn run_executes_a_script_file_in_one_transaction() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/record_documents.rhai");
    let out = ws.ok(&["run", script.to_str().unwrap()]);
    assert!(out.starts_with("sales_quote 1020: not recorded: no business relation links customer 99999 to a contact\n"), "{out}");
    assert!(out.contains("recorded     ┆ 4"), "{out}");
    assert_output("78\n", &ws.ok(&["eval", "entries().count()"]));
}

#[test]
fn run_dry_run_changes_nothing() {
    let ws = Workspace::new();
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
}

#[test]
fn a_script_error_exits_non_zero_shows_a_caret_and_changes_nothing() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let before = ws.content_hash();
    let run = ws.run(&["eval", "log_interaction(#{contact: \"CT000002\", template: \"OUTGOING\"});\nlog_interaction(#{contact: \"CT000002\", template: \"NOPE\"})"]);
    assert!(!run.success);
    assert_output(
        "error: eval:2:1: template NOPE does not exist; check the template code or number, or create the template first\n   2 | log_interaction(#{contact: \"CT000002\", template: \"NOPE\"})\n     | ^\n",
        &run.stderr,
    );
    assert_eq!(before, ws.content_hash());
}

#[test]
fn a_script_over_its_operation_limit_is_stopped_and_says_which_limit() {
    let ws = Workspace::new();
    let run = ws.run(&["eval", "--max-operations", "5000", "loop {}"]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("went over its limit of 5000 operations"),
        "{}",
        run.stderr
    );
}
