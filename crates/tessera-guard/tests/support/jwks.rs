//! A tiny JWKS endpoint whose key set the test can replace, counting requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;

#[derive(Clone)]
struct Shared {
    set: Arc<RwLock<JwkSet>>,
    hits: Arc<AtomicU64>,
}

pub struct JwksServer {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn jwks(State(s): State<Shared>) -> Json<JwkSet> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    Json(s.set.read().unwrap().clone())
}

impl JwksServer {
    pub async fn serve(set: JwkSet) -> Self {
        let shared = Shared {
            set: Arc::new(RwLock::new(set)),
            hits: Arc::new(AtomicU64::new(0)),
        };
        let app = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    pub fn publish(&self, set: JwkSet) {
        *self.shared.set.write().unwrap() = set;
    }

    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }
}
