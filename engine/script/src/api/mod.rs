//! The contract functions of the language, registered in every engine a host builds: each
//! reads its arguments with the spec's field names and calls one workflow. Their errors reach
//! scripts as maps that say where the failing call is ([`crate::error::placed`]).

pub mod catalogue;
pub(crate) mod entry_hooks;
pub(crate) mod history;
pub mod log;
pub mod types;
