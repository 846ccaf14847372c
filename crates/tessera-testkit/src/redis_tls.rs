//! A private `redis-server` that also listens with TLS, and certificates made at test time
//! by the `openssl` CLI in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::redis_server::{RedisServer, TempDir, free_port, redis_available};

/// True when `redis-server`, `redis-cli` and `openssl` can be run. When they cannot, prints
/// a loud message — or panics when `TESSERA_REQUIRE_SERVICES=1`.
pub fn tls_available() -> bool {
    if !redis_available() {
        return false;
    }
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        crate::services::missing("openssl");
    }
    ok
}

/// A certificate authority (P-256 key, self-signed) in `dir`.
pub struct TestCa {
    pub cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// Creates `<name>.crt` and `<name>.key` in `dir`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=Tessera test CA {name}"),
                "-keyout",
                key.to_str().expect("utf-8 path"),
                "-out",
                cert.to_str().expect("utf-8 path"),
            ],
        );
        Self { cert, key }
    }

    /// Issues a server certificate for `127.0.0.1` and `localhost`: `(cert, key)` paths.
    pub fn issue_server(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        let csr = dir.join(format!("{name}.csr"));
        let ext = dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             basicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("write extensions");
        let s = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                &s(&key),
                "-out",
                &s(&csr),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &s(&csr),
                "-CA",
                &s(&self.cert),
                "-CAkey",
                &s(&self.key),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &s(&ext),
                "-out",
                &s(&cert),
            ],
        );
        (cert, key)
    }
}

/// A `redis-server` listening on a plain port (for `redis-cli` and readiness) and a TLS
/// port, with its certificate signed by [`RedisTls::ca`]; a second, unrelated CA
/// ([`RedisTls::wrong_ca`]) signs nothing. Killed and its directory removed on drop.
pub struct RedisTls {
    pub server: RedisServer,
    pub tls_port: u16,
    pub ca: TestCa,
    pub wrong_ca: TestCa,
    _dir: TempDir,
}

impl RedisTls {
    /// Generates the certificates and starts the server with `extra` arguments.
    pub fn start(extra: &[&str]) -> Self {
        let dir = TempDir::new("tls");
        let ca = TestCa::new(dir.path(), "ca");
        let wrong_ca = TestCa::new(dir.path(), "wrong-ca");
        let (cert, key) = ca.issue_server(dir.path(), "server");
        let tls_port = free_port();
        let tls_port_s = tls_port.to_string();
        let s = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        let (cert, key, ca_cert) = (s(&cert), s(&key), s(&ca.cert));
        let mut args = vec![
            "--tls-port",
            &tls_port_s,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca_cert,
            "--tls-auth-clients",
            "no",
        ];
        args.extend(extra);
        let server = RedisServer::start(free_port(), dir.path(), &args);
        Self {
            server,
            tls_port,
            ca,
            wrong_ca,
            _dir: dir,
        }
    }

    /// `rediss://<userinfo>127.0.0.1:<tls port>`.
    pub fn url(&self, userinfo: &str) -> String {
        format!("rediss://{userinfo}127.0.0.1:{}", self.tls_port)
    }
}
