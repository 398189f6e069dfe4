//! Campaigns and campaign entries: one campaign entry per (campaign, segment no, document type);
//! manual interactions of one campaign share one.

use chrono::NaiveDate;

use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{Campaign, CampaignEntry, DocumentType, normalize_code};

impl Tx<'_> {
    /// Creates a campaign and returns its no (from the series `CP0001`, … unless given).
    pub fn campaign_create(&mut self, campaign: Campaign) -> Result<String> {
        let mut c = campaign;
        c.no = normalize_code(&c.no);
        super::rules::check_id("campaign", "no", &c.no)?;
        let mut free = None;
        if c.no.is_empty() {
            let number = self
                .view()
                .free_number("campaign", tables::CAMPAIGNS, |n| format!("CP{n:04}"))?;
            c.no.clone_from(&number.no);
            free = Some(number);
        } else if self.view().campaign(&c.no)?.is_some() {
            return Err(Error::AlreadyExists {
                record: "campaign",
                key: c.no,
                field: "no",
            });
        }
        let record = format!("campaign {}", c.no);
        if c.description.trim().is_empty() {
            return Err(Error::required(
                &record,
                "description",
                "say what the campaign is about",
            ));
        }
        if let (Some(from), Some(to)) = (c.starting_date, c.ending_date)
            && to < from
        {
            return Err(Error::invalid(
                &record,
                "ending_date",
                format!("{to} is before the starting date {from}"),
                "end the campaign on or after its start",
            ));
        }
        c.salesperson = normalize_code(&c.salesperson);
        if !c.salesperson.is_empty() && self.view().salesperson(&c.salesperson)?.is_none() {
            return Err(Error::not_found("salesperson", &c.salesperson));
        }
        if let Some(free) = &free {
            self.take_number(free)?;
        }
        layout::put(self.kv, tables::CAMPAIGNS, &keys::code(&c.no), &c)?;
        Ok(c.no)
    }

    /// The campaign entry for (campaign, segment, document type), created on first use. A canceled
    /// one is not reused: new interactions get a fresh entry.
    pub(crate) fn campaign_entry_for(
        &mut self,
        campaign_no: &str,
        segment_no: &str,
        document_type: Option<DocumentType>,
        logged_segment_no: u64,
        salesperson: &str,
        date: NaiveDate,
    ) -> Result<u64> {
        let lookup = keys::campaign_entry_lookup(campaign_no, segment_no, document_type);
        if let Some(no) = layout::get::<u64>(&*self.kv, tables::LOOKUP, &lookup)?
            && self.view().campaign_entry(no)?.is_some_and(|e| !e.canceled)
        {
            return Ok(no);
        }
        let campaign = self
            .view()
            .campaign(campaign_no)?
            .ok_or_else(|| Error::not_found("campaign", campaign_no))?;
        let entry_no = layout::next_number(self.kv, "campaign_entry")?;
        let entry = CampaignEntry {
            entry_no,
            campaign_no: campaign.no,
            description: if segment_no.is_empty() {
                campaign.description
            } else {
                format!("{} - segment {segment_no}", campaign.description)
            },
            date,
            user: self.ctx.user.clone(),
            segment_no: segment_no.to_string(),
            canceled: false,
            salesperson: salesperson.to_string(),
            logged_segment_no,
            document_type,
        };
        layout::put(
            self.kv,
            tables::CAMPAIGN_ENTRIES,
            &keys::no(entry_no),
            &entry,
        )?;
        layout::put(self.kv, tables::LOOKUP, &lookup, &entry_no)?;
        if logged_segment_no != 0 {
            layout::mark(
                self.kv,
                tables::LOOKUP,
                &keys::logged_segment_campaign_entry(logged_segment_no, entry_no),
            )?;
        }
        Ok(entry_no)
    }
}

impl View<'_> {
    /// A campaign by no.
    pub fn campaign(&self, no: &str) -> Result<Option<Campaign>> {
        layout::get(self.kv, tables::CAMPAIGNS, &keys::code(&normalize_code(no)))
    }

    /// Every campaign, by no.
    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        layout::all_records(self.kv, tables::CAMPAIGNS)
    }

    /// A campaign entry by entry no.
    pub fn campaign_entry(&self, entry_no: u64) -> Result<Option<CampaignEntry>> {
        layout::get(self.kv, tables::CAMPAIGN_ENTRIES, &keys::no(entry_no))
    }

    /// Every campaign entry, by entry no.
    pub fn campaign_entries(&self) -> Result<Vec<CampaignEntry>> {
        layout::all_records(self.kv, tables::CAMPAIGN_ENTRIES)
    }

    /// The campaign entries created when a logged segment was logged.
    pub fn campaign_entries_of_logged_segment(&self, logged_segment_no: u64) -> Result<Vec<u64>> {
        let prefix = keys::campaign_entries_of_logged_segment(logged_segment_no);
        layout::index_nos(
            self.kv,
            tables::LOOKUP,
            &prefix,
            crate::store::Order::Ascending,
        )
    }
}
