//! rapport's storage: an ordered byte-key / byte-value store per table, behind one
//! [`Backend`] trait with a written contract (see [`backend`]), and what every backend shares:
//! the order-preserving [`key`] encoding, the record [`codec`], the undo [`journal`], the
//! [`faults`] the tests inject, and [`backup`]s.
//!
//! Backends: [`RedbBackend`] (a redb file, the default), [`MemoryBackend`] (persistent maps
//! in memory, optimistic writers) and, with the `postgres` feature, `PostgresBackend` (a
//! PostgreSQL database many processes share). This is the only crate that names redb; it knows tables by
//! number and name, never what the engine keeps in them.

pub mod backend;
pub mod backup;
pub mod codec;
mod error;
pub mod faults;
pub mod journal;
pub mod key;
mod kv;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod redb;
mod table;

pub use backend::{Backend, ReadTxn, WriteTxn};
pub use error::{Result, Source, StoreError};
pub use kv::{KvRead, KvWrite, MAX_KEY_LEN, MAX_VALUE_LEN, Order, Visit, check_sizes};
pub use memory::MemoryBackend;
#[cfg(feature = "postgres")]
pub use postgres::PostgresBackend;
pub use redb::RedbBackend;
pub use table::{Schema, Table};
