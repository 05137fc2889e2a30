//! The edge's Prometheus metrics: names, pre-registered handles per source, and what every
//! rejection is counted as.

use metrics::{
    Counter, Gauge, Histogram, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};

use crate::intake::IntakeCounts;

/// Why input was refused at a source (the `reason` label of `vigil_edge_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// An octet count that is not a number, zero or larger than the maximum message size.
    BadOctetCount,
    /// A message larger than the maximum message size.
    Oversized,
    /// A stream that ended inside an octet-counted frame.
    Truncated,
    /// A UDP datagram that arrived while the queue was full (UDP cannot push back).
    QueueFull,
    /// A connection beyond the source's `max_connections`.
    TooManyConnections,
    /// A TLS handshake that failed (no or bad client certificate, protocol error).
    TlsHandshake,
    /// A connection or file that could not be read.
    ReadError,
    /// A RELP frame that breaks the protocol (malformed, out of order, before `open`, an
    /// unsupported command); answered with a 500 where it has a transaction number.
    RelpProtocol,
}

impl Rejected {
    /// Every reason, in label order.
    pub const ALL: [Rejected; 8] = [
        Rejected::BadOctetCount,
        Rejected::Oversized,
        Rejected::Truncated,
        Rejected::QueueFull,
        Rejected::TooManyConnections,
        Rejected::TlsHandshake,
        Rejected::ReadError,
        Rejected::RelpProtocol,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejected::BadOctetCount => "bad_octet_count",
            Rejected::Oversized => "oversized",
            Rejected::Truncated => "truncated",
            Rejected::QueueFull => "queue_full",
            Rejected::TooManyConnections => "too_many_connections",
            Rejected::TlsHandshake => "tls_handshake",
            Rejected::ReadError => "read_error",
            Rejected::RelpProtocol => "relp_protocol",
        }
    }

    /// The reason of a framing error.
    pub fn of_frame_error(e: &vigil_syslog::FrameError) -> Rejected {
        match e {
            vigil_syslog::FrameError::BadOctetCount { .. } => Rejected::BadOctetCount,
            vigil_syslog::FrameError::Oversized { .. } => Rejected::Oversized,
            vigil_syslog::FrameError::Truncated { .. } => Rejected::Truncated,
        }
    }
}

/// The metrics of one source.
#[derive(Clone)]
pub struct SourceMetrics {
    /// `vigil_edge_received_total`: messages or lines read.
    pub received: Counter,
    parsed: Counter,
    unparsed: Counter,
    bad_match: Counter,
    non_utf8: Counter,
    /// `vigil_edge_connections`: open connections.
    pub connections: Gauge,
    /// `vigil_edge_file_rotations_total`.
    pub rotations: Counter,
    /// `vigil_edge_file_truncations_total`.
    pub truncations: Counter,
    /// `vigil_edge_lines_cut_total`: lines longer than the maximum, cut to it.
    pub lines_cut: Counter,
    /// `vigil_edge_relp_frames_total`: RELP frames received (and frame errors).
    pub relp_frames: Counter,
    /// `vigil_edge_relp_acked_total`: RELP frames answered 200.
    pub relp_acknowledged: Counter,
    /// `vigil_edge_relp_resent_total`: RELP lines recognised as resends of lines already
    /// written, answered 200 without being written again.
    pub relp_resent: Counter,
    rejected: Vec<(Rejected, Counter)>,
}

impl SourceMetrics {
    /// Registers the metrics of source `name` (every rejection reason starts at zero).
    pub fn register(name: &str) -> SourceMetrics {
        let source = name.to_string();
        let c = |metric: &'static str| counter!(metric, "source" => source.clone());
        SourceMetrics {
            received: c("vigil_edge_received_total"),
            parsed: c("vigil_edge_parsed_total"),
            unparsed: c("vigil_edge_unparsed_total"),
            bad_match: c("vigil_edge_bad_match_total"),
            non_utf8: c("vigil_edge_non_utf8_total"),
            connections: gauge!("vigil_edge_connections", "source" => source.clone()),
            rotations: c("vigil_edge_file_rotations_total"),
            truncations: c("vigil_edge_file_truncations_total"),
            lines_cut: c("vigil_edge_lines_cut_total"),
            relp_frames: c("vigil_edge_relp_frames_total"),
            relp_acknowledged: c("vigil_edge_relp_acked_total"),
            relp_resent: c("vigil_edge_relp_resent_total"),
            rejected: Rejected::ALL
                .iter()
                .map(|&r| {
                    let counter = counter!("vigil_edge_rejected_total", "source" => source.clone(), "reason" => r.as_str());
                    counter.increment(0);
                    (r, counter)
                })
                .collect(),
        }
    }

