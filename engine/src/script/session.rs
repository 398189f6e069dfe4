//! One script run's hold on the database: a snapshot to read from, upgraded to the one write
//! transaction at the first write, so a script that only reads never blocks a writer. It also
//! knows which plugin, if any, is acting (to check its capabilities) and keeps the undo log that
//! makes an operation — or a group of them — all-or-nothing inside the transaction.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ops::{Context, Tx, View};
use crate::store::journal::{Journal, Undo, roll_back_to};
use crate::store::{KvRead, ReadTxn, Store, WriteTxn};

use super::capability::{Access, Grant};
use crate::plugin::PluginRuntime;

enum Txn {
    Read(Box<ReadTxn>),
    Write(Box<WriteTxn>),
}

/// The state of one run.
pub(crate) struct Session {
    store: Arc<Store>,
    txn: Txn,
    pub ctx: Context,
    /// Keep every engine call all-or-nothing on its own (the script catches errors).
    journal: bool,
    /// What was written, to undo a failed operation or group; kept only while one is open.
    undo: Vec<Undo>,
    /// How many groups are open (a group keeps the undo log of everything in it).
    groups: usize,
    /// The plugin running now, whose capabilities every call is checked against.
    pub acting: Option<Grant>,
    /// The plugins whose hooks operations fire (held only while the run lasts).
    pub hooks: Option<Rc<PluginRuntime>>,
}

/// The session as the registered functions share it (set while a script runs).
pub(crate) type Shared = Rc<RefCell<Option<Session>>>;

impl Session {
    pub fn begin(
        store: Arc<Store>,
        ctx: Context,
        journal: bool,
        hooks: Option<Rc<PluginRuntime>>,
    ) -> Result<Self> {
        let txn = Txn::Read(Box::new(store.begin_read()?));
        Ok(Self {
            store,
            txn,
            ctx,
            journal,
            undo: Vec::new(),
            groups: 0,
            acting: None,
            hooks,
        })
    }

    /// Whether the run has begun writing.
    pub fn wrote(&self) -> bool {
        matches!(self.txn, Txn::Write(_))
    }

    fn kv(&self) -> &dyn KvRead {
        match &self.txn {
            Txn::Read(r) => &**r,
            Txn::Write(w) => &**w,
        }
    }

    /// Refuses a call the acting plugin has no capability for.
    pub fn check(&self, access: Access) -> Result<()> {
        match &self.acting {
            Some(grant) if !grant.allows(access) => Err(Error::refused(
                format!("plugin {}", grant.plugin),
                format!("it may not {access}"),
                format!(
                    "add \"{}\" to capabilities.{} in its plugin.toml",
                    access.kind,
                    access.verb()
                ),
            )),
            _ => Ok(()),
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
        if !self.journal && self.groups == 0 {
            return work(&mut Tx::new(&mut **w, &self.ctx));
        }
        let mark = self.undo.len();
        let outcome = work(&mut Tx::new(
            &mut Journal::new(&mut **w, &mut self.undo),
            &self.ctx,
        ));
        if outcome.is_err() {
            roll_back_to(&mut **w, &mut self.undo, mark)?;
        } else if self.groups == 0 {
            self.undo.truncate(mark);
        }
        outcome
    }

    /// Opens a group: everything written until [`Session::end_group`] can be undone together.
    pub fn begin_group(&mut self) -> usize {
        self.groups += 1;
        self.undo.len()
    }

    /// Closes a group; a failed one puts back everything written in it.
    pub fn end_group(&mut self, mark: usize, failed: bool) -> Result<()> {
        self.groups = self.groups.saturating_sub(1);
        if failed {
            if let Txn::Write(w) = &mut self.txn {
                roll_back_to(&mut **w, &mut self.undo, mark)?;
            }
        } else if self.groups == 0 {
            self.undo.truncate(mark);
        }
        Ok(())
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
