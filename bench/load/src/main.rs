//! `hospital-bench`: the load generator that `bench/run.sh` drives.
//!
//! ```text
//! hospital-bench seed       --base URL --out FILE [--patients N] [--doctors N] …
//! hospital-bench seed-notes --base URL --users FILE [--per-patient N] …
//! hospital-bench load       --base URL --users FILE --out FILE [--connections N] …
//! hospital-bench steps      --base URL --users FILE --out FILE [--rate 50] [--duration 60] …
//! hospital-bench fake-openai [--delay-ms 500] [--port 0]
//! hospital-bench count-steps --amqp-url URL --exchange X --queue-prefix P --expect N …
//! hospital-bench report     --out FILE [--meta KEY=VALUE]… SCENARIO.json…
//! hospital-bench broker     setup|declare|drop-note-sink|steps-sink|cleanup …
//! hospital-bench redis-cleanup --url URL --prefix bench:…:
//! ```
//!
//! It only ever talks to loopback addresses, and every loop is bounded in count and
//! time. See `bench/README.md` for what it measures.

mod args;
mod broker;
mod clinical;
mod fake_openai;
mod http;
mod llm;
mod load;
mod ops;
mod procfs;
mod redis_keys;
mod report;
mod seed;
mod seed_notes;
mod steps;
mod watch;

use anyhow::{bail, Context, Result};

use crate::args::Args;

const USAGE: &str = "\
usage:
  hospital-bench seed --base URL --out FILE [--patients 200] [--doctors 50]
         [--specializations 5] [--tag TEXT] [--concurrency 16]
      Signs users up (doctors first, then patients, each choosing a doctor) and
      writes their emails, passwords, access tokens and chosen doctors to FILE.

  hospital-bench seed-notes --base URL --users FILE [--per-patient 5] [--count 0]
         [--concurrency 16]
      Each patient of FILE who chose a doctor of FILE gets that many ~600-character
      notes, written by the doctor (POST /patients/{id}/notes); with --count, that
      many notes in all, the patients taking turns.

  hospital-bench load --base URL --users FILE --out FILE [--label TEXT]
         [--connections 64] [--warmup 3] [--duration 20]
         [--path /users/me --path '/doctors?limit=20']  (the mix, in equal shares)
         [--op note-post|note-list-patient|note-list-doctor]... [--note-limit 20]
         [--login-rate 0 --login-users FILE --login-max-inflight 256]
         [--watch NAME=PID]... [--watch-comm postgres]... [--threads 1]
      Closed-loop requests over keep-alive connections: each --path a GET with a
      random user's token (200 expected), each --op a note written by a random
      patient's doctor (202) or a page of their notes read by the patient or the
      doctor (200); optionally a paced, open-loop login load beside them.

  hospital-bench steps --base URL --users FILE --out FILE [--label TEXT]
         [--rate 50] [--warmup 3] [--duration 60] [--deadline 30] [--poll-ms 10]
         [--status-every 10] [--status-deadline 5] [--max-pending 4096]
         [--watch NAME=PID]... [--watch-comm NAME]...
      Open loop: notes POSTed at --rate by each patient's doctor, the patients taking
      turns; each one's latency runs from its scheduled time until
      GET /patients/{id}/actionable-steps (as the patient, every --poll-ms) shows its
      note_id; not shown within --deadline seconds: not seen. Every
      --status-every-th note seen is read back until its status is processed.

  hospital-bench fake-openai [--host 127.0.0.1] [--port 0] [--delay-ms 500]
      An OpenAI-compatible /v1/chat/completions that answers after --delay-ms with
      the offline extractor's steps for the note it is sent; GET /stats counts,
      POST /stats/reset starts counting again.

  hospital-bench count-steps --amqp-url URL --exchange X --queue-prefix P
         --expect N --out FILE [--deadline 300] [--concurrency N] [--delay-ms 500]
         [--since-ms EPOCH_MS] [--fake-openai URL] [--label TEXT] [--watch ...]
      Reads steps.extracted from the sink `broker steps-sink` bound until N arrived:
      per second (from the events' occurred_at) and by extractor / fallback, and the
      fake model's /stats (reset it before the worker starts).

  hospital-bench report --out FILE [--meta KEY=VALUE]... RESULT.json...
      Prints the results tables and writes all results as one JSON document.

  hospital-bench broker ACTION --amqp-url URL --exchange X --queue-prefix P
         [--service NAME=PREFIX]... [--delete-exchange yes]
      setup: binds a bounded sink queue for note.submitted to X; declare: declares
      the queues of each --service (reminder-service, llm-worker) before it runs;
      drop-note-sink: deletes the note.submitted sink; steps-sink: declares and
      empties a sink for steps.extracted; cleanup: deletes the sinks, every queue a
      notes-service with queue prefix P declared and those of each --service (and
      the exchange with --delete-exchange yes).

  hospital-bench redis-cleanup --url redis://127.0.0.1:6379 --prefix bench:...:
      Deletes every key under the prefix (which must start with bench:).

URLs are http://<loopback ip>:<port>[/prefix]; the prefix goes before every path.";

fn main() -> Result<()> {
    let mut raw = std::env::args().skip(1);
    let Some(command) = raw.next() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return Ok(());
    }
    let args = Args::parse(raw).context("reading the arguments")?;
    match command.as_str() {
        "seed" => runtime(1)?.block_on(seed::run(&args)),
        "seed-notes" => runtime(1)?.block_on(seed_notes::run(&args)),
        "broker" => runtime(1)?.block_on(broker::run(&args)),
        "steps" => runtime(1)?.block_on(steps::run(&args)),
        "count-steps" => runtime(1)?.block_on(llm::run(&args)),
        "redis-cleanup" => runtime(1)?.block_on(redis_keys::run(&args)),
        "fake-openai" => fake_openai::run(&args),
        "load" => {
            let threads = args.number("threads", 1, 1..=16)?;
            runtime(threads)?.block_on(load::run(&args))
        }
        "report" => report::run(&args),
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// The load generator shares the machine with what it measures: one worker thread
/// is the default, and enough for tens of thousands of requests per second.
fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}
