//! The results table, and all scenarios of a run as one JSON document.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::args::Args;
use crate::llm::LlmRun;
use crate::load::{Latency, Scenario};
use crate::steps::StepsRun;
use crate::watch::{GroupStats, MachineStats, ProcessStats};

#[derive(Serialize, Deserialize)]
struct Results {
    meta: BTreeMap<String, String>,
    scenarios: Vec<Scenario>,
    /// Note → steps through the gateway (`steps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepsRun>,
    /// llm-worker throughput behind a slow model (`count-steps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    llm: Vec<LlmRun>,
}

pub fn run(args: &Args) -> Result<()> {
    let out = args.required("out")?;
    let mut meta = BTreeMap::new();
    for pair in args.all("meta") {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--meta {pair:?}: expected KEY=VALUE"))?;
        meta.insert(key.to_owned(), value.to_owned());
    }
    if args.positional().is_empty() {
        bail!("name at least one scenario file");
    }
    let mut results = Results {
        meta,
        scenarios: Vec::new(),
        steps: Vec::new(),
        llm: Vec::new(),
    };
    for path in args.positional() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
        let parsed = match value["kind"].as_str() {
            Some(crate::steps::KIND) => {
                serde_json::from_value(value).map(|r| results.steps.push(r))
            }
            Some(crate::llm::KIND) => serde_json::from_value(value).map(|r| results.llm.push(r)),
            _ => serde_json::from_value(value).map(|r| results.scenarios.push(r)),
        };
        parsed.with_context(|| format!("parsing {path}"))?;
    }
    std::fs::write(out, serde_json::to_vec_pretty(&results)?)
        .with_context(|| format!("writing {out}"))?;
    if !results.meta.is_empty() {
        let line = results
            .meta
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("  ");
        println!("{line}");
    }
    if !results.scenarios.is_empty() {
        print_scenarios(&results.scenarios);
    }
    if !results.steps.is_empty() {
        print_steps(&results.steps);
    }
    if !results.llm.is_empty() {
        print_llm(&results.llm);
    }
    println!("(written to {out})");
    Ok(())
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn latency_cells(l: &Latency) -> String {
    format!(
        "{:>7} {:>7} {:>7} {:>7}",
        ms(l.p50_ms),
        ms(l.p90_ms),
        ms(l.p99_ms),
        ms(l.max_ms)
    )
}

/// Three compact tables: requests, logins (when any ran), CPU and memory.
pub fn print_scenarios(scenarios: &[Scenario]) {
    let mut text = String::new();
    // Wide enough for every label, and for every operation's indented below it.
    let width = scenarios
        .iter()
        .flat_map(|s| {
            std::iter::once(s.label.len()).chain(s.reads.by_path.iter().map(|p| p.path.len() + 2))
        })
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        text,
        "\n{:<width$} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8}   (latency in ms)",
        "requests", "req/s", "p50", "p90", "p99", "max", "errors"
    );
    for s in scenarios {
        let r = &s.reads;
        let _ = writeln!(
            text,
            "{:<width$} {:>8.0} {} {:>8}",
            s.label,
            r.requests_per_s,
            latency_cells(&r.latency),
            r.unexpected + r.transport_errors
        );
        for p in &r.by_path {
            let _ = writeln!(
                text,
                "{:<width$} {:>8.0} {} {:>8}",
                format!("  {}", p.path),
                p.requests as f64 / s.duration_s,
                latency_cells(&p.latency),
                p.unexpected
            );
        }
    }

    if scenarios.iter().any(|s| s.logins.is_some()) {
        let _ = writeln!(
            text,
            "\n{:<width$} {:>6} {:>6} {:>5} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "logins", "sched", "ok", "429", "503", "other", "not-sent", "p50", "p90", "p99", "max"
        );
        for s in scenarios {
            let Some(l) = &s.logins else { continue };
            let other: u64 =
                l.other_status.values().sum::<u64>() + l.transport_errors + l.unfinished;
            let _ = writeln!(
                text,
                "{:<width$} {:>6} {:>6} {:>5} {:>5} {:>5} {:>7} {}   ({:.1} ok/s of {:.0}/s)",
                s.label,
                l.scheduled,
                l.ok,
                l.too_many_requests,
                l.unavailable,
                other,
                l.skipped_inflight_cap,
                latency_cells(&l.latency),
                l.ok_per_s,
                l.rate_per_s
            );
        }
    }

    let _ = writeln!(
        text,
        "\n{:<width$} per process: cores busy, peak RSS / RSS at end (MiB)",
        "cpu and memory"
    );
    for s in scenarios {
        let _ = writeln!(
            text,
            "{:<width$} {}",
            s.label,
            cpu_cells(&s.processes, &s.groups, &s.machine)
        );
    }
    if scenarios
        .iter()
        .flat_map(|s| &s.processes)
        .any(|p| !p.peak_reset)
    {
        let _ = writeln!(
            text,
            "* peak since the process started (could not reset it)"
        );
    }
    print!("{text}");
}

