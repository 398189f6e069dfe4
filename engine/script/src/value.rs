//! Values between Rhai and the engine: records become maps with the spec's field names (custom
//! contact fields read the same way), input maps are read field by field with clear errors, and
//! dates are a `date` type that compares and takes day arithmetic.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use rhai::{Array, Dynamic, INT, Map};

use rapport_engine::model::{
    Amount, Attachment, Campaign, CampaignEntry, Contact, ContactView, EntryView, FieldDef,
    FieldRecord, FieldValue, FieldValueView, InteractionGroup, InteractionLogEntry,
    InteractionTemplate, LoggedSegment, Salesperson, Segment, SegmentLine, TemplateSetup,
};
use rapport_engine::ops::{Statistics, View};
use rapport_engine::{Error, Result};

/// A calendar date in scripts: `date("2026-11-29")`, `today() - days(30)`, compared with `<`, `==`…
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A record handle: a custom type whose fields read like a map's (`x.field`, `x["field"]`) and
/// which prints as its label and fields.
pub trait RecordHandle: Clone + 'static {
    /// How it prints before its fields (`segment`, `logged segment`).
    const LABEL: &'static str;
    /// Its fields when read.
    fn fields(&self) -> &Map;
}

impl RecordHandle for SegmentHandle {
    const LABEL: &'static str = "segment";
    fn fields(&self) -> &Map {
        &self.fields
    }
}

impl RecordHandle for LoggedSegmentHandle {
    const LABEL: &'static str = "logged segment";
    fn fields(&self) -> &Map {
        &self.fields
    }
}

/// The fields of a record handle held in a value, if it holds one.
pub fn handle_fields(v: &Dynamic) -> Option<Map> {
    handle(v).map(|(_, fields)| fields)
}

/// The label and fields of a record handle held in a value, if it holds one.
fn handle(v: &Dynamic) -> Option<(&'static str, Map)> {
    if let Some(s) = v.read_lock::<SegmentHandle>() {
        return Some((SegmentHandle::LABEL, s.fields.clone()));
    }
    v.read_lock::<LoggedSegmentHandle>()
        .map(|l| (LoggedSegmentHandle::LABEL, l.fields.clone()))
}

/// A segment in scripts: its fields read like a map's (`s.description`), and it has the segment
/// methods (`s.add(q)`, `s.log(#{})`, …).
#[derive(Debug, Clone)]
pub struct SegmentHandle {
    /// The segment no.
    pub no: String,
    /// Its header fields when read.
    pub fields: Map,
}

/// A logged segment in scripts: fields like a map's, and `.cancel()` / `.uncancel()`.
#[derive(Debug, Clone)]
pub struct LoggedSegmentHandle {
    /// The logged segment's entry no.
    pub entry_no: u64,
    /// Its fields when read.
    pub fields: Map,
}

fn text(s: &str) -> Dynamic {
    Dynamic::from(rhai::ImmutableString::from(s))
}

fn int(n: u64) -> Dynamic {
    Dynamic::from_int(n as INT)
}

/// A cost or duration: a float, so that arithmetic on it stays exact (`cost / 3`); written
/// out, a whole one shows as an integer ([`float_json`]).
fn amount(a: Amount) -> Dynamic {
    Dynamic::from_float(a.to_f64())
}

/// A float as JSON (and so as a cell): a whole one as an integer (`8`, as it was given, not
/// `8.0`); one that is not a number as `null`.
pub fn float_json(f: f64) -> serde_json::Value {
    // Below 2^53 every whole float is exactly an integer.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return serde_json::Value::from(f as i64);
    }
    serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

pub(crate) fn date(d: NaiveDate) -> Dynamic {
    Dynamic::from(Date(d))
}

fn opt_date(d: Option<NaiveDate>) -> Dynamic {
    d.map_or(Dynamic::UNIT, date)
}

macro_rules! record_map {
    ($($key:literal => $value:expr),+ $(,)?) => {{
        let mut m = Map::new();
        $(m.insert($key.into(), $value);)+
        m
    }};
}

/// A custom field's value in a script.
pub fn field_value(v: &FieldValue) -> Dynamic {
    view_value(FieldValueView::of(v))
}

