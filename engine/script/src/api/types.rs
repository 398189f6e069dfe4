//! The `date` type, record handles, printing and JSON.

use chrono::{Datelike, Days};
use rapport_engine::Error;
use rhai::{Array, Dynamic, Engine, INT, Map, NativeCallContext};

use crate::error::{RhaiResult, engine_error, placed_result};
use crate::value::{Date, LoggedSegmentHandle, RecordHandle, SegmentHandle, show_map, to_json};

fn shift(d: Date, days: INT) -> RhaiResult<Date> {
    let moved = if days >= 0 {
        d.0.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        d.0.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    moved.map(Date).ok_or_else(|| {
        engine_error(Error::invalid(
            "date",
            "days",
            format!("{d} {days:+} days is out of range"),
            "use a date between years 1 and 262143",
        ))
    })
}

/// Fails with `message` unless `ok`.
fn assertion(ok: bool, message: impl FnOnce() -> String) -> RhaiResult<()> {
    if ok {
        return Ok(());
    }
    Err(crate::error::error_value(
        "assertion",
        None,
        None,
        message(),
    ))
}

/// A record handle type: fields through the indexer (so `x.field` works), printing.
fn register_handle<T: RecordHandle>(engine: &mut Engine, name: &str) {
    engine.register_type_with_name::<T>(name);
    engine.register_indexer_get(|h: &mut T, field: &str| {
        h.fields().get(field).cloned().unwrap_or(Dynamic::UNIT)
    });
    engine.register_fn("to_string", |h: &mut T| {
        format!("{} {}", T::LABEL, show_map(h.fields()))
    });
    engine.register_fn("to_debug", |h: &mut T| {
        format!("{} {}", T::LABEL, show_map(h.fields()))
    });
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Date>("date");
    engine.register_fn("to_string", |d: &mut Date| d.to_string());
    engine.register_fn("to_debug", |d: &mut Date| format!("date(\"{d}\")"));
    engine.register_fn("+", |ctx: NativeCallContext, d: Date, n: INT| {
        placed_result(&ctx, || shift(d, n))
    });
    engine.register_fn("-", |ctx: NativeCallContext, d: Date, n: INT| {
        placed_result(&ctx, || shift(d, -n))
    });
    engine.register_fn("-", |a: Date, b: Date| (a.0 - b.0).num_days());
    engine.register_fn("==", |a: Date, b: Date| a == b);
    engine.register_fn("!=", |a: Date, b: Date| a != b);
    engine.register_fn("<", |a: Date, b: Date| a < b);
    engine.register_fn("<=", |a: Date, b: Date| a <= b);
    engine.register_fn(">", |a: Date, b: Date| a > b);
    engine.register_fn(">=", |a: Date, b: Date| a >= b);
    engine.register_get("year", |d: &mut Date| INT::from(d.0.year()));
    engine.register_get("month", |d: &mut Date| INT::from(d.0.month()));
    engine.register_get("day", |d: &mut Date| INT::from(d.0.day()));
    engine.register_fn("days", |n: INT| n);

    register_handle::<SegmentHandle>(engine, "segment");
    register_handle::<LoggedSegmentHandle>(engine, "logged_segment");

    // For tests (a plugin's tests/ folder): a failed assertion fails the test at its line.
    engine.register_fn("assert", |ctx: NativeCallContext, ok: bool| {
        placed_result(&ctx, || assertion(ok, || "assertion failed".into()))
    });
    engine.register_fn(
        "assert",
        |ctx: NativeCallContext, ok: bool, message: &str| {
            placed_result(&ctx, || assertion(ok, || message.to_string()))
        },
    );
    engine.register_fn(
        "assert_eq",
        |ctx: NativeCallContext, actual: Dynamic, expected: Dynamic| {
            let (a, e) = (to_json(&actual), to_json(&expected));
            placed_result(&ctx, || {
                assertion(a == e, || format!("expected {e}, got {a}"))
            })
        },
    );
    engine.register_fn("to_json", |v: Dynamic| to_json(&v).to_string());
    engine.register_fn("to_json", |m: &mut Map| {
        to_json(&Dynamic::from_map(m.clone())).to_string()
    });
    engine.register_fn("to_json", |a: &mut Array| {
        to_json(&Dynamic::from_array(a.clone())).to_string()
    });
}
