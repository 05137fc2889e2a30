//! `/api/v1/alarms`: the alarm list (from the [`AlarmBook`]), an alarm's detail (read from the
//! store), and the analysts' triage, assignment and bulk actions (recorded in the audit log).

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_accounts::Role;
use vigil_event::{Alarm, AuditAction, CorrelationState, Event, TriageStatus, Uuid};
use vigil_store::{Log, Order, Query};

use super::alarm_book::{AlarmFilter, Sort};
use super::alarm_json::AlarmSummary;
use super::audit::{self, AuditFilter, NewEntry};
use super::audit_list::AuditJson;
use super::auth::Principal;
use super::input::json_body;
use super::params::{BadParam, Params};
use super::{Console, openapi, problem, tls};

/// The alarm routes (behind the session check).
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(bulk))
        .routes(routes!(detail))
        .routes(routes!(triage))
        .routes(routes!(assign))
}

/// Query parameters of `GET /api/v1/alarms`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters `list_query` reads.
pub struct ListParams {
    /// Earliest `last_seen` (RFC 3339 or epoch seconds).
    from: Option<String>,
    /// Latest `last_seen`.
    to: Option<String>,
    /// Comma list of `open`, `acknowledged`, `closed`.
    status: Option<String>,
    /// Comma list of `active`, `completed`, `expired`.
    correlation: Option<String>,
    /// Lowest risk (0-10).
    risk_min: Option<u8>,
    /// Highest risk (0-10).
    risk_max: Option<u8>,
    /// Directive id.
    directive: Option<u32>,
    /// Source address or CIDR network.
    src: Option<String>,
    /// Destination address or CIDR network.
    dst: Option<String>,
    /// A sensor of the alarm's events.
    sensor: Option<String>,
    /// A user name of the alarm's events.
    user: Option<String>,
    /// The assignee.
    assignee: Option<String>,
    /// Substring of the name (case-insensitive).
    q: Option<String>,
    /// `risk` (default: risk, then last seen, descending), `time` (last seen descending) or
    /// `oldest`.
    sort: Option<String>,
    /// Items per page (1-500, default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

const LIST_PARAMS: &[&str] = &[
    "from",
    "to",
    "status",
    "correlation",
    "risk_min",
    "risk_max",
    "directive",
    "src",
    "dst",
    "sensor",
    "user",
    "assignee",
    "q",
    "sort",
    "limit",
    "cursor",
];

fn status_named(name: &str) -> Option<TriageStatus> {
    match name {
        "open" => Some(TriageStatus::Open),
        "acknowledged" => Some(TriageStatus::Acknowledged),
        "closed" => Some(TriageStatus::Closed),
        _ => None,
    }
}

fn status_name(status: TriageStatus) -> &'static str {
    match status {
        TriageStatus::Open => "open",
        TriageStatus::Acknowledged => "acknowledged",
        TriageStatus::Closed => "closed",
    }
}

fn correlation_named(name: &str) -> Option<CorrelationState> {
    match name {
        "active" => Some(CorrelationState::Active),
        "completed" => Some(CorrelationState::Completed),
        "expired" => Some(CorrelationState::Expired),
        _ => None,
    }
}

/// An address or a CIDR network (an address is a network of one).
fn network(params: &Params, name: &str) -> Result<Option<ipnet::IpNet>, BadParam> {
    let Some(text) = params.text(name) else {
        return Ok(None);
    };
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| Some(n.trunc()))
        .map_err(|_| {
            BadParam(format!(
                "{name}={text:?} is not an IP address or CIDR network"
            ))
        })
}

