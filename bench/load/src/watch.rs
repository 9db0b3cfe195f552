//! CPU and memory of the processes a scenario measures (`--watch NAME=PID`, `--watch-comm
//! NAME` for every process of that name), of the load generator itself and of the whole
//! machine, over a scenario's measured window.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::args::Args;
use crate::procfs;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessStats {
    pub name: String,
    pub pid: u32,
    /// CPU seconds used during the window, and that as cores (1.0 = one core busy).
    pub cpu_s: f64,
    pub cpu_cores: f64,
    /// Peak resident memory since the warm-up began (or since start when the peak
    /// could not be reset), and resident memory at the end.
    pub peak_rss_mib: f64,
    pub rss_mib: f64,
    pub peak_reset: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupStats {
    pub name: String,
    pub processes: usize,
    pub cpu_s: f64,
    pub cpu_cores: f64,
    pub rss_mib: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MachineStats {
    pub cores: usize,
    /// Average busy cores over the window, everything included.
    pub busy_cores: f64,
    pub loadgen_cores: f64,
    /// Busy cores not accounted for by the watched processes, the groups and the
    /// load generator: other work on the machine, kernel softirq time.
    pub other_cores: f64,
}

/// What was used over one window.
pub struct Usage {
    pub processes: Vec<ProcessStats>,
    pub groups: Vec<GroupStats>,
    pub machine: MachineStats,
}

/// The processes to watch, named on the command line.
pub struct Watch {
    watched: Vec<(String, u32)>,
    groups: Vec<String>,
    clk_tck: u64,
    peak_reset: Vec<bool>,
}

/// The counters at one instant.
pub struct Sample {
    processes: Vec<Option<u64>>,
    groups: Vec<(u64, u64, usize)>,
    machine: Option<(u64, u64)>,
    own: Option<u64>,
}

impl Watch {
    /// `--watch NAME=PID`…, `--watch-comm NAME`…, `--clk-tck N`.
    pub fn from_args(args: &Args) -> Result<Self> {
        let watched = args
            .all("watch")
            .iter()
            .map(|w| {
                let (name, pid) = w
                    .split_once('=')
                    .with_context(|| format!("--watch {w:?}: expected NAME=PID"))?;
                Ok((
                    name.to_owned(),
                    pid.parse::<u32>().context("--watch: bad pid")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let groups = args
            .all("watch-comm")
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let peak_reset = vec![false; watched.len()];
        Ok(Self {
            watched,
            groups,
            clk_tck: args.number("clk-tck", procfs::DEFAULT_CLK_TCK, 1..=10_000)?,
            peak_reset,
        })
    }

    /// Starts each watched process's peak memory afresh, so the window's peak is its own.
    pub fn reset_peaks(&mut self) {
        self.peak_reset = self
            .watched
            .iter()
            .map(|(_, pid)| procfs::reset_peak(*pid))
            .collect();
    }

    pub fn sample(&self) -> Sample {
        Sample {
            processes: self
                .watched
                .iter()
                .map(|(_, pid)| procfs::cpu_ticks(*pid))
                .collect(),
            groups: self
                .groups
                .iter()
                .map(|g| procfs::group_sample(g))
                .collect(),
            machine: procfs::machine_ticks(),
            own: procfs::own_ticks(),
        }
    }

    /// What was used between `before` and `after`, `duration_s` apart; memory as it is now.
    pub fn usage(&self, before: &Sample, after: &Sample, duration_s: f64) -> Usage {
        let ticks = |t: u64| t as f64 / self.clk_tck as f64;
        let processes = self
            .watched
            .iter()
            .enumerate()
            .map(|(i, (name, pid))| {
                let cpu_s = match (before.processes[i], after.processes[i]) {
                    (Some(b), Some(a)) => ticks(a.saturating_sub(b)),
                    _ => f64::NAN,
                };
                let (hwm, rss) = procfs::memory_kib(*pid).unwrap_or((0, 0));
                ProcessStats {
                    name: name.clone(),
                    pid: *pid,
                    cpu_s,
                    cpu_cores: cpu_s / duration_s,
                    peak_rss_mib: hwm as f64 / 1024.0,
                    rss_mib: rss as f64 / 1024.0,
                    peak_reset: self.peak_reset[i],
                }
            })
            .collect::<Vec<_>>();
        let groups = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let cpu_s = ticks(after.groups[i].0.saturating_sub(before.groups[i].0));
                GroupStats {
                    name: name.clone(),
                    processes: after.groups[i].2,
                    cpu_s,
                    cpu_cores: cpu_s / duration_s,
                    rss_mib: after.groups[i].1 as f64 / 1024.0,
                }
            })
            .collect::<Vec<_>>();
        let machine = self.machine(before, after, &processes, &groups, duration_s);
        Usage {
            processes,
            groups,
            machine,
        }
    }

    fn machine(
        &self,
        before: &Sample,
        after: &Sample,
        processes: &[ProcessStats],
        groups: &[GroupStats],
        duration_s: f64,
    ) -> MachineStats {
        let cores = procfs::cores();
        let busy_cores = match (before.machine, after.machine) {
            // /proc/stat counts ticks of all cores: busy share × cores.
            (Some((b_busy, b_total)), Some((a_busy, a_total))) if a_total > b_total => {
                (a_busy - b_busy) as f64 / (a_total - b_total) as f64 * cores as f64
            }
            _ => f64::NAN,
        };
        let loadgen_cores = match (before.own, after.own) {
            (Some(b), Some(a)) => (a - b) as f64 / self.clk_tck as f64 / duration_s,
            _ => f64::NAN,
        };
        let accounted: f64 = processes
            .iter()
            .map(|p| p.cpu_cores)
            .chain(groups.iter().map(|g| g.cpu_cores))
            .filter(|c| c.is_finite())
            .sum::<f64>()
            + loadgen_cores;
        MachineStats {
            cores,
            busy_cores,
            loadgen_cores,
            other_cores: (busy_cores - accounted).max(0.0),
        }
    }
}
