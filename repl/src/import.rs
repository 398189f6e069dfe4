//! Data in. `import contacts|salespeople|groups|templates FILE` reads CSV (a header row of field
//! names; `,`, `;`, tab or `|`, found from the header or given) or JSON (one object a line, or an
//! array of objects, as `export --format json` writes); `--update` changes the records a row
//! names by number or code instead of refusing them. `import database FILE` reads what
//! `export database` wrote into an empty database. Every import is one transaction: a bad row
//! aborts it, naming its line, and nothing is written.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Read};
use std::path::Path;

use indicatif::ProgressBar;
use rapport_engine::model::{
    Contact, ContactKind, Correspondence, FieldDef, FieldRecord, FieldType, FieldValue,
    InteractionGroup, InteractionLogEntry, InteractionTemplate, Salesperson, normalize_code,
};
use rapport_engine::ops::{
    DUMP_FORMAT, DUMP_VERSION, DumpEnd, DumpHeader, DumpRecord, EntrySource, InteractionDraft,
};
use rapport_engine::{Database, Error, ErrorKind, Tx};
use rapport_script::{Hooked, ScriptHost};
use serde_json::Value;

use crate::api::ImportReply;
use crate::error::CliError;
use crate::transfer::progress;

/// What `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// Contacts (by no; custom fields as extra columns).
    Contacts,
    /// Salespeople (by code).
    Salespeople,
    /// Interaction groups (by code).
    Groups,
    /// Interaction templates (by code; their attachments come with `import database`, or
    /// `template_attach`).
    Templates,
    /// Declared custom fields (by record and name): record, name, type, description.
    Fields,
    /// Interactions to log, one a row (`contact_no`, `template`, `date`, `cost`, …): each is logged
    /// anew — a new number, the spec's checks and defaults — as history from another system.
    /// Entries as they are (numbers, users, cancellations) move with `import database`.
    Entries,
    /// A whole database, as `export database` wrote it, into an empty one.
    Database,
}

impl ImportKind {
    /// The word for its records.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Contacts => "contacts",
            ImportKind::Salespeople => "salespeople",
            ImportKind::Groups => "groups",
            ImportKind::Templates => "templates",
            ImportKind::Fields => "fields",
            ImportKind::Entries => "entries",
            ImportKind::Database => "database",
        }
    }

    /// The kind of record its custom fields are declared for (groups have none).
    fn record(self) -> Option<FieldRecord> {
        match self {
            ImportKind::Contacts => Some(FieldRecord::Contact),
            ImportKind::Salespeople => Some(FieldRecord::Salesperson),
            ImportKind::Templates => Some(FieldRecord::Template),
            ImportKind::Entries => Some(FieldRecord::Entry),
            ImportKind::Groups | ImportKind::Fields | ImportKind::Database => None,
        }
    }

    /// The built-in columns a row may have.
    fn columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Contacts => Contact::FIELDS,
            ImportKind::Salespeople => Salesperson::FIELDS,
            ImportKind::Groups => &["code", "description"],
            // Language rows hold attachments, which a row cannot carry.
            ImportKind::Templates => InteractionTemplate::FIELDS
                .split_last()
                .map_or(&[], |(_, fields)| fields),
            ImportKind::Fields => &["record", "name", "type", "description"],
            ImportKind::Entries => ENTRY_COLUMNS,
            ImportKind::Database => &[],
        }
    }

    /// The column that names an existing record.
    fn key_column(self) -> &'static str {
        match self {
            ImportKind::Contacts => "no",
            _ => "code",
        }
    }
}

/// The columns an entry is logged from: what a manual log takes (the rest of an entry — its
/// number, user, group, flow — the log sets).
const ENTRY_COLUMNS: &[&str] = &[
    "contact_no",
    "template",
    "date",
    "time",
    "description",
    "subject",
    "salesperson",
    "cost",
    "duration",
    "evaluation",
    "attempt_failed",
    "campaign_no",
    "correspondence",
    "language",
    "contact_via",
];

/// How an import reads and writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Declare every column that is neither a built-in nor a declared field as a custom field.
    pub define_fields: bool,
    /// Change the records rows name (by no or code) instead of refusing them.
    pub update: bool,
    /// The CSV delimiter (found from the header row when not given).
    pub delimiter: Option<u8>,
    /// Whether a server runs the import for a client (which does not set paths on its machine).
    pub on_server: bool,
}

/// A CSV delimiter as given: one ASCII character but `"` and a line break, or `tab`.
pub fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && t.is_ascii() && !matches!(t, "\"" | "\n" | "\r") => {
            Ok(t.as_bytes()[0])
        }
        _ => Err(format!(
            "\"{text}\" is not one character; give e.g. ';', '|' or tab"
        )),
    }
}

/// Where an import reads from: bytes in memory (a server's request body), or a file, read as a
/// stream each time it is needed — never whole in memory (a million contacts' file is 50 MB).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// The bytes themselves.
    Bytes(&'a [u8]),
    /// A file.
    File(&'a Path),
}

impl<'a> Input<'a> {
    /// Its bytes from the start, after a UTF-8 byte-order mark if it has one (spreadsheets
    /// write one).
    fn open(self) -> std::io::Result<Box<dyn BufRead + 'a>> {
        let mut read: Box<dyn BufRead + 'a> = match self {
            Input::Bytes(bytes) => Box::new(bytes),
            Input::File(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
        };
        if read.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
            read.consume(3);
        }
        Ok(read)
    }

    /// Its first line (at most 64 KiB of it).
    fn first_line(self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.open()?.take(1 << 16).read_until(b'\n', &mut line)?;
        Ok(line)
    }

    /// How many lines it has (for the progress bar).
    fn lines(self) -> std::io::Result<u64> {
        let mut read = self.open()?;
        let (mut buf, mut n) = (vec![0_u8; 1 << 16], 0);
        loop {
            match read.read(&mut buf)? {
                0 => return Ok(n),
                got => n += buf[..got].split(|b| *b == b'\n').count() as u64 - 1,
            }
        }
    }
}

