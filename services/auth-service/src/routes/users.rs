//! The signed-in user's own account.

use actix_web::{web, HttpRequest, HttpResponse};
use hospital_platform::token::Authenticated;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{PersonName, Role, TimeZoneName};
use crate::error::ApiError;
use crate::events;
use crate::state::AppState;
use crate::store::{DoctorSummary, UserProfile};

#[derive(Serialize)]
struct MeResponse {
    id: Uuid,
    name: String,
    email: String,
    role: Role,
    timezone: String,
    #[serde(flatten)]
    role_details: RoleDetails,
}

/// What only one role has.
#[derive(Serialize)]
#[serde(untagged)]
enum RoleDetails {
    /// A patient's doctor, or null before they choose one.
    Patient {
        doctor: Option<DoctorSummary>,
    },
    Doctor {
        specialization: Option<String>,
    },
}

impl From<UserProfile> for MeResponse {
    fn from(profile: UserProfile) -> Self {
        Self {
            role_details: match profile.role {
                Role::Patient => RoleDetails::Patient {
                    doctor: profile.doctor,
                },
                Role::Doctor => RoleDetails::Doctor {
                    specialization: profile.specialization,
                },
            },
            id: profile.id,
            name: profile.name,
            email: profile.email,
            role: profile.role,
            timezone: profile.timezone,
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateMeRequest {
    name: Option<String>,
    timezone: Option<String>,
}

fn account_gone() -> ApiError {
    ApiError::NotFound("user_not_found", "This account no longer exists.")
}

#[tracing::instrument(name = "get_me", skip_all, fields(user_id = %user.0.sub))]
pub async fn me(user: Authenticated, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let profile = state
        .store
        .user_profile(user.0.sub)
        .await?
        .ok_or_else(account_gone)?;
    Ok(HttpResponse::Ok().json(MeResponse::from(profile)))
}

#[tracing::instrument(name = "update_me", skip_all, fields(user_id = %user.0.sub))]
pub async fn update_me(
    req: HttpRequest,
    user: Authenticated,
    state: web::Data<AppState>,
    body: web::Json<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let UpdateMeRequest { name, timezone } = body.into_inner();
    if name.is_none() && timezone.is_none() {
        return Err(ApiError::Unprocessable(
            "validation_failed",
            "send name and/or timezone".into(),
        ));
    }
    let name = name.as_deref().map(PersonName::parse).transpose()?;
    let timezone = timezone.as_deref().map(TimeZoneName::parse).transpose()?;
    let now = state.clock.now();
    let context = super::event_context(&req);
    let user_id = user.0.sub;
    let profile = state
        .store
        .update_user(
            user_id,
            name.map(|n| n.as_str().to_owned()),
            timezone.map(|tz| tz.as_str().to_owned()),
            now,
            |tz| events::timezone_changed(user_id, tz, now, &context),
        )
        .await?
        .ok_or_else(account_gone)?;
    state.outbox_wake.notify_one();
    Ok(HttpResponse::Ok().json(MeResponse::from(profile)))
}
