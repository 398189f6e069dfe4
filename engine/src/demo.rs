//! The demo company of spec section 4 (a CRONUS-like company), loaded through the public
//! workflows so it obeys every rule. Loading twice changes nothing.

use chrono::Days;

use crate::error::Result;
use crate::model::{
    AccountKind, Amount, AttachmentContent, Contact, ContactKind, ContactSelector, Correspondence,
    DocumentEvent, DocumentType, Flow, InitiatedBy, InteractionGroup, InteractionTemplate,
    Salesperson, Segment, StepOptions, WizardAction,
};
use crate::ops::layout::{self, meta_key};
use crate::ops::{InteractionDraft, Tx};
use crate::store::Table;

/// What loading the demo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoOutcome {
    /// Loaded now, with these counts.
    Loaded(DemoSummary),
    /// It was there already; nothing changed.
    AlreadyLoaded,
}

/// Counts of what the demo created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Interaction groups.
    pub groups: usize,
    /// Interaction templates.
    pub templates: usize,
    /// Salespeople.
    pub salespeople: usize,
    /// Contacts (companies and persons).
    pub contacts: usize,
    /// Segments.
    pub segments: usize,
    /// Interaction log entries.
    pub entries: usize,
}

const GROUPS: &[(&str, &str)] = &[
    ("LETTER", "Letters"),
    ("MEETING", "Meetings"),
    ("PHONE", "Telephone conversations"),
    ("PURCHASES", "Purchase Documents"),
    ("SALES", "Sales Documents"),
    ("SYSTEM", "System Generated Entries"),
];

/// code, description, group, cost, minutes, flow, initiated by, correspondence, wizard, ignore contact's type.
type TemplateRow = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    Flow,
    InitiatedBy,
    Correspondence,
    WizardAction,
    bool,
);

const TEMPLATES: &[TemplateRow] = {
    use Correspondence::{Blank as NoCorr, Email, HardCopy};
    use Flow::{Inbound, Outbound};
    use InitiatedBy::{Blank as Nobody, Them, Us};
    use WizardAction::{Merge, None as NoWizard};
    &[
        (
            "ABSTRACT",
            "Abstracts of meeting",
            "LETTER",
            8,
            90,
            Outbound,
            Nobody,
            HardCopy,
            NoWizard,
            true,
        ),
        (
            "BUS",
            "Business letter",
            "LETTER",
            8,
            30,
            Outbound,
            Us,
            HardCopy,
            NoWizard,
            true,
        ),
        (
            "COVERSH",
            "Coversheet",
            "SYSTEM",
            8,
            1,
            Outbound,
            Us,
            NoCorr,
            NoWizard,
            false,
        ),
        (
            "EMAIL", "Emails", "SYSTEM", 8, 1, Outbound, Us, NoCorr, NoWizard, false,
        ),
        (
            "EMAIL_D",
            "Email Draft",
            "SYSTEM",
            8,
            1,
            Outbound,
            Us,
            NoCorr,
            NoWizard,
            false,
        ),
        (
            "GOLF",
            "Golf event",
            "LETTER",
            8,
            1,
            Outbound,
            Us,
            Email,
            Merge,
            true,
        ),
        (
            "INCOME",
            "Incoming phone call",
            "PHONE",
            0,
            15,
            Inbound,
            Them,
            NoCorr,
            NoWizard,
            true,
        ),
        (
            "INHOUSE",
            "Meeting held at the office",
            "MEETING",
            25,
            120,
            Outbound,
            Us,
            NoCorr,
            NoWizard,
            false,
        ),
        (
            "MEETINV",
            "Meeting Invitation",
            "SYSTEM",
            8,
            1,
            Outbound,
            Us,
            NoCorr,
            NoWizard,
            false,
        ),
        (
            "ONSITE",
            "Meeting at the customers site",
            "MEETING",
            45,
            180,
            Outbound,
            Us,
            NoCorr,
            NoWizard,
            false,
        ),
        (
            "OUTGOING",
            "Outgoing phone call",
            "PHONE",
            1,
            15,
            Outbound,
            Us,
            NoCorr,
            NoWizard,
            true,
        ),
    ]
};