/// The delimiter a header row uses: of `,`, `;`, tab and `|`, the one it has most of outside
/// quotes (`,` when it has none).
pub fn delimiter_of(header: &[u8]) -> u8 {
    let mut counts = [0_usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for b in header {
        if *b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = candidates.iter().position(|c| c == b) {
            counts[i] += 1;
        }
    }
    // The most used; on a tie, not the comma (`Name;Straße, Nr.;PLZ, Ort` is ;-separated: a
    // comma is likelier inside a name than a semicolon).
    let most = counts.iter().copied().max().unwrap_or(0);
    if most == 0 {
        return b',';
    }
    let best = (1..candidates.len())
        .find(|&i| counts[i] == most)
        .unwrap_or(0);
    candidates[best]
}

/// Where a row is, for messages: `line 4`, or `record 3` of a JSON array.
#[derive(Debug, Clone, Copy)]
struct Place {
    unit: &'static str,
    n: u64,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.unit, self.n)
    }
}

/// How the input is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Csv(u8),
    JsonLines,
    JsonArray,
}

fn syntax_of(input: Input<'_>, name: &str, options: ImportOptions) -> Result<Syntax, CliError> {
    let line = input.first_line().map_err(|e| unreadable(name, e))?;
    // JSON may begin after blank lines; CSV's header is its first line.
    let mut start = Vec::new();
    input
        .open()
        .and_then(|r| r.take(1 << 16).read_to_end(&mut start))
        .map_err(|e| unreadable(name, e))?;
    Ok(match start.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Syntax::JsonLines,
        Some(b'[') => Syntax::JsonArray,
        _ => Syntax::Csv(options.delimiter.unwrap_or_else(|| delimiter_of(&line))),
    })
}

/// A row's visitor: where it is, its (column, text) cells in order, and whether its columns
/// may differ from the previous row's; returns whether to go on.
type RowVisit<'v> = dyn FnMut(Place, &[(&str, &str)], bool) -> Result<bool, Error> + 'v;

/// Visits every row of `input` in order.
fn each_row(
    input: Input<'_>,
    name: &str,
    syntax: Syntax,
    visit: &mut RowVisit<'_>,
) -> Result<(), Error> {
    let read = input.open().map_err(|e| cannot_read(name, &e))?;
    match syntax {
        Syntax::Csv(delimiter) => csv_rows(read, delimiter, visit),
        Syntax::JsonLines => {
            let mut last_columns: Vec<String> = Vec::new();
            for (i, line) in read.lines().enumerate() {
                let place = Place {
                    unit: "line",
                    n: i as u64 + 1,
                };
                let line = line.map_err(|e| cannot_read(name, &e))?;
                if line.trim().is_empty() {
                    continue;
                }
                let object: serde_json::Map<String, Value> = serde_json::from_str(&line)
                    .map_err(|e| bad_row(place, format!("is not a JSON object: {e}")))?;
                if !json_row(place, &object, &mut last_columns, visit)? {
                    break;
                }
            }
            Ok(())
        }
        Syntax::JsonArray => {
            let mut rows = JsonArrayRows {
                visit,
                last_columns: Vec::new(),
                n: 0,
                failure: None,
                stopped: false,
            };
            let mut de = serde_json::Deserializer::from_reader(read);
            let outcome = serde::Deserializer::deserialize_seq(&mut de, &mut rows);
            if let Some(e) = rows.failure {
                return Err(e);
            }
            if rows.stopped {
                // The rest was not read: nothing to say about it.
                return Ok(());
            }
            outcome.and_then(|()| de.end()).map_err(|e| {
                bad_row(
                    Place {
                        unit: "line",
                        n: e.line() as u64,
                    },
                    format!("is not part of a JSON array of objects: {e}"),
                )
            })
        }
    }
}

/// A reader of CSV with a header row, `delimiter` between cells, each cell trimmed.
fn csv_reader<R: Read>(read: R, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(read)
}

fn csv_rows(
    read: Box<dyn BufRead + '_>,
    delimiter: u8,
    visit: &mut RowVisit<'_>,
) -> Result<(), Error> {
    let mut reader = csv_reader(read, delimiter);
    let header = reader.headers().map_err(|e| csv_error(&e))?.clone();
    let mut first = true;
    for row in reader.records() {
        let row = row.map_err(|e| csv_error(&e))?;
        let place = Place {
            unit: "line",
            n: row.position().map_or(0, csv::Position::line),
        };
        let cells: Vec<(&str, &str)> = header.iter().zip(row.iter()).collect();
        if !visit(place, &cells, std::mem::take(&mut first))? {
            break;
        }
    }
    Ok(())
}

fn csv_error(e: &csv::Error) -> Error {
    let line = e.position().map_or(1, csv::Position::line);
    let problem = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} columns, but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => format!("cannot be read: {io}"),
        _ => e.to_string(),
    };
    bad_row(
        Place {
            unit: "line",
            n: line,
        },
        problem,
    )
}

/// A JSON object's fields as cells: text as it is, numbers and true/false as their text, null
/// as an empty cell; a list or an object is refused.
fn json_row(
    place: Place,
    object: &serde_json::Map<String, Value>,
    last_columns: &mut Vec<String>,
    visit: &mut RowVisit<'_>,
) -> Result<bool, Error> {
    let mut texts = Vec::with_capacity(object.len());
    for (column, value) in object {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Err(Error::invalid(
                    place.to_string(),
                    "field",
                    format!("{column} holds a list or an object"),
                    "give text, a number, true/false or a date; nothing was imported",
                ));
            }
        };
        texts.push((column.as_str(), text));
    }
    let changed = last_columns.len() != texts.len()
        || last_columns.iter().zip(&texts).any(|(a, (b, _))| a != b);
    if changed {
        *last_columns = texts.iter().map(|(c, _)| (*c).to_string()).collect();
    }
    let cells: Vec<(&str, &str)> = texts.iter().map(|(c, t)| (*c, t.as_str())).collect();
    visit(place, &cells, changed)
}

/// Visits the objects of a JSON array one by one as they are read.
struct JsonArrayRows<'r, 'v> {
    visit: &'r mut RowVisit<'v>,
    last_columns: Vec<String>,
    n: u64,
    failure: Option<Error>,
    /// Whether the visitor asked to stop (the rest of the array is left unread).
    stopped: bool,
}

impl<'de> serde::de::Visitor<'de> for &mut JsonArrayRows<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(object) = seq.next_element::<serde_json::Map<String, Value>>()? {
            self.n += 1;
            let place = Place {
                unit: "record",
                n: self.n,
            };
            match json_row(place, &object, &mut self.last_columns, self.visit) {
                Ok(true) => {}
                Ok(false) => {
                    self.stopped = true;
                    return Err(serde::de::Error::custom("stopped"));
                }
                Err(e) => {
                    self.failure = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
            }
        }
        Ok(())
    }
}

