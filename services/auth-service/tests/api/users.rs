use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, unique_email};

async fn patch_me(app: &crate::helpers::TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url("/users/me"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn me_shows_a_patients_doctor_and_a_doctors_specialization() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let doctor = app.signup_doctor(&unique_email("d"), "Cardiology").await;

    let me: Value = app
        .get("/users/me", Some(&patient.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "patient");
    assert_eq!(me["timezone"], "UTC");
    assert!(me["doctor"].is_null());

    app.select_doctor(&patient, &doctor.id).await;
    let me: Value = app
        .get("/users/me", Some(&patient.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["doctor"]["id"], doctor.id.as_str());
    assert_eq!(me["doctor"]["specialization"], "Cardiology");

    let me: Value = app
        .get("/users/me", Some(&doctor.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "doctor");
    assert_eq!(me["specialization"], "Cardiology");
    assert!(me.get("doctor").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_me_changes_name_and_timezone_and_announces_the_timezone() {
    let mut app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("tz")).await;
    assert_eq!(
        app.next_event().await.unwrap().event_type,
        "user.registered"
    );

    let response = patch_me(
        &app,
        &patient.access_token,
        json!({"name": "New Name", "timezone": "America/New_York"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["name"], "New Name");
    assert_eq!(me["timezone"], "America/New_York");
    let event = app.next_event().await.expect("timezone event");
    assert_eq!(event.event_type, "user.timezone_changed");
    assert_eq!(
        event.data,
        json!({"user_id": patient.id, "timezone": "America/New_York"})
    );

    // The same zone again, or only a name: no event.
    patch_me(
        &app,
        &patient.access_token,
        json!({"timezone": "America/New_York"}),
    )
    .await;
    patch_me(&app, &patient.access_token, json!({"name": "Another"})).await;
    app.assert_no_event().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_updates_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("bad")).await;
    for body in [
        json!({"timezone": "Nowhere/Land"}),
        json!({}),
        json!({"name": ""}),
        json!({"name": "ok", "timezone": "Bad/Zone"}),
        json!({"timezone": 5}),
    ] {
        let response = patch_me(&app, &patient.access_token, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
    }
    let me: Value = app
        .get("/users/me", Some(&patient.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "Pat Patient");
    assert_eq!(me["timezone"], "UTC");
    assert_eq!(app.count_rows("outbox").await, 1);
    let anonymous = app
        .client
        .patch(app.url("/users/me"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(anonymous, StatusCode::UNAUTHORIZED).await,
        "missing_token"
    );
}
