//! Contract functions for interactions, cancel and purge, segments, logged segments, statistics
//! and dates. Selections (`cancel(sel)`, `s.add(sel)`) accept an entry or contact number, an
//! array, or a query.

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Engine, INT, Map, NativeCallContext};

use super::entry_hooks::{
    Custom, about, after_log, before_log, entries_hooked, entry_with_custom, set_custom,
};
use crate::capability::{Access, Kind};
use crate::error::{RhaiResult, engine_error, placed_result};
use crate::query::{self, Query, Source, Test};
use crate::session::Shared;
use crate::session::{
    dry_run as dry_run_of, fire, group, notify, with_context, with_read, with_write,
};
use crate::value::{
    Date, Fields, LoggedSegmentHandle, SegmentHandle, entry_map, logged_segment_map,
    segment_line_map, segment_map, statistics_map, to_date, to_field_value,
};
use rapport_engine::model::{
    AttachmentContent, ContactFilter, ContactSelector, Evaluation, FieldCondition, FieldRecord,
    FieldTest, FieldValue, Segment, StepOptions,
};
use rapport_engine::ops::{
    CancelMode, CancelOutcome, CanceledEntryFilter, EntrySource, InteractionDraft,
    LogSegmentOptions, LoggedSegmentOutcome, ResumeChanges, SegmentChanges, StatKind, entry_id,
};
use rapport_engine::{Error, Result};

/// How many entry numbers a dry run lists.
const DRY_RUN_LIST: usize = 1000;

fn entry_no_of(v: &Dynamic, what: &str) -> RhaiResult<u64> {
    let n = if let Ok(n) = v.as_int() {
        Some(n)
    } else {
        query::field_of(v, "entry_no").as_int().ok()
    };
    n.and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
        engine_error(Error::invalid(
            what,
            "selection",
            format!(
                "{} is not an entry number or an entry",
                crate::value::type_name(v)
            ),
            "select entries by number, an array of them, or entries()",
        ))
    })
}

/// Entry numbers from an entry no, an entry, an array of them, or an `entries()` query.
fn entry_selection(
    ctx: &NativeCallContext,
    shared: &Shared,
    sel: &Dynamic,
    what: &str,
) -> RhaiResult<Vec<u64>> {
    if let Some(q) = sel.read_lock::<Query>() {
        if q.source != Source::Entries {
            return Err(engine_error(Error::invalid(
                what,
                "selection",
                format!("is a {}() query", q.source.name()),
                "select interaction log entries: entries().filter(…)",
            )));
        }
        let q = q.clone();
        return query::collect(ctx, shared, &q)?
            .iter()
            .map(|e| entry_no_of(e, what))
            .collect();
    }
    if let Some(a) = sel.read_lock::<Array>() {
        return a.iter().map(|e| entry_no_of(e, what)).collect();
    }
    Ok(vec![entry_no_of(sel, what)?])
}

