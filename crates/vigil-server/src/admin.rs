//! The local admin HTTP listener (loopback by default): Prometheus `/metrics`, `/healthz`,
//! `POST /api/v1/reload` to reload the correlation rules, and `POST /api/v1/commands` to send a
//! signed command to an edge (`{"sensor": NAME, "action": {...}}`, answered with the edge's
//! signed result; see docs/bus.md).
//!
//! `/metrics` and `/healthz` are open to anyone who can connect. Every other path is the admin
//! API, guarded by [`AdminGuard`]: a request needs `Authorization: Bearer <token>` with the token
//! of [`crate::ADMIN_TOKEN_FILE`] in the data directory (mode 0600, so only the service user can
//! read it), and is refused if it comes from a web page (an `Origin` header, `Sec-Fetch-Site`
//! other than `same-origin` or `none`) or has a body that is not `application/json` (the
//! `text/plain` "simple request" a page may send without asking). Each refusal is logged and
//! counted in `vigil_admin_refused_total{reason}`. It is plain HTTP, so it stays on loopback
//! unless `metrics.allow_remote` says otherwise.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::bus::BusShared;
use crate::metrics::Metrics;
use crate::writer::ReloadRequest;

/// Paths served without the admin token.
const PUBLIC_PATHS: [&str; 2] = ["/metrics", "/healthz"];

/// At most one refusal warning per this interval; the others are counted in the next one.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Why a request to the admin API was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refusal {
    /// The `reason` label of `vigil_admin_refused_total`.
    reason: &'static str,
    status: StatusCode,
    /// What was missing or wrong, for the problem body and the log.
    detail: &'static str,
}

const NO_AUTHORIZATION: Refusal = Refusal {
    reason: "missing_token",
    status: StatusCode::UNAUTHORIZED,
    detail: "missing the Authorization header: send `Authorization: Bearer <token>` with the token in admin.token in the server's data directory (readable by the service user only)",
};
const NOT_BEARER: Refusal = Refusal {
    reason: "missing_token",
    status: StatusCode::UNAUTHORIZED,
    detail: "the Authorization header is not `Bearer <token>`: send the token in admin.token in the server's data directory",
};
const BAD_TOKEN: Refusal = Refusal {
    reason: "bad_token",
    status: StatusCode::UNAUTHORIZED,
    detail: "the bearer token is not the one in admin.token in the server's data directory",
};
const HAS_ORIGIN: Refusal = Refusal {
    reason: "cross_origin",
    status: StatusCode::FORBIDDEN,
    detail: "the request has an Origin header: the admin API takes no requests from web pages",
};
const CROSS_SITE: Refusal = Refusal {
    reason: "cross_origin",
    status: StatusCode::FORBIDDEN,
    detail: "Sec-Fetch-Site is neither same-origin nor none: the admin API takes no cross-site browser requests",
};
const NOT_JSON: Refusal = Refusal {
    reason: "content_type",
    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
    detail: "a request with a body needs `Content-Type: application/json`",
};

/// Admits admin API requests (see the module documentation); holds only the token's hash.
pub struct AdminGuard {
    token_hash: blake3::Hash,
    metrics: Metrics,
    /// When the last refusal was logged, and how many were not logged since.
    log_window: Mutex<(Option<Instant>, u64)>,
}

impl AdminGuard {
    /// A guard admitting `token`, counting refusals in `metrics`.
    pub fn new(token: &str, metrics: Metrics) -> AdminGuard {
        AdminGuard {
            token_hash: blake3::hash(token.as_bytes()),
            metrics,
            log_window: Mutex::new((None, 0)),
        }
    }

    fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if headers.contains_key(header::ORIGIN) {
            return Err(HAS_ORIGIN);
        }
        if let Some(site) = headers.get("sec-fetch-site")
            && !matches!(site.as_bytes(), b"same-origin" | b"none")
        {
            return Err(CROSS_SITE);
        }
        let has_body = headers.contains_key(header::TRANSFER_ENCODING)
            || headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()) != Some(0));
        if has_body || headers.contains_key(header::CONTENT_TYPE) {
            let json = crate::http::is_json(headers);
            if !json {
                return Err(NOT_JSON);
            }
        }
        let token = crate::http::bearer(headers)
            .ok_or(NO_AUTHORIZATION)?
            .ok_or(NOT_BEARER)?;
        // blake3::Hash compares in constant time.
        if blake3::hash(token.as_bytes()) != self.token_hash {
            return Err(BAD_TOKEN);
        }
        Ok(())
    }

    /// Counts and logs (rate-limited) `refusal`, and answers it with a problem document
    /// (RFC 9457).
    fn refuse(&self, refusal: Refusal, peer: SocketAddr, request: &Request) -> Response {
        self.metrics.admin_refuse(refusal.reason);
        if let Some(unlogged) = self.log_slot() {
            warn!(
                %peer,
                method = %request.method(),
                path = ?request.uri().path(),
                reason = refusal.reason,
                unlogged_refusals = unlogged,
                "admin request refused: {}",
                refusal.detail
            );
        }
        let mut response = crate::http::problem(
            refusal.status,
            refusal.detail,
            &[("reason", refusal.reason)],
        );
        if refusal.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vigil-admin\""),
            );
        }
        response
    }

    /// Whether a refusal may be logged now, with how many were not logged since the last one.
    fn log_slot(&self) -> Option<u64> {
        let mut window = self
            .log_window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match window.0 {
            Some(last) if now.duration_since(last) < REFUSAL_LOG_INTERVAL => {
                window.1 += 1;
                None
            }
            _ => {
                let unlogged = window.1;
                *window = (Some(now), 0);
                Some(unlogged)
            }
        }
    }
}

async fn guard(
    State(guard): State<Arc<AdminGuard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match guard.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => guard.refuse(refusal, peer, &request),
    }
}

/// The body of `POST /api/v1/commands`.
#[derive(Debug, serde::Deserialize)]
struct CommandRequest {
    sensor: String,
    action: vigil_bus::CommandAction,
}

/// Sends the command of `body` (`{"sensor": NAME, "action": {...}}`) through `bus` to its
/// edge and waits for the edge's signed result (`{id, sensor, ok, detail}`); else the status
/// and what went wrong.
pub async fn send_command(
    bus: Option<&BusShared>,
    body: &[u8],
) -> Result<serde_json::Value, (StatusCode, String)> {
    let Some(bus) = bus else {
        return Err((StatusCode::CONFLICT, "the bus is disabled".into()));
    };
    let request: CommandRequest = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid command: {e}")))?;
    bus.metrics.bus_commands.increment(1);
    let result = bus
        .commands
        .send(&bus.signer, &request.sensor, request.action)
        .await
        .map_err(|e| (StatusCode::GATEWAY_TIMEOUT, e.to_string()))?;
    Ok(serde_json::json!({
        "id": result.id.to_string(),
        "sensor": result.sensor,
        "ok": result.ok,
        "detail": result.detail,
    }))
}

async fn command(bus: Option<std::sync::Arc<BusShared>>, body: axum::body::Bytes) -> Response {
    match send_command(bus.as_deref(), &body).await {
        Ok(result) => axum::Json(result).into_response(),
        Err((status, e)) => (status, axum::Json(serde_json::json!({ "error": e }))).into_response(),
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
    admin_guard: AdminGuard,
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
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(admin_guard),
            guard,
        ));
    info!(%addr, "admin endpoint listening (/metrics, /healthz; /api/v1/reload and /api/v1/commands with the admin token)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    Ok(())
}
