//! The console's admin operations (admin role only): users, API tokens, reloading the
//! correlation rules and signed commands to edges. Accounts change through
//! [`vigil_accounts::change`] with the rules of `vigil user` (name and password checks, the
//! last enabled admin kept); reload and commands go the way of the loopback admin API
//! ([`crate::admin`]).

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_accounts::{Change, Role, User, token::Token};
use vigil_event::{AuditAction, Timestamp};

use super::audit::NewEntry;
use super::auth::Principal;
use super::input::{Page, bad_request, json_body};
use super::openapi::Problem;
use super::{Console, problem};

/// The admin routes.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new()
        .routes(routes!(list_users, add_user))
        .routes(routes!(change_user, remove_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(reload))
        .routes(routes!(command))
}

/// Records an admin action, done or refused (`Err` with why), in the audit log, and logs it.
/// The action has happened (or not) either way: a failed audit write is logged as an error by
/// [`super::audit::record`], not turned into the action's answer.
pub(super) async fn audit(
    console: &Console,
    who: &Principal,
    action: AuditAction,
    target: &str,
    outcome: Result<(), &str>,
) {
    let entry = NewEntry::new(&who.name, action, target, None);
    let entry = match outcome {
        Ok(()) => {
            tracing::info!(actor = %who.name, ?action, target, "console admin action");
            entry
        }
        Err(why) => {
            tracing::info!(actor = %who.name, ?action, target, why, "console admin action refused");
            entry.with("reason", why).failed()
        }
    };
    let _ = super::audit::record(console, entry).await;
}

/// A console account, without its password hash.
#[derive(Serialize, ToSchema)]
struct UserItem {
    /// The user's name.
    name: String,
    /// `admin`, `analyst` or `viewer`.
    role: String,
    /// A disabled user cannot log in.
    disabled: bool,
    /// When the account was added.
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// When its password was last set.
    #[schema(value_type = String, format = DateTime)]
    password_changed_at: Timestamp,
}

impl From<User> for UserItem {
    fn from(u: User) -> UserItem {
        UserItem {
            name: u.name,
            role: u.role.to_string(),
            disabled: u.disabled,
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    /// Letters, digits, `._@-`, starting with a letter or digit; at most 64 characters.
    name: String,
    /// `admin`, `analyst` or `viewer`.
    #[schema(value_type = String)]
    role: Role,
    /// At least 12 characters, not guessable from the name.
    password: String,
}

/// What changes of a user; each given field is applied in this order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserChange {
    /// A new role.
    #[schema(value_type = Option<String>)]
    role: Option<Role>,
    /// A new password.
    password: Option<String>,
    /// Disables (true) or enables (false) the account.
    disabled: Option<bool>,
}

/// Applies `changes` to the accounts off the async threads (password hashing is slow): the user
/// as it is afterwards, or a problem answer naming what was refused.
async fn apply(
    console: &Console,
    who: &Principal,
    action: AuditAction,
    name: &str,
    changes: Vec<OwnedChange>,
) -> Result<User, Response> {
    let dir = console.core.config.data_dir.clone();
    let target = name.to_string();
    // A new password, a disabled account or a removed one ends the user's sessions; a role
    // change takes effect at their next request.
    let ends_sessions = changes.iter().any(|c| !matches!(c, OwnedChange::Role(_)));
    let outcome = tokio::task::spawn_blocking(move || {
        let mut last = None;
        for change in &changes {
            last = Some(vigil_accounts::change(&dir, change.borrowed(&target))?);
        }
        last.ok_or_else(|| anyhow::anyhow!("nothing to change: give role, password or disabled"))
    })
    .await
    .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    // Its own change, audited below: not one of the host's.
    console.users.adopt();
    match outcome {
        Ok(user) => {
            if ends_sessions {
                let ended = console.sessions.end_user(name);
                tracing::info!(
                    user = name,
                    ended,
                    "console sessions ended by an account change"
                );
            }
            audit(console, who, action, name, Ok(())).await;
            Ok(user)
        }
        Err(e) => {
            let why = format!("{e:#}");
            audit(console, who, action, name, Err(&why)).await;
            Err(match why.starts_with("no user") {
                true => problem(StatusCode::NOT_FOUND, &why),
                false => bad_request(&why),
            })
        }
    }
}

/// A change of one user, owned so it can move to a blocking thread.
enum OwnedChange {
    Add(Role, String),
    Password(String),
    Disable(bool),
    Remove,
    Role(Role),
}

impl OwnedChange {
    fn borrowed<'a>(&'a self, name: &'a str) -> Change<'a> {
        match self {
            OwnedChange::Add(role, password) => Change::Add(name, *role, password),
            OwnedChange::Password(password) => Change::Password(name, password),
            OwnedChange::Disable(disabled) => Change::Disable(name, *disabled),
            OwnedChange::Remove => Change::Remove(name),
            OwnedChange::Role(role) => Change::Role(name, *role),
        }
    }
}

/// Lists the users, in the order they were added.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    responses(
        (status = 200, description = "Every user", body = Page<UserItem>),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role", body = Problem),
    ))]
