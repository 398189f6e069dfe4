//! Failpoints and probes for the tests (as redb's and tantivy's own tests use them): a redb
//! storage file in memory that can be reopened, whose I/O fails on the n-th call; a [`KvWrite`]
//! that fails its n-th write; and one that counts the writes through it. They prove that a
//! failing write or commit leaves the database as it was before the operation, and that a
//! refused operation wrote nothing before it was refused.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redb::StorageBackend;
use redb::backends::InMemoryBackend;

use crate::error::{Result, StoreError};
use crate::kv::KvWrite;
use crate::table::Table;

/// When injected I/O failures happen: the `n`-th write or sync of the storage file after
/// [`FaultPlan::arm`], counting from 1.
#[derive(Debug, Default)]
pub struct FaultPlan {
    fail_at: AtomicU64,
    armed: AtomicBool,
    calls: AtomicU64,
    fired: AtomicBool,
}

impl FaultPlan {
    /// A plan that fails the `n`-th write or sync once armed.
    pub fn fail_io_at(n: u64) -> Arc<Self> {
        let plan = Self::default();
        plan.fail_at.store(n, Ordering::SeqCst);
        Arc::new(plan)
    }

    /// Starts counting (opening a database does I/O of its own, which is not the test's).
    pub fn arm(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Whether the failure happened.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Writes and syncs counted since [`FaultPlan::arm`].
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn check(&self) -> std::io::Result<()> {
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            self.fired.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other(format!(
                "injected I/O failure at call {n}"
            )));
        }
        Ok(())
    }
}

/// A storage file kept in memory that outlives the databases opened on it, so a test can
/// reopen it after a failure and see what was made durable.
#[derive(Clone, Default)]
pub struct MemoryFile(Arc<InMemoryBackend>);

impl fmt::Debug for MemoryFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryFile")
    }
}

impl MemoryFile {
    /// An empty file.
    pub fn new() -> Self {
        Self(Arc::new(InMemoryBackend::new()))
    }

    /// A copy of this file's bytes as another file.
    pub fn duplicate(&self) -> Result<Self> {
        let io = |e: std::io::Error| StoreError::backend("redb", "copy a memory file", e);
        let len = self.0.len().map_err(io)?;
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(0)];
        self.0.read(0, &mut bytes).map_err(io)?;
        let copy = Self::new();
        copy.0.set_len(len).map_err(io)?;
        copy.0.write(0, &bytes).map_err(io)?;
        Ok(copy)
    }
}

/// The backend a [`MemoryFile`] is opened through: every write and sync asks the plan first.
pub(crate) struct FaultyBackend {
    file: MemoryFile,
    plan: Option<Arc<FaultPlan>>,
}

impl FaultyBackend {
    pub(crate) fn new(file: &MemoryFile, plan: Option<Arc<FaultPlan>>) -> Self {
        Self {
            file: file.clone(),
            plan,
        }
    }

    fn check(&self) -> std::io::Result<()> {
        self.plan.as_ref().map_or(Ok(()), |p| p.check())
    }
}

impl fmt::Debug for FaultyBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultyBackend")
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> std::io::Result<u64> {
        self.file.0.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.file.0.read(offset, out)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.file.0.set_len(len)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.check()?;
        self.file.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.file.0.write(offset, data)
    }
}

/// A [`KvWrite`] whose `n`-th write (put or delete, counting from 1) fails: the failpoint
/// inside a workflow, before anything reaches the storage file.
pub struct FailingWrites<'a> {
    inner: &'a mut dyn KvWrite,
    fail_at: u64,
    writes: u64,
}

impl<'a> FailingWrites<'a> {
    /// Fails the `n`-th write through it.
    pub fn new(inner: &'a mut dyn KvWrite, n: u64) -> Self {
        Self {
            inner,
            fail_at: n,
            writes: 0,
        }
    }

    /// Whether the failure happened.
    pub fn fired(&self) -> bool {
        self.writes >= self.fail_at
    }

    fn count(&mut self, table: Table) -> Result<()> {
        self.writes += 1;
        if self.writes == self.fail_at {
            return Err(StoreError::Injected {
                write: self.writes,
                table: table.name(),
            });
        }
        Ok(())
    }
}

crate::reads_through_inner!(FailingWrites<'_>);

impl KvWrite for FailingWrites<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.count(table)?;
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.count(table)?;
        self.inner.delete(table, key)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.count(table)?;
        self.inner.remove(table, key)
    }
}

/// A [`KvWrite`] that counts the writes (puts and deletes) through it: the probe that proves a
/// refused operation checked everything before it wrote anything.
pub struct CountingWrites<'a> {
    inner: &'a mut dyn KvWrite,
    writes: u64,
    first: Option<(&'static str, Vec<u8>)>,
}

impl<'a> CountingWrites<'a> {
    /// Counts the writes to `inner`.
    pub fn new(inner: &'a mut dyn KvWrite) -> Self {
        Self {
            inner,
            writes: 0,
            first: None,
        }
    }

    /// How many writes went through.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The table and key of the first write, if any (to say what was written too early).
    pub fn first_write(&self) -> Option<(&'static str, &[u8])> {
        self.first.as_ref().map(|(t, k)| (*t, k.as_slice()))
    }

    fn count(&mut self, table: Table, key: &[u8]) {
        self.writes += 1;
        if self.first.is_none() {
            self.first = Some((table.name(), key.to_vec()));
        }
    }
}

crate::reads_through_inner!(CountingWrites<'_>);

impl KvWrite for CountingWrites<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.count(table, key);
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.count(table, key);
        self.inner.delete(table, key)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.count(table, key);
        self.inner.remove(table, key)
    }
}
