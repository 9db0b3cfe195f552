//! Key-encryption keys, and sealing, opening and re-wrapping with them.

use std::fmt;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::aad::{put, AssociatedData};
use crate::envelope::{SealedEnvelope, ENVELOPE_VERSION};
use crate::error::{shorten, CryptoError, KeyringError};

/// Length in bytes of key-encryption keys and data keys (AES-256).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KID_LEN: usize = 64;

const CONTENT_DOMAIN: &[u8] = b"hospital-crypto/content/v1";
const WRAP_DOMAIN: &[u8] = b"hospital-crypto/wrap/v1";

/// One key-encryption key. Its bytes are wiped on drop and never printed.
#[derive(Clone)]
struct Kek {
    kid: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The key-encryption keys a service holds, one of them current (used for new records).
///
/// Built from configuration text `kid1:base64key,kid2:base64key` (see
/// [`from_spec`](Self::from_spec)); `Debug` shows key ids only.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Kek>,
    current: usize,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current_kid())
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Parses `kid1:base64key,kid2:base64key,…`; the last key is current (list keys
    /// oldest first and append the new one to rotate). Whitespace around entries is
    /// ignored. Key ids are 1 to 64 characters among `A-Z a-z 0-9 - _ .`; keys are 32
    /// bytes in standard base64 (as [`generate_key`](Self::generate_key) gives).
    pub fn from_spec(spec: &str) -> Result<Self, KeyringError> {
        let keys = parse(spec)?;
        let current = keys.len() - 1;
        Ok(Self { keys, current })
    }

    /// As [`from_spec`](Self::from_spec), with the current key named explicitly.
    pub fn from_spec_with_current(spec: &str, current: &str) -> Result<Self, KeyringError> {
        let keys = parse(spec)?;
        let current = keys.iter().position(|k| k.kid == current).ok_or_else(|| {
            KeyringError::UnknownCurrent {
                kid: shorten(current),
            }
        })?;
        Ok(Self { keys, current })
    }

    /// A fresh random key-encryption key in standard base64, for operators to put in
    /// configuration as `kid:key`.
    pub fn generate_key() -> Result<Zeroizing<String>, KeyringError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng
            .try_fill_bytes(key.as_mut())
            .map_err(|_| KeyringError::Random)?;
        Ok(Zeroizing::new(STANDARD.encode(key.as_ref())))
    }

    /// The id of the key new envelopes are wrapped with.
    pub fn current_kid(&self) -> &str {
        &self.keys[self.current].kid
    }

    /// The ids of all keys held, in configuration order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// Whether a key with this id is held.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// Encrypts `plaintext` under a fresh data key wrapped by the current key, bound to
    /// `aad`.
    pub fn seal(
        &self,
        plaintext: &[u8],
        aad: &AssociatedData,
    ) -> Result<SealedEnvelope, CryptoError> {
        let binding = aad.to_bytes();
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        let mut nonce = [0u8; NONCE_LEN];
        fill(data_key.as_mut())?;
        fill(&mut nonce)?;
        let ciphertext = Aes256Gcm::new(data_key.as_ref().into())
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &content_aad(&binding),
                },
            )
            .map_err(|_| CryptoError::Encryption)?;
        let kek = &self.keys[self.current];
        let (key_nonce, wrapped_key) = wrap(kek, data_key.as_ref(), &binding)?;
        Ok(SealedEnvelope {
            v: ENVELOPE_VERSION,
            kid: kek.kid.clone(),
            key_nonce,
            wrapped_key,
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts an envelope sealed with the same `aad`. The content is wiped on drop.
    pub fn open(
        &self,
        envelope: &SealedEnvelope,
        aad: &AssociatedData,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let binding = aad.to_bytes();
        let data_key = self.unwrap_data_key(envelope, &binding)?;
        decrypt_content(envelope, &data_key, &binding)
    }

    /// [`seal`](Self::seal) for text.
    pub fn seal_str(
        &self,
        plaintext: &str,
        aad: &AssociatedData,
    ) -> Result<SealedEnvelope, CryptoError> {
        self.seal(plaintext.as_bytes(), aad)
    }

    /// [`open`](Self::open) for text sealed with [`seal_str`](Self::seal_str).
    pub fn open_str(
        &self,
        envelope: &SealedEnvelope,
        aad: &AssociatedData,
    ) -> Result<Zeroizing<String>, CryptoError> {
        let mut bytes = self.open(envelope, aad)?;
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(e) => {
                // Wipe the bytes that came back with the error.
                drop(Zeroizing::new(e.into_bytes()));
                Err(CryptoError::NotUtf8)
            }
        }
    }

    /// Re-wraps the envelope's data key under the current key; the content's nonce and
    /// ciphertext stay as they are. An envelope already under the current key comes back
    /// unchanged. Otherwise the whole envelope is authenticated first, so a damaged or
    /// misbound envelope is refused rather than re-wrapped.
    pub fn rewrap(
        &self,
        envelope: &SealedEnvelope,
        aad: &AssociatedData,
    ) -> Result<SealedEnvelope, CryptoError> {
        check_version(envelope)?;
        let kek = &self.keys[self.current];
        if envelope.kid == kek.kid {
            return Ok(envelope.clone());
        }
        let binding = aad.to_bytes();
        let data_key = self.unwrap_data_key(envelope, &binding)?;
        drop(decrypt_content(envelope, &data_key, &binding)?);
        let (key_nonce, wrapped_key) = wrap(kek, data_key.as_ref(), &binding)?;
        Ok(SealedEnvelope {
            v: ENVELOPE_VERSION,
            kid: kek.kid.clone(),
            key_nonce,
            wrapped_key,
            nonce: envelope.nonce.clone(),
            ciphertext: envelope.ciphertext.clone(),
        })
    }

    fn unwrap_data_key(
        &self,
        envelope: &SealedEnvelope,
        binding: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        check_version(envelope)?;
        let kek = self
            .keys
            .iter()
            .find(|k| k.kid == envelope.kid)
            .ok_or_else(|| CryptoError::UnknownKid {
                kid: shorten(&envelope.kid),
            })?;
        if envelope.key_nonce.len() != NONCE_LEN {
            return Err(malformed("key_nonce must be 12 bytes"));
        }
        if envelope.wrapped_key.len() != KEY_LEN + TAG_LEN {
            return Err(malformed("wrapped_key must be 48 bytes"));
        }
        if envelope.nonce.len() != NONCE_LEN {
            return Err(malformed("nonce must be 12 bytes"));
        }
        if envelope.ciphertext.len() < TAG_LEN {
            return Err(malformed("ciphertext is shorter than its tag"));
        }
        let data_key = Aes256Gcm::new(kek.key.as_ref().into())
            .decrypt(
                &nonce_of(&envelope.key_nonce)?,
                Payload {
                    msg: &envelope.wrapped_key,
                    aad: &wrap_aad(&kek.kid, binding),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)?;
        if data_key.len() == KEY_LEN {
            Ok(data_key)
        } else {
            Err(CryptoError::Authentication)
        }
    }
}

impl std::str::FromStr for Keyring {
    type Err = KeyringError;

    /// As [`Keyring::from_spec`].
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        Self::from_spec(spec)
    }
}

