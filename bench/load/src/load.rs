//! The load: `connections` closed-loop workers, each on its own keep-alive
//! connection, sending the mix of operations in equal shares (reads of a path with a
//! random user's access token, or note writes and reads of a random patient, see
//! `ops`); and, when asked, an open-loop login load on a fixed schedule beside them.
//!
//! Timeline: warm-up (nothing recorded), then the measured window. A read counts
//! when it starts and finishes inside the window. A login counts when it is
//! scheduled inside the window; its latency runs from its scheduled instant (not
//! from when it was sent), so a client that falls behind cannot hide the delay.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::Args;
use crate::http::{bearer, Conn, Pool, Target};
use crate::ops::{CarePair, Op};
use crate::seed::UsersFile;
use crate::watch::{GroupStats, MachineStats, ProcessStats, Watch};

/// Latencies are recorded in microseconds, up to a minute, to 3 significant digits.
fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("creating a histogram")
}

/// Milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[allow(clippy::struct_field_names)] // the unit belongs in the JSON keys
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathStats {
    pub path: String,
    pub requests: u64,
    /// Answers with another status than the operation's expected one (200, or 202 for a
    /// note written).
    #[serde(alias = "non_2xx")]
    pub unexpected: u64,
    pub latency: Latency,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadStats {
    /// Answers received inside the window, whatever their status.
    pub requests: u64,
    pub requests_per_s: f64,
    /// Answers with another status than the operation's expected one.
    #[serde(alias = "non_2xx")]
    pub unexpected: u64,
    /// Requests that got no answer (connection refused, reset, closed).
    pub transport_errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub latency: Latency,
    pub by_path: Vec<PathStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginStats {
    pub rate_per_s: f64,
    /// Logins scheduled inside the window.
    pub scheduled: u64,
    pub ok: u64,
    pub too_many_requests: u64,
    pub unavailable: u64,
    pub other_status: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    /// Not sent: `login_max_inflight` logins were already waiting for an answer.
    pub skipped_inflight_cap: u64,
    /// Sent, but no answer within the grace period after the window.
    pub unfinished: u64,
    pub ok_per_s: f64,
    /// Every answered login, from its scheduled instant.
    pub latency: Latency,
    /// Successful logins only.
    pub ok_latency: Latency,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    pub label: String,
    pub base_url: String,
    pub connections: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// The operations of the mix, in equal shares.
    pub paths: Vec<String>,
    pub users: usize,
    /// (patient, doctor) pairs the note operations drew from.
    #[serde(default)]
    pub care_pairs: usize,
    pub reads: ReadStats,
    pub logins: Option<LoginStats>,
    pub processes: Vec<ProcessStats>,
    pub groups: Vec<GroupStats>,
    pub machine: MachineStats,
}

/// What every read worker shares.
struct Plan {
    target: Target,
    ops: Vec<Op>,
    tokens: Vec<HeaderValue>,
    pairs: Vec<CarePair>,
    measure_from: Instant,
    until: Instant,
}

struct WorkerStats {
    per_path: Vec<Histogram<u64>>,
    unexpected: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

pub async fn run(args: &Args) -> Result<()> {
    let target = Target::parse(args.required("base")?)?;
    let out = args.required("out")?;
    let label = args.get("label").unwrap_or("reads").to_owned();
    let users = UsersFile::read(args.required("users")?)?;
    let connections: usize = args.number("connections", 64, 1..=1024)?;
    let warmup_s: f64 = args.number("warmup", 3.0, 0.0..=60.0)?;
    let duration_s: f64 = args.number("duration", 20.0, 1.0..=300.0)?;
    let login_rate: f64 = args.number("login-rate", 0.0, 0.0..=500.0)?;
    let login_max_inflight: usize = args.number("login-max-inflight", 256, 1..=2048)?;
    let login_grace_s: f64 = args.number("login-grace", 15.0, 0.0..=60.0)?;
    let note_limit: usize = args.number("note-limit", 20, 1..=200)?;
    let mut ops = args
        .all("path")
        .iter()
        .map(|p| Op::get(&target, p))
        .chain(args.all("op").iter().map(|o| Op::parse(o, note_limit)))
        .collect::<Result<Vec<_>>>()?;
    if ops.is_empty() {
        ops = vec![
            Op::get(&target, "/users/me")?,
            Op::get(&target, "/doctors?limit=20")?,
        ];
    }
    let mut watch = Watch::from_args(args)?;
    let login_users = if login_rate > 0.0 {
        Some(UsersFile::read(args.required("login-users")?)?)
    } else {
        None
    };

    let tokens = users
        .users
        .iter()
        .map(|u| bearer(&u.access_token))
        .collect::<Result<Vec<_>>>()?;
    let pairs = if ops.iter().any(Op::needs_pairs) {
        let pairs = CarePair::all(&target, &users, note_limit)?;
        if pairs.is_empty() {
            bail!("the note operations need patients who chose a doctor of the users file");
        }
        pairs
    } else {
        Vec::new()
    };

    // Open every connection before the clock starts.
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(&target).await?);
    }

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup_s);
    let until = measure_from + Duration::from_secs_f64(duration_s);
    watch.reset_peaks();
    let plan = Arc::new(Plan {
        target: target.clone(),
        ops,
        tokens,
        pairs,
        measure_from,
        until,
    });

    let mut workers = JoinSet::new();
    for (index, conn) in conns.into_iter().enumerate() {
        let plan = Arc::clone(&plan);
        workers.spawn(read_worker(plan, conn, index));
    }
    let logins = login_users.map(|file| {
        let login = LoginPlan {
            target: target.clone(),
            users: file.users,
            rate: login_rate,
            start,
            measure_from,
            until,
            max_inflight: login_max_inflight,
            grace: Duration::from_secs_f64(login_grace_s),
        };
        tokio::spawn(login_load(login))
    });

    // CPU and machine counters around the measured window.
    tokio::time::sleep_until(measure_from).await;
    let before = watch.sample();
    tokio::time::sleep_until(until).await;
    let after = watch.sample();
    let usage = watch.usage(&before, &after, duration_s);

    let mut merged: Option<WorkerStats> = None;
    while let Some(result) = workers.join_next().await {
        let stats = result.context("a read worker failed")??;
        merged = Some(match merged {
            None => stats,
            Some(mut all) => {
                for (h, other) in all.per_path.iter_mut().zip(&stats.per_path) {
                    h.add(other).context("merging histograms")?;
                }
                for (n, other) in all.unexpected.iter_mut().zip(&stats.unexpected) {
                    *n += other;
                }
                for (status, n) in stats.statuses {
                    *all.statuses.entry(status).or_default() += n;
                }
                all.transport_errors += stats.transport_errors;
                all
            }
        });
    }
    let merged = merged.context("no read worker ran")?;
    let logins = match logins {
        Some(task) => Some(task.await.context("the login load failed")??),
        None => None,
    };

    let reads = read_stats(&plan, &merged, duration_s)?;
    let scenario = Scenario {
        label,
        base_url: target.base.clone(),
        connections,
        warmup_s,
        duration_s,
        paths: plan.ops.iter().map(Op::label).collect(),
        users: plan.tokens.len(),
        care_pairs: plan.pairs.len(),
        reads,
        logins,
        processes: usage.processes,
        groups: usage.groups,
        machine: usage.machine,
    };
    std::fs::write(out, serde_json::to_vec_pretty(&scenario)?)
        .with_context(|| format!("writing {out}"))?;
    crate::report::print_scenarios(std::slice::from_ref(&scenario));
    if scenario.reads.requests == 0 {
        bail!("no request was answered during the window");
    }
    Ok(())
}

