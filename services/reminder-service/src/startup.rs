//! Builds the reminder-service from its settings: Redis, the event consumers, the HTTP server.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use hospital_crypto::Keyring;
use hospital_events::{
    AssignmentChanged, BrokerConfig, ConsumerConfig, ConsumerError, Event, EventConsumer,
    HandlerError, Message, Publisher, QueueSpec, StepsExtracted, UserRegistered,
    UserTimezoneChanged,
};
use hospital_platform::access::{self, AccessAuthority, AccessMetrics};
use hospital_platform::error::{path_config, query_config, route_not_found};
use hospital_platform::health::{self, Readiness};
use hospital_platform::metrics::HttpMetrics;
use hospital_platform::request::request_context;
use hospital_platform::token::TokenVerifier;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::dispatch::{DispatchSettings, Dispatcher, Wake};
use crate::events::{self, Context};
use crate::metrics::DispatchMetrics;
use crate::planner::{Planner, Policy};
use crate::routes::{self, AppState};
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// The name of the service: connection name on the broker, metrics label.
pub const SERVICE: &str = "reminder-service";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Listen(#[from] hospital_platform::server::BindError),
    #[error(transparent)]
    Redis(#[from] StoreError),
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

/// The consumer of `E` on `<queue_prefix>.<E::TYPE>`, handled by `handle`, started as a task
/// that stops when `cancel` fires.
fn spawn_consumer<E, F, Fut>(
    settings: &Settings,
    broker: &BrokerConfig,
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
        ConsumerConfig::new(broker.clone(), queue),
        move |message: Message| handle(context.clone(), message),
    );
    tokio::spawn(consumer.run(cancel.clone()))
}

/// The consumer configurations the service runs, e.g. for tests to delete their queues.
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
            QueueSpec::for_event::<UserTimezoneChanged>(prefix),
        ),
        ConsumerConfig::new(
            broker.clone(),
            QueueSpec::for_event::<AssignmentChanged>(prefix),
        ),
        ConsumerConfig::new(broker, QueueSpec::for_event::<StepsExtracted>(prefix)),
    ]
}

fn broker_config(settings: &Settings) -> BrokerConfig {
    BrokerConfig::new(settings.events.amqp_url.clone())
        .with_exchange(settings.events.exchange.clone())
        .with_connection_name(SERVICE)
        .with_connect_timeout(Duration::from_secs(3))
}

pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
    consumers: Vec<ConsumerTask>,
    dispatchers: Vec<JoinHandle<()>>,
    publisher: Arc<Publisher>,
    dispatch_publishers: Vec<Arc<Publisher>>,
    store: Store,
}

