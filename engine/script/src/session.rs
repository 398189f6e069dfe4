//! One script run's hold on the database: a snapshot to read from, upgraded to a write
//! transaction at the first write, so a script that only reads never blocks a writer. It knows
//! which plugin, if any, is acting (to check its capabilities), keeps the undo log that makes
//! an operation — or a group of them — all-or-nothing inside the transaction, and notes a
//! conflict with another writer so the host can run the script again.
//!
//! The contract functions reach the session through [`Shared`] and the helpers here
//! ([`with_read`], [`with_write`], [`group`], [`fire`]); the hooks of plugins are run through
//! [`HookRunner`], which the plugin runtime implements, so this module does not depend on it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rapport_engine::model::Role;
use rapport_engine::ops::Recording;
use rapport_engine::store::journal::{Journal, Undo, roll_back_to};
use rapport_engine::store::{
    Backend, KvRead, Order, ReadTxn, Result as StoreResult, StoreError, Table, Visit, WriteTxn,
};
use rapport_engine::{Context, Error, Result, Tx, View};
use rhai::{Dynamic, EvalAltResult, Position};

use crate::capability::{self, Access, Caller, Grant};
use crate::error::{RhaiResult, engine_error, error_value};

/// Runs the hooks of the enabled plugins (the plugin runtime).
pub(crate) trait HookRunner {
    /// Whether any enabled plugin has a hook.
    fn has_hooks(&self) -> bool;

    /// Whether any enabled plugin has `hook`.
    fn has_hook(&self, hook: &str) -> bool;

    /// Runs `hook` of every enabled plugin that has it, in order, as that plugin; a `before_`
    /// hook that returns a map replaces the payload, after `each` has seen it (with the
    /// plugin's name) and given back what the next plugin gets.
    fn fire_each(
        &self,
        shared: &Shared,
        hook: &str,
        payload: Dynamic,
        each: &mut Amended<'_>,
    ) -> RhaiResult<Dynamic>;
}

/// What a caller does with each `before_` hook's amended payload: it gets the plugin's name and
/// the payload, and gives back what goes on (or refuses the plugin's change).
pub(crate) type Amended<'a> = dyn FnMut(&str, Dynamic) -> RhaiResult<Dynamic> + 'a;

enum Txn {
    Read(Box<dyn ReadTxn>),
    Write(Box<dyn WriteTxn>),
    /// Between the snapshot and the write transaction (or after a refused upgrade).
    Empty,
}

/// What a run reads after its snapshot was overtaken: every read is the conflict again, so a
/// script that catches the first one still ends conflicted (and runs again).
struct Overtaken;

impl KvRead for Overtaken {
    fn get(&self, _: Table, _: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Err(StoreError::Conflict)
    }

    fn scan(
        &self,
        _: Table,
        _: &[u8],
        _: Option<&[u8]>,
        _: Order,
        _: &mut Visit<'_>,
    ) -> StoreResult<()> {
        Err(StoreError::Conflict)
    }
}

/// The state of one run.
pub(crate) struct Session {
    backend: Arc<dyn Backend>,
    txn: Txn,
    pub ctx: Context,
    /// Keep every engine call all-or-nothing on its own (the script catches errors).
    journal: bool,
    /// What was written, to undo a failed operation or group; kept only while one is open.
    undo: Vec<Undo>,
    /// How many groups are open (a group keeps the undo log of everything in it).
    groups: usize,
    /// Another writer overtook this run's transaction: its work is void, the host runs it again.
    conflicted: bool,
    /// How many dry runs are open (everything written in them is put back).
    dry_runs: usize,
    /// Whether a write outside any dry run succeeded (then there is something to commit).
    changed: bool,
    /// The plugin running now, whose capabilities every call is checked against.
    pub acting: Option<Grant>,
    /// The plugins whose hooks operations fire (held only while the run lasts).
    pub hooks: Option<Rc<dyn HookRunner>>,
    /// Who runs the script (the role outside hooks, file access).
    pub caller: Caller,
    /// What the run changed, for the history (written as its operation at commit).
    recording: Recording,
    /// The run erased a person's data: it may write nothing else (its operation is a receipt).
    erased: bool,
}

