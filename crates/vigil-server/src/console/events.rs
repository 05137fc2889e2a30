//! `GET /api/v1/events` and `GET /api/v1/events/{id}`: the stored events, read from the event
//! log of the data directory read-only (as `vigil search` reads it), off the async threads.
//!
//! A page's cursor is the place of its last record in the result order: its time and its record
//! number, so pages stay stable while the writer appends. The `text` filter (a substring of the
//! raw log, any case) is not indexed: the indexed search is widened until the page is full, at
//! most [`MAX_SCAN`] records a page; a page cut there still gives a cursor to go on from.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_event::{Event, Timestamp, Uuid};
use vigil_store::{Log, Order, Query};

use super::input::{self, Page, bad_request};
use super::openapi::Problem;
use super::{Console, problem};

/// Most records one page reads from the store when `text` filters them.
pub const MAX_SCAN: usize = 100_000;

/// The event routes.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(one_event))
}

/// An event as stored (docs/formats.md); `log` is the raw log line. The OpenAPI schema of
/// [`Event`] (whose crate does not depend on utoipa), never built: handlers answer `Event`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EventJson {
    /// Event id.
    id: Uuid,
    /// `detector` or `monitor`.
    kind: String,
    /// Event time (RFC 3339 UTC).
    #[schema(format = DateTime)]
    time: String,
    /// OSSIM data source id.
    plugin_id: u32,
    /// Event type within the plugin.
    plugin_sid: u32,
    /// Source address.
    src_ip: String,
    /// Source port (0 = none).
    src_port: u16,
    /// Destination address.
    dst_ip: String,
    /// Destination port (0 = none).
    dst_port: u16,
    /// Priority 0-5.
    priority: Option<u8>,
    /// Reliability 0-10.
    reliability: Option<u8>,
    /// Risk to the source, 0-10.
    risk_c: Option<u8>,
    /// Risk to the destination, 0-10.
    risk_a: Option<u8>,
    /// User name in the event.
    username: Option<String>,
    /// The raw log line.
    log: Option<String>,
    /// Where the event came from: `sensor`, `transport`, `received_at`, clocks.
    #[schema(value_type = Object)]
    provenance: (),
}

/// The filters of `GET /api/v1/events`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventFilter {
    /// Earliest event time, inclusive (RFC 3339 or epoch seconds).
    from: Option<String>,
    /// Latest event time, inclusive (RFC 3339 or epoch seconds).
    to: Option<String>,
    /// Source address.
    src_ip: Option<String>,
    /// Destination address.
    dst_ip: Option<String>,
    /// Plugin id.
    #[param(value_type = Option<u32>)]
    plugin_id: Option<String>,
    /// Plugin sid.
    #[param(value_type = Option<u32>)]
    plugin_sid: Option<String>,
    /// Sensor name.
    sensor: Option<String>,
    /// A substring of the raw log, any case.
    text: Option<String>,
    /// `newest` (default) or `oldest` first.
    order: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<usize>)]
    limit: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
}

/// A checked search: the store query, the text filter and where the page starts.
struct Search {
    query: Query,
    text: Option<String>,
    after: Option<Place>,
    limit: usize,
}

/// A record's place in a result: its time and record number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Place(Timestamp, u64);

impl Place {
    fn cursor(self) -> String {
        format!("{}.{}", self.0.as_micros(), self.1)
    }

    fn parse(text: &str) -> Option<Place> {
        let (micros, number) = text.split_once('.')?;
        Some(Place(
            Timestamp::from_micros(micros.parse().ok()?),
            number.parse().ok()?,
        ))
    }
}

#[allow(clippy::result_large_err)]
fn ip(name: &str, given: Option<&str>) -> Result<Option<IpAddr>, Response> {
    given
        .map(|text| {
            text.trim()
                .parse::<IpAddr>()
                .map(vigil_event::canonical_ip)
                .map_err(|_| bad_request(&format!("invalid {name} {text:?}: not an IP address")))
        })
        .transpose()
}

impl EventFilter {
    #[allow(clippy::result_large_err)]
    fn check(self) -> Result<Search, Response> {
        let order = match self.order.as_deref() {
            None | Some("newest") => Order::NewestFirst,
            Some("oldest") => Order::OldestFirst,
            Some(other) => {
                return Err(bad_request(&format!(
                    "invalid order {other:?}: give newest or oldest"
                )));
            }
        };
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => Some(Place::parse(text).ok_or_else(|| {
                bad_request(&format!(
                    "invalid cursor {text:?}: give a next_cursor of this API"
                ))
            })?),
        };
        let mut query = Query {
            from: input::time("from", self.from.as_deref(), Timestamp::MIN)?,
            to: input::time("to", self.to.as_deref(), Timestamp::MAX)?,
            src_ip: ip("src_ip", self.src_ip.as_deref())?,
            dst_ip: ip("dst_ip", self.dst_ip.as_deref())?,
            plugin_id: input::number("plugin_id", self.plugin_id.as_deref())?,
            plugin_sid: input::number("plugin_sid", self.plugin_sid.as_deref())?,
            sensor: self.sensor,
            limit: 0,
            order,
        };
        if query.from > query.to {
            return Err(bad_request("invalid from: it is after to"));
        }
        // The page starts at the cursor's time: narrow the range to it.
        match (after, order) {
            (Some(Place(time, _)), Order::NewestFirst) => query.to = query.to.min(time),
            (Some(Place(time, _)), Order::OldestFirst) => query.from = query.from.max(time),
            (None, _) => {}
        }
        Ok(Search {
            query,
            text: self.text.map(|t| t.to_lowercase()),
            after,
            limit: input::limit(input::number("limit", self.limit.as_deref())?)?,
        })
    }
}

