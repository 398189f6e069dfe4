//! Spec 1, Segment (header, lines, criteria steps) and spec 2, "Log a segment" with the segment
//! correspondence rules.

use rapport_engine::model::*;
use rapport_engine::ops::{LogSegmentOptions, SegmentChanges, StatKind};
use rapport_engine::{Database, Error};
use rapport_testkit::*;

fn contacts(nos: &[&str]) -> ContactSelector {
    ContactSelector::Contacts(nos.iter().map(|s| (*s).to_string()).collect())
}

fn segment(db: &Database, template: &str) -> String {
    db.write(|tx| {
        tx.segment_create(Segment {
            description: "Autumn mailing".into(),
            template: template.into(),
            ..Default::default()
        })
    })
    .unwrap()
}

fn line_contacts(db: &Database, no: &str) -> Vec<String> {
    db.read(|v| v.segment_lines(no))
        .unwrap()
        .into_iter()
        .map(|l| l.contact_no)
        .collect()
}

fn add(db: &Database, no: &str, selector: &ContactSelector, options: StepOptions) -> usize {
    db.write(|tx| tx.segment_add(no, selector, options))
        .unwrap()
}

#[each_backend]
fn segment_no_comes_from_the_number_series_unless_given() {
    let db = db();
    assert_eq!(segment(&db, ""), "SM00001");
    assert_eq!(segment(&db, ""), "SM00002");
}

#[each_backend]
fn setting_the_template_copies_its_defaults_to_the_header() {
    let db = db();
    let no = segment(&db, "BUS");
    let s = db.read(|v| v.segment(&no)).unwrap().unwrap();
    assert_eq!((s.template.as_str(), s.group.as_str()), ("BUS", "LETTER"));
    assert_eq!(
        (s.unit_cost, s.unit_duration),
        (Amount::from_units(8), Amount::from_units(30))
    );
    assert_eq!(
        (s.flow, s.correspondence),
        (Flow::Outbound, Correspondence::HardCopy)
    );
}

#[each_backend]
fn setting_the_template_copies_its_defaults_to_every_line_when_asked() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    db.write(|tx| tx.segment_set_template(&no, "CALL", false))
        .unwrap();
    assert!(
        db.read(|v| v.segment_lines(&no))
            .unwrap()
            .iter()
            .all(|l| l.template == "BUS")
    );
    db.write(|tx| tx.segment_set_template(&no, "CALL", true))
        .unwrap();
    let lines = db.read(|v| v.segment_lines(&no)).unwrap();
    assert!(
        lines
            .iter()
            .all(|l| l.template == "CALL" && l.group == "PHONE" && l.cost == Amount::from_units(1))
    );
}

#[each_backend]
fn changing_a_header_field_updates_the_lines_that_share_the_headers_template() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    db.write(|tx| tx.segment_set_template(&no, "CALL", false))
        .unwrap();
    db.write(|tx| tx.segment_add(&no, &contacts(&["P2"]), StepOptions::default()))
        .unwrap();
    db.write(|tx| {
        tx.segment_update(
            &no,
            &SegmentChanges {
                salesperson: Some("PS".into()),
                unit_cost: Some(Amount::from_units(4)),
                ..Default::default()
            },
        )
    })
    .unwrap();
    let lines = db.read(|v| v.segment_lines(&no)).unwrap();
    let by = |c: &str| lines.iter().find(|l| l.contact_no == c).unwrap().clone();
    assert_eq!(
        (by("P2").salesperson.as_str(), by("P2").cost),
        ("PS", Amount::from_units(4))
    );
    assert_eq!(
        (by("P1").salesperson.as_str(), by("P1").cost),
        ("JO", Amount::from_units(8)),
        "a BUS line keeps its values"
    );
}

#[each_backend]
fn add_takes_the_contacts_that_match_a_filter() {
    let db = db();
    let no = segment(&db, "BUS");
    let n = add(
        &db,
        &no,
        &ContactSelector::Filter(ContactFilter::all().eq("company_no", "C1")),
        StepOptions::default(),
    );
    assert_eq!(n, 3);
    assert_eq!(line_contacts(&db, &no), ["C1", "P1", "P2"]);
}

