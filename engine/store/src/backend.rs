//! The backend trait: what a database must offer for rapport to run on it. Its contract is
//! written here, once; every backend (redb, memory, PostgreSQL) keeps it, and the
//! backend tests (`tests/contract.rs`) check it on each.
//!
//! # The contract
//!
//! **Transactions.** All reading and writing happens in a transaction. A *read transaction*
//! ([`Backend::begin_read`]) is a snapshot of the last commit as of its start: it never sees a
//! later commit, never blocks a writer and is never blocked by one. A *write transaction*
//! ([`Backend::begin_write`]) sees the last commit as of its start plus its own writes
//! (read-your-writes, scans included), and nothing of it is visible to anyone until
//! [`WriteTxn::commit`] returns; dropping it, or [`WriteTxn::abort`], keeps nothing.
//!
//! **Isolation: serializable writes.** Committed write transactions have the effect of running
//! one after another. A backend may get there by running one writer at a time (redb:
//! `begin_write` waits while another write transaction runs) or by running them side by side
//! and refusing, with [`StoreError::Conflict`], a transaction that another one has overtaken
//! (memory: the first to commit wins; PostgreSQL's serializable isolation reports it on any
//! statement or at commit). A conflict is not a failure of the data: nothing of the refused
//! transaction is kept and running it again may succeed. **The caller retries**:
//! `rapport_engine::Database::write` runs its closure again, a bounded number of times, and
//! script runs do the same. After any other error from a transaction's `get`, `scan`, `put` or
//! `delete`, the transaction may be unusable and the caller aborts it.
//!
//! **Upgrading a snapshot.** A caller that read from a snapshot and then decides to write (a
//! script run reads first and writes at its first write) calls [`Backend::upgrade`]: nothing
//! decided on what the snapshot showed may be written over a newer state (a lost update), so a
//! transaction whose snapshot a commit has changed is refused with [`StoreError::Conflict`] —
//! at the upgrade, at a write, or at the latest at commit. redb and memory refuse at the upgrade
//! when anything at all was committed since the snapshot began (they count their commits:
//! [`ReadTxn::seen`], [`WriteTxn::base`]); PostgreSQL continues the snapshot's own serializable
//! transaction and refuses exactly what breaks the serial order.
//!
//! **Size.** A write transaction may write any number of keys (an import of a million
//! contacts is one transaction); a backend spills to disk, buffers, or flushes in batches as it
//! must, never refuses for size alone. Keys have at most [`crate::MAX_KEY_LEN`] bytes and values
//! at most [`crate::MAX_VALUE_LEN`] bytes ([`crate::check_sizes`] refuses more, on every
//! backend); an empty value is a valid value (index keys have one).
//!
//! **Order.** Keys compare as unsigned byte strings: byte by byte, a key before every longer
//! key it is a prefix of. A scan visits `from ≤ key < to` in ascending or descending order
//! and stops when its visitor says so, without reading the rest of the range.
//!
//! **Durability.** A file backend's commit returns once the change survives a crash (redb
//! syncs before it returns); the memory backend keeps nothing beyond the process.

use crate::error::{Result, StoreError};
use crate::kv::{KvRead, KvWrite};
use crate::table::Schema;

/// A database rapport can run on (see the module's contract).
pub trait Backend: Send + Sync {
    /// The backend's kind, for messages: `redb`, `memory`.
    fn kind(&self) -> &'static str;

    /// Where the data is, for messages: a file's path, `memory`.
    fn location(&self) -> String;

    /// The tables it was opened with.
    fn schema(&self) -> Schema;

    /// A snapshot of the last commit.
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>>;

    /// A write transaction (on redb, waits while another one runs).
    fn begin_write(&self) -> Result<Box<dyn WriteTxn>>;

    /// A write transaction that continues the snapshot `read`: refused with
    /// [`StoreError::Conflict`] when another transaction has committed since `read` began
    /// (then what was read may no longer be true, and the caller runs its work again).
    fn upgrade(&self, read: Box<dyn ReadTxn>) -> Result<Box<dyn WriteTxn>> {
        let seen = read.seen();
        drop(read);
        let write = self.begin_write()?;
        if write.base() != seen {
            // Nothing was written in it: aborting cannot lose anything.
            let _ = write.abort();
            return Err(StoreError::Conflict);
        }
        Ok(write)
    }
}

/// A read transaction: a consistent snapshot.
pub trait ReadTxn: KvRead {
    /// How many commits the snapshot has seen (at most; never more): compared with
    /// [`WriteTxn::base`] of the same backend by [`Backend::upgrade`].
    fn seen(&self) -> u64;

    /// The same transaction, going on as a write transaction, on a backend whose snapshots can
    /// (PostgreSQL: a serializable transaction); `None` elsewhere.
    fn into_write(self: Box<Self>) -> Option<Box<dyn WriteTxn>> {
        None
    }
}

/// A write transaction: nothing of it is visible until [`WriteTxn::commit`].
pub trait WriteTxn: KvWrite {
    /// How many commits the transaction starts from (exactly).
    fn base(&self) -> u64;

    /// Makes every change visible at once (and durable, on a file backend). May fail with
    /// [`crate::StoreError::Conflict`]: then nothing was kept.
    fn commit(self: Box<Self>) -> Result<()>;

    /// Drops every change.
    fn abort(self: Box<Self>) -> Result<()>;
}
