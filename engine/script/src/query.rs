//! Lazy queries: `contacts()`, `entries()`, … build a value that describes what to read;
//! `.count()`, `.each()`, `.list()`, … run it. A run streams the store in chunks (a bounded number
//! of records in memory, and no borrow of the transaction while a closure runs, so closures may
//! call any engine function), pushes each record through the steps in order, and stops reading as
//! soon as a `.limit` or `.first` has what it needs. A `.filter` on an indexed field reads the
//! index instead of every record.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use rhai::{Array, Dynamic, Engine, FnPtr, INT, Map, NativeCallContext};

use crate::capability::{Access, Kind};
use crate::error::{RhaiResult, engine_error, placed_result};
use crate::native::{self, FieldSource, Pred};
use crate::outcome::{StreamSlot, Streamed, Value};
use crate::session::{Shared, with_read};
use crate::value::{
    LoggedSegmentHandle, SegmentHandle, add_declared_fields, campaign_entry_map, campaign_map,
    compare, contact_field, contact_view_map, entry_view_map, group_map, logged_segment_map,
    operation_map, salesperson_map, segment_map, template_map,
};
use rapport_engine::model::{
    Campaign, CampaignEntry, ContactView, EntryView, InteractionGroup, InteractionTemplate,
    LoggedSegment, Operation, Salesperson, Segment, normalize_code,
};
use rapport_engine::model::{DocumentType, FieldDef, FieldRecord};
use rapport_engine::ops::INDEXED_CONTACT_FIELDS;
use rapport_engine::ops::scan::{ContactIndex, Cursor, EntryIndex, RecordSource, ScanPath};
use rapport_engine::ops::{ContactRow, RowVerdict, View, entry_id, in_columns, unknown_field};
use rapport_engine::store::codec;
use rapport_engine::{Error, Result};

/// Records kept from the store per run of a scan (then no borrow of the transaction is held
/// while closures run).
const CHUNK: usize = 256;

/// Contacts kept without their records per run of a scan ([`Rec::Kept`]: nothing but a count).
const KEPT_CHUNK: usize = 1 << 16;

/// What a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `contacts()`
    Contacts,
    /// `entries()` (postponed entries only when a filter names `postponed`)
    Entries,
    /// `templates()`
    Templates,
    /// `groups()`
    Groups,
    /// `segments()`
    Segments,
    /// `logged_segments()`
    LoggedSegments,
    /// `campaigns()`
    Campaigns,
    /// `campaign_entries()`
    CampaignEntries,
    /// `salespeople()`
    Salespeople,
    /// `history()`: the operations of the history
    Operations,
}

impl Source {
    /// What one record of this source is called in messages.
    fn record_word(self) -> &'static str {
        match self {
            Source::Contacts => "contact",
            Source::Entries => "interaction log entry",
            Source::Templates => "template",
            Source::Groups => "group",
            Source::Segments => "segment",
            Source::LoggedSegments => "logged segment",
            Source::Campaigns => "campaign",
            Source::CampaignEntries => "campaign entry",
            Source::Salespeople => "salesperson",
            Source::Operations => "operation",
        }
    }

    /// The kind of record whose custom fields this source's records have.
    pub fn custom_record(self) -> Option<FieldRecord> {
        Some(match self {
            Source::Contacts => FieldRecord::Contact,
            Source::Entries => FieldRecord::Entry,
            Source::Templates => FieldRecord::Template,
            Source::Campaigns => FieldRecord::Campaign,
            Source::Salespeople => FieldRecord::Salesperson,
            _ => return None,
        })
    }

    /// The built-in fields of this source's records: the keys of their maps (`value.rs`;
    /// a test keeps them equal to the model's `FIELDS` for records with custom fields).
    pub(crate) fn built_in_fields(self) -> Vec<String> {
        if let Some(record) = self.custom_record() {
            return record.built_in().iter().map(ToString::to_string).collect();
        }
        let map = match self {
            Source::Groups => group_map(&InteractionGroup::default()),
            Source::Segments => segment_map(&Segment::default()),
            Source::LoggedSegments => logged_segment_map(&LoggedSegment::default()),
            Source::Operations => operation_map(&Operation::default()),
            _ => campaign_entry_map(&CampaignEntry::default()),
        };
        map.keys().map(ToString::to_string).collect()
    }

    /// The declared custom fields of this source's records.
    fn declared(self, shared: &Shared) -> RhaiResult<Vec<String>> {
        let Some(record) = self.custom_record() else {
            return Ok(Vec::new());
        };
        with_read(shared, Access::read(self.kind()), |v| {
            Ok(v.declared_fields(record)?
                .into_iter()
                .map(|d| d.name)
                .collect())
        })
    }

    /// Refuses a field the records of this source do not have (built-in or declared), naming
    /// the closest one: a mistyped field would otherwise match nothing, sum to 0 or sort by
    /// nothing, silently.
    pub(crate) fn check_field(self, shared: &Shared, what: &str, field: &str) -> RhaiResult<()> {
        let mut known = self.built_in_fields();
        if known.iter().any(|f| f == field) {
            return Ok(());
        }
        known.extend(self.declared(shared)?);
        if known.iter().any(|f| f == field) {
            return Ok(());
        }
        Err(engine_error(unknown_field(
            what,
            self.record_word(),
            field,
            &known,
        )))
    }

    /// The function that starts such a query.
    pub fn name(self) -> &'static str {
        match self {
            Source::Contacts => "contacts",
            Source::Entries => "entries",
            Source::Templates => "templates",
            Source::Groups => "groups",
            Source::Segments => "segments",
            Source::LoggedSegments => "logged_segments",
            Source::Campaigns => "campaigns",
            Source::CampaignEntries => "campaign_entries",
            Source::Salespeople => "salespeople",
            Source::Operations => "history",
        }
    }

    /// The capability reading it needs.
    fn kind(self) -> Kind {
        match self {
            Source::Contacts => Kind::Contacts,
            Source::Entries => Kind::Entries,
            Source::Templates | Source::Groups => Kind::Catalogue,
            Source::Segments | Source::LoggedSegments => Kind::Segments,
            Source::Campaigns | Source::CampaignEntries => Kind::Campaigns,
            Source::Salespeople => Kind::Salespeople,
            Source::Operations => Kind::History,
        }
    }

    fn records(self) -> RecordSource {
        match self {
            Source::Contacts => RecordSource::Contacts,
            Source::Entries => RecordSource::Entries,
            Source::Templates => RecordSource::Templates,
            Source::Groups => RecordSource::Groups,
            Source::Segments => RecordSource::Segments,
            Source::LoggedSegments => RecordSource::LoggedSegments,
            Source::Campaigns => RecordSource::Campaigns,
            Source::CampaignEntries => RecordSource::CampaignEntries,
            Source::Salespeople => RecordSource::Salespeople,
            Source::Operations => RecordSource::Operations,
        }
    }

    /// The record as the script sees it: a map, or a handle with methods for segments.
    pub fn wrap(self, map: Map) -> Dynamic {
        match self {
            Source::Segments => {
                let no = map.get("no").map(ToString::to_string).unwrap_or_default();
                Dynamic::from(SegmentHandle { no, fields: map })
            }
            Source::LoggedSegments => {
                let entry_no = map
                    .get("entry_no")
                    .and_then(|v| v.as_int().ok())
                    .unwrap_or(0) as u64;
                Dynamic::from(LoggedSegmentHandle {
                    entry_no,
                    fields: map,
                })
            }
            _ => Dynamic::from_map(map),
        }
    }

    /// Decodes one stored value; `None` when the query leaves it out. A contact is read in
    /// place, and left out here when the leading `steps` surely drop it; it stays bytes until
    /// a step needs a map.
    /// An entry stays bytes too when `entries_in_place` (entries have no declared fields, whose
    /// values live beside them and join the map in [`fetch`]).
    fn decode(
        self,
        bytes: &[u8],
        include_postponed: bool,
        steps: &[Step],
        entries_in_place: bool,
    ) -> Result<Option<Rec>> {
        let name = self.name();
        let map = match self {
            Source::Contacts => {
                let contact = contact_in_place(bytes)?;
                return Ok(may_pass(steps, &contact).then(|| Rec::Contact(bytes.to_vec())));
            }
            Source::Entries => {
                // Read in place; its map is made only if the leading steps may keep it.
                let e: EntryView<'_> = codec::decode_in_place(bytes, name)?;
                if e.postponed && !include_postponed {
                    return Ok(None);
                }
                if !may_pass(steps, &EntrySource(&e)) {
                    return Ok(None);
                }
                if entries_in_place {
                    return Ok(Some(Rec::Entry(bytes.to_vec())));
                }
                entry_view_map(&e)
            }
            Source::Templates => template_map(&codec::decode::<InteractionTemplate>(bytes, name)?),
            Source::Groups => group_map(&codec::decode::<InteractionGroup>(bytes, name)?),
            Source::Segments => segment_map(&codec::decode::<Segment>(bytes, name)?),
            Source::LoggedSegments => {
                logged_segment_map(&codec::decode::<LoggedSegment>(bytes, name)?)
            }
            Source::Campaigns => campaign_map(&codec::decode::<Campaign>(bytes, name)?),
            Source::CampaignEntries => {
                campaign_entry_map(&codec::decode::<CampaignEntry>(bytes, name)?)
            }
            Source::Salespeople => salesperson_map(&codec::decode::<Salesperson>(bytes, name)?),
            Source::Operations => operation_map(&codec::decode::<Operation>(bytes, name)?),
        };
        Ok(Some(Rec::Map(map)))
    }
}

