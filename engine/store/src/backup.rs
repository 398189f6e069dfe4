//! Backups: one snapshot of any backend copied into a new redb file, consistent while writers
//! go on. The copy is written beside its name and renamed to it only when complete, so a
//! failed or interrupted backup never leaves a partial file under that name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backend::{Backend, WriteTxn};
use crate::error::{Result, StoreError};
use crate::kv::Order;
use crate::redb::RedbBackend;

/// Records a backup copies per commit: the copy's memory stays bounded; the file is not the
/// backup until the rename at the end.
const BATCH: u64 = 100_000;

/// Copies every record of the last commit of `source` into a new redb file at `path`, and
/// returns how many. An existing `path` is refused with [`StoreError::FileExists`].
pub fn backup_to_file(source: &dyn Backend, path: &Path) -> Result<u64> {
    let display = path.display().to_string();
    if path.exists() {
        return Err(StoreError::FileExists { path: display });
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io = |operation: &'static str| {
        let path = display.clone();
        move |e: std::io::Error| StoreError::Io {
            operation,
            path,
            source: Arc::new(e),
        }
    };
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(io("remove the unfinished backup"))?;
    }
    let schema = source.schema();
    let snapshot = source.begin_read()?;
    let copy = RedbBackend::open(&partial, schema)?;
    let mut records = 0;
    let mut txn: Box<dyn WriteTxn> = copy.begin_write()?;
    for table in schema.tables() {
        let mut batch = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        // A batch of records is read, then written, so no scan is open across a commit.
        loop {
            batch.clear();
            let mut last = None;
            snapshot.scan(*table, &from, None, Order::Ascending, &mut |k, v| {
                batch.push((k.to_vec(), v.to_vec()));
                last = Some(k.to_vec());
                batch.len() < 1024
            })?;
            for (k, v) in &batch {
                txn.put(*table, k, v)?;
                records += 1;
                if records % BATCH == 0 {
                    txn.commit()?;
                    txn = copy.begin_write()?;
                }
            }
            match last {
                Some(mut k) if batch.len() == 1024 => {
                    k.push(0);
                    from = k;
                }
                _ => break,
            }
        }
    }
    txn.commit()?;
    drop(copy);
    std::fs::rename(&partial, path).map_err(io("rename the finished backup to"))?;
    Ok(records)
}
