//! Settings kept in the database, so every user of the file gets the same behaviour: which
//! plugins it uses (the enabled ones, and extra folders to find plugins in), and whether the
//! demo company was loaded into it.

use serde::{Deserialize, Serialize};

use super::{Tx, View};
use crate::error::Result;
use crate::layout::{self, keys, tables};

/// The plugin settings of a database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSettings {
    /// Enabled plugins, by name, in the order their hooks run.
    pub enabled: Vec<String>,
    /// Folders with more plugins (each plugin a folder inside).
    pub folders: Vec<String>,
}

impl Tx<'_> {
    /// Replaces the plugin settings.
    pub fn plugin_settings_set(&mut self, settings: &PluginSettings) -> Result<()> {
        layout::put(self.kv, tables::META, &keys::plugin_settings(), settings)
    }

    /// Marks the demo company as loaded (in the transaction that loads it).
    pub fn mark_demo_loaded(&mut self) -> Result<()> {
        layout::put(self.kv, tables::META, &keys::demo_loaded(), &true)
    }
}

impl View<'_> {
    /// The plugin settings (none enabled by default).
    pub fn plugin_settings(&self) -> Result<PluginSettings> {
        Ok(layout::get(self.kv, tables::META, &keys::plugin_settings())?.unwrap_or_default())
    }

    /// Whether the demo company was loaded.
    pub fn demo_loaded(&self) -> Result<bool> {
        layout::exists(self.kv, tables::META, &keys::demo_loaded())
    }
}
