//! A plugin's own tests (`rapport plugins test NAME`): the Rhai scripts of its `tests/` folder,
//! each run in a fresh scratch database (in memory) holding the demo company, with this plugin
//! alone enabled. A test passes when its script ends without an error; `assert` and
//! `assert_eq` fail it at their line.

use rapport_engine::Database;
use rapport_engine::ops::PluginSettings;

use super::{PluginProblem, PluginSource};
use crate::error::ScriptError;
use crate::host::{RunOptions, ScriptHost};
use crate::limits::Limits;

/// How one test script ended.
#[derive(Debug)]
pub struct TestOutcome {
    /// Its file, as shown.
    pub file: String,
    /// Its source (to show the failing line).
    pub source: String,
    /// `None` when it passed; else why it failed (with what it printed).
    pub failure: Option<ScriptError>,
    /// What it printed, when it passed.
    pub printed: Vec<String>,
}

/// Why a plugin's tests could not run at all.
#[derive(Debug)]
pub enum TestsNotRun {
    /// The plugin does not load (its manifest or its code).
    Plugin(PluginProblem),
    /// The scratch database or the demo company could not be made.
    Scratch(ScriptError),
}

/// Runs every test of `plugin`, in order, each in its own scratch database.
pub fn run_tests(plugin: &PluginSource, limits: Limits) -> Result<Vec<TestOutcome>, TestsNotRun> {
    let mut outcomes = Vec::with_capacity(plugin.tests.len());
    for (file, source) in &plugin.tests {
        let db = scratch(plugin)?;
        let mut host = ScriptHost::new(limits);
        let report = host
            .load_plugins(&db, std::slice::from_ref(plugin))
            .map_err(TestsNotRun::Scratch)?;
        if let Some(problem) = report.problems.into_iter().next() {
            return Err(TestsNotRun::Plugin(problem));
        }
        let (failure, printed) = match host.run(&db, file, source, RunOptions::default()) {
            Ok(out) => (None, out.printed),
            Err(e) => (Some(e), Vec::new()),
        };
        outcomes.push(TestOutcome {
            file: file.clone(),
            source: source.clone(),
            failure,
            printed,
        });
    }
    Ok(outcomes)
}

/// A database in memory with the demo company and only `plugin` enabled.
fn scratch(plugin: &PluginSource) -> Result<Database, TestsNotRun> {
    let name = super::Manifest::parse(&plugin.manifest)
        .map_err(|message| {
            TestsNotRun::Plugin(PluginProblem {
                plugin: plugin.origin.clone(),
                file: plugin.manifest_file.clone(),
                line: None,
                column: None,
                message,
            })
        })?
        .name;
    let engine = |e: &rapport_engine::Error| {
        TestsNotRun::Scratch(ScriptError::engine("scratch database", e))
    };
    let db = Database::in_memory().map_err(|e| engine(&e))?;
    crate::demo::load(&db).map_err(TestsNotRun::Scratch)?;
    db.write(|tx| {
        tx.plugin_settings_set(&PluginSettings {
            enabled: vec![name.clone()],
            folders: Vec::new(),
        })
    })
    .map_err(|e| engine(&e))?;
    Ok(db)
}