fn bad_row(place: Place, problem: String) -> Error {
    Error::invalid(
        place.to_string(),
        "row",
        problem,
        "fix that row; nothing was imported",
    )
}

/// The number a cell says exactly (so "00123" and "1e3" stay text).
fn number_text(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && n.to_string() == text)
}

fn date_text(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn flag_text(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

/// The type of a column's values, for `--define-fields`: number, flag or date when every
/// non-empty cell is one, otherwise text.
fn inferred_type(cells: &[String]) -> FieldType {
    let all = |test: &dyn Fn(&str) -> bool| !cells.is_empty() && cells.iter().all(|c| test(c));
    if all(&|c| number_text(c).is_some()) {
        FieldType::Number
    } else if all(&|c| flag_text(c).is_some()) {
        FieldType::Flag
    } else if all(&|c| date_text(c).is_some()) {
        FieldType::Date
    } else {
        FieldType::Text
    }
}

/// A custom field's value from its text, read as its declared type.
fn typed_value(place: Place, column: &str, t: FieldType, text: &str) -> Result<FieldValue, Error> {
    let value = match t {
        FieldType::Text => Some(FieldValue::Text(text.to_string())),
        FieldType::Number => number_text(text.trim()).map(FieldValue::Number),
        FieldType::Flag => flag_text(text).map(FieldValue::Bool),
        FieldType::Date => date_text(text.trim()).map(FieldValue::Date),
    };
    value.ok_or_else(|| {
        Error::invalid(
            place.to_string(),
            "column",
            format!("{column} is \"{text}\", not {}", t.example()),
            "fix the cell; nothing was imported",
        )
    })
}

fn flag(place: Place, column: &str, text: &str) -> Result<bool, Error> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(Error::invalid(
            place.to_string(),
            "column",
            format!("{column} is \"{text}\", not true or false"),
            "write true or false (yes/no and 1/0 are read too)",
        )),
    }
}

fn word<T: std::str::FromStr<Err = String>>(
    place: Place,
    column: &str,
    text: &str,
) -> Result<T, Error> {
    text.parse().map_err(|problem| {
        Error::invalid(
            place.to_string(),
            "column",
            format!("{column}: {problem}"),
            "use one of those words",
        )
    })
}

fn amount(place: Place, column: &str, text: &str) -> Result<rapport_engine::model::Amount, Error> {
    text.parse::<f64>()
        .ok()
        .and_then(rapport_engine::model::Amount::from_f64)
        .ok_or_else(|| {
            Error::invalid(
                place.to_string(),
                "column",
                format!("{column} is \"{text}\", not a number"),
                "write a number such as 8 or 8.50",
            )
        })
}

/// The custom value of a declared field (every column was checked to be built-in or declared).
fn custom(
    place: Place,
    column: &str,
    text: &str,
    declared: &[FieldDef],
) -> Result<FieldValue, Error> {
    let t = declared
        .iter()
        .find(|d| d.name == column)
        .map_or(FieldType::Text, |d| d.field_type);
    typed_value(place, column, t, text)
}

/// A contact from `base` with the row's non-empty cells over it.
fn contact_from(
    place: Place,
    mut c: Contact,
    cells: &[(&str, &str)],
    declared: &[FieldDef],
) -> Result<Contact, Error> {
    for &(column, value) in cells {
        if value.is_empty() {
            continue;
        }
        match column {
            "no" => c.no = value.to_string(),
            "name" => c.name = value.to_string(),
            "kind" => c.kind = word(place, column, value)?,
            "company_no" => c.company_no = value.to_string(),
            "salesperson" => c.salesperson = value.to_string(),
            "language" => c.language = value.to_string(),
            "correspondence" => c.correspondence = word(place, column, value)?,
            "email" => c.email = value.to_string(),
            "phone" => c.phone = value.to_string(),
            "mobile" => c.mobile = value.to_string(),
            "city" => c.city = value.to_string(),
            "country" => c.country = value.to_string(),
            "exclude_from_segment" => c.exclude_from_segment = flag(place, column, value)?,
            "privacy_blocked" => c.privacy_blocked = flag(place, column, value)?,
            other => {
                let v = custom(place, other, value, declared)?;
                c.custom.insert(other.to_string(), v);
            }
        }
    }
    Ok(c)
}

/// A salesperson from `base` with the row's non-empty cells over it, and its custom values.
fn salesperson_from(
    place: Place,
    mut s: Salesperson,
    cells: &[(&str, &str)],
    declared: &[FieldDef],
) -> Result<(Salesperson, BTreeMap<String, FieldValue>), Error> {
    let mut values = BTreeMap::new();
    for &(column, value) in cells.iter().filter(|(_, v)| !v.is_empty()) {
        match column {
            "code" => s.code = value.to_string(),
            "name" => s.name = value.to_string(),
            "email" => s.email = value.to_string(),
            "phone" => s.phone = value.to_string(),
            "blocked" => s.blocked = flag(place, column, value)?,
            other => {
                values.insert(other.to_string(), custom(place, other, value, declared)?);
            }
        }
    }
    Ok((s, values))
}

/// A group from `base` with the row's non-empty cells over it.
fn group_from(mut g: InteractionGroup, cells: &[(&str, &str)]) -> InteractionGroup {
    for &(column, value) in cells.iter().filter(|(_, v)| !v.is_empty()) {
        match column {
            "code" => g.code = value.to_string(),
            _ => g.description = value.to_string(),
        }
    }
    g
}

