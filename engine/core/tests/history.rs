//! The history (issue 18): every committed write operation leaves one record of itself; undo of
//! one operation; retention; erasure of a person's data.

use rapport_engine::model::*;
use rapport_engine::ops::{CancelMode, CanceledEntryFilter, LogSegmentOptions};
use rapport_engine::store::Order;
use rapport_engine::{Database, Error, ErrorKind};
use rapport_testkit::*;

/// The operations of the history, oldest first.
fn operations(db: &Database) -> Vec<Operation> {
    db.read(|v| {
        let mut ops = Vec::new();
        v.operations(None, Order::Ascending, &mut |op| {
            ops.push(op);
            Ok(true)
        })?;
        Ok(ops)
    })
    .unwrap()
}

fn last(db: &Database) -> Operation {
    operations(db).pop().expect("an operation")
}

fn undo(db: &Database, no: u64) -> Result<rapport_engine::ops::UndoReport, Error> {
    db.write(|tx| tx.undo(no))
}

/// The stored records, without the number series (an undo does not give numbers back).
fn records(db: &Database) -> Fingerprint {
    db.fingerprint()
        .unwrap()
        .into_iter()
        .filter(|(table, key, _)| !(*table == "meta" && key.first() == Some(&1)))
        .collect()
}

type Fingerprint = rapport_engine::Fingerprint;

