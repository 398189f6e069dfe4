//! rapport's engine: contacts, interaction templates, segments and the interaction log, with
//! the rules of the relationship-management spec rapport implements ("spec N" in comments is
//! its section N), on any storage backend of `rapport-store`.
//!
//! Data flows one way: callers open a [`Database`], run workflows in a write transaction
//! ([`Database::write`] gives a [`Tx`]) or read a snapshot ([`Database::read`] gives a [`View`]).
//! The workflows ([`ops`]) check the spec's rules in the spec's order and either change
//! everything or nothing; the storage layout (tables and key shapes) is private to the engine,
//! and the store below it knows only ordered bytes. Nothing here prints, and nothing here knows
//! the language (that is `rapport-script`).
//!
//! ```
//! use rapport_engine::{Database, model::*, ops::*};
//!
//! let db = Database::in_memory()?;
//! db.write(|tx| {
//!     tx.group_define(InteractionGroup { code: "PHONE".into(), description: "Calls".into() })?;
//!     tx.template_define(InteractionTemplate {
//!         code: "OUTGOING".into(),
//!         group: "PHONE".into(),
//!         description: "Outgoing call".into(),
//!         ..Default::default()
//!     })?;
//!     tx.salesperson_create(Salesperson { code: "JO".into(), ..Default::default() })?;
//!     tx.contact_create(Contact {
//!         no: "CT000002".into(),
//!         name: "Anna Berg".into(),
//!         salesperson: "JO".into(),
//!         ..Default::default()
//!     })
//! })?;
//! let entry_no = db.write(|tx| {
//!     tx.log_interaction(InteractionDraft {
//!         contact: "CT000002".into(),
//!         template: "OUTGOING".into(),
//!         description: "Asked about the spring offer".into(),
//!         ..Default::default()
//!     })
//! })?; // committed; on Err nothing at all is written
//! let calls = db.read(|v| v.statistics(StatKind::Template, "OUTGOING", None))?;
//! assert_eq!(calls.count, 1);
//! assert_eq!(db.read(|v| v.entry(entry_no))?.unwrap().salesperson, "JO");
//! # Ok::<(), rapport_engine::Error>(())
//! ```

mod clock;
mod error;
mod layout;
pub mod model;
pub mod ops;

pub use clock::Clock;
pub use error::{Error, ErrorKind, Result};
pub use layout::SCHEMA;
pub use ops::{Context, Tx, View};
/// The storage crate the engine runs on (backends, the codec, failpoints).
pub use rapport_store as store;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use store::{Backend, KvWrite, MemoryBackend, Order, RedbBackend};

/// The URL in `path`, when it names a PostgreSQL database.
pub fn postgres_url(path: &Path) -> Option<&str> {
    path.to_str()
        .filter(|p| p.starts_with("postgres://") || p.starts_with("postgresql://"))
}

