use std::time::Duration;

use auth_service::clock::Clock;
use auth_service::keys::SigningKeys;
use auth_service::{Application, Settings};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hospital_events::{BrokerConfig, QueueSpec, RawEnvelope, Subscriber};
use hospital_test_support::{amqp_url, unique_name, TestDatabase};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Clock,

    pub db: TestDatabase,
    pub events: Subscriber,
    pub signing_pem: String,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A signed-up user: ids and tokens.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub fn new_signing_pem() -> String {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap()
        .to_string()
}

pub fn test_settings(db: &TestDatabase, exchange: &str, amqp: &str, pem: &str) -> Settings {
    let mut settings = Settings::default();
    settings.http.port = 0;
    settings.http.workers = 2;
    settings.database.url.clone_from(&db.url);
    settings.database.pool_size = 4;
    amqp.clone_into(&mut settings.events.amqp_url);
    exchange.clone_into(&mut settings.events.exchange);
    settings.jwt.private_key_file = None;
    settings.jwt.private_key_pem = Some(pem.to_owned());
    settings.security.bcrypt_cost = 4;
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customise: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDatabase::create("auth_test")
        .await
        .expect("a test database");
    let exchange = unique_name("test.auth");
    let pem = new_signing_pem();
    let mut settings = test_settings(&db, &exchange, &amqp_url(), &pem);
    customise(&mut settings);
    // Subscribe before the app can publish, so the test sees every event.
    let events = subscribe_all(&exchange).await;
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let clock = app.clock();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        clock,

        db,
        events,
        signing_pem: pem,
        shutdown,
    }
}

/// A durable, auto-deleted queue bound to every routing key of `exchange`.
pub async fn subscribe_all(exchange: &str) -> Subscriber {
    let config = BrokerConfig::new(amqp_url()).with_exchange(exchange);
    Subscriber::connect(
        &config,
        &QueueSpec::new(unique_name("test.capture"), ["#"]).auto_delete(),
    )
    .await
    .expect("subscribe to the test exchange")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn signup_raw(&self, body: &Value) -> Response {
        self.post_json("/auth/signup", body, None).await
    }

    pub async fn signup_patient(&self, email: &str) -> TestUser {
        self.signup(
            json!({"name": "Pat Patient", "email": email, "password": PASSWORD, "role": "patient"}),
        )
        .await
    }

    pub async fn signup_doctor(&self, email: &str, specialization: &str) -> TestUser {
        self.signup(json!({
            "name": format!("Dr {specialization}"), "email": email, "password": PASSWORD,
            "role": "doctor", "specialization": specialization
        }))
        .await
    }

    pub async fn signup(&self, body: Value) -> TestUser {
        let response = self.signup_raw(&body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        let session: Value = response.json().await.unwrap();
        TestUser {
            id: session["user"]["id"].as_str().unwrap().to_owned(),
            email: session["user"]["email"].as_str().unwrap().to_owned(),
            access_token: session["access_token"].as_str().unwrap().to_owned(),
            refresh_token: session["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    pub async fn select_doctor(&self, patient: &TestUser, doctor_id: &str) -> Response {
        self.client
            .put(self.url("/patients/me/doctor"))
            .bearer_auth(&patient.access_token)
            .json(&json!({"doctor_id": doctor_id}))
            .send()
            .await
            .unwrap()
    }

    /// The next event on the test's exchange within a few seconds.
    pub async fn next_event(&mut self) -> Option<RawEnvelope> {
        let message = self
            .events
            .next_message(Duration::from_secs(5))
            .await
            .unwrap()?;
        message.ack().await.unwrap();
        Some(message.decode_raw().unwrap())
    }

    /// Asserts no event arrives within a short while.
    pub async fn assert_no_event(&mut self) {
        let message = self
            .events
            .next_message(Duration::from_millis(500))
            .await
            .unwrap();
        assert!(
            message.is_none(),
            "unexpected event: {:?}",
            message.map(|m| m.decode_raw())
        );
    }

    /// Counts rows in a table of the test database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.db.url).await.unwrap();
        let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut conn)
            .await
            .unwrap();
        count.n
    }

    pub fn signing_keys(&self) -> SigningKeys {
        SigningKeys::from_pem(&self.signing_pem).unwrap()
    }
}

/// Asserts the documented error shape and returns the code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"].as_str().unwrap().to_owned()
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}