/// A template from `base` with the row's non-empty cells over it, and its custom values.
fn template_from(
    place: Place,
    mut t: InteractionTemplate,
    cells: &[(&str, &str)],
    declared: &[FieldDef],
) -> Result<(InteractionTemplate, BTreeMap<String, FieldValue>), Error> {
    let mut values = BTreeMap::new();
    for &(column, value) in cells.iter().filter(|(_, v)| !v.is_empty()) {
        match column {
            "code" => t.code = value.to_string(),
            "group" => t.group = value.to_string(),
            "description" => t.description = value.to_string(),
            "unit_cost" => t.unit_cost = amount(place, column, value)?,
            "unit_duration" => t.unit_duration = amount(place, column, value)?,
            "flow" => t.flow = word(place, column, value)?,
            "initiated_by" => t.initiated_by = word(place, column, value)?,
            "campaign" => t.campaign_no = value.to_string(),
            "campaign_target" => t.campaign_target = flag(place, column, value)?,
            "campaign_response" => t.campaign_response = flag(place, column, value)?,
            "correspondence" => t.correspondence = word(place, column, value)?,
            "ignore_contact_correspondence" => {
                t.ignore_contact_correspondence = flag(place, column, value)?;
            }
            "default_language" => t.default_language = value.to_string(),
            "wizard_action" => t.wizard_action = word(place, column, value)?,
            other => {
                values.insert(other.to_string(), custom(place, other, value, declared)?);
            }
        }
    }
    Ok((t, values))
}

/// Refuses, in one error, every column that is neither built-in nor declared: of a CSV's
/// header (`syntax` CSV), or of the JSON object at `place`. A file of another kind of record
/// (contacts given as salespeople) is said to be one.
fn check_columns(
    kind: ImportKind,
    (syntax, place): (Syntax, Place),
    columns: &mut dyn Iterator<Item = &str>,
    declared: &[FieldDef],
) -> Result<(), Error> {
    let columns: Vec<&str> = columns.collect();
    let known: Vec<&str> = kind
        .columns()
        .iter()
        .copied()
        .chain(declared.iter().map(|d| d.name.as_str()))
        .collect();
    let unknown: Vec<String> = columns
        .iter()
        .filter(|c| !known.contains(c))
        .map(
            |c| match rapport_engine::ops::closest(c, known.iter().copied()) {
                Some(k) => format!("{c} (did you mean {k}?)"),
                None => (*c).to_string(),
            },
        )
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let what = kind.record().map_or("group", FieldRecord::word);
    // The kind of record whose fields the columns are, if another: one whose built-in fields
    // hold more of them than this kind's do, and most of them (declared fields aside).
    let held = |k: ImportKind| columns.iter().filter(|c| k.columns().contains(c)).count();
    let other = [
        ImportKind::Contacts,
        ImportKind::Salespeople,
        ImportKind::Groups,
        ImportKind::Templates,
        ImportKind::Fields,
        ImportKind::Entries,
    ]
    .into_iter()
    .filter(|k| *k != kind && held(*k) > held(kind) && 2 * held(*k) > columns.len())
    .max_by_key(|k| held(*k));
    let set_by_the_log = kind == ImportKind::Entries
        && columns
            .iter()
            .filter(|c| !known.contains(c))
            .all(|c| InteractionLogEntry::FIELDS.contains(c));
    let fix = match other {
        _ if set_by_the_log => format!(
            "the log sets those (an entry's number, user, group, …): to move entries as they are, export and import the whole database; to log them anew, keep the columns {}",
            ENTRY_COLUMNS.join(", ")
        ),
        Some(other) => format!(
            "the columns are those of {}: import the file with `rapport import {} FILE`",
            other.as_str(),
            other.as_str()
        ),
        None if kind.record().is_some() => {
            "rename the column, declare the field with field_define, or import with --define-fields"
                .to_string()
        }
        None => "rename or remove the column".to_string(),
    };
    let (record, field, problem) = match (syntax, unknown.as_slice()) {
        (Syntax::Csv(_), [one]) => (
            format!("import {}", kind.as_str()),
            "header",
            format!("column {one} is not a {what} field and not declared"),
        ),
        (Syntax::Csv(_), many) => (
            format!("import {}", kind.as_str()),
            "header",
            format!(
                "columns {} are not {what} fields and not declared",
                many.join(", ")
            ),
        ),
        (_, [one]) => (
            format!("import {} {place}", kind.as_str()),
            "object",
            format!("has {one}, which is not a {what} field and not declared"),
        ),
        (_, many) => (
            format!("import {} {place}", kind.as_str()),
            "object",
            format!(
                "has {}, which are not {what} fields and not declared",
                many.join(", ")
            ),
        ),
    };
    Err(Error::invalid(record, field, problem, fix))
}

/// The error of an import source that cannot be read.
fn unreadable(name: &str, e: impl Into<std::io::Error>) -> CliError {
    CliError::Read {
        what: "import file",
        path: name.to_string(),
        source: e.into(),
        fix: "give the path of a CSV or JSON file",
    }
}

fn cannot_read(name: &str, e: &std::io::Error) -> Error {
    Error::invalid(
        name,
        "file",
        format!("cannot be read: {e}"),
        "keep the file in place until the import ends; nothing was imported",
    )
}

/// The columns of `input` that are neither built-in nor declared, each as a custom field of
/// the type its cells have (`--define-fields`: shown, then declared by the import itself).
pub fn fields_to_define(
    db: &Database,
    kind: ImportKind,
    input: Input<'_>,
    name: &str,
    options: ImportOptions,
) -> Result<Vec<FieldDef>, CliError> {
    let Some(record) = kind.record() else {
        return Err(Error::invalid(
            format!("import {}", kind.as_str()),
            "define_fields",
            format!("{} have no custom fields", kind.as_str()),
            "leave --define-fields out",
        )
        .into());
    };
    let syntax = syntax_of(input, name, options)?;
    let declared = db.read(|v| v.declared_fields(record))?;
    // New columns in the order they first appear, each with its non-empty cells.
    let mut new: Vec<(String, Vec<String>)> = Vec::new();
    // A row that cannot be read is the import's to report, with its line.
    let _ = each_row(input, name, syntax, &mut |_, cells, _| {
        for &(column, value) in cells {
            // (An entry's fields the log sets are refused by the import, saying so.)
            let built_in = kind.columns().contains(&column)
                || (kind == ImportKind::Entries && InteractionLogEntry::FIELDS.contains(&column));
            if built_in || declared.iter().any(|d| d.name == column) {
                continue;
            }
            let i = if let Some(i) = new.iter().position(|(c, _)| c == column) {
                i
            } else {
                new.push((column.to_string(), Vec::new()));
                new.len() - 1
            };
            if !value.is_empty() {
                new[i].1.push(value.to_string());
            }
        }
        Ok(true)
    });
    Ok(new
        .into_iter()
        .map(|(column, cells)| FieldDef {
            record,
            name: column,
            field_type: inferred_type(&cells),
            description: format!("imported from {name}"),
        })
        .collect())
}