/// Every (table, key, value) of a database, in order; see [`Database::fingerprint`].
pub type Fingerprint = Vec<(&'static str, Vec<u8>, Vec<u8>)>;

/// How many times [`Database::write`] runs a transaction that keeps conflicting with other
/// writers before it gives up with [`Error::Conflict`].
pub const WRITE_ATTEMPTS: u32 = 8;

/// An open rapport database: a backend, and the clock and user the workflows use.
pub struct Database {
    backend: Arc<dyn Backend>,
    ctx: Context,
}

impl Database {
    /// Opens (or creates) the redb database file at `path` — or, for a `postgres://` (or
    /// `postgresql://`) URL, the rapport database in that PostgreSQL database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        if let Some(url) = postgres_url(path.as_ref()) {
            return Self::open_postgres(url);
        }
        Self::with_backend(Arc::new(RedbBackend::open(path.as_ref(), SCHEMA)?))
    }

    /// Opens the rapport database in the PostgreSQL database at `url` (its tables are made the
    /// first time), in the PostgreSQL schema `rapport`.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str) -> Result<Self> {
        Self::with_backend(Arc::new(store::PostgresBackend::open(url, SCHEMA)?))
    }

    /// Without the `postgres` feature, a PostgreSQL URL is refused.
    #[cfg(not(feature = "postgres"))]
    pub fn open_postgres(url: &str) -> Result<Self> {
        Err(Error::invalid(
            "database",
            "db",
            format!(
                "{url} is a PostgreSQL database, and this rapport was built without PostgreSQL"
            ),
            "build rapport with its default features (the postgres feature)",
        ))
    }

    /// Opens the redb database file at `path` for reading only (`--read-only`): queries,
    /// exports, statistics, the check and backups work; every write is refused with
    /// [`ErrorKind::ReadOnly`]. A file of an older shape is refused: it needs one open that
    /// may write.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        let db = Self {
            backend: Arc::new(RedbBackend::open_read_only(path.as_ref(), SCHEMA)?),
            ctx: Context::default(),
        };
        if !db.read(|v| v.derived_data_is_current())? {
            return Err(Error::Storage(store::StoreError::ReadOnly {
                path: path.as_ref().display().to_string(),
                needed: "an older rapport wrote it, and its indexes need rebuilding once".into(),
            }));
        }
        Ok(db)
    }

    /// A database held in memory only (the memory backend).
    pub fn in_memory() -> Result<Self> {
        Self::with_backend(Arc::new(MemoryBackend::new(SCHEMA)))
    }

    /// A database on a backend opened some other way (redb in memory, a
    /// [`store::faults::MemoryFile`] in the fault-injection tests), brought to this rapport's
    /// shape. The backend must have been opened with [`SCHEMA`].
    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Self> {
        let db = Self {
            backend,
            ctx: Context::default(),
        };
        db.upgrade()?;
        Ok(db)
    }

    /// Brings the derived data (indexes, statistics) of a file written by an older rapport to
    /// this one's shape, in one transaction. A current file is only read.
    fn upgrade(&self) -> Result<()> {
        if !self.read(|v| v.derived_data_is_current())? {
            self.write(|tx| tx.upgrade_derived_data())?;
        }
        Ok(())
    }

    /// The same database, its work recorded in the history as `doing` (what runs it).
    #[must_use]
    pub fn doing(&self, doing: model::Doing) -> Database {
        let mut ctx = self.ctx.clone();
        ctx.doing = doing;
        Database {
            backend: self.backend.clone(),
            ctx,
        }
    }

    /// The same database, its work recorded as done by `user` (a server's client): entries,
    /// logged segments and campaign entries name them.
    #[must_use]
    pub fn as_user(&self, user: &str) -> Database {
        let mut ctx = self.ctx.clone();
        ctx.user = user.to_string();
        Database {
            backend: self.backend.clone(),
            ctx,
        }
    }

    /// The backend, for hosts that run their own transactions on it (script sessions).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Copies the last commit into a new redb database file at `path` (never over an existing
    /// file); returns the number of records copied. Restoring is opening (or copying back)
    /// that file.
    pub fn backup(&self, path: impl AsRef<Path>) -> Result<u64> {
        Ok(store::backup::backup_to_file(
            &*self.backend,
            path.as_ref(),
        )?)
    }

    /// The clock and user the workflows see.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Changes the clock or the user.
    pub fn context_mut(&mut self) -> &mut Context {
        &mut self.ctx
    }

    /// Runs `work` on the raw transaction, committed only if it returns `Ok` — for tools and
    /// the fault-injection tests, which wrap the transaction in a failpoint
    /// ([`store::faults::FailingWrites`]) before they build a [`Tx`] on it. Like
    /// [`Database::write`], it runs `work` again when another writer overtook it.
    pub fn write_raw<T>(
        &self,
        mut work: impl FnMut(&mut dyn KvWrite, &Context) -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 1;
        loop {
            match self.attempt(&mut work) {
                Err(e) if e.is_conflict() && attempt < WRITE_ATTEMPTS => {
                    // Back off a little longer each time, so the writers that conflict spread out.
                    std::thread::sleep(Duration::from_millis(1 << attempt.min(6)));
                    attempt += 1;
                }
                Err(e) if e.is_conflict() => return Err(Error::Conflict { attempts: attempt }),
                outcome => return outcome,
            }
        }
    }

    fn attempt<T>(
        &self,
        work: &mut impl FnMut(&mut dyn KvWrite, &Context) -> Result<T>,
    ) -> Result<T> {
        let mut txn = self.backend.begin_write()?;
        let mut recording = ops::Recording::new();
        match work(&mut recording.over(&mut *txn), &self.ctx) {
            Ok(value) => {
                recording.finish(&mut *txn, &self.ctx)?;
                txn.commit()?;
                Ok(value)
            }
            Err(e) => {
                // The work's error says what went wrong; a failing abort adds nothing to it
                // (nothing of the transaction is kept either way).
                let _ = txn.abort();
                Err(e)
            }
        }
    }

    /// Runs `work` in one write transaction: committed if it returns `Ok`, dropped whole if it
    /// returns `Err` (nothing of it is ever visible). On a backend with optimistic writers, a
    /// transaction another writer overtook is dropped and `work` runs again (at most
    /// [`WRITE_ATTEMPTS`] times), so `work` must not count on running once.
    pub fn write<T>(&self, mut work: impl FnMut(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.write_raw(|kv, ctx| work(&mut Tx::new(kv, ctx)))
    }

    /// Every key and value of every table but the history, in order: two equal fingerprints
    /// mean two databases with equal records (tests use it to prove that a refused operation
    /// wrote nothing; a refused operation never commits, so it leaves no history either).
    pub fn fingerprint(&self) -> Result<Fingerprint> {
        let txn = self.backend.begin_read()?;
        let mut out = Vec::new();
        let history = [layout::tables::JOURNAL, layout::tables::JOURNAL_CHANGES];
        for table in SCHEMA.tables().iter().filter(|t| !history.contains(t)) {
            txn.scan(*table, &[], None, Order::Ascending, &mut |k, v| {
                out.push((table.name(), k.to_vec(), v.to_vec()));
                true
            })?;
        }
        Ok(out)
    }

    /// Runs `work` on a snapshot of the last commit; it never blocks a writer.
    pub fn read<T>(&self, work: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
        let txn = self.backend.begin_read()?;
        work(&View::new(&*txn, &self.ctx))
    }
}
