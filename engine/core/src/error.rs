//! The one error type of the engine. Every variant says what failed, on which record and field,
//! and what to do about it, so the command line and scripts can show it as it is; the refusals
//! a caller acts on are variants of their own ([`Error::kind`] names them in words scripts and
//! clients match on), and a storage failure keeps the store's error as its source.

use rapport_store::StoreError;

/// A result whose error is the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A record named by the caller does not exist.
    #[error("{record} {key} does not exist; {fix}")]
    NotFound {
        /// The kind of record (`contact`, `template`, …).
        record: &'static str,
        /// Its number or code as given.
        key: String,
        /// What to do.
        fix: String,
    },
    /// A record with this key exists already.
    #[error("{record} {key} already exists; pick another {field} or change the existing one")]
    AlreadyExists {
        /// The kind of record.
        record: &'static str,
        /// Its key.
        key: String,
        /// The key field's name.
        field: &'static str,
    },
    /// A required field is blank.
    #[error("{record}: {field} is required; {fix}")]
    Required {
        /// The record being written.
        record: String,
        /// The blank field.
        field: &'static str,
        /// What to do.
        fix: String,
    },
    /// A field holds a value the rules do not allow.
    #[error("{record}: {field} {problem}; {fix}")]
    Invalid {
        /// The record being written.
        record: String,
        /// The field.
        field: &'static str,
        /// What is wrong with the value.
        problem: String,
        /// What to do.
        fix: String,
    },
    /// A text longer than a field holds.
    #[error(
        "{record}: {field} is {len} bytes long; the most a field holds is {max}; shorten it, or keep long text in an attachment"
    )]
    TooLong {
        /// The record being written.
        record: String,
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The most it may have.
        max: usize,
    },
    /// An interaction for a privacy-blocked contact.
    #[error(
        "contact {contact} is privacy-blocked, so no interaction can be created for it; clear privacy_blocked on the contact first"
    )]
    PrivacyBlocked {
        /// The contact's no.
        contact: String,
    },
    /// E-mail delivery asked for a contact without an e-mail address.
    #[error(
        "contact {contact} has no e-mail address; add one to the contact, or log without delivery"
    )]
    NoEmail {
        /// The contact's no.
        contact: String,
    },
    /// Delivery asked for a line or interaction without an attachment.
    #[error(
        "{record}: correspondence {correspondence} with delivery needs an attachment; attach one to the template for language \"{language}\", or log without delivery"
    )]
    NoAttachment {
        /// The interaction or segment line.
        record: String,
        /// The correspondence type.
        correspondence: String,
        /// The language whose attachment was looked for.
        language: String,
    },
    /// Logging with a template whose wizard action is `open`, without an attachment for the
    /// interaction's language.
    #[error(
        "{record}: no attachment found for template {template}, language \"{language}\"; attach one (template_attach) or change the template's wizard action"
    )]
    NoTemplateAttachment {
        /// The interaction or segment line.
        record: String,
        /// The template.
        template: String,
        /// The language whose attachment was looked for.
        language: String,
    },
    /// Logging a segment that has no line with a contact.
    #[error("segment {segment} is empty; add contacts to it before logging it")]
    SegmentEmpty {
        /// The segment no.
        segment: String,
    },
    /// Logging a segment a second time.
    #[error(
        "segment {segment} was already logged as logged segment {logged_segment}; cancel that one instead, or create a new segment"
    )]
    SegmentAlreadyLogged {
        /// The segment no.
        segment: String,
        /// The logged segment it became.
        logged_segment: u64,
    },
    /// Un-canceling a record while the record it belongs to is canceled.
    #[error(
        "{record}: it cannot be un-canceled while its {parent} is canceled; un-cancel {parent} instead"
    )]
    ParentCanceled {
        /// The record to un-cancel (`interaction log entry 7`).
        record: String,
        /// The canceled parent (`logged segment 3`, `campaign entry 2`).
        parent: String,
    },
    /// A change refused because other records use or depend on this one.
    #[error("{record}: {reason}; {fix}")]
    InUse {
        /// The record (`template INV`, `contact C1`).
        record: String,
        /// What uses it.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// An operation that does not apply to the record as it is now.
    #[error("{record}: {reason}; {fix}")]
    WrongState {
        /// The record.
        record: String,
        /// Why the operation does not apply.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// An undo refused because a later operation changed a record the undo would put back.
    #[error("{record}: operation {by} changed it after operation {operation}; {fix}")]
    ChangedSince {
        /// The record (`interaction log entry 7`).
        record: String,
        /// The operation being undone.
        operation: u64,
        /// The later operation that changed the record.
        by: u64,
        /// What to do.
        fix: String,
    },
    /// A write kept conflicting with other writers and was given up.
    #[error(
        "the change conflicted with other writers {attempts} times in a row and was given up; nothing was changed, try again"
    )]
    Conflict {
        /// How many times it was run.
        attempts: u32,
    },
    /// The storage layer failed (disk, file, transaction, a record that cannot be read).
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// A rule broken by a value a plugin's `before_log` hook set: the rule's own error (its
    /// kind, record and field), saying which plugin set the value.
    #[error(
        "{error}; plugin {plugin}'s before_log hook set it: mend the plugin, or disable it with rapport plugins disable {plugin}"
    )]
    SetByPlugin {
        /// The plugin.
        plugin: String,
        /// The rule's error.
        error: Box<Error>,
    },
}

