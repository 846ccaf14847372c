//! ACL: Tessera works as a user with exactly `acl_rules` (the whole conformance suite runs
//! so: `redis_acl` in `conformance.rs`), that user can do nothing else, and a wrong
//! password is refused with an error — and log lines — that never contain a password.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_store::redis::{ConnectingStore, RedisConfig, RedisStore};

use crate::support::{acl_user, shared_standalone_port};

/// The error and its causes, as one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acl_user_can_reach_nothing_outside_its_prefix_and_commands() {
    let Some(port) = shared_standalone_port().await else {
        return;
    };
    let (user, password) = tokio::task::spawn_blocking(move || acl_user(port, "ts-acl:"))
        .await
        .unwrap();
    let as_user = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &port.to_string(),
                "--user",
                &user,
                "--pass",
                &password,
            ])
            .arg("--no-auth-warning")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(as_user(&["SET", "ts-acl:x", "1"]).trim(), "OK");
    for denied in [
        &["GET", "other:x"][..],
        &["KEYS", "*"],
        &["FLUSHALL"],
        &["CONFIG", "GET", "*"],
        &["EVAL", "return 1", "0"],
        &["PUBLISH", "other:revocations", "x"],
        &["SUBSCRIBE", "other:revocations"],
    ] {
        let out = as_user(denied);
        assert!(out.contains("NOPERM"), "{denied:?} allowed: {out}");
    }
    let _ = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "DEL", "ts-acl:x"])
        .output();
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_wrong_password_is_refused_and_never_shown_or_logged() {
    let Some(port) = shared_standalone_port().await else {
        return;
    };
    let (user, password) = tokio::task::spawn_blocking(move || acl_user(port, "ts-acl2:"))
        .await
        .unwrap();
    let wrong = "Wr0ngPassw0rd-hunter2";
    let url = format!("redis://{user}:{wrong}@127.0.0.1:{port}");
    let mut config = RedisConfig::standalone(url.clone());
    config.key_prefix = "ts-acl2:".into();

    let err = RedisStore::connect(config.clone())
        .await
        .expect_err("wrong password accepted");
    assert!(err.is_unavailable(), "{err:?}");
    let text = chain(&err);
    let debug = format!("{err:?}");
    assert!(
        text.contains("WRONGPASS") || text.to_lowercase().contains("auth"),
        "the error does not say authentication failed: {text}"
    );
    for shown in [&text, &debug, &format!("{config:?}")] {
        assert!(!shown.contains(wrong), "wrong password shown: {shown}");
        assert!(!shown.contains(&password), "password shown: {shown}");
    }

    // What the server logs when Redis refuses it at start (and while it retries).
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let store = ConnectingStore::connect(config, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(store.ping().await.unwrap_err().is_unavailable());
    drop(guard);
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Redis unreachable at start"), "{logs}");
    assert!(
        logs.contains("Password authentication failed"),
        "the log does not say why: {logs}"
    );
    assert!(!logs.contains(wrong), "wrong password logged: {logs}");
    assert!(!logs.contains(&password), "password logged: {logs}");
}
