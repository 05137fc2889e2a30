//! The analyst's console API (`/api/v1/` over HTTPS): login, sessions and their protections.
//!
//! TLS 1.3 only ([`tls`]). Sessions live in memory ([`session`]) behind a `vigil_session`
//! cookie; state-changing requests other than login carry the session's `X-CSRF-Token`, and
//! requests from another origin are refused. Failed logins are throttled ([`throttle`]).
//! Besides the local accounts, users may log in through an LDAP directory or an OpenID Connect
//! provider ([`idp`]).

mod account_audit;
pub mod admin_api;
pub mod alarm_book;
pub mod alarm_json;
pub mod alarms;
pub mod assets;
pub mod audit;
pub mod audit_list;
pub mod auth;
pub mod dashboard;
pub mod directives;
pub mod events;
mod fetch;
pub mod hosts;
pub mod idp;
pub mod input;
pub mod ldap;
pub mod oidc;
pub mod openapi;
pub mod params;
pub mod sensors;
pub mod session;
pub mod stream;
pub mod throttle;
pub mod tls;
mod trust;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ConsoleConfig;
use audit::NewEntry;
use auth::{Principal, SessionId};
use session::{Sessions, UserBook};
use throttle::Throttle;
use vigil_event::AuditAction;

/// The session cookie's name.
pub const COOKIE: &str = "vigil_session";

/// What the console reaches of the running core.
pub struct CoreLinks {
    /// The server's configuration (data directory, correlation rules, store options).
    pub config: Arc<crate::config::Config>,
    /// Asks the store writer to reload the correlation rules.
    pub reloads: tokio::sync::mpsc::UnboundedSender<crate::writer::ReloadRequest>,
    /// The event bus's shared state (sensors' sessions, commands), when the bus is on.
    pub bus: Option<Arc<crate::bus::BusShared>>,
    /// Per-sensor sequence numbering: what the core has of each sensor.
    pub book: Arc<std::sync::Mutex<vigil_bus::SequenceBook>>,
    /// The hosts' compromise and attack levels, published by the store writer.
    pub host_levels: Arc<crate::host_levels::HostLevels>,
    /// What the legacy agent sessions heard from their sensors.
    pub agents: Arc<crate::sensors::AgentSensors>,
    /// Every alarm's latest revision and triage.
    pub alarms: Arc<alarm_book::AlarmBook>,
    /// Who did what through the console.
    pub audit: Arc<audit::AuditLog>,
}

/// What the console needs from the store, opened at start before the writer runs.
pub struct OpenedState {
    /// The alarm book, loaded from the alarm and audit logs.
    pub alarms: Arc<alarm_book::AlarmBook>,
    /// The audit log, open for writing.
    pub audit: vigil_store::Log<vigil_event::AuditEntry>,
    /// Damage the audit log's opening found.
    pub corruption: Vec<vigil_store::Corruption>,
    /// Where the store writer sends the alarm revisions it stored.
    pub feed: tokio::sync::mpsc::UnboundedSender<Vec<vigil_event::Alarm>>,
    /// What [`feed_alarms`] reads them from.
    pub fed: tokio::sync::mpsc::UnboundedReceiver<Vec<vigil_event::Alarm>>,
}

/// Opens the audit log of `data_dir` and loads the alarm book from `store` and it.
pub fn open_state(
    data_dir: &std::path::Path,
    options: &vigil_store::LogOptions,
    store: &vigil_store::Store,
) -> anyhow::Result<OpenedState> {
    use anyhow::Context;
    let audit =
        vigil_store::Store::open_audit(data_dir, options).context("cannot open the audit log")?;
    let alarms = alarm_book::AlarmBook::load(&store.alarms, &audit)
        .context("cannot load the alarms for the console")?;
    info!(alarms = alarms.len(), "console alarm book loaded");
    let (feed, fed) = tokio::sync::mpsc::unbounded_channel();
    Ok(OpenedState {
        alarms: Arc::new(alarms),
        corruption: audit.corruption().to_vec(),
        audit,
        feed,
        fed,
    })
}