pub(crate) fn view_value(v: FieldValueView<'_>) -> Dynamic {
    match v {
        FieldValueView::Empty => Dynamic::UNIT,
        FieldValueView::Text(t) => text(t),
        // A whole number reads as an integer (12, not 12.0), in scripts and in exports.
        FieldValueView::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            Dynamic::from_int(n as INT)
        }
        FieldValueView::Number(n) => Dynamic::from_float(n),
        FieldValueView::Bool(b) => Dynamic::from_bool(b),
        FieldValueView::Date(d) => date(d),
    }
}

/// A script value as a field value (for custom fields and filters); `None` for other kinds.
pub fn to_field_value(v: &Dynamic) -> Option<FieldValue> {
    if v.is_unit() {
        Some(FieldValue::Empty)
    } else if let Some(s) = v.clone().try_cast::<rhai::ImmutableString>() {
        Some(FieldValue::Text(s.to_string()))
    } else if let Ok(n) = v.as_int() {
        Some(FieldValue::Number(n as f64))
    } else if let Ok(f) = v.as_float() {
        Some(FieldValue::Number(f))
    } else if let Ok(b) = v.as_bool() {
        Some(FieldValue::Bool(b))
    } else {
        v.clone().try_cast::<Date>().map(|d| FieldValue::Date(d.0))
    }
}

/// Adds a record's declared custom fields to its map: each declared field with its value, or
/// `()` when the record has none (so reading a declared field never looks like a typo). A
/// contact's values are in its map already; other records' are read by `id` (code, no, or
/// `entry_id`).
pub fn add_custom_fields(
    view: &View<'_>,
    record: FieldRecord,
    id: &str,
    map: &mut Map,
) -> Result<()> {
    add_declared_fields(view, record, id, &view.declared_fields(record)?, map)
}

/// [`add_custom_fields`] with the declarations read once (for a scan).
pub fn add_declared_fields(
    view: &View<'_>,
    record: FieldRecord,
    id: &str,
    declared: &[FieldDef],
    map: &mut Map,
) -> Result<()> {
    if declared.is_empty() {
        return Ok(());
    }
    let mut values = if record == FieldRecord::Contact {
        BTreeMap::new()
    } else {
        view.custom_values(record, id)?
    };
    for def in declared {
        let value = values
            .remove(&def.name)
            .map_or(Dynamic::UNIT, |v| field_value(&v));
        if record != FieldRecord::Contact || !map.contains_key(def.name.as_str()) {
            map.insert(def.name.as_str().into(), value);
        }
    }
    Ok(())
}

/// A contact as JSON with its declared fields (`declared`, read once for an export).
pub fn contact_json_with(
    view: &View<'_>,
    c: &Contact,
    declared: &[FieldDef],
) -> Result<serde_json::Value> {
    let mut m = contact_map(c);
    add_declared_fields(view, FieldRecord::Contact, &c.no, declared, &mut m)?;
    Ok(map_json(&m))
}

/// An entry as JSON with its declared fields (`declared`, read once for an export).
pub fn entry_json_with(
    view: &View<'_>,
    e: &InteractionLogEntry,
    declared: &[FieldDef],
) -> Result<serde_json::Value> {
    let mut m = entry_map(e);
    let id = rapport_engine::ops::entry_id(e.entry_no);
    add_declared_fields(view, FieldRecord::Entry, &id, declared, &mut m)?;
    Ok(map_json(&m))
}

/// A salesperson as JSON with its declared fields (`declared`, read once for an export).
pub fn salesperson_json_with(
    view: &View<'_>,
    s: &Salesperson,
    declared: &[FieldDef],
) -> Result<serde_json::Value> {
    let mut m = salesperson_map(s);
    add_declared_fields(view, FieldRecord::Salesperson, &s.code, declared, &mut m)?;
    Ok(map_json(&m))
}

/// An interaction group as JSON.
pub fn group_json(g: &InteractionGroup) -> serde_json::Value {
    map_json(&group_map(g))
}

/// A template as JSON with its declared fields (`declared`, read once for an export), without
/// its language rows (their attachments do not fit a row; `export database` has them).
pub fn template_json_with(
    view: &View<'_>,
    t: &InteractionTemplate,
    declared: &[FieldDef],
) -> Result<serde_json::Value> {
    let mut m = template_map(t);
    m.remove("languages");
    add_declared_fields(view, FieldRecord::Template, &t.code, declared, &mut m)?;
    Ok(map_json(&m))
}

