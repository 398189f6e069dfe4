//! Campaigns and campaign entries.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::DocumentType;

/// A campaign. Its `Default` is the spec's: active, everything else blank (the language's
/// `campaign_create` takes its defaults from here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Key, from the campaign number series unless given.
    pub no: String,
    /// What it is about.
    pub description: String,
    /// First day.
    #[serde(with = "super::serde_date::option")]
    pub starting_date: Option<NaiveDate>,
    /// Last day.
    #[serde(with = "super::serde_date::option")]
    pub ending_date: Option<NaiveDate>,
    /// Responsible salesperson.
    pub salesperson: String,
    /// Whether it runs.
    pub active: bool,
}

impl Default for Campaign {
    fn default() -> Self {
        Self {
            no: String::new(),
            description: String::new(),
            starting_date: None,
            ending_date: None,
            salesperson: String::new(),
            active: true,
        }
    }
}

impl Campaign {
    /// The names of the built-in fields, as scripts see them.
    pub const FIELDS: &'static [&'static str] = &[
        "no",
        "description",
        "starting_date",
        "ending_date",
        "salesperson",
        "active",
    ];
}

/// A campaign entry: groups the interactions of one campaign, segment and document type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CampaignEntry {
    /// Key, from its own series.
    pub entry_no: u64,
    /// The campaign.
    pub campaign_no: String,
    /// What it groups.
    pub description: String,
    /// When it was created.
    #[serde(with = "super::serde_date")]
    pub date: NaiveDate,
    /// Who created it.
    pub user: String,
    /// The segment, for segment logging.
    pub segment_no: String,
    /// Canceling it cancels its entries.
    pub canceled: bool,
    /// Salesperson.
    pub salesperson: String,
    /// The logged segment it belongs to (0 when none).
    pub logged_segment_no: u64,
    /// Document type, for recorded documents.
    pub document_type: Option<DocumentType>,
}
