//! The catalogue: salespeople, interaction groups, interaction templates and their attachments.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Amount, Correspondence, Flow, InitiatedBy, spec_enum};

/// A salesperson or purchaser.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Salesperson {
    /// Key, upper-case.
    pub code: String,
    /// Full name, used in timeline titles.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Blocked salespeople are kept for history.
    pub blocked: bool,
}

/// An interaction group: templates are grouped for statistics.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InteractionGroup {
    /// Key, upper-case.
    pub code: String,
    /// What the group holds.
    pub description: String,
}

spec_enum! {
    /// What the interaction wizard does with the template's attachment.
    WizardAction {
        /// Nothing.
        #[default]
        None = "",
        /// Open the attachment.
        Open = "open",
        /// Import a file as the attachment.
        Import = "import",
        /// Merge the attachment with the contact's data.
        Merge = "merge",
    }
}

/// One language of a template: a description and an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateLanguage {
    /// Language code, upper-case.
    pub language: String,
    /// Description in that language.
    pub description: String,
    /// The attachment (0 when none).
    pub attachment_no: u64,
}

/// An interaction template (spec 1, Interaction template).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InteractionTemplate {
    /// Key, at most 10 characters, upper-case.
    pub code: String,
    /// Its interaction group; must exist.
    pub group: String,
    /// Copied to an interaction whose description is blank.
    pub description: String,
    /// Cost of one interaction, ≥ 0.
    pub unit_cost: Amount,
    /// Duration of one interaction in minutes, ≥ 0.
    pub unit_duration: Amount,
    /// Inbound or outbound.
    pub flow: Flow,
    /// Who started it.
    pub initiated_by: InitiatedBy,
    /// Campaign copied to interactions.
    pub campaign_no: String,
    /// Copied to interactions.
    pub campaign_target: bool,
    /// Copied to interactions.
    pub campaign_response: bool,
    /// Default correspondence type.
    pub correspondence: Correspondence,
    /// The template's type wins over the contact's.
    pub ignore_contact_correspondence: bool,
    /// One of `languages`, or blank.
    pub default_language: String,
    /// What the wizard does with the attachment.
    pub wizard_action: WizardAction,
    /// Per language: description and attachment.
    pub languages: Vec<TemplateLanguage>,
}

impl InteractionTemplate {
    /// The language row for `language`, if the template has one.
    pub fn language(&self, language: &str) -> Option<&TemplateLanguage> {
        self.languages
            .iter()
            .find(|l| l.language.eq_ignore_ascii_case(language))
    }

    /// Whether the template is a merge template.
    pub fn is_merge(&self) -> bool {
        self.wizard_action == WizardAction::Merge
    }
}

/// An attachment: file metadata; the content is stored once per content hash.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// Key.
    pub no: u64,
    /// File name without extension.
    pub file_name: String,
    /// Extension, lower-case, without the dot.
    pub extension: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub content_hash: String,
    /// Set once a logged entry uses it.
    pub read_only: bool,
    /// When it was last changed.
    #[serde(with = "super::serde_date")]
    pub modified: NaiveDate,
    /// How many entries and template languages refer to it; it goes when this reaches 0.
    pub references: u64,
}

impl Attachment {
    /// Extensions a merge template can use (documents with fields to fill in).
    pub const MERGEABLE: &'static [&'static str] = &["docx", "doc", "html", "htm"];

    /// Whether the wizard can merge contact data into it.
    pub fn is_mergeable(&self) -> bool {
        Self::MERGEABLE.contains(&self.extension.as_str())
    }
}

/// Attachment content handed to the engine: a file name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachmentContent {
    /// File name with extension (`offer.docx`).
    pub file_name: String,
    /// The bytes.
    pub content: Vec<u8>,
}
