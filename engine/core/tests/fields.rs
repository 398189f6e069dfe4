//! Spec 1, custom fields: declared first (name, type), on contacts, salespeople, templates,
//! campaigns and entries; a value of an undeclared field, or of another type, is refused.

use std::collections::BTreeMap;

use rapport_engine::model::*;
use rapport_engine::ops::entry_id;
use rapport_testkit::*;

fn declare(db: &rapport_engine::Database, record: FieldRecord, name: &str, field_type: FieldType) {
    db.write(|tx| {
        tx.field_define(&FieldDef {
            record,
            name: name.into(),
            field_type,
            description: String::new(),
        })
    })
    .unwrap();
}

fn company(name: &str, custom: &[(&str, FieldValue)]) -> Contact {
    let mut c = Contact {
        name: name.into(),
        ..Default::default()
    };
    for (k, v) in custom {
        c.custom.insert((*k).into(), v.clone());
    }
    c
}

fn values(pairs: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

#[each_backend]
fn a_value_of_an_undeclared_field_is_refused_naming_the_closest_field() {
    let db = db();
    declare(&db, FieldRecord::Contact, "industry", FieldType::Text);
    let c = company("A", &[("industy", "retail".into())]);
    let err = refused(&db, |tx| tx.contact_create(c.clone())).to_string();
    assert!(
        err.contains("industy does not exist on contact; did you mean industry?"),
        "{err}"
    );
    let c = company("A", &[("knd", "person".into())]);
    let err = refused(&db, |tx| tx.contact_create(c.clone())).to_string();
    assert!(err.contains("did you mean kind?"), "{err}");
}

#[each_backend]
fn a_declared_field_holds_values_of_its_type_only() {
    let db = db();
    declare(&db, FieldRecord::Contact, "employees", FieldType::Number);
    let c = company("A", &[("employees", "many".into())]);
    let err = refused(&db, |tx| tx.contact_create(c.clone())).to_string();
    assert!(
        err.contains("employees is a number field, not text"),
        "{err}"
    );
    let c = company("A", &[("employees", FieldValue::Number(12.0))]);
    let no = db.write(|tx| tx.contact_create(c.clone())).unwrap();
    let stored = db.read(|v| v.contact(&no)).unwrap().unwrap();
    assert_eq!(stored.field("employees"), FieldValue::Number(12.0));
}

#[each_backend]
fn a_field_may_not_be_declared_with_the_name_of_a_built_in_field() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.field_define(&FieldDef {
            record: FieldRecord::Salesperson,
            name: "email".into(),
            ..Default::default()
        })
    })
    .to_string();
    assert!(err.contains("is a built-in field of salesperson"), "{err}");
}

#[each_backend]
fn a_field_name_is_a_name_scripts_and_csv_headers_can_write() {
    let db = db();
    for name in ["", "no letters", "1st", "a-b"] {
        let err = refused(&db, |tx| {
            tx.field_define(&FieldDef {
                name: name.into(),
                ..Default::default()
            })
        })
        .to_string();
        assert!(err.contains("is not a field name"), "{name:?}: {err}");
    }
}

#[each_backend]
fn a_field_that_a_record_uses_cannot_be_removed() {
    let db = db();
    declare(&db, FieldRecord::Contact, "industry", FieldType::Text);
    let c = company("A", &[("industry", "retail".into())]);
    let no = db.write(|tx| tx.contact_create(c.clone())).unwrap();
    let err = refused(&db, |tx| tx.field_remove(FieldRecord::Contact, "industry")).to_string();
    assert!(err.contains(&format!("contact {no} has a value")), "{err}");
}

#[each_backend]
fn an_unused_field_can_be_removed() {
    let db = db();
    declare(&db, FieldRecord::Entry, "channel", FieldType::Text);
    db.write(|tx| tx.field_remove(FieldRecord::Entry, "channel"))
        .unwrap();
    assert!(
        db.read(|v| v.declared_fields(FieldRecord::Entry))
            .unwrap()
            .is_empty()
    );
}

#[each_backend]
fn a_fields_type_cannot_change_while_a_record_has_a_value() {
    let db = db();
    declare(&db, FieldRecord::Salesperson, "manager", FieldType::Text);
    db.write(|tx| {
        tx.custom_values_set(
            FieldRecord::Salesperson,
            "JO",
            "salesperson JO",
            &values(&[("manager", "PS".into())]),
        )
    })
    .unwrap();
    let err = refused(&db, |tx| {
        tx.field_define(&FieldDef {
            record: FieldRecord::Salesperson,
            name: "manager".into(),
            field_type: FieldType::Number,
            description: String::new(),
        })
    })
    .to_string();
    assert!(err.contains("salesperson JO has a value"), "{err}");
}

#[each_backend]
fn custom_values_of_other_records_are_kept_by_record_and_checked_like_a_contacts() {
    let db = db();
    declare(&db, FieldRecord::Salesperson, "manager", FieldType::Text);
    let err = refused(&db, |tx| {
        tx.custom_values_set(
            FieldRecord::Salesperson,
            "JO",
            "salesperson JO",
            &values(&[("manger", "PS".into())]),
        )
    })
    .to_string();
    assert!(err.contains("did you mean manager?"), "{err}");
    db.write(|tx| {
        tx.custom_values_set(
            FieldRecord::Salesperson,
            "JO",
            "salesperson JO",
            &values(&[("manager", "PS".into())]),
        )
    })
    .unwrap();
    let jo = db
        .read(|v| v.custom_values(FieldRecord::Salesperson, "JO"))
        .unwrap();
    assert_eq!(jo, values(&[("manager", "PS".into())]));
    let ps = db
        .read(|v| v.custom_values(FieldRecord::Salesperson, "PS"))
        .unwrap();
    assert!(ps.is_empty());
}

#[each_backend]
fn a_purged_entry_takes_its_custom_values_with_it() {
    let db = db();
    declare(&db, FieldRecord::Entry, "channel", FieldType::Text);
    let no = log(&db, draft("P1", "CALL"));
    db.write(|tx| {
        tx.custom_values_set(
            FieldRecord::Entry,
            &entry_id(no),
            "entry",
            &values(&[("channel", "web".into())]),
        )?;
        tx.set_entries_canceled(&[no], rapport_engine::ops::CancelMode::Cancel, false)?;
        tx.delete_canceled_entries(&Default::default(), false)
    })
    .unwrap();
    assert!(
        db.read(|v| v.custom_values(FieldRecord::Entry, &entry_id(no)))
            .unwrap()
            .is_empty()
    );
    db.write(|tx| tx.field_remove(FieldRecord::Entry, "channel"))
        .unwrap();
}

#[each_backend]
fn a_deleted_template_takes_its_custom_values_with_it() {
    let db = db();
    declare(&db, FieldRecord::Template, "owner", FieldType::Text);
    db.write(|tx| {
        tx.custom_values_set(
            FieldRecord::Template,
            "INCOME",
            "template INCOME",
            &values(&[("owner", "JO".into())]),
        )?;
        tx.template_delete("INCOME")
    })
    .unwrap();
    db.write(|tx| tx.field_remove(FieldRecord::Template, "owner"))
        .unwrap();
}