    /// Counts one rejection.
    pub fn reject(&self, reason: Rejected, n: u64) {
        if let Some((_, counter)) = self.rejected.iter().find(|(r, _)| *r == reason) {
            counter.increment(n);
        }
    }

    /// Adds the counts of a batch.
    pub fn count(&self, counts: &IntakeCounts) {
        self.received
            .increment(counts.parsed + counts.unparsed + counts.bad_match);
        self.parsed.increment(counts.parsed);
        self.unparsed.increment(counts.unparsed);
        self.bad_match.increment(counts.bad_match);
        self.non_utf8.increment(counts.non_utf8);
    }
}

/// The metrics of the pipeline and the output.
#[derive(Clone)]
pub struct EdgeMetrics {
    /// `vigil_edge_queue_events`: events waiting for the pipeline.
    pub queue_depth: Gauge,
    /// `vigil_edge_aggregated_total`: events counted into an aggregate instead of being sent.
    pub aggregated: Counter,
    /// `vigil_edge_directive_events_total`: directive events of edge correlation.
    pub directive_events: Counter,
    /// `vigil_edge_alarms_total`: alarm revisions of edge correlation.
    pub alarms: Counter,
    /// `vigil_edge_anonymized_total`: events pseudonymised before forwarding.
    pub anonymized: Counter,
    /// `vigil_edge_forwarded_total`: events written to the output.
    pub forwarded: Counter,
    /// `vigil_edge_forward_queue_events`: events waiting for the output.
    pub forward_depth: Gauge,
    /// `vigil_edge_forward_connected`: 1 while connected to the core.
    pub connected: Gauge,
    /// `vigil_edge_forward_reconnects_total`: connection attempts after the first.
    pub reconnects: Counter,
    /// `vigil_edge_forward_errors_total`: failed connections and writes (retried).
    pub forward_errors: Counter,
    /// `vigil_edge_store_errors_total`: failed writes of edge alarms (retried).
    pub store_errors: Counter,
    /// `vigil_edge_bus_spooled_events`: events in the spool not yet acknowledged by a core.
    pub bus_spooled: Gauge,
    /// `vigil_edge_bus_acked_total`: spooled events acknowledged by a core (each once, over
    /// whichever path first).
    pub bus_acked: Counter,
    /// `vigil_edge_bus_refused_total`: refusals (`Reject`) received from a core.
    pub bus_refused: Counter,
    /// `vigil_edge_spool_corruption_total`: damaged ranges of spool segments (quarantined and
    /// skipped; the records around them kept) and damaged spool state files (quarantined and
    /// rebuilt) found at start.
    pub spool_corruption: Counter,
    /// `vigil_edge_bus_ack_seconds`: from handing a batch to the spool to a core's
    /// acknowledgement that it is stored (for the oldest event of each acknowledged batch).
    pub bus_ack_seconds: Histogram,
    lost: Counter,
    lost_tally: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl EdgeMetrics {
    /// Registers every metric with its help text.
    pub fn register() -> EdgeMetrics {
        for (name, help) in [
            (
                "vigil_edge_received_total",
                "Messages or lines read, by source",
            ),
            (
                "vigil_edge_parsed_total",
                "Lines a plugin turned into an event, by source",
            ),
            (
                "vigil_edge_unparsed_total",
                "Lines no plugin matched, kept as unparsed events",
            ),
            (
                "vigil_edge_bad_match_total",
                "Lines a rule matched without a valid plugin_sid, kept as unparsed events",
            ),
            (
                "vigil_edge_non_utf8_total",
                "Messages with bytes that are not UTF-8 (replaced)",
            ),
            (
                "vigil_edge_rejected_total",
                "Input refused at a source, by reason",
            ),
            (
                "vigil_edge_file_rotations_total",
                "Rotations of followed files",
            ),
            (
                "vigil_edge_file_truncations_total",
                "Followed files truncated in place",
            ),
            (
                "vigil_edge_lines_cut_total",
                "File lines longer than the maximum, cut",
            ),
            (
                "vigil_edge_relp_frames_total",
                "RELP frames received (frame errors included), by source",
            ),
            (
                "vigil_edge_relp_acked_total",
                "RELP frames answered 200 (syslog lines only once written durably), by source",
            ),
            (
                "vigil_edge_relp_resent_total",
                "RELP lines recognised as resends of lines already written, acknowledged without writing them twice",
            ),
            (
                "vigil_edge_aggregated_total",
                "Events counted into an aggregate instead of being sent",
            ),
            (
                "vigil_edge_directive_events_total",
                "Directive events raised by edge correlation",
            ),
            (
                "vigil_edge_alarms_total",
                "Alarm revisions raised by edge correlation",
            ),
            (
                "vigil_edge_anonymized_total",
                "Events pseudonymised before forwarding",
            ),
            ("vigil_edge_forwarded_total", "Events written to the output"),
            (
                "vigil_edge_forward_reconnects_total",
                "Connection attempts to the core after the first",
            ),
            (
                "vigil_edge_forward_errors_total",
                "Failed connections and writes to the output",
            ),
            (
                "vigil_edge_store_errors_total",
                "Failed writes of edge alarms and directive events",
            ),
            (
                "vigil_edge_lost_total",
                "Events that could not be forwarded before shutdown",
            ),
            (
                "vigil_edge_bus_acked_total",
                "Events a core acknowledged as stored (bus output)",
            ),
            (
                "vigil_edge_spool_corruption_total",
                "Damaged ranges of spool segments (quarantined and skipped; the records around them kept) and damaged spool state files (quarantined and rebuilt) found at start",
            ),
            (
                "vigil_edge_state_corruption_total",
                "Damaged state files of the edge outside the spool found at start (quarantined; file positions: the followed files are read again from their beginning; edge correlation: rebuilt from the edge's store), by file",
            ),
            (
                "vigil_edge_bus_refused_total",
                "Refusals received from a core (bus output); the edge reconnects",
            ),
        ] {
            describe_counter!(name, help);
        }
        describe_gauge!(
            "vigil_edge_connections",
            "Open syslog connections, by source"
        );
        describe_gauge!("vigil_edge_queue_events", "Events waiting for the pipeline");
        describe_gauge!(
            "vigil_edge_forward_queue_events",
            "Events waiting for the output"
        );
        describe_gauge!(
            "vigil_edge_forward_connected",
            "Connections to cores (0 or 1; with the bus output, one per path up)"
        );
        describe_gauge!(
            "vigil_edge_bus_spooled_events",
            "Events in the spool not yet acknowledged by a core"
        );
        describe_histogram!(
            "vigil_edge_bus_ack_seconds",
            "From handing a batch to the spool to the core's acknowledgement that it is stored"
        );
        EdgeMetrics {
            queue_depth: gauge!("vigil_edge_queue_events"),
            aggregated: counter!("vigil_edge_aggregated_total"),
            directive_events: counter!("vigil_edge_directive_events_total"),
            alarms: counter!("vigil_edge_alarms_total"),
            anonymized: counter!("vigil_edge_anonymized_total"),
            forwarded: counter!("vigil_edge_forwarded_total"),
            forward_depth: gauge!("vigil_edge_forward_queue_events"),
            connected: gauge!("vigil_edge_forward_connected"),
            reconnects: counter!("vigil_edge_forward_reconnects_total"),
            forward_errors: counter!("vigil_edge_forward_errors_total"),
            store_errors: counter!("vigil_edge_store_errors_total"),
            bus_spooled: gauge!("vigil_edge_bus_spooled_events"),
            bus_acked: counter!("vigil_edge_bus_acked_total"),
            bus_refused: counter!("vigil_edge_bus_refused_total"),
            spool_corruption: counter!("vigil_edge_spool_corruption_total"),
            bus_ack_seconds: histogram!("vigil_edge_bus_ack_seconds"),
            lost: counter!("vigil_edge_lost_total"),
            lost_tally: Default::default(),
        }
    }

    /// Counts a damaged state file of the edge outside the spool, quarantined at start
    /// (`vigil_edge_state_corruption_total{file}`, `file` relative to the data directory).
    pub fn state_damaged(&self, file: &'static str) {
        counter!("vigil_edge_state_corruption_total", "file" => file).increment(1);
    }

    /// Counts `n` events that could not be forwarded (`vigil_edge_lost_total`).
    pub fn lose(&self, n: u64) {
        self.lost.increment(n);
        self.lost_tally
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Events counted as lost so far.
    pub fn lost_so_far(&self) -> u64 {
        self.lost_tally.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Serves `/metrics` and `/healthz` until `shutdown` (plain HTTP: keep it on loopback or an
/// admin network).
pub async fn serve(
    listener: tokio::net::TcpListener,
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || std::future::ready(prometheus.render())),
        )
        .route(
            "/healthz",
            axum::routing::get(|| std::future::ready("ok\n")),
        );
    tracing::info!(addr = %listener.local_addr()?, "metrics endpoint listening (/metrics, /healthz)");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
