//! Statistics (spec 3): count, cost and duration per template, group, contact, salesperson,
//! campaign entry and logged segment. They are kept up to date in the same transaction as the
//! entries: an all-time total per key (read in O(1)) and a daily bucket per key and date (a date
//! range reads one bucket per day).
//!
//! Campaign entries and logged segments count "entries whose canceled equals theirs", so their
//! counters are kept in two buckets, by the entry's canceled flag, and a read picks the bucket
//! that matches the parent's flag now.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{
    Amount, CampaignEntry, InteractionLogEntry, LoggedSegment, normalize_code, spec_enum,
};
use crate::store::key::Key;
use crate::store::{KvRead, KvWrite, Order, Table, codec};

spec_enum! {
    /// What statistics are kept for.
    StatKind {
        /// Per interaction template.
        #[default]
        Template = "template",
        /// Per interaction group.
        Group = "group",
        /// Per contact (a company counts itself and all its persons).
        Contact = "contact",
        /// Per salesperson.
        Salesperson = "salesperson",
        /// Per campaign entry.
        CampaignEntry = "campaign_entry",
        /// Per logged segment.
        LoggedSegment = "logged_segment",
    }
}

/// Count, cost and duration of a set of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Number of entries.
    pub count: u64,
    /// Total cost.
    pub cost: Amount,
    /// Total duration in minutes.
    pub duration: Amount,
}

impl Counters {
    fn add(&mut self, entry: &InteractionLogEntry, sign: i64) {
        self.count = self.count.wrapping_add_signed(sign);
        self.cost.0 += sign * entry.cost.0;
        self.duration.0 += sign * entry.duration.0;
    }

    fn merge(&mut self, other: Counters) {
        self.count += other.count;
        self.cost += other.cost;
        self.duration += other.duration;
    }

    fn is_zero(&self) -> bool {
        *self == Counters::default()
    }
}

/// Statistics as read: totals and averages (total ÷ count, 0 when count is 0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Statistics {
    /// Number of entries.
    pub count: u64,
    /// Total cost.
    pub cost: Amount,
    /// Total duration in minutes.
    pub duration: Amount,
    /// Cost ÷ count.
    pub avg_cost: f64,
    /// Duration ÷ count.
    pub avg_duration: f64,
}

impl From<Counters> for Statistics {
    fn from(c: Counters) -> Self {
        let avg = |a: Amount| {
            if c.count == 0 {
                0.0
            } else {
                a.to_f64() / c.count as f64
            }
        };
        Statistics {
            count: c.count,
            cost: c.cost,
            duration: c.duration,
            avg_cost: avg(c.cost),
            avg_duration: avg(c.duration),
        }
    }
}

/// Bucket of plain statistics; campaign entry and logged segment use the two flag buckets.
const PLAIN: u8 = 0;
const NOT_CANCELED: u8 = 1;
const CANCELED: u8 = 2;

/// One statistics key: kind, code and bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StatKey {
    kind: StatKind,
    code: String,
    bucket: u8,
}

impl StatKey {
    fn total_key(&self) -> Key {
        keys::stat_total(self.kind as u8, &self.code, self.bucket)
    }

    fn day_key(&self, date: NaiveDate) -> Key {
        keys::stat_day(self.kind as u8, &self.code, self.bucket, date)
    }

    /// The keys an entry of `date` adds to: the total, and the day's bucket — except for
    /// contacts, whose entries the entry index already holds by contact and day (a date range
    /// of a contact sums those), so a bulk operation writes two random keys fewer per entry.
    fn keys(&self, date: NaiveDate) -> impl Iterator<Item = (Table, Key)> {
        let daily =
            (self.kind != StatKind::Contact).then(|| (tables::STATS_DAILY, self.day_key(date)));
        std::iter::once((tables::STATS, self.total_key())).chain(daily)
    }
}

/// The statistics an entry contributes to (spec 3: canceled and postponed entries count nowhere,
/// but campaign entry and logged segment buckets by the canceled flag).
pub(crate) fn stat_keys(entry: &InteractionLogEntry) -> Vec<StatKey> {
    let mut keys = Vec::with_capacity(7);
    if entry.postponed {
        return keys;
    }
    let plain = |kind, code: &str| StatKey {
        kind,
        code: code.to_string(),
        bucket: PLAIN,
    };
    if !entry.canceled {
        keys.push(plain(StatKind::Template, &entry.template));
        keys.push(plain(StatKind::Group, &entry.group));
        if !entry.contact_no.is_empty() {
            keys.push(plain(StatKind::Contact, &entry.contact_no));
        }
        if !entry.contact_company_no.is_empty() && entry.contact_company_no != entry.contact_no {
            keys.push(plain(StatKind::Contact, &entry.contact_company_no));
        }
        if !entry.salesperson.is_empty() {
            keys.push(plain(StatKind::Salesperson, &entry.salesperson));
        }
    }
    let bucket = if entry.canceled {
        CANCELED
    } else {
        NOT_CANCELED
    };
    if entry.campaign_entry_no != 0 {
        keys.push(StatKey {
            kind: StatKind::CampaignEntry,
            code: entry.campaign_entry_no.to_string(),
            bucket,
        });
    }
    if entry.logged_segment_no != 0 {
        keys.push(StatKey {
            kind: StatKind::LoggedSegment,
            code: entry.logged_segment_no.to_string(),
            bucket,
        });
    }
    keys
}