#[each_backend]
fn add_skips_contacts_excluded_from_segments_unless_told() {
    let db = db();
    let mut p2 = db.read(|v| v.contact("P2")).unwrap().unwrap();
    p2.exclude_from_segment = true;
    db.write(|tx| tx.contact_update(p2.clone())).unwrap();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", "P2"]), StepOptions::default());
    assert_eq!(line_contacts(&db, &no), ["P1"]);
    add(
        &db,
        &no,
        &contacts(&["P2"]),
        StepOptions {
            ignore_exclusion: true,
            ..Default::default()
        },
    );
    assert_eq!(line_contacts(&db, &no), ["P1", "P2"]);
}

#[each_backend]
fn add_skips_contacts_already_on_the_segment_unless_told() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    assert_eq!(add(&db, &no, &contacts(&["P1"]), StepOptions::default()), 0);
    assert_eq!(
        add(
            &db,
            &no,
            &contacts(&["P1"]),
            StepOptions {
                allow_existing: true,
                ..Default::default()
            }
        ),
        1
    );
    assert_eq!(line_contacts(&db, &no), ["P1", "P1"]);
}

#[each_backend]
fn add_can_expand_companies_to_their_persons() {
    let db = db();
    let no = segment(&db, "BUS");
    add(
        &db,
        &no,
        &contacts(&["C1"]),
        StepOptions {
            expand_companies: true,
            ..Default::default()
        },
    );
    assert_eq!(line_contacts(&db, &no), ["C1", "P1", "P2"]);
}

#[each_backend]
fn add_never_takes_privacy_blocked_contacts() {
    let db = db();
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.privacy_blocked = true;
    db.write(|tx| tx.contact_update(c2.clone())).unwrap();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["C2", "P1"]), StepOptions::default());
    assert_eq!(line_contacts(&db, &no), ["P1"]);
}