/// How many records an import created and changed.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    created: usize,
    updated: usize,
    unchanged: usize,
}

/// Imports `input` into `db` in one transaction, after declaring `define`; `name` names the
/// source in errors.
pub fn import(
    db: &Database,
    host: &ScriptHost,
    kind: ImportKind,
    input: Input<'_>,
    name: &str,
    options: ImportOptions,
    define: &[FieldDef],
) -> Result<ImportReply, CliError> {
    let lines = input.lines().map_err(|e| unreadable(name, e))?;
    let declared_now: Vec<String> = define
        .iter()
        .map(|d| format!("{} ({})", d.name, d.field_type))
        .collect();
    let reply = |counts: Counts| ImportReply {
        what: kind.as_str().to_string(),
        declared: declared_now.clone(),
        imported: counts.created,
        updated: counts.updated,
        unchanged: counts.unchanged,
    };
    if kind == ImportKind::Database {
        if options.define_fields || options.update || options.delimiter.is_some() {
            return Err(Error::invalid(
                "import database",
                "options",
                "--define-fields, --update and --delimiter are for one kind of record",
                "leave them out: a database export holds its fields and goes into an empty database",
            )
            .into());
        }
        let n = import_database(db, input, name, (lines, options.on_server))?;
        return Ok(reply(Counts {
            created: usize::try_from(n).unwrap_or(usize::MAX),
            ..Counts::default()
        }));
    }
    if kind == ImportKind::Entries && options.update {
        return Err(Error::invalid(
            "import entries",
            "update",
            "is not for entries: each row is logged as a new interaction",
            "leave --update out; change logged entries with a script (resume_interaction, cancel)",
        )
        .into());
    }
    let syntax = syntax_of(input, name, options)?;
    if syntax == Syntax::JsonLines
        && let Ok(first) = input.first_line()
        && serde_json::from_slice::<DumpHeader>(&first).is_ok()
    {
        return Err(Error::invalid(
            name,
            "file",
            "is a database export",
            format!("import it with `rapport import database {name}`, into an empty database"),
        )
        .into());
    }
    if let Syntax::Csv(delimiter) = syntax {
        check_header(db, kind, input, name, (delimiter, options))?;
    }
    let record = kind.record();
    let bar = progress(
        lines.saturating_sub(1),
        &format!("importing {}", kind.as_str()),
    );
    if kind == ImportKind::Entries {
        // Each row is logged as log_interaction logs it: through the plugins' hooks.
        let result = host.transaction(db, name, |h| {
            // From the start each time: a transaction another writer overtook runs again.
            bar.set_position(0);
            for def in define {
                h.write(|tx| tx.field_define(def))?;
            }
            let declared = h.write(|tx| tx.view().declared_fields(FieldRecord::Entry))?;
            import_entries(h, input, name, syntax, &declared, &bar)
        });
        bar.finish_and_clear();
        return Ok(reply(result?));
    }
    let result = db.write(|tx| {
        // From the start each time: a transaction another writer overtook runs again.
        bar.set_position(0);
        for def in define {
            tx.field_define(def)?;
        }
        let declared = match record {
            Some(record) => tx.view().declared_fields(record)?,
            None => Vec::new(),
        };
        // What contacts share (fields, companies, salespeople, counters) is read once.
        tx.batch_contacts(|tx| {
            if kind == ImportKind::Contacts && !options.update {
                create_contacts(tx, input, name, syntax, &declared, &bar)
            } else {
                import_rows(tx, kind, input, name, syntax, options, &declared, &bar)
            }
        })
    });
    bar.finish_and_clear();
    Ok(reply(result?))
}

/// What a CSV's header must be before any row is read: there (an empty file is said to be
/// one), and for new contacts with a name column — a column that is not a field is named
/// first (a misspelt `nmae` gets its did-you-mean), unless `--define-fields` will declare it.
fn check_header(
    db: &Database,
    kind: ImportKind,
    input: Input<'_>,
    name: &str,
    (delimiter, options): (u8, ImportOptions),
) -> Result<(), CliError> {
    let mut reader = csv_reader(input.open().map_err(|e| unreadable(name, e))?, delimiter);
    let header = reader.headers().map_err(|e| csv_error(&e))?.clone();
    if header.iter().all(str::is_empty) {
        return Err(Error::invalid(
            name,
            "file",
            "is empty: it has no header row",
            "give a CSV whose first row names its columns, e.g. name,city",
        )
        .into());
    }
    if kind != ImportKind::Contacts || options.update || header.iter().any(|h| h == "name") {
        return Ok(());
    }
    let declared = db.read(|v| v.declared_fields(FieldRecord::Contact))?;
    if !options.define_fields {
        let place = Place { unit: "line", n: 1 };
        check_columns(
            ImportKind::Contacts,
            (Syntax::Csv(delimiter), place),
            &mut header.iter(),
            &declared,
        )?;
    }
    let known: Vec<&str> = Contact::FIELDS
        .iter()
        .copied()
        .chain(declared.iter().map(|d| d.name.as_str()))
        .collect();
    Err(Error::required(
        "import contacts",
        "name column",
        format!(
            "add a header row with at least \"name\"; known columns: {}",
            known.join(", ")
        ),
    )
    .into())
}

/// How many rows an import announces to the store at a time.
const IMPORT_CHUNK: usize = 1000;

