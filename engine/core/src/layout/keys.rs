//! Every key shape of the layout, one function each: the keys of records, of the indexes, of
//! the lookups, the statistics and the meta records, and the prefixes their scans read. A
//! workflow never builds a key by hand; a change to a shape is a change here (and a new golden
//! test below, since files written with the old shape must still be read).
//!
//! Tags (the first byte) tell the shapes of one table apart; strings are escaped and
//! terminated, integers big-endian ([`Key`]), so the byte order of two keys is the order of
//! their parts.

use chrono::{Datelike, NaiveDate};

use crate::model::{AccountKind, DocumentType, FieldRecord};
use crate::store::key::Key;

fn day(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
}

// ---- meta ------------------------------------------------------------------------------

/// `meta`: the counter of a number series (`entry`, `contact`, …).
pub fn counter(series: &str) -> Key {
    Key::new().tag(1).str(series)
}

/// `meta`: the template setup.
pub fn template_setup() -> Key {
    Key::new().tag(2)
}

/// `meta`: set once the demo company is loaded.
pub fn demo_loaded() -> Key {
    Key::new().tag(3)
}

/// `meta`: the plugin settings.
pub fn plugin_settings() -> Key {
    Key::new().tag(4)
}

/// `meta`: the shape of the derived data (see `ops::upgrade`).
pub fn derived_layout() -> Key {
    Key::new().tag(5)
}

/// `meta`: the history's settings (how long removed contents are kept).
pub fn history_settings() -> Key {
    Key::new().tag(6)
}

/// `meta`: the last operation whose changes the retention setting dropped.
pub fn history_expired_through() -> Key {
    Key::new().tag(7)
}

// ---- history ---------------------------------------------------------------------------

/// `journal`: an operation's header; `journal_changes`: the prefix of its chunks.
pub fn operation(no: u64) -> Key {
    Key::new().u64(no)
}

/// `journal_changes`: one chunk of an operation's changes.
pub fn operation_chunk(no: u64, chunk: u32) -> Key {
    Key::new().u64(no).u64(u64::from(chunk))
}

// ---- records ---------------------------------------------------------------------------

/// A record keyed by its code or no (contacts, salespeople, groups, templates, campaigns,
/// segments, saved criteria).
pub fn code(code: &str) -> Key {
    Key::new().str(code)
}

/// A record keyed by an entry number (entries, attachments, campaign entries, logged segments).
pub fn no(no: u64) -> Key {
    Key::new().u64(no)
}

/// `blobs`: an attachment content by its hash.
pub fn blob(content_hash: &str) -> Key {
    Key::new().str(content_hash)
}

/// `relations`: a business relation by (kind, account no).
pub fn relation(kind: AccountKind, account_no: &str) -> Key {
    Key::new().str(kind.as_str()).str(account_no)
}

/// `segment_lines`: a line of a segment.
pub fn segment_line(segment_no: &str, line_no: u32) -> Key {
    lines_of_segment(segment_no).u64(u64::from(line_no))
}

/// `segment_lines`: every line of a segment.
pub fn lines_of_segment(segment_no: &str) -> Key {
    Key::new().str(segment_no)
}

/// `segment_steps`: a criteria step of a segment.
pub fn segment_step(segment_no: &str, step_no: u32) -> Key {
    steps_of_segment(segment_no).u64(u64::from(step_no))
}

/// `segment_steps`: every criteria step of a segment.
pub fn steps_of_segment(segment_no: &str) -> Key {
    Key::new().str(segment_no)
}

// ---- contact_index -----------------------------------------------------------------------

const CONTACT_NAME: u8 = 1;
const CONTACT_COMPANY: u8 = 2;
const CONTACT_RELATION: u8 = 3;
const CONTACT_SEGMENT_LINE: u8 = 4;
const CONTACT_FIELD: u8 = 5;
const CONTACT_FIELD_COUNT: u8 = 6;

/// A contact by its name (upper-case): (name, contact no).
pub fn contact_by_name(name: &str, contact_no: &str) -> Key {
    contacts_named(name).str(contact_no)
}

