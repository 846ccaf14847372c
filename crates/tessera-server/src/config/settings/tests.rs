//! Unit tests of [`Settings::from_raw`](super::Settings::from_raw).
#![allow(clippy::unwrap_used)]
use super::*;
use crate::config::MIN_CLIENT_SECRET;

#[test]
fn empty_configuration_gives_the_documented_defaults() {
    let s = Settings::from_raw(RawConfig::default(), false).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.issuer, "http://127.0.0.1:8080");
    assert_eq!(s.audience, "tessera");
    assert_eq!(s.signing_alg, SigningAlg::EdDSA);
    assert_eq!(s.access_token_ttl, Duration::from_secs(900));
    assert_eq!(s.refresh_token_ttl, Duration::from_secs(30 * 86_400));
    assert_eq!(s.session_idle_timeout, Duration::from_secs(7 * 86_400));
    assert_eq!(s.refresh_reuse_grace, Duration::from_secs(10));
    assert_eq!(s.revocation_mode, RevocationMode::Allowlist);
    assert_eq!(s.fail_mode, FailMode::Closed);
    assert_eq!(s.state_store, StateStoreSettings::Memory);
    assert_eq!(s.max_sessions_per_user, None);
    assert_eq!(s.log_format, LogFormat::Json);
    assert!(s.rate_limit);
    assert_eq!(
        s.security_event_retention,
        Duration::from_secs(365 * 86_400)
    );
}

#[test]
fn bad_values_name_their_key() {
    for (raw, key) in [
        (
            RawConfig {
                listen: Some("nowhere".into()),
                ..Default::default()
            },
            "listen",
        ),
        (
            RawConfig {
                access_token_ttl: Some("soon".into()),
                ..Default::default()
            },
            "access_token_ttl",
        ),
        (
            RawConfig {
                revocation_mode: Some("maybe".into()),
                ..Default::default()
            },
            "revocation_mode",
        ),
        (
            RawConfig {
                signing_alg: Some("none".into()),
                ..Default::default()
            },
            "signing_alg",
        ),
        (
            RawConfig {
                redis_url: Some("memcached://x".into()),
                ..Default::default()
            },
            "redis_url",
        ),
        (
            RawConfig {
                database_url: Some("mysql://x".into()),
                ..Default::default()
            },
            "database_url",
        ),
        (
            // Shorter than the refresh-token lifetime (30 days by default).
            RawConfig {
                security_event_retention: Some("29d".into()),
                ..Default::default()
            },
            "security_event_retention",
        ),
    ] {
        assert_eq!(Settings::from_raw(raw, false).unwrap_err().key, key);
    }
}

#[test]
fn introspection_client_secrets_need_32_characters() {
    let with = |clients: &str| RawConfig {
        introspection_clients: Some(clients.into()),
        ..Default::default()
    };
    let short = format!("rs1:{}", "s".repeat(MIN_CLIENT_SECRET - 1));
    let err = Settings::from_raw(with(&short), false).unwrap_err();
    assert_eq!(err.key, "introspection_clients");
    let long = format!("rs1:{}", "s".repeat(MIN_CLIENT_SECRET));
    let s = Settings::from_raw(with(&long), false).unwrap();
    assert_eq!(s.introspection_clients.len(), 1);
}

#[test]
fn redis_urls_are_not_in_debug_output() {
    let raw = RawConfig {
        redis_url: Some("redis://:hunter2@127.0.0.1:6379".into()),
        ..Default::default()
    };
    let s = Settings::from_raw(raw, false).unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn a_sentinel_url_is_one_url_and_is_checked_without_echoing_the_password() {
    let url = "redis+sentinel://tessera:hunter2@10.0.0.1:26379,10.0.0.2:26379/main";
    let raw = RawConfig {
        redis_url: Some(url.into()),
        ..Default::default()
    };
    let s = Settings::from_raw(raw, false).unwrap();
    let StateStoreSettings::Redis { urls, cluster, .. } = &s.state_store else {
        panic!("expected a redis state store");
    };
    assert_eq!((urls.as_slice(), *cluster), (&[url.to_owned()][..], false));
    assert!(!format!("{s:?}").contains("hunter2"));
    for (bad, cluster) in [
        ("redis+sentinel://tessera:hunter2@10.0.0.1:26379", None),
        (
            "redis+sentinel://tessera:hunter2@10.0.0.1:26379/main?tls=1",
            None,
        ),
        (url, Some(true)),
    ] {
        let raw = RawConfig {
            redis_url: Some(bad.into()),
            redis_cluster: cluster,
            ..Default::default()
        };
        let e = Settings::from_raw(raw, false).unwrap_err();
        assert_eq!(e.key, "redis_url");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}

#[test]
fn a_redis_ca_file_must_be_readable_pem_and_needs_redis() {
    let raw = RawConfig {
        redis_url: Some("rediss://127.0.0.1:6380".into()),
        redis_ca_file: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    };
    let e = Settings::from_raw(raw, false).unwrap_err();
    assert_eq!(e.key, "redis_ca_file");
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    let raw = RawConfig {
        redis_ca_file: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    };
    assert_eq!(
        Settings::from_raw(raw, false).unwrap_err().key,
        "redis_ca_file"
    );
}

#[test]
fn mail_settings_default_validate_and_hide_the_smtp_password() {
    let s = Settings::from_raw(RawConfig::default(), false).unwrap();
    assert!(s.smtp_url.is_none());
    assert_eq!(s.password_reset_url, "http://127.0.0.1:8080/reset-password");
    assert_eq!(s.password_reset_ttl, Duration::from_secs(900));
    assert_eq!(s.mail_from, "Tessera <no-reply@localhost>");
    assert!(s.not_implemented.is_empty());
    let raw = RawConfig {
        smtp_url: Some("smtps://mailer:hunter2@mail.example.org".into()),
        ..Default::default()
    };
    let s = Settings::from_raw(raw, false).unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
    let raw = RawConfig {
        smtp_url: Some("ftp://mailer:hunter2@mail.example.org".into()),
        ..Default::default()
    };
    let e = Settings::from_raw(raw, false).unwrap_err();
    assert_eq!(e.key, "smtp_url");
    assert!(!e.to_string().contains("hunter2"));
    for (raw, key) in [
        (
            RawConfig {
                mail_from: Some("not an address".into()),
                ..Default::default()
            },
            "mail_from",
        ),
        (
            RawConfig {
                password_reset_url: Some("javascript:alert(1)".into()),
                ..Default::default()
            },
            "password_reset_url",
        ),
        (
            RawConfig {
                password_reset_ttl: Some("0s".into()),
                ..Default::default()
            },
            "password_reset_ttl",
        ),
    ] {
        assert_eq!(Settings::from_raw(raw, false).unwrap_err().key, key);
    }
}

#[test]
fn the_event_retention_is_at_least_the_refresh_token_lifetime() {
    let day = Duration::from_secs(86_400);
    let long = |retention: Option<&str>| RawConfig {
        refresh_token_ttl: Some("400d".into()),
        security_event_retention: retention.map(Into::into),
        ..Default::default()
    };
    // Unset: raised to the lifetime (a configuration from before the setting still starts).
    let s = Settings::from_raw(long(None), false).unwrap();
    assert_eq!(s.security_event_retention, day * 400);
    // Set shorter: refused, by name.
    let e = Settings::from_raw(long(Some("365d")), false).unwrap_err();
    assert_eq!(e.key, "security_event_retention");
    let s = Settings::from_raw(long(Some("500d")), false).unwrap();
    assert_eq!(s.security_event_retention, day * 500);
}
