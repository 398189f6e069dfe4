//! Campaigns and campaign entries: one campaign entry per (campaign, segment no, document type);
//! manual interactions of one campaign share one.

use chrono::NaiveDate;

use super::layout::{self, code_key, lookup_tag, no_key};
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::model::{Campaign, CampaignEntry, DocumentType, normalize_code};
use crate::store::Table;
use crate::store::key::Key;

fn campaign_entry_lookup(
    campaign: &str,
    segment: &str,
    document_type: Option<DocumentType>,
) -> Key {
    Key::new()
        .tag(lookup_tag::CAMPAIGN_ENTRY)
        .str(campaign)
        .str(segment)
        .str(document_type.map_or("", DocumentType::as_str))
}

impl Tx<'_> {
    /// Creates a campaign and returns its no (from the series `CP0001`, … unless given).
    pub fn campaign_create(&mut self, campaign: Campaign) -> Result<String> {
        let mut c = campaign;
        c.no = normalize_code(&c.no);
        if c.no.is_empty() {
            c.no = self.next_free_no("campaign", Table::Campaigns, |n| format!("CP{n:04}"))?;
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
        layout::put(self.kv, Table::Campaigns, &code_key(&c.no), &c)?;
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
        let lookup = campaign_entry_lookup(campaign_no, segment_no, document_type);
        if let Some(no) = layout::get::<u64>(&*self.kv, Table::Lookup, &lookup)?
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
        layout::put(self.kv, Table::CampaignEntries, &no_key(entry_no), &entry)?;
        layout::put(self.kv, Table::Lookup, &lookup, &entry_no)?;
        if logged_segment_no != 0 {
            let link = Key::new()
                .tag(lookup_tag::LOGGED_SEGMENT_CAMPAIGN_ENTRY)
                .u64(logged_segment_no)
                .u64(entry_no);
            layout::mark(self.kv, Table::Lookup, &link)?;
        }
        Ok(entry_no)
    }
}

impl View<'_> {
    /// A campaign by no.
    pub fn campaign(&self, no: &str) -> Result<Option<Campaign>> {
        layout::get(self.kv, Table::Campaigns, &code_key(&normalize_code(no)))
    }

    /// Every campaign, by no.
    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        layout::records_under(self.kv, Table::Campaigns, &Key::new())
    }

    /// A campaign entry by entry no.
    pub fn campaign_entry(&self, entry_no: u64) -> Result<Option<CampaignEntry>> {
        layout::get(self.kv, Table::CampaignEntries, &no_key(entry_no))
    }

    /// Every campaign entry, by entry no.
    pub fn campaign_entries(&self) -> Result<Vec<CampaignEntry>> {
        layout::records_under(self.kv, Table::CampaignEntries, &Key::new())
    }

    /// The campaign entries created when a logged segment was logged.
    pub fn campaign_entries_of_logged_segment(&self, logged_segment_no: u64) -> Result<Vec<u64>> {
        let prefix = Key::new()
            .tag(lookup_tag::LOGGED_SEGMENT_CAMPAIGN_ENTRY)
            .u64(logged_segment_no);
        layout::index_nos(
            self.kv,
            Table::Lookup,
            &prefix,
            crate::store::Order::Ascending,
        )
    }
}
