//! Storage: the only module that names redb. Everything above it sees an ordered byte-key /
//! byte-value store per [`Table`], read through [`KvRead`] and written through [`KvWrite`], so
//! another ordered key-value backend can be added without touching the workflows.

/// `KvRead` for a wrapper over a `KvWrite` held in its field `inner` (the undo journal, the
/// failpoint): every read goes straight through.
macro_rules! reads_through_inner {
    ($wrapper:ty) => {
        impl $crate::store::KvRead for $wrapper {
            fn get(
                &self,
                table: $crate::store::Table,
                key: &[u8],
            ) -> $crate::error::Result<Option<Vec<u8>>> {
                self.inner.get(table, key)
            }

            fn scan(
                &self,
                table: $crate::store::Table,
                from: &[u8],
                to: &[u8],
                order: $crate::store::Order,
                visit: &mut $crate::store::Visit<'_>,
            ) -> $crate::error::Result<()> {
                self.inner.scan(table, from, to, order, visit)
            }
        }
    };
}
pub(crate) use reads_through_inner;

pub mod codec;
pub mod faults;
pub mod journal;
pub mod key;

use std::cell::OnceCell;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{Error, Result};

/// The tables of a rapport database. Keys are [`key::Key`]s, values are [`codec`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Counters of the number series, the template setup, the demo marker.
    Meta,
    /// Contacts by no.
    Contacts,
    /// Contact indexes: by name, by company, business relations by contact, segment lines by contact.
    ContactIndex,
    /// Salespeople by code.
    Salespeople,
    /// Interaction groups by code.
    Groups,
    /// Interaction templates by code.
    Templates,
    /// Attachment records by no.
    Attachments,
    /// Attachment contents by content hash, with their reference counts.
    Blobs,
    /// Business relations: (kind, account no) → contact no.
    Relations,
    /// Campaigns by no.
    Campaigns,
    /// Campaign entries by entry no.
    CampaignEntries,
    /// Interaction log entries by entry no.
    Entries,
    /// Interaction log entry indexes (contact, company, template, …).
    EntryIndex,
    /// Lookups from natural keys to entry numbers (campaign entry per campaign/segment/type, …).
    Lookup,
    /// Segment headers by no.
    Segments,
    /// Segment lines by (segment no, line no).
    SegmentLines,
    /// Criteria steps by (segment no, step no).
    SegmentSteps,
    /// Saved criteria by name.
    SavedCriteria,
    /// Logged segments by entry no.
    LoggedSegments,
    /// All-time statistics by (kind, code).
    Stats,
    /// Daily statistics by (kind, code, date).
    StatsDaily,
}

impl Table {
    /// Every table, in declaration order.
    pub const ALL: [Table; 21] = [
        Table::Meta,
        Table::Contacts,
        Table::ContactIndex,
        Table::Salespeople,
        Table::Groups,
        Table::Templates,
        Table::Attachments,
        Table::Blobs,
        Table::Relations,
        Table::Campaigns,
        Table::CampaignEntries,
        Table::Entries,
        Table::EntryIndex,
        Table::Lookup,
        Table::Segments,
        Table::SegmentLines,
        Table::SegmentSteps,
        Table::SavedCriteria,
        Table::LoggedSegments,
        Table::Stats,
        Table::StatsDaily,
    ];

    /// The table's name in the file.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Contacts => "contacts",
            Table::ContactIndex => "contact_index",
            Table::Salespeople => "salespeople",
            Table::Groups => "groups",
            Table::Templates => "templates",
            Table::Attachments => "attachments",
            Table::Blobs => "blobs",
            Table::Relations => "relations",
            Table::Campaigns => "campaigns",
            Table::CampaignEntries => "campaign_entries",
            Table::Entries => "entries",
            Table::EntryIndex => "entry_index",
            Table::Lookup => "lookup",
            Table::Segments => "segments",
            Table::SegmentLines => "segment_lines",
            Table::SegmentSteps => "segment_steps",
            Table::SavedCriteria => "saved_criteria",
            Table::LoggedSegments => "logged_segments",
            Table::Stats => "stats",
            Table::StatsDaily => "stats_daily",
        }
    }

    fn definition(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// Scan direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest key first.
    Ascending,
    /// Largest key first.
    Descending,
}

/// The end of the key space: every key the engine writes sorts before it (keys start with a tag
/// or a UTF-8 string, and no UTF-8 text or tag has the byte 0xFF first).
pub const KEY_SPACE_END: &[u8] = &[0xFF; 16];

/// A scan visitor: gets each key and value, returns `Ok(true)` to go on, `Ok(false)` to stop.
pub type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'f;

