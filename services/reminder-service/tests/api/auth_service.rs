//! A real auth-service beside the reminder-service, on its own fresh PostgreSQL database,
//! publishing on the test's exchange: users sign up through it, patients choose doctors
//! through it, and the reminder-service verifies its tokens and asks it about doctors.

use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_test_support::{amqp_url, TestDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

/// A user signed up through the auth-service, with the access token it issued.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub token: String,
}

pub struct AuthService {
    pub address: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _db: TestDatabase,
}

impl Drop for AuthService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl AuthService {
    /// Starts one on a free port, publishing its events on `exchange`.
    pub async fn start(exchange: &str) -> Self {
        let db = TestDatabase::create("reminder_auth")
            .await
            .expect("a test database");
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = signing
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap()
            .to_string();
        let mut settings = auth_service::Settings::default();
        settings.http.port = 0;
        settings.http.workers = 1;
        settings.http.shutdown_timeout_secs = 1;
        settings.database.url.clone_from(&db.url);
        settings.database.pool_size = 4;
        settings.events.amqp_url = amqp_url();
        exchange.clone_into(&mut settings.events.exchange);
        settings.jwt.private_key_file = None;
        settings.jwt.private_key_pem = Some(pem);
        settings.security.bcrypt_cost = 4;
        let app = auth_service::Application::build(settings)
            .await
            .expect("auth-service builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let shutdown = app.shutdown_token();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            shutdown,
            task: Some(task),
            _db: db,
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.address)
    }

    async fn signup(&self, body: Value) -> AuthUser {
        let response = self
            .client
            .post(format!("{}/auth/signup", self.address))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let session: Value = response.json().await.unwrap();
        AuthUser {
            id: session["user"]["id"].as_str().unwrap().parse().unwrap(),
            token: session["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn signup_patient(&self) -> AuthUser {
        self.signup(json!({
            "name": "Pat Patient", "email": unique_email("patient"), "password": PASSWORD,
            "role": "patient",
        }))
        .await
    }

    pub async fn signup_doctor(&self) -> AuthUser {
        self.signup(json!({
            "name": "Dr Ada", "email": unique_email("doctor"), "password": PASSWORD,
            "role": "doctor", "specialization": "Cardiology",
        }))
        .await
    }

    /// `PUT /patients/me/doctor`: the status once the auth-service has answered.
    pub async fn select_doctor(&self, patient: &AuthUser, doctor: &AuthUser) -> StatusCode {
        self.client
            .put(format!("{}/patients/me/doctor", self.address))
            .bearer_auth(&patient.token)
            .json(&json!({"doctor_id": doctor.id}))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Stops it and waits until it no longer answers.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the auth-service stops")
                .unwrap()
                .unwrap();
        }
    }
}

fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}
