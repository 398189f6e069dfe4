//! Spec 2, "Automatic recording of documents".

use rapport_engine::Error;
use rapport_engine::model::*;
use rapport_engine::ops::StatKind;
use rapport_testkit::*;

fn invoice(party: AccountKind, no: &str) -> DocumentEvent {
    DocumentEvent::printed(DocumentType::SalesInvoice, "INV-1001", party, no)
}

#[each_backend]
fn a_document_type_without_template_records_nothing_and_says_why() {
    let db = db();
    let before = db.fingerprint().unwrap();
    let out = db
        .write(|tx| {
            tx.record_document(&DocumentEvent::printed(
                DocumentType::SalesQuote,
                "Q1",
                AccountKind::Customer,
                "10000",
            ))
        })
        .unwrap();
    assert!(!out.recorded);
    assert_eq!(
        out.reason,
        "not recorded: no template for sales_quote in the template setup"
    );
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn a_template_with_languages_cannot_record_documents() {
    let db = db();
    db.write(|tx| tx.template_setup_set(&[(DocumentType::SalesQuote, "BUS".into())]))
        .unwrap();
    db.write(|tx| tx.template_attach("BUS", "ENU", "", &attachment("a.txt", b"x")))
        .unwrap();
    let err = refused(&db, |tx| {
        tx.record_document(&DocumentEvent::printed(
            DocumentType::SalesQuote,
            "Q1",
            AccountKind::Contact,
            "P1",
        ))
    });
    assert_eq!(
        err.to_string(),
        "template \"BUS\": it has languages, so it cannot record documents; remove its languages or pick another template"
    );
}

#[each_backend]
fn a_customer_document_finds_its_contact_through_the_business_relation() {
    let db = db();
    let out = db
        .write(|tx| tx.record_document(&invoice(AccountKind::Customer, "10000")))
        .unwrap();
    assert!(out.recorded, "{}", out.reason);
    let e = entry(&db, out.entry_no.unwrap());
    assert_eq!(
        (
            e.contact_no.as_str(),
            e.document_type,
            e.document_no.as_str()
        ),
        ("C1", Some(DocumentType::SalesInvoice), "INV-1001")
    );
}

#[each_backend]
fn a_customer_without_business_relation_is_not_recorded_and_told_why() {
    let db = db();
    let before = db.fingerprint().unwrap();
    let out = db
        .write(|tx| tx.record_document(&invoice(AccountKind::Customer, "99999")))
        .unwrap();
    assert_eq!(
        (out.recorded, out.reason.as_str()),
        (
            false,
            "not recorded: no business relation links customer 99999 to a contact"
        )
    );
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn a_document_naming_a_contact_needs_an_existing_contact() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.record_document(&invoice(AccountKind::Contact, "NOPE"))
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
fn the_document_entry_is_dated_today_with_the_templates_values() {
    let mut db = db();
    db.context_mut()
        .clock
        .set_work_date(Some(day("2026-01-15")));
    let out = db
        .write(|tx| tx.record_document(&invoice(AccountKind::Contact, "P2")))
        .unwrap();
    let e = entry(&db, out.entry_no.unwrap());
    assert_eq!(e.date, day(TODAY), "documents use today, not the work date");
    assert_eq!(
        (
            e.description.as_str(),
            e.template.as_str(),
            e.group.as_str()
        ),
        ("Sales invoice", "INV", "SALES")
    );
    assert_eq!(
        (e.cost, e.duration, e.flow),
        (Amount::from_units(8), Amount::from_units(1), Flow::Outbound)
    );
    assert_eq!(e.salesperson, "PS", "the contact's salesperson");
}

#[each_backend]
fn the_documents_description_and_salesperson_win_and_a_blank_salesperson_stays_blank() {
    let db = db();
    let mut event = invoice(AccountKind::Contact, "P2");
    event.description = "Invoice for October".into();
    event.salesperson = Some("jo".into());
    let e = entry(
        &db,
        db.write(|tx| tx.record_document(&event))
            .unwrap()
            .entry_no
            .unwrap(),
    );
    assert_eq!(
        (e.description.as_str(), e.salesperson.as_str()),
        ("Invoice for October", "JO")
    );
    event.salesperson = Some(String::new());
    let e = entry(
        &db,
        db.write(|tx| tx.record_document(&event))
            .unwrap()
            .entry_no
            .unwrap(),
    );
    assert_eq!(e.salesperson, "");
}

#[each_backend]
fn the_documents_campaign_overrides_the_templates() {
    let db = db();
    let (a, b) = db
        .write(|tx| {
            let a = tx.campaign_create(Campaign {
                description: "Template's".into(),
                ..Default::default()
            })?;
            let b = tx.campaign_create(Campaign {
                description: "Document's".into(),
                ..Default::default()
            })?;
            let mut inv = template(
                "INV",
                "SALES",
                "Sales invoice",
                8,
                1,
                Flow::Outbound,
                Correspondence::Blank,
            );
            inv.campaign_no.clone_from(&a);
            tx.template_define(inv)?;
            Ok((a, b))
        })
        .unwrap();
    let e = entry(
        &db,
        db.write(|tx| tx.record_document(&invoice(AccountKind::Contact, "P1")))
            .unwrap()
            .entry_no
            .unwrap(),
    );
    assert_eq!(e.campaign_no, a);
    let mut event = invoice(AccountKind::Contact, "P1");
    event.campaign.clone_from(&b);
    let e = entry(
        &db,
        db.write(|tx| tx.record_document(&event))
            .unwrap()
            .entry_no
            .unwrap(),
    );
    assert_eq!(e.campaign_no, b);
    let ce = db
        .read(|v| v.campaign_entry(e.campaign_entry_no))
        .unwrap()
        .unwrap();
    assert_eq!(ce.document_type, Some(DocumentType::SalesInvoice));
}

#[each_backend]
fn previews_never_record() {
    let db = db();
    let mut event = invoice(AccountKind::Customer, "10000");
    event.action = DocumentAction::Preview;
    let before = db.fingerprint().unwrap();
    let out = db.write(|tx| tx.record_document(&event)).unwrap();
    assert_eq!(
        (out.recorded, out.reason.as_str()),
        (false, "not recorded: previews are never recorded")
    );
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn every_document_type_records_as_itself() {
    let db = db();
    let setup: Vec<_> = DocumentType::ALL
        .iter()
        .map(|t| (*t, "INV".to_string()))
        .collect();
    db.write(|tx| {
        tx.template_setup_set(&setup)?;
        tx.relation_link("C2", AccountKind::Vendor, "V1")
    })
    .unwrap();
    for &t in DocumentType::ALL {
        let party = t.allowed_parties()[0];
        let no = match party {
            AccountKind::Customer => "10000",
            AccountKind::Vendor => "V1",
            AccountKind::Contact => "P1",
        };
        let out = db
            .write(|tx| {
                tx.record_document(&DocumentEvent::printed(t, &format!("D-{t}"), party, no))
            })
            .unwrap();
        let e = entry(&db, out.entry_no.unwrap());
        assert_eq!(e.document_type, Some(t));
        assert_eq!(
            db.read(|v| v.document_entries(t, &format!("D-{t}")))
                .unwrap(),
            vec![e.entry_no]
        );
    }
    assert_eq!(
        db.read(|v| v.statistics(StatKind::Template, "INV", None))
            .unwrap()
            .count,
        DocumentType::ALL.len() as u64
    );
}

#[each_backend]
fn statements_reminders_and_finance_charge_memos_name_a_customer() {
    let db = db();
    for t in [
        DocumentType::SalesStatement,
        DocumentType::SalesReminder,
        DocumentType::SalesFinanceChargeMemo,
    ] {
        let err = refused(&db, |tx| {
            tx.record_document(&DocumentEvent::printed(t, "X1", AccountKind::Contact, "P1"))
        });
        assert!(
            matches!(err, Error::Invalid { field: "party", .. }),
            "{t}: {err}"
        );
    }
}

#[each_backend]
fn purchase_documents_name_a_vendor() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.record_document(&DocumentEvent::printed(
            DocumentType::PurchaseOrder,
            "PO1",
            AccountKind::Customer,
            "10000",
        ))
    });
    assert!(
        err.to_string().contains("a purchase_order names a vendor"),
        "{err}"
    );
}