/// Applies the alarm revisions the store writer made durable to `book`, until the writer stops.
pub async fn feed_alarms(
    book: Arc<alarm_book::AlarmBook>,
    mut fed: tokio::sync::mpsc::UnboundedReceiver<Vec<vigil_event::Alarm>>,
) -> anyhow::Result<()> {
    while let Some(alarms) = fed.recv().await {
        book.apply(alarms);
    }
    Ok(())
}

/// The console's shared state.
pub struct Console {
    /// The running core.
    pub core: CoreLinks,
    users: UserBook,
    sessions: Sessions,
    throttle: Throttle,
    providers: idp::Providers,
    /// Password checks running at once (each Argon2id check takes 19 MiB).
    checks: tokio::sync::Semaphore,
    /// Fired at shutdown: ends the live streams, so the server's graceful shutdown completes.
    closing: CancellationToken,
}

/// Most password checks at once; further logins wait their turn.
const MAX_CHECKS: usize = 4;

impl Console {
    /// The console of the core `core` links to, with the accounts of its data directory.
    pub fn new(config: &ConsoleConfig, core: CoreLinks) -> anyhow::Result<Console> {
        Ok(Console {
            users: UserBook::load(&core.config.data_dir)?,
            core,
            sessions: Sessions::new(config.idle_timeout, config.session_lifetime),
            throttle: Throttle::default(),
            providers: idp::Providers::new(config)?,
            checks: tokio::sync::Semaphore::new(MAX_CHECKS),
            closing: CancellationToken::new(),
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
    let closing = console.closing.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        closing.cancel();
    });
    tokio::spawn(audit_host_changes(console.clone(), shutdown.clone()));
    info!(addr = %axum::serve::Listener::local_addr(&listener)?, "console API listening (HTTPS, TLS 1.3)");
    axum::serve(
        listener,
        router(console)?.into_make_service_with_connect_info::<tls::Peer>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    Ok(())
}

/// How often the accounts file is checked for changes made on the host.
const HOST_CHANGES_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Records in the audit log, every [`HOST_CHANGES_INTERVAL`] until `shutdown`, the account
/// changes made on the host (`vigil user`, `vigil token`) while the server runs.
async fn audit_host_changes(console: Arc<Console>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(HOST_CHANGES_INTERVAL) => {}
        }
        console.users.accounts();
        for entry in console.users.take_changes() {
            // A failed write is logged by `record`.
            let _ = audit::record(&console, entry).await;
        }
    }
}

fn router(console: Arc<Console>) -> anyhow::Result<Router> {
    let with_session = OpenApiRouter::new()
        .routes(routes!(current))
        .routes(routes!(logout))
        .merge(admin_api::routes())
        .merge(events::routes())
        .merge(sensors::routes())
        .merge(directives::routes())
        .merge(dashboard::routes())
        .merge(hosts::routes())
        .merge(alarms::routes())
        .merge(stream::routes())
        .merge(audit_list::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            console.clone(),
            auth::require_session,
        ));
    let (api, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(login))
        .merge(idp::routes())
        .merge(with_session)
        .split_for_parts();
    Ok(api
        .merge(openapi::routes(doc)?)
        .merge(assets::router())
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such resource") })
        .layer(axum::middleware::from_fn(same_origin))
        .layer(axum::middleware::map_response(errors_as_problems))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console))
}

/// An RFC 9457 problem response.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    crate::http::problem(status, detail, &[])
}

/// Answers the errors axum writes itself (a body over its limit, a path that does not decode, a
/// method a resource does not take) as problem JSON too, and counts them as refused.
async fn errors_as_problems(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let detail = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        text => text.to_string(),
    };
    refused(match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method",
        _ => "bad_request",
    });
    let mut answer = problem(status, &detail);
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
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

/// What `POST /api/v1/login` takes.
#[derive(Deserialize, utoipa::ToSchema)]
struct Credentials {
    username: String,
    password: String,
}