/// The contacts named `name` (without regard to case; a long name cut and hashed:
/// [`Key::text`]).
pub fn contacts_named(name: &str) -> Key {
    Key::new().tag(CONTACT_NAME).text(&name.to_uppercase())
}

/// Every key of the name index.
pub fn contact_name_index() -> Key {
    Key::new().tag(CONTACT_NAME)
}

/// A contact by its company: (company no, contact no); a company is under itself.
pub fn contact_by_company(company_no: &str, contact_no: &str) -> Key {
    contacts_of_company(company_no).str(contact_no)
}

/// The contacts of a company (itself included).
pub fn contacts_of_company(company_no: &str) -> Key {
    Key::new().tag(CONTACT_COMPANY).str(company_no)
}

/// A business relation of a contact: (contact no, kind, account no).
pub fn contact_relation(contact_no: &str, kind: AccountKind, account_no: &str) -> Key {
    relations_of_contact(contact_no)
        .str(kind.as_str())
        .str(account_no)
}

/// The business relations of a contact.
pub fn relations_of_contact(contact_no: &str) -> Key {
    Key::new().tag(CONTACT_RELATION).str(contact_no)
}

/// A segment line naming a contact: (contact no, segment no, line no).
pub fn contact_segment_line(contact_no: &str, segment_no: &str, line_no: u32) -> Key {
    segment_lines_of_contact(contact_no)
        .str(segment_no)
        .u64(u64::from(line_no))
}

/// The segment lines naming a contact.
pub fn segment_lines_of_contact(contact_no: &str) -> Key {
    Key::new().tag(CONTACT_SEGMENT_LINE).str(contact_no)
}

/// An indexed contact field: (field, lower-case value, contact no).
pub fn contact_field(field: &str, value: &str, contact_no: &str) -> Key {
    contacts_with_field(field, value).str(contact_no)
}

/// The contacts whose indexed `field` is `value` (lower-case; a long value cut and hashed:
/// [`Key::text`]).
pub fn contacts_with_field(field: &str, value: &str) -> Key {
    Key::new().tag(CONTACT_FIELD).str(field).text(value)
}

/// Every key of the contact field index.
pub fn contact_field_index() -> Key {
    Key::new().tag(CONTACT_FIELD)
}

/// How many contacts have `value` (lower-case) in the indexed `field`.
pub fn contact_field_count(field: &str, value: &str) -> Key {
    Key::new().tag(CONTACT_FIELD_COUNT).str(field).text(value)
}

/// Every count of the contact field index.
pub fn contact_field_counts() -> Key {
    Key::new().tag(CONTACT_FIELD_COUNT)
}

// ---- entry_index -----------------------------------------------------------------------
// Every key ends with the entry no.

const ENTRY_CONTACT: u8 = 1;
const ENTRY_COMPANY: u8 = 2;
const ENTRY_TEMPLATE: u8 = 3;
const ENTRY_GROUP: u8 = 4;
const ENTRY_SALESPERSON: u8 = 5;
const ENTRY_LOGGED_SEGMENT: u8 = 6;
const ENTRY_CAMPAIGN_ENTRY: u8 = 7;
const ENTRY_DOCUMENT: u8 = 8;
const ENTRY_CANCELED: u8 = 9;
const ENTRY_POSTPONED: u8 = 10;

/// A contact's timeline: (contact no, date, entry no).
pub fn entry_by_contact(contact_no: &str, date: NaiveDate, entry_no: u64) -> Key {
    entries_of_contact(contact_no).i32(day(date)).u64(entry_no)
}

/// A contact's entries, by date.
pub fn entries_of_contact(contact_no: &str) -> Key {
    Key::new().tag(ENTRY_CONTACT).str(contact_no)
}

/// A contact's entries from the day `date` on (a bound of a date range).
pub fn entries_of_contact_on(contact_no: &str, date: NaiveDate) -> Key {
    entries_of_contact(contact_no).i32(day(date))
}

/// A company's timeline (itself and its persons): (company no, date, entry no).
pub fn entry_by_company(company_no: &str, date: NaiveDate, entry_no: u64) -> Key {
    entries_of_company(company_no).i32(day(date)).u64(entry_no)
}