/// A record on its way through the steps.
pub(crate) enum Rec {
    /// A contact's stored bytes (checked to decode), read in place until a step needs a map.
    Contact(Vec<u8>),
    /// An entry's stored bytes (checked to decode), the same way.
    Entry(Vec<u8>),
    Map(Map),
    /// A contact every step keeps, not read: only counted.
    Kept,
}

impl Rec {
    /// The record as the script sees it (a contact's bytes were read once when the record was
    /// made, so reading them again cannot fail).
    fn into_map(self) -> Map {
        match self {
            Rec::Contact(bytes) => {
                contact_in_place(&bytes).map_or_else(|_| Map::new(), |c| contact_view_map(&c))
            }
            Rec::Entry(bytes) => {
                entry_in_place(&bytes).map_or_else(|_| Map::new(), |e| entry_view_map(&e))
            }
            Rec::Map(m) => m,
            Rec::Kept => Map::new(),
        }
    }
}

fn contact_in_place(bytes: &[u8]) -> Result<ContactView<'_>> {
    Ok(codec::decode_in_place(bytes, "contact")?)
}

fn entry_in_place(bytes: &[u8]) -> Result<EntryView<'_>> {
    Ok(codec::decode_in_place(bytes, "interaction log entry")?)
}

impl FieldSource for Rec {
    fn field(&self, name: &str) -> Option<Dynamic> {
        match self {
            Rec::Contact(bytes) => contact_field(&contact_in_place(bytes).ok()?, name),
            Rec::Entry(bytes) => crate::value::entry_field(&entry_in_place(bytes).ok()?, name),
            Rec::Map(m) => m.get(name).cloned(),
            Rec::Kept => None,
        }
    }
}

/// An entry read in place, not yet a map: its built-in fields, one at a time.
struct EntrySource<'e, 'b>(&'e EntryView<'b>);

impl FieldSource for EntrySource<'_, '_> {
    fn field(&self, name: &str) -> Option<Dynamic> {
        crate::value::entry_field(self.0, name)
    }

    fn knows(&self, name: &str) -> bool {
        FieldRecord::Entry.built_in().contains(&name)
    }
}

impl FieldSource for ContactView<'_> {
    fn field(&self, name: &str) -> Option<Dynamic> {
        contact_field(self, name)
    }

    fn order_with(&self, name: &str, constant: &Dynamic) -> Option<Ordering> {
        use rapport_engine::model::FieldValueView;
        if let Some(v) = self.custom(name) {
            return match *v {
                FieldValueView::Text(t) => native::order_text(t, constant),
                FieldValueView::Number(n) => native::order_number(n, constant),
                FieldValueView::Empty | FieldValueView::Bool(_) | FieldValueView::Date(_) => None,
            };
        }
        // The flags are bools, which `order` leaves undecided; other names are no field.
        native::order_text(crate::value::contact_text(self, name)?, constant)
    }
}

/// A contact's row of the contact columns: the fields they hold (not the free text ones, which
/// it does not know, so the steps that test those leave the contact to its record).
impl FieldSource for ContactRow<'_, '_> {
    fn field(&self, name: &str) -> Option<Dynamic> {
        self.value(name).map(crate::value::view_value)
    }

    fn knows(&self, name: &str) -> bool {
        in_columns(name)
    }

    fn order_with(&self, name: &str, constant: &Dynamic) -> Option<Ordering> {
        row_order(self.value(name), constant)
    }

