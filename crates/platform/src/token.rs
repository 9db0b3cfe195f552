//! Access tokens: the claims auth-service signs and every service verifies itself,
//! with public keys from auth-service's JWKS (`/.well-known/jwks.json`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::HttpError;

/// Who the token's holder is, as far as authorization goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Patient,
    Doctor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
        }
    }
}

/// The issuer every access token names.
pub const ISSUER: &str = "hospital-auth";
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
    #[error("signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl From<TokenError> for HttpError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Missing => HttpError::unauthorized(
                "missing_token",
                "Sign in: this endpoint needs an access token (Authorization: Bearer …).",
            ),
            TokenError::Expired => HttpError::unauthorized(
                "token_expired",
                "The access token has expired; refresh it.",
            ),
            TokenError::Invalid => {
                HttpError::unauthorized("invalid_token", "The access token is not valid.")
            }
            TokenError::KeysUnavailable(_) => HttpError::service_unavailable(
                "Access tokens cannot be checked right now; try again shortly.",
            ),
        }
    }
}

enum KeySource {
    Static,
    Remote {
        url: String,
        client: reqwest::Client,
    },
}

/// Verifies access tokens. Keys come from a fixed set (auth-service itself) or from
/// a JWKS URL, fetched lazily and again when a token names an unknown key id.
/// Verified tokens are remembered (by hash) until they expire, so a busy client's
/// token is checked once, not on every request.
pub struct TokenVerifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    source: KeySource,
    refresh_lock: tokio::sync::Mutex<Option<Instant>>,
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
    validation: Validation,
}

const VERIFIED_CACHE_MAX: usize = 100_000;
/// An unknown key id refetches the JWKS at most this often, so forged kids cannot
/// turn into a flood of requests to auth-service.
/// A failed fetch is retried no sooner either, so an unreachable auth-service costs
/// one waiting request per interval, not every request.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

fn validation() -> Validation {
    let mut validation = Validation::new(ALGORITHM);
    validation.leeway = 5;
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
    validation
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl TokenVerifier {
    /// A verifier for a fixed key set.
    pub fn with_keys(jwks: &JwkSet) -> Self {
        Self::new(decoding_keys(jwks), KeySource::Static)
    }

    /// A verifier that fetches keys from `jwks_url`.
    pub fn remote(jwks_url: impl Into<String>, client: reqwest::Client) -> Self {
        Self::new(
            HashMap::new(),
            KeySource::Remote {
                url: jwks_url.into(),
                client,
            },
        )
    }

    fn new(keys: HashMap<String, DecodingKey>, source: KeySource) -> Self {
        Self {
            keys: RwLock::new(keys),
            source,
            refresh_lock: tokio::sync::Mutex::new(None),
            verified: Mutex::new(HashMap::new()),
            validation: validation(),
        }
    }

    /// Checks signature, algorithm, issuer and expiry.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.cached(&fingerprint) {
            return Ok(claims);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != ALGORITHM {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let claims = if let Some(result) = self.decode_with(&kid, token) {
            result?
        } else {
            self.refresh_for(&kid).await?;
            self.decode_with(&kid, token).ok_or(TokenError::Invalid)??
        };
        self.remember(fingerprint, &claims);
        Ok(claims)
    }

    fn decode_with(&self, kid: &str, token: &str) -> Option<Result<AccessClaims, TokenError>> {
        let keys = match self.keys.read() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = keys.get(kid)?;
        Some(
            jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
                .map(|data| data.claims)
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }),
        )
    }

    async fn refresh_for(&self, kid: &str) -> Result<(), TokenError> {
        let KeySource::Remote { url, client } = &self.source else {
            return Err(TokenError::Invalid);
        };
        let mut last_refresh = self.refresh_lock.lock().await;
        // Another request may have fetched the key while this one waited.
        if self.has_key(kid) {
            return Ok(());
        }
        if last_refresh.is_some_and(|at| at.elapsed() < MIN_REFRESH_INTERVAL) {
            // Fetched (or tried) moments ago: an unknown kid is not worth another
            // round trip, and an unreachable JWKS must not make every request wait.
            return Err(if self.is_empty() {
                TokenError::KeysUnavailable("the JWKS was unreachable moments ago".into())
            } else {
                TokenError::Invalid
            });
        }
        *last_refresh = Some(Instant::now());
        let jwks = fetch_jwks(client, url).await?;
        let fetched = decoding_keys(&jwks);
        let mut keys = match self.keys.write() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        *keys = fetched;
        Ok(())
    }

    fn has_key(&self, kid: &str) -> bool {
        self.keys.read().is_ok_and(|k| k.contains_key(kid))
    }

    fn is_empty(&self) -> bool {
        self.keys.read().map_or(true, |k| k.is_empty())
    }

    fn cached(&self, fingerprint: &[u8; 32]) -> Option<AccessClaims> {
        let cache = self.verified.lock().ok()?;
        let claims = cache.get(fingerprint)?;
        (claims.exp > now_unix()).then(|| claims.clone())
    }

    fn remember(&self, fingerprint: [u8; 32], claims: &AccessClaims) {
        let Ok(mut cache) = self.verified.lock() else {
            return;
        };
        if cache.len() >= VERIFIED_CACHE_MAX {
            let now = now_unix();
            cache.retain(|_, c| c.exp > now);
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(fingerprint, claims.clone());
    }
}

