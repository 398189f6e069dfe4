//! An undo journal over any [`KvWrite`]: it remembers the old value of every key it writes, so
//! the writes of one operation (or of a group of them: a plugin hook, the operation, the hook
//! after it) can be taken back while the transaction goes on. Scripts that catch errors use it to
//! keep each engine call all-or-nothing.

use crate::error::Result;
use crate::kv::KvWrite;
use crate::table::Table;

/// One remembered write: the key and the value it had before (`None`: it did not exist).
pub type Undo = (Table, Vec<u8>, Option<Vec<u8>>);

/// Writes through to `inner`, remembering in `log` how to undo them.
pub struct Journal<'a> {
    inner: &'a mut dyn KvWrite,
    log: &'a mut Vec<Undo>,
}

impl<'a> Journal<'a> {
    /// Journals the writes to `inner` into `log`.
    pub fn new(inner: &'a mut dyn KvWrite, log: &'a mut Vec<Undo>) -> Self {
        Self { inner, log }
    }

    fn remember(&mut self, table: Table, key: &[u8]) -> Result<()> {
        let old = self.inner.get(table, key)?;
        self.log.push((table, key.to_vec(), old));
        Ok(())
    }
}

/// Puts back every key written since the log had `mark` entries, newest first, and shortens the log.
pub fn roll_back_to(inner: &mut dyn KvWrite, log: &mut Vec<Undo>, mark: usize) -> Result<()> {
    while log.len() > mark {
        let Some((table, key, old)) = log.pop() else {
            break;
        };
        match old {
            Some(value) => inner.put(table, &key, &value)?,
            None => {
                inner.delete(table, &key)?;
            }
        }
    }
    Ok(())
}

crate::reads_through_inner!(Journal<'_>);

impl KvWrite for Journal<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.remember(table, key)?;
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        self.remember(table, key)?;
        self.inner.delete(table, key)
    }

    fn insert(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.log.push((table, key.to_vec(), None));
        self.inner.insert(table, key, value)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.remember(table, key)?;
        self.inner.remove(table, key)
    }
}
