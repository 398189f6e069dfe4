//! The demo company of spec section 4 (a CRONUS-like company). Its single source is the script
//! `scripts/demo.rhai`, run through the language so it obeys every rule; the Rust side only runs
//! it once per database and reads back what it made.

use rhai::Map;

use crate::Database;
use crate::error::{Error, Result};
use crate::ops::layout::{self, meta_key};
use crate::script::{Limits, RunOptions, ScriptHost};
use crate::store::Table;

/// The demo script, as shipped in `scripts/demo.rhai`.
pub const DEMO_SCRIPT: &str = include_str!("../../scripts/demo.rhai");

/// What loading the demo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoOutcome {
    /// Loaded now, with these counts.
    Loaded(DemoSummary),
    /// It was there already; nothing changed.
    AlreadyLoaded,
}

/// Counts of what the demo created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Interaction groups.
    pub groups: usize,
    /// Interaction templates.
    pub templates: usize,
    /// Salespeople.
    pub salespeople: usize,
    /// Contacts (companies and persons).
    pub contacts: usize,
    /// Segments.
    pub segments: usize,
    /// Interaction log entries.
    pub entries: usize,
}

/// Loads the demo company into `db`, once: the script and the "loaded" mark are one transaction.
pub fn load(db: &Database) -> Result<DemoOutcome> {
    if db.read(|v| layout::exists(v.kv, Table::Meta, &meta_key::demo_loaded()))? {
        return Ok(DemoOutcome::AlreadyLoaded);
    }
    let host = ScriptHost::new(Limits::user());
    let out = host
        .run_then(
            db,
            "scripts/demo.rhai",
            DEMO_SCRIPT,
            RunOptions::default(),
            |tx, _| layout::put(tx.kv, Table::Meta, &meta_key::demo_loaded(), &true),
        )
        .map_err(|e| Error::Script(e.to_string()))?;
    let counts = out.value.try_cast::<Map>().unwrap_or_default();
    let count = |k: &str| {
        counts
            .get(k)
            .and_then(|v| v.as_int().ok())
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    };
    Ok(DemoOutcome::Loaded(DemoSummary {
        groups: count("groups"),
        templates: count("templates"),
        salespeople: count("salespeople"),
        contacts: count("contacts"),
        segments: count("segments"),
        entries: count("entries"),
    }))
}
