//! The Rhai surface (DESIGN.md, "The language"): every function of the contract calls an engine
//! workflow, records are maps with the spec's field names, queries are lazy. A whole script run
//! is one transaction: committed when the script ends without error, dropped otherwise. When the
//! script catches errors (`try`), each engine call keeps an undo journal so a failed call leaves
//! nothing of itself behind while the script goes on.

mod api_catalogue;
mod api_log;
pub mod capability;
pub mod docs;
pub(crate) mod error;
pub(crate) mod native;
pub mod query;
mod session;
pub mod value;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rhai::{AST, Dynamic, Engine, EvalAltResult, Position, Scope};

use capability::Access;
pub use error::{ScriptError, ScriptErrorKind};
use session::{Session, Shared};

/// The session handle the plugin runtime shares.
pub(crate) type SharedSession = Shared;

use crate::Database;
use crate::error::{Error, Result};
use crate::ops::{Context, Tx, View};
use crate::plugin::{LoadedPlugin, PluginProblem, PluginRuntime, PluginSource};

pub(crate) type RhaiResult<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Limits of one script run. A run that reaches one stops, changes nothing, and its error says
/// which limit stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations (0: no limit).
    pub max_operations: u64,
    /// Depth of nested function calls.
    pub max_call_depth: usize,
    /// Longest string, in bytes (0: no check).
    ///
    /// Rhai checks the three size limits by walking the whole value after every change to it,
    /// so growing an array or a map to n items under a size limit costs time in n²: a limit in
    /// the millions is never reached, the script just runs on. Users' scripts therefore leave
    /// them off and are bounded by `max_memory`; hooks keep small ones (cheap at that size).
    pub max_string_size: usize,
    /// Largest array (0: no check).
    pub max_array_size: usize,
    /// Largest map (0: no check).
    pub max_map_size: usize,
    /// Wall-clock time.
    pub max_time: Duration,
    /// Memory the run may add, in bytes (0: no limit). Checked only on a host given a memory
    /// probe ([`ScriptHost::set_memory_probe`]); it is the guard for what Rhai's own size limits
    /// miss (Rhai 1.27 does not size-check `map[new_key] = value`).
    pub max_memory: usize,
}

impl Limits {
    /// For a user's own scripts (REPL, `run`, `eval`): large enough for bulk work on millions of
    /// records; huge data is stopped by the memory limit.
    pub fn user() -> Self {
        Self {
            max_operations: 50_000_000_000,
            max_call_depth: 64,
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_time: Duration::from_secs(3600),
            max_memory: 4 * 1024 * 1024 * 1024,
        }
    }

    /// For plugin hooks: strict.
    pub fn hook() -> Self {
        Self {
            max_operations: 1_000_000,
            max_call_depth: 32,
            max_string_size: 1024 * 1024,
            max_array_size: 100_000,
            max_map_size: 10_000,
            max_time: Duration::from_secs(2),
            max_memory: 64 * 1024 * 1024,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::user()
    }
}

/// How to run a script.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Run everything, then drop every change instead of committing.
    pub dry_run: bool,
}

/// What a run gave.
#[derive(Debug, Clone)]
pub struct ScriptOutput {
    /// The value of the last statement (a query is run and given as its list).
    pub value: Dynamic,
    /// What the script printed, line by line.
    pub printed: Vec<String>,
    /// Whether the run changed the database (false for a dry run).
    pub committed: bool,
}

/// Compiles and runs scripts against a database. One host keeps its engine (functions are
/// registered once) and its clock across runs, so `set_work_date` in one REPL line holds for the next.
pub struct ScriptHost {
    engine: Engine,
    shared: Shared,
    limits: Limits,
    cancel: Arc<AtomicBool>,
    started: Rc<Cell<Instant>>,
    printed: Rc<RefCell<Vec<String>>>,
    context: RefCell<Option<Context>>,
    memory: MemoryProbe,
    /// Functions defined by earlier `run_in_scope` runs (the REPL's).
    functions: RefCell<AST>,
    /// The loaded plugins and their hook engine.
    plugins: Option<Rc<PluginRuntime>>,
}

