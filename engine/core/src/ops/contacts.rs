//! Contacts (spec 1, Contact): create, change, delete with the spec's rules, business relations,
//! and the contact indexes (by name, by company, and by the indexed fields with a count per value).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::rules::{check_id, check_length};
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    AccountKind, BusinessRelation, Contact, ContactFilter, ContactKind, ContactSelector,
    Correspondence, FieldDef, FieldRecord, FieldTest, FieldValue, normalize_code,
};
use crate::store::key::Key;
use crate::store::{KvWrite, Order, Table, codec};

fn name_key(c: &Contact) -> Key {
    keys::contact_by_name(&c.name, &c.no)
}

fn company_key(c: &Contact) -> Option<Key> {
    (!c.company_no.is_empty()).then(|| keys::contact_by_company(&c.company_no, &c.no))
}

/// The contact fields with an index (and a count per value): `.filter(#{city: …})` reads the
/// index, and `.count()` of it reads one counter. Values are indexed in lower case, as
/// `.filter` compares text without regard to case.
pub const INDEXED_CONTACT_FIELDS: &[&str] = &["city"];

/// How [`Tx::contact_delete_with`] deletes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactDeleteOptions {
    /// Delete a company's persons with it (else a company with persons is refused).
    pub with_persons: bool,
}

/// What a contact deletion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactDeletion {
    /// The contacts deleted: the persons first, then the contact asked for.
    pub contacts: Vec<String>,
    /// The entries whose contact fields were moved to the company or cleared (they stay).
    pub entries_changed: Vec<u64>,
    /// The business relations deleted with the contacts.
    pub relations: Vec<BusinessRelation>,
}

/// What many contacts created in one operation share, read once instead of once a contact
/// (see [`Tx::batch_contacts`]).
#[derive(Debug, Default)]
pub(crate) struct ContactBatch {
    /// The declared contact fields (forgotten when a field is declared or removed).
    pub(crate) declared: Option<Vec<FieldDef>>,
    /// Contacts known to exist, by no: whether each is a company (forgotten when a contact
    /// changes or goes).
    kinds: HashMap<String, bool>,
    /// Salespeople known to exist (none is deleted by any workflow).
    salespeople: HashSet<String>,
    /// Changes to the field-value counters, summed per counter key.
    counts: BTreeMap<Vec<u8>, i64>,
}

/// (field index key, count key) of each indexed field of `c`.
fn field_keys(c: &Contact) -> impl Iterator<Item = (Key, Key)> + '_ {
    INDEXED_CONTACT_FIELDS.iter().map(|field| {
        let value = c.field(field).to_string().to_lowercase();
        (
            keys::contact_field(field, &value, &c.no),
            keys::contact_field_count(field, &value),
        )
    })
}

/// Adds `delta` to the field-value counter under `count` (deleted when it comes to zero).
fn write_count(kv: &mut dyn KvWrite, count: &[u8], delta: i64) -> Result<()> {
    let n: u64 = match kv.get(tables::CONTACT_INDEX, count)? {
        Some(bytes) => codec::decode(&bytes, tables::CONTACT_INDEX.name())?,
        None => 0,
    };
    let n = n.saturating_add_signed(delta);
    if n == 0 {
        kv.remove(tables::CONTACT_INDEX, count)?;
    } else {
        kv.put(tables::CONTACT_INDEX, count, &codec::encode(&n)?)?;
    }
    Ok(())
}

