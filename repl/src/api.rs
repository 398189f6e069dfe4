//! The HTTP API of `rapport serve` as data: what a client sends and what it gets back (JSON,
//! API.md). The server, the command line's client and the tests share these types, so the
//! three cannot drift apart.

use rapport_script::{ScriptError, ScriptOutput};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The version prefix of every path.
pub const PREFIX: &str = "/v1";

/// The header a client names its run with, so that it can cancel it (`POST /v1/runs/ID/cancel`).
pub const RUN_HEADER: &str = "x-rapport-run";

/// `POST /v1/run`: a script, run as one transaction.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The Rhai source.
    pub source: String,
    /// The name errors give the script (default `remote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Variables the script sees (`params.x` is the variable `x`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, Json>,
    /// Run it, then keep nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// A REPL session (`POST /v1/sessions`): variables and functions outlive each run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// What a run gave: what it printed, and its value as JSON with what a client needs to show it
/// the way the local command line does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReply {
    /// What the script printed, line by line.
    pub printed: Vec<String>,
    /// The value of the last statement (records with the spec's field names).
    pub value: Json,
    /// Whether the value is `()` (nothing to show).
    pub unit: bool,
    /// Whether the value is a list (shown as a table).
    pub list: bool,
    /// The value when it is text.
    pub text: Option<String>,
    /// The value as people read it, when that is how it is shown ([`shown_as_text`]; empty
    /// for records and lists of records, which are shown as tables).
    pub display: String,
    /// Whether the run changed the database.
    pub committed: bool,
}

impl RunReply {
    /// The reply for a finished run.
    pub fn of(output: &ScriptOutput) -> Self {
        let v = &output.value;
        let (value, list, text) = (v.to_json(), v.is_list(), v.as_text());
        // Writing out a large list of records as text would be wasted: it shows as a table.
        let display = if text.is_none() && shown_as_text(&value, list) {
            v.display()
        } else {
            String::new()
        };
        Self {
            printed: output.printed.clone(),
            value,
            unit: v.is_unit(),
            list,
            text,
            display,
            committed: output.committed,
        }
    }
}

/// Whether a value is shown as text (its text, or as people read it) rather than as a table: a
/// record shows as a key/value table, a non-empty list of records as a table, the rest as text.
pub fn shown_as_text(json: &Json, list: bool) -> bool {
    match json {
        Json::Object(_) => false,
        Json::Array(items) => !(list && !items.is_empty() && items.iter().all(Json::is_object)),
        _ => true,
    }
}

/// A failure, as every endpoint gives it: the same kind, record, field and message as the
/// command line (`{"error": {…}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The kind as a word: the engine's (`not_found`, `already_exists`, …), the language's
    /// (`parse`, `runtime`, `limit`, `cancelled`, `denied`, `plugin`), or the server's
    /// (`unauthorized`, `forbidden`, `bad_request`, `too_large`, `gone`, `unavailable`).
    pub kind: String,
    /// The record it is about, when known.
    pub record: Option<String>,
    /// The field it is about, when known.
    pub field: Option<String>,
    /// What went wrong and what to do, as the command line says it.
    pub message: String,
    /// The script line, for a script's failure.
    pub line: Option<usize>,
    /// The script column, for a script's failure.
    pub column: Option<usize>,
    /// What the failed run printed before it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub printed: Vec<String>,
}

/// The body of a failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The failure.
    pub error: ApiError,
}

impl ApiError {
    /// A failure of the server's own (authentication, a malformed request …).
    pub fn new(kind: &str, record: Option<&str>, field: Option<&str>, message: String) -> Self {
        Self {
            kind: kind.into(),
            record: record.map(String::from),
            field: field.map(String::from),
            message,
            line: None,
            column: None,
            printed: Vec::new(),
        }
    }

    /// A script's failure.
    pub fn of_script(e: &ScriptError) -> Self {
        Self {
            kind: e.kind_word().to_string(),
            record: e.detail.as_ref().and_then(|d| d.record.clone()),
            field: e.detail.as_ref().and_then(|d| d.field.clone()),
            message: e.to_string(),
            line: e.line,
            column: e.column,
            printed: e.printed.to_vec(),
        }
    }

