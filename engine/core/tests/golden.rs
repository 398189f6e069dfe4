//! Golden bytes: every record kind as files written by this and earlier versions hold it, one
//! test per kind (so one changed layout does not hide another). A change to a record's layout
//! must bump the schema version and keep decoding these bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rapport_engine::model::*;
use rapport_engine::ops::{Counters, PluginSettings};
use rapport_engine::store::codec;
use rapport_testkit::day;
use serde::{Serialize, de::DeserializeOwned};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Decodes the committed bytes of `name` and compares them with `expected`; the bytes of today's
/// encoder must be the same. `RAPPORT_BLESS=1` writes the files (only for a new record kind: a
/// changed layout needs a new schema version, not new golden bytes).
fn golden<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, expected: &T) {
    let path = golden_dir().join(format!("{name}.hex"));
    let bytes = codec::encode(expected).unwrap();
    let hex = rapport_engine::store::key::hex(&bytes);
    if std::env::var_os("RAPPORT_BLESS").is_some() {
        std::fs::write(&path, format!("{hex}\n")).unwrap();
    }
    let stored = stored_bytes(name);
    let decoded: T = codec::decode(&stored, name).unwrap();
    assert_eq!(
        &decoded, expected,
        "{name}: the committed bytes no longer decode to the same record"
    );
    assert_eq!(
        hex,
        rapport_engine::store::key::hex(&stored),
        "{name}: the encoding changed; bump the schema version and keep reading version 1"
    );
}

