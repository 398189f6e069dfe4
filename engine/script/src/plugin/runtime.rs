//! Compiling plugins and running their hooks: each plugin is compiled once per host in the
//! hook engine (strict limits), its functions become a module of the user's engine, and its
//! hooks run as the plugin (its capabilities, its limits) inside the operation's transaction.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use rhai::{AST, Dynamic, Engine, Module, Scope};

use super::{BrokenPlugin, Manifest, PluginProblem, PluginSource};
use crate::capability::Grant;
use crate::error::{RhaiResult, ScriptError, error_value};
use crate::limits::Limits;
use crate::session::{Amended, HookRunner, Shared, set_acting};

/// A plugin that compiled.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Manifest,
    /// Where it came from.
    pub origin: String,
    /// Its Rhai file as errors show it.
    pub file: String,
    /// Whether this database has it enabled.
    pub enabled: bool,
    pub(crate) ast: AST,
    pub(crate) grant: Grant,
}

impl LoadedPlugin {
    /// The functions it adds to the language, as `name::function(a, b)` (its hooks and
    /// private functions are not called by scripts), with their doc comments' first lines.
    pub fn functions(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .ast
            .iter_functions()
            .filter(|f| {
                // Closures compile to functions named anon$…: not callable by name.
                f.access != rhai::FnAccess::Private
                    && !f.name.starts_with("anon$")
                    && !self.manifest.hooks.iter().any(|h| h == f.name)
            })
            .map(|f| {
                let doc = f
                    .comments
                    .iter()
                    .map(|c| c.trim_start_matches('/').trim())
                    .find(|c| !c.is_empty())
                    .unwrap_or_default()
                    .to_string();
                (
                    format!(
                        "{}::{}({})",
                        self.manifest.name,
                        f.name,
                        f.params.join(", ")
                    ),
                    doc,
                )
            })
            .collect();
        out.sort();
        out
    }

    /// What it may read and write, as its manifest says (`read contacts; write entries`).
    pub fn capabilities(&self) -> String {
        let kinds = |v: &[String]| v.join(", ");
        let c = &self.manifest.capabilities;
        match (c.read.is_empty(), c.write.is_empty()) {
            (true, true) => "none".into(),
            (false, true) => format!("read {}", kinds(&c.read)),
            (true, false) => format!("write {}", kinds(&c.write)),
            (false, false) => format!("read {}; write {}", kinds(&c.read), kinds(&c.write)),
        }
    }
}

/// The plugins of a host, and the engine their hooks run in.
pub(crate) struct PluginRuntime {
    pub engine: Engine,
    pub started: Rc<Cell<Instant>>,
    pub limits: Limits,
    pub plugins: Vec<LoadedPlugin>,
    /// Enabled plugins that cannot be loaded: the hooks they may have stop their operations.
    pub broken: Vec<BrokenPlugin>,
}

/// Checks and compiles a plugin with `engine` (the hook engine).
pub(crate) fn compile(
    engine: &Engine,
    source: &PluginSource,
) -> Result<(LoadedPlugin, Module), PluginProblem> {
    let manifest = Manifest::parse(&source.manifest).map_err(|message| PluginProblem {
        plugin: source.origin.clone(),
        file: source.manifest_file.clone(),
        line: None,
        column: None,
        message,
    })?;
    let problem = |line, column, message| PluginProblem {
        plugin: manifest.name.clone(),
        file: source.file.clone(),
        line,
        column,
        message,
    };
    let mut ast = engine.compile(&source.source).map_err(|e| {
        let err = crate::error::parse(&source.file, &e);
        problem(err.line, err.column, err.message)
    })?;
    ast.set_source(source.file.as_str());
    if let Some(statement) = ast.statements().first() {
        let at = statement.position();
        return Err(problem(
            at.line(),
            at.position(),
            "its top level must only define functions (it runs nothing of its own): move this statement into a function (a constant: a function that returns it)".into(),
        ));
    }
    for hook in &manifest.hooks {
        if !ast
            .iter_functions()
            .any(|f| f.name == hook.as_str() && f.params.len() == 1)
        {
            return Err(problem(
                None,
                None,
                format!("its manifest names the hook {hook}, but it has no fn {hook}(x)"),
            ));
        }
    }
    let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(|e| {
        problem(
            e.position().line(),
            e.position().position(),
            format!("its top level must only define functions: {e}"),
        )
    })?;
    let grant = manifest.grant();
    Ok((
        LoadedPlugin {
            manifest,
            origin: source.origin.clone(),
            file: source.file.clone(),
            enabled: false,
            ast,
            grant,
        },
        module,
    ))
}

impl PluginRuntime {
    /// The enabled plugins with `hook` (with any hook, for `None`), in the order they run.
    pub fn hooked<'a>(
        &'a self,
        hook: Option<&'a str>,
    ) -> impl Iterator<Item = &'a LoadedPlugin> + 'a {
        self.plugins.iter().filter(move |p| {
            p.enabled
                && hook.map_or(!p.manifest.hooks.is_empty(), |h| {
                    p.manifest.hooks.iter().any(|x| x == h)
                })
        })
    }
}

impl HookRunner for PluginRuntime {
    fn has_hooks(&self) -> bool {
        self.hooked(None).next().is_some() || !self.broken.is_empty()
    }

    fn has_hook(&self, hook: &str) -> bool {
        self.hooked(Some(hook)).next().is_some() || self.broken.iter().any(|b| b.covers(hook))
    }

    fn fire_each(
        &self,
        shared: &Shared,
        hook: &str,
        payload: Dynamic,
        each: &mut Amended<'_>,
    ) -> RhaiResult<Dynamic> {
        if let Some(broken) = self.broken.iter().find(|b| b.covers(hook)) {
            return Err(error_value(
                "plugin",
                Some(format!("plugin {}", broken.name)),
                None,
                broken.refusal(hook),
            ));
        }
        let mut value = payload;
        for plugin in self.hooked(Some(hook)) {
            set_acting(shared, Some(plugin.grant.clone()));
            self.started.set(Instant::now());
            let result = self.engine.call_fn::<Dynamic>(
                &mut Scope::new(),
                &plugin.ast,
                hook,
                (value.clone(),),
            );
            set_acting(shared, None);
            let name = &plugin.manifest.name;
            match result {
                Ok(v) if hook.starts_with("before_") && v.is_map() => value = each(name, v)?,
                Ok(_) => {}
                Err(e) => {
                    let err: ScriptError =
                        crate::error::runtime(&plugin.file, &e, &self.engine, &self.limits);
                    let at = match (err.line, err.column) {
                        (Some(l), Some(c)) => format!("{}:{l}:{c}", plugin.file),
                        _ => plugin.file.clone(),
                    };
                    let place = format!("plugin {name} ({at}), hook {hook}");
                    // A capability refusal already names the plugin.
                    let said = err
                        .message
                        .strip_prefix(&format!("plugin {name}: "))
                        .unwrap_or(&err.message);
                    // A `throw` of the plugin's own is a veto (it works as meant); anything
                    // else is the plugin failing.
                    let (kind, message) = if crate::error::is_throw(&e) {
                        ("vetoed", format!("{place}: {said}"))
                    } else {
                        (
                            "plugin",
                            format!(
                                "{place}: {said}; mend the plugin, or disable it with rapport plugins disable {name}"
                            ),
                        )
                    };
                    return Err(error_value(
                        kind,
                        Some(format!("plugin {name}")),
                        Some(hook),
                        message,
                    ));
                }
            }
        }
        Ok(value)
    }
}
