//! TLS: a server whose certificate does not chain to the configured CA is refused with an
//! error that says so; a CA file that cannot be used is a configuration error naming it.
//! (The whole conformance suite also runs over TLS: `redis_tls` in `conformance.rs`.)

use tessera_store::redis::{RedisConfig, RedisStore};

use crate::support::shared_tls;

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
async fn a_server_signed_by_another_ca_is_refused_at_connect() {
    let Some((url, wrong_ca)) = tokio::task::spawn_blocking(|| {
        shared_tls().map(|t| (t.url("tessera:hunter2@"), t.wrong_ca.cert.clone()))
    })
    .await
    .unwrap() else {
        return;
    };
    for ca in [Some(wrong_ca), None] {
        let mut config = RedisConfig::standalone(url.clone());
        config.tls_ca_file = ca.clone();
        let err = RedisStore::connect(config)
            .await
            .expect_err("untrusted certificate accepted");
        assert!(err.is_unavailable(), "{err:?}");
        let text = chain(&err);
        assert!(
            text.contains("TLS certificate was refused") && text.contains("UnknownIssuer"),
            "the error does not say the certificate was refused (CA {ca:?}): {text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_ca_file_is_a_configuration_error_naming_it() {
    let Some((url, dir)) = tokio::task::spawn_blocking(|| {
        shared_tls().map(|t| (t.url(""), t.ca.cert.parent().unwrap().to_owned()))
    })
    .await
    .unwrap() else {
        return;
    };
    let not_pem = dir.join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for path in [dir.join("missing.pem"), not_pem] {
        let mut config = RedisConfig::standalone(url.clone());
        config.tls_ca_file = Some(path.clone());
        let err = RedisStore::connect(config).await.unwrap_err();
        let text = chain(&err);
        assert!(text.contains(path.to_str().unwrap()), "{text}");
        assert!(text.contains("CA file"), "{text}");
    }
}