/// Runs `work`, then undoes the operation it made: the records are as before, and the check
/// passes.
fn assert_undone(
    db: &Database,
    work: impl FnMut(&mut rapport_engine::Tx<'_>) -> rapport_engine::Result<()>,
) {
    let before = records(db);
    db.write(work).unwrap();
    let op = last(db);
    assert_ne!(records(db), before, "the work changed nothing");
    undo(db, op.no).unwrap();
    assert_consistent(db);
    assert_eq!(
        records(db),
        before,
        "undo of operation {} left a difference",
        op.no
    );
}

#[each_backend]
fn every_committed_write_leaves_one_operation_naming_who_and_what() {
    let db = db().doing(Doing {
        kind: "command".into(),
        what: "rapport eval log".into(),
        script: "log_interaction(#{contact: \"P1\"})".into(),
    });
    let n = operations(&db).len();
    let entry = log(&db, draft("P1", "CALL"));
    let ops = operations(&db);
    assert_eq!(ops.len(), n + 1);
    let op = ops.last().unwrap();
    assert_eq!(op.user, "TESTER");
    assert_eq!(
        (op.kind.as_str(), op.what.as_str()),
        ("command", "rapport eval log")
    );
    assert_eq!(op.script, "log_interaction(#{contact: \"P1\"})");
    assert_eq!(op.script_sha256.len(), 64);
    assert_eq!(op.date, day(TODAY));
    assert_eq!(op.entry_nos, vec![(entry, entry)]);
    assert_eq!(op.count_of("entries").map(|c| c.added), Some(1));
}

#[each_backend]
fn reads_and_refused_writes_leave_no_operation() {
    let db = db();
    let n = operations(&db).len();
    db.read(|v| v.entry(1)).unwrap();
    refused(&db, |tx| tx.log_interaction(draft("NOBODY", "CALL")));
    // A transaction whose writes were all put back changed nothing either.
    db.write(|tx| {
        let c = tx.view().contact("P1")?.unwrap();
        let mut other = c.clone();
        other.city = "Elsewhere".into();
        tx.contact_update(other)?;
        tx.contact_update(c)
    })
    .unwrap();
    assert_eq!(operations(&db).len(), n);
}

#[each_backend]
fn undo_of_a_logged_interaction_removes_the_entry_and_its_statistics() {
    let db = db();
    let stats = db
        .read(|v| v.statistics(rapport_engine::ops::StatKind::Template, "CALL", None))
        .unwrap();
    assert_undone(&db, |tx| {
        tx.log_interaction(draft("P1", "CALL")).map(|_| ())
    });
    let after = db
        .read(|v| v.statistics(rapport_engine::ops::StatKind::Template, "CALL", None))
        .unwrap();
    assert_eq!(after.count, stats.count);
}

#[each_backend]
fn undo_of_a_segment_log_removes_its_entries_and_logged_segment() {
    let db = db();
    let segment = segment_of(&db, "BUS", &["P1", "P2", "C2"]);
    assert_undone(&db, |tx| {
        tx.log_segment(&segment, LogSegmentOptions::default())
            .map(|_| ())
    });
    // The segment can be logged again.
    db.write(|tx| tx.log_segment(&segment, LogSegmentOptions::default()))
        .unwrap();
    assert_consistent(&db);
}

#[each_backend]
fn undo_of_a_document_removes_what_it_recorded() {
    let db = db();
    db.write(|tx| tx.template_setup_set(&[(DocumentType::SalesInvoice, "INV".into())]))
        .unwrap();
    assert_undone(&db, |tx| {
        tx.record_document(&DocumentEvent::printed(
            DocumentType::SalesInvoice,
            "INV-1",
            AccountKind::Customer,
            "10000",
        ))
        .map(|_| ())
    });
}

#[each_backend]
fn undo_of_a_cancel_uncancels() {
    let db = db();
    let e = log(&db, draft("P1", "CALL"));
    assert_undone(&db, |tx| {
        tx.set_entries_canceled(&[e], CancelMode::Cancel, false)
            .map(|_| ())
    });
    assert!(!entry(&db, e).canceled);
}

#[each_backend]
fn undo_of_a_purge_brings_the_entries_back_with_their_numbers_comments_and_attachments() {
    let db = db();
    let mut d = draft("P1", "CALL");
    d.comments = vec!["Call back in May".into()];
    d.attachment = Some(attachment("offer.txt", b"the offer"));
    let a = log(&db, d);
    let mut shared = draft("P2", "CALL");
    shared.attachment = Some(attachment("offer.txt", b"the offer"));
    let b = log(&db, shared);
    db.write(|tx| tx.set_entries_canceled(&[a], CancelMode::Cancel, false))
        .unwrap();
    let before = records(&db);
    let purged = db
        .write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    assert_eq!(purged.entry_nos, vec![a]);
    let op = last(&db);
    // A later operation uses the same content, changing its reference count.
    let c = log(&db, {
        let mut d = draft("C2", "CALL");
        d.attachment = Some(attachment("offer.txt", b"the offer"));
        d
    });
    undo(&db, op.no).unwrap();
    assert_consistent(&db);
    let back = entry(&db, a);
    assert_eq!(back.comments[0].text, "Call back in May");
    assert!(back.canceled);
    assert_ne!(back.attachment_no, 0);
    assert_eq!(
        db.read(|v| v.attachment_content(back.attachment_no))
            .unwrap(),
        Some(b"the offer".to_vec())
    );
    // Taking the later entry away again gives the records of before the purge.
    db.write(|tx| {
        tx.set_entries_canceled(&[c], CancelMode::Cancel, false)?;
        tx.delete_canceled_entries(
            &CanceledEntryFilter {
                entry_from: Some(c),
                ..Default::default()
            },
            false,
        )
    })
    .unwrap();
    let _ = b;
    let mut now = records(&db);
    let mut then = before;
    // The blob and attachment records of c's content came and went: compare the rest.
    now.retain(|(t, _, _)| *t != "attachments" && *t != "blobs");
    then.retain(|(t, _, _)| *t != "attachments" && *t != "blobs");
    assert_eq!(now, then);
}

#[each_backend]
fn a_canceled_and_purged_logged_segment_comes_back_with_two_undos() {
    let db = db();
    let segment = segment_of(&db, "BUS", &["P1", "P2", "C2"]);
    let logged = db
        .write(|tx| tx.log_segment(&segment, LogSegmentOptions::default()))
        .unwrap();
    let before = records(&db);
    db.write(|tx| tx.set_logged_segment_canceled(logged.logged_segment_no, true))
        .unwrap();
    let cancel = last(&db).no;
    db.write(|tx| {
        tx.delete_canceled_entries(&CanceledEntryFilter::default(), false)?;
        tx.delete_canceled_logged_segments(None, None)
    })
    .unwrap();
    let purge = last(&db).no;
    undo(&db, purge).unwrap();
    undo(&db, cancel).unwrap();
    assert_consistent(&db);
    assert_eq!(records(&db), before);
}

#[each_backend]
fn undo_of_contact_and_template_changes_puts_the_old_values_back() {
    let db = db();
    assert_undone(&db, |tx| {
        let mut c = tx.view().contact("P1")?.unwrap();
        c.city = "Bergen".into();
        c.name = "Anna Berg-Lund".into();
        tx.contact_update(c)
    });
    assert_undone(&db, |tx| {
        tx.contact_create(Contact {
            no: "P9".into(),
            name: "New Person".into(),
            company_no: "C1".into(),
            kind: ContactKind::Person,
            ..Default::default()
        })
        .map(|_| ())
    });
    assert_undone(&db, |tx| tx.contact_delete("C2"));
    assert_undone(&db, |tx| {
        let mut t = tx.view().template("CALL")?.unwrap();
        t.description = "Another call".into();
        tx.template_define(t)
    });
    assert_undone(&db, |tx| tx.template_delete("BUS"));
}

#[each_backend]
fn undo_is_refused_when_a_later_operation_changed_the_record() {
    let db = db();
    let e = log(&db, draft("P1", "CALL"));
    let logged = last(&db).no;
    db.write(|tx| tx.set_entries_canceled(&[e], CancelMode::Cancel, false))
        .unwrap();
    let cancel = last(&db).no;
    let before = db.fingerprint().unwrap();
    let err = undo(&db, logged).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChangedSince, "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "interaction log entry {e}: operation {cancel} changed it after operation {logged}; undo operation {cancel} first"
        )),
        "{err}"
    );
    assert_eq!(
        db.fingerprint().unwrap(),
        before,
        "a refused undo changed something"
    );
    // Undoing the later one first, then this one, works.
    undo(&db, cancel).unwrap();
    undo(&db, logged).unwrap();
    assert!(db.read(|v| v.entry(e)).unwrap().is_none());
}