/// The filter, order, cursor and limit of a list request.
fn list_query(query: Option<&str>) -> Result<(AlarmFilter, Sort, Option<String>, usize), BadParam> {
    let p = Params::parse(query, LIST_PARAMS)?;
    let filter = AlarmFilter {
        from: p.time("from")?,
        to: p.time("to")?,
        status: p.list("status", "open, acknowledged, closed", status_named)?,
        correlation: p.list(
            "correlation",
            "active, completed, expired",
            correlation_named,
        )?,
        risk_min: p.parse_as("risk_min", "a risk 0-10")?,
        risk_max: p.parse_as("risk_max", "a risk 0-10")?,
        directive: p.parse_as("directive", "a directive id")?,
        src: network(&p, "src")?,
        dst: network(&p, "dst")?,
        sensor: p.text("sensor").map(str::to_string),
        user: p.text("user").map(str::to_string),
        assignee: p.text("assignee").map(str::to_string),
        q: p.text("q").map(str::to_string),
    };
    let sort = match p.text("sort") {
        None | Some("risk") => Sort::Risk,
        Some("time") => Sort::Time,
        Some("oldest") => Sort::Oldest,
        Some(other) => {
            return Err(BadParam(format!(
                "sort={other:?} is not one of risk, time, oldest"
            )));
        }
    };
    Ok((
        filter,
        sort,
        p.text("cursor").map(str::to_string),
        p.limit()?,
    ))
}

/// A page of alarms.
#[derive(Serialize, ToSchema)]
pub struct AlarmList {
    /// The alarms, in the requested order.
    items: Vec<AlarmSummary>,
    /// Where the next page starts (none after the last).
    next_cursor: Option<String>,
    /// How many alarms match in all.
    total: usize,
}

/// Lists alarms (their latest revisions, triage overlaid), filtered, sorted and paged.
#[utoipa::path(get, path = "/api/v1/alarms", tag = "alarms",
    params(ListParams),
    responses(
        (status = 200, description = "A page of alarms", body = AlarmList),
        (status = 400, description = "A parameter is invalid", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
    ))]
async fn list(State(console): State<Arc<Console>>, RawQuery(query): RawQuery) -> Response {
    let (filter, sort, cursor, limit) = match list_query(query.as_deref()) {
        Ok(parsed) => parsed,
        Err(e) => return e.response(),
    };
    match console
        .core
        .alarms
        .query(&filter, sort, cursor.as_deref(), limit)
    {
        Ok(page) => Json(AlarmList {
            items: page.items,
            next_cursor: page.next_cursor,
            total: page.total,
        })
        .into_response(),
        Err(e) => BadParam(e.to_string()).response(),
    }
}

/// The alarm id of a path, or the 400 answer.
#[allow(clippy::result_large_err)]
fn alarm_id(text: &str) -> Result<Uuid, Response> {
    text.parse()
        .map_err(|_| BadParam(format!("{text:?} is not an alarm id (a UUID)")).response())
}

fn no_such_alarm(id: Uuid) -> Response {
    problem(StatusCode::NOT_FOUND, &format!("no alarm has id {id}"))
}

/// The events of one evidence level.
#[derive(Serialize, ToSchema)]
pub struct EvidenceLevel {
    /// Directive level (1 = root).
    level: u8,
    /// Its events (event JSON with `log`), those still stored.
    #[schema(value_type = Vec<Object>)]
    events: Vec<Event>,
}

/// An alarm's detail.
#[derive(Serialize, ToSchema)]
pub struct AlarmDetail {
    /// The latest revision's summary with its `evidence`.
    #[schema(value_type = Object)]
    alarm: serde_json::Value,
    /// Every stored revision (alarm JSON), oldest first.
    #[schema(value_type = Vec<Object>)]
    revisions: Vec<Alarm>,
    /// The evidence events per level.
    evidence: Vec<EvidenceLevel>,
    /// Audit entries about this alarm, oldest first.
    history: Vec<AuditJson>,
    /// Other alarms of the same source address, newest first (at most 20).
    related: Vec<AlarmSummary>,
}

/// Most related alarms a detail lists.
const MAX_RELATED: usize = 20;

