//! A whole database exported as records and imported into an empty one (`export database` /
//! `import database`): the same records, derived data rebuilt, all or nothing.

use std::collections::BTreeMap;

use rapport_engine::model::*;
use rapport_engine::ops::{CancelMode, DumpRecord, StatKind};
use rapport_engine::{Database, Error};
use rapport_testkit::*;

/// [`db`] with a logged segment in a campaign, a manual entry with an attachment (canceled),
/// a declared contact field with a value, and a salesperson's custom value.
fn busy_db() -> Database {
    let db = db();
    db.write(|tx| {
        for (record, name, field_type) in [
            (FieldRecord::Contact, "region", FieldType::Text),
            (FieldRecord::Salesperson, "manager", FieldType::Flag),
        ] {
            tx.field_define(&FieldDef {
                record,
                name: name.into(),
                field_type,
                description: String::new(),
            })?;
        }
        let mut p1 = tx.view().contact("P1")?.expect("P1");
        p1.custom
            .insert("region".into(), FieldValue::Text("North".into()));
        tx.contact_update(p1)?;
        tx.custom_values_set(
            FieldRecord::Salesperson,
            "JO",
            "salesperson JO",
            &BTreeMap::from([("manager".to_string(), FieldValue::Bool(true))]),
        )?;
        log_segment_in_campaign(tx, "BUS", &["P1", "C2"])?;
        Ok(())
    })
    .unwrap();
    let mut d = draft("P2", "CALL");
    d.attachment = Some(attachment("notes.txt", b"call notes"));
    let manual = log(&db, d);
    db.write(|tx| tx.set_entries_canceled(&[manual], CancelMode::Cancel, false))
        .unwrap();
    assert_consistent(&db);
    db
}

fn dump(db: &Database) -> Vec<DumpRecord> {
    let mut records = Vec::new();
    db.read(|v| {
        v.dump(&mut |r| {
            records.push(r);
            Ok(true)
        })
    })
    .unwrap();
    records
}

fn restore(db: &Database, records: &[DumpRecord]) -> Result<u64, Error> {
    db.write(|tx| {
        let mut rest = records.iter().cloned().zip(1..);
        tx.restore("crm.jsonl", &mut || {
            Ok(rest.next().map(|(r, line)| (line, r)))
        })
    })
}

fn fingerprint(db: &Database) -> String {
    db.read(|v| v.content_fingerprint()).unwrap()
}

#[each_backend]
fn a_whole_database_imported_into_an_empty_one_has_the_same_content_fingerprint() {
    let source = busy_db();
    let records = dump(&source);
    let target = empty_db();
    let n = restore(&target, &records).unwrap();
    assert_eq!(n, records.len() as u64);
    assert_eq!(fingerprint(&target), fingerprint(&source));
    assert_consistent(&target);
    // The derived data works: statistics and the indexes behind lookups answer as before.
    let stats = |db: &Database| {
        db.read(|v| v.statistics(StatKind::Template, "BUS", None))
            .unwrap()
    };
    assert_eq!(stats(&target), stats(&source));
    let named = |db: &Database| db.read(|v| v.contacts_named("Anna Berg")).unwrap();
    assert_eq!(named(&target), named(&source));
    let timeline = |db: &Database| db.read(|v| v.timeline("P1")).unwrap();
    assert_eq!(timeline(&target), timeline(&source));
}

#[each_backend]
fn derived_data_is_not_exported() {
    let records = dump(&busy_db());
    for derived in [
        "contact_index",
        "entry_index",
        "stats",
        "stats_daily",
        "contact_columns",
    ] {
        assert!(
            records.iter().all(|r| r.table != derived),
            "{derived} exported"
        );
    }
    assert!(records.iter().any(|r| r.table == "entries"));
}

#[each_backend]
fn dates_in_an_export_are_written_as_dates() {
    let records = dump(&busy_db());
    let entry = records.iter().find(|r| r.table == "entries").unwrap();
    assert_eq!(entry.value["date"], TODAY, "{:?}", entry.value);
}

#[each_backend]
fn a_whole_database_is_imported_only_into_an_empty_one() {
    let records = dump(&busy_db());
    let target = db();
    let before = fingerprint(&target);
    let err = restore(&target, &records).unwrap_err();
    assert!(err.to_string().contains("already holds records"), "{err}");
    assert_eq!(fingerprint(&target), before);
}

#[each_backend]
fn an_export_whose_records_do_not_hold_together_is_refused_and_nothing_is_written() {
    let mut records = dump(&busy_db());
    // The attachment the canceled entry names is left out.
    records.retain(|r| r.table != "attachments");
    let target = empty_db();
    let before = target.fingerprint().unwrap();
    let err = restore(&target, &records).unwrap_err();
    assert!(err.to_string().contains("do not hold together"), "{err}");
    assert!(err.to_string().contains("attachment"), "{err}");
    assert_eq!(target.fingerprint().unwrap(), before);
}

