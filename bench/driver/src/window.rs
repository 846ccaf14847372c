//! What the measured window of a load run cost, for `bench/run.sh`'s `sizing` scenario:
//! snapshots taken when the window opens (the warm-up ends) and when it closes, of
//! - the server process's CPU (`/proc/<pid>/stat` utime + stime), which gives requests per
//!   CPU-second of the server alone, i.e. per vCPU;
//! - this process's own CPU (the load generator) and the whole machine's busy time
//!   (`/proc/stat`), so that what else ran in the window shows (`other_cpu_s`);
//! - Redis: `INFO cpu` (`used_cpu_sys` + `used_cpu_user`, the whole redis-server process)
//!   and `INFO commandstats` (calls and µs per command), so commands, `EVALSHA` calls and
//!   Redis CPU per request come from the same window as the requests. The `INFO` calls made
//!   here are left out of the command counts.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

/// Where the snapshots are read from.
pub(crate) struct Probes {
    pub(crate) server_pid: Option<u32>,
    pub(crate) redis: Option<redis::aio::MultiplexedConnection>,
}

/// One snapshot.
struct Snapshot {
    server_ticks: Option<u64>,
    own_ticks: u64,
    machine_busy_ticks: u64,
    redis_cpu_s: Option<f64>,
    /// command → (calls, µs)
    redis_cmds: BTreeMap<String, (u64, u64)>,
}

/// `/proc` counts CPU time in clock ticks (`USER_HZ`, 100 on every Linux ABI in use; read
/// from `getconf CLK_TCK` when it answers).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in ticks.
fn process_ticks(pid: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    parse_process_ticks(&stat).with_context(|| format!("parse /proc/{pid}/stat"))
}

/// The command name (field 2) is in parentheses and may hold spaces: fields are counted
/// from the last `)`. utime and stime are fields 14 and 15.
fn parse_process_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Busy ticks of all CPUs (`/proc/stat` `cpu` line: everything but idle and iowait; guest
/// time is already inside user).
fn machine_busy_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    parse_machine_busy(&stat).context("parse /proc/stat")
}

fn parse_machine_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    Some(
        [0, 1, 2, 5, 6, 7]
            .iter()
            .map(|&i| v.get(i).copied().unwrap_or(0))
            .sum(),
    )
}

/// `cmdstat_get:calls=12,usec=34,usec_per_call=2.83,…` lines → command → (calls, µs).
fn parse_commandstats(info: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for l in info.lines() {
        let Some((name, rest)) = l
            .trim()
            .strip_prefix("cmdstat_")
            .and_then(|r| r.split_once(':'))
        else {
            continue;
        };
        let field = |k: &str| {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.insert(name.to_owned(), (field("calls"), field("usec")));
    }
    out
}

fn parse_redis_cpu(info: &str) -> f64 {
    info.lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once(':')?;
            matches!(k, "used_cpu_sys" | "used_cpu_user").then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

impl Probes {
    async fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        let server_ticks = match self.server_pid {
            Some(p) => Some(process_ticks(&p.to_string())?),
            None => None,
        };
        let own_ticks = process_ticks("self")?;
        let machine_busy_ticks = machine_busy_ticks()?;
        let (redis_cpu_s, redis_cmds) = match &mut self.redis {
            Some(con) => {
                let cpu: String = redis::cmd("INFO").arg("cpu").query_async(con).await?;
                let cmds: String = redis::cmd("INFO")
                    .arg("commandstats")
                    .query_async(con)
                    .await?;
                (Some(parse_redis_cpu(&cpu)), parse_commandstats(&cmds))
            }
            None => (None, BTreeMap::new()),
        };
        Ok(Snapshot {
            server_ticks,
            own_ticks,
            machine_busy_ticks,
            redis_cpu_s,
            redis_cmds,
        })
    }

    /// Waits until `from`, snapshots, waits until `to`, snapshots; returns the differences
    /// (seconds of CPU, Redis command calls and µs) as JSON fields for the run's line.
    pub(crate) async fn window(
        mut self,
        from: Instant,
        to: Instant,
    ) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        tokio::time::sleep_until(from.into()).await;
        let a = self.snapshot().await?;
        tokio::time::sleep_until(to.into()).await;
        let b = self.snapshot().await?;
        let hz = ticks_per_second();
        let secs = |x: u64, y: u64| y.saturating_sub(x) as f64 / hz;
        let mut out = serde_json::Map::new();
        let server = a.server_ticks.zip(b.server_ticks).map(|(x, y)| secs(x, y));
        let own = secs(a.own_ticks, b.own_ticks);
        let machine = secs(a.machine_busy_ticks, b.machine_busy_ticks);
        let redis = a
            .redis_cpu_s
            .zip(b.redis_cpu_s)
            .map(|(x, y)| (y - x).max(0.0));
        out.insert("window_wall_s".into(), json!((to - from).as_secs_f64()));
        out.insert("server_pid".into(), json!(self.server_pid));
        out.insert("server_cpu_s".into(), json!(server));
        out.insert("driver_cpu_s".into(), json!(own));
        out.insert("redis_cpu_s".into(), json!(redis));
        out.insert("machine_busy_cpu_s".into(), json!(machine));
        out.insert(
            "other_cpu_s".into(),
            json!(machine - own - server.unwrap_or(0.0) - redis.unwrap_or(0.0)),
        );
        if self.redis.is_some() {
            let mut calls = serde_json::Map::new();
            let mut usec = serde_json::Map::new();
            for (cmd, (c1, u1)) in &b.redis_cmds {
                // Only the snapshots' own INFO calls: everything else counts.
                if cmd == "info" {
                    continue;
                }
                let (c0, u0) = a.redis_cmds.get(cmd).copied().unwrap_or((0, 0));
                if c1 > &c0 {
                    calls.insert(cmd.clone(), json!(c1 - c0));
                    usec.insert(cmd.clone(), json!(u1.saturating_sub(u0)));
                }
            }
            out.insert("redis_calls".into(), calls.into());
            out.insert("redis_usec".into(), usec.into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ticks_are_counted_after_the_command_name() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 75 0 0 20 0 9 0 100 2000000 3000 18446744073709551615";
        assert_eq!(parse_process_ticks(stat), Some(325));
        assert_eq!(parse_process_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn machine_busy_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\n";
        assert_eq!(parse_machine_busy(stat), Some(100 + 5 + 50 + 3 + 2 + 7));
    }

    #[test]
    fn commandstats_and_cpu_parse() {
        let info = "# Commandstats\r\ncmdstat_evalsha:calls=10,usec=450,usec_per_call=45.00,\
                    rejected_calls=0,failed_calls=0\r\ncmdstat_hmget:calls=3,usec=6,\
                    usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n";
        let m = parse_commandstats(info);
        assert_eq!(m["evalsha"], (10, 450));
        assert_eq!(m["hmget"], (3, 6));
        let cpu = "# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\nused_cpu_sys_children:9\r\n";
        assert!((parse_redis_cpu(cpu) - 3.75).abs() < 1e-9);
    }
}
