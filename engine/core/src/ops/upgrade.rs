//! Derived data (indexes and statistics, all computable from the records) whose shape changed
//! between rapport versions. A meta key says which shape a file has; opening an older file
//! rebuilds what differs, in one transaction, so its records never need converting.

use serde::{Deserialize, Serialize};

use super::stats::StatKind;
use super::{INDEXED_CONTACT_FIELDS, Tx, View};
use crate::error::Result;
use crate::layout::{self, keys, tables};
use crate::store::Order;

/// The shape of the derived data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DerivedLayout {
    /// 2: contacts have no daily statistics (a date range reads the entry index).
    /// 3: custom fields are declared (a file's existing contact fields are declared on open).
    version: u32,
    /// The contact fields with a field index.
    indexed_contact_fields: Vec<String>,
}

const VERSION: u32 = 3;

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
    /// of every custom field contacts hold (before version 3 they were not declared).
    pub fn upgrade_derived_data(&mut self) -> Result<()> {
        self.rebuild_contact_field_index()?;
        self.declare_existing_contact_fields()?;
        let contact_days = keys::stat_days_of_kind(StatKind::Contact as u8);
        let mut old = Vec::new();
        layout::scan_prefix(
            &*self.kv,
            tables::STATS_DAILY,
            &contact_days,
            Order::Ascending,
            &mut |k, _| {
                old.push(k.to_vec());
                Ok(true)
            },
        )?;
        for k in old {
            self.kv.remove(tables::STATS_DAILY, &k)?;
        }
        layout::put(self.kv, tables::META, &keys::derived_layout(), &current())
    }
}

#[cfg(test)]
mod tests {
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
