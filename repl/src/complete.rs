//! What Tab offers in the REPL, by where the cursor is: a command after `:`, a file after
//! `:load`/`:output`, a method after `).`, a field or method after `name.`, a field name as a
//! key of `#{`, a code of the right kind inside a function's quotes (`template("` offers
//! templates, `salesperson("` salespeople, `#{contact: "` contact numbers), and otherwise the
//! functions, the session's variables and the keywords. A pure function of the line, so it is
//! tested without a terminal.

use std::collections::BTreeMap;

/// What completion knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Completion {
    /// The language's functions.
    pub functions: Vec<String>,
    /// The methods of queries, segments and logged segments.
    pub methods: Vec<String>,
    /// Every built-in and declared field name.
    pub fields: Vec<String>,
    /// The session's variables.
    pub variables: Vec<String>,
    /// The REPL's commands (`:help`, …).
    pub commands: Vec<String>,
    /// Codes by kind: `template`, `group`, `salesperson`, `segment`, `contact`.
    pub codes: BTreeMap<String, Vec<String>>,
}

/// Rhai's keywords (offered by completion, coloured by highlighting).
pub(crate) const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "return", "throw", "try",
    "catch", "break", "continue", "true", "false",
];

/// The kind of code the first string argument of a function is.
fn code_kind_of_function(name: &str) -> Option<&'static str> {
    Some(match name {
        "template" | "template_attach" | "template_delete" | "template_setup" | "set_template" => {
            "template"
        }
        "group" => "group",
        "salesperson" => "salesperson",
        "segment" | "reuse_criteria" => "segment",
        "contact" | "contact_update" | "contact_delete" | "contact_summary" | "timeline"
        | "relation_link" => "contact",
        _ => return None,
    })
}

/// The kind of code a map key's string value is (`#{template: "`).
fn code_kind_of_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "template" => "template",
        "group" => "group",
        "salesperson" => "salesperson",
        "segment" | "segment_no" => "segment",
        "contact" | "contact_no" | "company_no" | "person" => "contact",
        _ => return None,
    })
}

impl Completion {
    /// Where the word under the cursor starts, and what may complete it (sorted, no repeats).
    /// File names (after `:load` and `:output`) are the caller's: `None`.
    pub(crate) fn candidates(&self, line: &str, pos: usize) -> Option<(usize, Vec<String>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let trimmed = before.trim_start();
        if let Some(rest) = trimmed.strip_prefix(':') {
            return self.command(rest, start, word);
        }
        if let Some(open) = open_string(before) {
            let kind = string_context(&before[..open]);
            let pool: Vec<&String> = match kind {
                Some(kind) => self.codes.get(kind).into_iter().flatten().collect(),
                None => self.codes.values().flatten().collect(),
            };
            let upper = word.to_uppercase();
            return Some((start, pick(pool, |c| c.to_uppercase().starts_with(&upper))));
        }
        let prefix = before[..start].trim_end();
        let pool: Vec<&String> = if prefix.ends_with(").") {
            self.methods.iter().collect()
        } else if prefix.ends_with('.') {
            self.fields.iter().chain(&self.methods).collect()
        } else if map_key_position(prefix) {
            self.fields.iter().collect()
        } else {
            self.functions.iter().chain(&self.variables).collect()
        };
        let mut out = pick(pool, |c| c.starts_with(word));
        if !prefix.ends_with('.') && !map_key_position(prefix) {
            out.extend(
                KEYWORDS
                    .iter()
                    .filter(|k| k.starts_with(word) && !word.is_empty())
                    .map(ToString::to_string),
            );
            out.sort();
            out.dedup();
        }
        Some((start, out))
    }

    /// After `:`: the command, or its argument.
    fn command(&self, rest: &str, start: usize, word: &str) -> Option<(usize, Vec<String>)> {
        let mut parts = rest.splitn(2, ' ');
        let command = parts.next().unwrap_or_default();
        if parts.next().is_none() {
            // The command itself (the word includes its colon).
            return Some((
                start,
                pick(self.commands.iter().collect(), |c| c.starts_with(word)),
            ));
        }
        let choices: &[&str] = match command {
            "load" | "output" => return None,
            "format" => &["table", "vertical", "json", "csv"],
            "time" => &["on", "off"],
            "fields" => &[
                "contacts",
                "entries",
                "templates",
                "groups",
                "salespeople",
                "campaigns",
                "campaign_entries",
                "segments",
                "logged_segments",
            ],
            "help" => {
                return Some((
                    start,
                    pick(self.functions.iter().chain(&self.methods).collect(), |c| {
                        c.starts_with(word)
                    }),
                ));
            }
            _ => &[],
        };
        Some((
            start,
            choices
                .iter()
                .filter(|c| c.starts_with(word))
                .map(ToString::to_string)
                .collect(),
        ))
    }
}

/// The candidates of `pool` that `keep` keeps, sorted, without repeats.
fn pick(pool: Vec<&String>, keep: impl Fn(&String) -> bool) -> Vec<String> {
    let mut out: Vec<String> = pool.into_iter().filter(|c| keep(c)).cloned().collect();
    out.sort();
    out.dedup();
    out
}

