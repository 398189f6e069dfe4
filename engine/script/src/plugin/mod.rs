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

use std::path::Path;

pub use manifest::{HOOKS, Manifest};
pub use runtime::LoadedPlugin;

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
}

/// The plugins shipped with rapport, embedded in the binary.
pub fn bundled() -> Vec<PluginSource> {
    macro_rules! bundled {
        ($($name:literal),+) => {
            vec![$(PluginSource {
                origin: "bundled".into(),
                manifest_file: concat!("plugins/", $name, "/plugin.toml").into(),
                manifest: include_str!(concat!("../../../../plugins/", $name, "/plugin.toml")).into(),
                file: concat!("plugins/", $name, "/main.rhai").into(),
                source: include_str!(concat!("../../../../plugins/", $name, "/main.rhai")).into(),
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
                manifest_file: manifest_path.display().to_string(),
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
