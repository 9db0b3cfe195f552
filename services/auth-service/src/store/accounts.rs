//! Users and doctor profiles.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::outbox::{insert_event, OutboxEvent};
use super::schema::{assignments, doctor_profiles, users};
use super::sessions::{insert_session, NewSession};
use super::{Store, StoreError};
use crate::domain::Role;

#[diesel::declare_sql_function]
extern "SQL" {
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub name: String,
    pub role: Role,
    pub timezone: String,
    pub password_hash: String,
    pub specialization: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What login needs of a user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DoctorSummary {
    pub id: Uuid,
    pub name: String,
    pub specialization: String,
}

/// A user as `/users/me` shows them.
#[derive(Debug, Clone)]
pub struct UserProfile {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub timezone: String,
    pub specialization: Option<String>,
    pub doctor: Option<DoctorSummary>,
}

pub(super) fn parse_role(stored: &str) -> Result<Role, StoreError> {
    match stored {
        "patient" => Ok(Role::Patient),
        "doctor" => Ok(Role::Doctor),
        other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
    }
}

fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

impl Store {
    /// Creates the user, their doctor profile, the `user.registered` event and their
    /// first session, all or nothing.
    pub async fn create_user(
        &self,
        user: NewUser,
        registered: OutboxEvent,
        session: NewSession,
    ) -> Result<UserRecord, StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, StoreError, _>(async |conn| {
                diesel::insert_into(users::table)
                    .values((
                        users::id.eq(user.id),
                        users::email.eq(&user.email),
                        users::email_normalized.eq(&user.email_normalized),
                        users::name.eq(&user.name),
                        users::role.eq(user.role.as_str()),
                        users::timezone.eq(&user.timezone),
                        users::password_hash.eq(&user.password_hash),
                        users::created_at.eq(user.created_at),
                        users::updated_at.eq(user.created_at),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::EmailTaken
                        } else {
                            StoreError::Query(e)
                        }
                    })?;
                if let Some(specialization) = &user.specialization {
                    diesel::insert_into(doctor_profiles::table)
                        .values((
                            doctor_profiles::user_id.eq(user.id),
                            doctor_profiles::specialization.eq(specialization),
                        ))
                        .execute(conn)
                        .await?;
                }
                insert_event(conn, &registered).await?;
                insert_session(conn, &session).await?;
                Ok(())
            })
            .await;
        result?;
        Ok(UserRecord {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            password_hash: user.password_hash,
        })
    }

    pub async fn find_user_by_email(
        &self,
        email_normalized: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<(Uuid, String, String, String, String)> = users::table
            .filter(users::email_normalized.eq(email_normalized))
            .select((
                users::id,
                users::email,
                users::name,
                users::role,
                users::password_hash,
            ))
            .first(&mut conn)
            .await
            .optional()?;
        row.map(|(id, email, name, role, password_hash)| {
            Ok(UserRecord {
                id,
                email,
                name,
                role: parse_role(&role)?,
                password_hash,
            })
        })
        .transpose()
    }

    pub async fn user_profile(&self, user_id: Uuid) -> Result<Option<UserProfile>, StoreError> {
        let mut conn = self.conn().await?;
        load_profile(&mut conn, user_id).await
    }

    /// Changes name and/or time zone; a changed time zone also queues
    /// `user.timezone_changed`.
    pub async fn update_user(
        &self,
        user_id: Uuid,
        name: Option<String>,
        timezone: Option<String>,
        now: DateTime<Utc>,
        timezone_changed: impl FnOnce(&str) -> OutboxEvent + Send,
    ) -> Result<Option<UserProfile>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let current: Option<String> = users::table
                .find(user_id)
                .select(users::timezone)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(current_timezone) = current else {
                return Ok(None);
            };
            if let Some(name) = &name {
                diesel::update(users::table.find(user_id))
                    .set((users::name.eq(name), users::updated_at.eq(now)))
                    .execute(conn)
                    .await?;
            }
            if let Some(timezone) = timezone.as_deref().filter(|tz| *tz != current_timezone) {
                diesel::update(users::table.find(user_id))
                    .set((users::timezone.eq(timezone), users::updated_at.eq(now)))
                    .execute(conn)
                    .await?;
                insert_event(conn, &timezone_changed(timezone)).await?;
            }
            load_profile(conn, user_id).await
        })
        .await
    }

    /// Doctors in sign-up order, after the cursor, optionally of one specialization
    /// (case-insensitive).
    pub async fn list_doctors(
        &self,
        specialization: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DoctorSummary>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = users::table
            .inner_join(doctor_profiles::table)
            .select((users::id, users::name, doctor_profiles::specialization))
            .order(users::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(specialization) = specialization {
            query = query
                .filter(lower(doctor_profiles::specialization).eq(specialization.to_lowercase()));
        }
        if let Some(after) = after {
            query = query.filter(users::id.gt(after));
        }
        let rows: Vec<(Uuid, String, String)> = query.load(&mut conn).await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, specialization)| DoctorSummary {
                id,
                name,
                specialization,
            })
            .collect())
    }
}

pub(super) async fn find_doctor(
    conn: &mut AsyncPgConnection,
    doctor_id: Uuid,
) -> Result<Option<DoctorSummary>, StoreError> {
    let row: Option<(Uuid, String, String)> = users::table
        .inner_join(doctor_profiles::table)
        .filter(users::id.eq(doctor_id))
        .select((users::id, users::name, doctor_profiles::specialization))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(id, name, specialization)| DoctorSummary {
        id,
        name,
        specialization,
    }))
}

/// The user, their specialization (doctors) and their current doctor (patients), in
/// one round trip: `/users/me` is the hottest read there is. Built with the query
/// builder so diesel keeps it as a prepared statement.
async fn load_profile(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> Result<Option<UserProfile>, StoreError> {
    let (doctor, doctor_profile) = diesel::alias!(
        users as current_doctor,
        doctor_profiles as current_doctor_profile
    );
    let row: Option<ProfileRow> = users::table
        .left_join(doctor_profiles::table)
        .left_join(
            assignments::table.on(assignments::patient_id
                .eq(users::id)
                .and(assignments::ended_at.is_null())),
        )
        .left_join(doctor.on(doctor.field(users::id).eq(assignments::doctor_id)))
        .left_join(
            doctor_profile.on(doctor_profile
                .field(doctor_profiles::user_id)
                .eq(doctor.field(users::id))),
        )
        .filter(users::id.eq(user_id))
        .select((
            users::id,
            users::email,
            users::name,
            users::role,
            users::timezone,
            doctor_profiles::specialization.nullable(),
            doctor.field(users::id).nullable(),
            doctor.field(users::name).nullable(),
            doctor_profile
                .field(doctor_profiles::specialization)
                .nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((
        id,
        email,
        name,
        role,
        timezone,
        specialization,
        doctor_id,
        doctor_name,
        doctor_specialization,
    )) = row
    else {
        return Ok(None);
    };
    let doctor = match (doctor_id, doctor_name, doctor_specialization) {
        (Some(id), Some(name), Some(specialization)) => Some(DoctorSummary {
            id,
            name,
            specialization,
        }),
        _ => None,
    };
    Ok(Some(UserProfile {
        id,
        email,
        name,
        role: parse_role(&role)?,
        timezone,
        specialization,
        doctor,
    }))
}

/// id, email, name, role, time zone, specialization, and the current doctor's id,
/// name and specialization.
type ProfileRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);