    fn order_for(&self, question: usize, name: &str, constant: &Dynamic) -> Option<Ordering> {
        // Answered once for each distinct value in the contact's block.
        let answer = self.answer(question, name, |v| match row_order(v, constant) {
            None => 2,
            Some(o) => o as i8,
        });
        match answer {
            -1 => Some(Ordering::Less),
            0 => Some(Ordering::Equal),
            1 => Some(Ordering::Greater),
            _ => None,
        }
    }
}

/// [`FieldSource::order_with`] of a value of a contact's row.
fn row_order(
    value: Option<rapport_engine::model::FieldValueView<'_>>,
    constant: &Dynamic,
) -> Option<Ordering> {
    use rapport_engine::model::FieldValueView;
    match value? {
        FieldValueView::Text(t) => native::order_text(t, constant),
        FieldValueView::Number(n) => native::order_number(n, constant),
        FieldValueView::Empty | FieldValueView::Bool(_) | FieldValueView::Date(_) => None,
    }
}

/// Whether the contact columns can decide the leading steps of a scan of every contact: there
/// is at least one `.filter` or compiled `.where` step before any other, and every field those
/// steps read is in the columns. Then a contact the steps drop is never read as a record.
fn columns_decide(steps: &[Step]) -> bool {
    let mut fields: Vec<&str> = Vec::new();
    let mut decided = 0;
    for step in steps {
        match step {
            Step::Filter(conds) => fields.extend(conds.iter().map(|c| c.field.as_str())),
            Step::Where(_, Some(pred)) => pred.fields(&mut fields),
            _ => break,
        }
        decided += 1;
    }
    decided > 0 && fields.iter().all(|f| in_columns(f))
}

/// Whether a record may pass the leading `.filter` and compiled `.where` steps: `false` only
/// when one of them surely drops it. It stops at the first step it cannot decide (a closure
/// that must run), so no closure runs fewer times than the steps say.
fn may_pass(steps: &[Step], record: &dyn FieldSource) -> bool {
    verdict(steps, record) != Some(false)
}

/// What the steps surely do with a record: `Some(false)` when a leading `.filter` or compiled
/// `.where` step drops it, `Some(true)` when every step is one of those and keeps it, `None`
/// when a step must run on the record (stopping there, as [`may_pass`] says).
fn verdict(steps: &[Step], record: &dyn FieldSource) -> Option<bool> {
    for step in steps {
        match step {
            Step::Filter(conds) => {
                if conds.iter().any(|c| !record.knows(&c.field)) {
                    return None;
                }
                if !conds.iter().all(|c| c.holds(record)) {
                    return Some(false);
                }
            }
            Step::Where(_, Some(pred)) => match pred.eval(record) {
                Some(true) => {}
                Some(false) => return Some(false),
                None => return None,
            },
            _ => return None,
        }
    }
    Some(true)
}

/// A query: a source and the steps to apply, in order.
#[derive(Clone)]
pub struct Query {
    pub(crate) source: Source,
    pub(crate) steps: Vec<Step>,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}()", self.source.name())?;
        for step in &self.steps {
            match step {
                Step::Where(_, _) => write!(f, ".where(…)")?,
                Step::Filter(c) => write!(f, ".filter({} condition(s))", c.len())?,
                Step::OrderBy(field, desc) => write!(
                    f,
                    ".order_by(\"{field}\"{})",
                    if *desc { ", \"desc\"" } else { "" }
                )?,
                Step::Limit(n) => write!(f, ".limit({n})")?,
                Step::Skip(n) => write!(f, ".skip({n})")?,
            }
        }
        Ok(())
    }
}

/// One step of a query.
#[derive(Clone)]
pub(crate) enum Step {
    /// The closure, and its native form when it has one.
    Where(FnPtr, Option<Pred>),
    Filter(Vec<Cond>),
    OrderBy(String, bool),
    Limit(usize),
    Skip(usize),
}

/// A condition of `.filter`: a field and a test.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub field: String,
    pub test: Test,
}

/// Equality, inequality, a range with open or closed ends, or membership.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Eq(Dynamic),
    Ne(Dynamic),
    Range {
        low: Option<(Dynamic, bool)>,
        high: Option<(Dynamic, bool)>,
    },
    In(Vec<Dynamic>),
}

impl Cond {
    fn holds(&self, record: &dyn FieldSource) -> bool {
        let value = record.field(&self.field).unwrap_or(Dynamic::UNIT);
        let eq = |want: &Dynamic| compare(&value, want) == Some(Ordering::Equal);
        match &self.test {
            Test::Eq(want) => eq(want),
            Test::Ne(want) => !eq(want),
            Test::In(values) => values.iter().any(eq),
            Test::Range { low, high } => {
                low.as_ref().is_none_or(|(bound, closed)| {
                    compare(&value, bound).is_some_and(|o| {
                        o == Ordering::Greater || (*closed && o == Ordering::Equal)
                    })
                }) && high.as_ref().is_none_or(|(bound, closed)| {
                    compare(&value, bound)
                        .is_some_and(|o| o == Ordering::Less || (*closed && o == Ordering::Equal))
                })
            }
        }
    }
}

/// Reads a filter map: `#{field: value}` is equality; a map value is a range or another test:
/// `#{from, to}` (both ends included), `#{gt, ge, lt, le}`, `#{ne}`, `#{one_of: [..]}`.
pub(crate) fn parse_filter(map: &Map) -> Result<Vec<Cond>> {
    let mut conds = Vec::with_capacity(map.len());
    for (field, value) in map {
        let field = field.to_string();
        let test = match value.read_lock::<Map>() {
            None => Test::Eq(value.clone()),
            Some(spec) => {
                let mut low = None;
                let mut high = None;
                let mut other = None;
                for (k, v) in spec.iter() {
                    match k.as_str() {
                        "from" | "ge" => low = Some((v.clone(), true)),
                        "gt" => low = Some((v.clone(), false)),
                        "to" | "le" => high = Some((v.clone(), true)),
                        "lt" => high = Some((v.clone(), false)),
                        "ne" => other = Some(Test::Ne(v.clone())),
                        // `in` is a Rhai keyword, so it must be quoted: #{"in": [..]}; one_of reads better.
                        "one_of" | "in" => match v.read_lock::<Array>() {
                            Some(a) => other = Some(Test::In(a.to_vec())),
                            None => {
                                return Err(Error::invalid(
                                    "filter",
                                    "one_of",
                                    format!("of {field} is not an array"),
                                    "give an array: #{one_of: [\"A\", \"B\"]}",
                                ));
                            }
                        },
                        other_key => {
                            return Err(Error::invalid(
                                "filter",
                                "condition",
                                format!("\"{other_key}\" on {field} is not a test"),
                                "use from, to, gt, ge, lt, le, ne or one_of",
                            ));
                        }
                    }
                }
                match other {
                    Some(t) if low.is_none() && high.is_none() => t,
                    Some(_) => {
                        return Err(Error::invalid(
                            "filter",
                            "condition",
                            format!("on {field} mixes a range with ne/one_of"),
                            "write them as two filters",
                        ));
                    }
                    None => Test::Range { low, high },
                }
            }
        };
        conds.push(Cond { field, test });
    }
    Ok(conds)
}

