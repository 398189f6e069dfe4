//! The hooks every new entry goes through, whatever makes it — logging one interaction, a
//! segment line, a recorded document, a resumed postponed interaction: `before_log` sees the
//! entry as it would be written (template defaults applied, salesperson and correspondence
//! resolved, cost and duration worked out) with `source` saying which path made it, and may
//! amend the fields [`AMENDABLE_FIELDS`] names (the engine checks their rules again when it
//! writes the entry) or veto by throwing; `after_log` sees the entry written.

use std::collections::BTreeMap;

use rhai::{Dynamic, EvalAltResult, Map};

use crate::capability::{Access, Kind};
use crate::error::{RhaiResult, engine_error};
use crate::session::{Shared, fire_each, has_hook, notify, with_read};
use crate::value::{
    Fields, add_custom_fields, entry_map, field_value, to_date, to_json, type_name,
};
use rapport_engine::model::{FieldRecord, FieldValue};
use rapport_engine::ops::{
    AMENDABLE_FIELDS, CommentLine, EntryAmendment, EntrySource, ProposedEntry, View, entry_id,
};
use rapport_engine::{Error, Result};

/// Custom values of an entry, by field name.
pub(crate) type Custom = BTreeMap<String, FieldValue>;

/// An entry as a map with its declared custom fields.
pub(crate) fn entry_with_custom(v: &View<'_>, no: u64) -> Result<Option<Map>> {
    let Some(e) = v.entry(no)? else {
        return Ok(None);
    };
    let mut m = entry_map(&e);
    add_custom_fields(v, FieldRecord::Entry, &entry_id(no), &mut m)?;
    Ok(Some(m))
}

/// Whether an enabled plugin hooks new entries (so a workflow need not stop between its steps).
pub(crate) fn entries_hooked(shared: &Shared) -> bool {
    has_hook(shared, "before_log") || has_hook(shared, "after_log")
}

/// What `before_log` receives: the entry as it would be written, its custom values, `source`.
fn draft_map(proposed: &ProposedEntry, custom: &Custom) -> Map {
    let e = proposed.entry();
    let mut m = entry_map(e);
    if e.entry_no == 0 {
        // Numbered when written.
        m.insert("entry_no".into(), Dynamic::UNIT);
    }
    for (name, value) in custom {
        m.insert(name.as_str().into(), field_value(value));
    }
    m.insert("source".into(), proposed.source().as_str().into());
    m
}

/// Runs the `before_log` hooks on a proposed entry and applies what they amended (custom
/// values included, into `custom`).
pub(crate) fn before_log(
    shared: &Shared,
    proposed: &mut ProposedEntry,
    custom: &mut Custom,
) -> RhaiResult<()> {
    if !has_hook(shared, "before_log") {
        return Ok(());
    }
    // Each plugin's changes, checked and applied as it leaves them: a change a plugin may not
    // make, or a rule it breaks, names it. The next plugin gets the entry as amended (whole,
    // even when a plugin returned only some fields).
    let mut before = draft_map(proposed, custom);
    let _ = fire_each(
        shared,
        "before_log",
        Dynamic::from_map(before.clone()),
        &mut |plugin, amended| {
            let Some(map) = amended.read_lock::<Map>().map(|m| m.clone()) else {
                return Ok(amended);
            };
            let label = format!(
                "{}, as plugin {plugin}'s before_log hook left it",
                proposed.label()
            );
            let (changes, more) = amendment(&label, &before, &map).map_err(engine_error)?;
            if !more.is_empty() {
                with_read(shared, Access::read(Kind::Entries), |v| {
                    v.check_custom_values(FieldRecord::Entry, &label, &more)
                })?;
            }
            proposed.amend(changes, plugin).map_err(engine_error)?;
            custom.extend(more);
            before = draft_map(proposed, custom);
            Ok(Dynamic::from_map(before.clone()))
        },
    )?;
    // The hooks ran, whatever they changed: writing checks the entry again.
    proposed
        .amend(EntryAmendment::default(), "")
        .map_err(engine_error)
}

/// A refusal of one entry of many (a segment's lines), saying which one.
#[expect(
    clippy::unnecessary_box_returns,
    reason = "Rhai's errors are always boxed"
)]
pub(crate) fn about(e: Box<EvalAltResult>, which: &str) -> Box<EvalAltResult> {
    if let EvalAltResult::ErrorRuntime(value, at) = &*e
        && let Some(map) = value.read_lock::<Map>()
        && let Some(message) = map.get("message").filter(|m| m.is_string())
    {
        let mut map = map.clone();
        let message = format!("{which}: {message}");
        map.insert("message".into(), message.into());
        return EvalAltResult::ErrorRuntime(Dynamic::from_map(map), *at).into();
    }
    e
}

