//! The contact columns: a compact copy of the contact fields that filters test, kept column by
//! column in blocks of up to [`BLOCK_ROWS`] contacts, so a scan that tests a few fields of every
//! contact reads a few bytes a contact instead of decoding whole records.
//!
//! A block is keyed by its first contact's key in [`tables::CONTACT_COLUMNS`]; its contacts are
//! in key order and the blocks partition the contacts (a contact is in the block with the
//! greatest first key not after its own), so reading the blocks in order reads the contacts in
//! the order of their table. Each block holds the contacts' nos and, for each field any of its
//! contacts has, a column: the distinct values (a dictionary) and, per contact, the index of
//! its value (or [`ABSENT`]). Columns are decoded only when a scan asks for them.
//!
//! The fields kept are the built-in ones but the free text ones (name, e-mail, phone, mobile:
//! [`in_columns`]) and every custom field. A field's value in a block is the one
//! `contact_field` reads from the record (a custom value before a built-in one of the same
//! name), so a predicate gives the same answer on either; `check` compares both.
//!
//! The columns are derived data: every write of a contact record changes its row in the same
//! transaction ([`Tx::columns_put`], [`Tx::columns_remove`]); a bulk operation keeps the blocks
//! it changes decoded and writes each once ([`Tx::batch_columns`]).

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::{Tx, View};
use crate::error::Result;
use crate::layout::{self, keys, tables};
use crate::model::{Contact, FieldValue, FieldValueView};
use crate::store::key::{Key, KeyReader};
use crate::store::{KvRead, KvWrite, Order, codec};

/// Contacts a block holds at most.
pub(crate) const BLOCK_ROWS: usize = 256;

/// A contact's code in a column where it has no value.
const ABSENT: u16 = u16::MAX;

/// Values a column being changed holds before those no row uses go (a block's rows use at
/// most [`BLOCK_ROWS`] + 1).
const DICT_MAX: usize = 4 * BLOCK_ROWS;

/// Rows a bulk operation keeps decoded before it writes its blocks.
#[cfg(not(test))]
const CACHE_ROWS: usize = 65_536;
/// (Few in the unit tests, so their bulk work writes blocks part way through too.)
#[cfg(test)]
const CACHE_ROWS: usize = 300;

/// Whether contact field `name` is in the columns (built-in free text is not; custom fields
/// are).
pub fn in_columns(name: &str) -> bool {
    !matches!(name, "name" | "email" | "phone" | "mobile")
}

/// The values a contact has in the columns, in field name order: the built-in fields of
/// [`in_columns`] as text or bools, with its custom fields among them (a custom value in place
/// of a built-in one of the same name).
fn row_values(c: &Contact) -> Vec<(&str, FieldValueView<'_>)> {
    // In name order.
    let built_in = [
        ("city", FieldValueView::Text(&c.city)),
        ("company_no", FieldValueView::Text(&c.company_no)),
        (
            "correspondence",
            FieldValueView::Text(c.correspondence.as_str()),
        ),
        ("country", FieldValueView::Text(&c.country)),
        (
            "exclude_from_segment",
            FieldValueView::Bool(c.exclude_from_segment),
        ),
        ("kind", FieldValueView::Text(c.kind.as_str())),
        ("language", FieldValueView::Text(&c.language)),
        ("privacy_blocked", FieldValueView::Bool(c.privacy_blocked)),
        ("salesperson", FieldValueView::Text(&c.salesperson)),
    ];
    let mut out = Vec::with_capacity(built_in.len() + c.custom.len());
    let mut custom = c.custom.iter().peekable();
    for (name, value) in built_in {
        while let Some((n, v)) = custom.next_if(|(n, _)| n.as_str() < name) {
            out.push((n.as_str(), FieldValueView::of(v)));
        }
        match custom.next_if(|(n, _)| n.as_str() == name) {
            Some((n, v)) => out.push((n.as_str(), FieldValueView::of(v))),
            None => out.push((name, value)),
        }
    }
    out.extend(custom.map(|(n, v)| (n.as_str(), FieldValueView::of(v))));
    out
}

/// A block as stored: its nos one after another, where each ends (four bytes little-endian a
/// row), and each column's name and encoded [`StoredColumn`] (in name order). A row's no is
/// found without decoding the others.
#[derive(Serialize, Deserialize)]
struct StoredBlock<'a> {
    nos: &'a str,
    ends: &'a [u8],
    #[serde(borrow)]
    columns: Vec<(&'a str, &'a [u8])>,
}

impl<'a> StoredBlock<'a> {
    fn decode(bytes: &'a [u8]) -> Result<Self> {
        let block: StoredBlock<'a> = codec::decode_in_place(bytes, "contact columns")?;
        let rows = block.ends.len() / 4;
        let ends_ok = block.ends.len().is_multiple_of(4)
            && (0..rows).all(|i| {
                let end = block.end(i);
                end <= block.nos.len()
                    && block.nos.is_char_boundary(end)
                    && (i == 0 || block.end(i - 1) <= end)
            })
            && block.columns.windows(2).all(|w| w[0].0 < w[1].0);
        if !ends_ok {
            return Err(crate::error::Error::invalid(
                "contact columns",
                "nos",
                "a block's contact nos do not fit its text, or its columns are out of order",
                "run `rapport check`; the columns are rebuilt from the records on upgrade",
            ));
        }
        Ok(block)
    }

    fn rows(&self) -> usize {
        self.ends.len() / 4
    }

