//! `hospital-bench steps`: how long a note takes to become the patient's actionable steps,
//! through the gateway, with the whole flow behind it (notes-service, its outbox relay,
//! the broker, the llm-worker, the reminder-service).
//!
//! Open loop: note k is due at `start + k / rate` and is POSTed then by the patient's
//! doctor, whatever happened to the earlier ones; the patients take turns, so a patient's
//! next note comes `patients / rate` seconds after the previous one. After its 202 the note
//! is looked for in `GET /patients/{id}/actionable-steps` (as the patient) every
//! `poll-ms`; its latency runs from its scheduled instant to the answer that shows its
//! `note_id`. Not shown within `deadline` seconds: "not seen". Replaced by a later note
//! of the same patient before it was seen: "superseded" (a sign the pipeline fell more
//! than a patient's turn behind). Every `status-every`-th note seen is also read back
//! (`GET /patients/{id}/notes/{note_id}`) until its status is `processed`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use hyper::{Method, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::Args;
use crate::clinical;
use crate::http::{Pool, Target};
use crate::load::Latency;
use crate::ops::CarePair;
use crate::seed::UsersFile;
use crate::watch::{GroupStats, MachineStats, ProcessStats, Watch};

/// The notes' texts come from their own part of the sequence (see `seed_notes`).
const SEQUENCE_BASE: u64 = 3 << 61;