impl Tx<'_> {
    /// Creates a contact and returns its no (from the series `CT000001`, … unless given).
    pub fn contact_create(&mut self, contact: Contact) -> Result<String> {
        let mut c = contact;
        c.no = normalize_code(&c.no);
        // Only here: a contact an older rapport stored under a longer no can still be changed.
        check_id("contact", "no", &c.no)?;
        let mut free = None;
        if c.no.is_empty() {
            let number = self
                .view()
                .free_number("contact", tables::CONTACTS, |n| format!("CT{n:06}"))?;
            c.no.clone_from(&number.no);
            free = Some(number);
        } else if self.view().contact(&c.no)?.is_some() {
            return Err(Error::AlreadyExists {
                record: "contact",
                key: c.no,
                field: "no",
            });
        }
        if c.correspondence == Correspondence::Blank {
            c.correspondence = Correspondence::Email;
        }
        self.check_contact(&mut c)?;
        if let Some(free) = &free {
            self.take_number(free)?;
        }
        self.write_contact(None, &c)?;
        if let Some(batch) = &mut self.pending_contacts {
            batch.kinds.insert(c.no.clone(), !c.is_person());
        }
        Ok(c.no)
    }

    /// Replaces a contact's fields. Changing `kind` is refused once an entry names the contact.
    pub fn contact_update(&mut self, contact: Contact) -> Result<()> {
        let mut c = contact;
        c.no = normalize_code(&c.no);
        let old = self
            .view()
            .contact(&c.no)?
            .ok_or_else(|| Error::not_found("contact", &c.no))?;
        if old.kind != c.kind {
            if self.view().contact_is_logged(&c.no)? {
                return Err(Error::in_use(
                    format!("contact {}", c.no),
                    format!(
                        "its kind cannot change from {} to {}: interaction log entries name it",
                        old.kind, c.kind
                    ),
                    "create a new contact of the other kind instead",
                ));
            }
            if old.kind == ContactKind::Company && !self.view().persons_of(&c.no)?.is_empty() {
                return Err(Error::in_use(
                    format!("contact {}", c.no),
                    "it cannot become a person while persons belong to it",
                    "move its persons to another company first",
                ));
            }
        }
        self.check_contact(&mut c)?;
        self.write_contact(Some(&old), &c)
    }

    /// Deletes a contact. Refused while an unlogged segment line names it, or while persons belong
    /// to the company. A person's entries move to its company; a company's entries keep their data
    /// with the contact fields cleared. Its business relations go.
    pub fn contact_delete(&mut self, no: &str) -> Result<()> {
        self.contact_delete_with(no, ContactDeleteOptions::default())
            .map(|_| ())
    }

    /// Deletes a contact and says what went (spec 1, Contact). A person's entries move to its
    /// company; a company's entries keep their data with the contact fields cleared. A company
    /// with persons is refused unless `options.with_persons`: then its persons go with it,
    /// with their business relations, and their entries' contact fields are cleared too.
    pub fn contact_delete_with(
        &mut self,
        no: &str,
        options: ContactDeleteOptions,
    ) -> Result<ContactDeletion> {
        let no = normalize_code(no);
        let contact = self
            .view()
            .contact(&no)?
            .ok_or_else(|| Error::not_found("contact", &no))?;
        let record = format!("contact {no}");
        let persons = if contact.is_person() {
            Vec::new()
        } else {
            self.view().persons_of(&no)?
        };
        if !persons.is_empty() && !options.with_persons {
            return Err(Error::in_use(
                &record,
                format!(
                    "{} person(s) belong to this company, starting with {}",
                    persons.len(),
                    persons[0].no
                ),
                format!(
                    "delete its persons or move them to another company first, or delete them with it: contact_delete(\"{no}\", #{{with_persons: true}})"
                ),
            ));
        }
        // Every contact that goes is checked before anything is written.
        for c in std::iter::once(&contact).chain(&persons) {
            self.check_not_on_a_segment(c)?;
        }
        let mut entry_nos = std::collections::BTreeSet::new();
        if contact.is_person() {
            entry_nos.extend(
                self.view()
                    .entry_nos(&keys::entries_of_contact(&no), Order::Ascending)?,
            );
        } else {
            entry_nos.extend(
                self.view()
                    .entry_nos(&keys::entries_of_company(&no), Order::Ascending)?,
            );
            for p in &persons {
                entry_nos.extend(
                    self.view()
                        .entry_nos(&keys::entries_of_contact(&p.no), Order::Ascending)?,
                );
            }
        }
        for &entry_no in &entry_nos {
            let old = self.require_entry(entry_no)?;
            let mut new = old.clone();
            if contact.is_person() && !contact.company_no.is_empty() {
                new.contact_no.clone_from(&contact.company_no);
            } else {
                new.contact_no.clear();
                new.contact_company_no.clear();
            }
            self.update_entry(&old, &new)?;
        }
        let mut deletion = ContactDeletion {
            entries_changed: entry_nos.into_iter().collect(),
            ..ContactDeletion::default()
        };
        for c in persons.iter().chain(std::iter::once(&contact)) {
            deletion.relations.extend(self.remove_contact(c)?);
            deletion.contacts.push(c.no.clone());
        }
        Ok(deletion)
    }

    /// Refuses to delete a contact that is on a line of a segment not logged yet.
    fn check_not_on_a_segment(&self, contact: &Contact) -> Result<()> {
        let lines = keys::segment_lines_of_contact(&contact.no);
        let mut segment = None;
        layout::scan_prefix(
            &*self.kv,
            tables::CONTACT_INDEX,
            &lines,
            Order::Ascending,
            &mut |k, _| {
                segment = layout::after_prefix(k, &lines).str();
                Ok(false)
            },
        )?;
        match segment {
            Some(segment) => Err(Error::in_use(
                format!("contact {}", contact.no),
                format!("it is on a line of segment {segment}, which is not logged"),
                format!("remove it from segment {segment} first"),
            )),
            None => Ok(()),
        }
    }

    /// Deletes a contact's record, indexes and business relations; returns the relations.
    pub(super) fn remove_contact(&mut self, contact: &Contact) -> Result<Vec<BusinessRelation>> {
        let relations = self.view().relations_of(&contact.no)?;
        for relation in &relations {
            layout::remove(
                self.kv,
                tables::RELATIONS,
                &keys::relation(relation.kind, &relation.account_no),
            )?;
            layout::remove(
                self.kv,
                tables::CONTACT_INDEX,
                &keys::contact_relation(&contact.no, relation.kind, &relation.account_no),
            )?;
        }
        self.unindex_contact(contact)?;
        layout::remove(self.kv, tables::CONTACTS, &keys::code(&contact.no))?;
        self.columns_remove(&contact.no)?;
        Ok(relations)
    }

    /// Links an outside account (`customer` or `vendor` + its no) to a contact.
    pub fn relation_link(
        &mut self,
        contact_no: &str,
        kind: AccountKind,
        account_no: &str,
    ) -> Result<()> {
        let contact_no = normalize_code(contact_no);
        let account_no = normalize_code(account_no);
        check_id(
            &format!("business relation {kind}"),
            "account_no",
            &account_no,
        )?;
        let record = format!("business relation {kind} {account_no}");
        if kind == AccountKind::Contact {
            return Err(Error::invalid(
                &record,
                "kind",
                "is \"contact\"",
                "link a \"customer\" or a \"vendor\"",
            ));
        }
        if account_no.is_empty() {
            return Err(Error::required(
                &record,
                "account_no",
                format!("give the {kind}'s no"),
            ));
        }
        if self.view().contact(&contact_no)?.is_none() {
            return Err(Error::not_found("contact", &contact_no));
        }
        if let Some(existing) = self.view().relation(kind, &account_no)? {
            if existing.contact_no != contact_no {
                return Err(Error::in_use(
                    &record,
                    format!("it is linked to contact {} already", existing.contact_no),
                    "unlink it first",
                ));
            }
            return Ok(());
        }
        let relation = BusinessRelation {
            kind,
            account_no: account_no.clone(),
            contact_no: contact_no.clone(),
        };
        layout::put(
            self.kv,
            tables::RELATIONS,
            &keys::relation(kind, &account_no),
            &relation,
        )?;
        layout::mark(
            self.kv,
            tables::CONTACT_INDEX,
            &keys::contact_relation(&contact_no, kind, &account_no),
        )
    }

    fn check_contact(&mut self, c: &mut Contact) -> Result<()> {
        let record = format!("contact {}", c.no);
        if c.name.trim().is_empty() {
            return Err(Error::required(&record, "name", "give the contact a name"));
        }
        for field in Contact::FIELDS {
            if let FieldValue::Text(text) = c.field(field) {
                check_length(&record, field, &text)?;
            }
        }
        if !c.custom.is_empty() {
            // Inside a batch the declared fields are read once and lent to each contact.
            let declared = match self
                .pending_contacts
                .as_mut()
                .and_then(|b| b.declared.take())
            {
                Some(declared) => declared,
                None => self.view().declared_fields(FieldRecord::Contact)?,
            };
            let checked = self.view().check_custom_values_in(
                &declared,
                FieldRecord::Contact,
                &record,
                &c.custom,
            );
            if let Some(batch) = &mut self.pending_contacts {
                batch.declared = Some(declared);
            }
            checked?;
        }
        c.company_no = normalize_code(&c.company_no);
        c.salesperson = normalize_code(&c.salesperson);
        c.language = normalize_code(&c.language);
        match c.kind {
            ContactKind::Company => {
                if !c.company_no.is_empty() && c.company_no != c.no {
                    return Err(Error::invalid(
                        &record,
                        "company_no",
                        format!("is {}, but a company is its own company", c.company_no),
                        "leave company_no blank for a company, or make the contact a person",
                    ));
                }
                c.company_no.clone_from(&c.no);
            }
            ContactKind::Person if !c.company_no.is_empty() => {
                let known = self
                    .pending_contacts
                    .as_ref()
                    .and_then(|b| b.kinds.get(&c.company_no).copied());
                let is_company = if let Some(is_company) = known {
                    is_company
                } else {
                    let company = self
                        .view()
                        .contact(&c.company_no)?
                        .ok_or_else(|| Error::not_found("contact", &c.company_no))?;
                    let is_company = !company.is_person();
                    if let Some(batch) = &mut self.pending_contacts {
                        batch.kinds.insert(company.no, is_company);
                    }
                    is_company
                };
                if !is_company {
                    return Err(Error::invalid(
                        &record,
                        "company_no",
                        format!("names {}, which is a person", c.company_no),
                        "name a company contact",
                    ));
                }
            }
            ContactKind::Person => {}
        }
        let known = self
            .pending_contacts
            .as_ref()
            .is_some_and(|b| b.salespeople.contains(&c.salesperson));
        if !c.salesperson.is_empty() && !known {
            if self.view().salesperson(&c.salesperson)?.is_none() {
                return Err(Error::not_found("salesperson", &c.salesperson));
            }
            if let Some(batch) = &mut self.pending_contacts {
                batch.salespeople.insert(c.salesperson.clone());
            }
        }
        Ok(())
    }

    pub(super) fn write_contact(&mut self, old: Option<&Contact>, c: &Contact) -> Result<()> {
        if let Some(old) = old {
            self.unindex_contact(old)?;
        }
        layout::mark(self.kv, tables::CONTACT_INDEX, &name_key(c))?;
        if let Some(k) = company_key(c) {
            layout::mark(self.kv, tables::CONTACT_INDEX, &k)?;
        }
        self.index_contact_fields(c)?;
        if old.is_none() {
            // A new contact: its no was checked free.
            layout::insert(self.kv, tables::CONTACTS, &keys::code(&c.no), c)?;
        } else {
            layout::put(self.kv, tables::CONTACTS, &keys::code(&c.no), c)?;
        }
        self.columns_put(c)
    }

    /// Adds `c` to the field indexes and their counts.
    fn index_contact_fields(&mut self, c: &Contact) -> Result<()> {
        for (index, count) in field_keys(c) {
            layout::mark(self.kv, tables::CONTACT_INDEX, &index)?;
            self.change_count(&count, 1)?;
        }
        Ok(())
    }

    /// Adds `delta` to a field-value counter (deleted when it comes to zero); inside
    /// [`Tx::batch_contacts`], summed and written once at its end.
    fn change_count(&mut self, count: &Key, delta: i64) -> Result<()> {
        if let Some(batch) = &mut self.pending_contacts {
            *batch.counts.entry(count.as_bytes().to_vec()).or_default() += delta;
            return Ok(());
        }
        write_count(self.kv, count.as_bytes(), delta)
    }

    /// Runs `work`, in which many contacts are created (an import), reading what they share
    /// once: the declared fields, each company and salesperson they name, and each field-value
    /// counter (changes summed, each counter read and written once at the end). The result is
    /// the same as without it (inside it, the counters read are those from before it); nested
    /// calls join the outer one.
    pub fn batch_contacts<T>(&mut self, work: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.pending_contacts.is_some() {
            return work(self);
        }
        self.pending_contacts = Some(ContactBatch::default());
        let outcome = self.batch_columns(work);
        let batch = self.pending_contacts.take().unwrap_or_default();
        let value = outcome?;
        let changed: Vec<(Vec<u8>, i64)> =
            batch.counts.into_iter().filter(|(_, d)| *d != 0).collect();
        for (i, (key, delta)) in changed.iter().enumerate() {
            layout::prefetch_at(&*self.kv, tables::CONTACT_INDEX, &changed, i, |(k, _)| {
                k.clone()
            })?;
            write_count(self.kv, key, *delta)?;
        }
        Ok(value)
    }

    /// Builds the field indexes from the contacts, in place of whatever is there (after an
    /// upgrade that indexes other fields).
    pub(crate) fn rebuild_contact_field_index(&mut self) -> Result<()> {
        let stored = self.view().contact_field_index_stored()?;
        let expected = self.view().contact_field_index_expected()?;
        for key in stored.keys() {
            self.kv.remove(tables::CONTACT_INDEX, key)?;
        }
        for (key, value) in &expected {
            self.kv.put(tables::CONTACT_INDEX, key, value)?;
        }
        Ok(())
    }

    /// Brings the name keys of names too long to keep whole, as rapport before derived shape 4
    /// wrote them (the whole name), to [`keys::contact_by_name`]'s cut and hash; other keys
    /// are the same in both shapes and stay.
    pub(crate) fn rekey_long_names(&mut self) -> Result<()> {
        let prefix = keys::contact_name_index();
        let mut old = Vec::new();
        layout::scan_prefix(
            &*self.kv,
            tables::CONTACT_INDEX,
            &prefix,
            Order::Ascending,
            &mut |k, _| {
                let mut r = layout::after_prefix(k, &prefix);
                if let (Some(name), Some(no)) = (r.str(), r.str()) {
                    let new = keys::contact_by_name(&name, &no);
                    if new.as_bytes() != k {
                        old.push((k.to_vec(), new));
                    }
                }
                Ok(true)
            },
        )?;
        for (k, new) in old {
            self.kv.remove(tables::CONTACT_INDEX, &k)?;
            layout::mark(self.kv, tables::CONTACT_INDEX, &new)?;
        }
        Ok(())
    }

    /// Takes `c` out of the name, company and field indexes.
    pub(super) fn unindex_contact(&mut self, c: &Contact) -> Result<()> {
        layout::remove(self.kv, tables::CONTACT_INDEX, &name_key(c))?;
        if let Some(k) = company_key(c) {
            layout::remove(self.kv, tables::CONTACT_INDEX, &k)?;
        }
        for (index, count) in field_keys(c) {
            layout::remove(self.kv, tables::CONTACT_INDEX, &index)?;
            self.change_count(&count, -1)?;
        }
        if let Some(batch) = &mut self.pending_contacts {
            batch.kinds.remove(&c.no);
        }
        Ok(())
    }

    /// Takes a number found by [`View::free_number`] (its checks passed): the series' counter
    /// moves to it, so it is not handed out again.
    pub(crate) fn take_number(&mut self, free: &FreeNumber) -> Result<()> {
        layout::put(
            self.kv,
            tables::META,
            &keys::counter(free.series),
            &free.counter,
        )
    }
}

