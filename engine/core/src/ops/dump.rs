//! A whole database as records and back (`rapport export database` / `import database`): every
//! stored record of every table that holds records, as JSON (dates as `YYYY-MM-DD`), with its
//! key; the derived tables (indexes, statistics, contact columns) are left out and rebuilt by
//! the import, through the same writers the workflows use. An import goes into an empty
//! database only, in one transaction, and ends with the integrity check.
//!
//! The content fingerprint (`rapport check`) hashes what an export holds but the server's users,
//! so a database exported and imported elsewhere — another file, or PostgreSQL — shows the same
//! one.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::catalogue::{Blob, content_hash};
use super::{PluginSettings, Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    Attachment, BusinessRelation, Campaign, CampaignEntry, Contact, CriteriaStep, FieldDef,
    FieldRecord, FieldValue, InteractionGroup, InteractionLogEntry, InteractionTemplate,
    LoggedSegment, Salesperson, SavedCriteria, Segment, SegmentLine, TemplateSetup, User,
};
use crate::store::key::{Key, KeyReader, hex};
use crate::store::{Order, Table, codec};

/// What the first line of an export says it is.
pub const DUMP_FORMAT: &str = "rapport database";
/// The version of the export's shape this rapport writes and reads.
pub const DUMP_VERSION: u32 = 1;

/// The first line of a database export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpHeader {
    /// [`DUMP_FORMAT`].
    pub format: String,
    /// [`DUMP_VERSION`].
    pub version: u32,
}

impl DumpHeader {
    /// The header this rapport writes.
    pub fn current() -> Self {
        Self {
            format: DUMP_FORMAT.to_string(),
            version: DUMP_VERSION,
        }
    }
}

/// The last line of a database export: how many records it holds, so an import knows a file
/// that was cut short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpEnd {
    /// [`DUMP_FORMAT`].
    pub end: String,
    /// How many records the lines before it hold.
    pub records: u64,
}

impl DumpEnd {
    /// The last line of an export of `records` records.
    pub fn of(records: u64) -> Self {
        Self {
            end: DUMP_FORMAT.to_string(),
            records,
        }
    }
}

/// One stored record of a database export: its table, its key (hex) and its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpRecord {
    /// The table's name (`contacts`, `entries`, …).
    pub table: String,
    /// The record's key, as hex.
    pub key: String,
    /// The record (`null` for a key without a value).
    pub value: Value,
}

/// The tables whose contents are computed from the others: not exported, rebuilt on import,
/// not part of the content fingerprint.
const DERIVED: [Table; 5] = [
    tables::CONTACT_INDEX,
    tables::ENTRY_INDEX,
    tables::STATS,
    tables::STATS_DAILY,
    tables::CONTACT_COLUMNS,
];

/// The history's tables: not exported (an export moves the records; the history stays with
/// the database it tells of, and its backups).
const HISTORY: [Table; 2] = [tables::JOURNAL, tables::JOURNAL_CHANGES];

/// The tables an export holds, in the order an import writes them: the meta records and the
/// declared fields first (what the records are read by), then by table id.
fn record_tables() -> impl Iterator<Item = Table> {
    let first = [tables::META, tables::FIELDS];
    first.into_iter().chain(
        tables::ALL
            .iter()
            .copied()
            .filter(move |t| !DERIVED.contains(t) && !HISTORY.contains(t) && !first.contains(t)),
    )
}

/// Whether a record is derived data: a derived table's, or the meta record of the derived
/// data's shape (a new database writes its own).
pub(super) fn is_derived(table: Table, key: &[u8]) -> bool {
    DERIVED.contains(&table)
        || (table == tables::META
            && (key == keys::derived_layout().as_bytes()
                || key == keys::history_expired_through().as_bytes()))
}

fn to_json<T: DeserializeOwned + Serialize>(bytes: &[u8], what: &str) -> Result<Value> {
    let record: T = codec::decode(bytes, what)?;
    serde_json::to_value(record)
        .map_err(|e| Error::invalid(what, "value", e.to_string(), "report this as a bug"))
}

fn from_json<T: DeserializeOwned + Serialize>(
    value: Value,
) -> std::result::Result<Vec<u8>, String> {
    let record: T = serde_json::from_value(value).map_err(|e| e.to_string())?;
    codec::encode(&record).map_err(|e| e.to_string())
}

