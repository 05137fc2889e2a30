//! Prometheus metrics: names, pre-registered handles, and the `/metrics` HTTP endpoint.

use metrics::{Counter, Gauge, counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use vigil_agent_proto::RejectReason;

use crate::bus::reading::Stage;

/// Handles to every metric the hot paths touch, so they never look a metric up by name.
#[derive(Clone)]
pub struct Metrics {
    /// `vigil_events_received_total`: event lines parsed into events.
    pub received: Counter,
    /// `vigil_events_stored_total`: events durably stored (fsynced).
    pub stored: Counter,
    /// `vigil_events_unknown_sid_total`: events whose sid no table knows (counted by the analyzer).
    pub unknown_sid: Counter,
    /// `vigil_events_time_out_of_bounds_total`: events whose time correlation found out of
    /// bounds (stored, marked, alarmed; they move no clock).
    pub time_out_of_bounds: Counter,
    /// `vigil_intake_queue_events`: events accepted but not yet stored.
    pub queue_depth: Gauge,
    /// `vigil_agent_connections`: open agent sessions.
    pub connections: Gauge,
    /// `vigil_agent_connections_total`: agent sessions accepted.
    pub connections_total: Counter,
    /// `vigil_agent_connections_refused_total`: connections closed because of the session limit.
    pub connections_refused: Counter,
    /// `vigil_agent_sessions_timed_out_total{stage="line"}`: agent sessions closed for a line
    /// not completed within `agent.line_timeout`.
    pub agent_line_timed_out: Counter,
    /// `vigil_agent_sessions_timed_out_total{stage="idle"}`: agent sessions closed after
    /// `agent.idle_timeout` without a byte.
    pub agent_idle_timed_out: Counter,
    /// `vigil_sensors_first_seen_total`: sensors admitted for the first time by policy.
    pub sensors_first_seen: Counter,
    /// `vigil_events_not_stored_total`: events a policy told not to store (and that raised nothing).
    pub not_stored: Counter,
    /// `vigil_directive_events_total`: directive events (plugin 1505) produced by correlation.
    pub directive_events: Counter,
    /// `vigil_alarms_total`: alarm revisions raised.
    pub alarms: Counter,
    /// `vigil_backlogs`: live backlogs.
    pub backlogs: Gauge,
    /// `vigil_backlogs_evicted_total`: backlogs evicted by the per-directive cap.
    pub backlogs_evicted: Counter,
    /// `vigil_events_lost_total`: events that could not be stored before shutdown (should stay 0).
    pub lost: Counter,
    /// `vigil_store_errors_total`: failed store writes (retried; nothing is dropped).
    pub store_errors: Counter,
    /// `vigil_store_records`: events held by the store.
    pub store_records: Gauge,
    /// `vigil_store_bytes`: bytes of event segments on disk.
    pub store_bytes: Gauge,
    /// `vigil_store_retention_deleted_total`: events deleted by retention.
    pub retention_deleted: Counter,
    /// `vigil_store_retention_refused_total`: retention passes refused for exceeding
    /// `store.retention_max_share`.
    pub retention_refused: Counter,
    /// `vigil_store_retention_passes_total`: retention passes run.
    pub retention_passes: Counter,
    /// `vigil_core_clock_alarms_total`: core clock alarms raised.
    pub clock_alarms: Counter,
    /// `vigil_store_corruption_total`: damaged segment ranges, indexes and state files found
    /// at start.
    pub store_corruption: Counter,
    /// `vigil_bus_keys_in_clear`: private key files of the bus identity stored in clear.
    pub keys_in_clear: Gauge,
    rejected: Vec<(RejectReason, Counter)>,
    /// `vigil_bus_events_received_total`: events in verified bus batches.
    pub bus_received: Counter,
    /// `vigil_bus_batches_acknowledged_total`: bus batches acknowledged once durable.
    pub bus_acked: Counter,
    /// `vigil_bus_duplicates_total`: bus events already stored (resent, or over another path).
    pub bus_duplicates: Counter,
    /// `vigil_bus_connections`: open bus sessions.
    pub bus_connections: Gauge,
    /// `vigil_bus_connections_refused_total`: connections closed at the bus session limit.
    pub bus_connections_refused: Counter,
    /// `vigil_bus_handshakes_refused_total`: TLS handshakes refused (no valid certificate...).
    pub bus_handshakes_refused: Counter,
    /// `vigil_bus_alarms_suppressed_total`: bus incidents counted into an alarm of the same
    /// kind and sensor or peer raised within the last minute, instead of raising another.
    pub bus_alarms_suppressed: Counter,
    /// `vigil_bus_commands_total`: commands sent to edges.
    pub bus_commands: Counter,
    /// `vigil_bus_sessions_revoked_total`: open bus sessions ended because the CRL revoked
    /// their certificate.
    pub bus_sessions_revoked: Counter,
    /// `vigil_bus_crl_reloads_total{outcome="applied"}`: changed CRLs put in force.
    pub bus_crl_applied: Counter,
    /// `vigil_bus_crl_reloads_total{outcome="failed"}`: changed CRL files that could not be
    /// read or parsed (the last good CRL stays in force).
    pub bus_crl_failed: Counter,
    /// `vigil_reloads_total{outcome="applied"}`: reloads of the correlation rules swapped in.
    pub reloads_applied: Counter,
    /// `vigil_reloads_total{outcome="refused"}`: reloads refused (the running rules stay).
    pub reloads_refused: Counter,
    /// `vigil_bus_intake_memory_bytes`: intake memory reserved by bus sessions' frames.
    pub bus_intake_reserved: Gauge,
    bus_rejected: Vec<(vigil_bus::RejectReason, Counter)>,
    bus_timed_out: Vec<(Stage, Counter)>,
    admin_refused: Vec<(&'static str, Counter)>,
    bus_alerts: Vec<(&'static str, Counter)>,
}

/// Why the admin endpoint refused a request, by metric label.
pub const ADMIN_REFUSAL_REASONS: [&str; 4] =
    ["missing_token", "bad_token", "cross_origin", "content_type"];

/// Kinds of bus alarms, by metric label.
pub const BUS_ALERT_KINDS: [&str; 4] = [
    "event_loss",
    "sensor_silent",
    "clock_skew",
    "history_restarted",
];

impl Metrics {
    /// Registers every metric with its help text (rejection reasons start at zero, so they are
    /// all visible before the first one happens).
    pub fn register() -> Metrics {
        describe_counter!(
            "vigil_console_logins_total",
            "Console login attempts, by method (local, ldap, oidc, password) and outcome (success, failure, locked, no_role, unavailable)"
        );
        describe_counter!(
            "vigil_console_requests_refused_total",
            "Console requests refused, by reason (session, token, csrf, origin, media_type, bad_request)"
        );
        describe_counter!(
            "vigil_events_received_total",
            "Event lines parsed into events on the agent port"
        );
        describe_counter!(
            "vigil_events_rejected_total",
            "Input refused on the agent port, by reason"
        );
        describe_counter!(
            "vigil_events_stored_total",
            "Events durably stored (after fsync)"
        );
        describe_counter!(
            "vigil_events_unknown_sid_total",
            "Events whose plugin sid is in no sid table"
        );
        describe_counter!(
            "vigil_events_time_out_of_bounds_total",
            "Events whose time was out of bounds (stored and correlated, but moving no clock)"
        );
        describe_gauge!(
            "vigil_intake_queue_events",
            "Events accepted but not yet stored"
        );
        describe_gauge!("vigil_agent_connections", "Open agent sessions");
        describe_counter!("vigil_agent_connections_total", "Agent sessions accepted");
        describe_counter!(
            "vigil_agent_connections_refused_total",
            "Connections closed at the session limit"
        );
        describe_counter!(
            "vigil_agent_sessions_timed_out_total",
            "Agent sessions closed for taking too long, by stage: line (a line not completed within agent.line_timeout), idle (nothing received for agent.idle_timeout)"
        );
        describe_counter!(
            "vigil_sensors_first_seen_total",
            "Unconfigured sensors admitted for the first time"
        );
        describe_counter!(
            "vigil_events_lost_total",
            "Events that could not be stored before shutdown"
        );
        describe_counter!("vigil_store_errors_total", "Failed store writes (retried)");
        describe_gauge!("vigil_store_records", "Events held by the store");
        describe_gauge!("vigil_store_bytes", "Bytes of event segments on disk");
        describe_counter!(
            "vigil_store_retention_deleted_total",
            "Events deleted by retention"
        );
        describe_counter!(
            "vigil_store_retention_refused_total",
            "Retention passes refused because they would have deleted more than store.retention_max_share of the store at once (the data was kept)"
        );
        describe_counter!(
            "vigil_store_retention_passes_total",
            "Retention passes run (every store.retention_interval), measured from the core's proven time"
        );
        describe_counter!(
            "vigil_core_clock_alarms_total",
            "Core clock alarms: the clock disagreeing with the store's history at start, jumping while the core runs, or disagreeing with most edges"
        );
        describe_counter!(
            "vigil_store_corruption_total",
            "Damaged ranges of store segments (quarantined and skipped, the records around them kept), indexes and state files (quarantined and rebuilt) found at start"
        );
        describe_gauge!(
            "vigil_bus_keys_in_clear",
            "Private key files of the bus identity (CA key, core key) stored in clear, not encrypted under a passphrase"
        );
        describe_counter!(
            "vigil_bus_events_received_total",
            "Events in verified bus batches"
        );
        describe_counter!(
            "vigil_bus_batches_acknowledged_total",
            "Bus batches acknowledged to edges once durable"
        );
        describe_counter!(
            "vigil_bus_duplicates_total",
            "Bus events already stored (sent again, or over another path)"
        );
        describe_gauge!("vigil_bus_connections", "Open bus sessions");
        describe_counter!(
            "vigil_bus_rejected_total",
            "Bus input refused, by reason (each also raises an alarm)"
        );
        describe_counter!(
            "vigil_bus_connections_refused_total",
            "Bus connections closed at the session limit (bus.max_connections), each counted into the alarm Bus: connection limit reached"
        );
        describe_counter!(
            "vigil_bus_handshakes_refused_total",
            "TLS handshakes on the bus port that failed (no valid or a revoked certificate)"
        );
        describe_counter!(
            "vigil_bus_alerts_total",
            "Bus alarms raised: event loss, silent sensor, clock skew, sensor history restarted"
        );
        describe_counter!(
            "vigil_bus_alarms_suppressed_total",
            "Bus incidents counted into the open alarm of their kind and sensor or peer (raised within the last minute; its revisions carry the counts) instead of raising another"
        );
        describe_counter!("vigil_bus_commands_total", "Signed commands sent to edges");
        describe_counter!(
            "vigil_bus_sessions_timed_out_total",
            "Bus connections closed for taking too long, by stage: handshake and hello (bus.handshake_timeout), idle (bus.idle_timeout), frame (bus.frame_timeout)"
        );
        describe_gauge!(
            "vigil_bus_intake_memory_bytes",
            "Intake memory reserved by bus sessions for the frames they read and decode (at most bus.intake_memory_mib)"
        );
        describe_counter!(
            "vigil_bus_sessions_revoked_total",
            "Open bus sessions ended because the CRL revoked their certificate"
        );
        describe_counter!(
            "vigil_bus_crl_reloads_total",
            "Changes of the bus CRL file: applied, or failed (unreadable or invalid; the last good CRL stays)"
        );
        describe_counter!(
            "vigil_reloads_total",
            "Reloads of the correlation rules, applied or refused (the running rules stay)"
        );
        describe_counter!(
            "vigil_admin_refused_total",
            "Requests the admin API refused, by reason: missing_token, bad_token (401), cross_origin (403), content_type (415)"
        );
        let reload = |outcome: &'static str| {
            let c = counter!("vigil_reloads_total", "outcome" => outcome);
            c.absolute(0);
            c
        };
        let crl_reload = |outcome: &'static str| {
            let c = counter!("vigil_bus_crl_reloads_total", "outcome" => outcome);
            c.absolute(0);
            c
        };
        let sessions_revoked = counter!("vigil_bus_sessions_revoked_total");
        sessions_revoked.absolute(0);
        Metrics {
            bus_sessions_revoked: sessions_revoked,
            bus_crl_applied: crl_reload("applied"),
            bus_crl_failed: crl_reload("failed"),
            reloads_applied: reload("applied"),
            reloads_refused: reload("refused"),
            bus_received: counter!("vigil_bus_events_received_total"),
            bus_acked: counter!("vigil_bus_batches_acknowledged_total"),
            bus_duplicates: counter!("vigil_bus_duplicates_total"),
            bus_connections: gauge!("vigil_bus_connections"),
            bus_connections_refused: counter!("vigil_bus_connections_refused_total"),
            bus_handshakes_refused: counter!("vigil_bus_handshakes_refused_total"),
            bus_alarms_suppressed: counter!("vigil_bus_alarms_suppressed_total"),
            bus_commands: counter!("vigil_bus_commands_total"),
            bus_intake_reserved: gauge!("vigil_bus_intake_memory_bytes"),
            bus_timed_out: Stage::ALL
                .iter()
                .map(|&s| {
                    let c = counter!("vigil_bus_sessions_timed_out_total", "stage" => s.label());
                    c.absolute(0);
                    (s, c)
                })
                .collect(),
            bus_rejected: vigil_bus::RejectReason::ALL
                .iter()
                .map(|&r| {
                    let c = counter!("vigil_bus_rejected_total", "reason" => r.label());
                    c.absolute(0);
                    (r, c)
                })
                .collect(),
            admin_refused: ADMIN_REFUSAL_REASONS
                .iter()
                .map(|&r| {
                    let c = counter!("vigil_admin_refused_total", "reason" => r);
                    c.absolute(0);
                    (r, c)
                })
                .collect(),
            bus_alerts: BUS_ALERT_KINDS
                .iter()
                .map(|&k| {
                    let c = counter!("vigil_bus_alerts_total", "kind" => k);
                    c.absolute(0);
                    (k, c)
                })
                .collect(),
            received: counter!("vigil_events_received_total"),
            stored: counter!("vigil_events_stored_total"),
            unknown_sid: counter!("vigil_events_unknown_sid_total"),
            time_out_of_bounds: counter!("vigil_events_time_out_of_bounds_total"),
            queue_depth: gauge!("vigil_intake_queue_events"),
            connections: gauge!("vigil_agent_connections"),
            connections_total: counter!("vigil_agent_connections_total"),
            connections_refused: counter!("vigil_agent_connections_refused_total"),
            agent_line_timed_out: zero(
                counter!("vigil_agent_sessions_timed_out_total", "stage" => "line"),
            ),
            agent_idle_timed_out: zero(
                counter!("vigil_agent_sessions_timed_out_total", "stage" => "idle"),
            ),
            sensors_first_seen: counter!("vigil_sensors_first_seen_total"),
            not_stored: counter!("vigil_events_not_stored_total"),
            directive_events: counter!("vigil_directive_events_total"),
            alarms: counter!("vigil_alarms_total"),
            backlogs: gauge!("vigil_backlogs"),
            backlogs_evicted: counter!("vigil_backlogs_evicted_total"),
            lost: counter!("vigil_events_lost_total"),
            store_errors: counter!("vigil_store_errors_total"),
            store_records: gauge!("vigil_store_records"),
            store_bytes: gauge!("vigil_store_bytes"),
            retention_deleted: counter!("vigil_store_retention_deleted_total"),
            retention_refused: counter!("vigil_store_retention_refused_total"),
            retention_passes: counter!("vigil_store_retention_passes_total"),
            clock_alarms: counter!("vigil_core_clock_alarms_total"),
            store_corruption: counter!("vigil_store_corruption_total"),
            keys_in_clear: gauge!("vigil_bus_keys_in_clear"),
            rejected: RejectReason::ALL
                .iter()
                .map(|&r| {
                    let c = counter!("vigil_events_rejected_total", "reason" => r.as_str());
                    c.absolute(0);
                    (r, c)
                })
                .collect(),
        }
    }

    /// Counts one refused bus input.
    pub fn bus_reject(&self, reason: vigil_bus::RejectReason) {
        if let Some((_, counter)) = self.bus_rejected.iter().find(|(r, _)| *r == reason) {
            counter.increment(1);
        }
    }

    /// Counts one bus connection closed for taking too long at `stage`.
    pub fn bus_timed_out(&self, stage: Stage) {
        if let Some((_, counter)) = self.bus_timed_out.iter().find(|(s, _)| *s == stage) {
            counter.increment(1);
        }
    }

    /// Counts one admin request refused for a reason of [`ADMIN_REFUSAL_REASONS`].
    pub fn admin_refuse(&self, reason: &str) {
        if let Some((_, counter)) = self.admin_refused.iter().find(|(r, _)| *r == reason) {
            counter.increment(1);
        }
    }

    /// Counts one bus alarm of a kind of [`BUS_ALERT_KINDS`].
    pub fn bus_alert(&self, kind: &str) {
        if let Some((_, counter)) = self.bus_alerts.iter().find(|(k, _)| *k == kind) {
            counter.increment(1);
        }
    }

    /// Counts one rejection.
    pub fn reject(&self, reason: RejectReason) {
        if let Some((_, counter)) = self.rejected.iter().find(|(r, _)| *r == reason) {
            counter.increment(1);
        }
    }
}

/// `counter`, shown as 0 until it counts.
fn zero(counter: Counter) -> Counter {
    counter.absolute(0);
    counter
}

/// Installs the Prometheus recorder for this process. Call once, before [`Metrics::register`].
pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}
