//! The integrity check: recomputes the entry indexes, the statistics and the attachment
//! reference counts from the records, checks that each number series has reached its records'
//! numbers and that each custom value is of a declared field and a record that exists, and
//! reports every difference. Index checks run in constant
//! memory (a point lookup per expected key, then a pass over the index); statistics are
//! recomputed in memory, one counter per key, and custom values are read into memory, then
//! checked record by record.

use std::collections::BTreeMap;

use super::View;
use super::catalogue::Blob;
use super::entries::index_keys;
use super::stats::{self, Counters};
use crate::error::Result;
use crate::layout::{self, keys, tables};
use crate::model::{Attachment, FieldRecord, FieldValue, InteractionLogEntry, normalize_code};
use crate::store::key::KeyReader;
use crate::store::{Order, Table, codec};

/// What the integrity check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Entries read.
    pub entries_checked: u64,
    /// Every difference, in words; empty when all is well.
    pub differences: Vec<String>,
}

impl IntegrityReport {
    /// Whether nothing differs.
    pub fn is_ok(&self) -> bool {
        self.differences.is_empty()
    }
}

fn counters_text(c: Option<&Counters>) -> String {
    c.map_or_else(
        || "nothing".to_string(),
        |c| format!("count {} cost {} duration {}", c.count, c.cost, c.duration),
    )
}

impl View<'_> {
    /// Recomputes indexes, statistics and attachment references from the records and compares.
    pub fn integrity_check(&self) -> Result<IntegrityReport> {
        let mut report = IntegrityReport::default();
        let mut totals = BTreeMap::new();
        let mut daily = BTreeMap::new();
        let mut attachment_refs: BTreeMap<u64, u64> = BTreeMap::new();
        let mut missing = Vec::new();
        self.each_entry(&mut |e: InteractionLogEntry| {
            report.entries_checked += 1;
            for key in index_keys(&e) {
                if !layout::exists(self.kv, tables::ENTRY_INDEX, &key)? {
                    missing.push(format!(
                        "entry {}: index key {:02x?} is missing",
                        e.entry_no,
                        key.as_bytes()
                    ));
                }
            }
            stats::recompute(std::iter::once(&e), &mut totals, &mut daily);
            if e.attachment_no != 0 {
                *attachment_refs.entry(e.attachment_no).or_default() += 1;
            }
            Ok(true)
        })?;
        report.differences.extend(missing);
        let mut extra = Vec::new();
        layout::scan_all(
            self.kv,
            tables::ENTRY_INDEX,
            Order::Ascending,
            &mut |k, _| {
                let entry_no = layout::trailing_u64(k);
                let expected = match layout::get::<InteractionLogEntry>(
                    self.kv,
                    tables::ENTRIES,
                    &keys::no(entry_no),
                )? {
                    Some(e) => index_keys(&e).iter().any(|key| key.as_bytes() == k),
                    None => false,
                };
                if !expected {
                    extra.push(format!(
                        "index key {k:02x?} names entry {entry_no}, which does not produce it"
                    ));
                }
                Ok(true)
            },
        )?;
        report.differences.extend(extra);
        for (table, expected) in [(tables::STATS, &totals), (tables::STATS_DAILY, &daily)] {
            let stored = stats::stored(self.kv, table)?;
            for (key, want) in expected {
                if stored.get(key) != Some(want) {
                    report.differences.push(format!(
                        "{} {key:02x?}: stored {}, recomputed {}",
                        table.name(),
                        counters_text(stored.get(key)),
                        counters_text(Some(want))
                    ));
                }
            }
            for (key, have) in &stored {
                if !expected.contains_key(key) {
                    report.differences.push(format!(
                        "{} {key:02x?}: stored {}, recomputed nothing",
                        table.name(),
                        counters_text(Some(have))
                    ));
                }
            }
        }
        let (expected, stored) = (
            self.contact_field_index_expected()?,
            self.contact_field_index_stored()?,
        );
        for (key, want) in &expected {
            if stored.get(key) != Some(want) {
                report.differences.push(format!(
                    "contact field index {key:02x?}: stored {:02x?}, recomputed {want:02x?}",
                    stored.get(key)
                ));
            }
        }
        for (key, have) in &stored {
            if !expected.contains_key(key) {
                report.differences.push(format!(
                    "contact field index {key:02x?}: stored {have:02x?}, recomputed nothing"
                ));
            }
        }
        self.check_contact_columns(&mut report.differences)?;
        for t in self.templates()? {
            for row in t.languages.iter().filter(|r| r.attachment_no != 0) {
                *attachment_refs.entry(row.attachment_no).or_default() += 1;
            }
        }
        let mut blob_refs: BTreeMap<String, u64> = BTreeMap::new();
        let mut attachments = Vec::new();
        layout::scan_all(
            self.kv,
            tables::ATTACHMENTS,
            Order::Ascending,
            &mut |_, v| {
                attachments.push(codec::decode::<Attachment>(v, "attachment")?);
                Ok(true)
            },
        )?;
        for a in &attachments {
            let want = attachment_refs.remove(&a.no).unwrap_or(0);
            if a.references != want {
                report.differences.push(format!(
                    "attachment {}: {} references stored, {want} found",
                    a.no, a.references
                ));
            }
            *blob_refs.entry(a.content_hash.clone()).or_default() += 1;
        }
        for (no, n) in attachment_refs {
            report.differences.push(format!(
                "attachment {no}: referenced {n} time(s) but missing"
            ));
        }
        layout::scan_all(self.kv, tables::BLOBS, Order::Ascending, &mut |k, v| {
            let blob: Blob = codec::decode(v, "attachment content")?;
            let hash = crate::store::key::KeyReader::new(k)
                .str()
                .unwrap_or_default();
            let want = blob_refs.remove(&hash).unwrap_or(0);
            if blob.references != want {
                report.differences.push(format!(
                    "attachment content {hash}: {} references stored, {want} found",
                    blob.references
                ));
            }
            Ok(true)
        })?;
        for hash in blob_refs.keys() {
            report
                .differences
                .push(format!("attachment content {hash} is missing"));
        }
        report.differences.extend(self.series_differences()?);
        report.differences.extend(self.custom_value_differences()?);
        Ok(report)
    }
}

