//! `tessera serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    tracing::info!(listen = %settings.listen, issuer = %settings.issuer, "serving");
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    if let Some(durable) = &durable {
        // Rotations still waiting are written before the process ends.
        #[allow(clippy::disallowed_methods)] // shutdown: an edge, reads the clock
        let now = tessera_core::time::Timestamp::now();
        durable.flush(now).await;
    }
    tracing::info!("stopped");
    Ok(())
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