/// What one operation adds to (or takes from) statistic keys, summed per key, so that a bulk
/// operation (logging a segment, canceling or purging many entries) reads and writes each key
/// once instead of once per entry.
#[derive(Debug, Default)]
pub(crate) struct StatDeltas(BTreeMap<(Table, Vec<u8>), [i64; 3]>);

impl StatDeltas {
    fn add(&mut self, keys: &[StatKey], entry: &InteractionLogEntry, sign: i64) {
        let delta = [sign, sign * entry.cost.0, sign * entry.duration.0];
        for key in keys {
            for k in key.keys(entry.date) {
                let sum = self.0.entry((k.0, k.1.into_bytes())).or_default();
                for (s, d) in sum.iter_mut().zip(delta) {
                    *s += d;
                }
            }
        }
    }

    /// Writes the sums: each key read once and written once (deleted when it comes to zero);
    /// the keys are announced to the store a thousand at a time before they are read (one
    /// statement on a server instead of one a key).
    fn flush(self, kv: &mut dyn KvWrite) -> Result<()> {
        // All-time and daily counters apart, so each thousand announced is of one table.
        let (totals, daily): (Vec<_>, Vec<_>) = self
            .0
            .into_iter()
            .filter(|(_, d)| *d != [0; 3])
            .partition(|((t, _), _)| *t == tables::STATS);
        for changed in [totals, daily] {
            for (i, ((table, key), [count, cost, duration])) in changed.iter().enumerate() {
                layout::prefetch_at(&*kv, *table, &changed, i, |((_, k), _)| k.clone())?;
                let mut counters: Counters = match kv.get(*table, key)? {
                    Some(bytes) => codec::decode(&bytes, table.name())?,
                    None => Counters::default(),
                };
                counters.count = counters.count.wrapping_add_signed(*count);
                counters.cost.0 += cost;
                counters.duration.0 += duration;
                if counters.is_zero() {
                    kv.remove(*table, key)?;
                } else {
                    kv.put(*table, key, &codec::encode(&counters)?)?;
                }
            }
        }
        Ok(())
    }
}

impl Tx<'_> {
    /// Adds (`sign` 1) or takes away (`sign` -1) an entry's share of every statistic.
    pub(crate) fn apply_statistics(
        &mut self,
        entry: &InteractionLogEntry,
        sign: i64,
    ) -> Result<()> {
        self.apply_statistic_keys(&stat_keys(entry), entry, sign)
    }

    /// The same, for keys the caller has computed already. Inside
    /// [`Tx::batch_statistics`] the change is summed and written when the batch ends.
    pub(crate) fn apply_statistic_keys(
        &mut self,
        keys: &[StatKey],
        entry: &InteractionLogEntry,
        sign: i64,
    ) -> Result<()> {
        if let Some(pending) = &mut self.pending_statistics {
            pending.add(keys, entry, sign);
            return Ok(());
        }
        let mut once = StatDeltas::default();
        once.add(keys, entry, sign);
        once.flush(self.kv)
    }

    /// Runs `work` with the statistic changes of all its entries summed per key and written
    /// once at its end. Nothing inside `work` may read statistics (they are behind until then).
    pub(crate) fn batch_statistics<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if self.pending_statistics.is_some() {
            return work(self);
        }
        self.pending_statistics = Some(StatDeltas::default());
        let outcome = work(self);
        let pending = self.pending_statistics.take().unwrap_or_default();
        let value = outcome?;
        pending.flush(self.kv)?;
        Ok(value)
    }
}

/// Every statistic recomputed from `entries` (for the integrity check): totals and daily buckets.
pub(crate) fn recompute<'e>(
    entries: impl Iterator<Item = &'e InteractionLogEntry>,
    totals: &mut BTreeMap<Vec<u8>, Counters>,
    daily: &mut BTreeMap<Vec<u8>, Counters>,
) {
    for entry in entries {
        for key in stat_keys(entry) {
            for (table, k) in key.keys(entry.date) {
                let map = if table == tables::STATS {
                    &mut *totals
                } else {
                    &mut *daily
                };
                map.entry(k.into_bytes()).or_default().add(entry, 1);
            }
        }
    }
}

