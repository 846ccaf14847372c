//! The baseline: a trivial axum endpoint, served like `tessera serve` (axum::serve on the
//! multi-threaded tokio runtime, with connect info).

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;

pub(crate) async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new().route("/hello", get(|| async { "hello, world" }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
