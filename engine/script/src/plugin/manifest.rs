//! A plugin's manifest, `plugin.toml`: name, version, description, the rapport version it needs,
//! its capabilities and its hooks.

use serde::Deserialize;

use crate::capability::{Grant, Kind};

/// The hooks a plugin can have (PLUGINS.md describes when each fires).
pub const HOOKS: &[&str] = &[
    "before_log",
    "after_log",
    "before_document",
    "after_document",
    "on_cancel_toggled",
    "before_purge",
    "after_segment_logged",
    "on_contact_created",
];

/// What `plugin.toml` holds.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: its functions are called as `name::function(…)`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The rapport version it needs (`major.minor`, e.g. "0.1").
    pub requires: String,
    /// Its Rhai file, relative to the folder.
    #[serde(default = "default_main")]
    pub main: String,
    /// What it may read and write.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The hooks it has (each a function of the same name in its Rhai file).
    #[serde(default)]
    pub hooks: Vec<String>,
}

fn default_main() -> String {
    "main.rhai".into()
}

/// `[capabilities]`: kinds of record read and written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Kinds it reads.
    #[serde(default)]
    pub read: Vec<String>,
    /// Kinds it writes (and reads).
    #[serde(default)]
    pub write: Vec<String>,
}

impl Manifest {
    /// Reads and checks a manifest; the error says what to fix.
    pub fn parse(text: &str) -> Result<Self, String> {
        let m: Manifest = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        if m.name.is_empty()
            || !m
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "name \"{}\" must be lower-case letters, digits and _ (it is the plugin's namespace)",
                m.name
            ));
        }
        for h in &m.hooks {
            if !HOOKS.contains(&h.as_str()) {
                let guess = rapport_engine::ops::closest(h, HOOKS.iter().copied())
                    .map(|g| format!("did you mean {g}? "))
                    .unwrap_or_default();
                return Err(format!(
                    "hook \"{h}\" is not one of {}; {guess}mend its hooks list",
                    HOOKS.join(", ")
                ));
            }
        }
        for k in m.capabilities.read.iter().chain(&m.capabilities.write) {
            if Kind::parse(k).is_none() {
                let kinds: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                return Err(format!(
                    "capability \"{k}\" is not one of {}",
                    kinds.join(", ")
                ));
            }
        }
        if !version_satisfied(&m.requires, env!("CARGO_PKG_VERSION")) {
            return Err(format!(
                "it needs rapport {}, this is rapport {}",
                m.requires,
                env!("CARGO_PKG_VERSION")
            ));
        }
        Ok(m)
    }

    /// Its capabilities as a grant.
    pub fn grant(&self) -> Grant {
        Grant {
            plugin: self.name.clone(),
            read: self
                .capabilities
                .read
                .iter()
                .filter_map(|k| Kind::parse(k))
                .collect(),
            write: self
                .capabilities
                .write
                .iter()
                .filter_map(|k| Kind::parse(k))
                .collect(),
        }
    }
}

/// Whether rapport `have` meets a plugin's `need` (same major; minor at least the one needed).
fn version_satisfied(need: &str, have: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split('.')
            .take(2)
            .map(|p| p.trim().parse().unwrap_or(u64::MAX))
            .collect()
    };
    let (need, have) = (parts(need), parts(have));
    match (need.as_slice(), have.as_slice()) {
        ([n_major, n_minor, ..], [h_major, h_minor, ..]) => {
            n_major == h_major && h_minor >= n_minor
        }
        ([n_major], [h_major, ..]) => n_major == h_major,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"rules\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"before_document\"]\n[capabilities]\nread = [\"contacts\"]\nwrite = [\"entries\"]\n";

    #[test]
    fn a_manifest_names_its_capabilities_and_hooks() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(
            (m.name.as_str(), m.main.as_str(), m.hooks.len()),
            ("rules", "main.rhai", 1)
        );
        let g = m.grant();
        assert!(g.allows(crate::capability::Access::read(Kind::Contacts)));
        assert!(!g.allows(crate::capability::Access::write(Kind::Contacts)));
        assert!(
            g.allows(crate::capability::Access::read(Kind::Entries)),
            "writing includes reading"
        );
    }

    #[test]
    fn a_manifest_with_an_unknown_hook_capability_or_version_is_refused() {
        assert!(
            Manifest::parse(&GOOD.replace("before_document", "before_lunch"))
                .unwrap_err()
                .contains("before_lunch")
        );
        assert!(
            Manifest::parse(&GOOD.replace("before_document", "before_documnet"))
                .unwrap_err()
                .contains("did you mean before_document?"),
            "a misspelt hook gets a suggestion"
        );
        assert!(
            Manifest::parse(&GOOD.replace("\"contacts\"", "\"everything\""))
                .unwrap_err()
                .contains("everything")
        );
        assert!(
            Manifest::parse(&GOOD.replace("\"0.1\"", "\"9.0\""))
                .unwrap_err()
                .contains("needs rapport 9.0")
        );
        assert!(
            Manifest::parse(&GOOD.replace("rules", "Rules!"))
                .unwrap_err()
                .contains("namespace")
        );
    }
}
