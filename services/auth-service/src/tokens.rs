//! Issuing access tokens (signed JWTs) and refresh tokens (opaque, stored hashed).

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use hospital_platform::token::{AccessClaims, ALGORITHM, ISSUER};
use jsonwebtoken::Header;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::Role;
use crate::keys::SigningKeys;
use crate::store::NewRefreshToken;

pub struct TokenIssuer {
    keys: SigningKeys,
    access_ttl: TimeDelta,
    refresh_ttl: TimeDelta,
}

/// A refresh token to hand to the client, with what gets stored of it.
pub struct IssuedRefreshToken {
    pub token: String,
    pub stored: NewRefreshToken,
}

impl TokenIssuer {
    pub fn new(keys: SigningKeys, access_ttl_secs: u64, refresh_ttl_days: u32) -> Self {
        Self {
            keys,
            access_ttl: TimeDelta::seconds(i64::try_from(access_ttl_secs).unwrap_or(900)),
            refresh_ttl: TimeDelta::days(i64::from(refresh_ttl_days)),
        }
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl.num_seconds()
    }

    pub fn access_token(
        &self,
        user_id: Uuid,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            sub: user_id,
            role,
            iat: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.keys.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.keys.encoding)
    }

    pub fn refresh_token(&self, now: DateTime<Utc>) -> IssuedRefreshToken {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        IssuedRefreshToken {
            stored: NewRefreshToken {
                token_hash: hash_refresh_token(&token),
                issued_at: now,
                expires_at: now + self.refresh_ttl,
            },
            token,
        }
    }
}

/// What the database keeps of a refresh token. Lookups go by this hash, so the
/// token itself is never compared byte by byte.
pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
