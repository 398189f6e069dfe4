//! Spec 3: cancel, uncancel and toggle on entries, logged segments and campaign entries;
//! evaluate; delete canceled entries, logged segments, campaign entries; delete postponed entries.

use rapport_engine::model::*;
use rapport_engine::ops::{
    CancelMode, CanceledEntryFilter, InteractionDraft, LogSegmentOptions, LoggedSegmentOutcome,
};
use rapport_engine::{Database, Error};
use rapport_testkit::*;

fn cancel(db: &Database, nos: &[u64]) {
    db.write(|tx| tx.set_entries_canceled(nos, CancelMode::Cancel, false))
        .unwrap();
}

fn purge(db: &Database, filter: &CanceledEntryFilter) -> Vec<u64> {
    db.write(|tx| tx.delete_canceled_entries(filter, false))
        .unwrap()
        .entry_nos
}

/// A logged segment of P1 and C2 in campaign "Fair".
fn logged_segment(db: &Database) -> LoggedSegmentOutcome {
    db.write(|tx| log_segment_in_campaign(tx, "BUS", &["P1", "C2"]))
        .unwrap()
}

#[each_backend]
fn toggle_applies_the_negation_of_the_first_entrys_flag_to_all() {
    let db = db();
    let (a, b, c) = (
        log(&db, draft("P1", "CALL")),
        log(&db, draft("P1", "CALL")),
        log(&db, draft("P1", "CALL")),
    );
    cancel(&db, &[b]);
    let now = db
        .write(|tx| tx.set_entries_canceled(&[a, b, c], CancelMode::Toggle, false))
        .unwrap();
    assert!(now.canceled);
    assert!([a, b, c].iter().all(|n| entry(&db, *n).canceled));
    let now = db
        .write(|tx| tx.set_entries_canceled(&[b, a], CancelMode::Toggle, false))
        .unwrap();
    assert!(!now.canceled);
    assert!(!entry(&db, a).canceled && !entry(&db, b).canceled && entry(&db, c).canceled);
}

#[each_backend]
fn canceling_an_unknown_entry_changes_nothing() {
    let db = db();
    let a = log(&db, draft("P1", "CALL"));
    let err = refused(&db, |tx| {
        tx.set_entries_canceled(&[a, 999], CancelMode::Cancel, false)
    });
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[each_backend]
fn uncancel_is_refused_while_the_logged_segment_is_canceled() {
    let db = db();
    let out = logged_segment(&db);
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, true))
        .unwrap();
    let err = refused(&db, |tx| {
        tx.set_entries_canceled(&out.entry_nos[..1], CancelMode::Uncancel, false)
    });
    assert!(
        err.to_string().contains(&format!(
            "logged segment {} is canceled",
            out.logged_segment_no
        )),
        "{err}"
    );
}

#[each_backend]
fn uncancel_is_refused_while_the_campaign_entry_is_canceled() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let no = log(
        &db,
        InteractionDraft {
            campaign,
            ..draft("P1", "CALL")
        },
    );
    let ce = entry(&db, no).campaign_entry_no;
    db.write(|tx| tx.set_campaign_entry_canceled(ce, true))
        .unwrap();
    let err = refused(&db, |tx| {
        tx.set_entries_canceled(&[no], CancelMode::Uncancel, false)
    });
    assert!(
        err.to_string()
            .contains(&format!("campaign entry {ce} is canceled")),
        "{err}"
    );
}

#[each_backend]
fn canceling_may_remove_an_attachment_that_is_the_entrys_alone_when_asked() {
    let db = db();
    let alone = log(
        &db,
        InteractionDraft {
            attachment: Some(attachment("a.txt", b"mine")),
            ..draft("P1", "CALL")
        },
    );
    let att = entry(&db, alone).attachment_no;
    let kept = log(
        &db,
        InteractionDraft {
            attachment: Some(attachment("b.txt", b"kept")),
            ..draft("P1", "CALL")
        },
    );
    cancel(&db, &[kept]);
    assert_ne!(entry(&db, kept).attachment_no, 0, "not asked: kept");
    db.write(|tx| tx.set_entries_canceled(&[alone], CancelMode::Cancel, true))
        .unwrap();
    assert_eq!(entry(&db, alone).attachment_no, 0);
    assert!(db.read(|v| v.attachment(att)).unwrap().is_none());
    assert_consistent(&db);
}

#[each_backend]
fn canceling_keeps_an_attachment_shared_with_other_entries_even_when_asked() {
    let db = db();
    db.write(|tx| tx.template_attach("BUS", "ENU", "", &attachment("letter.txt", b"Dear")))
        .unwrap();
    let out = logged_segment(&db);
    let att = entry(&db, out.entry_nos[0]).attachment_no;
    db.write(|tx| tx.set_entries_canceled(&out.entry_nos[..1], CancelMode::Cancel, true))
        .unwrap();
    assert_eq!(entry(&db, out.entry_nos[0]).attachment_no, att);
}