#[each_backend]
fn undo_of_a_contact_creation_is_refused_while_a_later_entry_names_it() {
    let db = db();
    db.write(|tx| {
        tx.contact_create(Contact {
            no: "P9".into(),
            name: "New Person".into(),
            kind: ContactKind::Person,
            salesperson: "JO".into(),
            ..Default::default()
        })
    })
    .unwrap();
    let created = last(&db).no;
    log(&db, draft("P9", "CALL"));
    let before = db.fingerprint().unwrap();
    let err = undo(&db, created).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InUse, "{err}");
    assert!(
        err.to_string()
            .starts_with("contact P9: undoing would remove it, and interaction log entry "),
        "{err}"
    );
    assert_eq!(db.fingerprint().unwrap(), before);
}

#[each_backend]
fn undo_is_itself_an_operation_that_can_be_undone() {
    let db = db();
    let e = log(&db, draft("P1", "CALL"));
    let logged = last(&db).no;
    undo(&db, logged).unwrap();
    let undoing = last(&db);
    assert_eq!(undoing.undoes, vec![logged]);
    assert_eq!(
        db.read(|v| v.operation(logged)).unwrap().unwrap().undone_by,
        undoing.no
    );
    assert_eq!(undoing.count_of("entries").map(|c| c.removed), Some(1));
    // Undone twice is refused; undoing the undo brings the entry back.
    let err = undo(&db, logged).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongState, "{err}");
    undo(&db, undoing.no).unwrap();
    assert_eq!(entry(&db, e).entry_no, e);
    assert_consistent(&db);
}

#[each_backend]
fn undo_of_an_unknown_operation_is_refused() {
    let db = db();
    let err = undo(&db, 999).unwrap_err();
    assert_eq!(
        err.to_string(),
        "operation 999 does not exist; rapport history (or history()) lists the operations and their numbers"
    );
}

#[each_backend]
fn retention_drops_old_changes_and_keeps_the_receipt() {
    let mut db = db();
    log(&db, draft("P1", "CALL"));
    let old = last(&db).no;
    db.write(|tx| tx.history_keep(Some(30))).unwrap();
    db.context_mut().clock = rapport_engine::Clock::fixed(day("2027-01-15"));
    log(&db, draft("P2", "CALL"));
    let receipt = db.read(|v| v.operation(old)).unwrap().unwrap();
    assert!(receipt.expired);
    assert_eq!(receipt.count_of("entries").map(|c| c.added), Some(1));
    assert!(db.read(|v| v.operation_changes(old)).unwrap().is_empty());
    let err = undo(&db, old).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongState, "{err}");
    // The recent one is kept.
    assert!(!last(&db).expired);
}

#[each_backend]
fn without_a_retention_setting_every_change_is_kept() {
    let mut db = db();
    log(&db, draft("P1", "CALL"));
    let old = last(&db).no;
    db.context_mut().clock = rapport_engine::Clock::fixed(day("2036-01-15"));
    log(&db, draft("P2", "CALL"));
    assert!(!db.read(|v| v.operation(old)).unwrap().unwrap().expired);
    undo(&db, old).unwrap();
}

