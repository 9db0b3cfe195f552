//! A Redis server of the test's own, with the append-only file on, for durability
//! tests: write, [`RedisServer::kill`] it (SIGKILL, no chance to save), then
//! [`RedisServer::restart`] it on the same port and directory and see what survived.
//!
//! The machine's Redis runs with persistence off (`--save "" --appendonly no`), so it
//! cannot tell a durable store from a lucky one; this spawns `/usr/bin/redis-server`
//! (or `REDIS_SERVER_BIN`) instead, the way production runs it:
//! `--appendonly yes --appendfsync everysec`.
//!
//! # When is a write safe from a kill?
//!
//! With `appendfsync everysec`, Redis writes each command to the AOF file before it
//! sends the reply (it flushes the AOF buffer in the event loop's `beforeSleep`, ahead
//! of the replies), and fsyncs the file in the background once a second. A SIGKILL of
//! the process loses nothing the file was given: the kernel still holds it. The one
//! exception is a write Redis postponed because the previous background fsync was still
//! running (it waits up to 2 s for it): such a write is acknowledged but not yet in the
//! file. [`RedisServer::wait_aof_synced`] polls `INFO persistence` until
//! `aof_last_write_status:ok` and `aof_pending_bio_fsync:0`; once the server answers
//! that, any postponed write has been handed to the file (the flush runs before that
//! very reply goes out), so a kill after it loses nothing. It does not prove the bytes
//! reached the disk (only a power cut could tell, and tests cannot cut power); for that,
//! wait [`EVERYSEC_FSYNC_WINDOW`] as well. (`WAITAOF`, which waits for the fsync itself,
//! needs Redis 7.2; Debian bookworm ships 7.0.)
//!
//! The server blocks the calling thread while it starts (at most
//! [`READY_WITHIN`]); in a `#[tokio::test]` that is a pause of some tens of
//! milliseconds.

use crate::FixtureError;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a start or restart may take before the test fails.
pub const READY_WITHIN: Duration = Duration::from_secs(10);

/// With `appendfsync everysec`, a write reaches the disk within this long.
pub const EVERYSEC_FSYNC_WINDOW: Duration = Duration::from_millis(1200);

const POLL_EVERY: Duration = Duration::from_millis(20);

/// A `redis-server` child process with AOF on, on a free `127.0.0.1` port, with its
/// own directory. Dropping it kills the process and removes the directory.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a fresh server (empty directory, free port) and waits until it answers
    /// `PING`; an error when `redis-server` is missing or not ready within [`READY_WITHIN`].
    pub fn start_with_aof() -> Result<Self, FixtureError> {
        let dir = std::env::temp_dir().join(crate::unique_name("hospital-redis"));
        std::fs::create_dir_all(&dir).map_err(|source| FixtureError::Io {
            what: "creating the Redis test directory",
            source,
        })?;
        // Dropped on a failure below: that removes the directory.
        let mut server = Self {
            port: 0,
            dir,
            child: None,
        };
        // The port is free when asked, but another process may take it before Redis
        // binds it: try a few ports before giving up.
        let mut last_failure = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.spawn_and_wait() {
                Ok(()) => return Ok(server),
                Err(failure) => {
                    server.kill();
                    last_failure = failure;
                }
            }
        }
        Err(FixtureError::Setup(format!(
            "redis-server did not start: {last_failure}"
        )))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working directory (the `appendonlydir/` lives in it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends SIGKILL (no shutdown save, no final fsync) and waits for the process to
    /// exit. Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on Unix; it fails only when the process is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, and waits until it
    /// answers `PING` and has loaded its AOF (`loading:0`). Kills it first if running.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(failure) = self.spawn_and_wait() {
            self.kill();
            panic!(
                "redis-server did not restart on port {}: {failure}",
                self.port
            );
        }
    }

    /// Waits until every write the server acknowledged is in its AOF file, so a
    /// [`RedisServer::kill`] cannot lose it (see the module's documentation).
    pub fn wait_aof_synced(&mut self) {
        self.wait_until("the AOF to be written", |port| {
            let info = command(port, &["INFO", "persistence"]).ok()?;
            let ok = info_field(&info, "aof_enabled") == Some("1")
                && info_field(&info, "aof_last_write_status") == Some("ok")
                && info_field(&info, "aof_pending_bio_fsync") == Some("0");
            ok.then_some(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Sends one command and returns its reply as text: a status or an integer as
    /// written, a bulk string's content, an error as `Err`. Arrays are not parsed;
    /// use a real client for those.
    pub fn command(&self, args: &[&str]) -> Result<String, String> {
        command(self.port, args)
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        self.spawn()?;
        self.wait_until("PING to answer PONG", |port| {
            (command(port, &["PING"]).ok()? == "PONG").then_some(())
        })?;
        self.wait_until("the AOF to load (loading:0)", |port| {
            let info = command(port, &["INFO", "persistence"]).ok()?;
            (info_field(&info, "loading") == Some("0")).then_some(())
        })
    }

    fn spawn(&mut self) -> Result<(), String> {
        let binary =
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "/usr/bin/redis-server".into());
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))
            .map_err(|e| format!("open the log file: {e}"))?;
        let log_too = log.try_clone().map_err(|e| format!("{e}"))?;
        let child = Command::new(&binary)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ])
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            // Never the test's own stdout/stderr: nextest would wait for the child.
            .stdout(log)
            .stderr(log_too)
            .spawn()
            .map_err(|e| format!("cannot run {binary} (apt install redis-server): {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls `check` until it returns `Some`, or fails after [`READY_WITHIN`] (or at
    /// once when the process has exited), with the end of the server's log.
    fn wait_until<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(u16) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(value) = check(self.port) {
                return Ok(value);
            }
            if self.has_exited() {
                return Err(format!(
                    "redis-server exited while waiting for {what}; its log ends with:\n{}",
                    self.log_tail()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {READY_WITHIN:?} waiting for {what}; its log ends with:\n{}",
                    self.log_tail()
                ));
            }
            sleep(POLL_EVERY);
        }
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| !matches!(child.try_wait(), Ok(None)))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, FixtureError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|address| address.port())
        .map_err(|source| FixtureError::Io {
            what: "finding a free port for Redis",
            source,
        })
}

/// The value of `field` in an `INFO` reply (`field:value` lines).
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

/// One command over a fresh connection, in RESP.
fn command(port: u16, args: &[&str]) -> Result<String, String> {
    let io = |e: std::io::Error| e.to_string();
    let stream = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(io)?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        let _ = write!(request, "${}\r\n{arg}\r\n", arg.len());
    }
    (&stream).write_all(request.as_bytes()).map_err(io)?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(io)?;
    let line = line.trim_end_matches(['\r', '\n']);
    match line.split_at_checked(1) {
        Some(("+" | ":", rest)) => Ok(rest.to_owned()),
        Some(("-", error)) => Err(error.to_owned()),
        Some(("$", length)) => {
            let Ok(length) = length.parse::<usize>() else {
                return Err("(nil)".to_owned());
            };
            let mut body = vec![0; length + 2];
            reader.read_exact(&mut body).map_err(io)?;
            body.truncate(length);
            String::from_utf8(body).map_err(|e| e.to_string())
        }
        _ => Err(format!("unexpected reply: {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_info_fields() {
        let info = "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_last_write_status:ok\r\n";
        assert_eq!(info_field(info, "loading"), Some("0"));
        assert_eq!(info_field(info, "aof_enabled"), Some("1"));
        assert_eq!(info_field(info, "aof_last_write_status"), Some("ok"));
        assert_eq!(info_field(info, "aof"), None);
    }
}
