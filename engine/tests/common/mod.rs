//! Fixtures for the spec tests: a database on a fixed clock with a small catalogue, and helpers
//! that prove a refused operation wrote nothing.
#![allow(dead_code, missing_docs)]

use chrono::NaiveDate;
use rapport_engine::model::*;
use rapport_engine::ops::InteractionDraft;
use rapport_engine::{Clock, Database, Error, Result, Tx};

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub const TODAY: &str = "2026-11-29";

/// An empty in-memory database whose clock stands at 2026-11-29 and whose user is TESTER.
pub fn empty_db() -> Database {
    let mut db = Database::in_memory().unwrap();
    db.context_mut().clock = Clock::fixed(day(TODAY));
    db.context_mut().user = "TESTER".into();
    db
}

/// A database with: groups LETTER, PHONE, SALES; templates BUS (letter, hard copy), CALL (phone,
/// outbound), INCOME (inbound), INV (sales documents); salespeople JO, PS; company C1 with
/// persons P1 (e-mail, `hard_copy`), P2 (no e-mail); company C2; customer 10000 → C1.
pub fn db() -> Database {
    let db = empty_db();
    fill(&db);
    db
}

/// Writes the catalogue and contacts [`db`] has into `db`.
pub fn fill(db: &Database) {
    db.write(|tx| {
        for (code, description) in [
            ("LETTER", "Letters"),
            ("PHONE", "Phone calls"),
            ("SALES", "Sales documents"),
        ] {
            tx.group_define(InteractionGroup {
                code: code.into(),
                description: description.into(),
            })?;
        }
        tx.template_define(template(
            "BUS",
            "LETTER",
            "Business letter",
            8,
            30,
            Flow::Outbound,
            Correspondence::HardCopy,
        ))?;
        tx.template_define(template(
            "CALL",
            "PHONE",
            "Outgoing call",
            1,
            15,
            Flow::Outbound,
            Correspondence::Blank,
        ))?;
        let mut income = template(
            "INCOME",
            "PHONE",
            "Incoming call",
            0,
            10,
            Flow::Inbound,
            Correspondence::Blank,
        );
        income.initiated_by = InitiatedBy::Them;
        tx.template_define(income)?;
        tx.template_define(template(
            "INV",
            "SALES",
            "Sales invoice",
            8,
            1,
            Flow::Outbound,
            Correspondence::Blank,
        ))?;
        tx.salesperson_create(Salesperson {
            code: "JO".into(),
            name: "Jim Olive".into(),
            ..Default::default()
        })?;
        tx.salesperson_create(Salesperson {
            code: "PS".into(),
            name: "Peter Saddow".into(),
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "C1".into(),
            name: "Cannon Group".into(),
            salesperson: "JO".into(),
            email: "info@cannon.example".into(),
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "P1".into(),
            name: "Anna Berg".into(),
            kind: ContactKind::Person,
            company_no: "C1".into(),
            salesperson: "JO".into(),
            email: "anna@cannon.example".into(),
            correspondence: Correspondence::HardCopy,
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "P2".into(),
            name: "Bart Dahl".into(),
            kind: ContactKind::Person,
            company_no: "C1".into(),
            salesperson: "PS".into(),
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "C2".into(),
            name: "Selangorian".into(),
            salesperson: "PS".into(),
            email: "info@selangorian.example".into(),
            ..Default::default()
        })?;
        tx.relation_link("C1", AccountKind::Customer, "10000")?;
        tx.template_setup_set(&[(DocumentType::SalesInvoice, "INV".into())])?;
        Ok(())
    })
    .unwrap();
}

pub fn template(
    code: &str,
    group: &str,
    description: &str,
    cost: i64,
    minutes: i64,
    flow: Flow,
    correspondence: Correspondence,
) -> InteractionTemplate {
    InteractionTemplate {
        code: code.into(),
        group: group.into(),
        description: description.into(),
        unit_cost: Amount::from_units(cost),
        unit_duration: Amount::from_units(minutes),
        flow,
        initiated_by: if flow == Flow::Outbound {
            InitiatedBy::Us
        } else {
            InitiatedBy::Blank
        },
        correspondence,
        ..Default::default()
    }
}

/// A draft for `contact` with `template`.
pub fn draft(contact: &str, template: &str) -> InteractionDraft {
    InteractionDraft {
        contact: contact.into(),
        template: template.into(),
        ..Default::default()
    }
}

/// Logs one interaction and returns its entry no.
pub fn log(db: &Database, draft: InteractionDraft) -> u64 {
    db.write(|tx| tx.log_interaction(draft)).unwrap()
}

/// Runs an operation that must be refused; returns its error after proving nothing changed.
pub fn refused<T: std::fmt::Debug>(
    db: &Database,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Error {
    let before = db.fingerprint().unwrap();
    let err = db
        .write(work)
        .expect_err("the operation should have been refused");
    assert_eq!(
        before,
        db.fingerprint().unwrap(),
        "a refused operation changed the database: {err}"
    );
    err
}

pub fn entry(db: &Database, no: u64) -> InteractionLogEntry {
    db.read(|v| v.entry(no)).unwrap().expect("entry exists")
}

pub fn attachment(name: &str, content: &[u8]) -> AttachmentContent {
    AttachmentContent {
        file_name: name.into(),
        content: content.to_vec(),
    }
}

/// The integrity check must find nothing.
pub fn assert_consistent(db: &Database) {
    let report = db.read(|v| v.integrity_check()).unwrap();
    assert!(report.is_ok(), "integrity check: {:#?}", report.differences);
}