/// Contacts for a segment step: a replayable filter when the selection is a filter map or a
/// `contacts()` query of filters only; otherwise the contacts it lists.
fn contact_selection(
    ctx: &NativeCallContext,
    shared: &Shared,
    sel: &Dynamic,
) -> RhaiResult<ContactSelector> {
    let as_filter = |conds: &[query::Cond]| -> Option<ContactFilter> {
        let mut filter = ContactFilter::all();
        for c in conds {
            let test = match &c.test {
                Test::Eq(v) => FieldTest::Equals(to_field_value(v)?),
                Test::Range { low, high }
                    if low.as_ref().is_none_or(|l| l.1) && high.as_ref().is_none_or(|h| h.1) =>
                {
                    let bound =
                        |b: &Option<(Dynamic, bool)>| b.as_ref().map(|(v, _)| to_field_value(v));
                    let (from, to) = (bound(low), bound(high));
                    if from.as_ref().is_some_and(Option::is_none)
                        || to.as_ref().is_some_and(Option::is_none)
                    {
                        return None;
                    }
                    FieldTest::Between(from.flatten(), to.flatten())
                }
                _ => return None,
            };
            filter.conditions.push(FieldCondition {
                field: c.field.clone(),
                test,
            });
        }
        Some(filter)
    };
    if let Some(m) = sel.read_lock::<Map>()
        && (!m.contains_key("no") || m.len() > 1)
    {
        let conds = query::parse_filter(&m).map_err(engine_error)?;
        if let Some(filter) = as_filter(&conds) {
            return Ok(ContactSelector::Filter(filter));
        }
        let q = Query {
            source: Source::Contacts,
            steps: vec![query::Step::Filter(conds)],
        };
        return listed(ctx, shared, &q);
    }
    if let Some(q) = sel.read_lock::<Query>() {
        if q.source != Source::Contacts {
            return Err(engine_error(Error::invalid(
                "segment",
                "selection",
                format!("is a {}() query", q.source.name()),
                "select contacts: contacts().filter(…)",
            )));
        }
        let conds: Option<Vec<query::Cond>> = q
            .steps
            .iter()
            .map(|s| match s {
                query::Step::Filter(c) => Some(c.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat());
        if let Some(filter) = conds.as_deref().and_then(as_filter) {
            return Ok(ContactSelector::Filter(filter));
        }
        let q = q.clone();
        return listed(ctx, shared, &q);
    }
    let no_of = |v: &Dynamic| -> RhaiResult<String> {
        if v.is_string() {
            return Ok(v.to_string());
        }
        let no = query::field_of(v, "no");
        if no.is_string() {
            Ok(no.to_string())
        } else {
            Err(engine_error(Error::invalid(
                "segment",
                "selection",
                format!("{} is not a contact", crate::value::type_name(v)),
                "select contacts by no, an array of them, a filter map or contacts()",
            )))
        }
    };
    if let Some(a) = sel.read_lock::<Array>() {
        return Ok(ContactSelector::Contacts(
            a.iter().map(no_of).collect::<RhaiResult<_>>()?,
        ));
    }
    Ok(ContactSelector::Contacts(vec![no_of(sel)?]))
}

fn listed(ctx: &NativeCallContext, shared: &Shared, q: &Query) -> RhaiResult<ContactSelector> {
    let nos = query::collect(ctx, shared, q)?
        .iter()
        .map(|c| query::field_of(c, "no").to_string())
        .collect();
    Ok(ContactSelector::Contacts(nos))
}

fn dry_run_report(nos: &[u64]) -> Map {
    let mut m = Map::new();
    m.insert("dry_run".into(), Dynamic::TRUE);
    m.insert("count".into(), Dynamic::from_int(nos.len() as INT));
    let listed: Array = nos
        .iter()
        .take(DRY_RUN_LIST)
        .map(|n| Dynamic::from_int(*n as INT))
        .collect();
    m.insert("entry_nos".into(), Dynamic::from_array(listed));
    m.insert(
        "more".into(),
        Dynamic::from_int(nos.len().saturating_sub(DRY_RUN_LIST) as INT),
    );
    m
}

fn comments(f: &mut Fields<'_>) -> Result<Vec<String>> {
    match f.raw("comments") {
        None => Ok(Vec::new()),
        Some(v) if v.is_string() => Ok(vec![v.to_string()]),
        Some(v) => match v.read_lock::<Array>() {
            Some(a) => Ok(a.iter().map(ToString::to_string).collect()),
            None => Err(Error::invalid(
                "interaction",
                "comments",
                format!("is {}", crate::value::type_name(v)),
                "give a string or an array of strings",
            )),
        },
    }
}

fn attachment(fields: &mut Fields<'_>) -> Result<Option<AttachmentContent>> {
    let Some(given) = fields.raw("attachment") else {
        return Ok(None);
    };
    let Some(spec) = given.read_lock::<Map>() else {
        return Err(Error::invalid(
            "interaction",
            "attachment",
            format!("is {}", crate::value::type_name(given)),
            "give #{file_name: \"offer.txt\", content: \"…\"}",
        ));
    };
    let mut inner = Fields::new("attachment", &spec);
    let file_name = inner.text("file_name")?.ok_or_else(|| {
        Error::required(
            "attachment",
            "file_name",
            "name the file, with its extension",
        )
    })?;
    let content = match inner.raw("content") {
        Some(text) if text.is_string() => text.to_string().into_bytes(),
        Some(blob) if blob.is_blob() => blob.clone().cast::<rhai::Blob>(),
        _ => {
            return Err(Error::required(
                "attachment",
                "content",
                "give the content as a string or a blob",
            ));
        }
    };
    inner.finish()?;
    Ok(Some(AttachmentContent { file_name, content }))
}

fn draft_from(map: &Map) -> Result<(InteractionDraft, BTreeMap<String, FieldValue>)> {
    let mut f = Fields::new("log_interaction", map);
    let draft = InteractionDraft {
        contact: f.text("contact")?.unwrap_or_default(),
        template: f.text("template")?.unwrap_or_default(),
        salesperson: f.text("salesperson")?.unwrap_or_default(),
        description: f.text("description")?.unwrap_or_default(),
        subject: f.text("subject")?.unwrap_or_default(),
        date: f.date("date")?,
        time: f.time("time")?,
        cost: f.amount("cost")?,
        duration: f.amount("duration")?,
        evaluation: f.word("evaluation")?,
        attempt_failed: f.flag("attempt_failed")?.unwrap_or(false),
        campaign: f.text("campaign")?.unwrap_or_default(),
        comments: comments(&mut f)?,
        attachment: attachment(&mut f)?,
        correspondence: f.word("correspondence")?,
        language: f.text("language")?,
        contact_via: f.text("contact_via")?.unwrap_or_default(),
        postponed: f.flag("postponed")?.unwrap_or(false),
        deliver: f.flag("deliver")?.unwrap_or(false),
    };
    Ok((draft, f.custom()?))
}

fn resume_from(map: &Map) -> Result<ResumeChanges> {
    let mut f = Fields::new("resume_interaction", map);
    let changes = ResumeChanges {
        description: f.text("description")?,
        cost: f.amount("cost")?,
        duration: f.amount("duration")?,
        evaluation: f.word("evaluation")?,
        attempt_failed: f.flag("attempt_failed")?,
        comments: comments(&mut f)?,
        correspondence: f.word("correspondence")?,
        deliver: f.flag("deliver")?.unwrap_or(false),
    };
    f.finish()?;
    Ok(changes)
}

fn purge_filter(map: &Map) -> Result<(CanceledEntryFilter, bool)> {
    let mut f = Fields::new("purge_canceled", map);
    let filter = CanceledEntryFilter {
        entry_from: entry_no_bound(&mut f, "purge_canceled", "entry_from")?,
        entry_to: entry_no_bound(&mut f, "purge_canceled", "entry_to")?,
        contact_no: f.text("contact")?.unwrap_or_default(),
        date_from: f.date("date_from")?,
        date_to: f.date("date_to")?,
        campaign_no: f.text("campaign")?.unwrap_or_default(),
        group: f.text("group")?.unwrap_or_default(),
        template: f.text("template")?.unwrap_or_default(),
        salesperson: f.text("salesperson")?.unwrap_or_default(),
    };
    let dry_run = f.flag("dry_run")?.unwrap_or(false);
    f.finish()?;
    Ok((filter, dry_run))
}

fn segment_changes(f: &mut Fields<'_>) -> Result<SegmentChanges> {
    Ok(SegmentChanges {
        description: f.text("description")?,
        salesperson: f.text("salesperson")?,
        campaign_no: f.text("campaign")?,
        correspondence: f.word("correspondence")?,
        ignore_contact_correspondence: f.flag("ignore_contact_correspondence")?,
        language: f.text("language")?,
        subject: f.text("subject")?,
        date: f.date("date")?,
        unit_cost: f.amount("unit_cost")?,
        unit_duration: f.amount("unit_duration")?,
        evaluation: f.word("evaluation")?,
    })
}

fn segment_handle(shared: &Shared, no: &str) -> RhaiResult<Option<SegmentHandle>> {
    with_read(shared, Access::read(Kind::Segments), |v| {
        Ok(v.segment(no)?.map(|s| SegmentHandle {
            no: s.no.clone(),
            fields: segment_map(&s),
        }))
    })
}

fn refresh(shared: &Shared, s: &mut SegmentHandle) -> RhaiResult<()> {
    if let Some(fresh) = segment_handle(shared, &s.no)? {
        *s = fresh;
    }
    Ok(())
}

fn step_options(map: &Map) -> Result<StepOptions> {
    let mut f = Fields::new("segment add", map);
    let o = StepOptions {
        ignore_exclusion: f.flag("ignore_exclusion")?.unwrap_or(false),
        allow_existing: f.flag("allow_existing")?.unwrap_or(false),
        expand_companies: f.flag("expand_companies")?.unwrap_or(false),
    };
    f.finish()?;
    Ok(o)
}

fn stat_kind(kind: &str) -> RhaiResult<StatKind> {
    kind.parse().map_err(|problem: String| {
        engine_error(Error::invalid(
            "stats",
            "kind",
            problem,
            "use one of those kinds",
        ))
    })
}

fn date_arg(v: &Dynamic, what: &'static str) -> RhaiResult<chrono::NaiveDate> {
    to_date(v).ok_or_else(|| {
        engine_error(Error::invalid(
            "dates",
            what,
            format!("is {}", crate::value::type_name(v)),
            "give a date, e.g. date(\"2026-11-29\")",
        ))
    })
}

/// Cancels, un-cancels or toggles entries, then tells the plugins (`on_cancel_toggled`, with
/// the entries that changed).
fn set_canceled(
    s: &Shared,
    nos: &[u64],
    mode: CancelMode,
    remove: bool,
) -> RhaiResult<CancelOutcome> {
    group(s, || {
        let out = with_write(s, Access::write(Kind::Entries), |tx| {
            tx.set_entries_canceled(nos, mode, remove)
        })?;
        let mut payload = Map::new();
        payload.insert(
            "entry_nos".into(),
            Dynamic::from_array(
                out.changed
                    .iter()
                    .map(|n| Dynamic::from_int(*n as INT))
                    .collect(),
            ),
        );
        payload.insert("canceled".into(), Dynamic::from_bool(out.canceled));
        if !out.changed.is_empty() {
            notify(s, "on_cancel_toggled", Dynamic::from_map(payload))?;
        }
        Ok(out)
    })
}

/// Logs one interaction (by hand, or a row of an import) through the plugins' hooks:
/// `before_log` sees the entry as it would be written and may amend it, `after_log` sees it
/// written; all of it, or nothing.
pub(crate) fn log_one(
    s: &Shared,
    draft: InteractionDraft,
    mut custom: Custom,
    source: EntrySource,
) -> RhaiResult<u64> {
    group(s, || {
        // Proposed on a read: a run whose log is vetoed (and caught) wrote nothing.
        let mut proposal = with_read(s, Access::log(), |v| {
            v.check_custom_values(FieldRecord::Entry, "log_interaction", &custom)?;
            v.propose_interaction(draft, source)
        })?;
        // Each plugin's custom values are checked as it leaves them, and set_custom checks
        // them all again with the entry (a hook may have changed the declared fields; the
        // group puts everything back then).
        before_log(s, &mut proposal.entry, &mut custom)?;
        let no = with_write(s, Access::log(), |tx| {
            let no = tx.write_interaction(proposal)?;
            set_custom(tx, no, &custom)?;
            Ok(no)
        })?;
        after_log(s, no, source)?;
        Ok(no)
    })
}

/// Logs a segment, then tells the plugins (`after_segment_logged`).
fn log_segment(
    s: &Shared,
    no: &str,
    options: LogSegmentOptions,
) -> RhaiResult<LoggedSegmentOutcome> {
    group(s, || {
        let out = if entries_hooked(s) {
            // Every line's entry through before_log first (a veto on any line logs nothing),
            // then all written, then after_log on each.
            let mut proposal = with_read(s, Access::write(Kind::Segments), |v| {
                v.propose_segment_log(no, options)
            })?;
            let mut customs = Vec::with_capacity(proposal.entries.len());
            for entry in &mut proposal.entries {
                let mut custom = Custom::new();
                let which = format!(
                    "segment {} line for contact {}",
                    entry.entry().segment_no,
                    entry.entry().contact_no
                );
                before_log(s, entry, &mut custom).map_err(|e| about(e, &which))?;
                customs.push(custom);
            }
            let out = with_write(s, Access::write(Kind::Segments), |tx| {
                let out = tx.write_segment_log(proposal)?;
                for (&no, custom) in out.entry_nos.iter().zip(&customs) {
                    set_custom(tx, no, custom)?;
                }
                Ok(out)
            })?;
            for &no in &out.entry_nos {
                after_log(s, no, EntrySource::Segment)?;
            }
            out
        } else {
            with_write(s, Access::write(Kind::Segments), |tx| {
                tx.log_segment(no, options)
            })?
        };
        let logged = with_read(s, Access::read(Kind::Segments), |v| {
            v.logged_segment(out.logged_segment_no)
        })?;
        notify(
            s,
            "after_segment_logged",
            logged.map_or(Dynamic::UNIT, |l| Dynamic::from_map(logged_segment_map(&l))),
        )?;
        Ok(out)
    })
}

/// A dry run's report of how many records the real run deleted.
fn dry_run_count(count: usize) -> Dynamic {
    let mut m = Map::new();
    m.insert("dry_run".into(), Dynamic::TRUE);
    m.insert("count".into(), Dynamic::from_int(count as INT));
    Dynamic::from_map(m)
}

/// Reads `key` of `f` as an entry no bound: below zero is a mistake, never "no bound" (it
/// would widen a delete).
fn entry_no_bound(f: &mut Fields<'_>, record: &str, key: &'static str) -> Result<Option<u64>> {
    f.int(key)?
        .map(|n| {
            u64::try_from(n).map_err(|_| {
                Error::invalid(
                    record,
                    key,
                    format!("is {n}, below zero"),
                    "give an entry no of 0 or more, or leave the bound out",
                )
            })
        })
        .transpose()
}

/// Deletes the canceled entries a filter map selects, through `before_purge` (which may narrow
/// the filter or veto); with `dry_run: true`, runs the same purge (hooks included) under a
/// savepoint, puts everything back and lists what went.
fn purge(s: &Shared, map: &Map) -> RhaiResult<Dynamic> {
    let (_, dry_run) = purge_filter(map).map_err(engine_error)?;
    let real = || -> RhaiResult<Vec<u64>> {
        group(s, || {
            // before_purge may narrow the filter, or veto by throwing.
            let map = fire(s, "before_purge", Dynamic::from_map(map.clone()))?
                .try_cast::<Map>()
                .unwrap_or_else(|| map.clone());
            let (filter, _) = purge_filter(&map).map_err(engine_error)?;
            let report = with_write(s, Access::write(Kind::Entries), |tx| {
                tx.delete_canceled_entries(&filter, false)
            })?;
            Ok(report.entry_nos)
        })
    };
    if dry_run {
        let nos = dry_run_of(s, real)?;
        return Ok(Dynamic::from_map(dry_run_report(&nos)));
    }
    Ok(Dynamic::from_int(real()?.len() as INT))
}

/// Sets the evaluation of the selected entries: how many (or, with `dry_run`, the report of the
/// same run put back).
fn evaluate(
    ctx: &NativeCallContext,
    s: &Shared,
    sel: &Dynamic,
    value: &str,
    dry_run: bool,
) -> RhaiResult<Dynamic> {
    let evaluation: Evaluation = value.parse().map_err(|problem: String| {
        engine_error(Error::invalid(
            "evaluate",
            "evaluation",
            problem,
            "use one of those words",
        ))
    })?;
    let nos = entry_selection(ctx, s, sel, "evaluate")?;
    let real = || {
        with_write(s, Access::write(Kind::Entries), |tx| {
            tx.evaluate(&nos, evaluation)
        })
    };
    if dry_run {
        dry_run_of(s, real)?;
        return Ok(Dynamic::from_map(dry_run_report(&nos)));
    }
    real()?;
    Ok(Dynamic::from_int(nos.len() as INT))
}

/// A criteria step as the segment methods call it.
type Step =
    fn(&mut rapport_engine::ops::Tx<'_>, &str, &ContactSelector, StepOptions) -> Result<usize>;

fn map_or_unit(m: Option<Map>) -> Dynamic {
    m.map_or(Dynamic::UNIT, Dynamic::from_map)
}

#[expect(
    clippy::too_many_lines,
    reason = "one registration per function of the contract, in the order of the reference"
)]
pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    // Interactions.
    let s = shared.clone();
    engine.register_fn(
        "log_interaction",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                let (draft, custom) = draft_from(&map).map_err(engine_error)?;
                log_one(&s, draft, custom, EntrySource::Manual).map(|no| no as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "resume_interaction",
        move |ctx: NativeCallContext, entry_no: INT, map: Map| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                let changes = resume_from(&map).map_err(engine_error)?;
                let entry_no = entry_no as u64;
                group(&s, || {
                    // The hooks see the entry's custom values too.
                    let (mut proposal, mut custom) = with_read(&s, Access::log(), |v| {
                        let proposal = v.propose_resume(entry_no, changes)?;
                        let custom = v.custom_values(FieldRecord::Entry, &entry_id(entry_no))?;
                        Ok((proposal, custom))
                    })?;
                    before_log(&s, &mut proposal.entry, &mut custom)?;
                    with_write(&s, Access::log(), |tx| {
                        tx.write_resume(proposal)?;
                        set_custom(tx, entry_no, &custom)
                    })?;
                    after_log(&s, entry_no, EntrySource::Resume)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "entry",
        move |ctx: NativeCallContext, no: INT| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Entries), |v| {
                    Ok(map_or_unit(entry_with_custom(v, no as u64)?))
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "timeline",
        move |ctx: NativeCallContext, contact_no: &str| -> RhaiResult<Array> {
            placed_result(&ctx, || -> RhaiResult<Array> {
                with_read(&s, Access::read(Kind::Entries), |v| {
                    let contact = v.contact(contact_no)?;
                    let contact_name = contact.map(|c| c.name).unwrap_or_default();
                    let mut out = Array::new();
                    for e in v.timeline(contact_no)? {
                        let salesperson = v
                            .salesperson(&e.salesperson)?
                            .map(|sp| sp.name)
                            .unwrap_or_default();
                        let mut m = entry_map(&e);
                        m.insert(
                            "title".into(),
                            e.timeline_title(&salesperson, &contact_name).into(),
                        );
                        out.push(Dynamic::from_map(m));
                    }
                    Ok(out)
                })
            })
        },
    );

    // Status.
    for (name, mode) in [
        ("cancel", CancelMode::Cancel),
        ("uncancel", CancelMode::Uncancel),
        ("toggle_canceled", CancelMode::Toggle),
    ] {
        let s = shared.clone();
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, sel: Dynamic| -> RhaiResult<Dynamic> {
                placed_result(&ctx, || -> RhaiResult<Dynamic> {
                    let nos = entry_selection(&ctx, &s, &sel, name)?;
                    let out = set_canceled(&s, &nos, mode, false)?;
                    Ok(Dynamic::from_int(out.changed.len() as INT))
                })
            },
        );
        let s = shared.clone();
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, sel: Dynamic, options: Map| -> RhaiResult<Dynamic> {
                placed_result(&ctx, || -> RhaiResult<Dynamic> {
                    let mut f = Fields::new(name, &options);
                    let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
                    let remove = f
                        .flag("remove_attachments")
                        .map_err(engine_error)?
                        .unwrap_or(false);
                    f.finish().map_err(engine_error)?;
                    let nos = entry_selection(&ctx, &s, &sel, name)?;
                    if dry_run {
                        // The real run (rules, hooks) under a savepoint, put back: it refuses
                        // when the real run refuses and reports what the real run changes.
                        let out = dry_run_of(&s, || set_canceled(&s, &nos, mode, remove))?;
                        let mut report = dry_run_report(&out.changed);
                        report.insert("canceled".into(), Dynamic::from_bool(out.canceled));
                        report.insert("selected".into(), Dynamic::from_int(nos.len() as INT));
                        return Ok(Dynamic::from_map(report));
                    }
                    let out = set_canceled(&s, &nos, mode, remove)?;
                    Ok(Dynamic::from_int(out.changed.len() as INT))
                })
            },
        );
    }
    let s = shared.clone();
    engine.register_fn(
        "evaluate",
        move |ctx: NativeCallContext, sel: Dynamic, value: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || evaluate(&ctx, &s, &sel, value, false))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "evaluate",
        move |ctx: NativeCallContext,
              sel: Dynamic,
              value: &str,
              options: Map|
              -> RhaiResult<Dynamic> {
            placed_result(&ctx, || {
                let mut f = Fields::new("evaluate", &options);
                let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
                f.finish().map_err(engine_error)?;
                evaluate(&ctx, &s, &sel, value, dry_run)
            })
        },
    );

    // Purge and other deletes.
    let s = shared.clone();
    engine.register_fn("purge_canceled", move |ctx: NativeCallContext, map: Map| {
        placed_result(&ctx, || purge(&s, &map))
    });
    let s = shared.clone();
    // Without a filter: the same path, so before_purge hooks see this purge too.
    engine.register_fn("purge_canceled", move |ctx: NativeCallContext| {
        placed_result(&ctx, || purge(&s, &Map::new()))
    });
    let s = shared.clone();
    engine.register_fn(
        "delete_postponed",
        move |ctx: NativeCallContext, sel: Dynamic| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                let nos = entry_selection(&ctx, &s, &sel, "delete_postponed")?;
                with_write(&s, Access::write(Kind::Entries), |tx| {
                    tx.delete_postponed_entries(Some(&nos))
                })
                .map(|n| n as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "cancel_campaign_entry",
        move |ctx: NativeCallContext, no: INT| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Campaigns), |tx| {
                    tx.set_campaign_entry_canceled(no as u64, true)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "uncancel_campaign_entry",
        move |ctx: NativeCallContext, no: INT| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Campaigns), |tx| {
                    tx.set_campaign_entry_canceled(no as u64, false)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "delete_canceled_campaign_entries",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                let mut f = Fields::new("delete_canceled_campaign_entries", &map);
                let campaign = f
                    .text("campaign")
                    .map_err(engine_error)?
                    .unwrap_or_default();
                let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
                f.finish().map_err(engine_error)?;
                let real = || {
                    with_write(&s, Access::write(Kind::Campaigns), |tx| {
                        tx.delete_canceled_campaign_entries(&campaign)
                    })
                    .map(|(n, _)| n)
                };
                if dry_run {
                    return Ok(dry_run_count(dry_run_of(&s, real)?));
                }
                Ok(Dynamic::from_int(real()? as INT))
            })
        },
    );

    // Segments.
    let s = shared.clone();
    engine.register_fn(
        "segment_create",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<SegmentHandle> {
            placed_result(&ctx, || -> RhaiResult<SegmentHandle> {
                let mut f = Fields::new("segment_create", &map);
                let header = Segment {
                    no: f.text("no").map_err(engine_error)?.unwrap_or_default(),
                    template: f
                        .text("template")
                        .map_err(engine_error)?
                        .unwrap_or_default(),
                    ..Segment::default()
                };
                let changes = segment_changes(&mut f).map_err(engine_error)?;
                f.finish().map_err(engine_error)?;
                let no = with_write(&s, Access::write(Kind::Segments), |tx| {
                    let no = tx.segment_create(header)?;
                    tx.segment_update(&no, &changes)?;
                    Ok(no)
                })?;
                segment_handle(&s, &no)?
                    .ok_or_else(|| engine_error(Error::not_found("segment", no)))
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "segment",
        move |ctx: NativeCallContext, no: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                Ok(segment_handle(&s, no)?.map_or(Dynamic::UNIT, Dynamic::from))
            })
        },
    );
    let steps: [(&str, Step); 3] = [
        ("add", |tx, no, sel, o| tx.segment_add(no, sel, o)),
        ("reduce", |tx, no, sel, _| tx.segment_reduce(no, sel)),
        ("refine", |tx, no, sel, _| tx.segment_refine(no, sel)),
    ];
    for (name, step) in steps {
        let s = shared.clone();
        engine.register_fn(
            name,
            move |ctx: NativeCallContext,
                  seg: &mut SegmentHandle,
                  sel: Dynamic|
                  -> RhaiResult<INT> {
                placed_result(&ctx, || -> RhaiResult<INT> {
                    let selector = contact_selection(&ctx, &s, &sel)?;
                    let n = with_write(&s, Access::write(Kind::Segments), |tx| {
                        step(tx, &seg.no, &selector, StepOptions::default())
                    })?;
                    refresh(&s, seg)?;
                    Ok(n as INT)
                })
            },
        );
        let s = shared.clone();
        engine.register_fn(
            name,
            move |ctx: NativeCallContext,
                  seg: &mut SegmentHandle,
                  sel: Dynamic,
                  options: Map|
                  -> RhaiResult<INT> {
                placed_result(&ctx, || -> RhaiResult<INT> {
                    let options = step_options(&options).map_err(engine_error)?;
                    let selector = contact_selection(&ctx, &s, &sel)?;
                    let n = with_write(&s, Access::write(Kind::Segments), |tx| {
                        step(tx, &seg.no, &selector, options)
                    })?;
                    refresh(&s, seg)?;
                    Ok(n as INT)
                })
            },
        );
    }
    let s = shared.clone();
    engine.register_fn(
        "go_back",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                let step = with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_go_back(&seg.no)
                })?;
                refresh(&s, seg)?;
                Ok((step.added.len() + step.removed.len()) as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "lines",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle| -> RhaiResult<Array> {
            placed_result(&ctx, || -> RhaiResult<Array> {
                with_read(&s, Access::read(Kind::Segments), |v| {
                    Ok(v.segment_lines(&seg.no)?
                        .iter()
                        .map(|l| Dynamic::from_map(segment_line_map(l)))
                        .collect())
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "set_template",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle, code: &str| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_set_template(&seg.no, code, false)
                })?;
                refresh(&s, seg)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "set_template",
        move |ctx: NativeCallContext,
              seg: &mut SegmentHandle,
              code: &str,
              to_lines: bool|
              -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_set_template(&seg.no, code, to_lines)
                })?;
                refresh(&s, seg)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "update",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle, map: Map| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                let mut f = Fields::new(format!("segment {}", seg.no), &map);
                let changes = segment_changes(&mut f).map_err(engine_error)?;
                f.finish().map_err(engine_error)?;
                with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_update(&seg.no, &changes)
                })?;
                refresh(&s, seg)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "log",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                log_segment(&s, &seg.no, LogSegmentOptions::default())
                    .map(|out| out.logged_segment_no as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "log",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle, map: Map| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                let mut f = Fields::new(format!("log segment {}", seg.no), &map);
                let options = LogSegmentOptions {
                    deliver: f.flag("deliver").map_err(engine_error)?.unwrap_or(false),
                    follow_up: f.flag("follow_up").map_err(engine_error)?.unwrap_or(false),
                };
                let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
                f.finish().map_err(engine_error)?;
                if dry_run {
                    // The real log (checks, hooks) under a savepoint, put back.
                    let out = dry_run_of(&s, || log_segment(&s, &seg.no, options))?;
                    let mut report = dry_run_report(&out.entry_nos);
                    report.insert(
                        "logged_segment".into(),
                        Dynamic::from_int(out.logged_segment_no as INT),
                    );
                    return Ok(Dynamic::from_map(report));
                }
                log_segment(&s, &seg.no, options)
                    .map(|out| Dynamic::from_int(out.logged_segment_no as INT))
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "save_criteria",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle, name: &str| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_save_criteria(&seg.no, name)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "reuse_criteria",
        move |ctx: NativeCallContext, segment_no: &str, name: &str| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_reuse_criteria(segment_no, name)
                })
                .map(|n| n as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "delete",
        move |ctx: NativeCallContext, seg: &mut SegmentHandle| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Segments), |tx| {
                    tx.segment_delete(&seg.no)
                })
            })
        },
    );

    // Logged segments.
    let s = shared.clone();
    engine.register_fn(
        "logged_segment",
        move |ctx: NativeCallContext, no: INT| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Segments), |v| {
                    Ok(v.logged_segment(no as u64)?.map_or(Dynamic::UNIT, |l| {
                        Dynamic::from(LoggedSegmentHandle {
                            entry_no: l.entry_no,
                            fields: logged_segment_map(&l),
                        })
                    }))
                })
            })
        },
    );
    for (name, canceled) in [("cancel", true), ("uncancel", false)] {
        let s = shared.clone();
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, l: &mut LoggedSegmentHandle| -> RhaiResult<()> {
                placed_result(&ctx, || -> RhaiResult<()> {
                    with_write(&s, Access::write(Kind::Segments), |tx| {
                        tx.set_logged_segment_canceled(l.entry_no, canceled)
                    })?;
                    if let Some(fresh) = with_read(&s, Access::read(Kind::Segments), |v| {
                        v.logged_segment(l.entry_no)
                    })? {
                        l.fields = logged_segment_map(&fresh);
                    }
                    Ok(())
                })
            },
        );
    }
    engine.register_fn("entries", |l: &mut LoggedSegmentHandle| {
        let mut filter = Map::new();
        filter.insert(
            "logged_segment_no".into(),
            Dynamic::from_int(l.entry_no as INT),
        );
        Query {
            source: Source::Entries,
            steps: vec![query::Step::Filter(
                query::parse_filter(&filter).unwrap_or_default(),
            )],
        }
    });
    let s = shared.clone();
    engine.register_fn(
        "delete_canceled_logged_segments",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                const RECORD: &str = "delete_canceled_logged_segments";
                let mut f = Fields::new(RECORD, &map);
                let from = entry_no_bound(&mut f, RECORD, "from").map_err(engine_error)?;
                let to = entry_no_bound(&mut f, RECORD, "to").map_err(engine_error)?;
                let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
                f.finish().map_err(engine_error)?;
                let real = || {
                    with_write(&s, Access::write(Kind::Segments), |tx| {
                        tx.delete_canceled_logged_segments(from, to)
                    })
                };
                if dry_run {
                    return Ok(dry_run_count(dry_run_of(&s, real)?));
                }
                Ok(Dynamic::from_int(real()? as INT))
            })
        },
    );

    // Statistics.
    let stats = |shared: &Shared,
                 kind: &str,
                 code: &Dynamic,
                 range: Option<(chrono::NaiveDate, chrono::NaiveDate)>|
     -> RhaiResult<Map> {
        let kind = stat_kind(kind)?;
        let code = code.to_string();
        with_read(shared, Access::read(Kind::Statistics), |v| {
            Ok(statistics_map(&v.statistics(kind, &code, range)?))
        })
    };
    let s = shared.clone();
    engine.register_fn(
        "stats",
        move |ctx: NativeCallContext, kind: &str, code: Dynamic| {
            placed_result(&ctx, || stats(&s, kind, &code, None))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "stats",
        move |ctx: NativeCallContext,
              kind: &str,
              code: Dynamic,
              from: Dynamic,
              to: Dynamic|
              -> RhaiResult<Map> {
            placed_result(&ctx, || -> RhaiResult<Map> {
                let range = (date_arg(&from, "from")?, date_arg(&to, "to")?);
                stats(&s, kind, &code, Some(range))
            })
        },
    );

    // Dates.
    let s = shared.clone();
    engine.register_fn("today", move |ctx: NativeCallContext| -> RhaiResult<Date> {
        placed_result(&ctx, || -> RhaiResult<Date> {
            with_context(&s, |c| Date(c.clock.today()))
        })
    });
    let s = shared.clone();
    engine.register_fn(
        "work_date",
        move |ctx: NativeCallContext| -> RhaiResult<Date> {
            placed_result(&ctx, || -> RhaiResult<Date> {
                with_context(&s, |c| Date(c.clock.work_date()))
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "set_work_date",
        move |ctx: NativeCallContext, d: Dynamic| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                let d = date_arg(&d, "work date")?;
                with_context(&s, |c| c.clock.set_work_date(Some(d)))
            })
        },
    );
    engine.register_fn(
        "date",
        |ctx: NativeCallContext, text: &str| -> RhaiResult<Date> {
            placed_result(&ctx, || -> RhaiResult<Date> {
                chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map(Date)
                    .map_err(|_| {
                        engine_error(Error::invalid(
                            "date",
                            "text",
                            format!("\"{text}\" is not a date"),
                            "write it as YYYY-MM-DD, e.g. date(\"2026-11-29\")",
                        ))
                    })
            })
        },
    );
}
