//! Reading records for the query layer: the records of one kind, from their table or from one
//! of the engine's indexes, in resumable runs. The caller decodes each stored value (with
//! [`crate::store::codec`] into the [`crate::model`] type of its source) and says when to stop;
//! between runs it holds only a [`Cursor`], never a borrow of the transaction, so it may write
//! in between (a script's `.each(|e| cancel(e))`).

use crate::error::Result;
use crate::layout::{self, keys, tables};
use crate::model::DocumentType;
use crate::store::key::Key;
use crate::store::{Order, Table};

use super::View;

/// Index keys read per run of an index scan before their records are fetched.
const INDEX_CHUNK: usize = 256;

/// The kinds of record a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSource {
    /// Contacts ([`crate::model::Contact`], or in place as [`crate::model::ContactView`]).
    Contacts,
    /// Interaction log entries ([`crate::model::InteractionLogEntry`]).
    Entries,
    /// Interaction templates.
    Templates,
    /// Interaction groups.
    Groups,
    /// Segment headers.
    Segments,
    /// Logged segments.
    LoggedSegments,
    /// Campaigns.
    Campaigns,
    /// Campaign entries.
    CampaignEntries,
    /// Salespeople.
    Salespeople,
    /// The operations of the history ([`crate::model::Operation`]).
    Operations,
}

impl RecordSource {
    fn table(self) -> Table {
        match self {
            RecordSource::Contacts => tables::CONTACTS,
            RecordSource::Entries => tables::ENTRIES,
            RecordSource::Templates => tables::TEMPLATES,
            RecordSource::Groups => tables::GROUPS,
            RecordSource::Segments => tables::SEGMENTS,
            RecordSource::LoggedSegments => tables::LOGGED_SEGMENTS,
            RecordSource::Campaigns => tables::CAMPAIGNS,
            RecordSource::CampaignEntries => tables::CAMPAIGN_ENTRIES,
            RecordSource::Salespeople => tables::SALESPEOPLE,
            RecordSource::Operations => tables::JOURNAL,
        }
    }
}

/// An index of interaction log entries, with the value looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryIndex {
    /// By contact no.
    Contact(String),
    /// By the contact's company no.
    Company(String),
    /// By template code.
    Template(String),
    /// By group code.
    Group(String),
    /// By salesperson code.
    Salesperson(String),
    /// By logged segment no.
    LoggedSegment(u64),
    /// By campaign entry no.
    CampaignEntry(u64),
    /// By document type.
    DocumentType(DocumentType),
    /// By document type and no.
    Document(DocumentType, String),
    /// The canceled entries.
    Canceled,
    /// The postponed entries.
    Postponed,
}

impl EntryIndex {
    fn prefix(&self) -> Key {
        match self {
            EntryIndex::Contact(no) => keys::entries_of_contact(no),
            EntryIndex::Company(no) => keys::entries_of_company(no),
            EntryIndex::Template(code) => keys::entries_of_template(code),
            EntryIndex::Group(code) => keys::entries_of_group(code),
            EntryIndex::Salesperson(code) => keys::entries_of_salesperson(code),
            EntryIndex::LoggedSegment(no) => keys::entries_of_logged_segment(*no),
            EntryIndex::CampaignEntry(no) => keys::entries_of_campaign_entry(*no),
            EntryIndex::DocumentType(t) => keys::entries_of_document_type(*t),
            EntryIndex::Document(t, no) => keys::entries_of_document(*t, no),
            EntryIndex::Canceled => keys::canceled_entries(),
            EntryIndex::Postponed => keys::postponed_entries(),
        }
    }
}

/// An index of contacts, with the value looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactIndex {
    /// By company no (a company is under itself).
    Company(String),
    /// By name, without regard to case.
    Name(String),
    /// By one of [`super::INDEXED_CONTACT_FIELDS`], without regard to case.
    Field {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
    },
}

impl ContactIndex {
    fn prefix(&self) -> Key {
        match self {
            ContactIndex::Company(no) => keys::contacts_of_company(no),
            ContactIndex::Name(name) => keys::contacts_named(name),
            ContactIndex::Field { field, value } => {
                keys::contacts_with_field(field, &value.to_lowercase())
            }
        }
    }
}

