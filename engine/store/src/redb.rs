//! The redb backend: one file (or a redb database in memory), one redb table per [`Table`],
//! keys and values as bytes. This is the only module that names redb, with the redb storage
//! failpoint in [`crate::faults`].
//!
//! redb runs one write transaction at a time (`begin_write` waits), so a write transaction
//! never conflicts; only upgrading a snapshot that a commit has overtaken does
//! ([`Backend::upgrade`]). A second process opening the file is refused with
//! [`StoreError::InUse`].

use std::cell::OnceCell;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::backend::{Backend, ReadTxn, WriteTxn};
use crate::error::{Result, StoreError};
use crate::faults::{FaultPlan, FaultyBackend, MemoryFile};
use crate::kv::{KvRead, KvWrite, Order, Visit, check_sizes};
use crate::table::{Schema, Table};

/// redb's cache (pages read, and pages a write transaction has changed and not yet written):
/// redb's default of 1 GiB let one bulk operation on a million contacts grow the process by
/// 300 MiB; past this size redb writes changed pages out early and reads pages from the file
/// (the operating system's cache) again.
const CACHE_BYTES: usize = 128 * 1024 * 1024;

const KIND: &str = "redb";

fn failed(operation: impl Into<String>) -> impl FnOnce(redb::Error) -> StoreError {
    let operation = operation.into();
    move |e| StoreError::backend(KIND, operation, e)
}

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// A rapport database in redb.
pub struct RedbBackend {
    db: Db,
    schema: Schema,
    location: String,
    commits: Arc<Commits>,
}

/// The file, open for reading and writing, or for reading only (`--read-only`: other readers
/// may have it open too, and no writer).
enum Db {
    Write(redb::Database),
    Read(redb::ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> std::result::Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            Db::Write(db) => db.begin_read(),
            Db::Read(db) => db.begin_read(),
        }
    }
}

/// The commits made through this backend, counted for [`Backend::upgrade`], and the writer
/// slot that makes the count exact for a writer: a write transaction holds the slot from its
/// start to its end and counts its commit before it lets go, so the next writer's
/// [`WriteTxn::base`] includes it. (redb lets one writer run at a time anyway; the slot only
/// puts the count under the same rule.) A reader reads the count before its snapshot begins,
/// so its [`ReadTxn::seen`] is never more than the snapshot holds.
#[derive(Default)]
struct Commits {
    count: AtomicU64,
    busy: Mutex<bool>,
    freed: Condvar,
}

/// The writer slot, held by one write transaction; dropping it lets the next writer in.
struct Slot(Arc<Commits>);