/// The stored revisions of alarm `summary` (oldest first) and its latest revision's evidence
/// events, read from the logs of `data_dir`.
fn read_stored(
    data_dir: &std::path::Path,
    summary: &AlarmSummary,
) -> anyhow::Result<(Vec<Alarm>, Vec<EvidenceLevel>)> {
    let alarms = Log::<Alarm>::open_read_only(&data_dir.join("alarms"))?;
    let by_directive = Query {
        plugin_id: Some(summary.directive_id),
        src_ip: Some(summary.src_ip),
        limit: usize::MAX,
        order: Order::OldestFirst,
        ..Query::default()
    };
    let mut revisions: Vec<Alarm> = alarms
        .search(&by_directive)?
        .into_iter()
        .filter(|a| a.id == summary.id)
        .collect();
    revisions.sort_by_key(|a| a.revision);
    let Some(latest) = revisions.last() else {
        return Ok((revisions, Vec::new()));
    };
    let wanted: HashSet<Uuid> = latest.event_ids().collect();
    let found = evidence_events(data_dir, latest, wanted)?;
    let evidence = latest
        .evidence
        .iter()
        .map(|level| EvidenceLevel {
            level: level.level,
            events: level
                .event_ids
                .iter()
                .filter_map(|id| found.get(id).cloned())
                .collect(),
        })
        .collect();
    Ok((revisions, evidence))
}

/// The events of `wanted` (ids), found through the event log's index by the alarm's source
/// and then destination address, and by a full scan for any still missing (an event of
/// another address, which directive rules allow).
fn evidence_events(
    data_dir: &std::path::Path,
    alarm: &Alarm,
    mut wanted: HashSet<Uuid>,
) -> anyhow::Result<std::collections::HashMap<Uuid, Event>> {
    let events = Log::<Event>::open_read_only(&data_dir.join("events"))?;
    let mut found = std::collections::HashMap::new();
    let mut keep = |event: Event, wanted: &mut HashSet<Uuid>| {
        if wanted.remove(&event.id) {
            found.insert(event.id, event);
        }
    };
    for query in [
        Query {
            src_ip: Some(alarm.src_ip),
            limit: usize::MAX,
            ..Query::default()
        },
        Query {
            dst_ip: Some(alarm.dst_ip),
            limit: usize::MAX,
            ..Query::default()
        },
    ] {
        if wanted.is_empty() {
            break;
        }
        for event in events.search(&query)? {
            keep(event, &mut wanted);
        }
    }
    if !wanted.is_empty() {
        events.scan_time_range(&Query::default(), |event| keep(event, &mut wanted))?;
    }
    Ok(found)
}

/// An alarm with every revision, its evidence events (with raw logs), its triage history and
/// related alarms.
#[utoipa::path(get, path = "/api/v1/alarms/{id}", tag = "alarms",
    params(("id" = Uuid, Path, description = "Alarm id")),
    responses(
        (status = 200, description = "The alarm's detail", body = AlarmDetail),
        (status = 400, description = "Not a UUID", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
        (status = 404, description = "No such alarm", body = openapi::Problem),
    ))]
async fn detail(State(console): State<Arc<Console>>, Path(id): Path<String>) -> Response {
    let id = match alarm_id(&id) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let Some(summary) = console.core.alarms.get(&id) else {
        return no_such_alarm(id);
    };
    let data_dir = console.core.config.data_dir.clone();
    let lookup = summary.clone();
    let stored = tokio::task::spawn_blocking(move || read_stored(&data_dir, &lookup)).await;
    let (revisions, evidence) = match stored {
        Ok(Ok(stored)) => stored,
        Ok(Err(e)) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot read the store: {e:#}"),
            );
        }
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let filter = AuditFilter {
        target: Some(id.to_string()),
        ..AuditFilter::default()
    };
    let history = match console.core.audit.list(filter, None, usize::MAX).await {
        Ok((mut entries, _)) => {
            entries.reverse();
            entries.into_iter().map(AuditJson::from).collect()
        }
        Err(e) => return e.into_response(),
    };
    let same_source = AlarmFilter {
        src: Some(ipnet::IpNet::from(summary.src_ip)),
        ..AlarmFilter::default()
    };
    let related = console
        .core
        .alarms
        .query(&same_source, Sort::Time, None, MAX_RELATED + 1)
        .map(|page| page.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.id != id)
        .take(MAX_RELATED)
        .collect();
    let mut alarm = serde_json::to_value(&summary).unwrap_or_default();
    if let Some(latest) = revisions.last() {
        alarm["evidence"] = serde_json::to_value(&latest.evidence).unwrap_or_default();
    }
    Json(AlarmDetail {
        alarm,
        revisions,
        evidence,
        history,
        related,
    })
    .into_response()
}

