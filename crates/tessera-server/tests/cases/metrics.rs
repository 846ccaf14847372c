//! `GET /metrics`, read with a third-party Prometheus parser (Python's `prometheus_client`).
//! Each server owns its recorder, so the counts below are this server's alone, whatever runs
//! beside it; the cases still compare before/after deltas.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tessera_testkit::{RedisServer, TempDir, free_port, redis_available};

use crate::common::{Backend, PW, Session, TestServer, email};

/// One parsed sample: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: serde_json::Map<String, Value>,
    value: f64,
}

/// A scrape: the raw text, the families' types and the samples as `prometheus_client` parsed
/// them.
struct Scrape {
    text: String,
    types: serde_json::Map<String, Value>,
    samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample `name` whose labels include every pair of `labels` (0 when
    /// absent: a series not yet recorded).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).and_then(Value::as_str) == Some(*v))
            })
            .collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} is ambiguous: {found:?}"
        );
        found.first().map_or(0.0, |s| s.value)
    }

    fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }
}

const PARSE: &str = r#"
import sys, json
from prometheus_client.parser import text_string_to_metric_families
types = {}
samples = []
for f in text_string_to_metric_families(sys.stdin.read()):
    types[f.name] = f.type
    for s in f.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps({"types": types, "samples": samples}))
"#;

fn has_prometheus_client() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        tessera_testkit::services::missing("python3 with prometheus_client");
    }
    ok
}

/// `GET /metrics`: 200, the Prometheus text content type, parsed by `prometheus_client`.
async fn scrape(s: &TestServer) -> Scrape {
    let started = Instant::now();
    let res = s.call(Method::GET, "/metrics", None, None).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "scrape took {:?}",
        started.elapsed()
    );
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let ct = res.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = res.body.as_str().expect("a text body").to_owned();
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the output: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let samples = parsed["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Sample {
            name: s[0].as_str().unwrap().to_owned(),
            labels: s[1].as_object().unwrap().clone(),
            value: s[2].as_f64().unwrap(),
        })
        .collect();
    Scrape {
        text,
        types: parsed["types"].as_object().unwrap().clone(),
        samples,
    }
}

