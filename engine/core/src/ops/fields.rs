//! Declared custom fields (spec 1, "custom fields: declared first"): `field_define` declares a
//! field of one kind of record with a type, `field_remove` takes an unused one away, and every
//! write of a custom value checks that the field is declared and the value has its type. A
//! contact keeps its values on the contact; salespeople, templates, campaigns and entries keep
//! theirs in `custom_values`, so their stored records keep their shape.

use std::collections::BTreeMap;

use super::rules::check_length;
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{ContactView, FieldDef, FieldRecord, FieldType, FieldValue};
use crate::store::{Order, codec};

/// The longest field name.
pub const MAX_FIELD_NAME: usize = 64;

/// The known name closest to `name`, when it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .min()
        .filter(|(distance, _)| *distance <= (name.chars().count() / 3).max(2))
        .map(|(_, k)| k)
}

/// The error for a field `record_word` records do not have, naming the closest known one:
/// "sum: field cots does not exist on interaction log entry; did you mean cost?; use one of: …".
pub fn unknown_field(
    what: impl Into<String>,
    record_word: &str,
    field: &str,
    known: &[String],
) -> Error {
    let problem = match closest(field, known.iter().map(String::as_str)) {
        Some(f) => format!("{field} does not exist on {record_word}; did you mean {f}?"),
        None => format!("{field} does not exist on {record_word}"),
    };
    let fix = if known.is_empty() {
        "declare it first with field_define".to_string()
    } else {
        format!(
            "use one of: {}; or declare it with field_define",
            known.join(", ")
        )
    };
    Error::invalid(what, "field", problem, fix)
}

/// A field name a script, a filter and a CSV header can all write: a letter or `_`, then
/// letters, digits and `_`.
fn check_name(def: &FieldDef) -> Result<()> {
    let record = format!("field {}", def.name);
    let mut chars = def.name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::invalid(
            record,
            "name",
            "is not a field name",
            "start with a letter, then use letters, digits and _ (e.g. no_letters)",
        ));
    }
    if def.name.len() > MAX_FIELD_NAME {
        return Err(Error::invalid(
            record,
            "name",
            format!("is {} characters long", def.name.len()),
            format!("use at most {MAX_FIELD_NAME}"),
        ));
    }
    if def.record.built_in().contains(&def.name.as_str()) {
        return Err(Error::invalid(
            record,
            "name",
            format!("is a built-in field of {}", def.record.word()),
            "give the custom field another name",
        ));
    }
    check_length(
        &format!("field {}", def.name),
        "description",
        &def.description,
    )
}

