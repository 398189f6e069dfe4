//! Plugins: folders with a manifest (`plugin.toml`) and a Rhai file. A plugin adds functions to
//! the language under its name (`retention::purge_older_than(90)`) and hooks into operations:
//! a `before_` hook may veto (throw) or amend the draft (return a changed map); an `after_` or
//! `on_` hook sees what happened. Hooks run inside the operation's transaction, in their own
//! engine with strict limits, with only the capabilities their manifest declares; an error in
//! one aborts the whole operation and names the plugin, the file, the line and the column.

pub mod manifest;

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use rhai::{AST, Dynamic, Engine, Module, Scope};

pub use manifest::{HOOKS, Manifest};

use crate::script::capability::Grant;
use crate::script::{Limits, RhaiResult, ScriptError};

/// A plugin as found, before it is checked and compiled.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// Where it came from (`bundled`, or its folder).
    pub origin: String,
    /// The text of `plugin.toml`.
    pub manifest: String,
    /// Its Rhai file's name as errors show it (`plugins/retention/main.rhai`).
    pub file: String,
    /// The Rhai source.
    pub source: String,
}

/// The plugins shipped with rapport, embedded in the binary.
pub fn bundled() -> Vec<PluginSource> {
    macro_rules! bundled {
        ($($name:literal),+) => {
            vec![$(PluginSource {
                origin: "bundled".into(),
                manifest: include_str!(concat!("../../../plugins/", $name, "/plugin.toml")).into(),
                file: concat!("plugins/", $name, "/main.rhai").into(),
                source: include_str!(concat!("../../../plugins/", $name, "/main.rhai")).into(),
            }),+]
        };
    }
    bundled!("document_rules", "retention", "duplicates")
}

/// The plugins in a folder (one sub-folder each, with a `plugin.toml`); a plugin that cannot
/// be read is a problem, not a failure.
pub fn from_folder(dir: &Path) -> (Vec<PluginSource>, Vec<PluginProblem>) {
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        problems.push(PluginProblem {
            plugin: dir.display().to_string(),
            file: dir.display().to_string(),
            line: None,
            column: None,
            message: "the plugin folder cannot be read".into(),
        });
        return (found, problems);
    };
    let mut dirs: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("plugin.toml").exists())
        .collect();
    dirs.sort();
    for plugin_dir in dirs {
        let manifest_path = plugin_dir.join("plugin.toml");
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| format!("{} cannot be read: {e}", p.display()))
        };
        let result = read(&manifest_path).and_then(|manifest| {
            let main = Manifest::parse(&manifest).map_or_else(|_| "main.rhai".into(), |m| m.main);
            let main_path = plugin_dir.join(main);
            read(&main_path).map(|source| PluginSource {
                origin: plugin_dir.display().to_string(),
                manifest,
                file: main_path.display().to_string(),
                source,
            })
        });
        match result {
            Ok(source) => found.push(source),
            Err(message) => problems.push(PluginProblem {
                plugin: plugin_dir.display().to_string(),
                file: manifest_path.display().to_string(),
                line: None,
                column: None,
                message,
            }),
        }
    }
    (found, problems)
}

/// A plugin that could not be loaded: where and why. It is left disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginProblem {
    /// The plugin (its name, or its folder when the manifest is unreadable).
    pub plugin: String,
    /// The file at fault.
    pub file: String,
    /// Line, when known.
    pub line: Option<usize>,
    /// Column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for PluginProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(
                f,
                "plugin {} ({}:{l}:{c}): {}",
                self.plugin, self.file, self.message
            ),
            _ => write!(
                f,
                "plugin {} ({}): {}",
                self.plugin, self.file, self.message
            ),
        }
    }
}

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

/// The plugins of a host, and the engine their hooks run in.
pub(crate) struct PluginRuntime {
    pub engine: Engine,
    pub started: Rc<Cell<Instant>>,
    pub limits: Limits,
    pub plugins: Vec<LoadedPlugin>,
}

/// Checks and compiles a plugin with `engine` (the hook engine).
pub(crate) fn compile(
    engine: &Engine,
    source: &PluginSource,
) -> Result<(LoadedPlugin, Module), PluginProblem> {
    let manifest = Manifest::parse(&source.manifest).map_err(|message| PluginProblem {
        plugin: source.origin.clone(),
        file: source.file.replace("main.rhai", "plugin.toml"),
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
        let err = crate::script::error::parse(&source.file, &e);
        problem(err.line, err.column, err.message)
    })?;
    ast.set_source(source.file.as_str());
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

    /// Runs `hook` of every enabled plugin that has it, in order, as the plugin (its
    /// capabilities, its limits). A `before_` hook that returns a map replaces the payload.
    pub fn fire(
        &self,
        shared: &crate::script::SharedSession,
        hook: &str,
        payload: Dynamic,
    ) -> RhaiResult<Dynamic> {
        let mut value = payload;
        for plugin in self.hooked(Some(hook)) {
            crate::script::set_acting(shared, Some(plugin.grant.clone()));
            self.started.set(Instant::now());
            let result = self.engine.call_fn::<Dynamic>(
                &mut Scope::new(),
                &plugin.ast,
                hook,
                (value.clone(),),
            );
            crate::script::set_acting(shared, None);
            match result {
                Ok(v) if hook.starts_with("before_") && v.is_map() => value = v,
                Ok(_) => {}
                Err(e) => {
                    let err: ScriptError =
                        crate::script::error::runtime(&plugin.file, &e, &self.engine, &self.limits);
                    let at = match (err.line, err.column) {
                        (Some(l), Some(c)) => format!("{}:{l}:{c}", plugin.file),
                        _ => plugin.file.clone(),
                    };
                    return Err(crate::script::engine_error(crate::Error::Refused {
                        record: format!("plugin {} ({at}), hook {hook}", plugin.manifest.name),
                        reason: err.message,
                        fix: "change the plugin, or disable it with rapport plugins disable".into(),
                    }));
                }
            }
        }
        Ok(value)
    }
}