async fn list_users(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let items: Vec<UserItem> = console
        .users
        .accounts()
        .users()
        .iter()
        .cloned()
        .map(UserItem::from)
        .collect();
    Json(Page {
        items,
        next_cursor: None,
    })
    .into_response()
}

/// Adds a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "admin",
    request_body = NewUser,
    responses(
        (status = 201, description = "Added", body = UserItem),
        (status = 400, description = "Invalid name, existing user or weak password (the detail says which)", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
    ))]
async fn add_user(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let new: NewUser = match json_body(&headers, &body) {
        Ok(new) => new,
        Err(refusal) => return refusal,
    };
    let change = OwnedChange::Add(new.role, new.password);
    match apply(
        &console,
        &who,
        AuditAction::UserAdd,
        &new.name,
        vec![change],
    )
    .await
    {
        Ok(user) => (StatusCode::CREATED, Json(UserItem::from(user))).into_response(),
        Err(refusal) => refusal,
    }
}

/// Changes a user's role, password or whether it is disabled. The last enabled admin cannot
/// be disabled or demoted.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "admin",
    params(("name" = String, Path, description = "The user's name")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user as it is now", body = UserItem),
        (status = 400, description = "Weak password, last admin, or nothing to change (the detail says which)", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 404, description = "No such user", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
    ))]
async fn change_user(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let change: UserChange = match json_body(&headers, &body) {
        Ok(change) => change,
        Err(refusal) => return refusal,
    };
    // A weak password refuses the whole change, not what comes after the role.
    if let Some(why) = change
        .password
        .as_deref()
        .and_then(|p| vigil_accounts::password::weakness(p, &name))
    {
        let why = format!("password refused: {why}");
        audit(&console, &who, AuditAction::UserChange, &name, Err(&why)).await;
        return bad_request(&why);
    }
    // The password last: it cannot fail (its strength was checked above), so a refused role
    // or disable (the last enabled admin) leaves the account as it was.
    let changes: Vec<OwnedChange> = [
        change.role.map(OwnedChange::Role),
        change.disabled.map(OwnedChange::Disable),
        change.password.map(OwnedChange::Password),
    ]
    .into_iter()
    .flatten()
    .collect();
    match apply(&console, &who, AuditAction::UserChange, &name, changes).await {
        Ok(user) => Json(UserItem::from(user)).into_response(),
        Err(refusal) => refusal,
    }
}

/// Removes a user. The last enabled admin cannot be removed.
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "admin",
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The last enabled admin", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 404, description = "No such user", body = Problem),
    ))]
async fn remove_user(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    match apply(
        &console,
        &who,
        AuditAction::UserRemove,
        &name,
        vec![OwnedChange::Remove],
    )
    .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refusal,
    }
}

/// An API token, without its secret.
#[derive(Serialize, ToSchema)]
struct TokenItem {
    /// Public id (16 hex digits), what revoking takes.
    id: String,
    /// What it is for.
    name: String,
    /// `admin`, `analyst` or `viewer`.
    role: String,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// After this it is refused.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
    /// When it was revoked.
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<Timestamp>,
    /// Neither revoked nor expired.
    live: bool,
}

impl From<&Token> for TokenItem {
    fn from(t: &Token) -> TokenItem {
        TokenItem {
            id: t.id.clone(),
            name: t.name.clone(),
            role: t.role.to_string(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            live: t.live(Timestamp::now()),
        }
    }
}

/// A new API token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// What it is for (checked like a user name).
    name: String,
    /// `admin`, `analyst` or `viewer`.
    #[schema(value_type = String)]
    role: Role,
    /// Days until it expires; never without.
    expires_days: Option<u32>,
}

/// A token just created: the whole token is shown this once.
#[derive(Serialize, ToSchema)]
struct CreatedToken {
    /// `vgl_<id>_<secret>`: send as `Authorization: Bearer`.
    token: String,
    #[serde(flatten)]
    about: TokenItem,
}

/// Lists the API tokens, live or not, in the order they were created.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin",
    responses(
        (status = 200, description = "Every token", body = Page<TokenItem>),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role", body = Problem),
    ))]
async fn list_tokens(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let items = console
        .users
        .accounts()
        .tokens()
        .iter()
        .map(TokenItem::from)
        .collect();
    Json(Page::<TokenItem> {
        items,
        next_cursor: None,
    })
    .into_response()
}

