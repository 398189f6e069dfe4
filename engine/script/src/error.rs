//! Script errors for people: the script's name, the line and column of the innermost failing
//! expression, and a message that says what to do. "Function not found" lists the functions that
//! exist under that name; a limit says which limit stopped the script.
//!
//! An error of the engine reaches a script as a map, so `try { … } catch (e) { … }` can tell what
//! failed: `e.kind` (`not_found`, `in_use`, … — [`rapport_engine::ErrorKind`], and `denied` and
//! `plugin` from this crate), `e.record`, `e.field`, `e.message`, and where the failing call is:
//! `e.line`, `e.position`, `e.source` (the names Rhai gives its own errors).

use rhai::{Dynamic, Engine, EvalAltResult, Map, NativeCallContext, ParseError, Position};

use crate::limits::{Limits, STOP_CANCELLED, STOP_MEMORY, STOP_TIME};
use rapport_engine::Error;

/// A result of Rhai's, whose errors are always boxed.
pub(crate) type RhaiResult<T> = std::result::Result<T, Box<EvalAltResult>>;

/// What kind of failure stopped a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptErrorKind {
    /// The script does not parse.
    Parse,
    /// An error while it ran (an engine rule, a type error, a thrown value…).
    Runtime,
    /// It reached one of its limits.
    Limit,
    /// It was cancelled (Ctrl-C).
    Cancelled,
    /// The database failed (opening, committing).
    Storage,
}

impl ScriptErrorKind {
    /// The kind as a word: `parse`, `runtime`, `limit`, `cancelled`, `storage`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptErrorKind::Parse => "parse",
            ScriptErrorKind::Runtime => "runtime",
            ScriptErrorKind::Limit => "limit",
            ScriptErrorKind::Cancelled => "cancelled",
            ScriptErrorKind::Storage => "storage",
        }
    }
}

/// What the engine (or a plugin rule) said about a failure, beyond its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The failure's kind as a word (`not_found`, `in_use`, `denied`, …).
    pub kind: String,
    /// The record it is about, when known (`contact CT000001`).
    pub record: Option<String>,
    /// The field it is about, when known.
    pub field: Option<String>,
}

/// A failed script: where and why. Nothing it did was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's name (file name, `eval`, `repl`…).
    pub script: String,
    /// Line of the failing expression (1-based), when known.
    pub line: Option<usize>,
    /// Column of the failing expression (1-based), when known.
    pub column: Option<usize>,
    /// What went wrong and what to do.
    pub message: String,
    /// The kind of failure.
    pub kind: ScriptErrorKind,
    /// The engine's kind, record and field, when an engine rule refused.
    pub detail: Option<Box<ErrorDetail>>,
    /// What the run (its hooks included) printed before it failed: the main way to see what a
    /// failing script or hook was doing.
    pub printed: Box<[String]>,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.script, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.script, self.message),
            _ => write!(f, "{}: {}", self.script, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    /// An engine failure outside the script's own code (opening the session, committing).
    pub fn engine(script: &str, e: &Error) -> Self {
        Self {
            script: script.into(),
            line: None,
            column: None,
            message: e.to_string(),
            kind: ScriptErrorKind::Storage,
            detail: Some(Box::new(detail_of(e))),
            printed: Box::default(),
        }
    }

    /// The most specific kind of the failure as a word: the engine's (`not_found`, …) when an
    /// engine rule refused, else the script's (`parse`, `runtime`, `limit`, …).
    pub fn kind_word(&self) -> &str {
        self.detail
            .as_ref()
            .map_or(self.kind.as_str(), |d| d.kind.as_str())
    }

    fn at(script: &str, pos: Position, message: String, kind: ScriptErrorKind) -> Self {
        Self {
            script: script.into(),
            line: pos.line(),
            column: pos.position(),
            message,
            kind,
            detail: None,
            printed: Box::default(),
        }
    }
}

fn detail_of(e: &Error) -> ErrorDetail {
    ErrorDetail {
        kind: e.kind().as_str().to_string(),
        record: e.record(),
        field: e.field().map(str::to_string),
    }
}

#[expect(
    clippy::unnecessary_box_returns,
    reason = "Rhai's errors are always boxed"
)]
/// An error value as scripts catch it: `#{kind, record, field, message}` (the position is
/// added where the failing function was called, see [`placed`]).
pub(crate) fn error_value(
    kind: &str,
    record: Option<String>,
    field: Option<&str>,
    message: String,
) -> Box<EvalAltResult> {
    let mut m = Map::new();
    m.insert("kind".into(), kind.into());
    m.insert("record".into(), record.map_or(Dynamic::UNIT, Dynamic::from));
    m.insert(
        "field".into(),
        field.map_or(Dynamic::UNIT, |f| Dynamic::from(f.to_string())),
    );
    m.insert("message".into(), message.into());
    EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
}