/// How the values of one table (or meta key) go to JSON and back.
struct Shape {
    to_json: fn(&[u8], &str) -> Result<Value>,
    from_json: fn(Value) -> std::result::Result<Vec<u8>, String>,
}

macro_rules! shape {
    ($t:ty) => {
        Shape {
            to_json: to_json::<$t>,
            from_json: from_json::<$t>,
        }
    };
}

/// The shape of the values stored under `key` in `table`; `None` for a lookup key without a
/// value, and for a meta key this rapport does not know.
fn shape_of(table: Table, key: &[u8]) -> Option<Shape> {
    Some(match table {
        t if t == tables::META => match KeyReader::new(key).tag()? {
            1 => shape!(u64),
            2 => shape!(TemplateSetup),
            3 => shape!(bool),
            4 => shape!(PluginSettings),
            6 => shape!(super::HistorySettings),
            _ => return None,
        },
        t if t == tables::CONTACTS => shape!(Contact),
        t if t == tables::SALESPEOPLE => shape!(Salesperson),
        t if t == tables::GROUPS => shape!(InteractionGroup),
        t if t == tables::TEMPLATES => shape!(InteractionTemplate),
        t if t == tables::ATTACHMENTS => shape!(Attachment),
        t if t == tables::BLOBS => shape!(Blob),
        t if t == tables::RELATIONS => shape!(BusinessRelation),
        t if t == tables::CAMPAIGNS => shape!(Campaign),
        t if t == tables::CAMPAIGN_ENTRIES => shape!(CampaignEntry),
        t if t == tables::ENTRIES => shape!(InteractionLogEntry),
        t if t == tables::LOOKUP => shape!(u64),
        t if t == tables::SEGMENTS => shape!(Segment),
        t if t == tables::SEGMENT_LINES => shape!(SegmentLine),
        t if t == tables::SEGMENT_STEPS => shape!(CriteriaStep),
        t if t == tables::SAVED_CRITERIA => shape!(SavedCriteria),
        t if t == tables::LOGGED_SEGMENTS => shape!(LoggedSegment),
        t if t == tables::FIELDS => shape!(FieldDef),
        t if t == tables::CUSTOM_VALUES => shape!(FieldValue),
        t if t == tables::USERS => shape!(User),
        _ => return None,
    })
}

/// The values before and after of a change of the history, as an export writes them (JSON;
/// `null` for a key without a value or a record this rapport cannot read).
pub fn change_json(change: &crate::model::Change) -> (Option<Value>, Option<Value>) {
    let Some(&table) = tables::ALL.get(usize::from(change.table)) else {
        return (None, None);
    };
    let json = |bytes: &Option<Vec<u8>>| {
        bytes.as_ref().map(|b| {
            if b.is_empty() {
                return Value::Null;
            }
            shape_of(table, &change.key)
                .and_then(|shape| (shape.to_json)(b, table.name()).ok())
                .unwrap_or(Value::Null)
        })
    };
    (json(&change.before), json(&change.after))
}