/// Creates a contact of each row of `input`, in order, a thousand at a time announced to the
/// store before they are created (one statement on a server instead of one a contact).
fn create_contacts(
    tx: &mut Tx<'_>,
    input: Input<'_>,
    name: &str,
    syntax: Syntax,
    declared: &[FieldDef],
    bar: &ProgressBar,
) -> Result<Counts, Error> {
    let mut counts = Counts::default();
    let mut chunk: Vec<(Place, Contact)> = Vec::with_capacity(IMPORT_CHUNK);
    // A person whose company comes later in the file waits for it: an export lists contacts by
    // number, and a company may have a higher one than its persons.
    let mut waiting: Vec<(Place, Contact)> = Vec::new();
    let mut flush = |tx: &mut Tx<'_>, chunk: &mut Vec<(Place, Contact)>| -> Result<(), Error> {
        let nos: Vec<&str> = chunk.iter().map(|(_, c)| c.no.as_str()).collect();
        tx.view().prefetch_contacts(&nos)?;
        for (place, contact) in chunk.drain(..) {
            let person = (contact.kind == ContactKind::Person && !contact.company_no.is_empty())
                .then(|| contact.clone());
            match tx.contact_create(contact) {
                Ok(_) => {
                    counts.created += 1;
                    bar.inc(1);
                }
                // A refused workflow wrote nothing: the person can be created later.
                Err(Error::NotFound {
                    record: "contact",
                    key,
                    ..
                }) if person
                    .as_ref()
                    .is_some_and(|p| normalize_code(&p.company_no) == key) =>
                {
                    waiting.extend(person.map(|p| (place, p)));
                }
                Err(e) => return Err(refused_row(place, e)),
            }
        }
        Ok(())
    };
    let mut failure = None;
    each_row(input, name, syntax, &mut |place, cells, columns_changed| {
        if columns_changed {
            let columns = &mut cells.iter().map(|c| c.0);
            check_columns(ImportKind::Contacts, (syntax, place), columns, declared)?;
        }
        match contact_from(place, Contact::default(), cells, declared) {
            Ok(contact) => chunk.push((place, contact)),
            Err(e) => {
                // The rows before it first: their error, if any, comes first.
                failure = Some(e);
                return Ok(false);
            }
        }
        if chunk.len() == IMPORT_CHUNK {
            flush(tx, &mut chunk)?;
        }
        Ok(true)
    })?;
    flush(tx, &mut chunk)?;
    if let Some(e) = failure {
        return Err(e);
    }
    // Every company of the file is there now; a person whose company is still missing is
    // refused, naming its row.
    for (place, person) in waiting {
        tx.contact_create(person)
            .map_err(|e| refused_row(place, e))?;
        counts.created += 1;
        bar.inc(1);
    }
    Ok(counts)
}

/// An engine's refusal of a row, naming the row (and `--update` when the record exists); the
/// storage's own errors (a conflict, which runs the import again) stay as they are.
fn refused_row(place: Place, e: Error) -> Error {
    if matches!(e, Error::Storage(_)) {
        return e;
    }
    let fix = if e.kind() == ErrorKind::AlreadyExists {
        "import with --update to change existing records, or leave the row out; nothing was imported"
    } else {
        "fix that row; nothing was imported"
    };
    Error::invalid(place.to_string(), "row", e.to_string(), fix)
}

/// Creates or (with `--update`) changes the record of each row, one by one.
#[expect(
    clippy::too_many_arguments,
    reason = "one import's settings, passed down once"
)]
fn import_rows(
    tx: &mut Tx<'_>,
    kind: ImportKind,
    input: Input<'_>,
    name: &str,
    syntax: Syntax,
    options: ImportOptions,
    declared: &[FieldDef],
    bar: &ProgressBar,
) -> Result<Counts, Error> {
    let mut counts = Counts::default();
    let mut row = |tx: &mut Tx<'_>, place: Place, cells: &[(&str, &str)]| -> Result<(), Error> {
        let key = cells
            .iter()
            .find(|(c, _)| *c == kind.key_column())
            .map(|(_, v)| *v)
            .unwrap_or_default();
        match import_row(tx, kind, place, key, cells, options.update, declared)? {
            Change::Created => counts.created += 1,
            Change::Updated => counts.updated += 1,
            Change::Unchanged => counts.unchanged += 1,
        }
        bar.inc(1);
        Ok(())
    };
    // A person whose company is not there yet waits for the rows after it (as when created).
    let mut waiting: Vec<(Place, Vec<(String, String)>)> = Vec::new();
    each_row(input, name, syntax, &mut |place, cells, columns_changed| {
        if columns_changed {
            check_columns(
                kind,
                (syntax, place),
                &mut cells.iter().map(|c| c.0),
                declared,
            )?;
        }
        if kind == ImportKind::Contacts && company_missing(tx, cells)? {
            let owned = cells
                .iter()
                .map(|(c, v)| ((*c).to_string(), (*v).to_string()));
            waiting.push((place, owned.collect()));
            return Ok(true);
        }
        row(tx, place, cells)?;
        Ok(true)
    })?;
    for (place, cells) in waiting {
        let cells: Vec<(&str, &str)> = cells
            .iter()
            .map(|(c, v)| (c.as_str(), v.as_str()))
            .collect();
        row(tx, place, &cells)?;
    }
    Ok(counts)
}

/// Logs each row of `input` as a new interaction, through the plugins' hooks (`source`
/// "import"): the spec's checks and defaults, `before_log` on the whole draft, `after_log`.
fn import_entries(
    h: &Hooked<'_>,
    input: Input<'_>,
    name: &str,
    syntax: Syntax,
    declared: &[FieldDef],
    bar: &ProgressBar,
) -> Result<Counts, Error> {
    let mut counts = Counts::default();
    each_row(input, name, syntax, &mut |place, cells, columns_changed| {
        if columns_changed {
            check_columns(
                ImportKind::Entries,
                (syntax, place),
                &mut cells.iter().map(|c| c.0),
                declared,
            )?;
        }
        let (draft, values) = draft_from(place, cells, declared)?;
        h.log_interaction(draft, values, EntrySource::Import)
            .map_err(|e| {
                let by_plugin = matches!(e.kind_word(), "vetoed" | "plugin");
                let fix = match e.kind_word() {
                    _ if by_plugin => "nothing was imported",
                    "storage" | "corrupt" | "read_only" | "database_in_use" | "conflict" => {
                        "nothing was imported; import again once the database can be written"
                    }
                    _ => "fix that row; nothing was imported",
                };
                // What the hooks printed comes before the message, as in a failed script's error.
                let mut message = e.printed.to_vec();
                message.push(e.message);
                let said = message.join("\n");
                let problem = if by_plugin {
                    format!("is refused: {said}")
                } else {
                    said
                };
                Error::invalid(place.to_string(), "row", problem, fix)
            })?;
        counts.created += 1;
        bar.inc(1);
        Ok(true)
    })?;
    Ok(counts)
}

/// Whether a row is of a person whose company (`company_no`) is not in the database.
fn company_missing(tx: &Tx<'_>, cells: &[(&str, &str)]) -> Result<bool, Error> {
    let cell = |name: &str| {
        cells
            .iter()
            .find(|(c, _)| *c == name)
            .map_or("", |(_, v)| *v)
    };
    let company = normalize_code(cell("company_no"));
    if company.is_empty() {
        return Ok(false);
    }
    // A row without a kind keeps the existing contact's.
    let person = match cell("kind") {
        "" => match cell("no") {
            "" => false,
            no => tx.view().contact(no)?.is_some_and(|c| c.is_person()),
        },
        kind => kind.eq_ignore_ascii_case("person"),
    };
    Ok(person && tx.view().contact(&company)?.is_none())
}