/// A contact as JSON, as scripts see it (the form exports and clients use).
pub fn contact_json(c: &Contact) -> serde_json::Value {
    to_json(&Dynamic::from_map(contact_map(c)))
}

/// An interaction log entry as JSON, as scripts see it.
pub fn entry_json(e: &InteractionLogEntry) -> serde_json::Value {
    to_json(&Dynamic::from_map(entry_map(e)))
}

/// A contact as a map: the spec's fields, then its custom fields.
pub fn contact_map(c: &Contact) -> Map {
    contact_view_map(&ContactView::of(c))
}

/// `fields` in sorted order, made once: a map collected from keys in order is built without
/// sorting them (most of the cost of making a record's map was sorting its keys).
fn sorted_fields(
    cell: &'static std::sync::OnceLock<Vec<&'static str>>,
    fields: &'static [&'static str],
) -> &'static [&'static str] {
    cell.get_or_init(|| {
        let mut sorted = fields.to_vec();
        sorted.sort_unstable();
        sorted
    })
}

static ENTRY_KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

/// A contact read in place as a map.
pub fn contact_view_map(c: &ContactView<'_>) -> Map {
    // The built-in fields in name order, read straight from the view; its custom fields (in
    // name order too) merged in, a custom value over a built-in one of the same name, as
    // [`contact_field`] reads them.
    let built_in = [
        ("city", text(c.city)),
        ("company_no", text(c.company_no)),
        ("correspondence", text(c.correspondence.as_str())),
        ("country", text(c.country)),
        ("email", text(c.email)),
        (
            "exclude_from_segment",
            Dynamic::from_bool(c.exclude_from_segment),
        ),
        ("kind", text(c.kind.as_str())),
        ("language", text(c.language)),
        ("mobile", text(c.mobile)),
        ("name", text(c.name)),
        ("no", text(c.no)),
        ("phone", text(c.phone)),
        ("privacy_blocked", Dynamic::from_bool(c.privacy_blocked)),
        ("salesperson", text(c.salesperson)),
    ];
    let mut fields: Vec<(&str, Dynamic)> = Vec::with_capacity(built_in.len() + c.custom.len());
    let mut custom = c.custom.iter().peekable();
    for (name, value) in built_in {
        while let Some((n, v)) = custom.next_if(|(n, _)| *n < name) {
            fields.push((n, view_value(*v)));
        }
        match custom.next_if(|(n, _)| *n == name) {
            Some((n, v)) => fields.push((n, view_value(*v))),
            None => fields.push((name, value)),
        }
    }
    fields.extend(custom.map(|(n, v)| (*n, view_value(*v))));
    fields.into_iter().map(|(n, v)| (n.into(), v)).collect()
}

/// One field of [`contact_map`] without building the map: what `contact_map(c).get(name)`
/// gives.
pub fn contact_field(c: &ContactView<'_>, name: &str) -> Option<Dynamic> {
    if let Some(v) = c.custom(name) {
        return Some(view_value(*v));
    }
    if let Some(t) = contact_text(c, name) {
        return Some(text(t));
    }
    Some(match name {
        "exclude_from_segment" => Dynamic::from_bool(c.exclude_from_segment),
        "privacy_blocked" => Dynamic::from_bool(c.privacy_blocked),
        _ => return None,
    })
}

/// A built-in text field of a contact, where it lies (`None` for the flags and for names that
/// are no built-in field).
pub(crate) fn contact_text<'a>(c: &ContactView<'a>, name: &str) -> Option<&'a str> {
    Some(match name {
        "no" => c.no,
        "name" => c.name,
        "kind" => c.kind.as_str(),
        "company_no" => c.company_no,
        "salesperson" => c.salesperson,
        "language" => c.language,
        "correspondence" => c.correspondence.as_str(),
        "email" => c.email,
        "phone" => c.phone,
        "mobile" => c.mobile,
        "city" => c.city,
        "country" => c.country,
        _ => return None,
    })
}