    fn end(&self, row: usize) -> usize {
        let b = &self.ends[4 * row..4 * row + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    /// Row `row`'s no.
    fn no(&self, row: usize) -> &'a str {
        let start = if row == 0 { 0 } else { self.end(row - 1) };
        &self.nos[start..self.end(row)]
    }
}

/// Row `row`'s code in `codes` of `rows` rows: one byte a row (`0xFF` for none) when there
/// are as many bytes as rows, else two, little-endian ([`ABSENT`] for none).
fn code_at(codes: &[u8], row: usize, rows: usize) -> u16 {
    if codes.len() == rows {
        match codes[row] {
            u8::MAX => ABSENT,
            c => u16::from(c),
        }
    } else {
        u16::from_le_bytes([codes[2 * row], codes[2 * row + 1]])
    }
}

/// A column as stored: its distinct values, and each row's index into them ([`code_at`]: one
/// byte a row when there are fewer than 255 values, else two). A column of numbers keeps them as eight bytes
/// each (little-endian IEEE 754), read where they lie.
#[derive(Serialize, Deserialize)]
enum StoredColumn<'a> {
    Values {
        #[serde(borrow)]
        dict: Vec<FieldValueView<'a>>,
        codes: &'a [u8],
    },
    Numbers {
        numbers: &'a [u8],
        codes: &'a [u8],
    },
}

impl<'a> StoredColumn<'a> {
    fn decode(bytes: &'a [u8], rows: usize) -> Option<Self> {
        let col: StoredColumn<'a> = codec::decode_in_place(bytes, "contact column").ok()?;
        let (codes, values) = match &col {
            StoredColumn::Values { dict, codes } => (*codes, dict.len()),
            StoredColumn::Numbers { numbers, codes } => {
                if numbers.len() % 8 != 0 {
                    return None;
                }
                (*codes, numbers.len() / 8)
            }
        };
        (rows > 0
            && (codes.len() == rows || codes.len() == rows * 2)
            && (0..rows).all(|row| {
                let c = code_at(codes, row, rows);
                c == ABSENT || usize::from(c) < values
            }))
        .then_some(col)
    }

    fn codes(&self) -> &'a [u8] {
        match self {
            StoredColumn::Values { codes, .. } | StoredColumn::Numbers { codes, .. } => codes,
        }
    }

    /// Row `row`'s code of `rows` ([`ABSENT`] for none).
    fn code(&self, row: usize, rows: usize) -> u16 {
        code_at(self.codes(), row, rows)
    }

    /// How many distinct values it holds.
    fn values(&self) -> usize {
        match self {
            StoredColumn::Values { dict, .. } => dict.len(),
            StoredColumn::Numbers { numbers, .. } => numbers.len() / 8,
        }
    }

    /// Row `row`'s value of `rows` (the column was checked by [`StoredColumn::decode`]).
    fn value(&self, row: usize, rows: usize) -> Option<FieldValueView<'a>> {
        let code = self.code(row, rows);
        if code == ABSENT {
            return None;
        }
        Some(self.value_of(usize::from(code)))
    }

    /// The value of code `code`.
    fn value_of(&self, code: usize) -> FieldValueView<'a> {
        match self {
            StoredColumn::Values { dict, .. } => dict[code],
            StoredColumn::Numbers { numbers, .. } => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&numbers[8 * code..8 * code + 8]);
                FieldValueView::Number(f64::from_le_bytes(b))
            }
        }
    }

    /// Every value, owned, in code order.
    fn dict(&self) -> Vec<FieldValue> {
        match self {
            StoredColumn::Values { dict, .. } => dict.iter().map(|v| v.to_owned_value()).collect(),
            StoredColumn::Numbers { numbers, .. } => numbers
                .chunks_exact(8)
                .map(|b| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    FieldValue::Number(f64::from_le_bytes(a))
                })
                .collect(),
        }
    }
}

/// A column of a block being changed: its values, each row's code, and the codes of each
/// value's hash (so finding a value's code is not a search of the values).
#[derive(Debug, Clone, Default)]
struct Column {
    dict: Vec<FieldValue>,
    codes: Vec<u16>,
    index: HashMap<u64, Vec<u16>>,
}

/// A hash of a value that tells apart what [`FieldValueView::same`] tells apart.
fn value_hash(v: FieldValueView<'_>) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    match v {
        FieldValueView::Empty => 0u8.hash(&mut h),
        FieldValueView::Text(t) => (1u8, t).hash(&mut h),
        FieldValueView::Number(n) => (2u8, n.to_bits()).hash(&mut h),
        FieldValueView::Bool(b) => (3u8, b).hash(&mut h),
        FieldValueView::Date(d) => (4u8, d).hash(&mut h),
    }
    h.finish()
}

impl Column {
    /// A column of `dict` and `codes`, indexed.
    fn new(dict: Vec<FieldValue>, codes: Vec<u16>) -> Self {
        let mut index: HashMap<u64, Vec<u16>> = HashMap::new();
        for (i, v) in dict.iter().enumerate() {
            index
                .entry(value_hash(FieldValueView::of(v)))
                .or_default()
                .push(i as u16);
        }
        Column { dict, codes, index }
    }

    fn code_of(&mut self, value: FieldValueView<'_>) -> u16 {
        if self.dict.len() >= DICT_MAX {
            // Values no row uses any more (rows changed many times in one batch) go.
            *self = self.part(0..self.codes.len());
        }
        let h = value_hash(value);
        if let Some(codes) = self.index.get(&h)
            && let Some(c) = codes
                .iter()
                .find(|c| FieldValueView::of(&self.dict[usize::from(**c)]).same(value))
        {
            return *c;
        }
        let code = self.dict.len() as u16;
        self.dict.push(value.to_owned_value());
        self.index.entry(h).or_default().push(code);
        code
    }

