//! The storage layout of the records: which table holds what under which key shape, and the
//! typed get/put/scan helpers the workflows use. `ARCHITECTURE.md` describes the same layout.

use serde::{Serialize, de::DeserializeOwned};

use crate::error::Result;
use crate::store::key::{Key, KeyReader};
use crate::store::{KvRead, KvWrite, Order, Table, Visit, codec};

/// Tags of the entry index (table `entry_index`); every key ends with the entry no.
pub mod entry_tag {
    /// (contact no, date, entry no): a contact's timeline.
    pub const CONTACT: u8 = 1;
    /// (company no, date, entry no): a company's timeline (itself and its persons).
    pub const COMPANY: u8 = 2;
    /// (template, entry no).
    pub const TEMPLATE: u8 = 3;
    /// (group, entry no).
    pub const GROUP: u8 = 4;
    /// (salesperson, entry no).
    pub const SALESPERSON: u8 = 5;
    /// (logged segment no, entry no).
    pub const LOGGED_SEGMENT: u8 = 6;
    /// (campaign entry no, entry no).
    pub const CAMPAIGN_ENTRY: u8 = 7;
    /// (document type, document no, entry no).
    pub const DOCUMENT: u8 = 8;
    /// (entry no) of canceled entries.
    pub const CANCELED: u8 = 9;
    /// (entry no) of postponed entries.
    pub const POSTPONED: u8 = 10;
}

/// Tags of the contact index (table `contact_index`).
pub mod contact_tag {
    /// (upper-case name, contact no).
    pub const NAME: u8 = 1;
    /// (company no, contact no).
    pub const COMPANY: u8 = 2;
    /// (contact no, relation kind, account no): business relations of a contact.
    pub const RELATION: u8 = 3;
    /// (contact no, segment no, line no): segment lines naming a contact.
    pub const SEGMENT_LINE: u8 = 4;
    /// (field, lower-case value, contact no): the indexed contact fields
    /// ([`crate::ops::INDEXED_CONTACT_FIELDS`]).
    pub const FIELD: u8 = 5;
    /// (field, lower-case value) → how many contacts have that value.
    pub const FIELD_COUNT: u8 = 6;
}

/// Tags of the lookup table.
pub mod lookup_tag {
    /// (campaign no, segment no, document type) → campaign entry no.
    pub const CAMPAIGN_ENTRY: u8 = 1;
    /// (segment no) → logged segment no.
    pub const LOGGED_SEGMENT: u8 = 2;
    /// (logged segment no, campaign entry no) → nothing.
    pub const LOGGED_SEGMENT_CAMPAIGN_ENTRY: u8 = 3;
}

/// Keys of the meta table.
pub mod meta_key {
    use crate::store::key::Key;

    /// A number series counter by name.
    pub fn counter(series: &str) -> Key {
        Key::new().tag(1).str(series)
    }

    /// The template setup.
    pub fn template_setup() -> Key {
        Key::new().tag(2)
    }

    /// Set once the demo company is loaded.
    pub fn demo_loaded() -> Key {
        Key::new().tag(3)
    }

    /// The plugin settings.
    pub fn plugin_settings() -> Key {
        Key::new().tag(4)
    }

    /// What the derived data (indexes, statistics) of the file was built as: see
    /// `ops::upgrade`.
    pub fn derived_layout() -> Key {
        Key::new().tag(5)
    }
}

/// The key of a record keyed by a code or number string.
pub fn code_key(code: &str) -> Key {
    Key::new().str(code)
}

/// The key of a record keyed by an entry number.
pub fn no_key(no: u64) -> Key {
    Key::new().u64(no)
}

/// Reads and decodes one record.
pub fn get<T: DeserializeOwned>(kv: &dyn KvRead, table: Table, key: &Key) -> Result<Option<T>> {
    match kv.get(table, key.as_bytes())? {
        Some(bytes) => Ok(Some(codec::decode(&bytes, table.name())?)),
        None => Ok(None),
    }
}

/// Encodes and writes one record.
pub fn put<T: Serialize>(kv: &mut dyn KvWrite, table: Table, key: &Key, value: &T) -> Result<()> {
    kv.put(table, key.as_bytes(), &codec::encode(value)?)
}

/// Writes a key with no value (an index entry).
pub fn mark(kv: &mut dyn KvWrite, table: Table, key: &Key) -> Result<()> {
    kv.put(table, key.as_bytes(), &[])
}

/// Whether a key exists.
pub fn exists(kv: &dyn KvRead, table: Table, key: &Key) -> Result<bool> {
    Ok(kv.get(table, key.as_bytes())?.is_some())
}

/// Visits every key starting with `prefix`.
pub fn scan_prefix(
    kv: &dyn KvRead,
    table: Table,
    prefix: &Key,
    order: Order,
    visit: &mut Visit<'_>,
) -> Result<()> {
    kv.scan(table, prefix.as_bytes(), &prefix.prefix_end(), order, visit)
}

/// Collects the trailing entry numbers of the index keys under `prefix`.
pub fn index_nos(kv: &dyn KvRead, table: Table, prefix: &Key, order: Order) -> Result<Vec<u64>> {
    let mut nos = Vec::new();
    scan_prefix(kv, table, prefix, order, &mut |k, _| {
        nos.push(trailing_u64(k));
        Ok(true)
    })?;
    Ok(nos)
}

/// Whether any key starts with `prefix`.
pub fn any_under(kv: &dyn KvRead, table: Table, prefix: &Key) -> Result<bool> {
    let mut found = false;
    scan_prefix(kv, table, prefix, Order::Ascending, &mut |_, _| {
        found = true;
        Ok(false)
    })?;
    Ok(found)
}

/// Decodes every record under `prefix`.
pub fn records_under<T: DeserializeOwned>(
    kv: &dyn KvRead,
    table: Table,
    prefix: &Key,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    scan_prefix(kv, table, prefix, Order::Ascending, &mut |_, v| {
        out.push(codec::decode(v, table.name())?);
        Ok(true)
    })?;
    Ok(out)
}

/// A reader of what follows `prefix` in `key` (the parts after an index key's known prefix).
pub fn after_prefix<'k>(key: &'k [u8], prefix: &Key) -> KeyReader<'k> {
    KeyReader::new(key).skip(prefix.as_bytes().len())
}

/// The last eight bytes of a key as an entry number (index keys end with one).
pub fn trailing_u64(key: &[u8]) -> u64 {
    let mut reader = KeyReader::new(key).skip(key.len().saturating_sub(8));
    reader.u64().unwrap_or(0)
}

/// Takes the next number of a series; numbers only ever grow, so none is reused.
pub fn next_number(kv: &mut dyn KvWrite, series: &str) -> Result<u64> {
    let key = meta_key::counter(series);
    let current: u64 = get(&*kv, Table::Meta, &key)?.unwrap_or(0);
    let next = current + 1;
    put(kv, Table::Meta, &key, &next)?;
    Ok(next)
}

/// The last number a series handed out (0 if none).
pub fn last_number(kv: &dyn KvRead, series: &str) -> Result<u64> {
    Ok(get(kv, Table::Meta, &meta_key::counter(series))?.unwrap_or(0))
}
