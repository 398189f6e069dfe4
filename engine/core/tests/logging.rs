//! Spec 2, "One interaction (manual)" and "Correspondence resolution", and the entry fields of
//! spec 1 (numbers, subject, timeline title).

use rapport_engine::Error;
use rapport_engine::model::*;
use rapport_engine::ops::{
    CancelMode, CanceledEntryFilter, InteractionDraft, ResumeChanges, StatKind,
};
use rapport_testkit::*;

#[each_backend]
fn logging_needs_a_contact() {
    let db = db();
    let err = refused(&db, |tx| tx.log_interaction(draft("", "CALL")));
    assert!(
        matches!(
            err,
            Error::Required {
                field: "contact",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn logging_needs_an_existing_contact() {
    let db = db();
    let err = refused(&db, |tx| tx.log_interaction(draft("NOPE", "CALL")));
    assert!(
        matches!(err, Error::NotFound { record: "contact", ref key, .. } if key == "NOPE"),
        "{err}"
    );
}

#[each_backend]
fn logging_is_refused_for_a_privacy_blocked_contact() {
    let db = db();
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.privacy_blocked = true;
    db.write(|tx| tx.contact_update(c2.clone())).unwrap();
    let err = refused(&db, |tx| tx.log_interaction(draft("C2", "CALL")));
    assert!(
        matches!(&err, Error::PrivacyBlocked { contact } if contact == "C2"),
        "{err}"
    );
}

#[each_backend]
fn logging_needs_an_existing_template() {
    let db = db();
    let err = refused(&db, |tx| tx.log_interaction(draft("P1", "")));
    assert!(
        matches!(
            err,
            Error::Required {
                field: "template",
                ..
            }
        ),
        "{err}"
    );
    let err = refused(&db, |tx| tx.log_interaction(draft("P1", "NOPE")));
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
}

#[each_backend]
fn salesperson_defaults_to_the_contacts() {
    let db = db();
    let no = log(&db, draft("P2", "CALL"));
    assert_eq!(entry(&db, no).salesperson, "PS");
    let no = log(
        &db,
        InteractionDraft {
            salesperson: "jo".into(),
            ..draft("P2", "CALL")
        },
    );
    assert_eq!(entry(&db, no).salesperson, "JO");
}

#[each_backend]
fn logging_needs_a_salesperson_given_or_from_the_contact_and_it_must_exist() {
    let db = db();
    db.write(|tx| {
        tx.contact_create(Contact {
            no: "NOSP".into(),
            name: "No salesperson".into(),
            ..Default::default()
        })
    })
    .unwrap();
    let err = refused(&db, |tx| tx.log_interaction(draft("NOSP", "CALL")));
    assert!(
        matches!(
            err,
            Error::Required {
                field: "salesperson",
                ..
            }
        ),
        "{err}"
    );
    let err = refused(&db, |tx| {
        tx.log_interaction(InteractionDraft {
            salesperson: "ZZ".into(),
            ..draft("P1", "CALL")
        })
    });
    assert!(
        matches!(
            err,
            Error::NotFound {
                record: "salesperson",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn a_manual_interaction_is_dated_with_the_work_date_unless_given() {
    let mut db = db();
    db.context_mut()
        .clock
        .set_work_date(Some(day("2026-11-02")));
    let no = log(&db, draft("P1", "CALL"));
    assert_eq!(entry(&db, no).date, day("2026-11-02"));
    let no = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-10-01")),
            ..draft("P1", "CALL")
        },
    );
    assert_eq!(entry(&db, no).date, day("2026-10-01"));
}

#[each_backend]
fn description_defaults_from_the_template_and_must_not_be_blank() {
    let db = db();
    let no = log(&db, draft("P1", "CALL"));
    assert_eq!(entry(&db, no).description, "Outgoing call");
    db.write(|tx| {
        tx.template_define(template(
            "NODESC",
            "PHONE",
            "",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    })
    .unwrap();
    let err = refused(&db, |tx| tx.log_interaction(draft("P1", "NODESC")));
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
fn campaign_must_exist_when_given() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.log_interaction(InteractionDraft {
            campaign: "CP9".into(),
            ..draft("P1", "CALL")
        })
    });
    assert!(
        matches!(
            err,
            Error::NotFound {
                record: "campaign",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn checks_run_in_the_spec_order() {
    let db = db();
    // Privacy block (check 3) comes before the template (check 4).
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.privacy_blocked = true;
    db.write(|tx| tx.contact_update(c2.clone())).unwrap();
    let err = refused(&db, |tx| tx.log_interaction(draft("C2", "NOPE")));
    assert!(matches!(err, Error::PrivacyBlocked { .. }), "{err}");
    // Template (4) before salesperson (5) before description (7) before campaign (8).
    let bad = InteractionDraft {
        salesperson: "ZZ".into(),
        campaign: "NOPE".into(),
        ..draft("P1", "NOPE")
    };
    assert!(matches!(
        refused(&db, |tx| tx.log_interaction(bad.clone())),
        Error::NotFound {
            record: "template",
            ..
        }
    ));
    let bad = InteractionDraft {
        template: "CALL".into(),
        ..bad
    };
    assert!(matches!(
        refused(&db, |tx| tx.log_interaction(bad.clone())),
        Error::NotFound {
            record: "salesperson",
            ..
        }
    ));
    let bad = InteractionDraft {
        salesperson: String::new(),
        ..bad
    };
    assert!(matches!(
        refused(&db, |tx| tx.log_interaction(bad.clone())),
        Error::NotFound {
            record: "campaign",
            ..
        }
    ));
}

#[each_backend]
fn the_entry_copies_the_template_then_applies_the_overrides() {
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
            description: "Called about the offer".into(),
            cost: Some(Amount::from_units(3)),
            duration: Some(Amount::from_units(7)),
            evaluation: Some(Evaluation::Positive),
            attempt_failed: true,
            comments: vec!["asked for a brochure".into()],
            campaign: campaign.clone(),
            time: chrono::NaiveTime::from_hms_opt(14, 30, 0),
            attachment: Some(attachment("notes.txt", b"notes")),
            ..draft("P1", "CALL")
        },
    );
    let e = entry(&db, no);
    assert_eq!(e.template, "CALL");
    assert_eq!(e.group, "PHONE");
    assert_eq!(e.flow, Flow::Outbound);
    assert_eq!(e.initiated_by, InitiatedBy::Us);
    assert_eq!(e.description, "Called about the offer");
    assert_eq!(
        (e.cost, e.duration),
        (Amount::from_units(3), Amount::from_units(7))
    );
    assert_eq!(e.evaluation, Evaluation::Positive);
    assert!(e.attempt_failed);
    assert_eq!(
        e.comments,
        vec![Comment {
            date: day(TODAY),
            text: "asked for a brochure".into()
        }]
    );
    assert_eq!(e.campaign_no, campaign);
    assert_ne!(e.campaign_entry_no, 0);
    assert_eq!(e.time.to_string(), "14:30:00");
    assert_ne!(e.attachment_no, 0);
    assert_eq!(e.user, "TESTER");
    assert_eq!(e.contact_company_no, "C1");
}

#[each_backend]
fn cost_and_duration_overrides_are_not_negative() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.log_interaction(InteractionDraft {
            cost: Some(Amount::from_units(-1)),
            ..draft("P1", "CALL")
        })
    });
    assert!(matches!(err, Error::Invalid { field: "cost", .. }), "{err}");
    let err = refused(&db, |tx| {
        tx.log_interaction(InteractionDraft {
            duration: Some(Amount(-1)),
            ..draft("P1", "CALL")
        })
    });
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "duration",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn subject_defaults_to_the_description() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            description: "Offer".into(),
            ..draft("P1", "CALL")
        },
    );
    assert_eq!(entry(&db, no).subject, "Offer");
    let no = log(
        &db,
        InteractionDraft {
            description: "Offer".into(),
            subject: "Re: offer".into(),
            ..draft("P1", "CALL")
        },
    );
    assert_eq!(entry(&db, no).subject, "Re: offer");
}

#[each_backend]
fn manual_interactions_of_one_campaign_share_one_campaign_entry() {
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
            ..draft("C2", "BUS")
        },
    );
    assert_eq!(
        entry(&db, a).campaign_entry_no,
        entry(&db, b).campaign_entry_no
    );
}

#[each_backend]
fn deliver_defaults_to_false_so_email_without_attachment_is_logged() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            correspondence: Some(Correspondence::Email),
            ..draft("P1", "CALL")
        },
    );
    let e = entry(&db, no);
    assert_eq!(e.correspondence, Correspondence::Email);
    assert_eq!(e.delivery_status, DeliveryStatus::Blank);
}