#[each_backend]
fn add_with_an_unknown_contact_is_refused() {
    let db = db();
    let no = segment(&db, "BUS");
    let err = refused(&db, |tx| {
        tx.segment_add(&no, &contacts(&["P1", "NOPE"]), StepOptions::default())
    });
    assert!(
        matches!(
            err,
            Error::NotFound {
                record: "contact",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn reduce_removes_the_contacts_that_match() {
    let db = db();
    let no = segment(&db, "BUS");
    add(
        &db,
        &no,
        &contacts(&["C1", "P1", "P2", "C2"]),
        StepOptions::default(),
    );
    db.write(|tx| {
        tx.segment_reduce(
            &no,
            &ContactSelector::Filter(ContactFilter::all().eq("kind", "person")),
        )
    })
    .unwrap();
    assert_eq!(line_contacts(&db, &no), ["C1", "C2"]);
}

#[each_backend]
fn refine_keeps_only_the_contacts_that_match() {
    let db = db();
    let no = segment(&db, "BUS");
    add(
        &db,
        &no,
        &contacts(&["C1", "P1", "P2", "C2"]),
        StepOptions::default(),
    );
    db.write(|tx| {
        tx.segment_refine(
            &no,
            &ContactSelector::Filter(ContactFilter::all().eq("salesperson", "ps")),
        )
    })
    .unwrap();
    assert_eq!(line_contacts(&db, &no), ["P2", "C2"]);
}

#[each_backend]
fn go_back_undoes_the_last_step_exactly() {
    let db = db();
    let no = segment(&db, "BUS");
    add(
        &db,
        &no,
        &contacts(&["C1", "P1", "P2"]),
        StepOptions::default(),
    );
    let before = db.read(|v| v.segment_lines(&no)).unwrap();
    db.write(|tx| tx.segment_reduce(&no, &contacts(&["P1"])))
        .unwrap();
    db.write(|tx| tx.segment_go_back(&no)).unwrap();
    assert_eq!(
        db.read(|v| v.segment_lines(&no)).unwrap(),
        before,
        "the removed line came back whole"
    );
    add(&db, &no, &contacts(&["C2"]), StepOptions::default());
    db.write(|tx| tx.segment_go_back(&no)).unwrap();
    assert_eq!(
        db.read(|v| v.segment_lines(&no)).unwrap(),
        before,
        "the added line went"
    );
    db.write(|tx| tx.segment_go_back(&no)).unwrap();
    assert!(db.read(|v| v.segment_lines(&no)).unwrap().is_empty());
    let err = refused(&db, |tx| tx.segment_go_back(&no));
    assert!(err.to_string().contains("no criteria step"), "{err}");
}

#[each_backend]
fn criteria_can_be_saved_under_a_name_and_replayed_on_another_segment() {
    let db = db();
    let first = segment(&db, "BUS");
    add(
        &db,
        &first,
        &ContactSelector::Filter(ContactFilter::all().eq("company_no", "C1")),
        StepOptions::default(),
    );
    db.write(|tx| tx.segment_reduce(&first, &contacts(&["C1"])))
        .unwrap();
    db.write(|tx| tx.segment_save_criteria(&first, "c1 people"))
        .unwrap();
    let second = segment(&db, "CALL");
    db.write(|tx| tx.segment_reuse_criteria(&second, "C1 PEOPLE"))
        .unwrap();
    assert_eq!(line_contacts(&db, &second), ["P1", "P2"]);
    assert_eq!(
        db.read(|v| v.criteria_steps(&second)).unwrap().len(),
        2,
        "replayed steps can be undone one by one"
    );
}

#[each_backend]
fn logging_a_segment_makes_one_entry_per_line_under_a_new_logged_segment() {
    let mut db = db();
    db.context_mut()
        .clock
        .set_work_date(Some(day("2026-01-01")));
    let no = segment(&db, "BUS");
    add(
        &db,
        &no,
        &contacts(&["P1", "P2", "C2"]),
        StepOptions::default(),
    );
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(out.entry_nos.len(), 3);
    let ls = db
        .read(|v| v.logged_segment(out.logged_segment_no))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            ls.segment_no.as_str(),
            ls.description.as_str(),
            ls.created,
            ls.user.as_str()
        ),
        (no.as_str(), "Autumn mailing", day(TODAY), "TESTER")
    );
    for n in &out.entry_nos {
        let e = entry(&db, *n);
        assert_eq!(
            (
                e.logged_segment_no,
                e.segment_no.as_str(),
                e.date,
                e.template.as_str()
            ),
            (out.logged_segment_no, no.as_str(), day(TODAY), "BUS")
        );
    }
    assert_eq!(
        db.read(|v| v.logged_segment_entry_count(out.logged_segment_no))
            .unwrap(),
        3
    );
    assert_consistent(&db);
}

#[each_backend]
fn logging_a_segment_gives_lines_with_a_campaign_one_campaign_entry() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let no = db
        .write(|tx| {
            tx.segment_create(Segment {
                description: "Fair mailing".into(),
                template: "BUS".into(),
                campaign_no: campaign.clone(),
                ..Default::default()
            })
        })
        .unwrap();
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    let (a, b) = (entry(&db, out.entry_nos[0]), entry(&db, out.entry_nos[1]));
    assert_ne!(a.campaign_entry_no, 0);
    assert_eq!(a.campaign_entry_no, b.campaign_entry_no);
    let ce = db
        .read(|v| v.campaign_entry(a.campaign_entry_no))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            ce.campaign_no.as_str(),
            ce.segment_no.as_str(),
            ce.logged_segment_no
        ),
        (campaign.as_str(), no.as_str(), out.logged_segment_no)
    );
}

#[each_backend]
fn a_segment_is_removed_once_logged_and_cannot_be_logged_again() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert!(db.read(|v| v.segment(&no)).unwrap().is_none());
    assert!(db.read(|v| v.segment_lines(&no)).unwrap().is_empty());
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert!(
        matches!(&err, Error::SegmentAlreadyLogged { segment, logged_segment }
            if *segment == no && *logged_segment == out.logged_segment_no),
        "{err}"
    );
}

