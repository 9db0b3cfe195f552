//! Builds the notes-service from its settings: the store, the consumers, the outbox relay,
//! the HTTP server.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use hospital_crypto::Keyring;
use hospital_events::{
    AssignmentChanged, BrokerConfig, ConsumerConfig, ConsumerError, Event, EventConsumer,
    ExtractionFailed, HandlerError, Message, NoteSubmitted, OutboxRelay, Publisher, QueueSpec,
    StepsExtracted, UserRegistered,
};
use hospital_platform::access::{self, AccessAuthority, AccessMetrics};
use hospital_platform::error::{json_config, path_config, query_config, route_not_found};
use hospital_platform::health::{self, Readiness};
use hospital_platform::metrics::HttpMetrics;
use hospital_platform::request::request_context;
use hospital_platform::token::TokenVerifier;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::events::{self, Context};
use crate::relay::NotesOutbox;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::{NoteStore, Notes, StoreError};

/// The name of the service: connection name on the broker, metrics label.
pub const SERVICE: &str = "notes-service";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Listen(#[from] hospital_platform::server::BindError),
    #[error("the note store: {0}")]
    Store(#[from] StoreError),
    #[error("the keyring does not load: {0}")]
    Keys(#[from] hospital_crypto::KeyringError),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

type ConsumerTask = JoinHandle<Result<(), ConsumerError>>;

fn broker_config(settings: &Settings) -> BrokerConfig {
    BrokerConfig::new(settings.events.amqp_url.clone())
        .with_exchange(settings.events.exchange.clone())
        .with_connection_name(SERVICE)
        .with_connect_timeout(Duration::from_secs(3))
}

/// The consumer configurations the service runs (tests delete their queues with them).
pub fn consumer_configs(settings: &Settings) -> Vec<ConsumerConfig> {
    let broker = broker_config(settings);
    let prefix = &settings.events.queue_prefix;
    vec![
        ConsumerConfig::new(
            broker.clone(),
            QueueSpec::for_event::<UserRegistered>(prefix),
        ),
        ConsumerConfig::new(
            broker.clone(),
            QueueSpec::for_event::<AssignmentChanged>(prefix),
        ),
        ConsumerConfig::new(
            broker.clone(),
            QueueSpec::for_event::<StepsExtracted>(prefix),
        ),
        ConsumerConfig::new(broker, QueueSpec::for_event::<ExtractionFailed>(prefix)),
    ]
}

fn spawn_consumer<E, F, Fut>(
    settings: &Settings,
    context: &Context,
    cancel: &CancellationToken,
    handle: F,
) -> ConsumerTask
where
    E: Event,
    F: Fn(Context, Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let queue = QueueSpec::for_event::<E>(&settings.events.queue_prefix);
    let context = context.clone();
    let consumer = EventConsumer::new(
        ConsumerConfig::new(broker_config(settings), queue),
        move |message: Message| handle(context.clone(), message),
    );
    tokio::spawn(consumer.run(cancel.clone()))
}

pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
    consumers: Vec<ConsumerTask>,
    relay: JoinHandle<()>,
    publisher: Arc<Publisher>,
    store: Notes,
}

impl Application {
    /// Connects the store and prepares it (migrations or indexes), starts the consumers and
    /// the outbox relay, binds the port (0 picks a free one); nothing is served until
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    /// [`Application::build`] with the given clock (tests move it).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let keyring = Keyring::from_spec(&settings.crypto.keys)?;
        let store = Notes::connect(&settings.database).await?;
        tracing::info!(store = store.kind(), "note store ready");

        let http_client =
            access::http_client().map_err(|e| StartupError::HttpClient(e.to_string()))?;
        let verifier = web::Data::new(TokenVerifier::remote(
            settings.auth.jwks_url.clone(),
            http_client.clone(),
        ));

        let broker = broker_config(&settings);
        // A note must reach the llm-worker's queue: on a broker where it has not declared it
        // yet, the outbox keeps the note and tries again.
        let publisher =
            Arc::new(Publisher::new(broker).requiring_route(NoteSubmitted::ROUTING_KEY));
        let shutdown = CancellationToken::new();
        let outbox_wake = Arc::new(Notify::new());
        let relay = tokio::spawn({
            let outbox = NotesOutbox::new(store.clone(), clock.clone());
            let publisher = Arc::clone(&publisher);
            let wake = Arc::clone(&outbox_wake);
            let cancel = shutdown.clone();
            async move { OutboxRelay::run(outbox, publisher, wake, cancel).await }
        });

        let context = Context {
            store: store.clone(),
            clock: clock.clone(),
        };
        let consumers = vec![
            spawn_consumer::<UserRegistered, _, _>(
                &settings,
                &context,
                &shutdown,
                events::user_registered,
            ),
            spawn_consumer::<AssignmentChanged, _, _>(
                &settings,
                &context,
                &shutdown,
                events::assignment_changed,
            ),
            spawn_consumer::<StepsExtracted, _, _>(
                &settings,
                &context,
                &shutdown,
                events::steps_extracted,
            ),
            spawn_consumer::<ExtractionFailed, _, _>(
                &settings,
                &context,
                &shutdown,
                events::extraction_failed,
            ),
        ];

        let readiness = web::Data::new(
            Readiness::default()
                .with_check(store.kind(), {
                    let store = store.clone();
                    move || {
                        let store = store.clone();
                        async move { store.ping().await }
                    }
                })
                .with(Arc::clone(&publisher) as _),
        );
        let mut http_metrics = HttpMetrics::new(SERVICE);
        let access_metrics = Arc::new(AccessMetrics::register(http_metrics.registry_mut()));
        let metrics = web::Data::new(http_metrics);
        let auth_url = settings.auth.url.clone();
        let state = web::Data::new(AppState {
            store: store.clone(),
            keyring,
            clock,
            notes: settings.notes.clone(),
            outbox_wake,
        });

        let (listener, port) = hospital_platform::server::bind(&settings.http)?;
        let body_limit = settings.http.body_limit_bytes;
        let mut server = HttpServer::new(move || {
            // One pool per worker: its connections are driven on the worker's own runtime.
            let client = access::http_client().unwrap_or_else(|_| http_client.clone());
            let authority = web::Data::new(
                AccessAuthority::new(auth_url.clone(), client)
                    .with_metrics(Arc::clone(&access_metrics)),
            );
            App::new()
                .wrap(from_fn(request_context))
                .app_data(json_config(body_limit))
                .app_data(path_config())
                .app_data(query_config())
                .app_data(readiness.clone())
                .app_data(metrics.clone())
                .app_data(verifier.clone())
                .app_data(state.clone())
                .app_data(authority)
                .configure(health::configure)
                .configure(routes::configure)
                .default_service(web::to(route_not_found))
        })
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout_secs);
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                address: format!("port {port}"),
                source,
            })?
            .run();
        Ok(Self {
            port,
            server,
            shutdown,
            consumers,
            relay,
            publisher,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> Notes {
        self.store.clone()
    }

    /// Cancelling this token stops the service gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then finishes in-flight requests, lets
    /// the consumers acknowledge what they hold, stops the relay and closes the broker link.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result =
            hospital_platform::server::serve_until_cancelled(self.server, self.shutdown.clone())
                .await;
        self.shutdown.cancel();
        for consumer in self.consumers {
            match consumer.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(error = %err, "a consumer stopped with an error"),
                Err(err) => tracing::error!(error = %err, "a consumer task failed"),
            }
        }
        if let Err(err) = self.relay.await {
            tracing::error!(error = %err, "the outbox relay task failed");
        }
        self.publisher.close().await;
        result
    }
}
