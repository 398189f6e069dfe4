//! Order-preserving key encoding: the byte order of two encoded keys is the order of their parts,
//! so range scans come back sorted and a secondary index is a key range.
//!
//! Integers are big-endian (signed ones with the sign bit flipped); strings are escaped so a
//! shorter string sorts before any longer string it prefixes (`0x00` → `0x00 0xFF`, end `0x00 0x01`).
//!
//! **Long index strings.** A text a user writes into a record (a contact's name, its city) is
//! indexed for equality with [`Key::text`]: kept whole while its encoding has at most
//! [`TEXT_KEY_MAX`] bytes, which is every name and city there is; a longer one is cut to its
//! first [`TEXT_KEY_CUT`] bytes (at a character boundary), marked (`0x00 0x02`) and followed by
//! the SHA-256 of the whole text in hex. Equality lookups and counts stay exact, every key stays
//! under [`crate::MAX_KEY_LEN`] on every backend, and only the order among long texts that share
//! their first bytes is not their text's order (no index of these is read for order).

use sha2::{Digest, Sha256};

/// The longest encoded text [`Key::text`] keeps whole, in bytes (escaping included).
pub const TEXT_KEY_MAX: usize = 1024;

/// How much of a longer text [`Key::text`] keeps before the hash of the whole, in encoded bytes.
pub const TEXT_KEY_CUT: usize = 960;

/// A key being built part by part.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(Vec<u8>);

impl Key {
    /// An empty key.
    pub fn new() -> Self {
        Self(Vec::with_capacity(24))
    }

    /// Appends one byte (a tag that tells key shapes apart).
    #[must_use]
    pub fn tag(mut self, tag: u8) -> Self {
        self.0.push(tag);
        self
    }

    /// Appends an unsigned integer.
    #[must_use]
    pub fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// Appends a signed integer (sign bit flipped, so negatives sort first).
    #[must_use]
    pub fn i32(mut self, n: i32) -> Self {
        self.0
            .extend_from_slice(&((n as u32) ^ 0x8000_0000).to_be_bytes());
        self
    }

    /// Appends a string, escaped and terminated.
    #[must_use]
    pub fn str(self, s: &str) -> Self {
        let mut key = self.escaped(s);
        key.0.extend_from_slice(&[0x00, 0x01]);
        key
    }

    /// Appends a text indexed for equality: as [`Key::str`] while its encoding has at most
    /// [`TEXT_KEY_MAX`] bytes, else its first [`TEXT_KEY_CUT`] encoded bytes, the mark `0x00
    /// 0x02` and the SHA-256 of the whole text in hex, terminated (the module's rule for long
    /// index strings). Two texts give the same bytes only if they are equal.
    #[must_use]
    pub fn text(self, s: &str) -> Self {
        if encoded_len(s) <= TEXT_KEY_MAX {
            return self.str(s);
        }
        let mut cut = 0;
        let mut len = 0;
        for (i, c) in s.char_indices() {
            let n = if c == '\0' { 2 } else { c.len_utf8() };
            if len + n > TEXT_KEY_CUT {
                break;
            }
            len += n;
            cut = i + c.len_utf8();
        }
        let mut key = self.escaped(&s[..cut]);
        key.0.extend_from_slice(&[0x00, 0x02]);
        key.0
            .extend_from_slice(hex(&Sha256::digest(s.as_bytes())).as_bytes());
        key.0.extend_from_slice(&[0x00, 0x01]);
        key
    }

    fn escaped(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            self.0.push(b);
            if b == 0 {
                self.0.push(0xFF);
            }
        }
        self
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The encoded bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The smallest key greater than every key that starts with this one (for prefix scans);
    /// `None` when there is none (the empty prefix, or one of bytes 0xFF only): scan to the end.
    pub fn prefix_end(&self) -> Option<Vec<u8>> {
        let mut end = self.0.clone();
        while let Some(last) = end.pop() {
            if last < 0xFF {
                end.push(last + 1);
                return Some(end);
            }
        }
        None
    }
}

/// Reads the parts of an encoded key back, in the order they were written.
pub struct KeyReader<'a> {
    rest: &'a [u8],
}

impl<'a> KeyReader<'a> {
    /// Starts reading `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Skips `n` bytes (a known prefix).
    #[must_use]
    pub fn skip(mut self, n: usize) -> Self {
        self.rest = &self.rest[n.min(self.rest.len())..];
        self
    }

