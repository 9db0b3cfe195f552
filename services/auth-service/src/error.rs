//! Every way a request to auth-service can fail, each with its status and code.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use hospital_platform::token::TokenError;
use hospital_platform::HttpError;

use crate::domain::InvalidField;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("{1}")]
    BadRequest(&'static str, &'static str),
    #[error("{0}")]
    Unprocessable(&'static str, String),
    #[error("email already registered")]
    EmailTaken,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("too many failed logins")]
    LoginLocked { retry_after_secs: u64 },
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found: {1}")]
    NotFound(&'static str, &'static str),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("password checks are saturated")]
    Busy,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::passwords::HashError> for ApiError {
    fn from(err: crate::passwords::HashError) -> Self {
        match err {
            crate::passwords::HashError::Busy => ApiError::Busy,
            crate::passwords::HashError::Failed(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::EmailTaken => ApiError::EmailTaken,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    #[track_caller]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn to_http(&self) -> HttpError {
        match self {
            ApiError::Invalid(field) => {
                HttpError::unprocessable("validation_failed", field.to_string())
            }
            ApiError::BadRequest(code, message) => HttpError::bad_request(code, *message),
            ApiError::Unprocessable(code, message) => {
                HttpError::unprocessable(code, message.clone())
            }
            ApiError::EmailTaken => HttpError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this email already exists.",
            ),
            ApiError::InvalidCredentials => {
                HttpError::unauthorized("invalid_credentials", "The email or password is wrong.")
            }
            ApiError::LoginLocked { retry_after_secs } => HttpError {
                retry_after: Some((*retry_after_secs).max(1)),
                ..HttpError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_login_attempts",
                    "Too many failed sign-in attempts; try again later.",
                )
            },
            ApiError::InvalidRefreshToken => HttpError::unauthorized(
                "invalid_refresh_token",
                "The refresh token is not valid; sign in again.",
            ),
            ApiError::RefreshTokenReused => HttpError::unauthorized(
                "refresh_token_reused",
                "This refresh token was already used; every session from it has been signed out.",
            ),
            ApiError::Forbidden(message) => HttpError::forbidden(*message),
            ApiError::NotFound(code, message) => {
                HttpError::new(StatusCode::NOT_FOUND, *code, *message)
            }
            ApiError::Token(err) => err.clone().into(),
            ApiError::Busy => HttpError {
                retry_after: Some(1),
                ..HttpError::service_unavailable(
                    "Sign-in is busy right now; try again in a moment.",
                )
            },
            ApiError::Internal(cause) => HttpError::internal(cause),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            other => other.to_http().status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.to_http().error_response()
    }
}