/// A company's entries (itself and its persons), by date.
pub fn entries_of_company(company_no: &str) -> Key {
    Key::new().tag(ENTRY_COMPANY).str(company_no)
}

/// A company's entries from the day `date` on (a bound of a date range).
pub fn entries_of_company_on(company_no: &str, date: NaiveDate) -> Key {
    entries_of_company(company_no).i32(day(date))
}

/// (template, entry no).
pub fn entry_by_template(template: &str, entry_no: u64) -> Key {
    entries_of_template(template).u64(entry_no)
}

/// A template's entries.
pub fn entries_of_template(template: &str) -> Key {
    Key::new().tag(ENTRY_TEMPLATE).str(template)
}

/// (group, entry no).
pub fn entry_by_group(group: &str, entry_no: u64) -> Key {
    entries_of_group(group).u64(entry_no)
}

/// A group's entries.
pub fn entries_of_group(group: &str) -> Key {
    Key::new().tag(ENTRY_GROUP).str(group)
}

/// (salesperson, entry no).
pub fn entry_by_salesperson(salesperson: &str, entry_no: u64) -> Key {
    entries_of_salesperson(salesperson).u64(entry_no)
}

/// A salesperson's entries.
pub fn entries_of_salesperson(salesperson: &str) -> Key {
    Key::new().tag(ENTRY_SALESPERSON).str(salesperson)
}

/// (logged segment no, entry no).
pub fn entry_by_logged_segment(logged_segment_no: u64, entry_no: u64) -> Key {
    entries_of_logged_segment(logged_segment_no).u64(entry_no)
}

/// A logged segment's entries.
pub fn entries_of_logged_segment(logged_segment_no: u64) -> Key {
    Key::new().tag(ENTRY_LOGGED_SEGMENT).u64(logged_segment_no)
}

/// (campaign entry no, entry no).
pub fn entry_by_campaign_entry(campaign_entry_no: u64, entry_no: u64) -> Key {
    entries_of_campaign_entry(campaign_entry_no).u64(entry_no)
}

/// A campaign entry's entries.
pub fn entries_of_campaign_entry(campaign_entry_no: u64) -> Key {
    Key::new().tag(ENTRY_CAMPAIGN_ENTRY).u64(campaign_entry_no)
}

/// (document type, document no, entry no).
pub fn entry_by_document(document_type: DocumentType, document_no: &str, entry_no: u64) -> Key {
    entries_of_document(document_type, document_no).u64(entry_no)
}

/// The entries that recorded one document.
pub fn entries_of_document(document_type: DocumentType, document_no: &str) -> Key {
    entries_of_document_type(document_type).str(document_no)
}

/// The entries that recorded a document of one type.
pub fn entries_of_document_type(document_type: DocumentType) -> Key {
    Key::new().tag(ENTRY_DOCUMENT).str(document_type.as_str())
}

/// (entry no) of a canceled entry.
pub fn canceled_entry(entry_no: u64) -> Key {
    canceled_entries().u64(entry_no)
}

/// The canceled entries.
pub fn canceled_entries() -> Key {
    Key::new().tag(ENTRY_CANCELED)
}

/// (entry no) of a postponed entry.
pub fn postponed_entry(entry_no: u64) -> Key {
    postponed_entries().u64(entry_no)
}

/// The postponed entries.
pub fn postponed_entries() -> Key {
    Key::new().tag(ENTRY_POSTPONED)
}

// ---- lookup ----------------------------------------------------------------------------

/// → the campaign entry of (campaign no, segment no, document type).
pub fn campaign_entry_lookup(
    campaign_no: &str,
    segment_no: &str,
    document_type: Option<DocumentType>,
) -> Key {
    Key::new()
        .tag(1)
        .str(campaign_no)
        .str(segment_no)
        .str(document_type.map_or("", DocumentType::as_str))
}

/// → the logged segment a segment no became (kept after the segment is gone).
pub fn logged_segment_lookup(segment_no: &str) -> Key {
    Key::new().tag(2).str(segment_no)
}

