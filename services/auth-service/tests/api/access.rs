//! `GET /internal/v1/patients/{id}/access`: what other services ask before they serve a
//! doctor, over HTTP and through the platform's `AccessAuthority` client.

use hospital_platform::access::{http_client, AccessAuthority, AccessError, PatientAccess};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{error_code, spawn_app, unique_email, TestApp};

fn access_path(patient_id: &str) -> String {
    format!("/internal/v1/patients/{patient_id}/access")
}

async fn access(app: &TestApp, patient_id: &str, token: Option<&str>) -> reqwest::Response {
    app.get(&access_path(patient_id), token).await
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_patient_and_their_doctor_now_are_confirmed_and_a_switch_shows_at_once() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let first = app.signup_doctor(&unique_email("d1"), "Cardiology").await;
    let second = app.signup_doctor(&unique_email("d2"), "Dermatology").await;

    // No doctor yet: the patient is confirmed, with no doctor.
    let response = access(&app, &patient.id, Some(&patient.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "an answer about this instant is not kept"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["patient_id"], patient.id.as_str());
    assert!(body["doctor_id"].is_null(), "{body}");
    assert!(body["assignment_changed_at"].is_null(), "{body}");
    assert_eq!(
        error_code(
            access(&app, &patient.id, Some(&first.access_token)).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "forbidden"
    );

    assert_eq!(
        app.select_doctor(&patient, &first.id).await.status(),
        StatusCode::OK
    );
    for token in [&patient.access_token, &first.access_token] {
        let response = access(&app, &patient.id, Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["patient_id"], patient.id.as_str());
        assert_eq!(body["doctor_id"], first.id.as_str());
        let changed_at = body["assignment_changed_at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(changed_at).is_ok(),
            "{changed_at}"
        );
    }

    // Each switch is seen by the very next question, with no waiting.
    let doctors = [&first, &second];
    for round in 1..=6 {
        let old = doctors[(round + 1) % 2];
        let new = doctors[round % 2];
        assert_eq!(
            app.select_doctor(&patient, &new.id).await.status(),
            StatusCode::OK
        );
        let refused = access(&app, &patient.id, Some(&old.access_token)).await;
        assert_eq!(
            error_code(refused, StatusCode::FORBIDDEN).await,
            "forbidden",
            "round {round}"
        );
        let response = access(&app, &patient.id, Some(&new.access_token)).await;
        assert_eq!(response.status(), StatusCode::OK, "round {round}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["doctor_id"], new.id.as_str(), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_get_403_unknown_patients_404_bad_ids_400_and_no_token_401() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let other_patient = app.signup_patient(&unique_email("o")).await;
    let doctor = app.signup_doctor(&unique_email("d"), "Cardiology").await;
    let other_doctor = app.signup_doctor(&unique_email("x"), "Cardiology").await;
    app.select_doctor(&patient, &doctor.id).await;

    for stranger in [&other_patient, &other_doctor] {
        let response = access(&app, &patient.id, Some(&stranger.access_token)).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "forbidden"
        );
    }
    // No patient has the id: a random one, or a doctor's.
    for id in [Uuid::now_v7().to_string(), doctor.id.clone()] {
        for caller in [&doctor, &patient] {
            let response = access(&app, &id, Some(&caller.access_token)).await;
            assert_eq!(
                error_code(response, StatusCode::NOT_FOUND).await,
                "patient_not_found",
                "{id}"
            );
        }
    }
    for bad in ["not-a-uuid", "42", "%00"] {
        let response = access(&app, bad, Some(&doctor.access_token)).await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "invalid_id",
            "{bad}"
        );
    }
    // Without a valid token nothing is said, not even whether the id is well formed.
    for id in [patient.id.as_str(), "not-a-uuid"] {
        let response = access(&app, id, None).await;
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "missing_token"
        );
        let response = access(&app, id, Some("not.a.token")).await;
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "invalid_token"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_platform_client_reads_every_answer() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let doctor = app.signup_doctor(&unique_email("d"), "Cardiology").await;
    let other_doctor = app.signup_doctor(&unique_email("x"), "Cardiology").await;
    app.select_doctor(&patient, &doctor.id).await;
    let authority = AccessAuthority::new(app.address.clone(), http_client().unwrap());
    let patient_id = uuid(&patient.id);

    let expected = PatientAccess {
        patient_id,
        doctor_id: Some(uuid(&doctor.id)),
    };
    assert_eq!(
        authority
            .confirm(&doctor.access_token, patient_id)
            .await
            .unwrap(),
        expected
    );
    assert_eq!(
        authority
            .confirm(&patient.access_token, patient_id)
            .await
            .unwrap(),
        expected
    );
    assert!(matches!(
        authority
            .confirm(&other_doctor.access_token, patient_id)
            .await,
        Err(AccessError::Forbidden)
    ));
    assert!(matches!(
        authority
            .confirm(&doctor.access_token, Uuid::now_v7())
            .await,
        Err(AccessError::PatientNotFound)
    ));
    assert!(matches!(
        authority.confirm("not.a.token", patient_id).await,
        Err(AccessError::Unauthorized)
    ));
    // A base URL where no access route lives answers a plain 404: not a verdict.
    let misconfigured =
        AccessAuthority::new(format!("{}/elsewhere", app.address), http_client().unwrap());
    assert!(matches!(
        misconfigured
            .confirm(&doctor.access_token, patient_id)
            .await,
        Err(AccessError::Unavailable(_))
    ));
}
