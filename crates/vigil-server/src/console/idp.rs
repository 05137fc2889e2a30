//! Logins through identity providers besides the local accounts: an LDAP directory for
//! `POST /api/v1/login` ([`password_login`]) and OpenID Connect (`GET /api/v1/oidc/login` and
//! its callback), and `GET /api/v1/login/methods` telling the console which are on.

use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::{info, warn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_accounts::Role;
use vigil_event::AuditAction;

use super::audit::NewEntry;

use super::{Console, count, problem, refused, tls};
use crate::config::ConsoleConfig;

/// The identity providers configured besides the local accounts.
pub struct Providers {
    ldap: Option<super::ldap::Directory>,
    oidc: Option<super::oidc::Provider>,
}

impl Providers {
    /// The providers of `config` (`[console.ldap]`, `[console.oidc]`).
    pub fn new(config: &ConsoleConfig) -> anyhow::Result<Providers> {
        Ok(Providers {
            ldap: config
                .ldap
                .as_ref()
                .map(super::ldap::Directory::new)
                .transpose()?,
            oidc: config
                .oidc
                .as_ref()
                .map(super::oidc::Provider::new)
                .transpose()?,
        })
    }
}

/// A password login that succeeded: the name and role, and whether they come from a provider
/// (then the role holds for the session) rather than the local accounts (read again at each
/// request).
pub struct Granted {
    /// The user's name (as the directory spells it for an LDAP login).
    pub name: String,
    /// The user's role.
    pub role: Role,
    /// Which check granted it: `local` or `ldap`.
    pub method: &'static str,
}

/// A password login that did not.
pub struct Refusal {
    /// Which check refused it.
    pub method: &'static str,
    /// Its `vigil_console_logins_total` outcome.
    pub outcome: &'static str,
    /// Whether it counts towards the login throttle.
    pub throttled: bool,
    /// The answer.
    pub response: Response,
}

/// Checks `user`'s `password` against the local accounts, then the LDAP directory if one is
/// configured and no local account has that name (a local account, even disabled, is never
/// overridden by the directory).
pub async fn password_login(
    console: &Console,
    user: &str,
    password: String,
) -> Result<Granted, Refusal> {
    let accounts = console.users.accounts();
    let local = accounts.get(user).is_some();
    let wrong = |method| Refusal {
        method,
        outcome: "failure",
        throttled: true,
        response: problem(StatusCode::UNAUTHORIZED, "wrong user name or password"),
    };
    let directory = match &console.providers.ldap {
        Some(directory) if !local => directory,
        _ => {
            let name = user.to_string();
            // The semaphore is never closed: a permit always comes.
            let _permit = console.checks.acquire().await.ok();
            let role = tokio::task::spawn_blocking(move || {
                accounts.authenticate(&name, &password).map(|u| u.role)
            })
            .await
            .ok()
            .flatten();
            return role
                .map(|role| Granted {
                    name: user.to_string(),
                    role,
                    method: "local",
                })
                .ok_or_else(|| wrong("local"));
        }
    };
    match directory.authenticate(user, &password).await {
        Ok(super::ldap::Outcome::Granted { name, role }) => {
            // The directory's spelling of the name may differ from the one typed (LDAP
            // matches without case): it must not be a local account's either.
            if let Some(why) = vigil_accounts::check_name(&name)
                .err()
                .map(|e| format!("{e:#}"))
                .or_else(|| {
                    accounts
                        .get(&name)
                        .map(|_| "the name is a local account's".into())
                })
            {
                warn!(%user, %name, reason = %why, "LDAP login refused");
                return Err(wrong("ldap"));
            }
            Ok(Granted {
                name,
                role,
                method: "ldap",
            })
        }
        Ok(super::ldap::Outcome::Denied) => Err(wrong("ldap")),
        Ok(super::ldap::Outcome::NoRole) => Err(Refusal {
            method: "ldap",
            outcome: "no_role",
            throttled: false,
            response: problem(
                StatusCode::FORBIDDEN,
                "no role is granted to this user: none of their directory groups is in console.ldap.roles",
            ),
        }),
        Err(e) => {
            warn!(%user, error = %format!("{e:#}"), "LDAP login failed: the directory did not answer as expected");
            Err(Refusal {
                method: "ldap",
                outcome: "unavailable",
                throttled: false,
                response: problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the directory cannot check this login now; try again later",
                ),
            })
        }
    }
}

/// The routes of the identity providers: the login methods and the OpenID Connect flow.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new()
        .routes(routes!(methods))
        .routes(routes!(oidc_login))
        .routes(routes!(oidc_callback))
}

