//! Identity providers for the federated sign-in cases, run with Node.js from `tests/oidc`:
//! a real OpenID provider (`oidc-provider`, `provider.mjs`) and a hostile one
//! (`hostile.mjs`, ID tokens broken on request). And [`Agent`], a browser that follows
//! redirects across hosts by hand and keeps cookies per host, so every hop is visible.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use reqwest::StatusCode;
use serde_json::Value;

/// The directory of the provider scripts, with their npm packages installed (once per test
/// process); `None` (after a loud skip, or a panic under `TESSERA_REQUIRE_SERVICES=1`) when
/// Node.js or npm is missing or the install fails.
pub fn scripts() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc"));
        let has = |cmd: &str| {
            Command::new(cmd)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !has("node") || !has("npm") {
            tessera_testkit::services::missing("Node.js and npm (identity providers)");
            return None;
        }
        if !dir.join("node_modules/oidc-provider").exists() {
            let ok = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                tessera_testkit::services::missing("npm packages oidc-provider and jose");
                return None;
            }
        }
        Some(dir)
    })
    .as_deref()
}

/// A provider process; killed on drop.
pub struct Idp {
    pub issuer: String,
    child: Child,
}

impl Idp {
    /// Starts `script` (`provider.mjs` or `hostile.mjs`) with `env`; waits for its port.
    pub fn start(script: &str, env: &[(&str, &str)]) -> Option<Self> {
        let dir = scripts()?;
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn node");
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("provider exited before printing its port")
                .expect("read provider output");
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && let Some(p) = v["port"].as_u64()
            {
                break p;
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Some(Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        })
    }

    /// `GET <issuer><path>` (the scripts' `/test/*` controls).
    pub async fn control(&self, path: &str) {
        let r = reqwest::get(format!("{}{path}", self.issuer))
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// The account the next login at this provider is.
    pub async fn next_account(&self, sub: &str, email: &str, verified: bool) {
        self.control(&format!(
            "/test/next?sub={}&email={}&email_verified={verified}",
            super::http::form_encode(sub),
            super::http::form_encode(email)
        ))
        .await;
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a hop ended with when it was not a redirect.
#[derive(Debug)]
pub struct Stopped {
    pub status: StatusCode,
    pub body: Value,
}

impl Stopped {
    /// The problem's `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A browser: cookies per `host:port` (all sent back to that host, whatever their path),
/// redirects followed one hop at a time.
#[derive(Default)]
pub struct Agent {
    client: reqwest::Client,
    jar: HashMap<String, BTreeMap<String, String>>,
}

fn origin(url: &str) -> String {
    let u = reqwest::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap()
    )
}

impl Agent {
    /// A browser with no cookies.
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: HashMap::new(),
        }
    }

    /// This browser's value of cookie `name` at `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&origin(url))?.get(name).cloned()
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        let c = self.jar.get(&origin(url))?;
        (!c.is_empty()).then(|| {
            c.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn keep(&mut self, url: &str, res: &reqwest::Response) {
        for v in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let first = v.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            let gone = v.to_ascii_lowercase().contains("max-age=0");
            let jar = self.jar.entry(origin(url)).or_default();
            if gone {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    /// One GET; the redirect target (absolute) or where it stopped.
    pub async fn get(&mut self, url: &str) -> Result<String, Stopped> {
        let mut req = self.client.get(url);
        if let Some(c) = self.cookie_header(url) {
            req = req.header(reqwest::header::COOKIE, c);
        }
        let res = req.send().await.unwrap();
        self.keep(url, &res);
        let status = res.status();
        if status.is_redirection() {
            let loc = res.headers()[reqwest::header::LOCATION].to_str().unwrap();
            return Ok(reqwest::Url::parse(url)
                .unwrap()
                .join(loc)
                .unwrap()
                .to_string());
        }
        let text = res.text().await.unwrap_or_default();
        Err(Stopped {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        })
    }

    /// Follows redirects from `url` until one points at a URL starting with `stop_at`
    /// (returned, not fetched), or a hop is not a redirect.
    pub async fn follow(&mut self, url: &str, stop_at: &str) -> Result<String, Stopped> {
        let mut url = url.to_owned();
        for _ in 0..20 {
            let next = self.get(&url).await?;
            if next.starts_with(stop_at) {
                return Ok(next);
            }
            url = next;
        }
        panic!("too many redirects from {url}");
    }

    /// A JSON POST with this browser's cookies; status, body and the `Set-Cookie` names.
    pub async fn post(
        &mut self,
        url: &str,
        body: &Value,
        bearer: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.post(url).json(body);
        if let Some(c) = self.cookie_header(url) {
            req = req.header(reqwest::header::COOKIE, c);
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        self.keep(url, &res);
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// The value of query parameter `name` of `url`.
pub fn query(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