/// The session as the registered functions share it (set while a script runs).
pub(crate) type Shared = Rc<RefCell<Option<Session>>>;

impl Session {
    /// Opens a run on a snapshot, upgraded at its first write; or, with `writing` (a run that
    /// was overtaken once), in the write transaction from the start, so that on a backend with
    /// one writer at a time it waits its turn and cannot be overtaken again.
    pub fn begin(
        backend: Arc<dyn Backend>,
        ctx: Context,
        journal: bool,
        hooks: Option<Rc<dyn HookRunner>>,
        writing: bool,
    ) -> Result<Self> {
        let txn = if writing {
            Txn::Write(backend.begin_write()?)
        } else {
            Txn::Read(backend.begin_read()?)
        };
        Ok(Self {
            backend,
            txn,
            ctx,
            journal,
            undo: Vec::new(),
            groups: 0,
            conflicted: false,
            dry_runs: 0,
            changed: false,
            acting: None,
            hooks,
            caller: Caller::default(),
            recording: Recording::new(),
            erased: false,
        })
    }

    /// Whether the run wrote something it keeps (writes in a dry run, or in an operation that
    /// failed and was put back, do not count when nothing else was written).
    pub fn wrote(&self) -> bool {
        self.changed
    }

    /// Refuses an erasure in a run that wrote before it (its operation will be the erasure's
    /// receipt alone).
    pub fn begin_erasure(&mut self) -> Result<()> {
        if self.changed || self.recording.wrote() {
            return Err(Error::wrong_state(
                "script",
                "it wrote before erase_contact, and an erasure runs alone (its history keeps only a receipt)",
                "erase in a run of its own (rapport erase CONTACT, or erase_contact alone in a rapport eval)",
            ));
        }
        Ok(())
    }

    /// Marks the run erased: nothing more may be written in it.
    pub fn end_erasure(&mut self) {
        self.erased = true;
    }

    /// Whether another writer overtook the run (then its outcome does not count).
    pub fn conflicted(&self) -> bool {
        self.conflicted
    }

    fn kv(&self) -> &dyn KvRead {
        match &self.txn {
            Txn::Read(r) => &**r,
            Txn::Write(w) => &**w,
            Txn::Empty => &Overtaken,
        }
    }

    /// Refuses a call the acting plugin has no capability for, or (outside hooks) the caller's
    /// role does not allow.
    pub fn check(&self, access: Access) -> RhaiResult<()> {
        match &self.acting {
            Some(grant) if !grant.allows(access) => Err(error_value(
                "denied",
                Some(format!("plugin {}", grant.plugin)),
                Some("capabilities"),
                format!(
                    "plugin {}: it may not {access}; add \"{}\" to capabilities.{} in its plugin.toml",
                    grant.plugin,
                    access.kind,
                    access.verb()
                ),
            )),
            Some(_) => Ok(()),
            None if capability::role_allows(self.caller.role, access) => Ok(()),
            None => {
                let user = self.caller.user.as_deref().unwrap_or(&self.ctx.user);
                let only = if self.caller.role == Role::Log && access.write {
                    " (role log only adds interactions: log_interaction, resume_interaction, record_document)"
                } else {
                    ""
                };
                Err(error_value(
                    "denied",
                    Some(format!("user {user}")),
                    Some("role"),
                    format!(
                        "user {user} (role {}) may not {access}{only}; ask for a token of role {}",
                        self.caller.role,
                        if access.logging {
                            "log or full"
                        } else {
                            "full"
                        }
                    ),
                ))
            }
        }
    }

    fn noted<T>(&mut self, outcome: Result<T>) -> Result<T> {
        if outcome.as_ref().is_err_and(Error::is_conflict) {
            self.conflicted = true;
        }
        outcome
    }

    /// Runs a read on the latest state this run sees (its own writes included).
    pub fn read<T>(&mut self, work: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
        let outcome = work(&View::new(self.kv(), &self.ctx));
        self.noted(outcome)
    }

