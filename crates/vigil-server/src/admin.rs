//! The local admin HTTP listener (loopback by default): Prometheus `/metrics`, `/healthz`,
//! `POST /api/v1/reload` to reload the correlation rules, and `POST /api/v1/commands` to send a
//! signed command to an edge (`{"sensor": NAME, "action": {...}}`, answered with the edge's
//! signed result; see docs/bus.md).
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

use crate::bus::BusShared;
use crate::writer::ReloadRequest;

/// The body of `POST /api/v1/commands`.
#[derive(Debug, serde::Deserialize)]
struct CommandRequest {
    sensor: String,
    action: vigil_bus::CommandAction,
}

async fn command(bus: Option<std::sync::Arc<BusShared>>, body: axum::body::Bytes) -> Response {
    let error = |status: StatusCode, e: String| {
        (status, axum::Json(serde_json::json!({ "error": e }))).into_response()
    };
    let Some(bus) = bus else {
        return error(StatusCode::CONFLICT, "the bus is disabled".into());
    };
    let request: CommandRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid command: {e}")),
    };
    bus.metrics.bus_commands.increment(1);
    match bus
        .commands
        .send(&bus.signer, &request.sensor, request.action)
        .await
    {
        Ok(result) => axum::Json(serde_json::json!({
            "id": result.id.to_string(),
            "sensor": result.sensor,
            "ok": result.ok,
            "detail": result.detail,
        }))
        .into_response(),
        Err(e) => error(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
    }
}

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
    bus: Option<std::sync::Arc<BusShared>>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/metrics",
            get(move || std::future::ready(prometheus.render())),
        )
        .route("/healthz", get(|| std::future::ready("ok\n")))
        .route("/api/v1/reload", post(move || reload(reloads.clone())))
        .route(
            "/api/v1/commands",
            post(move |body: axum::body::Bytes| command(bus.clone(), body)),
        );
    info!(%addr, "admin endpoint listening (/metrics, /healthz, /api/v1/reload, /api/v1/commands)");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