impl View<'_> {
    /// The declared fields of one kind of record, by name.
    pub fn declared_fields(&self, record: FieldRecord) -> Result<Vec<FieldDef>> {
        layout::records_under(self.kv, tables::FIELDS, &keys::fields_of(record))
    }

    /// Every declared field, by kind of record and name.
    pub fn all_declared_fields(&self) -> Result<Vec<FieldDef>> {
        layout::all_records(self.kv, tables::FIELDS)
    }

    /// One declared field.
    pub fn declared_field(&self, record: FieldRecord, name: &str) -> Result<Option<FieldDef>> {
        layout::get(self.kv, tables::FIELDS, &keys::field_def(record, name))
    }

    /// The fields a record of this kind has: the built-in ones, then the declared ones.
    pub fn field_names(&self, record: FieldRecord) -> Result<Vec<String>> {
        let mut names: Vec<String> = record.built_in().iter().map(ToString::to_string).collect();
        names.extend(self.declared_fields(record)?.into_iter().map(|d| d.name));
        Ok(names)
    }

    /// The custom values of a salesperson, template, campaign or entry (by its id: code, no,
    /// or [`entry_id`]).
    pub fn custom_values(
        &self,
        record: FieldRecord,
        id: &str,
    ) -> Result<BTreeMap<String, FieldValue>> {
        let prefix = keys::custom_values_of(record, id);
        let mut out = BTreeMap::new();
        layout::scan_prefix(
            self.kv,
            tables::CUSTOM_VALUES,
            &prefix,
            Order::Ascending,
            &mut |k, v| {
                if let Some(name) = layout::after_prefix(k, &prefix).str() {
                    out.insert(name, codec::decode(v, "custom value")?);
                }
                Ok(true)
            },
        )?;
        Ok(out)
    }

    /// Checks custom values against the declarations: each field declared for `record`, each
    /// value of its type and length. `label` names the record in errors ("contact CT000001").
    pub fn check_custom_values(
        &self,
        record: FieldRecord,
        label: &str,
        values: &BTreeMap<String, FieldValue>,
    ) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        self.check_custom_values_in(&self.declared_fields(record)?, record, label, values)
    }

    /// [`View::check_custom_values`] against fields the caller read (`declared`, of `record`).
    pub(crate) fn check_custom_values_in(
        &self,
        declared: &[FieldDef],
        record: FieldRecord,
        label: &str,
        values: &BTreeMap<String, FieldValue>,
    ) -> Result<()> {
        for (name, value) in values {
            let Some(def) = declared.iter().find(|d| &d.name == name) else {
                if record.built_in().contains(&name.as_str()) {
                    return Err(Error::invalid(
                        label,
                        "field",
                        format!(
                            "{name} is a built-in field of {}, not a custom one",
                            record.word()
                        ),
                        format!("set the {} field {name} itself", record.word()),
                    ));
                }
                let known = self.field_names(record)?;
                return Err(unknown_field(label, record.word(), name, &known));
            };
            if !def.field_type.admits(value) {
                let found = FieldType::of(value).map_or("empty", FieldType::as_str);
                return Err(Error::invalid(
                    label,
                    "field",
                    format!("{name} is a {} field, not {found}", def.field_type),
                    format!("give {}", def.field_type.example()),
                ));
            }
            if let FieldValue::Text(text) = value {
                check_length(&format!("{label}, field {name}"), "value", text)?;
            }
            // Not a number a file can hold (JSON has no NaN): an export would lose it.
            if let FieldValue::Number(n) = value
                && !n.is_finite()
            {
                return Err(Error::invalid(
                    label,
                    "field",
                    format!("{name} is {n}, which is not a number a record can keep"),
                    "give a finite number",
                ));
            }
        }
        Ok(())
    }

    /// A record that holds a value of the field, named for an error; `None` when unused.
    pub fn custom_field_user(&self, record: FieldRecord, name: &str) -> Result<Option<String>> {
        let mut user = None;
        if record == FieldRecord::Contact {
            layout::scan_all(self.kv, tables::CONTACTS, Order::Ascending, &mut |_, v| {
                let c: ContactView<'_> = codec::decode_in_place(v, "contact")?;
                if c.custom(name)
                    .is_some_and(|v| *v != crate::model::FieldValueView::Empty)
                {
                    user = Some(format!("contact {}", c.no));
                }
                Ok(user.is_none())
            })?;
            return Ok(user);
        }
        let prefix = keys::custom_values_of_kind(record);
        layout::scan_prefix(
            self.kv,
            tables::CUSTOM_VALUES,
            &prefix,
            Order::Ascending,
            &mut |k, _| {
                let mut rest = layout::after_prefix(k, &prefix);
                if let (Some(id), Some(field)) = (rest.str(), rest.str())
                    && field == name
                {
                    let id = match record {
                        FieldRecord::Entry => id.trim_start_matches('0').to_string(),
                        _ => id,
                    };
                    user = Some(format!("{} {id}", record.word()));
                }
                Ok(user.is_none())
            },
        )?;
        Ok(user)
    }
}

