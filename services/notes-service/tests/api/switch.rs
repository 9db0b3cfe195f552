//! A doctor switch takes effect at once: after `PUT /patients/me/doctor` returns, the doctor
//! the patient left is refused and the new one served, on the very next request.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn after_each_of_many_switches_the_old_doctor_is_refused_and_the_new_one_served_at_once() {
    let app = spawn_app().await;
    let (patient, first) = app.patient_and_doctor().await;
    let second = app.signup("doctor").await;
    let note = app
        .accepted_note(&first, patient.id, "Take vitamin D 1000 IU daily.")
        .await;
    let list = format!("/patients/{}/notes", patient.id);
    let one = format!("/patients/{}/notes/{note}", patient.id);

    let (mut old, mut new) = (&first, &second);
    for round in 0..20 {
        app.choose_doctor(&patient, new).await;
        // No waiting: the very next requests.
        for path in [&list, &one] {
            let refused = app.get_as(old, path).await;
            assert_eq!(
                refused.status(),
                StatusCode::FORBIDDEN,
                "round {round}: old doctor read {path}"
            );
            let served = app.get_as(new, path).await;
            assert_eq!(
                served.status(),
                StatusCode::OK,
                "round {round}: new doctor read {path}"
            );
        }
        let refused = app
            .submit_note(old, patient.id, "Stop the vitamin D.")
            .await;
        assert_eq!(
            refused.status(),
            StatusCode::FORBIDDEN,
            "round {round}: old doctor wrote"
        );
        let served = app
            .submit_note(new, patient.id, &format!("Round {round}: continue."))
            .await;
        assert_eq!(
            served.status(),
            StatusCode::ACCEPTED,
            "round {round}: new doctor wrote"
        );
        std::mem::swap(&mut old, &mut new);
    }
    let notes = app.json_as(&patient, &list).await;
    assert_eq!(
        notes["items"].as_array().unwrap().len(),
        21,
        "only the assigned doctors' notes"
    );
    app.stop_and_clean().await;
}

#[tokio::test]
async fn with_the_auth_service_unreachable_doctors_are_refused_and_patients_still_served() {
    let mut app = spawn_app().await;
    let (patient, doctor) = app.patient_and_doctor().await;
    let note = app
        .accepted_note(&doctor, patient.id, "Take vitamin D 1000 IU daily.")
        .await;
    // The same service, confirming doctors with an auth-service that does not answer (the
    // token keys are still those of the real one).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    app.settings.auth.url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let settings = app.settings.clone();
    let app = app.restart_notes(settings).await;
    let path = format!("/patients/{}/notes/{note}", patient.id);
    let response = app.get_as(&doctor, &path).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = app.submit_note(&doctor, patient.id, "Anything.").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = app.get_as(&patient, &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.stop_and_clean().await;
}