#[each_backend]
fn canceling_a_logged_segment_cancels_its_campaign_entries_and_all_its_entries() {
    let db = db();
    let out = logged_segment(&db);
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, true))
        .unwrap();
    assert!(
        db.read(|v| v.logged_segment(out.logged_segment_no))
            .unwrap()
            .unwrap()
            .canceled
    );
    let ce = entry(&db, out.entry_nos[0]).campaign_entry_no;
    assert!(db.read(|v| v.campaign_entry(ce)).unwrap().unwrap().canceled);
    assert!(out.entry_nos.iter().all(|n| entry(&db, *n).canceled));
    assert_eq!(
        db.read(|v| v.logged_segment_entry_count(out.logged_segment_no))
            .unwrap(),
        2,
        "entries whose canceled equals its own"
    );
    assert_consistent(&db);
}

#[each_backend]
fn uncanceling_a_logged_segment_reverses_all_three() {
    let db = db();
    let out = logged_segment(&db);
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, true))
        .unwrap();
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, false))
        .unwrap();
    assert!(
        !db.read(|v| v.logged_segment(out.logged_segment_no))
            .unwrap()
            .unwrap()
            .canceled
    );
    let ce = entry(&db, out.entry_nos[0]).campaign_entry_no;
    assert!(!db.read(|v| v.campaign_entry(ce)).unwrap().unwrap().canceled);
    assert!(out.entry_nos.iter().all(|n| !entry(&db, *n).canceled));
}

#[each_backend]
fn canceling_a_campaign_entry_cancels_all_its_entries() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let a = log(
        &db,
        InteractionDraft {
            campaign: campaign.clone(),
            ..draft("P1", "CALL")
        },
    );
    let b = log(
        &db,
        InteractionDraft {
            campaign,
            ..draft("C2", "CALL")
        },
    );
    let other = log(&db, draft("C2", "CALL"));
    db.write(|tx| tx.set_campaign_entry_canceled(entry(&db, a).campaign_entry_no, true))
        .unwrap();
    assert!(entry(&db, a).canceled && entry(&db, b).canceled && !entry(&db, other).canceled);
}

#[each_backend]
fn a_canceled_campaign_entry_is_not_reused_by_new_interactions() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let a = log(
        &db,
        InteractionDraft {
            campaign: campaign.clone(),
            ..draft("P1", "CALL")
        },
    );
    db.write(|tx| tx.set_campaign_entry_canceled(entry(&db, a).campaign_entry_no, true))
        .unwrap();
    let b = log(
        &db,
        InteractionDraft {
            campaign,
            ..draft("P1", "CALL")
        },
    );
    assert_ne!(
        entry(&db, a).campaign_entry_no,
        entry(&db, b).campaign_entry_no
    );
    assert!(!entry(&db, b).canceled);
}

#[each_backend]
fn evaluate_sets_the_evaluation_of_the_selected_entries() {
    let db = db();
    let (a, b) = (log(&db, draft("P1", "CALL")), log(&db, draft("P1", "CALL")));
    db.write(|tx| tx.evaluate(&[a, b], Evaluation::VeryPositive))
        .unwrap();
    assert_eq!(
        (entry(&db, a).evaluation, entry(&db, b).evaluation),
        (Evaluation::VeryPositive, Evaluation::VeryPositive)
    );
}

#[each_backend]
fn delete_canceled_entries_never_touches_an_entry_that_is_not_canceled() {
    let db = db();
    let (a, b) = (log(&db, draft("P1", "CALL")), log(&db, draft("P1", "CALL")));
    cancel(&db, &[a]);
    assert_eq!(
        purge(
            &db,
            &CanceledEntryFilter {
                entry_from: Some(a),
                entry_to: Some(b),
                ..Default::default()
            }
        ),
        vec![a]
    );
    assert!(db.read(|v| v.entry(a)).unwrap().is_none());
    assert!(db.read(|v| v.entry(b)).unwrap().is_some());
    assert_consistent(&db);
}

#[each_backend]
fn delete_canceled_entries_filters_by_entry_range_contact_date_campaign_group_template_and_salesperson()
 {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let e1 = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-01-10")),
            ..draft("P1", "CALL")
        },
    );
    let e2 = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-02-10")),
            campaign: campaign.clone(),
            ..draft("C2", "BUS")
        },
    );
    let e3 = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-03-10")),
            salesperson: "PS".into(),
            ..draft("P1", "INCOME")
        },
    );
    let all = [e1, e2, e3];
    cancel(&db, &all);
    let would = |f: CanceledEntryFilter| {
        db.write(|tx| tx.delete_canceled_entries(&f, true))
            .unwrap()
            .entry_nos
    };
    assert_eq!(
        would(CanceledEntryFilter {
            entry_from: Some(e2),
            ..Default::default()
        }),
        vec![e2, e3]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            entry_to: Some(e1),
            ..Default::default()
        }),
        vec![e1]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            contact_no: "p1".into(),
            ..Default::default()
        }),
        vec![e1, e3]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            date_from: Some(day("2026-02-01")),
            date_to: Some(day("2026-02-28")),
            ..Default::default()
        }),
        vec![e2]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            campaign_no: campaign,
            ..Default::default()
        }),
        vec![e2]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            group: "phone".into(),
            ..Default::default()
        }),
        vec![e1, e3]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            template: "INCOME".into(),
            ..Default::default()
        }),
        vec![e3]
    );
    assert_eq!(
        would(CanceledEntryFilter {
            salesperson: "PS".into(),
            ..Default::default()
        }),
        vec![e2, e3]
    );
}

