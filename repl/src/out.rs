//! Standard output as commands write it: locked once, buffered, and written as results are
//! produced (an export streams record by record). A closed pipe becomes
//! [`CliError::Closed`], which ends the command quietly.

use std::io::{BufWriter, StdoutLock, Write};

use crate::error::CliError;

/// The command's standard output.
pub struct Out {
    w: BufWriter<StdoutLock<'static>>,
}

impl Out {
    /// Standard output, locked for the command.
    pub fn stdout() -> Self {
        Self {
            w: BufWriter::new(std::io::stdout().lock()),
        }
    }

    /// Writes `text` and a new line.
    pub fn line(&mut self, text: impl std::fmt::Display) -> Result<(), CliError> {
        writeln!(self.w, "{text}").map_err(CliError::output)
    }

    /// Writes `text` and a new line unless it is empty.
    pub fn shown(&mut self, text: &str) -> Result<(), CliError> {
        if text.is_empty() {
            Ok(())
        } else {
            self.line(text)
        }
    }

    /// The writer, for output that streams (exports).
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.w
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.w.flush().map_err(CliError::output)
    }
}
