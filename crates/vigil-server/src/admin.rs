//! The local admin HTTP listener (loopback by default): Prometheus `/metrics`, `/healthz`, and
//! `POST /api/v1/reload` to reload the correlation rules.
//!
//! It is plain HTTP without authentication, so it must stay on loopback or a trusted admin
//! network; the authenticated HTTPS API and console come with the web console.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::writer::ReloadRequest;

/// Asks the writer to reload and waits for its answer.
pub async fn request_reload(
    reloads: &mpsc::UnboundedSender<ReloadRequest>,
) -> Result<crate::writer::ReloadReport, String> {
    let (reply, answer) = oneshot::channel();
    reloads
        .send(reply)
        .map_err(|_| "the correlation thread has stopped".to_string())?;
    answer
        .await
        .map_err(|_| "the correlation thread stopped before answering".to_string())?
}

async fn reload(reloads: mpsc::UnboundedSender<ReloadRequest>) -> Response {
    match request_reload(&reloads).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({ "error": e })),
        )
            .into_response(),
    }
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    prometheus: PrometheusHandle,
    reloads: mpsc::UnboundedSender<ReloadRequest>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/metrics",
            get(move || std::future::ready(prometheus.render())),
        )
        .route("/healthz", get(|| std::future::ready("ok\n")))
        .route("/api/v1/reload", post(move || reload(reloads.clone())));
    info!(%addr, "admin endpoint listening (/metrics, /healthz, /api/v1/reload)");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
