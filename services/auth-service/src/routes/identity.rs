//! Sign-up, sign-in, token refresh and sign-out.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use hospital_platform::token::Authenticated;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{lockout, Email, Password, PersonName, Role, Specialization, TimeZoneName};
use crate::error::ApiError;
use crate::events;
use crate::state::AppState;
use crate::store::{NewSession, NewUser, RotateOutcome, UserRecord};

#[derive(Deserialize)]
pub struct SignupRequest {
    name: String,
    email: String,
    password: String,
    role: Role,
    specialization: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Serialize)]
struct UserSummary<'a> {
    id: Uuid,
    name: &'a str,
    email: &'a str,
    role: Role,
}

#[derive(Serialize)]
struct SessionResponse<'a> {
    user: UserSummary<'a>,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
}

struct ValidSignup {
    name: PersonName,
    email: Email,
    password: Password,
    role: Role,
    specialization: Option<Specialization>,
    timezone: TimeZoneName,
}

fn validate_signup(body: SignupRequest) -> Result<ValidSignup, ApiError> {
    let name = PersonName::parse(&body.name)?;
    let email = Email::parse(&body.email)?;
    let password = Password::parse(body.password)?;
    let timezone = match body.timezone.as_deref() {
        Some(tz) => TimeZoneName::parse(tz)?,
        None => TimeZoneName::utc(),
    };
    let specialization = match (body.role, body.specialization.as_deref()) {
        (Role::Doctor, Some(s)) => Some(Specialization::parse(s)?),
        (Role::Doctor, None) => {
            return Err(ApiError::Unprocessable(
                "validation_failed",
                "specialization: is required for a doctor".into(),
            ))
        }
        (Role::Patient, Some(_)) => {
            return Err(ApiError::Unprocessable(
                "validation_failed",
                "specialization: only doctors have one".into(),
            ))
        }
        (Role::Patient, None) => None,
    };
    Ok(ValidSignup {
        name,
        email,
        password,
        role: body.role,
        specialization,
        timezone,
    })
}

fn session_response(
    state: &AppState,
    user: &UserRecord,
    refresh_token: String,
) -> Result<String, ApiError> {
    let access_token = state
        .issuer
        .access_token(user.id, user.role, state.clock.now())
        .map_err(ApiError::internal)?;
    serde_json::to_string(&SessionResponse {
        user: UserSummary {
            id: user.id,
            name: &user.name,
            email: &user.email,
            role: user.role,
        },
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.issuer.access_ttl_secs(),
    })
    .map_err(ApiError::internal)
}

#[tracing::instrument(name = "signup", skip_all)]
pub async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let signup = validate_signup(body.into_inner())?;
    // Fail fast on a taken email before paying for a hash; the unique index still
    // decides races.
    if state
        .store
        .find_user_by_email(signup.email.normalized())
        .await?
        .is_some()
    {
        return Err(ApiError::EmailTaken);
    }
    let password_hash = state.passwords.hash(signup.password).await?;
    let now = state.clock.now();
    let user_id = Uuid::now_v7();
    let refresh = state.issuer.refresh_token(now);
    let registered = events::user_registered(
        user_id,
        signup.role,
        signup.timezone.as_str(),
        now,
        &super::event_context(&req),
    );
    let user = state
        .store
        .create_user(
            NewUser {
                id: user_id,
                email: signup.email.as_str().to_owned(),
                email_normalized: signup.email.normalized().to_owned(),
                name: signup.name.as_str().to_owned(),
                role: signup.role,
                timezone: signup.timezone.as_str().to_owned(),
                password_hash,
                specialization: signup.specialization.map(|s| s.as_str().to_owned()),
                created_at: now,
            },
            registered,
            NewSession {
                user_id,
                token: refresh.stored,
            },
        )
        .await?;
    state.outbox_wake.notify_one();
    if user.role == Role::Doctor {
        state.doctor_directory.invalidate();
    }
    tracing::info!(user_id = %user.id, role = user.role.as_str(), "user signed up");
    Ok(HttpResponse::Created()
        .content_type("application/json")
        .body(session_response(&state, &user, refresh.token)?))
}

fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        if let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return ip.to_owned();
        }
    }
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string())
}

#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password } = body.into_inner();
    let email = Email::parse(&email)?;
    let ip = client_ip(&req, state.security.trust_forwarded_for);
    if let Some(retry) = state.ip_login_failures.exhausted(&ip) {
        return Err(ApiError::LoginLocked {
            retry_after_secs: retry.as_secs(),
        });
    }
    let now = state.clock.now();
    let window =
        TimeDelta::seconds(i64::try_from(state.security.login_lockout_secs).unwrap_or(900));
    let limit = state.security.login_failures_per_email as usize;
    let failures = state
        .store
        .recent_login_failures(
            email.normalized(),
            now - window - window,
            i64::from(state.security.login_failures_per_email),
        )
        .await?;
    if let Some(until) = lockout::locked_until(&failures, limit, window, now) {
        let retry_after_secs = u64::try_from((until - now).num_seconds()).unwrap_or(1);
        return Err(ApiError::LoginLocked { retry_after_secs });
    }

    let user = state.store.find_user_by_email(email.normalized()).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.passwords.verify(password, hash).await?;
    let Some(user) = user.filter(|_| password_ok) else {
        state
            .store
            .record_login_failure(email.normalized(), now, now - window - window)
            .await?;
        let _ = state.ip_login_failures.hit(&ip);
        tracing::info!("failed login");
        return Err(ApiError::InvalidCredentials);
    };
    if !failures.is_empty() {
        state.store.clear_login_failures(email.normalized()).await?;
    }
    let refresh = state.issuer.refresh_token(now);
    state
        .store
        .start_session(NewSession {
            user_id: user.id,
            token: refresh.stored,
        })
        .await?;
    tracing::info!(user_id = %user.id, "user signed in");
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(session_response(&state, &user, refresh.token)?))
}

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::InvalidRefreshToken);
    }
    let now = state.clock.now();
    let next = state.issuer.refresh_token(now);
    let outcome = state
        .store
        .rotate_refresh_token(&crate::tokens::hash_refresh_token(&token), next.stored)
        .await?;
    match outcome {
        RotateOutcome::Rotated(user) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(session_response(&state, &user, next.token)?)),
        RotateOutcome::Reused => {
            tracing::warn!("refresh token reused; its family is revoked");
            Err(ApiError::RefreshTokenReused)
        }
        RotateOutcome::Invalid => Err(ApiError::InvalidRefreshToken),
    }
}

#[tracing::instrument(name = "logout", skip_all, fields(user_id = %user.0.sub))]
pub async fn logout(
    user: Authenticated,
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    if !token.is_empty() && token.len() <= 256 {
        state
            .store
            .revoke_session(
                &crate::tokens::hash_refresh_token(&token),
                user.0.sub,
                state.clock.now(),
            )
            .await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
