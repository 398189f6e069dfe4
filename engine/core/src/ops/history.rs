//! The history: every committed write operation leaves one record of itself in the same
//! transaction — who ran what, when, and each stored record it changed, before and after — so
//! it can be listed, searched by record, and undone.
//!
//! **Recording.** A [`Recording`] sits between the workflows and the transaction (a
//! [`Recorder`], a [`KvWrite`] wrapper, like the undo journal and the failpoints): at the first
//! write of a record in the transaction it keeps the record's value before. Only the stored
//! records are kept — not the derived tables (indexes, statistics, contact columns, which the
//! undo rebuilds through the workflows' writers), not the number series (numbers are never
//! reused, an undo included). At commit ([`Recording::finish`]) each kept record is read again;
//! those whose value changed become [`Change`]s, written in chunks beside an [`Operation`]
//! header, and the header gets the next operation number. A transaction that changed no record
//! (a read, a dry run, a failed run) leaves nothing; one that failed never commits, so its record
//! is never written either. Being above the store seam, it is the same on every backend.
//!
//! **Undo** ([`Tx::undo`]) puts back each record's value before, as a new operation, after
//! checking that the record is still as the operation left it (else [`Error::ChangedSince`],
//! naming the later operation); reference counts of attachments are merged, not overwritten.
//! Records with derived data go through the writers that keep it (entries: their indexes and
//! statistics; contacts: their indexes and columns; segment lines and business relations:
//! their contact index), and what the restored records refer to must still exist.
//!
//! **Retention and erasure.** `history_keep(days)` drops the changes of operations older than
//! that (the header stays: the receipt); [`Tx::erase_contact`] deletes a person's data and takes
//! it out of the history too, leaving a receipt that names no personal data.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Days;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::catalogue::Blob;
use super::dump::{is_derived, scrub_stored, scrub_text as scrub};
use super::{Context, Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    Attachment, BusinessRelation, Change, Contact, FieldRecord, InteractionLogEntry,
    InteractionTemplate, MAX_SCRIPT_KEPT, Operation, SegmentLine, TableCount,
};
use crate::store::key::{KeyReader, hex};
use crate::store::{KvRead, KvWrite, Order, Table, codec};

/// How many changes one stored chunk holds at most.
const CHUNK_CHANGES: usize = 512;
/// How many bytes of values one stored chunk holds at most (one change may exceed it).
const CHUNK_BYTES: usize = 64 << 10;
/// How many operations one commit expires at most (the rest at the next commits).
const EXPIRE_PER_COMMIT: usize = 256;
/// The header key of an operation being written by the workflow itself: an erasure's or a
/// restore's receipt, numbered at commit.
const RECEIPT: u64 = 0;

/// "operation N does not exist", and where the numbers are.
pub fn no_such_operation(no: u64) -> Error {
    Error::NotFound {
        record: "operation",
        key: no.to_string(),
        fix: "rapport history (or history()) lists the operations and their numbers".into(),
    }
}

/// The history's settings (a meta record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySettings {
    /// How many days the changes of an operation are kept for undo (`None`: always).
    pub keep_days: Option<u32>,
}

/// Whether a write to `table` at `key` is a stored record the history keeps.
fn recorded(table: Table, key: &[u8]) -> bool {
    if table == tables::JOURNAL || table == tables::JOURNAL_CHANGES || is_derived(table, key) {
        return false;
    }
    // The number series only grow (an undo does not give numbers back); where the expiry is
    // is the history's own bookkeeping.
    !(table == tables::META && matches!(key.first(), Some(1 | 7)))
}

/// The table with id `id`.
fn table_of(id: u8) -> Result<Table> {
    tables::ALL.get(usize::from(id)).copied().ok_or_else(|| {
        Error::Storage(crate::store::StoreError::Corrupt {
            record: "history".into(),
            detail: format!("a change names table {id}, which this rapport does not have"),
        })
    })
}

/// A recorded key's value before the transaction's first write of it, and its value now
/// (`None`: absent).
#[derive(Debug)]
struct Written {
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
}

/// What one transaction changed so far, to be written as its operation at commit.
#[derive(Debug, Default)]
pub struct Recording {
    /// Each recorded key written (its table's id, then the key), with its value before the
    /// transaction's first write of it and its value now.
    before: HashMap<Vec<u8>, Written>,
    /// Operation headers the transaction rewrote (an undo marks the one it undid).
    headers: BTreeSet<u64>,
    /// The plugins whose hooks wrote.
    plugins: BTreeSet<String>,
    /// The plugin acting now.
    acting: Option<String>,
    /// The work writes a receipt of itself (an erasure, a whole-database import): its records
    /// are not kept from then on (they are personal data, or a whole database).
    receipt: bool,
}

impl Recording {
    /// A recording of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The writes to `inner`, recorded here.
    pub fn over<'a>(&'a mut self, inner: &'a mut dyn KvWrite) -> Recorder<'a> {
        Recorder { inner, rec: self }
    }

    /// Says which plugin's hook is writing now (`None`: the caller's own work).
    pub fn set_acting(&mut self, plugin: Option<&str>) {
        self.acting = plugin.map(str::to_string);
    }

    /// Whether any record was written (it may have been put back since).
    pub fn wrote(&self) -> bool {
        !self.before.is_empty() || !self.headers.is_empty()
    }

    /// Notes a write of `value` (`None`: a removal) at (`table`, `key`); `new`: the caller
    /// knows nothing is there (no need to read what was).
    fn note(
        &mut self,
        inner: &dyn KvRead,
        table: Table,
        key: &[u8],
        value: Option<&[u8]>,
        new: bool,
    ) -> Result<()> {
        if table == tables::JOURNAL {
            if let Some(no) = KeyReader::new(key).u64() {
                self.headers.insert(no);
                if no == RECEIPT {
                    self.receipt = true;
                    self.before = HashMap::new();
                }
            }
            return Ok(());
        }
        if self.receipt || !recorded(table, key) {
            return Ok(());
        }
        if let Some(plugin) = &self.acting
            && !self.plugins.contains(plugin)
        {
            self.plugins.insert(plugin.clone());
        }
        let mut full = Vec::with_capacity(key.len() + 1);
        full.push(table.id() as u8);
        full.extend_from_slice(key);
        let after = value.map(<[u8]>::to_vec);
        match self.before.entry(full) {
            std::collections::hash_map::Entry::Occupied(mut written) => {
                written.get_mut().after = after;
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                let before = if new { None } else { inner.get(table, key)? };
                slot.insert(Written { before, after });
            }
        }
        Ok(())
    }