impl Tx<'_> {
    /// Declares a custom field, or changes its description (or its type, while no record
    /// holds a value).
    pub fn field_define(&mut self, def: &FieldDef) -> Result<()> {
        check_name(def)?;
        self.entry_fields = None;
        if let Some(batch) = &mut self.pending_contacts {
            batch.declared = None;
        }
        self.put_field(def)
    }

    /// Declares a field a file already used before fields were declared: its name is kept as
    /// it is (the name rule is for new fields).
    pub(crate) fn put_field(&mut self, def: &FieldDef) -> Result<()> {
        let view = self.view();
        if let Some(old) = view.declared_field(def.record, &def.name)?
            && old.field_type != def.field_type
            && let Some(user) = view.custom_field_user(def.record, &def.name)?
        {
            return Err(Error::in_use(
                format!("field {} of {}", def.name, def.record.word()),
                format!("is a {} field and {user} has a value", old.field_type),
                "keep its type, or clear its values before you change it",
            ));
        }
        layout::put(
            self.kv,
            tables::FIELDS,
            &keys::field_def(def.record, &def.name),
            def,
        )
    }

    /// Removes a declared field that no record uses.
    pub fn field_remove(&mut self, record: FieldRecord, name: &str) -> Result<()> {
        if let Some(batch) = &mut self.pending_contacts {
            batch.declared = None;
        }
        let label = format!("field {name} of {}", record.word());
        if self.view().declared_field(record, name)?.is_none() {
            let known: Vec<String> = self
                .view()
                .declared_fields(record)?
                .into_iter()
                .map(|d| d.name)
                .collect();
            let fix = match closest(name, known.iter().map(String::as_str)) {
                Some(k) => format!("did you mean {k}? fields() lists the declared fields"),
                None => "fields() lists the declared fields".to_string(),
            };
            return Err(Error::invalid(label, "name", "is not declared", fix));
        }
        if let Some(user) = self.view().custom_field_user(record, name)? {
            return Err(Error::in_use(
                label,
                format!("{user} has a value"),
                format!("clear it on every record first (set {name} to ())"),
            ));
        }
        layout::remove(self.kv, tables::FIELDS, &keys::field_def(record, name))?;
        Ok(())
    }

    /// Sets custom values of a salesperson, template, campaign or entry (checked against the
    /// declarations; an empty value removes one).
    pub fn custom_values_set(
        &mut self,
        record: FieldRecord,
        id: &str,
        label: &str,
        values: &BTreeMap<String, FieldValue>,
    ) -> Result<()> {
        self.view().check_custom_values(record, label, values)?;
        for (name, value) in values {
            let key = keys::custom_value(record, id, name);
            if *value == FieldValue::Empty {
                layout::remove(self.kv, tables::CUSTOM_VALUES, &key)?;
            } else {
                layout::put(self.kv, tables::CUSTOM_VALUES, &key, value)?;
            }
        }
        Ok(())
    }

    /// Whether entries may hold custom values: any entry field declared (read once per
    /// transaction, so removing many entries does not look for values each has none of).
    pub(crate) fn entries_may_have_custom_values(&mut self) -> Result<bool> {
        if let Some(known) = self.entry_fields {
            return Ok(known);
        }
        let any = layout::any_under(
            &*self.kv,
            tables::FIELDS,
            &keys::fields_of(FieldRecord::Entry),
        )?;
        self.entry_fields = Some(any);
        Ok(any)
    }

    /// Removes every custom value of a record (when the record goes).
    pub fn custom_values_clear(&mut self, record: FieldRecord, id: &str) -> Result<()> {
        layout::remove_under(
            self.kv,
            tables::CUSTOM_VALUES,
            &keys::custom_values_of(record, id),
        )
    }

    /// Declares the custom fields contacts hold in a file written before fields were declared:
    /// each with the type of its values, or text when they differ (those values become text).
    pub(crate) fn declare_existing_contact_fields(&mut self) -> Result<()> {
        let mut seen: BTreeMap<String, Option<FieldType>> = BTreeMap::new();
        let mut mixed = false;
        layout::scan_all(
            &*self.kv,
            tables::CONTACTS,
            Order::Ascending,
            &mut |_, v| {
                let c: crate::model::Contact = codec::decode(v, "contact")?;
                for (name, value) in &c.custom {
                    let Some(t) = FieldType::of(value) else {
                        continue;
                    };
                    let slot = seen.entry(name.clone()).or_insert(Some(t));
                    if *slot != Some(t) {
                        mixed = true;
                        *slot = None;
                    }
                }
                Ok(true)
            },
        )?;
        for (name, t) in &seen {
            if self
                .view()
                .declared_field(FieldRecord::Contact, name)?
                .is_none()
            {
                self.put_field(&FieldDef {
                    record: FieldRecord::Contact,
                    name: name.clone(),
                    field_type: t.unwrap_or(FieldType::Text),
                    description: String::new(),
                })?;
            }
        }
        if mixed {
            let mut changed = Vec::new();
            layout::scan_all(
                &*self.kv,
                tables::CONTACTS,
                Order::Ascending,
                &mut |k, v| {
                    let mut c: crate::model::Contact = codec::decode(v, "contact")?;
                    let mut touched = false;
                    for (name, value) in &mut c.custom {
                        if seen.get(name) == Some(&None)
                            && !matches!(value, FieldValue::Text(_) | FieldValue::Empty)
                        {
                            *value = FieldValue::Text(value.to_string());
                            touched = true;
                        }
                    }
                    if touched {
                        changed.push((k.to_vec(), codec::encode(&c)?));
                    }
                    Ok(true)
                },
            )?;
            for (k, v) in changed {
                self.kv.put(tables::CONTACTS, &k, &v)?;
            }
        }
        Ok(())
    }
}