/// What loading plugins found.
#[derive(Debug, Clone, Default)]
pub struct PluginReport {
    /// The plugins that compiled (enabled or not).
    pub plugins: Vec<LoadedPlugin>,
    /// The ones that did not, with where and why.
    pub problems: Vec<PluginProblem>,
}

/// What an engine's callbacks share with its host.
struct Probes<'a> {
    shared: &'a Shared,
    cancel: &'a Arc<AtomicBool>,
    started: &'a Rc<Cell<Instant>>,
    memory: &'a MemoryProbe,
    printed: &'a Rc<RefCell<Vec<String>>>,
}

/// An engine with every function of the language, the given limits, and no way out of the engine.
fn build_engine(limits: Limits, probes: &Probes<'_>) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_expr_depths(256, 256);
    // Scripts reach nothing outside the engine's own functions.
    engine.disable_symbol("eval");
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    let (cancel, started, memory) = (
        probes.cancel.clone(),
        probes.started.clone(),
        probes.memory.clone(),
    );
    let (max_time, max_memory) = (limits.max_time, limits.max_memory);
    engine.on_progress(move |ops| {
        // Memory on every operation: one operation can double a string, so between two checks
        // 256 operations apart a script could take all of the machine's memory.
        if let Some((probe, at_start)) = memory.get()
            && max_memory > 0
            && probe().saturating_sub(at_start) > max_memory
        {
            return Some(STOP_MEMORY.into());
        }
        if ops % 256 != 0 {
            return None;
        }
        if cancel.load(Ordering::Relaxed) {
            return Some(STOP_CANCELLED.into());
        }
        (started.get().elapsed() > max_time).then(|| STOP_TIME.into())
    });
    let (on_print, on_debug) = (probes.printed.clone(), probes.printed.clone());
    engine.on_print(move |s| on_print.borrow_mut().push(s.to_string()));
    engine.on_debug(move |s, _, _| on_debug.borrow_mut().push(s.to_string()));
    value_types::register(&mut engine);
    query::register(&mut engine, probes.shared);
    api_catalogue::register(&mut engine, probes.shared);
    api_log::register(&mut engine, probes.shared);
    engine
}

/// How one run goes: its options, a Rust step after it, whether it keeps the functions it defines.
struct How<'f> {
    options: RunOptions,
    finish: Option<Finish<'f>>,
    keep_functions: bool,
}

/// A Rust step run in a script's transaction after the script.
type Finish<'f> = Box<dyn FnOnce(&mut Tx<'_>, &Dynamic) -> Result<()> + 'f>;

/// The probe of allocated bytes, and its reading when the run started.
type MemoryProbe = Rc<Cell<Option<(fn() -> usize, usize)>>>;

const STOP_CANCELLED: &str = "cancelled";
const STOP_TIME: &str = "time";
const STOP_MEMORY: &str = "memory";

impl ScriptHost {
    /// A host whose runs obey `limits`.
    pub fn new(limits: Limits) -> Self {
        let shared: Shared = Rc::new(RefCell::new(None));
        let cancel = Arc::new(AtomicBool::new(false));
        let started = Rc::new(Cell::new(Instant::now()));
        let memory: MemoryProbe = Rc::new(Cell::new(None));
        let printed = Rc::new(RefCell::new(Vec::new()));
        let engine = build_engine(
            limits,
            &Probes {
                shared: &shared,
                cancel: &cancel,
                started: &started,
                memory: &memory,
                printed: &printed,
            },
        );
        Self {
            engine,
            shared,
            limits,
            cancel,
            started,
            printed,
            context: RefCell::new(None),
            memory,
            functions: RefCell::new(AST::empty()),
            plugins: None,
        }
    }

