//! `GET /api/v1/sensors`: the sensors the core knows of. Bus sensors from the sequence book (what is
//! stored of each, and its gaps), the bus (when each was last heard, silence, clock offsets),
//! the core CA's index (certificate expiry) and the event log's index (the rate of the last
//! minute); legacy agent sensors from what their sessions sent in this run. What the core does
//! not know is null.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_event::Timestamp;

use super::input::Page;
use super::openapi::Problem;
use super::{Console, problem};

/// The sensor routes.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new().routes(routes!(list_sensors))
}

/// One sensor, as the core knows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SensorItem {
    /// The sensor's name (its certificate's name).
    pub name: String,
    /// When the core last heard from it in this run.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<Timestamp>,
    /// Events per second stored from it over the last minute of event time.
    pub events_per_second: Option<f64>,
    /// Bus: sequence numbers stored from it (its current spool epoch); agent: events it sent
    /// in this run of the core.
    pub events_total: Option<u64>,
    /// Sequence numbers missing below its highest stored one.
    pub sequence_gaps: Option<u64>,
    /// How far its clock is behind the core's (negative: ahead), seconds.
    pub clock_skew_secs: Option<f64>,
    /// When its live certificate expires.
    pub certificate_expires: Option<String>,
    /// A silent-sensor alarm is raised for it.
    pub silent: Option<bool>,
    /// How it sends: `bus` or `ossim_agent`.
    pub transport: String,
}

/// The live sensor certificates' expiry, by name, from the CA's `index.json` (none if the CA
/// has no index).
fn certificate_expiry(ca_dir: &Path) -> HashMap<String, String> {
    #[derive(Deserialize)]
    struct Index {
        certs: Vec<vigil_ca::IssuedCert>,
    }
    let Ok(bytes) = std::fs::read(ca_dir.join("index.json")) else {
        return HashMap::new();
    };
    let Ok(index) = serde_json::from_slice::<Index>(&bytes) else {
        tracing::warn!(dir = %ca_dir.display(), "the CA's index.json does not parse; certificate expiry unknown");
        return HashMap::new();
    };
    index
        .certs
        .into_iter()
        .filter(|c| c.role == vigil_ca::Role::Sensor && c.revoked_at.is_none())
        .map(|c| (c.name, c.not_after))
        .collect()
}

/// Every sensor the core knows of, by name.
pub fn sensors(console: &Console) -> Vec<SensorItem> {
    let mut items: BTreeMap<String, SensorItem> = BTreeMap::new();
    let blank = |name: &str| SensorItem {
        name: name.to_string(),
        last_seen: None,
        events_per_second: None,
        events_total: None,
        sequence_gaps: None,
        clock_skew_secs: None,
        certificate_expires: None,
        silent: None,
        transport: "bus".into(),
    };
    {
        let book = console.core.book.lock().unwrap_or_else(|p| p.into_inner());
        for (name, stored) in book.iter() {
            let item = items.entry(name.to_string()).or_insert_with(|| blank(name));
            let ranges = stored.ranges();
            item.events_total = Some(ranges.iter().map(|(s, e)| e - s + 1).sum());
            item.sequence_gaps = Some(stored.gaps().iter().map(|g| g.len()).sum());
        }
    }
    if let Some(bus) = &console.core.bus {
        for heard in bus.sensors_heard() {
            let item = items
                .entry(heard.name.clone())
                .or_insert_with(|| blank(&heard.name));
            item.last_seen = Some(heard.last_seen);
            item.silent = Some(heard.silent);
        }
        for (name, offset) in bus.clock.edge_offsets() {
            if let Some(item) = items.get_mut(&name) {
                item.clock_skew_secs = Some(offset as f64 / 1e6);
            }
        }
        let config = &console.core.config;
        let ca_dir = config
            .bus
            .ca_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("ca"));
        for (name, expires) in certificate_expiry(&ca_dir) {
            if let Some(item) = items.get_mut(&name) {
                item.certificate_expires = Some(expires);
            }
        }
    }
    for (name, seen) in console.core.agents.list() {
        // A name both an agent and an edge use is shown as the edge (its numbers are known).
        items.entry(name.clone()).or_insert_with(|| SensorItem {
            last_seen: Some(seen.last_seen),
            events_total: Some(seen.events),
            transport: "ossim_agent".into(),
            ..blank(&name)
        });
    }
    let events = vigil_store::Log::<vigil_event::Event>::open_read_only(
        &console.core.config.data_dir.join("events"),
    );
    match events {
        Ok(events) => {
            let now = Timestamp::now();
            for item in items.values_mut() {
                let last_minute = vigil_store::Query {
                    from: now.saturating_sub_micros(60_000_000),
                    to: now,
                    sensor: Some(item.name.clone()),
                    ..vigil_store::Query::default()
                };
                item.events_per_second = events
                    .matching_times(&last_minute)
                    .ok()
                    .map(|times| times.len() as f64 / 60.0);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot open the event log; sensor rates unknown"),
    }
    items.into_values().collect()
}

/// The sensors the core knows of, by name.
#[utoipa::path(get, path = "/api/v1/sensors", tag = "sensors",
    responses(
        (status = 200, description = "Every known sensor", body = Page<SensorItem>),
        (status = 401, description = "Not logged in", body = Problem),
    ))]
async fn list_sensors(State(console): State<Arc<Console>>) -> Response {
    match tokio::task::spawn_blocking(move || sensors(&console)).await {
        Ok(items) => Json(Page {
            items,
            next_cursor: None,
        })
        .into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