    /// Reads one tag byte.
    pub fn tag(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    /// Reads an unsigned integer.
    pub fn u64(&mut self) -> Option<u64> {
        let bytes: [u8; 8] = self.rest.get(..8)?.try_into().ok()?;
        self.rest = &self.rest[8..];
        Some(u64::from_be_bytes(bytes))
    }

    /// Reads a signed integer.
    pub fn i32(&mut self) -> Option<i32> {
        let bytes: [u8; 4] = self.rest.get(..4)?.try_into().ok()?;
        self.rest = &self.rest[4..];
        Some((u32::from_be_bytes(bytes) ^ 0x8000_0000) as i32)
    }

    /// Reads an escaped string.
    pub fn str(&mut self) -> Option<String> {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let b = *self.rest.get(i)?;
            if b == 0 {
                match *self.rest.get(i + 1)? {
                    0xFF => out.push(0),
                    0x01 => {
                        self.rest = &self.rest[i + 2..];
                        return String::from_utf8(out).ok();
                    }
                    _ => return None,
                }
                i += 2;
            } else {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// How many bytes `s` takes escaped (without its terminator).
fn encoded_len(s: &str) -> usize {
    s.len() + s.bytes().filter(|&b| b == 0).count()
}

/// Bytes as lower-case hex, two digits a byte: content hashes, tokens, golden files, messages.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_sort_like_their_text_and_prefixes_first() {
        let words = ["", "A", "A\0", "AB", "B", "CT000001", "CT000002"];
        let keys: Vec<_> = words.iter().map(|w| Key::new().str(w).u64(7)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn signed_integers_sort_numerically() {
        let keys: Vec<_> = [-5, -1, 0, 1, 738_000]
            .iter()
            .map(|&n| Key::new().i32(n))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn parts_read_back_in_order() {
        let key = Key::new().tag(3).str("a\0b").i32(-9).u64(42);
        let mut r = KeyReader::new(key.as_bytes());
        assert_eq!(r.tag(), Some(3));
        assert_eq!(r.str().as_deref(), Some("a\0b"));
        assert_eq!(r.i32(), Some(-9));
        assert_eq!(r.u64(), Some(42));
    }

    #[test]
    fn a_text_up_to_the_limit_is_kept_whole_like_a_string() {
        let whole = "é".repeat(TEXT_KEY_MAX / 2);
        assert_eq!(Key::new().text(&whole), Key::new().str(&whole));
        let with_nul = "\0".repeat(TEXT_KEY_MAX / 2);
        assert_eq!(Key::new().text(&with_nul), Key::new().str(&with_nul));
    }

    #[test]
    fn a_longer_text_is_cut_and_hashed_and_tells_every_text_apart() {
        let long = "a".repeat(5000);
        let other = format!("{}b", "a".repeat(4999));
        let (k1, k2) = (Key::new().text(&long), Key::new().text(&other));
        assert_ne!(
            k1, k2,
            "texts that share their first bytes differ in the hash"
        );
        assert_eq!(k1, Key::new().text(&long), "the same text, the same key");
        assert_eq!(k1.as_bytes().len(), TEXT_KEY_CUT + 2 + 64 + 2);
        assert!(
            k1.as_bytes()
                .starts_with(&"a".repeat(TEXT_KEY_CUT).into_bytes())
        );
        // One character more than fits whole is already cut.
        let just_over = "a".repeat(TEXT_KEY_MAX + 1);
        assert_ne!(Key::new().text(&just_over), Key::new().str(&just_over));
        // Cut at a character boundary, NULs counted escaped: the bytes stay a valid prefix.
        let mixed = "\0€".repeat(800);
        let key = Key::new().text(&mixed);
        assert!(key.as_bytes().len() <= TEXT_KEY_CUT + 2 + 64 + 2);
        let cut = &key.as_bytes()[..key.as_bytes().len() - 68];
        assert!(Key::new().str(&mixed).as_bytes().starts_with(cut));
    }

    #[test]
    fn a_long_text_stays_after_its_cut_and_before_what_follows_it() {
        let long = "n".repeat(3000);
        let cut = "n".repeat(TEXT_KEY_CUT);
        let key = Key::new().text(&long).str("CT1");
        assert!(Key::new().str(&cut).str("CT1") < key);
        assert!(key < Key::new().str(&format!("{cut}o")));
        let prefix = Key::new().text(&long);
        assert!(key.as_bytes().starts_with(prefix.as_bytes()));
    }

    #[test]
    fn prefix_end_bounds_every_extension() {
        let prefix = Key::new().tag(1).str("X");
        let inside = Key::new().tag(1).str("X").u64(u64::MAX);
        let outside = Key::new().tag(1).str("XA");
        let end = prefix.prefix_end().unwrap();
        assert!(inside.as_bytes() < end.as_slice());
        assert!(outside.as_bytes() >= end.as_slice() || outside.as_bytes() < prefix.as_bytes());
        assert_eq!(
            Key::new().prefix_end(),
            None,
            "the empty prefix covers every key"
        );
        assert_eq!(Key::new().tag(0xFF).prefix_end(), None);
    }
}