/// What kind of failure an [`Error`] is, as a word scripts, clients and tests match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A named record does not exist.
    NotFound,
    /// A record with the key exists.
    AlreadyExists,
    /// A required field is blank.
    Required,
    /// A field's value is not allowed.
    Invalid,
    /// A text is longer than its field holds, or a key or value beyond the store's limits.
    TooLong,
    /// The contact is privacy-blocked.
    PrivacyBlocked,
    /// E-mail without an e-mail address.
    NoEmail,
    /// Delivery without an attachment.
    NoAttachment,
    /// A segment without lines.
    SegmentEmpty,
    /// A segment logged before.
    AlreadyLogged,
    /// The record's parent is canceled.
    ParentCanceled,
    /// Other records use the record.
    InUse,
    /// The operation does not apply to the record as it is.
    WrongState,
    /// A later operation changed what an undo would put back.
    ChangedSince,
    /// Other writers kept conflicting.
    Conflict,
    /// Another process holds the database.
    DatabaseInUse,
    /// The database is open for reading only.
    ReadOnly,
    /// A stored record cannot be read.
    Corrupt,
    /// The storage failed.
    Storage,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Required,
        ErrorKind::Invalid,
        ErrorKind::TooLong,
        ErrorKind::PrivacyBlocked,
        ErrorKind::NoEmail,
        ErrorKind::NoAttachment,
        ErrorKind::SegmentEmpty,
        ErrorKind::AlreadyLogged,
        ErrorKind::ParentCanceled,
        ErrorKind::InUse,
        ErrorKind::WrongState,
        ErrorKind::ChangedSince,
        ErrorKind::Conflict,
        ErrorKind::DatabaseInUse,
        ErrorKind::ReadOnly,
        ErrorKind::Corrupt,
        ErrorKind::Storage,
    ];

    /// The kind as a word: `not_found`, `in_use`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Required => "required",
            ErrorKind::Invalid => "invalid",
            ErrorKind::TooLong => "too_long",
            ErrorKind::PrivacyBlocked => "privacy_blocked",
            ErrorKind::NoEmail => "no_email",
            ErrorKind::NoAttachment => "no_attachment",
            ErrorKind::SegmentEmpty => "segment_empty",
            ErrorKind::AlreadyLogged => "already_logged",
            ErrorKind::ParentCanceled => "parent_canceled",
            ErrorKind::InUse => "in_use",
            ErrorKind::WrongState => "wrong_state",
            ErrorKind::ChangedSince => "changed_since",
            ErrorKind::Conflict => "conflict",
            ErrorKind::DatabaseInUse => "database_in_use",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Storage => "storage",
        }
    }

    /// The kind a word names.
    pub fn parse(word: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// A [`Error::NotFound`] with the usual fix.
    pub fn not_found(record: &'static str, key: impl Into<String>) -> Self {
        let fix = format!("check the {record} code or number, or create the {record} first");
        Error::NotFound {
            record,
            key: key.into(),
            fix,
        }
    }

    /// A [`Error::Required`].
    pub fn required(
        record: impl Into<String>,
        field: &'static str,
        fix: impl Into<String>,
    ) -> Self {
        Error::Required {
            record: record.into(),
            field,
            fix: fix.into(),
        }
    }

    /// An [`Error::Invalid`].
    pub fn invalid(
        record: impl Into<String>,
        field: &'static str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            record: record.into(),
            field,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// An [`Error::InUse`].
    pub fn in_use(
        record: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::InUse {
            record: record.into(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// An [`Error::WrongState`].
    pub fn wrong_state(
        record: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::WrongState {
            record: record.into(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::SetByPlugin { error, .. } => error.kind(),
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::Required { .. } => ErrorKind::Required,
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::TooLong { .. } => ErrorKind::TooLong,
            Error::PrivacyBlocked { .. } => ErrorKind::PrivacyBlocked,
            Error::NoEmail { .. } => ErrorKind::NoEmail,
            Error::NoAttachment { .. } | Error::NoTemplateAttachment { .. } => {
                ErrorKind::NoAttachment
            }
            Error::SegmentEmpty { .. } => ErrorKind::SegmentEmpty,
            Error::SegmentAlreadyLogged { .. } => ErrorKind::AlreadyLogged,
            Error::ParentCanceled { .. } => ErrorKind::ParentCanceled,
            Error::InUse { .. } => ErrorKind::InUse,
            Error::WrongState { .. } => ErrorKind::WrongState,
            Error::ChangedSince { .. } => ErrorKind::ChangedSince,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Storage(e) => match e {
                StoreError::Conflict => ErrorKind::Conflict,
                StoreError::InUse { .. } => ErrorKind::DatabaseInUse,
                StoreError::ReadOnly { .. } => ErrorKind::ReadOnly,
                StoreError::Corrupt { .. } => ErrorKind::Corrupt,
                StoreError::KeyTooLong { .. } | StoreError::ValueTooLarge { .. } => {
                    ErrorKind::TooLong
                }
                _ => ErrorKind::Storage,
            },
        }
    }

    /// The record the error is about, as people name it (`contact CT000001`), when known.
    pub fn record(&self) -> Option<String> {
        match self {
            Error::SetByPlugin { error, .. } => error.record(),
            Error::NotFound { record, key, .. } | Error::AlreadyExists { record, key, .. } => {
                Some(format!("{record} {key}"))
            }
            Error::Required { record, .. }
            | Error::Invalid { record, .. }
            | Error::TooLong { record, .. }
            | Error::NoAttachment { record, .. }
            | Error::NoTemplateAttachment { record, .. }
            | Error::ParentCanceled { record, .. }
            | Error::InUse { record, .. }
            | Error::WrongState { record, .. }
            | Error::ChangedSince { record, .. }
            | Error::Storage(StoreError::Corrupt { record, .. }) => Some(record.clone()),
            Error::PrivacyBlocked { contact } | Error::NoEmail { contact } => {
                Some(format!("contact {contact}"))
            }
            Error::SegmentEmpty { segment } | Error::SegmentAlreadyLogged { segment, .. } => {
                Some(format!("segment {segment}"))
            }
            Error::Conflict { .. } | Error::Storage(_) => None,
        }
    }

    /// The field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::SetByPlugin { error, .. } => error.field(),
            Error::AlreadyExists { field, .. }
            | Error::Required { field, .. }
            | Error::Invalid { field, .. }
            | Error::TooLong { field, .. } => Some(field),
            Error::PrivacyBlocked { .. } => Some("privacy_blocked"),
            Error::NoEmail { .. } => Some("email"),
            Error::NoAttachment { .. } | Error::NoTemplateAttachment { .. } => Some("attachment"),
            Error::ParentCanceled { .. } => Some("canceled"),
            _ => None,
        }
    }

    /// Whether running the transaction again may succeed (another writer overtook it).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Storage(StoreError::Conflict))
    }
}
