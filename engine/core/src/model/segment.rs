//! Segments: a contact list built by criteria steps, each line a draft interaction.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    Amount, Contact, Correspondence, Evaluation, FieldValue, Flow, InitiatedBy, spec_enum,
};

/// A segment header (spec 1, Segment).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Segment {
    /// Key, from the segment number series unless given.
    pub no: String,
    /// Required for logging; also the entries' description when a line has none.
    pub description: String,
    /// Campaign of the interactions.
    pub campaign_no: String,
    /// Salesperson of the interactions.
    pub salesperson: String,
    /// Template of the interactions.
    pub template: String,
    /// Copied from the template.
    pub unit_cost: Amount,
    /// Copied from the template.
    pub unit_duration: Amount,
    /// Date of the interactions (informational: logging uses today).
    #[serde(with = "super::serde_date::option")]
    pub date: Option<NaiveDate>,
    /// Default correspondence type.
    pub correspondence: Correspondence,
    /// Copied from the template.
    pub flow: Flow,
    /// Copied from the template.
    pub initiated_by: InitiatedBy,
    /// Copied from the template.
    pub group: String,
    /// Copied from the template.
    pub campaign_target: bool,
    /// Copied from the template.
    pub campaign_response: bool,
    /// Language of the interactions.
    pub language: String,
    /// Subject of the interactions.
    pub subject: String,
    /// The segment's correspondence type wins over the contact's.
    pub ignore_contact_correspondence: bool,
    /// Next line number.
    pub next_line_no: u32,
    /// Next criteria step number.
    pub next_step_no: u32,
}

/// A segment line: one contact, as a draft interaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SegmentLine {
    /// The segment.
    pub segment_no: String,
    /// Line number within the segment.
    pub line_no: u32,
    /// The contact.
    pub contact_no: String,
    /// The contact's company.
    pub contact_company_no: String,
    /// Template of the interaction.
    pub template: String,
    /// Group, from the template.
    pub group: String,
    /// Description of the interaction.
    pub description: String,
    /// Subject.
    pub subject: String,
    /// Salesperson.
    pub salesperson: String,
    /// Campaign.
    pub campaign_no: String,
    /// Copied from the template.
    pub campaign_target: bool,
    /// Copied from the template.
    pub campaign_response: bool,
    /// Cost.
    pub cost: Amount,
    /// Duration in minutes.
    pub duration: Amount,
    /// Flow.
    pub flow: Flow,
    /// Initiated by.
    pub initiated_by: InitiatedBy,
    /// Correspondence type, resolved when logged.
    pub correspondence: Correspondence,
    /// Language of the attachment.
    pub language: String,
    /// Evaluation.
    pub evaluation: Evaluation,
    /// How the contact will be reached.
    pub contact_via: String,
}

spec_enum! {
    /// A criteria step.
    CriteriaAction {
        /// Add the contacts that match.
        #[default]
        Add = "add",
        /// Remove the contacts that match.
        Reduce = "reduce",
        /// Keep only the contacts that match.
        Refine = "refine",
    }
}

/// A test on one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FieldTest {
    /// Equal (text without regard to case).
    Equals(FieldValue),
    /// Within `[from, to]`; an open end is `None`.
    Between(Option<FieldValue>, Option<FieldValue>),
    /// Text contains (without regard to case).
    Contains(String),
}

/// A condition on one contact field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldCondition {
    /// Field name (built-in or custom).
    pub field: String,
    /// The test.
    pub test: FieldTest,
}

/// Conditions that must all hold: a filter that can be saved and replayed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContactFilter {
    /// All must hold; no conditions match every contact.
    pub conditions: Vec<FieldCondition>,
}

impl ContactFilter {
    /// Matches every contact.
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds an equality condition.
    #[must_use]
    pub fn eq(mut self, field: &str, value: impl Into<FieldValue>) -> Self {
        self.conditions.push(FieldCondition {
            field: field.to_string(),
            test: FieldTest::Equals(value.into()),
        });
        self
    }

    /// Adds a range condition.
    #[must_use]
    pub fn between(
        mut self,
        field: &str,
        from: Option<FieldValue>,
        to: Option<FieldValue>,
    ) -> Self {
        self.conditions.push(FieldCondition {
            field: field.to_string(),
            test: FieldTest::Between(from, to),
        });
        self
    }

    /// Whether `contact` meets every condition.
    pub fn matches(&self, contact: &Contact) -> bool {
        self.conditions.iter().all(|c| {
            let value = contact.field(&c.field);
            match &c.test {
                FieldTest::Equals(want) => value.compare(want) == Some(std::cmp::Ordering::Equal),
                FieldTest::Between(from, to) => {
                    from.as_ref()
                        .is_none_or(|f| value.compare(f).is_some_and(std::cmp::Ordering::is_ge))
                        && to
                            .as_ref()
                            .is_none_or(|t| value.compare(t).is_some_and(std::cmp::Ordering::is_le))
                }
                FieldTest::Contains(part) => value
                    .to_string()
                    .to_lowercase()
                    .contains(&part.to_lowercase()),
            }
        })
    }
}

/// Which contacts a step is about: a replayable filter, or a fixed list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ContactSelector {
    /// The contacts that match.
    Filter(ContactFilter),
    /// These contacts (numbers).
    Contacts(Vec<String>),
}

/// Options of a criteria step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepOptions {
    /// Add contacts marked `exclude_from_segment` too.
    pub ignore_exclusion: bool,
    /// Add a contact again although it is on the segment already.
    pub allow_existing: bool,
    /// Add the persons of every matching company as well.
    pub expand_companies: bool,
}

/// One recorded criteria step, with exactly what it changed so it can be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriteriaStep {
    /// Step number within the segment.
    pub step_no: u32,
    /// Add, reduce or refine.
    pub action: CriteriaAction,
    /// The contacts it was about.
    pub selector: ContactSelector,
    /// Its options.
    pub options: StepOptions,
    /// Line numbers it added.
    pub added: Vec<u32>,
    /// Lines it removed, whole.
    pub removed: Vec<SegmentLine>,
}

/// Criteria saved under a name, to replay on another segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCriteria {
    /// Key, upper-case.
    pub name: String,
    /// The segment they were saved from.
    pub source_segment: String,
    /// The steps, in order.
    pub steps: Vec<(CriteriaAction, ContactSelector, StepOptions)>,
}
