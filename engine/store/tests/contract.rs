//! The backend contract (`rapport_store::backend`), checked on every backend: byte order,
//! scans in both directions, snapshots, read-your-writes, aborts, size limits. A new backend
//! joins `on_every_backend!` and must pass all of it.

use std::sync::Arc;

use rapport_store::{
    Backend, KvRead, MAX_KEY_LEN, MemoryBackend, Order, PostgresBackend, RedbBackend, Schema,
    StoreError, Table,
};

const ONE: Table = Table::new(0, "one");
const TWO: Table = Table::new(1, "two");
static TABLES: [Table; 2] = [ONE, TWO];
const SCHEMA: Schema = Schema::new(&TABLES);

fn backends() -> Vec<Arc<dyn Backend>> {
    let mut all: Vec<Arc<dyn Backend>> = vec![
        Arc::new(RedbBackend::in_memory(SCHEMA).unwrap()),
        Arc::new(MemoryBackend::new(SCHEMA)),
    ];
    all.extend(postgres());
    all
}

/// A PostgreSQL backend in a schema of its own, when `RAPPORT_TEST_POSTGRES` names a server
/// (`.ci/run` starts one).
fn postgres() -> Option<Arc<dyn Backend>> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = std::env::var("RAPPORT_TEST_POSTGRES").ok()?;
    let namespace = format!(
        "contract_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Some(Arc::new(
        PostgresBackend::open_in(&url, &namespace, SCHEMA).unwrap(),
    ))
}

/// Each test body runs once per backend, with `$b` bound to it.
macro_rules! on_every_backend {
    ($(fn $name:ident($b:ident) $body:block)*) => {$(
        #[test]
        fn $name() {
            for $b in backends() {
                let kind = $b.kind();
                let run = || $body;
                if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                    eprintln!("failed on the {kind} backend");
                    std::panic::resume_unwind(panic);
                }
            }
        }
    )*};
}

fn put_all(b: &dyn Backend, table: Table, keys: &[&[u8]]) {
    let mut w = b.begin_write().unwrap();
    for k in keys {
        w.put(table, k, b"v").unwrap();
    }
    w.commit().unwrap();
}

fn keys(
    kv: &dyn KvRead,
    table: Table,
    from: &[u8],
    to: Option<&[u8]>,
    order: Order,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    kv.scan(table, from, to, order, &mut |k, _| {
        out.push(k.to_vec());
        true
    })
    .unwrap();
    out
}

