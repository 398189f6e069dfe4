//! The history in the language: `history()` (a query, in `query.rs`), `operation(no)`,
//! `history_of(record)`, `undo(no)`, `history_keep(days)`, `erase_contact(no)`.

use rhai::{Array, Dynamic, Engine, INT, Map, NativeCallContext};

use crate::capability::{Access, Kind};
use crate::error::{RhaiResult, engine_error, placed_result};
use crate::session::{Shared, check_access, dry_run as dry_run_of, with_read, with_write};
use crate::value::{Fields, operation_map};
use rapport_engine::model::{Change, FieldRecord, Operation, TableCount};
use rapport_engine::ops::{UndoReport, change_json};
use rapport_engine::store::Order;
use rapport_engine::{Error, Result};

fn json(value: Option<serde_json::Value>) -> Dynamic {
    value
        .and_then(|v| rhai::serde::to_dynamic(v).ok())
        .unwrap_or(Dynamic::UNIT)
}

/// A value in a line of text: a text as it is, anything else as JSON; at most 60 characters.
fn short(value: Option<&serde_json::Value>) -> String {
    let text = match value {
        None => "()".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

/// The fields a change changed, in a line: `canceled: false → true; description: a → b`.
fn changed_fields(before: Option<&serde_json::Value>, after: Option<&serde_json::Value>) -> String {
    let (Some(serde_json::Value::Object(b)), Some(serde_json::Value::Object(a))) = (before, after)
    else {
        return String::new();
    };
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| format!("{k}: {} → {}", short(b.get(k)), short(a.get(k))))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Who may see a change's values.
enum Readers {
    /// Those who may read this kind of record.
    Of(Kind),
    /// Anyone (declared fields, settings).
    Anyone,
    /// No one here (the users: their values hold the hashes of their tokens).
    NoOne,
}

/// The kind of record a change is of, as capabilities name them.
fn kind_of(change: &Change) -> Readers {
    let table = rapport_engine::SCHEMA
        .tables()
        .get(usize::from(change.table))
        .map_or("", |t| t.name());
    Readers::Of(match table {
        "users" => return Readers::NoOne,
        "contacts" | "relations" => Kind::Contacts,
        "salespeople" => Kind::Salespeople,
        "groups" | "templates" | "attachments" | "blobs" => Kind::Catalogue,
        "campaigns" | "campaign_entries" => Kind::Campaigns,
        "entries" => Kind::Entries,
        "segments" | "segment_lines" | "segment_steps" | "saved_criteria" | "logged_segments"
        | "lookup" => Kind::Segments,
        // A custom value is of the record it belongs to (the key's first byte).
        "custom_values" => match change.key.first().copied().and_then(FieldRecord::from_tag) {
            Some(FieldRecord::Contact) => Kind::Contacts,
            Some(FieldRecord::Salesperson) => Kind::Salespeople,
            Some(FieldRecord::Template) => Kind::Catalogue,
            Some(FieldRecord::Campaign) => Kind::Campaigns,
            Some(FieldRecord::Entry) | None => Kind::Entries,
        },
        "meta" if change.key.first() == Some(&2) => Kind::Catalogue,
        _ => return Readers::Anyone,
    })
}

/// Which kinds of record the run (or the acting plugin) may read.
fn readable(shared: &Shared) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| check_access(shared, Access::read(*k)).is_ok())
        .collect()
}

/// One change as a map: the record, what happened to it, the fields it changed, its value
/// before and after — the values only when the run may read that kind of record (never a
/// user's: it holds the hash of their token).
fn change_map(change: &Change, readable: &[Kind]) -> Map {
    let shown = match kind_of(change) {
        Readers::NoOne => false,
        Readers::Anyone => true,
        Readers::Of(kind) => readable.contains(&kind),
    };
    let (before, after) = if shown {
        let (b, a) = change_json(change);
        (
            record_value(change, change.before.as_deref(), b),
            record_value(change, change.after.as_deref(), a),
        )
    } else {
        (Dynamic::UNIT, Dynamic::UNIT)
    };
    let as_json = |v: &Dynamic| (!v.is_unit()).then(|| crate::value::to_json(v));
    let mut m = Map::new();
    m.insert("record".into(), change.label().into());
    m.insert("change".into(), change.what().into());
    m.insert(
        "fields".into(),
        changed_fields(as_json(&before).as_ref(), as_json(&after).as_ref()).into(),
    );
    m.insert("before".into(), before);
    m.insert("after".into(), after);
    m
}