/// A campaign entry created when a logged segment was logged: (logged segment, campaign entry).
pub fn logged_segment_campaign_entry(logged_segment_no: u64, campaign_entry_no: u64) -> Key {
    campaign_entries_of_logged_segment(logged_segment_no).u64(campaign_entry_no)
}

/// The campaign entries created when a logged segment was logged.
pub fn campaign_entries_of_logged_segment(logged_segment_no: u64) -> Key {
    Key::new().tag(3).u64(logged_segment_no)
}

// ---- stats, stats_daily ----------------------------------------------------------------

/// `stats`: the all-time counters of (statistic kind, code, bucket).
pub fn stat_total(kind: u8, code: &str, bucket: u8) -> Key {
    Key::new().tag(kind).str(code).tag(bucket)
}

/// `stats_daily`: the counters of (statistic kind, code, bucket) on one day.
pub fn stat_day(kind: u8, code: &str, bucket: u8, date: NaiveDate) -> Key {
    stat_days(kind, code, bucket).i32(day(date))
}

/// `stats_daily`: every day of (statistic kind, code, bucket).
pub fn stat_days(kind: u8, code: &str, bucket: u8) -> Key {
    stat_total(kind, code, bucket)
}

/// `stats_daily`: every daily counter of one statistic kind.
pub fn stat_days_of_kind(kind: u8) -> Key {
    Key::new().tag(kind)
}

// ---- fields, custom_values --------------------------------------------------------------

/// `fields`: the declaration of a custom field of one kind of record (its [`FieldRecord`] tag).
pub fn field_def(record: FieldRecord, name: &str) -> Key {
    fields_of(record).str(name)
}

/// `fields`: every declared field of one kind of record.
pub fn fields_of(record: FieldRecord) -> Key {
    Key::new().tag(record.tag())
}

/// `custom_values`: one custom field's value of one record (a salesperson's, template's or
/// campaign's code or no; an entry's no as 20 decimal digits, so entries sort by number).
pub fn custom_value(record: FieldRecord, id: &str, name: &str) -> Key {
    custom_values_of(record, id).str(name)
}

/// The id of an entry in `custom_values`: its no as 20 decimal digits (so ids sort by no).
pub fn entry_id(entry_no: u64) -> String {
    format!("{entry_no:020}")
}

/// `custom_values`: every custom value of one record.
pub fn custom_values_of(record: FieldRecord, id: &str) -> Key {
    Key::new().tag(record.tag()).str(id)
}

/// `custom_values`: every custom value of one kind of record.
pub fn custom_values_of_kind(record: FieldRecord) -> Key {
    Key::new().tag(record.tag())
}

#[cfg(test)]
mod golden {
    //! The bytes of every key shape as files hold them, one test per shape: a failing test
    //! means files written before the change would no longer be read right.
    use super::*;

    fn hex(key: &Key) -> String {
        crate::store::key::hex(key.as_bytes())
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    macro_rules! golden {
        ($($name:ident: $key:expr => $($hex:literal)+;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(hex(&$key), concat!($($hex),+), "the key shape {} changed", stringify!($name));
            }
        )*};
    }