/// Creates an API token; the answer holds the whole token, shown only this once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin",
    request_body = NewToken,
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "Invalid name or expiry", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
    ))]
async fn create_token(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let new: NewToken = match json_body(&headers, &body) {
        Ok(new) => new,
        Err(refusal) => return refusal,
    };
    let expires_at = match new.expires_days {
        None => None,
        Some(days @ 1..=3650) => Some(Timestamp::from_micros(
            Timestamp::now().as_micros() + i64::from(days) * 86_400_000_000,
        )),
        Some(days) => {
            return bad_request(&format!(
                "invalid expires_days {days}: give 1 to 3650, or leave it out for no expiry"
            ));
        }
    };
    let dir = console.core.config.data_dir.clone();
    let (name, role) = (new.name.clone(), new.role);
    let created = tokio::task::spawn_blocking(move || {
        vigil_accounts::token::create(&dir, &name, role, expires_at)
    })
    .await;
    match created {
        Ok(Ok((token, whole))) => {
            console.users.adopt();
            audit(&console, &who, AuditAction::TokenCreate, &token.id, Ok(())).await;
            let body = CreatedToken {
                token: whole,
                about: TokenItem::from(&token),
            };
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Ok(Err(e)) => {
            let why = format!("{e:#}");
            audit(
                &console,
                &who,
                AuditAction::TokenCreate,
                &new.name,
                Err(&why),
            )
            .await;
            bad_request(&why)
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Revokes an API token; it is kept, revoked, for the record.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin",
    params(("id" = String, Path, description = "The token's public id")),
    responses(
        (status = 200, description = "Revoked", body = TokenItem),
        (status = 400, description = "Revoked already", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 404, description = "No such token", body = Problem),
    ))]
async fn revoke_token(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let dir = console.core.config.data_dir.clone();
    let target = id.clone();
    let revoked =
        tokio::task::spawn_blocking(move || vigil_accounts::token::revoke(&dir, &target)).await;
    match revoked {
        Ok(Ok(token)) => {
            console.users.adopt();
            audit(&console, &who, AuditAction::TokenRevoke, &id, Ok(())).await;
            Json(TokenItem::from(&token)).into_response()
        }
        Ok(Err(e)) => {
            let why = format!("{e:#}");
            audit(&console, &who, AuditAction::TokenRevoke, &id, Err(&why)).await;
            match why.starts_with("no token") {
                true => problem(StatusCode::NOT_FOUND, &why),
                false => bad_request(&why),
            }
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Reloads the correlation rules (directives, policies, assets) as `POST /api/v1/reload` of
/// the admin endpoint does.
#[utoipa::path(post, path = "/api/v1/reload", tag = "admin",
    responses(
        (status = 200, description = "Reloaded", body = crate::writer::ReloadReport),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 422, description = "The rules do not load; the running ones stay", body = Problem),
    ))]
async fn reload(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    match crate::admin::request_reload(&console.core.reloads).await {
        Ok(report) => {
            audit(&console, &who, AuditAction::Reload, "rules", Ok(())).await;
            Json(report).into_response()
        }
        Err(e) => {
            audit(&console, &who, AuditAction::Reload, "rules", Err(&e)).await;
            problem(StatusCode::UNPROCESSABLE_ENTITY, &e)
        }
    }
}

/// Sends a signed command to an edge and answers with the edge's signed result.
#[utoipa::path(post, path = "/api/v1/commands", tag = "admin",
    request_body(content = Object, description = "`{\"sensor\": NAME, \"action\": {...}}` as the admin endpoint takes it (docs/bus.md)"),
    responses(
        (status = 200, description = "The edge's result: `{id, sensor, ok, detail}`", body = Object),
        (status = 400, description = "Not a command", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 403, description = "Requires the admin role, or a missing CSRF token", body = Problem),
        (status = 409, description = "The bus is disabled", body = Problem),
        (status = 415, description = "Not JSON", body = Problem),
        (status = 504, description = "The edge did not answer", body = Problem),
    ))]
async fn command(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let target = match json_body::<serde_json::Value>(&headers, &body) {
        Ok(command) => command["sensor"].as_str().unwrap_or_default().to_string(),
        Err(refusal) => return refusal,
    };
    match crate::admin::send_command(console.core.bus.as_deref(), &body).await {
        Ok(result) => {
            audit(&console, &who, AuditAction::Command, &target, Ok(())).await;
            Json(result).into_response()
        }
        Err((status, e)) => {
            audit(&console, &who, AuditAction::Command, &target, Err(&e)).await;
            problem(status, &e)
        }
    }
}
