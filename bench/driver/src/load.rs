//! Load on `connections` keep-alive connections. Closed loop (the default): each connection
//! sends its next request as soon as the previous answer is read. Open loop (`rate`): the
//! requests are scheduled at a fixed total rate, spread evenly over the connections, and a
//! request that is due while its connection still waits for the previous answer counts its
//! latency from the moment it was *due*, so the wait behind a slow answer is measured (no
//! coordinated omission, as wrk2 measures); one sent on time counts from its send, so the
//! driver's own timer grain (1 ms in tokio) is not charged to the server. Latencies after the
//! warm-up go into an HdrHistogram (µs, 3 significant digits); throughput and latencies are
//! those of the requests that completed inside the measured window.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use hyper::Method;
use serde::Serialize;
use serde_json::json;

use crate::http::Conn;
use crate::setup::{PASSWORD, Session};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scenario {
    /// `GET /hello` on the baseline server.
    Hello,
    /// `GET /v1/me` with each connection's own access token.
    Me,
    /// `POST /v1/auth/refresh`, each connection chaining its own sessions' refresh tokens.
    Refresh,
    /// `POST /v1/auth/login` (Argon2-bound).
    Login,
    /// `POST /oauth2/introspect` (RFC 7662) of each connection's access tokens in turn, as
    /// the `--client` introspection client (HTTP Basic); a success is `"active": true`.
    Introspect,
    /// `GET /api/whoami` on `examples/resource-server` (tessera-guard with its near-cache)
    /// with each connection's access token.
    Guard,
}

/// One connection's work: its sessions (used round-robin) and what it measured.
struct Worker {
    sessions: Vec<Session>,
    next: usize,
    hist: Histogram<u64>,
    /// Latency samples (requests completed in the window; open loop: due or sent in it).
    ok: u64,
    errors: u64,
    /// Successes completed inside the window (the throughput).
    completed_ok: u64,
    /// Open loop: requests due in the window that the end found unsent (their connection was
    /// still waiting for an earlier answer); each is in `hist` with its wait until the end.
    unsent: u64,
    /// Open loop: how late the driver itself sent an on-time request (not in `hist`).
    lag: Histogram<u64>,
    first_error: Option<String>,
    /// The `Authorization` header of the introspection client.
    client: Option<String>,
}

pub(crate) fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

impl Worker {
    async fn one(&mut self, conn: &mut Conn, scenario: Scenario) -> anyhow::Result<bool> {
        let n = self.sessions.len();
        let s = &mut self.sessions[self.next % n.max(1)];
        self.next = self.next.wrapping_add(1);
        Ok(match scenario {
            Scenario::Hello => {
                let (st, _) = conn.send(Method::GET, "/hello", None, None).await?;
                st.is_success()
            }
            Scenario::Me => {
                let (st, _) = conn
                    .send(Method::GET, "/v1/me", Some(&s.access_token), None)
                    .await?;
                st.is_success()
            }
            Scenario::Refresh => {
                let (st, body) = conn
                    .post_json(
                        "/v1/auth/refresh",
                        None,
                        &json!({"refresh_token": s.refresh_token}),
                    )
                    .await?;
                if st.is_success() {
                    if let (Some(rt), Some(at)) = (
                        body.get("refresh_token").and_then(|v| v.as_str()),
                        body.get("access_token").and_then(|v| v.as_str()),
                    ) {
                        s.refresh_token = rt.to_owned();
                        s.access_token = at.to_owned();
                        true
                    } else {
                        false
                    }
                } else {
                    if self.first_error.is_none() {
                        self.first_error = Some(format!("{st} {body}"));
                    }
                    false
                }
            }
            Scenario::Introspect => {
                let auth = self
                    .client
                    .as_deref()
                    .context("--client id:secret is needed for introspect")?;
                let (st, body) = conn
                    .post_form(
                        "/oauth2/introspect",
                        auth,
                        format!("token={}", s.access_token),
                    )
                    .await?;
                let active = st.is_success()
                    && serde_json::from_slice::<serde_json::Value>(&body)
                        .is_ok_and(|v| v["active"] == true);
                if !active && self.first_error.is_none() {
                    self.first_error = Some(format!("{st} {}", String::from_utf8_lossy(&body)));
                }
                active
            }
            Scenario::Guard => {
                let (st, body) = conn
                    .send(Method::GET, "/api/whoami", Some(&s.access_token), None)
                    .await?;
                if !st.is_success() && self.first_error.is_none() {
                    self.first_error = Some(format!("{st} {}", String::from_utf8_lossy(&body)));
                }
                st.is_success()
            }
            Scenario::Login => {
                let (st, body) = conn
                    .post_json(
                        "/v1/auth/login",
                        None,
                        &json!({"email": s.email, "password": PASSWORD}),
                    )
                    .await?;
                if !st.is_success() && self.first_error.is_none() {
                    self.first_error = Some(format!("{st} {body}"));
                }
                st.is_success()
            }
        })
    }
}

