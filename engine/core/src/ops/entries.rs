//! The interaction log: writing entries (with their indexes and statistics), logging one
//! interaction by hand (spec 2, "One interaction"), postponing and resuming, correspondence
//! resolution, and reading entries back.

use chrono::{NaiveDate, NaiveTime};

use super::proposal::{EntrySource, ProposedEntry};
use super::rules::{apply_email_rule, check_length, check_not_negative};
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    Amount, AttachmentContent, Comment, Contact, Correspondence, DeliveryStatus, Evaluation,
    FieldRecord, InteractionLogEntry, InteractionTemplate, WizardAction, normalize_code,
};
use crate::store::Order;
use crate::store::key::Key;

/// A manual interaction to log: the contact, the template, and what the caller overrides.
#[derive(Debug, Clone, Default)]
pub struct InteractionDraft {
    /// Contact no (required).
    pub contact: String,
    /// Template code (required).
    pub template: String,
    /// Salesperson code; blank takes the contact's.
    pub salesperson: String,
    /// Description; blank takes the template's.
    pub description: String,
    /// Subject; blank takes the description.
    pub subject: String,
    /// Date; `None` takes the work date.
    pub date: Option<NaiveDate>,
    /// Time; `None` takes the clock's time.
    pub time: Option<NaiveTime>,
    /// Cost; `None` takes the template's unit cost.
    pub cost: Option<Amount>,
    /// Duration in minutes; `None` takes the template's unit duration.
    pub duration: Option<Amount>,
    /// Evaluation.
    pub evaluation: Option<Evaluation>,
    /// The interaction did not succeed.
    pub attempt_failed: bool,
    /// Campaign no; blank takes the template's.
    pub campaign: String,
    /// Comment lines (dated with the interaction's date).
    pub comments: Vec<String>,
    /// Attachment content unique to this interaction.
    pub attachment: Option<AttachmentContent>,
    /// Correspondence type; `None` takes the template's.
    pub correspondence: Option<Correspondence>,
    /// Language; `None` takes the contact's if the template has it, else the template's default.
    pub language: Option<String>,
    /// How the contact was reached.
    pub contact_via: String,
    /// Save it to finish later.
    pub postponed: bool,
    /// Ask for delivery (the caller or a plugin delivers).
    pub deliver: bool,
}

/// A manual interaction worked out and checked, not yet written ([`View::propose_interaction`]).
#[derive(Debug, Clone)]
pub struct InteractionProposal {
    /// The entry as it would be written.
    pub entry: ProposedEntry,
    attachment: Option<AttachmentContent>,
}

/// A postponed interaction's resumption worked out and checked, not yet written
/// ([`View::propose_resume`]).
#[derive(Debug, Clone)]
pub struct ResumeProposal {
    /// The entry as it would be after resuming.
    pub entry: ProposedEntry,
    old: InteractionLogEntry,
}

/// What resuming a postponed interaction may change.
#[derive(Debug, Clone, Default)]
pub struct ResumeChanges {
    /// New description.
    pub description: Option<String>,
    /// New cost.
    pub cost: Option<Amount>,
    /// New duration.
    pub duration: Option<Amount>,
    /// New evaluation.
    pub evaluation: Option<Evaluation>,
    /// New attempt-failed flag.
    pub attempt_failed: Option<bool>,
    /// Comment lines to add.
    pub comments: Vec<String>,
    /// New correspondence type.
    pub correspondence: Option<Correspondence>,
    /// Ask for delivery.
    pub deliver: bool,
}

/// The index keys of an entry (spec: entries by contact, company, template, group, salesperson,
/// logged segment, campaign entry, document, canceled; plus postponed).
pub(crate) fn index_keys(e: &InteractionLogEntry) -> Vec<Key> {
    let no = e.entry_no;
    let mut out = Vec::with_capacity(10);
    if !e.contact_no.is_empty() {
        out.push(keys::entry_by_contact(&e.contact_no, e.date, no));
    }
    if !e.contact_company_no.is_empty() {
        out.push(keys::entry_by_company(&e.contact_company_no, e.date, no));
    }
    out.push(keys::entry_by_template(&e.template, no));
    out.push(keys::entry_by_group(&e.group, no));
    if !e.salesperson.is_empty() {
        out.push(keys::entry_by_salesperson(&e.salesperson, no));
    }
    if e.logged_segment_no != 0 {
        out.push(keys::entry_by_logged_segment(e.logged_segment_no, no));
    }
    if e.campaign_entry_no != 0 {
        out.push(keys::entry_by_campaign_entry(e.campaign_entry_no, no));
    }
    if let Some(t) = e.document_type {
        out.push(keys::entry_by_document(t, &e.document_no, no));
    }
    if e.canceled {
        out.push(keys::canceled_entry(no));
    }
    if e.postponed {
        out.push(keys::postponed_entry(no));
    }
    out
}