/// How a scan finds its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanPath {
    /// Every record of the source, in key order.
    Table,
    /// The entries under one entry index (the source is entries).
    Entries(EntryIndex),
    /// The contacts under one contact index (the source is contacts).
    Contacts(ContactIndex),
}

/// Where a scan stopped; the next run goes on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(Vec<u8>);

impl Cursor {
    /// The first key after this one.
    fn next_key(&self) -> Vec<u8> {
        let mut k = self.0.clone();
        k.push(0);
        k
    }
}

impl View<'_> {
    /// Visits the stored values of the records of `source` along `path`, from after `after`,
    /// until `visit` returns `false` (after that record) or the records end. Returns where it
    /// stopped, to continue from; `None` when it visited nothing (the records are done).
    pub fn scan_records(
        &self,
        source: RecordSource,
        path: &ScanPath,
        after: Option<&Cursor>,
        visit: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<Option<Cursor>> {
        let start = |prefix: &[u8]| -> Vec<u8> {
            after.map_or_else(|| prefix.to_vec(), |c| c.next_key().max(prefix.to_vec()))
        };
        let mut last = None;
        match path {
            ScanPath::Table => {
                // One buffer for the last key, not one allocation a record.
                let mut key = Vec::new();
                layout::scan(
                    self.kv,
                    source.table(),
                    &start(&[]),
                    None,
                    Order::Ascending,
                    &mut |k, v| {
                        key.clear();
                        key.extend_from_slice(k);
                        visit(v)
                    },
                )?;
                if !key.is_empty() {
                    last = Some(key);
                }
            }
            ScanPath::Entries(index) => {
                let prefix = index.prefix();
                for key in self.index_chunk(tables::ENTRY_INDEX, &prefix, &start)? {
                    let no = layout::trailing_u64(&key);
                    let record = self.kv.get(source.table(), keys::no(no).as_bytes())?;
                    last = Some(key);
                    if let Some(bytes) = record
                        && !visit(&bytes)?
                    {
                        break;
                    }
                }
            }
            ScanPath::Contacts(index) => {
                let prefix = index.prefix();
                for key in self.index_chunk(tables::CONTACT_INDEX, &prefix, &start)? {
                    let no = layout::after_prefix(&key, &prefix)
                        .str()
                        .unwrap_or_default();
                    let record = self.kv.get(source.table(), keys::code(&no).as_bytes())?;
                    last = Some(key);
                    if let Some(bytes) = record
                        && !visit(&bytes)?
                    {
                        break;
                    }
                }
            }
        }
        Ok(last.map(Cursor))
    }

    /// Visits the contacts, in key order from after `after`, whose row of the contact columns
    /// `test` does not drop — with their stored records, unless it says
    /// [`super::RowVerdict::Keep`] (a contact dropped or kept on its row is never read as a
    /// record) — until `visit` returns `false`. Returns where it stopped, as
    /// [`View::scan_records`] does (the cursors of both are alike: a scan may go on with
    /// either); `None` when there was no contact left.
    pub fn scan_contacts_by_columns(
        &self,
        after: Option<&Cursor>,
        test: &mut super::RowTest<'_>,
        visit: &mut super::RowVisit<'_>,
    ) -> Result<Option<Cursor>> {
        Ok(self
            .scan_contact_columns(after.map(|c| c.0.as_slice()), test, visit)?
            .map(Cursor))
    }

    /// Up to [`INDEX_CHUNK`] index keys under `prefix`, from where `start` says.
    fn index_chunk(
        &self,
        table: Table,
        prefix: &Key,
        start: &dyn Fn(&[u8]) -> Vec<u8>,
    ) -> Result<Vec<Vec<u8>>> {
        let mut found = Vec::new();
        let end = prefix.prefix_end();
        layout::scan(
            self.kv,
            table,
            &start(prefix.as_bytes()),
            end.as_deref(),
            Order::Ascending,
            &mut |k, _| {
                found.push(k.to_vec());
                Ok(found.len() < INDEX_CHUNK)
            },
        )?;
        Ok(found)
    }

    /// How many contacts have `value` (without regard to case) in the indexed contact field
    /// `field`: one read of the index's counter.
    pub fn count_contacts_with(&self, field: &str, value: &str) -> Result<u64> {
        Ok(layout::get(
            self.kv,
            tables::CONTACT_INDEX,
            &keys::contact_field_count(field, &value.to_lowercase()),
        )?
        .unwrap_or(0))
    }
}
