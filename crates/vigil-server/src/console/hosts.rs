//! `GET /api/v1/hosts` and `/hosts/{ip}`: the hosts with compromise or attack levels (as the
//! store writer publishes them, [`crate::host_levels`]), their asset value (from the asset
//! configuration correlation uses), inventory (from the host inventory, when configured) and the
//! alarms involving them (from the alarm log).

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_inventory::{Assets, HostProfile};

use super::alarm_json::AlarmSummary;
use super::input::{self, Page, bad_request};
use super::openapi::Problem;
use super::{Console, problem};
use crate::host_levels::LevelPoint;

/// Most alarms listed for one host.
const MAX_ALARMS: usize = 50;

/// The host routes.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new()
        .routes(routes!(list_hosts))
        .routes(routes!(one_host))
}

/// A host in the list.
#[derive(Serialize, ToSchema)]
struct HostItem {
    /// Its address.
    ip: String,
    /// Its asset value 0-5.
    asset: u8,
    /// Compromise level (as of its latest event).
    compromise: u32,
    /// Attack level (as of its latest event).
    attack: u32,
    /// Alarms whose source or destination it is.
    alarms: usize,
}

/// One host in detail.
#[derive(Serialize, ToSchema)]
struct HostDetail {
    /// Its address.
    ip: String,
    /// Its asset value 0-5.
    asset: u8,
    /// Compromise level (as of its latest event).
    compromise: u32,
    /// Attack level (as of its latest event).
    attack: u32,
    /// Its levels over time, oldest first.
    levels: Vec<LevelPoint>,
    /// What the host inventory knows of it (`os`, `services`, `vulnerabilities`); null when
    /// nothing.
    #[schema(value_type = Option<Object>)]
    inventory: Option<Value>,
    /// Alarms whose source or destination it is, newest first (at most 50), as the alarm list
    /// shows them.
    alarms: Vec<AlarmSummary>,
}

/// Pagination of `GET /api/v1/hosts`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HostPage {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<usize>)]
    limit: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
}

/// The assets correlation uses (the defaults when none are configured).
fn assets(console: &Console) -> anyhow::Result<Assets> {
    match &console.core.config.correlation.assets {
        Some(path) => vigil_analysis::correlation::load_assets(path),
        None => Ok(Assets::default()),
    }
}

fn inventory(profile: &HostProfile) -> Value {
    serde_json::json!({
        "os": profile.os(),
        "services": profile.services().iter().map(|s| serde_json::json!({
            "port": s.port,
            "protocol": s.protocol,
            "name": s.name,
            "banner": s.banner,
        })).collect::<Vec<_>>(),
        "vulnerabilities": profile.vulnerabilities().iter().map(|v| serde_json::json!({
            "plugin_id": v.plugin_id,
            "sid": v.sid,
            "reliability": v.reliability,
        })).collect::<Vec<_>>(),
    })
}

fn failed(e: impl std::fmt::Display) -> Response {
    problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}"))
}

/// The hosts with levels, highest levels first.
fn list(console: &Console, limit: usize, from: usize) -> anyhow::Result<Page<HostItem>> {
    let assets = assets(console)?;
    let counts = console.core.alarms.counts_by_host();
    let mut hosts = console.core.host_levels.latest();
    hosts.sort_by(|(a, x), (b, y)| {
        (y.compromise + y.attack)
            .cmp(&(x.compromise + x.attack))
            .then(a.cmp(b))
    });
    let more = hosts.len() > from + limit;
    let items = hosts
        .into_iter()
        .skip(from)
        .take(limit)
        .map(|(ip, levels)| HostItem {
            ip: ip.to_string(),
            asset: assets.asset_value(ip),
            compromise: levels.compromise,
            attack: levels.attack,
            alarms: counts.get(&ip).copied().unwrap_or(0),
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: more.then(|| (from + limit).to_string()),
    })
}

/// The hosts with compromise or attack levels, highest first.
#[utoipa::path(get, path = "/api/v1/hosts", tag = "hosts",
    params(HostPage),
    responses(
        (status = 200, description = "A page of hosts", body = Page<HostItem>),
        (status = 400, description = "Invalid limit or cursor", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
    ))]
async fn list_hosts(State(console): State<Arc<Console>>, uri: Uri) -> Response {
    let page = match input::query::<HostPage>(&uri) {
        Ok(page) => page,
        Err(refusal) => return refusal,
    };
    let limit = match input::number("limit", page.limit.as_deref()).and_then(input::limit) {
        Ok(limit) => limit,
        Err(refusal) => return refusal,
    };
    let from = match input::number::<usize>("cursor", page.cursor.as_deref()) {
        Ok(from) => from.unwrap_or(0),
        Err(refusal) => return refusal,
    };
    match tokio::task::spawn_blocking(move || list(&console, limit, from)).await {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

fn detail(console: &Console, ip: IpAddr) -> anyhow::Result<HostDetail> {
    let levels = console.core.host_levels.history(ip);
    let latest = levels.last().copied();
    let config = &console.core.config;
    let inventory = match &config.correlation.inventory {
        Some(path) => vigil_inventory::Inventory::load_path(path)
            .map_err(|e| anyhow::anyhow!("inventory: {e}"))?
            .host(ip)
            .map(inventory),
        None => None,
    };
    let alarms = console.core.alarms.involving(ip, MAX_ALARMS);
    Ok(HostDetail {
        ip: ip.to_string(),
        asset: assets(console)?.asset_value(ip),
        compromise: latest.map_or(0, |l| l.compromise),
        attack: latest.map_or(0, |l| l.attack),
        levels,
        inventory,
        alarms,
    })
}

/// One host: asset value, levels over time, inventory and alarms.
#[utoipa::path(get, path = "/api/v1/hosts/{ip}", tag = "hosts",
    params(("ip" = String, Path, description = "The host's address")),
    responses(
        (status = 200, description = "The host", body = HostDetail),
        (status = 400, description = "Not an IP address", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
    ))]
async fn one_host(State(console): State<Arc<Console>>, UrlPath(ip): UrlPath<String>) -> Response {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return bad_request(&format!("invalid host {ip:?}: not an IP address"));
    };
    let ip = vigil_event::canonical_ip(ip);
    match tokio::task::spawn_blocking(move || detail(&console, ip)).await {
        Ok(Ok(host)) => Json(host).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}
