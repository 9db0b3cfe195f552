//! A doctor switch takes effect at once: the reminder-service asks the auth-service, which
//! owns the assignments, before it serves a doctor, so the moment `PUT /patients/me/doctor`
//! returns, the old doctor is refused and the new one served, whatever the
//! `assignment.changed` event is still doing. Without the auth-service, doctors are
//! refused (503) and patients still served.

use std::time::Duration;

use hospital_test_support::eventually;
use serde_json::Value;

use crate::auth_service::AuthUser;
use crate::helpers::{spawn_app_with_auth_service, TestApp, WITHIN};
use crate::reminders::give_steps;

/// The patient routes a doctor may read.
fn doctor_paths(patient: &AuthUser) -> [String; 3] {
    [
        format!("/patients/{}/actionable-steps", patient.id),
        format!("/patients/{}/reminders", patient.id),
        format!("/patients/{}/adherence", patient.id),
    ]
}

/// A patient known here, with steps.
async fn patient_with_steps(app: &TestApp) -> AuthUser {
    let patient = app.auth().signup_patient().await;
    app.wait_until_known_patient(&patient).await;
    give_steps(app, patient.id).await;
    patient
}

#[tokio::test]
async fn a_switched_doctor_loses_access_the_moment_the_switch_returns() {
    const SWITCHES: usize = 25;
    let app = spawn_app_with_auth_service().await;
    let auth = app.auth();
    let patient = patient_with_steps(&app).await;
    let doctors = [auth.signup_doctor().await, auth.signup_doctor().await];
    let paths = doctor_paths(&patient);
    assert_eq!(auth.select_doctor(&patient, &doctors[0]).await, 200);

    for switch in 1..=SWITCHES {
        let old = &doctors[(switch + 1) % 2];
        let new = &doctors[switch % 2];
        assert_eq!(
            auth.select_doctor(&patient, new).await,
            200,
            "switch {switch}"
        );
        // No waiting: the very next requests.
        for path in &paths {
            let refused = app.get_with(path, old).await;
            assert_eq!(refused.status(), 403, "switch {switch}: old doctor, {path}");
            let body: Value = refused.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden", "{body}");
            let served = app.get_with(path, new).await;
            assert_eq!(served.status(), 200, "switch {switch}: new doctor, {path}");
        }
    }

    // The events flowed too: this service's own copy catches up, though access never
    // waited for it.
    let last = &doctors[SWITCHES % 2];
    app.wait_for_user(patient.id, "the last assignment", |user| {
        user.doctor_id == Some(last.id)
    })
    .await;
    for path in &paths {
        assert_eq!(app.get_with(path, &patient).await.status(), 200, "{path}");
    }
    app.stop_and_clean().await;
}

#[tokio::test]
async fn without_the_auth_service_doctors_get_503_and_patients_are_still_served() {
    let mut app = spawn_app_with_auth_service().await;
    let patient = patient_with_steps(&app).await;
    let doctor = app.auth().signup_doctor().await;
    assert_eq!(app.auth().select_doctor(&patient, &doctor).await, 200);
    let paths = doctor_paths(&patient);
    // Both served while the auth-service runs (and its keys are fetched).
    for path in &paths {
        assert_eq!(app.get_with(path, &doctor).await.status(), 200, "{path}");
        assert_eq!(app.get_with(path, &patient).await.status(), 200, "{path}");
    }

    app.auth_mut().stop().await;
    for path in &paths {
        let (status, body) = app.json_with(path, &doctor).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
        // A patient reading their own data needs no one else.
        let (status, body) = app.json_with(path, &patient).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Refused fast, not after the confirmation's whole timeout.
    let started = std::time::Instant::now();
    assert_eq!(app.get_with(&paths[0], &doctor).await.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(1));
    let metrics = eventually(WITHIN, "the refusals counted", || async {
        let text = app.get("/metrics").await.text().await.unwrap();
        text.contains(r#"outcome="unavailable"} 4"#).then_some(text)
    })
    .await;
    assert!(metrics.contains(r#"outcome="allowed"} 3"#), "{metrics}");
    app.stop_and_clean().await;
}