/// A salesperson as a map.
pub fn salesperson_map(s: &Salesperson) -> Map {
    record_map! {
        "code" => text(&s.code),
        "name" => text(&s.name),
        "email" => text(&s.email),
        "phone" => text(&s.phone),
        "blocked" => Dynamic::from_bool(s.blocked),
    }
}

/// An interaction group as a map.
pub fn group_map(g: &InteractionGroup) -> Map {
    record_map! { "code" => text(&g.code), "description" => text(&g.description) }
}

/// An interaction template as a map (languages as an array of maps).
pub fn template_map(t: &InteractionTemplate) -> Map {
    let languages: Array = t
        .languages
        .iter()
        .map(|l| {
            Dynamic::from_map(record_map! {
                "language" => text(&l.language),
                "description" => text(&l.description),
                "attachment_no" => int(l.attachment_no),
            })
        })
        .collect();
    record_map! {
        "code" => text(&t.code),
        "group" => text(&t.group),
        "description" => text(&t.description),
        "unit_cost" => amount(t.unit_cost),
        "unit_duration" => amount(t.unit_duration),
        "flow" => text(t.flow.as_str()),
        "initiated_by" => text(t.initiated_by.as_str()),
        "campaign" => text(&t.campaign_no),
        "campaign_target" => Dynamic::from_bool(t.campaign_target),
        "campaign_response" => Dynamic::from_bool(t.campaign_response),
        "correspondence" => text(t.correspondence.as_str()),
        "ignore_contact_correspondence" => Dynamic::from_bool(t.ignore_contact_correspondence),
        "default_language" => text(&t.default_language),
        "wizard_action" => text(t.wizard_action.as_str()),
        "languages" => Dynamic::from_array(languages),
    }
}

/// An operation of the history as a map (its changes are read with `operation(no)`).
pub fn operation_map(o: &rapport_engine::model::Operation) -> Map {
    let counts: Array = o
        .counts
        .iter()
        .map(|c| {
            Dynamic::from_map(record_map! {
                "table" => text(&c.table),
                "added" => int(c.added),
                "changed" => int(c.changed),
                "removed" => int(c.removed),
            })
        })
        .collect();
    let entry_nos: Array = o
        .entry_nos
        .iter()
        .map(|&(first, last)| Dynamic::from_array(vec![int(first), int(last)]))
        .collect();
    record_map! {
        "no" => int(o.no),
        "date" => date(o.date),
        "time" => text(&o.time.format("%H:%M:%S").to_string()),
        "user" => text(&o.user),
        "kind" => text(&o.kind),
        "what" => text(&o.what),
        "script" => text(&o.script),
        "script_sha256" => text(&o.script_sha256),
        "plugins" => Dynamic::from_array(o.plugins.iter().map(|p| text(p)).collect()),
        "undoes" => Dynamic::from_array(o.undoes.iter().map(|&n| int(n)).collect()),
        "undone_by" => int(o.undone_by),
        "changes" => text(&o.summary()),
        "counts" => Dynamic::from_array(counts),
        "entry_nos" => Dynamic::from_array(entry_nos),
        "expired" => Dynamic::from_bool(o.expired),
        "erased" => int(o.erased),
    }
}

/// An attachment record as a map (without its content).
pub fn attachment_map(a: &Attachment) -> Map {
    record_map! {
        "no" => int(a.no),
        "file_name" => text(&a.file_name),
        "extension" => text(&a.extension),
        "size" => int(a.size),
        "content_hash" => text(&a.content_hash),
        "read_only" => Dynamic::from_bool(a.read_only),
        "modified" => date(a.modified),
        "references" => int(a.references),
    }
}

/// A campaign as a map.
pub fn campaign_map(c: &Campaign) -> Map {
    record_map! {
        "no" => text(&c.no),
        "description" => text(&c.description),
        "starting_date" => opt_date(c.starting_date),
        "ending_date" => opt_date(c.ending_date),
        "salesperson" => text(&c.salesperson),
        "active" => Dynamic::from_bool(c.active),
    }
}

