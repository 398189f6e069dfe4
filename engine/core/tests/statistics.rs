//! Spec 3, statistics: per template, group, contact, salesperson, campaign entry and logged
//! segment; canceled and postponed entries left out; date ranges; averages.

use rapport_engine::model::*;
use rapport_engine::ops::{CancelMode, InteractionDraft, StatKind, Statistics};
use rapport_engine::{Database, Error};
use rapport_testkit::*;

fn stats(db: &Database, kind: StatKind, code: &str) -> Statistics {
    db.read(|v| v.statistics(kind, code, None)).unwrap()
}

#[each_backend]
fn statistics_leave_out_canceled_and_postponed_entries() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    let canceled = log(&db, draft("P1", "CALL"));
    log(
        &db,
        InteractionDraft {
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    db.write(|tx| tx.set_entries_canceled(&[canceled], CancelMode::Cancel, false))
        .unwrap();
    for (kind, code) in [
        (StatKind::Template, "CALL"),
        (StatKind::Group, "PHONE"),
        (StatKind::Contact, "P1"),
        (StatKind::Contact, "C1"),
        (StatKind::Salesperson, "JO"),
    ] {
        assert_eq!(stats(&db, kind, code).count, 1, "{kind} {code}");
    }
}

#[each_backend]
fn average_cost_and_duration_are_total_divided_by_count_and_zero_without_entries() {
    let db = db();
    assert_eq!(stats(&db, StatKind::Template, "BUS"), Statistics::default());
    log(
        &db,
        InteractionDraft {
            cost: Some(Amount::from_units(3)),
            ..draft("P1", "BUS")
        },
    );
    log(
        &db,
        InteractionDraft {
            cost: Some(Amount::from_units(4)),
            duration: Some(Amount::from_units(10)),
            ..draft("P1", "BUS")
        },
    );
    let s = stats(&db, StatKind::Template, "BUS");
    assert_eq!(
        (s.count, s.cost, s.duration),
        (2, Amount::from_units(7), Amount::from_units(40))
    );
    assert!((s.avg_cost - 3.5).abs() < 1e-9 && (s.avg_duration - 20.0).abs() < 1e-9);
}

#[each_backend]
fn statistics_over_a_date_range_count_only_the_entries_of_those_days() {
    let db = db();
    for d in ["2026-01-31", "2026-02-01", "2026-02-28", "2026-03-01"] {
        log(
            &db,
            InteractionDraft {
                date: Some(day(d)),
                ..draft("P1", "CALL")
            },
        );
    }
    let s = db
        .read(|v| {
            v.statistics(
                StatKind::Template,
                "CALL",
                Some((day("2026-02-01"), day("2026-02-28"))),
            )
        })
        .unwrap();
    assert_eq!(s.count, 2);
}

#[each_backend]
fn statistics_refuse_a_first_day_after_the_last() {
    // A reversed range would silently give 0, as if nothing had happened then.
    let db = db();
    log(&db, draft("P1", "CALL"));
    let err = db
        .read(|v| {
            v.statistics(
                StatKind::Template,
                "CALL",
                Some((day("2026-03-02"), day("2026-02-01"))),
            )
        })
        .unwrap_err();
    assert_eq!(err.field(), Some("from"), "{err}");
}

#[each_backend]
fn a_companys_statistics_count_all_its_persons() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    log(&db, draft("P2", "CALL"));
    log(&db, draft("C1", "CALL"));
    log(&db, draft("C2", "CALL"));
    assert_eq!(stats(&db, StatKind::Contact, "C1").count, 3);
    assert_eq!(stats(&db, StatKind::Contact, "P2").count, 1);
}