    /// Runs one workflow; with a journal, a failing workflow leaves nothing of itself behind
    /// while the run goes on.
    pub fn write<T>(&mut self, work: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let outcome = self.write_inner(work);
        if outcome.is_ok() && self.dry_runs == 0 {
            self.changed = true;
        }
        self.noted(outcome)
    }

    fn write_inner<T>(&mut self, work: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        if let Txn::Read(_) = self.txn {
            // What the run read so far must still be true when it writes: the upgrade is
            // refused (a conflict, the host runs the script again) if a commit came between.
            let Txn::Read(read) = std::mem::replace(&mut self.txn, Txn::Empty) else {
                unreachable!("matched above")
            };
            self.txn = Txn::Write(self.backend.upgrade(read)?);
        }
        let Txn::Write(w) = &mut self.txn else {
            return Err(StoreError::Conflict.into());
        };
        if self.erased {
            return Err(Error::wrong_state(
                "script",
                "it erased a person's data, and an erasure is the last write of its run (its history keeps only a receipt)",
                "write in another run (another rapport eval, REPL line or request)",
            ));
        }
        self.recording
            .set_acting(self.acting.as_ref().map(|g| g.plugin.as_str()));
        let mut recorded = self.recording.over(&mut **w);
        if !self.journal && self.groups == 0 {
            return work(&mut Tx::new(&mut recorded, &self.ctx));
        }
        let mark = self.undo.len();
        let outcome = work(&mut Tx::new(
            &mut Journal::new(&mut recorded, &mut self.undo),
            &self.ctx,
        ));
        if outcome.is_err() {
            roll_back_to(&mut recorded, &mut self.undo, mark)?;
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
                roll_back_to(&mut self.recording.over(&mut **w), &mut self.undo, mark)?;
            }
        } else if self.groups == 0 {
            self.undo.truncate(mark);
        }
        Ok(())
    }

    /// Ends the run: commits its writes (unless `keep` is false, or nothing is kept), or drops
    /// them.
    pub fn finish(self, keep: bool) -> Result<()> {
        match self.txn {
            Txn::Write(mut w) if keep && self.changed => {
                self.recording.finish(&mut *w, &self.ctx)?;
                Ok(w.commit()?)
            }
            Txn::Write(w) => Ok(w.abort()?),
            Txn::Read(_) | Txn::Empty => Ok(()),
        }
    }
}

#[expect(
    clippy::unnecessary_box_returns,
    reason = "Rhai's errors are always boxed"
)]
fn no_session() -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(
        "the database is not open for this script".into(),
        Position::NONE,
    )
    .into()
}

/// Refuses `access` when the acting plugin (if any) or the caller's role does not allow it.
pub(crate) fn check_access(shared: &Shared, access: Access) -> RhaiResult<()> {
    let guard = shared.borrow();
    let session = guard.as_ref().ok_or_else(no_session)?;
    session.check(access)
}