    /// The rows `rows` as a column of their own, with only the values they use.
    fn part(&self, rows: std::ops::Range<usize>) -> Column {
        let mut new_code = vec![ABSENT; self.dict.len()];
        let mut dict = Vec::new();
        let codes = self.codes[rows]
            .iter()
            .map(|&c| {
                if c == ABSENT {
                    return ABSENT;
                }
                let slot = &mut new_code[usize::from(c)];
                if *slot == ABSENT {
                    *slot = dict.len() as u16;
                    dict.push(self.dict[usize::from(c)].clone());
                }
                *slot
            })
            .collect();
        Column::new(dict, codes)
    }
}

/// A block being changed.
#[derive(Debug, Clone, Default)]
struct Block {
    nos: Vec<String>,
    columns: BTreeMap<String, Column>,
}

impl Block {
    fn decode(bytes: &[u8]) -> Result<Block> {
        let stored = StoredBlock::decode(bytes)?;
        let rows = stored.rows();
        let mut block = Block {
            nos: (0..rows).map(|i| stored.no(i).to_string()).collect(),
            columns: BTreeMap::new(),
        };
        for &(name, bytes) in &stored.columns {
            let Some(col) = StoredColumn::decode(bytes, rows) else {
                return Err(crate::error::Error::invalid(
                    "contact columns",
                    "column",
                    format!(
                        "column {name} of the block of contact {} is damaged",
                        stored.no(0)
                    ),
                    "run `rapport check`; the columns are rebuilt from the records on upgrade",
                ));
            };
            block.columns.insert(
                name.to_string(),
                Column::new(col.dict(), (0..rows).map(|r| col.code(r, rows)).collect()),
            );
        }
        Ok(block)
    }

