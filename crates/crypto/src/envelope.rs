//! The sealed form of one record, as it travels on the broker and rests in stores.

use serde::{Deserialize, Serialize};

/// The only envelope format so far: AES-256-GCM content, AES-256-GCM key wrap.
pub const ENVELOPE_VERSION: u32 = 1;

/// One encrypted record:
///
/// ```json
/// { "v": 1, "kid": "2026-11", "key_nonce": "…", "wrapped_key": "…",
///   "nonce": "…", "ciphertext": "…" }
/// ```
///
/// Byte fields are standard base64 with padding. `wrapped_key` is the record's data key
/// encrypted (with its 16-byte tag) under the key-encryption key `kid`, with `key_nonce`;
/// `ciphertext` is the content encrypted (with its tag) under the data key, with `nonce`.
/// Nothing here is secret, and nothing here reveals the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedEnvelope {
    /// Format version, [`ENVELOPE_VERSION`].
    pub v: u32,
    /// Id of the key-encryption key that wrapped the data key.
    pub kid: String,
    /// 96-bit nonce of the key wrap.
    #[serde(with = "b64")]
    pub key_nonce: Vec<u8>,
    /// The data key, encrypted and authenticated under the key-encryption key.
    #[serde(with = "b64")]
    pub wrapped_key: Vec<u8>,
    /// 96-bit nonce of the content.
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    /// The content, encrypted and authenticated under the data key.
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
}

mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("not valid standard base64"))
    }
}