#[each_backend]
fn sales_documents_name_the_bill_to_contact_or_customer_and_a_cover_sheet_the_contact() {
    assert_eq!(
        DocumentType::SalesInvoice.allowed_parties(),
        &[AccountKind::Contact, AccountKind::Customer]
    );
    assert_eq!(
        DocumentType::CoverSheet.allowed_parties(),
        &[AccountKind::Contact]
    );
}

#[each_backend]
fn an_emailed_document_is_email_correspondence_with_the_address_it_went_to() {
    let db = db();
    let mut event = invoice(AccountKind::Contact, "P1");
    event.action = DocumentAction::Emailed;
    let e = entry(
        &db,
        db.write(|tx| tx.record_document(&event))
            .unwrap()
            .entry_no
            .unwrap(),
    );
    assert_eq!(
        (e.correspondence, e.contact_via.as_str()),
        (Correspondence::Email, "anna@cannon.example")
    );
}

#[each_backend]
fn a_printed_document_takes_the_contacts_correspondence_type() {
    let db = db();
    let e = entry(
        &db,
        db.write(|tx| tx.record_document(&invoice(AccountKind::Contact, "P1")))
            .unwrap()
            .entry_no
            .unwrap(),
    );
    assert_eq!(e.correspondence, Correspondence::HardCopy);
}

