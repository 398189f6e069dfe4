//! Spec 1, Contact: fields, number series, the kind and delete rules, derived values.

use rapport_engine::Error;
use rapport_engine::model::*;
use rapport_engine::ops::{CancelMode, ContactDeleteOptions, InteractionDraft, StatKind};
use rapport_testkit::*;

#[each_backend]
fn contact_no_comes_from_the_number_series_unless_given() {
    let db = empty_db();
    let (a, b, given) = db
        .write(|tx| {
            let a = tx.contact_create(Contact {
                name: "A".into(),
                ..Default::default()
            })?;
            let b = tx.contact_create(Contact {
                name: "B".into(),
                ..Default::default()
            })?;
            let given = tx.contact_create(Contact {
                no: "ct-x".into(),
                name: "X".into(),
                ..Default::default()
            })?;
            Ok((a, b, given))
        })
        .unwrap();
    assert_eq!(
        (a.as_str(), b.as_str(), given.as_str()),
        ("CT000001", "CT000002", "CT-X")
    );
}

#[each_backend]
fn contact_series_skips_numbers_taken_by_hand() {
    let db = empty_db();
    let next = db
        .write(|tx| {
            tx.contact_create(Contact {
                no: "CT000001".into(),
                name: "Taken".into(),
                ..Default::default()
            })?;
            tx.contact_create(Contact {
                name: "Next".into(),
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!(next, "CT000002");
}

#[each_backend]
fn contact_no_must_be_new() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.contact_create(Contact {
            no: "C1".into(),
            name: "Again".into(),
            ..Default::default()
        })
    });
    assert!(
        matches!(
            err,
            Error::AlreadyExists {
                record: "contact",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn contact_name_is_required() {
    let db = empty_db();
    let err = refused(&db, |tx| tx.contact_create(Contact::default()));
    assert!(
        matches!(err, Error::Required { field: "name", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("give the contact a name"));
}

#[each_backend]
fn blank_correspondence_on_create_takes_the_email_default() {
    let db = db();
    let c = db.read(|v| v.contact("C2")).unwrap().unwrap();
    assert_eq!(c.correspondence, Correspondence::Email);
}

#[each_backend]
fn a_company_is_its_own_company() {
    let db = db();
    assert_eq!(
        db.read(|v| v.contact("C1")).unwrap().unwrap().company_no,
        "C1"
    );
    let err = refused(&db, |tx| {
        tx.contact_create(Contact {
            no: "C9".into(),
            name: "X".into(),
            company_no: "C1".into(),
            ..Default::default()
        })
    });
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "company_no",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn a_persons_company_must_be_a_company_contact() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.contact_create(Contact {
            name: "Y".into(),
            kind: ContactKind::Person,
            company_no: "P1".into(),
            ..Default::default()
        })
    });
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "company_no",
                ..
            }
        ),
        "{err}"
    );
    let err = refused(&db, |tx| {
        tx.contact_create(Contact {
            name: "Y".into(),
            kind: ContactKind::Person,
            company_no: "NOPE".into(),
            ..Default::default()
        })
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
fn contact_salesperson_must_exist() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.contact_create(Contact {
            name: "Y".into(),
            salesperson: "ZZ".into(),
            ..Default::default()
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
fn contact_kind_change_is_refused_once_an_entry_names_it() {
    let db = db();
    log(&db, draft("C2", "CALL"));
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.kind = ContactKind::Person;
    let err = refused(&db, |tx| tx.contact_update(c2.clone()));
    assert!(
        err.to_string().contains("interaction log entries name it"),
        "{err}"
    );
}

#[each_backend]
fn contact_kind_can_change_before_anything_is_logged() {
    let db = db();
    let mut c2 = db.read(|v| v.contact("C2")).unwrap().unwrap();
    c2.kind = ContactKind::Person;
    c2.company_no.clear();
    db.write(|tx| tx.contact_update(c2.clone())).unwrap();
    assert!(db.read(|v| v.contact("C2")).unwrap().unwrap().is_person());
}

#[each_backend]
fn contact_kind_change_is_refused_when_a_company_entry_names_it_through_a_person() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    let mut c1 = db.read(|v| v.contact("C1")).unwrap().unwrap();
    c1.kind = ContactKind::Person;
    refused(&db, |tx| tx.contact_update(c1.clone()));
}

#[each_backend]
fn deleting_a_contact_on_an_unlogged_segment_line_is_refused() {
    let db = db();
    db.write(|tx| {
        let s = tx.segment_create(Segment {
            no: "S1".into(),
            description: "Mailing".into(),
            template: "BUS".into(),
            ..Default::default()
        })?;
        tx.segment_add(
            &s,
            &ContactSelector::Contacts(vec!["C2".into()]),
            StepOptions::default(),
        )
    })
    .unwrap();
    let err = refused(&db, |tx| tx.contact_delete("C2"));
    assert!(err.to_string().contains("segment S1"), "{err}");
}

#[each_backend]
fn deleting_a_company_keeps_its_entries_but_clears_their_contact_fields() {
    let db = db();
    let no = log(&db, draft("C2", "CALL"));
    db.write(|tx| tx.contact_delete("C2")).unwrap();
    let e = entry(&db, no);
    assert_eq!(
        (e.contact_no.as_str(), e.contact_company_no.as_str()),
        ("", "")
    );
    assert_eq!(e.template, "CALL");
    assert!(db.read(|v| v.contact("C2")).unwrap().is_none());
    assert_consistent(&db);
}

#[each_backend]
fn deleting_a_person_repoints_its_entries_to_its_company() {
    let db = db();
    let no = log(&db, draft("P1", "CALL"));
    db.write(|tx| tx.contact_delete("P1")).unwrap();
    let e = entry(&db, no);
    assert_eq!(
        (e.contact_no.as_str(), e.contact_company_no.as_str()),
        ("C1", "C1")
    );
    assert_eq!(
        db.read(|v| v.statistics(StatKind::Contact, "C1", None))
            .unwrap()
            .count,
        1
    );
    assert_consistent(&db);
}

#[each_backend]
fn deleting_a_company_is_refused_while_persons_belong_to_it() {
    let db = db();
    let err = refused(&db, |tx| tx.contact_delete("C1"));
    assert!(
        err.to_string().contains("person(s) belong to this company")
            && err.to_string().contains("with_persons: true"),
        "{err}"
    );
}

#[each_backend]
fn deleting_a_company_with_its_persons_deletes_them_and_their_relations_and_clears_their_entries() {
    let db = db();
    db.write(|tx| tx.relation_link("P2", AccountKind::Vendor, "V7"))
        .unwrap();
    let of_company = log(&db, draft("C1", "CALL"));
    let of_person = log(&db, draft("P1", "CALL"));
    let elsewhere = log(&db, draft("C2", "CALL"));
    let deletion = db
        .write(|tx| tx.contact_delete_with("C1", ContactDeleteOptions { with_persons: true }))
        .unwrap();
    assert_eq!(deletion.contacts, ["P1", "P2", "C1"]);
    assert_eq!(deletion.entries_changed, [of_company, of_person]);
    assert_eq!(deletion.relations.len(), 2, "{:?}", deletion.relations);
    for no in ["C1", "P1", "P2"] {
        assert!(db.read(|v| v.contact(no)).unwrap().is_none(), "{no}");
    }
    for kind_account in [
        (AccountKind::Customer, "10000"),
        (AccountKind::Vendor, "V7"),
    ] {
        assert!(
            db.read(|v| v.relation(kind_account.0, kind_account.1))
                .unwrap()
                .is_none()
        );
    }
    for no in [of_company, of_person] {
        let e = entry(&db, no);
        assert_eq!(
            (e.contact_no.as_str(), e.contact_company_no.as_str()),
            ("", "")
        );
        assert_eq!(e.template, "CALL", "the entry stays with its data");
    }
    assert_eq!(entry(&db, elsewhere).contact_no, "C2");
    assert_consistent(&db);
}

#[each_backend]
fn deleting_a_company_with_a_person_on_a_segment_is_refused_before_anything_goes() {
    let db = db();
    db.write(|tx| {
        let no = tx.segment_create(Segment {
            description: "Mailing".into(),
            template: "BUS".into(),
            ..Default::default()
        })?;
        tx.segment_add(
            &no,
            &ContactSelector::Contacts(vec!["P2".into()]),
            StepOptions::default(),
        )
    })
    .unwrap();
    let err = refused(&db, |tx| {
        tx.contact_delete_with("C1", ContactDeleteOptions { with_persons: true })
    });
    assert!(err.to_string().starts_with("contact P2:"), "{err}");
}

#[each_backend]
fn deleting_a_contact_removes_its_business_relations() {
    let db = db();
    db.write(|tx| tx.relation_link("C2", AccountKind::Vendor, "V1"))
        .unwrap();
    db.write(|tx| tx.contact_delete("C2")).unwrap();
    assert!(
        db.read(|v| v.relation(AccountKind::Vendor, "V1"))
            .unwrap()
            .is_none()
    );
}

#[each_backend]
fn company_figures_cover_itself_and_all_its_persons_and_a_person_only_itself() {
    let db = db();
    log(&db, draft("C1", "CALL"));
    log(&db, draft("P1", "CALL"));
    log(&db, draft("P2", "BUS"));
    let c1 = db.read(|v| v.contact_summary("C1")).unwrap();
    let p1 = db.read(|v| v.contact_summary("P1")).unwrap();
    assert_eq!(c1.statistics.count, 3);
    assert_eq!(c1.statistics.cost, Amount::from_units(10));
    assert_eq!(p1.statistics.count, 1);
    assert_eq!(p1.statistics.duration, Amount::from_units(15));
}

#[each_backend]
fn contact_figures_leave_out_canceled_and_postponed_entries() {
    let db = db();
    let canceled = log(&db, draft("P1", "CALL"));
    log(
        &db,
        InteractionDraft {
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    log(&db, draft("P1", "BUS"));
    db.write(|tx| tx.set_entries_canceled(&[canceled], CancelMode::Cancel, false))
        .unwrap();
    let s = db.read(|v| v.contact_summary("P1")).unwrap().statistics;
    assert_eq!(
        (s.count, s.cost, s.duration),
        (1, Amount::from_units(8), Amount::from_units(30))
    );
}

#[each_backend]
fn date_of_last_interaction_skips_failed_and_postponed_but_counts_canceled() {
    let db = db();
    let canceled = log(
        &db,
        InteractionDraft {
            date: Some(day("2026-11-01")),
            ..draft("P1", "CALL")
        },
    );
    log(
        &db,
        InteractionDraft {
            date: Some(day("2026-11-10")),
            attempt_failed: true,
            ..draft("P1", "CALL")
        },
    );
    log(
        &db,
        InteractionDraft {
            date: Some(day("2026-11-20")),
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    db.write(|tx| tx.set_entries_canceled(&[canceled], CancelMode::Cancel, false))
        .unwrap();
    let s = db.read(|v| v.contact_summary("P1")).unwrap();
    assert_eq!(s.last_interaction, Some(day("2026-11-01")));
}

#[each_backend]
fn last_date_attempted_counts_only_entries_initiated_by_us_and_not_postponed() {
    let db = db();
    log(
        &db,
        InteractionDraft {
            date: Some(day("2026-11-05")),
            attempt_failed: true,
            ..draft("P1", "CALL")
        },
    );
    log(
        &db,
        InteractionDraft {
            date: Some(day("2026-11-15")),
            ..draft("P1", "INCOME")
        },
    );
    log(
        &db,
        InteractionDraft {
            date: Some(day("2026-11-25")),
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    let s = db.read(|v| v.contact_summary("P1")).unwrap();
    assert_eq!(s.last_attempted, Some(day("2026-11-05")));
    assert_eq!(s.last_interaction, Some(day("2026-11-15")));
}

#[each_backend]
fn contacts_are_found_by_name_and_by_company() {
    let db = db();
    let named = db.read(|v| v.contacts_named("anna berg")).unwrap();
    assert_eq!(
        named.iter().map(|c| c.no.as_str()).collect::<Vec<_>>(),
        ["P1"]
    );
    let persons = db.read(|v| v.persons_of("C1")).unwrap();
    assert_eq!(
        persons.iter().map(|c| c.no.as_str()).collect::<Vec<_>>(),
        ["P1", "P2"]
    );
}

#[each_backend]
fn custom_fields_read_like_built_in_fields() {
    let db = empty_db();
    let mut c = Contact {
        name: "Oslo Co".into(),
        city: "Oslo".into(),
        ..Default::default()
    };
    c.custom.insert("revenue".into(), FieldValue::Number(900.0));
    let no = db
        .write(|tx| {
            tx.field_define(&FieldDef {
                name: "revenue".into(),
                field_type: FieldType::Number,
                ..Default::default()
            })?;
            tx.contact_create(c.clone())
        })
        .unwrap();
    let c = db.read(|v| v.contact(&no)).unwrap().unwrap();
    assert_eq!(c.field("revenue"), FieldValue::Number(900.0));
    assert_eq!(c.field("city"), FieldValue::Text("Oslo".into()));
    assert_eq!(c.field("missing"), FieldValue::Empty);
}

#[each_backend]
fn a_custom_field_may_not_carry_the_name_of_a_contact_field() {
    let db = empty_db();
    let mut c = Contact {
        name: "Oslo Co".into(),
        city: "Oslo".into(),
        ..Default::default()
    };
    c.custom
        .insert("city".into(), FieldValue::Text("Bergen".into()));
    let err = refused(&db, |tx| tx.contact_create(c.clone())).to_string();
    assert!(
        err.contains("city is a built-in field of contact, not a custom one"),
        "{err}"
    );
}

#[each_backend]
fn a_name_and_a_city_too_long_to_keep_whole_in_a_key_are_found_by_equality() {
    // Over the 1,024 bytes a key keeps whole (and the 2,000-byte key limit of every backend):
    // the index keeps a cut and a hash, so equality stays exact for texts that share their start.
    let db = empty_db();
    let long = "n".repeat(3000);
    let almost = format!("{}m", "n".repeat(2999));
    let cut = "n".repeat(960);
    db.write(|tx| {
        for (no, text) in [("L1", &long), ("L2", &almost), ("L3", &cut)] {
            tx.contact_create(Contact {
                no: no.into(),
                name: text.clone(),
                city: text.clone(),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    let nos = |cs: Vec<Contact>| cs.into_iter().map(|c| c.no).collect::<Vec<_>>();
    for (text, no) in [(&long, "L1"), (&almost, "L2"), (&cut, "L3")] {
        assert_eq!(nos(db.read(|v| v.contacts_named(text)).unwrap()), [no]);
        assert_eq!(db.read(|v| v.count_contacts_with("city", text)).unwrap(), 1);
    }
    db.write(|tx| {
        let mut c = tx.view().contact("L2")?.unwrap();
        c.city.clone_from(&long);
        tx.contact_update(c)
    })
    .unwrap();
    assert_eq!(
        db.read(|v| v.count_contacts_with("city", &long)).unwrap(),
        2
    );
    assert_eq!(
        db.read(|v| v.count_contacts_with("city", &almost)).unwrap(),
        0
    );
    assert_consistent(&db);
}

#[each_backend]
fn a_number_that_keys_a_record_has_at_most_100_characters() {
    let db = db();
    let no = "N".repeat(101);
    let err = refused(&db, |tx| {
        tx.contact_create(Contact {
            no: no.clone(),
            name: "Long".into(),
            ..Default::default()
        })
    });
    assert_eq!(
        (err.kind(), err.field()),
        (rapport_engine::ErrorKind::Invalid, Some("no")),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("use a no of at most 100 characters"),
        "{err}"
    );
    let err = refused(&db, |tx| {
        tx.campaign_create(Campaign {
            no: no.clone(),
            description: "Long".into(),
            ..Default::default()
        })
    });
    assert_eq!(err.field(), Some("no"), "{err}");
    let err = refused(&db, |tx| {
        tx.segment_create(Segment {
            no: no.clone(),
            ..Default::default()
        })
    });
    assert_eq!(err.field(), Some("no"), "{err}");
    let err = refused(&db, |tx| tx.relation_link("C1", AccountKind::Customer, &no));
    assert_eq!(err.field(), Some("account_no"), "{err}");
    // (A document no: documents.rs.) A hundred characters (four bytes each, the most a character takes) are kept.
    let longest = "𝄞".repeat(100);
    db.write(|tx| {
        tx.contact_create(Contact {
            no: longest.clone(),
            name: "Longest".into(),
            ..Default::default()
        })
    })
    .unwrap();
    assert!(db.read(|v| v.contact(&longest)).unwrap().is_some());
}

/// Many contacts at once (an import): companies and persons created in the same batch, a
/// custom field, a salesperson, cities — and one contact changed and one deleted inside it, so
/// the summed counters meet a removal.
fn create_many(tx: &mut rapport_engine::Tx<'_>) -> rapport_engine::Result<()> {
    for i in 0..40 {
        let company = i % 10 == 0;
        let mut c = Contact {
            no: format!("B{i:03}"),
            name: format!("Contact {i}"),
            kind: if company {
                ContactKind::Company
            } else {
                ContactKind::Person
            },
            company_no: if company {
                String::new()
            } else {
                format!("B{:03}", i - i % 10)
            },
            city: ["Oslo", "Bergen", "oslo"][i % 3].into(),
            salesperson: "JO".into(),
            ..Default::default()
        };
        c.custom
            .insert("revenue".into(), FieldValue::Number(i as f64));
        tx.contact_create(c)?;
    }
    let mut moved = tx.view().contact("B001")?.unwrap();
    moved.city = "Trondheim".into();
    tx.contact_update(moved)?;
    tx.contact_delete("B002")
}

fn prepared() -> rapport_engine::Database {
    let db = empty_db();
    db.write(|tx| {
        tx.salesperson_create(Salesperson {
            code: "JO".into(),
            name: "Jo".into(),
            ..Default::default()
        })?;
        tx.field_define(&FieldDef {
            record: FieldRecord::Contact,
            name: "revenue".into(),
            field_type: FieldType::Number,
            description: String::new(),
        })
    })
    .unwrap();
    db
}

#[each_backend]
fn contacts_created_in_a_batch_leave_the_same_database_as_one_by_one() {
    let one_by_one = prepared();
    one_by_one.write(create_many).unwrap();
    let batched = prepared();
    batched.write(|tx| tx.batch_contacts(create_many)).unwrap();
    assert_eq!(
        one_by_one.fingerprint().unwrap(),
        batched.fingerprint().unwrap()
    );
    assert_eq!(
        batched
            .read(|v| v.count_contacts_with("city", "oslo"))
            .unwrap(),
        26
    );
    assert_consistent(&batched);
}

#[each_backend]
fn in_a_batch_a_person_still_cannot_belong_to_a_person() {
    let db = prepared();
    let err = rolled_back(&db, |tx| {
        tx.batch_contacts(|tx| {
            for no in ["P1", "P2"] {
                tx.contact_create(Contact {
                    no: no.into(),
                    name: no.into(),
                    kind: ContactKind::Person,
                    company_no: if no == "P2" {
                        "P1".into()
                    } else {
                        String::new()
                    },
                    ..Default::default()
                })?;
            }
            Ok(())
        })
    });
    assert!(
        err.to_string().contains("names P1, which is a person"),
        "{err}"
    );
}

#[each_backend]
fn in_a_batch_a_company_that_became_a_person_takes_no_persons() {
    let db = prepared();
    let err = rolled_back(&db, |tx| {
        tx.batch_contacts(|tx| {
            tx.contact_create(Contact {
                no: "C1".into(),
                name: "Was a company".into(),
                kind: ContactKind::Company,
                ..Default::default()
            })?;
            tx.contact_create(Contact {
                no: "P0".into(),
                name: "Early".into(),
                kind: ContactKind::Person,
                company_no: "C1".into(),
                ..Default::default()
            })?;
            tx.contact_delete("P0")?;
            let mut c1 = tx.view().contact("C1")?.unwrap();
            c1.kind = ContactKind::Person;
            c1.company_no = String::new();
            tx.contact_update(c1)?;
            tx.contact_create(Contact {
                no: "P1".into(),
                name: "Late".into(),
                kind: ContactKind::Person,
                company_no: "C1".into(),
                ..Default::default()
            })
        })
    });
    assert!(
        err.to_string().contains("names C1, which is a person"),
        "{err}"
    );
}