    /// The stored bytes: each column with only the values its rows use; a column no row has a
    /// value in is left out.
    fn encode(&self) -> Result<Vec<u8>> {
        let mut encoded = Vec::new();
        for (name, col) in &self.columns {
            let used = col.part(0..col.codes.len());
            if used.dict.is_empty() {
                continue;
            }
            let codes: Vec<u8> = if used.dict.len() < usize::from(u8::MAX) {
                used.codes
                    .iter()
                    .map(|&c| if c == ABSENT { u8::MAX } else { c as u8 })
                    .collect()
            } else {
                used.codes.iter().flat_map(|c| c.to_le_bytes()).collect()
            };
            let numbers: Option<Vec<u8>> = used
                .dict
                .iter()
                .map(|v| match v {
                    FieldValue::Number(n) => Some(n.to_le_bytes()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(|n| n.concat());
            let column = match &numbers {
                Some(numbers) => StoredColumn::Numbers {
                    numbers,
                    codes: &codes,
                },
                None => StoredColumn::Values {
                    dict: used.dict.iter().map(FieldValueView::of).collect(),
                    codes: &codes,
                },
            };
            encoded.push((name.as_str(), codec::encode(&column)?));
        }
        let mut nos = String::new();
        let mut ends = Vec::with_capacity(4 * self.nos.len());
        for no in &self.nos {
            nos.push_str(no);
            ends.extend_from_slice(&(nos.len() as u32).to_le_bytes());
        }
        Ok(codec::encode(&StoredBlock {
            nos: &nos,
            ends: &ends,
            columns: encoded.iter().map(|(n, b)| (*n, b.as_slice())).collect(),
        })?)
    }

    /// Puts `c`'s row in its place (replacing the row of its no); returns the row count.
    fn put(&mut self, c: &Contact) -> usize {
        let values = row_values(c);
        let at = match self.nos.binary_search_by(|n| n.as_str().cmp(&c.no)) {
            Ok(i) => i,
            Err(i) => {
                self.nos.insert(i, c.no.clone());
                for col in self.columns.values_mut() {
                    col.codes.insert(i, ABSENT);
                }
                i
            }
        };
        let rows = self.nos.len();
        // Both in name order: one walk sets every column's code.
        let mut values = values.into_iter().peekable();
        let mut new = Vec::new();
        for (name, col) in &mut self.columns {
            while let Some(v) = values.next_if(|(n, _)| *n < name.as_str()) {
                new.push(v);
            }
            col.codes[at] = match values.next_if(|(n, _)| *n == name.as_str()) {
                Some((_, v)) => col.code_of(v),
                None => ABSENT,
            };
        }
        for (name, value) in new.into_iter().chain(values) {
            let mut col = Column::new(Vec::new(), vec![ABSENT; rows]);
            col.codes[at] = col.code_of(value);
            self.columns.insert(name.to_string(), col);
        }
        rows
    }

    /// Takes `no`'s row out; says whether it was there.
    fn remove(&mut self, no: &str) -> bool {
        let Ok(i) = self.nos.binary_search_by(|n| n.as_str().cmp(no)) else {
            return false;
        };
        self.nos.remove(i);
        for col in self.columns.values_mut() {
            col.codes.remove(i);
        }
        true
    }

    /// The rows after the first `at`, as a block of their own (each half's columns with only
    /// the values its rows use).
    fn split_off(&mut self, at: usize) -> Block {
        let rows = self.nos.len();
        let mut tail = Block {
            nos: self.nos.split_off(at),
            columns: BTreeMap::new(),
        };
        for (name, col) in &mut self.columns {
            tail.columns.insert(name.clone(), col.part(at..rows));
            *col = col.part(0..at);
        }
        tail
    }
}

/// Blocks covering one range of contact keys: the stored block it was read from (none when
/// the range is before every stored block, or the table is empty), and the blocks it is now.
#[derive(Debug, Default)]
struct Range {
    stored: Option<Vec<u8>>,
    /// The first key after the range (`None`: to the end).
    end: Option<Vec<u8>>,
    blocks: Vec<Block>,
}

/// The blocks a transaction is changing, by the first key of their range (empty for a range
/// that starts before every stored block), written by [`ColumnCache::flush`].
#[derive(Debug, Default)]
pub(crate) struct ColumnCache {
    ranges: BTreeMap<Vec<u8>, Range>,
    rows: usize,
}

/// The first stored block key after `key`, or from `key` on when `inclusive`.
fn stored_after(kv: &dyn KvRead, key: &[u8], inclusive: bool) -> Result<Option<Vec<u8>>> {
    let mut from = key.to_vec();
    if !inclusive {
        from.push(0);
    }
    let mut found = None;
    layout::scan(
        kv,
        tables::CONTACT_COLUMNS,
        &from,
        None,
        Order::Ascending,
        &mut |k, _| {
            found = Some(k.to_vec());
            Ok(false)
        },
    )?;
    Ok(found)
}

/// The stored block key and value of the block `key` belongs in: the greatest first key not
/// after `key`.
fn stored_floor(kv: &dyn KvRead, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut to = key.to_vec();
    to.push(0);
    let mut found = None;
    layout::scan(
        kv,
        tables::CONTACT_COLUMNS,
        &[],
        Some(&to),
        Order::Descending,
        &mut |k, v| {
            found = Some((k.to_vec(), v.to_vec()));
            Ok(false)
        },
    )?;
    Ok(found)
}

impl ColumnCache {
    /// The range `key` falls in, read from the store when no range here covers it.
    fn range_for(&mut self, kv: &dyn KvRead, key: &[u8]) -> Result<&mut Range> {
        let hit = self
            .ranges
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(key)))
            .next_back()
            .filter(|(_, r)| r.end.as_deref().is_none_or(|end| key < end))
            .map(|(start, _)| start.clone());
        if let Some(start) = hit {
            return Ok(self
                .ranges
                .get_mut(&start)
                .expect("the range was just found"));
        }
        let (start, range) = match stored_floor(kv, key)? {
            Some((stored, bytes)) => (
                stored.clone(),
                Range {
                    end: stored_after(kv, key, false)?,
                    stored: Some(stored),
                    blocks: vec![Block::decode(&bytes)?],
                },
            ),
            // Before every stored block: into the first one (so contacts added in
            // falling order do not each make a block of their own).
            None => match stored_after(kv, key, false)? {
                // The first block is here already, read for a later key: its range
                // now starts before every key.
                Some(first) if self.ranges.contains_key(&first) => {
                    let range = self.ranges.remove(&first).expect("just seen");
                    self.rows -= range.blocks.iter().map(|b| b.nos.len()).sum::<usize>();
                    (Vec::new(), range)
                }
                Some(first) => {
                    let bytes = kv.get(tables::CONTACT_COLUMNS, &first)?.unwrap_or_default();
                    (
                        Vec::new(),
                        Range {
                            end: stored_after(kv, &first, false)?,
                            stored: Some(first),
                            blocks: vec![Block::decode(&bytes)?],
                        },
                    )
                }
                None => (Vec::new(), Range::default()),
            },
        };
        self.rows += range.blocks.iter().map(|b| b.nos.len()).sum::<usize>();
        Ok(self.ranges.entry(start).or_insert(range))
    }

    fn put(&mut self, kv: &dyn KvRead, c: &Contact) -> Result<()> {
        let key = keys::code(&c.no);
        let range = self.range_for(kv, key.as_bytes())?;
        if range.blocks.is_empty() {
            range.blocks.push(Block::default());
        }
        // The last block whose first no is not after this one (else the first block).
        let i = range
            .blocks
            .iter()
            .rposition(|b| b.nos.first().is_some_and(|f| f.as_str() <= c.no.as_str()))
            .unwrap_or(0);
        let block = &mut range.blocks[i];
        let before = block.nos.len();
        let rows = block.put(c);
        if rows > BLOCK_ROWS {
            // A row added after the last keeps the block full (an import adds in order).
            let at = if block.nos.last() == Some(&c.no) {
                rows - 1
            } else {
                rows / 2
            };
            let tail = block.split_off(at);
            range.blocks.insert(i + 1, tail);
        }
        self.rows += rows - before;
        Ok(())
    }

    fn remove(&mut self, kv: &dyn KvRead, no: &str) -> Result<()> {
        let key = keys::code(no);
        let range = self.range_for(kv, key.as_bytes())?;
        range.blocks.retain_mut(|b| {
            b.remove(no);
            !b.nos.is_empty()
        });
        Ok(())
    }

    /// Writes every range's blocks in place of the block it was read from.
    fn flush(&mut self, kv: &mut dyn KvWrite) -> Result<()> {
        for range in std::mem::take(&mut self.ranges).into_values() {
            if let Some(stored) = &range.stored {
                kv.remove(tables::CONTACT_COLUMNS, stored)?;
            }
            for block in range.blocks.iter().filter(|b| !b.nos.is_empty()) {
                kv.put(
                    tables::CONTACT_COLUMNS,
                    keys::code(&block.nos[0]).as_bytes(),
                    &block.encode()?,
                )?;
            }
        }
        self.rows = 0;
        Ok(())
    }
}

impl Tx<'_> {
    /// Puts contact `c`'s row in the columns (after its record is written).
    pub(crate) fn columns_put(&mut self, c: &Contact) -> Result<()> {
        self.columns_change(|cache, kv| cache.put(kv, c))
    }

