//! Cancel (spec 3): on entries (with the parent rules), on logged segments and campaign entries;
//! and evaluating entries.

use super::Tx;
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{CampaignEntry, Evaluation, LoggedSegment};
use crate::store::Order;
use crate::store::key::Key;

/// What to do to the canceled flag of selected entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    /// Set it.
    Cancel,
    /// Clear it.
    Uncancel,
    /// The negation of the first entry's flag, applied to all.
    Toggle,
}

/// What canceling, un-canceling or toggling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOutcome {
    /// The flag the selected entries now have.
    pub canceled: bool,
    /// The entries whose flag changed, in selection order (the others had it already).
    pub changed: Vec<u64>,
}

impl Tx<'_> {
    /// Cancels, un-cancels or toggles the selected entries (an empty selection cancels nothing);
    /// returns the new flag and the entries that changed. Un-canceling is
    /// refused while an entry's logged segment or campaign entry is canceled. With
    /// `remove_unique_attachments`, canceling drops an attachment that only this entry uses.
    pub fn set_entries_canceled(
        &mut self,
        entry_nos: &[u64],
        mode: CancelMode,
        remove_unique_attachments: bool,
    ) -> Result<CancelOutcome> {
        self.batch_statistics(|tx| {
            tx.set_entries_canceled_unbatched(entry_nos, mode, remove_unique_attachments)
        })
    }

    fn set_entries_canceled_unbatched(
        &mut self,
        entry_nos: &[u64],
        mode: CancelMode,
        remove_unique_attachments: bool,
    ) -> Result<CancelOutcome> {
        let entries = self.require_entries(entry_nos)?;
        let canceled = match (mode, entries.first()) {
            (CancelMode::Cancel, _) => true,
            (CancelMode::Uncancel, _) => false,
            (CancelMode::Toggle, Some(first)) => !first.canceled,
            (CancelMode::Toggle, None) => {
                return Err(Error::required(
                    "toggle canceled",
                    "entries",
                    "select at least one interaction log entry to take the new flag from",
                ));
            }
        };
        if !canceled {
            for e in &entries {
                self.check_parents_not_canceled(
                    e.entry_no,
                    e.logged_segment_no,
                    e.campaign_entry_no,
                )?;
            }
        }
        let mut changed = Vec::new();
        for old in entries {
            if old.canceled == canceled {
                continue;
            }
            changed.push(old.entry_no);
            let mut new = old.clone();
            new.canceled = canceled;
            if canceled && remove_unique_attachments && new.attachment_no != 0 {
                let unique = self
                    .view()
                    .attachment(new.attachment_no)?
                    .is_some_and(|a| a.references <= 1);
                if unique {
                    self.release_attachment(new.attachment_no)?;
                    new.attachment_no = 0;
                }
            }
            self.update_entry(&old, &new)?;
        }
        Ok(CancelOutcome { canceled, changed })
    }

    fn check_parents_not_canceled(
        &self,
        entry_no: u64,
        logged_segment_no: u64,
        campaign_entry_no: u64,
    ) -> Result<()> {
        let view = self.view();
        if logged_segment_no != 0
            && view
                .logged_segment(logged_segment_no)?
                .is_some_and(|l| l.canceled)
        {
            return Err(Error::ParentCanceled {
                record: format!("interaction log entry {entry_no}"),
                parent: format!("logged segment {logged_segment_no}"),
            });
        }
        if campaign_entry_no != 0
            && view
                .campaign_entry(campaign_entry_no)?
                .is_some_and(|c| c.canceled)
        {
            return Err(Error::ParentCanceled {
                record: format!("interaction log entry {entry_no}"),
                parent: format!("campaign entry {campaign_entry_no}"),
            });
        }
        Ok(())
    }

    /// Cancels or un-cancels a logged segment, its campaign entries and all its entries.
    pub fn set_logged_segment_canceled(
        &mut self,
        logged_segment_no: u64,
        canceled: bool,
    ) -> Result<()> {
        let mut ls: LoggedSegment = self
            .view()
            .logged_segment(logged_segment_no)?
            .ok_or_else(|| Error::not_found("logged segment", logged_segment_no.to_string()))?;
        ls.canceled = canceled;
        layout::put(
            self.kv,
            tables::LOGGED_SEGMENTS,
            &keys::no(logged_segment_no),
            &ls,
        )?;
        for ce_no in self
            .view()
            .campaign_entries_of_logged_segment(logged_segment_no)?
        {
            if let Some(mut ce) = self.view().campaign_entry(ce_no)? {
                ce.canceled = canceled;
                layout::put(self.kv, tables::CAMPAIGN_ENTRIES, &keys::no(ce_no), &ce)?;
            }
        }
        let prefix = keys::entries_of_logged_segment(logged_segment_no);
        self.set_canceled_under(&prefix, canceled)
    }

    /// Cancels or un-cancels a campaign entry and all its entries. Un-canceling is refused while
    /// its logged segment is canceled.
    pub fn set_campaign_entry_canceled(
        &mut self,
        campaign_entry_no: u64,
        canceled: bool,
    ) -> Result<()> {
        let mut ce: CampaignEntry = self
            .view()
            .campaign_entry(campaign_entry_no)?
            .ok_or_else(|| Error::not_found("campaign entry", campaign_entry_no.to_string()))?;
        if !canceled
            && ce.logged_segment_no != 0
            && self
                .view()
                .logged_segment(ce.logged_segment_no)?
                .is_some_and(|l| l.canceled)
        {
            return Err(Error::ParentCanceled {
                record: format!("campaign entry {campaign_entry_no}"),
                parent: format!("logged segment {}", ce.logged_segment_no),
            });
        }
        ce.canceled = canceled;
        layout::put(
            self.kv,
            tables::CAMPAIGN_ENTRIES,
            &keys::no(campaign_entry_no),
            &ce,
        )?;
        let prefix = keys::entries_of_campaign_entry(campaign_entry_no);
        self.set_canceled_under(&prefix, canceled)
    }

    fn set_canceled_under(&mut self, prefix: &Key, canceled: bool) -> Result<()> {
        self.batch_statistics(|tx| {
            let nos = tx.view().entry_nos(prefix, Order::Ascending)?;
            let total = nos.len() as u64;
            for (i, &no) in nos.iter().enumerate() {
                tx.view().prefetch_entries(&nos, i)?;
                let done = i as u64 + 1;
                tx.ctx.report(
                    if canceled {
                        "canceling"
                    } else {
                        "un-canceling"
                    },
                    done,
                    total,
                );
                let old = tx.require_entry(no)?;
                if old.canceled != canceled {
                    let mut new = old.clone();
                    new.canceled = canceled;
                    tx.update_entry(&old, &new)?;
                }
            }
            Ok(())
        })
    }

    /// Sets the evaluation of the selected entries.
    pub fn evaluate(&mut self, entry_nos: &[u64], evaluation: Evaluation) -> Result<()> {
        let entries = self.require_entries(entry_nos)?;
        for old in entries {
            let mut new = old.clone();
            new.evaluation = evaluation;
            self.update_entry(&old, &new)?;
        }
        Ok(())
    }
}
