//! The script host: one Rhai engine with every function of the language registered once, and
//! a run of a script as one transaction — committed when the script ends without error, dropped
//! otherwise. When the script catches errors (`try`), each engine call keeps an undo journal so
//! a failed call leaves nothing of itself behind while the script goes on. A run that another
//! writer overtook (a backend with optimistic writers) is run again, a bounded number of times.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rapport_engine::{Context, Database, Tx, WRITE_ATTEMPTS};
use rhai::{AST, Dynamic, Engine, Scope};

use crate::capability::{self, Access, Caller};
use crate::error::{self, ScriptError};
use crate::limits::{Limits, STOP_CANCELLED, STOP_MEMORY, STOP_TIME};
use crate::outcome::{Results, StreamSlot, Streamed, Value, Variables};
use crate::plugin::runtime::{LoadedPlugin, PluginRuntime};
use crate::plugin::{BrokenPlugin, PluginProblem, PluginSource};
use crate::session::{HookRunner, Session, Shared, with_write};
use crate::{api, query};

/// How to run a script.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Run everything, then drop every change instead of committing.
    pub dry_run: bool,
}

/// What a run gave.
#[derive(Debug, Clone)]
pub struct ScriptOutput {
    /// The value of the last statement (a query is run and given as its list; `()` when its
    /// results went to the host's sink instead: see `streamed`).
    pub value: Value,
    /// What the script printed, line by line.
    pub printed: Vec<String>,
    /// Whether the run changed the database (false for a dry run).
    pub committed: bool,
    /// When the value was a query whose results went to the host's sink: how many, and whether
    /// they were stopped before the end.
    pub streamed: Option<Streamed>,
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
    /// Who runs the scripts (the machine's user with every right, unless a server says).
    caller: Caller,
    /// Where a query's results go, when the host streams them.
    stream: StreamSlot,
}

/// What loading plugins found.
#[derive(Debug, Clone, Default)]
pub struct PluginReport {
    /// The plugins that compiled (enabled or not).
    pub plugins: Vec<LoadedPlugin>,
    /// The ones that did not, with where and why.
    pub problems: Vec<PluginProblem>,
    /// Enabled plugins that cannot be found or loaded: they stop what they guard.
    pub broken: Vec<BrokenPlugin>,
}

/// One write transaction driven from Rust (an import), in which interactions are logged as
/// `log_interaction` logs them: through the enabled plugins' hooks ([`ScriptHost::transaction`]).
pub struct Hooked<'h> {
    host: &'h ScriptHost,
    name: &'h str,
}

impl Hooked<'_> {
    /// Runs one workflow in the transaction.
    pub fn write<R>(
        &self,
        work: impl FnOnce(&mut rapport_engine::Tx<'_>) -> rapport_engine::Result<R>,
    ) -> rapport_engine::Result<R> {
        let mut guard = self.host.shared.borrow_mut();
        let session = guard
            .as_mut()
            .expect("a transaction's session is set while it runs");
        session.write(work)
    }

    /// Logs an interaction as `log_interaction` does — the spec's checks, `before_log` on the
    /// whole draft, the entry, `after_log` — telling the hooks it comes from `source`.
    pub fn log_interaction(
        &self,
        draft: rapport_engine::ops::InteractionDraft,
        custom: std::collections::BTreeMap<String, rapport_engine::model::FieldValue>,
        source: rapport_engine::ops::EntrySource,
    ) -> Result<u64, ScriptError> {
        // What the hooks print goes with a failure; a row that went through drops it.
        let printed = || std::mem::take(&mut *self.host.printed.borrow_mut());
        match crate::api::log::log_one(&self.host.shared, draft, custom, source) {
            Ok(no) => {
                printed();
                Ok(no)
            }
            Err(e) => Err(ScriptError {
                printed: printed().into_boxed_slice(),
                ..error::runtime(self.name, &e, &self.host.engine, &self.host.limits)
            }),
        }
    }
}