#[each_backend]
fn delivering_email_needs_an_attachment_or_a_merge_template() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.log_interaction(InteractionDraft {
            correspondence: Some(Correspondence::Email),
            deliver: true,
            ..draft("P1", "CALL")
        })
    });
    assert!(matches!(err, Error::NoAttachment { .. }), "{err}");
    let no = log(
        &db,
        InteractionDraft {
            correspondence: Some(Correspondence::Email),
            deliver: true,
            attachment: Some(attachment("a.txt", b"x")),
            ..draft("P1", "CALL")
        },
    );
    assert_eq!(entry(&db, no).delivery_status, DeliveryStatus::InProgress);
    let mut merge = template(
        "MERGE",
        "LETTER",
        "Merge letter",
        0,
        0,
        Flow::Outbound,
        Correspondence::Email,
    );
    merge.wizard_action = WizardAction::Merge;
    db.write(|tx| tx.template_define(merge.clone())).unwrap();
    log(
        &db,
        InteractionDraft {
            deliver: true,
            ..draft("P1", "MERGE")
        },
    );
}

#[each_backend]
fn manual_correspondence_is_the_callers_else_the_templates_whatever_the_contacts() {
    let db = db();
    // P1 prefers hard copy; CALL's default is blank, BUS's hard copy.
    assert_eq!(
        entry(&db, log(&db, draft("P1", "CALL"))).correspondence,
        Correspondence::Blank
    );
    assert_eq!(
        entry(&db, log(&db, draft("C2", "BUS"))).correspondence,
        Correspondence::HardCopy
    );
    let given = log(
        &db,
        InteractionDraft {
            correspondence: Some(Correspondence::Email),
            ..draft("C2", "BUS")
        },
    );
    assert_eq!(entry(&db, given).correspondence, Correspondence::Email);
}

