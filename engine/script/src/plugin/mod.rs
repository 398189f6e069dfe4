//! Plugins: folders with a manifest (`plugin.toml`) and a Rhai file. A plugin adds functions to
//! the language under its name (`retention::purge_older_than(90)`) and hooks into operations:
//! a `before_` hook may veto (throw) or amend the draft (return a changed map); an `after_` or
//! `on_` hook sees what happened. Hooks run inside the operation's transaction, in their own
//! engine with strict limits, with only the capabilities their manifest declares; an error in
//! one aborts the whole operation and names the plugin, the file, the line and the column.
//!
//! This module finds plugins (bundled, or in folders) and reads their manifests; `runtime`
//! compiles them and runs their hooks.

pub mod manifest;
pub(crate) mod runtime;
pub mod testing;

use std::path::Path;

pub use manifest::{HOOKS, Manifest};
pub use runtime::LoadedPlugin;
pub use testing::{TestOutcome, TestsNotRun, run_tests};

/// A plugin as found, before it is checked and compiled.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// Where it came from (`bundled`, or its folder).
    pub origin: String,
    /// Its manifest's file name as errors show it (`plugins/retention/plugin.toml`).
    pub manifest_file: String,
    /// The text of `plugin.toml`.
    pub manifest: String,
    /// Its Rhai file's name as errors show it (`plugins/retention/main.rhai`).
    pub file: String,
    /// The Rhai source.
    pub source: String,
    /// Its tests: the Rhai scripts of its `tests/` folder, as (file name as shown, source).
    pub tests: Vec<(String, String)>,
}

/// The plugins shipped with rapport, embedded in the binary.
pub fn bundled() -> Vec<PluginSource> {
    macro_rules! bundled {
        ($($name:literal: [$($test:literal),*]),+) => {
            vec![$(PluginSource {
                origin: "bundled".into(),
                manifest_file: concat!("plugins/", $name, "/plugin.toml").into(),
                manifest: include_str!(concat!("../../../../plugins/", $name, "/plugin.toml")).into(),
                file: concat!("plugins/", $name, "/main.rhai").into(),
                source: include_str!(concat!("../../../../plugins/", $name, "/main.rhai")).into(),
                tests: vec![$((
                    concat!("plugins/", $name, "/tests/", $test).into(),
                    include_str!(concat!("../../../../plugins/", $name, "/tests/", $test)).into(),
                )),*],
            }),+]
        };
    }
    // Each bundled plugin's tests are listed here (a test keeps the list equal to the folders).
    bundled!(
        "document_rules": ["follow_up.rhai", "letters.rhai", "persons.rhai"],
        "retention": ["purge.rhai"],
        "duplicates": ["find.rhai"]
    )
}

/// The Rhai scripts of a plugin folder's `tests/` folder, by name; none when it has none.
fn tests_in(plugin_dir: &Path) -> Result<Vec<(String, String)>, String> {
    let dir = plugin_dir.join("tests");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            std::fs::read_to_string(&p)
                .map(|source| (p.display().to_string(), source))
                .map_err(|e| format!("{} cannot be read: {e}", p.display()))
        })
        .collect()
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
        match one_folder(&plugin_dir) {
            Ok(source) => found.push(source),
            Err(problem) => problems.push(problem),
        }
    }
    (found, problems)
}

/// The plugin in `plugin_dir` (its `plugin.toml`, its Rhai file, its tests).
pub fn one_folder(plugin_dir: &Path) -> Result<PluginSource, PluginProblem> {
    let manifest_path = plugin_dir.join("plugin.toml");
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("{} cannot be read: {e}", p.display()))
    };
    let result = read(&manifest_path).and_then(|manifest| {
        let main = Manifest::parse(&manifest).map_or_else(|_| "main.rhai".into(), |m| m.main);
        let main_path = plugin_dir.join(main);
        let source = read(&main_path)?;
        Ok(PluginSource {
            origin: plugin_dir.display().to_string(),
            manifest_file: manifest_path.display().to_string(),
            manifest,
            file: main_path.display().to_string(),
            source,
            tests: tests_in(plugin_dir)?,
        })
    });
    result.map_err(|message| PluginProblem {
        plugin: plugin_dir.display().to_string(),
        file: manifest_path.display().to_string(),
        line: None,
        column: None,
        message,
    })
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

/// A plugin the database has enabled that cannot be found or loaded. It fails closed: every
/// operation its hooks would run in is stopped (all hooked operations, when its manifest
/// cannot be read to say which) until it is mended or disabled; plain reads go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenPlugin {
    /// Its name, as enabled.
    pub name: String,
    /// Why it cannot be loaded.
    pub reason: String,
    /// Its hooks, when its manifest says; `None`: unknown, so every hook.
    pub hooks: Option<Vec<String>>,
}

impl BrokenPlugin {
    /// Whether it would have run `hook`.
    pub fn covers(&self, hook: &str) -> bool {
        self.hooks
            .as_ref()
            .is_none_or(|hooks| hooks.iter().any(|h| h == hook))
    }

    /// The error of an operation it stops.
    pub fn refusal(&self, hook: &str) -> String {
        let guards = if self.hooks.is_some() {
            format!("it guards this operation (hook {hook})")
        } else {
            format!(
                "its manifest cannot be read to say which hooks it has, so it is taken to guard every hooked operation, this one too (hook {hook})"
            )
        };
        format!(
            "plugin {} is enabled but cannot be loaded ({}); {guards}, so nothing was done; mend the plugin, or disable it with rapport plugins disable {}",
            self.name, self.reason, self.name
        )
    }
}

impl PluginProblem {
    /// Whether it is about the plugin `name` (by its name, or by its folder's when its
    /// manifest could not be read).
    pub fn is_about(&self, name: &str) -> bool {
        self.plugin == name
            || std::path::Path::new(&self.plugin)
                .file_name()
                .is_some_and(|f| f == name)
    }

    /// Its file, with the line and column when known (`main.rhai:3:5`).
    fn place(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
            _ => self.file.clone(),
        }
    }

    /// Its file (and position) and what is wrong, without the plugin's name.
    pub fn where_and_why(&self) -> String {
        format!("{}: {}", self.place(), self.message)
    }
}

impl std::fmt::Display for PluginProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugin {} ({}): {}",
            self.plugin,
            self.place(),
            self.message
        )
    }
}