impl Application {
    /// Prepares Redis (lazily: a Redis that is down is reported by `/readyz`, not here),
    /// starts the consumers and binds the port (0 picks a free one); nothing is served until
    /// [`Application::run_until_stopped`].
    // Async like every service's `build`, so that callers need not change when start-up
    // gains a step that waits.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::System).await
    }

    /// [`Application::build`] with the given clock (tests move a manual one).
    #[allow(clippy::unused_async, clippy::too_many_lines)]
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let store = Store::connect(&settings.redis.url, &settings.redis.key_prefix)?
            .with_record_form(settings.redis.record_form);
        let keyring = Keyring::from_spec(&settings.crypto.keys)?;
        let http_client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StartupError::HttpClient(e.to_string()))?;
        let verifier = web::Data::new(TokenVerifier::remote(
            settings.auth.jwks_url.clone(),
            http_client,
        ));
        let broker = broker_config(&settings);
        let shutdown = CancellationToken::new();

        let (listener, port) = hospital_platform::server::bind(&settings.http)?;

        let publisher = Arc::new(Publisher::new(broker.clone()));
        let reminders = settings.reminders.clone();
        let planner = Planner::new(
            store.clone(),
            clock,
            Policy {
                grace_secs: i64::from(reminders.grace_minutes) * 60,
                lookahead: reminders.lookahead,
            },
        );
        let wake = Wake::shared(store.clone());
        let readiness = web::Data::new(
            Readiness::default()
                .with_check("redis", {
                    let store = store.clone();
                    move || {
                        let store = store.clone();
                        async move { store.ping().await }
                    }
                })
                .with(Arc::clone(&publisher) as _),
        );
        let mut http_metrics = HttpMetrics::new(SERVICE);
        let dispatch_metrics = Arc::new(DispatchMetrics::register(http_metrics.registry_mut()));
        let access_metrics = Arc::new(AccessMetrics::register(http_metrics.registry_mut()));
        let access_client =
            access::http_client().map_err(|e| StartupError::HttpClient(e.to_string()))?;
        let auth_url = settings.auth.url.clone();
        let metrics = web::Data::new(http_metrics);
        let state = web::Data::new(AppState {
            store: store.clone(),
            planner: planner.clone(),
            keyring,
            wake: wake.clone(),
            reminders: reminders.clone(),
        });

        let mut server = HttpServer::new(move || {
            // One pool per worker: connections are driven on the worker's own runtime.
            let client = access::http_client().unwrap_or_else(|_| access_client.clone());
            let authority = web::Data::new(
                AccessAuthority::new(auth_url.clone(), client)
                    .with_metrics(Arc::clone(&access_metrics)),
            );
            App::new()
                .wrap(from_fn(request_context))
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
        // A client that goes away closes its live feed at once, not at the next heartbeat.
        .h1_allow_half_closed(false)
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

        let context = Context {
            store: store.clone(),
            planner: planner.clone(),
            wake: wake.clone(),
        };
        let consumers = vec![
            spawn_consumer::<UserRegistered, _, _>(
                &settings,
                &broker,
                &context,
                &shutdown,
                events::user_registered,
            ),
            spawn_consumer::<UserTimezoneChanged, _, _>(
                &settings,
                &broker,
                &context,
                &shutdown,
                events::timezone_changed,
            ),
            spawn_consumer::<AssignmentChanged, _, _>(
                &settings,
                &broker,
                &context,
                &shutdown,
                events::assignment_changed,
            ),
            spawn_consumer::<StepsExtracted, _, _>(
                &settings,
                &broker,
                &context,
                &shutdown,
                events::steps_extracted,
            ),
        ];

        let dispatcher = Dispatcher::new(
            store.clone(),
            planner,
            Arc::clone(&publisher),
            DispatchSettings {
                batch: reminders.batch,
                lease: Duration::from_secs(reminders.lease_secs),
                feed_max_len: reminders.feed_max_len,
                max_idle: Duration::from_secs(reminders.max_idle_secs),
                claim_ahead: Duration::from_millis(reminders.claim_ahead_ms),
                due_events: reminders.due_events,
            },
            wake.clone(),
            dispatch_metrics,
        );
        // Each dispatcher publishes on a connection of its own: the broker serves a channel
        // from one process, so one shared channel caps every dispatcher together.
        let mut dispatch_publishers = Vec::with_capacity(reminders.dispatchers);
        let mut dispatchers: Vec<JoinHandle<()>> = (0..reminders.dispatchers)
            .map(|_| {
                let publisher = Arc::new(Publisher::new(broker.clone()));
                dispatch_publishers.push(Arc::clone(&publisher));
                tokio::spawn(
                    dispatcher
                        .clone()
                        .with_publisher(publisher)
                        .run(shutdown.clone()),
                )
            })
            .collect();
        dispatchers.push(tokio::spawn(wake.clone().listen(shutdown.clone())));

        Ok(Self {
            port,
            server,
            shutdown,
            consumers,
            dispatchers,
            publisher,
            dispatch_publishers,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Cancelling this token stops the service gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then finishes in-flight requests, lets
    /// the consumers finish and acknowledge what they hold, and closes the broker link.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result =
            hospital_platform::server::serve_until_cancelled(self.server, self.shutdown.clone())
                .await;
        self.shutdown.cancel();
        for dispatcher in self.dispatchers {
            if let Err(err) = dispatcher.await {
                tracing::error!(error = %err, "a dispatcher task failed");
            }
        }
        for consumer in self.consumers {
            match consumer.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(error = %err, "a consumer stopped with an error"),
                Err(err) => tracing::error!(error = %err, "a consumer task failed"),
            }
        }
        self.publisher.close().await;
        for publisher in self.dispatch_publishers {
            publisher.close().await;
        }
        result
    }
}
