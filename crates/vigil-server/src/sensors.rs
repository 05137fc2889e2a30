//! Which sensor a `connect` belongs to, and whether it is admitted.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;

use tracing::info;
use uuid::Uuid;
use vigil_agent_proto::{Connect, RejectReason, SessionKind};

use crate::config::{SensorConfig, UnknownSensors};

/// The decision on a `connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Accepted: the identity to record in provenance.
    Accept {
        /// Sensor identity.
        name: String,
        /// Address recorded as the sensor's.
        sensor_ip: IpAddr,
        /// Sensor UUID.
        sensor_id: Option<Uuid>,
    },
    /// The peer's address is a configured sensor with another id: answer `noack` with it.
    NoAck(Uuid),
    /// Refused for this reason.
    Refuse(RejectReason),
}

/// Configured sensors and the policy for new ones.
pub struct SensorRegistry {
    configured: Vec<SensorConfig>,
    policy: UnknownSensors,
    first_seen: Mutex<HashSet<String>>,
}

impl SensorRegistry {
    /// A registry of the configured sensors.
    pub fn new(configured: Vec<SensorConfig>, policy: UnknownSensors) -> Self {
        SensorRegistry {
            configured,
            policy,
            first_seen: Mutex::new(HashSet::new()),
        }
    }

    /// Decides on a `connect` from `peer` (spec 2.3, with first-seen sensors handled by policy
    /// instead of OSSIM's silent `(null)` sensor). Returns whether an unknown sensor was seen for
    /// the first time, for counting.
    pub fn admit(&self, connect: &Connect, peer: IpAddr) -> (Admission, bool) {
        if !matches!(connect.kind, SessionKind::Sensor | SessionKind::Server) {
            return (Admission::Refuse(RejectReason::SessionTypeRefused), false);
        }
        if connect.kind == SessionKind::Sensor
            && connect.sensor_id.is_none()
            && connect.major_version().is_some_and(|v| v >= 4)
        {
            return (Admission::Refuse(RejectReason::SensorIdRequired), false);
        }
        let accept = |sensor: &SensorConfig| Admission::Accept {
            name: sensor.name.clone(),
            sensor_ip: sensor.ip.unwrap_or(peer),
            sensor_id: sensor.id.or(connect.sensor_id),
        };
        if let Some(id) = connect.sensor_id
            && let Some(sensor) = self.configured.iter().find(|s| s.id == Some(id))
        {
            return (accept(sensor), false);
        }
        if let Some(sensor) = self.configured.iter().find(|s| s.ip == Some(peer)) {
            return match (sensor.id, connect.sensor_id) {
                (Some(known), Some(claimed)) if known != claimed => {
                    (Admission::NoAck(known), false)
                }
                _ => (accept(sensor), false),
            };
        }
        match self.policy {
            UnknownSensors::Reject => (Admission::Refuse(RejectReason::UnknownSensor), false),
            UnknownSensors::Accept => {
                let name = connect
                    .sensor_id
                    .map_or_else(|| peer.to_string(), |id| id.to_string());
                let first = self
                    .first_seen
                    .lock()
                    .map(|mut seen| seen.insert(name.clone()))
                    .unwrap_or(false);
                if first {
                    info!(sensor = %name, %peer, "sensor seen for the first time; accepted (agent.unknown_sensors = \"accept\")");
                }
                (
                    Admission::Accept {
                        name,
                        sensor_ip: peer,
                        sensor_id: connect.sensor_id,
                    },
                    first,
                )
            }
        }
    }
}

/// What the core heard from each legacy agent sensor in this run: when it last connected or
/// sent events, and how many events it sent.
#[derive(Debug, Default)]
pub struct AgentSensors {
    seen: Mutex<std::collections::HashMap<String, AgentSeen>>,
}

/// What [`AgentSensors`] holds of one sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentSeen {
    /// When it last connected or sent events (the core's proven time).
    pub last_seen: vigil_event::Timestamp,
    /// Events it sent in this run.
    pub events: u64,
}

impl AgentSensors {
    /// Records that `sensor` was heard at `at`, sending `events` events.
    pub fn heard(&self, sensor: &str, at: vigil_event::Timestamp, events: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let entry = seen.entry(sensor.to_string()).or_insert(AgentSeen {
            last_seen: at,
            events: 0,
        });
        entry.last_seen = entry.last_seen.max(at);
        entry.events += events;
    }

    /// Every sensor heard, by name.
    pub fn list(&self) -> Vec<(String, AgentSeen)> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().map(|(name, s)| (name.clone(), *s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(version: &str, sensor_id: Option<u128>) -> Connect {
        Connect {
            id: Some(1),
            kind: SessionKind::Sensor,
            version: Some(version.into()),
            tzone: None,
            hostname: None,
            username: None,
            sensor_id: sensor_id.map(Uuid::from_u128),
        }
    }

    fn registry(policy: UnknownSensors) -> SensorRegistry {
        SensorRegistry::new(
            vec![
                SensorConfig {
                    name: "fw".into(),
                    ip: Some("192.0.2.1".parse().unwrap()),
                    id: Some(Uuid::from_u128(1)),
                },
                SensorConfig {
                    name: "ids".into(),
                    ip: None,
                    id: Some(Uuid::from_u128(2)),
                },
            ],
            policy,
        )
    }

    #[test]
    fn known_sensors_by_id_or_address() {
        let r = registry(UnknownSensors::Reject);
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        let (a, _) = r.admit(&connect("5.8.0", Some(2)), peer);
        assert_eq!(
            a,
            Admission::Accept {
                name: "ids".into(),
                sensor_ip: peer,
                sensor_id: Some(Uuid::from_u128(2))
            }
        );
        let fw: IpAddr = "192.0.2.1".parse().unwrap();
        let (a, _) = r.admit(&connect("3.1", None), fw);
        assert_eq!(
            a,
            Admission::Accept {
                name: "fw".into(),
                sensor_ip: fw,
                sensor_id: Some(Uuid::from_u128(1))
            }
        );
        assert_eq!(
            r.admit(&connect("5.8.0", Some(9)), fw).0,
            Admission::NoAck(Uuid::from_u128(1))
        );
    }

    #[test]
    fn policy_for_unknown_sensors() {
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            registry(UnknownSensors::Reject)
                .admit(&connect("5.8.0", Some(5)), peer)
                .0,
            Admission::Refuse(RejectReason::UnknownSensor)
        );
        let r = registry(UnknownSensors::Accept);
        let (a, first) = r.admit(&connect("5.8.0", Some(5)), peer);
        assert!(first);
        assert!(
            matches!(a, Admission::Accept { ref name, .. } if name == "00000000-0000-0000-0000-000000000005")
        );
        assert!(
            !r.admit(&connect("5.8.0", Some(5)), peer).1,
            "first seen only once"
        );
    }

    #[test]
    fn v4_sensors_need_an_id_and_control_sessions_are_refused() {
        let r = registry(UnknownSensors::Accept);
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            r.admit(&connect("4.0.0", None), peer).0,
            Admission::Refuse(RejectReason::SensorIdRequired)
        );
        let mut web = connect("5.8.0", Some(1));
        web.kind = SessionKind::Web;
        assert_eq!(
            r.admit(&web, peer).0,
            Admission::Refuse(RejectReason::SessionTypeRefused)
        );
        web.kind = SessionKind::None;
        assert_eq!(
            r.admit(&web, peer).0,
            Admission::Refuse(RejectReason::SessionTypeRefused)
        );
    }
}
