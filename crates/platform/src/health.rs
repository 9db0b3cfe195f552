//! `GET /healthz` (the process is alive), `GET /readyz` (its stores and broker answer)
//! and `GET /metrics`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use crate::metrics::HttpMetrics;

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// One dependency that must answer for the service to be ready.
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &'static str;
    fn check(&self) -> CheckFuture<'_>;
}

/// A check made of a name and a probe function, for the common case of "call the
/// store's ping": `Readiness::default().with_check("postgres", move || store.ping())`
/// (the closure owns clones of what it probes).
struct FnCheck<F> {
    name: &'static str,
    probe: F,
}

impl<F, Fut, E> ReadinessCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self) -> CheckFuture<'_> {
        let probe = (self.probe)();
        Box::pin(async move { probe.await.map_err(|e| e.to_string()) })
    }
}

/// The checks `/readyz` runs, concurrently, each bounded by a timeout.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Readiness {
    #[must_use]
    pub fn with(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.checks.push(check);
        self
    }

    /// Adds a check named `name` that passes when `probe()` resolves to `Ok`.
    #[must_use]
    pub fn with_check<F, Fut, E>(self, name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        self.with(Arc::new(FnCheck { name, probe }))
    }

    /// Runs every check; `Ok` with each check's result when all pass.
    pub async fn run(&self) -> (bool, Map<String, Value>) {
        let results = futures_util::future::join_all(self.checks.iter().map(|c| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("timed out".to_owned()),
            };
            (c.name(), outcome)
        }))
        .await;
        let mut all_ok = true;
        let mut report = Map::new();
        for (name, outcome) in results {
            match outcome {
                Ok(()) => {
                    report.insert(name.to_owned(), json!("ok"));
                }
                Err(e) => {
                    all_ok = false;
                    tracing::warn!(check = name, error = %e, "readiness check failed");
                    report.insert(name.to_owned(), json!("unavailable"));
                }
            }
        }
        (all_ok, report)
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "alive"}))
}

async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let (ready, checks) = readiness.run().await;
    if ready {
        HttpResponse::Ok().json(json!({"status": "ready", "checks": checks}))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "error": {"code": "not_ready", "message": "A dependency of this service is unavailable."},
            "checks": checks,
        }))
    }
}

async fn metrics(metrics: web::Data<HttpMetrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}

/// Mounts `/healthz`, `/readyz` and `/metrics`. Needs `web::Data<Readiness>` and
/// `web::Data<HttpMetrics>` in app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}