/// The correspondence of a segment line or a document (spec 2, "Correspondence resolution").
pub(crate) fn resolve_correspondence(
    segment_default: Option<(bool, Correspondence)>,
    template: &InteractionTemplate,
    contact: &Contact,
) -> Correspondence {
    if let Some((true, default)) = segment_default
        && default != Correspondence::Blank
    {
        return default;
    }
    if template.ignore_contact_correspondence || contact.correspondence == Correspondence::Blank {
        template.correspondence
    } else {
        contact.correspondence
    }
}

/// The language of an interaction: the contact's if the template has it, else the template's default.
pub(crate) fn pick_language(template: &InteractionTemplate, contact: &Contact) -> String {
    if !contact.language.is_empty() && template.language(&contact.language).is_some() {
        contact.language.to_uppercase()
    } else {
        template.default_language.clone()
    }
}

impl Tx<'_> {
    /// Writes a new entry (its number is new: no record is under it) with its indexes and
    /// statistics.
    pub(crate) fn insert_entry(&mut self, entry: &InteractionLogEntry) -> Result<()> {
        layout::insert(self.kv, tables::ENTRIES, &keys::no(entry.entry_no), entry)?;
        for key in index_keys(entry) {
            layout::mark(self.kv, tables::ENTRY_INDEX, &key)?;
        }
        self.apply_statistics(entry, 1)
    }

    /// Rewrites an entry, moving only the indexes and statistics that changed.
    pub(crate) fn update_entry(
        &mut self,
        old: &InteractionLogEntry,
        new: &InteractionLogEntry,
    ) -> Result<()> {
        layout::put(self.kv, tables::ENTRIES, &keys::no(new.entry_no), new)?;
        let (old_keys, new_keys) = (index_keys(old), index_keys(new));
        for key in old_keys.iter().filter(|k| !new_keys.contains(k)) {
            layout::remove(self.kv, tables::ENTRY_INDEX, key)?;
        }
        for key in new_keys.iter().filter(|k| !old_keys.contains(k)) {
            layout::mark(self.kv, tables::ENTRY_INDEX, key)?;
        }
        let (old_stats, new_stats) = (super::stats::stat_keys(old), super::stats::stat_keys(new));
        let same_statistics = old_stats == new_stats
            && old.cost == new.cost
            && old.duration == new.duration
            && old.date == new.date;
        if !same_statistics {
            self.apply_statistic_keys(&old_stats, old, -1)?;
            self.apply_statistic_keys(&new_stats, new, 1)?;
        }
        Ok(())
    }

    /// Deletes an entry, its indexes, its share of the statistics, its comments (they live in the
    /// entry) and its attachment if nothing else refers to it.
    pub(crate) fn remove_entry(&mut self, entry: &InteractionLogEntry) -> Result<()> {
        layout::remove(self.kv, tables::ENTRIES, &keys::no(entry.entry_no))?;
        for key in index_keys(entry) {
            layout::remove(self.kv, tables::ENTRY_INDEX, &key)?;
        }
        self.apply_statistics(entry, -1)?;
        if entry.attachment_no != 0 {
            self.release_attachment(entry.attachment_no)?;
        }
        if self.entries_may_have_custom_values()? {
            self.custom_values_clear(FieldRecord::Entry, &keys::entry_id(entry.entry_no))?;
        }
        Ok(())
    }

    /// Loads an entry or fails with "entry N does not exist".
    pub(crate) fn require_entry(&self, entry_no: u64) -> Result<InteractionLogEntry> {
        self.view()
            .entry(entry_no)?
            .ok_or_else(|| Error::not_found("interaction log entry", entry_no.to_string()))
    }

    /// Loads the entries, in order, or fails at the first that does not exist.
    pub(crate) fn require_entries(&self, entry_nos: &[u64]) -> Result<Vec<InteractionLogEntry>> {
        let view = self.view();
        let mut entries = Vec::with_capacity(entry_nos.len());
        for (i, &no) in entry_nos.iter().enumerate() {
            view.prefetch_entries(entry_nos, i)?;
            entries.push(self.require_entry(no)?);
        }
        Ok(entries)
    }

    /// Logs one interaction by hand (spec 2): the checks in the spec's order, then one entry.
    /// Returns the new entry no.
    pub fn log_interaction(&mut self, draft: InteractionDraft) -> Result<u64> {
        let proposal = self
            .view()
            .propose_interaction(draft, EntrySource::Manual)?;
        self.write_interaction(proposal)
    }

    /// Writes a proposed interaction (checking again what was amended): its attachment, its
    /// campaign entry, its number. Returns the new entry no.
    pub fn write_interaction(&mut self, proposal: InteractionProposal) -> Result<u64> {
        let template_attachment = proposal.entry.template_attachment;
        let mut entry = proposal.entry.checked(&self.view())?;
        let postponed = entry.postponed;
        entry.attachment_no = match &proposal.attachment {
            Some(content) => self.store_attachment(content, 1, !postponed)?,
            None if template_attachment != 0 => {
                self.share_attachment(template_attachment, 1, !postponed)?
            }
            None => 0,
        };
        // A postponed interaction has no campaign entry; resuming it creates (or reuses) one.
        if !entry.campaign_no.is_empty() && !postponed {
            entry.campaign_entry_no = self.campaign_entry_for(
                &entry.campaign_no,
                "",
                None,
                0,
                &entry.salesperson,
                entry.date,
            )?;
        }
        entry.entry_no = layout::next_number(self.kv, "entry")?;
        self.insert_entry(&entry)?;
        Ok(entry.entry_no)
    }

    /// Resumes a postponed interaction: fills the same entry, runs the delivery checks it skipped,
    /// and clears `postponed` (so it enters lists and statistics).
    pub fn resume_interaction(&mut self, entry_no: u64, changes: ResumeChanges) -> Result<()> {
        let proposal = self.view().propose_resume(entry_no, changes)?;
        self.write_resume(proposal)
    }

    /// Resumes as proposed (checking again what was amended): the campaign entry, the
    /// attachment made read-only, the entry rewritten.
    pub fn write_resume(&mut self, proposal: ResumeProposal) -> Result<()> {
        let old = proposal.old;
        let mut new = proposal.entry.checked(&self.view())?;
        if new.campaign_no != old.campaign_no {
            new.campaign_entry_no = 0;
        }
        if !new.campaign_no.is_empty() && new.campaign_entry_no == 0 {
            new.campaign_entry_no =
                self.campaign_entry_for(&new.campaign_no, "", None, 0, &new.salesperson, new.date)?;
        }
        if new.attachment_no != 0 {
            self.mark_attachment_read_only(new.attachment_no)?;
        }
        self.update_entry(&old, &new)
    }
}