pub async fn metrics_count_sign_ins_refreshes_reuse_and_revocations_by_route_template(b: Backend) {
    if !has_prometheus_client() {
        return;
    }
    // No grace: replaying a rotated refresh token is reuse at once.
    let Some(s) = TestServer::start(b, |c| c.refresh_reuse_grace = Some("0s".into())).await else {
        return;
    };
    let before = scrape(&s).await;

    let e = email("metrics");
    let a = s.signed_up(&e).await;
    let rotated = Session::from(&s.refresh(&a.refresh).await);
    let reused = s.refresh(&a.refresh).await;
    assert_eq!(reused.code(), Some("refresh_token_reused"));
    let wrong = s.login(&e, "not the password at all 1").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let b2 = Session::from(&s.login(&e, PW).await);
    let c3 = Session::from(&s.login(&e, PW).await);
    let end = s
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{}", c3.id),
            None,
            Some(&b2.access),
        )
        .await;
    assert_eq!(end.status, StatusCode::NO_CONTENT, "{end:?}");
    assert_eq!(s.logout(&b2.access).await.status, StatusCode::NO_CONTENT);
    let unmatched = s
        .call(Method::GET, &format!("/no/such/{}", c3.id), None, None)
        .await;
    assert_eq!(unmatched.status, StatusCode::NOT_FOUND);

    let after = scrape(&s).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let logins = |r| delta("tessera_logins_total", &[("result", r)]);
    assert_eq!(
        (
            logins("success"),
            logins("failure"),
            logins("mfa_required"),
            logins("limited")
        ),
        (3.0, 1.0, 0.0, 0.0)
    );
    let refresh = |o| delta("tessera_refresh_total", &[("outcome", o)]);
    assert_eq!(
        (
            refresh("rotated"),
            refresh("grace_replay"),
            refresh("reused"),
            refresh("invalid")
        ),
        (1.0, 0.0, 1.0, 0.0)
    );
    let revocations = |k| delta("tessera_revocations_total", &[("kind", k)]);
    assert_eq!(
        (
            revocations("session"),
            revocations("user"),
            revocations("access_token")
        ),
        (2.0, 0.0, 0.0)
    );
    let requests = |m, r, st| {
        delta(
            "tessera_http_requests_total",
            &[("method", m), ("route", r), ("status", st)],
        )
    };
    assert_eq!(requests("POST", "/v1/auth/login", "200"), 3.0);
    assert_eq!(requests("POST", "/v1/auth/login", "401"), 1.0);
    assert_eq!(requests("POST", "/v1/auth/refresh", "200"), 1.0);
    assert_eq!(requests("POST", "/v1/auth/refresh", "401"), 1.0);
    assert_eq!(requests("DELETE", "/v1/sessions/{id}", "204"), 1.0);
    assert_eq!(requests("POST", "/v1/auth/logout", "204"), 1.0);
    assert_eq!(requests("GET", "unmatched", "404"), 1.0);
    assert_eq!(
        delta(
            "tessera_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/v1/auth/refresh")]
        ),
        2.0
    );
    assert_eq!(
        after.types["tessera_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(after.types["tessera_http_requests"], "counter");
    assert!(after.samples.iter().any(|s| {
        s.name == "tessera_http_request_duration_seconds_bucket"
            && s.labels.get("route").and_then(Value::as_str) == Some("/v1/auth/login")
    }));
    assert_eq!(after.value("tessera_state_store_up", &[]), 1.0);
    assert!(after.has("tessera_sessions_active"));
    assert!(after.has("tessera_access_tokens_active"));
    assert!(after.has("tessera_revoked_tokens"));
    assert_eq!(
        after.value(
            "tessera_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // Templates only: no id, email, token or user id anywhere in the output.
    let user = super::signin::decode(&a.access).1["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    for secret in [
        e.as_str(),
        user.as_str(),
        c3.id.as_str(),
        a.access.as_str(),
        a.refresh.as_str(),
        rotated.refresh.as_str(),
        b2.access.as_str(),
    ] {
        assert!(!after.text.contains(secret), "{secret} in /metrics");
    }
    for s in &after.samples {
        for v in s.labels.values() {
            let v = v.as_str().unwrap();
            assert!(!v.contains('@') && !v.contains("tsr_"), "label value {v}");
        }
    }
}

/// With Redis stopped, `/metrics` still answers 200 at once, with `tessera_state_store_up 0`
/// and no store statistics, and counts the 503s the outage causes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_200_with_state_store_up_0_while_redis_is_down() {
    if !redis_available() || !has_prometheus_client() {
        return;
    }
    let redis_dir = TempDir::new("api-metrics-outage");
    let mut redis = RedisServer::start(free_port(), redis_dir.path(), &[]);
    let url = redis.url();
    let Some(s) = TestServer::start(Backend::MemorySqlite, |c| c.redis_url = Some(url)).await
    else {
        return;
    };
    let session = s.signed_up(&email("metrics-outage")).await;
    let up = scrape(&s).await;
    assert_eq!(up.value("tessera_state_store_up", &[]), 1.0);
    assert!(up.has("tessera_sessions_active"));

    redis.stop();
    let me = s.me(&session.access).await;
    assert_eq!(
        (me.status, me.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("state_store_unavailable")
        )
    );
    let down = scrape(&s).await;
    assert_eq!(down.value("tessera_state_store_up", &[]), 0.0);
    assert!(down.text.contains("\ntessera_state_store_up 0\n"));
    assert!(!down.has("tessera_sessions_active"));
    assert_eq!(
        down.value("tessera_state_store_unavailable_total", &[])
            - up.value("tessera_state_store_unavailable_total", &[]),
        1.0
    );
    assert_eq!(
        down.value(
            "tessera_http_requests_total",
            &[("method", "GET"), ("route", "/v1/me"), ("status", "503")]
        ),
        1.0
    );
}