#[each_backend]
fn email_to_a_contact_without_address_fails_with_delivery() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.log_interaction(InteractionDraft {
            correspondence: Some(Correspondence::Email),
            deliver: true,
            attachment: Some(attachment("a.txt", b"x")),
            ..draft("P2", "CALL")
        })
    });
    assert!(
        matches!(&err, Error::NoEmail { contact } if contact == "P2"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "contact P2 has no e-mail address; add one to the contact, or log without delivery"
    );
}

#[each_backend]
fn email_to_a_contact_without_address_becomes_blank_without_delivery() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            correspondence: Some(Correspondence::Email),
            ..draft("P2", "CALL")
        },
    );
    assert_eq!(entry(&db, no).correspondence, Correspondence::Blank);
}

#[each_backend]
fn postponed_interactions_skip_the_delivery_checks() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            correspondence: Some(Correspondence::Email),
            deliver: true,
            postponed: true,
            ..draft("P2", "CALL")
        },
    );
    assert!(entry(&db, no).postponed);
}

#[each_backend]
fn postponed_entries_stay_out_of_lists_and_statistics() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    assert_eq!(
        db.read(|v| v.statistics(StatKind::Template, "CALL", None))
            .unwrap()
            .count,
        0
    );
    assert!(db.read(|v| v.timeline("P1")).unwrap().is_empty());
    assert_eq!(db.read(|v| v.postponed_entries()).unwrap(), vec![no]);
}

#[each_backend]
fn resuming_fills_the_same_entry_and_clears_postponed() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    db.write(|tx| {
        tx.resume_interaction(
            no,
            ResumeChanges {
                description: Some("Finished call".into()),
                evaluation: Some(Evaluation::Neutral),
                comments: vec!["done".into()],
                ..Default::default()
            },
        )
    })
    .unwrap();
    let e = entry(&db, no);
    assert!(!e.postponed);
    assert_eq!(
        (e.description.as_str(), e.evaluation, e.comments.len()),
        ("Finished call", Evaluation::Neutral, 1)
    );
    assert_eq!(
        db.read(|v| v.statistics(StatKind::Template, "CALL", None))
            .unwrap()
            .count,
        1
    );
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), no, "no new entry");
    assert_consistent(&db);
}

#[each_backend]
fn resuming_runs_the_delivery_checks_it_skipped() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            correspondence: Some(Correspondence::Email),
            postponed: true,
            ..draft("P2", "CALL")
        },
    );
    let err = refused(&db, |tx| {
        tx.resume_interaction(
            no,
            ResumeChanges {
                deliver: true,
                ..Default::default()
            },
        )
    });
    assert!(matches!(err, Error::NoAttachment { .. }), "{err}");
}