/// What tells this result file apart from the others in `report`.
pub const KIND: &str = "note_to_steps";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusSample {
    /// Notes seen whose own status was read back.
    pub sampled: u64,
    /// Of those, the ones that reached `processed` within the status deadline.
    pub processed: u64,
    /// The others, by the last status read (or `error`).
    pub not_processed: BTreeMap<String, u64>,
    /// From the note's scheduled instant to the read that showed `processed`.
    pub latency: Latency,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepsRun {
    pub kind: String,
    pub label: String,
    pub base_url: String,
    pub rate_per_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub deadline_s: f64,
    pub poll_ms: u64,
    pub patients: usize,
    /// Notes scheduled inside the window.
    pub scheduled: u64,
    /// Not sent: `max_pending` notes were already being followed.
    pub not_sent: u64,
    /// Answered 202.
    pub accepted: u64,
    /// Answered anything else, by status.
    pub rejected: BTreeMap<u16, u64>,
    /// Got no answer.
    pub post_transport_errors: u64,
    pub seen: u64,
    pub not_seen: u64,
    pub superseded: u64,
    pub accepted_per_s: f64,
    pub seen_per_s: f64,
    /// From the scheduled instant to the answer showing the note's steps.
    pub latency: Latency,
    /// From the scheduled instant to the 202.
    pub post_latency: Latency,
    /// `extractor` of the steps seen.
    pub extractors: BTreeMap<String, u64>,
    /// Steps seen with an empty checklist, or an empty plan.
    pub empty_checklist: u64,
    pub empty_plan: u64,
    /// `GET actionable-steps` sent while looking, and those not answered 200.
    pub polls: u64,
    pub poll_errors: u64,
    pub status_sample: StatusSample,
    pub processes: Vec<ProcessStats>,
    pub groups: Vec<GroupStats>,
    pub machine: MachineStats,
}

struct Plan {
    pool: Pool,
    pairs: Vec<CarePair>,
    poll: Duration,
    deadline: Duration,
    status_every: u64,
    status_deadline: Duration,
    /// Every note accepted so far: its id → its number, to recognise a later note.
    posted: Mutex<HashMap<String, u64>>,
    polls: AtomicU64,
    poll_errors: AtomicU64,
}

enum Outcome {
    NotSent,
    Rejected(StatusCode),
    Transport,
    Seen(Seen),
    NotSeen { post: Duration },
    Superseded { post: Duration },
}

struct Seen {
    post: Duration,
    latency: Duration,
    extractor: String,
    empty_checklist: bool,
    empty_plan: bool,
    status: Option<StatusCheck>,
}

enum StatusCheck {
    Processed(Duration),
    Not(String),
}

fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("creating a histogram")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

pub async fn run(args: &Args) -> Result<()> {
    let target = Target::parse(args.required("base")?)?;
    let out = args.required("out")?;
    let label = args.get("label").unwrap_or("note → steps").to_owned();
    let users = UsersFile::read(args.required("users")?)?;
    let rate: f64 = args.number("rate", 50.0, 0.1..=1000.0)?;
    let warmup_s: f64 = args.number("warmup", 3.0, 0.0..=60.0)?;
    let duration_s: f64 = args.number("duration", 60.0, 1.0..=600.0)?;
    let deadline_s: f64 = args.number("deadline", 30.0, 1.0..=300.0)?;
    let poll_ms: u64 = args.number("poll-ms", 10, 1..=1000)?;
    let status_every: u64 = args.number("status-every", 10, 0..=1_000_000)?;
    let status_deadline_s: f64 = args.number("status-deadline", 5.0, 0.1..=60.0)?;
    let max_pending: usize = args.number("max-pending", 4096, 1..=100_000)?;
    let ready_s: f64 = args.number("ready-timeout", 60.0, 1.0..=600.0)?;
    let mut watch = Watch::from_args(args)?;
    let pairs = CarePair::all(&target, &users, 1)?;
    if pairs.is_empty() {
        bail!("no patient of the users file chose a doctor of the file");
    }
    let plan = Arc::new(Plan {
        pool: Pool::new(target.clone()),
        pairs,
        poll: Duration::from_millis(poll_ms),
        deadline: Duration::from_secs_f64(deadline_s),
        status_every,
        status_deadline: Duration::from_secs_f64(status_deadline_s),
        posted: Mutex::new(HashMap::new()),
        polls: AtomicU64::new(0),
        poll_errors: AtomicU64::new(0),
    });
    wait_for_patients(&plan, Duration::from_secs_f64(ready_s)).await?;
    plan.polls.store(0, Ordering::Relaxed);

    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup_s);
    let until = measure_from + Duration::from_secs_f64(duration_s);
    watch.reset_peaks();
    let pending = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    let mut before = None;
    let mut polls_at_start = 0;
    let mut next = start;
    let mut k = 0u64;
    while next < until {
        tokio::time::sleep_until(next).await;
        let counted = next >= measure_from;
        if counted && before.is_none() {
            before = Some(watch.sample());
            polls_at_start = plan.polls.load(Ordering::Relaxed);
        }
        if pending.load(Ordering::Relaxed) >= max_pending {
            tasks.spawn(async move { (counted, Outcome::NotSent) });
        } else {
            let plan = Arc::clone(&plan);
            let pending = Arc::clone(&pending);
            let scheduled = next;
            pending.fetch_add(1, Ordering::Relaxed);
            tasks.spawn(async move {
                let outcome = follow_note(&plan, k, scheduled).await;
                pending.fetch_sub(1, Ordering::Relaxed);
                (counted, outcome)
            });
        }
        k += 1;
        next += interval;
    }
    tokio::time::sleep_until(until).await;
    let after = watch.sample();
    let polls_in_window = plan.polls.load(Ordering::Relaxed) - polls_at_start;
    let usage = watch.usage(before.as_ref().unwrap_or(&after), &after, duration_s);

    let mut run = StepsRun {
        kind: KIND.to_owned(),
        label,
        base_url: target.base.clone(),
        rate_per_s: rate,
        warmup_s,
        duration_s,
        deadline_s,
        poll_ms,
        patients: plan.pairs.len(),
        scheduled: 0,
        not_sent: 0,
        accepted: 0,
        rejected: BTreeMap::new(),
        post_transport_errors: 0,
        seen: 0,
        not_seen: 0,
        superseded: 0,
        accepted_per_s: 0.0,
        seen_per_s: 0.0,
        latency: Latency::default(),
        post_latency: Latency::default(),
        extractors: BTreeMap::new(),
        empty_checklist: 0,
        empty_plan: 0,
        polls: polls_in_window,
        poll_errors: 0,
        status_sample: StatusSample::default(),
        processes: usage.processes,
        groups: usage.groups,
        machine: usage.machine,
    };
    let mut latency = histogram()?;
    let mut post = histogram()?;
    let mut processed = histogram()?;
    // Every task ends by its own deadlines; this bounds the wait if one does not.
    let grace = plan.deadline + plan.status_deadline + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(until + grace, tasks.join_next()).await {
            Ok(Some(result)) => {
                let (counted, outcome) = result.context("a note task failed")?;
                if counted {
                    tally(&mut run, outcome, &mut latency, &mut post, &mut processed);
                }
            }
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                bail!("notes were still being followed {grace:?} after the window");
            }
        }
    }
    run.poll_errors = plan.poll_errors.load(Ordering::Relaxed);
    run.accepted_per_s = run.accepted as f64 / duration_s;
    run.seen_per_s = run.seen as f64 / duration_s;
    run.latency = Latency::of(&latency);
    run.post_latency = Latency::of(&post);
    run.status_sample.latency = Latency::of(&processed);
    std::fs::write(out, serde_json::to_vec_pretty(&run)?)
        .with_context(|| format!("writing {out}"))?;
    crate::report::print_steps(std::slice::from_ref(&run));
    if run.seen == 0 {
        bail!("no note's steps were seen");
    }
    Ok(())
}