/// Where the string the cursor is in opens (the byte after its quote), if it is in one.
fn open_string(before: &str) -> Option<usize> {
    let mut open = None;
    let mut chars = before.char_indices();
    while let Some((i, c)) = chars.next() {
        match (open, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some((_, q)), c) if c == q => open = None,
            (None, '"' | '`') => open = Some((i + 1, c)),
            _ => {}
        }
    }
    open.map(|(at, _)| at)
}

/// What kind of code a string opening at the end of `head` holds: the first argument of a
/// function that takes one, or the value of a map key that names one.
fn string_context(head: &str) -> Option<&'static str> {
    // Drop the quote itself.
    let head = head.strip_suffix(['"', '`']).unwrap_or(head).trim_end();
    if let Some(call) = head.strip_suffix('(') {
        let name = identifier_at_end(call);
        return code_kind_of_function(name);
    }
    if let Some(key) = head.strip_suffix(':') {
        return code_kind_of_key(identifier_at_end(key.trim_end()));
    }
    None
}

/// The identifier `text` ends with.
fn identifier_at_end(text: &str) -> &str {
    let start = text
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    &text[start..]
}

/// Whether a word after `prefix` is a key of a map being written (`#{` or `, ` inside one).
fn map_key_position(prefix: &str) -> bool {
    if prefix.ends_with("#{") {
        return true;
    }
    if !prefix.ends_with(',') {
        return false;
    }
    // Inside an open `#{`: the nearest unclosed bracket is a map's.
    let mut depth: Vec<char> = Vec::new();
    let mut in_string = None;
    let mut previous = ' ';
    let mut escaped = false;
    for c in prefix.chars() {
        match in_string {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => in_string = None,
            Some(_) => {}
            None => match c {
                '"' | '`' => in_string = Some(c),
                '{' if previous == '#' => depth.push('m'),
                '{' | '(' | '[' => depth.push(c),
                '}' | ')' | ']' => {
                    depth.pop();
                }
                _ => {}
            },
        }
        previous = c;
    }
    depth.last() == Some(&'m')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion() -> Completion {
        let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        let mut codes = BTreeMap::new();
        codes.insert("template".to_string(), s(&["BUS", "BUS_X", "CALL"]));
        codes.insert("salesperson".to_string(), s(&["BU", "JO"]));
        codes.insert("contact".to_string(), s(&["CT000001", "CT000002"]));
        Completion {
            functions: s(&[
                "contacts",
                "contact",
                "contact_create",
                "template",
                "salesperson",
            ]),
            methods: s(&["count", "list", "where", "log"]),
            fields: s(&["city", "country", "name", "no"]),
            variables: s(&["customers", "s"]),
            commands: s(&[
                ":help", ":load", ":output", ":format", ":fields", ":tables", ":reload",
            ]),
            codes,
        }
    }

    fn offered(line: &str) -> Vec<String> {
        completion()
            .candidates(line, line.len())
            .map(|(_, c)| c)
            .unwrap_or_default()
    }

    #[test]
    fn after_a_query_only_its_methods_are_offered() {
        assert_eq!(offered("contacts()."), ["count", "list", "log", "where"]);
        assert_eq!(offered("contacts().c"), ["count"]);
    }

    #[test]
    fn inside_a_functions_quotes_only_codes_of_its_kind_are_offered() {
        assert_eq!(offered("salesperson(\""), ["BU", "JO"]);
        assert_eq!(offered("template(\"bu"), ["BUS", "BUS_X"]);
        assert_eq!(offered("contact(\"CT"), ["CT000001", "CT000002"]);
        assert_eq!(
            offered("log_interaction(#{contact: \"CT000001\", template: \"C"),
            ["CALL"]
        );
    }

    #[test]
    fn field_names_are_offered_as_keys_of_a_map_and_after_a_records_dot() {
        assert_eq!(offered("contacts().filter(#{ci"), ["city"]);
        assert_eq!(
            offered("contacts().filter(#{city: \"Oslo\", c"),
            ["city", "country"]
        );
        assert_eq!(
            offered("contacts().where(|c| c.c"),
            ["city", "count", "country"]
        );
    }

    #[test]
    fn variables_and_keywords_are_offered_with_the_functions() {
        assert_eq!(offered("cust"), ["customers"]);
        assert_eq!(offered("le"), ["let"]);
        assert!(offered("co").contains(&"contacts".to_string()));
    }

    #[test]
    fn an_escaped_quote_does_not_end_a_string_and_unknown_functions_get_every_code() {
        assert_eq!(offered(r#"f(#{a: "\")", c"#), ["city", "country"]);
        assert_eq!(
            offered(r#"relation_contact(""#).len(),
            7,
            "not a code of one kind"
        );
    }

    #[test]
    fn commands_and_their_arguments_are_offered_after_a_colon() {
        assert_eq!(offered(":f"), [":fields", ":format"]);
        assert_eq!(offered(":format j"), ["json"]);
        assert_eq!(offered(":fields con"), ["contacts"]);
        assert!(
            completion().candidates(":load scr", 9).is_none(),
            "file names are the file completer's"
        );
    }
}
