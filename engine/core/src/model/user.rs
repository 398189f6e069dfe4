//! The people (and systems) that reach a database through `rapport serve`: a name, a role, and
//! the hash of the token they authenticate with. The token itself is never stored.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

super::spec_enum! {
    /// What a user may do: read only; log interactions and record documents; or everything.
    Role {
        /// Queries, exports, statistics, the integrity check (backups need `full`: they hold
        /// the users).
        #[default]
        Read = "read",
        /// Read, plus log interactions (postpone and resume them) and record documents.
        Log = "log",
        /// Everything: segments, cancel, purge, templates, contacts, plugins, users.
        Full = "full",
    }
}

/// A user of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The name entries record as their `user` (lower-case letters, digits, `_`, `.`, `-`, `@`).
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// SHA-256 of the token, in hex (empty once revoked).
    pub token_hash: String,
    /// The day the user (or the current token) was added.
    #[serde(with = "super::serde_date")]
    pub created: NaiveDate,
    /// A revoked user's token no longer authenticates; the record stays, as entries name it.
    pub revoked: bool,
}

impl User {
    /// The fields of a user as clients see them.
    pub const FIELDS: &'static [&'static str] = &["name", "role", "created", "revoked"];
}
