//! The memory backend: every table a persistent ordered map ([`imbl::OrdMap`]), so a snapshot
//! is a cheap clone that later commits never change. It keeps nothing beyond the process; the
//! engine's test suite runs on it beside redb, and it proves the seam has room for a backend
//! that is not redb.
//!
//! Writers run side by side, optimistically: a write transaction changes its own copy of the
//! tables (so it reads its own writes, and aborting is dropping the copy); at commit, if another
//! transaction has committed since this one began, it is refused with
//! [`StoreError::Conflict`] (first committer wins) and nothing of it is kept. That is
//! serializable, and it makes the engine's retry path run in tests, as a PostgreSQL backend's
//! serialization failures will.

use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{Backend, ReadTxn, WriteTxn};
use crate::error::{Result, StoreError};
use crate::kv::{KvRead, KvWrite, Order, Visit, check_sizes};
use crate::table::{Schema, Table};

type Bytes = Arc<[u8]>;
type Map = imbl::OrdMap<Bytes, Bytes>;

/// The committed state: the tables and how many commits made them.
#[derive(Clone)]
struct Committed {
    version: u64,
    tables: Vec<Map>,
}

struct Shared {
    schema: Schema,
    state: Mutex<Committed>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Committed> {
        // A writer that panicked while holding the lock left a whole state behind (commits
        // replace it in one assignment), so the state is still good to use.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A rapport database held in memory.
#[derive(Clone)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

impl MemoryBackend {
    /// An empty database with the tables of `schema`.
    pub fn new(schema: Schema) -> Self {
        Self {
            shared: Arc::new(Shared {
                schema,
                state: Mutex::new(Committed {
                    version: 0,
                    tables: vec![Map::new(); schema.len()],
                }),
            }),
        }
    }
}

impl MemoryBackend {
    /// A new database holding what this one has committed (in O(1): the maps are shared until
    /// either side writes). Fuzzers and tests start each input from one prepared database.
    #[must_use]
    pub fn fork(&self) -> Self {
        let committed = self.shared.state().clone();
        Self {
            shared: Arc::new(Shared {
                schema: self.shared.schema,
                state: Mutex::new(committed),
            }),
        }
    }
}

impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        "memory".into()
    }

    fn schema(&self) -> Schema {
        self.shared.schema
    }

    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        let state = self.shared.state();
        Ok(Box::new(MemoryRead {
            version: state.version,
            tables: state.tables.clone(),
        }))
    }

    fn begin_write(&self) -> Result<Box<dyn WriteTxn>> {
        let Committed { version, tables } = self.shared.state().clone();
        Ok(Box::new(MemoryWrite {
            shared: self.shared.clone(),
            base: version,
            tables,
            dirty: false,
        }))
    }
}

fn get(tables: &[Map], table: Table, key: &[u8]) -> Option<Vec<u8>> {
    tables[table.id()].get(key).map(|v| v.to_vec())
}

fn scan(
    tables: &[Map],
    table: Table,
    from: &[u8],
    to: Option<&[u8]>,
    order: Order,
    visit: &mut Visit<'_>,
) {
    if to.is_some_and(|to| from >= to) {
        return;
    }
    let range = (
        Bound::Included(from),
        to.map_or(Bound::Unbounded, Bound::Excluded),
    );
    let items = tables[table.id()].range::<_, [u8]>(range);
    match order {
        Order::Ascending => {
            for (k, v) in items {
                if !visit(k, v) {
                    break;
                }
            }
        }
        Order::Descending => {
            for (k, v) in items.rev() {
                if !visit(k, v) {
                    break;
                }
            }
        }
    }
}

/// A snapshot: the tables as they were committed when it began.
struct MemoryRead {
    version: u64,
    tables: Vec<Map>,
}

impl KvRead for MemoryRead {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(get(&self.tables, table, key))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        scan(&self.tables, table, from, to, order, visit);
        Ok(())
    }
}

impl ReadTxn for MemoryRead {
    fn seen(&self) -> u64 {
        self.version
    }
}

/// A write transaction: its own copy of the tables, and the version it started from.
struct MemoryWrite {
    shared: Arc<Shared>,
    base: u64,
    tables: Vec<Map>,
    dirty: bool,
}

impl KvRead for MemoryWrite {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(get(&self.tables, table, key))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        scan(&self.tables, table, from, to, order, visit);
        Ok(())
    }
}

impl KvWrite for MemoryWrite {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        check_sizes(table, key, value)?;
        self.tables[table.id()].insert(Bytes::from(key), Bytes::from(value));
        self.dirty = true;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        let removed = self.tables[table.id()].remove(key).is_some();
        self.dirty |= removed;
        Ok(removed)
    }
}

impl WriteTxn for MemoryWrite {
    fn base(&self) -> u64 {
        self.base
    }

    fn commit(self: Box<Self>) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut state = self.shared.state();
        if state.version != self.base {
            return Err(StoreError::Conflict);
        }
        state.version += 1;
        state.tables = self.tables;
        Ok(())
    }

    fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
