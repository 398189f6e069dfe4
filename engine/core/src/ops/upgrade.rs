//! Derived data (indexes and statistics, all computable from the records) whose shape changed
//! between rapport versions. A meta key says which shape a file has; opening an older file
//! rebuilds what differs, in one transaction, so its records never need converting.

use serde::{Deserialize, Serialize};

use super::stats::StatKind;
use super::{INDEXED_CONTACT_FIELDS, Tx, View};
use crate::error::Result;
use crate::layout::{self, keys, tables};

/// The shape of the derived data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DerivedLayout {
    /// 2: contacts have no daily statistics (a date range reads the entry index).
    /// 3: custom fields are declared (a file's existing contact fields are declared on open).
    /// 4: a name or field value too long to keep whole in a key is cut and hashed
    /// (`Key::text`).
    /// 5: the contact columns (`columns.rs`) hold the fields filters test.
    version: u32,
    /// The contact fields with a field index.
    indexed_contact_fields: Vec<String>,
}

const VERSION: u32 = 5;

fn current() -> DerivedLayout {
    DerivedLayout {
        version: VERSION,
        indexed_contact_fields: INDEXED_CONTACT_FIELDS
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

impl View<'_> {
    /// Whether the file's derived data has this rapport's shape.
    pub fn derived_data_is_current(&self) -> Result<bool> {
        let stored: Option<DerivedLayout> =
            layout::get(self.kv, tables::META, &keys::derived_layout())?;
        Ok(stored == Some(current()))
    }
}

impl Tx<'_> {
    /// Rebuilds the derived data into this rapport's shape: the contact field index, and no
    /// daily statistics for contacts (rapport before version 2 kept them), and a declaration
    /// of every custom field contacts hold (before version 3 they were not declared), and the
    /// name keys of names too long to keep whole (before version 4 kept whole), and the contact
    /// columns (version 5 added them), built last, from the contacts as the steps before
    /// leave them.
    pub fn upgrade_derived_data(&mut self) -> Result<()> {
        self.rebuild_contact_field_index()?;
        self.rekey_long_names()?;
        self.declare_existing_contact_fields()?;
        self.rebuild_contact_columns()?;
        layout::remove_under(
            self.kv,
            tables::STATS_DAILY,
            &keys::stat_days_of_kind(StatKind::Contact as u8),
        )?;
        layout::put(self.kv, tables::META, &keys::derived_layout(), &current())
    }
}

#[cfg(test)]
mod tests {
    use crate::Database;
    use crate::layout::{self, keys, tables};
    use crate::model::Contact;
    use crate::store::key::Key;

    /// A file written before derived shape 4 keeps a long name whole in its name key; opening
    /// it brings the key to the cut-and-hash form, so the contact is found by its name.
    #[test]
    fn opening_an_older_file_rekeys_the_names_too_long_to_keep_whole() {
        let db = Database::in_memory().unwrap();
        let long = "L".repeat(1500);
        db.write(|tx| {
            tx.contact_create(Contact {
                no: "C1".into(),
                name: long.clone(),
                ..Default::default()
            })?;
            tx.contact_create(Contact {
                no: "C2".into(),
                name: "Short".into(),
                ..Default::default()
            })
        })
        .unwrap();
        db.write_raw(|kv, _| {
            kv.remove(
                tables::CONTACT_INDEX,
                keys::contact_by_name(&long, "C1").as_bytes(),
            )?;
            let whole = Key::new().tag(1).str(&long).str("C1");
            layout::mark(kv, tables::CONTACT_INDEX, &whole)?;
            let mut older = super::current();
            older.version = 3;
            layout::put(kv, tables::META, &keys::derived_layout(), &older)
        })
        .unwrap();
        assert!(db.read(|v| v.contacts_named(&long)).unwrap().is_empty());
        let reopened = Database::with_backend(db.backend().clone()).unwrap();
        let found = reopened.read(|v| v.contacts_named(&long)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            reopened.read(|v| v.contacts_named("short")).unwrap().len(),
            1
        );
        assert!(reopened.read(|v| v.integrity_check()).unwrap().is_ok());
    }

    #[test]
    fn shape_of_the_derived_data_bytes_still_decode() {
        crate::layout::assert_golden(
            "derived_layout",
            &super::DerivedLayout {
                version: 2,
                indexed_contact_fields: vec!["city".into()],
            },
        );
    }
}