fn read_stats(plan: &Plan, merged: &WorkerStats, duration_s: f64) -> Result<ReadStats> {
    let mut all = histogram()?;
    let mut by_path = Vec::new();
    for (i, op) in plan.ops.iter().enumerate() {
        let h = &merged.per_path[i];
        all.add(h).context("merging histograms")?;
        by_path.push(PathStats {
            path: op.label(),
            requests: h.len(),
            unexpected: merged.unexpected[i],
            latency: Latency::of(h),
        });
    }
    Ok(ReadStats {
        requests: all.len(),
        requests_per_s: all.len() as f64 / duration_s,
        unexpected: merged.unexpected.iter().sum(),
        transport_errors: merged.transport_errors,
        statuses: merged.statuses.clone(),
        latency: Latency::of(&all),
        by_path,
    })
}

/// A tiny xorshift: which user and which path next, with no dependency and no lock.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn read_worker(plan: Arc<Plan>, mut conn: Conn, index: usize) -> Result<WorkerStats> {
    let mut stats = WorkerStats {
        per_path: (0..plan.ops.len())
            .map(|_| histogram())
            .collect::<Result<_>>()?,
        unexpected: vec![0; plan.ops.len()],
        statuses: BTreeMap::new(),
        transport_errors: 0,
    };
    let mut rng =
        Rng(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut next_op = index % plan.ops.len();
    loop {
        let sent = Instant::now();
        if sent >= plan.until {
            break;
        }
        // Equal shares of each operation, alternating; a random user or patient each time.
        let op = next_op;
        next_op = (next_op + 1) % plan.ops.len();
        let draw = rng.next();
        let sequence = rng.next();
        let request = plan.ops[op].request(
            &plan.target,
            &plan.tokens,
            &plan.pairs,
            |n| (draw % n.max(1) as u64) as usize,
            sequence,
        )?;
        let result = conn.send(request).await;
        let done = Instant::now();
        let counted = sent >= plan.measure_from && done <= plan.until;
        if let Ok((status, _)) = result {
            if counted {
                stats.per_path[op].saturating_record(micros(done - sent));
                *stats.statuses.entry(status.as_u16()).or_default() += 1;
                if status != plan.ops[op].expected() {
                    stats.unexpected[op] += 1;
                }
            }
        } else {
            if counted {
                stats.transport_errors += 1;
            }
            // Reconnect, with a pause so a dead server is not spun against; keep
            // trying until the window ends.
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Ok(fresh) = Conn::open(&plan.target).await {
                conn = fresh;
            }
        }
    }
    Ok(stats)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

struct LoginPlan {
    target: Target,
    users: Vec<crate::seed::User>,
    rate: f64,
    start: Instant,
    measure_from: Instant,
    until: Instant,
    max_inflight: usize,
    grace: Duration,
}

enum LoginOutcome {
    Status(StatusCode),
    Transport,
}

/// One login on an idle pooled connection, or a new one.
async fn login_once(pool: &Pool, uri: Uri, body: &serde_json::Value) -> LoginOutcome {
    let target = pool.target();
    match pool
        .send(|| target.request(Method::POST, uri.clone(), None, Some(body)))
        .await
    {
        Ok((status, _)) => LoginOutcome::Status(status),
        Err(_) => LoginOutcome::Transport,
    }
}

/// Logins on a fixed schedule (`rate` per second from the start of the warm-up),
/// whatever the answers: each on an idle pooled connection or a new one.
async fn login_load(plan: LoginPlan) -> Result<LoginStats> {
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let pool = Arc::new(Pool::new(plan.target.clone()));
    let inflight = Arc::new(AtomicUsize::new(0));
    let uri = plan.target.uri("/auth/login")?;
    let bodies: Vec<serde_json::Value> = plan
        .users
        .iter()
        .map(|u| json!({ "email": u.email, "password": u.password }))
        .collect();

    let mut tasks = JoinSet::new();
    let mut skipped = 0;
    let mut next = plan.start;
    let mut k = 0usize;
    while next < plan.until {
        tokio::time::sleep_until(next).await;
        let counted = next >= plan.measure_from;
        if inflight.load(Ordering::Relaxed) >= plan.max_inflight {
            if counted {
                skipped += 1;
            }
        } else {
            let body = bodies[k % bodies.len()].clone();
            let uri = uri.clone();
            let pool = Arc::clone(&pool);
            let inflight = Arc::clone(&inflight);
            let scheduled = next;
            inflight.fetch_add(1, Ordering::Relaxed);
            tasks.spawn(async move {
                let outcome = login_once(&pool, uri, &body).await;
                inflight.fetch_sub(1, Ordering::Relaxed);
                (counted, outcome, Instant::now() - scheduled)
            });
        }
        k += 1;
        next += interval;
    }

    let mut stats = LoginStats {
        rate_per_s: plan.rate,
        scheduled: 0,
        ok: 0,
        too_many_requests: 0,
        unavailable: 0,
        other_status: BTreeMap::new(),
        transport_errors: 0,
        skipped_inflight_cap: skipped,
        unfinished: 0,
        ok_per_s: 0.0,
        latency: Latency::default(),
        ok_latency: Latency::default(),
    };
    let measured_s = (plan.until - plan.measure_from).as_secs_f64();
    // Scheduled in the window: answered, skipped or unfinished.
    let expected = (measured_s * plan.rate).round() as u64;
    let mut all = histogram()?;
    let mut ok = histogram()?;
    let deadline = plan.until + plan.grace;
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(result)) => {
                let (counted, outcome, latency) = result.context("a login task failed")?;
                if !counted {
                    continue;
                }
                match outcome {
                    LoginOutcome::Status(status) => {
                        all.saturating_record(micros(latency));
                        match status.as_u16() {
                            200..=299 => {
                                stats.ok += 1;
                                ok.saturating_record(micros(latency));
                            }
                            429 => stats.too_many_requests += 1,
                            503 => stats.unavailable += 1,
                            other => *stats.other_status.entry(other).or_default() += 1,
                        }
                    }
                    LoginOutcome::Transport => stats.transport_errors += 1,
                }
            }
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                break;
            }
        }
    }
    let answered = all.len() + stats.transport_errors;
    stats.scheduled = expected.max(answered + skipped);
    stats.unfinished = stats.scheduled - answered - skipped;
    stats.ok_per_s = stats.ok as f64 / measured_s;
    stats.latency = Latency::of(&all);
    stats.ok_latency = Latency::of(&ok);
    Ok(stats)
}
