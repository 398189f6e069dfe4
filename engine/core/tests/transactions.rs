//! Transactions as `Database` runs them: all or nothing, run again when another writer overtook
//! them (on a backend whose writers conflict), given up after a bounded number of tries; and the
//! test helpers that prove a refused operation wrote nothing.

use std::sync::Arc;

use rapport_engine::model::InteractionGroup;
use rapport_engine::store::{Backend, MemoryBackend};
use rapport_engine::{Database, Error, ErrorKind, SCHEMA, WRITE_ATTEMPTS};
use rapport_testkit::*;

fn group(code: &str) -> InteractionGroup {
    InteractionGroup {
        code: code.into(),
        description: format!("Group {code}"),
    }
}

/// Two handles on one memory backend: two writers side by side.
fn two_writers() -> (Database, Database) {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new(SCHEMA));
    (
        Database::with_backend(backend.clone()).unwrap(),
        Database::with_backend(backend).unwrap(),
    )
}

#[test]
fn a_write_another_writer_overtook_runs_again_and_keeps_both() {
    let (db, other) = two_writers();
    let mut runs = 0;
    db.write(|tx| {
        runs += 1;
        if runs == 1 {
            // Another writer commits while this transaction is open: this one must not commit
            // over it, and runs again on what the other wrote.
            other.write(|tx| tx.group_define(group("THEIRS"))).unwrap();
        }
        tx.group_define(group("OURS"))
    })
    .unwrap();
    assert_eq!(runs, 2, "the overtaken transaction ran again");
    let codes: Vec<String> = db
        .read(|v| v.groups())
        .unwrap()
        .into_iter()
        .map(|g| g.code)
        .collect();
    assert_eq!(codes, ["OURS", "THEIRS"]);
}

#[test]
fn a_write_that_keeps_conflicting_is_given_up_and_keeps_nothing() {
    let (db, other) = two_writers();
    let mut runs = 0;
    let err = db
        .write(|tx| {
            runs += 1;
            other
                .write(|tx| tx.group_define(group(&format!("T{runs}"))))
                .unwrap();
            tx.group_define(group("OURS"))
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { attempts } if attempts == WRITE_ATTEMPTS),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(runs, WRITE_ATTEMPTS);
    assert!(db.read(|v| v.group("OURS")).unwrap().is_none());
}

#[test]
fn a_refused_write_is_not_run_again() {
    let (db, _) = two_writers();
    let mut runs = 0;
    let err = db
        .write(|tx| {
            runs += 1;
            tx.group_define(group(""))
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Required, "{err}");
    assert_eq!(runs, 1);
}

#[test]
#[should_panic(expected = "before it was refused")]
fn refused_fails_when_the_work_writes_before_it_refuses() {
    let db = db();
    // A workflow that wrote before it checked: the group is written, then the refusal comes.
    refused(&db, |tx| {
        tx.group_define(group("EARLY"))?;
        tx.group_define(group(""))
    });
}

#[test]
#[should_panic(expected = "should have been refused")]
fn refused_fails_when_the_work_succeeds() {
    let db = db();
    refused(&db, |tx| tx.group_define(group("FINE")));
}

#[test]
fn refused_passes_when_the_work_checks_before_it_writes() {
    let db = db();
    let err = refused(&db, |tx| tx.group_define(group("")));
    assert_eq!(err.kind(), ErrorKind::Required);
}

#[test]
#[should_panic(expected = "kept some of its writes")]
fn rolled_back_fails_when_the_failed_work_left_something_behind() {
    let (db, other) = two_writers();
    // A write the failed work cannot take back: another writer's commit.
    rolled_back(&db, |tx| {
        other.write(|tx| tx.group_define(group("OTHER")))?;
        tx.group_define(group(""))
    });
}