    golden! {
        counter_key: counter("entry") => "01656e7472790001";
        template_setup_key: template_setup() => "02";
        demo_loaded_key: demo_loaded() => "03";
        plugin_settings_key: plugin_settings() => "04";
        derived_layout_key: derived_layout() => "05";
        history_settings_key: history_settings() => "06";
        history_expired_through_key: history_expired_through() => "07";
        operation_key: operation(42) => "000000000000002a";
        operation_chunk_key: operation_chunk(42, 3) => "000000000000002a" "0000000000000003";
        code_key: code("CT000001") => "43543030303030310001";
        code_key_escapes_nul: code("A\0B") => "4100ff420001";
        no_key: no(42) => "000000000000002a";
        blob_key: blob("ab12") => "616231320001";
        relation_key: relation(AccountKind::Customer, "10000") => "637573746f6d6572000131303030300001";
        segment_line_key: segment_line("SM00001", 3) => "534d303030303100010000000000000003";
        segment_step_key: segment_step("SM00001", 2) => "534d303030303100010000000000000002";
        contact_by_name_key: contact_by_name("Anna", "P1") => "01414e4e41000150310001";
        contact_by_company_key: contact_by_company("C1", "P1") => "024331000150310001";
        contact_relation_key: contact_relation("C1", AccountKind::Vendor, "20000") => "034331000176656e646f72000132303030300001";
        contact_segment_line_key: contact_segment_line("P1", "SM00001", 7) => "0450310001534d303030303100010000000000000007";
        contact_field_key: contact_field("city", "oslo", "P1") => "056369747900016f736c6f000150310001";
        contact_field_count_key: contact_field_count("city", "oslo") => "066369747900016f736c6f0001";
        entry_by_contact_key: entry_by_contact("P1", date(), 9) => "0150310001800b4a6d0000000000000009";
        entry_by_company_key: entry_by_company("C1", date(), 9) => "0243310001800b4a6d0000000000000009";
        entry_by_template_key: entry_by_template("BUS", 9) => "0342555300010000000000000009";
        entry_by_group_key: entry_by_group("LETTER", 9) => "044c455454455200010000000000000009";
        entry_by_salesperson_key: entry_by_salesperson("JO", 9) => "054a4f00010000000000000009";
        entry_by_logged_segment_key: entry_by_logged_segment(4, 9) => "0600000000000000040000000000000009";
        entry_by_campaign_entry_key: entry_by_campaign_entry(5, 9) => "0700000000000000050000000000000009";
        entry_by_document_key: entry_by_document(DocumentType::SalesInvoice, "103001", 9) => "0873616c65735f696e766f696365000131303330303100010000000000000009";
        canceled_entry_key: canceled_entry(9) => "090000000000000009";
        postponed_entry_key: postponed_entry(9) => "0a0000000000000009";
        campaign_entry_lookup_key: campaign_entry_lookup("CP0001", "SM00001", Some(DocumentType::SalesQuote)) => "014350303030310001534d3030303031000173616c65735f71756f74650001";
        campaign_entry_lookup_key_without_type: campaign_entry_lookup("CP0001", "", None) => "01435030303031000100010001";
        logged_segment_lookup_key: logged_segment_lookup("SM00001") => "02534d30303030310001";
        logged_segment_campaign_entry_key: logged_segment_campaign_entry(4, 5) => "0300000000000000040000000000000005";
        stat_total_key: stat_total(0, "BUS", 0) => "00425553000100";
        stat_day_key: stat_day(5, "CP0001", 2, date()) => "05435030303031000102800b4a6d";
        field_def_key: field_def(FieldRecord::Contact, "industry") => "01696e647573747279" "0001";
        custom_value_key: custom_value(FieldRecord::Salesperson, "JO", "manager") => "024a4f0001" "6d616e616765720001";
    }

    /// A name over [`crate::store::key::TEXT_KEY_MAX`] encoded bytes: its first 960 bytes, the
    /// mark `00 02`, the SHA-256 of the whole (upper-case) name in hex, the end, the contact no.
    #[test]
    fn contact_by_name_key_of_a_long_name() {
        let key = contact_by_name(&"n".repeat(1025), "P1");
        let expected = format!(
            "01{}0002{}000150310001",
            "4e".repeat(960),
            crate::store::key::hex(
                b"833c5fdaa54a58c9e4115594a3108f03e61c5facba9811afcd812d8399b3a498"
            )
        );
        assert_eq!(hex(&key), expected, "the key shape of a long name changed");
    }

    /// The same rule for an indexed field's value (and its counter).
    #[test]
    fn contact_field_keys_of_a_long_value() {
        let value = "x".repeat(2000);
        let cut_and_hash = format!(
            "{}0002{}0001",
            "78".repeat(960),
            crate::store::key::hex(
                b"5c0e0ea421571c300b5df6aec0a118b5c3dc02e0683a546341d5efc689df2f58"
            )
        );
        assert_eq!(
            hex(&contact_field("city", &value, "P1")),
            format!("05636974790001{cut_and_hash}50310001")
        );
        assert_eq!(
            hex(&contact_field_count("city", &value)),
            format!("06636974790001{cut_and_hash}")
        );
    }
}
