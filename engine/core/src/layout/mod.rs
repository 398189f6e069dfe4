//! The storage layout of the records: the tables ([`tables`]), every key shape ([`keys`]), and
//! the typed get/put/scan helpers the workflows use. It is the one place that knows what a key
//! means; `ARCHITECTURE.md` describes the same layout, and the golden-bytes tests in `keys`
//! keep every shape as it is written in files.

pub mod keys;

use serde::{Serialize, de::DeserializeOwned};

use crate::error::{Error, Result};
use crate::store::key::{Key, KeyReader};
use crate::store::{KvRead, KvWrite, Order, Schema, Table, codec};

/// The tables of a rapport database. Keys are [`keys`]; values are [`codec`] records.
pub mod tables {
    use crate::store::Table;

    /// Counters of the number series, the template setup, the demo marker, the plugin
    /// settings, the shape of the derived data.
    pub const META: Table = Table::new(0, "meta");
    /// Contacts by no.
    pub const CONTACTS: Table = Table::new(1, "contacts");
    /// Contact indexes: by name, by company, business relations and segment lines by contact,
    /// the indexed contact fields and their counts.
    pub const CONTACT_INDEX: Table = Table::new(2, "contact_index");
    /// Salespeople by code.
    pub const SALESPEOPLE: Table = Table::new(3, "salespeople");
    /// Interaction groups by code.
    pub const GROUPS: Table = Table::new(4, "groups");
    /// Interaction templates by code.
    pub const TEMPLATES: Table = Table::new(5, "templates");
    /// Attachment records by no.
    pub const ATTACHMENTS: Table = Table::new(6, "attachments");
    /// Attachment contents by content hash, with their reference counts.
    pub const BLOBS: Table = Table::new(7, "blobs");
    /// Business relations: (kind, account no) → contact no.
    pub const RELATIONS: Table = Table::new(8, "relations");
    /// Campaigns by no.
    pub const CAMPAIGNS: Table = Table::new(9, "campaigns");
    /// Campaign entries by entry no.
    pub const CAMPAIGN_ENTRIES: Table = Table::new(10, "campaign_entries");
    /// Interaction log entries by entry no.
    pub const ENTRIES: Table = Table::new(11, "entries");
    /// Interaction log entry indexes (contact, company, template, …).
    pub const ENTRY_INDEX: Table = Table::new(12, "entry_index");
    /// Lookups from natural keys to entry numbers (campaign entry per campaign/segment/type, …).
    pub const LOOKUP: Table = Table::new(13, "lookup");
    /// Segment headers by no.
    pub const SEGMENTS: Table = Table::new(14, "segments");
    /// Segment lines by (segment no, line no).
    pub const SEGMENT_LINES: Table = Table::new(15, "segment_lines");
    /// Criteria steps by (segment no, step no).
    pub const SEGMENT_STEPS: Table = Table::new(16, "segment_steps");
    /// Saved criteria by name.
    pub const SAVED_CRITERIA: Table = Table::new(17, "saved_criteria");
    /// Logged segments by entry no.
    pub const LOGGED_SEGMENTS: Table = Table::new(18, "logged_segments");
    /// All-time statistics by (kind, code, bucket).
    pub const STATS: Table = Table::new(19, "stats");
    /// Daily statistics by (kind, code, bucket, date).
    pub const STATS_DAILY: Table = Table::new(20, "stats_daily");
    /// Declared custom fields by (kind of record, name).
    pub const FIELDS: Table = Table::new(21, "fields");
    /// Custom field values of salespeople, templates, campaigns and entries by (kind of
    /// record, record, field); a contact keeps its own.
    pub const CUSTOM_VALUES: Table = Table::new(22, "custom_values");
    /// Users of `rapport serve` by name (their role and the hash of their token).
    pub const USERS: Table = Table::new(23, "users");
    /// The contact fields filters test, column by column in blocks of contacts, by the key of
    /// each block's first contact (`ops/columns.rs`; derived from the contacts).
    pub const CONTACT_COLUMNS: Table = Table::new(24, "contact_columns");
    /// The history: one header per committed write operation, by its no (`ops/history.rs`).
    pub const JOURNAL: Table = Table::new(25, "journal");
    /// The changes of each operation, in chunks, by (operation no, chunk no).
    pub const JOURNAL_CHANGES: Table = Table::new(26, "journal_changes");

    /// Every table, in id order.
    pub static ALL: [Table; 27] = [
        META,
        CONTACTS,
        CONTACT_INDEX,
        SALESPEOPLE,
        GROUPS,
        TEMPLATES,
        ATTACHMENTS,
        BLOBS,
        RELATIONS,
        CAMPAIGNS,
        CAMPAIGN_ENTRIES,
        ENTRIES,
        ENTRY_INDEX,
        LOOKUP,
        SEGMENTS,
        SEGMENT_LINES,
        SEGMENT_STEPS,
        SAVED_CRITERIA,
        LOGGED_SEGMENTS,
        STATS,
        STATS_DAILY,
        FIELDS,
        CUSTOM_VALUES,
        USERS,
        CONTACT_COLUMNS,
        JOURNAL,
        JOURNAL_CHANGES,
    ];
}

/// The tables every backend opens a rapport database with.
pub const SCHEMA: Schema = Schema::new(&tables::ALL);

/// A scan visitor that may fail: gets each key and value, returns whether to go on; its error
/// stops the scan and is returned as it is.
pub type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'f;

/// Reads and decodes one record.
pub fn get<T: DeserializeOwned>(kv: &dyn KvRead, table: Table, key: &Key) -> Result<Option<T>> {
    match kv.get(table, key.as_bytes())? {
        Some(bytes) => Ok(Some(codec::decode(&bytes, table.name())?)),
        None => Ok(None),
    }
}