impl Slot {
    fn take(commits: &Arc<Commits>) -> Self {
        let mut busy = commits.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while *busy {
            busy = commits
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *busy = true;
        Self(commits.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.0.freed.notify_one();
    }
}

impl RedbBackend {
    /// Opens the file at `path`, creating it (and every table of `schema`) if it does not
    /// exist. A file another process has open is refused with [`StoreError::InUse`].
    pub fn open(path: &Path, schema: Schema) -> Result<Self> {
        let location = path.display().to_string();
        let db = redb::Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                    path: location.clone(),
                },
                other => StoreError::Open {
                    location: location.clone(),
                    source: Arc::new(other),
                },
            })?;
        Self::with_tables(db, schema, location)
    }

    /// Opens an existing file for reading only: it takes no writer's lock (other read-only
    /// openers may share the file) and every write transaction is refused with
    /// [`StoreError::ReadOnly`]. A file a writer has open is refused with
    /// [`StoreError::InUse`]; a file missing a table of `schema` is refused as a file written
    /// by an older rapport (opening it once to write brings it up to date).
    pub fn open_read_only(path: &Path, schema: Schema) -> Result<Self> {
        let location = path.display().to_string();
        let db = redb::ReadOnlyDatabase::open(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: location.clone(),
            },
            other => StoreError::Open {
                location: location.clone(),
                source: Arc::new(other),
            },
        })?;
        let read = db
            .begin_read()
            .map_err(|e| failed("begin a read transaction")(e.into()))?;
        if let Some(t) = schema
            .tables()
            .iter()
            .find(|t| read.open_table(definition(**t)).is_err())
        {
            return Err(StoreError::ReadOnly {
                path: location,
                needed: format!("table {t} is missing (an older rapport wrote the file)"),
            });
        }
        drop(read);
        Ok(Self {
            db: Db::Read(db),
            schema,
            location,
            commits: Arc::default(),
        })
    }

    /// A redb database that lives in memory only (tests).
    pub fn in_memory(schema: Schema) -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| failed("create a database in memory")(e.into()))?;
        Self::with_tables(db, schema, "memory (redb)".into())
    }

    /// A database in a [`MemoryFile`] whose writes and syncs fail as `plan` says (the
    /// fault-injection tests; `None` fails nothing).
    pub fn open_memory_file(
        file: &MemoryFile,
        plan: Option<Arc<FaultPlan>>,
        schema: Schema,
    ) -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_backend(FaultyBackend::new(file, plan))
            .map_err(|e| failed("open the memory file")(e.into()))?;
        Self::with_tables(db, schema, "memory file (redb)".into())
    }

    fn with_tables(db: redb::Database, schema: Schema, location: String) -> Result<Self> {
        // Creating tables takes a write transaction and a durable commit: only do it when one
        // is missing (a new file, or a table a newer rapport added), not on every open.
        let missing = {
            let read = db
                .begin_read()
                .map_err(|e| failed("begin a read transaction")(e.into()))?;
            schema
                .tables()
                .iter()
                .any(|t| read.open_table(definition(*t)).is_err())
        };
        if missing {
            let txn = db
                .begin_write()
                .map_err(|e| failed("begin a write transaction")(e.into()))?;
            for table in schema.tables() {
                txn.open_table(definition(*table))
                    .map_err(|e| failed(format!("create table {table}"))(e.into()))?;
            }
            txn.commit()
                .map_err(|e| failed("commit the new tables")(e.into()))?;
        }
        Ok(Self {
            db: Db::Write(db),
            schema,
            location,
            commits: Arc::default(),
        })
    }
}

impl Backend for RedbBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn schema(&self) -> Schema {
        self.schema
    }

    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        // Read before the snapshot begins: a commit in between makes `seen` smaller than
        // the snapshot, never larger (an upgrade then conflicts needlessly, never wrongly).
        let seen = self.commits.count.load(Ordering::Acquire);
        Ok(Box::new(RedbRead {
            seen,
            tables: opened(self.schema),
            txn: self
                .db
                .begin_read()
                .map_err(|e| failed("begin a read transaction")(e.into()))?,
        }))
    }

    fn begin_write(&self) -> Result<Box<dyn WriteTxn>> {
        let Db::Write(db) = &self.db else {
            return Err(StoreError::ReadOnly {
                path: self.location.clone(),
                needed: "this changes the database".into(),
            });
        };
        let slot = Slot::take(&self.commits);
        let txn = db
            .begin_write()
            .map_err(|e| failed("begin a write transaction")(e.into()))?;
        let schema = self.schema;
        Ok(Box::new(RedbWrite {
            base: self.commits.count.load(Ordering::Acquire),
            cell: WriteCell::new(txn, |_| OpenTables(opened(schema))),
            slot,
        }))
    }
}

type Bytes = &'static [u8];

/// One opened table per [`Table`], opened at its first use in the transaction and kept until
/// the transaction ends (opening a redb table walks the table tree, and closing it stages its
/// root: doing that per key was a third of every read and write).
type Opened<T> = Vec<OnceCell<T>>;

fn opened<T>(schema: Schema) -> Opened<T> {
    (0..schema.len()).map(|_| OnceCell::new()).collect()
}

/// The table `table` of `cache`, opened with `open` the first time.
fn cached<T>(cache: &Opened<T>, table: Table, open: impl FnOnce() -> Result<T>) -> Result<&T> {
    let cell = &cache[table.id()];
    if cell.get().is_none() {
        // A cell is only ever set here, from empty, so this set cannot fail.
        let _ = cell.set(open()?);
    }
    Ok(cell.get().expect("set above"))
}

