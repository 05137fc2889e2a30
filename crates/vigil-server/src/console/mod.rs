//! The analyst's console API (`/api/v1/` over HTTPS): login, sessions and their protections.
//!
//! TLS 1.3 only ([`tls`]). Sessions live in memory ([`session`]) behind a `vigil_session`
//! cookie; state-changing requests other than login carry the session's `X-CSRF-Token`, and
//! requests from another origin are refused. Failed logins are throttled ([`throttle`]).
//! Besides the local accounts, users may log in through an LDAP directory or an OpenID Connect
//! provider ([`idp`]).

mod fetch;
pub mod idp;
pub mod ldap;
pub mod oidc;
pub mod session;
pub mod throttle;
pub mod tls;
mod trust;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::ConsoleConfig;
use session::{Sessions, UserBook};
use throttle::Throttle;

/// The session cookie's name.
pub const COOKIE: &str = "vigil_session";

/// The console's shared state.
pub struct Console {
    users: UserBook,
    sessions: Sessions,
    throttle: Throttle,
    providers: idp::Providers,
    /// Password checks running at once (each Argon2id check takes 19 MiB).
    checks: tokio::sync::Semaphore,
}

/// Most password checks at once; further logins wait their turn.
const MAX_CHECKS: usize = 4;

impl Console {
    /// The console of `data_dir`'s accounts.
    pub fn new(config: &ConsoleConfig, data_dir: &std::path::Path) -> anyhow::Result<Console> {
        Ok(Console {
            users: UserBook::load(data_dir)?,
            sessions: Sessions::new(config.idle_timeout, config.session_lifetime),
            throttle: Throttle::default(),
            providers: idp::Providers::new(config)?,
            checks: tokio::sync::Semaphore::new(MAX_CHECKS),
        })
    }
}

/// Serves the console on `listener` with TLS `config` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    console: Arc<Console>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tls::TlsListener::new(listener, config, shutdown.clone())?;
    info!(addr = %axum::serve::Listener::local_addr(&listener)?, "console API listening (HTTPS, TLS 1.3)");
    axum::serve(
        listener,
        router(console).into_make_service_with_connect_info::<tls::Peer>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    Ok(())
}

fn router(console: Arc<Console>) -> Router {
    let with_session = Router::new()
        .route("/api/v1/session", get(current))
        .route("/api/v1/logout", post(logout))
        .route_layer(axum::middleware::from_fn_with_state(
            console.clone(),
            require_session,
        ));
    Router::new()
        .route("/api/v1/login", post(login))
        .merge(idp::routes())
        .merge(with_session)
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such resource") })
        .layer(axum::middleware::from_fn(same_origin))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

/// An RFC 9457 problem response.
fn problem(status: StatusCode, detail: &str) -> Response {
    crate::http::problem(status, detail, &[])
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("strict-transport-security", "max-age=31536000"),
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Refuses a request whose `Origin` is not `https://` and its own `Host`.
async fn same_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("https://{host}"));
        if own.as_deref().map(str::as_bytes) != Some(origin.as_bytes()) {
            refused("origin");
            return problem(StatusCode::FORBIDDEN, "cross-origin requests are refused");
        }
    }
    next.run(request).await
}

/// The session cookie's value in `headers`.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a request acts as: a logged-in user, or an API token (named `token:<name>`).
#[derive(Debug, Clone)]
struct Principal {
    name: String,
    role: vigil_accounts::Role,
}

