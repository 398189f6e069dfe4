//! Capabilities: what a plugin may read and write, per kind of record. Every contract function
//! names the access it needs; while a plugin's hook runs, a call outside its manifest fails with
//! an error naming the missing capability. A user of `rapport serve` is checked the same way,
//! against the role of the token the request came with ([`role_allows`]).

use std::collections::BTreeSet;

use rapport_engine::model::Role;

/// A kind of record, as plugin manifests name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Contacts and their business relations.
    Contacts,
    /// Salespeople.
    Salespeople,
    /// Interaction groups, templates, attachments, the template setup.
    Catalogue,
    /// Campaigns and campaign entries.
    Campaigns,
    /// Interaction log entries (logging, documents, cancel, purge).
    Entries,
    /// Segments and logged segments.
    Segments,
    /// Statistics.
    Statistics,
    /// The history: who did what (read); undo, its retention, erasure (write).
    History,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Contacts,
        Kind::Salespeople,
        Kind::Catalogue,
        Kind::Campaigns,
        Kind::Entries,
        Kind::Segments,
        Kind::Statistics,
        Kind::History,
    ];

    /// The name in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Salespeople => "salespeople",
            Kind::Catalogue => "catalogue",
            Kind::Campaigns => "campaigns",
            Kind::Entries => "entries",
            Kind::Segments => "segments",
            Kind::Statistics => "statistics",
            Kind::History => "history",
        }
    }

    /// The kind with this manifest name.
    pub fn parse(name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.name() == name.trim())
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The access a function needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The kind of record.
    pub kind: Kind,
    /// Whether it writes.
    pub write: bool,
    /// It adds an interaction (logging, resuming, recording a document) and changes nothing
    /// else: what the `log` role may write.
    pub logging: bool,
}

impl Access {
    /// Reading `kind`.
    pub const fn read(kind: Kind) -> Self {
        Self {
            kind,
            write: false,
            logging: false,
        }
    }

    /// Writing `kind`.
    pub const fn write(kind: Kind) -> Self {
        Self {
            kind,
            write: true,
            logging: false,
        }
    }

    /// Adding an interaction: writing entries, allowed to the `log` role.
    pub const fn log() -> Self {
        Self {
            kind: Kind::Entries,
            write: true,
            logging: true,
        }
    }

    /// `read` or `write`, as in manifests.
    pub fn verb(self) -> &'static str {
        if self.write { "write" } else { "read" }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb(), self.kind)
    }
}

/// What one plugin may do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// The plugin's name.
    pub plugin: String,
    /// Kinds it may read.
    pub read: BTreeSet<Kind>,
    /// Kinds it may write (writing includes reading).
    pub write: BTreeSet<Kind>,
}

impl Grant {
    /// Whether the grant covers `access`.
    pub fn allows(&self, access: Access) -> bool {
        self.write.contains(&access.kind) || (!access.write && self.read.contains(&access.kind))
    }
}

/// Whether a user with `role` may make `access` (outside plugins' hooks, which their own
/// capabilities govern).
pub fn role_allows(role: Role, access: Access) -> bool {
    match role {
        Role::Full => true,
        Role::Log => !access.write || access.logging,
        Role::Read => !access.write,
    }
}

/// Who runs a script: the user entries record, what the user's role allows, and whether the
/// script may read files (`template_attach` with a path). A local run is the machine's user
/// with every right; a run through `rapport serve` is the token's user, without file access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user entries record (`None`: the database context's).
    pub user: Option<String>,
    /// What the user may do.
    pub role: Role,
    /// Whether `template_attach` may read a file the script names.
    pub file_access: bool,
}

impl Default for Caller {
    fn default() -> Self {
        Self {
            user: None,
            role: Role::Full,
            file_access: true,
        }
    }
}

impl Caller {
    /// A user of `rapport serve`: the token's name and role, no file access.
    pub fn remote(user: &str, role: Role) -> Self {
        Self {
            user: Some(user.to_string()),
            role,
            file_access: false,
        }
    }
}