/// The event log of `data_dir`, read-only.
fn open(data_dir: &Path) -> anyhow::Result<Log<Event>> {
    Ok(Log::open_read_only(&data_dir.join("events"))?)
}

impl Search {
    /// Whether the record at `place` comes after the cursor, in the result's order.
    fn past_cursor(&self, place: Place) -> bool {
        match (self.after, self.query.order) {
            (None, _) => true,
            (Some(after), Order::NewestFirst) => place < after,
            (Some(after), Order::OldestFirst) => place > after,
        }
    }

    fn matches(&self, event: &Event) -> bool {
        self.text.as_deref().is_none_or(|text| {
            event
                .log
                .as_deref()
                .is_some_and(|log| log.to_lowercase().contains(text))
        })
    }

    /// One page of the result.
    fn run(mut self, data_dir: &Path) -> anyhow::Result<Page<Event>> {
        let log = open(data_dir)?;
        let mut fetch = self.limit + 1;
        loop {
            self.query.limit = fetch;
            let hits = log.search_numbered(&self.query)?;
            let exhausted = hits.len() < fetch;
            let mut items = Vec::new();
            let mut last_read = None;
            for (number, event) in hits {
                let place = Place(event.time, number);
                if !self.past_cursor(place) {
                    continue;
                }
                last_read = Some(place);
                if self.matches(&event) {
                    if items.len() == self.limit {
                        return Ok(Page {
                            next_cursor: items.last().map(|(p, _): &(Place, Event)| p.cursor()),
                            items: items.into_iter().map(|(_, e)| e).collect(),
                        });
                    }
                    items.push((place, event));
                }
            }
            if exhausted || fetch >= MAX_SCAN {
                // Cut at the scan limit: go on from the last record read.
                let next_cursor = (!exhausted).then(|| last_read.map(Place::cursor)).flatten();
                return Ok(Page {
                    items: items.into_iter().map(|(_, e)| e).collect(),
                    next_cursor,
                });
            }
            fetch = (fetch * 4).min(MAX_SCAN);
        }
    }
}

/// Searches the stored events, newest first unless `order=oldest`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventFilter),
    responses(
        (status = 200, description = "A page of events", body = Page<EventJson>),
        (status = 400, description = "A filter is invalid (the detail names it)", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
    ))]
async fn list_events(State(console): State<Arc<Console>>, uri: Uri) -> Response {
    let search = match input::query::<EventFilter>(&uri).and_then(EventFilter::check) {
        Ok(search) => search,
        Err(refusal) => return refusal,
    };
    let dir = console.core.config.data_dir.clone();
    match tokio::task::spawn_blocking(move || search.run(&dir)).await {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The stored event with this id.
pub fn find(data_dir: &Path, id: Uuid) -> anyhow::Result<Option<Event>> {
    let log = open(data_dir)?;
    let scan = |range: &Query| -> anyhow::Result<Option<Event>> {
        let mut found = None;
        log.scan_time_range(range, |event| {
            if found.is_none() && event.id == id {
                found = Some(event);
            }
        })?;
        Ok(found)
    };
    // An id assigned at intake is a UUIDv7: its time is when the core received the event,
    // near its event time, so that day is read first.
    if let Some((secs, _)) = id.get_timestamp().map(|t| t.to_unix()) {
        let at = Timestamp::from_secs(i64::try_from(secs).unwrap_or(i64::MAX));
        let near = Query {
            from: Timestamp::from_micros(at.as_micros().saturating_sub(DAY_MICROS)),
            to: Timestamp::from_micros(at.as_micros().saturating_add(DAY_MICROS)),
            ..Query::default()
        };
        if let Some(event) = scan(&near)? {
            return Ok(Some(event));
        }
    }
    scan(&Query::default())
}

/// A day in microseconds.
const DAY_MICROS: i64 = 86_400_000_000;

/// One stored event, with its raw log.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    responses(
        (status = 200, description = "The event", body = EventJson),
        (status = 400, description = "Not a UUID", body = Problem),
        (status = 401, description = "Not logged in", body = Problem),
        (status = 404, description = "No stored event has this id", body = Problem),
    ))]
async fn one_event(State(console): State<Arc<Console>>, UrlPath(id): UrlPath<String>) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return bad_request(&format!("invalid event id {id:?}: not a UUID"));
    };
    let dir = console.core.config.data_dir.clone();
    match tokio::task::spawn_blocking(move || find(&dir, id)).await {
        Ok(Ok(Some(event))) => Json(event).into_response(),
        Ok(Ok(None)) => problem(
            StatusCode::NOT_FOUND,
            &format!("no stored event has id {id}"),
        ),
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