/// The number series whose numbers key a table: the counter must have reached its last key.
const SERIES: [(&str, Table); 4] = [
    ("entry", tables::ENTRIES),
    ("campaign_entry", tables::CAMPAIGN_ENTRIES),
    ("attachment", tables::ATTACHMENTS),
    ("logged_segment", tables::LOGGED_SEGMENTS),
];

impl View<'_> {
    /// Each number series whose counter is behind the numbers its records have (the next
    /// number taken would be one in use).
    pub(crate) fn series_differences(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (series, table) in SERIES {
            let mut last = 0;
            layout::scan_all(self.kv, table, Order::Descending, &mut |k, _| {
                last = KeyReader::new(k).u64().unwrap_or(0);
                Ok(false)
            })?;
            let counter = layout::last_number(self.kv, series)?;
            if counter < last {
                out.push(format!(
                    "the {series} number series stands at {counter}, below {table} {last}",
                    table = table.name()
                ));
            }
        }
        Ok(out)
    }

    /// Each custom value of a salesperson, template, campaign or entry whose field is not
    /// declared, is not of its type, or whose record does not exist (under the id its record
    /// is kept by: an upper-case code, an entry's 20-digit number); and any key of the table
    /// that is none of these.
    pub(crate) fn custom_value_differences(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let kinds = [
            FieldRecord::Salesperson,
            FieldRecord::Template,
            FieldRecord::Campaign,
            FieldRecord::Entry,
        ];
        let mut values: Vec<(FieldRecord, String, String, FieldValue)> = Vec::new();
        layout::scan_all(
            self.kv,
            tables::CUSTOM_VALUES,
            Order::Ascending,
            &mut |k, v| {
                let record = kinds
                    .iter()
                    .find(|r| k.starts_with(keys::custom_values_of_kind(**r).as_bytes()));
                let parts = record.and_then(|r| {
                    let mut rest = layout::after_prefix(k, &keys::custom_values_of_kind(*r));
                    Some((*r, rest.str()?, rest.str()?))
                });
                match parts {
                    Some((record, id, name)) => {
                        values.push((record, id, name, codec::decode(v, "custom value")?));
                    }
                    None => out.push(format!(
                        "custom value key {} is of no record that has custom values",
                        crate::store::key::hex(k)
                    )),
                }
                Ok(true)
            },
        )?;
        for record in kinds {
            let declared = self.declared_fields(record)?;
            for (_, id, name, value) in values.iter().filter(|(r, ..)| *r == record) {
                let (label, owner) = match record {
                    FieldRecord::Entry => {
                        let no = id.parse::<u64>().ok().filter(|n| keys::entry_id(*n) == *id);
                        let label = format!(
                            "{} {}",
                            record.word(),
                            no.map_or(id.clone(), |n| n.to_string())
                        );
                        (
                            label,
                            match no {
                                Some(no) => self.entry(no)?.is_some(),
                                None => false,
                            },
                        )
                    }
                    _ if normalize_code(id) != *id => (format!("{} {id}", record.word()), false),
                    FieldRecord::Salesperson => {
                        (format!("salesperson {id}"), self.salesperson(id)?.is_some())
                    }
                    FieldRecord::Template => {
                        (format!("template {id}"), self.template(id)?.is_some())
                    }
                    _ => (format!("campaign {id}"), self.campaign(id)?.is_some()),
                };
                if !owner {
                    out.push(format!("{label} has a value of {name} but does not exist"));
                    continue;
                }
                let one = BTreeMap::from([(name.clone(), value.clone())]);
                if let Err(e) = self.check_custom_values_in(&declared, record, &label, &one) {
                    out.push(e.to_string());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::{self, keys, tables};
    use crate::model::{Contact, InteractionGroup, InteractionTemplate, Salesperson};
    use crate::ops::InteractionDraft;
    use crate::store::{KvRead, KvWrite, Order, Table};
    use crate::{Database, Result};

    fn logged_db() -> Database {
        let db = Database::in_memory().unwrap();
        db.write(|tx| {
            tx.group_define(InteractionGroup {
                code: "G".into(),
                description: String::new(),
            })?;
            tx.template_define(InteractionTemplate {
                code: "T".into(),
                group: "G".into(),
                description: "Call".into(),
                ..Default::default()
            })?;
            tx.salesperson_create(Salesperson {
                code: "S".into(),
                ..Default::default()
            })?;
            tx.contact_create(Contact {
                no: "C".into(),
                name: "C".into(),
                salesperson: "S".into(),
                ..Default::default()
            })?;
            let attachment = crate::model::AttachmentContent {
                file_name: "a.txt".into(),
                content: b"x".to_vec(),
            };
            tx.log_interaction(InteractionDraft {
                contact: "C".into(),
                template: "T".into(),
                attachment: Some(attachment),
                ..Default::default()
            })
        })
        .unwrap();
        assert!(db.read(|v| v.integrity_check()).unwrap().is_ok());
        db
    }

    /// Changes raw storage behind the workflows' back.
    fn tamper(db: &Database, change: impl FnOnce(&mut dyn KvWrite) -> Result<()>) -> Vec<String> {
        let mut txn = db.backend.begin_write().unwrap();
        change(&mut *txn).unwrap();
        txn.commit().unwrap();
        db.read(|v| v.integrity_check()).unwrap().differences
    }

    fn first_key(kv: &dyn KvRead, table: Table) -> Vec<u8> {
        let mut key = Vec::new();
        kv.scan(table, &[], None, Order::Ascending, &mut |k, _| {
            key = k.to_vec();
            false
        })
        .unwrap();
        key
    }

    #[test]
    fn a_wrong_statistic_is_reported() {
        let db = logged_db();
        let diff = tamper(&db, |kv| {
            let key = first_key(&*kv, tables::STATS);
            Ok(kv.put(
                tables::STATS,
                &key,
                &crate::store::codec::encode(&super::Counters {
                    count: 9,
                    ..Default::default()
                })?,
            )?)
        });
        assert!(
            diff.iter()
                .any(|d| d.starts_with("stats ") && d.contains("count 9")),
            "{diff:?}"
        );
    }

    #[test]
    fn a_wrong_contact_field_count_is_reported() {
        let db = logged_db();
        let diff = tamper(&db, |kv| {
            let key = keys::contact_field_count("city", "");
            layout::put(kv, tables::CONTACT_INDEX, &key, &7_u64)
        });
        assert!(
            diff.iter().any(|d| d.starts_with("contact field index")),
            "{diff:?}"
        );
    }

    #[test]
    fn a_file_from_an_older_rapport_gets_the_current_derived_data_when_opened() {
        let db = logged_db();
        let diff = tamper(&db, |kv| {
            let mut index = Vec::new();
            for prefix in [keys::contact_field_index(), keys::contact_field_counts()] {
                layout::scan_prefix(
                    &*kv,
                    tables::CONTACT_INDEX,
                    &prefix,
                    Order::Ascending,
                    &mut |k, _| {
                        index.push(k.to_vec());
                        Ok(true)
                    },
                )?;
            }
            for k in &index {
                kv.delete(tables::CONTACT_INDEX, k)?;
            }
            layout::delete(kv, tables::META, &keys::derived_layout())?;
            // rapport before version 2 kept daily statistics for contacts.
            let day = keys::stat_day(
                crate::ops::StatKind::Contact as u8,
                "C",
                0,
                chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            );
            layout::put(
                kv,
                tables::STATS_DAILY,
                &day,
                &super::Counters {
                    count: 1,
                    ..Default::default()
                },
            )
        });
        assert!(!diff.is_empty(), "the index was not removed");
        assert!(!db.read(|v| v.derived_data_is_current()).unwrap());
        db.upgrade().unwrap();
        assert!(db.read(|v| v.derived_data_is_current()).unwrap());
        assert!(db.read(|v| v.integrity_check()).unwrap().is_ok());
    }

    #[test]
    fn opening_a_file_whose_contacts_have_undeclared_custom_fields_declares_them() {
        use crate::model::{Contact, FieldRecord, FieldType, FieldValue};
        let db = logged_db();
        tamper(&db, |kv| {
            // Before version 3 a contact could hold any custom field.
            for (no, size) in [("X1", FieldValue::Number(12.0)), ("X2", "big".into())] {
                let mut c = Contact {
                    no: no.into(),
                    name: no.into(),
                    company_no: no.into(),
                    ..Default::default()
                };
                c.custom.insert("industry".into(), "retail".into());
                c.custom.insert("size".into(), size);
                layout::put(kv, tables::CONTACTS, &keys::code(no), &c)?;
            }
            layout::delete(kv, tables::META, &keys::derived_layout())?;
            Ok(())
        });
        db.upgrade().unwrap();
        let declared = db
            .read(|v| v.declared_fields(FieldRecord::Contact))
            .unwrap();
        let types: Vec<_> = declared
            .iter()
            .map(|d| (d.name.as_str(), d.field_type))
            .collect();
        assert_eq!(
            types,
            [("industry", FieldType::Text), ("size", FieldType::Text)],
            "a field with values of one type gets that type; mixed values make it text"
        );
        let x1 = db.read(|v| v.contact("X1")).unwrap().unwrap();
        assert_eq!(x1.field("size"), FieldValue::Text("12".into()));
        assert_eq!(x1.field("industry"), FieldValue::Text("retail".into()));
    }

    #[test]
    fn a_missing_index_key_is_reported() {
        let db = logged_db();
        let diff = tamper(&db, |kv| {
            assert!(layout::delete(
                kv,
                tables::ENTRY_INDEX,
                &keys::entry_by_template("T", 1)
            )?);
            Ok(())
        });
        assert!(diff.iter().any(|d| d.contains("is missing")), "{diff:?}");
    }

    #[test]
    fn an_extra_index_key_is_reported() {
        let db = logged_db();
        let diff = tamper(&db, |kv| {
            layout::mark(kv, tables::ENTRY_INDEX, &keys::canceled_entry(1))
        });
        assert!(
            diff.iter().any(|d| d.contains("does not produce it")),
            "{diff:?}"
        );
    }

    #[test]
    fn a_wrong_attachment_reference_count_is_reported() {
        let db = logged_db();
        let diff = tamper(&db, |kv| {
            let mut a =
                layout::get::<crate::model::Attachment>(&*kv, tables::ATTACHMENTS, &keys::no(1))?
                    .unwrap();
            a.references = 5;
            layout::put(kv, tables::ATTACHMENTS, &keys::no(1), &a)
        });
        assert!(
            diff.iter()
                .any(|d| d.contains("attachment 1: 5 references stored, 1 found")),
            "{diff:?}"
        );
    }
}
