//! The interface the workflows read and write through: `get`, `scan` of a key range in either
//! order, `put` and `delete`, per table. It is all a backend must offer inside a transaction,
//! and narrow enough for any ordered key-value store.

use crate::error::{Result, StoreError};
use crate::table::Table;

/// Scan direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest key first.
    Ascending,
    /// Largest key first.
    Descending,
}

/// The longest key every backend stores, in bytes: what a PostgreSQL b-tree entry holds with
/// room to spare (about a third of an 8 KiB page), so a database moves between backends. The
/// same on every backend, so a key one refuses no other takes. The engine's keys stay under it:
/// the numbers and names that key a record have at most 100 characters, and a long text indexed
/// for equality is cut and hashed ([`crate::key::Key::text`]).
pub const MAX_KEY_LEN: usize = 2000;

/// The largest value every backend stores, in bytes (an attachment's content is one value).
pub const MAX_VALUE_LEN: usize = 1 << 30;

/// A scan visitor: gets each key and value, returns `true` to go on, `false` to stop. A
/// caller whose visitor can fail keeps its error beside the scan and returns `false`.
pub type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> bool + 'f;

/// Reading an ordered key-value store: a snapshot, or a write transaction (which sees its own
/// writes).
pub trait KvRead {
    /// The value under `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Says that the caller is about to `get` these keys of `table`: a backend where each get
    /// is a round trip to a server (PostgreSQL) reads the ones it does not know yet in one
    /// statement and answers the gets from what it read; the others have nothing to do. Only a
    /// hint: what it reads is what the gets would have read.
    fn prefetch(&self, table: Table, keys: &[Vec<u8>]) -> Result<()> {
        let _ = (table, keys);
        Ok(())
    }

    /// Visits the keys `from ≤ key < to` (`to: None`: to the end of the table) in `order`,
    /// each with its value, until the visitor says stop. Keys compare as byte strings
    /// (lexicographically, a prefix before every longer key it starts).
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()>;
}

/// Writing an ordered key-value store, inside one transaction.
pub trait KvWrite: KvRead {
    /// Stores `value` under `key` (replacing any value there). Refused with
    /// [`StoreError::KeyTooLong`] or [`StoreError::ValueTooLarge`] beyond the limits.
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key`; says whether it was there.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool>;

    /// Stores `value` under a `key` the caller knows is not there (a record made with a new
    /// number, or one it just looked for and did not find). The same as [`KvWrite::put`] for a
    /// store; a wrapper that remembers the values it replaces (an undo journal, the history)
    /// need not ask for one.
    fn insert(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.put(table, key, value)
    }

    /// Removes `key` if it is there, without asking whether it was (a backend where asking
    /// costs a round trip to a server, PostgreSQL, does not ask).
    fn remove(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.delete(table, key).map(|_| ())
    }
}

/// Refuses a key or value beyond [`MAX_KEY_LEN`] or [`MAX_VALUE_LEN`]: every backend calls it
/// before it writes, so the limits are the same everywhere.
pub fn check_sizes(table: Table, key: &[u8], value: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(StoreError::KeyTooLong {
            table: table.name(),
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(StoreError::ValueTooLarge {
            table: table.name(),
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

/// `KvRead` for a wrapper over a `KvWrite` held in its field `inner` (the undo journal, the
/// failpoints): every read goes straight through.
#[macro_export]
#[doc(hidden)]
macro_rules! reads_through_inner {
    ($wrapper:ty) => {
        impl $crate::KvRead for $wrapper {
            fn get(&self, table: $crate::Table, key: &[u8]) -> $crate::Result<Option<Vec<u8>>> {
                self.inner.get(table, key)
            }

            fn prefetch(&self, table: $crate::Table, keys: &[Vec<u8>]) -> $crate::Result<()> {
                self.inner.prefetch(table, keys)
            }

            fn scan(
                &self,
                table: $crate::Table,
                from: &[u8],
                to: Option<&[u8]>,
                order: $crate::Order,
                visit: &mut $crate::Visit<'_>,
            ) -> $crate::Result<()> {
                self.inner.scan(table, from, to, order, visit)
            }
        }
    };
}
