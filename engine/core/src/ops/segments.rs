//! Segments (spec 1 and 2): a contact list built by add / reduce / refine steps that can be
//! undone, whose lines are draft interactions; logging a segment turns every line into an entry
//! under one logged segment, all or nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::entries::{pick_language, resolve_correspondence};
use super::proposal::{EntrySource, ProposedEntry};
use super::rules::{apply_email_rule, check_not_negative};
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    Amount, Contact, ContactSelector, Correspondence, CriteriaAction, CriteriaStep, Evaluation,
    InteractionLogEntry, InteractionTemplate, LoggedSegment, SavedCriteria, Segment, SegmentLine,
    StepOptions, WizardAction, normalize_code,
};
use crate::store::Order;
use crate::store::key::Key;

/// Changes to a segment header; each given field also goes to the lines that share the header's
/// template (spec 1: "Changing another header field updates the lines that share the header's template").
#[derive(Debug, Clone, Default)]
pub struct SegmentChanges {
    /// New description.
    pub description: Option<String>,
    /// New salesperson.
    pub salesperson: Option<String>,
    /// New campaign.
    pub campaign_no: Option<String>,
    /// New correspondence default.
    pub correspondence: Option<Correspondence>,
    /// New "segment's type wins" flag.
    pub ignore_contact_correspondence: Option<bool>,
    /// New language.
    pub language: Option<String>,
    /// New subject.
    pub subject: Option<String>,
    /// New date.
    pub date: Option<NaiveDate>,
    /// New unit cost.
    pub unit_cost: Option<Amount>,
    /// New unit duration.
    pub unit_duration: Option<Amount>,
    /// New evaluation of the lines.
    pub evaluation: Option<Evaluation>,
}

/// Options of logging a segment.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSegmentOptions {
    /// Ask for delivery: every line with a correspondence type needs an attachment, e-mail lines an address.
    pub deliver: bool,
    /// Create the follow-up segment.
    pub follow_up: bool,
}

/// What logging a segment made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedSegmentOutcome {
    /// The new logged segment.
    pub logged_segment_no: u64,
    /// The entries it holds, in order.
    pub entry_nos: Vec<u64>,
    /// The follow-up segment, when asked for.
    pub follow_up_segment: Option<String>,
}

/// A segment's log worked out and checked, not yet written ([`View::propose_segment_log`]).
#[derive(Debug, Clone)]
pub struct SegmentLogProposal {
    /// The entries, one per line with a contact, in line order, as they would be written.
    pub entries: Vec<ProposedEntry>,
    segment: Segment,
    options: LogSegmentOptions,
    /// The day it is logged (its entries' date, unless a hook changed one, and the logged
    /// segment's).
    today: NaiveDate,
}

/// What the checks of a segment line worked out for its entry.
struct PlannedLine {
    contact_company_no: String,
    salesperson: String,
    description: String,
    correspondence: Correspondence,
    language: String,
    template_attachment: u64,
}

fn line_index_key(line: &SegmentLine) -> Key {
    keys::contact_segment_line(&line.contact_no, &line.segment_no, line.line_no)
}

/// Copies a template's defaults into a line.
fn line_from_template(
    line: &mut SegmentLine,
    template: &InteractionTemplate,
    contact: Option<&Contact>,
) {
    line.template.clone_from(&template.code);
    line.group.clone_from(&template.group);
    line.cost = template.unit_cost;
    line.duration = template.unit_duration;
    line.flow = template.flow;
    line.initiated_by = template.initiated_by;
    line.correspondence = template.correspondence;
    line.campaign_target = template.campaign_target;
    line.campaign_response = template.campaign_response;
    if !template.campaign_no.is_empty() {
        line.campaign_no.clone_from(&template.campaign_no);
    }
    line.language = contact.map_or_else(
        || template.default_language.clone(),
        |c| pick_language(template, c),
    );
}

