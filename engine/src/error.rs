//! The one error type of the engine. Every variant says what failed, on which record and field,
//! and what to do about it, so the command line and scripts can show it as it is.

/// A result whose error is the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    /// Any other refusal of the rules, with its reason.
    #[error("{record}: {reason}; {fix}")]
    Refused {
        /// The record the operation was about.
        record: String,
        /// Why the rules refuse it.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// Another process holds the database file.
    #[error("database {path} is in use by another process; close the other rapport first")]
    DatabaseInUse {
        /// The file.
        path: String,
    },
    /// A stored value that cannot be read.
    #[error("stored {record} cannot be read: {detail}")]
    Corrupt {
        /// What was being read.
        record: String,
        /// Why it failed.
        detail: String,
    },
    /// A script the engine runs itself (the demo) failed.
    #[error("{0}")]
    Script(String),
    /// The storage layer failed (disk, file, transaction).
    #[error("storage error: {0}")]
    Storage(String),
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

    /// An [`Error::Refused`].
    pub fn refused(
        record: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::Refused {
            record: record.into(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }
}
