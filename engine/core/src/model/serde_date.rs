//! Dates and times as small integers in stored records (days since 0001-01-01, seconds since
//! midnight): compact, and independent of chrono's own serde format. In a human-readable
//! format (the JSON of a database export) they are `YYYY-MM-DD` and `HH:MM:SS` text.
#![expect(
    clippy::trivially_copy_pass_by_ref,
    clippy::ref_option,
    reason = "serde's `with` functions take references"
)]

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Deserializer, Serializer};

const DATE: &str = "%Y-%m-%d";
const TIME: &str = "%H:%M:%S";

pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        return s.collect_str(&d.format(DATE));
    }
    s.serialize_i32(d.num_days_from_ce())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    if d.is_human_readable() {
        let text = String::deserialize(d)?;
        return NaiveDate::parse_from_str(&text, DATE).map_err(|_| {
            serde::de::Error::custom(format!("\"{text}\" is not a date (YYYY-MM-DD)"))
        });
    }
    let days = i32::deserialize(d)?;
    NaiveDate::from_num_days_from_ce_opt(days)
        .ok_or_else(|| serde::de::Error::custom("date out of range"))
}

pub mod option {
    use super::{Datelike, Deserialize, Deserializer, NaiveDate, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) if s.is_human_readable() => s.collect_str(&d.format(super::DATE)),
            Some(d) => s.serialize_some(&d.num_days_from_ce()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        if d.is_human_readable() {
            return match Option::<String>::deserialize(d)? {
                Some(text) => NaiveDate::parse_from_str(&text, super::DATE)
                    .map(Some)
                    .map_err(|_| {
                        serde::de::Error::custom(format!("\"{text}\" is not a date (YYYY-MM-DD)"))
                    }),
                None => Ok(None),
            };
        }
        match Option::<i32>::deserialize(d)? {
            Some(days) => NaiveDate::from_num_days_from_ce_opt(days)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("date out of range")),
            None => Ok(None),
        }
    }
}

pub mod time {
    use super::{Deserialize, Deserializer, NaiveTime, Serializer, Timelike};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.collect_str(&t.format(super::TIME));
        }
        s.serialize_u32(t.num_seconds_from_midnight())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            return NaiveTime::parse_from_str(&text, super::TIME).map_err(|_| {
                serde::de::Error::custom(format!("\"{text}\" is not a time (HH:MM:SS)"))
            });
        }
        let secs = u32::deserialize(d)?;
        NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)
            .ok_or_else(|| serde::de::Error::custom("time out of range"))
    }
}