/// Most characters of a triage comment.
const MAX_COMMENT: usize = 4096;

/// What `POST /api/v1/alarms/{id}/triage` takes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageBody {
    /// `open`, `acknowledged` or `closed`.
    #[schema(value_type = String, example = "acknowledged")]
    status: TriageStatus,
    /// The analyst's comment.
    comment: Option<String>,
}

/// What `POST /api/v1/alarms/{id}/assign` takes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The user to assign it to; null to unassign.
    user: Option<String>,
}

/// A bulk action.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    /// Set `acknowledged`.
    Acknowledge,
    /// Set `closed`.
    Close,
    /// Set `open`.
    Reopen,
    /// Assign to `user` (null: unassign).
    Assign,
}

/// What `POST /api/v1/alarms/bulk` takes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// The alarms.
    ids: Vec<Uuid>,
    /// What to do to each.
    action: BulkAction,
    /// Comment of a triage action.
    comment: Option<String>,
    /// User of an assign action.
    user: Option<String>,
}

/// What a bulk action did.
#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    /// Alarms changed.
    updated: usize,
    /// Ids no alarm has.
    missing: Vec<Uuid>,
}

/// One change to an alarm, checked.
enum Change {
    Triage(TriageStatus, Option<String>),
    Assign(Option<String>),
}

impl Change {
    /// The change, or a 400 naming what is wrong (an unknown user, a comment too long).
    #[allow(clippy::result_large_err)]
    fn checked(self, console: &Console) -> Result<Change, Response> {
        match &self {
            Change::Triage(_, Some(comment)) if comment.chars().count() > MAX_COMMENT => {
                Err(BadParam(format!("comment is longer than {MAX_COMMENT} characters")).response())
            }
            Change::Assign(Some(user)) if console.users.accounts().get(user).is_none() => {
                Err(BadParam(format!("no user is named {user:?}")).response())
            }
            _ => Ok(self),
        }
    }

    fn entry(&self, who: &Principal, id: Uuid, peer: std::net::SocketAddr) -> NewEntry {
        let target = id.to_string();
        match self {
            Change::Triage(status, comment) => {
                let entry = NewEntry::new(&who.name, AuditAction::AlarmTriage, &target, Some(peer))
                    .with("status", status_name(*status));
                match comment {
                    Some(comment) => entry.with("comment", comment.clone()),
                    None => entry,
                }
            }
            Change::Assign(user) => {
                let entry = NewEntry::new(&who.name, AuditAction::AlarmAssign, &target, Some(peer));
                match user {
                    Some(user) => entry.with("user", user.clone()),
                    None => entry,
                }
            }
        }
    }
}

/// Applies `change` to alarm `id`, recorded durably in the audit log first; the alarm's new
/// summary, or none if no alarm has that id.
async fn apply(
    console: &Console,
    who: &Principal,
    peer: std::net::SocketAddr,
    id: Uuid,
    change: &Change,
) -> Result<Option<AlarmSummary>, audit::AuditFailed> {
    if console.core.alarms.get(&id).is_none() {
        return Ok(None);
    }
    audit::record(console, change.entry(who, id, peer)).await?;
    Ok(console.core.alarms.get(&id))
}