/// A campaign entry as a map.
pub fn campaign_entry_map(c: &CampaignEntry) -> Map {
    record_map! {
        "entry_no" => int(c.entry_no),
        "campaign_no" => text(&c.campaign_no),
        "description" => text(&c.description),
        "date" => date(c.date),
        "user" => text(&c.user),
        "segment_no" => text(&c.segment_no),
        "canceled" => Dynamic::from_bool(c.canceled),
        "salesperson" => text(&c.salesperson),
        "logged_segment_no" => int(c.logged_segment_no),
        "document_type" => text(c.document_type.map_or("", |t| t.as_str())),
    }
}

/// An interaction log entry as a map (comments as an array of `#{date, text}`).
pub fn entry_map(e: &InteractionLogEntry) -> Map {
    entry_view_map(&EntryView::of(e))
}

/// An entry read in place, as a map.
pub fn entry_view_map(e: &EntryView<'_>) -> Map {
    sorted_fields(&ENTRY_KEYS, FieldRecord::Entry.built_in())
        .iter()
        .filter_map(|&name| Some((name.into(), entry_field(e, name)?)))
        .collect()
}

/// One field of [`entry_map`] without building the map: what `entry_map(e).get(name)` gives
/// (a query tests an entry's fields this way before it makes the map of one that passes).
pub fn entry_field(e: &EntryView<'_>, name: &str) -> Option<Dynamic> {
    Some(match name {
        "entry_no" => int(e.entry_no),
        "contact_no" => text(e.contact_no),
        "contact_company_no" => text(e.contact_company_no),
        "date" => date(e.date),
        "time" => text(&e.time.format("%H:%M:%S").to_string()),
        "description" => text(e.description),
        "subject" => text(e.subject),
        "template" => text(e.template),
        "group" => text(e.group),
        "flow" => text(e.flow.as_str()),
        "initiated_by" => text(e.initiated_by.as_str()),
        "correspondence" => text(e.correspondence.as_str()),
        "language" => text(e.language),
        "cost" => amount(e.cost),
        "duration" => amount(e.duration),
        "salesperson" => text(e.salesperson),
        "user" => text(e.user),
        "campaign_no" => text(e.campaign_no),
        "campaign_entry_no" => int(e.campaign_entry_no),
        "campaign_target" => Dynamic::from_bool(e.campaign_target),
        "campaign_response" => Dynamic::from_bool(e.campaign_response),
        "segment_no" => text(e.segment_no),
        "logged_segment_no" => int(e.logged_segment_no),
        "evaluation" => text(e.evaluation.as_str()),
        "attempt_failed" => Dynamic::from_bool(e.attempt_failed),
        "canceled" => Dynamic::from_bool(e.canceled),
        "postponed" => Dynamic::from_bool(e.postponed),
        "document_type" => text(e.document_type.map_or("", |t| t.as_str())),
        "document_no" => text(e.document_no),
        "version_no" => int(u64::from(e.version_no)),
        "contact_via" => text(e.contact_via),
        "delivery_status" => text(e.delivery_status.as_str()),
        "attachment_no" => int(e.attachment_no),
        "comments" => Dynamic::from_array(
            e.comments
                .iter()
                .map(|c| {
                    Dynamic::from_map(
                        record_map! { "date" => date(c.date), "text" => text(c.text) },
                    )
                })
                .collect(),
        ),
        _ => return None,
    })
}

/// A segment header as a map.
pub fn segment_map(s: &Segment) -> Map {
    record_map! {
        "no" => text(&s.no),
        "description" => text(&s.description),
        "campaign" => text(&s.campaign_no),
        "salesperson" => text(&s.salesperson),
        "template" => text(&s.template),
        "unit_cost" => amount(s.unit_cost),
        "unit_duration" => amount(s.unit_duration),
        "date" => opt_date(s.date),
        "correspondence" => text(s.correspondence.as_str()),
        "flow" => text(s.flow.as_str()),
        "initiated_by" => text(s.initiated_by.as_str()),
        "group" => text(&s.group),
        "campaign_target" => Dynamic::from_bool(s.campaign_target),
        "campaign_response" => Dynamic::from_bool(s.campaign_response),
        "language" => text(&s.language),
        "subject" => text(&s.subject),
        "ignore_contact_correspondence" => Dynamic::from_bool(s.ignore_contact_correspondence),
    }
}

