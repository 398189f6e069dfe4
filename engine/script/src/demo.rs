//! The demo company of spec section 4 (a CRONUS-like company). Its single source is the script
//! `scripts/demo.rhai`, run through the language so it obeys every rule; the Rust side only runs
//! it once per database and reads back what it made.

use rhai::Map;

use rapport_engine::Database;

use crate::error::ScriptError;
use crate::host::{RunOptions, ScriptHost};
use crate::limits::Limits;

/// The demo script, as shipped in `scripts/demo.rhai`.
pub const DEMO_SCRIPT: &str = include_str!("../../../scripts/demo.rhai");

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
pub fn load(db: &Database) -> Result<DemoOutcome, ScriptError> {
    if db
        .read(|v| v.demo_loaded())
        .map_err(|e| ScriptError::engine("demo", &e))?
    {
        return Ok(DemoOutcome::AlreadyLoaded);
    }
    let host = ScriptHost::new(Limits::user());
    let out = host.run_then(
        db,
        "scripts/demo.rhai",
        DEMO_SCRIPT,
        RunOptions::default(),
        |tx, _| tx.mark_demo_loaded(),
    )?;
    let counts = out
        .value
        .into_dynamic()
        .try_cast::<Map>()
        .unwrap_or_default();
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