impl View<'_> {
    /// Statistics of one template, group, contact, salesperson, campaign entry or logged segment,
    /// for all time (`range` `None`, O(1)) or for the days `from..=to`.
    pub fn statistics(
        &self,
        kind: StatKind,
        code: &str,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Statistics> {
        if let Some((from, to)) = range
            && from > to
        {
            // Silently nothing would look like no interactions in that time.
            return Err(crate::error::Error::invalid(
                format!("statistics of {kind} {code}"),
                "from",
                format!("{from} is after the last day, {to}"),
                "give a first day on or before the last",
            ));
        }
        let key = self.stat_key(kind, code)?;
        let counters = match range {
            None => layout::get(self.kv, tables::STATS, &key.total_key())?.unwrap_or_default(),
            Some((from, to)) if kind == StatKind::Contact => self.contact_range(&key, from, to)?,
            Some((from, to)) => {
                let mut sum = Counters::default();
                if from <= to {
                    let end = key.day_key(to.succ_opt().unwrap_or(to));
                    layout::scan(
                        self.kv,
                        tables::STATS_DAILY,
                        key.day_key(from).as_bytes(),
                        Some(end.as_bytes()),
                        Order::Ascending,
                        &mut |_, v| {
                            sum.merge(crate::store::codec::decode(v, "statistics")?);
                            Ok(true)
                        },
                    )?;
                }
                sum
            }
        };
        Ok(counters.into())
    }

    /// A contact's counters for the days `from..=to`, from its entries: those it is the contact
    /// of, and (a company) those of its persons, read from the entry index by contact and day.
    fn contact_range(&self, key: &StatKey, from: NaiveDate, to: NaiveDate) -> Result<Counters> {
        let mut sum = Counters::default();
        if from > to {
            return Ok(sum);
        }
        let mut seen = std::collections::BTreeSet::new();
        let after = to.succ_opt().unwrap_or(to);
        let ranges = [
            (
                keys::entries_of_contact_on(&key.code, from),
                keys::entries_of_contact_on(&key.code, after),
            ),
            (
                keys::entries_of_company_on(&key.code, from),
                keys::entries_of_company_on(&key.code, after),
            ),
        ];
        for (start, end) in ranges {
            let mut nos = Vec::new();
            layout::scan(
                self.kv,
                tables::ENTRY_INDEX,
                start.as_bytes(),
                Some(end.as_bytes()),
                Order::Ascending,
                &mut |k, _| {
                    nos.push(layout::trailing_u64(k));
                    Ok(true)
                },
            )?;
            for no in nos.into_iter().filter(|no| seen.insert(*no)) {
                if let Some(e) = self.entry(no)?
                    && stat_keys(&e).contains(key)
                {
                    sum.add(&e, 1);
                }
            }
        }
        Ok(sum)
    }

    fn stat_key(&self, kind: StatKind, code: &str) -> Result<StatKey> {
        let code = normalize_code(code);
        let exists = |table: Table| layout::exists(self.kv, table, &keys::code(&code));
        let parent_bucket = |canceled: bool| if canceled { CANCELED } else { NOT_CANCELED };
        let entry_no = || {
            code.parse::<u64>().map_err(|_| {
                Error::invalid(
                    "statistics",
                    "code",
                    format!("\"{code}\" is not an entry number"),
                    format!("give the {kind}'s entry no"),
                )
            })
        };
        let (found, bucket) = match kind {
            StatKind::Template => (
                exists(tables::TEMPLATES)? || self.has_plain_stats(kind, &code)?,
                PLAIN,
            ),
            StatKind::Group => (exists(tables::GROUPS)?, PLAIN),
            StatKind::Contact => (exists(tables::CONTACTS)?, PLAIN),
            StatKind::Salesperson => (exists(tables::SALESPEOPLE)?, PLAIN),
            StatKind::CampaignEntry => {
                let parent: Option<CampaignEntry> =
                    layout::get(self.kv, tables::CAMPAIGN_ENTRIES, &keys::no(entry_no()?))?;
                (
                    parent.is_some(),
                    parent.map_or(NOT_CANCELED, |p| parent_bucket(p.canceled)),
                )
            }
            StatKind::LoggedSegment => {
                let parent: Option<LoggedSegment> =
                    layout::get(self.kv, tables::LOGGED_SEGMENTS, &keys::no(entry_no()?))?;
                (
                    parent.is_some(),
                    parent.map_or(NOT_CANCELED, |p| parent_bucket(p.canceled)),
                )
            }
        };
        if !found {
            return Err(Error::not_found(kind_record(kind), code));
        }
        Ok(StatKey { kind, code, bucket })
    }

    /// The codes (or entry numbers) of every record of `kind`: every template, group, contact,
    /// salesperson, campaign entry or logged segment, in key order (for `stats KIND --all`; a
    /// deleted template's statistics, which outlive it, are read by its code alone).
    pub fn statistics_codes(&self, kind: StatKind) -> Result<Vec<String>> {
        let mut codes = Vec::new();
        let table = match kind {
            StatKind::Template => tables::TEMPLATES,
            StatKind::Group => tables::GROUPS,
            StatKind::Contact => tables::CONTACTS,
            StatKind::Salesperson => tables::SALESPEOPLE,
            StatKind::CampaignEntry => tables::CAMPAIGN_ENTRIES,
            StatKind::LoggedSegment => tables::LOGGED_SEGMENTS,
        };
        let numbered = matches!(kind, StatKind::CampaignEntry | StatKind::LoggedSegment);
        layout::scan_all(self.kv, table, Order::Ascending, &mut |k, _| {
            let mut key = crate::store::key::KeyReader::new(k);
            let code = if numbered {
                key.u64().map(|n| n.to_string())
            } else {
                key.str()
            };
            codes.extend(code);
            Ok(true)
        })?;
        Ok(codes)
    }

    /// A deleted template's entries keep its code, so its statistics can outlive it.
    fn has_plain_stats(&self, kind: StatKind, code: &str) -> Result<bool> {
        let key = StatKey {
            kind,
            code: code.to_string(),
            bucket: PLAIN,
        };
        layout::exists(self.kv, tables::STATS, &key.total_key())
    }
}

