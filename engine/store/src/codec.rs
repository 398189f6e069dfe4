//! Record values: postcard bytes behind one schema-version byte, so a later layout can be told
//! apart from this one and old files stay readable (see the golden-bytes test).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Result, StoreError};

/// The schema version written in front of every value.
pub const SCHEMA_VERSION: u8 = 1;

/// Encodes a record: the version byte, then postcard.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let out = vec![SCHEMA_VERSION];
    postcard::to_extend(value, out).map_err(|e| StoreError::Encode {
        record: std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("record")
            .to_string(),
        detail: e.to_string(),
    })
}

/// Decodes a record written by [`encode`]; `what` names the record in the error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    decode_in_place(bytes, what)
}

/// Decodes a record written by [`encode`] into a type that borrows from `bytes` (a view such
/// as the engine's `ContactView`).
pub fn decode_in_place<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    match bytes.split_first() {
        Some((&SCHEMA_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt {
                record: what.to_string(),
                detail: e.to_string(),
            })
        }
        Some((&version, _)) => Err(StoreError::Corrupt {
            record: what.to_string(),
            detail: format!(
                "schema version {version} is not known to this rapport (it reads version {SCHEMA_VERSION}); use the rapport that wrote it"
            ),
        }),
        None => Err(StoreError::Corrupt {
            record: what.to_string(),
            detail: "empty value".into(),
        }),
    }
}
