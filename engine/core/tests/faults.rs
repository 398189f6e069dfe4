//! Fault injection (RELIABILITY.md): every workflow is run again and again with a failure
//! injected one step later each time — at the n-th write inside the workflow, and at the n-th
//! write or sync of the storage file (which is where a commit does its I/O) — until it runs
//! through. Each failed run must return an error and leave the database as it was before; a
//! commit whose last sync fails may also have made the whole operation durable, never a part.

use rapport_engine::model::*;
use rapport_engine::ops::{CancelMode, CanceledEntryFilter, InteractionDraft, LogSegmentOptions};
use rapport_engine::store::RedbBackend;
use rapport_engine::store::faults::{FailingWrites, FaultPlan, MemoryFile};
use rapport_engine::{Clock, Database, Fingerprint, Result, Tx};
use rapport_testkit::*;

type Workflow = fn(&mut Tx<'_>) -> Result<()>;

/// The workflows under test, each on the history [`history`] writes.
const WORKFLOWS: &[(&str, Workflow)] = &[
    ("contact_create", |tx| {
        tx.contact_create(Contact {
            name: "New Co".into(),
            city: "Oslo".into(),
            ..Default::default()
        })
        .map(drop)
    }),
    ("contact_update", |tx| {
        let mut c = tx.view().contact("P2")?.expect("P2");
        c.city = "Bergen".into();
        c.company_no = "C2".into();
        tx.contact_update(c)
    }),
    ("contact_delete", |tx| tx.contact_delete("P2")),
    ("template_define", |tx| {
        tx.template_define(template(
            "VISIT",
            "PHONE",
            "Visit",
            5,
            60,
            Flow::Outbound,
            Correspondence::Blank,
        ))
    }),
    ("log_interaction", |tx| {
        tx.log_interaction(InteractionDraft {
            comments: vec!["first".into(), "second".into()],
            attachment: Some(AttachmentContent {
                file_name: "note.txt".into(),
                content: b"hello".to_vec(),
            }),
            ..draft("P1", "CALL")
        })
        .map(drop)
    }),
    ("log_segment", |tx| {
        let no = tx.segment_create(Segment {
            description: "Mailing".into(),
            template: "BUS".into(),
            ..Default::default()
        })?;
        tx.segment_add(
            &no,
            &ContactSelector::Contacts(vec!["P1".into(), "P2".into(), "C2".into()]),
            StepOptions::default(),
        )?;
        tx.log_segment(&no, LogSegmentOptions::default()).map(drop)
    }),
    ("set_entries_canceled", |tx| {
        tx.set_entries_canceled(&[1, 2], CancelMode::Cancel, true)
            .map(drop)
    }),
    ("set_logged_segment_canceled", |tx| {
        let ls = tx.view().logged_segments()?[0].entry_no;
        tx.set_logged_segment_canceled(ls, true)
    }),
    ("delete_canceled_entries", |tx| {
        tx.delete_canceled_entries(&CanceledEntryFilter::default(), false)
            .map(drop)
    }),
    ("record_document", |tx| {
        tx.record_document(&DocumentEvent::printed(
            DocumentType::SalesInvoice,
            "103017",
            AccountKind::Customer,
            "10000",
        ))
        .map(drop)
    }),
    ("template_delete", |tx| tx.template_delete("INCOME")),
];

/// Some history for the workflows to work on: entries (two of them canceled), a logged
/// segment, an attachment.
fn history(db: &Database) {
    fill(db);
    db.write(|tx| {
        tx.log_interaction(draft("P1", "CALL"))?;
        tx.log_interaction(InteractionDraft {
            attachment: Some(AttachmentContent {
                file_name: "a.txt".into(),
                content: b"x".to_vec(),
            }),
            ..draft("P2", "BUS")
        })?;
        tx.log_interaction(draft("C2", "CALL"))?;
        let no = tx.segment_create(Segment {
            description: "Fair".into(),
            template: "CALL".into(),
            ..Default::default()
        })?;
        tx.segment_add(
            &no,
            &ContactSelector::Contacts(vec!["P1".into(), "C2".into()]),
            StepOptions::default(),
        )?;
        tx.log_segment(&no, LogSegmentOptions::default())?;
        tx.set_entries_canceled(&[3], CancelMode::Cancel, false)?;
        Ok(())
    })
    .unwrap();
}

fn on(file: &MemoryFile, plan: Option<std::sync::Arc<FaultPlan>>) -> Database {
    let mut db = Database::with_backend(std::sync::Arc::new(
        RedbBackend::open_memory_file(file, plan, rapport_engine::SCHEMA).unwrap(),
    ))
    .unwrap();
    db.context_mut().clock = Clock::fixed(day(TODAY));
    db.context_mut().user = "TESTER".into();
    db
}

/// A file with the history in it, its fingerprint, and the fingerprint after `work` runs.
fn prepared(work: Workflow) -> (MemoryFile, Fingerprint, Fingerprint) {
    let file = MemoryFile::new();
    let db = on(&file, None);
    history(&db);
    let before = db.fingerprint().unwrap();
    drop(db);
    let done = file.duplicate().unwrap();
    let db = on(&done, None);
    db.write(work).unwrap();
    let after = db.fingerprint().unwrap();
    (file, before, after)
}

fn checked(db: &Database, name: &str, n: u64) {
    let report = db.read(|v| v.integrity_check()).unwrap();
    assert!(
        report.is_ok(),
        "{name}, fault {n}: {:?}",
        report.differences
    );
}

#[test]
fn a_write_failing_inside_any_workflow_leaves_the_database_as_it_was() {
    let mut injected = 0;
    for (name, work) in WORKFLOWS {
        let (file, before, after) = prepared(*work);
        for n in 1.. {
            let copy = file.duplicate().unwrap();
            let db = on(&copy, None);
            let mut fired = false;
            let outcome = db.write_raw(|kv, ctx| {
                let mut failing = FailingWrites::new(kv, n);
                let outcome = work(&mut Tx::new(&mut failing, ctx));
                fired = failing.fired();
                outcome
            });
            if !fired {
                outcome.unwrap_or_else(|e| panic!("{name} failed without a fault: {e}"));
                assert_eq!(db.fingerprint().unwrap(), after, "{name}");
                break;
            }
            let err = outcome.expect_err("a failed write must fail the operation");
            assert!(
                err.to_string().contains("injected failure"),
                "{name}: {err}"
            );
            // What is left, read again from the file.
            drop(db);
            let db = on(&copy, None);
            assert_eq!(db.fingerprint().unwrap(), before, "{name}, write {n}");
            checked(&db, name, n);
            injected += 1;
        }
    }
    eprintln!("write faults injected: {injected}");
    assert!(injected > 100, "only {injected} faults were injected");
}

#[test]
fn an_io_failure_during_any_commit_leaves_all_or_nothing_of_the_operation() {
    let (mut injected, mut durable) = (0, 0);
    for (name, work) in WORKFLOWS {
        let (file, before, after) = prepared(*work);
        for n in 1.. {
            let copy = file.duplicate().unwrap();
            let plan = FaultPlan::fail_io_at(n);
            let db = on(&copy, Some(plan.clone()));
            plan.arm();
            let outcome = db.write(*work);
            if !plan.fired() {
                outcome.unwrap_or_else(|e| panic!("{name} failed without a fault: {e}"));
                break;
            }
            assert!(
                outcome.is_err(),
                "{name}: I/O call {n} failed, the commit said ok"
            );
            drop(db);
            let db = on(&copy, None);
            let now = db.fingerprint().unwrap();
            if now == after {
                // The failure hit the final sync, after the pages and the commit slot were written.
                durable += 1;
            } else {
                assert_eq!(
                    now, before,
                    "{name}: I/O call {n} left part of the operation"
                );
            }
            checked(&db, name, n);
            injected += 1;
        }
    }
    eprintln!("I/O faults injected: {injected} ({durable} after the commit was durable)");
    assert!(
        injected >= WORKFLOWS.len(),
        "only {injected} faults were injected"
    );
}
