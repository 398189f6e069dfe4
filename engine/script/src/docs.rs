//! The reference of the language: every function with its signature and one line of
//! description. The REPL's `:help` and the README's language reference come from here, and a test
//! keeps it equal to what the engine registers.

/// One function (or method) of the language.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDoc {
    /// The name.
    pub name: &'static str,
    /// How it is called.
    pub signature: &'static str,
    /// What it does.
    pub summary: &'static str,
}

macro_rules! docs {
    ($($name:literal, $sig:literal, $summary:literal;)+) => {
        /// Every function of the language, by area.
        pub const FUNCTIONS: &[FunctionDoc] = &[$(FunctionDoc { name: $name, signature: $sig, summary: $summary }),+];
    };
}

docs! {
    "field_define", "field_define(#{record, name, type, description}) -> name", "Declares a custom field of contacts, salespeople, templates, campaigns or entries (type text, number, flag or date); only declared fields hold values.";
    "field_remove", "field_remove(record, name)", "Removes a declared field that no record has a value of.";
    "fields", "fields([record]) -> array", "The declared custom fields (#{record, name, type, description}), of every record or one.";
    "contact_create", "contact_create(#{no, name, kind, company_no, salesperson, …declared fields}) -> no", "Creates a contact (number from the series unless given); a field that is neither built-in nor declared is an error.";
    "contact", "contact(no) -> map | ()", "A contact as a map, or () if there is none.";
    "contact_update", "contact_update(no, #{field: value, …})", "Changes the given fields of a contact (a custom field set to () is cleared).";
    "contact_delete", "contact_delete(no [, #{with_persons, dry_run}]) -> () | #{dry_run, contacts, entries, relations}", "Deletes a contact (a person's entries move to its company; a company's keep their data); with_persons deletes a company's persons too; dry_run reports and keeps nothing.";
    "contact_summary", "contact_summary(no) -> #{count, cost, duration, avg_cost, avg_duration, last_interaction, last_attempted}", "A contact's derived figures (a company covers all its persons).";
    "contacts", "contacts() -> query", "All contacts, as a lazy query.";
    "salesperson_create", "salesperson_create(#{code, name, email, phone, blocked, …declared fields}) -> code", "Creates a salesperson.";
    "salesperson", "salesperson(code) -> map | ()", "A salesperson as a map.";
    "salespeople", "salespeople() -> query", "All salespeople, as a lazy query.";
    "group_define", "group_define(#{code, description}) -> code", "Creates an interaction group or changes its description.";
    "group", "group(code) -> map | ()", "An interaction group as a map.";
    "groups", "groups() -> query", "All interaction groups, as a lazy query.";
    "template_define", "template_define(#{code, group, description, unit_cost, unit_duration, flow, initiated_by, correspondence, ignore_contact_correspondence, wizard_action, …declared fields}) -> code", "Creates or redefines an interaction template (its languages are kept).";
    "template", "template(code) -> map | ()", "An interaction template as a map, with its languages.";
    "templates", "templates() -> query", "All interaction templates, as a lazy query.";
    "template_delete", "template_delete(code)", "Deletes a template with its languages and their attachments; entries keep the code.";
    "template_attach", "template_attach(code, language, file_path | blob [, file_name]) -> attachment no", "Sets a template language's attachment; reads the file the user names (the only file access scripts have).";
    "template_setup", "template_setup() -> map  /  template_setup(#{sales_invoice: \"S_INVOICE\", …})", "Reads, or sets, which template records each document type (blank: do not record).";
    "relation_link", "relation_link(contact_no, \"customer\" | \"vendor\", account_no)", "Links an outside account to a contact (documents find their contact this way).";
    "relation_contact", "relation_contact(\"customer\" | \"vendor\", account_no) -> contact no | ()", "The contact an outside account is linked to.";
    "record_document", "record_document(#{type, no, customer | vendor | contact, action, salesperson, campaign, description, version_no, amount, person}) -> #{recorded, entry_no, reason}", "Records a printed, e-mailed or posted document (amount and person are for plugin rules); says exactly why when it does not.";
    "campaign_create", "campaign_create(#{no, description, starting_date, ending_date, salesperson, active}) -> no", "Creates a campaign.";
    "campaign", "campaign(no) -> map | ()", "A campaign as a map.";
    "campaigns", "campaigns() -> query", "All campaigns, as a lazy query.";
    "campaign_entries", "campaign_entries() -> query", "All campaign entries, as a lazy query.";
    "cancel_campaign_entry", "cancel_campaign_entry(entry_no)", "Cancels a campaign entry and all its entries.";
    "uncancel_campaign_entry", "uncancel_campaign_entry(entry_no)", "Un-cancels a campaign entry and all its entries.";
    "delete_canceled_campaign_entries", "delete_canceled_campaign_entries(#{campaign, dry_run}) -> count | #{dry_run, count}", "Deletes canceled campaign entries and their entries.";
    "log_interaction", "log_interaction(#{contact, template, salesperson, description, date, time, cost, duration, evaluation, attempt_failed, campaign, comments, attachment, postponed, deliver, correspondence}) -> entry no", "Logs one interaction by hand (the spec's checks, in order).";
    "resume_interaction", "resume_interaction(entry_no, #{description, cost, duration, evaluation, attempt_failed, comments, correspondence, deliver})", "Finishes a postponed interaction in the same entry.";
    "entry", "entry(no) -> map | ()", "An interaction log entry as a map.";
    "entries", "entries() -> query  /  logged_segment.entries() -> query", "Interaction log entries (postponed ones only when a filter names postponed), as a lazy query.";
    "timeline", "timeline(contact_no) -> array", "A contact's entries, newest first, each with its title.";
    "cancel", "cancel(selection [, #{dry_run, remove_attachments}]) -> changed | #{dry_run, count, entry_nos, more, canceled, selected}  /  logged_segment.cancel()", "Cancels entries (a number, an array, or a query) and returns how many changed (entries canceled already do not count; a dry run's `count` is the same and `entry_nos` lists them); a logged segment cancels with its entries and campaign entries. A dry run is the real run, hooks included, put back.";
    "uncancel", "uncancel(selection [, #{dry_run}]) -> changed | #{dry_run, count, entry_nos, more, canceled, selected}  /  logged_segment.uncancel()", "Un-cancels entries (refused while their logged segment or campaign entry is canceled).";
    "toggle_canceled", "toggle_canceled(selection [, #{dry_run}]) -> changed | #{dry_run, count, entry_nos, more, canceled, selected}", "Sets every selected entry to the opposite of the first one's canceled flag.";
    "evaluate", "evaluate(selection, \"positive\" | … [, #{dry_run}]) -> count | #{dry_run, count, entry_nos, more}", "Sets the evaluation of the selected entries.";
    "purge_canceled", "purge_canceled([#{entry_from, entry_to, contact, date_from, date_to, campaign, group, template, salesperson, dry_run}]) -> count | #{dry_run, count, entry_nos, more}", "Deletes canceled entries that match; with dry_run, runs the same purge (before_purge hooks included), puts it back and lists what went.";
    "delete_postponed", "delete_postponed(selection) -> count", "Deletes postponed entries.";
    "segment_create", "segment_create(#{no, description, template, salesperson, campaign, date, correspondence, …}) -> segment", "Creates a segment (number from the series unless given).";
    "segment", "segment(no) -> segment | ()", "A segment: its fields read like a map's, and it has the segment methods.";
    "segments", "segments() -> query", "All segments, as a lazy query.";
    "add", "segment.add(selection [, #{ignore_exclusion, allow_existing, expand_companies}]) -> lines added", "Adds the contacts selected (a filter map or filter query is saved as replayable criteria).";
    "reduce", "segment.reduce(selection) -> lines removed", "Removes the lines whose contact is selected.";
    "refine", "segment.refine(selection) -> lines removed", "Keeps only the lines whose contact is selected.";
    "go_back", "segment.go_back() -> lines changed", "Undoes the last criteria step exactly.";
    "lines", "segment.lines() -> array", "The segment's lines as maps.";
    "set_template", "segment.set_template(code [, to_lines])", "Sets the template; with to_lines, its defaults go to every line too.";
    "update", "segment.update(#{description, salesperson, campaign, correspondence, …})", "Changes header fields; lines sharing the header's template follow.";
    "log", "segment.log([#{deliver, follow_up, dry_run}]) -> logged segment no | #{dry_run, logged_segment, count, entry_nos, more}", "Logs the segment: one entry per line, all or nothing; the segment goes.";
    "save_criteria", "segment.save_criteria(name)", "Saves the segment's criteria steps under a name.";
    "reuse_criteria", "reuse_criteria(segment_no, name) -> lines changed", "Replays saved criteria on a segment.";
    "delete", "segment.delete()", "Deletes a segment that was not logged.";
    "logged_segment", "logged_segment(no) -> logged_segment | ()", "A logged segment, with .cancel(), .uncancel() and .entries().";
    "logged_segments", "logged_segments() -> query", "All logged segments, as a lazy query.";
    "delete_canceled_logged_segments", "delete_canceled_logged_segments(#{from, to, dry_run}) -> count | #{dry_run, count}", "Deletes canceled logged segments; their entries stay, unlinked.";
    "history", "history() -> query", "The operations of the history (#{no, date, time, user, kind, changes, what, undoes, undone_by, plugins, script, script_sha256, counts, entry_nos, expired, erased}), oldest first, as a lazy query: every committed change, with who ran what.";
    "history_of", "history_of(record) -> array", "Every change of the history about a record — a contact no (its entries, segment lines and relations too), an entry no, or a label (\"template CALL\") — newest first: #{no, date, time, user, kind, record, change, fields, what, undone_by, before, after}.";
    "operation", "operation(no) -> map", "One operation of the history with `records`: every record it changed (#{record, change, fields, before, after}).";
    "undo", "undo(no [, #{dry_run}]) -> #{dry_run, operation, count, counts, records}", "Undoes one operation as a new operation: every record it changed gets its value before back; refused (kind changed_since, nothing changed) when a later operation changed one of them. A dry run shows what it would change.";
    "history_keep", "history_keep(days | ())", "How many days an operation's changes stay undoable (() : always, the default); older operations keep only their receipt.";
    "erase_contact", "erase_contact(no) -> #{contact, entries, segment_lines, operations, changes}", "Erases a person's data for good — the contact, its entries, segment lines and relations, and every trace in the history — leaving a receipt that names no personal data. Runs alone in its run; cannot be undone.";
    "stats", "stats(kind, code [, from, to]) -> #{count, cost, duration, avg_cost, avg_duration}", "Statistics of a template, group, contact, salesperson, campaign_entry or logged_segment.";
    "today", "today() -> date", "Today (documents and logged segments are dated with it).";
    "work_date", "work_date() -> date", "The work date (manual interactions are dated with it).";
    "set_work_date", "set_work_date(date)", "Sets the work date for this session.";
    "date", "date(\"YYYY-MM-DD\") -> date", "A date; dates compare with < == > and take day arithmetic (d + 7, d - days(30), d1 - d2).";
    "days", "days(n) -> n", "A number of days, for readable date arithmetic: today() - days(30).";
    "where", "query.where(|record| condition) -> query", "Keeps the records for which the closure returns true.";
    "filter", "query.filter(#{field: value, other: #{from, to} | #{gt, ge, lt, le} | #{ne} | #{one_of: [..]}}) -> query", "Keeps the records whose fields match (text compares without regard to case: \"oslo\" finds Oslo); an indexed field is read from its index.";
    "order_by", "query.order_by(field [, \"desc\"]) -> query", "Sorts by a field (the matching records are held in memory to sort).";
    "limit", "query.limit(n) -> query", "At most n records; reading stops there.";
    "skip", "query.skip(n) -> query", "Leaves out the first n records.";
    "count", "query.count() -> int", "How many records match (streams; nothing is held).";
    "first", "query.first() -> record | ()", "The first matching record.";
    "list", "query.list() -> array", "Every matching record.";
    "each", "query.each(|record| …) -> count", "Calls the closure for each record (streams; the closure may change data).";
    "sum", "query.sum(field) -> number", "The sum of a numeric field.";
    "group_count", "query.group_count(field) -> map", "How many records per value of a field.";
    "uses_index", "query.uses_index() -> bool", "Whether the query reads an index rather than every record.";
    "to_json", "to_json(value) -> string", "Records, maps, arrays and dates as JSON.";
    "assert", "assert(condition [, message])", "Fails the run at this line unless the condition holds (for a plugin's tests: rapport plugins test NAME).";
    "assert_eq", "assert_eq(actual, expected)", "Fails the run at this line unless both are equal as JSON (8 and 8.0 are equal), saying both.";
}

/// The documentation of a function, by name.
pub fn lookup(name: &str) -> Option<&'static FunctionDoc> {
    FUNCTIONS.iter().find(|f| f.name == name)
}