/// Reading an ordered key-value store.
pub trait KvRead {
    /// The value under `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Visits the keys in `[from, to)` in `order` until the visitor says stop.
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()>;
}

/// Writing an ordered key-value store, inside one transaction.
pub trait KvWrite: KvRead {
    /// Stores `value` under `key`.
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes `key`; says whether it was there.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool>;
}

pub(crate) fn storage<E: std::fmt::Display>(e: E) -> Error {
    Error::Storage(e.to_string())
}

/// redb's cache (pages read, and pages a write transaction has changed and not yet written):
/// redb's default of 1 GiB let one bulk operation on a million contacts grow the process by
/// 300 MiB; past this size redb writes changed pages out early and reads pages from the file
/// (the operating system's cache) again.
const CACHE_BYTES: usize = 128 * 1024 * 1024;

/// Records a backup copies per commit.
const BACKUP_BATCH: u64 = 100_000;

/// A rapport database file.
pub struct Store {
    db: redb::Database,
}

impl Store {
    /// Opens the file at `path`, creating it (and every table) if it does not exist.
    pub fn open(path: &Path) -> Result<Self> {
        let db = redb::Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => Error::DatabaseInUse {
                    path: path.display().to_string(),
                },
                other => Error::Storage(format!("cannot open {}: {other}", path.display())),
            })?;
        Self::with_tables(db)
    }

    /// A database that lives in memory only (tests, dry runs).
    pub fn in_memory() -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(storage)?;
        Self::with_tables(db)
    }

    /// A database in a [`faults::MemoryFile`] whose writes and syncs fail as `plan` says (the
    /// fault-injection tests; `None` fails nothing).
    pub fn open_memory(
        file: &faults::MemoryFile,
        plan: Option<Arc<faults::FaultPlan>>,
    ) -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_backend(faults::FaultyBackend::new(file, plan))
            .map_err(storage)?;
        Self::with_tables(db)
    }

    /// Copies every record of the last commit into a new database file at `path`, and returns
    /// how many. It reads one snapshot, so the copy is consistent while writers go on; it is
    /// written beside `path` and renamed to it only when complete, so a failed or interrupted
    /// backup never leaves a partial file under that name. An existing `path` is refused.
    pub fn backup_to(&self, path: &Path) -> Result<u64> {
        if path.exists() {
            return Err(Error::invalid(
                "backup",
                "file",
                format!("{} exists", path.display()),
                "name a new file, or move the old backup away first",
            ));
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let io = |e: std::io::Error| Error::Storage(format!("backup to {}: {e}", path.display()));
        if partial.exists() {
            std::fs::remove_file(&partial).map_err(io)?;
        }
        let snapshot = self.begin_read()?;
        let copy = Store::open(&partial)?;
        let mut records = 0;
        let mut txn = Some(copy.begin_write()?);
        for table in Table::ALL {
            snapshot.scan(table, &[], KEY_SPACE_END, Order::Ascending, &mut |k, v| {
                let Some(w) = txn.as_mut() else {
                    return Err(Error::Storage("backup: no open transaction".into()));
                };
                w.put(table, k, v)?;
                records += 1;
                // A commit every so many records keeps the copy's memory bounded; the file is
                // not the backup until the rename below. (redb has one write transaction at a
                // time: commit this one before the next begins.)
                if records % BACKUP_BATCH == 0 {
                    if let Some(full) = txn.take() {
                        full.commit()?;
                    }
                    txn = Some(copy.begin_write()?);
                }
                Ok(true)
            })?;
        }
        if let Some(last) = txn {
            last.commit()?;
        }
        drop(copy);
        std::fs::rename(&partial, path).map_err(io)?;
        Ok(records)
    }

    fn with_tables(db: redb::Database) -> Result<Self> {
        // Creating tables takes a write transaction and a durable commit: only do it when one
        // is missing (a new file, or a table a newer rapport added), not on every open.
        let missing = {
            let read = db.begin_read().map_err(storage)?;
            Table::ALL
                .iter()
                .any(|t| read.open_table(t.definition()).is_err())
        };
        if missing {
            let txn = db.begin_write().map_err(storage)?;
            for table in Table::ALL {
                txn.open_table(table.definition()).map_err(storage)?;
            }
            txn.commit().map_err(storage)?;
        }
        Ok(Self { db })
    }

    /// Starts the one write transaction.
    pub fn begin_write(&self) -> Result<WriteTxn> {
        Ok(WriteTxn::new(self.db.begin_write().map_err(storage)?))
    }

    /// Starts a read transaction on the latest committed state; it never blocks a writer.
    pub fn begin_read(&self) -> Result<ReadTxn> {
        Ok(ReadTxn {
            tables: opened(),
            txn: self.db.begin_read().map_err(storage)?,
        })
    }
}

