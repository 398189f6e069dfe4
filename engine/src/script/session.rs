//! One script run's hold on the database: a snapshot to read from, upgraded to the one write
//! transaction at the first write, so a script that only reads never blocks a writer.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::Result;
use crate::ops::{Context, Tx, View};
use crate::store::journal::Journal;
use crate::store::{KvRead, ReadTxn, Store, WriteTxn};

enum Txn {
    Read(ReadTxn),
    Write(Box<WriteTxn>),
}

/// The state of one run.
pub(crate) struct Session {
    store: Arc<Store>,
    txn: Txn,
    pub ctx: Context,
    /// Keep every engine call all-or-nothing on its own (the script catches errors).
    journal: bool,
}

/// The session as the registered functions share it (set while a script runs).
pub(crate) type Shared = Rc<RefCell<Option<Session>>>;

impl Session {
    pub fn begin(store: Arc<Store>, ctx: Context, journal: bool) -> Result<Self> {
        let txn = Txn::Read(store.begin_read()?);
        Ok(Self {
            store,
            txn,
            ctx,
            journal,
        })
    }

    /// Whether the run has begun writing.
    pub fn wrote(&self) -> bool {
        matches!(self.txn, Txn::Write(_))
    }

    fn kv(&self) -> &dyn KvRead {
        match &self.txn {
            Txn::Read(r) => r,
            Txn::Write(w) => &**w,
        }
    }

    /// Runs a read on the latest state this run sees (its own writes included).
    pub fn read<T>(&self, work: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
        work(&View::new(self.kv(), &self.ctx))
    }

    /// Runs one workflow; with a journal, a failing workflow leaves nothing of itself behind
    /// while the run goes on.
    pub fn write<T>(&mut self, work: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        if let Txn::Read(_) = self.txn {
            self.txn = Txn::Write(Box::new(self.store.begin_write()?));
        }
        let Txn::Write(w) = &mut self.txn else {
            unreachable!("upgraded above")
        };
        if !self.journal {
            return work(&mut Tx::new(&mut **w, &self.ctx));
        }
        let mut journal = Journal::new(&mut **w);
        let outcome = work(&mut Tx::new(&mut journal, &self.ctx));
        if outcome.is_err() {
            journal.roll_back()?;
        }
        outcome
    }

    /// Ends the run: commits its writes (unless `keep` is false), or drops them.
    pub fn finish(self, keep: bool) -> Result<()> {
        match self.txn {
            Txn::Write(w) if keep => w.commit(),
            Txn::Write(w) => w.abort(),
            Txn::Read(_) => Ok(()),
        }
    }
}