    /// Takes contact `no`'s row out of the columns (after its record is removed).
    pub(crate) fn columns_remove(&mut self, no: &str) -> Result<()> {
        self.columns_change(|cache, kv| cache.remove(kv, no))
    }

    fn columns_change(
        &mut self,
        change: impl FnOnce(&mut ColumnCache, &dyn KvRead) -> Result<()>,
    ) -> Result<()> {
        if let Some(cache) = &mut self.pending_columns {
            change(cache, &*self.kv)?;
            if cache.rows > CACHE_ROWS {
                cache.flush(self.kv)?;
            }
            Ok(())
        } else {
            let mut cache = ColumnCache::default();
            change(&mut cache, &*self.kv)?;
            cache.flush(self.kv)
        }
    }

    /// Runs `work`, in which many contacts change, keeping the blocks of the columns it
    /// changes decoded and writing each once at the end (or when many are held). Nested calls
    /// join the outer one. Nothing inside `work` reads the columns.
    pub(crate) fn batch_columns<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if self.pending_columns.is_some() {
            return work(self);
        }
        self.pending_columns = Some(ColumnCache::default());
        let outcome = work(self);
        let mut cache = self.pending_columns.take().unwrap_or_default();
        let value = outcome?;
        cache.flush(self.kv)?;
        Ok(value)
    }

    /// Builds the columns from the contact records, in place of whatever is there (a file
    /// from before they existed).
    pub(crate) fn rebuild_contact_columns(&mut self) -> Result<()> {
        layout::remove_under(self.kv, tables::CONTACT_COLUMNS, &Key::new())?;
        let mut after: Option<Vec<u8>> = None;
        loop {
            // A run of contacts at a time, so the transaction is free to write between runs.
            let mut run: Vec<Contact> = Vec::new();
            let from = after.as_ref().map_or_else(Vec::new, |k| {
                let mut k = k.clone();
                k.push(0);
                k
            });
            layout::scan(
                &*self.kv,
                tables::CONTACTS,
                &from,
                None,
                Order::Ascending,
                &mut |k, v| {
                    after = Some(k.to_vec());
                    run.push(codec::decode(v, "contact")?);
                    Ok(run.len() < CACHE_ROWS)
                },
            )?;
            if run.is_empty() {
                return Ok(());
            }
            self.batch_columns(|tx| {
                for c in &run {
                    tx.columns_put(c)?;
                }
                Ok(())
            })?;
        }
    }
}

/// One block, for reading: its nos, and its columns decoded when first asked for.
struct ReadBlock<'a> {
    stored: StoredBlock<'a>,
    decoded: Vec<OnceCell<Option<StoredColumn<'a>>>>,
    /// The names asked for and the column each names (a scan asks for the same few names
    /// row after row).
    asked: RefCell<Vec<(String, Option<usize>)>>,
    /// The answers to each question asked of a column ([`ContactRow::answer`]).
    answers: RefCell<Vec<Answers>>,
}

/// A question's answers in one block: its column, and the answer for each of the column's
/// values (after the answer for none), [`UNASKED`] until asked.
struct Answers {
    question: usize,
    column: usize,
    by_code: Vec<i8>,
}

/// An answer not yet asked for.
const UNASKED: i8 = i8::MIN;

impl<'a> ReadBlock<'a> {
    fn decode(bytes: &'a [u8]) -> Result<Self> {
        let stored = StoredBlock::decode(bytes)?;
        let decoded = stored.columns.iter().map(|_| OnceCell::new()).collect();
        Ok(ReadBlock {
            stored,
            decoded,
            asked: RefCell::new(Vec::new()),
            answers: RefCell::new(Vec::new()),
        })
    }

    /// The position of column `name`, if the block has one and [`in_columns`] holds it.
    fn position(&self, name: &str) -> Option<usize> {
        if let Some((_, found)) = self.asked.borrow().iter().find(|(n, _)| n == name) {
            return *found;
        }
        let found = if in_columns(name) {
            self.stored
                .columns
                .binary_search_by(|(n, _)| (*n).cmp(name))
                .ok()
        } else {
            None
        };
        self.asked.borrow_mut().push((name.to_string(), found));
        found
    }

    /// Column `name`, decoded once; `None` when the block has none of that name, or it is
    /// damaged (its rows then read from their records).
    fn column(&self, name: &str) -> Option<&StoredColumn<'a>> {
        let i = self.position(name)?;
        self.decoded[i]
            .get_or_init(|| StoredColumn::decode(self.stored.columns[i].1, self.stored.rows()))
            .as_ref()
    }
}

/// One contact's row of the columns, as a scan tests it.
pub struct ContactRow<'r, 'a> {
    block: &'r ReadBlock<'a>,
    row: usize,
}

