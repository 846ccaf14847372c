//! The dependency rule: a service that embeds the guard pulls in no SQL, no Argon2 and not
//! the server crate.

use std::process::Command;

#[test]
fn guard_pulls_in_no_sql_argon2_or_server() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "tessera-guard",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("tessera-store"), "{tree}");
    for banned in [
        "sqlx",
        "argon2",
        "tessera-server",
        "password-hash",
        "lettre",
    ] {
        assert!(
            !tree.lines().any(|l| l.split(' ').next() == Some(banned)),
            "tessera-guard depends on {banned}"
        );
    }
}