    /// An engine's failure outside a script.
    pub fn of_engine(e: &rapport_engine::Error) -> Self {
        Self {
            kind: e.kind().as_str().to_string(),
            record: e.record(),
            field: e.field().map(String::from),
            message: e.to_string(),
            line: None,
            column: None,
            printed: Vec::new(),
        }
    }

    /// The HTTP status that goes with the kind.
    pub fn status(&self) -> u16 {
        match self.kind.as_str() {
            "bad_request" => 400,
            "unauthorized" => 401,
            "denied" | "forbidden" => 403,
            "not_found" | "gone" => 404,
            "too_large" => 413,
            "already_exists" | "already_logged" | "in_use" | "wrong_state" | "conflict"
            | "database_in_use" | "read_only" => 409,
            "storage" | "corrupt" => 500,
            "unavailable" => 503,
            _ => 422,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// `POST /v1/sessions`: a REPL session on the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionReply {
    /// Its id (send it as `session` with each run; `DELETE /v1/sessions/ID` ends it).
    pub session: String,
    /// How long it may stay idle before the server ends it, in seconds.
    pub idle_seconds: u64,
}

/// `GET /v1/info`: what a REPL shows and completes (codes, declared fields), and who you are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InfoReply {
    /// The authenticated user.
    pub user: String,
    /// Its role.
    pub role: String,
    /// Codes of templates, groups, salespeople and numbers of segments.
    pub codes: Vec<String>,
    /// Codes by kind (`template`, `group`, `salesperson`, `segment`, and `contact`: the
    /// numbers of the first 5,000 contacts), for completion inside a function's quotes.
    #[serde(default)]
    pub codes_by_kind: std::collections::BTreeMap<String, Vec<String>>,
    /// The declared custom fields.
    pub fields: Vec<FieldInfo>,
    /// Whether the database has no templates and no entries.
    pub empty: bool,
}

/// A declared custom field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldInfo {
    /// The kind of record (`contact`, …).
    pub record: String,
    /// Its name.
    pub name: String,
    /// Its type (`text`, `number`, `flag`, `date`).
    #[serde(rename = "type")]
    pub field_type: String,
    /// What it is for.
    pub description: String,
}

/// `POST /v1/documents`' answer: the entry made, or why none was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentReply {
    /// Whether an entry was recorded.
    pub recorded: bool,
    /// The entry's number.
    pub entry_no: Option<u64>,
    /// Why nothing was recorded.
    pub reason: Option<String>,
    /// The entry (JSON with the spec's field names).
    pub entry: Option<Json>,
}

/// `POST /v1/import/{what}`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReply {
    /// What was imported: `contacts`, `salespeople`, `groups`, `templates` or `database`.
    pub what: String,
    /// The fields `define_fields` declared, as `name (type)`.
    pub declared: Vec<String>,
    /// How many records were created (of a database: how many records it holds).
    pub imported: usize,
    /// How many existing records were changed (`update`).
    pub updated: usize,
    /// How many rows named an existing record and said what it has already (`update`).
    pub unchanged: usize,
}

/// `GET /v1/check`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReply {
    /// Whether everything agrees.
    pub ok: bool,
    /// How many entries were checked.
    pub entries_checked: u64,
    /// What differs.
    pub differences: Vec<String>,
    /// A SHA-256 of every record (not of the derived data, nor of the users): two databases
    /// with the same fingerprint hold the same records, e.g. a database and its `export
    /// database` imported elsewhere.
    pub fingerprint: String,
}

/// `POST /v1/users`: a new user (full role only).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// The name entries will record.
    pub name: String,
    /// `read`, `log` or `full`.
    pub role: String,
}

/// A user and, once, its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserReply {
    /// The name.
    pub name: String,
    /// The role.
    pub role: String,
    /// The day it was added.
    pub created: String,
    /// Whether it is revoked.
    pub revoked: bool,
    /// The token: given when the user is added, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl UserReply {
    /// A stored user (and its token, when just made).
    pub fn of(user: &rapport_engine::model::User, token: Option<String>) -> Self {
        Self {
            name: user.name.clone(),
            role: user.role.to_string(),
            created: user.created.to_string(),
            revoked: user.revoked,
            token,
        }
    }
}
