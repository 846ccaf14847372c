//! The effective configuration shows every setting, defaults included, and no secret.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::RawConfig;

fn with_secrets() -> RawConfig {
    RawConfig {
        database_url: Some("postgres://tessera:pg-hunter2@db.internal:5432/tessera".into()),
        redis_url: Some("redis://:redis-hunter2@127.0.0.1:6390".into()),
        admin_token: Some("admin-hunter2-0123456789".into()),
        smtp_url: Some("smtps://mailer:smtp-hunter2@mail.example.org".into()),
        introspection_clients: Some("gateway:client-hunter2-0123456789abcdefghij".into()),
        trusted_proxies: Some("10.0.0.0/8, 192.0.2.7".into()),
        audience: Some("visible-audience".into()),
        ..Default::default()
    }
}

#[test]
fn every_setting_has_a_shown_value() {
    for raw in [RawConfig::default(), with_secrets()] {
        let settings = Settings::from_raw(raw, false).unwrap();
        let effective = Effective::of(&settings, None);
        assert_eq!(effective.values.len(), SETTINGS.len());
        for (name, value) in &effective.values {
            assert_ne!(
                value,
                &Shown::Unset("unknown setting"),
                "{} has no arm in effective::shown",
                name.key
            );
        }
    }
}

#[test]
fn defaults_are_shown_as_toml_lines_with_their_environment_names() {
    let settings = Settings::from_raw(RawConfig::default(), false).unwrap();
    let shown = Effective::of(&settings, None).to_string();
    for line in [
        "listen = \"127.0.0.1:8080\"  # TESSERA_LISTEN",
        "data_dir = \"./tessera-data\"  # TESSERA_DATA_DIR",
        "database_url = \"sqlite://./tessera-data/tessera.db?mode=rwc\"  # DATABASE_URL",
        "# redis_url: unset, the in-process memory store  # REDIS_URL",
        "redis_cluster = false  # TESSERA_REDIS_CLUSTER",
        "issuer = \"http://127.0.0.1:8080\"  # TESSERA_ISSUER",
        "audience = \"tessera\"  # TESSERA_AUDIENCE",
        "signing_alg = \"EdDSA\"  # TESSERA_SIGNING_ALG",
        "access_token_ttl = \"15m\"  # TESSERA_ACCESS_TOKEN_TTL",
        "refresh_token_ttl = \"30days\"  # TESSERA_REFRESH_TOKEN_TTL",
        "refresh_reuse_grace = \"10s\"  # TESSERA_REFRESH_REUSE_GRACE",
        "max_sessions_per_user = 0  # TESSERA_MAX_SESSIONS_PER_USER",
        "revocation_mode = \"allowlist\"  # TESSERA_REVOCATION_MODE",
        "fail_mode = \"closed\"  # TESSERA_FAIL_MODE",
        "token_transport = \"body\"  # TESSERA_TOKEN_TRANSPORT",
        "fingerprint = \"off\"  # TESSERA_FINGERPRINT",
        "# admin_token: unset, admin API disabled  # TESSERA_ADMIN_TOKEN",
        "rate_limit = \"on\"  # TESSERA_RATE_LIMIT",
        "trusted_proxies = \"\"  # TESSERA_TRUSTED_PROXIES",
        "log_format = \"json\"  # TESSERA_LOG_FORMAT",
        "max_body_bytes = 65536  # TESSERA_MAX_BODY_BYTES",
        "mfa_challenge_ttl = \"5m\"  # TESSERA_MFA_CHALLENGE_TTL",
    ] {
        assert!(shown.contains(&format!("\n{line}\n")), "{line}\n{shown}");
    }
}

#[test]
fn secrets_are_redacted_and_the_rest_is_shown() {
    let settings = Settings::from_raw(with_secrets(), false).unwrap();
    let effective = Effective::of(&settings, Some("tessera.toml".into()));
    let shown = effective.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("# file: tessera.toml"), "{shown}");
    assert_eq!(effective.get("admin_token"), Some(&Shown::Redacted));
    for (key, value) in [
        (
            "database_url",
            "postgres://tessera:<redacted>@db.internal:5432/tessera",
        ),
        ("redis_url", "redis://:<redacted>@127.0.0.1:6390"),
        ("smtp_url", "smtps://mailer:<redacted>@mail.example.org"),
        ("introspection_clients", "gateway:<redacted>"),
        ("trusted_proxies", "10.0.0.0/8,192.0.2.7/32"),
        ("audience", "visible-audience"),
        ("redis_key_prefix", "ts:"),
    ] {
        assert_eq!(
            effective.get(key),
            Some(&Shown::Text(value.into())),
            "{key}"
        );
    }
}

#[test]
fn urls_lose_their_passwords_and_secret_parameters_only() {
    for (url, redacted) in [
        (
            "sqlite://./data/tessera.db?mode=rwc",
            "sqlite://./data/tessera.db?mode=rwc",
        ),
        ("sqlite:tessera.db", "sqlite:tessera.db"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://secret@host", "redis://<redacted>@host"),
        (
            "rediss://user:p%40ss@host:6380",
            "rediss://user:<redacted>@host:6380",
        ),
        (
            "redis+sentinel://u:pw@10.0.0.1:26379,10.0.0.2:26379/main",
            "redis+sentinel://u:<redacted>@10.0.0.1:26379,10.0.0.2:26379/main",
        ),
        (
            "postgres://db/x?sslmode=require&password=pw&application_name=t#f",
            "postgres://db/x?sslmode=require&password=<redacted>&application_name=t#f",
        ),
        ("smtp://relay:25", "smtp://relay:25"),
        (
            "smtp://relay?tls=required&auth_token=tok",
            "smtp://relay?tls=required&auth_token=<redacted>",
        ),
    ] {
        assert_eq!(redact_url(url), redacted, "{url}");
    }
}

#[test]
fn text_is_quoted_as_toml() {
    assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
}

#[test]
fn the_oauth_section_is_shown_with_client_secrets_redacted() {
    let mut raw = RawConfig::default();
    let mut oauth = crate::config::oauth::RawOAuth::default();
    oauth.return_urls = Some(crate::config::oauth::UrlList::Text(
        "https://app.example/signed-in".into(),
    ));
    oauth.providers.insert(
        "corp_idp".into(),
        crate::config::oauth::RawProvider {
            issuer: Some("https://idp.example".into()),
            client_id: Some("tessera".into()),
            client_secret: Some("oauth-hunter2-secret".into()),
            ..Default::default()
        },
    );
    raw.oauth = Some(oauth);
    let settings = Settings::from_raw(raw, false).unwrap();
    let shown = Effective::of(&settings, None).to_string();
    assert!(shown.contains("[oauth.providers.corp_idp]"), "{shown}");
    assert!(
        shown.contains("issuer = \"https://idp.example\""),
        "{shown}"
    );
    assert!(
        shown.contains("client_secret = \"<redacted>\"  # TESSERA_OAUTH_CORP_IDP_CLIENT_SECRET"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}
