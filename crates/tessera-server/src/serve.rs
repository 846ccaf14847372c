//! `tessera serve`.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};

use crate::app::App;
use crate::config::Settings;
use crate::http::router;

/// Builds the app and serves HTTP until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Arc::new(App::build(&settings, crate::app::Role::Server).await?);
    app.keys.spawn_watcher(crate::app::KEY_POLL_EVERY);
    app.metrics.spawn_upkeep(Duration::from_secs(5));
    if !settings.not_implemented.is_empty() {
        tracing::warn!(settings = ?settings.not_implemented, "these settings are not implemented yet and have no effect");
    }
    let durable = app.durable.clone();
    let listener = TcpListener::bind(settings.listen).await?;
    tracing::info!(listen = %settings.listen, issuer = %settings.issuer, "serving");
    serve_http(
        listener,
        router(app),
        settings.header_read_timeout,
        shutdown_signal(),
    )
    .await;
    if let Some(durable) = &durable {
        // Rotations still waiting are written before the process ends.
        #[allow(clippy::disallowed_methods)] // shutdown: an edge, reads the clock
        let now = tessera_core::time::Timestamp::now();
        durable.flush(now).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves `router` on `listener` over HTTP/1.1 (what `axum::serve` does, plus a header read
/// timeout, which it cannot set) until `shutdown` completes, then waits for the
/// connections' in-flight requests. Each request carries the peer address as
/// `ConnectInfo<SocketAddr>`.
///
/// `header_timeout` (`header_read_timeout`) is the longest a client may take to send a
/// request's headers, and hyper counts an idle keep-alive connection's wait for its next
/// request in it: a client that trickles its headers (slowloris) is disconnected instead of
/// holding a task and a file descriptor as long as it likes, and an idle connection is
/// closed after it. Bodies have their own timeout (`http::router::BODY_READ_TIMEOUT`).
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept:
                    // wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(service) = make.call(peer).await;
        let service = service.map_request(|req: hyper::Request<Incoming>| req.map(Body::new));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        // No upgrades: Tessera serves no WebSocket or other upgraded protocol.
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