    /// Writes the transaction's operation into `kv` (the transaction, under the recorder): its
    /// changes in chunks and its header, numbered after the last one; then drops the changes
    /// the retention setting no longer keeps. Returns the operation's number, or `None` when
    /// no record changed.
    pub fn finish(self, kv: &mut dyn KvWrite, ctx: &Context) -> Result<Option<u64>> {
        let no = last_operation(&*kv)? + 1;
        let receipt: Option<Operation> = if self.headers.contains(&RECEIPT) {
            let r = layout::get(&*kv, tables::JOURNAL, &keys::operation(RECEIPT))?;
            layout::remove(kv, tables::JOURNAL, &keys::operation(RECEIPT))?;
            r
        } else {
            None
        };
        let is_receipt = receipt.is_some();
        // An erasure or a restore records what it did, not the records (they are personal data,
        // or a whole database).
        let mut op = if let Some(receipt) = receipt {
            receipt
        } else {
            let mut op = Operation::default();
            let mut writer = ChunkWriter::new(no);
            let mut counts: BTreeMap<u8, TableCount> = BTreeMap::new();
            let mut entries = Ranges::default();
            // In key order (table, then key): the order undo and the displays read.
            let mut written: Vec<(Vec<u8>, Written)> = self.before.into_iter().collect();
            written.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (full, Written { before, after }) in written {
                let table = table_of(full[0])?;
                let key = &full[1..];
                if after == before {
                    continue;
                }
                let count = counts.entry(full[0]).or_insert_with(|| TableCount {
                    table: table.name().to_string(),
                    ..TableCount::default()
                });
                match (&before, &after) {
                    (None, _) => count.added += 1,
                    (_, None) => count.removed += 1,
                    _ => count.changed += 1,
                }
                if table == tables::ENTRIES
                    && let Some(entry_no) = KeyReader::new(key).u64()
                {
                    entries.add(entry_no);
                }
                let (before, after) = count_only(table, before, after)?;
                writer.push(
                    kv,
                    Change {
                        table: full[0],
                        key: key.to_vec(),
                        before,
                        after,
                    },
                )?;
            }
            op.chunks = writer.finish(kv)?;
            op.counts = counts.into_values().collect();
            op.entry_nos = entries.0;
            op
        };
        let undoes = self
            .headers
            .iter()
            .filter(|&&h| h != RECEIPT)
            .map(|&h| layout::get::<Operation>(&*kv, tables::JOURNAL, &keys::operation(h)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .filter(|o| o.undone_by == no)
            .map(|o| o.no)
            .collect::<Vec<_>>();
        if op.counts.is_empty() && undoes.is_empty() && !is_receipt {
            return Ok(None);
        }
        op.no = no;
        op.date = ctx.clock.today();
        op.time = ctx.clock.time();
        op.user.clone_from(&ctx.user);
        if op.kind.is_empty() {
            op.kind = if ctx.doing.kind.is_empty() {
                "engine".to_string()
            } else {
                ctx.doing.kind.clone()
            };
        }
        // A receipt says what it did in its own words: the command or script that ran an
        // erasure names the person.
        if !is_receipt {
            op.what.clone_from(&ctx.doing.what);
        }
        if !is_receipt && !ctx.doing.script.is_empty() {
            op.script = cut(&ctx.doing.script, MAX_SCRIPT_KEPT).to_string();
            op.script_sha256 = hex(&Sha256::digest(ctx.doing.script.as_bytes()));
        }
        op.plugins = self.plugins.into_iter().collect();
        // An operation that undid others is an undo, whatever ran it.
        if !undoes.is_empty() && !is_receipt {
            op.kind = "undo".to_string();
        }
        op.undoes = undoes;
        layout::put(kv, tables::JOURNAL, &keys::operation(no), &op)?;
        expire(kv, ctx)?;
        Ok(Some(no))
    }
}

/// A stored value before and after (`None`: absent).
type BeforeAfter = (Option<Vec<u8>>, Option<Vec<u8>>);

/// An attachment content whose count changed, not its bytes, is kept without the bytes (they
/// are in the record; a template's attachment shared by thousands of entries is not copied
/// into the history each time).
fn count_only(
    table: Table,
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
) -> Result<BeforeAfter> {
    if table != tables::BLOBS {
        return Ok((before, after));
    }
    let (Some(b), Some(a)) = (&before, &after) else {
        return Ok((before, after));
    };
    let (mut b, mut a): (Blob, Blob) = (
        codec::decode(b, "attachment content")?,
        codec::decode(a, "attachment content")?,
    );
    if b.content != a.content {
        return Ok((before, after));
    }
    b.content = Vec::new();
    a.content = Vec::new();
    Ok((Some(codec::encode(&b)?), Some(codec::encode(&a)?)))
}

/// The first `max` bytes of `text`, cut at a character's start.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Entry numbers as ranges of consecutive numbers.
#[derive(Default)]
struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    fn add(&mut self, n: u64) {
        match self.0.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            Some((_, last)) if *last == n => {}
            _ => self.0.push((n, n)),
        }
    }
}

/// Writes an operation's changes chunk by chunk as they come.
struct ChunkWriter {
    no: u64,
    chunk: Vec<Change>,
    bytes: usize,
    written: u32,
}

impl ChunkWriter {
    fn new(no: u64) -> Self {
        Self {
            no,
            chunk: Vec::new(),
            bytes: 0,
            written: 0,
        }
    }

    fn push(&mut self, kv: &mut dyn KvWrite, change: Change) -> Result<()> {
        self.bytes += change.key.len()
            + change.before.as_ref().map_or(0, Vec::len)
            + change.after.as_ref().map_or(0, Vec::len);
        self.chunk.push(change);
        if self.chunk.len() >= CHUNK_CHANGES || self.bytes >= CHUNK_BYTES {
            self.flush(kv)?;
        }
        Ok(())
    }

    fn flush(&mut self, kv: &mut dyn KvWrite) -> Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        self.written += 1;
        layout::put(
            kv,
            tables::JOURNAL_CHANGES,
            &keys::operation_chunk(self.no, self.written),
            &self.chunk,
        )?;
        self.chunk.clear();
        self.bytes = 0;
        Ok(())
    }

    fn finish(mut self, kv: &mut dyn KvWrite) -> Result<u32> {
        self.flush(kv)?;
        Ok(self.written)
    }
}

/// The number of the last operation (0: none).
fn last_operation(kv: &dyn KvRead) -> Result<u64> {
    let mut last = 0;
    layout::scan_all(kv, tables::JOURNAL, Order::Descending, &mut |k, _| {
        last = KeyReader::new(k).u64().unwrap_or(0);
        Ok(last == RECEIPT)
    })?;
    Ok(last)
}

/// Drops the changes of operations older than the retention setting keeps (a bounded number
/// per commit), leaving their headers as receipts.
fn expire(kv: &mut dyn KvWrite, ctx: &Context) -> Result<()> {
    let settings: HistorySettings =
        layout::get(&*kv, tables::META, &keys::history_settings())?.unwrap_or_default();
    let Some(days) = settings.keep_days else {
        return Ok(());
    };
    let cutoff = ctx
        .clock
        .today()
        .checked_sub_days(Days::new(u64::from(days)))
        .unwrap_or_default();
    let through: u64 =
        layout::get(&*kv, tables::META, &keys::history_expired_through())?.unwrap_or(0);
    let mut due = Vec::new();
    layout::scan(
        &*kv,
        tables::JOURNAL,
        keys::operation(through + 1).as_bytes(),
        None,
        Order::Ascending,
        &mut |_, v| {
            let op: Operation = codec::decode(v, "operation")?;
            if op.date >= cutoff || due.len() >= EXPIRE_PER_COMMIT {
                return Ok(false);
            }
            due.push(op);
            Ok(true)
        },
    )?;
    let Some(last) = due.last().map(|o| o.no) else {
        return Ok(());
    };
    for mut op in due {
        if op.chunks > 0 {
            layout::remove_under(kv, tables::JOURNAL_CHANGES, &keys::operation(op.no))?;
            op.chunks = 0;
            op.expired = true;
            layout::put(kv, tables::JOURNAL, &keys::operation(op.no), &op)?;
        }
    }
    layout::put(kv, tables::META, &keys::history_expired_through(), &last)
}

