//! Automatic recording of documents (spec 2): the template setup says which template records
//! each document type; a printed, e-mailed or posted document becomes one entry, or the caller is
//! told exactly why it did not.

use super::entries::resolve_correspondence;
use super::proposal::{EntrySource, ProposedEntry};
use super::rules::{apply_email_rule, check_id, check_length};
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    AccountKind, Correspondence, DocumentAction, DocumentEvent, DocumentType, InteractionLogEntry,
    TemplateSetup, normalize_code,
};

/// The outcome of recording a document: recorded with its entry, or not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentOutcome {
    /// Whether an entry was written.
    pub recorded: bool,
    /// The entry, when recorded.
    pub entry_no: Option<u64>,
    /// Why not, when not recorded (blank when recorded).
    pub reason: String,
}

impl DocumentOutcome {
    fn not_recorded(reason: String) -> Self {
        Self {
            recorded: false,
            entry_no: None,
            reason,
        }
    }
}

/// A document event worked out and checked, not yet written ([`View::propose_document`]): the
/// entry it would record, or why it records none.
#[derive(Debug, Clone)]
pub enum DocumentProposal {
    /// It records this entry.
    Entry(Box<ProposedEntry>),
    /// It records nothing, for this reason.
    NotRecorded(String),
}

impl Tx<'_> {
    /// Sets the template of each document type given (blank clears it); every named template must
    /// exist and have no language rows.
    pub fn template_setup_set(&mut self, templates: &[(DocumentType, String)]) -> Result<()> {
        let mut setup = self.view().template_setup()?;
        for (document_type, code) in templates {
            let code = normalize_code(code);
            if code.is_empty() {
                setup.templates.remove(document_type);
                continue;
            }
            let template = self
                .view()
                .template(&code)?
                .ok_or_else(|| Error::not_found("template", &code))?;
            if !template.languages.is_empty() {
                return Err(languages_refusal(&code));
            }
            setup.templates.insert(*document_type, code);
        }
        layout::put(self.kv, tables::META, &keys::template_setup(), &setup)
    }

    /// Records a document event (spec 2, steps 1–5).
    pub fn record_document(&mut self, event: &DocumentEvent) -> Result<DocumentOutcome> {
        let proposal = self.view().propose_document(event)?;
        self.write_document(proposal)
    }

    /// Records a document as proposed (checking again what was amended): its campaign entry and
    /// its entry.
    pub fn write_document(&mut self, proposal: DocumentProposal) -> Result<DocumentOutcome> {
        let proposed = match proposal {
            DocumentProposal::Entry(proposed) => *proposed,
            DocumentProposal::NotRecorded(reason) => {
                return Ok(DocumentOutcome::not_recorded(reason));
            }
        };
        let mut e = proposed.checked(&self.view())?;
        if !e.campaign_no.is_empty() {
            e.campaign_entry_no = self.campaign_entry_for(
                &e.campaign_no,
                "",
                e.document_type,
                0,
                &e.salesperson,
                e.date,
            )?;
        }
        e.entry_no = layout::next_number(self.kv, "entry")?;
        self.insert_entry(&e)?;
        Ok(DocumentOutcome {
            recorded: true,
            entry_no: Some(e.entry_no),
            reason: String::new(),
        })
    }
}

fn languages_refusal(code: &str) -> Error {
    Error::wrong_state(
        format!("template \"{code}\""),
        "it has languages, so it cannot record documents",
        "remove its languages or pick another template",
    )
}