#[each_backend]
fn only_postponed_interactions_can_be_resumed() {
    let db = db();
    let no = log(&db, draft("P1", "CALL"));
    let err = refused(&db, |tx| {
        tx.resume_interaction(no, ResumeChanges::default())
    });
    assert!(err.to_string().contains("not postponed"), "{err}");
}

#[each_backend]
fn entry_numbers_are_strictly_increasing_and_never_reused_after_a_purge() {
    let db = db();
    let a = log(&db, draft("P1", "CALL"));
    let b = log(&db, draft("P1", "CALL"));
    assert!(b > a);
    db.write(|tx| tx.set_entries_canceled(&[b], CancelMode::Cancel, false))
        .unwrap();
    db.write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    let c = log(&db, draft("P1", "CALL"));
    assert!(c > b, "entry {c} after purged {b}");
}

#[each_backend]
fn a_failed_write_does_not_use_up_an_entry_number() {
    let db = db();
    let a = log(&db, draft("P1", "CALL"));
    rolled_back(&db, |tx| {
        tx.log_interaction(draft("P1", "CALL"))?;
        tx.log_interaction(draft("NOPE", "CALL"))
    });
    assert_eq!(log(&db, draft("P1", "CALL")), a + 1);
}

#[each_backend]
fn timeline_title_says_by_salesperson_outbound_from_contact_inbound_else_description() {
    let db = db();
    let out = entry(&db, log(&db, draft("P1", "CALL")));
    let inb = entry(&db, log(&db, draft("P1", "INCOME")));
    assert_eq!(
        out.timeline_title("Jim Olive", "Anna Berg"),
        "Outgoing call - by Jim Olive"
    );
    assert_eq!(
        inb.timeline_title("Jim Olive", "Anna Berg"),
        "Incoming call - from Anna Berg"
    );
    let mut blank = out.clone();
    blank.flow = Flow::Blank;
    assert_eq!(
        blank.timeline_title("Jim Olive", "Anna Berg"),
        "Outgoing call"
    );
}

#[each_backend]
fn a_timeline_lists_newest_first_and_a_companys_includes_its_persons() {
    let db = db();
    let old = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-01-01")),
            ..draft("P1", "CALL")
        },
    );
    let new = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-06-01")),
            ..draft("P2", "CALL")
        },
    );
    let own = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-03-01")),
            ..draft("C1", "CALL")
        },
    );
    let nos: Vec<u64> = db
        .read(|v| v.timeline("C1"))
        .unwrap()
        .iter()
        .map(|e| e.entry_no)
        .collect();
    assert_eq!(nos, vec![new, own, old]);
    let nos: Vec<u64> = db
        .read(|v| v.timeline("P1"))
        .unwrap()
        .iter()
        .map(|e| e.entry_no)
        .collect();
    assert_eq!(nos, vec![old]);
}

#[each_backend]
fn a_postponed_interaction_creates_no_campaign_entry_and_resuming_creates_it() {
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
            postponed: true,
            campaign: campaign.clone(),
            ..draft("P1", "CALL")
        },
    );
    let e = entry(&db, no);
    assert_eq!(
        (e.campaign_no.as_str(), e.campaign_entry_no),
        (campaign.as_str(), 0)
    );
    assert!(db.read(|v| v.campaign_entries()).unwrap().is_empty());

    db.write(|tx| tx.resume_interaction(no, ResumeChanges::default()))
        .unwrap();
    let e = entry(&db, no);
    let entries = db.read(|v| v.campaign_entries()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (e.campaign_entry_no, entries[0].campaign_no.as_str()),
        (entries[0].entry_no, campaign.as_str())
    );
    assert_eq!(
        db.read(|v| v.statistics(
            StatKind::CampaignEntry,
            &e.campaign_entry_no.to_string(),
            None
        ))
        .unwrap()
        .count,
        1
    );
    assert_consistent(&db);
}

#[each_backend]
fn resuming_reuses_the_campaign_entry_logging_created() {
    let db = db();
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let logged = log(
        &db,
        InteractionDraft {
            campaign: campaign.clone(),
            ..draft("P2", "CALL")
        },
    );
    let postponed = log(
        &db,
        InteractionDraft {
            postponed: true,
            campaign,
            ..draft("P1", "CALL")
        },
    );
    db.write(|tx| tx.resume_interaction(postponed, ResumeChanges::default()))
        .unwrap();
    assert_eq!(
        entry(&db, postponed).campaign_entry_no,
        entry(&db, logged).campaign_entry_no
    );
    assert_eq!(db.read(|v| v.campaign_entries()).unwrap().len(), 1);
}