/// What a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    /// It named an existing record (`--update`) and said what it has already.
    Unchanged,
}

impl Change {
    fn of(old_and_new_equal: Option<bool>) -> Change {
        match old_and_new_equal {
            None => Change::Created,
            Some(false) => Change::Updated,
            Some(true) => Change::Unchanged,
        }
    }
}

/// Whether the custom `values` a row gives are those the record has.
fn same_values(
    tx: &Tx<'_>,
    record: FieldRecord,
    id: &str,
    values: &BTreeMap<String, FieldValue>,
) -> Result<bool, Error> {
    let have = tx.view().custom_values(record, id)?;
    Ok(values.iter().all(|(k, v)| have.get(k) == Some(v)))
}

/// Writes one row's record (nothing when it is already so).
fn import_row(
    tx: &mut Tx<'_>,
    kind: ImportKind,
    place: Place,
    key: &str,
    cells: &[(&str, &str)],
    update: bool,
    declared: &[FieldDef],
) -> Result<Change, Error> {
    // The engine's refusals name the row; the row's own cells were read with it named.
    let engine = |e: Error| refused_row(place, e);
    let exists = |found: bool, record: &'static str, key: String| {
        if found && !update {
            return Err(engine(Error::AlreadyExists {
                record,
                key,
                field: match record {
                    "contact" => "no",
                    "field" => "name",
                    _ => "code",
                },
            }));
        }
        Ok(found)
    };
    match kind {
        ImportKind::Contacts => {
            let old = match key {
                "" => None,
                no => tx.view().contact(no).map_err(engine)?,
            };
            exists(old.is_some(), "contact", key.to_string())?;
            let c = contact_from(place, old.clone().unwrap_or_default(), cells, declared)?;
            let change = Change::of(old.as_ref().map(|o| *o == c));
            match change {
                Change::Created => tx.contact_create(c).map(|_| ()),
                Change::Updated => tx.contact_update(c),
                Change::Unchanged => Ok(()),
            }
            .map_err(engine)?;
            Ok(change)
        }
        ImportKind::Salespeople => {
            let code = normalize_code(key);
            let old = tx.view().salesperson(&code).map_err(engine)?;
            exists(old.is_some(), "salesperson", code.clone())?;
            let (mut s, values) =
                salesperson_from(place, old.clone().unwrap_or_default(), cells, declared)?;
            s.code = normalize_code(&s.code);
            let label = format!("salesperson {code}");
            let record = FieldRecord::Salesperson;
            tx.view()
                .check_custom_values(record, &label, &values)
                .map_err(engine)?;
            let same = same_values(tx, record, &code, &values).map_err(engine)?;
            let change = Change::of(old.as_ref().map(|o| *o == s && same));
            match change {
                Change::Created => tx.salesperson_create(s),
                Change::Updated => tx.salesperson_update(s),
                Change::Unchanged => return Ok(change),
            }
            .map_err(engine)?;
            tx.custom_values_set(record, &code, &label, &values)
                .map_err(engine)?;
            Ok(change)
        }
        ImportKind::Groups => {
            let code = normalize_code(key);
            let old = tx.view().group(&code).map_err(engine)?;
            exists(old.is_some(), "interaction group", code)?;
            let mut g = group_from(old.clone().unwrap_or_default(), cells);
            g.code = normalize_code(&g.code);
            let change = Change::of(old.as_ref().map(|o| *o == g));
            if change != Change::Unchanged {
                tx.group_define(g).map_err(engine)?;
            }
            Ok(change)
        }
        ImportKind::Templates => {
            let code = normalize_code(key);
            let old = tx.view().template(&code).map_err(engine)?;
            exists(old.is_some(), "template", code.clone())?;
            let base = old.clone().unwrap_or_else(|| {
                // A new template's correspondence defaults to the spec's, unless the row says
                // it has none (an empty cell, as an export writes it).
                let none_given = cells
                    .iter()
                    .any(|(c, v)| *c == "correspondence" && v.is_empty());
                InteractionTemplate {
                    correspondence: if none_given {
                        Correspondence::Blank
                    } else {
                        InteractionTemplate::spec_defaults().correspondence
                    },
                    ..Default::default()
                }
            });
            let (mut t, values) = template_from(place, base, cells, declared)?;
            (t.code, t.group) = (normalize_code(&t.code), normalize_code(&t.group));
            let language = normalize_code(&t.default_language);
            if !language.is_empty() && t.language(&language).is_none() {
                return Err(Error::invalid(
                    place.to_string(),
                    "default_language",
                    format!("is {language}, a language template {code} does not have"),
                    "a template's languages and their attachments come only with `import database` (or template_attach afterwards): empty this cell to import the template without them; nothing was imported",
                ));
            }
            let label = format!("template {code}");
            let record = FieldRecord::Template;
            tx.view()
                .check_custom_values(record, &label, &values)
                .map_err(engine)?;
            let same = same_values(tx, record, &code, &values).map_err(engine)?;
            let change = Change::of(old.as_ref().map(|o| *o == t && same));
            if change != Change::Unchanged {
                tx.template_define(t).map_err(engine)?;
                tx.custom_values_set(record, &code, &label, &values)
                    .map_err(engine)?;
            }
            Ok(change)
        }
        ImportKind::Fields => {
            let mut def = FieldDef::default();
            for &(column, value) in cells.iter().filter(|(_, v)| !v.is_empty()) {
                match column {
                    "record" => def.record = word(place, column, value)?,
                    "name" => def.name = value.to_string(),
                    "type" => def.field_type = word(place, column, value)?,
                    _ => def.description = value.to_string(),
                }
            }
            let old = tx
                .view()
                .declared_field(def.record, &def.name)
                .map_err(engine)?;
            let what = format!("{} of {}", def.name, def.record.word());
            exists(old.is_some(), "field", what)?;
            if let Some(old) = &old {
                // The columns a row leaves empty keep what the field has.
                if !cells.iter().any(|(c, v)| *c == "type" && !v.is_empty()) {
                    def.field_type = old.field_type;
                }
                if !cells
                    .iter()
                    .any(|(c, v)| *c == "description" && !v.is_empty())
                {
                    def.description.clone_from(&old.description);
                }
            }
            let change = Change::of(old.as_ref().map(|o| *o == def));
            if change != Change::Unchanged {
                tx.field_define(&def).map_err(engine)?;
            }
            Ok(change)
        }
        ImportKind::Entries => unreachable!("imported by import_entries"),
        ImportKind::Database => unreachable!("imported by import_database"),
    }
}

