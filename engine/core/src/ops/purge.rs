//! Deleting (spec 3): canceled entries with filters, canceled logged segments (entries kept and
//! unlinked), canceled campaign entries (their entries go too), postponed entries. Only canceled
//! entries are ever deleted by the canceled-entry purge; a dry run reports and changes nothing.

use chrono::NaiveDate;

use super::Tx;
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{InteractionLogEntry, normalize_code};
use crate::store::Order;

/// Which canceled entries to delete (the filters of the reference ERP's "Delete Canceled
/// Interaction Log Entries").
/// Blank or `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct CanceledEntryFilter {
    /// Lowest entry no.
    pub entry_from: Option<u64>,
    /// Highest entry no.
    pub entry_to: Option<u64>,
    /// Contact no.
    pub contact_no: String,
    /// First date.
    pub date_from: Option<NaiveDate>,
    /// Last date.
    pub date_to: Option<NaiveDate>,
    /// Campaign no.
    pub campaign_no: String,
    /// Interaction group.
    pub group: String,
    /// Interaction template.
    pub template: String,
    /// Salesperson.
    pub salesperson: String,
}

impl CanceledEntryFilter {
    /// Whether an entry passes the filter (its canceled flag aside).
    pub fn matches(&self, e: &InteractionLogEntry) -> bool {
        let code = |want: &str, have: &str| want.is_empty() || normalize_code(want) == have;
        self.entry_from.is_none_or(|n| e.entry_no >= n)
            && self.entry_to.is_none_or(|n| e.entry_no <= n)
            && self.date_from.is_none_or(|d| e.date >= d)
            && self.date_to.is_none_or(|d| e.date <= d)
            && code(&self.contact_no, &e.contact_no)
            && code(&self.campaign_no, &e.campaign_no)
            && code(&self.group, &e.group)
            && code(&self.template, &e.template)
            && code(&self.salesperson, &e.salesperson)
    }
}

/// What a purge deleted, or would delete on a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// How many.
    pub count: usize,
    /// Which, in entry-no order.
    pub entry_nos: Vec<u64>,
}