/// Runs a read against the run's transaction, if the acting plugin (if any) may.
pub(crate) fn with_read<T>(
    shared: &Shared,
    access: Access,
    work: impl FnOnce(&View<'_>) -> Result<T>,
) -> RhaiResult<T> {
    let mut guard = shared.borrow_mut();
    let session = guard.as_mut().ok_or_else(no_session)?;
    session.check(access)?;
    session.read(work).map_err(engine_error)
}

/// Runs one workflow in the run's transaction, all or nothing, if the acting plugin (if any) may.
pub(crate) fn with_write<T>(
    shared: &Shared,
    access: Access,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> RhaiResult<T> {
    let mut guard = shared.borrow_mut();
    let session = guard.as_mut().ok_or_else(no_session)?;
    session.check(access)?;
    session.write(work).map_err(engine_error)
}

/// Runs `work` (hooks and an operation) so that all its writes are kept, or none. Without
/// enabled plugins that have hooks, the operation is one workflow call (all-or-nothing on its
/// own) and no undo log is kept for it.
pub(crate) fn group<T>(shared: &Shared, work: impl FnOnce() -> RhaiResult<T>) -> RhaiResult<T> {
    let hooked = shared
        .borrow()
        .as_ref()
        .is_some_and(|s| s.acting.is_none() && s.hooks.as_ref().is_some_and(|h| h.has_hooks()));
    if !hooked {
        return work();
    }
    let mark = shared
        .borrow_mut()
        .as_mut()
        .ok_or_else(no_session)?
        .begin_group();
    let outcome = work();
    let closed = shared
        .borrow_mut()
        .as_mut()
        .ok_or_else(no_session)?
        .end_group(mark, outcome.is_err());
    closed.map_err(engine_error)?;
    outcome
}

/// Runs `work` — the real operation — and then puts back everything it wrote, keeping its
/// answer: a dry run that answers from the same code as the real run, so it refuses when the
/// real run refuses and reports exactly what the real run changes.
pub(crate) fn dry_run<T>(shared: &Shared, work: impl FnOnce() -> RhaiResult<T>) -> RhaiResult<T> {
    let mark = {
        let mut guard = shared.borrow_mut();
        let session = guard.as_mut().ok_or_else(no_session)?;
        session.dry_runs += 1;
        session.begin_group()
    };
    let outcome = work();
    let closed = {
        let mut guard = shared.borrow_mut();
        let session = guard.as_mut().ok_or_else(no_session)?;
        session.dry_runs -= 1;
        session.end_group(mark, true)
    };
    closed.map_err(engine_error)?;
    outcome
}

/// The plugin acting now, if any.
pub(crate) fn acting_plugin(shared: &Shared) -> Option<String> {
    shared
        .borrow()
        .as_ref()
        .and_then(|s| s.acting.as_ref().map(|g| g.plugin.clone()))
}

/// Sets (or clears) the plugin acting now.
pub(crate) fn set_acting(shared: &Shared, grant: Option<Grant>) {
    if let Some(session) = shared.borrow_mut().as_mut() {
        session.acting = grant;
    }
}

/// Runs `hook` of the enabled plugins on `payload` (not from inside another plugin's hook).
pub(crate) fn fire(shared: &Shared, hook: &str, payload: Dynamic) -> RhaiResult<Dynamic> {
    fire_each(shared, hook, payload, &mut |_, amended| Ok(amended))
}

/// [`fire`], with `each` seeing what each plugin's `before_` hook amended.
pub(crate) fn fire_each(
    shared: &Shared,
    hook: &str,
    payload: Dynamic,
    each: &mut Amended<'_>,
) -> RhaiResult<Dynamic> {
    let runtime = shared.borrow().as_ref().and_then(|s| {
        if s.acting.is_some() {
            None
        } else {
            s.hooks.clone()
        }
    });
    match runtime {
        Some(runtime) => runtime.fire_each(shared, hook, payload, each),
        None => Ok(payload),
    }
}

/// Whether `hook` would run now: an enabled plugin has it, and no plugin's hook is running.
pub(crate) fn has_hook(shared: &Shared, hook: &str) -> bool {
    shared
        .borrow()
        .as_ref()
        .is_some_and(|s| s.acting.is_none() && s.hooks.as_ref().is_some_and(|h| h.has_hook(hook)))
}

/// Runs an `after_` or `on_` hook: it sees what happened and may abort it by throwing.
pub(crate) fn notify(shared: &Shared, hook: &str, payload: Dynamic) -> RhaiResult<()> {
    fire(shared, hook, payload).map(|_| ())
}

/// Changes the run's clock or user.
pub(crate) fn with_context<T>(
    shared: &Shared,
    work: impl FnOnce(&mut Context) -> T,
) -> RhaiResult<T> {
    let mut guard = shared.borrow_mut();
    let session = guard.as_mut().ok_or_else(no_session)?;
    Ok(work(&mut session.ctx))
}

/// Whether the script may read a file it names: not in a plugin's hook, not through the server.
pub(crate) fn file_access(shared: &Shared) -> bool {
    shared
        .borrow()
        .as_ref()
        .is_some_and(|s| s.acting.is_none() && s.caller.file_access)
}
