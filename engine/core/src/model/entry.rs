//! The interaction log: entries and logged segments.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use super::{Amount, DocumentType, spec_enum};

spec_enum! {
    /// Direction of an interaction.
    Flow {
        /// Not said.
        #[default]
        Blank = "",
        /// From us to the contact.
        Outbound = "outbound",
        /// From the contact to us.
        Inbound = "inbound",
    }
}

spec_enum! {
    /// Who started an interaction.
    InitiatedBy {
        /// Not said.
        #[default]
        Blank = "",
        /// We did.
        Us = "us",
        /// The contact did.
        Them = "them",
    }
}

spec_enum! {
    /// How an interaction is delivered.
    Correspondence {
        /// None (nothing to deliver).
        #[default]
        Blank = "",
        /// On paper.
        HardCopy = "hard_copy",
        /// By e-mail.
        Email = "email",
    }
}

spec_enum! {
    /// How an interaction went.
    Evaluation {
        /// Not evaluated.
        #[default]
        Blank = "",
        /// Very positive.
        VeryPositive = "very_positive",
        /// Positive.
        Positive = "positive",
        /// Neutral.
        Neutral = "neutral",
        /// Negative.
        Negative = "negative",
        /// Very negative.
        VeryNegative = "very_negative",
    }
}

spec_enum! {
    /// State of a delivery handed to a plugin or the caller.
    DeliveryStatus {
        /// Nothing to deliver, or delivered.
        #[default]
        Blank = "",
        /// Being delivered.
        InProgress = "in_progress",
        /// Delivery failed.
        Error = "error",
    }
}

/// A comment line on an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// When it was written.
    #[serde(with = "super::serde_date")]
    pub date: NaiveDate,
    /// The text.
    pub text: String,
}

/// One interaction log entry (spec 1, Interaction log entry). Template values are a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionLogEntry {
    /// Key, strictly increasing, never reused.
    pub entry_no: u64,
    /// The contact (blank once its company was deleted).
    pub contact_no: String,
    /// The contact's company.
    pub contact_company_no: String,
    /// Manual: the work date; documents and logged segments: today.
    #[serde(with = "super::serde_date")]
    pub date: NaiveDate,
    /// Time of day.
    #[serde(with = "super::serde_date::time")]
    pub time: NaiveTime,
    /// What happened.
    pub description: String,
    /// Defaults to the description.
    pub subject: String,
    /// Template code at log time.
    pub template: String,
    /// Group code, copied from the template.
    pub group: String,
    /// Copied from the template.
    pub flow: Flow,
    /// Copied from the template.
    pub initiated_by: InitiatedBy,
    /// Resolved correspondence type.
    pub correspondence: Correspondence,
    /// Language of the attachment.
    pub language: String,
    /// Cost, ≥ 0.
    pub cost: Amount,
    /// Duration in minutes, ≥ 0.
    pub duration: Amount,
    /// Salesperson code.
    pub salesperson: String,
    /// Who logged it.
    pub user: String,
    /// Campaign no.
    pub campaign_no: String,
    /// Campaign entry it belongs to (0 when none).
    pub campaign_entry_no: u64,
    /// Copied from the template.
    pub campaign_target: bool,
    /// Copied from the template.
    pub campaign_response: bool,
    /// Segment it was logged from.
    pub segment_no: String,
    /// Logged segment it belongs to (0 when none).
    pub logged_segment_no: u64,
    /// How it went.
    pub evaluation: Evaluation,
    /// The interaction did not succeed.
    pub attempt_failed: bool,
    /// Canceled entries are kept but left out of statistics.
    pub canceled: bool,
    /// Saved to finish later; left out of lists and statistics.
    pub postponed: bool,
    /// Recorded document's type.
    pub document_type: Option<DocumentType>,
    /// Recorded document's no.
    pub document_no: String,
    /// Recorded document's version.
    pub version_no: u32,
    /// How the contact was reached (the number dialled, the address written to).
    pub contact_via: String,
    /// Delivery state.
    pub delivery_status: DeliveryStatus,
    /// The attachment (0 when none).
    pub attachment_no: u64,
    /// Comment lines.
    pub comments: Vec<Comment>,
}

/// A comment read in place ([`Comment`]'s fields, its text borrowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[expect(missing_docs, reason = "the fields are Comment's, documented there")]
pub struct CommentView<'a> {
    #[serde(with = "super::serde_date")]
    pub date: NaiveDate,
    pub text: &'a str,
}

/// An entry read in place from its stored bytes: [`InteractionLogEntry`]'s fields in its order
/// (a golden test proves both read the same bytes alike), its text borrowed, so a scan can test
/// a few fields of every entry without building any.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[expect(
    missing_docs,
    reason = "the fields are InteractionLogEntry's, documented there"
)]
pub struct EntryView<'a> {
    pub entry_no: u64,
    pub contact_no: &'a str,
    pub contact_company_no: &'a str,
    #[serde(with = "super::serde_date")]
    pub date: NaiveDate,
    #[serde(with = "super::serde_date::time")]
    pub time: NaiveTime,
    pub description: &'a str,
    pub subject: &'a str,
    pub template: &'a str,
    pub group: &'a str,
    pub flow: Flow,
    pub initiated_by: InitiatedBy,
    pub correspondence: Correspondence,
    pub language: &'a str,
    pub cost: Amount,
    pub duration: Amount,
    pub salesperson: &'a str,
    pub user: &'a str,
    pub campaign_no: &'a str,
    pub campaign_entry_no: u64,
    pub campaign_target: bool,
    pub campaign_response: bool,
    pub segment_no: &'a str,
    pub logged_segment_no: u64,
    pub evaluation: Evaluation,
    pub attempt_failed: bool,
    pub canceled: bool,
    pub postponed: bool,
    pub document_type: Option<DocumentType>,
    pub document_no: &'a str,
    pub version_no: u32,
    pub contact_via: &'a str,
    pub delivery_status: DeliveryStatus,
    pub attachment_no: u64,
    #[serde(borrow)]
    pub comments: Vec<CommentView<'a>>,
}

