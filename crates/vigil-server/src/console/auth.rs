//! Who a console request acts as: a login session (cookie + CSRF token) or an API token, and
//! what its role allows.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::info;
use vigil_accounts::Role;

use super::{COOKIE, Console, problem, refused};

/// The session cookie's value in `headers`.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a request acts as: a logged-in user, or an API token (named `token:<name>`).
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user's name, or `token:<name>`.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// Nothing when the principal holds at least `role`; else the 403 answer to return
    /// (counted as refused for `role`).
    #[allow(clippy::result_large_err)]
    pub fn require(&self, role: Role) -> Result<(), Response> {
        if self.role.allows(role) {
            return Ok(());
        }
        refused("role");
        Err(problem(
            StatusCode::FORBIDDEN,
            &format!("requires the {role} role"),
        ))
    }
}

/// The request's [`Principal`]: an API token's (`Authorization: Bearer`; a browser never
/// sends one by itself, so no CSRF token is needed), or the session of the request's cookie,
/// its user still enabled, and for state-changing methods its CSRF token (then the session's
/// id goes in the request's extensions too).
pub async fn require_session(
    State(console): State<Arc<Console>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(presented) = crate::http::bearer(request.headers()) {
        let presented = presented.unwrap_or_default().to_string();
        let Some(principal) = token_principal(&console, &presented) else {
            refused("token");
            return problem(
                StatusCode::UNAUTHORIZED,
                "unknown, expired or revoked API token",
            );
        };
        request.extensions_mut().insert(principal);
        request
            .extensions_mut()
            .insert(Credential::Token(presented));
        return next.run(request).await;
    }
    let Some(id) = session_id(request.headers()).map(str::to_string) else {
        refused("session");
        return problem(StatusCode::UNAUTHORIZED, "not logged in");
    };
    let Some((session, principal)) = session_principal(&console, &id) else {
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
    request.extensions_mut().insert(principal);
    request
        .extensions_mut()
        .insert(Credential::Session(id.clone()));
    request.extensions_mut().insert(SessionId(id));
    next.run(request).await
}

/// What a request authenticated with, so a long answer (the live stream) can check it again.
#[derive(Clone)]
pub enum Credential {
    /// A login session's cookie value.
    Session(String),
    /// An API token as presented.
    Token(String),
}

impl Credential {
    /// Whether it still authenticates (the session live and its account unchanged, or the
    /// token neither expired nor revoked).
    pub fn valid(&self, console: &Console) -> bool {
        match self {
            Credential::Session(id) => session_principal(console, id).is_some(),
            Credential::Token(presented) => token_principal(console, presented).is_some(),
        }
    }
}

/// The principal of API token `presented`, if it is known, unexpired and unrevoked.
fn token_principal(console: &Console, presented: &str) -> Option<Principal> {
    let accounts = console.users.accounts();
    let token = accounts.authenticate_token(presented, vigil_event::Timestamp::now())?;
    Some(Principal {
        name: format!("token:{}", token.name),
        role: token.role,
    })
}

/// The live session `id` and its principal, marked as used; a session whose account is
/// disabled, removed or changed since its login is ended.
fn session_principal(console: &Console, id: &str) -> Option<(super::session::Session, Principal)> {
    let session = console.sessions.touch(id)?;
    let Some(role) = console.users.role(&session) else {
        console.sessions.end(id);
        info!(user = %session.user, "console session ended: the account is disabled, removed or changed");
        return None;
    };
    let principal = Principal {
        name: session.user.clone(),
        role,
    };
    Some((session, principal))
}

/// The cookie value of the request's session.
#[derive(Clone)]
pub struct SessionId(pub String);
