//! Declared custom fields: a consultant adds `industry` to contacts or `manager` to salespeople by
//! declaring it first (name, type, description); only declared fields may hold values, and each
//! value has the declared type.

use serde::{Deserialize, Serialize};

use super::{
    Campaign, Contact, FieldValue, InteractionLogEntry, InteractionTemplate, Salesperson, spec_enum,
};

spec_enum! {
    /// The records that may have custom fields.
    FieldRecord {
        /// Contacts (values kept on the contact).
        #[default]
        Contact = "contact",
        /// Salespeople.
        Salesperson = "salesperson",
        /// Interaction templates.
        Template = "template",
        /// Campaigns.
        Campaign = "campaign",
        /// Interaction log entries.
        Entry = "entry",
    }
}

spec_enum! {
    /// The type of a custom field's values.
    FieldType {
        /// Any text.
        #[default]
        Text = "text",
        /// A number (an integer stays an integer).
        Number = "number",
        /// Yes or no.
        Flag = "flag",
        /// A calendar date.
        Date = "date",
    }
}

/// A declared custom field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FieldDef {
    /// The kind of record that has it.
    pub record: FieldRecord,
    /// Its name, as scripts, filters and CSV columns use it.
    pub name: String,
    /// The type of its values.
    pub field_type: FieldType,
    /// What it is for (shown by `fields()` and the REPL's help).
    pub description: String,
}

impl FieldRecord {
    /// The built-in fields of this record, as scripts see them.
    pub fn built_in(self) -> &'static [&'static str] {
        match self {
            FieldRecord::Contact => Contact::FIELDS,
            FieldRecord::Salesperson => Salesperson::FIELDS,
            FieldRecord::Template => InteractionTemplate::FIELDS,
            FieldRecord::Campaign => Campaign::FIELDS,
            FieldRecord::Entry => InteractionLogEntry::FIELDS,
        }
    }

    /// What one record is called in messages.
    pub fn word(self) -> &'static str {
        match self {
            FieldRecord::Entry => "interaction log entry",
            other => other.as_str(),
        }
    }

    /// The record whose tag in keys is `tag` (the first byte of a custom value's key).
    pub fn from_tag(tag: u8) -> Option<FieldRecord> {
        Self::ALL.iter().copied().find(|f| f.tag() == tag)
    }

    /// Its tag in keys.
    pub(crate) fn tag(self) -> u8 {
        match self {
            FieldRecord::Contact => 1,
            FieldRecord::Salesperson => 2,
            FieldRecord::Template => 3,
            FieldRecord::Campaign => 4,
            FieldRecord::Entry => 5,
        }
    }
}

impl FieldType {
    /// Whether `value` is a value of this type (an empty value is: it clears the field).
    pub fn admits(self, value: &FieldValue) -> bool {
        matches!(
            (self, value),
            (_, FieldValue::Empty)
                | (FieldType::Text, FieldValue::Text(_))
                | (FieldType::Number, FieldValue::Number(_))
                | (FieldType::Flag, FieldValue::Bool(_))
                | (FieldType::Date, FieldValue::Date(_))
        )
    }

    /// The type of a value (`None` for an empty one).
    pub fn of(value: &FieldValue) -> Option<FieldType> {
        Some(match value {
            FieldValue::Empty => return None,
            FieldValue::Text(_) => FieldType::Text,
            FieldValue::Number(_) => FieldType::Number,
            FieldValue::Bool(_) => FieldType::Flag,
            FieldValue::Date(_) => FieldType::Date,
        })
    }

    /// How to write a value of this type, for error messages.
    pub fn example(self) -> &'static str {
        match self {
            FieldType::Text => "text, e.g. \"retail\"",
            FieldType::Number => "a number, e.g. 12 or 2.5",
            FieldType::Flag => "true or false",
            FieldType::Date => "a date, e.g. date(\"2026-11-29\") or 2026-11-29",
        }
    }
}