/// A stored record as scripts see it elsewhere (`entry(n)`, `contact(no)`: costs as numbers,
/// the spec's words); a record of another kind as its export writes it.
fn record_value(
    change: &Change,
    bytes: Option<&[u8]>,
    exported: Option<serde_json::Value>,
) -> Dynamic {
    use crate::value as v;
    use rapport_engine::model::{
        Attachment, Campaign, CampaignEntry, Contact, InteractionGroup, InteractionLogEntry,
        InteractionTemplate, LoggedSegment, Salesperson, Segment, SegmentLine,
    };
    use rapport_engine::store::codec;
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return json(exported);
    };
    let table = rapport_engine::SCHEMA
        .tables()
        .get(usize::from(change.table))
        .map_or("", |t| t.name());
    let map = match table {
        "contacts" => codec::decode::<Contact>(bytes, table).map(|c| v::contact_map(&c)),
        "entries" => codec::decode::<InteractionLogEntry>(bytes, table).map(|e| v::entry_map(&e)),
        "templates" => {
            codec::decode::<InteractionTemplate>(bytes, table).map(|t| v::template_map(&t))
        }
        "groups" => codec::decode::<InteractionGroup>(bytes, table).map(|g| v::group_map(&g)),
        "salespeople" => codec::decode::<Salesperson>(bytes, table).map(|s| v::salesperson_map(&s)),
        "campaigns" => codec::decode::<Campaign>(bytes, table).map(|c| v::campaign_map(&c)),
        "campaign_entries" => {
            codec::decode::<CampaignEntry>(bytes, table).map(|c| v::campaign_entry_map(&c))
        }
        "segments" => codec::decode::<Segment>(bytes, table).map(|s| v::segment_map(&s)),
        "segment_lines" => {
            codec::decode::<SegmentLine>(bytes, table).map(|l| v::segment_line_map(&l))
        }
        "logged_segments" => {
            codec::decode::<LoggedSegment>(bytes, table).map(|l| v::logged_segment_map(&l))
        }
        "attachments" => codec::decode::<Attachment>(bytes, table).map(|a| v::attachment_map(&a)),
        _ => return json(exported),
    };
    map.map_or_else(|_| json(exported), Dynamic::from_map)
}

fn counts_array(counts: &[TableCount]) -> Array {
    counts
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("table".into(), c.table.clone().into());
            m.insert("added".into(), (c.added as INT).into());
            m.insert("changed".into(), (c.changed as INT).into());
            m.insert("removed".into(), (c.removed as INT).into());
            Dynamic::from_map(m)
        })
        .collect()
}

fn operation_no(no: INT) -> Result<u64> {
    u64::try_from(no).ok().filter(|&n| n > 0).ok_or_else(|| {
        Error::invalid(
            "operation",
            "no",
            format!("{no} is not an operation number (they start at 1)"),
            "give a number rapport history (or history()) lists",
        )
    })
}

/// `operation(no)`: the operation with every record it changed.
fn operation(shared: &Shared, no: INT) -> RhaiResult<Dynamic> {
    let no = operation_no(no).map_err(engine_error)?;
    let (op, changes) = with_read(shared, Access::read(Kind::History), |v| {
        let op = v
            .operation(no)?
            .ok_or_else(|| rapport_engine::ops::no_such_operation(no))?;
        Ok((op, v.operation_changes(no)?))
    })?;
    let readable = readable(shared);
    let mut m = operation_map(&op);
    let records: Array = changes
        .iter()
        .map(|c| Dynamic::from_map(change_map(c, &readable)))
        .collect();
    m.insert("records".into(), records.into());
    Ok(m.into())
}

/// `history_of(record)`: every change of the history about `record` (a contact no, an entry
/// no, a code, or a label such as `"template CALL"`), newest first, with who made it.
fn history_of(shared: &Shared, record: &str) -> RhaiResult<Array> {
    let record = record.trim().to_string();
    if record.is_empty() {
        return Err(engine_error(Error::required(
            "history_of",
            "record",
            "name a record: a contact no (\"CT000012\"), an entry no, or a label (\"template CALL\")",
        )));
    }
    let readable = readable(shared);
    with_read(shared, Access::read(Kind::History), |v| {
        let mut ops: Vec<Operation> = Vec::new();
        v.operations(None, Order::Descending, &mut |op| {
            ops.push(op);
            Ok(true)
        })?;
        let mut rows = Array::new();
        for op in ops {
            for change in v.operation_changes(op.no)?.iter().rev() {
                if !change.concerns(&record) {
                    continue;
                }
                let mut m = change_map(change, &readable);
                for (key, value) in [
                    ("no", Dynamic::from_int(op.no as INT)),
                    ("date", crate::value::date(op.date)),
                    ("time", op.time.format("%H:%M:%S").to_string().into()),
                    ("user", op.user.clone().into()),
                    ("kind", op.kind.clone().into()),
                    ("what", op.what.clone().into()),
                    ("undone_by", Dynamic::from_int(op.undone_by as INT)),
                ] {
                    m.insert(key.into(), value);
                }
                rows.push(m.into());
            }
        }
        Ok(rows)
    })
}