/// Document templates: code, description, group, and the document type each records.
const DOCUMENT_TEMPLATES: &[(&str, &str, &str, DocumentType)] = {
    use DocumentType as D;
    &[
        (
            "P_B_ORDER",
            "Purchase Blanket Order",
            "PURCHASES",
            D::PurchaseBlanketOrder,
        ),
        (
            "P_C_MEMO",
            "Purchase Credit Memo",
            "PURCHASES",
            D::PurchaseCreditMemo,
        ),
        (
            "P_INVOICE",
            "Purchase Invoice",
            "PURCHASES",
            D::PurchaseInvoice,
        ),
        ("P_ORDER", "Purchase Order", "PURCHASES", D::PurchaseOrder),
        ("P_QUOTE", "Purchase Quote", "PURCHASES", D::PurchaseQuote),
        (
            "P_RECEIPT",
            "Purchase Receipt",
            "PURCHASES",
            D::PurchaseReceipt,
        ),
        (
            "P_RT_ORD_C",
            "Purchase Return Order Confirmation",
            "PURCHASES",
            D::PurchaseReturnOrderConfirmation,
        ),
        (
            "P_RT_SHIP",
            "Purchase Return Shipment",
            "PURCHASES",
            D::PurchaseReturnShipment,
        ),
        (
            "S_B_ORDER",
            "Sales Blanket Order",
            "SALES",
            D::SalesBlanketOrder,
        ),
        ("S_C_MEMO", "Sales Credit Memo", "SALES", D::SalesCreditMemo),
        (
            "S_DRAFT_IN",
            "Sales Draft Invoice",
            "SALES",
            D::SalesDraftInvoice,
        ),
        (
            "S_FIN_CHG",
            "Finance Charge Memo",
            "SALES",
            D::SalesFinanceChargeMemo,
        ),
        ("S_INVOICE", "Sales Invoice", "SALES", D::SalesInvoice),
        (
            "S_ORDER_CF",
            "Sales Order Confirmation",
            "SALES",
            D::SalesOrderConfirmation,
        ),
        ("S_QUOTE", "Sales Quote", "SALES", D::SalesQuote),
        ("S_REMIND", "Reminder", "SALES", D::SalesReminder),
        (
            "S_RET_ORD",
            "Sales Return Order",
            "SALES",
            D::SalesReturnOrder,
        ),
        (
            "S_RET_RCP",
            "Sales Return Receipt",
            "SALES",
            D::SalesReturnReceipt,
        ),
        ("S_SHIP", "Sales Shipment", "SALES", D::SalesShipment),
        ("S_STATM", "Statement", "SALES", D::SalesStatement),
    ]
};

const SALESPEOPLE: &[(&str, &str, &str)] = &[
    ("JO", "Jim Olive", "jo@cronus.example"),
    ("PS", "Peter Saddow", "ps@cronus.example"),
    ("BC", "Benjamin Chiu", "bc@cronus.example"),
    ("HR", "Helen Ray", "hr@cronus.example"),
    ("OF", "Otis Falls", "of@cronus.example"),
];

/// Companies: name, city, country, salesperson, relation (kind, account no).
const COMPANIES: &[(&str, &str, &str, &str, AccountKind, &str)] = &[
    (
        "The Cannon Group PLC",
        "Birmingham",
        "GB",
        "JO",
        AccountKind::Customer,
        "10000",
    ),
    (
        "Selangorian Ltd.",
        "London",
        "GB",
        "PS",
        AccountKind::Customer,
        "20000",
    ),
    (
        "John Haddock Insurance Co.",
        "Manchester",
        "GB",
        "BC",
        AccountKind::Customer,
        "30000",
    ),
    (
        "Deerfield Graphics Company",
        "Atlanta",
        "US",
        "HR",
        AccountKind::Customer,
        "40000",
    ),
    (
        "Gagnon & Partners",
        "Montreal",
        "CA",
        "JO",
        AccountKind::Customer,
        "50000",
    ),
    (
        "Progressive Home Furnishings",
        "Oslo",
        "NO",
        "PS",
        AccountKind::Customer,
        "60000",
    ),
    (
        "New Concepts Furniture",
        "Oslo",
        "NO",
        "OF",
        AccountKind::Customer,
        "62000",
    ),
    (
        "Fabrikam, Inc.",
        "Chicago",
        "US",
        "BC",
        AccountKind::Vendor,
        "10000",
    ),
    (
        "First Up Consultants",
        "Dallas",
        "US",
        "HR",
        AccountKind::Vendor,
        "20000",
    ),
    (
        "Graphic Design Institute",
        "Seattle",
        "US",
        "OF",
        AccountKind::Vendor,
        "30000",
    ),
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Bart", "Carla", "David", "Eva", "Frank", "Greta", "Hugo", "Ida", "Jonas", "Karin",
    "Lars", "Mona", "Nils", "Olga", "Paul", "Rita", "Sven", "Tina", "Ulf",
];
const LAST_NAMES: &[&str] = &[
    "Berg", "Dahl", "Lund", "Holm", "Strand", "Moen", "Bakke", "Haug",
];