/// Refuses filter values no record can have, which would otherwise match nothing (or, as a
/// bound, everything) silently: a date that does not exist ("2026-02-30") and a number below zero
/// for a built-in field (entry numbers, costs, durations, counts are never negative).
fn check_filter_values(conds: &[Cond], built_in: &[String]) -> Result<()> {
    for c in conds {
        let values: Vec<&Dynamic> = match &c.test {
            Test::Eq(v) | Test::Ne(v) => vec![v],
            Test::In(vs) => vs.iter().collect(),
            Test::Range { low, high } => low.iter().chain(high.iter()).map(|(v, _)| v).collect(),
        };
        for v in values {
            if let Some(text) = v.read_lock::<rhai::ImmutableString>() {
                let b = text.as_bytes();
                let looks_like_a_date = b.len() == 10
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
                if looks_like_a_date && crate::value::to_date(v).is_none() {
                    return Err(Error::invalid(
                        "filter",
                        "date",
                        format!(
                            "\"{}\" of {} is not a date that exists",
                            text.as_str(),
                            c.field
                        ),
                        "give a real date as YYYY-MM-DD, e.g. date(\"2026-11-29\")",
                    ));
                }
            } else if let Some(n) = crate::value::number(v)
                && n < 0.0
                && built_in.contains(&c.field)
            {
                return Err(Error::invalid(
                    "filter",
                    "number",
                    format!("{n} for {} is below zero, which no record has", c.field),
                    "give 0 or more",
                ));
            }
        }
    }
    Ok(())
}

fn eq_text(conds: &[Cond], field: &str) -> Option<String> {
    conds.iter().find_map(|c| match &c.test {
        Test::Eq(v) if c.field == field && v.is_string() => Some(normalize_code(&v.to_string())),
        _ => None,
    })
}

fn eq_int(conds: &[Cond], field: &str) -> Option<u64> {
    conds.iter().find_map(|c| match &c.test {
        Test::Eq(v) if c.field == field => v.as_int().ok().map(|n| n as u64),
        _ => None,
    })
}

fn eq_bool(conds: &[Cond], field: &str) -> Option<bool> {
    conds.iter().find_map(|c| match &c.test {
        Test::Eq(v) if c.field == field => v.as_bool().ok(),
        _ => None,
    })
}

/// An equality on text of an indexed contact field, and the value as the index holds it.
fn indexed_field(conds: &[Cond]) -> Option<(&'static str, String)> {
    conds.iter().find_map(|c| match &c.test {
        Test::Eq(v) if v.is_string() => INDEXED_CONTACT_FIELDS
            .iter()
            .find(|f| **f == c.field)
            .map(|f| (*f, v.to_string().to_lowercase())),
        _ => None,
    })
}

impl Query {
    /// The indexed field and value whose counter holds the number of results:
    /// `contacts().filter(#{city: "Oslo"})` with nothing else is one read of the count.
    fn counted(&self) -> Option<(&'static str, String)> {
        match (self.source, self.steps.as_slice()) {
            (Source::Contacts, [Step::Filter(conds)]) if conds.len() == 1 => indexed_field(conds),
            _ => None,
        }
    }

    /// The filter conditions that hold for every record the query yields (those before any
    /// order, skip or limit step).
    fn leading_conditions(&self) -> Vec<Cond> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Filter(c) => out.extend(c.iter().cloned()),
                Step::Where(..) => {}
                _ => break,
            }
        }
        out
    }

    fn plan(&self) -> (ScanPath, bool) {
        let conds = self.leading_conditions();
        let names_postponed = self
            .steps
            .iter()
            .any(|s| matches!(s, Step::Filter(c) if c.iter().any(|c| c.field == "postponed")));
        let plan = match self.source {
            Source::Entries => ScanPath::Entries(if let Some(v) = eq_text(&conds, "contact_no") {
                EntryIndex::Contact(v)
            } else if let Some(v) = eq_text(&conds, "contact_company_no") {
                EntryIndex::Company(v)
            } else if let Some(n) = eq_int(&conds, "logged_segment_no").filter(|n| *n != 0) {
                EntryIndex::LoggedSegment(n)
            } else if let Some(n) = eq_int(&conds, "campaign_entry_no").filter(|n| *n != 0) {
                EntryIndex::CampaignEntry(n)
            } else if let Some(t) =
                eq_text(&conds, "document_type").and_then(|t| t.parse::<DocumentType>().ok())
            {
                match eq_text(&conds, "document_no") {
                    Some(no) => EntryIndex::Document(t, no),
                    None => EntryIndex::DocumentType(t),
                }
            } else if let Some(v) = eq_text(&conds, "template") {
                EntryIndex::Template(v)
            } else if let Some(v) = eq_text(&conds, "salesperson").filter(|v| !v.is_empty()) {
                EntryIndex::Salesperson(v)
            } else if let Some(v) = eq_text(&conds, "group") {
                EntryIndex::Group(v)
            } else if eq_bool(&conds, "canceled") == Some(true) {
                EntryIndex::Canceled
            } else if eq_bool(&conds, "postponed") == Some(true) {
                EntryIndex::Postponed
            } else {
                return (ScanPath::Table, names_postponed);
            }),
            Source::Contacts => {
                ScanPath::Contacts(if let Some(v) = eq_text(&conds, "company_no") {
                    ContactIndex::Company(v)
                } else if let Some(v) = conds.iter().find_map(|c| match &c.test {
                    Test::Eq(v) if c.field == "name" && v.is_string() => Some(v.to_string()),
                    _ => None,
                }) {
                    ContactIndex::Name(v)
                } else if let Some((field, value)) = indexed_field(&conds) {
                    ContactIndex::Field { field, value }
                } else {
                    return (ScanPath::Table, names_postponed);
                })
            }
            _ => ScanPath::Table,
        };
        (plan, names_postponed)
    }

    /// Whether the query reads an index rather than every record (for tests and `:explain`).
    pub fn uses_index(&self) -> bool {
        !matches!(self.plan().0, ScanPath::Table)
    }
}

