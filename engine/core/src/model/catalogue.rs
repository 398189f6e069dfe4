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

impl Salesperson {
    /// The names of the built-in fields, as scripts see them.
    pub const FIELDS: &'static [&'static str] = &["code", "name", "email", "phone", "blocked"];
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
    /// A template with the spec's defaults (correspondence `email`; everything else blank), which
    /// the language's `template_define` starts from. (`Default` is the all-blank value Rust
    /// builders start from.)
    pub fn spec_defaults() -> Self {
        Self {
            correspondence: super::Correspondence::Email,
            ..Self::default()
        }
    }

    /// The names of the built-in fields, as scripts see them.
    pub const FIELDS: &'static [&'static str] = &[
        "code",
        "group",
        "description",
        "unit_cost",
        "unit_duration",
        "flow",
        "initiated_by",
        "campaign",
        "campaign_target",
        "campaign_response",
        "correspondence",
        "ignore_contact_correspondence",
        "default_language",
        "wizard_action",
        "languages",
    ];

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

/// The most of a Word file's XML parts read to look for merge fields: a merge template's text
/// is small, and an archive that inflates to more is not read further (a zip bomb stays one).
const MAX_WORD_XML: u64 = 64 << 20;

impl Attachment {
    /// Whether `content`, a file with this attachment's extension, is a merge template: an
    /// e-mail merge (HTML with `{{field}}` merge fields) or a Word merge template (a Word file
    /// with `MERGEFIELD` fields). A plain Word or HTML file is not.
    pub fn is_merge_template(&self, content: &[u8]) -> bool {
        match self.extension.as_str() {
            "html" | "htm" => has_html_merge_field(content),
            "docx" | "docm" | "dotx" | "dotm" => word_xml_has_merge_field(content),
            "doc" | "dot" => has_merge_field_code(content),
            _ => false,
        }
    }
}

/// `{{name}}`: two braces, a field name (letters, digits, `_`, `.`, spaces around), two braces.
fn has_html_merge_field(content: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content);
    text.split("{{").skip(1).any(|rest| {
        rest.split_once("}}").is_some_and(|(name, _)| {
            let name = name.trim();
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
    })
}

/// A Word 2007+ file: a zip archive whose `word/*.xml` parts hold the field codes.
fn word_xml_has_merge_field(content: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(content)) else {
        return false;
    };
    let mut budget = MAX_WORD_XML;
    for i in 0..archive.len() {
        let Ok(part) = archive.by_index(i) else {
            return false;
        };
        let is_word_xml = part
            .name()
            .is_ok_and(|name| name.starts_with("word/") && name.ends_with(".xml"));
        if !is_word_xml {
            continue;
        }
        let mut xml = Vec::new();
        if part.take(budget).read_to_end(&mut xml).is_err() {
            return false;
        }
        budget -= xml.len() as u64;
        if has_merge_field_code(&xml) {
            return true;
        }
        if budget == 0 {
            return false;
        }
    }
    false
}

/// The field code `MERGEFIELD` (any case), as 8-bit text or UTF-16LE (Word 97–2003 files
/// store their text either way).
fn has_merge_field_code(bytes: &[u8]) -> bool {
    const CODE: &[u8] = b"MERGEFIELD";
    let narrow = bytes
        .windows(CODE.len())
        .any(|w| w.eq_ignore_ascii_case(CODE));
    narrow
        || bytes.windows(CODE.len() * 2).any(|w| {
            w.chunks(2)
                .zip(CODE)
                .all(|(pair, c)| pair[1] == 0 && pair[0].eq_ignore_ascii_case(c))
        })
}

/// Attachment content handed to the engine: a file name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachmentContent {
    /// File name with extension (`offer.docx`).
    pub file_name: String,
    /// The bytes.
    pub content: Vec<u8>,
}