/// Which ways to log in are on.
#[derive(Serialize, utoipa::ToSchema)]
struct Methods {
    /// User name and password (local accounts, and the LDAP directory when configured).
    password: bool,
    /// Whether an LDAP directory checks passwords of names no local account has.
    ldap: bool,
    /// Whether `GET /api/v1/oidc/login` starts an OpenID Connect login.
    oidc: bool,
}

/// Which ways to log in are on, for the login screen.
#[utoipa::path(get, path = "/api/v1/login/methods", tag = "session",
    responses((status = 200, description = "The login methods", body = Methods)),
    security(()))]
async fn methods(State(console): State<Arc<Console>>) -> Response {
    Json(Methods {
        password: true,
        ldap: console.providers.ldap.is_some(),
        oidc: console.providers.oidc.is_some(),
    })
    .into_response()
}

/// The OpenID Connect provider, or the 404 problem answer when none is configured.
#[allow(clippy::result_large_err)]
fn oidc(console: &Console) -> Result<&super::oidc::Provider, Response> {
    console.providers.oidc.as_ref().ok_or_else(|| {
        refused("oidc");
        problem(
            StatusCode::NOT_FOUND,
            "OpenID Connect logins are not configured",
        )
    })
}

/// Sends the browser to the provider's authorisation endpoint.
#[utoipa::path(get, path = "/api/v1/oidc/login", tag = "session",
    responses(
        (status = 302, description = "To the provider's authorisation endpoint (PKCE, state, nonce)"),
        (status = 400, description = "No Host header", body = super::openapi::Problem),
        (status = 404, description = "OpenID Connect is not configured", body = super::openapi::Problem),
        (status = 503, description = "The provider cannot be reached", body = super::openapi::Problem),
    ),
    security(()))]
async fn oidc_login(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    headers: HeaderMap,
) -> Response {
    let provider = match oidc(&console) {
        Ok(provider) => provider,
        Err(response) => return response,
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        refused("bad_request");
        return problem(StatusCode::BAD_REQUEST, "the request has no Host header");
    };
    match provider.begin(host).await {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(e) => {
            refused("oidc");
            count("oidc", "unavailable");
            warn!(%peer, error = %format!("{e:#}"), "OpenID Connect login could not start");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("cannot start the OpenID Connect login: {e:#}"),
            )
        }
    }
}

/// Takes the provider's answer: starts a session and sends the browser to the alarms.
#[utoipa::path(get, path = "/api/v1/oidc/callback", tag = "session",
    params(
        ("code" = Option<String>, Query, description = "The authorisation code"),
        ("state" = Option<String>, Query, description = "The state the login was started with"),
        ("iss" = Option<String>, Query, description = "The provider (RFC 9207)"),
    ),
    responses(
        (status = 302, description = "Logged in: the `vigil_session` cookie is set, and on to `/#/alarms`"),
        (status = 401, description = "The provider's answer is refused", body = super::openapi::Problem),
        (status = 404, description = "OpenID Connect is not configured", body = super::openapi::Problem),
    ),
    security(()))]
async fn oidc_callback(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    RawQuery(query): RawQuery,
) -> Response {
    let provider = match oidc(&console) {
        Ok(provider) => provider,
        Err(response) => return response,
    };
    // Like the directory's, a provider's user never takes over a local account's name.
    let identity = provider
        .finish(query.as_deref().unwrap_or_default())
        .await
        .and_then(
            |identity| match console.users.accounts().get(&identity.name) {
                Some(_) => Err(anyhow::anyhow!(
                    "{} is the name of a local account",
                    identity.name
                )),
                None => Ok(identity),
            },
        );
    let identity = match identity {
        Ok(identity) => identity,
        Err(e) => {
            refused("oidc");
            count("oidc", "failure");
            info!(%peer, error = %format!("{e:#}"), "console login by OpenID Connect refused");
            let entry = NewEntry::new("-", AuditAction::LoginFailed, "", Some(peer))
                .with("method", "oidc")
                .with("reason", format!("{e:#}"))
                .failed();
            if let Err(failed) = super::audit::record(&console, entry).await {
                return failed.into_response();
            }
            return problem(
                StatusCode::UNAUTHORIZED,
                &format!("OpenID Connect login refused: {e:#}"),
            );
        }
    };
    let entry = NewEntry::new(&identity.name, AuditAction::Login, "", Some(peer))
        .with("method", "oidc")
        .with("role", identity.role.to_string());
    if let Err(failed) = super::audit::record(&console, entry).await {
        return failed.into_response();
    }
    let cookie = match super::open_session(&console, &identity.name, Some(identity.role)) {
        Ok((cookie, _)) => cookie,
        Err(response) => return response,
    };
    count("oidc", "success");
    info!(user = %identity.name, %peer, role = %identity.role, method = "oidc", "console login");
    (
        StatusCode::FOUND,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/#/alarms".to_string()),
        ],
    )
        .into_response()
}