impl Tx<'_> {
    /// Creates a segment and returns its no (from the series `SM00001`, … unless given). A template
    /// given here is set as by [`Tx::segment_set_template`].
    pub fn segment_create(&mut self, segment: Segment) -> Result<String> {
        let mut s = segment;
        s.no = normalize_code(&s.no);
        super::rules::check_id("segment", "no", &s.no)?;
        let mut free = None;
        if s.no.is_empty() {
            let number = self
                .view()
                .free_number("segment", tables::SEGMENTS, |n| format!("SM{n:05}"))?;
            s.no.clone_from(&number.no);
            free = Some(number);
        } else if self.view().segment(&s.no)?.is_some() {
            return Err(Error::AlreadyExists {
                record: "segment",
                key: s.no,
                field: "no",
            });
        }
        s.salesperson = normalize_code(&s.salesperson);
        if !s.salesperson.is_empty() && self.view().salesperson(&s.salesperson)?.is_none() {
            return Err(Error::not_found("salesperson", &s.salesperson));
        }
        s.campaign_no = normalize_code(&s.campaign_no);
        if !s.campaign_no.is_empty() && self.view().campaign(&s.campaign_no)?.is_none() {
            return Err(Error::not_found("campaign", &s.campaign_no));
        }
        check_not_negative(&format!("segment {}", s.no), "unit_cost", s.unit_cost)?;
        check_not_negative(
            &format!("segment {}", s.no),
            "unit_duration",
            s.unit_duration,
        )?;
        let template = normalize_code(&s.template);
        if !template.is_empty() && self.view().template(&template)?.is_none() {
            return Err(Error::not_found("template", template));
        }
        s.template.clear();
        s.next_line_no = 1;
        s.next_step_no = 1;
        let no = s.no.clone();
        if let Some(free) = &free {
            self.take_number(free)?;
        }
        layout::put(self.kv, tables::SEGMENTS, &keys::code(&no), &s)?;
        if !template.is_empty() {
            self.segment_set_template(&no, &template, false)?;
        }
        Ok(no)
    }

    /// Sets a segment's template: copies its defaults to the header and, with `to_lines`, to every line.
    pub fn segment_set_template(
        &mut self,
        segment_no: &str,
        template_code: &str,
        to_lines: bool,
    ) -> Result<()> {
        let mut s = self.require_segment(segment_no)?;
        let code = normalize_code(template_code);
        let template = self
            .view()
            .template(&code)?
            .ok_or_else(|| Error::not_found("template", &code))?;
        s.template.clone_from(&template.code);
        s.group.clone_from(&template.group);
        s.unit_cost = template.unit_cost;
        s.unit_duration = template.unit_duration;
        s.flow = template.flow;
        s.initiated_by = template.initiated_by;
        s.correspondence = template.correspondence;
        s.ignore_contact_correspondence = template.ignore_contact_correspondence;
        s.campaign_target = template.campaign_target;
        s.campaign_response = template.campaign_response;
        s.language.clone_from(&template.default_language);
        if !template.campaign_no.is_empty() {
            s.campaign_no.clone_from(&template.campaign_no);
        }
        layout::put(self.kv, tables::SEGMENTS, &keys::code(&s.no), &s)?;
        if to_lines {
            for mut line in self.view().segment_lines(&s.no)? {
                let contact = self.view().contact(&line.contact_no)?;
                line_from_template(&mut line, &template, contact.as_ref());
                layout::put(
                    self.kv,
                    tables::SEGMENT_LINES,
                    &keys::segment_line(&s.no, line.line_no),
                    &line,
                )?;
            }
        }
        Ok(())
    }

    /// Changes header fields; the lines that share the header's template get the same changes.
    pub fn segment_update(&mut self, segment_no: &str, changes: &SegmentChanges) -> Result<()> {
        let mut s = self.require_segment(segment_no)?;
        let record = format!("segment {}", s.no);
        let salesperson = changes.salesperson.as_deref().map(normalize_code);
        if let Some(sp) = salesperson.as_deref().filter(|sp| !sp.is_empty())
            && self.view().salesperson(sp)?.is_none()
        {
            return Err(Error::not_found("salesperson", sp));
        }
        let campaign = changes.campaign_no.as_deref().map(normalize_code);
        if let Some(c) = campaign.as_deref().filter(|c| !c.is_empty())
            && self.view().campaign(c)?.is_none()
        {
            return Err(Error::not_found("campaign", c));
        }
        for (field, value) in [
            ("unit_cost", changes.unit_cost),
            ("unit_duration", changes.unit_duration),
        ] {
            if let Some(v) = value {
                check_not_negative(&record, field, v)?;
            }
        }
        let language = changes.language.as_deref().map(normalize_code);
        let apply_header = |s: &mut Segment| {
            if let Some(v) = &changes.description {
                s.description.clone_from(v);
            }
            if let Some(v) = &salesperson {
                s.salesperson.clone_from(v);
            }
            if let Some(v) = &campaign {
                s.campaign_no.clone_from(v);
            }
            if let Some(v) = changes.correspondence {
                s.correspondence = v;
            }
            if let Some(v) = changes.ignore_contact_correspondence {
                s.ignore_contact_correspondence = v;
            }
            if let Some(v) = &language {
                s.language.clone_from(v);
            }
            if let Some(v) = &changes.subject {
                s.subject.clone_from(v);
            }
            if let Some(v) = changes.date {
                s.date = Some(v);
            }
            if let Some(v) = changes.unit_cost {
                s.unit_cost = v;
            }
            if let Some(v) = changes.unit_duration {
                s.unit_duration = v;
            }
        };
        apply_header(&mut s);
        layout::put(self.kv, tables::SEGMENTS, &keys::code(&s.no), &s)?;
        for mut line in self.view().segment_lines(&s.no)? {
            if line.template != s.template {
                continue;
            }
            if let Some(v) = &changes.description {
                line.description.clone_from(v);
            }
            if let Some(v) = &salesperson {
                line.salesperson.clone_from(v);
            }
            if let Some(v) = &campaign {
                line.campaign_no.clone_from(v);
            }
            if let Some(v) = changes.correspondence {
                line.correspondence = v;
            }
            if let Some(v) = &language {
                line.language.clone_from(v);
            }
            if let Some(v) = &changes.subject {
                line.subject.clone_from(v);
            }
            if let Some(v) = changes.unit_cost {
                line.cost = v;
            }
            if let Some(v) = changes.unit_duration {
                line.duration = v;
            }
            if let Some(v) = changes.evaluation {
                line.evaluation = v;
            }
            layout::put(
                self.kv,
                tables::SEGMENT_LINES,
                &keys::segment_line(&s.no, line.line_no),
                &line,
            )?;
        }
        Ok(())
    }

    /// Adds the contacts that match (spec: skip `exclude_from_segment` unless told; skip contacts
    /// already on the segment unless told; optionally expand companies to their persons; privacy-
    /// blocked contacts are never added). Returns the number of lines added.
    pub fn segment_add(
        &mut self,
        segment_no: &str,
        selector: &ContactSelector,
        options: StepOptions,
    ) -> Result<usize> {
        self.criteria_step(segment_no, CriteriaAction::Add, selector, options)
    }

    /// Removes the lines whose contact matches. Returns the number of lines removed.
    pub fn segment_reduce(
        &mut self,
        segment_no: &str,
        selector: &ContactSelector,
    ) -> Result<usize> {
        self.criteria_step(
            segment_no,
            CriteriaAction::Reduce,
            selector,
            StepOptions::default(),
        )
    }

    /// Keeps only the lines whose contact matches. Returns the number of lines removed.
    pub fn segment_refine(
        &mut self,
        segment_no: &str,
        selector: &ContactSelector,
    ) -> Result<usize> {
        self.criteria_step(
            segment_no,
            CriteriaAction::Refine,
            selector,
            StepOptions::default(),
        )
    }

    fn criteria_step(
        &mut self,
        segment_no: &str,
        action: CriteriaAction,
        selector: &ContactSelector,
        options: StepOptions,
    ) -> Result<usize> {
        let mut s = self.require_segment(segment_no)?;
        let matching = self.view().select_contacts(selector)?;
        let lines = self.view().segment_lines(&s.no)?;
        let mut step = CriteriaStep {
            step_no: s.next_step_no,
            action,
            selector: selector.clone(),
            options,
            added: Vec::new(),
            removed: Vec::new(),
        };
        match action {
            CriteriaAction::Add => {
                let mut candidates = Vec::new();
                for c in matching {
                    let persons = if options.expand_companies && !c.is_person() {
                        self.view().persons_of(&c.no)?
                    } else {
                        Vec::new()
                    };
                    candidates.push(c);
                    candidates.extend(persons);
                }
                let mut on_segment: BTreeSet<String> =
                    lines.iter().map(|l| l.contact_no.clone()).collect();
                let template = match s.template.as_str() {
                    "" => None,
                    code => self.view().template(code)?,
                };
                for contact in candidates {
                    if contact.privacy_blocked
                        || (contact.exclude_from_segment && !options.ignore_exclusion)
                        || (on_segment.contains(&contact.no) && !options.allow_existing)
                    {
                        continue;
                    }
                    on_segment.insert(contact.no.clone());
                    let line = new_line(&s, template.as_ref(), &contact, s.next_line_no);
                    s.next_line_no += 1;
                    step.added.push(line.line_no);
                    self.put_line(&line)?;
                }
            }
            CriteriaAction::Reduce | CriteriaAction::Refine => {
                let selected: BTreeSet<String> = matching.into_iter().map(|c| c.no).collect();
                for line in lines {
                    let selected_line = selected.contains(&line.contact_no);
                    if selected_line == (action == CriteriaAction::Reduce) {
                        self.delete_line(&line)?;
                        step.removed.push(line);
                    }
                }
            }
        }
        let changed = step.added.len() + step.removed.len();
        s.next_step_no += 1;
        layout::put(
            self.kv,
            tables::SEGMENT_STEPS,
            &keys::segment_step(&s.no, step.step_no),
            &step,
        )?;
        layout::put(self.kv, tables::SEGMENTS, &keys::code(&s.no), &s)?;
        Ok(changed)
    }

    /// Undoes the last criteria step exactly: the lines it added go, the lines it removed return.
    pub fn segment_go_back(&mut self, segment_no: &str) -> Result<CriteriaStep> {
        let s = self.require_segment(segment_no)?;
        let Some(step) = self.view().criteria_steps(&s.no)?.pop() else {
            return Err(Error::wrong_state(
                format!("segment {}", s.no),
                "it has no criteria step to go back from",
                "add contacts first",
            ));
        };
        for line_no in &step.added {
            if let Some(line) = layout::get::<SegmentLine>(
                &*self.kv,
                tables::SEGMENT_LINES,
                &keys::segment_line(&s.no, *line_no),
            )? {
                self.delete_line(&line)?;
            }
        }
        for line in &step.removed {
            self.put_line(line)?;
        }
        layout::remove(
            self.kv,
            tables::SEGMENT_STEPS,
            &keys::segment_step(&s.no, step.step_no),
        )?;
        Ok(step)
    }

    /// Saves the segment's criteria steps under `name` (replacing criteria saved under it before).
    pub fn segment_save_criteria(&mut self, segment_no: &str, name: &str) -> Result<()> {
        let s = self.require_segment(segment_no)?;
        let name = normalize_code(name);
        if name.is_empty() {
            return Err(Error::required(
                format!("segment {}", s.no),
                "criteria name",
                "name the criteria to save",
            ));
        }
        super::rules::check_id(&format!("segment {}", s.no), "criteria name", &name)?;
        let steps: Vec<_> = self
            .view()
            .criteria_steps(&s.no)?
            .into_iter()
            .map(|st| (st.action, st.selector, st.options))
            .collect();
        if steps.is_empty() {
            return Err(Error::wrong_state(
                format!("segment {}", s.no),
                "it has no criteria steps to save",
                "add contacts first",
            ));
        }
        let saved = SavedCriteria {
            name: name.clone(),
            source_segment: s.no,
            steps,
        };
        layout::put(self.kv, tables::SAVED_CRITERIA, &keys::code(&name), &saved)
    }

    /// Replays saved criteria on a segment, step by step. Returns the number of lines it changed.
    pub fn segment_reuse_criteria(&mut self, segment_no: &str, name: &str) -> Result<usize> {
        let name = normalize_code(name);
        let saved: SavedCriteria =
            layout::get(&*self.kv, tables::SAVED_CRITERIA, &keys::code(&name))?
                .ok_or_else(|| Error::not_found("saved criteria", &name))?;
        let mut changed = 0;
        for (action, selector, options) in &saved.steps {
            changed += self.criteria_step(segment_no, *action, selector, *options)?;
        }
        Ok(changed)
    }

    /// Logs a segment (spec 2, "Log a segment"): one entry per line with a contact under a new
    /// logged segment, campaign entries, the segment removed, an optional follow-up segment.
    /// Any failure leaves nothing written.
    pub fn log_segment(
        &mut self,
        segment_no: &str,
        options: LogSegmentOptions,
    ) -> Result<LoggedSegmentOutcome> {
        let proposal = self.view().propose_segment_log(segment_no, options)?;
        self.write_segment_log(proposal)
    }

    /// Logs a segment as proposed (checking again what was amended): the logged segment,
    /// campaign entries, the entries, the segment removed, the follow-up segment.
    pub fn write_segment_log(
        &mut self,
        proposal: SegmentLogProposal,
    ) -> Result<LoggedSegmentOutcome> {
        self.batch_statistics(|tx| tx.write_segment_log_unbatched(proposal))
    }

    fn write_segment_log_unbatched(
        &mut self,
        proposal: SegmentLogProposal,
    ) -> Result<LoggedSegmentOutcome> {
        let SegmentLogProposal {
            entries,
            segment: s,
            options,
            today,
        } = proposal;
        // Whatever ran since the proposal, the segment is still there and still not logged.
        self.view().loggable_segment(&s.no)?;
        // 2. The logged segment.
        let logged_no = layout::next_number(self.kv, "logged_segment")?;
        let logged = LoggedSegment {
            entry_no: logged_no,
            segment_no: s.no.clone(),
            description: s.description.clone(),
            created: today,
            user: self.ctx.user.clone(),
            canceled: false,
        };
        layout::put(
            self.kv,
            tables::LOGGED_SEGMENTS,
            &keys::no(logged_no),
            &logged,
        )?;
        layout::put(
            self.kv,
            tables::LOOKUP,
            &keys::logged_segment_lookup(&s.no),
            &logged_no,
        )?;
        // 3 and 4: campaign entries, one entry per line.
        let mut shared_attachments: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut entry_nos = Vec::with_capacity(entries.len());
        // The contacts logged, kept only for the follow-up segment (in line order, each once).
        let mut follow_up_nos: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        let total = entries.len() as u64;
        for (done, proposed) in (1_u64..).zip(entries) {
            let template_attachment = proposed.template_attachment;
            let mut e = proposed.checked(&self.view())?;
            if !e.campaign_no.is_empty() {
                e.campaign_entry_no = self.campaign_entry_for(
                    &e.campaign_no,
                    &s.no,
                    None,
                    logged_no,
                    &e.salesperson,
                    e.date,
                )?;
            }
            if template_attachment != 0 {
                let key = (e.template.clone(), e.language.clone());
                let no = if let Some(&no) = shared_attachments.get(&key) {
                    no
                } else {
                    let no = self.share_attachment(template_attachment, 0, true)?;
                    shared_attachments.insert(key, no);
                    no
                };
                self.reference_attachment(no, 1)?;
                e.attachment_no = no;
            }
            e.entry_no = layout::next_number(self.kv, "entry")?;
            e.logged_segment_no = logged_no;
            self.insert_entry(&e)?;
            entry_nos.push(e.entry_no);
            self.ctx.report("logging segment", done, total);
            if options.follow_up && seen.insert(e.contact_no.clone()) {
                follow_up_nos.push(e.contact_no);
            }
        }
        // 6. The segment itself is removed.
        self.remove_segment(&s)?;
        // 7. The follow-up segment.
        let follow_up_segment = if options.follow_up {
            let header = Segment {
                description: format!("Follow-up on segment {}", s.no),
                campaign_no: s.campaign_no.clone(),
                salesperson: s.salesperson.clone(),
                ..Segment::default()
            };
            let no = self.segment_create(header)?;
            let options = StepOptions {
                ignore_exclusion: true,
                ..StepOptions::default()
            };
            self.criteria_step(
                &no,
                CriteriaAction::Add,
                &ContactSelector::Contacts(follow_up_nos),
                options,
            )?;
            Some(no)
        } else {
            None
        };
        Ok(LoggedSegmentOutcome {
            logged_segment_no: logged_no,
            entry_nos,
            follow_up_segment,
        })
    }

    /// Deletes a segment that was not logged, with its lines and criteria.
    pub fn segment_delete(&mut self, segment_no: &str) -> Result<()> {
        let s = self.require_segment(segment_no)?;
        self.remove_segment(&s)
    }

    fn remove_segment(&mut self, s: &Segment) -> Result<()> {
        for line in self.view().segment_lines(&s.no)? {
            self.delete_line(&line)?;
        }
        for step in self.view().criteria_steps(&s.no)? {
            layout::remove(
                self.kv,
                tables::SEGMENT_STEPS,
                &keys::segment_step(&s.no, step.step_no),
            )?;
        }
        layout::remove(self.kv, tables::SEGMENTS, &keys::code(&s.no))?;
        Ok(())
    }

    fn require_segment(&self, segment_no: &str) -> Result<Segment> {
        let no = normalize_code(segment_no);
        self.view()
            .segment(&no)?
            .ok_or_else(|| Error::not_found("segment", no))
    }

    pub(super) fn put_line(&mut self, line: &SegmentLine) -> Result<()> {
        layout::put(
            self.kv,
            tables::SEGMENT_LINES,
            &keys::segment_line(&line.segment_no, line.line_no),
            line,
        )?;
        layout::mark(self.kv, tables::CONTACT_INDEX, &line_index_key(line))
    }

    pub(super) fn delete_line(&mut self, line: &SegmentLine) -> Result<()> {
        layout::remove(
            self.kv,
            tables::SEGMENT_LINES,
            &keys::segment_line(&line.segment_no, line.line_no),
        )?;
        layout::remove(self.kv, tables::CONTACT_INDEX, &line_index_key(line))?;
        Ok(())
    }
}

