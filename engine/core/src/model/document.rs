//! Automatic recording: document types, the template setup, business relations, document events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::spec_enum;

spec_enum! {
    /// A kind of document (or non-document event) that can be recorded as an interaction.
    DocumentType {
        /// Sales quote.
        #[default]
        SalesQuote = "sales_quote",
        /// Sales blanket order.
        SalesBlanketOrder = "sales_blanket_order",
        /// Sales order confirmation.
        SalesOrderConfirmation = "sales_order_confirmation",
        /// Sales invoice.
        SalesInvoice = "sales_invoice",
        /// Sales shipment.
        SalesShipment = "sales_shipment",
        /// Sales credit memo.
        SalesCreditMemo = "sales_credit_memo",
        /// Customer statement.
        SalesStatement = "sales_statement",
        /// Reminder.
        SalesReminder = "sales_reminder",
        /// Sales return order.
        SalesReturnOrder = "sales_return_order",
        /// Sales return receipt.
        SalesReturnReceipt = "sales_return_receipt",
        /// Finance charge memo.
        SalesFinanceChargeMemo = "sales_finance_charge_memo",
        /// Draft invoice.
        SalesDraftInvoice = "sales_draft_invoice",
        /// Purchase quote.
        PurchaseQuote = "purchase_quote",
        /// Purchase blanket order.
        PurchaseBlanketOrder = "purchase_blanket_order",
        /// Purchase order.
        PurchaseOrder = "purchase_order",
        /// Purchase invoice.
        PurchaseInvoice = "purchase_invoice",
        /// Purchase receipt.
        PurchaseReceipt = "purchase_receipt",
        /// Purchase credit memo.
        PurchaseCreditMemo = "purchase_credit_memo",
        /// Purchase return shipment.
        PurchaseReturnShipment = "purchase_return_shipment",
        /// Purchase return order confirmation.
        PurchaseReturnOrderConfirmation = "purchase_return_order_confirmation",
        /// Cover sheet.
        CoverSheet = "cover_sheet",
        /// Service order created.
        ServiceOrderCreate = "service_order_create",
        /// Service order posted.
        ServiceOrderPost = "service_order_post",
        /// Service contract.
        ServiceContract = "service_contract",
        /// Service contract quote.
        ServiceContractQuote = "service_contract_quote",
        /// Service quote.
        ServiceQuote = "service_quote",
        /// An e-mail (not a document).
        Email = "email",
        /// An outgoing phone call (not a document).
        OutgoingCall = "outgoing_call",
        /// A meeting invitation (not a document).
        MeetingInvitation = "meeting_invitation",
    }
}

impl DocumentType {
    /// Which kinds of party a document of this type may name (spec 2, "Which party a document names").
    pub fn allowed_parties(self) -> &'static [AccountKind] {
        use DocumentType as D;
        match self {
            D::SalesStatement | D::SalesReminder | D::SalesFinanceChargeMemo => {
                &[AccountKind::Customer]
            }
            D::PurchaseQuote
            | D::PurchaseBlanketOrder
            | D::PurchaseOrder
            | D::PurchaseInvoice
            | D::PurchaseReceipt
            | D::PurchaseCreditMemo
            | D::PurchaseReturnShipment
            | D::PurchaseReturnOrderConfirmation => &[AccountKind::Vendor],
            D::CoverSheet | D::Email | D::OutgoingCall | D::MeetingInvitation => {
                &[AccountKind::Contact]
            }
            _ => &[AccountKind::Contact, AccountKind::Customer],
        }
    }

    /// Whether a document of this type has a number to record. A contact cover sheet, an
    /// e-mail and an outgoing call are interactions with a contact, not numbered documents:
    /// the reference ERP logs them with an empty document no. A meeting invitation carries
    /// the number of its task.
    pub fn has_number(self) -> bool {
        !matches!(self, Self::CoverSheet | Self::Email | Self::OutgoingCall)
    }
}

spec_enum! {
    /// The kind of account a document names.
    AccountKind {
        /// A customer account (through its business relation).
        #[default]
        Customer = "customer",
        /// A vendor account (through its business relation).
        Vendor = "vendor",
        /// A contact directly.
        Contact = "contact",
    }
}

spec_enum! {
    /// What happened to the document.
    DocumentAction {
        /// Printed.
        #[default]
        Printed = "printed",
        /// Sent by e-mail.
        Emailed = "emailed",
        /// Posted.
        Posted = "posted",
        /// Shown on screen only: never recorded.
        Preview = "preview",
    }
}

/// The template setup: which template records each document type. A missing type records nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateSetup {
    /// Document type → template code.
    pub templates: BTreeMap<DocumentType, String>,
}

impl TemplateSetup {
    /// The template for `document_type`, if one is set.
    pub fn template_for(&self, document_type: DocumentType) -> Option<&str> {
        self.templates
            .get(&document_type)
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    }
}

/// A business relation: an outside account linked to a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessRelation {
    /// Customer or vendor.
    pub kind: AccountKind,
    /// The account's no.
    pub account_no: String,
    /// The contact it is.
    pub contact_no: String,
}

/// Who a document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentParty {
    /// Customer, vendor or contact.
    pub kind: AccountKind,
    /// Its no.
    pub no: String,
}

/// A document event to record (spec 2, Automatic recording of documents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEvent {
    /// The document's type.
    pub document_type: DocumentType,
    /// The document's no.
    pub document_no: String,
    /// The party it names.
    pub party: DocumentParty,
    /// Printed, e-mailed, posted or previewed.
    pub action: DocumentAction,
    /// Salesperson; `None` takes the contact's, `Some("")` leaves it blank.
    pub salesperson: Option<String>,
    /// Campaign; overrides the template's.
    pub campaign: String,
    /// Description; blank takes the template's.
    pub description: String,
    /// Version of the document.
    pub version_no: u32,
}

impl DocumentEvent {
    /// A printed document of `document_type` named `document_no` for `party`.
    pub fn printed(
        document_type: DocumentType,
        document_no: &str,
        kind: AccountKind,
        no: &str,
    ) -> Self {
        Self {
            document_type,
            document_no: document_no.to_string(),
            party: DocumentParty {
                kind,
                no: no.to_string(),
            },
            action: DocumentAction::Printed,
            salesperson: None,
            campaign: String::new(),
            description: String::new(),
            version_no: 0,
        }
    }
}
