//! The real `llm-worker` binary as its own process, to kill with SIGKILL; everything it
//! prints goes to a log file the test scans.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use hospital_test_support::amqp_url;
use uuid::Uuid;

use super::stage::Stage;

/// A log file that several processes append to in turn.
pub struct Log {
    pub path: PathBuf,
}

impl Log {
    pub fn new(what: &str) -> Self {
        Self {
            path: std::env::temp_dir().join(format!("llm-faults-{what}-{}.log", Uuid::now_v7())),
        }
    }

    pub fn read(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub struct WorkerProcess {
    child: Option<Child>,
}

impl WorkerProcess {
    /// Starts the worker on `stage` with `env` on top (`LLM__EXTRACTION__…`), logging at
    /// debug level to `log`.
    pub fn spawn(stage: &Stage, env: &[(&str, &str)], log: &Log) -> Self {
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log.path)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_llm-worker"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // Everything the worker and its libraries log, to scan it.
            .env("RUST_LOG", "debug")
            .env("LLM__HTTP__HOST", "127.0.0.1")
            .env("LLM__HTTP__PORT", "0")
            .env("LLM__HTTP__WORKERS", "1")
            .env("LLM__EVENTS__AMQP_URL", amqp_url())
            .env("LLM__EVENTS__EXCHANGE", &stage.exchange)
            .env("LLM__EVENTS__QUEUE_PREFIX", &stage.queue_prefix)
            .env("LLM__CRYPTO__KEYS", &stage.keys)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        for (name, value) in env {
            command.env(name, value);
        }
        Self {
            child: Some(command.spawn().unwrap()),
        }
    }

    /// SIGKILL: no shutdown, no ack, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Panics if the process has exited (a settings error, a crash).
    pub fn assert_running(&mut self, log: &Log) {
        if let Some(child) = &mut self.child {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the worker exited with {status}:\n{}", log.read());
            }
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