/// A new line for `contact` from the header's values (and its template's, when it has one).
fn new_line(
    s: &Segment,
    template: Option<&InteractionTemplate>,
    contact: &Contact,
    line_no: u32,
) -> SegmentLine {
    // The header carries the template's defaults (and the user's changes to them); the contact
    // decides the correspondence and the language, as the spec's rules say.
    let correspondence = match template {
        Some(t) => resolve_correspondence(
            Some((s.ignore_contact_correspondence, s.correspondence)),
            t,
            contact,
        ),
        // Without a template: the segment's default when it says to ignore the contact's type,
        // else the contact's preferred type, else the segment's default.
        None if s.ignore_contact_correspondence && s.correspondence != Correspondence::Blank => {
            s.correspondence
        }
        None if contact.correspondence != Correspondence::Blank => contact.correspondence,
        None => s.correspondence,
    };
    let contact_language_fits = template.is_some_and(|t| t.language(&contact.language).is_some());
    let language = match template {
        Some(t) if contact_language_fits || s.language.is_empty() => pick_language(t, contact),
        None if s.language.is_empty() => String::new(),
        _ => s.language.clone(),
    };
    SegmentLine {
        segment_no: s.no.clone(),
        line_no,
        contact_no: contact.no.clone(),
        contact_company_no: contact.company_no.clone(),
        template: s.template.clone(),
        group: s.group.clone(),
        description: s.description.clone(),
        subject: s.subject.clone(),
        salesperson: if s.salesperson.is_empty() {
            contact.salesperson.clone()
        } else {
            s.salesperson.clone()
        },
        campaign_no: s.campaign_no.clone(),
        campaign_target: s.campaign_target,
        campaign_response: s.campaign_response,
        cost: s.unit_cost,
        duration: s.unit_duration,
        flow: s.flow,
        initiated_by: s.initiated_by,
        correspondence,
        language,
        ..SegmentLine::default()
    }
}