/// An engine error as a script error value (its message names the record, the field and the
/// fix). Rhai's errors are always boxed, and `map_err` hands the error over by value.
#[expect(
    clippy::needless_pass_by_value,
    clippy::unnecessary_box_returns,
    reason = "used as map_err(engine_error), which passes the error by value; Rhai's errors are always boxed"
)]
pub(crate) fn engine_error(e: Error) -> Box<EvalAltResult> {
    let d = detail_of(&e);
    error_value(&d.kind, d.record, d.field.as_deref(), e.to_string())
}

#[expect(
    clippy::unnecessary_box_returns,
    reason = "Rhai's errors are always boxed"
)]
/// Adds where the failing function was called (`line`, `position`, `source`) to an error
/// value that does not say yet: every contract function passes its errors through this.
pub(crate) fn placed(ctx: &NativeCallContext, mut err: Box<EvalAltResult>) -> Box<EvalAltResult> {
    if let EvalAltResult::ErrorRuntime(value, _) = &mut *err
        && let Some(mut m) = value.write_lock::<Map>()
        && !m.contains_key("line")
    {
        let pos = ctx.call_position();
        if let Some(line) = pos.line() {
            m.insert("line".into(), Dynamic::from_int(line as rhai::INT));
            m.insert(
                "position".into(),
                Dynamic::from_int(pos.position().unwrap_or(0) as rhai::INT),
            );
        }
        if let Some(source) = ctx.call_source() {
            m.insert("source".into(), source.into());
        }
    }
    err
}

/// Runs the body of a contract function, its error [`placed`].
pub(crate) fn placed_result<T>(
    ctx: &NativeCallContext,
    body: impl FnOnce() -> RhaiResult<T>,
) -> RhaiResult<T> {
    body().map_err(|e| placed(ctx, e))
}

/// The message and detail of a thrown value: an error map's `message`, `kind`, `record` and
/// `field`, or the value as text.
fn thrown(value: &Dynamic) -> (String, Option<Box<ErrorDetail>>) {
    let Some(m) = value.read_lock::<Map>() else {
        return (value.to_string(), None);
    };
    let text = |k: &str| m.get(k).filter(|v| v.is_string()).map(ToString::to_string);
    let Some(message) = text("message") else {
        return (value.to_string(), None);
    };
    let detail = text("kind").map(|kind| {
        Box::new(ErrorDetail {
            kind,
            record: text("record"),
            field: text("field"),
        })
    });
    (message, detail)
}

pub(crate) fn parse(script: &str, e: &ParseError) -> ScriptError {
    let message = e.err_type().to_string();
    ScriptError::at(script, e.position(), message, ScriptErrorKind::Parse)
}

/// The innermost error of a chain of function calls, and the innermost known position.
fn innermost(e: &EvalAltResult) -> (&EvalAltResult, Position, Option<String>) {
    let mut err = e;
    let mut pos = e.position();
    let mut source = None;
    while let EvalAltResult::ErrorInFunctionCall(_, src, inner, _) = err {
        if !inner.position().is_none() {
            pos = inner.position();
        }
        if !src.is_empty() {
            source = Some(src.clone());
        }
        err = inner;
    }
    (err, pos, source)
}

/// Whether a failure is a script's own `throw` of a value (not an error map a call made): what a
/// hook's veto is.
pub(crate) fn is_throw(e: &EvalAltResult) -> bool {
    match innermost(e).0 {
        EvalAltResult::ErrorRuntime(value, _) => thrown(value).1.is_none(),
        _ => false,
    }
}