fn decoding_keys(jwks: &JwkSet) -> HashMap<String, DecodingKey> {
    jwks.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
        })
        .collect()
}

async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<JwkSet, TokenError> {
    let response = client
        .get(url)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| TokenError::KeysUnavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(TokenError::KeysUnavailable(format!(
            "JWKS answered {}",
            response.status()
        )));
    }
    response
        .json::<JwkSet>()
        .await
        .map_err(|e| TokenError::KeysUnavailable(e.to_string()))
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Extractor: the verified claims of the request's access token, or a 401.
/// Needs `web::Data<TokenVerifier>` in app data.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

impl FromRequest for Authenticated {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<TokenVerifier>>().cloned();
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let verifier: Arc<TokenVerifier> = verifier
                .ok_or_else(|| HttpError::internal(&"no TokenVerifier in app data"))?
                .into_inner();
            let token = token.ok_or(TokenError::Missing)?;
            Ok(Authenticated(verifier.verify(&token).await?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{EncodingKey, Header};

    struct TestKey {
        encoding: EncodingKey,
        jwks: JwkSet,
    }

    fn test_key(kid: &str) -> TestKey {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = signing.to_pkcs8_der().expect("der");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(signing.verifying_key().as_bytes());
        let jwks: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}
        ]}))
        .expect("jwks");
        TestKey {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwks,
        }
    }

    fn claims(exp_offset: i64) -> AccessClaims {
        let now = now_unix();
        AccessClaims {
            iss: ISSUER.into(),
            sub: Uuid::now_v7(),
            role: Role::Patient,
            iat: now,
            exp: now + exp_offset,
            jti: Uuid::now_v7(),
        }
    }

    fn sign(key: &TestKey, kid: &str, claims: &AccessClaims) -> String {
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
    }

    #[tokio::test]
    async fn claims_round_trip() {
        let key = test_key("k1");
        let verifier = TokenVerifier::with_keys(&key.jwks);
        let original = claims(900);
        let token = sign(&key, "k1", &original);
        assert_eq!(verifier.verify(&token).await, Ok(original.clone()));
        // second time from the cache
        assert_eq!(verifier.verify(&token).await, Ok(original));
    }

    #[tokio::test]
    async fn rejects_expired_foreign_and_unsigned_tokens() {
        let key = test_key("k1");
        let other = test_key("k1");
        let verifier = TokenVerifier::with_keys(&key.jwks);
        assert_eq!(
            verifier.verify(&sign(&key, "k1", &claims(-60))).await,
            Err(TokenError::Expired)
        );
        assert_eq!(
            verifier.verify(&sign(&other, "k1", &claims(60))).await,
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verifier.verify(&sign(&key, "k2", &claims(60))).await,
            Err(TokenError::Invalid)
        );
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            engine.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
            engine.encode(serde_json::to_vec(&claims(60)).expect("json"))
        );
        assert_eq!(verifier.verify(&none).await, Err(TokenError::Invalid));
        assert_eq!(verifier.verify("garbage").await, Err(TokenError::Invalid));
    }

    #[tokio::test]
    async fn an_unreachable_jwks_fails_fast_after_the_first_try() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let verifier = TokenVerifier::remote(
            format!("http://127.0.0.1:{port}/jwks"),
            reqwest::Client::new(),
        );
        let key = test_key("k1");
        let token = sign(&key, "k1", &claims(60));
        assert!(matches!(
            verifier.verify(&token).await,
            Err(TokenError::KeysUnavailable(_))
        ));
        let started = Instant::now();
        assert!(matches!(
            verifier.verify(&token).await,
            Err(TokenError::KeysUnavailable(_))
        ));
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "no second wait"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_claims_round_trip(offset in 60i64..100_000, doctor in proptest::bool::ANY) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
            let key = test_key("k");
            let verifier = TokenVerifier::with_keys(&key.jwks);
            let mut original = claims(offset);
            original.role = if doctor { Role::Doctor } else { Role::Patient };
            let token = sign(&key, "k", &original);
            proptest::prop_assert_eq!(rt.block_on(verifier.verify(&token)), Ok(original));
        }
    }
}