/// A segment line as a map.
pub fn segment_line_map(l: &SegmentLine) -> Map {
    record_map! {
        "segment_no" => text(&l.segment_no),
        "line_no" => int(u64::from(l.line_no)),
        "contact_no" => text(&l.contact_no),
        "contact_company_no" => text(&l.contact_company_no),
        "template" => text(&l.template),
        "group" => text(&l.group),
        "description" => text(&l.description),
        "subject" => text(&l.subject),
        "salesperson" => text(&l.salesperson),
        "campaign_no" => text(&l.campaign_no),
        "cost" => amount(l.cost),
        "duration" => amount(l.duration),
        "flow" => text(l.flow.as_str()),
        "initiated_by" => text(l.initiated_by.as_str()),
        "correspondence" => text(l.correspondence.as_str()),
        "language" => text(&l.language),
        "evaluation" => text(l.evaluation.as_str()),
    }
}

/// A logged segment as a map.
pub fn logged_segment_map(l: &LoggedSegment) -> Map {
    record_map! {
        "entry_no" => int(l.entry_no),
        "segment_no" => text(&l.segment_no),
        "description" => text(&l.description),
        "created" => date(l.created),
        "user" => text(&l.user),
        "canceled" => Dynamic::from_bool(l.canceled),
    }
}

/// The template setup as a map: document type → template code.
pub fn template_setup_map(s: &TemplateSetup) -> Map {
    s.templates
        .iter()
        .map(|(t, code)| (t.as_str().into(), text(code)))
        .collect()
}

/// Statistics as a map.
pub fn statistics_map(s: &Statistics) -> Map {
    record_map! {
        "count" => int(s.count),
        "cost" => amount(s.cost),
        "duration" => amount(s.duration),
        "avg_cost" => Dynamic::from_float(s.avg_cost),
        "avg_duration" => Dynamic::from_float(s.avg_duration),
    }
}

/// The name of a script value's type, for messages.
pub fn type_name(v: &Dynamic) -> &'static str {
    if v.is_unit() {
        "()"
    } else if v.is_string() {
        "a string"
    } else if v.is_int() {
        "an integer"
    } else if v.is_float() {
        "a number"
    } else if v.is_bool() {
        "true/false"
    } else if v.is_array() {
        "an array"
    } else if v.is_map() {
        "a map"
    } else if v.is::<Date>() {
        "a date"
    } else {
        "a value of another type"
    }
}

