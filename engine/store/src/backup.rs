//! Backups: one snapshot of any backend copied into a new redb file, consistent while writers
//! go on. The copy is written beside its name, in a file the backup creates (never one that was
//! there: `FILE.partial`, or `FILE.partial.2`, … when that exists) and renamed to it only when
//! complete, so a failed or interrupted backup never leaves a partial file under that name, and
//! a backup never deletes or overwrites a file it did not create.

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
    let io = |operation: &'static str| {
        let path = display.clone();
        move |e: std::io::Error| StoreError::Io {
            operation,
            path,
            source: Arc::new(e),
        }
    };
    let partial = new_partial(path).map_err(io("create the unfinished backup beside"))?;
    let copied = copy_into(source, &partial);
    if copied.is_err() {
        // Ours: made above, for this backup alone.
        let _ = std::fs::remove_file(&partial);
    }
    let records = copied?;
    std::fs::rename(&partial, path).map_err(io("rename the finished backup to"))?;
    Ok(records)
}

/// A new, empty file beside `path` for the backup to fill: `PATH.partial`, or the first of
/// `PATH.partial.2`, `PATH.partial.3`, … that does not exist (created, never opened if there:
/// it may be anyone's, even the database being backed up).
fn new_partial(path: &Path) -> std::io::Result<PathBuf> {
    let mut n = 1;
    loop {
        let mut name = path.as_os_str().to_owned();
        name.push(".partial");
        if n > 1 {
            name.push(format!(".{n}"));
        }
        let candidate = PathBuf::from(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(_) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Copies every record of the last commit of `source` into the redb file `partial`.
fn copy_into(source: &dyn Backend, partial: &Path) -> Result<u64> {
    let schema = source.schema();
    let snapshot = source.begin_read()?;
    let copy = RedbBackend::open(partial, schema)?;
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
    Ok(records)
}
