//! The real `tessera` binary as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::Http;

/// Path of the binary cargo built for these tests.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_tessera")
}

/// A `tessera` command with a clean environment: no `TESSERA_*`, `REDIS_URL` or
/// `DATABASE_URL` from the outside, JSON logs, `RUST_LOG=info`.
pub fn command(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(exe());
    cmd.args(args).current_dir(cwd);
    for (k, _) in std::env::vars() {
        if k.starts_with("TESSERA_") || k == "REDIS_URL" || k == "DATABASE_URL" || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("TESSERA_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// `tessera serve` running in `cwd`; killed on drop. Logs go to `cwd/server-<port>.log`.
pub struct Binary {
    pub http: Http,
    pub port: u16,
    pub log: PathBuf,
    child: Child,
}

impl Binary {
    /// Starts `tessera serve` with `TESSERA_LISTEN` on a free port plus `env`, and waits until
    /// `/healthz` answers.
    pub async fn serve(cwd: &Path, env: &[(&str, &str)]) -> Self {
        Self::serve_on(tessera_testkit::free_port(), cwd, env).await
    }

    /// As [`Binary::serve`], on `port` (chosen beforehand, e.g. to register a callback URL
    /// at an identity provider).
    pub async fn serve_on(port: u16, cwd: &Path, env: &[(&str, &str)]) -> Self {
        let listen = format!("127.0.0.1:{port}");
        let log = cwd.join(format!("server-{port}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut all: Vec<(&str, &str)> = vec![("TESSERA_LISTEN", &listen)];
        all.extend_from_slice(env);
        let child = command(&["serve"], cwd, &all)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn tessera");
        let mut b = Self {
            http: Http::new(format!("http://{listen}")),
            port,
            log,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = b.child.try_wait() {
                panic!("tessera exited with {status}: {}", b.logs());
            }
            if reqwest::get(format!("{}/healthz", b.http.base))
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "tessera did not start: {}",
                b.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the process dies at once, nothing flushed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (kills after 10 s).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl std::ops::Deref for Binary {
    type Target = Http;
    fn deref(&self) -> &Http {
        &self.http
    }
}