fn undo_report(report: &UndoReport, dry_run: bool, readable: &[Kind]) -> Dynamic {
    let mut m = Map::new();
    m.insert("dry_run".into(), dry_run.into());
    m.insert("operation".into(), (report.operation as INT).into());
    m.insert("count".into(), (report.records.len() as INT).into());
    m.insert("counts".into(), counts_array(&report.counts).into());
    let records: Array = report
        .records
        .iter()
        .map(|c| Dynamic::from_map(change_map(c, readable)))
        .collect();
    m.insert("records".into(), records.into());
    m.into()
}

/// `undo(no)` / `undo(no, #{dry_run})`.
fn undo(shared: &Shared, no: INT, options: &Map) -> RhaiResult<Dynamic> {
    let no = operation_no(no).map_err(engine_error)?;
    let mut f = Fields::new("undo", options);
    let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
    f.finish().map_err(engine_error)?;
    // An undo writes the records the operation changed: it needs the right to write each kind
    // of them, besides the history's.
    check_access(shared, Access::write(Kind::History))?;
    let changes = with_read(shared, Access::read(Kind::History), |v| {
        v.operation_changes(no)
    })?;
    let mut kinds: Vec<Kind> = changes
        .iter()
        .filter_map(|c| match kind_of(c) {
            Readers::Of(kind) => Some(kind),
            Readers::Anyone | Readers::NoOne => None,
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        check_access(shared, Access::write(kind))?;
    }
    let readable = readable(shared);
    let real = || with_write(shared, Access::write(Kind::History), |tx| tx.undo(no));
    if dry_run {
        let report = dry_run_of(shared, real)?;
        return Ok(undo_report(&report, true, &readable));
    }
    Ok(undo_report(&real()?, false, &readable))
}

/// `history_keep(days)`: how long an operation's changes stay undoable (`()`: always).
fn history_keep(shared: &Shared, days: &Dynamic) -> RhaiResult<()> {
    let days = if days.is_unit() {
        None
    } else {
        let n = days.as_int().map_err(|t| {
            engine_error(Error::invalid(
                "history settings",
                "keep_days",
                format!("expected a number of days, got {t}"),
                "give a whole number of days, or () to keep every change",
            ))
        })?;
        Some(u32::try_from(n).map_err(|_| {
            engine_error(Error::invalid(
                "history settings",
                "keep_days",
                format!("{n} days is out of range"),
                "give from 1 to 4294967295 days, or () to keep every change",
            ))
        })?)
    };
    with_write(shared, Access::write(Kind::History), |tx| {
        tx.history_keep(days)
    })
}

/// `erase_contact(no)`: a person's data erased, from the history too; a receipt.
fn erase_contact(shared: &Shared, no: &str) -> RhaiResult<Dynamic> {
    // It deletes the person's contact, entries and segment lines.
    for kind in [Kind::Contacts, Kind::Entries, Kind::Segments] {
        check_access(shared, Access::write(kind))?;
    }
    {
        let mut guard = shared.borrow_mut();
        if let Some(session) = guard.as_mut() {
            session.begin_erasure().map_err(engine_error)?;
        }
    }
    let erasure = with_write(shared, Access::write(Kind::History), |tx| {
        tx.erase_contact(no)
    })?;
    if let Some(session) = shared.borrow_mut().as_mut() {
        session.end_erasure();
    }
    let mut m = Map::new();
    m.insert("contact".into(), erasure.contact.into());
    m.insert("entries".into(), (erasure.entries as INT).into());
    m.insert(
        "segment_lines".into(),
        (erasure.segment_lines as INT).into(),
    );
    m.insert("operations".into(), (erasure.operations as INT).into());
    m.insert("changes".into(), (erasure.changes as INT).into());
    Ok(m.into())
}

/// Registers the history's functions.
pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("operation", move |ctx: NativeCallContext, no: INT| {
        placed_result(&ctx, || operation(&s, no))
    });
    let s = shared.clone();
    engine.register_fn("history_of", move |ctx: NativeCallContext, record: &str| {
        placed_result(&ctx, || history_of(&s, record))
    });
    let s = shared.clone();
    engine.register_fn("undo", move |ctx: NativeCallContext, no: INT| {
        placed_result(&ctx, || undo(&s, no, &Map::new()))
    });
    let s = shared.clone();
    engine.register_fn(
        "undo",
        move |ctx: NativeCallContext, no: INT, options: Map| {
            placed_result(&ctx, || undo(&s, no, &options))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "history_keep",
        move |ctx: NativeCallContext, days: Dynamic| {
            placed_result(&ctx, || history_keep(&s, &days))
        },
    );
    let s = shared.clone();
    engine.register_fn("erase_contact", move |ctx: NativeCallContext, no: &str| {
        placed_result(&ctx, || erase_contact(&s, no))
    });
}
