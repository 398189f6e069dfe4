//! A conflict at any moment of a transaction is only a reason to run it again: with a conflict
//! injected at the n-th write, or at the commit, the database ends exactly as a run without it
//! (nothing doubled, no number used up), on every backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rapport_engine::Database;
use rapport_engine::store::{
    Backend, KvRead, KvWrite, Order, ReadTxn, Result, Schema, StoreError, Table, Visit, WriteTxn,
};
use rapport_testkit::{
    assert_consistent, draft, each_backend, fill, log, new_backend, open_on, segment_of,
};

/// Where the one injected conflict goes.
#[derive(Clone, Copy, Debug)]
enum At {
    /// The n-th write (put or delete) of any transaction, counting from 1.
    Write(u64),
    /// The first commit that has writes.
    Commit,
}

/// A backend whose transactions report one conflict, once, where `at` says.
struct Injecting {
    inner: Arc<dyn Backend>,
    at: At,
    writes: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
}

struct Txn {
    inner: Box<dyn WriteTxn>,
    at: At,
    writes: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
    wrote: bool,
}

impl Txn {
    /// Whether this is the moment: true once.
    fn now(&self, at_write: Option<u64>) -> bool {
        let due = match (self.at, at_write) {
            (At::Write(n), Some(w)) => w == n,
            (At::Commit, None) => self.wrote,
            _ => false,
        };
        due && self.injected.fetch_add(1, Ordering::SeqCst) == 0
    }

    fn write(&mut self) -> Result<()> {
        self.wrote = true;
        let w = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.now(Some(w)) {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }
}

impl KvRead for Txn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }
    fn prefetch(&self, table: Table, keys: &[Vec<u8>]) -> Result<()> {
        self.inner.prefetch(table, keys)
    }
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        self.inner.scan(table, from, to, order, visit)
    }
}

impl KvWrite for Txn {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.write()?;
        self.inner.put(table, key, value)
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.write()?;
        self.inner.delete(table, key)
    }
    fn remove(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.write()?;
        self.inner.remove(table, key)
    }
}

impl WriteTxn for Txn {
    fn base(&self) -> u64 {
        self.inner.base()
    }
    fn commit(self: Box<Self>) -> Result<()> {
        if self.now(None) {
            self.inner.abort()?;
            return Err(StoreError::Conflict);
        }
        self.inner.commit()
    }
    fn abort(self: Box<Self>) -> Result<()> {
        self.inner.abort()
    }
}

impl Injecting {
    fn wrap(&self, inner: Box<dyn WriteTxn>) -> Box<dyn WriteTxn> {
        Box::new(Txn {
            inner,
            at: self.at,
            writes: self.writes.clone(),
            injected: self.injected.clone(),
            wrote: false,
        })
    }
}

impl Backend for Injecting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn schema(&self) -> Schema {
        self.inner.schema()
    }
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        self.inner.begin_read()
    }
    fn begin_write(&self) -> Result<Box<dyn WriteTxn>> {
        Ok(self.wrap(self.inner.begin_write()?))
    }
    fn upgrade(&self, read: Box<dyn ReadTxn>) -> Result<Box<dyn WriteTxn>> {
        Ok(self.wrap(self.inner.upgrade(read)?))
    }
}

/// The work: a segment logged, then two interactions, each its own transaction.
fn work(db: &Database) {
    let segment = segment_of(db, "BUS", &["P1", "P2"]);
    db.write(|tx| tx.log_segment(&segment, Default::default()))
        .unwrap();
    for contact in ["P1", "C2"] {
        log(db, draft(contact, "CALL"));
    }
}

/// A database with the fixtures' catalogue, its writes then counted and injected from `at`.
fn injected(at: At) -> (Database, Arc<AtomicU64>) {
    let inner = new_backend();
    fill(&open_on(inner.clone()));
    let injected = Arc::new(AtomicU64::new(0));
    let backend = Injecting {
        inner,
        at,
        writes: Arc::new(AtomicU64::new(0)),
        injected: injected.clone(),
    };
    (open_on(Arc::new(backend)), injected)
}

#[each_backend]
fn a_conflict_at_any_write_or_at_commit_leaves_the_same_database_as_a_run_without_it() {
    // The run without a conflict, and how many writes it makes.
    let (clean, _) = injected(At::Write(u64::MAX));
    work(&clean);
    let expected = clean.fingerprint().unwrap();
    let mut moments: Vec<At> = (1..=40).step_by(3).map(At::Write).collect();
    moments.push(At::Commit);
    for at in moments {
        let (db, injected) = injected(at);
        work(&db);
        // Counted at every moment it was due; reported only at the first.
        assert!(
            injected.load(Ordering::SeqCst) >= 1,
            "{at:?}: the conflict was injected"
        );
        assert!(
            db.fingerprint().unwrap() == expected,
            "{at:?}: the database differs from the run without a conflict"
        );
        assert_consistent(&db);
    }
}