on_every_backend! {
    fn keys_compare_as_unsigned_byte_strings_a_prefix_first(b) {
        let written: [&[u8]; 7] = [b"b", b"", &[0xFF], b"a\x00", b"a", &[0x00], b"ab"];
        put_all(&*b, ONE, &written);
        let r = b.begin_read().unwrap();
        let mut expected: Vec<Vec<u8>> = written.iter().map(|k| k.to_vec()).collect();
        expected.sort();
        assert_eq!(keys(&*r, ONE, &[], None, Order::Ascending), expected);
        expected.reverse();
        assert_eq!(keys(&*r, ONE, &[], None, Order::Descending), expected);
    }

    fn a_scan_reads_from_inclusive_to_exclusive_and_stops_when_told(b) {
        put_all(&*b, ONE, &[b"a", b"b", b"c", b"d"]);
        let r = b.begin_read().unwrap();
        assert_eq!(keys(&*r, ONE, b"b", Some(b"d"), Order::Ascending), [b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(keys(&*r, ONE, b"b", Some(b"d"), Order::Descending), [b"c".to_vec(), b"b".to_vec()]);
        assert!(keys(&*r, ONE, b"d", Some(b"b"), Order::Ascending).is_empty());
        let mut seen = 0;
        r.scan(ONE, &[], None, Order::Descending, &mut |_, _| {
            seen += 1;
            seen < 2
        })
        .unwrap();
        assert_eq!(seen, 2, "the visitor said stop after the second key");
    }

    fn tables_are_separate_key_spaces(b) {
        put_all(&*b, ONE, &[b"k"]);
        let r = b.begin_read().unwrap();
        assert_eq!(r.get(ONE, b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(r.get(TWO, b"k").unwrap(), None);
    }

    fn an_empty_value_is_a_value(b) {
        let mut w = b.begin_write().unwrap();
        w.put(ONE, b"index", &[]).unwrap();
        w.commit().unwrap();
        assert_eq!(b.begin_read().unwrap().get(ONE, b"index").unwrap(), Some(Vec::new()));
    }

    fn a_write_transaction_reads_its_own_writes(b) {
        put_all(&*b, ONE, &[b"old"]);
        let mut w = b.begin_write().unwrap();
        w.put(ONE, b"new", b"n").unwrap();
        assert!(w.delete(ONE, b"old").unwrap());
        assert!(!w.delete(ONE, b"never").unwrap(), "delete says whether the key was there");
        assert_eq!(w.get(ONE, b"new").unwrap().as_deref(), Some(&b"n"[..]));
        assert_eq!(w.get(ONE, b"old").unwrap(), None);
        assert_eq!(keys(&*w, ONE, &[], None, Order::Ascending), [b"new".to_vec()]);
        w.abort().unwrap();
    }

    fn a_snapshot_never_sees_a_later_commit(b) {
        put_all(&*b, ONE, &[b"a"]);
        let before = b.begin_read().unwrap();
        let mut w = b.begin_write().unwrap();
        w.put(ONE, b"b", b"v").unwrap();
        w.delete(ONE, b"a").unwrap();
        assert!(before.get(ONE, b"b").unwrap().is_none(), "uncommitted writes are invisible");
        w.commit().unwrap();
        assert_eq!(keys(&*before, ONE, &[], None, Order::Ascending), [b"a".to_vec()]);
        let after = b.begin_read().unwrap();
        assert_eq!(keys(&*after, ONE, &[], None, Order::Ascending), [b"b".to_vec()]);
    }

    fn an_aborted_or_dropped_transaction_keeps_nothing(b) {
        let mut w = b.begin_write().unwrap();
        w.put(ONE, b"aborted", b"v").unwrap();
        w.abort().unwrap();
        let mut w = b.begin_write().unwrap();
        w.put(ONE, b"dropped", b"v").unwrap();
        drop(w);
        assert!(keys(&*b.begin_read().unwrap(), ONE, &[], None, Order::Ascending).is_empty());
    }

    fn a_key_longer_than_the_limit_is_refused_and_one_at_the_limit_is_kept(b) {
        // Bytes that do not compress: PostgreSQL's index must hold the key as it is.
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let key: Vec<u8> = (0..=MAX_KEY_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let (longest, too_long) = (&key[..MAX_KEY_LEN], &key[..]);
        let mut w = b.begin_write().unwrap();
        w.put(ONE, longest, b"v").unwrap();
        let err = w.put(ONE, too_long, b"v").unwrap_err();
        assert!(matches!(err, StoreError::KeyTooLong { table: "one", .. }), "{err}");
        w.commit().unwrap();
        let r = b.begin_read().unwrap();
        assert_eq!(r.get(ONE, longest).unwrap().as_deref(), Some(&b"v"[..]));
    }

    fn upgrading_a_snapshot_no_commit_overtook_gives_a_write_transaction(b) {
        put_all(&*b, ONE, &[b"a"]);
        let r = b.begin_read().unwrap();
        let mut w = b.upgrade(r).unwrap();
        w.put(ONE, b"b", b"v").unwrap();
        w.commit().unwrap();
        let r = b.begin_read().unwrap();
        assert_eq!(keys(&*r, ONE, &[], None, Order::Ascending).len(), 2);
    }

    fn writing_on_a_snapshot_a_commit_changed_is_a_conflict(b) {
        // The snapshot reads "a" (absent); another transaction writes it and commits; writing
        // "a" on what the snapshot read is refused — at the upgrade, the write or the commit.
        let r = b.begin_read().unwrap();
        assert!(r.get(ONE, b"a").unwrap().is_none());
        put_all(&*b, ONE, &[b"a"]);
        let outcome = b.upgrade(r).and_then(|mut w| {
            w.put(ONE, b"a", b"mine")?;
            w.commit()
        });
        assert!(outcome.as_ref().is_err_and(StoreError::is_conflict), "{outcome:?}");
        // The refused transaction holds nothing and kept nothing: the next writer goes on.
        put_all(&*b, ONE, &[b"b"]);
        assert_eq!(b.begin_read().unwrap().get(ONE, b"a").unwrap().as_deref(), Some(&b"v"[..]));
    }

    fn a_snapshot_that_read_what_another_commit_changed_cannot_write_on_it(b) {
        // Write skew: the snapshot reads x; another transaction reads y, writes x and commits;
        // the snapshot then writes y. Run one after the other, one of them would have seen
        // the other's write: the snapshot is refused (at the upgrade, the write or the commit).
        put_all(&*b, ONE, &[b"x", b"y"]);
        let r = b.begin_read().unwrap();
        assert!(r.get(ONE, b"x").unwrap().is_some());
        let mut other = b.begin_write().unwrap();
        assert!(other.get(ONE, b"y").unwrap().is_some());
        other.put(ONE, b"x", b"changed").unwrap();
        other.commit().unwrap();
        let outcome = b.upgrade(r).and_then(|mut w| {
            w.put(ONE, b"y", b"decided on the old x")?;
            w.commit()
        });
        assert!(outcome.as_ref().is_err_and(StoreError::is_conflict), "{outcome:?}");
        assert_eq!(b.begin_read().unwrap().get(ONE, b"y").unwrap().as_deref(), Some(&b"v"[..]));
    }

    fn a_write_transactions_changes_merge_into_long_scans_both_ways(b) {
        // Committed keys over many scan pages, then in one transaction: some removed, some
        // deleted, some replaced, some new between them; every scan sees exactly that.
        let committed: Vec<Vec<u8>> = (0u32..3000).map(|i| (i * 2).to_be_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = committed.iter().map(Vec::as_slice).collect();
        put_all(&*b, TWO, &refs);
        let mut model: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
            committed.iter().map(|k| (k.clone(), b"v".to_vec())).collect();
        let mut w = b.begin_write().unwrap();
        for i in (0u32..6000).step_by(7) {
            let k = i.to_be_bytes().to_vec();
            match i % 4 {
                0 => {
                    w.remove(TWO, &k).unwrap();
                    model.remove(&k);
                }
                1 => {
                    assert_eq!(w.delete(TWO, &k).unwrap(), model.remove(&k).is_some());
                }
                _ => {
                    w.put(TWO, &k, b"new").unwrap();
                    model.insert(k, b"new".to_vec());
                }
            }
        }
        let mut asc = Vec::new();
        w.scan(TWO, &[], None, Order::Ascending, &mut |k, v| {
            asc.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
        assert_eq!(asc, expected);
        let mut desc = Vec::new();
        let (from, to) = (1000u32.to_be_bytes(), 5000u32.to_be_bytes());
        w.scan(TWO, &from, Some(&to), Order::Descending, &mut |k, v| {
            desc.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
        let mut expected: Vec<(Vec<u8>, Vec<u8>)> = model
            .range(from.to_vec()..to.to_vec())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        expected.reverse();
        assert_eq!(desc, expected);
        w.commit().unwrap();
        let r = b.begin_read().unwrap();
        assert_eq!(keys(&*r, TWO, &[], None, Order::Ascending), model.keys().cloned().collect::<Vec<_>>());
    }

    fn a_backup_is_one_snapshot_in_a_new_file(b) {
        put_all(&*b, ONE, &[b"a", b"b"]);
        put_all(&*b, TWO, &[b"c"]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.redb");
        assert_eq!(rapport_store::backup::backup_to_file(&*b, &path).unwrap(), 3);
        let copy = RedbBackend::open(&path, SCHEMA).unwrap();
        let r = copy.begin_read().unwrap();
        assert_eq!(keys(&*r, ONE, &[], None, Order::Ascending).len(), 2);
        assert_eq!(keys(&*r, TWO, &[], None, Order::Ascending).len(), 1);
        let again = rapport_store::backup::backup_to_file(&*b, &path).unwrap_err();
        assert!(matches!(again, StoreError::FileExists { .. }), "{again}");
    }
}

#[test]
fn on_redb_and_memory_an_upgrade_after_any_commit_is_a_conflict() {
    for b in &backends()[..2] {
        let r = b.begin_read().unwrap();
        put_all(&**b, ONE, &[b"a"]);
        let err = b.upgrade(r).map(|_| ()).unwrap_err();
        assert!(err.is_conflict(), "{err}");
        put_all(&**b, ONE, &[b"b"]);
    }
}

#[test]
fn on_postgres_bytea_keys_compare_like_rust_byte_slices() {
    let Some(b) = postgres() else {
        eprintln!("skipped: RAPPORT_TEST_POSTGRES names no server");
        return;
    };
    // Every pair of bytes, and prefixes of each other: the server's order must be Rust's.
    let mut written: Vec<Vec<u8>> = Vec::new();
    for x in [0x00u8, 0x01, 0x7F, 0x80, 0xFE, 0xFF] {
        for y in [0x00u8, 0x01, 0x7F, 0x80, 0xFE, 0xFF] {
            written.push(vec![x, y]);
        }
        written.push(vec![x]);
        written.push(vec![x, 0x00, 0x00]);
    }
    written.push(Vec::new());
    let refs: Vec<&[u8]> = written.iter().map(Vec::as_slice).collect();
    put_all(&*b, ONE, &refs);
    let mut expected = written.clone();
    expected.sort();
    let r = b.begin_read().unwrap();
    assert_eq!(keys(&*r, ONE, &[], None, Order::Ascending), expected);
    // Scans that read more than one page (the backend pages by key) keep the order too.
    let many: Vec<Vec<u8>> = (0u32..5000).map(|i| i.to_be_bytes().to_vec()).collect();
    let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    put_all(&*b, TWO, &refs);
    let r = b.begin_read().unwrap();
    assert_eq!(keys(&*r, TWO, &[], None, Order::Ascending), many);
    let mut reversed = many.clone();
    reversed.reverse();
    assert_eq!(keys(&*r, TWO, &[], None, Order::Descending), reversed);
}

#[test]
fn on_the_memory_backend_the_first_writer_to_commit_wins() {
    let b = MemoryBackend::new(SCHEMA);
    let mut first = b.begin_write().unwrap();
    let mut second = b.begin_write().unwrap();
    first.put(ONE, b"k", b"first").unwrap();
    second.put(ONE, b"k", b"second").unwrap();
    first.commit().unwrap();
    let err = second.commit().unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let r = b.begin_read().unwrap();
    assert_eq!(r.get(ONE, b"k").unwrap().as_deref(), Some(&b"first"[..]));
}

#[test]
fn redb_runs_one_writer_at_a_time() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let b: Arc<dyn Backend> = Arc::new(RedbBackend::in_memory(SCHEMA).unwrap());
    let mut first = b.begin_write().unwrap();
    first.put(ONE, b"k", b"first").unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let second = std::thread::spawn({
        let (b, started) = (b.clone(), started.clone());
        move || {
            let w = b.begin_write().unwrap();
            started.store(true, Ordering::SeqCst);
            // It starts from the first one's commit.
            assert_eq!(w.get(ONE, b"k").unwrap().as_deref(), Some(&b"first"[..]));
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        !started.load(Ordering::SeqCst),
        "a second writer began beside the first"
    );
    first.commit().unwrap();
    second.join().unwrap();
    assert!(started.load(Ordering::SeqCst));
}

#[test]
fn a_second_process_opening_a_redb_file_is_told_it_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let _held = RedbBackend::open(&path, SCHEMA).unwrap();
    let Err(err) = RedbBackend::open(&path, SCHEMA) else {
        panic!("the second open should fail");
    };
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
}
