//! `hospital-bench`: the load generator that `bench/run.sh` drives.
//!
//! ```text
//! hospital-bench seed       --base URL --out FILE [--patients N] [--doctors N] …
//! hospital-bench seed-notes --base URL --users FILE [--per-patient N] …
//! hospital-bench load       --base URL --users FILE --out FILE [--connections N] …
//! hospital-bench report     --out FILE [--meta KEY=VALUE]… SCENARIO.json…
//! hospital-bench broker     setup|cleanup --amqp-url URL --exchange X --queue-prefix P
//! ```
//!
//! It only ever talks to loopback addresses, and every loop is bounded in count and
//! time. See `bench/README.md` for what it measures.

mod args;
mod broker;
mod clinical;
mod http;
mod load;
mod ops;
mod procfs;
mod report;
mod seed;
mod seed_notes;

use anyhow::{bail, Context, Result};

use crate::args::Args;

const USAGE: &str = "\
usage:
  hospital-bench seed --base URL --out FILE [--patients 200] [--doctors 50]
         [--specializations 5] [--tag TEXT] [--concurrency 16]
      Signs users up (doctors first, then patients, each choosing a doctor) and
      writes their emails, passwords, access tokens and chosen doctors to FILE.

  hospital-bench seed-notes --base URL --users FILE [--per-patient 5]
         [--concurrency 16]
      Each patient of FILE who chose a doctor of FILE gets that many ~600-character
      notes, written by the doctor (POST /patients/{id}/notes).

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

  hospital-bench report --out FILE [--meta KEY=VALUE]... SCENARIO.json...
      Prints the results table and writes all scenarios as one JSON document.

  hospital-bench broker setup|cleanup --amqp-url URL --exchange X --queue-prefix P
      setup: binds a bounded sink queue for note.submitted to X; cleanup: deletes
      it and every queue a notes-service with queue prefix P declared.

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