/// The committed bytes of `name` (`tests/golden/NAME.hex`).
fn stored_bytes(name: &str) -> Vec<u8> {
    let path = golden_dir().join(format!("{name}.hex"));
    let hex = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn entry_sample() -> InteractionLogEntry {
    let mut e = InteractionLogEntry::blank(
        42,
        day("2026-11-29"),
        chrono::NaiveTime::from_hms_opt(9, 30, 5).unwrap(),
    );
    e.contact_no = "CT000002".into();
    e.contact_company_no = "CT000001".into();
    e.description = "Business letter".into();
    e.subject = "Offer".into();
    e.template = "BUS".into();
    e.group = "LETTER".into();
    e.flow = Flow::Outbound;
    e.initiated_by = InitiatedBy::Us;
    e.correspondence = Correspondence::HardCopy;
    e.language = "ENU".into();
    e.cost = Amount::from_units(8);
    e.duration = Amount(305_000);
    e.salesperson = "JO".into();
    e.user = "TESTER".into();
    e.campaign_no = "CP0001".into();
    e.campaign_entry_no = 3;
    e.campaign_target = true;
    e.campaign_response = true;
    e.segment_no = "SM00001".into();
    e.logged_segment_no = 7;
    e.evaluation = Evaluation::VeryNegative;
    e.attempt_failed = true;
    e.canceled = true;
    e.postponed = false;
    e.document_type = Some(DocumentType::MeetingInvitation);
    e.document_no = "D-1".into();
    e.version_no = 2;
    e.contact_via = "+47 99".into();
    e.delivery_status = DeliveryStatus::Error;
    e.attachment_no = 9;
    e.comments = vec![Comment {
        date: day("2026-11-30"),
        text: "call back".into(),
    }];
    e
}

fn line_sample() -> SegmentLine {
    SegmentLine {
        segment_no: "SM00001".into(),
        line_no: 2,
        contact_no: "CT000002".into(),
        contact_company_no: "CT000001".into(),
        template: "BUS".into(),
        group: "LETTER".into(),
        description: "Fair".into(),
        subject: "Offer".into(),
        salesperson: "JO".into(),
        campaign_no: "CP0001".into(),
        campaign_target: true,
        campaign_response: false,
        cost: Amount::from_units(8),
        duration: Amount::from_units(30),
        flow: Flow::Outbound,
        initiated_by: InitiatedBy::Us,
        correspondence: Correspondence::HardCopy,
        language: "ENU".into(),
        evaluation: Evaluation::Positive,
        contact_via: "street 1".into(),
    }
}

fn filter_sample() -> ContactFilter {
    ContactFilter::all().eq("city", "Oslo").between(
        "revenue",
        Some(FieldValue::Number(500.0)),
        None,
    )
}

fn options_sample() -> StepOptions {
    StepOptions {
        ignore_exclusion: true,
        allow_existing: false,
        expand_companies: true,
    }
}

#[test]
fn contact_bytes_still_decode() {
    let mut custom = BTreeMap::new();
    custom.insert("revenue".to_string(), FieldValue::Number(512.5));
    custom.insert("since".to_string(), FieldValue::Date(day("2001-02-03")));
    custom.insert("vip".to_string(), FieldValue::Bool(true));
    custom.insert("note".to_string(), FieldValue::Text("x".into()));
    custom.insert("none".to_string(), FieldValue::Empty);
    golden(
        "contact",
        &Contact {
            no: "CT000002".into(),
            name: "Anna Berg".into(),
            kind: ContactKind::Person,
            company_no: "CT000001".into(),
            salesperson: "JO".into(),
            language: "ENU".into(),
            correspondence: Correspondence::Email,
            email: "anna@example.com".into(),
            phone: "1".into(),
            mobile: "2".into(),
            city: "Oslo".into(),
            country: "NO".into(),
            exclude_from_segment: true,
            privacy_blocked: true,
            custom,
        },
    );
}

#[test]
fn salesperson_bytes_still_decode() {
    golden(
        "salesperson",
        &Salesperson {
            code: "JO".into(),
            name: "Jim Olive".into(),
            email: "jo@x".into(),
            phone: "3".into(),
            blocked: true,
        },
    );
}

#[test]
fn group_bytes_still_decode() {
    golden(
        "group",
        &InteractionGroup {
            code: "LETTER".into(),
            description: "Letters".into(),
        },
    );
}

#[test]
fn template_bytes_still_decode() {
    golden(
        "template",
        &InteractionTemplate {
            code: "GOLF".into(),
            group: "LETTER".into(),
            description: "Golf event".into(),
            unit_cost: Amount::from_units(8),
            unit_duration: Amount::from_units(1),
            flow: Flow::Outbound,
            initiated_by: InitiatedBy::Us,
            campaign_no: "CP0001".into(),
            campaign_target: true,
            campaign_response: false,
            correspondence: Correspondence::Email,
            ignore_contact_correspondence: true,
            default_language: "ENU".into(),
            wizard_action: WizardAction::Merge,
            languages: vec![TemplateLanguage {
                language: "ENU".into(),
                description: "Golf".into(),
                attachment_no: 4,
            }],
        },
    );
}

#[test]
fn attachment_bytes_still_decode() {
    golden(
        "attachment",
        &Attachment {
            no: 4,
            file_name: "invite".into(),
            extension: "docx".into(),
            size: 10,
            content_hash: "ab".repeat(32),
            read_only: true,
            modified: day("2026-11-29"),
            references: 3,
        },
    );
}

#[test]
fn business_relation_bytes_still_decode() {
    golden(
        "business_relation",
        &BusinessRelation {
            kind: AccountKind::Vendor,
            account_no: "10000".into(),
            contact_no: "CT000001".into(),
        },
    );
}

#[test]
fn campaign_bytes_still_decode() {
    golden(
        "campaign",
        &Campaign {
            no: "CP0001".into(),
            description: "Fair".into(),
            starting_date: Some(day("2026-01-01")),
            ending_date: None,
            salesperson: "JO".into(),
            active: true,
        },
    );
}

#[test]
fn campaign_entry_bytes_still_decode() {
    golden(
        "campaign_entry",
        &CampaignEntry {
            entry_no: 3,
            campaign_no: "CP0001".into(),
            description: "Fair - segment SM00001".into(),
            date: day("2026-11-29"),
            user: "TESTER".into(),
            segment_no: "SM00001".into(),
            canceled: true,
            salesperson: "JO".into(),
            logged_segment_no: 7,
            document_type: Some(DocumentType::SalesQuote),
        },
    );
}

#[test]
fn logged_segment_bytes_still_decode() {
    golden(
        "logged_segment",
        &LoggedSegment {
            entry_no: 7,
            segment_no: "SM00001".into(),
            description: "Fair".into(),
            created: day("2026-11-29"),
            user: "TESTER".into(),
            canceled: true,
        },
    );
}

#[test]
fn segment_bytes_still_decode() {
    golden(
        "segment",
        &Segment {
            no: "SM00001".into(),
            description: "Fair".into(),
            campaign_no: "CP0001".into(),
            salesperson: "JO".into(),
            template: "BUS".into(),
            unit_cost: Amount::from_units(8),
            unit_duration: Amount::from_units(30),
            date: Some(day("2026-12-01")),
            correspondence: Correspondence::HardCopy,
            flow: Flow::Outbound,
            initiated_by: InitiatedBy::Us,
            group: "LETTER".into(),
            campaign_target: true,
            campaign_response: true,
            language: "ENU".into(),
            subject: "Offer".into(),
            ignore_contact_correspondence: true,
            next_line_no: 3,
            next_step_no: 2,
        },
    );
}

#[test]
fn saved_criteria_bytes_still_decode() {
    golden(
        "saved_criteria",
        &SavedCriteria {
            name: "OSLO".into(),
            source_segment: "SM00001".into(),
            steps: vec![
                (
                    CriteriaAction::Add,
                    ContactSelector::Filter(filter_sample()),
                    options_sample(),
                ),
                (
                    CriteriaAction::Reduce,
                    ContactSelector::Contacts(vec!["CT000009".into()]),
                    StepOptions::default(),
                ),
            ],
        },
    );
}

#[test]
fn statistics_bytes_still_decode() {
    golden(
        "statistics",
        &Counters {
            count: 3,
            cost: Amount::from_units(24),
            duration: Amount(12_345),
        },
    );
}

#[test]
fn criteria_step_bytes_still_decode() {
    golden(
        "criteria_step",
        &CriteriaStep {
            step_no: 1,
            action: CriteriaAction::Refine,
            selector: ContactSelector::Filter(filter_sample()),
            options: options_sample(),
            added: vec![1, 2],
            removed: vec![line_sample()],
        },
    );
}

#[test]
fn template_setup_bytes_still_decode() {
    let mut setup = TemplateSetup::default();
    setup
        .templates
        .insert(DocumentType::SalesInvoice, "S_INVOICE".into());
    setup
        .templates
        .insert(DocumentType::MeetingInvitation, "MEETINV".into());
    golden("template_setup", &setup);
}

#[test]
fn interaction_log_entry_bytes_still_decode() {
    golden("interaction_log_entry", &entry_sample());
}

#[test]
fn segment_line_bytes_still_decode() {
    golden("segment_line", &line_sample());
}

#[test]
fn plugin_settings_bytes_still_decode() {
    golden(
        "plugin_settings",
        &PluginSettings {
            enabled: vec!["document_rules".into(), "retention".into()],
            folders: vec!["/srv/rapport/plugins".into()],
        },
    );
}

#[test]
fn number_series_counter_bytes_still_decode() {
    golden("number_series_counter", &1_234_567_u64);
}

#[test]
fn a_contact_view_reads_the_stored_bytes_of_a_contact_field_for_field() {
    let bytes = stored_bytes("contact");
    let contact: Contact = codec::decode(&bytes, "contact").unwrap();
    let view: ContactView<'_> = codec::decode_in_place(&bytes, "contact").unwrap();
    assert_eq!(view, ContactView::of(&contact));
    assert_eq!(view.custom.len(), 5, "every kind of custom value");
    assert_eq!(view.custom("vip"), Some(&FieldValueView::Bool(true)));
    assert_eq!(view.custom("missing"), None);
}

#[test]
fn an_entry_view_reads_the_stored_bytes_of_an_entry_field_for_field() {
    let bytes = stored_bytes("interaction_log_entry");
    let entry: InteractionLogEntry = codec::decode(&bytes, "entry").unwrap();
    let view: EntryView<'_> = codec::decode_in_place(&bytes, "entry").unwrap();
    assert_eq!(view, EntryView::of(&entry));
    assert!(!view.comments.is_empty(), "the sample has comments");
    // And an entry written now reads the same through both.
    let now = codec::encode(&entry_sample()).unwrap();
    let view: EntryView<'_> = codec::decode_in_place(&now, "entry").unwrap();
    assert_eq!(view, EntryView::of(&entry_sample()));
}
