//! Entries proposed before they are written: every workflow that makes an entry — logging one
//! interaction, logging a segment, recording a document, resuming a postponed interaction — first
//! works out each entry as it would be written (every default applied, every rule checked), so a
//! caller (the plugins' `before_log` hooks) can see it whole and amend it; writing it then checks
//! again the rules of what was amended. The workflows without a caller in between are the same
//! two steps, one after the other.

use chrono::{NaiveDate, NaiveTime};

use super::Tx;
use super::entries::{apply_email_rule, check_length, check_not_negative};
use crate::error::{Error, Result};
use crate::model::{
    Amount, Comment, Correspondence, DeliveryStatus, Evaluation, InteractionLogEntry,
    normalize_code,
};

/// Which workflow makes an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntrySource {
    /// Logged by hand (`log_interaction`).
    Manual,
    /// A line of a logged segment.
    Segment,
    /// A printed, e-mailed or posted document.
    Document,
    /// A postponed interaction resumed.
    Resume,
    /// A row of `rapport import entries`.
    Import,
}

impl EntrySource {
    /// The word scripts see (`manual`, `segment`, `document`, `resume`, `import`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Segment => "segment",
            Self::Document => "document",
            Self::Resume => "resume",
            Self::Import => "import",
        }
    }
}

/// The fields of a proposed entry that may be amended; the others (the contact, the template and
/// what follows from it, the segment, the document, the numbers) say what the entry is.
pub const AMENDABLE_FIELDS: &[&str] = &[
    "description",
    "subject",
    "cost",
    "duration",
    "salesperson",
    "evaluation",
    "attempt_failed",
    "correspondence",
    "contact_via",
    "comments",
    "campaign_no",
    "date",
    "time",
];

/// Changes to a proposed entry (each `Some` replaces the field).
#[derive(Debug, Clone, Default)]
pub struct EntryAmendment {
    /// Description.
    pub description: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Cost.
    pub cost: Option<Amount>,
    /// Duration in minutes.
    pub duration: Option<Amount>,
    /// Salesperson code.
    pub salesperson: Option<String>,
    /// Evaluation.
    pub evaluation: Option<Evaluation>,
    /// The interaction did not succeed.
    pub attempt_failed: Option<bool>,
    /// Correspondence type.
    pub correspondence: Option<Correspondence>,
    /// How the contact was reached.
    pub contact_via: Option<String>,
    /// Comment lines (all of them; dated with the entry's date when new).
    pub comments: Option<Vec<String>>,
    /// Campaign no.
    pub campaign_no: Option<String>,
    /// Date.
    pub date: Option<NaiveDate>,
    /// Time.
    pub time: Option<NaiveTime>,
}

/// An entry as it would be written, before it is: what a `before_log` hook sees.
#[derive(Debug, Clone)]
pub struct ProposedEntry {
    entry: InteractionLogEntry,
    source: EntrySource,
    /// Ask for delivery (the workflow's option; an amended correspondence is checked against it).
    deliver: bool,
    /// Whether it has an attachment (its own or its template's) or its template merges.
    attachment: bool,
    amended: bool,
}

impl ProposedEntry {
    pub(crate) fn new(
        entry: InteractionLogEntry,
        source: EntrySource,
        deliver: bool,
        attachment: bool,
    ) -> Self {
        Self {
            entry,
            source,
            deliver,
            attachment,
            amended: false,
        }
    }

    /// The entry as it would be written (no 0 until it is, but for a resumed one).
    pub fn entry(&self) -> &InteractionLogEntry {
        &self.entry
    }

    /// Which workflow makes it.
    pub fn source(&self) -> EntrySource {
        self.source
    }

    /// Applies changes; writing the entry checks their rules.
    pub fn amend(&mut self, changes: EntryAmendment) {
        let e = &mut self.entry;
        let comments_date = changes.date.unwrap_or(e.date);
        macro_rules! set {
            ($($field:ident),+) => {$(
                if let Some(v) = changes.$field {
                    e.$field = v;
                    self.amended = true;
                }
            )+};
        }
        set!(
            description,
            subject,
            cost,
            duration,
            salesperson,
            evaluation,
            attempt_failed,
            correspondence,
            contact_via,
            campaign_no,
            date,
            time
        );
        if let Some(lines) = changes.comments {
            let mut kept = Vec::with_capacity(lines.len());
            for text in lines {
                // A line the entry had keeps its date.
                let date = e
                    .comments
                    .iter()
                    .find(|c| c.text == text)
                    .map_or(comments_date, |c| c.date);
                kept.push(Comment { date, text });
            }
            e.comments = kept;
            self.amended = true;
        }
    }

    /// The entry to write: when amended, the amended fields' rules are checked again (in the
    /// transaction as it is now, after whatever the caller did in between).
    pub(crate) fn checked(self, tx: &Tx<'_>) -> Result<InteractionLogEntry> {
        if !self.amended {
            return Ok(self.entry);
        }
        let mut e = self.entry;
        let record = if e.entry_no == 0 {
            format!("interaction for contact {}", e.contact_no)
        } else {
            format!("interaction log entry {}", e.entry_no)
        };
        let view = tx.view();
        e.salesperson = normalize_code(&e.salesperson);
        e.campaign_no = normalize_code(&e.campaign_no);
        if e.description.trim().is_empty() {
            return Err(Error::required(
                &record,
                "description",
                "a before_log hook left it blank; give a description",
            ));
        }
        check_length(&record, "description", &e.description)?;
        check_length(&record, "subject", &e.subject)?;
        check_length(&record, "contact_via", &e.contact_via)?;
        for c in &e.comments {
            check_length(&record, "comments", &c.text)?;
        }
        check_not_negative(&record, "cost", e.cost)?;
        check_not_negative(&record, "duration", e.duration)?;
        if e.salesperson.is_empty() && self.source != EntrySource::Document {
            return Err(Error::required(
                &record,
                "salesperson",
                "a before_log hook left it blank; name a salesperson",
            ));
        }
        if !e.salesperson.is_empty() && view.salesperson(&e.salesperson)?.is_none() {
            return Err(Error::not_found("salesperson", &e.salesperson));
        }
        if !e.campaign_no.is_empty() && view.campaign(&e.campaign_no)?.is_none() {
            return Err(Error::not_found("campaign", &e.campaign_no));
        }
        let contact = view
            .contact(&e.contact_no)?
            .ok_or_else(|| Error::not_found("contact", &e.contact_no))?;
        let deliver = self.deliver && !e.postponed;
        if deliver && e.correspondence != Correspondence::Blank && !self.attachment {
            return Err(Error::NoAttachment {
                record,
                correspondence: e.correspondence.to_string(),
                language: e.language.clone(),
            });
        }
        if !e.postponed {
            e.correspondence = apply_email_rule(e.correspondence, &contact, deliver)?;
        }
        if deliver {
            e.delivery_status = if e.correspondence == Correspondence::Blank {
                DeliveryStatus::Blank
            } else {
                DeliveryStatus::InProgress
            };
        }
        Ok(e)
    }
}
