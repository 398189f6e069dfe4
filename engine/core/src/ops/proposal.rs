//! Entries proposed before they are written: every workflow that makes an entry — logging one
//! interaction, logging a segment, recording a document, resuming a postponed interaction — first
//! works out each entry as it would be written (every default applied, every rule checked), so a
//! caller (the plugins' `before_log` hooks) can see it whole and amend it; writing it then checks
//! again the rules of what was amended. The workflows without a caller in between are the same
//! two steps, one after the other.

use chrono::{NaiveDate, NaiveTime};

use super::View;
use super::rules::{apply_email_rule, check_length, check_not_negative};
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

/// A comment line a caller gives: its date, if it says one, and its text.
pub type CommentLine = (Option<NaiveDate>, String);

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
    /// Comment lines, all of them: a date (none: a line the entry has at that place keeps
    /// its date, a new one gets the date new comments get) and the text.
    pub comments: Option<Vec<CommentLine>>,
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
    /// The template language's attachment it shares when written (0: none).
    pub(crate) template_attachment: u64,
    /// The date new comment lines get (the entry's; a resumed entry's: the work date).
    comments_date: NaiveDate,
    /// Its subject was left blank, so it is the description (and follows it).
    subject_defaulted: bool,
    /// A caller looked at it (hooks ran: the database may have changed since).
    hooked: bool,
    /// The fields amended, each with who amended it last (a plugin's name).
    changed: Vec<(&'static str, String)>,
}

impl ProposedEntry {
    pub(crate) fn new(entry: InteractionLogEntry, source: EntrySource) -> Self {
        let comments_date = entry.date;
        Self {
            entry,
            source,
            deliver: false,
            attachment: false,
            template_attachment: 0,
            comments_date,
            subject_defaulted: false,
            hooked: false,
            changed: Vec::new(),
        }
    }

    /// Asked for delivery, with an attachment (or a merge template) or not, sharing the
    /// template language's attachment `template_attachment`.
    pub(crate) fn delivery(
        mut self,
        deliver: bool,
        attachment: bool,
        template_attachment: u64,
    ) -> Self {
        self.deliver = deliver;
        self.attachment = attachment || template_attachment != 0;
        self.template_attachment = template_attachment;
        self
    }

    /// New comment lines are dated `date`.
    pub(crate) fn comments_dated(mut self, date: NaiveDate) -> Self {
        self.comments_date = date;
        self
    }

    /// Its subject is the description because none was given.
    pub(crate) fn subject_defaulted(mut self, defaulted: bool) -> Self {
        self.subject_defaulted = defaulted;
        self
    }

    /// The entry as it would be written (no 0 until it is, but for a resumed one).
    pub fn entry(&self) -> &InteractionLogEntry {
        &self.entry
    }

    /// Which workflow makes it.
    pub fn source(&self) -> EntrySource {
        self.source
    }

    /// How messages name it: a new entry by its contact, a resumed one by its number.
    pub fn label(&self) -> String {
        if self.entry.entry_no == 0 {
            format!("interaction for contact {}", self.entry.contact_no)
        } else {
            format!("interaction log entry {}", self.entry.entry_no)
        }
    }