fn kind_record(kind: StatKind) -> &'static str {
    match kind {
        StatKind::Template => "template",
        StatKind::Group => "group",
        StatKind::Contact => "contact",
        StatKind::Salesperson => "salesperson",
        StatKind::CampaignEntry => "campaign entry",
        StatKind::LoggedSegment => "logged segment",
    }
}

/// Reads every stored counter of `table` (for the integrity check).
pub(crate) fn stored(kv: &dyn KvRead, table: Table) -> Result<BTreeMap<Vec<u8>, Counters>> {
    let mut out = BTreeMap::new();
    layout::scan_all(kv, table, Order::Ascending, &mut |k, v| {
        out.insert(k.to_vec(), codec::decode(v, table.name())?);
        Ok(true)
    })?;
    Ok(out)
}

/// The values the spec derives per contact (spec 1, Contact): a company covers itself and all
/// its persons, a person only itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactSummary {
    /// Number, cost and duration of its entries that are not canceled and not postponed.
    pub statistics: Statistics,
    /// Date of its last entry that did not fail and is not postponed (canceled ones count).
    pub last_interaction: Option<NaiveDate>,
    /// Date of its last entry initiated by us that is not postponed.
    pub last_attempted: Option<NaiveDate>,
}

impl View<'_> {
    /// The derived values of a contact. The dates come from a backward walk of its timeline
    /// index, which stops at the first entry that qualifies for each.
    pub fn contact_summary(&self, contact_no: &str) -> Result<ContactSummary> {
        let no = normalize_code(contact_no);
        let contact = self
            .contact(&no)?
            .ok_or_else(|| Error::not_found("contact", &no))?;
        let statistics = self.statistics(StatKind::Contact, &no, None)?;
        let prefix = if contact.is_person() {
            keys::entries_of_contact(&no)
        } else {
            keys::entries_of_company(&no)
        };
        let (mut last_interaction, mut last_attempted) = (None, None);
        let mut failure = None;
        layout::scan_prefix(
            self.kv,
            tables::ENTRY_INDEX,
            &prefix,
            Order::Descending,
            &mut |k, _| {
                let entry_no = layout::trailing_u64(k);
                match layout::get::<InteractionLogEntry>(
                    self.kv,
                    tables::ENTRIES,
                    &keys::no(entry_no),
                ) {
                    Ok(Some(e)) if !e.postponed => {
                        if last_interaction.is_none() && !e.attempt_failed {
                            last_interaction = Some(e.date);
                        }
                        if last_attempted.is_none()
                            && e.initiated_by == crate::model::InitiatedBy::Us
                        {
                            last_attempted = Some(e.date);
                        }
                    }
                    Ok(_) => {}
                    Err(err) => failure = Some(err),
                }
                Ok(failure.is_none() && (last_interaction.is_none() || last_attempted.is_none()))
            },
        )?;
        if let Some(err) = failure {
            return Err(err);
        }
        Ok(ContactSummary {
            statistics,
            last_interaction,
            last_attempted,
        })
    }
}
