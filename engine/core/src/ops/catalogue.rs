//! The catalogue: salespeople, interaction groups, interaction templates with their languages,
//! and attachments (content stored once per hash, records reference-counted).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rules::{check_chars, check_not_negative};
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    Attachment, AttachmentContent, FieldRecord, InteractionGroup, InteractionTemplate, Salesperson,
    TemplateLanguage, WizardAction, normalize_code,
};

/// Stored content of attachments: one per content hash, counted by the attachment records using it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Blob {
    pub references: u64,
    pub content: Vec<u8>,
}

/// Longest template code the spec allows.
pub const TEMPLATE_CODE_MAX: usize = 10;
/// Longest salesperson and group code.
pub const CODE_MAX: usize = 20;

fn check_code(record: &str, field: &'static str, code: &str, max: usize) -> Result<()> {
    if code.is_empty() {
        return Err(Error::required(
            record,
            field,
            format!("give a {field} of at most {max} characters"),
        ));
    }
    check_chars(record, field, code, max)
}

/// SHA-256 in hex: attachment contents, and the tokens of users.
pub(super) fn content_hash(content: &[u8]) -> String {
    crate::store::key::hex(&Sha256::digest(content))
}

impl Tx<'_> {
    /// Creates a salesperson; its code must be new.
    pub fn salesperson_create(&mut self, salesperson: Salesperson) -> Result<()> {
        let mut s = salesperson;
        s.code = normalize_code(&s.code);
        check_code("salesperson", "code", &s.code, CODE_MAX)?;
        if self.view().salesperson(&s.code)?.is_some() {
            return Err(Error::AlreadyExists {
                record: "salesperson",
                key: s.code,
                field: "code",
            });
        }
        layout::put(self.kv, tables::SALESPEOPLE, &keys::code(&s.code), &s)
    }

    /// Changes a salesperson's name, e-mail, phone and blocked flag; it must exist (its code is
    /// its key and stays).
    pub fn salesperson_update(&mut self, salesperson: Salesperson) -> Result<()> {
        let mut s = salesperson;
        s.code = normalize_code(&s.code);
        if self.view().salesperson(&s.code)?.is_none() {
            return Err(Error::not_found("salesperson", &s.code));
        }
        layout::put(self.kv, tables::SALESPEOPLE, &keys::code(&s.code), &s)
    }

    /// Defines an interaction group: creates it, or changes the description of an existing one.
    pub fn group_define(&mut self, group: InteractionGroup) -> Result<()> {
        let mut g = group;
        g.code = normalize_code(&g.code);
        check_code("interaction group", "code", &g.code, CODE_MAX)?;
        layout::put(self.kv, tables::GROUPS, &keys::code(&g.code), &g)
    }

    /// Defines an interaction template: creates it, or changes an existing one (its language rows
    /// are kept, they are managed with [`Tx::template_attach`]; a blank default language keeps the
    /// existing one). Logged entries never change.
    pub fn template_define(&mut self, template: InteractionTemplate) -> Result<()> {
        let mut t = template;
        t.code = normalize_code(&t.code);
        let record = format!("template {}", t.code);
        check_code("template", "code", &t.code, TEMPLATE_CODE_MAX)?;
        t.group = normalize_code(&t.group);
        if t.group.is_empty() {
            return Err(Error::required(
                &record,
                "group",
                "name an interaction group",
            ));
        }
        if self.view().group(&t.group)?.is_none() {
            return Err(Error::not_found("interaction group", &t.group));
        }
        check_not_negative(&record, "unit_cost", t.unit_cost)?;
        check_not_negative(&record, "unit_duration", t.unit_duration)?;
        t.campaign_no = normalize_code(&t.campaign_no);
        if !t.campaign_no.is_empty() && self.view().campaign(&t.campaign_no)?.is_none() {
            return Err(Error::not_found("campaign", &t.campaign_no));
        }
        let existing = self.view().template(&t.code)?;
        let (existing_languages, existing_default) = existing
            .map(|e| (e.languages, e.default_language))
            .unwrap_or_default();
        if !t.languages.is_empty() && t.languages != existing_languages {
            return Err(Error::invalid(
                &record,
                "languages",
                "cannot be set by defining the template",
                "add each language with template_attach",
            ));
        }
        t.languages = existing_languages;
        // Like the language rows, a blank default language keeps the one the template has.
        t.default_language = match normalize_code(&t.default_language) {
            d if d.is_empty() => existing_default,
            d => d,
        };
        self.check_template_languages(&t, None)?;
        layout::put(self.kv, tables::TEMPLATES, &keys::code(&t.code), &t)
    }

    /// The default-language and wizard-action rules (spec 1, Interaction template). `pending`
    /// is an attachment about to be stored for a language (checked before anything is written).
    fn check_template_languages(
        &self,
        t: &InteractionTemplate,
        pending: Option<(&str, &AttachmentContent)>,
    ) -> Result<()> {
        let record = format!("template {}", t.code);
        if t.default_language.is_empty() {
            return Ok(());
        }
        let Some(row) = t.language(&t.default_language) else {
            return Err(Error::invalid(
                &record,
                "default_language",
                format!(
                    "\"{}\" is not one of the template's languages",
                    t.default_language
                ),
                "attach that language first, or pick one of the template's languages",
            ));
        };
        let merge_template = match pending {
            Some((language, content)) if language == row.language => {
                let (_, extension) = name_and_extension(&content.file_name);
                let probe = Attachment {
                    extension,
                    ..Attachment::default()
                };
                probe.is_merge_template(&content.content)
            }
            _ => match row.attachment_no {
                0 => false,
                no => match self.view().attachment(no)? {
                    Some(a) => self
                        .view()
                        .attachment_content(a.no)?
                        .is_some_and(|content| a.is_merge_template(&content)),
                    None => false,
                },
            },
        };
        match t.wizard_action {
            WizardAction::Merge if !merge_template => Err(Error::invalid(
                &record,
                "wizard_action",
                format!(
                    "is merge, but the attachment of language {} is not a merge template",
                    row.language
                ),
                "attach an e-mail merge (HTML with {{field}} merge fields) or a Word merge template (with MERGEFIELD fields), or pick another wizard action",
            )),
            WizardAction::Import if merge_template => Err(Error::invalid(
                &record,
                "wizard_action",
                format!(
                    "is import, but the attachment of language {} is a merge template",
                    row.language
                ),
                "import is refused together with a merge template; use open or merge",
            )),
            _ => Ok(()),
        }
    }

    /// Deletes a template with its language rows and their attachments; log entries keep the code.
    /// Refused while the template setup records a document type with it.
    pub fn template_delete(&mut self, code: &str) -> Result<()> {
        let code = normalize_code(code);
        let template = self
            .view()
            .template(&code)?
            .ok_or_else(|| Error::not_found("template", &code))?;
        let setup = self.view().template_setup()?;
        if let Some((doc, _)) = setup.templates.iter().find(|(_, t)| **t == code) {
            return Err(Error::in_use(
                format!("template {code}"),
                format!("the template setup records {doc} with it"),
                format!("set another template for {doc} first"),
            ));
        }
        for row in &template.languages {
            if row.attachment_no != 0 {
                self.release_attachment(row.attachment_no)?;
            }
        }
        layout::remove(self.kv, tables::TEMPLATES, &keys::code(&code))?;
        self.custom_values_clear(FieldRecord::Template, &code)
    }

    /// Sets a template's language row with its attachment (replacing the row's earlier
    /// attachment). The first language becomes the default language.
    pub fn template_attach(
        &mut self,
        code: &str,
        language: &str,
        description: &str,
        content: &AttachmentContent,
    ) -> Result<u64> {
        let code = normalize_code(code);
        let language = normalize_code(language);
        let mut template = self
            .view()
            .template(&code)?
            .ok_or_else(|| Error::not_found("template", &code))?;
        let record = format!("template {code}");
        if language.is_empty() {
            return Err(Error::required(
                &record,
                "language",
                "name the language of the attachment (e.g. \"ENU\")",
            ));
        }
        if content.file_name.trim().is_empty() {
            return Err(Error::required(
                &record,
                "file name",
                "give the attachment's file name with its extension",
            ));
        }
        let description = if description.is_empty() {
            template.description.clone()
        } else {
            description.to_string()
        };
        let old = if let Some(row) = template
            .languages
            .iter_mut()
            .find(|l| l.language == language)
        {
            row.description = description;
            row.attachment_no
        } else {
            template.languages.push(TemplateLanguage {
                language: language.clone(),
                description,
                attachment_no: 0,
            });
            0
        };
        if template.default_language.is_empty() {
            template.default_language.clone_from(&language);
        }
        // Every rule is checked before the attachment is stored: a refusal writes nothing.
        self.check_template_languages(&template, Some((&language, content)))?;
        let attachment_no = self.store_attachment(content, 1, false)?;
        if let Some(row) = template
            .languages
            .iter_mut()
            .find(|l| l.language == language)
        {
            row.attachment_no = attachment_no;
        }
        if old != 0 {
            self.release_attachment(old)?;
        }
        layout::put(self.kv, tables::TEMPLATES, &keys::code(&code), &template)?;
        Ok(attachment_no)
    }

    /// Removes a template's language row and its attachment.
    pub fn template_remove_language(&mut self, code: &str, language: &str) -> Result<()> {
        let code = normalize_code(code);
        let language = normalize_code(language);
        let mut template = self
            .view()
            .template(&code)?
            .ok_or_else(|| Error::not_found("template", &code))?;
        let Some(pos) = template
            .languages
            .iter()
            .position(|l| l.language == language)
        else {
            return Err(Error::not_found(
                "template language",
                format!("{code}/{language}"),
            ));
        };
        let row = template.languages.remove(pos);
        if template.default_language == language {
            template.default_language = template
                .languages
                .first()
                .map(|l| l.language.clone())
                .unwrap_or_default();
        }
        self.check_template_languages(&template, None)?;
        if row.attachment_no != 0 {
            self.release_attachment(row.attachment_no)?;
        }
        layout::put(self.kv, tables::TEMPLATES, &keys::code(&code), &template)
    }

    /// Stores content as a new attachment with `references` references.
    pub(crate) fn store_attachment(
        &mut self,
        content: &AttachmentContent,
        references: u64,
        read_only: bool,
    ) -> Result<u64> {
        let hash = content_hash(&content.content);
        let blob_key = keys::blob(&hash);
        let mut blob: Blob =
            layout::get(&*self.kv, tables::BLOBS, &blob_key)?.unwrap_or_else(|| Blob {
                references: 0,
                content: content.content.clone(),
            });
        blob.references += 1;
        layout::put(self.kv, tables::BLOBS, &blob_key, &blob)?;
        let (file_name, extension) = name_and_extension(&content.file_name);
        let no = layout::next_number(self.kv, "attachment")?;
        let attachment = Attachment {
            no,
            file_name,
            extension,
            size: content.content.len() as u64,
            content_hash: hash,
            read_only,
            modified: self.ctx.clock.today(),
            references,
        };
        layout::put(self.kv, tables::ATTACHMENTS, &keys::no(no), &attachment)?;
        Ok(no)
    }

    /// A new attachment record with the same content as `source` (the content is not copied).
    pub(crate) fn share_attachment(
        &mut self,
        source: u64,
        references: u64,
        read_only: bool,
    ) -> Result<u64> {
        let mut attachment = self
            .view()
            .attachment(source)?
            .ok_or_else(|| Error::not_found("attachment", source.to_string()))?;
        let blob_key = keys::blob(&attachment.content_hash);
        let mut blob: Blob =
            layout::get(&*self.kv, tables::BLOBS, &blob_key)?.ok_or_else(|| {
                crate::store::StoreError::Corrupt {
                    record: format!("attachment {source}"),
                    detail: "its content is missing".into(),
                }
            })?;
        blob.references += 1;
        layout::put(self.kv, tables::BLOBS, &blob_key, &blob)?;
        attachment.no = layout::next_number(self.kv, "attachment")?;
        attachment.references = references;
        attachment.read_only = read_only;
        layout::put(
            self.kv,
            tables::ATTACHMENTS,
            &keys::no(attachment.no),
            &attachment,
        )?;
        Ok(attachment.no)
    }

    /// Adds `n` references to an attachment.
    pub(crate) fn reference_attachment(&mut self, no: u64, n: u64) -> Result<()> {
        let mut a = self
            .view()
            .attachment(no)?
            .ok_or_else(|| Error::not_found("attachment", no.to_string()))?;
        a.references += n;
        layout::put(self.kv, tables::ATTACHMENTS, &keys::no(no), &a)
    }

    /// Drops one reference; the attachment (and, with its last user, the content) goes at zero.
    pub(crate) fn release_attachment(&mut self, no: u64) -> Result<()> {
        let Some(mut a) = self.view().attachment(no)? else {
            return Ok(());
        };
        a.references = a.references.saturating_sub(1);
        if a.references > 0 {
            return layout::put(self.kv, tables::ATTACHMENTS, &keys::no(no), &a);
        }
        layout::remove(self.kv, tables::ATTACHMENTS, &keys::no(no))?;
        let blob_key = keys::blob(&a.content_hash);
        if let Some(mut blob) = layout::get::<Blob>(&*self.kv, tables::BLOBS, &blob_key)? {
            blob.references = blob.references.saturating_sub(1);
            if blob.references == 0 {
                layout::remove(self.kv, tables::BLOBS, &blob_key)?;
            } else {
                layout::put(self.kv, tables::BLOBS, &blob_key, &blob)?;
            }
        }
        Ok(())
    }

    /// Marks an attachment read-only (a logged entry uses it).
    pub(crate) fn mark_attachment_read_only(&mut self, no: u64) -> Result<()> {
        if let Some(mut a) = self.view().attachment(no)?
            && !a.read_only
        {
            a.read_only = true;
            layout::put(self.kv, tables::ATTACHMENTS, &keys::no(no), &a)?;
        }
        Ok(())
    }
}