impl<'a> ContactRow<'_, 'a> {
    /// The contact's no.
    pub fn no(&self) -> &'a str {
        self.block.stored.no(self.row)
    }

    /// Field `name`'s value, as the contact's record gives it (a custom value before a
    /// built-in one); `None` when the contact has no such field, or the field is not in the
    /// columns ([`in_columns`]).
    pub fn value(&self, name: &str) -> Option<FieldValueView<'a>> {
        // (A name not in the columns has no position.)
        if let Some(col) = self.block.column(name) {
            return col.value(self.row, self.block.stored.rows());
        }
        (name == "no").then(|| FieldValueView::Text(self.no()))
    }

    /// What `ask` answers of this row's value of field `name` (as [`ContactRow::value`] gives
    /// it), asked once for each distinct value of the field in the contact's block: a scan
    /// that tests the same field of every row computes each answer once a block. `question`
    /// names the question: the same question must always be asked of the same field, with an
    /// `ask` whose answer depends on the value alone (and is not [`i8::MIN`]).
    pub fn answer(
        &self,
        question: usize,
        name: &str,
        ask: impl FnOnce(Option<FieldValueView<'a>>) -> i8,
    ) -> i8 {
        let block = self.block;
        let mut answers = block.answers.borrow_mut();
        let at = if let Some(at) = answers.iter().position(|a| a.question == question) {
            at
        } else {
            let (Some(column), Some(col)) = (block.position(name), block.column(name)) else {
                drop(answers);
                return ask(self.value(name));
            };
            answers.push(Answers {
                question,
                column,
                by_code: vec![UNASKED; col.values() + 1],
            });
            answers.len() - 1
        };
        let entry = &mut answers[at];
        let Some(Some(col)) = block.decoded[entry.column].get() else {
            drop(answers);
            return ask(self.value(name));
        };
        let code = col.code(self.row, block.stored.rows());
        let slot = if code == ABSENT {
            0
        } else {
            usize::from(code) + 1
        };
        if entry.by_code[slot] == UNASKED {
            let value = (code != ABSENT).then(|| col.value_of(usize::from(code)));
            entry.by_code[slot] = ask(value);
        }
        entry.by_code[slot]
    }
}

/// What a column scan does with a contact, after a test of its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowVerdict {
    /// Surely dropped: its record is not read.
    Drop,
    /// It may pass: its record is read and visited.
    Read,
    /// Surely kept, and its record is needed: read and visited as kept.
    Take,
    /// Surely kept, and its record is not needed: visited without it.
    Keep,
}

/// A test of a contact's row.
pub type RowTest<'f> = dyn FnMut(&ContactRow<'_, '_>) -> RowVerdict + 'f;

/// A visitor of the contacts a row test keeps: each record read (`None` for a contact kept
/// without it), and whether the test surely keeps it ([`RowVerdict::Take`],
/// [`RowVerdict::Keep`]); returns whether to go on.
pub type RowVisit<'f> = dyn FnMut(Option<&[u8]>, bool) -> Result<bool> + 'f;