/// A read transaction: a consistent snapshot.
struct RedbRead {
    seen: u64,
    // Declared first, so dropped before the transaction.
    tables: Opened<redb::ReadOnlyTable<Bytes, Bytes>>,
    txn: redb::ReadTransaction,
}

impl RedbRead {
    fn table(&self, table: Table) -> Result<&redb::ReadOnlyTable<Bytes, Bytes>> {
        cached(&self.tables, table, || {
            self.txn
                .open_table(definition(table))
                .map_err(|e| failed(format!("open table {table}"))(e.into()))
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

/// A write transaction: nothing is visible to others until it commits.
struct RedbWrite {
    base: u64,
    // Declared before the slot, so a dropped transaction ends before the next writer starts.
    cell: WriteCell,
    slot: Slot,
}

impl RedbWrite {
    /// Runs `work` on the opened table `table` (opening it at its first use).
    fn with_table<T>(
        &self,
        table: Table,
        work: impl FnOnce(&redb::Table<'_, Bytes, Bytes>) -> Result<T>,
    ) -> Result<T> {
        self.cell.with_dependent(|txn, open| {
            work(cached(&open.0, table, || {
                txn.open_table(definition(table))
                    .map_err(|e| failed(format!("open table {table}"))(e.into()))
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
            let cell = &mut open.0[table.id()];
            if cell.get().is_none() {
                let t = txn
                    .open_table(definition(table))
                    .map_err(|e| failed(format!("open table {table}"))(e.into()))?;
                let _ = cell.set(t);
            }
            work(cell.get_mut().expect("set above"))
        })
    }
}

fn bounds<'a>(from: &'a [u8], to: Option<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (
        Bound::Included(from),
        to.map_or(Bound::Unbounded, Bound::Excluded),
    )
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
    name: Table,
    from: &[u8],
    to: Option<&[u8]>,
    order: Order,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if to.is_some_and(|to| from >= to) {
        return Ok(());
    }
    let range = table
        .range::<&[u8]>(bounds(from, to))
        .map_err(|e| failed(format!("read table {name}"))(e.into()))?;
    let mut step = |item: RangeItem<'_>| -> Result<bool> {
        let (k, v) = item.map_err(|e| failed(format!("read table {name}"))(e.into()))?;
        Ok(visit(k.value(), v.value()))
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

impl KvRead for RedbRead {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.table(table)?;
        Ok(t.get(key)
            .map_err(|e| failed(format!("read table {table}"))(e.into()))?
            .map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        visit_range(self.table(table)?, table, from, to, order, visit)
    }
}

impl ReadTxn for RedbRead {
    fn seen(&self) -> u64 {
        self.seen
    }
}

impl KvRead for RedbWrite {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_table(table, |t| {
            Ok(t.get(key)
                .map_err(|e| failed(format!("read table {table}"))(e.into()))?
                .map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        self.with_table(table, |t| visit_range(t, table, from, to, order, visit))
    }
}

impl KvWrite for RedbWrite {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        check_sizes(table, key, value)?;
        self.with_table_mut(table, |t| {
            t.insert(key, value)
                .map_err(|e| failed(format!("write table {table}"))(e.into()))?;
            Ok(())
        })
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.with_table_mut(table, |t| {
            Ok(t.remove(key)
                .map_err(|e| failed(format!("write table {table}"))(e.into()))?
                .is_some())
        })
    }
}

impl WriteTxn for RedbWrite {
    fn base(&self) -> u64 {
        self.base
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let RedbWrite { cell, slot, .. } = *self;
        // The opened tables are closed (their roots staged) before the commit.
        let outcome = cell
            .into_owner()
            .commit()
            .map_err(|e| failed("commit")(e.into()));
        // Counted also when the commit failed: whether it reached the file is not known,
        // and counting one too many only makes an upgrade conflict needlessly.
        slot.0.count.fetch_add(1, Ordering::AcqRel);
        drop(slot);
        outcome
    }

    fn abort(self: Box<Self>) -> Result<()> {
        let RedbWrite { cell, slot, .. } = *self;
        let outcome = cell
            .into_owner()
            .abort()
            .map_err(|e| failed("abort")(e.into()));
        drop(slot);
        outcome
    }
}
