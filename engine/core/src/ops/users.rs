//! Users of `rapport serve` (spec: none; ARCHITECTURE "Who may do what"): adding one with the
//! hash of a token the caller made, revoking one, and finding the user a token belongs to.

use super::catalogue::content_hash;
use super::{Tx, View};
use crate::error::{Error, Result};
use crate::layout::{self, keys, tables};
use crate::model::{Role, User};

/// The longest user name.
pub const MAX_USER_NAME: usize = 64;

/// How a token is kept: its SHA-256 in hex (a token is 32 random bytes, so no salt is needed).
pub fn token_hash(token: &str) -> String {
    content_hash(token.as_bytes())
}

/// A user name as stored (trimmed, lower-case), or why it cannot be one.
fn user_name(name: &str) -> Result<String> {
    let name = name.trim().to_lowercase();
    let fix = "use letters, digits, _, ., - and @ (at most 64), e.g. anna or billing-system";
    if name.is_empty() {
        return Err(Error::required("user", "name", fix));
    }
    if name.chars().count() > MAX_USER_NAME
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'))
    {
        return Err(Error::invalid(
            format!("user {name}"),
            "name",
            format!("\"{name}\" is not a user name"),
            fix,
        ));
    }
    Ok(name)
}

impl Tx<'_> {
    /// Adds a user with the role and the token (only its hash is kept). A revoked user's name
    /// may be added again (a new token); an active user's is refused.
    pub fn user_add(&mut self, name: &str, role: Role, token: &str) -> Result<User> {
        let name = user_name(name)?;
        if token.len() < 32 {
            return Err(Error::invalid(
                format!("user {name}"),
                "token",
                "is shorter than 32 characters",
                "let rapport make the token (rapport users add)",
            ));
        }
        if let Some(existing) = self.view().user(&name)?
            && !existing.revoked
        {
            return Err(Error::AlreadyExists {
                record: "user",
                key: name,
                field: "name",
            });
        }
        let user = User {
            name,
            role,
            token_hash: token_hash(token),
            created: self.ctx.clock.today(),
            revoked: false,
        };
        layout::put(self.kv, tables::USERS, &keys::code(&user.name), &user)?;
        Ok(user)
    }

    /// Revokes a user: its token no longer authenticates (the record stays: entries name it).
    pub fn user_revoke(&mut self, name: &str) -> Result<User> {
        let key = user_name(name)?;
        let mut user = self.view().user(&key)?.ok_or_else(|| Error::NotFound {
            record: "user",
            key: key.clone(),
            fix: "rapport users list shows the users".into(),
        })?;
        if user.revoked {
            return Err(Error::wrong_state(
                format!("user {key}"),
                "is revoked already",
                "add the user again for a new token",
            ));
        }
        user.revoked = true;
        user.token_hash.clear();
        layout::put(self.kv, tables::USERS, &keys::code(&user.name), &user)?;
        Ok(user)
    }
}

impl View<'_> {
    /// A user by name.
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        layout::get(
            self.kv,
            tables::USERS,
            &keys::code(&name.trim().to_lowercase()),
        )
    }

    /// Every user, by name (revoked ones too).
    pub fn users(&self) -> Result<Vec<User>> {
        layout::all_records(self.kv, tables::USERS)
    }

    /// The active user whose token this is, if any.
    pub fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        if token.is_empty() {
            return Ok(None);
        }
        let hash = token_hash(token);
        Ok(self
            .users()?
            .into_iter()
            .find(|u| !u.revoked && u.token_hash == hash))
    }
}
