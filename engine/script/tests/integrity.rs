//! The integrity check after long mixed work, and the demo company of spec 4.

use rapport_engine::model::*;
use rapport_engine::ops::{
    CancelMode, CanceledEntryFilter, InteractionDraft, LogSegmentOptions, StatKind,
};
use rapport_script::demo::{self, DemoOutcome};
use rapport_testkit::*;

/// A seeded pseudo-random sequence (xorshift), so a failure can be replayed.
struct Seq(u64);
impl Seq {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[each_backend]
fn the_integrity_check_passes_after_a_long_mixed_sequence_of_workflows() {
    let db = empty_db();
    demo::load(&db).unwrap();
    let contacts: Vec<String> = db
        .read(|v| {
            let mut all = Vec::new();
            v.each_contact(&mut |c| {
                all.push(c.no);
                Ok(true)
            })?;
            Ok(all)
        })
        .unwrap();
    let templates = ["OUTGOING", "INCOME", "INHOUSE", "ONSITE", "BUS", "ABSTRACT"];
    let campaign = db
        .write(|tx| {
            tx.campaign_create(Campaign {
                description: "Spring fair".into(),
                ..Default::default()
            })
        })
        .unwrap();
    let mut seq = Seq(0x9E37_79B9_7F4A_7C15);
    let mut refused_ops = 0;
    for round in 0..300 {
        let contact = contacts[seq.next(contacts.len() as u64) as usize].clone();
        let result = db.write(|tx| match seq.next(10) {
            0..=2 => tx
                .log_interaction(InteractionDraft {
                    contact: contact.clone(),
                    template: templates[seq.next(templates.len() as u64) as usize].into(),
                    campaign: if seq.next(3) == 0 {
                        campaign.clone()
                    } else {
                        String::new()
                    },
                    postponed: seq.next(7) == 0,
                    attachment: (seq.next(5) == 0).then(|| {
                        attachment("note.txt", format!("note {}", seq.next(4)).as_bytes())
                    }),
                    date: Some(day("2026-11-01") + chrono::Days::new(seq.next(28))),
                    ..InteractionDraft::default()
                })
                .map(|_| ()),
            3 => {
                let last = tx.view().last_entry_no()?;
                let picks: Vec<u64> = (0..3)
                    .map(|_| 1 + seq.next(last.max(1)))
                    .filter(|n| tx.view().entry(*n).ok().flatten().is_some())
                    .collect();
                if picks.is_empty() {
                    return Ok(());
                }
                tx.set_entries_canceled(&picks, CancelMode::Toggle, seq.next(2) == 0)
                    .map(|_| ())
            }
            4 => {
                let no = tx.segment_create(Segment {
                    description: format!("Round {round}"),
                    template: templates[seq.next(6) as usize].into(),
                    campaign_no: campaign.clone(),
                    ..Default::default()
                })?;
                tx.segment_add(
                    &no,
                    &ContactSelector::Filter(ContactFilter::all().eq("city", "Oslo")),
                    StepOptions {
                        expand_companies: true,
                        ..Default::default()
                    },
                )?;
                tx.segment_reduce(&no, &ContactSelector::Contacts(vec![contact.clone()]))?;
                tx.log_segment(
                    &no,
                    LogSegmentOptions {
                        follow_up: seq.next(2) == 0,
                        ..Default::default()
                    },
                )
                .map(|_| ())
            }
            5 => {
                let logged = tx.view().logged_segments()?;
                match logged.get(seq.next(logged.len().max(1) as u64) as usize) {
                    Some(ls) => tx.set_logged_segment_canceled(ls.entry_no, !ls.canceled),
                    None => Ok(()),
                }
            }
            6 => tx
                .delete_canceled_entries(
                    &CanceledEntryFilter {
                        template: templates[seq.next(6) as usize].into(),
                        ..Default::default()
                    },
                    false,
                )
                .map(|_| ()),
            7 => {
                let postponed = tx.view().postponed_entries()?;
                match postponed.first() {
                    Some(&no) if seq.next(2) == 0 => tx.resume_interaction(no, Default::default()),
                    Some(&no) => tx.delete_postponed_entries(Some(&[no])).map(|_| ()),
                    None => Ok(()),
                }
            }
            8 => {
                let doc = [
                    DocumentType::SalesQuote,
                    DocumentType::SalesInvoice,
                    DocumentType::CoverSheet,
                ][seq.next(3) as usize];
                let party = if doc == DocumentType::CoverSheet {
                    AccountKind::Contact
                } else {
                    AccountKind::Customer
                };
                let no = if party == AccountKind::Contact {
                    contact.clone()
                } else {
                    ["10000", "20000", "99999"][seq.next(3) as usize].to_string()
                };
                tx.record_document(&DocumentEvent::printed(
                    doc,
                    &format!("D{round}"),
                    party,
                    &no,
                ))
                .map(|_| ())
            }
            _ => {
                if seq.next(2) == 0 {
                    tx.delete_canceled_logged_segments(None, None).map(|_| ())
                } else {
                    tx.delete_canceled_campaign_entries("").map(|_| ())
                }
            }
        });
        if result.is_err() {
            refused_ops += 1;
        }
    }
    let report = db.read(|v| v.integrity_check()).unwrap();
    assert!(
        report.entries_checked > 100,
        "only {} entries",
        report.entries_checked
    );
    assert!(
        report.is_ok(),
        "after {refused_ops} refused operations: {:#?}",
        report.differences
    );
}

#[each_backend]
fn the_demo_company_has_the_spec_4_catalogue_contacts_segments_and_history() {
    let db = empty_db();
    let DemoOutcome::Loaded(summary) = demo::load(&db).unwrap() else {
        panic!("first load")
    };
    assert_eq!(summary.groups, 6);
    assert_eq!(summary.templates, 31);
    assert_eq!(summary.contacts, 50);
    assert_eq!(summary.segments, 3);
    let (setup, segments, golf) = db
        .read(|v| {
            Ok((
                v.template_setup()?,
                v.segments()?,
                v.template("GOLF")?.unwrap(),
            ))
        })
        .unwrap();
    assert_eq!(
        setup.template_for(DocumentType::SalesInvoice),
        Some("S_INVOICE")
    );
    assert_eq!(
        setup.template_for(DocumentType::PurchaseOrder),
        Some("P_ORDER")
    );
    assert_eq!(setup.template_for(DocumentType::ServiceQuote), None);
    assert_eq!(golf.wizard_action, WizardAction::Merge);
    let by_description = |d: &str| {
        segments
            .iter()
            .find(|s| s.description == d)
            .unwrap()
            .clone()
    };
    let increase = by_description("Increase sale");
    assert_eq!(
        (increase.template.as_str(), increase.correspondence),
        ("BUS", Correspondence::HardCopy)
    );
    let lines = db.read(|v| v.segment_lines(&increase.no)).unwrap();
    assert_eq!(lines.len(), 10);
    let companies: std::collections::BTreeSet<_> =
        lines.iter().map(|l| l.contact_company_no.clone()).collect();
    assert_eq!(companies.len(), 5);
    assert!(
        db.read(|v| v.segment_lines(&by_description("Event").no))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        by_description("Working place arrangement, Customer").template,
        "ABSTRACT"
    );
    assert!(
        db.read(|v| v.statistics(StatKind::Template, "S_STATM", None))
            .unwrap()
            .count
            >= 7,
        "a statement per customer"
    );
    assert!(
        db.read(|v| v.statistics(StatKind::Template, "COVERSH", None))
            .unwrap()
            .count
            >= 10
    );
    assert_eq!(
        summary.entries as u64,
        db.read(|v| v.last_entry_no()).unwrap()
    );
    assert_consistent(&db);
}

#[each_backend]
fn loading_the_demo_again_changes_nothing() {
    let db = empty_db();
    demo::load(&db).unwrap();
    let before = db.fingerprint().unwrap();
    assert_eq!(demo::load(&db).unwrap(), DemoOutcome::AlreadyLoaded);
    assert_eq!(before, db.fingerprint().unwrap());
}

#[each_backend]
fn the_demo_increase_sale_segment_can_be_logged_canceled_and_purged() {
    let db = empty_db();
    demo::load(&db).unwrap();
    let no = db
        .read(|v| v.segments())
        .unwrap()
        .into_iter()
        .find(|s| s.description == "Increase sale")
        .unwrap()
        .no;
    let out = db
        .write(|tx| tx.log_segment(&no, LogSegmentOptions::default()))
        .unwrap();
    assert_eq!(out.entry_nos.len(), 10);
    db.write(|tx| tx.set_logged_segment_canceled(out.logged_segment_no, true))
        .unwrap();
    let report = db
        .write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    assert_eq!(report.count, 10);
    assert_consistent(&db);
}
