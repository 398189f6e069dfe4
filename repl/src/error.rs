//! The command line's error: what the engine or a script refused (their own errors, kept as
//! they are), a file that cannot be read or written, the terminal failing, or the output pipe
//! closing (which ends a command quietly: `rapport export entries | head` is not an error).

use std::io;

use rapport_engine::Error;
use rapport_script::ScriptError;

use crate::api::ApiError;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A rule of the engine, or the storage.
    #[error(transparent)]
    Engine(#[from] Error),
    /// A script failed (shown with its position by the caller).
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A failure of a command run through the language (`document`): its message, without the
    /// position in a script the user did not write.
    #[error("{}", .0.message)]
    Command(ScriptError),
    /// A file the command reads.
    #[error("{what} {path} cannot be read: {source}; {fix}")]
    Read {
        /// What the file is (`script`, `CSV file`, …).
        what: &'static str,
        /// Its path.
        path: String,
        /// The system's error.
        source: io::Error,
        /// What to do.
        fix: &'static str,
    },
    /// A file the command writes.
    #[error("{what} {path} cannot be written: {source}; {fix}")]
    Write {
        /// What the file is.
        what: &'static str,
        /// Its path.
        path: String,
        /// The system's error.
        source: io::Error,
        /// What to do.
        fix: &'static str,
    },
    /// A plugin command that does not apply.
    #[error("plugin {name}: {reason}; {fix}")]
    Plugin {
        /// The plugin.
        name: String,
        /// Why.
        reason: String,
        /// What to do.
        fix: &'static str,
    },
    /// The terminal (the line editor) failed.
    #[error("the terminal failed: {0}")]
    Terminal(io::Error),
    /// Writing the output failed.
    #[error("the output cannot be written: {0}")]
    Output(io::Error),
    /// The reader of the output went away (a closed pipe): the command stops quietly.
    #[error("the output was closed")]
    Closed,
    /// What `rapport serve` answered (the same kind, record, field and message as a local
    /// command), or that it could not be reached.
    #[error(transparent)]
    Remote(#[from] crate::client::ClientError),
}

impl CliError {
    /// The failure as the API of `rapport serve` gives it (an import, a plugin setting).
    pub fn api_error(&self) -> ApiError {
        match self {
            CliError::Engine(e) => ApiError::of_engine(e),
            CliError::Script(e) | CliError::Command(e) => ApiError::of_script(e),
            CliError::Plugin { name, .. } => ApiError::new(
                "invalid",
                Some(&format!("plugin {name}")),
                None,
                self.to_string(),
            ),
            CliError::Remote(c) => match c.api() {
                Some(api) => api.clone(),
                None => ApiError::new("unavailable", None, None, c.to_string()),
            },
            // Files and pipes the server itself could not read or write.
            other => ApiError::new("storage", None, None, other.to_string()),
        }
    }

    /// The error of writing to the output: a closed pipe is [`CliError::Closed`].
    pub fn output(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::Closed
        } else {
            CliError::Output(e)
        }
    }

    /// The error of writing CSV to the output.
    pub fn csv_output(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(e) => Self::output(e),
            other => CliError::Output(io::Error::other(format!("{other:?}"))),
        }
    }
}
