//! An undo journal over any [`KvWrite`]: it remembers the old value of every key it writes, so
//! the writes of one operation can be taken back while the transaction goes on. Scripts that
//! catch errors use it to keep each engine call all-or-nothing.

use super::{KvRead, KvWrite, Order, Table, Visit};
use crate::error::Result;

/// Writes through to `inner`, remembering how to undo them.
pub struct Journal<'a> {
    inner: &'a mut dyn KvWrite,
    undo: Vec<(Table, Vec<u8>, Option<Vec<u8>>)>,
}

impl<'a> Journal<'a> {
    /// Starts an empty journal over `inner`.
    pub fn new(inner: &'a mut dyn KvWrite) -> Self {
        Self {
            inner,
            undo: Vec::new(),
        }
    }

    /// Puts every key written since [`Journal::new`] back as it was, newest first.
    pub fn roll_back(mut self) -> Result<()> {
        while let Some((table, key, old)) = self.undo.pop() {
            match old {
                Some(value) => self.inner.put(table, &key, &value)?,
                None => {
                    self.inner.delete(table, &key)?;
                }
            }
        }
        Ok(())
    }

    fn remember(&mut self, table: Table, key: &[u8]) -> Result<()> {
        let old = self.inner.get(table, key)?;
        self.undo.push((table, key.to_vec(), old));
        Ok(())
    }
}

impl KvRead for Journal<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        self.inner.scan(table, from, to, order, visit)
    }
}

impl KvWrite for Journal<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.remember(table, key)?;
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.remember(table, key)?;
        self.inner.delete(table, key)
    }
}