fn tally(
    run: &mut StepsRun,
    outcome: Outcome,
    latency: &mut Histogram<u64>,
    post: &mut Histogram<u64>,
    processed: &mut Histogram<u64>,
) {
    run.scheduled += 1;
    match outcome {
        Outcome::NotSent => run.not_sent += 1,
        Outcome::Rejected(status) => *run.rejected.entry(status.as_u16()).or_default() += 1,
        Outcome::Transport => run.post_transport_errors += 1,
        Outcome::NotSeen { post: p } => {
            run.accepted += 1;
            run.not_seen += 1;
            post.saturating_record(micros(p));
        }
        Outcome::Superseded { post: p } => {
            run.accepted += 1;
            run.superseded += 1;
            post.saturating_record(micros(p));
        }
        Outcome::Seen(seen) => {
            run.accepted += 1;
            run.seen += 1;
            post.saturating_record(micros(seen.post));
            latency.saturating_record(micros(seen.latency));
            *run.extractors.entry(seen.extractor).or_default() += 1;
            run.empty_checklist += u64::from(seen.empty_checklist);
            run.empty_plan += u64::from(seen.empty_plan);
            match seen.status {
                None => {}
                Some(StatusCheck::Processed(at)) => {
                    run.status_sample.sampled += 1;
                    run.status_sample.processed += 1;
                    processed.saturating_record(micros(at));
                }
                Some(StatusCheck::Not(status)) => {
                    run.status_sample.sampled += 1;
                    *run.status_sample.not_processed.entry(status).or_default() += 1;
                }
            }
        }
    }
}