/// The writes of a transaction, recorded into a [`Recording`] on their way to `inner`.
pub struct Recorder<'a> {
    inner: &'a mut dyn KvWrite,
    rec: &'a mut Recording,
}

crate::store::reads_through_inner!(Recorder<'_>);

impl KvWrite for Recorder<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> crate::store::Result<()> {
        self.rec
            .note(&*self.inner, table, key, Some(value), false)
            .map_err(store_error)?;
        self.inner.put(table, key, value)
    }

    fn insert(&mut self, table: Table, key: &[u8], value: &[u8]) -> crate::store::Result<()> {
        self.rec
            .note(&*self.inner, table, key, Some(value), true)
            .map_err(store_error)?;
        self.inner.insert(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> crate::store::Result<bool> {
        self.rec
            .note(&*self.inner, table, key, None, false)
            .map_err(store_error)?;
        self.inner.delete(table, key)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> crate::store::Result<()> {
        self.rec
            .note(&*self.inner, table, key, None, false)
            .map_err(store_error)?;
        self.inner.remove(table, key)
    }
}

/// The store's error inside an engine error, back out (the recorder only reads the store).
fn store_error(e: Error) -> crate::store::StoreError {
    match e {
        Error::Storage(e) => e,
        other => crate::store::StoreError::Corrupt {
            record: "history".into(),
            detail: other.to_string(),
        },
    }
}

/// How a stored record is named in the history (`contact CT000001`, `interaction log entry 7`).
pub fn record_label(table: Table, key: &[u8]) -> String {
    let mut r = KeyReader::new(key);
    let name = table.name();
    let text = |r: &mut KeyReader<'_>| r.str().unwrap_or_else(|| hex(key));
    match table {
        t if t == tables::CONTACTS => format!("contact {}", text(&mut r)),
        t if t == tables::ENTRIES => format!("interaction log entry {}", r.u64().unwrap_or(0)),
        t if t == tables::SALESPEOPLE => format!("salesperson {}", text(&mut r)),
        t if t == tables::GROUPS => format!("interaction group {}", text(&mut r)),
        t if t == tables::TEMPLATES => format!("template {}", text(&mut r)),
        t if t == tables::CAMPAIGNS => format!("campaign {}", text(&mut r)),
        t if t == tables::SEGMENTS => format!("segment {}", text(&mut r)),
        t if t == tables::SAVED_CRITERIA => format!("saved criteria {}", text(&mut r)),
        t if t == tables::USERS => format!("user {}", text(&mut r)),
        t if t == tables::ATTACHMENTS => format!("attachment {}", r.u64().unwrap_or(0)),
        t if t == tables::CAMPAIGN_ENTRIES => format!("campaign entry {}", r.u64().unwrap_or(0)),
        t if t == tables::LOGGED_SEGMENTS => format!("logged segment {}", r.u64().unwrap_or(0)),
        t if t == tables::SEGMENT_LINES => {
            let segment = text(&mut r);
            format!("segment {segment} line {}", r.u64().unwrap_or(0))
        }
        t if t == tables::SEGMENT_STEPS => {
            let segment = text(&mut r);
            format!("segment {segment} step {}", r.u64().unwrap_or(0))
        }
        t if t == tables::RELATIONS => {
            let kind = text(&mut r);
            format!("business relation {kind} {}", text(&mut r))
        }
        t if t == tables::BLOBS => {
            let hash = text(&mut r);
            format!("attachment content {}", hash.get(..12).unwrap_or(&hash))
        }
        t if t == tables::FIELDS => {
            let record = r
                .tag()
                .and_then(FieldRecord::from_tag)
                .map_or("record", FieldRecord::word);
            format!("field {} of {record}", text(&mut r))
        }
        t if t == tables::CUSTOM_VALUES => {
            let record = r.tag().and_then(FieldRecord::from_tag);
            let id = text(&mut r);
            let field = text(&mut r);
            match record {
                Some(FieldRecord::Entry) => format!(
                    "field {field} of interaction log entry {}",
                    id.trim_start_matches('0')
                ),
                Some(record) => format!("field {field} of {} {id}", record.word()),
                None => format!("custom value {}", hex(key)),
            }
        }
        t if t == tables::LOOKUP => "a lookup of campaign entries and logged segments".to_string(),
        t if t == tables::META => match r.tag() {
            Some(2) => "template setup".to_string(),
            Some(3) => "demo marker".to_string(),
            Some(4) => "plugin settings".to_string(),
            Some(6) => "history settings".to_string(),
            _ => format!("setting {}", hex(key)),
        },
        _ => format!("{name} {}", hex(key)),
    }
}

/// The contacts a stored value refers to, as their nos, its own contact first (a contact
/// itself; an entry's or a segment line's contact, then its company; a business relation's
/// contact).
fn contacts_named(table: Table, key: &[u8], value: &[u8]) -> Vec<String> {
    if table == tables::CONTACTS {
        return KeyReader::new(key).str().into_iter().collect();
    }
    if table == tables::ENTRIES {
        if let Ok(e) = codec::decode::<InteractionLogEntry>(value, "entry") {
            return vec![e.contact_no, e.contact_company_no];
        }
    } else if table == tables::SEGMENT_LINES {
        if let Ok(l) = codec::decode::<SegmentLine>(value, "segment line") {
            return vec![l.contact_no, l.contact_company_no];
        }
    } else if table == tables::RELATIONS
        && let Ok(r) = codec::decode::<BusinessRelation>(value, "business relation")
    {
        return vec![r.contact_no];
    }
    Vec::new()
}

impl Change {
    /// The record changed, as the history names it.
    pub fn label(&self) -> String {
        table_of(self.table)
            .map_or_else(|_| "unknown record".into(), |t| record_label(t, &self.key))
    }

    /// What happened to the record: `added`, `changed` or `removed`.
    pub fn what(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
    }

    /// Whether the change is about `record` — a record's label (`contact CT000001`), its code
    /// or no alone (`CT000001`, `7`), or a contact that an entry, segment line or business
    /// relation names.
    pub fn concerns(&self, record: &str) -> bool {
        let label = self.label();
        // "entry 7" is short for "interaction log entry 7".
        let record = match record.get(..6) {
            Some(head) if head.eq_ignore_ascii_case("entry ") => {
                &format!("interaction log {record}")
            }
            _ => record,
        };
        if label.eq_ignore_ascii_case(record)
            || label
                .rsplit(' ')
                .next()
                .is_some_and(|id| id.eq_ignore_ascii_case(record))
        {
            return true;
        }
        let Ok(table) = table_of(self.table) else {
            return false;
        };
        [&self.before, &self.after].into_iter().flatten().any(|v| {
            contacts_named(table, &self.key, v)
                .iter()
                .any(|c| !c.is_empty() && c.eq_ignore_ascii_case(record))
        })
    }
}

/// What an undo did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UndoReport {
    /// The operation undone.
    pub operation: u64,
    /// Each record put back, as a change of the undo (its value now, before the undo, and
    /// the value the undo gives it).
    pub records: Vec<Change>,
    /// The same, counted per table.
    pub counts: Vec<TableCount>,
}

impl View<'_> {
    /// The history's settings.
    pub fn history_settings(&self) -> Result<HistorySettings> {
        Ok(layout::get(self.kv, tables::META, &keys::history_settings())?.unwrap_or_default())
    }

    /// Operation `no`, if the history has it.
    pub fn operation(&self, no: u64) -> Result<Option<Operation>> {
        if no == RECEIPT {
            return Ok(None);
        }
        layout::get(self.kv, tables::JOURNAL, &keys::operation(no))
    }

    /// Visits the operations from `from` on (`None`: from the first, or from the last when
    /// descending), in `order`, until `visit` returns `false`.
    pub fn operations(
        &self,
        from: Option<u64>,
        order: Order,
        visit: &mut dyn FnMut(Operation) -> Result<bool>,
    ) -> Result<()> {
        let (start, end) = match (order, from) {
            (Order::Ascending, f) => (keys::operation(f.unwrap_or(1).max(1)), None),
            (Order::Descending, Some(f)) => (keys::operation(1), Some(keys::operation(f + 1))),
            (Order::Descending, None) => (keys::operation(1), None),
        };
        layout::scan(
            self.kv,
            tables::JOURNAL,
            start.as_bytes(),
            end.as_ref().map(|k| k.as_bytes()),
            order,
            &mut |_, v| visit(codec::decode(v, "operation")?),
        )
    }

    /// The changes operation `no` made, in the order they are stored (by table, then key);
    /// empty once dropped by the retention setting.
    pub fn operation_changes(&self, no: u64) -> Result<Vec<Change>> {
        let mut changes = Vec::new();
        self.each_operation_chunk(no, &mut |_, chunk| {
            changes.extend(chunk);
            Ok(true)
        })?;
        Ok(changes)
    }

    fn each_operation_chunk(
        &self,
        no: u64,
        visit: &mut dyn FnMut(u32, Vec<Change>) -> Result<bool>,
    ) -> Result<()> {
        layout::scan_prefix(
            self.kv,
            tables::JOURNAL_CHANGES,
            &keys::operation(no),
            Order::Ascending,
            &mut |k, v| {
                let chunk = KeyReader::new(k).skip(8).u64().unwrap_or(0);
                visit(
                    u32::try_from(chunk).unwrap_or(u32::MAX),
                    codec::decode(v, "history")?,
                )
            },
        )
    }

    /// The last operation after `no` that changed the record at (`table`, `key`), if any.
    fn changed_after(&self, no: u64, table: u8, key: &[u8]) -> Result<Option<u64>> {
        let mut found = None;
        let mut later = Vec::new();
        self.operations(Some(no + 1), Order::Ascending, &mut |op| {
            later.push(op.no);
            Ok(true)
        })?;
        for op in later.into_iter().rev() {
            self.each_operation_chunk(op, &mut |_, chunk| {
                if chunk.iter().any(|c| c.table == table && c.key == key) {
                    found = Some(op);
                    return Ok(false);
                }
                Ok(true)
            })?;
            if found.is_some() {
                break;
            }
        }
        Ok(found)
    }
}

impl Tx<'_> {
    /// Sets how many days the changes of each operation are kept for undo (`None`: always).
    /// Older operations keep their header — who ran what, when, what it changed in counts and
    /// entry numbers — as a receipt; their changes go at the next commits.
    pub fn history_keep(&mut self, days: Option<u32>) -> Result<()> {
        if days == Some(0) {
            return Err(Error::invalid(
                "history settings",
                "keep_days",
                "0 days would keep no operation undoable",
                "give at least 1 day, or () to keep every operation's changes",
            ));
        }
        let settings = HistorySettings { keep_days: days };
        if self.view().history_settings()? == settings {
            // Nothing changes (and no operation is recorded).
            return Ok(());
        }
        layout::put(self.kv, tables::META, &keys::history_settings(), &settings)
    }

    /// Undoes operation `no` (see the module's documentation): every record it changed gets
    /// its value before back, as part of this transaction (the caller's operation). Refused
    /// when a later operation changed one of them ([`Error::ChangedSince`]), when its changes
    /// are no longer kept, or when a record put back would refer to one that is gone.
    pub fn undo(&mut self, no: u64) -> Result<UndoReport> {
        let record = format!("operation {no}");
        let op = self
            .view()
            .operation(no)?
            .ok_or_else(|| no_such_operation(no))?;
        if op.kind == "erase" || op.kind == "restore" {
            return Err(Error::wrong_state(
                &record,
                format!(
                    "it is {}; the history kept only its receipt",
                    if op.kind == "erase" {
                        "an erasure"
                    } else {
                        "a whole-database import"
                    }
                ),
                "it cannot be undone",
            ));
        }
        if op.expired {
            return Err(Error::wrong_state(
                &record,
                "its changes were dropped by the retention setting (history_keep); only its receipt remains",
                "it cannot be undone; restore a backup made before it if you need its data",
            ));
        }
        if op.erased > 0 {
            return Err(Error::wrong_state(
                &record,
                format!(
                    "an erasure took {} of its changes out of the history",
                    op.erased
                ),
                "it cannot be undone whole",
            ));
        }
        if op.undone_by != 0 {
            if self.view().operation(op.undone_by)?.is_none() {
                return Err(Error::wrong_state(
                    &record,
                    "this same run undoes it already",
                    "name each operation once",
                ));
            }
            return Err(Error::wrong_state(
                &record,
                format!("operation {} undid it already", op.undone_by),
                format!("undo operation {} to have it back", op.undone_by),
            ));
        }
        let changes = self.view().operation_changes(no)?;
        // Who may reach the database is not undone: users and plugin settings have commands of
        // their own, with their own rules (a revoked token stays revoked).
        if let Some(c) = changes.iter().find(|c| {
            c.table == tables::USERS.id() as u8
                || (c.table == tables::META.id() as u8
                    && c.key == keys::plugin_settings().as_bytes())
        }) {
            return Err(Error::wrong_state(
                &record,
                format!("it changed {}, which undo does not change", c.label()),
                "change users with rapport users and plugins with rapport plugins",
            ));
        }
        // Every record is checked before the first write.
        let mut plan = Vec::with_capacity(changes.len());
        for change in changes {
            let table = table_of(change.table)?;
            let current = self.kv.get(table, &change.key)?;
            let target = if current == change.after {
                change.before.clone()
            } else if let Some(merged) = merge_references(table, &change, current.as_deref())? {
                match merged {
                    Merged::Keep(value) => Some(value),
                    Merged::Remove => None,
                }
            } else {
                let by = self
                    .view()
                    .changed_after(no, change.table, &change.key)?
                    .unwrap_or(0);
                return Err(Error::ChangedSince {
                    record: change.label(),
                    operation: no,
                    by,
                    fix: if by == 0 {
                        "it was changed outside the history; nothing was undone".to_string()
                    } else {
                        format!(
                            "undo operation {by} first (rapport undo {by}), or change the record by hand; nothing was undone"
                        )
                    },
                });
            };
            plan.push((table, change, current, target));
        }
        let mut report = UndoReport {
            operation: no,
            ..UndoReport::default()
        };
        let mut counts: BTreeMap<u8, TableCount> = BTreeMap::new();
        for (table, change, current, target) in plan.iter().rev() {
            self.replace_record(*table, &change.key, current.as_deref(), target.as_deref())?;
            let what = match (current, target) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            };
            let count = counts.entry(change.table).or_insert_with(|| TableCount {
                table: table.name().to_string(),
                ..TableCount::default()
            });
            match what {
                "added" => count.added += 1,
                "removed" => count.removed += 1,
                _ => count.changed += 1,
            }
            report.records.push(Change {
                table: change.table,
                key: change.key.clone(),
                before: current.clone(),
                after: target.clone(),
            });
        }
        report.records.reverse();
        report.counts = counts.into_values().collect();
        for (table, change, _, target) in &plan {
            self.check_references(*table, &change.key, target.as_deref(), no)?;
        }
        // An undo undone: what it undid is back, so those are no longer undone.
        for &undone in &op.undoes {
            if let Some(mut earlier) = self.view().operation(undone)?
                && earlier.undone_by == no
            {
                earlier.undone_by = 0;
                layout::put(self.kv, tables::JOURNAL, &keys::operation(undone), &earlier)?;
            }
        }
        let mut op = op;
        op.undone_by = last_operation(&*self.kv)? + 1;
        layout::put(self.kv, tables::JOURNAL, &keys::operation(no), &op)?;
        Ok(report)
    }

    /// Replaces the stored record at (`table`, `key`), now `current`, with `target`, keeping
    /// its derived data in step through the workflows' writers.
    fn replace_record(
        &mut self,
        table: Table,
        key: &[u8],
        current: Option<&[u8]>,
        target: Option<&[u8]>,
    ) -> Result<()> {
        if table == tables::ENTRIES {
            let decode = |b: &[u8]| codec::decode::<InteractionLogEntry>(b, "entry");
            match (
                current.map(decode).transpose()?,
                target.map(decode).transpose()?,
            ) {
                (Some(old), Some(new)) => self.update_entry(&old, &new)?,
                (Some(old), None) => {
                    layout::remove(self.kv, tables::ENTRIES, &keys::no(old.entry_no))?;
                    for k in super::entries::index_keys(&old) {
                        layout::remove(self.kv, tables::ENTRY_INDEX, &k)?;
                    }
                    self.apply_statistics(&old, -1)?;
                }
                (None, Some(new)) => self.insert_entry(&new)?,
                (None, None) => {}
            }
            return Ok(());
        }
        if table == tables::CONTACTS {
            let decode = |b: &[u8]| codec::decode::<Contact>(b, "contact");
            let old = current.map(decode).transpose()?;
            match target.map(decode).transpose()? {
                Some(new) => self.write_contact(old.as_ref(), &new)?,
                None => {
                    if let Some(old) = old {
                        self.unindex_contact(&old)?;
                        layout::remove(self.kv, tables::CONTACTS, &keys::code(&old.no))?;
                        self.columns_remove(&old.no)?;
                    }
                }
            }
            return Ok(());
        }
        if table == tables::SEGMENT_LINES {
            let decode = |b: &[u8]| codec::decode::<SegmentLine>(b, "segment line");
            if let Some(old) = current.map(decode).transpose()? {
                self.delete_line(&old)?;
            }
            if let Some(new) = target.map(decode).transpose()? {
                self.put_line(&new)?;
            }
            return Ok(());
        }
        if table == tables::RELATIONS {
            let decode = |b: &[u8]| codec::decode::<BusinessRelation>(b, "business relation");
            if let Some(old) = current.map(decode).transpose()? {
                layout::remove(
                    self.kv,
                    tables::CONTACT_INDEX,
                    &keys::contact_relation(&old.contact_no, old.kind, &old.account_no),
                )?;
            }
            if let Some(new) = target.map(decode).transpose()? {
                layout::mark(
                    self.kv,
                    tables::CONTACT_INDEX,
                    &keys::contact_relation(&new.contact_no, new.kind, &new.account_no),
                )?;
            }
        }
        match target {
            Some(bytes) => self.kv.put(table, key, bytes)?,
            None => self.kv.remove(table, key)?,
        }
        Ok(())
    }

    /// After an undo wrote (`target` now at `key`): what the record refers to exists, and a
    /// record that went is referred to by nothing.
    fn check_references(
        &self,
        table: Table,
        key: &[u8],
        target: Option<&[u8]>,
        no: u64,
    ) -> Result<()> {
        let view = self.view();
        let label = record_label(table, key);
        let fix =
            format!("undo the later operations that use it first; operation {no} was not undone");
        let missing = |what: String| {
            Error::in_use(
                label.clone(),
                format!("it would refer to {what}, which no longer exists"),
                format!(
                    "create {what} again, or undo the operation that removed it first; operation {no} was not undone"
                ),
            )
        };
        let in_use = |why: String| {
            Error::in_use(
                label.clone(),
                format!("undoing would remove it, and {why}"),
                fix.clone(),
            )
        };
        let kv = self.kv as &dyn KvRead;
        match target {
            Some(bytes) if table == tables::ENTRIES => {
                let e: InteractionLogEntry = codec::decode(bytes, "entry")?;
                if !e.contact_no.is_empty() && view.contact(&e.contact_no)?.is_none() {
                    return Err(missing(format!("contact {}", e.contact_no)));
                }
                if e.logged_segment_no != 0 && view.logged_segment(e.logged_segment_no)?.is_none() {
                    return Err(missing(format!("logged segment {}", e.logged_segment_no)));
                }
                if e.campaign_entry_no != 0 && view.campaign_entry(e.campaign_entry_no)?.is_none() {
                    return Err(missing(format!("campaign entry {}", e.campaign_entry_no)));
                }
                if e.attachment_no != 0 && view.attachment(e.attachment_no)?.is_none() {
                    return Err(missing(format!("attachment {}", e.attachment_no)));
                }
            }
            Some(bytes) if table == tables::CONTACTS => {
                let c: Contact = codec::decode(bytes, "contact")?;
                if !c.company_no.is_empty()
                    && c.company_no != c.no
                    && view.contact(&c.company_no)?.is_none()
                {
                    return Err(missing(format!("company {}", c.company_no)));
                }
                if !c.salesperson.is_empty() && view.salesperson(&c.salesperson)?.is_none() {
                    return Err(missing(format!("salesperson {}", c.salesperson)));
                }
            }
            Some(bytes) if table == tables::SEGMENT_LINES => {
                let l: SegmentLine = codec::decode(bytes, "segment line")?;
                if view.segment(&l.segment_no)?.is_none() {
                    return Err(missing(format!("segment {}", l.segment_no)));
                }
                if !l.contact_no.is_empty() && view.contact(&l.contact_no)?.is_none() {
                    return Err(missing(format!("contact {}", l.contact_no)));
                }
            }
            None if table == tables::CONTACTS => {
                let contact_no = KeyReader::new(key).str().unwrap_or_default();
                let users = [
                    (
                        keys::entries_of_company(&contact_no),
                        tables::ENTRY_INDEX,
                        "entries name it as their company",
                    ),
                    (
                        keys::segment_lines_of_contact(&contact_no),
                        tables::CONTACT_INDEX,
                        "segment lines name it",
                    ),
                    (
                        keys::contacts_of_company(&contact_no),
                        tables::CONTACT_INDEX,
                        "persons belong to it",
                    ),
                    (
                        keys::relations_of_contact(&contact_no),
                        tables::CONTACT_INDEX,
                        "business relations name it",
                    ),
                ];
                // The first entry that names it, by its number (the scan stops there).
                let mut first_entry = None;
                layout::scan_prefix(
                    kv,
                    tables::ENTRY_INDEX,
                    &keys::entries_of_contact(&contact_no),
                    Order::Ascending,
                    &mut |k, _| {
                        first_entry = Some(layout::trailing_u64(k));
                        Ok(false)
                    },
                )?;
                if let Some(entry) = first_entry {
                    return Err(Error::in_use(
                        label,
                        format!(
                            "undoing would remove it, and interaction log entry {entry}, made later, names it"
                        ),
                        format!(
                            "undo the operation that made entry {entry} first (rapport history --record {entry}); operation {no} was not undone"
                        ),
                    ));
                }
                for (prefix, index, why) in users {
                    if layout::any_under(kv, index, &prefix)? {
                        return Err(in_use(format!("{why} that later operations made")));
                    }
                }
            }
            None if table == tables::SEGMENTS => {
                let segment_no = KeyReader::new(key).str().unwrap_or_default();
                if layout::any_under(
                    kv,
                    tables::SEGMENT_LINES,
                    &keys::lines_of_segment(&segment_no),
                )? {
                    return Err(in_use(
                        "it has lines that later operations added".to_string(),
                    ));
                }
            }
            None if table == tables::LOGGED_SEGMENTS || table == tables::CAMPAIGN_ENTRIES => {
                let entry_no = KeyReader::new(key).u64().unwrap_or(0);
                let prefix = if table == tables::LOGGED_SEGMENTS {
                    keys::entries_of_logged_segment(entry_no)
                } else {
                    keys::entries_of_campaign_entry(entry_no)
                };
                if layout::any_under(kv, tables::ENTRY_INDEX, &prefix)? {
                    return Err(in_use("entries of it remain".to_string()));
                }
            }
            Some(bytes) if table == tables::RELATIONS => {
                let r: BusinessRelation = codec::decode(bytes, "business relation")?;
                if view.contact(&r.contact_no)?.is_none() {
                    return Err(missing(format!("contact {}", r.contact_no)));
                }
            }
            Some(_) if table == tables::CUSTOM_VALUES => {
                // A value comes back only for a field that is still declared.
                let mut r = KeyReader::new(key);
                let record = r.tag().and_then(FieldRecord::from_tag);
                let (_, field) = (r.str(), r.str().unwrap_or_default());
                if let Some(record) = record
                    && view.declared_field(record, &field)?.is_none()
                {
                    return Err(missing(format!(
                        "the declared field {field} of {}",
                        record.word()
                    )));
                }
            }
            Some(bytes) if table == tables::TEMPLATES => {
                let t: InteractionTemplate = codec::decode(bytes, "template")?;
                if view.group(&t.group)?.is_none() {
                    return Err(missing(format!("interaction group {}", t.group)));
                }
            }
            None if table == tables::FIELDS => {
                let mut r = KeyReader::new(key);
                let record = r.tag().and_then(FieldRecord::from_tag);
                if let (Some(record), Some(name)) = (record, r.str())
                    && let Some(user) = view.custom_field_user(record, &name)?
                {
                    return Err(in_use(format!("{user} has a value of it")));
                }
            }
            None if table == tables::SALESPEOPLE => {
                let code = KeyReader::new(key).str().unwrap_or_default();
                if layout::any_under(
                    kv,
                    tables::ENTRY_INDEX,
                    &keys::entries_of_salesperson(&code),
                )? {
                    return Err(in_use("entries name it".to_string()));
                }
            }
            None if table == tables::GROUPS => {
                let code = KeyReader::new(key).str().unwrap_or_default();
                if let Some(t) = view.templates()?.into_iter().find(|t| t.group == code) {
                    return Err(in_use(format!("template {} is of it", t.code)));
                }
            }
            None if table == tables::TEMPLATES => {
                let code = KeyReader::new(key).str().unwrap_or_default();
                let setup = view.template_setup()?;
                if let Some((doc, _)) = setup.templates.iter().find(|(_, t)| **t == code) {
                    return Err(in_use(format!("the template setup records {doc} with it")));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Notes what identifies a person in texts: their name, e-mail and phone numbers.
fn remember(words: &mut BTreeSet<String>, c: &Contact) {
    for w in [&c.name, &c.email, &c.phone, &c.mobile] {
        if w.trim().chars().count() >= 3 {
            words.insert(w.trim().to_string());
        }
    }
}

/// What an erasure did, in counts: it names no personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Entries deleted.
    pub entries: u64,
    /// Segment lines deleted.
    pub segment_lines: u64,
    /// Whether a contact record was deleted (it may have been deleted before).
    pub contact: bool,
    /// Operations of the history the person's data was taken out of.
    pub operations: u64,
    /// Changes taken out of the history.
    pub changes: u64,
}

impl Tx<'_> {
    /// Writes the receipt of the running operation: what it did, in `what`, without the
    /// records it changed (numbered and dated at commit).
    pub(crate) fn history_receipt(
        &mut self,
        kind: &str,
        what: String,
        counts: Vec<TableCount>,
    ) -> Result<()> {
        let op = Operation {
            kind: kind.to_string(),
            what,
            counts,
            ..Operation::default()
        };
        layout::put(self.kv, tables::JOURNAL, &keys::operation(RECEIPT), &op)
    }

    /// Erases a person's data for good (a privacy request): the contact, its business
    /// relations, its entries (their comments, custom values and attachments) and the segment
    /// lines that name it — and takes every record of them out of the history, with the
    /// contact's no, name, e-mail and phone numbers out of the scripts it keeps. The operation
    /// leaves a receipt that names no personal data ([`Erasure`]). A company with persons is
    /// refused (erase or move the persons first). It cannot be undone.
    pub fn erase_contact(&mut self, no: &str) -> Result<Erasure> {
        let no = crate::model::normalize_code(no);
        if no.is_empty() {
            return Err(Error::required(
                "erasure",
                "contact",
                "name the contact to erase by its no (CT000012)",
            ));
        }
        let record = format!("contact {no}");
        let contact = self.view().contact(&no)?;
        if let Some(c) = contact.as_ref().filter(|c| !c.is_person()) {
            let persons = self.view().persons_of(&c.no)?;
            if let Some(first) = persons.first() {
                return Err(Error::in_use(
                    &record,
                    format!(
                        "{} person(s) belong to this company, starting with {}",
                        persons.len(),
                        first.no
                    ),
                    "erase its persons (or move them to another company) first",
                ));
            }
        }
        // Entries of other contacts that name it as their company (persons it had): erasing
        // the company would leave them pointing nowhere.
        let of_company = layout::index_nos(
            &*self.kv,
            tables::ENTRY_INDEX,
            &keys::entries_of_company(&no),
            Order::Ascending,
        )?;
        for entry_no in of_company {
            if let Some(e) = self.view().entry(entry_no)?
                && e.contact_no != no
            {
                return Err(Error::in_use(
                    &record,
                    format!(
                        "interaction log entry {entry_no} of contact {} names it as its company",
                        e.contact_no
                    ),
                    "erase that contact too, or delete the company (contact_delete) instead",
                ));
            }
        }
        // The receipt first: from here on the transaction's records are not kept for the
        // history (they are the person's data); its counts are written at the end.
        self.history_receipt("erase", "erased a contact".to_string(), Vec::new())?;
        let mut erasure = Erasure {
            contact: contact.is_some(),
            ..Erasure::default()
        };
        // What identifies the person, and their entries and attachments, gathered from the
        // records and the whole history before anything is scrubbed.
        let mut words: BTreeSet<String> = BTreeSet::from([no.clone()]);
        if let Some(c) = &contact {
            remember(&mut words, c);
        }
        let mut entries: BTreeSet<u64> = BTreeSet::new();
        let mut attachments: BTreeSet<u64> = BTreeSet::new();
        let current = layout::index_nos(
            &*self.kv,
            tables::ENTRY_INDEX,
            &keys::entries_of_contact(&no),
            Order::Ascending,
        )?;
        for entry_no in &current {
            let entry = self.require_entry(*entry_no)?;
            entries.insert(entry.entry_no);
            if entry.attachment_no != 0 {
                attachments.insert(entry.attachment_no);
            }
            self.remove_entry(&entry)?;
            erasure.entries += 1;
        }
        let mut lines = Vec::new();
        layout::scan_prefix(
            &*self.kv,
            tables::CONTACT_INDEX,
            &keys::segment_lines_of_contact(&no),
            Order::Ascending,
            &mut |k, _| {
                let mut r = layout::after_prefix(k, &keys::segment_lines_of_contact(&no));
                if let (Some(segment), Some(line)) = (r.str(), r.u64()) {
                    lines.push(keys::segment_line(
                        &segment,
                        u32::try_from(line).unwrap_or(0),
                    ));
                }
                Ok(true)
            },
        )?;
        for key in lines {
            if let Some(line) = layout::get::<SegmentLine>(&*self.kv, tables::SEGMENT_LINES, &key)?
            {
                self.delete_line(&line)?;
                erasure.segment_lines += 1;
            }
        }
        if let Some(c) = &contact {
            self.remove_contact(c)?;
        }
        // Segment criteria and saved criteria list the contacts they picked by number.
        let no_only = BTreeSet::from([no.clone()]);
        for table in [tables::SEGMENT_STEPS, tables::SAVED_CRITERIA] {
            let mut rewrites = Vec::new();
            layout::scan_all(&*self.kv, table, Order::Ascending, &mut |k, v| {
                if let Some(clean) = scrub_stored(table, k, v, &no_only) {
                    rewrites.push((k.to_vec(), clean));
                }
                Ok(true)
            })?;
            for (k, v) in rewrites {
                self.kv.put(table, &k, &v)?;
            }
        }
        let mut ops = Vec::new();
        self.view().operations(None, Order::Ascending, &mut |op| {
            ops.push(op);
            Ok(true)
        })?;
        // The first pass: every value of the history that is the person's.
        for op in &ops {
            self.view().each_operation_chunk(op.no, &mut |_, chunk| {
                for change in chunk.iter().filter(|c| c.names_contact(&no)) {
                    for value in [&change.before, &change.after].into_iter().flatten() {
                        if change.table == tables::ENTRIES.id() as u8 {
                            if let Ok(e) = codec::decode::<InteractionLogEntry>(value, "entry") {
                                entries.insert(e.entry_no);
                                if e.attachment_no != 0 {
                                    attachments.insert(e.attachment_no);
                                }
                            }
                        } else if change.table == tables::CONTACTS.id() as u8
                            && let Ok(c) = codec::decode::<Contact>(value, "contact")
                        {
                            remember(&mut words, &c);
                        }
                    }
                }
                Ok(true)
            })?;
        }
        // The person's attachments: those only their entries used (gone now with them), and
        // the contents only those used.
        let mut gone_attachments = BTreeSet::new();
        for a in attachments {
            if self.view().attachment(a)?.is_none() {
                gone_attachments.insert(a);
            }
        }
        let mut contents = BTreeSet::new();
        for op in &ops {
            self.view().each_operation_chunk(op.no, &mut |_, chunk| {
                for change in chunk
                    .iter()
                    .filter(|c| c.is_attachment_of(&gone_attachments))
                {
                    for value in [&change.before, &change.after].into_iter().flatten() {
                        if let Ok(a) = codec::decode::<Attachment>(value, "attachment") {
                            contents.insert(keys::blob(&a.content_hash).as_bytes().to_vec());
                        }
                    }
                }
                Ok(true)
            })?;
        }
        contents.retain(|key| !matches!(self.kv.get(tables::BLOBS, key), Ok(Some(_))));
        // The second pass: the person's changes go; other changes and the kept scripts lose
        // every mention of them.
        for mut op in ops {
            let mut chunks = Vec::new();
            self.view().each_operation_chunk(op.no, &mut |n, chunk| {
                chunks.push((n, chunk));
                Ok(true)
            })?;
            let mut removed = 0u64;
            let mut scrubbed_any = false;
            let mut kept_chunks = 0u32;
            for (n, chunk) in chunks {
                let before = chunk.len();
                let mut kept: Vec<Change> = chunk
                    .into_iter()
                    .filter(|c| {
                        !(c.names_contact(&no)
                            || c.is_custom_value_of(&entries)
                            || c.is_attachment_of(&gone_attachments)
                            || (c.table == tables::BLOBS.id() as u8 && contents.contains(&c.key)))
                    })
                    .collect();
                removed += (before - kept.len()) as u64;
                // Other records that name the person by number (a segment's criteria list the
                // contacts they added) lose the number; their own texts stay as they are.
                let mut scrubbed = false;
                for change in &mut kept {
                    let table = table_of(change.table)?;
                    for value in [&mut change.before, &mut change.after]
                        .into_iter()
                        .flatten()
                    {
                        if let Some(clean) = scrub_stored(table, &change.key, value, &no_only) {
                            *value = clean;
                            scrubbed = true;
                        }
                    }
                }
                scrubbed_any |= scrubbed;
                let key = keys::operation_chunk(op.no, n);
                if kept.is_empty() {
                    layout::remove(self.kv, tables::JOURNAL_CHANGES, &key)?;
                } else {
                    kept_chunks += 1;
                    if kept.len() != before || scrubbed {
                        layout::put(self.kv, tables::JOURNAL_CHANGES, &key, &kept)?;
                    }
                }
            }
            let scrubbed_what = scrub(&op.what, &words);
            let scrubbed_script = scrub(&op.script, &words);
            if removed > 0
                || scrubbed_any
                || scrubbed_what != op.what
                || scrubbed_script != op.script
            {
                erasure.operations += 1;
                erasure.changes += removed;
                op.erased += removed;
                if removed > 0 {
                    op.chunks = kept_chunks;
                }
                op.what = scrubbed_what;
                op.script = scrubbed_script;
                layout::put(self.kv, tables::JOURNAL, &keys::operation(op.no), &op)?;
            }
        }
        if contact.is_none() && erasure.operations == 0 && erasure.entries == 0 {
            return Err(Error::NotFound {
                record: "contact",
                key: no,
                fix: "check the contact no: neither the contacts nor the history have it, so there is nothing to erase".into(),
            });
        }
        // No hash of the contact's number: numbers are few enough to try them all.
        let what = format!(
            "erased a contact: {} entries, {} segment lines, {} changes in {} operations of the history",
            erasure.entries, erasure.segment_lines, erasure.changes, erasure.operations
        );
        let removed = |table: Table, n: u64| TableCount {
            table: table.name().to_string(),
            removed: n,
            ..TableCount::default()
        };
        let counts = [
            removed(tables::CONTACTS, u64::from(erasure.contact)),
            removed(tables::ENTRIES, erasure.entries),
            removed(tables::SEGMENT_LINES, erasure.segment_lines),
        ]
        .into_iter()
        .filter(|c| c.removed > 0)
        .collect();
        self.history_receipt("erase", what, counts)?;
        Ok(erasure)
    }
}

impl Change {
    /// Whether the change is of contact `no`, or of an entry, segment line or business
    /// relation of it (not of a record that names it as its company: that is another person's).
    fn names_contact(&self, no: &str) -> bool {
        let Ok(table) = table_of(self.table) else {
            return false;
        };
        if table == tables::CONTACTS {
            return KeyReader::new(&self.key).str().as_deref() == Some(no);
        }
        [&self.before, &self.after].into_iter().flatten().any(|v| {
            contacts_named(table, &self.key, v)
                .first()
                .is_some_and(|c| c == no)
        })
    }

    /// Whether the change is of one of `attachments` (their records, by no).
    fn is_attachment_of(&self, attachments: &BTreeSet<u64>) -> bool {
        self.table == tables::ATTACHMENTS.id() as u8
            && KeyReader::new(&self.key)
                .u64()
                .is_some_and(|n| attachments.contains(&n))
    }

    /// Whether the change is of a custom value of one of `entries`.
    fn is_custom_value_of(&self, entries: &BTreeSet<u64>) -> bool {
        if self.table != tables::CUSTOM_VALUES.id() as u8 || entries.is_empty() {
            return false;
        }
        let mut r = KeyReader::new(&self.key);
        r.tag() == Some(crate::model::FieldRecord::Entry.tag())
            && r.str()
                .and_then(|id| id.parse::<u64>().ok())
                .is_some_and(|n| entries.contains(&n))
    }
}

/// What a merged reference count leaves: the record with its count, or nothing.
enum Merged {
    Keep(Vec<u8>),
    Remove,
}

/// When only reference counts differ between a record and what the operation left (an
/// attachment or its content, shared by entries of other operations), the value before with
/// the others' references kept (`Some(None)`: none are left, it goes); `Ok(None)` when anything
/// else differs. A content's change that only counted is stored without the content (it is in
/// the record), and takes it from the record now.
fn merge_references(
    table: Table,
    change: &Change,
    current: Option<&[u8]>,
) -> Result<Option<Merged>> {
    /// Decodes a record and takes its count out (so the rest compares).
    fn refs_of<T: serde::de::DeserializeOwned>(
        bytes: Option<&[u8]>,
        refs: fn(&mut T) -> &mut u64,
    ) -> Result<Option<(T, u64)>> {
        bytes
            .map(|b| {
                let mut record: T = codec::decode(b, "attachment")?;
                let n = std::mem::take(refs(&mut record));
                Ok((record, n))
            })
            .transpose()
    }
    struct Rules<T> {
        refs: fn(&mut T) -> &mut u64,
        /// Whether two records are the same but for their counts.
        same: fn(&T, &T) -> bool,
        /// Completes a record stored without its content from the record now.
        fill: fn(&mut T, &T),
    }
    fn merge<T: serde::de::DeserializeOwned + Serialize>(
        change: &Change,
        current: Option<&[u8]>,
        rules: &Rules<T>,
    ) -> Result<Option<Merged>> {
        let before = refs_of(change.before.as_deref(), rules.refs)?;
        let after = refs_of(change.after.as_deref(), rules.refs)?;
        let now = refs_of(current, rules.refs)?;
        let counted = |mut record: T, n: u64| -> Result<Option<Merged>> {
            *(rules.refs)(&mut record) = n;
            Ok(Some(Merged::Keep(codec::encode(&record)?)))
        };
        match (before, after, now) {
            // It changed its count; others changed it since.
            (Some((mut b, bn)), Some((a, an)), Some((n, nn))) if (rules.same)(&a, &n) => {
                match nn.checked_sub(an) {
                    Some(others) => {
                        (rules.fill)(&mut b, &n);
                        counted(b, bn + others)
                    }
                    None => Ok(None),
                }
            }
            // It removed it; the same was stored again since.
            (Some((mut b, bn)), None, Some((n, nn))) if (rules.same)(&b, &n) => {
                (rules.fill)(&mut b, &n);
                counted(b, bn + nn)
            }
            // It made it; others use it since.
            (None, Some((a, an)), Some((n, nn))) if (rules.same)(&a, &n) => {
                match nn.checked_sub(an) {
                    Some(0) => Ok(Some(Merged::Remove)),
                    Some(others) => counted(n, others),
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }
    if table == tables::ATTACHMENTS {
        merge::<Attachment>(
            change,
            current,
            &Rules {
                refs: |a| &mut a.references,
                same: |a, b| a == b,
                fill: |_, _| {},
            },
        )
    } else if table == tables::BLOBS {
        merge::<Blob>(
            change,
            current,
            &Rules {
                refs: |b| &mut b.references,
                same: |a, b| a.content.is_empty() || b.content.is_empty() || a.content == b.content,
                fill: |b, now| {
                    if b.content.is_empty() {
                        b.content.clone_from(&now.content);
                    }
                },
            },
        )
    } else {
        Ok(None)
    }
}