/// Reads the fields of an input map by name, each with a clear error, and refuses unknown ones.
pub struct Fields<'a> {
    record: String,
    map: &'a Map,
    known: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// Reads `map` as the input of `record` (the function or record name, for messages).
    pub fn new(record: impl Into<String>, map: &'a Map) -> Self {
        Self {
            record: record.into(),
            map,
            known: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Dynamic> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_unit())
    }

    fn wrong(&self, key: &'static str, v: &Dynamic, want: &str) -> Error {
        Error::invalid(
            &self.record,
            key,
            format!("is {}", type_name(v)),
            format!("give {want}"),
        )
    }

    /// A text field (a string; numbers are taken as their text).
    pub fn text(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.clone().into_string().unwrap_or_default())),
            Some(v) if v.is_int() => Ok(Some(v.to_string())),
            Some(v) => Err(self.wrong(key, v, "a string")),
        }
    }

    /// A yes/no field.
    pub fn flag(&mut self, key: &'static str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .map_err(|_| self.wrong(key, v, "true or false")),
        }
    }

    /// A whole number field.
    pub fn int(&mut self, key: &'static str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .map(Some)
                .map_err(|_| self.wrong(key, v, "a whole number")),
        }
    }

    /// A cost or duration: an integer or a float.
    pub fn amount(&mut self, key: &'static str) -> Result<Option<Amount>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = number(v).ok_or_else(|| self.wrong(key, v, "a number, e.g. 8 or 8.0"))?;
        Amount::from_f64(n).map(Some).ok_or_else(|| {
            Error::invalid(
                &self.record,
                key,
                format!("{n} is out of range"),
                "give a smaller number",
            )
        })
    }

    /// A date: a `date` value or text `YYYY-MM-DD`.
    pub fn date(&mut self, key: &'static str) -> Result<Option<NaiveDate>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        to_date(v)
            .map(Some)
            .ok_or_else(|| self.wrong(key, v, "a date, e.g. date(\"2026-11-29\")"))
    }

    /// A time of day, written `HH:MM` or `HH:MM:SS`.
    pub fn time(&mut self, key: &'static str) -> Result<Option<NaiveTime>> {
        match self.text(key)? {
            None => Ok(None),
            Some(t) => NaiveTime::parse_from_str(&t, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(&t, "%H:%M"))
                .map(Some)
                .map_err(|_| {
                    Error::invalid(
                        &self.record,
                        key,
                        format!("\"{t}\" is not a time"),
                        "write HH:MM or HH:MM:SS",
                    )
                }),
        }
    }

    /// A spec word (`"outbound"`, `"hard_copy"`, …).
    pub fn word<T: std::str::FromStr<Err = String>>(
        &mut self,
        key: &'static str,
    ) -> Result<Option<T>> {
        match self.text(key)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|problem| {
                Error::invalid(&self.record, key, problem, "use one of those words")
            }),
        }
    }

    /// Any value (read by the caller).
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Dynamic> {
        self.get(key)
    }

    /// The fields not read so far (custom fields).
    pub fn unread(&self) -> impl Iterator<Item = (&'a str, &'a Dynamic)> + '_ {
        self.map
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .filter(|(k, _)| !self.known.contains(k))
    }

    /// The fields not read so far as custom field values (the engine checks that each is
    /// declared and of its type); `()` is an empty value, which clears the field.
    pub fn custom(&self) -> Result<BTreeMap<String, FieldValue>> {
        self.unread()
            .map(|(key, value)| match to_field_value(value) {
                Some(v) => Ok((key.to_string(), v)),
                None => Err(Error::invalid(
                    &self.record,
                    "field",
                    format!(
                        "{key} holds {}, not text, a number, true/false or a date",
                        type_name(value)
                    ),
                    "store text, a number, true/false or a date",
                )),
            })
            .collect()
    }

    /// Refuses any field that was not read: a misspelt field is an error, not silently ignored.
    pub fn finish(self) -> Result<()> {
        if let Some((k, _)) = self.unread().next() {
            let mut known = self.known.clone();
            known.sort_unstable();
            known.dedup();
            return Err(Error::invalid(
                &self.record,
                "field",
                format!("\"{k}\" is not one of its fields"),
                format!("use {}", known.join(", ")),
            ));
        }
        Ok(())
    }
}

/// An integer or float as `f64`.
pub fn number(v: &Dynamic) -> Option<f64> {
    v.as_int()
        .map(|n| n as f64)
        .ok()
        .or_else(|| v.as_float().ok())
}

/// A `date` value or `YYYY-MM-DD` text as a date.
pub fn to_date(v: &Dynamic) -> Option<NaiveDate> {
    if let Some(d) = v.clone().try_cast::<Date>() {
        return Some(d.0);
    }
    v.clone()
        .into_string()
        .ok()
        .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

/// Compares two script values the way filters and `order_by` do: numbers by value (integers and
/// floats alike), text without regard to case, dates, yes/no; `()` equals `""`. Values of
/// different kinds do not compare.
pub fn compare(a: &Dynamic, b: &Dynamic) -> Option<Ordering> {
    // Two dates first, read where they lie (a date is a boxed value: cloning it to try the
    // other kinds was most of a date filter's cost); the rules below give the same answer.
    if let (Some(x), Some(y)) = (a.read_lock::<Date>(), b.read_lock::<Date>()) {
        return Some(x.0.cmp(&y.0));
    }
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    let as_text = |v: &Dynamic| {
        if v.is_unit() {
            Some(String::new())
        } else {
            v.clone().into_string().ok()
        }
    };
    if let (Some(x), Some(y)) = (as_text(a), as_text(b)) {
        return Some(x.to_lowercase().cmp(&y.to_lowercase()));
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return Some(x.cmp(&y));
    }
    match (a.clone().try_cast::<Date>(), b.clone().try_cast::<Date>()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => to_date(b).map(|y| x.0.cmp(&y)),
        (None, Some(y)) => to_date(a).map(|x| x.cmp(&y.0)),
        (None, None) => None,
    }
}

/// A script value as JSON: records and maps as objects, arrays as arrays, dates as `YYYY-MM-DD`.
pub fn to_json(v: &Dynamic) -> serde_json::Value {
    use serde_json::Value as J;
    if v.is_unit() {
        J::Null
    } else if let Ok(b) = v.as_bool() {
        J::Bool(b)
    } else if let Ok(n) = v.as_int() {
        J::from(n)
    } else if let Ok(f) = v.as_float() {
        float_json(f)
    } else if v.is_string() {
        J::String(v.clone().into_string().unwrap_or_default())
    } else if let Some(a) = v.read_lock::<Array>() {
        J::Array(a.iter().map(to_json).collect())
    } else if let Some(m) = v.read_lock::<Map>() {
        map_json(&m)
    } else if let Some(d) = v.read_lock::<Date>() {
        J::String(d.to_string())
    } else if let Some(fields) = handle_fields(v) {
        map_json(&fields)
    } else if let Some(b) = v.read_lock::<rhai::Blob>() {
        J::Array(b.iter().map(|x| J::from(*x)).collect())
    } else {
        J::String(v.to_string())
    }
}

fn map_json(m: &Map) -> serde_json::Value {
    serde_json::Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
}

/// Shows a map as `#{field: value, …}` in field order, for printing records.
pub fn show_map(m: &Map) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {}", show(v))).collect();
    format!("#{{{}}}", parts.join(", "))
}

