//! The results table, and all scenarios of a run as one JSON document.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::args::Args;
use crate::load::{Latency, Scenario};

#[derive(Serialize, Deserialize)]
struct Results {
    meta: BTreeMap<String, String>,
    scenarios: Vec<Scenario>,
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
    let scenarios = args
        .positional()
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {path}"))
        })
        .collect::<Result<Vec<Scenario>>>()?;
    let results = Results { meta, scenarios };
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
    print_scenarios(&results.scenarios);
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
        let mut cells: Vec<String> = s
            .processes
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
            s.groups
                .iter()
                .map(|g| format!("{}({}) {:.2}", g.name, g.processes, g.cpu_cores)),
        );
        let m = &s.machine;
        cells.push(format!("bench {:.2}", m.loadgen_cores));
        cells.push(format!(
            "other {:.2}  machine {:.2}/{}",
            m.other_cores, m.busy_cores, m.cores
        ));
        let _ = writeln!(text, "{:<width$} {}", s.label, cells.join("  "));
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