fn parse(spec: &str) -> Result<Vec<Kek>, KeyringError> {
    if spec.trim().is_empty() {
        return Err(KeyringError::Empty);
    }
    let mut keys: Vec<Kek> = Vec::new();
    for (index, entry) in spec.split(',').enumerate() {
        let position = index + 1;
        let (kid, key) = entry
            .split_once(':')
            .ok_or(KeyringError::MissingSeparator { position })?;
        let kid = kid.trim();
        if !valid_kid(kid) {
            return Err(KeyringError::InvalidKid { position });
        }
        if keys.iter().any(|k| k.kid == kid) {
            return Err(KeyringError::DuplicateKid {
                kid: kid.to_owned(),
            });
        }
        let decoded = Zeroizing::new(STANDARD.decode(key.trim().as_bytes()).map_err(|_| {
            KeyringError::BadBase64 {
                kid: kid.to_owned(),
            }
        })?);
        let bytes: [u8; KEY_LEN] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyringError::WrongLength {
                    kid: kid.to_owned(),
                    len: decoded.len(),
                })?;
        keys.push(Kek {
            kid: kid.to_owned(),
            key: Zeroizing::new(bytes),
        });
    }
    Ok(keys)
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn fill(bytes: &mut [u8]) -> Result<(), CryptoError> {
    OsRng.try_fill_bytes(bytes).map_err(|_| CryptoError::Random)
}

fn check_version(envelope: &SealedEnvelope) -> Result<(), CryptoError> {
    if envelope.v == ENVELOPE_VERSION {
        Ok(())
    } else {
        Err(CryptoError::UnsupportedVersion {
            version: envelope.v,
        })
    }
}

fn nonce_of(bytes: &[u8]) -> Result<Nonce<U12>, CryptoError> {
    <[u8; NONCE_LEN]>::try_from(bytes)
        .map(Nonce::from)
        .map_err(|_| malformed("nonces must be 12 bytes"))
}

fn malformed(reason: &'static str) -> CryptoError {
    CryptoError::Malformed { reason }
}

/// The content is bound to the record; not to the key id, so re-wrapping leaves it be.
fn content_aad(binding: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONTENT_DOMAIN.len() + binding.len() + 16);
    put(&mut out, CONTENT_DOMAIN);
    put(&mut out, binding);
    out
}

/// The wrapped data key is bound to its key id and to the record.
fn wrap_aad(kid: &str, binding: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(WRAP_DOMAIN.len() + kid.len() + binding.len() + 24);
    put(&mut out, WRAP_DOMAIN);
    put(&mut out, kid.as_bytes());
    put(&mut out, binding);
    out
}

fn wrap(kek: &Kek, data_key: &[u8], binding: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let mut key_nonce = [0u8; NONCE_LEN];
    fill(&mut key_nonce)?;
    let wrapped = Aes256Gcm::new(kek.key.as_ref().into())
        .encrypt(
            &Nonce::from(key_nonce),
            Payload {
                msg: data_key,
                aad: &wrap_aad(&kek.kid, binding),
            },
        )
        .map_err(|_| CryptoError::Encryption)?;
    Ok((key_nonce.to_vec(), wrapped))
}

fn decrypt_content(
    envelope: &SealedEnvelope,
    data_key: &[u8],
    binding: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(data_key).map_err(|_| CryptoError::Authentication)?;
    cipher
        .decrypt(
            &nonce_of(&envelope.nonce)?,
            Payload {
                msg: &envelope.ciphertext,
                aad: &content_aad(binding),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}
