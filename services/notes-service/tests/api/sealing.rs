//! Notes at rest: a moved or tampered envelope fails closed, and `rewrap` moves every note to
//! the newest key across a rotation without changing a word.

use hospital_crypto::Keyring;
use hospital_notes_service::store::{NoteStore, Notes};
use hospital_test_support::TestDatabase;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_code, spawn_app, spawn_app_with, test_settings};

#[tokio::test]
async fn a_moved_or_tampered_note_fails_closed() {
    let app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let first = app
        .accepted_note(&doctor, patient.id, "Take metformin 500 mg twice a day.")
        .await;
    let second = app
        .accepted_note(&doctor, patient.id, "Check your feet every evening.")
        .await;
    let store: &Notes = &app.store;
    let a = store.note(first).await.unwrap().unwrap();
    let b = store.note(second).await.unwrap().unwrap();

    // The first note's envelope moved onto the second note: bound to another record.
    assert!(store.replace_text(second, &b.text, &a.text).await.unwrap());
    let response = app
        .get_as(&doctor, &format!("/patients/{}/notes/{second}", patient.id))
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(response).await, "note_unreadable");

    // One flipped bit of ciphertext.
    let mut tampered = a.text.clone();
    tampered.ciphertext[0] ^= 1;
    assert!(store.replace_text(first, &a.text, &tampered).await.unwrap());
    let response = app
        .get_as(&patient, &format!("/patients/{}/notes/{first}", patient.id))
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(response).await, "note_unreadable");

    // In a list, the unreadable notes are marked and carry no text; the list still answers.
    let untouched = app.accepted_note(&doctor, patient.id, "Walk daily.").await;
    let list = app
        .json_as(&patient, &format!("/patients/{}/notes", patient.id))
        .await;
    for item in list["items"].as_array().unwrap() {
        let readable = item["id"] == untouched.to_string();
        assert_eq!(item["text"].is_string(), readable, "{item}");
        assert_eq!(item["unreadable"].as_bool().unwrap_or(false), !readable);
    }
    app.stop_and_clean().await;
}

#[tokio::test]
async fn rewrap_moves_every_note_to_the_newest_key_without_changing_its_text() {
    let old_key = Keyring::generate_key().unwrap();
    let new_key = Keyring::generate_key().unwrap();
    let db = TestDatabase::create("notes_rewrap")
        .await
        .expect("a test database");
    let mut settings = test_settings(&db);
    settings.crypto.keys = format!("old:{}", old_key.as_str());
    let app = spawn_app_with(settings.clone(), db).await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let texts = [
        "Take lisinopril 10 mg once daily.",
        "Book a blood test next week.",
    ];
    let mut ids: Vec<Uuid> = Vec::new();
    for text in texts {
        ids.push(app.accepted_note(&doctor, patient.id, text).await);
    }

    // Rotation: the new key is added (last = current); `notes-service rewrap`, the
    // command an operator runs, moves both notes.
    let rotated = format!("old:{},new:{}", old_key.as_str(), new_key.as_str());
    let report = rewrap_command(&settings.database.url, &rotated);
    assert_eq!(
        (
            &report["rewrapped"],
            &report["current"],
            &report["unreadable"]
        ),
        (&json!(2), &json!(0), &json!(0))
    );
    let again = rewrap_command(&settings.database.url, &rotated);
    assert_eq!(
        (&again["rewrapped"], &again["current"]),
        (&json!(0), &json!(2)),
        "a second run has nothing to do"
    );
    let store = app.store.clone();
    for id in &ids {
        assert_eq!(store.note(*id).await.unwrap().unwrap().text.kid, "new");
    }

    // The old key retired: a service holding only the new key reads every note as written.
    let mut only_new = settings;
    only_new.crypto.keys = format!("new:{}", new_key.as_str());
    let reader = app.restart_notes(only_new).await;
    for (id, text) in ids.iter().zip(texts) {
        let note = reader
            .json_as(&patient, &format!("/patients/{}/notes/{id}", patient.id))
            .await;
        assert_eq!(note["text"], text);
    }
    reader.stop_and_clean().await;
}

/// Runs `notes-service rewrap` against `database_url` with `keys`; its JSON report.
fn rewrap_command(database_url: &str, keys: &str) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_notes-service"))
        .arg("rewrap")
        .env_clear()
        .env("RUST_LOG", "warn")
        .env("NOTES__DATABASE__URL", database_url)
        .env("NOTES__CRYPTO__KEYS", keys)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rewrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
