//! Gives every seeded patient a few notes, written by their doctor through the API, so
//! that the note lists of the load have content; then reads one patient's list back to
//! check that the notes are there.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;

use crate::args::Args;
use crate::clinical;
use crate::http::{Conn, Target};
use crate::ops::CarePair;
use crate::seed::UsersFile;

/// The seeded notes' texts come from another part of the sequence than the load's
/// random ones, so the two are told apart in a dump.
const SEQUENCE_BASE: u64 = 1 << 62;

pub async fn run(args: &Args) -> Result<()> {
    let target = Target::parse(args.required("base")?)?;
    let users = UsersFile::read(args.required("users")?)?;
    let per_patient: usize = args.number("per-patient", 5, 0..=200)?;
    // A number of notes in all, the patients taking turns, instead of so many each.
    let count: usize = args.number("count", 0, 0..=1_000_000)?;
    let concurrency: usize = args.number("concurrency", 16, 1..=64)?;
    let pairs = Arc::new(CarePair::all(&target, &users, per_patient.max(1))?);
    if pairs.is_empty() {
        bail!("no patient of the users file chose a doctor of the file");
    }
    let target = Arc::new(target);
    let started = Instant::now();
    let jobs = if count > 0 {
        count
    } else {
        pairs.len() * per_patient
    };
    let workers = concurrency.min(jobs).max(1);
    let mut set = JoinSet::new();
    for worker in 0..workers {
        let (target, pairs) = (Arc::clone(&target), Arc::clone(&pairs));
        set.spawn(async move {
            let mut conn = Conn::open(&target).await?;
            for job in (worker..jobs).step_by(workers) {
                let pair = &pairs[job % pairs.len()];
                let body = json!({ "text": clinical::note(SEQUENCE_BASE + job as u64) });
                let request = target.request(
                    Method::POST,
                    pair.notes_uri.clone(),
                    Some(&pair.doctor_token),
                    Some(&body),
                )?;
                let (status, answer) = conn.send(request).await?;
                if status != StatusCode::ACCEPTED {
                    bail!(
                        "a note for patient {} answered {status}: {}",
                        pair.patient_id,
                        String::from_utf8_lossy(&answer)
                    );
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = set.join_next().await {
        result.context("a note-writing task failed")??;
    }
    let elapsed = started.elapsed().as_secs_f64();

    if count > 0 {
        println!(
            "seed-notes: {jobs} notes for {} patients written through {} in {elapsed:.1} s",
            pairs.len(),
            target.base,
        );
        return Ok(());
    }
    if per_patient > 0 {
        check_list(&target, &pairs[0], per_patient).await?;
    }
    println!(
        "seed-notes: {jobs} notes ({per_patient} for each of {} patients) written through {} in {elapsed:.1} s",
        pairs.len(),
        target.base,
    );
    Ok(())
}

/// The patient's list holds the notes just written (their `list_uri` asks for exactly
/// that many).
async fn check_list(target: &Target, pair: &CarePair, expected: usize) -> Result<()> {
    let mut conn = Conn::open(target).await?;
    let request = target.request(
        Method::GET,
        pair.list_uri.clone(),
        Some(&pair.patient_token),
        None,
    )?;
    let (status, answer) = conn.send(request).await?;
    if status != StatusCode::OK {
        bail!(
            "patient {}'s note list answered {status}: {}",
            pair.patient_id,
            String::from_utf8_lossy(&answer)
        );
    }
    let page: serde_json::Value =
        serde_json::from_slice(&answer).context("the note list is not JSON")?;
    let items = page["items"]
        .as_array()
        .context("the note list has no items")?;
    let readable = items.iter().filter(|note| note["text"].is_string()).count();
    if readable != expected {
        bail!(
            "patient {}'s note list holds {readable} readable notes, expected {expected}",
            pair.patient_id
        );
    }
    Ok(())
}