impl<'a> EntryView<'a> {
    /// A view of an entry in memory.
    pub fn of(e: &'a InteractionLogEntry) -> Self {
        EntryView {
            entry_no: e.entry_no,
            contact_no: &e.contact_no,
            contact_company_no: &e.contact_company_no,
            date: e.date,
            time: e.time,
            description: &e.description,
            subject: &e.subject,
            template: &e.template,
            group: &e.group,
            flow: e.flow,
            initiated_by: e.initiated_by,
            correspondence: e.correspondence,
            language: &e.language,
            cost: e.cost,
            duration: e.duration,
            salesperson: &e.salesperson,
            user: &e.user,
            campaign_no: &e.campaign_no,
            campaign_entry_no: e.campaign_entry_no,
            campaign_target: e.campaign_target,
            campaign_response: e.campaign_response,
            segment_no: &e.segment_no,
            logged_segment_no: e.logged_segment_no,
            evaluation: e.evaluation,
            attempt_failed: e.attempt_failed,
            canceled: e.canceled,
            postponed: e.postponed,
            document_type: e.document_type,
            document_no: &e.document_no,
            version_no: e.version_no,
            contact_via: &e.contact_via,
            delivery_status: e.delivery_status,
            attachment_no: e.attachment_no,
            comments: e
                .comments
                .iter()
                .map(|c| CommentView {
                    date: c.date,
                    text: &c.text,
                })
                .collect(),
        }
    }
}

impl InteractionLogEntry {
    /// The names of the built-in fields, as scripts see them.
    pub const FIELDS: &'static [&'static str] = &[
        "entry_no",
        "contact_no",
        "contact_company_no",
        "date",
        "time",
        "description",
        "subject",
        "template",
        "group",
        "flow",
        "initiated_by",
        "correspondence",
        "language",
        "cost",
        "duration",
        "salesperson",
        "user",
        "campaign_no",
        "campaign_entry_no",
        "campaign_target",
        "campaign_response",
        "segment_no",
        "logged_segment_no",
        "evaluation",
        "attempt_failed",
        "canceled",
        "postponed",
        "document_type",
        "document_no",
        "version_no",
        "contact_via",
        "delivery_status",
        "attachment_no",
        "comments",
    ];

    /// An entry with every field blank, for builders to fill.
    pub fn blank(entry_no: u64, date: NaiveDate, time: NaiveTime) -> Self {
        Self {
            entry_no,
            contact_no: String::new(),
            contact_company_no: String::new(),
            date,
            time,
            description: String::new(),
            subject: String::new(),
            template: String::new(),
            group: String::new(),
            flow: Flow::Blank,
            initiated_by: InitiatedBy::Blank,
            correspondence: Correspondence::Blank,
            language: String::new(),
            cost: Amount::ZERO,
            duration: Amount::ZERO,
            salesperson: String::new(),
            user: String::new(),
            campaign_no: String::new(),
            campaign_entry_no: 0,
            campaign_target: false,
            campaign_response: false,
            segment_no: String::new(),
            logged_segment_no: 0,
            evaluation: Evaluation::Blank,
            attempt_failed: false,
            canceled: false,
            postponed: false,
            document_type: None,
            document_no: String::new(),
            version_no: 0,
            contact_via: String::new(),
            delivery_status: DeliveryStatus::Blank,
            attachment_no: 0,
            comments: Vec::new(),
        }
    }

    /// Whether it counts in template, group, contact and salesperson statistics.
    pub fn counts_in_statistics(&self) -> bool {
        !self.canceled && !self.postponed
    }

    /// The title in a contact's timeline (spec 1): outbound "… - by <salesperson>", inbound
    /// "… - from <contact>", otherwise the description.
    pub fn timeline_title(&self, salesperson_name: &str, contact_name: &str) -> String {
        match self.flow {
            Flow::Outbound => format!("{} - by {salesperson_name}", self.description),
            Flow::Inbound => format!("{} - from {contact_name}", self.description),
            Flow::Blank => self.description.clone(),
        }
    }
}

/// A logged segment: the record of one segment's logging.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoggedSegment {
    /// Key, from its own series.
    pub entry_no: u64,
    /// The segment it was.
    pub segment_no: String,
    /// The segment's description.
    pub description: String,
    /// Date logged (today).
    #[serde(with = "super::serde_date")]
    pub created: NaiveDate,
    /// Who logged it.
    pub user: String,
    /// Canceling it cancels its entries and campaign entries.
    pub canceled: bool,
}
