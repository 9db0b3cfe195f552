//! Builds the llm-worker from its settings: the `note.submitted` consumer and the HTTP
//! server of its probes and metrics.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use hospital_crypto::Keyring;
use hospital_events::{
    BrokerConfig, ConsumerConfig, ConsumerError, Event, EventConsumer, ExtractionFailed, Message,
    NoteSubmitted, Publisher, QueueSpec, StepsExtracted,
};
use hospital_platform::error::route_not_found;
use hospital_platform::health::{self, Readiness};
use hospital_platform::metrics::HttpMetrics;
use hospital_platform::request::request_context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::extraction::{self, Context};
use crate::extractor::NoteExtractor;
use crate::metrics::ExtractionMetrics;
use crate::provider::ModelClient;
use crate::settings::Settings;

/// The name of the service: connection name on the broker, metrics label.
pub const SERVICE: &str = "llm-worker";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Listen(#[from] hospital_platform::server::BindError),
    #[error("the keyring does not load: {0}")]
    Keys(#[from] hospital_crypto::KeyringError),
    #[error("the provider's client: {0}")]
    Provider(#[from] crate::provider::ClientError),
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

fn broker_config(settings: &Settings) -> BrokerConfig {
    BrokerConfig::new(settings.events.amqp_url.clone())
        .with_exchange(settings.events.exchange.clone())
        .with_connection_name(SERVICE)
        .with_connect_timeout(Duration::from_secs(3))
}

/// The consumer configuration the worker runs (tests delete its queues with it).
pub fn consumer_config(settings: &Settings) -> ConsumerConfig {
    ConsumerConfig::new(
        broker_config(settings),
        QueueSpec::for_event::<NoteSubmitted>(&settings.events.queue_prefix)
            .with_prefetch(settings.events.prefetch),
    )
    .with_concurrency(settings.events.concurrency)
}

pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
    consumer: JoinHandle<Result<(), ConsumerError>>,
    publisher: Arc<Publisher>,
}

impl Application {
    /// Starts the consumer and binds the port (0 picks a free one); nothing is served until
    /// [`Application::run_until_stopped`].
    #[allow(clippy::unused_async)] // async like every service's `build`
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let keyring = Arc::new(Keyring::from_spec(&settings.crypto.keys)?);
        // Steps and failures must reach the notes- and reminder-service's queues: a returned
        // one is retried through the delay queues, then parked, never silently lost.
        let publisher = Arc::new(
            Publisher::new(broker_config(&settings))
                .requiring_route(StepsExtracted::ROUTING_KEY)
                .requiring_route(ExtractionFailed::ROUTING_KEY),
        );
        let shutdown = CancellationToken::new();
        let mut http_metrics = HttpMetrics::new(SERVICE);
        let extraction_metrics = Arc::new(ExtractionMetrics::register(http_metrics.registry_mut()));
        let model =
            ModelClient::from_settings(&settings.extraction, Arc::clone(&extraction_metrics))?;
        let extractor = NoteExtractor::new(model, extraction_metrics);
        tracing::info!(provider = extractor.provider_name(), settings = ?settings.extraction, "extraction provider");
        let context = Context {
            keyring,
            publisher: Arc::clone(&publisher),
            extractor,
        };
        let consumer = EventConsumer::new(consumer_config(&settings), move |message: Message| {
            extraction::note_submitted(context.clone(), message)
        });
        let consuming = consumer.status();
        let consumer = tokio::spawn(consumer.run(shutdown.clone()));

        // Ready while it can publish and is subscribed to its queue (a worker that cannot
        // take notes is not ready, whatever the broker says).
        let readiness = web::Data::new(
            Readiness::default()
                .with(Arc::clone(&publisher) as _)
                .with(Arc::new(consuming)),
        );
        let metrics = web::Data::new(http_metrics);
        let (listener, port) = hospital_platform::server::bind(&settings.http)?;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(request_context))
                .app_data(readiness.clone())
                .app_data(metrics.clone())
                .configure(health::configure)
                .default_service(web::to(route_not_found))
        })
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout_secs);
        // Probes and metrics only: one worker is plenty.
        server = server.workers(if settings.http.workers > 0 {
            settings.http.workers
        } else {
            1
        });
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
            consumer,
            publisher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cancelling this token stops the worker gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then lets the consumer finish and
    /// acknowledge the notes it holds, and closes the broker link.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result =
            hospital_platform::server::serve_until_cancelled(self.server, self.shutdown.clone())
                .await;
        self.shutdown.cancel();
        match self.consumer.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "the consumer stopped with an error"),
            Err(err) => tracing::error!(error = %err, "the consumer task failed"),
        }
        self.publisher.close().await;
        result
    }
}