/// Who is logged in: the answer to a login and to `GET /api/v1/session`.
#[derive(Serialize, utoipa::ToSchema)]
struct SessionInfo {
    /// The user's name (`token:<name>` for an API token).
    username: String,
    /// `admin`, `analyst` or `viewer`.
    role: String,
    /// What state-changing requests of this login session carry in `X-CSRF-Token` (none for
    /// an API token).
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

/// Counts a request refused before reaching its handler's work, by reason.
pub fn refused(reason: &'static str) {
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
    // A local account's session is bound to the account as it is now.
    let account = role.is_none().then(|| console.users.stamp(user)).flatten();
    let (id, session) = console
        .sessions
        .start(user, role, account)
        .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")))?;
    Ok((
        format!("{COOKIE}={id}; Secure; HttpOnly; SameSite=Strict; Path=/"),
        session,
    ))
}

/// Logs in with a user name and password: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/v1/login", tag = "session",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in; the `vigil_session` cookie is set", body = SessionInfo),
        (status = 400, description = "Not the expected JSON", body = openapi::Problem),
        (status = 401, description = "Wrong user name or password", body = openapi::Problem),
        (status = 415, description = "Not JSON", body = openapi::Problem),
        (status = 429, description = "Too many failed logins", body = openapi::Problem),
    ),
    security(()))]
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
    let known = console.users.accounts().get(&user).is_some();
    // What the logs and the audit say of who tried: a name typed that is no account's (it may
    // be a password typed in the wrong field) only as a fingerprint.
    let actor = console.core.audit.login_actor(&user, known);
    if let Err(locked) = console.throttle.attempt(&user, peer.ip()) {
        count("password", "locked");
        if locked.first {
            // Once per lock: refused attempts must not fill the audit log (or the log).
            info!(user = %actor, %peer, "console login refused: too many failures");
            let entry = NewEntry::new(&actor, AuditAction::LoginFailed, "", Some(peer));
            if let Err(e) =
                audit::record(&console, entry.with("reason", "throttled").failed()).await
            {
                return e.into_response();
            }
        }
        let wait = locked.wait;
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
            if !refusal.throttled {
                console.throttle.withdraw(&user, peer.ip());
            }
            count(refusal.method, refusal.outcome);
            info!(user = %actor, %peer, method = refusal.method, outcome = refusal.outcome, "console login failed");
            let entry = NewEntry::new(&actor, AuditAction::LoginFailed, "", Some(peer))
                .with("method", refusal.method)
                .with(
                    "reason",
                    match refusal.outcome {
                        "failure" => "wrong user name or password",
                        "no_role" => "no role granted",
                        _ => "the directory could not be asked",
                    },
                );
            if let Err(e) = audit::record(&console, entry.failed()).await {
                return e.into_response();
            }
            return refusal.response;
        }
    };
    let (role, user) = (granted.role, granted.name);
    // On the record before the session exists: no login goes unaudited.
    let entry = NewEntry::new(&user, AuditAction::Login, "", Some(peer))
        .with("method", granted.method)
        .with("role", role.to_string());
    if let Err(e) = audit::record(&console, entry).await {
        return e.into_response();
    }
    console.throttle.succeed(&user, peer.ip());
    let provided = (granted.method != "local").then_some(role);
    let (cookie, session) = match open_session(&console, &user, provided) {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    count(granted.method, "success");
    info!(%user, %peer, %role, method = granted.method, "console login");
    let body = SessionInfo {
        username: user,
        role: role.to_string(),
        csrf_token: Some(session.csrf),
    };
    ([(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

/// Ends the login session and clears its cookie.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session",
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "Not a login session (an API token)", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
        (status = 403, description = "Missing or wrong CSRF token", body = openapi::Problem),
    ))]
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
        let entry = NewEntry::new(&session.user, AuditAction::Logout, "", Some(peer));
        if let Err(e) = audit::record(&console, entry).await {
            return e.into_response();
        }
    }
    let cookie = format!("{COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// Who is logged in, and the session's CSRF token (so a reloaded page gets it back).
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses(
        (status = 200, description = "The current login", body = SessionInfo),
        (status = 401, description = "Not logged in", body = openapi::Problem),
    ))]
async fn current(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    session: Option<Extension<SessionId>>,
) -> Response {
    let csrf_token = session
        .and_then(|Extension(SessionId(id))| console.sessions.touch(&id))
        .map(|s| s.csrf);
    Json(SessionInfo {
        username: who.name,
        role: who.role.to_string(),
        csrf_token,
    })
    .into_response()
}
