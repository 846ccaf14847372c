//! Spawning private `redis-server` processes on free loopback ports (never the shared 6379).
//!
//! Each server runs under a tiny `sh` watchdog that reads our end of a pipe: dropping the
//! [`RedisServer`] closes the pipe and the watchdog kills the server — and so does the test
//! process exiting for any reason, since the OS closes the pipe then too. No orphans.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// True when `redis-server` and `redis-cli` can be run. When they cannot, prints a loud
/// message — or panics when `TESSERA_REQUIRE_SERVICES=1`.
pub fn redis_available() -> bool {
    let ok = ["redis-server", "redis-cli"].iter().all(|bin| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !ok {
        crate::services::missing("redis-server/redis-cli");
    }
    ok
}

/// A port on 127.0.0.1 that is free now, and whose cluster bus port (+10000) is free too.
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = l.local_addr().expect("local addr").port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// A directory under the system temp dir, removed on drop. The directories of the shared
/// servers live in statics, which are never dropped: each new one therefore first removes
/// the leftovers of test processes that no longer run.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        remove_stale_dirs();
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tessera-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// Removes `tessera-test-<tag>-<pid>-<n>` directories whose process is gone.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("tessera-test-") else {
            continue;
        };
        let pid = rest.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `redis-server` process; killed on drop.
pub struct RedisServer {
    port: u16,
    watchdog: Child,
    pipe: Option<ChildStdin>,
}

impl RedisServer {
    /// Starts a server on `port` with working directory `dir` and `extra` arguments, and
    /// waits until it answers PING.
    pub fn start(port: u16, dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(port, &[], dir, extra)
    }

    /// Starts `redis-server <conf> --sentinel` on `port` (the config file must be writable:
    /// sentinels rewrite it), and waits until it answers PING.
    pub fn start_sentinel(port: u16, dir: &Path, conf: &Path, extra: &[&str]) -> Self {
        let conf = conf.to_str().expect("utf-8 config path").to_owned();
        Self::spawn(port, &[conf, "--sentinel".to_owned()], dir, extra)
    }

    fn spawn(port: u16, leading: &[String], dir: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<String> = leading.to_vec();
        args.extend(
            [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--logfile",
                &format!("redis-{port}.log"),
                "--dir",
                dir.to_str().expect("utf-8 temp dir"),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(r#"redis-server "$@" </dev/null & pid=$!; read _; kill -9 $pid; wait $pid"#)
            .arg("sh")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server watchdog");
        let mut server = Self {
            port,
            watchdog,
            pipe: None,
        };
        server.pipe = server.watchdog.stdin.take();
        server.wait_ready();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli -p <port> args…` and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).trim() == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    /// Kills the server now and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(b"stop\n");
        }
        let _ = self.watchdog.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `redis-cli -p port args…` (stdout; empty when it cannot connect).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