#[each_backend]
fn logging_a_segment_without_description_is_refused() {
    let db = db();
    let no = db
        .write(|tx| {
            tx.segment_create(Segment {
                template: "BUS".into(),
                ..Default::default()
            })
        })
        .unwrap();
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert!(
        matches!(
            err,
            Error::Required {
                field: "description",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn logging_an_empty_segment_is_refused_and_writes_nothing() {
    let db = db();
    let no = segment(&db, "BUS");
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert_eq!(
        err.to_string(),
        format!("segment {no} is empty; add contacts to it before logging it")
    );
}

#[each_backend]
fn a_failing_line_writes_nothing_at_all() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.privacy_blocked = true;
    db.write(|tx| tx.contact_update(c2.clone())).unwrap();
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert!(matches!(err, Error::PrivacyBlocked { .. }), "{err}");
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 0);
}

#[each_backend]
fn the_follow_up_segment_has_the_same_campaign_and_one_line_per_contact_logged() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let no = db
        .write(|tx| {
            tx.segment_create(Segment {
                description: "Fair".into(),
                template: "BUS".into(),
                campaign_no: campaign.clone(),
                ..Default::default()
            })
        })
        .unwrap();
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    let out = db
        .write(|tx| {
            tx.log_segment(
                &no,
                LogSegmentOptions {
                    follow_up: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let follow = out.follow_up_segment.expect("a follow-up segment");
    let s = db.read(|v| v.segment(&follow)).unwrap().unwrap();
    assert_eq!(
        (s.description, s.campaign_no),
        (format!("Follow-up on segment {no}"), campaign)
    );
    assert_eq!(line_contacts(&db, &follow), ["P1", "C2"]);
}

#[each_backend]
fn delivering_a_segment_needs_an_attachment_on_every_line_with_a_correspondence() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["C2"]), StepOptions::default());
    let err = refused(&db, |tx| {
        tx.log_segment(
            &no,
            LogSegmentOptions {
                deliver: true,
                ..Default::default()
            },
        )
    });
    assert!(matches!(err, Error::NoAttachment { .. }), "{err}");
    db.write(|tx| {
        tx.template_attach(
            "BUS",
            "ENU",
            "",
            &attachment("letter.txt", b"Dear customer"),
        )
    })
    .unwrap();
    let out = db
        .write(|tx| {
            tx.log_segment(
                &no,
                LogSegmentOptions {
                    deliver: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let e = entry(&db, out.entry_nos[0]);
    assert_eq!(e.delivery_status, DeliveryStatus::InProgress);
    assert!(
        db.read(|v| v.attachment(e.attachment_no))
            .unwrap()
            .unwrap()
            .read_only
    );
}

#[each_backend]
fn delivering_email_to_a_line_without_address_fails_the_whole_segment() {
    let db = db();
    let no = segment(&db, "CALL");
    db.write(|tx| {
        tx.segment_update(
            &no,
            &SegmentChanges {
                correspondence: Some(Correspondence::Email),
                ignore_contact_correspondence: Some(true),
                ..Default::default()
            },
        )
    })
    .unwrap();
    db.write(|tx| tx.template_attach("CALL", "ENU", "", &attachment("script.txt", b"Hello")))
        .unwrap();
    add(&db, &no, &contacts(&["P1", "P2"]), StepOptions::default());
    let err = refused(&db, |tx| {
        tx.log_segment(
            &no,
            LogSegmentOptions {
                deliver: true,
                ..Default::default()
            },
        )
    });
    assert!(
        matches!(&err, Error::NoEmail { contact } if contact == "P2"),
        "{err}"
    );
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(
        entry(&db, out.entry_nos[1]).correspondence,
        Correspondence::Blank,
        "without delivery the type goes blank"
    );
}

#[each_backend]
fn segment_correspondence_rule_1_the_segments_default_when_it_ignores_the_contacts_type() {
    let db = db();
    let no = segment(&db, "CALL");
    db.write(|tx| {
        tx.segment_update(
            &no,
            &SegmentChanges {
                correspondence: Some(Correspondence::Email),
                ignore_contact_correspondence: Some(true),
                ..Default::default()
            },
        )
    })
    .unwrap();
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(
        entry(&db, out.entry_nos[0]).correspondence,
        Correspondence::Email,
        "P1 prefers hard copy"
    );
}

#[each_backend]
fn segment_correspondence_rule_2_the_templates_default_when_the_template_ignores_the_contacts_type()
{
    let db = db();
    let mut t = template(
        "EMAILT",
        "LETTER",
        "Mail",
        0,
        0,
        Flow::Outbound,
        Correspondence::Email,
    );
    t.ignore_contact_correspondence = true;
    db.write(|tx| tx.template_define(t.clone())).unwrap();
    let no = segment(&db, "EMAILT");
    db.write(|tx| {
        tx.segment_update(
            &no,
            &SegmentChanges {
                ignore_contact_correspondence: Some(false),
                ..Default::default()
            },
        )
    })
    .unwrap();
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(
        entry(&db, out.entry_nos[0]).correspondence,
        Correspondence::Email
    );
}

#[each_backend]
fn segment_correspondence_rule_2_the_templates_default_when_the_contact_has_none() {
    let db = db();
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.correspondence = Correspondence::Blank;
    db.write(|tx| tx.contact_update(c2.clone())).unwrap();
    let no = segment(&db, "BUS");
    db.write(|tx| {
        tx.segment_update(
            &no,
            &SegmentChanges {
                ignore_contact_correspondence: Some(false),
                ..Default::default()
            },
        )
    })
    .unwrap();
    add(&db, &no, &contacts(&["C2"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(
        entry(&db, out.entry_nos[0]).correspondence,
        Correspondence::HardCopy
    );
}

#[each_backend]
fn segment_correspondence_rule_3_else_the_contacts_type() {
    let db = db();
    let no = segment(&db, "CALL");
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(
        entry(&db, out.entry_nos[0]).correspondence,
        Correspondence::HardCopy
    );
    assert_eq!(
        entry(&db, out.entry_nos[1]).correspondence,
        Correspondence::Email
    );
}

#[each_backend]
fn a_logged_segments_statistics_count_its_entries() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    let s = db
        .read(|v| {
            v.statistics(
                StatKind::LoggedSegment,
                &out.logged_segment_no.to_string(),
                None,
            )
        })
        .unwrap();
    assert_eq!(
        (s.count, s.cost, s.duration),
        (2, Amount::from_units(16), Amount::from_units(60))
    );
}

#[each_backend]
fn segment_line_language_picks_the_contacts_language_when_the_template_has_it() {
    let db = db();
    let mut p1 = db.read(|v| v.contact("P1")).unwrap().unwrap();
    p1.language = "deu".into();
    db.write(|tx| tx.contact_update(p1.clone())).unwrap();
    db.write(|tx| {
        tx.template_attach("BUS", "ENU", "Letter", &attachment("en.txt", b"Dear"))?;
        tx.template_attach("BUS", "DEU", "Brief", &attachment("de.txt", b"Liebe"))
    })
    .unwrap();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", "C2"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    let (de, en) = (entry(&db, out.entry_nos[0]), entry(&db, out.entry_nos[1]));
    assert_eq!((de.language.as_str(), en.language.as_str()), ("DEU", "ENU"));
    assert_eq!(
        db.read(|v| v.attachment_content(de.attachment_no))
            .unwrap()
            .unwrap(),
        b"Liebe"
    );
}

#[each_backend]
fn logging_a_segment_reports_its_progress_to_the_caller() {
    use std::sync::{Arc, Mutex};
    let mut db = db();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    db.context_mut().progress = Some(rapport_engine::ops::Progress(Arc::new(
        move |what: &str, done, total| {
            sink.lock().unwrap().push((what.to_string(), done, total));
        },
    )));
    let no = segment(&db, "BUS");
    add(
        &db,
        &no,
        &contacts(&["P1", "P2", "C2"]),
        StepOptions::default(),
    );
    db.write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().last(),
        Some(&("logging segment".to_string(), 3, 3))
    );
}

fn person_without_salesperson(db: &Database, correspondence: Correspondence) -> String {
    db.write(|tx| {
        tx.contact_create(Contact {
            no: "P3".into(),
            name: "Cleo Eng".into(),
            kind: ContactKind::Person,
            company_no: "C2".into(),
            email: "cleo@selangorian.example".into(),
            correspondence,
            ..Default::default()
        })
    })
    .unwrap()
}

#[each_backend]
fn a_line_added_to_a_segment_without_a_template_takes_the_contacts_correspondence() {
    let db = db();
    let no = segment(&db, "");
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let lines = db.read(|v| v.segment_lines(&no)).unwrap();
    assert_eq!(lines[0].correspondence, Correspondence::HardCopy);
}

#[each_backend]
fn a_segment_without_a_template_that_ignores_the_contacts_type_keeps_its_own() {
    let db = db();
    let no = db
        .write(|tx| {
            tx.segment_create(Segment {
                description: "E-mail only".into(),
                correspondence: Correspondence::Email,
                ignore_contact_correspondence: true,
                ..Default::default()
            })
        })
        .unwrap();
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let lines = db.read(|v| v.segment_lines(&no)).unwrap();
    assert_eq!(lines[0].correspondence, Correspondence::Email);
}

#[each_backend]
fn a_segment_is_logged_once_also_when_created_again_under_the_same_number() {
    let db = db();
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    db.write(|tx| {
        tx.segment_create(Segment {
            no: no.clone(),
            description: "Again".into(),
            template: "BUS".into(),
            ..Default::default()
        })
    })
    .unwrap();
    add(&db, &no, &contacts(&["P2"]), StepOptions::default());
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert!(
        matches!(&err, Error::SegmentAlreadyLogged { segment, logged_segment }
            if *segment == no && *logged_segment == out.logged_segment_no),
        "{err}"
    );
}

#[each_backend]
fn a_segment_line_without_any_salesperson_refuses_the_whole_log() {
    let db = db();
    let p3 = person_without_salesperson(&db, Correspondence::Blank);
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&["P1", &p3]), StepOptions::default());
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert!(
        matches!(
            &err,
            Error::Required {
                field: "salesperson",
                ..
            }
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(&p3) && message.contains(&no), "{message}");
}

#[each_backend]
fn a_segment_line_without_a_salesperson_takes_the_segments() {
    let db = db();
    let p3 = person_without_salesperson(&db, Correspondence::Blank);
    let no = segment(&db, "BUS");
    add(&db, &no, &contacts(&[&p3]), StepOptions::default());
    db.write(|tx| {
        tx.segment_update(
            &no,
            &SegmentChanges {
                salesperson: Some("PS".into()),
                ..Default::default()
            },
        )
    })
    .unwrap();
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(entry(&db, out.entry_nos[0]).salesperson, "PS");
}

#[each_backend]
fn logging_a_segment_whose_template_opens_a_missing_attachment_is_refused() {
    let db = db();
    db.write(|tx| {
        tx.template_define(InteractionTemplate {
            wizard_action: WizardAction::Open,
            ..template(
                "OPEN",
                "LETTER",
                "Open the letter",
                0,
                0,
                Flow::Outbound,
                Correspondence::HardCopy,
            )
        })
    })
    .unwrap();
    let no = segment(&db, "OPEN");
    add(&db, &no, &contacts(&["P1"]), StepOptions::default());
    let err = refused(&db, |tx| tx.log_segment(&no, LogSegmentOptions::default()));
    assert!(
        matches!(&err, Error::NoTemplateAttachment { template, .. } if template == "OPEN"),
        "{err}"
    );
}