/// The engine user scripts run in: the whole language, and the streaming of results.
fn user_engine(limits: Limits, probes: &Probes<'_>, stream: &StreamSlot) -> Engine {
    let mut engine = build_engine(limits, probes);
    query::register_stream(
        &mut engine,
        probes.shared,
        stream,
        probes.printed,
        probes.cancel,
    );
    engine
}

/// The enabled plugins that did not load, each with why and (when its manifest says) its hooks.
fn broken_plugins(
    enabled: &[String],
    report: &PluginReport,
    sources: &[PluginSource],
) -> Vec<BrokenPlugin> {
    enabled
        .iter()
        .filter(|name| !report.plugins.iter().any(|p| p.manifest.name == **name))
        .map(|name| {
            let reason = report.problems.iter().find(|p| p.is_about(name)).map_or_else(
                || "it is neither bundled nor in a plugin folder of this database; was its folder moved or removed?".to_string(),
                PluginProblem::where_and_why,
            );
            let hooks = sources
                .iter()
                .filter_map(|s| crate::plugin::Manifest::parse(&s.manifest).ok())
                .find(|m| m.name == *name)
                .map(|m| m.hooks);
            BrokenPlugin {
                name: name.clone(),
                reason,
                hooks,
            }
        })
        .collect()
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
    api::types::register(&mut engine);
    query::register(&mut engine, probes.shared);
    api::catalogue::register(&mut engine, probes.shared);
    api::log::register(&mut engine, probes.shared);
    api::history::register(&mut engine, probes.shared);
    engine
}

/// How one run goes: its options, a Rust step after it, whether it keeps the functions it defines.
struct How<'f> {
    options: RunOptions,
    finish: Option<Finish<'f>>,
    keep_functions: bool,
}

/// A Rust step run in a script's transaction after the script (again if the run is).
type Finish<'f> = Box<dyn FnMut(&mut Tx<'_>, &Dynamic) -> rapport_engine::Result<()> + 'f>;

/// The probe of allocated bytes, and its reading when the run started.
type MemoryProbe = Rc<Cell<Option<(fn() -> usize, usize)>>>;

impl ScriptHost {
    /// A host whose runs obey `limits`.
    pub fn new(limits: Limits) -> Self {
        Self::with_cancel_flag(limits, Arc::new(AtomicBool::new(false)))
    }