/// What one load run measured.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) completed_ok: u64,
    pub(crate) unsent: u64,
    pub(crate) lag: Histogram<u64>,
    pub(crate) secs: f64,
    pub(crate) hist: Histogram<u64>,
    pub(crate) first_error: Option<String>,
    /// Each connection's sessions afterwards (refresh chains moved on).
    pub(crate) sessions: Vec<Vec<Session>>,
}

impl Measured {
    /// Successes completed per second of the window.
    pub(crate) fn rps(&self) -> f64 {
        self.completed_ok as f64 / self.secs
    }

    /// The `results.jsonl` line of this run (what `summarize` reads).
    pub(crate) fn result_line(
        &self,
        label: &str,
        round: u32,
        connections: usize,
    ) -> serde_json::Value {
        serde_json::json!({
            "kind": "load", "label": label, "round": round,
            "connections": connections, "ok": self.ok, "errors": self.errors,
            "first_error": self.first_error, "secs": self.secs, "rps": self.rps(),
            "p50_us": self.hist.value_at_quantile(0.50),
            "p99_us": self.hist.value_at_quantile(0.99),
            "p999_us": self.hist.value_at_quantile(0.999),
            "unsent": self.unsent,
            "driver_lag_p99_us": self.lag.value_at_quantile(0.99),
            "max_us": self.hist.max(),
        })
    }
}

/// How long a run lasts and how its requests are sent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Open loop at this many requests per second in all; `None`: closed loop.
    pub(crate) rate: Option<f64>,
}

/// Runs `scenario` on `connections` connections as `plan` says; connection `c` uses
/// `per_conn[c]`; `client` (`id:secret`) is the introspection client. Fails when no request
/// succeeded.
pub(crate) async fn run(
    addr: &str,
    scenario: Scenario,
    per_conn: Vec<Vec<Session>>,
    plan: Plan,
    client: Option<&str>,
) -> anyhow::Result<Measured> {
    let m = run_any(addr, scenario, per_conn, plan, client).await?;
    if m.ok == 0 {
        bail!(
            "{scenario:?}: no successful request ({} errors; first: {:?})",
            m.errors,
            m.first_error
        );
    }
    Ok(m)
}