/// Shows a value the way `print` would, with strings quoted inside records. Hosts use this, not
/// `Dynamic`'s `Display`, which prints the type name of a `date` or a segment.
pub fn show(v: &Dynamic) -> String {
    if v.is_string() {
        format!("{:?}", v.clone().into_string().unwrap_or_default())
    } else if let Some(m) = v.read_lock::<Map>() {
        show_map(&m)
    } else if let Some(a) = v.read_lock::<Array>() {
        format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", "))
    } else if v.is_unit() {
        "()".into()
    } else if let Some(d) = v.read_lock::<Date>() {
        d.to_string()
    } else if let Some((label, fields)) = handle(v) {
        format!("{label} {}", show_map(&fields))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A contact's map holds, for each of its fields, what [`contact_field`] reads of it (the
    /// map is built from the view directly, not field by field).
    #[test]
    fn a_contacts_map_holds_what_each_of_its_fields_reads() {
        let mut c = Contact {
            no: "C1".into(),
            name: "Name".into(),
            city: "Oslo".into(),
            privacy_blocked: true,
            ..Default::default()
        };
        c.custom.insert("a_first".into(), FieldValue::Number(2.0));
        c.custom.insert("city".into(), "a custom city".into());
        c.custom.insert("m_middle".into(), FieldValue::Empty);
        c.custom.insert("zz_last".into(), FieldValue::Bool(true));
        let view = ContactView::of(&c);
        let map = contact_view_map(&view);
        let names: Vec<&str> = Contact::FIELDS
            .iter()
            .copied()
            .chain(view.custom.iter().map(|(n, _)| *n))
            .collect();
        assert_eq!(map.len(), names.len() - 1, "city once");
        for name in names {
            assert_eq!(
                format!("{:?}", map.get(name)),
                format!("{:?}", contact_field(&view, name)),
                "{name}"
            );
        }
    }

    #[test]
    fn the_maps_of_records_with_custom_fields_have_the_models_built_in_fields() {
        let keys = |m: Map| m.keys().map(ToString::to_string).collect::<Vec<_>>();
        let sorted = |f: &[&str]| {
            let mut v: Vec<String> = f.iter().map(ToString::to_string).collect();
            v.sort();
            v
        };
        let blank = InteractionLogEntry::blank(0, NaiveDate::default(), Default::default());
        for (record, map) in [
            (FieldRecord::Contact, contact_map(&Contact::default())),
            (
                FieldRecord::Salesperson,
                salesperson_map(&Salesperson::default()),
            ),
            (
                FieldRecord::Template,
                template_map(&InteractionTemplate::default()),
            ),
            (FieldRecord::Campaign, campaign_map(&Campaign::default())),
            (FieldRecord::Entry, entry_map(&blank)),
        ] {
            // Map keys come sorted; the model lists them in the spec's order.
            assert_eq!(keys(map), sorted(record.built_in()), "{record}");
        }
    }
}