/// A state change on one alarm by an analyst (or admin).
#[allow(clippy::result_large_err)]
async fn change_one(
    console: &Console,
    who: &Principal,
    peer: std::net::SocketAddr,
    id: &str,
    change: Result<Change, Response>,
) -> Response {
    if let Err(refusal) = who.require(Role::Analyst) {
        return refusal;
    }
    let (id, change) = match (alarm_id(id), change.and_then(|c| c.checked(console))) {
        (Ok(id), Ok(change)) => (id, change),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    match apply(console, who, peer, id, &change).await {
        Ok(Some(summary)) => Json(summary).into_response(),
        Ok(None) => no_such_alarm(id),
        Err(e) => e.into_response(),
    }
}

/// Sets an alarm's triage status (analyst or admin).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/triage", tag = "alarms",
    params(("id" = Uuid, Path, description = "Alarm id")),
    request_body = TriageBody,
    responses(
        (status = 200, description = "The alarm, triaged", body = AlarmSummary),
        (status = 400, description = "Invalid body or id", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
        (status = 403, description = "Requires the analyst role, or a missing CSRF token", body = openapi::Problem),
        (status = 404, description = "No such alarm", body = openapi::Problem),
    ))]
async fn triage(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let change =
        json_body::<TriageBody>(&headers, &body).map(|b| Change::Triage(b.status, b.comment));
    change_one(&console, &who, peer, &id, change).await
}

/// Assigns an alarm to a user, or unassigns it (analyst or admin).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/assign", tag = "alarms",
    params(("id" = Uuid, Path, description = "Alarm id")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The alarm, assigned", body = AlarmSummary),
        (status = 400, description = "Invalid body or id, or no such user", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
        (status = 403, description = "Requires the analyst role, or a missing CSRF token", body = openapi::Problem),
        (status = 404, description = "No such alarm", body = openapi::Problem),
    ))]
async fn assign(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let change = json_body::<AssignBody>(&headers, &body).map(|b| Change::Assign(b.user));
    change_one(&console, &who, peer, &id, change).await
}

/// Most alarms one bulk action changes.
const MAX_BULK: usize = 1000;

/// Acknowledges, closes, reopens or assigns many alarms (analyst or admin).
#[utoipa::path(post, path = "/api/v1/alarms/bulk", tag = "alarms",
    request_body = BulkBody,
    responses(
        (status = 200, description = "What was changed", body = BulkResult),
        (status = 400, description = "Invalid body, or no such user", body = openapi::Problem),
        (status = 401, description = "Not logged in", body = openapi::Problem),
        (status = 403, description = "Requires the analyst role, or a missing CSRF token", body = openapi::Problem),
    ))]
async fn bulk(
    State(console): State<Arc<Console>>,
    ConnectInfo(tls::Peer(peer)): ConnectInfo<tls::Peer>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = who.require(Role::Analyst) {
        return refusal;
    }
    let body = match json_body::<BulkBody>(&headers, &body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    if body.ids.len() > MAX_BULK {
        return BadParam(format!("at most {MAX_BULK} ids per bulk action")).response();
    }
    let change = match body.action {
        BulkAction::Acknowledge => Change::Triage(TriageStatus::Acknowledged, body.comment),
        BulkAction::Close => Change::Triage(TriageStatus::Closed, body.comment),
        BulkAction::Reopen => Change::Triage(TriageStatus::Open, body.comment),
        BulkAction::Assign => Change::Assign(body.user),
    };
    let change = match change.checked(&console) {
        Ok(change) => change,
        Err(answer) => return answer,
    };
    let mut seen = HashSet::new();
    let (known, missing): (Vec<Uuid>, Vec<Uuid>) = body
        .ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .partition(|id| console.core.alarms.get(id).is_some());
    let entries = known
        .iter()
        .map(|id| change.entry(&who, *id, peer))
        .collect();
    if let Err(e) = audit::record_all(&console, entries).await {
        return e.into_response();
    }
    let result = BulkResult {
        updated: known.len(),
        missing,
    };
    Json(result).into_response()
}