/// One scenario's CPU and memory: each process, each group, the bench, the rest.
fn cpu_cells(processes: &[ProcessStats], groups: &[GroupStats], m: &MachineStats) -> String {
    let mut cells: Vec<String> = processes
        .iter()
        .map(|p| {
            format!(
                "{} {:.2} {:.1}/{:.1}{}",
                p.name,
                p.cpu_cores,
                p.peak_rss_mib,
                p.rss_mib,
                if p.peak_reset { "" } else { "*" }
            )
        })
        .collect();
    cells.extend(
        groups
            .iter()
            .map(|g| format!("{}({}) {:.2}", g.name, g.processes, g.cpu_cores)),
    );
    cells.push(format!("bench {:.2}", m.loadgen_cores));
    cells.push(format!(
        "other {:.2}  machine {:.2}/{}",
        m.other_cores, m.busy_cores, m.cores
    ));
    cells.join("  ")
}

/// Note → steps: notes accepted and seen per second, the latency until the steps are
/// visible, what was not seen, the status check, CPU and memory.
pub fn print_steps(runs: &[StepsRun]) {
    let mut text = String::new();
    let width = runs
        .iter()
        .map(|r| r.label.len())
        .max()
        .unwrap_or(8)
        .max(12);
    let _ = writeln!(
        text,
        "\n{:<width$} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6} {:>7}   (latency in ms, from the POST's scheduled time)",
        "note → steps", "sent/s", "seen/s", "p50", "p90", "p99", "max", "seen", "not-seen", "supers", "errors"
    );
    for r in runs {
        let errors = r.rejected.values().sum::<u64>() + r.post_transport_errors + r.not_sent;
        let _ = writeln!(
            text,
            "{:<width$} {:>7.1} {:>7.1} {} {:>7} {:>8} {:>6} {:>7}",
            r.label,
            r.accepted_per_s,
            r.seen_per_s,
            latency_cells(&r.latency),
            r.seen,
            r.not_seen,
            r.superseded,
            errors
        );
        let _ = writeln!(
            text,
            "{:<width$} POST 202 p50 {} p99 {} ms; {} polls ({:.0}/s, {} not 200); extractors {:?}; empty checklist {}, empty plan {}",
            "",
            ms(r.post_latency.p50_ms),
            ms(r.post_latency.p99_ms),
            r.polls,
            r.polls as f64 / r.duration_s,
            r.poll_errors,
            r.extractors,
            r.empty_checklist,
            r.empty_plan
        );
        let sample = &r.status_sample;
        let _ = writeln!(
            text,
            "{:<width$} status: {} of {} sampled notes processed (p50 {} p99 {} max {} ms from scheduled){}",
            "",
            sample.processed,
            sample.sampled,
            ms(sample.latency.p50_ms),
            ms(sample.latency.p99_ms),
            ms(sample.latency.max_ms),
            if sample.not_processed.is_empty() {
                String::new()
            } else {
                format!("; not processed: {:?}", sample.not_processed)
            }
        );
        let _ = writeln!(
            text,
            "{:<width$} {}",
            "",
            cpu_cells(&r.processes, &r.groups, &r.machine)
        );
    }
    print!("{text}");
}

/// llm-worker throughput: steps.extracted per second against the bound concurrency /
/// delay, and which extractor made them.
pub fn print_llm(runs: &[LlmRun]) {
    let mut text = String::new();
    let width = runs
        .iter()
        .map(|r| r.label.len())
        .max()
        .unwrap_or(8)
        .max(12);
    let _ = writeln!(
        text,
        "\n{:<width$} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "llm-worker",
        "N",
        "backlog",
        "received",
        "per s",
        "bound/s",
        "of bound",
        "openai",
        "fallback"
    );
    for r in runs {
        let _ = writeln!(
            text,
            "{:<width$} {:>6} {:>8} {:>8} {:>6.1} {:>8.1} {:>7.0}% {:>8} {:>9}{}",
            r.label,
            r.concurrency,
            r.backlog,
            r.received,
            r.per_s,
            r.bound_per_s,
            if r.bound_per_s > 0.0 {
                100.0 * r.per_s / r.bound_per_s
            } else {
                0.0
            },
            r.openai,
            r.fallback,
            if r.timed_out {
                "  (deadline reached)"
            } else {
                ""
            }
        );
        let provider = r.provider.as_ref().map_or_else(String::new, |p| {
            format!(
                "; model: {} requests, {} answered, {} malformed, at most {} at once",
                p.requests, p.answered, p.malformed, p.max_in_flight
            )
        });
        let _ = writeln!(
            text,
            "{:<width$} first to last {:.1} s{}; extractors {:?}{provider}",
            "",
            r.first_to_last_s,
            match (r.since_start_s, r.per_s_since_start) {
                (Some(s), Some(rate)) =>
                    format!(", {rate:.1}/s over {s:.1} s from the worker's start"),
                _ => String::new(),
            },
            r.extractors,
        );
        let _ = writeln!(
            text,
            "{:<width$} {}",
            "",
            cpu_cells(&r.processes, &r.groups, &r.machine)
        );
    }
    print!("{text}");
}