impl View<'_> {
    /// A salesperson by code.
    pub fn salesperson(&self, code: &str) -> Result<Option<Salesperson>> {
        layout::get(
            self.kv,
            tables::SALESPEOPLE,
            &keys::code(&normalize_code(code)),
        )
    }

    /// Every salesperson, by code.
    pub fn salespeople(&self) -> Result<Vec<Salesperson>> {
        layout::all_records(self.kv, tables::SALESPEOPLE)
    }

    /// An interaction group by code.
    pub fn group(&self, code: &str) -> Result<Option<InteractionGroup>> {
        layout::get(self.kv, tables::GROUPS, &keys::code(&normalize_code(code)))
    }

    /// Every interaction group, by code.
    pub fn groups(&self) -> Result<Vec<InteractionGroup>> {
        layout::all_records(self.kv, tables::GROUPS)
    }

    /// An interaction template by code.
    pub fn template(&self, code: &str) -> Result<Option<InteractionTemplate>> {
        layout::get(
            self.kv,
            tables::TEMPLATES,
            &keys::code(&normalize_code(code)),
        )
    }

    /// Every interaction template, by code.
    pub fn templates(&self) -> Result<Vec<InteractionTemplate>> {
        layout::all_records(self.kv, tables::TEMPLATES)
    }

    /// An attachment record by no.
    pub fn attachment(&self, no: u64) -> Result<Option<Attachment>> {
        layout::get(self.kv, tables::ATTACHMENTS, &keys::no(no))
    }

    /// An attachment's content.
    pub fn attachment_content(&self, no: u64) -> Result<Option<Vec<u8>>> {
        let Some(a) = self.attachment(no)? else {
            return Ok(None);
        };
        Ok(
            layout::get::<Blob>(self.kv, tables::BLOBS, &keys::blob(&a.content_hash))?
                .map(|b| b.content),
        )
    }

    /// Number of stored contents (each distinct content once).
    pub fn attachment_contents(&self) -> Result<usize> {
        Ok(layout::all_records::<Blob>(self.kv, tables::BLOBS)?.len())
    }
}

/// A file name split into the name and its extension (lower-case, without the dot).
fn name_and_extension(file_name: &str) -> (String, String) {
    match file_name.rsplit_once('.') {
        Some((name, ext)) if !name.is_empty() => (name.to_string(), ext.to_lowercase()),
        _ => (file_name.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn attachment_content_bytes_still_decode() {
        crate::layout::assert_golden(
            "attachment_content",
            &super::Blob {
                references: 2,
                content: b"Dear customer,\n\0\xff".to_vec(),
            },
        );
    }
}