    /// Checks and compiles plugins; the ones `db` has enabled get their functions under their
    /// names and their hooks. A plugin that fails is reported and left out; it never stops the host.
    pub fn load_plugins(
        &mut self,
        db: &Database,
        sources: &[PluginSource],
    ) -> Result<PluginReport, ScriptError> {
        let settings = db
            .read(|v| v.plugin_settings())
            .map_err(|e| ScriptError::engine("plugins", &e))?;
        let started = Rc::new(Cell::new(Instant::now()));
        let hook_limits = Limits::hook();
        let engine = build_engine(
            hook_limits,
            &Probes {
                shared: &self.shared,
                cancel: &self.cancel,
                started: &started,
                memory: &self.memory,
                printed: &self.printed,
            },
        );
        let mut report = PluginReport::default();
        for source in sources {
            match crate::plugin::compile(&engine, source) {
                Ok((mut plugin, module)) => {
                    if report
                        .plugins
                        .iter()
                        .any(|p: &LoadedPlugin| p.manifest.name == plugin.manifest.name)
                    {
                        report.problems.push(PluginProblem {
                            plugin: plugin.manifest.name.clone(),
                            file: plugin.file.clone(),
                            line: None,
                            column: None,
                            message: format!(
                                "another plugin is named {} already; the first one found is used",
                                plugin.manifest.name
                            ),
                        });
                        continue;
                    }
                    plugin.enabled = settings.enabled.contains(&plugin.manifest.name);
                    if plugin.enabled {
                        self.engine
                            .register_static_module(plugin.manifest.name.as_str(), module.into());
                    }
                    report.plugins.push(plugin);
                }
                Err(problem) => report.problems.push(problem),
            }
        }
        // Hooks run in the order of the enabled list.
        let mut ordered = report.plugins.clone();
        ordered.sort_by_key(|p| {
            settings
                .enabled
                .iter()
                .position(|n| *n == p.manifest.name)
                .unwrap_or(usize::MAX)
        });
        self.plugins = Some(Rc::new(PluginRuntime {
            engine,
            started,
            limits: hook_limits,
            plugins: ordered,
        }));
        Ok(report)
    }

    /// Gives the host a way to read how many bytes the process has allocated (e.g. from a
    /// counting global allocator), which turns on the `max_memory` limit.
    pub fn set_memory_probe(&self, probe: fn() -> usize) {
        self.memory.set(Some((probe, probe())));
    }

    /// The Rhai engine (for completion and help from its metadata).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Set it (e.g. on Ctrl-C) to stop the running script; a stopped script changes nothing.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// The clock and user this host's runs use (the database's until a script changes them).
    pub fn context(&self, db: &Database) -> Context {
        self.context
            .borrow()
            .clone()
            .unwrap_or_else(|| db.context().clone())
    }

    /// Runs `source` (named `name` in errors) as one transaction.
    pub fn run(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        options: RunOptions,
    ) -> Result<ScriptOutput, ScriptError> {
        self.execute(
            db,
            name,
            source,
            &mut Scope::new(),
            How {
                options,
                finish: None,
                keep_functions: false,
            },
        )
    }

    /// Runs `source` with variables, and functions it defines, that outlive the run (the REPL's).
    pub fn run_in_scope(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        scope: &mut Scope<'static>,
        options: RunOptions,
    ) -> Result<ScriptOutput, ScriptError> {
        self.execute(
            db,
            name,
            source,
            scope,
            How {
                options,
                finish: None,
                keep_functions: true,
            },
        )
    }