/// Runs the `after_log` hooks on an entry just written.
pub(crate) fn after_log(shared: &Shared, entry_no: u64, source: EntrySource) -> RhaiResult<()> {
    if !has_hook(shared, "after_log") {
        return Ok(());
    }
    let entry = with_read(shared, Access::read(Kind::Entries), |v| {
        entry_with_custom(v, entry_no)
    })?;
    let Some(mut entry) = entry else {
        return Ok(());
    };
    entry.insert("source".into(), source.as_str().into());
    notify(shared, "after_log", Dynamic::from_map(entry))
}

/// The amendable fields that hold text: `()` clears them.
const TEXT_FIELDS: &[&str] = &[
    "description",
    "subject",
    "salesperson",
    "contact_via",
    "campaign_no",
];

/// What a hook changed in the draft: the amendable fields it changed, and custom values. A
/// change to any other field of the entry is refused, naming it.
fn amendment(record: &str, original: &Map, amended: &Map) -> Result<(EntryAmendment, Custom)> {
    let built_in = FieldRecord::Entry.built_in();
    let mut touched = Map::new();
    for (key, value) in amended {
        if original
            .get(key)
            .is_some_and(|was| to_json(was) == to_json(value))
        {
            continue;
        }
        let fixed = std::iter::once(&"source")
            .chain(built_in)
            .find(|f| **f == key.as_str() && !AMENDABLE_FIELDS.contains(f));
        if let Some(&field) = fixed {
            return Err(Error::invalid(
                record,
                field,
                format!(
                    "was changed, and a before_log hook may change only {}",
                    AMENDABLE_FIELDS.join(", ")
                ),
                "leave it as it is, or veto the entry with throw",
            ));
        }
        if value.is_unit() {
            // () clears a text field (a blank subject is the description again); a number, a
            // date or a flag needs a value.
            if TEXT_FIELDS.contains(&key.as_str()) {
                touched.insert(key.clone(), "".into());
                continue;
            }
            if let Some(&field) = AMENDABLE_FIELDS.iter().find(|f| **f == key.as_str()) {
                return Err(Error::invalid(
                    record,
                    field,
                    "was set to ()",
                    "give it a value, or leave it as it was",
                ));
            }
        }
        touched.insert(key.clone(), value.clone());
    }
    let mut f = Fields::new(record, &touched);
    let changes = EntryAmendment {
        description: f.text("description")?,
        subject: f.text("subject")?,
        cost: f.amount("cost")?,
        duration: f.amount("duration")?,
        salesperson: f.text("salesperson")?,
        evaluation: f.word("evaluation")?,
        attempt_failed: f.flag("attempt_failed")?,
        correspondence: f.word("correspondence")?,
        contact_via: f.text("contact_via")?,
        comments: comment_lines(record, f.raw("comments"))?,
        campaign_no: f.text("campaign_no")?,
        date: f.date("date")?,
        time: f.time("time")?,
    };
    Ok((changes, f.custom()?))
}

/// Comment lines as a hook leaves them: strings, or the `#{date, text}` maps the draft has
/// (their date kept).
fn comment_lines(record: &str, value: Option<&Dynamic>) -> Result<Option<Vec<CommentLine>>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let refused = |v: &Dynamic| {
        Error::invalid(
            record,
            "comments",
            format!("holds {}", type_name(v)),
            "give an array of strings (or of the #{date, text} maps the draft has)",
        )
    };
    let Some(items) = value.read_lock::<rhai::Array>() else {
        return Err(refused(value));
    };
    let mut lines = Vec::with_capacity(items.len());
    for item in items.iter() {
        if item.is_string() {
            lines.push((None, item.to_string()));
        } else if let Some(m) = item.read_lock::<Map>()
            && let Some(text) = m.get("text").filter(|t| t.is_string())
            && m.get("date")
                .is_none_or(|d| d.is_unit() || to_date(d).is_some())
        {
            lines.push((m.get("date").and_then(to_date), text.to_string()));
        } else {
            return Err(refused(item));
        }
    }
    Ok(Some(lines))
}

/// Checks and stores custom values a hook gave an entry just written.
pub(crate) fn set_custom(
    tx: &mut rapport_engine::Tx<'_>,
    entry_no: u64,
    custom: &Custom,
) -> Result<()> {
    if custom.is_empty() {
        return Ok(());
    }
    let label = format!("entry {entry_no}");
    tx.view()
        .check_custom_values(FieldRecord::Entry, &label, custom)?;
    tx.custom_values_set(FieldRecord::Entry, &entry_id(entry_no), &label, custom)
}
