//! The example scripts in `scripts/` run on the demo company and do what they say.

use rapport_engine::Database;
use rapport_script::{Limits, RunOptions, ScriptHost};
use rapport_testkit::*;
use rhai::Map;

fn script(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn demo() -> Database {
    let db = empty_db();
    rapport_script::demo::load(&db).unwrap();
    db
}

fn run(db: &Database, name: &str) -> (Map, Vec<String>) {
    let out = ScriptHost::new(Limits::user())
        .run(db, name, &script(name), RunOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.value
            .into_dynamic()
            .try_cast::<Map>()
            .expect("the script ends with a map"),
        out.printed,
    )
}

fn int(m: &Map, k: &str) -> i64 {
    m[k].as_int().unwrap_or_else(|_| panic!("{k}: {}", m[k]))
}

#[each_backend]
fn the_campaign_example_logs_a_segment_built_from_a_filter_with_a_follow_up() {
    let db = demo();
    let (out, printed) = run(&db, "campaign.rhai");
    assert_eq!(printed, ["8 invitations to log"]);
    assert_eq!(int(&out, "invitations"), 8);
    assert_eq!(int(&out, "calls_to_make"), 8);
    let criteria = db
        .read(|v| v.saved_criteria("OSLO PEOPLE"))
        .unwrap()
        .unwrap();
    assert_eq!(criteria.steps.len(), 2);
    assert_consistent(&db);
}

#[each_backend]
fn the_record_documents_example_records_what_it_can_and_says_why_for_the_rest() {
    let db = demo();
    let (out, printed) = run(&db, "record_documents.rhai");
    assert_eq!((int(&out, "recorded"), int(&out, "not_recorded")), (4, 3));
    assert_eq!(
        printed,
        [
            "sales_quote 1020: not recorded: no business relation links customer 99999 to a contact",
            "service_quote SQ1: not recorded: no template for service_quote in the template setup",
            "sales_invoice 103019: not recorded: previews are never recorded",
        ]
    );
    assert_consistent(&db);
}

#[each_backend]
fn the_purge_example_runs_a_dry_run_first_then_deletes_exactly_that() {
    let db = demo();
    let before = db.read(|v| v.last_entry_no()).unwrap();
    let (out, printed) = run(&db, "purge.rhai");
    assert_eq!(int(&out, "would_delete"), 10);
    assert_eq!(int(&out, "deleted"), 10);
    assert_eq!(int(&out, "left") as u64, before);
    assert!(
        printed[0].starts_with("a purge would delete 10 entries: ["),
        "{printed:?}"
    );
    assert!(db.read(|v| v.logged_segments()).unwrap().is_empty());
    assert_consistent(&db);
}

#[each_backend]
fn the_demo_script_is_the_demo() {
    assert_eq!(script("demo.rhai"), rapport_script::demo::DEMO_SCRIPT);
}