/// [`run`], also when every answer is an error (`load --errors-expected`: the latency of
/// the 503s while the state store is down, `bench/RESULTS.md`).
pub(crate) async fn run_any(
    addr: &str,
    scenario: Scenario,
    per_conn: Vec<Vec<Session>>,
    plan: Plan,
    client: Option<&str>,
) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let client = client.map(crate::http::basic_authorization);
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let connections = per_conn.len().max(1);
    // Open loop: each connection sends every `interval`, the connections staggered evenly.
    let interval = match plan.rate {
        Some(r) if r.is_finite() && r > 0.0 => Some(
            Duration::try_from_secs_f64(connections as f64 / r)
                .ok()
                .filter(|i| !i.is_zero())
                .with_context(|| format!("rate {r} is out of range"))?,
        ),
        Some(r) => bail!("rate must be a positive number, not {r}"),
        None => None,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (c, sessions) in per_conn.into_iter().enumerate() {
        let addr = addr.to_owned();
        let client = client.clone();
        tasks.spawn(async move {
            let mut conn = Conn::open(&addr).await?;
            let mut w = Worker {
                sessions,
                next: 0,
                hist: histogram()?,
                ok: 0,
                errors: 0,
                completed_ok: 0,
                unsent: 0,
                lag: histogram()?,
                first_error: None,
                client,
            };
            let mut due = interval.map(|i| start + i.mul_f64(c as f64 / connections as f64));
            let mut previous_done = start;
            loop {
                let t0 = match (due, interval) {
                    (Some(d), Some(i)) => {
                        if d >= end {
                            break;
                        }
                        if Instant::now() >= end {
                            // The window is over with requests still due in it: each counts
                            // with its wait so far, and none is sent.
                            let mut left = d;
                            while left < end {
                                if left > measure_from {
                                    w.unsent += 1;
                                    let us = (end - left).as_micros().max(1) as u64;
                                    w.hist.saturating_record(us);
                                }
                                left += i;
                            }
                            break;
                        }
                        due = Some(d + i);
                        if previous_done > d {
                            // The previous answer came after this request was due: the wait
                            // is the server's doing and counts.
                            d
                        } else {
                            // Otherwise only the driver's timer (tokio's has a 1 ms grain)
                            // stood between the schedule and the send: it does not count,
                            // and is reported on its own (`driver_lag_p99_us`).
                            tokio::time::sleep_until(d.into()).await;
                            let now = Instant::now();
                            w.lag.saturating_record((now - d).as_micros() as u64);
                            now
                        }
                    }
                    _ => Instant::now(),
                };
                if t0 >= end {
                    break;
                }
                let good = w.one(&mut conn, scenario).await?;
                let t1 = Instant::now();
                previous_done = t1;
                // Closed loop: the requests completed in the window. Open loop: those
                // sent (or due) in it, however late they completed.
                let at = if interval.is_some() { t0 } else { t1 };
                if at > measure_from && at <= end {
                    let us = (t1 - t0).as_micros().max(1) as u64;
                    w.hist.saturating_record(us);
                    if good {
                        w.ok += 1;
                    } else {
                        w.errors += 1;
                    }
                }
                if good && t1 > measure_from && t1 <= end {
                    w.completed_ok += 1;
                }
            }
            anyhow::Ok((c, w))
        });
    }
    let mut hist = histogram()?;
    let mut lag = histogram()?;
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    let (mut completed_ok, mut unsent) = (0, 0);
    let mut sessions = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (c, w) = r??;
        hist.add(&w.hist)?;
        lag.add(&w.lag)?;
        ok += w.ok;
        errors += w.errors;
        completed_ok += w.completed_ok;
        unsent += w.unsent;
        if first_error.is_none() {
            first_error = w.first_error;
        }
        sessions.push((c, w.sessions));
    }
    sessions.sort_by_key(|(c, _)| *c);
    Ok(Measured {
        ok,
        errors,
        completed_ok,
        unsent,
        lag,
        secs: plan.duration.as_secs_f64(),
        hist,
        first_error,
        sessions: sessions.into_iter().map(|(_, s)| s).collect(),
    })
}

/// Splits `sessions` over `connections` connections, each getting `per` of them (cycling
/// through the list when it is short).
pub(crate) fn deal(sessions: &[Session], connections: usize, per: usize) -> Vec<Vec<Session>> {
    let mut k = 0;
    (0..connections)
        .map(|_| {
            (0..per)
                .map(|_| {
                    let s = sessions[k % sessions.len()].clone();
                    k += 1;
                    s
                })
                .collect()
        })
        .collect()
}