    /// Applies what `by` (a plugin's `before_log` hook) changed, refusing (naming `by`) a
    /// change that breaks a rule of its own field: a blank description or salesperson, a text
    /// too long, a cost or duration below zero. Nothing changed is an amendment too: hooks ran,
    /// so writing the entry checks again what the database says about it (the contact, the
    /// salesperson, the campaign).
    pub fn amend(&mut self, changes: EntryAmendment, by: &str) -> Result<()> {
        self.hooked = true;
        let record = self.label();
        let own = |e: Error| {
            if by.is_empty() { e } else { blamed(e, by) }
        };
        // The rules of the values given, before any is applied.
        if let Some(d) = &changes.description {
            if d.trim().is_empty() {
                return Err(own(Error::required(
                    &record,
                    "description",
                    "give a description",
                )));
            }
            check_length(&record, "description", d).map_err(own)?;
        }
        if let Some(v) = &changes.subject {
            check_length(&record, "subject", v).map_err(own)?;
        }
        if let Some(v) = &changes.contact_via {
            check_length(&record, "contact_via", v).map_err(own)?;
        }
        for (_, text) in changes.comments.iter().flatten() {
            check_length(&record, "comments", text).map_err(own)?;
        }
        if let Some(v) = changes.cost {
            check_not_negative(&record, "cost", v).map_err(own)?;
        }
        if let Some(v) = changes.duration {
            check_not_negative(&record, "duration", v).map_err(own)?;
        }
        if let Some(v) = &changes.salesperson
            && normalize_code(v).is_empty()
            && self.source != EntrySource::Document
        {
            return Err(own(Error::required(
                &record,
                "salesperson",
                "name a salesperson",
            )));
        }
        let e = &mut self.entry;
        let old_date = e.date;
        macro_rules! set {
            ($($field:ident),+) => {$(
                if let Some(v) = changes.$field {
                    e.$field = v;
                    self.changed.push((stringify!($field), by.to_string()));
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
        e.salesperson = normalize_code(&e.salesperson);
        e.campaign_no = normalize_code(&e.campaign_no);
        // Comments are dated with the interaction: they move with it (a resumed entry's stay).
        let moved = e.date != old_date && self.source != EntrySource::Resume;
        if moved {
            for c in e.comments.iter_mut().filter(|c| c.date == old_date) {
                c.date = e.date;
            }
            self.comments_date = e.date;
        }
        if let Some(lines) = changes.comments {
            let new_date = e.date;
            let kept = lines
                .into_iter()
                .enumerate()
                .map(|(i, (date, text))| {
                    let had = e.comments.get(i).filter(|c| c.text == text).map(|c| c.date);
                    // A line that says the old date moved with the interaction too.
                    let date = date.map(|d| if moved && d == old_date { new_date } else { d });
                    Comment {
                        date: date.or(had).unwrap_or(self.comments_date),
                        text,
                    }
                })
                .collect();
            e.comments = kept;
            self.changed.push(("comments", by.to_string()));
        }
        Ok(())
    }

    /// The entry to write. When hooks ran, what they may have changed in the database is
    /// checked again — the contact exists and is not privacy-blocked, the salesperson and the
    /// campaign exist — and the correspondence against delivery and the e-mail rule; a broken
    /// rule names the plugin that set the value.
    pub(crate) fn checked(self, view: &View<'_>) -> Result<InteractionLogEntry> {
        if !self.hooked {
            return Ok(self.entry);
        }
        // Who changed a field last, if anyone did.
        let by = |field: &str| {
            self.changed
                .iter()
                .rev()
                .find(|(f, _)| *f == field)
                .map(|(_, by)| by.as_str())
        };
        let changed = |field: &str| by(field).is_some();
        let blame = |field: &str, e: Error| match by(field) {
            Some(plugin) if !plugin.is_empty() => blamed(e, plugin),
            _ => e,
        };
        let record = self.label();
        let mut e = self.entry;
        let contact = view
            .contact(&e.contact_no)?
            .ok_or_else(|| Error::not_found("contact", &e.contact_no))?;
        if contact.privacy_blocked {
            return Err(Error::PrivacyBlocked {
                contact: contact.no,
            });
        }
        if !e.salesperson.is_empty() && view.salesperson(&e.salesperson)?.is_none() {
            return Err(blame(
                "salesperson",
                Error::not_found("salesperson", &e.salesperson),
            ));
        }
        if !e.campaign_no.is_empty() && view.campaign(&e.campaign_no)?.is_none() {
            return Err(blame(
                "campaign_no",
                Error::not_found("campaign", &e.campaign_no),
            ));
        }
        let follows = changed("description") && self.subject_defaulted && !changed("subject");
        if follows || (changed("subject") && e.subject.trim().is_empty()) {
            e.subject.clone_from(&e.description);
        }
        let deliver = self.deliver && !e.postponed;
        if changed("correspondence")
            && deliver
            && e.correspondence != Correspondence::Blank
            && !self.attachment
        {
            let missing = Error::NoAttachment {
                record: record.clone(),
                correspondence: e.correspondence.to_string(),
                language: e.language.clone(),
            };
            return Err(blame("correspondence", missing));
        }
        if !e.postponed {
            e.correspondence = apply_email_rule(e.correspondence, &contact, deliver)
                .map_err(|x| blame("correspondence", x))?;
        }
        if self.source == EntrySource::Document && !changed("contact_via") {
            // A document's entry says where it was e-mailed.
            e.contact_via = match e.correspondence {
                Correspondence::Email => contact.email.clone(),
                _ => String::new(),
            };
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

/// A broken rule of a value `plugin`'s hook set: the same refusal (its kind, record, field),
/// saying who set it.
fn blamed(e: Error, plugin: &str) -> Error {
    Error::SetByPlugin {
        plugin: plugin.to_string(),
        error: Box::new(e),
    }
}