pub(crate) fn runtime(
    script: &str,
    e: &EvalAltResult,
    engine: &Engine,
    limits: &Limits,
) -> ScriptError {
    let (inner, pos, source) = innermost(e);
    let script = source.as_deref().unwrap_or(script);
    let (message, kind) = match inner {
        EvalAltResult::ErrorRuntime(value, _) => {
            let (message, detail) = thrown(value);
            let mut err = ScriptError::at(script, pos, message, ScriptErrorKind::Runtime);
            err.detail = detail;
            return err;
        }
        EvalAltResult::ErrorTooManyOperations(_) => (
            format!(
                "stopped: the script went over its limit of {} operations; nothing was changed",
                limits.max_operations
            ),
            ScriptErrorKind::Limit,
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            format!(
                "stopped: function calls nested deeper than the limit of {} levels; nothing was changed",
                limits.max_call_depth
            ),
            ScriptErrorKind::Limit,
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => (
            format!(
                "stopped: {what} is over its limit (strings {} bytes, arrays {} items, maps {} items); nothing was changed",
                limits.max_string_size, limits.max_array_size, limits.max_map_size
            ),
            ScriptErrorKind::Limit,
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == STOP_CANCELLED => (
            "cancelled; nothing was changed".to_string(),
            ScriptErrorKind::Cancelled,
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == STOP_TIME => (
            format!(
                "stopped: the script ran longer than its limit of {} s; nothing was changed",
                limits.max_time.as_secs()
            ),
            ScriptErrorKind::Limit,
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == STOP_MEMORY => (
            format!(
                "stopped: the script used more than its limit of {} MiB of memory; nothing was changed",
                limits.max_memory / (1024 * 1024)
            ),
            ScriptErrorKind::Limit,
        ),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            (not_found(signature, engine), ScriptErrorKind::Runtime)
        }
        other => {
            // Rhai's own text, without the position it appends (we give ours), its types named
            // as scripts know them (a script's own thrown text is the arm above: as it is).
            let text = other.to_string();
            let text = text.split(" (line ").next().unwrap_or(&text);
            (type_words(text), ScriptErrorKind::Runtime)
        }
    };
    ScriptError::at(script, pos, message, kind)
}

/// A signature as Rhai shows it (Rust's type names: `&str | ImmutableString | String`,
/// `rapport_script::query::Query`, `&mut Map`) in the names scripts know: `string`, `query`,
/// `map`, `array`, `int`, `float`, `any`.
pub(crate) fn user_facing(signature: &str) -> String {
    type_words(&signature.replace(" (", "("))
}

/// Rust's type names in `text` as scripts know them (see [`user_facing`]).
fn type_words(text: &str) -> String {
    let mut s = text
        .replace("&mut ", "")
        .replace("types::dynamic::Dynamic", "any")
        .replace("ImmutableString", "string")
        .replace("&str | string | String", "string")
        .replace("&str", "string");
    // Paths of Rust types: their last segment, in lower case.
    while let Some(start) = s.find("rapport_script::").or_else(|| s.find("rhai::")) {
        let end = s[start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(s.len(), |n| start + n);
        let last = s[start..end]
            .rsplit("::")
            .next()
            .unwrap_or_default()
            .to_lowercase();
        s.replace_range(start..end, &last);
    }
    // Whole words only: `Map` but not `map_x`.
    let words: Vec<String> = s
        .split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(|piece| {
            let (word, rest) = piece.split_at(
                piece
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(piece.len()),
            );
            let word = match word {
                "i64" | "INT" => "int",
                "f64" | "FLOAT" => "float",
                "Map" => "map",
                "Array" => "array",
                "Blob" => "blob",
                "FnPtr" => "Fn",
                "String" => "string",
                other => other,
            };
            format!("{word}{rest}")
        })
        .collect();
    words.concat()
}

/// "no function f(string)": with what exists under that name (the documented signature, or the
/// registered ones).
fn not_found(signature: &str, engine: &Engine) -> String {
    let signature = user_facing(signature);
    let name = signature
        .split('(')
        .next()
        .unwrap_or(&signature)
        .trim()
        .to_string();
    let name = name.rsplit('.').next().unwrap_or(&name).to_string();
    if let Some(doc) = crate::docs::lookup(&name) {
        return format!(
            "no function {signature}; {name} is called as {}",
            doc.signature
        );
    }
    let mut known: Vec<String> = engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter(|s| s.split('(').next() == Some(name.as_str()))
        .map(|s| user_facing(s.split(" -> ").next().unwrap_or(&s)))
        .collect();
    known.sort();
    known.dedup();
    if known.is_empty() {
        // A mistyped name: the documented function closest to it.
        let names = crate::docs::FUNCTIONS.iter().map(|f| {
            f.name
                .split('(')
                .next()
                .unwrap_or(f.name)
                .rsplit('.')
                .next()
                .unwrap_or(f.name)
        });
        // (A typo rarely changes the first letter: `foo` is not offered `log`.)
        let first = name.chars().next();
        let near = rapport_engine::ops::closest(&name, names.filter(|n| n.chars().next() == first));
        match near.and_then(crate::docs::lookup) {
            Some(doc) => format!(
                "no function {signature}; did you mean {}? (called as {})",
                doc.name, doc.signature
            ),
            None => format!("no function {signature}; :help lists the functions there are"),
        }
    } else {
        format!(
            "no function {signature}; {name} takes: {}",
            known.join(" | ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::user_facing;

    #[test]
    fn signatures_name_types_as_scripts_know_them() {
        assert_eq!(
            user_facing("filter (rapport_script::query::Query, &str | ImmutableString | String)"),
            "filter(query, string)"
        );
        assert_eq!(
            user_facing(
                "f (&mut Map, i64, f64, Array, Blob, rhai::types::dynamic::Dynamic, FnPtr)"
            ),
            "f(map, int, float, array, blob, any, Fn)"
        );
        // Words that only contain a type's name stay.
        assert_eq!(user_facing("map_x (Mapping)"), "map_x(Mapping)");
    }

    #[test]
    fn rhais_own_errors_name_types_as_scripts_know_them() {
        let err = crate::ScriptHost::new(crate::Limits::user())
            .run(
                &rapport_engine::Database::in_memory().unwrap(),
                "t",
                "let a = [1]; a[\"x\"]",
                crate::RunOptions::default(),
            )
            .unwrap_err();
        assert!(
            err.message.contains("string (expecting int)"),
            "{}",
            err.message
        );
    }
}