    /// Runs `source`, then `finish` in the same transaction: both are kept, or neither.
    pub fn run_then(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        options: RunOptions,
        finish: impl FnOnce(&mut Tx<'_>, &Dynamic) -> Result<()>,
    ) -> Result<ScriptOutput, ScriptError> {
        self.execute(
            db,
            name,
            source,
            &mut Scope::new(),
            How {
                options,
                finish: Some(Box::new(finish)),
                keep_functions: false,
            },
        )
    }

    fn execute(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        scope: &mut Scope<'static>,
        how: How<'_>,
    ) -> Result<ScriptOutput, ScriptError> {
        let How {
            options,
            finish,
            keep_functions,
        } = how;
        let mut ast = self
            .engine
            .compile_with_scope(scope, source)
            .map_err(|e| error::parse(name, &e))?;
        ast.set_source(name);
        let defined = ast.clone_functions_only();
        if keep_functions {
            ast = self.functions.borrow().merge(&ast);
        }
        let session = Session::begin(
            db.store.clone(),
            self.context(db),
            mentions_try(source),
            self.plugins.clone(),
        )
        .map_err(|e| ScriptError::engine(name, &e))?;
        *self.shared.borrow_mut() = Some(session);
        self.cancel.store(false, Ordering::Relaxed);
        self.started.set(Instant::now());
        if let Some((probe, _)) = self.memory.get() {
            self.memory.set(Some((probe, probe())));
        }
        self.printed.borrow_mut().clear();
        let mut result = self.engine.eval_ast_with_scope::<Dynamic>(scope, &ast);
        if let Ok(value) = &result
            && value.is::<query::Query>()
        {
            // A query as the result: run it while the transaction is still open.
            scope.push_constant("__rapport_result", value.clone());
            result = self
                .engine
                .eval_expression_with_scope::<Dynamic>(scope, "__rapport_result.list()");
            let _ = scope.remove::<Dynamic>("__rapport_result");
        }
        if let (Ok(value), Some(finish)) = (&result, finish)
            && let Err(e) = with_write(
                &self.shared,
                Access::write(capability::Kind::Catalogue),
                |tx| finish(tx, value),
            )
        {
            result = Err(e);
        }
        let session = self
            .shared
            .borrow_mut()
            .take()
            .expect("the session set above");
        let printed = std::mem::take(&mut *self.printed.borrow_mut());
        match result {
            Ok(value) => {
                let wrote = session.wrote();
                let ctx = session.ctx.clone();
                session
                    .finish(!options.dry_run)
                    .map_err(|e| ScriptError::engine(name, &e))?;
                *self.context.borrow_mut() = Some(ctx);
                if keep_functions {
                    let merged = self.functions.borrow().merge(&defined);
                    *self.functions.borrow_mut() = merged;
                }
                Ok(ScriptOutput {
                    value,
                    printed,
                    committed: wrote && !options.dry_run,
                })
            }
            Err(e) => {
                let _ = session.finish(false);
                Err(error::runtime(name, &e, &self.engine, &self.limits))
            }
        }
    }
}

/// Whether the script has a `try` (then each engine call keeps an undo journal).
fn mentions_try(source: &str) -> bool {
    source.match_indices("try").any(|(i, _)| {
        let before = source[..i].chars().next_back();
        let after = source[i + 3..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// An engine error as a script error (the message names the record, the field and the fix).
/// Rhai's errors are always boxed, and `map_err` hands the error over by value.
#[allow(clippy::unnecessary_box_returns, clippy::needless_pass_by_value)]
pub(crate) fn engine_error(e: Error) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(e.to_string()), Position::NONE).into()
}

#[allow(clippy::unnecessary_box_returns)] // Rhai's errors are always boxed
fn no_session() -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(
        "the database is not open for this script".into(),
        Position::NONE,
    )
    .into()
}

/// Runs a read against the run's transaction, if the acting plugin (if any) may.
pub(crate) fn with_read<T>(
    shared: &Shared,
    access: Access,
    work: impl FnOnce(&View<'_>) -> Result<T>,
) -> RhaiResult<T> {
    let guard = shared.borrow();
    let session = guard.as_ref().ok_or_else(no_session)?;
    session.check(access).map_err(engine_error)?;
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
    session.check(access).map_err(engine_error)?;
    session.write(work).map_err(engine_error)
}

/// Runs `work` (hooks and an operation) so that all its writes are kept, or none. Without
/// enabled plugins that have hooks, the operation is one workflow call (all-or-nothing on its
/// own) and no undo log is kept for it.
pub(crate) fn group<T>(shared: &Shared, work: impl FnOnce() -> RhaiResult<T>) -> RhaiResult<T> {
    let hooked = shared.borrow().as_ref().is_some_and(|s| {
        s.acting.is_none()
            && s.hooks
                .as_ref()
                .is_some_and(|h| h.hooked(None).next().is_some())
    });
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

/// The plugin acting now, if any.
pub(crate) fn acting_plugin(shared: &Shared) -> Option<String> {
    shared
        .borrow()
        .as_ref()
        .and_then(|s| s.acting.as_ref().map(|g| g.plugin.clone()))
}

/// Sets (or clears) the plugin acting now.
pub(crate) fn set_acting(shared: &Shared, grant: Option<capability::Grant>) {
    if let Some(session) = shared.borrow_mut().as_mut() {
        session.acting = grant;
    }
}

/// Runs `hook` of the enabled plugins on `payload` (not from inside another plugin's hook).
pub(crate) fn fire(shared: &Shared, hook: &str, payload: Dynamic) -> RhaiResult<Dynamic> {
    let runtime = shared.borrow().as_ref().and_then(|s| {
        if s.acting.is_some() {
            None
        } else {
            s.hooks.clone()
        }
    });
    match runtime {
        Some(runtime) => runtime.fire(shared, hook, payload),
        None => Ok(payload),
    }
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

mod value_types {
    //! The `date` type, record handles, printing and JSON.
    use chrono::{Datelike, Days};
    use rhai::{Array, Dynamic, Engine, INT, Map};

    use super::value::{Date, LoggedSegmentHandle, RecordHandle, SegmentHandle, show_map, to_json};
    use super::{RhaiResult, engine_error};
    use crate::error::Error;

    fn shift(d: Date, days: INT) -> RhaiResult<Date> {
        let moved = if days >= 0 {
            d.0.checked_add_days(Days::new(days.unsigned_abs()))
        } else {
            d.0.checked_sub_days(Days::new(days.unsigned_abs()))
        };
        moved.map(Date).ok_or_else(|| {
            engine_error(Error::invalid(
                "date",
                "days",
                format!("{d} {days:+} days is out of range"),
                "use a date between years 1 and 262143",
            ))
        })
    }

    /// A record handle type: fields through the indexer (so `x.field` works), printing.
    fn register_handle<T: RecordHandle>(engine: &mut Engine, name: &str) {
        engine.register_type_with_name::<T>(name);
        engine.register_indexer_get(|h: &mut T, field: &str| {
            h.fields().get(field).cloned().unwrap_or(Dynamic::UNIT)
        });
        engine.register_fn("to_string", |h: &mut T| {
            format!("{} {}", T::LABEL, show_map(h.fields()))
        });
        engine.register_fn("to_debug", |h: &mut T| {
            format!("{} {}", T::LABEL, show_map(h.fields()))
        });
    }

    pub fn register(engine: &mut Engine) {
        engine.register_type_with_name::<Date>("date");
        engine.register_fn("to_string", |d: &mut Date| d.to_string());
        engine.register_fn("to_debug", |d: &mut Date| format!("date(\"{d}\")"));
        engine.register_fn("+", |d: Date, n: INT| shift(d, n));
        engine.register_fn("-", |d: Date, n: INT| shift(d, -n));
        engine.register_fn("-", |a: Date, b: Date| (a.0 - b.0).num_days());
        engine.register_fn("==", |a: Date, b: Date| a == b);
        engine.register_fn("!=", |a: Date, b: Date| a != b);
        engine.register_fn("<", |a: Date, b: Date| a < b);
        engine.register_fn("<=", |a: Date, b: Date| a <= b);
        engine.register_fn(">", |a: Date, b: Date| a > b);
        engine.register_fn(">=", |a: Date, b: Date| a >= b);
        engine.register_get("year", |d: &mut Date| INT::from(d.0.year()));
        engine.register_get("month", |d: &mut Date| INT::from(d.0.month()));
        engine.register_get("day", |d: &mut Date| INT::from(d.0.day()));
        engine.register_fn("days", |n: INT| n);

        register_handle::<SegmentHandle>(engine, "segment");
        register_handle::<LoggedSegmentHandle>(engine, "logged_segment");

        engine.register_fn("to_json", |v: Dynamic| to_json(&v).to_string());
        engine.register_fn("to_json", |m: &mut Map| {
            to_json(&Dynamic::from_map(m.clone())).to_string()
        });
        engine.register_fn("to_json", |a: &mut Array| {
            to_json(&Dynamic::from_array(a.clone())).to_string()
        });
    }
}
