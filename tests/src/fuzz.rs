//! The fuzz targets' checks (RELIABILITY.md). `fuzz/` runs them under libFuzzer (`cargo +nightly
//! fuzz run <target>`); `tests/tests/fuzz_smoke.rs` runs them on seeded random inputs in every
//! `cargo test`, so they are kept working on stable.

use rapport_script::{Limits, RunOptions, ScriptHost};
use std::sync::Arc;

use rapport_engine::store::MemoryBackend;
use rapport_engine::{Database, Fingerprint, SCHEMA};

/// A fresh database with a group, a template, a salesperson and two contacts: a copy of one
/// made once per thread (a fuzzer runs thousands of inputs a second).
fn fresh() -> Database {
    thread_local! {
        static TEMPLATE: MemoryBackend = {
            let backend = MemoryBackend::new(SCHEMA);
            let db = Database::with_backend(Arc::new(backend.clone())).expect("a database");
            HOST.with(|host| {
                host.run(
                    &db,
                    "fuzz setup",
                    r#"group_define(#{code: "PHONE", description: "Calls"});
                       template_define(#{code: "CALL", group: "PHONE", description: "Call", unit_cost: 2});
                       salesperson_create(#{code: "JO", name: "Jim"});
                       let c = contact_create(#{no: "C1", name: "Cannon", kind: "company"});
                       contact_create(#{no: "P1", name: "Anna", kind: "person", company_no: c});"#,
                    RunOptions::default(),
                )
                .expect("the setup runs");
            });
            backend
        };
    }
    let copy = TEMPLATE.with(MemoryBackend::fork);
    Database::with_backend(Arc::new(copy)).expect("a database")
}

thread_local! {
    /// Scripts run with a plugin's strict limits.
    static HOST: ScriptHost = ScriptHost::new(Limits::hook());
}

fn unchanged_or_consistent(db: &Database, before: &Fingerprint, failed: bool, what: &str) {
    if failed {
        assert_eq!(
            &db.fingerprint().expect("reads"),
            before,
            "a failed {what} changed the database"
        );
    }
    let report = db
        .read(|v| v.integrity_check())
        .expect("the integrity check runs");
    assert!(report.is_ok(), "{what}: {:?}", report.differences);
}

/// Arbitrary bytes given to every record decoder never panic.
pub fn decode(bytes: &[u8]) {
    use rapport_engine::model::{
        Attachment, Campaign, CampaignEntry, Contact, ContactView, InteractionLogEntry,
        InteractionTemplate, LoggedSegment, Segment, SegmentLine,
    };
    use rapport_engine::store::codec::{decode, decode_in_place};
    let _ = decode::<Contact>(bytes, "contact");
    let _ = decode_in_place::<ContactView<'_>>(bytes, "contact");
    let _ = decode::<InteractionLogEntry>(bytes, "entry");
    let _ = decode::<InteractionTemplate>(bytes, "template");
    let _ = decode::<Segment>(bytes, "segment");
    let _ = decode::<SegmentLine>(bytes, "segment line");
    let _ = decode::<LoggedSegment>(bytes, "logged segment");
    let _ = decode::<Campaign>(bytes, "campaign");
    let _ = decode::<CampaignEntry>(bytes, "campaign entry");
    let _ = decode::<Attachment>(bytes, "attachment");
    let _ = decode::<rapport_engine::ops::Counters>(bytes, "statistics");
}

/// Arbitrary bytes imported as a contacts CSV: an error changes nothing, a success leaves a
/// consistent database.
pub fn csv_import(bytes: &[u8]) {
    let db = fresh();
    let before = db.fingerprint().expect("reads");
    let outcome = rapport::import::import(
        &db,
        &rapport_script::ScriptHost::new(rapport_script::Limits::user()),
        rapport::import::ImportKind::Contacts,
        rapport::import::Input::Bytes(bytes),
        "fuzz.csv",
        rapport::import::ImportOptions::default(),
        &[],
    );
    if let Err(e) = &outcome {
        assert!(!e.to_string().is_empty());
    }
    unchanged_or_consistent(&db, &before, outcome.is_err(), "CSV import");
}

/// Arbitrary text run as a script with a plugin's strict limits: an error changes nothing, a
/// success leaves a consistent database.
pub fn script(bytes: &[u8]) {
    let Ok(source) = std::str::from_utf8(bytes) else {
        return;
    };
    let db = fresh();
    let before = db.fingerprint().expect("reads");
    let outcome = HOST.with(|host| host.run(&db, "fuzz", source, RunOptions::default()));
    unchanged_or_consistent(&db, &before, outcome.is_err(), "script");
}