#[each_backend]
fn erasure_deletes_the_persons_data_and_takes_it_out_of_the_history() {
    let db = db().doing(Doing {
        kind: "eval".into(),
        what: "eval".into(),
        script: "contact_update(#{no: \"P2\", name: \"Peter Smith\"})".into(),
    });
    db.write(|tx| {
        let mut c = tx.view().contact("P2")?.unwrap();
        c.name = "Peter Smith".into();
        tx.contact_update(c)
    })
    .unwrap();
    let renamed = last(&db).no;
    let e = log(&db, draft("P2", "CALL"));
    let logged = last(&db).no;
    let other = log(&db, draft("P1", "CALL"));
    let erasure = db.write(|tx| tx.erase_contact("P2")).unwrap();
    assert_eq!(erasure.entries, 1);
    assert!(erasure.contact);
    assert!(db.read(|v| v.contact("P2")).unwrap().is_none());
    assert!(db.read(|v| v.entry(e)).unwrap().is_none());
    assert!(db.read(|v| v.entry(other)).unwrap().is_some());
    assert_consistent(&db);
    for op in operations(&db) {
        let changes = db.read(|v| v.operation_changes(op.no)).unwrap();
        assert!(
            !changes.iter().any(|c| c.concerns("P2")),
            "operation {} still holds P2's data",
            op.no
        );
        for text in [&op.what, &op.script] {
            assert!(
                !text.contains("P2") && !text.contains("Peter Smith"),
                "operation {} still names P2: {text}",
                op.no
            );
        }
    }
    let receipt = last(&db);
    assert_eq!(receipt.kind, "erase");
    assert!(
        receipt.script.is_empty() && !receipt.what.contains("P2"),
        "{receipt:?}"
    );
    assert_eq!(receipt.count_of("contacts").map(|c| c.removed), Some(1));
    assert!(
        receipt
            .counts
            .iter()
            .all(|c| c.added == 0 && c.changed == 0)
    );
    for no in [renamed, logged, receipt.no] {
        let err = undo(&db, no).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongState, "{err}");
    }
}

#[each_backend]
fn an_operation_that_failed_leaves_no_record_and_the_next_one_is_numbered_on() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    let a = last(&db).no;
    let _ = db.write(|tx| {
        tx.log_interaction(draft("P1", "CALL"))?;
        tx.log_interaction(draft("NOBODY", "CALL"))
    });
    log(&db, draft("P2", "CALL"));
    assert_eq!(last(&db).no, a + 1);
}

#[each_backend]
fn undo_of_a_purge_is_not_refused_when_the_same_content_was_stored_again() {
    let db = db();
    let mut d = draft("P1", "CALL");
    d.attachment = Some(attachment("offer.txt", b"only here"));
    let a = log(&db, d);
    db.write(|tx| tx.set_entries_canceled(&[a], CancelMode::Cancel, false))
        .unwrap();
    db.write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    let purge = last(&db).no;
    let mut again = draft("P2", "CALL");
    again.attachment = Some(attachment("offer.txt", b"only here"));
    log(&db, again);
    undo(&db, purge).unwrap();
    assert_consistent(&db);
    assert_eq!(
        db.read(|v| v.attachment_content(entry(&db, a).attachment_no))
            .unwrap(),
        Some(b"only here".to_vec())
    );
}

#[each_backend]
fn a_content_shared_by_many_entries_is_not_copied_into_the_history_each_time() {
    let db = db();
    let big = vec![7_u8; 100_000];
    let mut first = draft("P1", "CALL");
    first.attachment = Some(attachment("brochure.pdf", &big));
    log(&db, first);
    let mut second = draft("P2", "CALL");
    second.attachment = Some(attachment("brochure.pdf", &big));
    log(&db, second);
    let changes = db.read(|v| v.operation_changes(last(&db).no)).unwrap();
    let stored: usize = changes
        .iter()
        .map(|c| c.before.as_ref().map_or(0, Vec::len) + c.after.as_ref().map_or(0, Vec::len))
        .sum();
    assert!(
        stored < 10_000,
        "the second entry's operation keeps {stored} bytes"
    );
}

#[each_backend]
fn undo_of_a_field_declaration_is_refused_while_a_later_record_has_a_value() {
    let db = db();
    db.write(|tx| {
        tx.field_define(&FieldDef {
            record: FieldRecord::Entry,
            name: "priority".into(),
            field_type: FieldType::Number,
            description: String::new(),
        })
    })
    .unwrap();
    let declared = last(&db).no;
    let e = log(&db, draft("P1", "CALL"));
    db.write(|tx| {
        tx.custom_values_set(
            FieldRecord::Entry,
            &rapport_engine::ops::entry_id(e),
            "entry",
            &[("priority".to_string(), FieldValue::Number(3.0))]
                .into_iter()
                .collect(),
        )
    })
    .unwrap();
    let before = db.fingerprint().unwrap();
    let err = undo(&db, declared).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InUse, "{err}");
    assert!(err.to_string().contains("has a value of it"), "{err}");
    assert_eq!(db.fingerprint().unwrap(), before);
}