impl Tx<'_> {
    /// Deletes the canceled entries that match `filter` (with their comments and any attachment no
    /// longer referenced). With `dry_run`, deletes nothing and reports what would go.
    pub fn delete_canceled_entries(
        &mut self,
        filter: &CanceledEntryFilter,
        dry_run: bool,
    ) -> Result<PurgeReport> {
        self.batch_statistics(|tx| tx.delete_canceled_entries_unbatched(filter, dry_run))
    }

    fn delete_canceled_entries_unbatched(
        &mut self,
        filter: &CanceledEntryFilter,
        dry_run: bool,
    ) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        let prefix = keys::canceled_entries();
        let canceled = self.view().entry_nos(&prefix, Order::Ascending)?;
        let total = canceled.len() as u64;
        for (i, &no) in canceled.iter().enumerate() {
            self.view().prefetch_entries(&canceled, i)?;
            self.ctx
                .report("purging canceled entries", i as u64 + 1, total);
            let entry = self.require_entry(no)?;
            if !entry.canceled || !filter.matches(&entry) {
                continue;
            }
            if !dry_run {
                self.remove_entry(&entry)?;
            }
            report.entry_nos.push(no);
        }
        report.count = report.entry_nos.len();
        Ok(report)
    }

    /// Deletes canceled logged segments (in `from..=to` when given): their entries are kept, with
    /// `logged_segment_no` cleared. Returns how many logged segments went.
    pub fn delete_canceled_logged_segments(
        &mut self,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<usize> {
        self.batch_statistics(|tx| tx.delete_canceled_logged_segments_unbatched(from, to))
    }

    fn delete_canceled_logged_segments_unbatched(
        &mut self,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<usize> {
        let mut deleted = 0;
        for ls in self.view().logged_segments()? {
            if !ls.canceled
                || from.is_some_and(|f| ls.entry_no < f)
                || to.is_some_and(|t| ls.entry_no > t)
            {
                continue;
            }
            let nos = self.view().logged_segment_entries(ls.entry_no)?;
            for (i, &no) in nos.iter().enumerate() {
                self.view().prefetch_entries(&nos, i)?;
                let old = self.require_entry(no)?;
                let mut new = old.clone();
                new.logged_segment_no = 0;
                self.update_entry(&old, &new)?;
            }
            for ce_no in self
                .view()
                .campaign_entries_of_logged_segment(ls.entry_no)?
            {
                if let Some(mut ce) = self.view().campaign_entry(ce_no)? {
                    ce.logged_segment_no = 0;
                    layout::put(self.kv, tables::CAMPAIGN_ENTRIES, &keys::no(ce_no), &ce)?;
                }
                layout::remove(
                    self.kv,
                    tables::LOOKUP,
                    &keys::logged_segment_campaign_entry(ls.entry_no, ce_no),
                )?;
            }
            layout::remove(self.kv, tables::LOGGED_SEGMENTS, &keys::no(ls.entry_no))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Deletes canceled campaign entries (of `campaign_no` when not blank) and their entries.
    /// Returns (campaign entries deleted, entries deleted).
    pub fn delete_canceled_campaign_entries(
        &mut self,
        campaign_no: &str,
    ) -> Result<(usize, usize)> {
        self.batch_statistics(|tx| tx.delete_canceled_campaign_entries_unbatched(campaign_no))
    }

    fn delete_canceled_campaign_entries_unbatched(
        &mut self,
        campaign_no: &str,
    ) -> Result<(usize, usize)> {
        let campaign_no = normalize_code(campaign_no);
        let (mut campaign_entries, mut entries) = (0, 0);
        for ce in self.view().campaign_entries()? {
            if !ce.canceled || (!campaign_no.is_empty() && ce.campaign_no != campaign_no) {
                continue;
            }
            let nos = self.view().entry_nos(
                &keys::entries_of_campaign_entry(ce.entry_no),
                Order::Ascending,
            )?;
            for (i, &no) in nos.iter().enumerate() {
                self.view().prefetch_entries(&nos, i)?;
                let entry = self.require_entry(no)?;
                self.remove_entry(&entry)?;
                entries += 1;
            }
            if ce.logged_segment_no != 0 {
                layout::remove(
                    self.kv,
                    tables::LOOKUP,
                    &keys::logged_segment_campaign_entry(ce.logged_segment_no, ce.entry_no),
                )?;
            }
            layout::remove(self.kv, tables::CAMPAIGN_ENTRIES, &keys::no(ce.entry_no))?;
            campaign_entries += 1;
        }
        Ok((campaign_entries, entries))
    }

    /// Deletes postponed entries: the ones given (each must be postponed), or all when `None`.
    pub fn delete_postponed_entries(&mut self, entry_nos: Option<&[u64]>) -> Result<usize> {
        self.batch_statistics(|tx| tx.delete_postponed_entries_unbatched(entry_nos))
    }

    fn delete_postponed_entries_unbatched(&mut self, entry_nos: Option<&[u64]>) -> Result<usize> {
        let nos = match entry_nos {
            Some(nos) => nos.to_vec(),
            None => self.view().postponed_entries()?,
        };
        let mut entries = Vec::with_capacity(nos.len());
        for (i, &no) in nos.iter().enumerate() {
            self.view().prefetch_entries(&nos, i)?;
            let e = self.require_entry(no)?;
            if !e.postponed {
                return Err(Error::wrong_state(
                    format!("interaction log entry {no}"),
                    "it is not postponed",
                    "cancel it and delete canceled entries instead",
                ));
            }
            entries.push(e);
        }
        for e in &entries {
            self.remove_entry(e)?;
        }
        Ok(entries.len())
    }
}
