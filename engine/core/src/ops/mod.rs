//! The workflows of the spec. Each public method of [`Tx`] is one operation: it checks the spec's
//! rules in the spec's order before it writes, and runs inside the caller's transaction, so an
//! error leaves nothing behind. [`View`] holds the reads, usable on a snapshot or inside a [`Tx`].

mod campaigns;
mod cancel;
mod catalogue;
mod check;
mod columns;
mod contacts;
mod documents;
mod dump;
mod entries;
mod fields;
mod history;
mod proposal;
mod purge;
mod rules;
pub mod scan;
mod segments;
mod settings;
mod stats;
mod upgrade;
mod users;

pub use crate::layout::keys::entry_id;
pub use cancel::{CancelMode, CancelOutcome};
pub use check::IntegrityReport;
pub use columns::{ContactRow, RowTest, RowVerdict, RowVisit, in_columns};
pub use contacts::{ContactDeleteOptions, ContactDeletion, INDEXED_CONTACT_FIELDS};
pub use documents::{DocumentOutcome, DocumentProposal};
pub use dump::{DUMP_FORMAT, DUMP_VERSION, DumpEnd, DumpHeader, DumpRecord, change_json};
pub use entries::{InteractionDraft, InteractionProposal, ResumeChanges, ResumeProposal};
pub use fields::{MAX_FIELD_NAME, closest, unknown_field};
pub use history::{
    Erasure, HistorySettings, Recorder, Recording, UndoReport, no_such_operation, record_label,
};
pub use proposal::{AMENDABLE_FIELDS, CommentLine, EntryAmendment, EntrySource, ProposedEntry};
pub use purge::{CanceledEntryFilter, PurgeReport};
pub use rules::{MAX_ID, MAX_TEXT};
pub use segments::{LogSegmentOptions, LoggedSegmentOutcome, SegmentChanges, SegmentLogProposal};
pub use settings::PluginSettings;
pub use stats::{ContactSummary, Counters, StatKind, Statistics};
pub use users::{MAX_USER_NAME, token_hash};

use crate::clock::Clock;
use crate::store::{KvRead, KvWrite};

/// A progress callback: what the work is, how much is done, and of how much.
pub type ReportProgress = dyn Fn(&str, u64, u64) + Send + Sync;

/// Receives progress of long work.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<ReportProgress>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// How often long work reports (every this many records, and at the end).
const PROGRESS_STEP: u64 = 1000;

/// What the workflows need besides the data: the clock, who is working, and where progress goes.
#[derive(Debug, Clone)]
pub struct Context {
    /// Work date and today.
    pub clock: Clock,
    /// Written into entries, logged segments and campaign entries.
    pub user: String,
    /// Told how long work (logging a segment, purging, canceling many entries) advances.
    pub progress: Option<Progress>,
    /// What runs the work, as the history names each operation.
    pub doing: crate::model::Doing,
}

impl Context {
    /// Reports `done` of `total` for `what`, every [`PROGRESS_STEP`] records and at the end.
    pub(crate) fn report(&self, what: &str, done: u64, total: u64) {
        if let Some(Progress(report)) = &self.progress
            && (done.is_multiple_of(PROGRESS_STEP) || done == total)
        {
            report(what, done, total);
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        let user = std::env::var("RAPPORT_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "rapport".to_string());
        Self {
            clock: Clock::system(),
            user: user.to_uppercase(),
            progress: None,
            doing: crate::model::Doing::default(),
        }
    }
}

/// Reads, on a snapshot or inside a write transaction.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub(crate) kv: &'a dyn KvRead,
    pub(crate) ctx: &'a Context,
}

impl<'a> View<'a> {
    /// Reads through `kv` (any backend) with `ctx`.
    pub fn new(kv: &'a dyn KvRead, ctx: &'a Context) -> Self {
        Self { kv, ctx }
    }

    /// The context.
    pub fn context(&self) -> &Context {
        self.ctx
    }
}

/// One write transaction's workflows.
pub struct Tx<'a> {
    pub(crate) kv: &'a mut dyn KvWrite,
    pub(crate) ctx: &'a Context,
    /// Statistic changes summed while a bulk operation runs (see `Tx::batch_statistics`).
    pending_statistics: Option<stats::StatDeltas>,
    /// Whether entries have declared fields (read once per transaction; see `fields.rs`).
    entry_fields: Option<bool>,
    /// What many contacts created at once share (see `Tx::batch_contacts`).
    pending_contacts: Option<contacts::ContactBatch>,
    /// The blocks of the contact columns a bulk operation is changing (see `Tx::batch_columns`).
    pending_columns: Option<columns::ColumnCache>,
}

impl<'a> Tx<'a> {
    /// Writes through `kv` (any backend) with `ctx`.
    pub fn new(kv: &'a mut dyn KvWrite, ctx: &'a Context) -> Self {
        Self {
            kv,
            ctx,
            pending_statistics: None,
            entry_fields: None,
            pending_contacts: None,
            pending_columns: None,
        }
    }

    /// Reads inside this transaction (they see its own writes).
    pub fn view(&self) -> View<'_> {
        View {
            kv: &*self.kv,
            ctx: self.ctx,
        }
    }
}
