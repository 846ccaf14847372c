//! Redis round trips and commands per request, while this process sends `n` sequential
//! requests of each kind:
//! - round trips: the change of Redis's `total_reads_processed` (`INFO stats`: one per read
//!   event, so a pipeline sent in one write counts once) over the requests, divided by `n`.
//!   The one `INFO` call that reads the counter afterwards is subtracted; anything else the
//!   server sends meanwhile (batched statistics writes) counts against it;
//! - commands: `redis-cli MONITOR`. Commands run inside Lua scripts (`[0 lua]`) are not
//!   round trips and are listed apart.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use hyper::Method;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::http::Conn;
use crate::setup::Session;

async fn capture<F, Fut>(port: u16, n: usize, work: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut child = tokio::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "monitor"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("redis-cli monitor")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut out = Vec::new();
        while let Ok(Some(l)) = lines.next_line().await {
            out.push(l);
        }
        out
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reads_before = reads_processed(port).await?;
    work().await?;
    let reads_after = reads_processed(port).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().await?;
    let lines = reader.await?;
    let mut client: BTreeMap<String, u64> = BTreeMap::new();
    let mut lua: BTreeMap<String, u64> = BTreeMap::new();
    for l in lines.iter().skip_while(|l| l.trim() == "OK") {
        // 1700000000.123456 [0 127.0.0.1:5555] "EVALSHA" "ab12…" "3" …
        let Some(close) = l.find(']') else { continue };
        let inside = &l[..close];
        let rest: Vec<&str> = l[close + 1..].split_whitespace().collect();
        let Some(cmd) = rest.first() else { continue };
        let mut name = cmd.trim_matches('"').to_uppercase();
        if name == "EVALSHA"
            && let Some(sha) = rest.get(1)
        {
            name = format!("EVALSHA {}", &sha.trim_matches('"')[..8.min(sha.len() - 1)]);
        }
        if inside.contains("lua") {
            *lua.entry(name).or_default() += 1;
        } else {
            *client.entry(name).or_default() += 1;
        }
    }
    let per = |m: &BTreeMap<String, u64>| -> serde_json::Value {
        m.iter()
            .map(|(k, v)| (k.clone(), json!(*v as f64 / n as f64)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    println!(
        "{}",
        json!({
            "per_request_round_trips": reads_after.saturating_sub(reads_before + 1) as f64 / n as f64,
            "per_request_client_commands": per(&client),
            "per_request_commands_inside_scripts": per(&lua),
        })
    );
    Ok(())
}

/// Redis's `total_reads_processed` (`INFO stats`).
async fn reads_processed(port: u16) -> anyhow::Result<u64> {
    let out = tokio::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "info", "stats"])
        .output()
        .await
        .context("redis-cli info")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("total_reads_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no total_reads_processed in INFO stats")
}

pub(crate) async fn run(
    addr: &str,
    port: u16,
    sessions: &[Session],
    n: usize,
) -> anyhow::Result<()> {
    let s = sessions.first().context("no session")?.clone();
    let mut conn = Conn::open(addr).await?;
    // Warm up (script loading, verification cache) outside the capture.
    conn.send(Method::GET, "/v1/me", Some(&s.access_token), None)
        .await?;
    println!("GET /v1/me ×{n}:");
    capture(port, n, || async {
        for _ in 0..n {
            let (st, _) = conn
                .send(Method::GET, "/v1/me", Some(&s.access_token), None)
                .await?;
            anyhow::ensure!(st.is_success(), "me: {st}");
        }
        Ok(())
    })
    .await?;
    let mut rt = s.refresh_token.clone();
    let mut conn = Conn::open(addr).await?;
    println!("POST /v1/auth/refresh ×{n}:");
    capture(port, n, || async {
        for _ in 0..n {
            let (st, body) = conn
                .post_json("/v1/auth/refresh", None, &json!({"refresh_token": rt}))
                .await?;
            anyhow::ensure!(st.is_success(), "refresh: {st} {body}");
            rt = body
                .get("refresh_token")
                .and_then(|v| v.as_str())
                .context("no refresh_token")?
                .to_owned();
        }
        Ok(())
    })
    .await?;
    Ok(())
}