#[each_backend]
fn a_privacy_blocked_contact_is_not_recorded_and_told_why() {
    let db = db();
    let mut p1 = db.read(|v| v.contact("P1")).unwrap().unwrap();
    p1.privacy_blocked = true;
    db.write(|tx| tx.contact_update(p1.clone())).unwrap();
    let out = db
        .write(|tx| tx.record_document(&invoice(AccountKind::Contact, "P1")))
        .unwrap();
    assert_eq!(
        (out.recorded, out.reason.as_str()),
        (false, "not recorded: contact P1 is privacy-blocked")
    );
}

#[each_backend]
fn a_contact_cover_sheet_is_recorded_without_a_document_no() {
    let db = db();
    db.write(|tx| tx.template_setup_set(&[(DocumentType::CoverSheet, "BUS".into())]))
        .unwrap();
    let out = db
        .write(|tx| {
            tx.record_document(&DocumentEvent::printed(
                DocumentType::CoverSheet,
                "",
                AccountKind::Contact,
                "P1",
            ))
        })
        .unwrap();
    assert!(out.recorded, "{}", out.reason);
    let e = entry(&db, out.entry_no.unwrap());
    assert_eq!(
        (
            e.document_type,
            e.document_no.as_str(),
            e.contact_no.as_str()
        ),
        (Some(DocumentType::CoverSheet), "", "P1")
    );
    assert_consistent(&db);
}

#[each_backend]
fn a_numbered_document_type_still_requires_its_no() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.record_document(&DocumentEvent::printed(
            DocumentType::SalesInvoice,
            "",
            AccountKind::Customer,
            "10000",
        ))
    });
    assert!(
        matches!(&err, Error::Required { record, field: "no", .. } if record == "document sales_invoice"),
        "{err}"
    );
}

#[each_backend]
fn a_document_no_longer_than_100_characters_is_refused() {
    let db = db();
    let long = "9".repeat(rapport_engine::ops::MAX_ID + 1);
    let err = refused(&db, |tx| {
        tx.record_document(&DocumentEvent::printed(
            DocumentType::SalesInvoice,
            &long,
            AccountKind::Customer,
            "10000",
        ))
    });
    assert!(
        matches!(&err, Error::Invalid { record, field: "no", .. } if record == "document sales_invoice"),
        "{err}"
    );
}
