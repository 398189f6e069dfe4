//! Which plugins a database uses: the names of the enabled ones and extra folders to find
//! plugins in. Kept in the database so every user of the file gets the same behaviour.

use serde::{Deserialize, Serialize};

use super::layout::{self, meta_key};
use super::{Tx, View};
use crate::error::Result;
use crate::store::Table;

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
        layout::put(self.kv, Table::Meta, &meta_key::plugin_settings(), settings)
    }
}

impl View<'_> {
    /// The plugin settings (none enabled by default).
    pub fn plugin_settings(&self) -> Result<PluginSettings> {
        Ok(layout::get(self.kv, Table::Meta, &meta_key::plugin_settings())?.unwrap_or_default())
    }
}