impl View<'_> {
    /// A segment header by no.
    pub fn segment(&self, no: &str) -> Result<Option<Segment>> {
        layout::get(self.kv, tables::SEGMENTS, &keys::code(&normalize_code(no)))
    }

    /// Every segment header, by no.
    pub fn segments(&self) -> Result<Vec<Segment>> {
        layout::all_records(self.kv, tables::SEGMENTS)
    }

    /// A segment's lines, by line no.
    pub fn segment_lines(&self, segment_no: &str) -> Result<Vec<SegmentLine>> {
        layout::records_under(
            self.kv,
            tables::SEGMENT_LINES,
            &keys::lines_of_segment(&normalize_code(segment_no)),
        )
    }

    /// A segment's criteria steps, oldest first.
    pub fn criteria_steps(&self, segment_no: &str) -> Result<Vec<CriteriaStep>> {
        layout::records_under(
            self.kv,
            tables::SEGMENT_STEPS,
            &keys::steps_of_segment(&normalize_code(segment_no)),
        )
    }

    /// Criteria saved under a name.
    pub fn saved_criteria(&self, name: &str) -> Result<Option<SavedCriteria>> {
        layout::get(
            self.kv,
            tables::SAVED_CRITERIA,
            &keys::code(&normalize_code(name)),
        )
    }

    /// A logged segment by entry no.
    pub fn logged_segment(&self, entry_no: u64) -> Result<Option<LoggedSegment>> {
        layout::get(self.kv, tables::LOGGED_SEGMENTS, &keys::no(entry_no))
    }

    /// Every logged segment, by entry no.
    pub fn logged_segments(&self) -> Result<Vec<LoggedSegment>> {
        layout::all_records(self.kv, tables::LOGGED_SEGMENTS)
    }

    /// The entries of a logged segment.
    pub fn logged_segment_entries(&self, logged_segment_no: u64) -> Result<Vec<u64>> {
        self.entry_nos(
            &keys::entries_of_logged_segment(logged_segment_no),
            Order::Ascending,
        )
    }

    /// Spec 1: the count of a logged segment's entries whose canceled flag equals its own.
    pub fn logged_segment_entry_count(&self, logged_segment_no: u64) -> Result<u64> {
        let Some(ls) = self.logged_segment(logged_segment_no)? else {
            return Err(Error::not_found(
                "logged segment",
                logged_segment_no.to_string(),
            ));
        };
        let mut n = 0;
        let nos = self.logged_segment_entries(logged_segment_no)?;
        for (i, &no) in nos.iter().enumerate() {
            self.prefetch_entries(&nos, i)?;
            if self.entry(no)?.is_some_and(|e| e.canceled == ls.canceled) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Refused if the segment was logged already (also when it was deleted and created again
    /// under the same number), does not exist, or has no description.
    pub(crate) fn loggable_segment(&self, segment_no: &str) -> Result<Segment> {
        let segment_no = normalize_code(segment_no);
        let lookup = keys::logged_segment_lookup(&segment_no);
        if let Some(logged) = layout::get::<u64>(self.kv, tables::LOOKUP, &lookup)? {
            return Err(Error::SegmentAlreadyLogged {
                segment: segment_no,
                logged_segment: logged,
            });
        }
        let Some(s) = self.segment(&segment_no)? else {
            return Err(Error::not_found("segment", segment_no));
        };
        if s.description.trim().is_empty() {
            return Err(Error::required(
                format!("segment {}", s.no),
                "description",
                "describe the segment before logging it",
            ));
        }
        Ok(s)
    }

    /// The entries logging the segment would write, one per line with a contact, after every
    /// line's checks (spec 2, "Log a segment", steps 1, 4 and 5); writes nothing.
    pub fn propose_segment_log(
        &self,
        segment_no: &str,
        options: LogSegmentOptions,
    ) -> Result<SegmentLogProposal> {
        let s = self.loggable_segment(segment_no)?;
        let lines: Vec<SegmentLine> = self
            .segment_lines(&s.no)?
            .into_iter()
            .filter(|l| !l.contact_no.is_empty())
            .collect();
        // 5. No line with a contact: error, nothing written.
        if lines.is_empty() {
            return Err(Error::SegmentEmpty { segment: s.no });
        }
        // 4. Every line's checks come first, so a refused log writes nothing at all.
        let today = self.ctx.clock.today();
        let time = self.ctx.clock.time();
        let mut templates: BTreeMap<String, InteractionTemplate> = BTreeMap::new();
        let mut entries = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            layout::prefetch_at(self.kv, tables::CONTACTS, &lines, i, |l| {
                keys::code(&l.contact_no).into_bytes()
            })?;
            let plan = self.plan_line(&s, line, options, &mut templates)?;
            let template = &templates[&line.template];
            let mut e = InteractionLogEntry::blank(0, today, time);
            e.contact_no.clone_from(&line.contact_no);
            e.contact_company_no = plan.contact_company_no;
            e.subject = if line.subject.trim().is_empty() {
                plan.description.clone()
            } else {
                line.subject.clone()
            };
            e.description = plan.description;
            e.template.clone_from(&template.code);
            e.group.clone_from(&template.group);
            e.flow = line.flow;
            e.initiated_by = line.initiated_by;
            e.correspondence = plan.correspondence;
            e.language = plan.language;
            e.cost = line.cost;
            e.duration = line.duration;
            e.salesperson = plan.salesperson;
            e.user.clone_from(&self.ctx.user);
            e.campaign_no.clone_from(&line.campaign_no);
            e.campaign_target = line.campaign_target;
            e.campaign_response = line.campaign_response;
            e.segment_no.clone_from(&s.no);
            e.evaluation = line.evaluation;
            e.contact_via.clone_from(&line.contact_via);
            if options.deliver && plan.correspondence != Correspondence::Blank {
                e.delivery_status = crate::model::DeliveryStatus::InProgress;
            }
            let subject_defaulted = line.subject.trim().is_empty();
            entries.push(
                ProposedEntry::new(e, EntrySource::Segment)
                    .delivery(
                        options.deliver,
                        template.is_merge(),
                        plan.template_attachment,
                    )
                    .subject_defaulted(subject_defaulted),
            );
        }
        Ok(SegmentLogProposal {
            entries,
            segment: s,
            options,
            today,
        })
    }

    /// Runs the checks of one segment line (spec 2, "Log a segment", step 4) and works out
    /// what its entry gets; writes nothing. `templates` keeps the templates read so far.
    fn plan_line(
        &self,
        s: &Segment,
        line: &SegmentLine,
        options: LogSegmentOptions,
        templates: &mut BTreeMap<String, InteractionTemplate>,
    ) -> Result<PlannedLine> {
        let line_record = format!("segment {} line {}", s.no, line.line_no);
        let view = *self;
        let contact = view
            .contact(&line.contact_no)?
            .ok_or_else(|| Error::not_found("contact", &line.contact_no))?;
        if contact.privacy_blocked {
            return Err(Error::PrivacyBlocked {
                contact: contact.no,
            });
        }
        if line.template.is_empty() {
            return Err(Error::required(
                &line_record,
                "template",
                format!("set a template on segment {}", s.no),
            ));
        }
        if !templates.contains_key(&line.template) {
            let t = view
                .template(&line.template)?
                .ok_or_else(|| Error::not_found("template", &line.template))?;
            templates.insert(line.template.clone(), t);
        }
        let template = &templates[&line.template];
        // Every logged line has a salesperson: the line's, else the segment's, else the contact's.
        let salesperson = [&line.salesperson, &s.salesperson, &contact.salesperson]
            .into_iter()
            .find(|code| !code.is_empty())
            .cloned()
            .ok_or_else(|| {
                Error::required(
                    &line_record,
                    "salesperson",
                    format!(
                        "the line, segment {} and contact {} have no salesperson; give the segment one (segment.update(#{{salesperson: …}})) or the contact one",
                        s.no, contact.no
                    ),
                )
            })?;
        if view.salesperson(&salesperson)?.is_none() {
            return Err(Error::not_found("salesperson", &salesperson));
        }
        if !line.campaign_no.is_empty() && view.campaign(&line.campaign_no)?.is_none() {
            return Err(Error::not_found("campaign", &line.campaign_no));
        }
        check_not_negative(&line_record, "cost", line.cost)?;
        check_not_negative(&line_record, "duration", line.duration)?;
        let description = [&line.description, &s.description, &template.description]
            .into_iter()
            .find(|d| !d.trim().is_empty())
            .cloned()
            .unwrap_or_default();
        let correspondence = resolve_correspondence(
            Some((s.ignore_contact_correspondence, s.correspondence)),
            template,
            &contact,
        );
        let language = if line.language.is_empty() {
            pick_language(template, &contact)
        } else {
            line.language.clone()
        };
        let template_attachment = template.language(&language).map_or(0, |l| l.attachment_no);
        if template.wizard_action == WizardAction::Open && template_attachment == 0 {
            return Err(Error::NoTemplateAttachment {
                record: line_record,
                template: template.code.clone(),
                language,
            });
        }
        if options.deliver
            && correspondence != Correspondence::Blank
            && template_attachment == 0
            && !template.is_merge()
        {
            return Err(Error::NoAttachment {
                record: line_record,
                correspondence: correspondence.to_string(),
                language,
            });
        }
        Ok(PlannedLine {
            contact_company_no: contact.company_no.clone(),
            correspondence: apply_email_rule(correspondence, &contact, options.deliver)?,
            salesperson,
            description,
            language,
            template_attachment,
        })
    }
}
