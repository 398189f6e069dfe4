//! Files written by earlier versions: `tests/fixtures/written-by-0.1.0.redb` (the demo company
//! and `tests/fixtures/written-by-0.1.0.rhai`, made by rapport 0.1.0 with
//! `rapport --db F demo && rapport --db F run written-by-0.1.0.rhai && rapport --db F plugins
//! enable retention`) must open in every later version, be brought to its shape, pass the
//! integrity check and read as it was written. Never regenerate the file: add one for a new
//! version beside it.

use std::path::PathBuf;

use rapport_engine::Database;
use rapport_engine::model::FieldValue;
use rapport_engine::ops::{InteractionDraft, StatKind};
use rapport_tests::{Workspace, assert_output};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/written-by-0.1.0.redb")
}

/// A copy of the fixture in a fresh folder (opening a file may upgrade it).
fn copy_into(ws: &Workspace) {
    std::fs::copy(fixture(), ws.db()).expect("the fixture is copied");
}

#[test]
fn a_file_written_by_0_1_0_opens_and_passes_the_integrity_check() {
    let ws = Workspace::new();
    copy_into(&ws);
    let db = Database::open(ws.db()).expect("the 0.1.0 file opens");
    assert!(db.read(|v| v.derived_data_is_current()).unwrap());
    let report = db.read(|v| v.integrity_check()).unwrap();
    assert!(report.is_ok(), "{:#?}", report.differences);
    assert_eq!(report.entries_checked, 81);
}

#[test]
fn a_file_written_by_0_1_0_reads_as_it_was_written() {
    let ws = Workspace::new();
    copy_into(&ws);
    let db = Database::open(ws.db()).unwrap();
    db.read(|v| {
        let company = v.contact("CT000051")?.expect("the fixture's company");
        assert_eq!(company.name, "Fixture Co");
        assert_eq!(
            company.custom.get("revenue"),
            Some(&FieldValue::Number(750.5))
        );
        assert_eq!(company.custom.get("vip"), Some(&FieldValue::Bool(true)));
        assert_eq!(v.persons_of("CT000051")?.len(), 1);
        assert!(v.entry(75)?.is_none(), "entry 75 was purged");
        assert!(v.entry(76)?.expect("the postponed entry").postponed);
        let logged = v.logged_segment(1)?.expect("the logged segment");
        assert!(logged.canceled);
        assert_eq!(v.logged_segment_entry_count(1)?, 6);
        assert_eq!(
            v.statistics(StatKind::Template, "OUTGOING", None)?.count,
            10
        );
        assert_eq!(v.plugin_settings()?.enabled, ["retention"]);
        assert!(v.demo_loaded()?);
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_file_written_by_0_1_0_takes_new_work_where_its_number_series_left_off() {
    let ws = Workspace::new();
    copy_into(&ws);
    let db = Database::open(ws.db()).unwrap();
    let last = db.read(|v| v.last_entry_no()).unwrap();
    let no = db
        .write(|tx| {
            tx.log_interaction(InteractionDraft {
                contact: "CT000052".into(),
                template: "OUTGOING".into(),
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!(no, last + 1);
    assert!(db.read(|v| v.integrity_check()).unwrap().is_ok());
}

#[test]
fn rapport_check_passes_on_a_file_written_by_0_1_0() {
    let ws = Workspace::new();
    copy_into(&ws);
    assert_output(
        // The fingerprint is of the records as 0.1.0 wrote them (and as opening declared the
        // fields its contacts hold): a change to what it hashes shows here.
        "ok: 81 entries; indexes, statistics and attachments agree\nfingerprint: 5cae955fc5fa213a27d4ee206836f14b95ad080f0041578959ca17df22d3b557\n",
        &ws.ok(&["check"]),
    );
    assert_output(
        "750.5\n",
        &ws.ok(&["eval", "contact(\"CT000051\").revenue"]),
    );
}
