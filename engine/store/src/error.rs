//! The store's one error type. A failure of a backend keeps the backend's own error as its
//! source; the variants a caller acts on (in use, conflict, a key too long) carry their fields.

use std::sync::Arc;

/// A result whose error is the store's [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The error of a backend, kept as the source of a [`StoreError`] (shared, so the error can be
/// cloned and handed to several callers).
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the database file.
    #[error(
        "database {path} is in use by another process; close the other rapport first, or let it run as rapport serve so that every command goes through it"
    )]
    InUse {
        /// The file.
        path: String,
    },
    /// The database cannot be opened or created.
    #[error("cannot open {location}: {source}")]
    Open {
        /// The file or address.
        location: String,
        /// What the backend said.
        #[source]
        source: Source,
    },
    /// The backend failed during an operation.
    #[error("{backend} could not {operation}: {source}")]
    Backend {
        /// Which backend (`redb`, `memory`).
        backend: &'static str,
        /// What it was doing (`begin a transaction`, `commit`, `read table entries`…).
        operation: String,
        /// What the backend said.
        #[source]
        source: Source,
    },
    /// A file the store writes itself (a backup) failed.
    #[error("cannot {operation} {path}: {source}")]
    Io {
        /// What was being done with the file.
        operation: &'static str,
        /// The file.
        path: String,
        /// The system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A write on a database opened for reading only.
    #[error(
        "database {path} is open for reading only: {needed}; open it without --read-only (you need write permission on the file)"
    )]
    ReadOnly {
        /// The file.
        path: String,
        /// What needed writing.
        needed: String,
    },
    /// A file the store would write exists already (backups never overwrite).
    #[error("{path} exists; name a new file, or move the old one away first")]
    FileExists {
        /// The file.
        path: String,
    },
    /// Another transaction committed first a change this one conflicts with. Nothing of this
    /// transaction was kept; the caller runs it again (`Database::write` does, a few times).
    #[error(
        "the transaction conflicted with another that committed first; nothing was kept, run it again"
    )]
    Conflict,
    /// A key longer than every backend stores ([`crate::MAX_KEY_LEN`]).
    #[error("a key of {len} bytes for table {table} is longer than the {max} bytes a key may have")]
    KeyTooLong {
        /// The table.
        table: &'static str,
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value larger than every backend stores ([`crate::MAX_VALUE_LEN`]).
    #[error(
        "a value of {len} bytes for table {table} is larger than the {max} bytes a value may have"
    )]
    ValueTooLarge {
        /// The table.
        table: &'static str,
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A stored value that cannot be decoded.
    #[error("stored {record} cannot be read: {detail}")]
    Corrupt {
        /// What was being read.
        record: String,
        /// Why it failed.
        detail: String,
    },
    /// A value that cannot be encoded.
    #[error("a {record} cannot be encoded: {detail}")]
    Encode {
        /// What was being written.
        record: String,
        /// Why it failed.
        detail: String,
    },
    /// A failure a failpoint injected ([`crate::faults`]).
    #[error("injected failure at write {write} (table {table})")]
    Injected {
        /// The write that failed, counting from 1.
        write: u64,
        /// Its table.
        table: &'static str,
    },
}

impl StoreError {
    /// A backend's failure while doing `operation`.
    pub fn backend(
        backend: &'static str,
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            backend,
            operation: operation.into(),
            source: Arc::new(source),
        }
    }

    /// Whether running the transaction again may succeed ([`StoreError::Conflict`]).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict)
    }
}
