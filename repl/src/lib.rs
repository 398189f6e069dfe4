//! The parts of the command line that other crates use too: CSV import and export (the
//! end-to-end and fuzz tests drive the import with arbitrary bytes) and the output formats.

pub mod output;
pub mod transfer;