#[each_backend]
fn a_line_that_is_not_a_record_of_its_table_is_refused_naming_the_line() {
    let mut records = dump(&busy_db());
    let i = records.iter().position(|r| r.table == "contacts").unwrap();
    records[i].value = serde_json::json!({"nickname": "Anna"});
    let target = empty_db();
    let before = target.fingerprint().unwrap();
    let err = restore(&target, &records).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("crm.jsonl line {}", i + 1)),
        "{text}"
    );
    assert!(text.contains("not a contacts record"), "{text}");
    assert_eq!(target.fingerprint().unwrap(), before);
}

#[each_backend]
fn a_record_whose_key_does_not_match_it_is_refused() {
    let mut records = dump(&busy_db());
    let i = records.iter().position(|r| r.table == "contacts").unwrap();
    records[i].value["no"] = serde_json::json!("ZZ9");
    let err = restore(&empty_db(), &records).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the contacts record"),
        "{err}"
    );
    // Of every table whose key its record says: a salesperson's code too.
    let mut records = dump(&busy_db());
    let i = records
        .iter()
        .position(|r| r.table == "salespeople")
        .unwrap();
    records[i].value["code"] = serde_json::json!("ZZ");
    let err = restore(&empty_db(), &records).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the salespeople record"),
        "{err}"
    );
}

#[each_backend]
fn derived_data_in_an_export_is_refused() {
    let mut records = dump(&busy_db());
    records.push(DumpRecord {
        table: "stats".into(),
        key: "00".into(),
        value: serde_json::Value::Null,
    });
    let err = restore(&empty_db(), &records).unwrap_err();
    assert!(err.to_string().contains("derived data"), "{err}");
}

#[each_backend]
fn the_content_fingerprint_changes_with_any_record() {
    let db = busy_db();
    let before = fingerprint(&db);
    db.write(|tx| {
        let mut c2 = tx.view().contact("C2")?.expect("C2");
        c2.city = "Oslo".into();
        tx.contact_update(c2)
    })
    .unwrap();
    assert_ne!(fingerprint(&db), before);
}

#[each_backend]
fn a_record_out_of_the_exports_order_or_twice_is_refused() {
    let records = dump(&busy_db());
    let i = records.iter().position(|r| r.table == "relations").unwrap();
    let mut twice = records.clone();
    twice.insert(i + 1, records[i].clone());
    let err = restore(&empty_db(), &twice).unwrap_err();
    assert!(
        err.to_string()
            .contains("is not after the relations key before it"),
        "{err}"
    );
    let mut late = records.clone();
    let salesperson = late.iter().position(|r| r.table == "salespeople").unwrap();
    let moved = late.remove(salesperson);
    late.push(moved);
    let err = restore(&empty_db(), &late).unwrap_err();
    assert!(err.to_string().contains("salespeople comes after"), "{err}");
}

#[each_backend]
fn a_lookup_that_holds_a_number_cannot_be_empty() {
    let mut records = dump(&busy_db());
    let i = records
        .iter()
        .position(|r| r.table == "lookup" && r.key.starts_with("01"))
        .unwrap();
    records[i].value = serde_json::Value::Null;
    let err = restore(&empty_db(), &records).unwrap_err();
    assert!(err.to_string().contains("is not a lookup record"), "{err}");
}

#[each_backend]
fn a_number_series_behind_its_records_is_refused() {
    let mut records = dump(&busy_db());
    // Meta tag 1, the series name "entry", its terminator.
    let counter = "01656e74727900";
    let i = records
        .iter()
        .position(|r| r.table == "meta" && r.key.starts_with(counter))
        .unwrap();
    records[i].value = serde_json::json!(1);
    let err = restore(&empty_db(), &records).unwrap_err();
    assert!(
        err.to_string()
            .contains("the entry number series stands at 1, below entries"),
        "{err}"
    );
}

#[each_backend]
fn a_custom_value_of_a_field_not_declared_is_refused() {
    let mut records = dump(&busy_db());
    records.retain(|r| !(r.table == "fields" && r.value["name"] == "manager"));
    let err = restore(&empty_db(), &records).unwrap_err();
    assert!(err.to_string().contains("manager"), "{err}");
    assert!(err.to_string().contains("do not hold together"), "{err}");
}

#[each_backend]
fn a_whole_database_import_is_one_receipt_in_the_history_not_its_records() {
    let source = busy_db();
    let records = dump(&source);
    let target = empty_db();
    let n = restore(&target, &records).unwrap();
    let ops = target
        .read(|v| {
            let mut ops = Vec::new();
            v.operations(None, rapport_engine::store::Order::Ascending, &mut |op| {
                ops.push(op);
                Ok(true)
            })?;
            Ok(ops)
        })
        .unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0].kind, "restore");
    assert_eq!(
        ops[0].what,
        format!("imported a whole database: {n} records from crm.jsonl")
    );
    assert!(
        ops[0].counts.is_empty() && ops[0].chunks == 0,
        "{:?}",
        ops[0]
    );
    assert!(
        target
            .read(|v| v.operation_changes(ops[0].no))
            .unwrap()
            .is_empty()
    );
    let err = target.write(|tx| tx.undo(ops[0].no)).unwrap_err();
    assert_eq!(err.kind(), rapport_engine::ErrorKind::WrongState, "{err}");
}
