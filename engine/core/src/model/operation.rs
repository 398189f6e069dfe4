//! The history: one record per committed write operation — who ran what, when, and the changes it
//! made to the stored records, enough to undo it (`ops/history.rs`).

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// What ran an operation, as the history names it. The host that runs work sets it on the
/// [`crate::Context`]; the user comes from the context too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doing {
    /// `command` (a command of the binary), `script` (`rapport run`), `eval`, `repl` (one
    /// input), `request` (a server request), `undo`, `erase`; `engine` for work a Rust caller
    /// ran without saying.
    pub kind: String,
    /// The command line, the script's name, or the request.
    pub what: String,
    /// The script's text, when a script ran (the history keeps its first
    /// [`MAX_SCRIPT_KEPT`] bytes and the SHA-256 of all of it).
    pub script: String,
}

/// How much of a script's text an operation keeps (its hash covers all of it).
pub const MAX_SCRIPT_KEPT: usize = 16 * 1024;

/// How many records of one table an operation added, changed and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    /// The table's name (`entries`, `contacts`, …).
    pub table: String,
    /// Records that did not exist before.
    pub added: u64,
    /// Records that existed before and after, with another value.
    pub changed: u64,
    /// Records that existed before and not after.
    pub removed: u64,
}

/// One committed write operation (the journal's header record; its changes are stored beside
/// it in chunks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Its number: strictly increasing, never reused.
    pub no: u64,
    /// The day it committed (the context's clock).
    #[serde(with = "super::serde_date")]
    pub date: NaiveDate,
    /// The time of day it committed.
    #[serde(with = "super::serde_date::time")]
    pub time: NaiveTime,
    /// Who ran it (the context's user: the server's client, or the local user).
    pub user: String,
    /// What ran it ([`Doing::kind`]).
    pub kind: String,
    /// The command line, the script's name, or the request ([`Doing::what`]).
    pub what: String,
    /// The script's text, cut at [`MAX_SCRIPT_KEPT`] bytes (empty when no script ran).
    pub script: String,
    /// The SHA-256 of the whole script, in hex (empty when no script ran).
    pub script_sha256: String,
    /// The plugins whose hooks wrote during the operation.
    pub plugins: Vec<String>,
    /// The operations this one undid.
    pub undoes: Vec<u64>,
    /// The operation that undid this one (0: none).
    pub undone_by: u64,
    /// What it changed, table by table (in table order).
    pub counts: Vec<TableCount>,
    /// The entry numbers it added, changed or removed, as ranges `(first, last)`.
    pub entry_nos: Vec<(u64, u64)>,
    /// How many chunks of changes are stored beside it (0 once they were dropped).
    pub chunks: u32,
    /// The retention setting dropped its changes: only this receipt remains.
    pub expired: bool,
    /// How many of its changes an erasure took out of the history.
    pub erased: u64,
}

impl Operation {
    /// The fields of an operation as scripts and clients see them.
    pub const FIELDS: &'static [&'static str] = &[
        "no",
        "date",
        "time",
        "user",
        "kind",
        "changes",
        "what",
        "undoes",
        "undone_by",
        "plugins",
        "script",
        "script_sha256",
        "counts",
        "entry_nos",
        "expired",
        "erased",
    ];

    /// The fields of one change as `history_of` and `operation(no).records` give them.
    pub const CHANGE_FIELDS: &'static [&'static str] = &[
        "no",
        "date",
        "time",
        "user",
        "kind",
        "record",
        "change",
        "fields",
        "what",
        "undone_by",
        "before",
        "after",
    ];

    /// What it changed in `table` (`None`: nothing).
    pub fn count_of(&self, table: &str) -> Option<&TableCount> {
        self.counts.iter().find(|c| c.table == table)
    }

    /// Whether `entry_no` is among the entries it changed.
    pub fn touched_entry(&self, entry_no: u64) -> bool {
        self.entry_nos
            .iter()
            .any(|&(first, last)| (first..=last).contains(&entry_no))
    }

    /// The changes in a line: `+3 entries, ~1 contact, -2 segment_lines`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for c in &self.counts {
            for (n, sign) in [(c.added, '+'), (c.changed, '~'), (c.removed, '-')] {
                if n > 0 {
                    parts.push(format!("{sign}{n} {}", c.table));
                }
            }
        }
        if parts.is_empty() {
            "no changes".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// One stored record an operation changed: the table (by id), the key, and its value before
/// and after (`None`: absent) — postcard bytes as the table stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The table's id.
    pub table: u8,
    /// The record's key.
    pub key: Vec<u8>,
    /// Its stored value before the operation.
    pub before: Option<Vec<u8>>,
    /// Its stored value after the operation.
    pub after: Option<Vec<u8>>,
}