/// What a run of a query needs of the records every step surely keeps.
#[derive(Debug, Clone, Copy)]
struct Needs {
    /// Nothing: they are only counted ([`Rec::Kept`]).
    only_count: bool,
    /// Their maps: a contact the contact columns show every step keeps is made a map at once
    /// (its record read in place once, not once to test it and once for its map).
    maps: bool,
}

/// Records fetched, each with whether every step surely keeps it, and where to continue from.
type Fetched = (Vec<(Rec, bool)>, Option<Cursor>);

/// One chunk of records after `after`, and where to continue from (`None`: done); each with
/// whether every step surely keeps it.
fn fetch(
    view: &View<'_>,
    q: &Query,
    plan: &ScanPath,
    include_postponed: bool,
    after: Option<&Cursor>,
    declared: &[FieldDef],
    needs: Needs,
) -> Result<Fetched> {
    let (source, steps) = (q.source, q.steps.as_slice());
    let mut out: Vec<(Rec, bool)> = Vec::new();
    let entries_in_place = declared.is_empty();
    // Records kept without being read hold nothing: many more of them make a run.
    let mut kept = 0;
    let mut visit = |record: Option<&[u8]>, sure: bool| {
        match record {
            Some(bytes) if sure && needs.maps => {
                out.push((Rec::Map(contact_view_map(&contact_in_place(bytes)?)), true));
            }
            Some(bytes) => out.extend(
                source
                    .decode(bytes, include_postponed, steps, entries_in_place)?
                    .map(|r| (r, sure)),
            ),
            None => {
                out.push((Rec::Kept, true));
                kept += 1;
            }
        }
        Ok(out.len() - kept < CHUNK && kept < KEPT_CHUNK)
    };
    // A bare count needs no record at all.
    let next = if source == Source::Contacts
        && *plan == ScanPath::Table
        && (columns_decide(steps) || (needs.only_count && steps.is_empty()))
    {
        view.scan_contacts_by_columns(
            after,
            &mut |row| match verdict(steps, row) {
                Some(false) => RowVerdict::Drop,
                // Every step keeps it, and the caller needs no record: not read.
                Some(true) if needs.only_count => RowVerdict::Keep,
                Some(true) => RowVerdict::Take,
                None => RowVerdict::Read,
            },
            &mut visit,
        )?
    } else {
        view.scan_records(source.records(), plan, after, &mut |bytes| {
            visit(Some(bytes), false)
        })?
    };
    // Custom values of other records than contacts live beside them: read while the view is
    // at hand (contacts carry theirs).
    if let Some(record) = source
        .custom_record()
        .filter(|r| *r != FieldRecord::Contact)
        && !declared.is_empty()
    {
        for (rec, _) in &mut out {
            if let Rec::Map(m) = rec {
                let id = match record {
                    FieldRecord::Entry => {
                        entry_id(m.get("entry_no").and_then(|v| v.as_int().ok()).unwrap_or(0) as u64)
                    }
                    FieldRecord::Campaign => {
                        m.get("no").map(ToString::to_string).unwrap_or_default()
                    }
                    _ => m.get("code").map(ToString::to_string).unwrap_or_default(),
                };
                add_declared_fields(view, record, &id, declared, m)?;
            }
        }
    }
    Ok((out, next))
}

/// Runs a query, giving each result to `sink` (which returns `false` to stop).
pub(crate) fn run(
    ctx: &NativeCallContext,
    shared: &Shared,
    q: &Query,
    sink: &mut dyn FnMut(Dynamic) -> RhaiResult<bool>,
) -> RhaiResult<()> {
    run_with(ctx, shared, q, None, false, sink)
}

/// Runs a query, giving `sink` only `field` of each result (`()` where it has none), as
/// [`field_of`] would read it from the result — without making a map of a record read in place.
pub(crate) fn run_field(
    ctx: &NativeCallContext,
    shared: &Shared,
    q: &Query,
    field: &str,
    sink: &mut dyn FnMut(Dynamic) -> RhaiResult<bool>,
) -> RhaiResult<()> {
    run_with(ctx, shared, q, Some(field), false, sink)
}

/// How many results a query has: as [`run`] counts them, but a contact the contact columns
/// show every step keeps is counted without reading its record.
pub(crate) fn count(ctx: &NativeCallContext, shared: &Shared, q: &Query) -> RhaiResult<INT> {
    let mut n: INT = 0;
    run_with(ctx, shared, q, None, true, &mut |_| {
        n += 1;
        Ok(true)
    })?;
    Ok(n)
}

/// Runs a query; with `keep_unread`, the sink gets `()` for each result kept without its
/// record ([`Rec::Kept`]).
fn run_with(
    ctx: &NativeCallContext,
    shared: &Shared,
    q: &Query,
    field: Option<&str>,
    keep_unread: bool,
    sink: &mut dyn FnMut(Dynamic) -> RhaiResult<bool>,
) -> RhaiResult<()> {
    let (plan, include_postponed) = q.plan();
    let declared = match q.source.custom_record() {
        Some(record) => with_read(shared, Access::read(q.source.kind()), |v| {
            v.declared_fields(record)
        })?,
        None => Vec::new(),
    };
    let mut pipeline = Pipeline::new(&q.steps, q.source, &declared);
    pipeline.field = field;
    let mut after: Option<Cursor> = None;
    'chunks: loop {
        let (records, last) = with_read(shared, Access::read(q.source.kind()), |v| {
            fetch(
                v,
                q,
                &plan,
                include_postponed,
                after.as_ref(),
                &declared,
                Needs {
                    only_count: keep_unread,
                    // Only a field of each: the record stays bytes (`run_field`).
                    maps: field.is_none(),
                },
            )
        })?;
        if last.is_none() {
            break;
        }
        for (record, passed) in records {
            // A record every step surely keeps goes straight to the sink.
            let from = if passed { q.steps.len() } else { 0 };
            if !pipeline.push(ctx, from, record, sink)? {
                break 'chunks;
            }
        }
        after = last;
    }
    pipeline.finish(ctx, sink)
}

/// The steps as a push pipeline: each record goes through the steps from a given one on;
/// `order_by` holds its records until the source is done.
struct Pipeline<'q> {
    steps: &'q [Step],
    source: Source,
    /// The declared contact fields, each in every contact's map (`()` when unset).
    contact_fields: Vec<&'q str>,
    counts: Vec<usize>,
    held: Vec<Vec<Rec>>,
    /// Only this field of each result goes to the sink ([`run_field`]).
    field: Option<&'q str>,
}

