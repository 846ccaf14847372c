//! `tessera-bench`: Tessera's benchmark driver. See `bench/README.md` for what each command
//! measures and `bench/run.sh` for how they are put together.
// A program of its own: an edge that reads the clock.
#![allow(clippy::disallowed_methods)]

mod hello;
mod http;
mod load;
mod memory;
mod propagation;
mod roundtrips;
mod seed;
mod setup;
mod summary;
mod window;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::load::Scenario;

/// The session attributes the server stores for a desktop Chrome sign-in from
/// 203.0.113.45 with a password (what `ClientInfo` makes of [`USER_AGENT`]).
pub(crate) fn device_attributes() -> String {
    tessera_server::device::ClientInfo::new(
        Some(USER_AGENT),
        Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            203, 0, 113, 45,
        ))),
        None,
    )
    .to_attributes()
}

/// The same allocator as the `tessera` binary, so the hello baseline is served the same way.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A realistic browser user agent (what the server parses into session attributes).
pub(crate) const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[derive(Parser)]
#[command(name = "tessera-bench", about = "Tessera benchmark driver")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the baseline `GET /hello` (axum, like `tessera serve`).
    Hello {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Register users and sign them in through the HTTP API; write the sessions (JSON lines).
    Setup {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        run: String,
        #[arg(long, default_value_t = 64)]
        users: usize,
        #[arg(long, default_value_t = 1)]
        per_user: usize,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Many sessions of the `--from` users written straight into the server's Redis (see
    /// `seed.rs`); writes them like `setup` does.
    Seed {
        #[arg(long)]
        redis: String,
        #[arg(long)]
        from: PathBuf,
        #[arg(long, default_value_t = 800)]
        per_user: usize,
        /// The server's data directory: its key file holds the refresh key that the seeded
        /// tokens must be tagged with.
        #[arg(long)]
        data_dir: PathBuf,
        /// Also write each session's durable copy into the server's SQLite file (for a
        /// server with `TESSERA_DURABLE_SESSIONS=on`).
        #[arg(long)]
        durable: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// One closed-loop load run; appends a JSON line to `--results`.
    Load {
        #[arg(long)]
        addr: String,
        #[arg(long, value_enum)]
        scenario: Scenario,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Sessions per connection (used round-robin).
        #[arg(long, default_value_t = 1)]
        per_conn: usize,
        #[arg(long)]
        sessions: Option<PathBuf>,
        /// Write the sessions back afterwards (refresh moves the chains on).
        #[arg(long)]
        save: bool,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 0)]
        round: u32,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        results: Option<PathBuf>,
        /// Report even when no request succeeded (the latency of errors, e.g. the 503s
        /// while the state store is down).
        #[arg(long)]
        errors_expected: bool,
        /// The introspection client (`id:secret`, one of the server's
        /// `TESSERA_INTROSPECTION_CLIENTS`) for `--scenario introspect`.
        #[arg(long)]
        client: Option<String>,
        /// The server process: its CPU over the measured window (`/proc/<pid>/stat`) gives
        /// requests per CPU-second (`server_cpu_s`, `per_server_cpu_s`).
        #[arg(long)]
        server_pid: Option<u32>,
        /// The server's Redis: its CPU (`INFO cpu`) and commands (`INFO commandstats`) over
        /// the measured window.
        #[arg(long)]
        redis: Option<String>,
        /// Open loop: this many requests per second in all, scheduled evenly over the
        /// connections; latency counts from each request's scheduled time. Unset: closed loop.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Logins saturating the hashing pool while `--probe` connections keep calling /v1/me.
    Logins {
        #[arg(long)]
        addr: String,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 8)]
        probe: usize,
        /// Accounts to sign in as (their sessions' emails).
        #[arg(long)]
        users: PathBuf,
        /// Sessions whose access tokens the probe uses.
        #[arg(long)]
        probe_sessions: PathBuf,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 0)]
        round: u32,
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Time from `logout` returning to this process's tessera-guard refusing the token.
    Propagation {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        redis: String,
        #[arg(long)]
        issuer: String,
        #[arg(long, default_value = "tessera")]
        audience: String,
        #[arg(long)]
        users: PathBuf,
        #[arg(long, default_value_t = 200)]
        samples: usize,
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Redis commands per request, from a MONITOR capture (`redis-cli` on the same port).
    Roundtrips {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        redis_port: u16,
        #[arg(long)]
        sessions: PathBuf,
        #[arg(long, default_value_t = 200)]
        n: usize,
    },
    /// Redis `used_memory` per live session over many sessions created through the store.
    Memory {
        #[arg(long)]
        redis: String,
        #[arg(long, default_value_t = 100_000)]
        sessions: usize,
        #[arg(long, default_value_t = 1)]
        per_user: usize,
        #[arg(long, default_value_t = 64)]
        parallel: usize,
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Medians over rounds and ratios to the hello baseline, as a Markdown table.
    Summarize {
        #[arg(long)]
        results: PathBuf,
    },
}

pub(crate) fn append(results: Option<&PathBuf>, v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{v}");
    if let Some(p) = results {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)?;
        writeln!(f, "{v}")?;
    }
    Ok(())
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match Cli::parse().command {
        Cmd::Hello { listen } => hello::serve(listen).await,
        Cmd::Setup {
            addr,
            run,
            users,
            per_user,
            parallel,
            out,
        } => {
            let t = std::time::Instant::now();
            let s = setup::create(&addr, &run, users, per_user, parallel).await?;
            setup::save(&out, &s)?;
            eprintln!(
                "setup: {} sessions of {users} users in {:.1} s",
                s.len(),
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Load {
            addr,
            scenario,
            connections,
            per_conn,
            sessions,
            save,
            warmup,
            duration,
            round,
            label,
            results,
            errors_expected,
            client,
            server_pid,
            redis,
            rate,
        } => {
            let all = match &sessions {
                Some(p) => setup::load(p)?,
                None => vec![setup::Session {
                    email: String::new(),
                    password: String::new(),
                    access_token: String::new(),
                    refresh_token: String::new(),
                }],
            };
            let per = load::deal(&all, connections, per_conn);
            let probes = match (server_pid, &redis) {
                (None, None) => None,
                (pid, url) => Some(window::Probes {
                    server_pid: pid,
                    redis: match url {
                        Some(u) => Some(
                            redis::Client::open(u.as_str())?
                                .get_multiplexed_async_connection()
                                .await?,
                        ),
                        None => None,
                    },
                }),
            };
            let t0 = std::time::Instant::now();
            let (from, to) = (t0 + secs(warmup), t0 + secs(warmup) + secs(duration));
            let sampler = probes.map(|p| tokio::spawn(p.window(from, to)));
            let client = client.as_deref();
            let plan = load::Plan {
                warmup: secs(warmup),
                duration: secs(duration),
                rate,
            };
            let m = if errors_expected {
                load::run_any(&addr, scenario, per, plan, client).await?
            } else {
                load::run(&addr, scenario, per, plan, client).await?
            };
            if save && let Some(p) = &sessions {
                let flat: Vec<_> = m.sessions.iter().flatten().cloned().collect();
                setup::save(p, &flat)?;
            }
            let label = label.unwrap_or_else(|| format!("{scenario:?}").to_lowercase());
            let mut line = m.result_line(&label, round, connections);
            if let Some(obj) = line.as_object_mut() {
                obj.insert("rate".into(), serde_json::json!(rate));
            }
            if let Some(s) = sampler
                && let Some(obj) = line.as_object_mut()
            {
                let costs = s.await??;
                let done = (m.completed_ok + m.errors) as f64;
                let per_cpu = costs
                    .get("server_cpu_s")
                    .and_then(|v| v.as_f64())
                    .filter(|c| *c > 0.0)
                    .map(|c| m.completed_ok as f64 / c);
                obj.extend(costs);
                obj.insert("requests_in_window".into(), done.into());
                obj.insert("per_server_cpu_s".into(), serde_json::json!(per_cpu));
            }
            append(results.as_ref(), &line)
        }
        Cmd::Logins {
            addr,
            connections,
            probe,
            users,
            probe_sessions,
            warmup,
            duration,
            round,
            results,
        } => {
            let users = setup::load(&users)?;
            let probes = setup::load(&probe_sessions)?;
            let plan = load::Plan {
                warmup: secs(warmup),
                duration: secs(duration),
                rate: None,
            };
            let logins = load::run(
                &addr,
                Scenario::Login,
                load::deal(&users, connections, 1),
                plan,
                None,
            );
            let me = load::run(
                &addr,
                Scenario::Me,
                load::deal(&probes, probe, 1),
                plan,
                None,
            );
            let (l, m) = tokio::join!(logins, me);
            let (l, m) = (l?, m?);
            for (label, x, c) in [("login", &l, connections), ("me_during_logins", &m, probe)] {
                append(results.as_ref(), &x.result_line(label, round, c))?;
            }
            Ok(())
        }
        Cmd::Propagation {
            addr,
            redis,
            issuer,
            audience,
            users,
            samples,
            results,
        } => {
            let users = setup::load(&users)?;
            let v = propagation::run(&addr, &redis, &issuer, &audience, &users, samples).await?;
            append(results.as_ref(), &v)
        }
        Cmd::Roundtrips {
            addr,
            redis_port,
            sessions,
            n,
        } => {
            let sessions = setup::load(&sessions)?;
            roundtrips::run(&addr, redis_port, &sessions, n).await
        }
        Cmd::Memory {
            redis,
            sessions,
            per_user,
            parallel,
            results,
        } => {
            let v = memory::run(&redis, sessions, per_user, parallel).await?;
            append(results.as_ref(), &v)
        }
        Cmd::Seed {
            redis,
            from,
            per_user,
            data_dir,
            durable,
            out,
        } => seed::run(&redis, &from, per_user, &data_dir, durable, &out).await,
        Cmd::Summarize { results } => summary::print(&results),
    }
}