#[each_backend]
fn undo_of_an_operation_that_changed_users_is_refused() {
    let db = db();
    db.write(|tx| {
        tx.user_add("anna", Role::Log, "rpt_0123456789abcdef0123456789abcdef")
            .map(|_| ())
    })
    .unwrap();
    db.write(|tx| tx.user_revoke("anna").map(|_| ())).unwrap();
    let revoke = last(&db).no;
    let err = undo(&db, revoke).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongState, "{err}");
    assert!(err.to_string().contains("user anna"), "{err}");
}

#[each_backend]
fn undoing_an_undo_makes_the_first_operation_undoable_again() {
    let db = db();
    let e = log(&db, draft("P1", "CALL"));
    let logged = last(&db).no;
    undo(&db, logged).unwrap();
    let first_undo = last(&db).no;
    undo(&db, first_undo).unwrap();
    assert_eq!(
        db.read(|v| v.operation(logged)).unwrap().unwrap().undone_by,
        0
    );
    undo(&db, logged).unwrap();
    assert!(db.read(|v| v.entry(e)).unwrap().is_none());
    assert_consistent(&db);
}

#[each_backend]
fn erasure_takes_the_persons_own_attachments_out_of_the_history() {
    let db = db();
    let mut d = draft("P2", "CALL");
    d.attachment = Some(attachment("letter.txt", b"Dear Bart, about your divorce"));
    log(&db, d);
    db.write(|tx| tx.erase_contact("P2")).unwrap();
    for op in operations(&db) {
        for c in db.read(|v| v.operation_changes(op.no)).unwrap() {
            for value in [&c.before, &c.after].into_iter().flatten() {
                assert!(
                    !value.windows(7).any(|w| w == b"divorce"),
                    "operation {} keeps the letter in {}",
                    op.no,
                    c.label()
                );
            }
        }
    }
    assert_consistent(&db);
}

#[each_backend]
fn erasure_of_a_company_is_refused_while_entries_of_its_former_persons_name_it() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    // P1 leaves C1's history (its entries keep C1 as their company) when it is deleted.
    db.write(|tx| {
        let mut p = tx.view().contact("P1")?.unwrap();
        p.company_no = "C2".into();
        tx.contact_update(p)?;
        let mut p2 = tx.view().contact("P2")?.unwrap();
        p2.company_no = "C2".into();
        tx.contact_update(p2)
    })
    .unwrap();
    let before = db.fingerprint().unwrap();
    let err = db.write(|tx| tx.erase_contact("C1")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InUse, "{err}");
    assert!(err.to_string().contains("names it as its company"), "{err}");
    assert_eq!(db.fingerprint().unwrap(), before);
}

#[each_backend]
fn erasure_takes_out_whole_words_only_and_leaves_other_operations_undoable() {
    let db = db();
    db.write(|tx| {
        tx.contact_create(Contact {
            no: "P7".into(),
            name: "Bart Dahlberg".into(),
            kind: ContactKind::Person,
            salesperson: "JO".into(),
            ..Default::default()
        })
        .map(|_| ())
    })
    .unwrap();
    let other = last(&db).no;
    db.write(|tx| tx.erase_contact("P2")).unwrap();
    let op = db.read(|v| v.operation(other)).unwrap().unwrap();
    assert_eq!(op.erased, 0, "{op:?}");
    assert_eq!(
        db.read(|v| v.contact("P7")).unwrap().unwrap().name,
        "Bart Dahlberg"
    );
    undo(&db, other).unwrap();
}

#[each_backend]
fn erasure_leaves_other_records_texts_as_they_were() {
    let db = db();
    db.write(|tx| {
        tx.contact_create(Contact {
            no: "P8".into(),
            name: "Outgoing".into(),
            kind: ContactKind::Person,
            salesperson: "JO".into(),
            ..Default::default()
        })
        .map(|_| ())
    })
    .unwrap();
    let template_ops: Vec<Operation> = operations(&db);
    db.write(|tx| tx.erase_contact("P8")).unwrap();
    for op in template_ops
        .iter()
        .filter(|o| o.count_of("templates").is_some())
    {
        let changes = db.read(|v| v.operation_changes(op.no)).unwrap();
        let call = changes
            .iter()
            .find(|c| c.label() == "template CALL")
            .expect("the template's change");
        let template: InteractionTemplate =
            rapport_engine::store::codec::decode(call.after.as_ref().unwrap(), "template").unwrap();
        assert_eq!(template.description, "Outgoing call");
    }
}