impl<'q> Pipeline<'q> {
    fn new(steps: &'q [Step], source: Source, declared: &'q [FieldDef]) -> Self {
        let contact_fields = match source {
            Source::Contacts => declared.iter().map(|d| d.name.as_str()).collect(),
            _ => Vec::new(),
        };
        Self {
            steps,
            source,
            contact_fields,
            counts: vec![0; steps.len()],
            held: steps.iter().map(|_| Vec::new()).collect(),
            field: None,
        }
    }

    /// Returns `false` when nothing more is wanted.
    fn push(
        &mut self,
        ctx: &NativeCallContext,
        from: usize,
        mut record: Rec,
        sink: &mut dyn FnMut(Dynamic) -> RhaiResult<bool>,
    ) -> RhaiResult<bool> {
        for i in from..self.steps.len() {
            match &self.steps[i] {
                Step::Where(f, native) => {
                    match native.as_ref().and_then(|p| p.eval(&record)) {
                        Some(true) => continue,
                        Some(false) => return Ok(true),
                        None => {}
                    }
                    let map = self.map_of(record);
                    let keep =
                        f.call_within_context::<Dynamic>(ctx, (self.source.wrap(map.clone()),))?;
                    record = Rec::Map(map);
                    match keep.as_bool() {
                        Ok(true) => {}
                        Ok(false) => return Ok(true),
                        Err(t) => {
                            return Err(engine_error(Error::invalid(
                                "where",
                                "closure",
                                format!("returned {t}, not true or false"),
                                "end the closure with a comparison",
                            )));
                        }
                    }
                }
                Step::Filter(conds) => {
                    if !conds.iter().all(|c| c.holds(&record)) {
                        return Ok(true);
                    }
                }
                Step::Skip(n) => {
                    if self.counts[i] < *n {
                        self.counts[i] += 1;
                        return Ok(true);
                    }
                }
                Step::Limit(n) => {
                    if self.counts[i] >= *n {
                        return Ok(false);
                    }
                    self.counts[i] += 1;
                    let last = self.counts[i] == *n;
                    let more = self.push(ctx, i + 1, record, sink)?;
                    return Ok(more && !last);
                }
                Step::OrderBy(..) => {
                    self.held[i].push(record);
                    return Ok(true);
                }
            }
        }
        // Kept without its record: only counted ([`count`]), so nothing to make of it.
        if matches!(record, Rec::Kept) {
            return sink(Dynamic::UNIT);
        }
        if let Some(field) = self.field
            && !matches!(record, Rec::Map(_))
        {
            return sink(record.field(field).unwrap_or(Dynamic::UNIT));
        }
        let map = self.map_of(record);
        let item = self.source.wrap(map);
        match self.field {
            Some(field) => sink(field_of(&item, field)),
            None => sink(item),
        }
    }

    /// The record as the script sees it, with every declared contact field.
    fn map_of(&self, record: Rec) -> Map {
        let mut map = record.into_map();
        for name in &self.contact_fields {
            if !map.contains_key(*name) {
                map.insert((*name).into(), Dynamic::UNIT);
            }
        }
        map
    }