/// Persons per company.
const PERSONS_PER_COMPANY: usize = 4;

/// Loads the demo company through the workflows, once.
pub fn load(tx: &mut Tx<'_>) -> Result<DemoOutcome> {
    if layout::exists(&*tx.kv, Table::Meta, &meta_key::demo_loaded())? {
        return Ok(DemoOutcome::AlreadyLoaded);
    }
    let mut summary = DemoSummary::default();
    for (code, description) in GROUPS {
        tx.group_define(InteractionGroup {
            code: (*code).into(),
            description: (*description).into(),
        })?;
        summary.groups += 1;
    }
    for &(
        code,
        description,
        group,
        cost,
        minutes,
        flow,
        initiated_by,
        correspondence,
        wizard_action,
        ignore,
    ) in TEMPLATES
    {
        tx.template_define(InteractionTemplate {
            code: code.into(),
            description: description.into(),
            group: group.into(),
            unit_cost: Amount::from_units(cost),
            unit_duration: Amount::from_units(minutes),
            flow,
            initiated_by,
            correspondence,
            ignore_contact_correspondence: ignore,
            wizard_action,
            ..InteractionTemplate::default()
        })?;
        summary.templates += 1;
    }
    let invitation = AttachmentContent {
        file_name: "golf-invitation.html".into(),
        content: b"<html><body><p>Dear {{name}},</p><p>You are invited to our golf event.</p></body></html>".to_vec(),
    };
    tx.template_attach("GOLF", "ENU", "Golf event", &invitation)?;
    let mut setup = Vec::new();
    for &(code, description, group, document_type) in DOCUMENT_TEMPLATES {
        tx.template_define(InteractionTemplate {
            code: code.into(),
            description: description.into(),
            group: group.into(),
            unit_cost: Amount::from_units(8),
            unit_duration: Amount::from_units(1),
            flow: Flow::Outbound,
            initiated_by: InitiatedBy::Us,
            ..InteractionTemplate::default()
        })?;
        setup.push((document_type, code.to_string()));
        summary.templates += 1;
    }
    setup.extend([
        (DocumentType::CoverSheet, "COVERSH".to_string()),
        (DocumentType::Email, "EMAIL".to_string()),
        (DocumentType::OutgoingCall, "OUTGOING".to_string()),
        (DocumentType::MeetingInvitation, "MEETINV".to_string()),
    ]);
    tx.template_setup_set(&setup)?;
    for (code, name, email) in SALESPEOPLE {
        tx.salesperson_create(Salesperson {
            code: (*code).into(),
            name: (*name).into(),
            email: (*email).into(),
            ..Salesperson::default()
        })?;
        summary.salespeople += 1;
    }
    let mut companies = Vec::new();
    let mut persons = Vec::new();
    for (i, &(name, city, country, salesperson, kind, account)) in COMPANIES.iter().enumerate() {
        let company_no = tx.contact_create(Contact {
            name: name.into(),
            kind: ContactKind::Company,
            city: city.into(),
            country: country.into(),
            salesperson: salesperson.into(),
            email: format!(
                "info@{}.example",
                name.split_whitespace()
                    .next()
                    .unwrap_or("company")
                    .to_lowercase()
                    .replace([',', '.'], "")
            ),
            phone: format!("+44 20 7946 0{i:03}"),
            ..Contact::default()
        })?;
        tx.relation_link(&company_no, kind, account)?;
        for p in 0..PERSONS_PER_COMPANY {
            let n = i * PERSONS_PER_COMPANY + p;
            let first = FIRST_NAMES[n % FIRST_NAMES.len()];
            let last = LAST_NAMES[(n * 3 + i) % LAST_NAMES.len()];
            let person_no = tx.contact_create(Contact {
                name: format!("{first} {last}"),
                kind: ContactKind::Person,
                company_no: company_no.clone(),
                city: city.into(),
                country: country.into(),
                salesperson: salesperson.into(),
                language: if p == 0 { "ENU".into() } else { String::new() },
                // Every fourth person prefers letters; one has no e-mail address at all.
                correspondence: if p == 3 {
                    Correspondence::HardCopy
                } else {
                    Correspondence::Email
                },
                email: if p == 2 && i % 2 == 0 {
                    String::new()
                } else {
                    format!(
                        "{}.{}@example.com",
                        first.to_lowercase(),
                        last.to_lowercase()
                    )
                },
                mobile: format!("+47 9{n:07}"),
                exclude_from_segment: p == 1 && i == 3,
                ..Contact::default()
            })?;
            persons.push((company_no.clone(), person_no));
        }
        companies.push((company_no, kind, account));
    }
    summary.contacts = companies.len() + persons.len();

    // Segments.
    let increase = tx.segment_create(Segment {
        description: "Increase sale".into(),
        template: "BUS".into(),
        salesperson: "JO".into(),
        ..Segment::default()
    })?;
    tx.segment_update(
        &increase,
        &crate::ops::SegmentChanges {
            correspondence: Some(Correspondence::HardCopy),
            ..Default::default()
        },
    )?;
    let customers: Vec<&String> = companies
        .iter()
        .filter(|c| c.1 == AccountKind::Customer)
        .map(|c| &c.0)
        .take(5)
        .collect();
    let chosen: Vec<String> = persons
        .iter()
        .filter(|(company, _)| customers.contains(&company))
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, (_, p))| p.clone())
        .collect();
    tx.segment_add(
        &increase,
        &ContactSelector::Contacts(chosen),
        StepOptions {
            ignore_exclusion: true,
            ..StepOptions::default()
        },
    )?;
    tx.segment_create(Segment {
        description: "Event".into(),
        template: "GOLF".into(),
        ..Segment::default()
    })?;
    let arrangement = tx.segment_create(Segment {
        description: "Working place arrangement, Customer".into(),
        template: "ABSTRACT".into(),
        ..Segment::default()
    })?;
    tx.segment_update(
        &arrangement,
        &crate::ops::SegmentChanges {
            correspondence: Some(Correspondence::HardCopy),
            ..Default::default()
        },
    )?;
    summary.segments = 3;

    // History: quotes and order confirmations for customers' contacts, purchase orders for
    // vendors, a cover sheet per contact, a statement per customer, and some calls and meetings.
    let mut doc_no = 1000;
    for (company, kind, account) in &companies {
        let mut record = |tx: &mut Tx<'_>,
                          doc: DocumentType,
                          kind: AccountKind,
                          no: &str|
         -> Result<()> {
            doc_no += 1;
            let outcome =
                tx.record_document(&DocumentEvent::printed(doc, &doc_no.to_string(), kind, no))?;
            summary.entries += usize::from(outcome.recorded);
            Ok(())
        };
        match kind {
            AccountKind::Customer => {
                let first_person = persons
                    .iter()
                    .find(|(c, _)| c == company)
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default();
                record(
                    tx,
                    DocumentType::SalesQuote,
                    AccountKind::Contact,
                    &first_person,
                )?;
                record(
                    tx,
                    DocumentType::SalesOrderConfirmation,
                    AccountKind::Customer,
                    account,
                )?;
                record(
                    tx,
                    DocumentType::SalesStatement,
                    AccountKind::Customer,
                    account,
                )?;
            }
            _ => record(
                tx,
                DocumentType::PurchaseOrder,
                AccountKind::Vendor,
                account,
            )?,
        }
        record(tx, DocumentType::CoverSheet, AccountKind::Contact, company)?;
    }
    let today = tx.ctx.clock.work_date();
    for (n, (_, person)) in persons.iter().enumerate() {
        let template = ["OUTGOING", "INCOME", "INHOUSE", "ONSITE"][n % 4];
        tx.log_interaction(InteractionDraft {
            contact: person.clone(),
            template: template.into(),
            date: today.checked_sub_days(Days::new((n % 30) as u64)),
            ..InteractionDraft::default()
        })?;
        summary.entries += 1;
    }
    layout::put(tx.kv, Table::Meta, &meta_key::demo_loaded(), &true)?;
    Ok(DemoOutcome::Loaded(summary))
}
