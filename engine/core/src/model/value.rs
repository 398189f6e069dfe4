//! Values of contact fields, built-in or custom, as filters and scripts see them.

use std::cmp::Ordering;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One field's value. Custom fields are stored as these in a map on the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FieldValue {
    /// No value.
    Empty,
    /// Text.
    Text(String),
    /// A number (integers and floats alike).
    Number(f64),
    /// Yes or no.
    Bool(bool),
    /// A calendar date.
    Date(#[serde(with = "super::serde_date")] NaiveDate),
}

/// A [`FieldValue`] read in place: the same variants in the same order, text borrowed (and
/// written the same way).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[expect(
    missing_docs,
    reason = "the variants are FieldValue's, documented there"
)]
pub enum FieldValueView<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Date(#[serde(with = "super::serde_date")] NaiveDate),
}

impl<'a> FieldValueView<'a> {
    /// A view of a value in memory.
    pub fn of(v: &'a FieldValue) -> Self {
        match v {
            FieldValue::Empty => FieldValueView::Empty,
            FieldValue::Text(t) => FieldValueView::Text(t),
            FieldValue::Number(n) => FieldValueView::Number(*n),
            FieldValue::Bool(b) => FieldValueView::Bool(*b),
            FieldValue::Date(d) => FieldValueView::Date(*d),
        }
    }

    /// The value, owned.
    pub fn to_owned_value(self) -> FieldValue {
        match self {
            FieldValueView::Empty => FieldValue::Empty,
            FieldValueView::Text(t) => FieldValue::Text(t.to_string()),
            FieldValueView::Number(n) => FieldValue::Number(n),
            FieldValueView::Bool(b) => FieldValue::Bool(b),
            FieldValueView::Date(d) => FieldValue::Date(d),
        }
    }

    /// Whether both are the same value, bit for bit (a number's sign of zero and NaNs too):
    /// what a copy of the value must be.
    pub fn same(self, other: FieldValueView<'_>) -> bool {
        match (self, other) {
            (FieldValueView::Number(a), FieldValueView::Number(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

impl FieldValue {
    /// Compares two values of one kind; text compares without regard to case.
    /// Values of different kinds do not compare.
    pub fn compare(&self, other: &FieldValue) -> Option<Ordering> {
        match (self, other) {
            (FieldValue::Text(a), FieldValue::Text(b)) => {
                Some(a.to_lowercase().cmp(&b.to_lowercase()))
            }
            (FieldValue::Number(a), FieldValue::Number(b)) => a.partial_cmp(b),
            (FieldValue::Bool(a), FieldValue::Bool(b)) => Some(a.cmp(b)),
            (FieldValue::Date(a), FieldValue::Date(b)) => Some(a.cmp(b)),
            (FieldValue::Empty, FieldValue::Empty) => Some(Ordering::Equal),
            (FieldValue::Empty, FieldValue::Text(t)) | (FieldValue::Text(t), FieldValue::Empty)
                if t.is_empty() =>
            {
                Some(Ordering::Equal)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for FieldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldValue::Empty => Ok(()),
            FieldValue::Text(t) => f.write_str(t),
            FieldValue::Number(n) => write!(f, "{n}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Date(d) => write!(f, "{d}"),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(s.to_string())
    }
}

impl From<f64> for FieldValue {
    fn from(n: f64) -> Self {
        FieldValue::Number(n)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}
