//! Envelope encryption of clinical content, the same for every service.
//!
//! Each record (a note's text, a step's title, a source sentence) is encrypted with
//! AES-256-GCM under a fresh random data key; the data key is wrapped with AES-256-GCM
//! by the current key-encryption key (KEK) of a [`Keyring`], named by its key id. The
//! record's binding ([`AssociatedData`]: record id, patient, author) is authenticated
//! with both the content and the wrapped key, so an envelope cannot be moved to another
//! record. The result is a [`SealedEnvelope`], plain JSON for the broker and the stores.
//!
//! Pure library: no I/O, no async, no logging.
//!
//! ```
//! use hospital_crypto::{AssociatedData, Keyring};
//!
//! let spec = format!("k1:{}", Keyring::generate_key()?.as_str());
//! let keyring = Keyring::from_spec(&spec)?;
//! let aad = AssociatedData::record("note-1", "patient-7", "doctor-3");
//! let envelope = keyring.seal_str("Take 5 mg twice a day", &aad)?;
//! assert_eq!(keyring.open_str(&envelope, &aad)?.as_str(), "Take 5 mg twice a day");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aad;
mod envelope;
mod error;
mod keyring;

pub use aad::AssociatedData;
pub use envelope::{SealedEnvelope, ENVELOPE_VERSION};
pub use error::{CryptoError, KeyringError};
pub use keyring::{Keyring, KEY_LEN};
pub use zeroize::Zeroizing;
