//! Runs the real `costlake` binary in an isolated environment: its own HOME, lake and warehouse under a
//! temporary directory, no inherited SCW_* or COSTLAKE_* variables, a bounded run time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use costlake_simulator::Simulator;

/// How long one `costlake` invocation may take in a test before it is killed and the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(270);

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    env: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The `error: ...` line costlake prints on failure.
    pub fn error_line(&self) -> Option<&str> {
        self.stderr.lines().rev().find(|l| l.starts_with("error: "))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

impl Sandbox {
    /// `bin` is `env!("CARGO_BIN_EXE_costlake")` of the calling test.
    pub fn new(bin: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = BTreeMap::new();
        for key in ["PATH", "LANG", "TMPDIR"] {
            if let Ok(value) = std::env::var(key) {
                env.insert(key.to_string(), value);
            }
        }
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        env.insert("HOME".into(), home.display().to_string());
        env.insert("COSTLAKE_LAKE".into(), dir.path().join("lake").display().to_string());
        env.insert("COSTLAKE_WAREHOUSE".into(), dir.path().join("warehouse").display().to_string());
        env.insert("COSTLAKE_CHDB_LIB".into(), crate::engine::chdb_library().display().to_string());
        // Loopback faults are retried quickly; the simulator needs no politeness.
        env.insert("COSTLAKE_RETRY_BASE_MS".into(), "5".into());
        env.insert("COSTLAKE_MAX_RPS".into(), "1000".into());
        env.insert("COSTLAKE_LOG".into(), "warn,costlake=info,costlake_ingest=info,costlake_transform=info".into());
        Sandbox { dir, bin: PathBuf::from(bin), env }
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Sandbox {
        self.env.insert(key.to_string(), value.into());
        self
    }

    pub fn unset(&mut self, key: &str) -> &mut Sandbox {
        self.env.remove(key);
        self
    }

    /// Points Scaleway at the simulator, with its key and organisation.
    pub fn use_simulator(&mut self, simulator: &Simulator) -> &mut Sandbox {
        let config = simulator.config();
        self.set("SCW_API_URL", simulator.base_url())
            .set("SCW_SECRET_KEY", config.secret_key.clone())
            .set("SCW_ACCESS_KEY", "SCWTESTTESTTESTTEST0")
            .set("SCW_DEFAULT_ORGANIZATION_ID", config.organization_id.clone())
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn lake_dir(&self) -> PathBuf {
        self.path("lake")
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_for(&self.bin, args)
    }

    /// `program` with `args` in the sandbox: its environment only, its directory, output captured, killed
    /// with the test.
    fn command_for(&self, program: &Path, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `costlake <args>` to completion (at most [`COMMAND_TIMEOUT`]).
    pub async fn run(&self, args: &[&str]) -> Outcome {
        Self::finish(self.command(args), &format!("costlake {args:?}")).await
    }

    /// Runs `command` to completion (at most [`COMMAND_TIMEOUT`]); `label` names it if it hangs.
    async fn finish(mut command: tokio::process::Command, label: &str) -> Outcome {
        let child = command.spawn().unwrap_or_else(|e| panic!("spawn {label}: {e}"));
        let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{label} did not finish within {COMMAND_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("wait for {label}: {e}"));
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `costlake <args>`, reads `lines` lines of its stdout, then closes the pipe (as `| head` does) and
    /// waits for it to end; `stdout` holds the lines read.
    pub async fn run_then_close_stdout(&self, args: &[&str], lines: usize) -> Outcome {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
        let mut child = self.command(args).spawn().expect("spawn costlake");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let mut reader = BufReader::new(stdout).lines();
        let mut read = Vec::new();
        while read.len() < lines {
            match reader.next_line().await.expect("read stdout") {
                Some(line) => read.push(line),
                None => break,
            }
        }
        drop(reader);
        let finish = async {
            let mut errors = String::new();
            stderr.read_to_string(&mut errors).await.expect("read stderr");
            (child.wait().await.expect("wait for costlake"), errors)
        };
        let (status, errors) = tokio::time::timeout(COMMAND_TIMEOUT, finish)
            .await
            .unwrap_or_else(|_| panic!("costlake {args:?} did not end after its reader left"));
        Outcome { code: status.code(), stdout: read.join("\n"), stderr: errors }
    }

    /// Runs a shell command line (as a user would type a printed hint) in the sandbox's environment.
    pub async fn run_line(&self, line: &str) -> Outcome {
        Self::finish(self.command_for(Path::new("/bin/sh"), &["-c", line]), line).await
    }

    /// Runs and insists on success, returning the outcome.
    pub async fn ok(&self, args: &[&str]) -> Outcome {
        let outcome = self.run(args).await;
        assert!(
            outcome.success(),
            "costlake {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            outcome.code,
            outcome.stdout,
            outcome.stderr
        );
        outcome
    }

    /// Starts `costlake <args>` and returns once a line of its stderr contains `marker` (the process keeps
    /// running; it is killed when the returned child is dropped).
    pub async fn start_until(&self, args: &[&str], marker: &str) -> tokio::process::Child {
        self.start_reading(args, marker).await.0
    }

    /// Starts `costlake <args>` and returns once a line of its stderr contains `marker`, with that line; the
    /// rest of its stderr keeps being read (into the returned buffer), so the process never meets a closed pipe.
    pub async fn start_reading(
        &self,
        args: &[&str],
        marker: &str,
    ) -> (tokio::process::Child, String, std::sync::Arc<std::sync::Mutex<String>>) {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut child = self.command(args).spawn().expect("spawn costlake");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let wait = async {
            let mut seen = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(marker) {
                    return line;
                }
                seen.push(line);
            }
            panic!("costlake {args:?} ended before printing {marker:?}; stderr:\n{}", seen.join("\n"));
        };
        let line = tokio::time::timeout(COMMAND_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("no {marker:?} within {COMMAND_TIMEOUT:?}"));
        let rest = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = rest.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().expect("stderr buffer");
                text.push_str(&line);
                text.push('\n');
            }
        });
        (child, line, rest)
    }

    /// Every file under the sandbox (lake, warehouse excluded), for "nothing half-written" checks.
    pub fn files_under(&self, relative: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path(relative), &mut out);
        out.sort();
        out
    }
}
