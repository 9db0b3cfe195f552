//! The access-token signing key: an Ed25519 key from the environment or a file, and
//! the JWKS that publishes its public half.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::EncodingKey;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the signing key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the signing key is not a PKCS#8 PEM Ed25519 private key")]
    Malformed,
    #[error("cannot write the signing key to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The key auth-service signs access tokens with.
pub struct SigningKeys {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwks: JwkSet,
}

impl SigningKeys {
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::Malformed)?;
        Self::from_signing_key(&signing)
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem)
    }

    /// A fresh key, for tests and first runs.
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_signing_key(&SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_signing_key(signing: &SigningKey) -> Result<Self, KeyError> {
        let public = signing.verifying_key();
        // The key id names the public key, so a rotated key gets a new id.
        let kid = hex_prefix(&Sha256::digest(public.as_bytes()), 8);
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public.as_bytes());
        let jwks: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}
        ]}))
        .map_err(|_| KeyError::Malformed)?;
        let der = signing.to_pkcs8_der().map_err(|_| KeyError::Malformed)?;
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwks,
        })
    }
}

fn hex_prefix(bytes: &[u8], len: usize) -> String {
    use std::fmt::Write;
    bytes.iter().take(len).fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Writes a new PKCS#8 PEM Ed25519 key to `path`, readable by its owner only.
/// Refuses to overwrite an existing key.
pub fn generate_key_file(path: &Path) -> Result<(), KeyError> {
    let write_err = |source: std::io::Error| KeyError::Write {
        path: path.display().to_string(),
        source,
    };
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| KeyError::Malformed)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(write_err)?;
    std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("auth-keys-{}", uuid::Uuid::new_v4()));
        let path = dir.join("k.pem");
        generate_key_file(&path).expect("writes");
        assert!(generate_key_file(&path).is_err(), "never overwrites");
        let keys = SigningKeys::from_file(&path).expect("reads");
        assert_eq!(keys.jwks.keys.len(), 1);
        assert_eq!(
            keys.jwks.keys[0].common.key_id.as_deref(),
            Some(keys.kid.as_str())
        );
        assert!(SigningKeys::from_pem("not a key").is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
