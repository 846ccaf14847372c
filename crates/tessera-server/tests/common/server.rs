//! The server under test, in process, on a free loopback port.

use std::net::SocketAddr;
use std::sync::Arc;

use tessera_server::accounts::password::PasswordHasher;
use tessera_server::app::App;
use tessera_server::config::{RawConfig, Settings};
use tessera_server::http::router;
use tessera_store::StateStore;
use tessera_testkit::postgres::TempDatabase;

use super::backend::Backend;
use super::http::Http;

/// A running server with its own data directory (and database, for PostgreSQL).
pub struct TestServer {
    pub http: Http,
    pub data_dir: tempfile::TempDir,
    pub issuer: String,
    /// The database the server uses (tests reach into it to damage rows on purpose).
    pub database_url: String,
    task: tokio::task::JoinHandle<()>,
    _database: Option<TempDatabase>,
}

impl TestServer {
    /// Starts a server on `backend` with default settings changed by `configure`. `None` when
    /// the backend's services are missing (see [`Backend::resources`]).
    pub async fn start(backend: Backend, configure: impl FnOnce(&mut RawConfig)) -> Option<Self> {
        Self::start_wrapped(backend, configure, |store| store).await
    }

    /// As [`TestServer::start`], its state store wrapped by `wrap` (e.g. in a
    /// [`FaultyStore`](super::faulty::FaultyStore)).
    pub async fn start_wrapped(
        backend: Backend,
        configure: impl FnOnce(&mut RawConfig),
        wrap: impl FnOnce(Arc<dyn StateStore>) -> Arc<dyn StateStore>,
    ) -> Option<Self> {
        let resources = backend.resources().await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let mut raw = RawConfig {
            listen: Some(addr.to_string()),
            data_dir: Some(data_dir.path().to_path_buf()),
            redis_url: resources.redis_url.clone(),
            redis_cluster: Some(resources.cluster),
            // The Redis backends share one server per test process: a key prefix of its
            // own keeps each server's rate-limit buckets (every client is 127.0.0.1),
            // statistics and sessions private. Cases that share state set one prefix.
            redis_key_prefix: resources.redis_url.as_ref().map(|_| unique_prefix()),
            database_url: resources.database.as_ref().map(|d| d.url().to_owned()),
            // Every test client is 127.0.0.1 and the Redis backends share one server: rate
            // limits are off unless a case turns them on (cases/limits.rs does).
            rate_limit: Some("off".into()),
            ..Default::default()
        };
        configure(&mut raw);
        let settings = Settings::from_raw(raw, false).unwrap();
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        // A cheap hash keeps the suite fast; the OWASP cost is the binary's default.
        let hasher = PasswordHasher::with_params(4, 1024, 1).unwrap();
        let app = Arc::new(
            App::build_wrapped(&settings, hasher, tessera_server::app::Role::Server, wrap)
                .await
                .unwrap(),
        );
        let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        Some(Self {
            http: Http::new(format!("http://{addr}")),
            data_dir,
            issuer: settings.issuer.clone(),
            database_url: secrecy::ExposeSecret::expose_secret(&settings.database_url).to_owned(),
            task,
            _database: resources.database,
        })
    }
}

impl TestServer {
    /// The signing keys the server stored in its database.
    pub async fn signing_keys(&self) -> Vec<tessera_core::keys::StoredKey> {
        let db = super::keys::database(&self.database_url).await;
        super::keys::signing_keys(self.data_dir.path(), &db).await
    }
}

/// A key prefix no other server of this test process uses.
pub fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t{}:", N.fetch_add(1, Ordering::Relaxed))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::ops::Deref for TestServer {
    type Target = Http;
    fn deref(&self) -> &Http {
        &self.http
    }
}