impl View<'_> {
    /// The template setup.
    pub fn template_setup(&self) -> Result<TemplateSetup> {
        Ok(layout::get(self.kv, tables::META, &keys::template_setup())?.unwrap_or_default())
    }

    /// The entries that recorded one document.
    pub fn document_entries(
        &self,
        document_type: DocumentType,
        document_no: &str,
    ) -> Result<Vec<u64>> {
        let prefix = keys::entries_of_document(document_type, &normalize_code(document_no));
        self.entry_nos(&prefix, crate::store::Order::Ascending)
    }

    /// What recording a document event would do (spec 2, steps 1–5); writes nothing.
    pub fn propose_document(&self, event: &DocumentEvent) -> Result<DocumentProposal> {
        let doc = event.document_type;
        // Checked first: the document no goes into the message and into index keys.
        let record = format!("document {doc}");
        check_id(&record, "no", &event.document_no)?;
        check_id(&record, "party", &event.party.no)?;
        check_id(&record, "campaign", &event.campaign)?;
        if let Some(s) = &event.salesperson {
            check_length(&record, "salesperson", s)?;
        }
        let document_no = normalize_code(&event.document_no);
        let record = if document_no.is_empty() {
            format!("document {doc}")
        } else {
            format!("document {doc} {document_no}")
        };
        if document_no.is_empty() && doc.has_number() {
            return Err(Error::required(&record, "no", "give the document's no"));
        }
        if !doc.allowed_parties().contains(&event.party.kind) {
            let allowed: Vec<_> = doc.allowed_parties().iter().map(|k| k.as_str()).collect();
            return Err(Error::invalid(
                &record,
                "party",
                format!(
                    "names a {}, but a {doc} names a {}",
                    event.party.kind,
                    allowed.join(" or a ")
                ),
                format!("give the document's {}", allowed.join(" or ")),
            ));
        }
        // 5 (first, since nothing else matters then): previews never record.
        if event.action == DocumentAction::Preview {
            return Ok(DocumentProposal::NotRecorded(
                "not recorded: previews are never recorded".into(),
            ));
        }
        // 1. The template for the type.
        let setup = self.template_setup()?;
        let Some(code) = setup.template_for(doc) else {
            return Ok(DocumentProposal::NotRecorded(format!(
                "not recorded: no template for {doc} in the template setup"
            )));
        };
        let template = self.template(code)?.ok_or_else(|| Error::NotFound {
            record: "template",
            key: code.to_string(),
            fix: format!("the template setup names it for {doc}; set an existing template there"),
        })?;
        // 2. A template with languages cannot record documents.
        if !template.languages.is_empty() {
            return Err(languages_refusal(&template.code));
        }
        // 3. The contact.
        let party_no = normalize_code(&event.party.no);
        let contact_no = match event.party.kind {
            AccountKind::Contact => party_no.clone(),
            kind => match self.relation(kind, &party_no)? {
                Some(r) => r.contact_no,
                None => {
                    return Ok(DocumentProposal::NotRecorded(format!(
                        "not recorded: no business relation links {kind} {party_no} to a contact"
                    )));
                }
            },
        };
        let contact = self
            .contact(&contact_no)?
            .ok_or_else(|| Error::not_found("contact", &contact_no))?;
        if contact.privacy_blocked {
            return Ok(DocumentProposal::NotRecorded(format!(
                "not recorded: contact {} is privacy-blocked",
                contact.no
            )));
        }
        // 4. The entry.
        let salesperson = match &event.salesperson {
            Some(s) => normalize_code(s),
            None => contact.salesperson.clone(),
        };
        if !salesperson.is_empty() && self.salesperson(&salesperson)?.is_none() {
            return Err(Error::not_found("salesperson", &salesperson));
        }
        let campaign_no = match normalize_code(&event.campaign) {
            c if c.is_empty() => template.campaign_no.clone(),
            c => c,
        };
        if !campaign_no.is_empty() && self.campaign(&campaign_no)?.is_none() {
            return Err(Error::not_found("campaign", &campaign_no));
        }
        let description = if event.description.trim().is_empty() {
            template.description.clone()
        } else {
            event.description.clone()
        };
        let correspondence = match event.action {
            DocumentAction::Emailed => Correspondence::Email,
            _ => resolve_correspondence(None, &template, &contact),
        };
        let correspondence = apply_email_rule(correspondence, &contact, false)?;
        let mut e = InteractionLogEntry::blank(0, self.ctx.clock.today(), self.ctx.clock.time());
        e.contact_no.clone_from(&contact.no);
        e.contact_company_no.clone_from(&contact.company_no);
        e.subject.clone_from(&description);
        e.description = description;
        e.template.clone_from(&template.code);
        e.group.clone_from(&template.group);
        e.flow = template.flow;
        e.initiated_by = template.initiated_by;
        e.correspondence = correspondence;
        e.cost = template.unit_cost;
        e.duration = template.unit_duration;
        e.salesperson = salesperson;
        e.user.clone_from(&self.ctx.user);
        e.campaign_no = campaign_no;
        e.campaign_target = template.campaign_target;
        e.campaign_response = template.campaign_response;
        e.document_type = Some(doc);
        e.document_no = document_no;
        e.version_no = event.version_no;
        e.contact_via = match correspondence {
            Correspondence::Email => contact.email.clone(),
            _ => String::new(),
        };
        // Its subject is always the description.
        Ok(DocumentProposal::Entry(Box::new(
            ProposedEntry::new(e, EntrySource::Document).subject_defaulted(true),
        )))
    }
}
