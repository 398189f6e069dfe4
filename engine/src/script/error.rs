//! Script errors for people: the script's name, the line and column of the innermost failing
//! expression, and a message that says what to do. "Function not found" lists the functions that
//! exist under that name; a limit says which limit stopped the script.

use rhai::{Engine, EvalAltResult, ParseError, Position};

use super::{Limits, STOP_CANCELLED, STOP_MEMORY, STOP_TIME};
use crate::error::Error;

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
    pub(crate) fn engine(script: &str, e: &Error) -> Self {
        Self {
            script: script.into(),
            line: None,
            column: None,
            message: e.to_string(),
            kind: ScriptErrorKind::Storage,
        }
    }

    fn at(script: &str, pos: Position, message: String, kind: ScriptErrorKind) -> Self {
        Self {
            script: script.into(),
            line: pos.line(),
            column: pos.position(),
            message,
            kind,
        }
    }
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

pub(crate) fn runtime(
    script: &str,
    e: &EvalAltResult,
    engine: &Engine,
    limits: &Limits,
) -> ScriptError {
    let (inner, pos, source) = innermost(e);
    let script = source.as_deref().unwrap_or(script);
    let (message, kind) = match inner {
        EvalAltResult::ErrorRuntime(value, _) => (value.to_string(), ScriptErrorKind::Runtime),
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
            // Rhai's own text, without the position it appends (we give ours).
            let text = other.to_string();
            let text = text.split(" (line ").next().unwrap_or(&text).to_string();
            (text, ScriptErrorKind::Runtime)
        }
    };
    ScriptError::at(script, pos, message, kind)
}

/// "no function f(string)": with what exists under that name (the documented signature, or the
/// registered ones).
fn not_found(signature: &str, engine: &Engine) -> String {
    let readable = |s: &str| {
        s.replace(" (", "(")
            .replace("types::dynamic::Dynamic", "any")
            .replace("ImmutableString", "string")
            .replace("i64", "int")
            .replace("f64", "float")
            .replace("rapport_engine::script::query::Query", "query")
    };
    let signature = readable(signature);
    let name = signature
        .split('(')
        .next()
        .unwrap_or(&signature)
        .trim()
        .to_string();
    let name = name.rsplit('.').next().unwrap_or(&name).to_string();
    if let Some(doc) = super::docs::lookup(&name) {
        return format!(
            "no function {signature}; {name} is called as {}",
            doc.signature
        );
    }
    let mut known: Vec<String> = engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter(|s| s.split('(').next() == Some(name.as_str()))
        .map(|s| readable(s.split(" -> ").next().unwrap_or(&s)))
        .collect();
    known.sort();
    known.dedup();
    if known.is_empty() {
        format!("no function {signature}; :help lists the functions there are")
    } else {
        format!(
            "no function {signature}; {name} takes: {}",
            known.join(" | ")
        )
    }
}