impl View<'_> {
    /// One entry by number.
    pub fn entry(&self, entry_no: u64) -> Result<Option<InteractionLogEntry>> {
        layout::get(self.kv, tables::ENTRIES, &keys::no(entry_no))
    }

    /// Tells the store that the entries `nos[i..]` are about to be read, a thousand at a time
    /// ([`crate::store::KvRead::prefetch`]: one statement on a server instead of one a key).
    /// Called with each position of a loop over `nos`; acts where a thousand starts.
    pub(crate) fn prefetch_entries(&self, nos: &[u64], i: usize) -> Result<()> {
        layout::prefetch_at(self.kv, tables::ENTRIES, nos, i, |&no| {
            keys::no(no).into_bytes()
        })
    }

    /// Visits every entry in entry-no order until `visit` returns `false`.
    pub fn each_entry(
        &self,
        visit: &mut dyn FnMut(InteractionLogEntry) -> Result<bool>,
    ) -> Result<()> {
        layout::scan_all(self.kv, tables::ENTRIES, Order::Ascending, &mut |_, v| {
            visit(crate::store::codec::decode(v, "interaction log entry")?)
        })
    }

    /// The entry numbers under one entry-index prefix (see `layout::keys`).
    pub(crate) fn entry_nos(&self, prefix: &Key, order: Order) -> Result<Vec<u64>> {
        layout::index_nos(self.kv, tables::ENTRY_INDEX, prefix, order)
    }

    /// A contact's timeline: its entries (a company's: its own and its persons'), newest first,
    /// without postponed ones.
    pub fn timeline(&self, contact_no: &str) -> Result<Vec<InteractionLogEntry>> {
        let no = normalize_code(contact_no);
        let contact = self
            .contact(&no)?
            .ok_or_else(|| Error::not_found("contact", &no))?;
        let prefix = if contact.is_person() {
            keys::entries_of_contact(&no)
        } else {
            keys::entries_of_company(&no)
        };
        let mut out = Vec::new();
        let nos = self.entry_nos(&prefix, Order::Descending)?;
        for (i, &entry_no) in nos.iter().enumerate() {
            self.prefetch_entries(&nos, i)?;
            if let Some(e) = self.entry(entry_no)?
                && !e.postponed
            {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Entry numbers of the postponed interactions.
    pub fn postponed_entries(&self) -> Result<Vec<u64>> {
        self.entry_nos(&keys::postponed_entries(), Order::Ascending)
    }

    /// The last entry number handed out (entry numbers are never reused).
    pub fn last_entry_no(&self) -> Result<u64> {
        layout::last_number(self.kv, "entry")
    }

    /// The entry logging `draft` would write, every check of spec 2 passed; writes nothing.
    /// `source` says who logs it: by hand, or an import.
    pub fn propose_interaction(
        &self,
        draft: InteractionDraft,
        source: EntrySource,
    ) -> Result<InteractionProposal> {
        const RECORD: &str = "interaction";
        let view = *self;
        // 1–3: contact given, exists, not privacy-blocked.
        let contact_no = normalize_code(&draft.contact);
        if contact_no.is_empty() {
            return Err(Error::required(RECORD, "contact", "name the contact's no"));
        }
        let contact = view
            .contact(&contact_no)?
            .ok_or_else(|| Error::not_found("contact", &contact_no))?;
        if contact.privacy_blocked {
            return Err(Error::PrivacyBlocked {
                contact: contact.no,
            });
        }
        // 4: template given and exists.
        let template_code = normalize_code(&draft.template);
        if template_code.is_empty() {
            return Err(Error::required(
                RECORD,
                "template",
                "name an interaction template",
            ));
        }
        let template = view
            .template(&template_code)?
            .ok_or_else(|| Error::not_found("template", &template_code))?;
        // 5: salesperson given (else the contact's) and exists.
        let salesperson = match normalize_code(&draft.salesperson) {
            s if s.is_empty() => contact.salesperson.clone(),
            s => s,
        };
        if salesperson.is_empty() {
            return Err(Error::required(
                RECORD,
                "salesperson",
                format!("name a salesperson, or set one on contact {}", contact.no),
            ));
        }
        if view.salesperson(&salesperson)?.is_none() {
            return Err(Error::not_found("salesperson", &salesperson));
        }
        // 6: date given (the work date when the caller gives none).
        let date = draft.date.unwrap_or_else(|| self.ctx.clock.work_date());
        // 7: description, after defaulting from the template, not blank.
        let description = if draft.description.trim().is_empty() {
            template.description.clone()
        } else {
            draft.description.clone()
        };
        if description.trim().is_empty() {
            return Err(Error::required(
                RECORD,
                "description",
                format!(
                    "give a description, or set one on template {}",
                    template.code
                ),
            ));
        }
        // 8: campaign exists when given.
        let campaign_no = match normalize_code(&draft.campaign) {
            c if c.is_empty() => template.campaign_no.clone(),
            c => c,
        };
        if !campaign_no.is_empty() && view.campaign(&campaign_no)?.is_none() {
            return Err(Error::not_found("campaign", &campaign_no));
        }
        let cost = draft.cost.unwrap_or(template.unit_cost);
        let duration = draft.duration.unwrap_or(template.unit_duration);
        check_not_negative(RECORD, "cost", cost)?;
        check_not_negative(RECORD, "duration", duration)?;
        check_length(RECORD, "description", &draft.description)?;
        check_length(RECORD, "subject", &draft.subject)?;
        for comment in &draft.comments {
            check_length(RECORD, "comments", comment)?;
        }

        let mut correspondence = draft.correspondence.unwrap_or(template.correspondence);
        let language = match &draft.language {
            Some(l) => normalize_code(l),
            None => pick_language(&template, &contact),
        };
        let template_attachment = template.language(&language).map_or(0, |l| l.attachment_no);
        if template.wizard_action == WizardAction::Open
            && template_attachment == 0
            && draft.attachment.is_none()
        {
            return Err(Error::NoTemplateAttachment {
                record: format!("interaction for contact {}", contact.no),
                template: template.code.clone(),
                language,
            });
        }
        if !draft.postponed {
            let has_attachment = draft.attachment.is_some() || template_attachment != 0;
            if draft.deliver
                && correspondence != Correspondence::Blank
                && !has_attachment
                && !template.is_merge()
            {
                return Err(Error::NoAttachment {
                    record: format!("interaction for contact {}", contact.no),
                    correspondence: correspondence.to_string(),
                    language: language.clone(),
                });
            }
            correspondence = apply_email_rule(correspondence, &contact, draft.deliver)?;
        }

        // Every check passed: the entry as it would be written.
        let mut entry = InteractionLogEntry::blank(
            0,
            date,
            draft.time.unwrap_or_else(|| self.ctx.clock.time()),
        );
        entry.contact_no.clone_from(&contact.no);
        entry.contact_company_no.clone_from(&contact.company_no);
        let subject_defaulted = draft.subject.trim().is_empty();
        entry.subject = if subject_defaulted {
            description.clone()
        } else {
            draft.subject.clone()
        };
        entry.description = description;
        entry.template.clone_from(&template.code);
        entry.group.clone_from(&template.group);
        entry.flow = template.flow;
        entry.initiated_by = template.initiated_by;
        entry.correspondence = correspondence;
        entry.language = language;
        entry.cost = cost;
        entry.duration = duration;
        entry.salesperson = salesperson;
        entry.user.clone_from(&self.ctx.user);
        entry.campaign_no = campaign_no;
        entry.campaign_target = template.campaign_target;
        entry.campaign_response = template.campaign_response;
        entry.evaluation = draft.evaluation.unwrap_or_default();
        entry.attempt_failed = draft.attempt_failed;
        entry.postponed = draft.postponed;
        entry.contact_via = draft.contact_via;
        entry.delivery_status =
            if draft.deliver && !draft.postponed && correspondence != Correspondence::Blank {
                DeliveryStatus::InProgress
            } else {
                DeliveryStatus::Blank
            };
        entry.comments = draft
            .comments
            .into_iter()
            .map(|text| Comment { date, text })
            .collect();
        let entry = ProposedEntry::new(entry, source)
            .delivery(
                draft.deliver,
                draft.attachment.is_some() || template.is_merge(),
                template_attachment,
            )
            .subject_defaulted(subject_defaulted);
        Ok(InteractionProposal {
            entry,
            attachment: draft.attachment,
        })
    }

    /// The entry resuming would leave, every check passed; writes nothing.
    pub fn propose_resume(&self, entry_no: u64, changes: ResumeChanges) -> Result<ResumeProposal> {
        let old = self
            .entry(entry_no)?
            .ok_or_else(|| Error::not_found("interaction log entry", entry_no.to_string()))?;
        let record = format!("interaction log entry {entry_no}");
        if !old.postponed {
            return Err(Error::wrong_state(
                &record,
                "it is not postponed",
                "only postponed interactions can be resumed",
            ));
        }
        let view = *self;
        let contact = view
            .contact(&old.contact_no)?
            .ok_or_else(|| Error::not_found("contact", &old.contact_no))?;
        if contact.privacy_blocked {
            return Err(Error::PrivacyBlocked {
                contact: contact.no,
            });
        }
        if let Some(d) = &changes.description {
            check_length(&record, "description", d)?;
        }
        for comment in &changes.comments {
            check_length(&record, "comments", comment)?;
        }
        let mut new = old.clone();
        if let Some(d) = changes.description {
            if d.trim().is_empty() {
                return Err(Error::required(
                    &record,
                    "description",
                    "give a description",
                ));
            }
            new.description = d;
        }
        if let Some(c) = changes.cost {
            check_not_negative(&record, "cost", c)?;
            new.cost = c;
        }
        if let Some(d) = changes.duration {
            check_not_negative(&record, "duration", d)?;
            new.duration = d;
        }
        if let Some(e) = changes.evaluation {
            new.evaluation = e;
        }
        if let Some(f) = changes.attempt_failed {
            new.attempt_failed = f;
        }
        if let Some(c) = changes.correspondence {
            new.correspondence = c;
        }
        let is_merge = view.template(&old.template)?.is_some_and(|t| t.is_merge());
        if changes.deliver
            && new.correspondence != Correspondence::Blank
            && new.attachment_no == 0
            && !is_merge
        {
            return Err(Error::NoAttachment {
                record: record.clone(),
                correspondence: new.correspondence.to_string(),
                language: new.language.clone(),
            });
        }
        new.correspondence = apply_email_rule(new.correspondence, &contact, changes.deliver)?;
        if changes.deliver && new.correspondence != Correspondence::Blank {
            new.delivery_status = DeliveryStatus::InProgress;
        }
        let today = self.ctx.clock.work_date();
        new.comments.extend(
            changes
                .comments
                .into_iter()
                .map(|text| Comment { date: today, text }),
        );
        new.postponed = false;
        let attachment = new.attachment_no != 0 || is_merge;
        let entry = ProposedEntry::new(new, EntrySource::Resume)
            .delivery(changes.deliver, attachment, 0)
            .comments_dated(today);
        Ok(ResumeProposal { entry, old })
    }
}
