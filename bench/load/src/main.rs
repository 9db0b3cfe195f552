//! `hospital-bench`: the load generator that `bench/run.sh` drives.
//!
//! ```text
//! hospital-bench seed   --base URL --out FILE [--patients N] [--doctors N] …
//! hospital-bench load   --base URL --users FILE --out FILE [--connections N] …
//! hospital-bench report --out FILE [--meta KEY=VALUE]… SCENARIO.json…
//! ```
//!
//! It only ever talks to loopback addresses, and every loop is bounded in count and
//! time. See `bench/README.md` for what it measures.

mod args;
mod http;
mod load;
mod procfs;
mod report;
mod seed;

use anyhow::{bail, Context, Result};

use crate::args::Args;

const USAGE: &str = "\
usage:
  hospital-bench seed --base URL --out FILE [--patients 200] [--doctors 50]
         [--specializations 5] [--tag TEXT] [--concurrency 16]
      Signs users up (doctors first, then patients, each choosing a doctor) and
      writes their emails, passwords and access tokens to FILE.

  hospital-bench load --base URL --users FILE --out FILE [--label TEXT]
         [--connections 64] [--warmup 3] [--duration 20]
         [--path /users/me --path '/doctors?limit=20']  (the mix, in equal shares)
         [--login-rate 0 --login-users FILE --login-max-inflight 256]
         [--watch NAME=PID]... [--watch-comm postgres]... [--threads 1]
      Closed-loop reads over keep-alive connections, each request with a rotating
      user's token; optionally a paced, open-loop login load beside them.

  hospital-bench report --out FILE [--meta KEY=VALUE]... SCENARIO.json...
      Prints the results table and writes all scenarios as one JSON document.

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