/// An interaction to log from a row's non-empty cells, and its custom values.
fn draft_from(
    place: Place,
    cells: &[(&str, &str)],
    declared: &[FieldDef],
) -> Result<(InteractionDraft, BTreeMap<String, FieldValue>), Error> {
    let mut d = InteractionDraft::default();
    let mut values = BTreeMap::new();
    for &(column, value) in cells.iter().filter(|(_, v)| !v.is_empty()) {
        match column {
            "contact_no" => d.contact = value.to_string(),
            "template" => d.template = value.to_string(),
            "date" => {
                d.date = Some(date_text(value).ok_or_else(|| {
                    Error::invalid(
                        place.to_string(),
                        "column",
                        format!("date is \"{value}\", not a date"),
                        "write YYYY-MM-DD",
                    )
                })?);
            }
            "time" => {
                let time = chrono::NaiveTime::parse_from_str(value, "%H:%M:%S")
                    .or_else(|_| chrono::NaiveTime::parse_from_str(value, "%H:%M"));
                d.time = Some(time.map_err(|_| {
                    Error::invalid(
                        place.to_string(),
                        "column",
                        format!("time is \"{value}\", not a time"),
                        "write HH:MM or HH:MM:SS",
                    )
                })?);
            }
            "description" => d.description = value.to_string(),
            "subject" => d.subject = value.to_string(),
            "salesperson" => d.salesperson = value.to_string(),
            "cost" => d.cost = Some(amount(place, column, value)?),
            "duration" => d.duration = Some(amount(place, column, value)?),
            "evaluation" => d.evaluation = Some(word(place, column, value)?),
            "attempt_failed" => d.attempt_failed = flag(place, column, value)?,
            "campaign_no" => d.campaign = value.to_string(),
            "correspondence" => d.correspondence = Some(word(place, column, value)?),
            "language" => d.language = Some(value.to_string()),
            "contact_via" => d.contact_via = value.to_string(),
            other => {
                values.insert(other.to_string(), custom(place, other, value, declared)?);
            }
        }
    }
    Ok((d, values))
}

/// Imports a whole database (`export database`'s JSON lines) into `db`, which must be empty,
/// in one transaction. Returns how many records it wrote.
/// The key of the plugin settings' meta record in an export (its folders are paths).
const PLUGIN_SETTINGS_KEY: &str = "04";

fn import_database(
    db: &Database,
    input: Input<'_>,
    name: &str,
    (lines, on_server): (u64, bool),
) -> Result<u64, CliError> {
    let bar = progress(lines, "importing the database");
    let result = db.write(|tx| {
        bar.set_position(0);
        let mut reader = input.open().map_err(|e| cannot_read(name, &e))?.lines();
        let mut line_no = 0_u64;
        let mut next_line = || -> Result<Option<(u64, String)>, Error> {
            loop {
                line_no += 1;
                match reader.next() {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(cannot_read(name, &e)),
                    Some(Ok(text)) if text.trim().is_empty() => {}
                    Some(Ok(text)) => return Ok(Some((line_no, text))),
                }
            }
        };
        let bad_line = |line: u64, what: &'static str, problem: String| {
            Error::invalid(
                format!("{name} line {line}"),
                what,
                problem,
                "import a file `rapport export database` wrote, whole; nothing was imported",
            )
        };
        let Some((line, text)) = next_line()? else {
            return Err(Error::invalid(
                name,
                "file",
                "is empty",
                "import a file `rapport export database` wrote; nothing was imported",
            ));
        };
        let header = serde_json::from_str::<DumpHeader>(&text)
            .ok()
            .filter(|h| h.format == DUMP_FORMAT)
            .ok_or_else(|| {
                bad_line(
                    line,
                    "first line",
                    format!(
                        "is not that of a database export ({{\"format\":\"{DUMP_FORMAT}\",…}})"
                    ),
                )
            })?;
        if header.version != DUMP_VERSION {
            return Err(bad_line(
                line,
                "version",
                format!(
                    "is {} of the export, and this rapport reads version {DUMP_VERSION}",
                    header.version
                ),
            ));
        }
        let mut read = 0_u64;
        let mut ended = false;
        let n = tx.restore(name, &mut || {
            if ended {
                return Ok(None);
            }
            let Some((line, text)) = next_line()? else {
                return Err(Error::invalid(
                    name,
                    "file",
                    format!(
                        "ends after {read} records, without the export's last line (`{{\"end\": …, \"records\": N}}`): it was cut short"
                    ),
                    "export the database again, and copy the whole file; nothing was imported",
                ));
            };
            bar.inc(1);
            if let Ok(end) =
                serde_json::from_str::<DumpEnd>(&text).map(|e| (e.end == DUMP_FORMAT, e))
                && end.0
            {
                let end = end.1;
                if end.records != read {
                    return Err(bad_line(
                        line,
                        "records",
                        format!("says {}, and the file holds {read}", end.records),
                    ));
                }
                ended = true;
                return Ok(None);
            }
            let record: DumpRecord = serde_json::from_str(&text)
                .map_err(|e| bad_line(line, "record", format!("is not one: {e}")))?;
            // Plugin folders name places on a machine: not set from afar.
            if on_server
                && record.table == "meta"
                && record.key == PLUGIN_SETTINGS_KEY
                && record.value["folders"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty())
            {
                return Err(Error::invalid(
                    format!("{name} line {line}"),
                    "plugin folders",
                    "name folders on the server's machine, which a client does not set",
                    "import the database on that machine (rapport --db … import database FILE), or empty the folders in the line",
                ));
            }
            read += 1;
            Ok(Some((line, record)))
        })?;
        if let Some((line, _)) = next_line()? {
            return Err(bad_line(
                line,
                "line",
                "comes after the export's last line".into(),
            ));
        }
        Ok(n)
    });
    bar.finish_and_clear();
    Ok(result?)
}
