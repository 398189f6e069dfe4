//! The contact columns (issue 15): a compact copy of the fields filters test, kept in blocks,
//! always saying what the contact records say.

use rapport_engine::Database;
use rapport_engine::model::*;
use rapport_engine::ops::{ContactRow, RowVerdict, in_columns};
use rapport_testkit::*;

/// A small seeded generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CITIES: [&str; 5] = ["Oslo", "Bergen", "oslo", "", "Tromsø"];

fn declare_fields(db: &Database) {
    db.write(|tx| {
        for (name, field_type) in [
            ("revenue", FieldType::Number),
            ("tier", FieldType::Text),
            ("vip", FieldType::Flag),
            ("since", FieldType::Date),
        ] {
            tx.field_define(&FieldDef {
                record: FieldRecord::Contact,
                name: name.into(),
                field_type,
                description: String::new(),
            })?;
        }
        Ok(())
    })
    .unwrap();
}

fn random_contact(rng: &mut Rng, no: String) -> Contact {
    let mut c = Contact {
        name: format!("Name of {no}"),
        no,
        city: CITIES[rng.below(5) as usize].into(),
        country: ["NO", "SE", ""][rng.below(3) as usize].into(),
        privacy_blocked: rng.below(7) == 0,
        ..Default::default()
    };
    if rng.below(3) > 0 {
        let revenue = match rng.below(4) {
            0 => FieldValue::Number(rng.below(1000) as f64 + 0.5),
            1 => FieldValue::Number(-0.0),
            2 => FieldValue::Empty,
            _ => FieldValue::Number(rng.below(10) as f64),
        };
        c.custom.insert("revenue".into(), revenue);
    }
    if rng.below(2) == 0 {
        c.custom.insert(
            "tier".into(),
            ["gold", "", "silver"][rng.below(3) as usize].into(),
        );
    }
    if rng.below(4) == 0 {
        c.custom
            .insert("vip".into(), FieldValue::Bool(rng.below(2) == 0));
    }
    if rng.below(5) == 0 {
        c.custom.insert(
            "since".into(),
            FieldValue::Date(day("2026-01-01") + chrono::Days::new(rng.below(300))),
        );
    }
    c
}

/// Random creates, changes and deletes of contacts (some in bulk, in any key order), as many
/// as `ops`; returns the database.
fn churned(seed: u64, ops: usize) -> Database {
    let db = empty_db();
    declare_fields(&db);
    let mut rng = Rng(seed);
    let mut done = 0;
    while done < ops {
        let bulk = rng.below(3) == 0;
        let n = 1 + rng.below(if bulk { 400 } else { 20 }) as usize;
        let plan: Vec<(u64, u64)> = (0..n).map(|_| (rng.below(1500), rng.below(6))).collect();
        let mut contacts = Vec::new();
        for (k, _) in &plan {
            contacts.push(random_contact(&mut rng, format!("K{k:04}")));
        }
        db.write(|tx| {
            let apply = |tx: &mut rapport_engine::Tx<'_>| {
                for ((_, what), c) in plan.iter().zip(&contacts) {
                    let exists = tx.view().contact(&c.no)?.is_some();
                    match (exists, what) {
                        (true, 0) => tx.contact_delete(&c.no)?,
                        (true, _) => tx.contact_update(c.clone())?,
                        (false, _) => {
                            tx.contact_create(c.clone())?;
                        }
                    }
                }
                Ok(())
            };
            if bulk {
                tx.batch_contacts(apply)
            } else {
                apply(tx)
            }
        })
        .unwrap();
        done += n;
    }
    db
}

/// What a row of the columns gives for every field the columns hold, and what the record does.
fn row_and_record(row: &ContactRow<'_, '_>, c: &Contact) -> Vec<(String, String, String)> {
    let mut names: Vec<String> = Contact::FIELDS.iter().map(|s| s.to_string()).collect();
    names.extend(["revenue", "tier", "vip", "since", "missing"].map(String::from));
    names
        .into_iter()
        .filter(|n| in_columns(n))
        .map(|n| {
            let from_record = c
                .custom
                .get(&n)
                .cloned()
                .or_else(|| Contact::FIELDS.contains(&n.as_str()).then(|| c.field(&n)));
            let from_row = row.value(&n).map(FieldValueView::to_owned_value);
            (n, format!("{from_row:?}"), format!("{from_record:?}"))
        })
        .collect()
}

#[each_backend]
fn the_contact_columns_say_what_the_records_say_after_random_changes() {
    for seed in [1, 7, 42] {
        let db = churned(seed, 3000);
        assert_consistent(&db);
        let records = db
            .read(|v| {
                let mut all = Vec::new();
                v.each_contact(&mut |c| {
                    all.push(c);
                    Ok(true)
                })?;
                Ok(all)
            })
            .unwrap();
        assert!(records.len() > 600, "enough contacts for several blocks");
        let mut seen = Vec::new();
        db.read(|v| {
            v.scan_contacts_by_columns(
                None,
                &mut |row| {
                    let c = &records[seen.len()];
                    assert_eq!(row.no(), c.no, "rows in the order of the records");
                    for (name, row, record) in row_and_record(row, c) {
                        assert_eq!(row, record, "seed {seed}, contact {}, field {name}", c.no);
                    }
                    seen.push(c.no.clone());
                    RowVerdict::Drop
                },
                &mut |_, _| Ok(true),
            )
        })
        .unwrap();
        assert_eq!(seen.len(), records.len(), "a row for every contact");
    }
}

#[each_backend]
fn a_scan_by_the_contact_columns_reads_only_the_records_its_test_lets_pass_and_goes_on_after_its_cursor()
 {
    let db = churned(3, 1500);
    let oslo: Vec<String> = db
        .read(|v| {
            let mut out = Vec::new();
            v.each_contact(&mut |c| {
                if c.city == "Oslo" {
                    out.push(c.no);
                }
                Ok(true)
            })?;
            Ok(out)
        })
        .unwrap();
    let mut visited = Vec::new();
    let mut after = None;
    loop {
        let mut run = 0;
        let next = db
            .read(|v| {
                v.scan_contacts_by_columns(
                    after.as_ref(),
                    &mut |row| {
                        if row.value("city") == Some(FieldValueView::Text("Oslo")) {
                            RowVerdict::Read
                        } else {
                            RowVerdict::Drop
                        }
                    },
                    &mut |bytes, _| {
                        let bytes = bytes.expect("a record read");
                        let c: Contact = rapport_engine::store::codec::decode(bytes, "contact")?;
                        visited.push(c.no);
                        run += 1;
                        Ok(run < 7)
                    },
                )
            })
            .unwrap();
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(visited, oslo);
}
