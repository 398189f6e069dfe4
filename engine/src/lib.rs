//! rapport's engine: contacts, interaction templates, segments and the interaction log of
//! `spec/interactions.md`, kept in one redb file.
//!
//! Data flows one way: callers open a [`Database`], run workflows in a write transaction
//! ([`Database::write`] gives a [`Tx`]) or read a snapshot ([`Database::read`] gives a [`View`]).
//! The workflows (`ops`) check the spec's rules in the spec's order and either change everything
//! or nothing; `store` is the only module that knows redb.
//!
//! ```
//! use rapport_engine::{Database, demo, ops::*};
//!
//! let db = Database::in_memory()?;
//! demo::load(&db)?;
//! let entry_no = db.write(|tx| {
//!     tx.log_interaction(InteractionDraft {
//!         contact: "CT000002".into(),
//!         template: "OUTGOING".into(),
//!         description: "Asked about the spring offer".into(),
//!         ..Default::default()
//!     })
//! })?; // committed; on Err nothing at all is written
//! let calls = db.read(|v| v.statistics(StatKind::Template, "OUTGOING", None))?;
//! assert_eq!(calls.count, 11);
//! assert_eq!(db.read(|v| v.entry(entry_no))?.unwrap().salesperson, "JO");
//! # Ok::<(), rapport_engine::Error>(())
//! ```

mod clock;
pub mod demo;
mod error;
pub mod model;
pub mod ops;
pub mod plugin;
pub mod script;
pub mod store;

pub use clock::Clock;
pub use error::{Error, Result};
pub use ops::{Context, Tx, View};

use std::path::Path;
use std::sync::Arc;

use store::Store;

/// Every (table, key, value) of a database, in order; see [`Database::fingerprint`].
pub type Fingerprint = Vec<(&'static str, Vec<u8>, Vec<u8>)>;

/// An open rapport database: the file, the clock and the user the workflows use.
pub struct Database {
    store: Arc<Store>,
    ctx: Context,
}

impl Database {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_store(Store::open(path.as_ref())?)
    }

    /// Brings the derived data (indexes, statistics) of a file written by an older rapport to
    /// this one's shape, in one transaction. A current file is only read.
    fn upgrade(&self) -> Result<()> {
        if !self.read(|v| v.derived_data_is_current())? {
            self.write(|tx| tx.upgrade_derived_data())?;
        }
        Ok(())
    }

    /// A database held in memory only.
    pub fn in_memory() -> Result<Self> {
        Self::with_store(Store::in_memory()?)
    }

    /// A database on a store opened some other way (a [`store::faults::MemoryFile`] in the
    /// fault-injection tests), brought to this rapport's shape.
    pub fn with_store(store: Store) -> Result<Self> {
        let db = Self {
            store: Arc::new(store),
            ctx: Context::default(),
        };
        db.upgrade()?;
        Ok(db)
    }

    /// Copies the last commit into a new database file at `path` (see [`Store::backup_to`]);
    /// returns the number of records copied. Restoring is opening (or copying back) that file.
    pub fn backup(&self, path: impl AsRef<Path>) -> Result<u64> {
        self.store.backup_to(path.as_ref())
    }

    /// Runs `work` on the raw store in one write transaction, committed only if it returns
    /// `Ok` — for tools and the fault-injection tests, which wrap the store in a failpoint
    /// ([`store::faults::FailingWrites`]) before they build a [`Tx`] on it.
    pub fn write_raw<T>(
        &self,
        work: impl FnOnce(&mut dyn store::KvWrite, &Context) -> Result<T>,
    ) -> Result<T> {
        let mut txn = self.store.begin_write()?;
        match work(&mut txn, &self.ctx) {
            Ok(value) => {
                txn.commit()?;
                Ok(value)
            }
            Err(e) => {
                txn.abort()?;
                Err(e)
            }
        }
    }

    /// The clock and user the workflows see.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Changes the clock or the user.
    pub fn context_mut(&mut self) -> &mut Context {
        &mut self.ctx
    }

    /// Runs `work` in one write transaction: committed if it returns `Ok`, dropped whole if it
    /// returns `Err` (nothing of it is ever visible).
    pub fn write<T>(&self, work: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.write_raw(|kv, ctx| work(&mut Tx::new(kv, ctx)))
    }

    /// Every key and value of every table, in order: two equal fingerprints mean two equal
    /// databases (tests use it to prove that a refused operation wrote nothing).
    pub fn fingerprint(&self) -> Result<Fingerprint> {
        let txn = self.store.begin_read()?;
        let mut out = Vec::new();
        for table in store::Table::ALL {
            store::KvRead::scan(
                &txn,
                table,
                &[],
                store::KEY_SPACE_END,
                store::Order::Ascending,
                &mut |k, v| {
                    out.push((table.name(), k.to_vec(), v.to_vec()));
                    Ok(true)
                },
            )?;
        }
        Ok(out)
    }

    /// Runs `work` on a snapshot of the last commit; it never blocks a writer.
    pub fn read<T>(&self, work: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
        let txn = self.store.begin_read()?;
        work(&View::new(&txn, &self.ctx))
    }
}
