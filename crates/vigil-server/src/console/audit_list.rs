//! `GET /api/v1/audit`: the audit log, newest first, filtered and paged (admin only).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_accounts::Role;
use vigil_event::{AuditAction, AuditEntry, Uuid};

use super::audit::AuditFilter;
use super::auth::Principal;
use super::params::{BadParam, Params};
use super::{Console, openapi};

/// The audit route (behind the session check).
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new().routes(routes!(list))
}

/// An audit entry, as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct AuditJson {
    /// Entry id.
    id: Uuid,
    /// When (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    time: vigil_event::Timestamp,
    /// Who did it.
    actor: String,
    /// What was done (`login`, `alarm_triage`, ...).
    #[schema(value_type = String, example = "alarm_triage")]
    action: AuditAction,
    /// What it was done to.
    target: String,
    /// `success` or `failure`.
    #[schema(value_type = String, example = "success")]
    outcome: vigil_event::AuditOutcome,
    /// Particulars (string values).
    #[schema(value_type = Object)]
    detail: std::collections::BTreeMap<String, String>,
    /// The client's address.
    peer: Option<String>,
}

impl From<AuditEntry> for AuditJson {
    fn from(e: AuditEntry) -> AuditJson {
        AuditJson {
            id: e.id,
            time: e.time,
            actor: e.actor,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            detail: e.detail,
            peer: e.peer,
        }
    }
}

/// Query parameters of `GET /api/v1/audit`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters `list` reads.
pub struct AuditParams {
    /// Earliest time (RFC 3339 or epoch seconds).
    from: Option<String>,
    /// Latest time.
    to: Option<String>,
    /// Exact actor.
    actor: Option<String>,
    /// Exact action (`login`, `login_failed`, `alarm_triage`, ...).
    action: Option<String>,
    /// Items per page (1-500, default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of audit entries.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    items: Vec<AuditJson>,
    /// Where the next page starts (none after the last).
    next_cursor: Option<String>,
}

fn audit_query(query: Option<&str>) -> Result<(AuditFilter, Option<u64>, usize), BadParam> {
    let p = Params::parse(query, &["from", "to", "actor", "action", "limit", "cursor"])?;
    let action = match p.text("action") {
        None => None,
        Some(name) => Some(AuditAction::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.name()).collect();
            BadParam(format!(
                "action={name:?} is not one of {}",
                known.join(", ")
            ))
        })?),
    };
    let filter = AuditFilter {
        from: p.time("from")?,
        to: p.time("to")?,
        actor: p.text("actor").map(str::to_string),
        action,
        target: None,
    };
    let cursor = p.parse_as::<u64>("cursor", "a cursor from next_cursor")?;
    Ok((filter, cursor, p.limit()?))
}

/// The audit log, newest first (admin only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of audit entries", body = AuditPage),
        (status = 400, description = "A parameter is invalid", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
        (status = 403, description = "Requires the admin role", body = openapi::Problem),
    ))]
async fn list(
    State(console): State<Arc<Console>>,
    Extension(who): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refusal) = who.require(Role::Admin) {
        return refusal;
    }
    let (filter, cursor, limit) = match audit_query(query.as_deref()) {
        Ok(parsed) => parsed,
        Err(e) => return e.response(),
    };
    match console.core.audit.list(filter, cursor, limit).await {
        Ok((entries, next)) => Json(AuditPage {
            items: entries.into_iter().map(AuditJson::from).collect(),
            next_cursor: next.map(|n| n.to_string()),
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}