type Bytes = &'static [u8];

/// One opened table per [`Table`], opened at its first use in the transaction and kept until
/// the transaction ends (opening a redb table walks the table tree, and closing it stages its
/// root: doing that per key was a third of every read and write).
type Opened<T> = [OnceCell<T>; Table::ALL.len()];

fn opened<T>() -> Opened<T> {
    std::array::from_fn(|_| OnceCell::new())
}

/// The table `table` of `cache`, opened with `open` the first time.
fn cached<T>(cache: &Opened<T>, table: Table, open: impl FnOnce() -> Result<T>) -> Result<&T> {
    let cell = &cache[table as usize];
    if cell.get().is_none() {
        // A cell is only ever set here, from empty, so this set cannot fail.
        let _ = cell.set(open()?);
    }
    Ok(cell.get().expect("set above"))
}

/// A read transaction: a consistent snapshot.
pub struct ReadTxn {
    // Declared first, so dropped before the transaction.
    tables: Opened<redb::ReadOnlyTable<Bytes, Bytes>>,
    txn: redb::ReadTransaction,
}

impl ReadTxn {
    fn table(&self, table: Table) -> Result<&redb::ReadOnlyTable<Bytes, Bytes>> {
        cached(&self.tables, table, || {
            self.txn.open_table(table.definition()).map_err(storage)
        })
    }
}

/// The tables a write transaction has opened; they borrow the transaction.
struct OpenTables<'txn>(Opened<redb::Table<'txn, Bytes, Bytes>>);

self_cell::self_cell!(
    /// A redb write transaction with the tables it has opened.
    struct WriteCell {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: OpenTables,
    }
);

/// A write transaction: nothing is visible to others until [`WriteTxn::commit`].
pub struct WriteTxn {
    cell: WriteCell,
}

impl WriteTxn {
    fn new(txn: redb::WriteTransaction) -> Self {
        Self {
            cell: WriteCell::new(txn, |_| OpenTables(opened())),
        }
    }

    /// Runs `work` on the opened table `table` (opening it at its first use).
    fn with_table<T>(
        &self,
        table: Table,
        work: impl FnOnce(&redb::Table<'_, Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        self.cell.with_dependent(|txn, open| {
            work(cached(&open.0, table, || {
                txn.open_table(table.definition()).map_err(storage)
            })?)
        })
    }

    /// Runs `work` on the opened table `table`, for writing.
    fn with_table_mut<T>(
        &mut self,
        table: Table,
        work: impl FnOnce(&mut redb::Table<'_, Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        self.cell.with_dependent_mut(|txn, open| {
            let cell = &mut open.0[table as usize];
            if cell.get().is_none() {
                let _ = cell.set(txn.open_table(table.definition()).map_err(storage)?);
            }
            work(cell.get_mut().expect("set above"))
        })
    }

    /// Makes every change durable and visible, at once.
    pub fn commit(self) -> Result<()> {
        // The opened tables are closed (their roots staged) before the commit.
        self.cell.into_owner().commit().map_err(storage)
    }

    /// Drops every change.
    pub fn abort(self) -> Result<()> {
        self.cell.into_owner().abort().map_err(storage)
    }
}

fn bounds<'a>(from: &'a [u8], to: &'a [u8]) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (Bound::Included(from), Bound::Excluded(to))
}

type RangeItem<'a> = std::result::Result<
    (
        redb::AccessGuard<'a, &'static [u8]>,
        redb::AccessGuard<'a, &'static [u8]>,
    ),
    redb::StorageError,
>;

fn visit_range<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    from: &[u8],
    to: &[u8],
    order: Order,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    let range = table.range::<&[u8]>(bounds(from, to)).map_err(storage)?;
    let mut step = |item: RangeItem<'_>| -> Result<bool> {
        let (k, v) = item.map_err(storage)?;
        visit(k.value(), v.value())
    };
    match order {
        Order::Ascending => {
            for item in range {
                if !step(item)? {
                    break;
                }
            }
        }
        Order::Descending => {
            for item in range.rev() {
                if !step(item)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

impl KvRead for ReadTxn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.table(table)?;
        Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        visit_range(self.table(table)?, from, to, order, visit)
    }
}

impl KvRead for WriteTxn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table(table, |t| {
            Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        self.with_table(table, |t| visit_range(t, from, to, order, visit))
    }
}

impl KvWrite for WriteTxn {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.with_table_mut(table, |t| {
            t.insert(key, value).map_err(storage)?;
            Ok(())
        })
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.with_table_mut(table, |t| Ok(t.remove(key).map_err(storage)?.is_some()))
    }
}
