use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, unique_email};

#[tokio::test(flavor = "multi_thread")]
async fn doctors_are_listed_in_pages_and_filtered_by_specialization() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let mut cardiologists = HashSet::new();
    for i in 0..5 {
        let specialization = if i % 2 == 0 {
            "Cardiology"
        } else {
            "Dermatology"
        };
        let doctor = app
            .signup_doctor(&unique_email(&format!("d{i}")), specialization)
            .await;
        if i % 2 == 0 {
            cardiologists.insert(doctor.id);
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/doctors?limit=2&cursor={c}"),
            None => "/doctors?limit=2".to_owned(),
        };
        let page: Value = app
            .get(&path, Some(&patient.access_token))
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "every doctor once: {seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);

    let page: Value = app
        .get(
            "/doctors?specialization=cardiology",
            Some(&patient.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: HashSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, cardiologists);
    assert!(page["next_cursor"].is_null());
    let item = &page["items"][0];
    assert!(item["name"].is_string() && item["specialization"] == "Cardiology");
    assert!(
        item.get("email").is_none(),
        "the doctor list shows no emails"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_list_queries_get_422_and_anonymous_401() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
        "cursor=AAAA",
    ] {
        let response = app
            .get(&format!("/doctors?{query}"), Some(&patient.access_token))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
    }
    assert_eq!(
        app.get("/doctors", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_selects_and_replaces_a_doctor_and_access_follows() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let first = app.signup_doctor(&unique_email("d1"), "Cardiology").await;
    let second = app.signup_doctor(&unique_email("d2"), "Oncology").await;

    let response = app.select_doctor(&patient, &first.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["doctor"]["id"], first.id.as_str());
    assert_eq!(body["doctor"]["specialization"], "Cardiology");

    let patients: Value = app
        .get("/doctors/me/patients", Some(&first.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patients["items"].as_array().unwrap().len(), 1);
    assert_eq!(patients["items"][0]["id"], patient.id.as_str());
    assert_eq!(patients["items"][0]["email"], patient.email.as_str());
    assert!(patients["items"][0]["assigned_at"].is_string());

    assert_eq!(
        app.select_doctor(&patient, &second.id).await.status(),
        StatusCode::OK
    );
    let first_list: Value = app
        .get("/doctors/me/patients", Some(&first.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        first_list["items"].as_array().unwrap().is_empty(),
        "the old doctor loses the patient"
    );
    let second_list: Value = app
        .get("/doctors/me/patients", Some(&second.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second_list["items"][0]["id"], patient.id.as_str());
    // History is kept: two assignments, one current.
    assert_eq!(app.count_rows("assignments").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn role_rules_and_unknown_doctors() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let other_patient = app.signup_patient(&unique_email("p2")).await;
    let doctor = app.signup_doctor(&unique_email("d"), "Cardiology").await;

    let by_doctor = app.select_doctor(&doctor, &doctor.id).await;
    assert_eq!(
        error_code(by_doctor, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    let patients_by_patient = app
        .get("/doctors/me/patients", Some(&patient.access_token))
        .await;
    assert_eq!(
        error_code(patients_by_patient, StatusCode::FORBIDDEN).await,
        "forbidden"
    );

    let unknown = app
        .select_doctor(&patient, &uuid::Uuid::now_v7().to_string())
        .await;
    assert_eq!(
        error_code(unknown, StatusCode::NOT_FOUND).await,
        "doctor_not_found"
    );
    let a_patient = app.select_doctor(&patient, &other_patient.id).await;
    assert_eq!(
        error_code(a_patient, StatusCode::NOT_FOUND).await,
        "doctor_not_found"
    );
    let malformed = app.select_doctor(&patient, "not-a-uuid").await;
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app
        .client
        .put(app.url("/patients/me/doctor"))
        .json(&json!({"doctor_id": doctor.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("assignments").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_doctor_shows_up_in_the_list_at_once() {
    let app = spawn_app().await;
    let patient = app.signup_patient(&unique_email("p")).await;
    let count = |page: &Value| page["items"].as_array().unwrap().len();
    let before: Value = app
        .get("/doctors", Some(&patient.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count(&before), 0);
    app.signup_doctor(&unique_email("d"), "Neurology").await;
    let after: Value = app
        .get("/doctors", Some(&patient.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count(&after), 1, "the cached page was dropped on sign-up");
}
