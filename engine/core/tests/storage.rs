//! Storage: a database file keeps what was committed, an unknown layout is refused clearly,
//! and a second opener is told the file is in use.

use rapport_engine::Database;
use rapport_engine::model::*;
use rapport_engine::store::codec;
use rapport_testkit::*;

#[test]
fn an_unknown_schema_version_is_refused_with_a_clear_error() {
    let mut bytes = codec::encode(&InteractionGroup {
        code: "X".into(),
        description: String::new(),
    })
    .unwrap();
    bytes[0] = 99;
    let err = codec::decode::<InteractionGroup>(&bytes, "group").unwrap_err();
    assert!(
        err.to_string().contains("schema version 99 is not known"),
        "{err}"
    );
}

#[test]
fn arbitrary_bytes_never_panic_the_decoder() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xFF) as u8
            })
            .collect();
        let _ = codec::decode::<InteractionLogEntry>(&bytes, "entry");
        let _ = codec::decode::<Contact>(&bytes, "contact");
        let _ = codec::decode_in_place::<ContactView<'_>>(&bytes, "contact");
    }
}

#[test]
fn a_database_file_keeps_what_was_committed_and_nothing_of_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.redb");
    {
        let db = Database::open(&path).unwrap();
        db.write(|tx| {
            tx.group_define(InteractionGroup {
                code: "LETTER".into(),
                description: "Letters".into(),
            })?;
            tx.template_define(template(
                "BUS",
                "LETTER",
                "Business letter",
                8,
                30,
                Flow::Outbound,
                Correspondence::HardCopy,
            ))?;
            tx.salesperson_create(Salesperson {
                code: "JO".into(),
                ..Default::default()
            })?;
            tx.contact_create(Contact {
                name: "Kept".into(),
                salesperson: "JO".into(),
                ..Default::default()
            })
        })
        .unwrap();
        db.write(|tx| tx.log_interaction(draft("CT000001", "BUS")))
            .unwrap();
        db.write(|tx| {
            tx.contact_create(Contact {
                name: "Lost".into(),
                ..Default::default()
            })?;
            tx.log_interaction(draft("CT000001", "NOPE"))
        })
        .unwrap_err();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.read(|v| v.contact("CT000001")).unwrap().unwrap().name,
        "Kept"
    );
    assert!(db.read(|v| v.contact("CT000002")).unwrap().is_none());
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 1);
    assert_consistent(&db);
}

#[test]
fn a_second_opener_is_told_the_database_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.redb");
    let _first = Database::open(&path).unwrap();
    let err = Database::open(&path)
        .err()
        .expect("the second open must fail");
    assert_eq!(
        err.kind(),
        rapport_engine::ErrorKind::DatabaseInUse,
        "{err}"
    );
    assert!(err.to_string().contains("is in use by another process"));
}

#[test]
fn a_reader_sees_a_consistent_snapshot_while_a_writer_commits() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    db.read(|snapshot| {
        log(&db, draft("P1", "CALL"));
        assert_eq!(
            snapshot.last_entry_no()?,
            1,
            "the snapshot does not see the later commit"
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 2);
}

#[test]
fn a_backup_taken_while_a_writer_commits_is_one_consistent_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path().join("live.redb")).unwrap();
    db.context_mut().clock = rapport_engine::Clock::fixed(day(TODAY));
    fill(&db);
    let backup = dir.path().join("backup.redb");
    let copied = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for _ in 0..200 {
                log(&db, draft("P1", "CALL"));
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(5));
        let copied = db.backup(&backup).unwrap();
        writer.join().unwrap();
        copied
    });
    assert!(copied > 0);
    let restored = Database::open(&backup).unwrap();
    let report = restored.read(|v| v.integrity_check()).unwrap();
    assert!(report.is_ok(), "{:?}", report.differences);
    // One commit's worth: every entry it holds is counted in the statistics it holds.
    let entries = restored.read(|v| v.last_entry_no()).unwrap();
    let stats = restored
        .read(|v| v.statistics(rapport_engine::ops::StatKind::Template, "CALL", None))
        .unwrap();
    assert_eq!(stats.count, entries);
    assert!(!dir.path().join("backup.redb.partial").exists());
}

#[test]
fn a_backup_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = db();
    let existing = dir.path().join("old.redb");
    std::fs::write(&existing, b"an older backup").unwrap();
    let err = db.backup(&existing).unwrap_err().to_string();
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"an older backup");
}

#[test]
fn a_backup_never_deletes_a_file_it_did_not_create() {
    let dir = tempfile::tempdir().unwrap();
    let db = db();
    // A file of the user's where the backup would write its unfinished copy.
    let theirs = dir.path().join("crm.redb.partial");
    std::fs::write(&theirs, b"not a backup").unwrap();
    let backup = dir.path().join("crm.redb");
    db.backup(&backup).unwrap();
    assert_eq!(std::fs::read(&theirs).unwrap(), b"not a backup");
    let copy = rapport_engine::Database::open(&backup).unwrap();
    assert_eq!(copy.fingerprint().unwrap(), db.fingerprint().unwrap());
    // Nothing of the backup's own is left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn backing_up_a_database_named_like_an_unfinished_backup_leaves_it_whole() {
    // `rapport --db crm.partial backup crm` deleted the live database once.
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("crm.partial");
    let db = rapport_engine::Database::open(&live).unwrap();
    fill(&db);
    let before = db.fingerprint().unwrap();
    db.backup(dir.path().join("crm")).unwrap();
    assert_eq!(db.fingerprint().unwrap(), before);
    drop(db);
    let reopened = rapport_engine::Database::open(&live).unwrap();
    assert_eq!(reopened.fingerprint().unwrap(), before);
}