/// `text` with each of `words` replaced by `[erased]` where it stands as a word of its own
/// (not inside a longer word: "Lee" is not taken out of "Leeds"); as written ("Email" is not
/// "EMAIL"), but an e-mail address in any case.
pub(super) fn scrub_text(text: &str, words: &std::collections::BTreeSet<String>) -> String {
    let mut out = text.to_string();
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    for w in words.iter().filter(|w| !w.is_empty()) {
        let any_case = w.contains('@');
        let fold = |s: &str| {
            if any_case {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        let mut from = 0;
        while let Some(at) = fold(&out[from..]).find(&fold(w)).map(|i| i + from) {
            let end = at + w.len();
            if alnum(out[..at].chars().next_back()) || alnum(out[end..].chars().next()) {
                from = end;
                continue;
            }
            out.replace_range(at..end, "[erased]");
            from = at + "[erased]".len();
        }
    }
    out
}

/// Takes `words` out of a JSON value (see [`scrub_stored`]).
fn walk(v: &mut Value, words: &std::collections::BTreeSet<String>) {
    match v {
        Value::String(s) => *s = scrub_text(s, words),
        Value::Array(items) => {
            items.retain(|i| !matches!(i, Value::String(s) if words.contains(s)));
            for i in items {
                walk(i, words);
            }
        }
        Value::Object(fields) => {
            for (_, f) in fields.iter_mut() {
                walk(f, words);
            }
        }
        _ => {}
    }
}

/// A stored value with every text that names one of `words` taken out: a list's element that is
/// one of them goes, a text that holds one has it replaced by `[erased]`. `None` when the value
/// names none of them (or is of a shape this rapport cannot read).
pub(crate) fn scrub_stored(
    table: Table,
    key: &[u8],
    bytes: &[u8],
    words: &std::collections::BTreeSet<String>,
) -> Option<Vec<u8>> {
    let mentions = |hay: &[u8]| {
        words.iter().any(|w| {
            !w.is_empty()
                && hay
                    .windows(w.len())
                    .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
        })
    };
    if bytes.is_empty() || !mentions(bytes) {
        return None;
    }
    let shape = shape_of(table, key)?;
    let original = (shape.to_json)(bytes, table.name()).ok()?;
    let mut value = original.clone();
    walk(&mut value, words);
    if value == original {
        return None;
    }
    (shape.from_json)(value).ok()
}

/// Bytes from lower-case or upper-case hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl View<'_> {
    /// Visits every record an export holds, table by table in key order, until `visit` returns
    /// `false`.
    pub fn dump(&self, visit: &mut dyn FnMut(DumpRecord) -> Result<bool>) -> Result<()> {
        for table in record_tables() {
            let mut go_on = true;
            layout::scan_all(self.kv, table, Order::Ascending, &mut |k, v| {
                if is_derived(table, k) {
                    return Ok(true);
                }
                let value = if v.is_empty() {
                    Value::Null
                } else {
                    let shape = shape_of(table, k).ok_or_else(|| {
                        Error::invalid(
                            format!("{} record {}", table.name(), hex(k)),
                            "key",
                            "is not known to this rapport",
                            "export with the rapport that wrote the database",
                        )
                    })?;
                    (shape.to_json)(v, table.name())?
                };
                go_on = visit(DumpRecord {
                    table: table.name().to_string(),
                    key: hex(k),
                    value,
                })?;
                Ok(go_on)
            })?;
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// A SHA-256 of every record an export holds (table, key and value, in order): two
    /// databases with the same fingerprint hold the same records; the integrity check says
    /// whether the derived data agrees with them.
    pub fn content_fingerprint(&self) -> Result<String> {
        let mut hash = Sha256::new();
        // The users of a server say who may reach the records, not what they are (a server
        // makes its owner one on PostgreSQL).
        for table in record_tables().filter(|t| *t != tables::USERS) {
            layout::scan_all(self.kv, table, Order::Ascending, &mut |k, v| {
                if !is_derived(table, k) {
                    for part in [table.name().as_bytes(), k, v] {
                        hash.update((part.len() as u64).to_be_bytes());
                        hash.update(part);
                    }
                }
                Ok(true)
            })?;
        }
        Ok(hex(&hash.finalize()))
    }

    /// The name of the first table that holds a record, if any (an import of a whole database
    /// goes only into an empty one: its users aside — a server makes its owner one).
    pub fn first_table_with_records(&self) -> Result<Option<&'static str>> {
        for table in record_tables().filter(|t| *t != tables::USERS) {
            let mut found = false;
            layout::scan_all(self.kv, table, Order::Ascending, &mut |k, _| {
                found = !is_derived(table, k);
                Ok(!found)
            })?;
            if found {
                return Ok(Some(table.name()));
            }
        }
        Ok(None)
    }
}

/// The key a record of `table` must have, from the record itself; `None` for the tables
/// whose keys say more than their records (meta, lookups, custom values, criteria steps).
fn expected_key(table: Table, bytes: &[u8]) -> Result<Option<Key>> {
    let name = table.name();
    Ok(Some(match table {
        t if t == tables::CONTACTS => keys::code(&codec::decode::<Contact>(bytes, name)?.no),
        t if t == tables::SALESPEOPLE => {
            keys::code(&codec::decode::<Salesperson>(bytes, name)?.code)
        }
        t if t == tables::GROUPS => {
            keys::code(&codec::decode::<InteractionGroup>(bytes, name)?.code)
        }
        t if t == tables::TEMPLATES => {
            keys::code(&codec::decode::<InteractionTemplate>(bytes, name)?.code)
        }
        t if t == tables::ATTACHMENTS => keys::no(codec::decode::<Attachment>(bytes, name)?.no),
        t if t == tables::BLOBS => {
            keys::blob(&content_hash(&codec::decode::<Blob>(bytes, name)?.content))
        }
        t if t == tables::RELATIONS => {
            let r: BusinessRelation = codec::decode(bytes, name)?;
            keys::relation(r.kind, &r.account_no)
        }
        t if t == tables::CAMPAIGNS => keys::code(&codec::decode::<Campaign>(bytes, name)?.no),
        t if t == tables::CAMPAIGN_ENTRIES => {
            keys::no(codec::decode::<CampaignEntry>(bytes, name)?.entry_no)
        }
        t if t == tables::ENTRIES => {
            keys::no(codec::decode::<InteractionLogEntry>(bytes, name)?.entry_no)
        }
        t if t == tables::SEGMENTS => keys::code(&codec::decode::<Segment>(bytes, name)?.no),
        t if t == tables::SEGMENT_LINES => {
            let l: SegmentLine = codec::decode(bytes, name)?;
            keys::segment_line(&l.segment_no, l.line_no)
        }
        t if t == tables::SAVED_CRITERIA => {
            keys::code(&codec::decode::<SavedCriteria>(bytes, name)?.name)
        }
        t if t == tables::LOGGED_SEGMENTS => {
            keys::no(codec::decode::<LoggedSegment>(bytes, name)?.entry_no)
        }
        t if t == tables::FIELDS => {
            let d: FieldDef = codec::decode(bytes, name)?;
            keys::field_def(d.record, &d.name)
        }
        t if t == tables::USERS => keys::code(&codec::decode::<User>(bytes, name)?.name),
        _ => return Ok(None),
    }))
}

/// Where a restore is in its input: an export lists the tables in [`record_tables`]'s order,
/// each table's keys ascending, so a record out of that order (or twice) is refused.
#[derive(Default)]
struct RestorePlace {
    /// The tables in the export's order ([`record_tables`]).
    order: Vec<Table>,
    /// Where in `order` the input is.
    table: usize,
    last_key: Option<Vec<u8>>,
}

impl Tx<'_> {
    /// Writes the records `next` gives (each with the line it came from, for errors; `source`
    /// names the input) into this database, which must be empty, building the derived data as
    /// the workflows do; then runs the integrity check (indexes, statistics, attachments, the
    /// number series, the custom values) and refuses records that do not hold together. Returns how many
    /// records were written.
    pub fn restore(
        &mut self,
        source: &str,
        next: &mut dyn FnMut() -> Result<Option<(u64, DumpRecord)>>,
    ) -> Result<u64> {
        if let Some(table) = self.view().first_table_with_records()? {
            return Err(Error::invalid(
                "database",
                "contents",
                format!(
                    "already holds records ({table}); a whole database is imported only into an empty one"
                ),
                "import into a new file (--db NEW.redb) or an empty PostgreSQL schema (?schema=NEW)",
            ));
        }
        // Recorded as a receipt (the records are the export's), written first so the records
        // are not kept for the history as they go in; its count is written at the end.
        self.history_receipt(
            "restore",
            format!("imported a whole database from {source}"),
            Vec::new(),
        )?;
        let mut n = 0;
        let mut place = RestorePlace {
            order: record_tables().collect(),
            ..RestorePlace::default()
        };
        self.batch_statistics(|tx| {
            tx.batch_contacts(|tx| {
                while let Some((line, record)) = next()? {
                    tx.restore_record(&format!("{source} line {line}"), &mut place, record)?;
                    n += 1;
                }
                Ok(())
            })
        })?;
        let differences = self.view().integrity_check()?.differences;
        self.history_receipt(
            "restore",
            format!("imported a whole database: {n} records from {source}"),
            Vec::new(),
        )?;
        if !differences.is_empty() {
            let shown: Vec<&str> = differences.iter().take(5).map(String::as_str).collect();
            return Err(Error::invalid(
                source,
                "records",
                format!(
                    "do not hold together ({} difference(s): {}{})",
                    differences.len(),
                    shown.join("; "),
                    if differences.len() > shown.len() {
                        "; …"
                    } else {
                        ""
                    }
                ),
                "import an export as rapport wrote it; nothing was imported",
            ));
        }
        Ok(n)
    }

    fn restore_record(
        &mut self,
        at: &str,
        place: &mut RestorePlace,
        record: DumpRecord,
    ) -> Result<()> {
        let refuse = |field: &'static str, problem: String| {
            Error::invalid(
                at,
                field,
                problem,
                "import an export as rapport wrote it; nothing was imported",
            )
        };
        let order = &place.order;
        let Some(index) = order.iter().position(|t| t.name() == record.table) else {
            return Err(refuse(
                "table",
                if tables::ALL.iter().any(|t| t.name() == record.table) {
                    format!("{} is derived data, which an import rebuilds", record.table)
                } else {
                    format!("\"{}\" is not a table of a rapport database", record.table)
                },
            ));
        };
        let table = order[index];
        let key = unhex(&record.key)
            .ok_or_else(|| refuse("key", format!("\"{}\" is not hex", record.key)))?;
        if is_derived(table, &key) {
            return Err(refuse(
                "key",
                format!("{} is derived data, which an import rebuilds", record.key),
            ));
        }
        // The export's order: tables in turn, each one's keys ascending (so none twice).
        if index < place.table {
            return Err(refuse(
                "table",
                format!(
                    "{} comes after {}, and an export lists the tables in this order: {}",
                    table.name(),
                    order[place.table].name(),
                    order
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if index > place.table {
            place.table = index;
            place.last_key = None;
        }
        if place
            .last_key
            .as_deref()
            .is_some_and(|last| key.as_slice() <= last)
        {
            return Err(refuse(
                "key",
                format!(
                    "{} is not after the {} key before it (an export lists each table's keys once, in order)",
                    record.key,
                    table.name()
                ),
            ));
        }
        place.last_key = Some(key.clone());
        // A lookup of logged segments' campaign entries is a key alone; every other record
        // has a value of its table's shape.
        let mark = table == tables::LOOKUP && KeyReader::new(&key).tag() == Some(3);
        let bytes = match (record.value, shape_of(table, &key)) {
            (Value::Null, _) if mark => Vec::new(),
            (_, _) if mark => {
                return Err(refuse(
                    "value",
                    "must be null: the key is the record".into(),
                ));
            }
            (value, Some(shape)) => (shape.from_json)(value).map_err(|problem| {
                Error::invalid(
                    at,
                    "value",
                    format!("is not a {} record: {problem}", table.name()),
                    "fix the line; nothing was imported",
                )
            })?,
            (_, None) => {
                return Err(refuse(
                    "key",
                    format!(
                        "{} is not a {} key this rapport knows",
                        record.key,
                        table.name()
                    ),
                ));
            }
        };
        if let Some(expected) = expected_key(table, &bytes)?
            && expected.as_bytes() != key
        {
            return Err(Error::invalid(
                at,
                "key",
                format!(
                    "{} does not match the {} record, whose key is {}",
                    record.key,
                    table.name(),
                    hex(expected.as_bytes())
                ),
                "fix the line; nothing was imported",
            ));
        }
        // A user the database has already (a server's owner): the same record is kept as it
        // is, another is refused (two tokens for one name would not both work).
        if table == tables::USERS
            && let Some(have) = self.kv.get(table, &key)?
        {
            if have == bytes {
                return Ok(());
            }
            return Err(Error::invalid(
                at,
                "user",
                format!(
                    "{} is a user of this database already, with another token or role",
                    codec::decode::<User>(&bytes, "user")?.name
                ),
                "remove that user's line from the export (add the user again afterwards with rapport users add), or import into a database without the user; nothing was imported",
            ));
        }
        // Records with derived data go through the workflows' writers, which index them; what
        // they refuse names the line (the storage's own errors stay as they are).
        let named = |e: Error| match e {
            Error::Storage(_) => e,
            other => refuse("record", other.to_string()),
        };
        if table == tables::CONTACTS {
            let contact: Contact = codec::decode(&bytes, "contact")?;
            let label = format!("contact {}", contact.no);
            self.view()
                .check_custom_values(FieldRecord::Contact, &label, &contact.custom)
                .map_err(|e| refuse("value", e.to_string()))?;
            return self.write_contact(None, &contact).map_err(named);
        }
        if table == tables::SEGMENT_LINES {
            return self
                .put_line(&codec::decode(&bytes, "segment line")?)
                .map_err(named);
        }
        if table == tables::ENTRIES {
            return self
                .insert_entry(&codec::decode(&bytes, "entry")?)
                .map_err(named);
        }
        if table == tables::RELATIONS {
            let r: BusinessRelation = codec::decode(&bytes, "business relation")?;
            layout::mark(
                self.kv,
                tables::CONTACT_INDEX,
                &keys::contact_relation(&r.contact_no, r.kind, &r.account_no),
            )?;
        }
        Ok(self.kv.put(table, &key, &bytes)?)
    }
}