/// A number of a series not taken yet, found without writing (see [`View::free_number`]).
pub(crate) struct FreeNumber {
    series: &'static str,
    counter: u64,
    /// The number, formatted.
    pub no: String,
}

impl View<'_> {
    /// The next number of `series` whose formatted key is not taken yet in `table` (numbers
    /// given by hand are skipped). It writes nothing: a workflow checks first, then takes it.
    pub(crate) fn free_number(
        &self,
        series: &'static str,
        table: Table,
        format: impl Fn(u64) -> String,
    ) -> Result<FreeNumber> {
        let mut counter = layout::last_number(self.kv, series)?;
        loop {
            counter += 1;
            let no = format(counter);
            if !layout::exists(self.kv, table, &keys::code(&no))? {
                return Ok(FreeNumber {
                    series,
                    counter,
                    no,
                });
            }
        }
    }

    /// The field index and its counts as the contacts make them: key → stored value.
    pub(crate) fn contact_field_index_expected(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut expected = BTreeMap::new();
        let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        self.each_contact(&mut |c| {
            for (index, count) in field_keys(&c) {
                expected.insert(index.into_bytes(), Vec::new());
                *counts.entry(count.into_bytes()).or_default() += 1;
            }
            Ok(true)
        })?;
        for (key, n) in counts {
            expected.insert(key, codec::encode(&n)?);
        }
        Ok(expected)
    }

    /// The field index and its counts as stored: key → value.
    pub(crate) fn contact_field_index_stored(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut stored = BTreeMap::new();
        for prefix in [keys::contact_field_index(), keys::contact_field_counts()] {
            layout::scan_prefix(
                self.kv,
                tables::CONTACT_INDEX,
                &prefix,
                Order::Ascending,
                &mut |k, v| {
                    stored.insert(k.to_vec(), v.to_vec());
                    Ok(true)
                },
            )?;
        }
        Ok(stored)
    }

    /// A contact by no.
    pub fn contact(&self, no: &str) -> Result<Option<Contact>> {
        layout::get(self.kv, tables::CONTACTS, &keys::code(&normalize_code(no)))
    }

    /// Visits every contact in no order until `visit` returns `false`.
    pub fn each_contact(&self, visit: &mut dyn FnMut(Contact) -> Result<bool>) -> Result<()> {
        layout::scan_all(self.kv, tables::CONTACTS, Order::Ascending, &mut |_, v| {
            visit(codec::decode(v, "contact")?)
        })
    }

    /// Tells the store that the contacts `nos` are about to be read or created (an import
    /// announces its rows a thousand at a time): on a server, one statement reads them all
    /// instead of one a contact. Numbers left blank (from the series) are skipped.
    pub fn prefetch_contacts(&self, nos: &[&str]) -> Result<()> {
        let keys: Vec<Vec<u8>> = nos
            .iter()
            .map(|no| normalize_code(no))
            .filter(|no| !no.is_empty())
            .map(|no| keys::code(&no).into_bytes())
            .collect();
        Ok(self.kv.prefetch(tables::CONTACTS, &keys)?)
    }

    /// Contacts whose name is `name` (without regard to case), from the name index.
    pub fn contacts_named(&self, name: &str) -> Result<Vec<Contact>> {
        self.contacts_under(&keys::contacts_named(name))
    }

    /// The persons of a company, from the company index.
    pub fn persons_of(&self, company_no: &str) -> Result<Vec<Contact>> {
        let company_no = normalize_code(company_no);
        let mut all = self.contacts_under(&keys::contacts_of_company(&company_no))?;
        all.retain(|c| c.no != company_no);
        Ok(all)
    }

    fn contacts_under(&self, prefix: &Key) -> Result<Vec<Contact>> {
        let mut nos = Vec::new();
        layout::scan_prefix(
            self.kv,
            tables::CONTACT_INDEX,
            prefix,
            Order::Ascending,
            &mut |k, _| {
                nos.extend(layout::after_prefix(k, prefix).str());
                Ok(true)
            },
        )?;
        let mut out = Vec::with_capacity(nos.len());
        for no in nos {
            out.extend(self.contact(&no)?);
        }
        Ok(out)
    }

    /// The contacts a selector names, in no order (a filter on `company_no` or `name` equality
    /// reads the index; any other filter reads every contact).
    pub fn select_contacts(&self, selector: &ContactSelector) -> Result<Vec<Contact>> {
        match selector {
            ContactSelector::Contacts(nos) => nos
                .iter()
                .map(|no| {
                    self.contact(no)?
                        .ok_or_else(|| Error::not_found("contact", normalize_code(no)))
                })
                .collect(),
            ContactSelector::Filter(filter) => {
                let mut out = match indexed_equality(filter) {
                    Some(("company_no", v)) => {
                        self.contacts_under(&keys::contacts_of_company(&normalize_code(&v)))?
                    }
                    Some((_, v)) => self.contacts_named(&v)?,
                    None => {
                        let mut all = Vec::new();
                        self.each_contact(&mut |c| {
                            if filter.matches(&c) {
                                all.push(c);
                            }
                            Ok(true)
                        })?;
                        return Ok(all);
                    }
                };
                out.retain(|c| filter.matches(c));
                out.sort_by(|a, b| a.no.cmp(&b.no));
                Ok(out)
            }
        }
    }

    /// Whether an interaction log entry names the contact (as contact or as company).
    pub fn contact_is_logged(&self, no: &str) -> Result<bool> {
        let no = normalize_code(no);
        Ok(
            layout::any_under(self.kv, tables::ENTRY_INDEX, &keys::entries_of_contact(&no))?
                || layout::any_under(self.kv, tables::ENTRY_INDEX, &keys::entries_of_company(&no))?,
        )
    }

    /// The business relation of an account, if any.
    pub fn relation(
        &self,
        kind: AccountKind,
        account_no: &str,
    ) -> Result<Option<BusinessRelation>> {
        layout::get(
            self.kv,
            tables::RELATIONS,
            &keys::relation(kind, &normalize_code(account_no)),
        )
    }

    /// The business relations of a contact.
    pub fn relations_of(&self, contact_no: &str) -> Result<Vec<BusinessRelation>> {
        let prefix = keys::relations_of_contact(&normalize_code(contact_no));
        let mut keys = Vec::new();
        layout::scan_prefix(
            self.kv,
            tables::CONTACT_INDEX,
            &prefix,
            Order::Ascending,
            &mut |k, _| {
                let mut r = layout::after_prefix(k, &prefix);
                if let (Some(kind), Some(account)) = (r.str(), r.str()) {
                    keys.push((kind, account));
                }
                Ok(true)
            },
        )?;
        let mut out = Vec::new();
        for (kind, account) in keys {
            if let Ok(kind) = kind.parse::<AccountKind>() {
                out.extend(self.relation(kind, &account)?);
            }
        }
        Ok(out)
    }
}

/// An equality on an indexed contact field (`company_no` or `name`), if the filter has one.
fn indexed_equality(filter: &ContactFilter) -> Option<(&'static str, String)> {
    filter
        .conditions
        .iter()
        .find_map(|c| match (&c.test, c.field.as_str()) {
            (FieldTest::Equals(FieldValue::Text(v)), "company_no") => {
                Some(("company_no", v.clone()))
            }
            (FieldTest::Equals(FieldValue::Text(v)), "name") => Some(("name", v.clone())),
            _ => None,
        })
}
