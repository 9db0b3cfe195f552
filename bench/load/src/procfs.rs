//! What `/proc` says about the measured processes: CPU time (so each service's share
//! of the two cores shows), peak and current resident memory, and the machine's busy
//! time (so other work on the machine shows too).

use std::fs;

/// Clock ticks per second of `/proc/<pid>/stat` times: 100 on every Linux the
/// benchmark runs on (`getconf CLK_TCK`); `--clk-tck` overrides it.
pub const DEFAULT_CLK_TCK: u64 = 100;

/// User + system CPU ticks of a process (all its threads), or `None` once it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_ticks(&stat)
}

fn stat_ticks(stat: &str) -> Option<u64> {
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split
    // after the last ')'. utime and stime are fields 14 and 15 of the line, 12 and
    // 13 after the comm.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` (peak resident) and `VmRSS` (current resident) in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((status_kib(&status, "VmHWM")?, status_kib(&status, "VmRSS")?))
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resets `VmHWM` to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so a
/// scenario's peak is its own. Needs the right to ptrace the process; false when
/// refused, and the peak is then the one since the process started.
pub fn reset_peak(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Every process whose `comm` is `name` (e.g. all PostgreSQL backends).
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .collect()
}

/// CPU ticks and resident memory (KiB) summed over the processes named `name`.
pub fn group_sample(name: &str) -> (u64, u64, usize) {
    let pids = pids_named(name);
    let ticks = pids.iter().filter_map(|&pid| cpu_ticks(pid)).sum();
    let rss = pids
        .iter()
        .filter_map(|&pid| memory_kib(pid).map(|(_, rss)| rss))
        .sum();
    (ticks, rss, pids.len())
}

/// Busy and total ticks of the whole machine (all cores) from `/proc/stat`.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    machine_line(stat.lines().next()?)
}

fn machine_line(line: &str) -> Option<(u64, u64)> {
    let values: Vec<u64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

pub fn own_ticks() -> Option<u64> {
    stat_ticks(&fs::read_to_string("/proc/self/stat").ok()?)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_status_and_machine_lines() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 120 0 0 0 731 92 0 0 20 0 3 0 9";
        assert_eq!(stat_ticks(stat), Some(823));
        let status = "Name:\tgateway\nVmHWM:\t   21504 kB\nVmRSS:\t   19000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(21504));
        assert_eq!(status_kib(status, "VmRSS"), Some(19000));
        assert_eq!(
            machine_line("cpu  100 5 50 800 20 1 2 0 0 0"),
            Some((158, 978))
        );
    }

    #[test]
    fn reads_its_own_process() {
        assert!(own_ticks().is_some());
        assert!(memory_kib(std::process::id()).is_some_and(|(hwm, rss)| hwm >= rss && rss > 0));
    }
}
