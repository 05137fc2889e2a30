//! `GET /api/v1/dashboard`: events per second over the last hour (per minute, from the event
//! log's index alone), alarms seen over the last 24 hours (per hour) and the directives with the
//! most of them (both from the alarm book), the top sources and destinations of the newest
//! events of the last 24 hours (at most [`TOP_SAMPLE`] of them), and the sensors.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigil_event::{Event, Timestamp};
use vigil_store::{Log, Query};

use super::alarm_book::AlarmBook;
use super::openapi::Problem;
use super::sensors::{SensorItem, sensors};
use super::{Console, problem};

/// Most events the top sources and destinations are counted over (the newest).
pub const TOP_SAMPLE: usize = 100_000;
/// Entries of each top list.
const TOP: usize = 10;
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;

/// The dashboard routes.
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new().routes(routes!(dashboard))
}

/// A value at a time: the start of its bucket.
#[derive(Debug, Serialize, ToSchema)]
struct Point {
    /// Start of the bucket (RFC 3339 UTC).
    #[schema(value_type = String, format = DateTime)]
    time: Timestamp,
    /// The bucket's value.
    value: f64,
}

/// A key and how often it was seen.
#[derive(Debug, Serialize, ToSchema)]
struct Count {
    /// What was counted.
    key: String,
    /// How often.
    count: u64,
}

/// A directive and how many alarms it raised.
#[derive(Debug, Serialize, ToSchema)]
struct DirectiveCount {
    /// The directive id.
    key: u32,
    /// Its name in its latest alarm.
    name: String,
    /// Its alarms seen in the last 24 hours.
    count: u64,
}

/// What the dashboard shows.
#[derive(Serialize, ToSchema)]
struct Dashboard {
    /// Events per second, per minute of the last hour, oldest first.
    events_per_second: Vec<Point>,
    /// Alarms (by their latest time seen) per hour of the last 24 hours, oldest first.
    alarms_over_time: Vec<Point>,
    /// Most frequent source addresses.
    top_sources: Vec<Count>,
    /// Most frequent destination addresses.
    top_destinations: Vec<Count>,
    /// Directives that raised the most alarms.
    top_directives: Vec<DirectiveCount>,
    /// Every known sensor.
    sensors: Vec<SensorItem>,
}

/// `n` buckets of `width` µs ending with the one holding `now`, counting `times` in them.
fn buckets(
    now: Timestamp,
    width: i64,
    n: i64,
    times: impl Iterator<Item = Timestamp>,
) -> Vec<(Timestamp, u64)> {
    let first = (now.as_micros().div_euclid(width) - (n - 1)) * width;
    let mut counts = vec![0u64; n as usize];
    for t in times {
        let slot = (t.as_micros() - first).div_euclid(width);
        if let Some(count) = usize::try_from(slot).ok().and_then(|s| counts.get_mut(s)) {
            *count += 1;
        }
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (Timestamp::from_micros(first + i as i64 * width), c))
        .collect()
}

/// The `TOP` most frequent keys, most frequent first, then by key.
fn top<K: Ord + Clone>(counts: HashMap<K, u64>) -> Vec<(K, u64)> {
    let mut all: Vec<(K, u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(TOP);
    all
}

fn counts(list: Vec<(IpAddr, u64)>) -> Vec<Count> {
    list.into_iter()
        .map(|(ip, count)| Count {
            key: ip.to_string(),
            count,
        })
        .collect()
}

fn build(data_dir: &Path, alarms: &AlarmBook, now: Timestamp) -> anyhow::Result<Dashboard> {
    let events = Log::<Event>::open_read_only(&data_dir.join("events"))?;
    let last = |width: i64| Query {
        from: Timestamp::from_micros(now.as_micros() - width),
        to: now,
        limit: TOP_SAMPLE,
        ..Query::default()
    };
    let per_minute = buckets(
        now,
        MINUTE,
        60,
        events.matching_times(&last(HOUR))?.into_iter(),
    );
    let events_per_second = per_minute
        .into_iter()
        .map(|(time, n)| Point {
            time,
            value: n as f64 / 60.0,
        })
        .collect();
    let (mut sources, mut destinations) = (HashMap::new(), HashMap::new());
    for event in events.search(&last(24 * HOUR))? {
        for (ip, counts) in [
            (event.src_ip, &mut sources),
            (event.dst_ip, &mut destinations),
        ] {
            if !ip.is_unspecified() {
                *counts.entry(ip).or_insert(0u64) += 1;
            }
        }
    }
    let hours = buckets(now, HOUR, 24, std::iter::empty());
    let first_hour = hours.first().map_or(now, |(time, _)| *time);
    let alarms_over_time = hours
        .iter()
        .zip(alarms.counts_over_time(first_hour, HOUR, hours.len()))
        .map(|((time, _), n)| Point {
            time: *time,
            value: n as f64,
        })
        .collect();
    let since = Timestamp::from_micros(now.as_micros() - 24 * HOUR);
    let top_directives = alarms
        .top_directives(since, TOP)
        .into_iter()
        .map(|d| DirectiveCount {
            key: d.directive_id,
            name: d.name,
            count: d.count,
        })
        .collect();
    Ok(Dashboard {
        events_per_second,
        alarms_over_time,
        top_sources: counts(top(sources)),
        top_destinations: counts(top(destinations)),
        top_directives,
        sensors: Vec::new(),
    })
}

/// The dashboard's figures.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "dashboard",
    responses(
        (status = 200, description = "The figures", body = Dashboard),
        (status = 401, description = "Not logged in", body = Problem),
    ))]
async fn dashboard(State(console): State<Arc<Console>>) -> Response {
    let dir = console.core.config.data_dir.clone();
    let now = Timestamp::now();
    let figures = tokio::task::spawn_blocking(move || {
        build(&dir, &console.core.alarms, now).map(|figures| Dashboard {
            sensors: sensors(&console),
            ..figures
        })
    });
    match figures.await {
        Ok(Ok(figures)) => Json(figures).into_response(),
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