#[each_backend]
fn a_contacts_statistics_over_a_date_range_count_its_entries_of_those_days_and_not_canceled_or_postponed()
 {
    let db = db();
    let on = |contact: &str, d: &str| InteractionDraft {
        date: Some(day(d)),
        ..draft(contact, "CALL")
    };
    log(&db, on("P1", "2026-01-31"));
    log(&db, on("P1", "2026-02-01"));
    log(&db, on("C1", "2026-02-10"));
    log(&db, on("P2", "2026-02-28"));
    log(&db, on("P1", "2026-03-01"));
    let canceled = log(&db, on("P1", "2026-02-15"));
    db.write(|tx| tx.set_entries_canceled(&[canceled], CancelMode::Cancel, false))
        .unwrap();
    log(
        &db,
        InteractionDraft {
            postponed: true,
            ..on("P1", "2026-02-16")
        },
    );
    let february = Some((day("2026-02-01"), day("2026-02-28")));
    let range = |code: &str| {
        db.read(|v| v.statistics(StatKind::Contact, code, february))
            .unwrap()
            .count
    };
    assert_eq!(range("P1"), 1, "a person: its own entries");
    assert_eq!(range("P2"), 1);
    assert_eq!(
        range("C1"),
        3,
        "a company: its own and its persons' entries"
    );
    assert_eq!(
        db.read(|v| v.statistics(StatKind::Contact, "C1", None))
            .unwrap()
            .count,
        5,
        "all time"
    );
}

#[each_backend]
fn campaign_entry_and_logged_segment_statistics_count_entries_whose_canceled_equals_theirs() {
    let db = db();
    let out = db
        .write(|tx| log_segment_in_campaign(tx, "BUS", &["P1", "P2", "C2"]))
        .unwrap();
    let ls = out.logged_segment_no.to_string();
    let ce = entry(&db, out.entry_nos[0]).campaign_entry_no.to_string();
    db.write(|tx| tx.set_entries_canceled(&out.entry_nos[..1], CancelMode::Cancel, false))
        .unwrap();
    assert_eq!(
        stats(&db, StatKind::LoggedSegment, &ls).count,
        2,
        "not canceled: its two live entries"
    );
    assert_eq!(stats(&db, StatKind::CampaignEntry, &ce).count, 2);
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, true))
        .unwrap();
    assert_eq!(
        stats(&db, StatKind::LoggedSegment, &ls).count,
        3,
        "canceled: all its (now canceled) entries"
    );
    assert_eq!(stats(&db, StatKind::CampaignEntry, &ce).count, 3);
    assert_eq!(stats(&db, StatKind::Template, "BUS").count, 0);
}

#[each_backend]
fn statistics_of_an_unknown_record_are_an_error() {
    let db = db();
    let err = db
        .read(|v| v.statistics(StatKind::Template, "NOPE", None))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                record: "template",
                ..
            }
        ),
        "{err}"
    );
    let err = db
        .read(|v| v.statistics(StatKind::LoggedSegment, "x", None))
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { field: "code", .. }), "{err}");
}

#[each_backend]
fn a_deleted_templates_statistics_remain_readable() {
    let db = db();
    db.write(|tx| {
        tx.template_define(template(
            "TMP",
            "LETTER",
            "Temporary",
            2,
            5,
            Flow::Outbound,
            Correspondence::Blank,
        ))
    })
    .unwrap();
    log(&db, draft("P1", "TMP"));
    db.write(|tx| tx.template_delete("TMP")).unwrap();
    assert_eq!(stats(&db, StatKind::Template, "TMP").count, 1);
}

#[each_backend]
fn statistics_follow_a_purge_and_a_resume() {
    let db = db();
    let a = log(&db, draft("P1", "CALL"));
    let b = log(
        &db,
        InteractionDraft {
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    db.write(|tx| tx.resume_interaction(b, Default::default()))
        .unwrap();
    assert_eq!(stats(&db, StatKind::Template, "CALL").count, 2);
    db.write(|tx| tx.set_entries_canceled(&[a], CancelMode::Cancel, false))
        .unwrap();
    db.write(|tx| tx.delete_canceled_entries(&Default::default(), false))
        .unwrap();
    assert_eq!(stats(&db, StatKind::Template, "CALL").count, 1);
    assert_consistent(&db);
}