/// The request's [`Principal`]: an API token's (`Authorization: Bearer`; a browser never
/// sends one by itself, so no CSRF token is needed), or the session of the request's cookie,
/// its user still enabled, and for state-changing methods its CSRF token (then the session's
/// id goes in the request's extensions too).
async fn require_session(
    State(console): State<Arc<Console>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(presented) = crate::http::bearer(request.headers()) {
        let presented = presented.unwrap_or_default();
        let accounts = console.users.accounts();
        let Some(token) = accounts.authenticate_token(presented, vigil_event::Timestamp::now())
        else {
            refused("token");
            return problem(
                StatusCode::UNAUTHORIZED,
                "unknown, expired or revoked API token",
            );
        };
        let principal = Principal {
            name: format!("token:{}", token.name),
            role: token.role,
        };
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    }
    let Some(id) = session_id(request.headers()).map(str::to_string) else {
        refused("session");
        return problem(StatusCode::UNAUTHORIZED, "not logged in");
    };
    let Some(session) = console.sessions.touch(&id) else {
        refused("session");
        return problem(StatusCode::UNAUTHORIZED, "not logged in");
    };
    let Some(role) = session.role.or_else(|| console.users.role(&session.user)) else {
        console.sessions.end(&id);
        info!(user = %session.user, "console session ended: the account is disabled or removed");
        refused("session");
        return problem(StatusCode::UNAUTHORIZED, "not logged in");
    };
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let csrf = request
        .headers()
        .get("x-csrf-token")
        .map(HeaderValue::as_bytes);
    if !safe && !csrf.is_some_and(|token| same_secret(token, session.csrf.as_bytes())) {
        refused("csrf");
        return problem(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token");
    }
    request.extensions_mut().insert(Principal {
        name: session.user.clone(),
        role,
    });
    request.extensions_mut().insert(SessionId(id));
    next.run(request).await
}

/// The cookie value of the request's session.
#[derive(Clone)]
struct SessionId(String);

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// Counts a request refused before reaching its handler's work, by reason.
fn refused(reason: &'static str) {
    metrics::counter!("vigil_console_requests_refused_total", "reason" => reason).increment(1);
}

/// Counts a login attempt by method (`local`, `ldap`, `oidc`; `password` for a login refused by
/// throttling before any check) and outcome.
fn count(method: &'static str, outcome: &'static str) {
    metrics::counter!("vigil_console_logins_total", "method" => method, "outcome" => outcome)
        .increment(1);
}

/// Starts a session for `user` (with the `role` an identity provider gave): the `Set-Cookie`
/// value and the session, or the error answer.
#[allow(clippy::result_large_err)]
fn open_session(
    console: &Console,
    user: &str,
    role: Option<vigil_accounts::Role>,
) -> Result<(String, session::Session), Response> {
    let (id, session) = console
        .sessions
        .start(user, role)
        .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")))?;
    Ok((
        format!("{COOKIE}={id}; Secure; HttpOnly; SameSite=Strict; Path=/"),
        session,
    ))
}

async fn login(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = crate::http::is_json(&headers);
    if !json {
        refused("media_type");
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the credentials as application/json",
        );
    }
    let Ok(creds) = serde_json::from_slice::<Credentials>(&body) else {
        refused("bad_request");
        return problem(
            StatusCode::BAD_REQUEST,
            "expected {\"username\": ..., \"password\": ...}",
        );
    };
    let user = creds.username;
    if let Some(wait) = console.throttle.locked(&user, peer.ip()) {
        count("password", "locked");
        info!(%user, %peer, "console login refused: too many failures");
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins; try again later",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return response;
    }
    let granted = match idp::password_login(&console, &user, creds.password).await {
        Ok(granted) => granted,
        Err(refusal) => {
            if refusal.throttled {
                console.throttle.fail(&user, peer.ip());
            }
            count(refusal.method, refusal.outcome);
            info!(%user, %peer, method = refusal.method, outcome = refusal.outcome, "console login failed");
            return refusal.response;
        }
    };
    console.throttle.succeed(&user);
    let (role, user) = (granted.role, granted.name);
    let provided = (granted.method != "local").then_some(role);
    let (cookie, session) = match open_session(&console, &user, provided) {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    count(granted.method, "success");
    info!(%user, %peer, %role, method = granted.method, "console login");
    let body = serde_json::json!({
        "username": user,
        "role": role.to_string(),
        "csrf_token": session.csrf,
    });
    ([(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

async fn logout(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    session: Option<Extension<SessionId>>,
) -> Response {
    let Some(Extension(SessionId(id))) = session else {
        refused("bad_request");
        return problem(
            StatusCode::BAD_REQUEST,
            "logout ends a login session; an API token is revoked with `vigil token revoke`",
        );
    };
    if let Some(session) = console.sessions.end(&id) {
        info!(user = %session.user, %peer, "console logout");
    }
    let cookie = format!("{COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

async fn current(Extension(who): Extension<Principal>) -> Response {
    Json(serde_json::json!({ "username": who.name, "role": who.role.to_string() })).into_response()
}
