//! Writing and reading notes: who may, what is stored, what each read leaves in the log.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_code, spawn_app};

const NOTE: &str =
    "Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 7 days.";

#[tokio::test]
async fn the_doctor_writes_and_both_read_newest_first_with_every_read_logged() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;

    let response = app.submit_note(&doctor, patient.id, NOTE).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "processing");
    let first: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let second = app
        .accepted_note(&doctor, patient.id, "Walk for 30 minutes every day.")
        .await;

    let list = app
        .json_as(&patient, &format!("/patients/{}/notes", patient.id))
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second.to_string());
    assert_eq!(items[1]["id"], first.to_string());
    assert_eq!(items[1]["text"], NOTE);
    assert_eq!(items[1]["doctor_id"], doctor.id.to_string());
    assert_eq!(items[1]["status"], "processing");
    assert!(items[1]["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(list["next_cursor"].is_null());

    let one = app
        .json_as(&doctor, &format!("/patients/{}/notes/{first}", patient.id))
        .await;
    assert_eq!(one["text"], NOTE);
    assert_eq!(one["id"], first.to_string());

    // Three reads: two by the patient (the list), one by the doctor; newest first.
    let log = app
        .json_as(
            &patient,
            &format!("/patients/{}/notes/access-log", patient.id),
        )
        .await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{log}");
    assert_eq!(entries[0]["reader_id"], doctor.id.to_string());
    assert_eq!(entries[0]["reader_role"], "doctor");
    assert_eq!(entries[0]["note_id"], first.to_string());
    let patient_reads: Vec<&Value> = entries[1..].iter().map(|e| &e["note_id"]).collect();
    assert!(patient_reads.contains(&&json!(first.to_string())));
    assert!(patient_reads.contains(&&json!(second.to_string())));
    assert!(entries[1..].iter().all(|e| e["reader_role"] == "patient"));

    // Only the patient reads who read their notes.
    let response = app
        .get_as(
            &doctor,
            &format!("/patients/{}/notes/access-log", patient.id),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn pages_of_notes_and_of_the_access_log_follow_their_cursors() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.accepted_note(&doctor, patient.id, &format!("Note {i}."))
                .await,
        );
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut path = format!("/patients/{}/notes?limit=2", patient.id);
    loop {
        let page = app.json_as(&patient, &path).await;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/patients/{}/notes?limit=2&cursor={cursor}", patient.id);
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let first = app
        .json_as(
            &patient,
            &format!("/patients/{}/notes/access-log?limit=3", patient.id),
        )
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .json_as(
            &patient,
            &format!(
                "/patients/{}/notes/access-log?limit=3&cursor={cursor}",
                patient.id
            ),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("cursor=zz", "invalid_cursor"),
    ] {
        let response = app
            .get_as(&patient, &format!("/patients/{}/notes?{query}", patient.id))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error_code(response).await, code);
    }
    app.stop_and_clean().await;
}

#[tokio::test]
async fn only_the_current_doctor_writes_and_only_the_patient_and_that_doctor_read() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let (stranger_doctor, other_patient) =
        tokio::join!(app.signup("doctor"), app.signup("patient"));
    let note = app.accepted_note(&doctor, patient.id, NOTE).await;

    // Writes: another doctor, the patient, another patient: 403, nothing stored.
    for (who, expected) in [
        (&stranger_doctor, StatusCode::FORBIDDEN),
        (&patient, StatusCode::FORBIDDEN),
        (&other_patient, StatusCode::FORBIDDEN),
    ] {
        let response = app
            .submit_note(who, patient.id, "Take aspirin daily.")
            .await;
        assert_eq!(response.status(), expected);
        assert_eq!(error_code(response).await, "forbidden");
    }
    // Reads of the list and of one note.
    for who in [&stranger_doctor, &other_patient] {
        for path in [
            format!("/patients/{}/notes", patient.id),
            format!("/patients/{}/notes/{note}", patient.id),
            format!("/patients/{}/notes/access-log", patient.id),
        ] {
            let response = app.get_as(who, &path).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        }
    }
    let list = app
        .json_as(&patient, &format!("/patients/{}/notes", patient.id))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Unknown patients (random ids, a doctor's id) are 404 for everyone.
    for unknown in [Uuid::now_v7(), doctor.id] {
        let response = app.submit_note(&doctor, unknown, NOTE).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{unknown}");
        let response = app
            .get_as(&patient, &format!("/patients/{unknown}/notes"))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // An unknown note of the patient, or the note under another patient: 404.
    let response = app
        .get_as(
            &patient,
            &format!("/patients/{}/notes/{}", patient.id, Uuid::now_v7()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "note_not_found");
    let response = app
        .get_as(
            &other_patient,
            &format!("/patients/{}/notes/{note}", other_patient.id),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop_and_clean().await;
}

#[tokio::test]
async fn bad_input_gets_its_documented_error_and_stores_nothing() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let notes = format!("/patients/{}/notes", patient.id);
    let post = |body: String, content_type: &'static str| {
        app.http
            .post(app.url(&notes))
            .bearer_auth(&doctor.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(String, &str, StatusCode, &str)> = vec![
        (
            json!({"text": ""}).to_string(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"text": "   \n\t"}).to_string(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"text": "a".repeat(20_001)}).to_string(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"text": "x".repeat(140_000)}).to_string(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            json!({}).to_string(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"text": 42}).to_string(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "{\"text\": ".to_owned(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "text=hello".to_owned(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (body, content_type, status, code) in cases {
        let response = post(body.clone(), content_type).await.unwrap();
        assert_eq!(response.status(), status, "{}", &body[..body.len().min(40)]);
        assert_eq!(error_code(response).await, code);
    }
    // 20,000 characters of three bytes each is a note.
    let response = app
        .submit_note(&doctor, patient.id, &"é".repeat(20_000))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Bad ids, bad keys, no or forged tokens.
    let response = app.submit_note(&doctor, Uuid::nil(), NOTE).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.get_as(&patient, "/patients/not-a-uuid/notes").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "invalid_id");
    let response = app
        .get_as(&patient, &format!("/patients/{}/notes/42", patient.id))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app
        .submit_note_with_key(&doctor, patient.id, NOTE, "has spaces in it")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "invalid_idempotency_key");
    let response = app.http.get(app.url(&notes)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let mut forged = patient.token.clone();
    forged.pop();
    forged.push(if patient.token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let response = app
        .http
        .get(app.url(&notes))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let list = app.json_as(&patient, &notes).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "only the valid note"
    );
    app.stop_and_clean().await;
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_same_note_and_stores_nothing() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let first = app
        .submit_note_with_key(&doctor, patient.id, NOTE, "visit-42")
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();

    // Sequential and concurrent retries: one note.
    let retry = app
        .submit_note_with_key(&doctor, patient.id, NOTE, "visit-42")
        .await;
    assert_eq!(retry.status(), StatusCode::ACCEPTED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    let racing = futures_like_join(&app, &doctor, patient.id, "visit-43").await;
    assert!(racing.iter().all(|id| id == &racing[0]), "{racing:?}");

    // The same key for other text, or another patient: refused, nothing stored.
    let response = app
        .submit_note_with_key(&doctor, patient.id, "Something else.", "visit-42")
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "idempotency_key_reused");

    // Keys are per doctor: another doctor's same key is another note.
    let other_patient = app.signup("patient").await;
    let other_doctor = app.signup("doctor").await;
    app.choose_doctor(&other_patient, &other_doctor).await;
    let response = app
        .submit_note_with_key(&other_doctor, other_patient.id, NOTE, "visit-42")
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let other: Value = response.json().await.unwrap();
    assert_ne!(other["id"], first["id"]);

    let list = app
        .json_as(&patient, &format!("/patients/{}/notes", patient.id))
        .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "visit-42 and visit-43"
    );

    // After 24 hours the key is free again.
    app.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 1));
    let later = app
        .submit_note_with_key(&doctor, patient.id, NOTE, "visit-42")
        .await;
    assert_eq!(later.status(), StatusCode::ACCEPTED);
    let later: Value = later.json().await.unwrap();
    assert_ne!(later["id"], first["id"]);
    app.stop_and_clean().await;
}

/// Eight submissions with one key at once; their note ids.
async fn futures_like_join(
    app: &crate::helpers::TestApp,
    doctor: &crate::helpers::User,
    patient: Uuid,
    key: &str,
) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .http
            .post(app.url(&format!("/patients/{patient}/notes")))
            .bearer_auth(&doctor.token)
            .header("Idempotency-Key", key)
            .json(&json!({"text": "Rest for two days."}));
        tasks.spawn(async move { request.send().await.unwrap() });
    }
    let mut ids = Vec::new();
    while let Some(response) = tasks.join_next().await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids
}