    fn finish(
        &mut self,
        ctx: &NativeCallContext,
        sink: &mut dyn FnMut(Dynamic) -> RhaiResult<bool>,
    ) -> RhaiResult<()> {
        for i in 0..self.steps.len() {
            if let Step::OrderBy(field, desc) = &self.steps[i] {
                let mut held = std::mem::take(&mut self.held[i]);
                let key = |r: &Rec| r.field(field).unwrap_or(Dynamic::UNIT);
                held.sort_by(|a, b| {
                    let o = compare(&key(a), &key(b)).unwrap_or(Ordering::Equal);
                    if *desc { o.reverse() } else { o }
                });
                for record in held {
                    if !self.push(ctx, i + 1, record, sink)? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The field of a result, for `sum`, `group_count` and selections.
pub(crate) fn field_of(item: &Dynamic, field: &str) -> Dynamic {
    if let Some(m) = item.read_lock::<Map>() {
        return m.get(field).cloned().unwrap_or(Dynamic::UNIT);
    }
    crate::value::handle_fields(item)
        .and_then(|f| f.get(field).cloned())
        .unwrap_or(Dynamic::UNIT)
}

/// Every kind of record a query reads, in the order discovery lists them (`:tables`).
pub const SOURCES: &[Source] = &[
    Source::Contacts,
    Source::Entries,
    Source::Templates,
    Source::Groups,
    Source::Salespeople,
    Source::Campaigns,
    Source::CampaignEntries,
    Source::Segments,
    Source::LoggedSegments,
    Source::Operations,
];

/// The entry fields a leading `.filter` equality reads from an index instead of every entry
/// (`Query::plan`; a test keeps the two the same). `document_no` is read from the index too,
/// with `document_type`.
pub const INDEXED_ENTRY_FIELDS: &[&str] = &[
    "contact_no",
    "contact_company_no",
    "logged_segment_no",
    "campaign_entry_no",
    "document_type",
    "template",
    "salesperson",
    "group",
    "canceled",
    "postponed",
];

/// A built-in field, as discovery shows it (`:fields`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltInField {
    /// Its name.
    pub name: String,
    /// Its type as the language shows it: text, number, flag, date, list, map.
    pub field_type: &'static str,
    /// Whether a leading `.filter` equality on it reads an index.
    pub indexed: bool,
}

impl Source {
    /// The source a query function names (`"contacts"`, …).
    pub fn named(name: &str) -> Option<Source> {
        SOURCES.iter().copied().find(|s| s.name() == name)
    }

    /// Its built-in fields (in the spec's order where there is one), with their types and
    /// whether they are indexed.
    pub fn field_docs(self) -> Vec<BuiltInField> {
        let blank = match self {
            Source::Contacts => {
                crate::value::contact_map(&rapport_engine::model::Contact::default())
            }
            Source::Entries => {
                crate::value::entry_map(&rapport_engine::model::InteractionLogEntry::blank(
                    0,
                    chrono::NaiveDate::default(),
                    chrono::NaiveTime::default(),
                ))
            }
            Source::Templates => template_map(&InteractionTemplate::default()),
            Source::Groups => group_map(&InteractionGroup::default()),
            Source::Segments => segment_map(&Segment::default()),
            Source::LoggedSegments => logged_segment_map(&LoggedSegment::default()),
            Source::Campaigns => campaign_map(&Campaign::default()),
            Source::CampaignEntries => campaign_entry_map(&CampaignEntry::default()),
            Source::Salespeople => salesperson_map(&Salesperson::default()),
            Source::Operations => operation_map(&Operation::default()),
        };
        let indexed: Vec<&str> = match self {
            Source::Contacts => ["company_no", "name"]
                .into_iter()
                .chain(INDEXED_CONTACT_FIELDS.iter().copied())
                .collect(),
            Source::Entries => INDEXED_ENTRY_FIELDS.to_vec(),
            _ => Vec::new(),
        };
        self.built_in_fields()
            .into_iter()
            .map(|name| {
                let value = blank.get(name.as_str()).cloned().unwrap_or(Dynamic::UNIT);
                // (A date a blank record leaves empty is `()`: its name says it is a date.)
                let field_type = if value.is_unit() && (name == "date" || name.ends_with("_date")) {
                    "date"
                } else if value.is_string() || value.is_unit() {
                    "text"
                } else if value.is_bool() {
                    "flag"
                } else if value.is_int() || value.is_float() {
                    "number"
                } else if value.is::<crate::value::Date>() {
                    "date"
                } else if value.is::<Array>() {
                    "list"
                } else {
                    "map"
                };
                BuiltInField {
                    indexed: indexed.contains(&name.as_str()),
                    name,
                    field_type,
                }
            })
            .collect()
    }
}

/// The name of the function a host runs a query result through when it streams results.
pub(crate) const STREAM_FN: &str = "__rapport_stream";

/// Registers [`STREAM_FN`]: runs a query, giving each result to the host's sink while the
/// transaction is open (nothing collected), until the sink says stop or `cancel` is set (Ctrl-C:
/// the printing stops, the run does not fail). Only the host may call it (it arms it for one
/// call); a script that does is refused. Plugins' engines do not have it.
pub(crate) fn register_stream(
    engine: &mut Engine,
    shared: &Shared,
    stream: &StreamSlot,
    printed: &Rc<RefCell<Vec<String>>>,
    cancel: &Arc<AtomicBool>,
) {
    let (s, stream, printed, cancel) = (
        shared.clone(),
        stream.clone(),
        printed.clone(),
        cancel.clone(),
    );
    engine.register_fn(
        STREAM_FN,
        move |ctx: NativeCallContext, q: &mut Query| -> RhaiResult<()> {
            let sink = {
                let mut slot = stream.borrow_mut();
                match (std::mem::take(&mut slot.armed), slot.sink.clone()) {
                    (true, Some(sink)) => sink,
                    _ => {
                        return Err(format!(
                            "{STREAM_FN} is the script host's own; a script lists a query with .list()"
                        )
                        .into());
                    }
                }
            };
            placed_result(&ctx, || {
                let mut fields = q.source.built_in_fields();
                fields.extend(q.source.declared(&s)?);
                let so_far = std::mem::take(&mut *printed.borrow_mut());
                sink.borrow_mut().start(&fields, &so_far);
                let mut done = Streamed::default();
                let mut ran = run(&ctx, &s, q, &mut |item| {
                    if cancel.load(AtomicOrdering::Relaxed)
                        || !sink.borrow_mut().item(Value::new(item))
                    {
                        done.stopped = true;
                        return Ok(false);
                    }
                    done.rows += 1;
                    Ok(true)
                });
                // Ctrl-C inside a `.where` closure the interpreter runs stops it with an error:
                // the results stop there as well, and the run does not fail for it.
                if ran.is_err() && cancel.load(AtomicOrdering::Relaxed) {
                    done.stopped = true;
                    ran = Ok(());
                }
                stream.borrow_mut().outcome = Some(done);
                ran
            })
        },
    );
}

/// Registers the query functions and methods.
pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    engine.register_type_with_name::<Query>("query");
    engine.register_fn("to_string", |q: &mut Query| format!("{q:?}"));
    engine.register_fn("to_debug", |q: &mut Query| format!("{q:?}"));
    for source in [
        Source::Contacts,
        Source::Entries,
        Source::Templates,
        Source::Groups,
        Source::Segments,
        Source::LoggedSegments,
        Source::Campaigns,
        Source::CampaignEntries,
        Source::Salespeople,
        Source::Operations,
    ] {
        engine.register_fn(source.name(), move || Query {
            source,
            steps: Vec::new(),
        });
    }
    let s = shared.clone();
    engine.register_fn(
        "where",
        move |ctx: NativeCallContext, q: &mut Query, f: FnPtr| -> RhaiResult<Query> {
            placed_result(&ctx, || -> RhaiResult<Query> {
                // A field the records do not have reads as () and silently matches nothing:
                // refuse it (segment handles also have methods, so they are left alone).
                if !matches!(q.source, Source::Segments | Source::LoggedSegments) {
                    for field in native::fields_read(&ctx, &f) {
                        q.source.check_field(&s, "where", &field)?;
                    }
                }
                let mut q = q.clone();
                let native = native::compile(&ctx, &f);
                q.steps.push(Step::Where(f, native));
                Ok(q)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "filter",
        move |ctx: NativeCallContext, q: &mut Query, m: Map| -> RhaiResult<Query> {
            placed_result(&ctx, || -> RhaiResult<Query> {
                for field in m.keys() {
                    q.source.check_field(&s, "filter", field)?;
                }
                let conds = parse_filter(&m).map_err(engine_error)?;
                check_filter_values(&conds, &q.source.built_in_fields()).map_err(engine_error)?;
                let mut q = q.clone();
                q.steps.push(Step::Filter(conds));
                Ok(q)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "order_by",
        move |ctx: NativeCallContext, q: &mut Query, field: &str| -> RhaiResult<Query> {
            placed_result(&ctx, || -> RhaiResult<Query> {
                q.source.check_field(&s, "order_by", field)?;
                let mut q = q.clone();
                q.steps.push(Step::OrderBy(field.to_string(), false));
                Ok(q)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "order_by",
        move |ctx: NativeCallContext,
              q: &mut Query,
              field: &str,
              direction: &str|
              -> RhaiResult<Query> {
            placed_result(&ctx, || -> RhaiResult<Query> {
                let desc = match direction.to_ascii_lowercase().as_str() {
                    "desc" | "descending" => true,
                    "asc" | "ascending" => false,
                    other => {
                        return Err(engine_error(Error::invalid(
                            "order_by",
                            "direction",
                            format!("\"{other}\" is not a direction"),
                            "use \"asc\" or \"desc\"",
                        )));
                    }
                };
                q.source.check_field(&s, "order_by", field)?;
                let mut q = q.clone();
                q.steps.push(Step::OrderBy(field.to_string(), desc));
                Ok(q)
            })
        },
    );
    engine.register_fn(
        "limit",
        |ctx: NativeCallContext, q: &mut Query, n: INT| -> RhaiResult<Query> {
            placed_result(&ctx, || -> RhaiResult<Query> {
                let mut q = q.clone();
                q.steps.push(Step::Limit(non_negative("limit", n)?));
                Ok(q)
            })
        },
    );
    engine.register_fn(
        "skip",
        |ctx: NativeCallContext, q: &mut Query, n: INT| -> RhaiResult<Query> {
            placed_result(&ctx, || -> RhaiResult<Query> {
                let mut q = q.clone();
                q.steps.push(Step::Skip(non_negative("skip", n)?));
                Ok(q)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "count",
        move |ctx: NativeCallContext, q: &mut Query| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                if let Some((field, value)) = q.counted() {
                    let n = with_read(&s, Access::read(q.source.kind()), |v| {
                        v.count_contacts_with(field, &value)
                    })?;
                    return Ok(n as INT);
                }
                count(&ctx, &s, q)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "first",
        move |ctx: NativeCallContext, q: &mut Query| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                let mut first = Dynamic::UNIT;
                run(&ctx, &s, q, &mut |item| {
                    first = item;
                    Ok(false)
                })?;
                Ok(first)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "list",
        move |ctx: NativeCallContext, q: &mut Query| -> RhaiResult<Array> {
            placed_result(&ctx, || -> RhaiResult<Array> { collect(&ctx, &s, q) })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "each",
        move |ctx: NativeCallContext, q: &mut Query, f: FnPtr| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                let mut n: INT = 0;
                run(&ctx, &s, q, &mut |item| {
                    let _ = f.call_within_context::<Dynamic>(&ctx, (item,))?;
                    n += 1;
                    Ok(true)
                })?;
                Ok(n)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "sum",
        move |ctx: NativeCallContext, q: &mut Query, field: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                q.source.check_field(&s, "sum", field)?;
                let (mut ints, mut floats, mut any_float) = (0 as INT, 0.0_f64, false);
                run_field(&ctx, &s, q, field, &mut |v| {
                    if let Ok(n) = v.as_int() {
                        ints += n;
                    } else if let Ok(f) = v.as_float() {
                        floats += f;
                        any_float = true;
                    } else if !v.is_unit() {
                        return Err(engine_error(Error::invalid(
                            "sum",
                            "field",
                            format!("{field} is not a number"),
                            "sum a numeric field such as cost or duration",
                        )));
                    }
                    Ok(true)
                })?;
                Ok(if any_float {
                    Dynamic::from_float(floats + ints as f64)
                } else {
                    Dynamic::from_int(ints)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "group_count",
        move |ctx: NativeCallContext, q: &mut Query, field: &str| -> RhaiResult<Map> {
            placed_result(&ctx, || -> RhaiResult<Map> {
                q.source.check_field(&s, "group_count", field)?;
                let mut groups = Map::new();
                run_field(&ctx, &s, q, field, &mut |key| {
                    // As the value shows: a date as YYYY-MM-DD, not its type's name.
                    let key = match crate::value::to_json(&key) {
                        serde_json::Value::String(text) => text,
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    let n = groups.entry(key.into()).or_insert(Dynamic::from_int(0));
                    *n = Dynamic::from_int(n.as_int().unwrap_or(0) + 1);
                    Ok(true)
                })?;
                Ok(groups)
            })
        },
    );
    engine.register_fn("uses_index", |q: &mut Query| q.uses_index());
}

fn non_negative(what: &'static str, n: INT) -> RhaiResult<usize> {
    usize::try_from(n).map_err(|_| {
        engine_error(Error::invalid(
            what,
            "count",
            format!("{n} is below zero"),
            "give 0 or more",
        ))
    })
}

/// The results of a query, collected (for selections).
pub(crate) fn collect(
    ctx: &NativeCallContext,
    shared: &Shared,
    q: &Query,
) -> RhaiResult<Vec<Dynamic>> {
    let mut all = Vec::new();
    run(ctx, shared, q, &mut |item| {
        all.push(item);
        Ok(true)
    })?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_engine::model::{Contact, ContactKind, ContactView, FieldValue};

    /// A contact read in place compares a field with a constant exactly as the value the script
    /// sees would (`order` of `contact_field`), on random contacts, fields and constants.
    #[test]
    fn a_contact_read_in_place_orders_like_its_field_values() {
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let texts = ["", "Oslo", "oslo", "Bergen", "Ålesund", "10", "Z"];
        let numbers = [0.0, 12.0, -3.0, 500.0, 500.5, 1e16, f64::NAN, 2.5e-3];
        let names = [
            "no",
            "name",
            "kind",
            "city",
            "country",
            "email",
            "correspondence",
            "revenue",
            "label",
            "flag",
            "when",
            "gone",
            "exclude_from_segment",
            "nothing",
        ];
        for _ in 0..2000 {
            let mut c = Contact {
                no: "C1".into(),
                name: texts[next(7) as usize].into(),
                city: texts[next(7) as usize].into(),
                kind: if next(2) == 0 {
                    ContactKind::Person
                } else {
                    ContactKind::Company
                },
                ..Contact::default()
            };
            let pick = |k: u64, i: u64| match k {
                0 => FieldValue::Text(texts[i as usize % 7].into()),
                1 => FieldValue::Number(numbers[i as usize % 8]),
                2 => FieldValue::Bool(i.is_multiple_of(2)),
                3 => FieldValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
                _ => FieldValue::Empty,
            };
            for name in ["label", "flag", "when"] {
                let (k, i) = (next(5), next(8));
                c.custom.insert(name.into(), pick(k, i));
            }
            c.custom.insert(
                "revenue".into(),
                FieldValue::Number(numbers[next(8) as usize]),
            );
            let view = ContactView::of(&c);
            let constant = match next(5) {
                0 => Dynamic::from(texts[next(7) as usize]),
                1 => Dynamic::from_int(next(1000) as INT - 500),
                2 => Dynamic::from_float(numbers[next(8) as usize]),
                3 => Dynamic::from_bool(true),
                _ => Dynamic::UNIT,
            };
            for name in names {
                let expected = view.field(name).and_then(|v| native::order(&v, &constant));
                assert_eq!(
                    view.order_with(name, &constant),
                    expected,
                    "{name} of {c:?} against {constant:?}"
                );
            }
        }
    }
}