/// Encodes and writes one record.
pub fn put<T: Serialize>(kv: &mut dyn KvWrite, table: Table, key: &Key, value: &T) -> Result<()> {
    Ok(kv.put(table, key.as_bytes(), &codec::encode(value)?)?)
}

/// Encodes and writes a record whose key the caller knows is new ([`KvWrite::insert`]).
pub fn insert<T: Serialize>(
    kv: &mut dyn KvWrite,
    table: Table,
    key: &Key,
    value: &T,
) -> Result<()> {
    Ok(kv.insert(table, key.as_bytes(), &codec::encode(value)?)?)
}

/// Writes a key with no value (an index entry).
pub fn mark(kv: &mut dyn KvWrite, table: Table, key: &Key) -> Result<()> {
    Ok(kv.put(table, key.as_bytes(), &[])?)
}

/// Removes a key; says whether it was there (the tests' tampering: the workflows remove keys
/// without asking, [`remove`]).
#[cfg(test)]
pub fn delete(kv: &mut dyn KvWrite, table: Table, key: &Key) -> Result<bool> {
    Ok(kv.delete(table, key.as_bytes())?)
}

/// Removes a key if it is there, without learning whether it was (no round trip on a server
/// backend).
pub fn remove(kv: &mut dyn KvWrite, table: Table, key: &Key) -> Result<()> {
    Ok(kv.remove(table, key.as_bytes())?)
}

/// Whether a key exists.
pub fn exists(kv: &dyn KvRead, table: Table, key: &Key) -> Result<bool> {
    Ok(kv.get(table, key.as_bytes())?.is_some())
}

/// Visits the keys `from ≤ key < to` (`None`: to the end) with a visitor that may fail: its
/// error stops the scan and is returned as it is.
pub fn scan(
    kv: &dyn KvRead,
    table: Table,
    from: &[u8],
    to: Option<&[u8]>,
    order: Order,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let mut failure: Option<Error> = None;
    kv.scan(table, from, to, order, &mut |k, v| match visit(k, v) {
        Ok(go_on) => go_on,
        Err(e) => {
            failure = Some(e);
            false
        }
    })?;
    failure.map_or(Ok(()), Err)
}

/// Visits every key of `table`.
pub fn scan_all(kv: &dyn KvRead, table: Table, order: Order, visit: &mut Visit<'_>) -> Result<()> {
    scan(kv, table, &[], None, order, visit)
}

/// Visits every key starting with `prefix`.
pub fn scan_prefix(
    kv: &dyn KvRead,
    table: Table,
    prefix: &Key,
    order: Order,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let end = prefix.prefix_end();
    scan(kv, table, prefix.as_bytes(), end.as_deref(), order, visit)
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

/// Tells the store that the keys of `items[i..]` (made by `key`) are about to be read, a
/// thousand at a time ([`KvRead::prefetch`]: one statement on a server instead of one a key).
/// Called with each position of a loop over `items`; acts where a thousand starts.
pub fn prefetch_at<T>(
    kv: &dyn KvRead,
    table: Table,
    items: &[T],
    i: usize,
    key: impl Fn(&T) -> Vec<u8>,
) -> Result<()> {
    const CHUNK: usize = 1000;
    if i.is_multiple_of(CHUNK) && i < items.len() {
        let keys: Vec<Vec<u8>> = items[i..items.len().min(i + CHUNK)]
            .iter()
            .map(key)
            .collect();
        kv.prefetch(table, &keys)?;
    }
    Ok(())
}

/// Removes every key starting with `prefix` (the keys are read first, then removed).
pub fn remove_under(kv: &mut dyn KvWrite, table: Table, prefix: &Key) -> Result<()> {
    let mut gone = Vec::new();
    scan_prefix(&*kv, table, prefix, Order::Ascending, &mut |k, _| {
        gone.push(k.to_vec());
        Ok(true)
    })?;
    for k in gone {
        kv.remove(table, &k)?;
    }
    Ok(())
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

/// Decodes every record of `table`, in key order.
pub fn all_records<T: DeserializeOwned>(kv: &dyn KvRead, table: Table) -> Result<Vec<T>> {
    records_under(kv, table, &Key::new())
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
    let key = keys::counter(series);
    let current: u64 = get(&*kv, tables::META, &key)?.unwrap_or(0);
    let next = current + 1;
    put(kv, tables::META, &key, &next)?;
    Ok(next)
}

/// The last number a series handed out (0 if none).
pub fn last_number(kv: &dyn KvRead, series: &str) -> Result<u64> {
    Ok(get(kv, tables::META, &keys::counter(series))?.unwrap_or(0))
}

/// Checks the golden bytes of a record kind private to the engine (as `tests/golden.rs` does
/// for the public ones): the committed file decodes to `expected`, and today's encoder writes
/// the same bytes. `RAPPORT_BLESS=1` writes the file (only for a new kind).
#[cfg(test)]
pub(crate) fn assert_golden<T>(name: &str, expected: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.hex"));
    let hex = crate::store::key::hex(&codec::encode(expected).unwrap());
    if std::env::var_os("RAPPORT_BLESS").is_some() {
        std::fs::write(&path, format!("{hex}\n")).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap();
    let stored = stored.trim();
    let bytes: Vec<u8> = (0..stored.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&stored[i..i + 2], 16).unwrap())
        .collect();
    let decoded: T = codec::decode(&bytes, name).unwrap();
    assert_eq!(
        &decoded, expected,
        "{name}: the committed bytes decode to another record"
    );
    assert_eq!(
        hex, stored,
        "{name}: the encoding changed; bump the schema version"
    );
}
