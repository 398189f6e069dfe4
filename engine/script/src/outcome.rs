//! What a run gives its host, without Rhai's types: the value of the script ([`Value`]: JSON,
//! text, whether it is a list of records), and the variables a REPL keeps between runs
//! ([`Variables`]). A host (the command line, a server) needs no Rhai of its own.

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Array, Dynamic, Map, Scope};

use crate::error::ScriptError;
use crate::value::{handle_fields, show, to_json};

/// A script's value.
#[derive(Debug, Clone)]
pub struct Value(Dynamic);

impl Value {
    pub(crate) fn new(value: Dynamic) -> Self {
        Self(value)
    }

    /// Whether it is `()` (nothing to show).
    pub fn is_unit(&self) -> bool {
        self.0.is_unit()
    }

    /// Whether it is a list (an array: of records, usually).
    pub fn is_list(&self) -> bool {
        self.0.is::<Array>()
    }

    /// Its text, when it is a string.
    pub fn as_text(&self) -> Option<String> {
        self.0.is_string().then(|| self.0.to_string())
    }

    /// Its number, when it is an integer.
    pub fn as_int(&self) -> Option<i64> {
        self.0.as_int().ok()
    }

    /// A field of a record (a map, or a segment handle), when it is one and has it.
    pub fn field(&self, name: &str) -> Option<Value> {
        let fields = match self.0.read_lock::<Map>() {
            Some(m) => m.clone(),
            None => handle_fields(&self.0)?,
        };
        fields.get(name).cloned().map(Value)
    }

    /// As JSON: records as objects with the spec's field names, dates as `YYYY-MM-DD`.
    pub fn to_json(&self) -> serde_json::Value {
        to_json(&self.0)
    }

    /// The names of a record's fields (a map's, or a segment handle's), in their order; `None`
    /// when it is not a record.
    pub fn field_names(&self) -> Option<Vec<String>> {
        match self.0.read_lock::<Map>() {
            Some(m) => Some(m.keys().map(ToString::to_string).collect()),
            None => Some(
                handle_fields(&self.0)?
                    .keys()
                    .map(ToString::to_string)
                    .collect(),
            ),
        }
    }

    /// Each field of a record (a map's, or a segment handle's), in its order, with its text
    /// as a table or CSV cell shows it (what its JSON shows: text as it is, nothing for `()`,
    /// the rest as JSON), without making JSON of the record. `false` when it is not a record.
    pub fn each_cell(&self, cell: &mut dyn FnMut(&str, &str)) -> bool {
        let Some(fields) = self.0.read_lock::<Map>() else {
            return handle_fields(&self.0)
                .is_some_and(|f| Value(Dynamic::from_map(f)).each_cell(cell));
        };
        let mut text = String::new();
        for (name, v) in fields.iter() {
            cell(name, cell_text(v, &mut text));
        }
        true
    }

    /// As people read it (what `print` shows).
    pub fn display(&self) -> String {
        show(&self.0)
    }

    /// The Rhai value, for Rust callers that use Rhai themselves.
    pub fn as_dynamic(&self) -> &Dynamic {
        &self.0
    }

    /// The Rhai value, owned.
    pub fn into_dynamic(self) -> Dynamic {
        self.0
    }
}

/// Where the results of a run go when its value is a query and the run wrote nothing: one at a
/// time, while the run's transaction is open, instead of collected into a list first — so a
/// million contacts print in the memory of one (see [`crate::ScriptHost::stream_results`]).
pub trait ResultSink {
    /// Before the first result: the fields the query's records have (built-in, then declared),
    /// and the lines the script printed so far.
    fn start(&mut self, fields: &[String], printed: &[String]);
    /// One result (a record); `false` stops the query (the sink has failed, or has enough).
    fn item(&mut self, value: Value) -> bool;
}

/// A sink a host and its caller share: the caller reads what it wrote after the run.
pub type Results = Rc<RefCell<dyn ResultSink>>;

/// How a query's results went to a [`ResultSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Streamed {
    /// How many results the sink was given.
    pub rows: u64,
    /// Whether the query was stopped before its end (Ctrl-C, or the sink said stop).
    pub stopped: bool,
}

/// A host's sink, and how its last stream went (shared with the function that streams).
#[derive(Default)]
pub(crate) struct Stream {
    pub(crate) sink: Option<Results>,
    pub(crate) outcome: Option<Streamed>,
    /// Set by the host around its own call of the stream function: a script calling it is
    /// refused.
    pub(crate) armed: bool,
}

/// The [`Stream`] a host and its engine share.
pub(crate) type StreamSlot = Rc<RefCell<Stream>>;

/// A field's value as a cell shows it (see [`Value::each_cell`]), in `buf` when it must be made.
fn cell_text<'a>(v: &'a Dynamic, buf: &'a mut String) -> &'a str {
    use std::fmt::Write as _;
    buf.clear();
    if v.is_unit() {
        return "";
    }
    if let Ok(s) = v.as_immutable_string_ref() {
        buf.push_str(&s);
    } else if let Ok(b) = v.as_bool() {
        return if b { "true" } else { "false" };
    } else if let Ok(n) = v.as_int() {
        let _ = write!(buf, "{n}");
    } else if let Ok(f) = v.as_float() {
        match crate::value::float_json(f) {
            serde_json::Value::Null => {}
            n => {
                let _ = write!(buf, "{n}");
            }
        }
    } else {
        match to_json(v) {
            serde_json::Value::String(s) => *buf = s,
            serde_json::Value::Null => {}
            other => *buf = other.to_string(),
        }
    }
    buf
}

/// Variables (and constants) that outlive one run: a REPL's session, or parameters a host
/// gives a script.
#[derive(Debug, Clone, Default)]
pub struct Variables(Scope<'static>);

impl Variables {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// The names of the variables, in the order they were made.
    pub fn names(&self) -> Vec<String> {
        self.0
            .iter_raw()
            .map(|(name, ..)| name.to_string())
            .collect()
    }

    /// Sets `name` to a JSON value (objects become maps, arrays arrays).
    pub fn set_json(&mut self, name: &str, value: &serde_json::Value) -> Result<(), ScriptError> {
        let value: Dynamic = rhai::serde::to_dynamic(value).map_err(|e| ScriptError {
            script: name.to_string(),
            line: None,
            column: None,
            message: format!("{name} cannot be given to a script: {e}"),
            kind: crate::ScriptErrorKind::Runtime,
            detail: None,
            printed: Box::default(),
        })?;
        self.0.set_or_push(name.to_string(), value);
        Ok(())
    }

    /// The value of `name`, if there is such a variable.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned().map(Value)
    }

    pub(crate) fn scope_mut(&mut self) -> &mut Scope<'static> {
        &mut self.0
    }
}
