//! Contacts: companies and the persons who work for them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Correspondence, FieldValue, FieldValueView, spec_enum};

spec_enum! {
    /// Whether a contact is a company or a person.
    ContactKind {
        /// A company; its `company_no` is its own no.
        #[default]
        Company = "company",
        /// A person, usually of a company.
        Person = "person",
    }
}

/// A contact (spec 1, Contact).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// Key, from the contact number series unless given.
    pub no: String,
    /// Required.
    pub name: String,
    /// Company or person.
    pub kind: ContactKind,
    /// A person's company; a company's own no.
    pub company_no: String,
    /// Default salesperson of its interactions.
    pub salesperson: String,
    /// Picks the template attachment language.
    pub language: String,
    /// Preferred correspondence; blank on create takes `email`.
    pub correspondence: Correspondence,
    /// E-mail address.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Mobile number.
    pub mobile: String,
    /// City.
    pub city: String,
    /// Country or region code.
    pub country: String,
    /// "Add contacts" skips it unless told to ignore exclusions.
    pub exclude_from_segment: bool,
    /// No interaction may be created for it.
    pub privacy_blocked: bool,
    /// Custom fields, by name.
    pub custom: BTreeMap<String, FieldValue>,
}

/// A contact read in place from its stored bytes: [`Contact`]'s fields in [`Contact`]'s order
/// (the storage tests prove both read the same bytes alike), its text borrowed, so a scan can
/// test a few fields of every contact without building any.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[expect(missing_docs, reason = "the fields are Contact's, documented there")]
pub struct ContactView<'a> {
    pub no: &'a str,
    pub name: &'a str,
    pub kind: ContactKind,
    pub company_no: &'a str,
    pub salesperson: &'a str,
    pub language: &'a str,
    pub correspondence: Correspondence,
    pub email: &'a str,
    pub phone: &'a str,
    pub mobile: &'a str,
    pub city: &'a str,
    pub country: &'a str,
    pub exclude_from_segment: bool,
    pub privacy_blocked: bool,
    /// Custom fields in name order (stored as a map: a length, then name and value pairs).
    #[serde(borrow)]
    pub custom: Vec<(&'a str, FieldValueView<'a>)>,
}

impl<'a> ContactView<'a> {
    /// A view of a contact in memory.
    pub fn of(c: &'a Contact) -> Self {
        ContactView {
            no: &c.no,
            name: &c.name,
            kind: c.kind,
            company_no: &c.company_no,
            salesperson: &c.salesperson,
            language: &c.language,
            correspondence: c.correspondence,
            email: &c.email,
            phone: &c.phone,
            mobile: &c.mobile,
            city: &c.city,
            country: &c.country,
            exclude_from_segment: c.exclude_from_segment,
            privacy_blocked: c.privacy_blocked,
            custom: c
                .custom
                .iter()
                .map(|(k, v)| (k.as_str(), FieldValueView::of(v)))
                .collect(),
        }
    }

    /// A custom field's value.
    pub fn custom(&self, name: &str) -> Option<&FieldValueView<'a>> {
        self.custom
            .binary_search_by(|(k, _)| (*k).cmp(name))
            .ok()
            .map(|i| &self.custom[i].1)
    }
}

impl Contact {
    /// The names of the built-in fields, as filters and scripts use them.
    pub const FIELDS: &'static [&'static str] = &[
        "no",
        "name",
        "kind",
        "company_no",
        "salesperson",
        "language",
        "correspondence",
        "email",
        "phone",
        "mobile",
        "city",
        "country",
        "exclude_from_segment",
        "privacy_blocked",
    ];

    /// A field's value by name: built-in first, then custom; `Empty` if it has none.
    pub fn field(&self, name: &str) -> FieldValue {
        let text = |s: &str| FieldValue::Text(s.to_string());
        match name {
            "no" => text(&self.no),
            "name" => text(&self.name),
            "kind" => text(self.kind.as_str()),
            "company_no" => text(&self.company_no),
            "salesperson" => text(&self.salesperson),
            "language" => text(&self.language),
            "correspondence" => text(self.correspondence.as_str()),
            "email" => text(&self.email),
            "phone" => text(&self.phone),
            "mobile" => text(&self.mobile),
            "city" => text(&self.city),
            "country" => text(&self.country),
            "exclude_from_segment" => FieldValue::Bool(self.exclude_from_segment),
            "privacy_blocked" => FieldValue::Bool(self.privacy_blocked),
            other => self.custom.get(other).cloned().unwrap_or(FieldValue::Empty),
        }
    }

    /// Whether it is a person.
    pub fn is_person(&self) -> bool {
        self.kind == ContactKind::Person
    }
}