impl View<'_> {
    /// Visits, in key order after contact key `after`, the contacts whose row `test` does not
    /// drop (with their records unless it says [`RowVerdict::Keep`]), until `visit` returns
    /// `false`. Returns the key of the last contact
    /// tested (to go on after), `None` when there was none.
    pub(crate) fn scan_contact_columns(
        &self,
        after: Option<&[u8]>,
        test: &mut RowTest<'_>,
        visit: &mut RowVisit<'_>,
    ) -> Result<Option<Vec<u8>>> {
        let mut after_no = after.and_then(|k| KeyReader::new(k).str());
        let from = match after {
            Some(k) => stored_floor(self.kv, k)?
                .map(|(k, _)| k)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let mut last: Option<String> = None;
        let mut failure = None;
        layout::scan(
            self.kv,
            tables::CONTACT_COLUMNS,
            &from,
            None,
            Order::Ascending,
            &mut |_, bytes| {
                let block = ReadBlock::decode(bytes)?;
                let rows = block.stored.rows();
                // Rows in key order: the first after the cursor, and all after it, are.
                let mut first = 0;
                if let Some(a) = after_no.as_deref() {
                    first = (0..rows)
                        .find(|&row| block.stored.no(row) > a)
                        .unwrap_or(rows);
                    if first < rows {
                        after_no = None;
                    }
                }
                // Every row tested first, so the records to read are asked for at once (one
                // statement on a server backend) …
                let verdicts: Vec<RowVerdict> = (first..rows)
                    .map(|row| test(&ContactRow { block: &block, row }))
                    .collect();
                // (A damaged column read as no values: the query fails rather than answer
                // from it.)
                if block.decoded.iter().any(|c| matches!(c.get(), Some(None))) {
                    failure = Some(format!(
                        "hold a damaged column in the block of contact {}",
                        block.stored.no(0)
                    ));
                    return Ok(false);
                }
                let wanted: Vec<Vec<u8>> = (first..rows)
                    .zip(&verdicts)
                    .filter(|(_, v)| matches!(v, RowVerdict::Read | RowVerdict::Take))
                    .map(|(row, _)| keys::code(block.stored.no(row)).into_bytes())
                    .collect();
                if !wanted.is_empty() {
                    self.kv.prefetch(tables::CONTACTS, &wanted)?;
                }
                // … then visited in order (the keys asked for are those read, in order).
                let mut wanted = wanted.iter();
                let mut done: Option<usize> = None;
                let mut go_on = true;
                for (row, verdict) in (first..rows).zip(verdicts) {
                    done = Some(row);
                    let more = match verdict {
                        RowVerdict::Drop => continue,
                        RowVerdict::Keep => visit(None, true)?,
                        RowVerdict::Read | RowVerdict::Take => {
                            let key = wanted.next().expect("a key was asked for each row read");
                            let Some(record) = self.kv.get(tables::CONTACTS, key)? else {
                                let no = block.stored.no(row);
                                failure = Some(format!("name contact {no}, which has no record"));
                                return Ok(false);
                            };
                            visit(Some(&record), verdict == RowVerdict::Take)?
                        }
                    };
                    if !more {
                        go_on = false;
                        break;
                    }
                }
                if let Some(row) = done {
                    last = Some(block.stored.no(row).to_string());
                }
                Ok(go_on)
            },
        )?;
        if let Some(problem) = failure {
            return Err(crate::error::Error::invalid(
                "contact columns",
                "no",
                problem,
                "run `rapport check`; the columns are rebuilt from the records on upgrade",
            ));
        }
        Ok(last.map(|no| keys::code(&no).as_bytes().to_vec()))
    }

    /// Compares the columns with the contact records (for `check`): every block keyed by its
    /// first contact, the rows in key order, each row with the values its record gives, and a
    /// row for every contact. Says each difference.
    pub(crate) fn check_contact_columns(&self, differences: &mut Vec<String>) -> Result<()> {
        let mut nos: Vec<String> = Vec::new();
        layout::scan_all(
            self.kv,
            tables::CONTACT_COLUMNS,
            Order::Ascending,
            &mut |key, bytes| {
                let block = match Block::decode(bytes) {
                    Ok(b) => b,
                    Err(e) => {
                        differences.push(format!("contact columns block {key:02x?}: {e}"));
                        return Ok(true);
                    }
                };
                if block
                    .nos
                    .first()
                    .map(|no| keys::code(no))
                    .as_ref()
                    .map(Key::as_bytes)
                    != Some(key)
                {
                    differences.push(format!(
                        "contact columns block {key:02x?}: keyed other than by its first contact"
                    ));
                }
                for (row, no) in block.nos.iter().enumerate() {
                    if nos.last().is_some_and(|last| last.as_str() >= no.as_str()) {
                        differences.push(format!("contact columns: contact {no} out of order"));
                    }
                    nos.push(no.clone());
                    let stored: BTreeMap<&str, FieldValueView<'_>> = block
                        .columns
                        .iter()
                        .filter_map(|(name, col)| {
                            let code = *col.codes.get(row)?;
                            let v = col.dict.get(usize::from(code))?;
                            Some((name.as_str(), FieldValueView::of(v)))
                        })
                        .collect();
                    let Some(c) =
                        layout::get::<Contact>(self.kv, tables::CONTACTS, &keys::code(no))?
                    else {
                        differences.push(format!(
                            "contact columns: a row for contact {no}, which has no record"
                        ));
                        continue;
                    };
                    let expected = row_values(&c);
                    let same = stored.len() == expected.len()
                        && stored
                            .iter()
                            .zip(&expected)
                            .all(|((n1, v1), (n2, v2))| n1 == n2 && v1.same(*v2));
                    if !same {
                        differences.push(format!(
                            "contact columns: contact {no} has {stored:?}, its record {expected:?}"
                        ));
                    }
                }
                Ok(true)
            },
        )?;
        layout::scan_all(self.kv, tables::CONTACTS, Order::Ascending, &mut |k, _| {
            let no = KeyReader::new(k).str().unwrap_or_default();
            if nos.binary_search(&no).is_err() {
                differences.push(format!("contact columns: no row for contact {no}"));
            }
            Ok(true)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Database;
    use crate::layout::{self, keys, tables};
    use crate::model::Contact;
    use crate::store::Order;

    /// A database of `n` contacts, half in Oslo and half in Bergen.
    fn contacts(n: usize) -> Database {
        let db = Database::in_memory().unwrap();
        db.write(|tx| {
            tx.batch_contacts(|tx| {
                for i in 0..n {
                    tx.contact_create(Contact {
                        no: format!("C{i:05}"),
                        name: format!("Contact {i}"),
                        city: if i % 2 == 0 { "Oslo" } else { "Bergen" }.into(),
                        ..Default::default()
                    })?;
                }
                Ok(())
            })
        })
        .unwrap();
        db
    }

    fn block_keys(db: &Database) -> Vec<Vec<u8>> {
        db.read(|v| {
            let mut out = Vec::new();
            layout::scan_all(
                v.kv,
                tables::CONTACT_COLUMNS,
                Order::Ascending,
                &mut |k, _| {
                    out.push(k.to_vec());
                    Ok(true)
                },
            )?;
            Ok(out)
        })
        .unwrap()
    }

    #[test]
    fn contacts_added_in_key_order_fill_their_blocks() {
        let db = contacts(3 * super::BLOCK_ROWS + 1);
        assert_eq!(block_keys(&db).len(), 4);
        assert!(db.read(|v| v.integrity_check()).unwrap().is_ok());
    }

    #[test]
    fn check_finds_a_contact_column_value_changed_behind_the_engines_back() {
        let db = contacts(600);
        let first = block_keys(&db)[0].clone();
        db.write_raw(|kv, _| {
            let mut v = kv.get(tables::CONTACT_COLUMNS, &first)?.unwrap();
            // "Bergen" becomes "Bergan" in the block's dictionary of cities.
            let at = v.windows(6).position(|w| w == b"Bergen").unwrap();
            v[at + 4] = b'a';
            Ok(kv.put(tables::CONTACT_COLUMNS, &first, &v)?)
        })
        .unwrap();
        let report = db.read(|v| v.integrity_check()).unwrap();
        assert!(
            report
                .differences
                .iter()
                .any(|d| d.starts_with("contact columns: contact C00001 has")
                    && d.contains("Bergan")),
            "{:#?}",
            report.differences
        );
    }

    #[test]
    fn check_finds_a_contact_missing_from_the_contact_columns() {
        let db = contacts(10);
        db.write_raw(|kv, ctx| {
            let mut tx = crate::Tx::new(kv, ctx);
            tx.columns_remove("C00003")
        })
        .unwrap();
        let report = db.read(|v| v.integrity_check()).unwrap();
        assert_eq!(
            report.differences,
            vec!["contact columns: no row for contact C00003".to_string()]
        );
    }

    #[test]
    fn opening_a_file_from_before_the_contact_columns_builds_them() {
        let db = contacts(700);
        let before = block_keys(&db);
        db.write_raw(|kv, _| {
            for k in &before {
                kv.remove(tables::CONTACT_COLUMNS, k)?;
            }
            layout::delete(kv, tables::META, &keys::derived_layout())
        })
        .unwrap();
        assert!(block_keys(&db).is_empty());
        let reopened = Database::with_backend(db.backend().clone()).unwrap();
        assert_eq!(block_keys(&reopened), before);
        assert!(reopened.read(|v| v.integrity_check()).unwrap().is_ok());
    }

    #[test]
    fn a_contacts_row_is_in_field_name_order_with_custom_values_over_built_in_ones() {
        let mut c = Contact {
            no: "C1".into(),
            city: "Oslo".into(),
            ..Default::default()
        };
        c.custom.insert("a".into(), "first".into());
        c.custom.insert("city".into(), "custom city".into());
        c.custom.insert("zz".into(), "last".into());
        let row = super::row_values(&c);
        let names: Vec<&str> = row.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.first(), Some(&"a"));
        assert_eq!(names.last(), Some(&"zz"));
        assert!(row.contains(&("city", crate::model::FieldValueView::Text("custom city"))));
    }

    #[test]
    fn a_damaged_block_fails_a_scan_and_check_names_it() {
        let db = contacts(600);
        let second = block_keys(&db)[1].clone();
        db.write_raw(|kv, _| Ok(kv.put(tables::CONTACT_COLUMNS, &second, b"\x05garbage")?))
            .unwrap();
        let scan = db.read(|v| {
            v.scan_contacts_by_columns(None, &mut |_| super::RowVerdict::Read, &mut |_, _| Ok(true))
        });
        assert!(scan.is_err(), "{scan:?}");
        let report = db.read(|v| v.integrity_check()).unwrap();
        assert!(
            report
                .differences
                .iter()
                .any(|d| d.starts_with("contact columns block")),
            "{:#?}",
            report.differences
        );
    }

    /// The block format is derived data: a change to it must bump the derived shape
    /// (`upgrade.rs`), so opening an older file rebuilds the blocks. The committed bytes say
    /// whether it changed.
    #[test]
    fn shape_of_a_contact_columns_block_is_the_committed_one() {
        let mut block = super::Block::default();
        let mut a = Contact {
            no: "C1".into(),
            name: "A".into(),
            city: "Oslo".into(),
            ..Default::default()
        };
        a.custom
            .insert("revenue".into(), crate::model::FieldValue::Number(1.5));
        let b = Contact {
            no: "C2".into(),
            name: "B".into(),
            city: "Oslo".into(),
            privacy_blocked: true,
            ..Default::default()
        };
        block.put(&a);
        block.put(&b);
        let bytes = block.encode().unwrap();
        let hex = crate::store::key::hex(&bytes);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/contact_columns_block.hex");
        if std::env::var_os("RAPPORT_BLESS").is_some() {
            std::fs::write(&path, format!("{hex}\n")).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            hex,
            stored.trim(),
            "the block format changed: bump the derived shape"
        );
        let again = super::Block::decode(&bytes).unwrap();
        assert_eq!(again.nos, vec!["C1".to_string(), "C2".to_string()]);
        assert_eq!(
            super::Block::decode(&again.encode().unwrap()).unwrap().nos,
            again.nos
        );
    }

    /// A column of 255 values or more takes two bytes a row; its rows read as they were put.
    #[test]
    fn a_column_of_many_distinct_values_reads_back_every_row() {
        let db = Database::in_memory().unwrap();
        db.write(|tx| {
            tx.field_define(&crate::model::FieldDef {
                record: crate::model::FieldRecord::Contact,
                name: "n".into(),
                field_type: crate::model::FieldType::Number,
                description: String::new(),
            })?;
            tx.batch_contacts(|tx| {
                for i in 0..super::BLOCK_ROWS {
                    let mut c = Contact {
                        no: format!("C{i:05}"),
                        name: format!("Contact {i}"),
                        ..Default::default()
                    };
                    c.custom
                        .insert("n".into(), crate::model::FieldValue::Number(i as f64));
                    tx.contact_create(c)?;
                }
                Ok(())
            })
        })
        .unwrap();
        assert_eq!(block_keys(&db).len(), 1);
        let mut seen = Vec::new();
        db.read(|v| {
            v.scan_contacts_by_columns(
                None,
                &mut |row| {
                    seen.push(
                        row.value("n")
                            .map(crate::model::FieldValueView::to_owned_value),
                    );
                    super::RowVerdict::Drop
                },
                &mut |_, _| Ok(true),
            )
        })
        .unwrap();
        let want: Vec<_> = (0..super::BLOCK_ROWS)
            .map(|i| Some(crate::model::FieldValue::Number(i as f64)))
            .collect();
        assert_eq!(seen, want);
        assert!(db.read(|v| v.integrity_check()).unwrap().is_ok());
    }
}
