//! The small rules every workflow checks the same way: how long a text, a number or a name may
//! be, amounts not below zero, and the e-mail rule of correspondence.

use crate::error::{Error, Result};
use crate::model::{Amount, Contact, Correspondence};

/// The e-mail rule: e-mail to a contact without an address fails with delivery, else goes blank.
pub(crate) fn apply_email_rule(
    correspondence: Correspondence,
    contact: &Contact,
    deliver: bool,
) -> Result<Correspondence> {
    if correspondence == Correspondence::Email && contact.email.trim().is_empty() {
        if deliver {
            return Err(Error::NoEmail {
                contact: contact.no.clone(),
            });
        }
        return Ok(Correspondence::Blank);
    }
    Ok(correspondence)
}

/// The longest text a field of a record may hold, in bytes: far above any name, address or
/// subject, far below what would make every scan and export of the table slow.
pub const MAX_TEXT: usize = 4096;

/// Refuses a text field longer than [`MAX_TEXT`].
pub(crate) fn check_length(record: &str, field: &'static str, value: &str) -> Result<()> {
    if value.len() > MAX_TEXT {
        return Err(Error::TooLong {
            record: record.to_string(),
            field,
            len: value.len(),
            max: MAX_TEXT,
        });
    }
    Ok(())
}

/// The longest number or name that keys a record a user names — a contact, campaign, segment,
/// document or account no, a saved criteria name — in characters (a code of the catalogue has at
/// most [`super::catalogue::CODE_MAX`]). With it every key stays under the store's
/// [`crate::store::MAX_KEY_LEN`] on every backend.
pub const MAX_ID: usize = 100;

/// Refuses a number or name longer than [`MAX_ID`] characters (the record is named without it:
/// it is the thing that is too long).
pub(crate) fn check_id(record: &str, field: &'static str, value: &str) -> Result<()> {
    check_chars(record, field, value, MAX_ID)
}

/// Refuses a number, name or code longer than `max` characters; the message shows the value,
/// or its start when it is long.
pub(crate) fn check_chars(
    record: &str,
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<()> {
    let n = value.chars().count();
    if n > max {
        let shown = if n > 40 {
            format!("{}…", value.chars().take(20).collect::<String>())
        } else {
            value.to_string()
        };
        return Err(Error::invalid(
            record,
            field,
            format!("\"{shown}\" has {n} characters, more than {max}"),
            format!("use a {field} of at most {max} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_not_negative(record: &str, field: &'static str, value: Amount) -> Result<()> {
    if value.is_negative() {
        return Err(Error::invalid(
            record,
            field,
            format!("is {value}, below zero"),
            format!("give a {field} of 0 or more"),
        ));
    }
    Ok(())
}
