//! The parts of the command line that other crates use too: its error type, standard output,
//! the output formats, and CSV import and export (the end-to-end and fuzz tests drive the
//! import with arbitrary bytes), and the HTTP API of `rapport serve` with its client.

pub mod api;
pub mod client;
pub mod error;
pub mod import;
pub mod out;
pub mod output;
pub mod transfer;