    /// A host whose runs obey `limits` and stop when `cancel` is set (a server sets it when
    /// the client asks, or goes away). A run that finds it set stops before it begins; the
    /// host clears it when a run ends, so it never stops the next one.
    pub fn with_cancel_flag(limits: Limits, cancel: Arc<AtomicBool>) -> Self {
        let shared: Shared = Rc::new(RefCell::new(None));
        let started = Rc::new(Cell::new(Instant::now()));
        let memory: MemoryProbe = Rc::new(Cell::new(None));
        let printed = Rc::new(RefCell::new(Vec::new()));
        let stream = StreamSlot::default();
        let probes = Probes {
            shared: &shared,
            cancel: &cancel,
            started: &started,
            memory: &memory,
            printed: &printed,
        };
        let engine = user_engine(limits, &probes, &stream);
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
            caller: Caller::default(),
            stream,
        }
    }

    /// What this host's engines share with it, with `started` as the clock of their time limit.
    fn probes<'a>(&'a self, started: &'a Rc<Cell<Instant>>) -> Probes<'a> {
        Probes {
            shared: &self.shared,
            cancel: &self.cancel,
            started,
            memory: &self.memory,
            printed: &self.printed,
        }
    }

    /// Checks and compiles plugins; the ones `db` has enabled get their functions under their
    /// names and their hooks. A plugin that fails is reported and left out; it never stops the host.
    pub fn load_plugins(
        &mut self,
        db: &Database,
        sources: &[PluginSource],
    ) -> Result<PluginReport, ScriptError> {
        self.load_plugins_with(db, sources, Vec::new())
    }

    /// [`ScriptHost::load_plugins`], with the problems met while finding the sources (a plugin
    /// folder that cannot be read): an enabled plugin among them is said to be broken for that
    /// reason.
    pub fn load_plugins_with(
        &mut self,
        db: &Database,
        sources: &[PluginSource],
        found_problems: Vec<PluginProblem>,
    ) -> Result<PluginReport, ScriptError> {
        let settings = db
            .read(|v| v.plugin_settings())
            .map_err(|e| ScriptError::engine("plugins", &e))?;
        if self.plugins.is_some() {
            // Loaded again (the REPL's :reload): a fresh engine, so that a plugin disabled or
            // gone since leaves no functions behind.
            self.engine = user_engine(self.limits, &self.probes(&self.started), &self.stream);
        }
        let started = Rc::new(Cell::new(Instant::now()));
        let hook_limits = Limits::hook();
        let engine = build_engine(hook_limits, &self.probes(&started));
        let mut report = PluginReport {
            problems: found_problems,
            ..PluginReport::default()
        };
        for source in sources {
            match crate::plugin::runtime::compile(&engine, source) {
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
        report.broken = broken_plugins(&settings.enabled, &report, sources);
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
            broken: report.broken.clone(),
        }));
        Ok(report)
    }

    /// The functions the enabled plugins add, as `name::function(a, b)`, with their doc
    /// comments' first lines.
    pub fn plugin_functions(&self) -> Vec<(String, String)> {
        self.plugins
            .iter()
            .flat_map(|r| r.plugins.iter().filter(|p| p.enabled))
            .flat_map(LoadedPlugin::functions)
            .collect()
    }

    /// Runs `work` in one write transaction as a script's run would be — this host's user,
    /// role and plugins — and commits it when `work` succeeds (drops it when it fails).
    /// Entries it logs through [`Hooked::log_interaction`] go through the plugins' hooks.
    /// Overtaken by another writer (a backend that detects it at commit), `work` runs again
    /// from the start, up to [`WRITE_ATTEMPTS`] times, as a script would.
    pub fn transaction<T, E: From<rapport_engine::Error>>(
        &self,
        db: &Database,
        name: &str,
        mut work: impl FnMut(&Hooked<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut attempt = 1;
        loop {
            let hooks = self.plugins.clone().map(|p| -> Rc<dyn HookRunner> { p });
            // In the write transaction from the start: nothing can overtake it before commit.
            let mut session =
                Session::begin(db.backend().clone(), self.context(db), false, hooks, true)?;
            session.caller = self.caller.clone();
            *self.shared.borrow_mut() = Some(session);
            self.printed.borrow_mut().clear();
            let outcome = work(&Hooked { host: self, name });
            let session = self
                .shared
                .borrow_mut()
                .take()
                .expect("the session set above");
            let committed = if session.conflicted() {
                // Whatever `work` made of it, it worked on a state that is gone.
                let _ = session.finish(false);
                Err(rapport_engine::store::StoreError::Conflict.into())
            } else {
                match outcome {
                    Ok(value) => session.finish(true).map(|()| value),
                    Err(e) => {
                        let _ = session.finish(false);
                        return Err(e);
                    }
                }
            };
            match committed {
                Err(e) if e.is_conflict() && attempt < WRITE_ATTEMPTS => attempt += 1,
                other => return other.map_err(E::from),
            }
        }
    }

    /// Gives the host a way to read how many bytes the process has allocated (e.g. from a
    /// counting global allocator), which turns on the `max_memory` limit.
    pub fn set_memory_probe(&self, probe: fn() -> usize) {
        self.memory.set(Some((probe, probe())));
    }

    /// Runs this host's scripts as `caller`: entries record its user, its role bounds what the
    /// scripts may change, and without file access `template_attach` takes no path.
    pub fn set_caller(&mut self, caller: Caller) {
        self.caller = caller;
    }

    /// Sends the results of later runs whose value is a query to `sink`, one at a time while the
    /// run's transaction is open, instead of collecting them into the run's value (`None`: collect
    /// them again). Only runs that wrote nothing before their result stream (one that wrote is
    /// likelier to be run again after a conflict, and collects its results, shown once); a run
    /// overtaken after its results went to the sink is not run again but fails as a conflict,
    /// so no result is given twice. Ctrl-C (the cancel flag) stops the results, not the run.
    pub fn stream_results(&self, sink: Option<Results>) {
        self.stream.borrow_mut().sink = sink;
    }

    /// The Rhai engine (for completion and help from its metadata).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Set it (e.g. on Ctrl-C) to stop the running script (or the next one, if it is set
    /// between runs); a stopped script changes nothing. Each run clears it when it ends.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// The clock and user this host's runs use (the database's until a script changes them;
    /// the caller's user when it has one).
    pub fn context(&self, db: &Database) -> Context {
        let mut ctx = self
            .context
            .borrow()
            .clone()
            .unwrap_or_else(|| db.context().clone());
        if let Some(user) = &self.caller.user {
            ctx.user.clone_from(user);
        }
        ctx
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

    /// Runs `source` with variables, and functions it defines, that outlive the run (the
    /// REPL's; a host's parameters are variables too).
    pub fn run_with(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        variables: &mut Variables,
        options: RunOptions,
    ) -> Result<ScriptOutput, ScriptError> {
        self.execute(
            db,
            name,
            source,
            variables.scope_mut(),
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
        finish: impl FnMut(&mut Tx<'_>, &Dynamic) -> rapport_engine::Result<()>,
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
            mut finish,
            keep_functions,
        } = how;
        let mut ast = self.engine.compile_with_scope(scope, source).map_err(|e| {
            self.cancel.store(false, Ordering::Relaxed);
            error::parse(name, &e)
        })?;
        ast.set_source(name);
        let defined = ast.clone_functions_only();
        if keep_functions {
            ast = self.functions.borrow().merge(&ast);
        }
        let outcome = self.attempts(db, name, source, &ast, scope, options, finish.as_mut());
        self.cancel.store(false, Ordering::Relaxed);
        if outcome.is_ok() && keep_functions {
            let merged = self.functions.borrow().merge(&defined);
            *self.functions.borrow_mut() = merged;
        }
        outcome
    }

    /// Runs the compiled script until an attempt is not overtaken by another writer (at most
    /// [`WRITE_ATTEMPTS`]), or the run is cancelled between attempts.
    #[expect(
        clippy::too_many_arguments,
        reason = "one run's inputs, passed on from execute"
    )]
    fn attempts(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        ast: &AST,
        scope: &mut Scope<'static>,
        options: RunOptions,
        mut finish: Option<&mut Finish<'_>>,
    ) -> Result<ScriptOutput, ScriptError> {
        let mut attempt = 1;
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(ScriptError {
                    script: name.into(),
                    line: None,
                    column: None,
                    message: "cancelled; nothing was changed".into(),
                    kind: crate::ScriptErrorKind::Cancelled,
                    detail: None,
                    printed: Box::default(),
                });
            }
            // A run another writer overtook is void: it runs again from the same variables
            // (on every backend: a run reads a snapshot first, and upgrading it conflicts when
            // a commit came in between). Again, it starts in the write transaction: many
            // clients of one server writing at once each wait their turn instead of
            // overtaking each other until one gives up.
            let before = Some(scope.clone());
            let outcome = self.attempt(
                db,
                name,
                source,
                ast,
                scope,
                options,
                finish.as_deref_mut(),
                attempt > 1,
            );
            // Results already given to the sink are not given again: a run overtaken after
            // they were (a `.where` closure that wrote, a read the server refused) fails.
            let streamed = self.stream.borrow().outcome.is_some();
            match (outcome, before) {
                (Attempt::Conflicted, Some(before)) if attempt < WRITE_ATTEMPTS && !streamed => {
                    *scope = before;
                    std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(6)));
                    attempt += 1;
                }
                (Attempt::Conflicted, _) => {
                    return Err(ScriptError::engine(
                        name,
                        &rapport_engine::Error::Conflict { attempts: attempt },
                    ));
                }
                (Attempt::Done(result), _) => return result,
            }
        }
    }

    /// One run of a compiled script in one transaction.
    #[expect(
        clippy::too_many_arguments,
        reason = "one run's inputs, passed on from execute"
    )]
    fn attempt(
        &self,
        db: &Database,
        name: &str,
        source: &str,
        ast: &AST,
        scope: &mut Scope<'static>,
        options: RunOptions,
        finish: Option<&mut Finish<'_>>,
        writing: bool,
    ) -> Attempt {
        let hooks = self.plugins.clone().map(|p| -> Rc<dyn HookRunner> { p });
        // The history names the run: what the host said runs it (or the script's name), and
        // the script's text.
        let mut ctx = self.context(db);
        if ctx.doing.kind.is_empty() {
            ctx.doing.kind = "script".into();
        }
        if ctx.doing.what.is_empty() {
            ctx.doing.what = name.to_string();
        }
        if ctx.doing.kind == "repl" {
            // One input of a session: the history names it by the input itself.
            let first = source
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            ctx.doing.what = first.chars().take(200).collect();
        }
        ctx.doing.script = source.to_string();
        let session = match Session::begin(
            db.backend().clone(),
            ctx,
            mentions_try(source),
            hooks,
            writing,
        ) {
            Ok(session) => session,
            Err(e) if e.is_conflict() => return Attempt::Conflicted,
            Err(e) => return Attempt::Done(Err(ScriptError::engine(name, &e))),
        };
        let mut session = session;
        session.caller = self.caller.clone();
        *self.shared.borrow_mut() = Some(session);
        self.started.set(Instant::now());
        if let Some((probe, _)) = self.memory.get() {
            self.memory.set(Some((probe, probe())));
        }
        self.printed.borrow_mut().clear();
        self.stream.borrow_mut().outcome = None;
        let mut result = self.engine.eval_ast_with_scope::<Dynamic>(scope, ast);
        if let Ok(value) = &result
            && value.is::<query::Query>()
        {
            // A query as the result: run it while the transaction is still open — into the
            // host's sink when it has one and nothing was written (a run that wrote may run
            // again after a conflict: its results are collected, shown once), else as a list.
            let (wrote, conflicted) = self
                .shared
                .borrow()
                .as_ref()
                .map_or((true, true), |s| (s.wrote(), s.conflicted()));
            let streams =
                self.stream.borrow().sink.is_some() && !wrote && !conflicted && finish.is_none();
            self.stream.borrow_mut().armed = streams;
            let run = if streams {
                format!("{}(__rapport_result)", query::STREAM_FN)
            } else {
                "__rapport_result.list()".to_string()
            };
            // With the script's functions: a `.where` closure is one of them.
            scope.push_constant("__rapport_result", value.clone());
            result = self
                .engine
                .compile_expression_with_scope(scope, &run)
                .map_err(Into::into)
                .and_then(|call| {
                    let call = ast.clone_functions_only().merge(&call);
                    self.engine.eval_ast_with_scope::<Dynamic>(scope, &call)
                });
            let _ = scope.remove::<Dynamic>("__rapport_result");
            self.stream.borrow_mut().armed = false;
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
        if session.conflicted() {
            let _ = session.finish(false);
            return Attempt::Conflicted;
        }
        let printed = std::mem::take(&mut *self.printed.borrow_mut());
        Attempt::Done(match result {
            Ok(value) => {
                let wrote = session.wrote();
                let ctx = session.ctx.clone();
                match session.finish(!options.dry_run) {
                    Err(e) if e.is_conflict() => return Attempt::Conflicted,
                    Err(e) => Err(ScriptError {
                        printed: printed.into_boxed_slice(),
                        ..ScriptError::engine(name, &e)
                    }),
                    Ok(()) => {
                        *self.context.borrow_mut() = Some(ctx);
                        Ok(ScriptOutput {
                            value: Value::new(value),
                            printed,
                            committed: wrote && !options.dry_run,
                            streamed: self.stream.borrow().outcome,
                        })
                    }
                }
            }
            Err(e) => {
                let _ = session.finish(false);
                Err(ScriptError {
                    printed: printed.into_boxed_slice(),
                    ..error::runtime(name, &e, &self.engine, &self.limits)
                })
            }
        })
    }
}

/// How one attempt at a run ended.
enum Attempt {
    /// Done, well or not.
    Done(Result<ScriptOutput, ScriptError>),
    /// Another writer overtook it: nothing was kept, run it again.
    Conflicted,
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