#[each_backend]
fn delete_canceled_entries_deletes_their_comments_and_unreferenced_attachments_and_reports_the_count()
 {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            comments: vec!["note".into()],
            attachment: Some(attachment("x.txt", b"only")),
            ..draft("P1", "CALL")
        },
    );
    let att = entry(&db, no).attachment_no;
    cancel(&db, &[no]);
    let report = db
        .write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    assert_eq!(report.count, 1);
    assert!(db.read(|v| v.entry(no)).unwrap().is_none());
    assert!(db.read(|v| v.attachment(att)).unwrap().is_none());
    assert_eq!(db.read(|v| v.attachment_contents()).unwrap(), 0);
}

#[each_backend]
fn a_dry_run_reports_what_would_go_and_changes_nothing() {
    let db = db();
    let no = log(&db, draft("P1", "CALL"));
    cancel(&db, &[no]);
    let before = db.fingerprint().unwrap();
    let report = db
        .write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), true))
        .unwrap();
    assert_eq!((report.count, report.entry_nos), (1, vec![no]));
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn delete_canceled_logged_segments_unlinks_their_entries_and_keeps_them() {
    let db = db();
    let out = logged_segment(&db);
    let kept = logged_segment_with(&db, "C1");
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, true))
        .unwrap();
    assert_eq!(
        db.write(|tx| tx.delete_canceled_logged_segments(None, None))
            .unwrap(),
        1
    );
    assert!(
        db.read(|v| v.logged_segment(out.logged_segment_no))
            .unwrap()
            .is_none()
    );
    assert!(
        db.read(|v| v.logged_segment(kept)).unwrap().is_some(),
        "not canceled: kept"
    );
    for n in &out.entry_nos {
        let e = entry(&db, *n);
        assert_eq!((e.logged_segment_no, e.canceled), (0, true));
    }
    assert_consistent(&db);
}

fn logged_segment_with(db: &Database, contact: &str) -> u64 {
    db.write(|tx| {
        let no = tx.segment_create(Segment {
            description: "Other".into(),
            template: "CALL".into(),
            ..Default::default()
        })?;
        tx.segment_add(
            &no,
            &ContactSelector::Contacts(vec![contact.into()]),
            StepOptions::default(),
        )?;
        Ok(tx
            .log_segment(&no, LogSegmentOptions::default())?
            .logged_segment_no)
    })
    .unwrap()
}

#[each_backend]
fn delete_canceled_campaign_entries_deletes_their_entries_too() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let a = log(
        &db,
        InteractionDraft {
            campaign: campaign.clone(),
            ..draft("P1", "CALL")
        },
    );
    let other = log(&db, draft("P1", "CALL"));
    let ce = entry(&db, a).campaign_entry_no;
    db.write(|tx| tx.set_campaign_entry_canceled(ce, true))
        .unwrap();
    assert_eq!(
        db.write(|tx| tx.delete_canceled_campaign_entries(&campaign))
            .unwrap(),
        (1, 1)
    );
    assert!(db.read(|v| v.campaign_entry(ce)).unwrap().is_none());
    assert!(db.read(|v| v.entry(a)).unwrap().is_none());
    assert!(db.read(|v| v.entry(other)).unwrap().is_some());
    assert_consistent(&db);
}

#[each_backend]
fn postponed_entries_can_be_deleted_and_others_are_refused() {
    let db = db();
    let postponed = log(
        &db,
        InteractionDraft {
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    let logged = log(&db, draft("P1", "CALL"));
    let err = refused(&db, |tx| {
        tx.delete_postponed_entries(Some(&[postponed, logged]))
    });
    assert!(err.to_string().contains("not postponed"), "{err}");
    assert_eq!(db.write(|tx| tx.delete_postponed_entries(None)).unwrap(), 1);
    assert!(db.read(|v| v.entry(postponed)).unwrap().is_none());
    assert!(db.read(|v| v.entry(logged)).unwrap().is_some());
}

#[each_backend]
fn canceling_an_empty_selection_changes_nothing_but_toggling_one_is_refused() {
    let db = db();
    let before = db.fingerprint().unwrap();
    db.write(|tx| tx.set_entries_canceled(&[], CancelMode::Cancel, false))
        .unwrap();
    assert_eq!(before, db.fingerprint().unwrap());
    let err = refused(&db, |tx| {
        tx.set_entries_canceled(&[], CancelMode::Toggle, false)
    });
    assert!(matches!(err, Error::Required { .. }), "{err}");
}
