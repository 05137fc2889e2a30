//! `GET /api/v1/stream`: Server-Sent Events of every new or revised alarm and every triage
//! change (`event: alarm`, an [`AlarmSummary`]), with `event: ping` every 15 s.
//!
//! Each client reads its own subscription of the alarm book's broadcast: a client that falls
//! more than the broadcast's buffer behind is disconnected (counted in
//! `vigil_console_stream_dropped_total`) and never slows the writer or other clients. Connected
//! clients are counted in the gauge `vigil_console_stream_clients`. The stream ends when the
//! login session or API token it was opened with no longer authenticates (logout, a disabled,
//! removed or changed account, a revoked token), checked before each event and every 15 s.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alarm_book::Change;
use super::alarm_json::AlarmSummary;
use super::auth::Credential;
use super::{Console, openapi};

/// How often an idle stream sends `event: ping`.
const PING: Duration = Duration::from_secs(15);

/// The stream route (behind the session check).
pub fn routes() -> OpenApiRouter<Arc<Console>> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// Counts a connected client while it lives.
struct Connected;

impl Connected {
    fn new() -> Connected {
        metrics::gauge!("vigil_console_stream_clients").increment(1.0);
        Connected
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        metrics::gauge!("vigil_console_stream_clients").decrement(1.0);
    }
}

/// Live alarm changes as Server-Sent Events (`event: alarm`, data: AlarmSummary JSON;
/// `event: ping` every 15 s).
#[utoipa::path(get, path = "/api/v1/stream", tag = "alarms",
    responses(
        (status = 200, description = "An endless text/event-stream of `alarm` events (AlarmSummary JSON) and `ping`s",
            content_type = "text/event-stream", body = AlarmSummary),
        (status = 401, description = "Not logged in", body = openapi::Problem),
    ))]
async fn stream(
    State(console): State<Arc<Console>>,
    Extension(credential): Extension<Credential>,
) -> Response {
    let changes = console.core.alarms.subscribe();
    let closing = console.closing.clone();
    let valid = move || credential.valid(&console);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events(changes, closing, valid)),
    )
        .into_response()
}

/// Most bytes of changes sent in one write.
const MAX_CHUNK: usize = 256 * 1024;

/// `change` as an SSE `alarm` event, appended to `chunk`.
fn push_event(chunk: &mut String, change: &Change) {
    debug_assert!(!change.json.contains('\n'), "SSE data is one line");
    chunk.push_str("event: alarm\ndata: ");
    chunk.push_str(&change.json);
    chunk.push_str("\n\n");
}

/// The SSE stream of `changes` until the client lags, the book closes, `closing` fires or
/// `valid` (asked before each write and every [`PING`]) says the client's credential ended.
/// The changes waiting when the client is written to go in one write (at most [`MAX_CHUNK`]
/// bytes): a burst costs one TLS record, not one per alarm; after [`PING`] without a change,
/// `event: ping`.
fn events(
    changes: tokio::sync::broadcast::Receiver<Arc<Change>>,
    closing: tokio_util::sync::CancellationToken,
    valid: impl Fn() -> bool + Send + 'static,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    stream::unfold(
        (changes, closing, valid, Connected::new()),
        |(mut changes, closing, valid, connected)| async move {
            let next = tokio::select! {
                next = changes.recv() => next,
                () = closing.cancelled() => return None,
                () = tokio::time::sleep(PING) => {
                    if !valid() {
                        return None;
                    }
                    let ping = Bytes::from_static(b"event: ping\ndata: \n\n");
                    return Some((Ok(ping), (changes, closing, valid, connected)));
                }
            };
            if !valid() {
                return None;
            }
            let mut chunk = String::new();
            let mut next = next;
            loop {
                match next {
                    Ok(change) => push_event(&mut chunk, &change),
                    Err(RecvError::Lagged(_)) => {
                        metrics::counter!("vigil_console_stream_dropped_total").increment(1);
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                }
                if chunk.len() >= MAX_CHUNK {
                    break;
                }
                next = match changes.try_recv() {
                    Ok(change) => Ok(change),
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                    Err(TryRecvError::Empty) => break,
                };
            }
            Some((Ok(Bytes::from(chunk)), (changes, closing, valid, connected)))
        },
    )
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio_util::sync::CancellationToken;
    use vigil_event::{Alarm, Timestamp, Uuid};

    use super::*;
    use crate::console::alarm_book::AlarmBook;

    fn alarms(count: u128) -> Vec<Alarm> {
        (0..count)
            .map(|n| Alarm::new(Uuid::from_u128(n), "a".into(), Timestamp::from_secs(1)))
            .collect()
    }

    #[tokio::test]
    async fn a_client_gets_each_change_until_closing_and_a_lagging_one_is_dropped() {
        let book = AlarmBook::default();
        let closing = CancellationToken::new();
        let mut stream = Box::pin(events(book.subscribe(), closing.clone(), || true));
        book.apply(alarms(3));
        // The three changes waiting go in one write, as three events.
        let chunk = stream.next().await.unwrap().unwrap();
        let text = String::from_utf8(chunk.to_vec()).unwrap();
        assert_eq!(text.matches("event: alarm\ndata: {").count(), 3, "{text}");
        assert!(text.ends_with("\n\n"));
        book.apply(alarms(1));
        let one = stream.next().await.unwrap().unwrap();
        assert_eq!(one.windows(12).filter(|w| w == b"event: alarm").count(), 1);
        closing.cancel();
        assert!(stream.next().await.is_none());

        let lagging = events(book.subscribe(), CancellationToken::new(), || true);
        book.apply(alarms(1100));
        assert_eq!(lagging.collect::<Vec<_>>().await.len(), 0);

        // A credential that ended ends the stream at the next change.
        let ended = events(book.subscribe(), CancellationToken::new(), || false);
        book.apply(alarms(1));
        assert_eq!(ended.collect::<Vec<_>>().await.len(), 0);
    }
}
