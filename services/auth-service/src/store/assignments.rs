//! Which doctor each patient has chosen. One current assignment per patient (a
//! partial unique index), every earlier one kept with the time it ended.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::accounts::find_doctor;
use super::outbox::{insert_event, OutboxEvent};
use super::schema::{assignments, users};
use super::{new_id, DoctorSummary, Store, StoreError};
use crate::domain::Role;

pub enum SelectOutcome {
    /// The doctor is now the patient's; the event was queued.
    Selected(DoctorSummary),
    /// The doctor already was the patient's; nothing changed.
    Unchanged(DoctorSummary),
    DoctorNotFound,
}

/// A patient's doctor now, as the services that hold the patient's data must see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAssignment {
    pub doctor_id: Option<Uuid>,
    /// When the current doctor was chosen; `None` while the patient has none.
    pub assigned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct PatientOfDoctor {
    pub assignment_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub assigned_at: DateTime<Utc>,
}

impl Store {
    /// Makes `doctor_id` the patient's doctor, ending the current assignment, and
    /// queues `assignment.changed` built from the previous doctor's id.
    pub async fn select_doctor(
        &self,
        patient_id: Uuid,
        doctor_id: Uuid,
        now: DateTime<Utc>,
        changed: impl FnOnce(Option<Uuid>) -> OutboxEvent + Send,
    ) -> Result<SelectOutcome, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async |conn| {
            // Serialise selections by the same patient.
            let _patient: Uuid = users::table
                .find(patient_id)
                .select(users::id)
                .for_update()
                .first(conn)
                .await?;
            let Some(doctor) = find_doctor(conn, doctor_id).await? else {
                return Ok(SelectOutcome::DoctorNotFound);
            };
            let current: Option<(Uuid, Uuid)> = assignments::table
                .filter(assignments::patient_id.eq(patient_id))
                .filter(assignments::ended_at.is_null())
                .select((assignments::id, assignments::doctor_id))
                .first(conn)
                .await
                .optional()?;
            if let Some((_, current_doctor)) = current {
                if current_doctor == doctor_id {
                    return Ok(SelectOutcome::Unchanged(doctor));
                }
            }
            if let Some((assignment_id, _)) = current {
                diesel::update(assignments::table.find(assignment_id))
                    .set(assignments::ended_at.eq(now))
                    .execute(conn)
                    .await?;
            }
            diesel::insert_into(assignments::table)
                .values((
                    assignments::id.eq(new_id()),
                    assignments::patient_id.eq(patient_id),
                    assignments::doctor_id.eq(doctor_id),
                    assignments::assigned_at.eq(now),
                ))
                .execute(conn)
                .await?;
            insert_event(conn, &changed(current.map(|(_, previous)| previous))).await?;
            Ok(SelectOutcome::Selected(doctor))
        })
        .await
    }

    /// The patient's current assignment, `None` when no patient has this id. One
    /// query, on every doctor request of every service holding patient data: the user by
    /// primary key, joined to the current assignment through the partial unique index
    /// `assignments_one_current_per_patient`. It reads the committed state, so a
    /// `select_doctor` that returned is always seen.
    pub async fn current_assignment(
        &self,
        patient_id: Uuid,
    ) -> Result<Option<CurrentAssignment>, StoreError> {
        let mut conn = self.conn().await?;
        let row: Option<(Option<Uuid>, Option<DateTime<Utc>>)> = users::table
            .left_join(
                assignments::table.on(assignments::patient_id
                    .eq(users::id)
                    .and(assignments::ended_at.is_null())),
            )
            .filter(users::id.eq(patient_id))
            .filter(users::role.eq(Role::Patient.as_str()))
            .select((
                assignments::doctor_id.nullable(),
                assignments::assigned_at.nullable(),
            ))
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.map(|(doctor_id, assigned_at)| CurrentAssignment {
            doctor_id,
            assigned_at,
        }))
    }

    /// The doctor's current patients, in the order they were assigned.
    pub async fn patients_of(
        &self,
        doctor_id: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<PatientOfDoctor>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = assignments::table
            .inner_join(users::table.on(users::id.eq(assignments::patient_id)))
            .filter(assignments::doctor_id.eq(doctor_id))
            .filter(assignments::ended_at.is_null())
            .select((
                assignments::id,
                users::id,
                users::name,
                users::email,
                assignments::assigned_at,
            ))
            .order(assignments::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(assignments::id.gt(after));
        }
        let rows: Vec<(Uuid, Uuid, String, String, DateTime<Utc>)> = query.load(&mut conn).await?;
        Ok(rows
            .into_iter()
            .map(
                |(assignment_id, id, name, email, assigned_at)| PatientOfDoctor {
                    assignment_id,
                    id,
                    name,
                    email,
                    assigned_at,
                },
            )
            .collect())
    }
}
