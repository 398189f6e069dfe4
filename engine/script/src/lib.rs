//! rapport's language: the Rhai surface over the engine. Every function of the contract reads
//! its map with the spec's field names and calls one workflow of `rapport-engine`; records are
//! maps, queries are lazy values, and a whole script run is one transaction. Plugins (their
//! manifests, capabilities, functions and hooks) and the demo company live here too, since
//! both are scripts. This is the only crate that names Rhai.
//!
//! The modules, lowest first (each uses only those above it): [`limits`], [`capability`],
//! [`docs`], [`error`], [`value`], `outcome` ([`Value`], [`Variables`]), `session` (a run's transaction), `native` (closures compiled
//! to predicates), [`query`], `api` (the contract functions), [`plugin`], `host`
//! ([`ScriptHost`]), [`demo`].

pub mod capability;
pub mod demo;
pub mod docs;
pub mod error;
pub mod limits;
mod outcome;
pub mod plugin;
pub mod query;
pub mod value;

mod api;
mod host;
mod native;
mod session;

pub use capability::Caller;
pub use error::{ErrorDetail, ScriptError, ScriptErrorKind};
pub use host::{Hooked, PluginReport, RunOptions, ScriptHost, ScriptOutput};
pub use limits::Limits;
pub use outcome::{ResultSink, Results, Streamed, Value, Variables};
