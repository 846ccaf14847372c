//! Creating the users and sessions the scenarios use, through the real HTTP API.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::Conn;

/// One signed-in session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
}

pub(crate) fn email(run: &str, i: usize) -> String {
    format!("bench-{run}-{i}@example.com")
}

pub(crate) const PASSWORD: &str = "correct horse battery staple 9 bench";

pub(crate) async fn register(conn: &mut Conn, email: &str) -> anyhow::Result<()> {
    let (status, body) = conn
        .post_json(
            "/v1/auth/register",
            None,
            &json!({"email": email, "password": PASSWORD, "name": "Bench User"}),
        )
        .await?;
    if !status.is_success() {
        bail!("register {email}: {status} {body}");
    }
    Ok(())
}

pub(crate) async fn login(conn: &mut Conn, email: &str) -> anyhow::Result<Session> {
    let (status, body) = conn
        .post_json(
            "/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD, "device_name": "bench"}),
        )
        .await?;
    if !status.is_success() {
        bail!("login {email}: {status} {body}");
    }
    let field = |k: &str| -> anyhow::Result<String> {
        body.get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| format!("login response without {k}: {body}"))
    };
    Ok(Session {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        access_token: field("access_token")?,
        refresh_token: field("refresh_token")?,
    })
}

/// Registers `users` users (tag `run`) and opens `per_user` sessions for each, with
/// `parallel` connections. Returns the sessions, user-major.
pub(crate) async fn create(
    addr: &str,
    run: &str,
    users: usize,
    per_user: usize,
    parallel: usize,
) -> anyhow::Result<Vec<Session>> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..parallel {
        let addr = addr.to_owned();
        let run = run.to_owned();
        tasks.spawn(async move {
            let mut conn = Conn::open(&addr).await?;
            let mut out = Vec::new();
            for i in (w..users).step_by(parallel) {
                let e = email(&run, i);
                register(&mut conn, &e).await?;
                for _ in 0..per_user {
                    out.push((i, login(&mut conn, &e).await?));
                }
            }
            anyhow::Ok(out)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, s)| s).collect())
}

pub(crate) fn save(path: &Path, sessions: &[Session]) -> anyhow::Result<()> {
    let mut out = String::new();
    for s in sessions {
        out.push_str(&serde_json::to_string(s)?);
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("write {}", path.display()))
}

pub(crate) fn load(path: &Path) -> anyhow::Result<Vec<Session>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}
