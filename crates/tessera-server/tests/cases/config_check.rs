//! `tessera config check` on the real binary: the effective configuration with its defaults
//! and no secret, and the same refusal as `serve` naming the key.

use crate::common::binary::command;

/// Runs the binary in `cwd` with `env`: (exit code, stdout, stderr).
fn run(args: &[&str], cwd: &std::path::Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(args, cwd, env).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_binary_prints_effective_values_with_defaults_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    std::fs::write(
        &file,
        "audience = \"from-the-file\"\n\
         max_sessions_per_user = 3\n\
         admin_token = \"file-admin-hunter2-0123456789\"\n\
         smtp_url = \"smtps://mailer:smtp-hunter2@mail.example.org\"\n",
    )
    .unwrap();
    let env = [
        // Nothing listens there: config check connects to nothing.
        (
            "DATABASE_URL",
            "postgres://tessera:pg-hunter2@127.0.0.1:1/tessera",
        ),
        ("REDIS_URL", "redis://:redis-hunter2@127.0.0.1:1"),
        (
            "TESSERA_INTROSPECTION_CLIENTS",
            "gateway:client-hunter2-0123456789abcdefghij",
        ),
        ("TESSERA_FAIL_MODE", "open"),
        ("TESSERA_RATE_LIMIT", "false"),
        ("TESSERA_NOT_A_SETTING", "1"),
    ];
    let (code, out, err) = run(
        &["config", "check", "--config", file.to_str().unwrap()],
        dir.path(),
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "a secret was printed:\n{out}\n{err}"
    );
    for line in [
        // From the file and the environment.
        "audience = \"from-the-file\"  # TESSERA_AUDIENCE",
        "max_sessions_per_user = 3  # TESSERA_MAX_SESSIONS_PER_USER",
        "fail_mode = \"open\"  # TESSERA_FAIL_MODE",
        "rate_limit = \"off\"  # TESSERA_RATE_LIMIT",
        // Secrets, redacted.
        "admin_token = \"<redacted>\"  # TESSERA_ADMIN_TOKEN",
        "database_url = \"postgres://tessera:<redacted>@127.0.0.1:1/tessera\"  # DATABASE_URL",
        "redis_url = \"redis://:<redacted>@127.0.0.1:1\"  # REDIS_URL",
        "smtp_url = \"smtps://mailer:<redacted>@mail.example.org\"  # TESSERA_SMTP_URL",
        "introspection_clients = \"gateway:<redacted>\"  # TESSERA_INTROSPECTION_CLIENTS",
        // Defaults.
        "listen = \"127.0.0.1:8080\"  # TESSERA_LISTEN",
        "access_token_ttl = \"15m\"  # TESSERA_ACCESS_TOKEN_TTL",
        "revocation_mode = \"allowlist\"  # TESSERA_REVOCATION_MODE",
        "redis_key_prefix = \"ts:\"  # TESSERA_REDIS_KEY_PREFIX",
        "signing_alg = \"EdDSA\"  # TESSERA_SIGNING_ALG",
        "token_transport = \"body\"  # TESSERA_TOKEN_TRANSPORT",
        "max_body_bytes = 65536  # TESSERA_MAX_BODY_BYTES",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}\n{out}");
    }
    assert!(
        out.contains(&format!("# file: {}", file.display())),
        "{out}"
    );
    // The unknown variable is named as `serve` names it.
    assert!(err.contains("not_a_setting"), "{err}");
    // Nothing was started or created.
    assert!(!dir.path().join("tessera-data").exists());

    // Without a file: every default.
    let (code, out, err) = run(&["config", "check"], dir.path(), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "# file: none, environment only",
        "database_url = \"sqlite://./tessera-data/tessera.db?mode=rwc\"  # DATABASE_URL",
        "# redis_url: unset, the in-process memory store  # REDIS_URL",
        "# admin_token: unset, admin API disabled  # TESSERA_ADMIN_TOKEN",
        "fail_mode = \"closed\"  # TESSERA_FAIL_MODE",
        "rate_limit = \"on\"  # TESSERA_RATE_LIMIT",
    ] {
        assert!(out.lines().any(|l| l == line), "{line}\n{out}");
    }
}

#[test]
fn config_check_binary_refuses_an_invalid_configuration_as_serve_does() {
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.toml");
    std::fs::write(&bad_file, "listn = \"127.0.0.1:9000\"\n").unwrap();
    let bad_file = bad_file.to_str().unwrap();
    for (args, env, names) in [
        (
            vec![],
            vec![("TESSERA_FAIL_MODE", "maybe")],
            "invalid setting fail_mode: \"maybe\": expected closed or open",
        ),
        (
            vec![],
            vec![("TESSERA_RATE_LIMIT", "sometimes")],
            "invalid setting rate_limit: \"sometimes\": expected on or off",
        ),
        (
            vec![],
            vec![("TESSERA_ACCESS_TOKEN_TTL", "2d")],
            "invalid setting access_token_ttl: must be between 10s and 24h",
        ),
        (
            vec![],
            vec![("DATABASE_URL", "mysql://root:hunter2@db/x")],
            "invalid setting database_url: expected sqlite:// or postgres://",
        ),
        (vec!["--config", bad_file], vec![], "listn"),
    ] {
        let check: Vec<&str> = ["config", "check"]
            .iter()
            .copied()
            .chain(args.clone())
            .collect();
        let (code, out, err) = run(&check, dir.path(), &env);
        assert_eq!(code, 2, "{names}: {out}\n{err}");
        assert!(err.contains(names), "{names}\n{err}");
        assert!(out.is_empty(), "{out}");
        assert!(!err.contains("hunter2"), "{err}");
        // `serve` refuses with the same message.
        let serve: Vec<&str> = ["serve"].iter().copied().chain(args).collect();
        let (serve_code, _, serve_err) = run(&serve, dir.path(), &env);
        assert_eq!(serve_code, code, "{serve_err}");
        assert_eq!(serve_err, err, "serve and config check differ");
    }
    assert!(!dir.path().join("tessera-data").exists());
}
