//! Order-preserving key encoding: the byte order of two encoded keys is the order of their parts,
//! so range scans come back sorted and a secondary index is a key range.
//!
//! Integers are big-endian (signed ones with the sign bit flipped); strings are escaped so a
//! shorter string sorts before any longer string it prefixes (`0x00` → `0x00 0xFF`, end `0x00 0x01`).

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
    pub fn str(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            self.0.push(b);
            if b == 0 {
                self.0.push(0xFF);
            }
        }
        self.0.extend_from_slice(&[0x00, 0x01]);
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
