//! Errors. None of them carries key material or plaintext.

/// Why a keyring could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("the keyring is empty: give at least one `kid:base64key`")]
    Empty,
    #[error("keyring entry {position} is not `kid:base64key`")]
    MissingSeparator { position: usize },
    #[error(
        "keyring entry {position} has an invalid key id: use 1 to 64 characters among \
         A-Z a-z 0-9 - _ ."
    )]
    InvalidKid { position: usize },
    #[error("the key of `{kid}` is not valid standard base64")]
    BadBase64 { kid: String },
    #[error("the key of `{kid}` is {len} bytes long; a key-encryption key is 32 bytes")]
    WrongLength { kid: String, len: usize },
    #[error("the key id `{kid}` appears more than once")]
    DuplicateKid { kid: String },
    #[error("the current key id {kid:?} is not in the keyring")]
    UnknownCurrent { kid: String },
    #[error("the operating system's random number generator failed")]
    Random,
}

/// Why sealing, opening or re-wrapping failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The envelope names a key this keyring does not hold.
    #[error("no key-encryption key with id {kid:?} in the keyring")]
    UnknownKid { kid: String },
    /// Tampered ciphertext, nonce or wrapped key, another record's binding, or the wrong
    /// key: deliberately one variant that says nothing about which.
    #[error("the envelope could not be authenticated")]
    Authentication,
    /// The envelope's fields have impossible sizes.
    #[error("malformed envelope: {reason}")]
    Malformed { reason: &'static str },
    /// An envelope format this version does not know.
    #[error("unsupported envelope version {version}")]
    UnsupportedVersion { version: u32 },
    /// `open_str` on content that was not UTF-8 when sealed.
    #[error("the opened content is not UTF-8 text")]
    NotUtf8,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
    /// The content is too large for AES-GCM (about 64 GiB).
    #[error("the content could not be encrypted")]
    Encryption,
}

/// Key ids come from envelopes, which anyone may forge: keep them short in errors (whose
/// texts also quote them escaped, so they cannot forge log lines).
pub(crate) fn shorten(kid: &str) -> String {
    const MAX: usize = 64;
    if kid.chars().count() <= MAX {
        kid.to_owned()
    } else {
        let mut s: String = kid.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