/// The reminder-service learns patients from `user.registered`, which it may still be
/// reading when the benchmark starts: each patient's steps must answer 200 first.
async fn wait_for_patients(plan: &Plan, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    for pair in &plan.pairs {
        loop {
            let answer = get(plan, &pair.steps_uri, pair).await;
            match answer {
                Ok((StatusCode::OK, _)) => break,
                Ok((status, body)) if Instant::now() >= deadline => bail!(
                    "patient {}'s actionable steps still answer {status} after {within:?}: {}",
                    pair.patient_id,
                    String::from_utf8_lossy(&body)
                ),
                Err(err) if Instant::now() >= deadline => {
                    return Err(err.context("reading a patient's actionable steps"));
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    Ok(())
}

/// `GET uri` as the patient.
async fn get(plan: &Plan, uri: &Uri, pair: &CarePair) -> Result<(StatusCode, hyper::body::Bytes)> {
    let target = plan.pool.target();
    plan.polls.fetch_add(1, Ordering::Relaxed);
    plan.pool
        .send(|| target.request(Method::GET, uri.clone(), Some(&pair.patient_token), None))
        .await
}

/// Note `k`: written, then looked for until seen, replaced or out of time.
async fn follow_note(plan: &Plan, k: u64, scheduled: Instant) -> Outcome {
    let pair = &plan.pairs[(k % plan.pairs.len() as u64) as usize];
    let target = plan.pool.target();
    let body = json!({ "text": clinical::note(SEQUENCE_BASE + k) });
    let answer = plan
        .pool
        .send(|| {
            target.request(
                Method::POST,
                pair.notes_uri.clone(),
                Some(&pair.doctor_token),
                Some(&body),
            )
        })
        .await;
    let Ok((status, answer)) = answer else {
        return Outcome::Transport;
    };
    let post = scheduled.elapsed();
    let note_id = serde_json::from_slice::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    let (StatusCode::ACCEPTED, Some(note_id)) = (status, note_id) else {
        return Outcome::Rejected(status);
    };
    if let Ok(mut posted) = plan.posted.lock() {
        posted.insert(note_id.clone(), k);
    }

    let give_up = scheduled + plan.deadline;
    let mut next_poll = Instant::now();
    let steps = loop {
        tokio::time::sleep_until(next_poll).await;
        let polled = Instant::now();
        if polled >= give_up {
            return Outcome::NotSeen { post };
        }
        next_poll = polled + plan.poll;
        let Ok((StatusCode::OK, body)) = get(plan, &pair.steps_uri, pair).await else {
            plan.poll_errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Ok(steps) = serde_json::from_slice::<serde_json::Value>(&body) else {
            plan.poll_errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match steps["note_id"].as_str() {
            Some(shown) if shown == note_id => break steps,
            Some(shown) => {
                let later = plan
                    .posted
                    .lock()
                    .ok()
                    .and_then(|posted| posted.get(shown).copied())
                    .is_some_and(|other| other > k);
                if later {
                    return Outcome::Superseded { post };
                }
            }
            None => {}
        }
    };
    let latency = scheduled.elapsed();
    let empty = |list: &str| steps[list].as_array().is_none_or(Vec::is_empty);
    let status = if plan.status_every > 0 && k.is_multiple_of(plan.status_every) {
        Some(note_status(plan, pair, &note_id, scheduled).await)
    } else {
        None
    };
    Outcome::Seen(Seen {
        post,
        latency,
        extractor: steps["extractor"].as_str().unwrap_or("none").to_owned(),
        empty_checklist: empty("checklist"),
        empty_plan: empty("plan"),
        status,
    })
}

/// Reads the note back until it is `processed`: the notes-service hears `steps.extracted`
/// through its own queue, so it may lag the reminder-service a little.
async fn note_status(
    plan: &Plan,
    pair: &CarePair,
    note_id: &str,
    scheduled: Instant,
) -> StatusCheck {
    let Ok(uri) = format!("{}/{note_id}", pair.notes_uri)
        .parse::<Uri>()
        .context("the note's URI")
    else {
        return StatusCheck::Not("error".to_owned());
    };
    let target = plan.pool.target();
    let give_up = Instant::now() + plan.status_deadline;
    let mut last = "error".to_owned();
    loop {
        let polled = Instant::now();
        let answer = plan
            .pool
            .send(|| target.request(Method::GET, uri.clone(), Some(&pair.patient_token), None))
            .await;
        if let Ok((StatusCode::OK, body)) = answer {
            let status = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "error".to_owned());
            if status == "processed" {
                return StatusCheck::Processed(scheduled.elapsed());
            }
            last = status;
        }
        if polled + plan.poll >= give_up {
            return StatusCheck::Not(last);
        }
        tokio::time::sleep_until(polled + plan.poll).await;
    }
}
