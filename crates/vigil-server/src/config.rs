//! Server configuration: every setting has an embedded default; a TOML file overrides any of them.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
pub use vigil_analysis::config::{ConfigError, CorrelationConfig, PluginsConfig, ProductType};
use vigil_analysis::config::{duration_text, read_config};

/// The whole server configuration. `Config::default()` is what `vigil server` runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the store, keys and runtime files live.
    pub data_dir: PathBuf,
    /// The signed event bus listener (edges).
    pub bus: BusConfig,
    /// The OSSIM agent protocol listener (legacy agents; off by default).
    pub agent: AgentConfig,
    /// OSSIM plugin knowledge.
    pub plugins: PluginsConfig,
    /// The embedded historian.
    pub store: StoreConfig,
    /// Qualification and correlation.
    pub correlation: CorrelationConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The analyst's console API (HTTPS).
    pub console: ConsoleConfig,
    /// The process log.
    pub log: LogConfig,
}

/// The process log (standard error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Lines one log statement may write per `repeat_interval`; the rest are counted and
    /// summarised in one line when the interval is over.
    pub repeat_limit: u32,
    /// The interval of `repeat_limit`, from a statement's first line.
    #[serde(with = "duration_text")]
    pub repeat_interval: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            repeat_limit: 10,
            repeat_interval: Duration::from_secs(60),
        }
    }
}

/// The signed event bus: TLS 1.3 with client certificates, no plaintext listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// Whether to listen at all.
    pub enabled: bool,
    /// Addresses to listen on (one per network path edges may use).
    pub listen: Vec<SocketAddr>,
    /// The core's name: the name of its certificate.
    pub name: String,
    /// The private CA. Empty: `<data_dir>/ca`, created at the first start if it has no CA, and
    /// the core's own certificate issued from it into `<data_dir>/keys`.
    pub ca_dir: Option<PathBuf>,
    /// The core's certificate (PEM); with `key` and `ca`, replaces the automatic one.
    pub cert: Option<PathBuf>,
    /// The core's private key (PEM, mode 0600; `VIGIL_KEY_PASSPHRASE` if protected).
    pub key: Option<PathBuf>,
    /// The CA certificate edges' certificates must chain to.
    pub ca: Option<PathBuf>,
    /// The CA's revocation list, read again whenever it changes.
    pub crl: Option<PathBuf>,
    /// Host names and addresses of the automatically issued core certificate.
    pub hosts: Vec<String>,
    /// How far past a sensor's highest stored number a batch may reach.
    pub sequence_window: u64,
    /// Clock difference between an edge and the core above which an alarm is raised and the
    /// edge's event times are corrected by the measured offset.
    #[serde(with = "duration_text")]
    pub max_clock_skew: Duration,
    /// How long missing sequence numbers may stay missing before an event-loss alarm.
    #[serde(with = "duration_text")]
    pub gap_timeout: Duration,
    /// How long a sensor seen before may go without a heartbeat before a silent-sensor alarm.
    #[serde(with = "duration_text")]
    pub silence_timeout: Duration,
    /// Time a new connection has for its TLS handshake and `Hello`.
    #[serde(with = "duration_text")]
    pub handshake_timeout: Duration,
    /// Most concurrent bus sessions.
    pub max_connections: usize,
    /// Most concurrent sessions of one sensor (one per network path, plus reconnections);
    /// further ones are refused.
    pub max_sessions_per_sensor: usize,
    /// Time an open session may send nothing before it is closed (edges send a heartbeat
    /// every `forward.bus.heartbeat`, 5 s by default: keep this well above it).
    #[serde(with = "duration_text")]
    pub idle_timeout: Duration,
    /// Time a started frame has to arrive whole (waits for intake memory not counted).
    #[serde(with = "duration_text")]
    pub frame_timeout: Duration,
    /// Memory for frames being read and decoded, all sessions together, in MiB; one sensor
    /// holds at most half of it.
    pub intake_memory_mib: usize,
}

/// The OSSIM agent protocol listener (TCP 40001).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Whether to listen at all.
    pub enabled: bool,
    /// Address to listen on (loopback by default).
    pub listen: SocketAddr,
    /// Longest accepted line in bytes; longer lines are rejected and skipped.
    pub max_line_bytes: usize,
    /// Most concurrent sessions; further connections are closed at once and counted.
    pub max_connections: usize,
    /// Time a new connection has to send its first bytes.
    #[serde(with = "duration_text")]
    pub handshake_timeout: Duration,
    /// Time a session has to complete a line once its first bytes arrived.
    #[serde(with = "duration_text")]
    pub line_timeout: Duration,
    /// Time a session may stay silent between lines (an agent's watchdog writes its plugins'
    /// state every `[watchdog] interval`, at most an hour by default).
    #[serde(with = "duration_text")]
    pub idle_timeout: Duration,
    /// Allow a non-loopback `listen` (the protocol has no authentication or encryption).
    pub allow_remote: bool,
    /// What to do with a sensor that is not configured below.
    pub unknown_sensors: UnknownSensors,
    /// Known sensors.
    pub sensors: Vec<SensorConfig>,
}

/// Policy for sensors seen for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownSensors {
    /// Accept, name it after its `sensor_id` (or address), log it and count it.
    Accept,
    /// Refuse the session with `error`, log it and count it.
    Reject,
}

/// A configured sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// Identity recorded in every event's provenance.
    pub name: String,
    /// Its address; sessions from here are this sensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Its OSSIM `sensor_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

/// The embedded historian.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Segment size before sealing, in MiB.
    pub segment_mib: u64,
    /// A quiet segment is sealed after this long, so age retention applies to it.
    #[serde(with = "duration_text")]
    pub segment_max_age: Duration,
    /// Delete data received longer ago than this ("0s" keeps everything).
    #[serde(with = "duration_text")]
    pub retention_max_age: Duration,
    /// Delete the oldest data while the store is larger than this, in MiB (0 = no limit).
    pub retention_max_mib: u64,
    /// Refuse a retention pass deleting more than this percentage of the store at once
    /// (100 = no limit).
    pub retention_max_share: u8,
    /// Allow retention passes larger than `retention_max_share` (set it for one run).
    pub retention_confirm: bool,
    /// How often retention runs.
    #[serde(with = "duration_text")]
    pub retention_interval: Duration,
    /// Most events written and fsynced together.
    pub batch_max_events: usize,
    /// Events waiting between intake and the store before intake pushes back on senders.
    pub queue_events: usize,
}

/// The admin endpoint: Prometheus `/metrics`, `/healthz` and the token-protected admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether to serve the admin endpoint at all.
    pub enabled: bool,
    /// Address to serve it on (loopback by default).
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` (plain HTTP: the bearer token and metrics cross the
    /// network in clear).
    pub allow_remote: bool,
}

/// The analyst's console API: `/api/v1/` over HTTPS (TLS 1.3), no plain-HTTP listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Whether to serve the console at all.
    pub enabled: bool,
    /// Address to serve it on.
    pub listen: SocketAddr,
    /// The console's certificate (PEM); with `key`, replaces the one issued into
    /// `<data_dir>/keys/console.crt` at the first start.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM, mode 0600; `VIGIL_KEY_PASSPHRASE` if protected).
    pub key: Option<PathBuf>,
    /// Whether TLS 1.2 clients are served too (TLS 1.3 only by default).
    pub allow_tls12: bool,
    /// A session ends after this long without requests.
    #[serde(with = "duration_text")]
    pub idle_timeout: Duration,
    /// A session ends this long after its login, used or not.
    #[serde(with = "duration_text")]
    pub session_lifetime: Duration,
    /// Logins checked against an LDAP directory after the local accounts.
    pub ldap: Option<crate::console::ldap::LdapConfig>,
    /// Logins through an OpenID Connect provider.
    pub oidc: Option<crate::console::oidc::OidcConfig>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            cert: None,
            key: None,
            allow_tls12: false,
            idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            ldap: None,
            oidc: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./vigil-data"),
            bus: BusConfig::default(),
            agent: AgentConfig::default(),
            plugins: PluginsConfig::default(),
            store: StoreConfig::default(),
            correlation: CorrelationConfig::default(),
            metrics: MetricsConfig::default(),
            console: ConsoleConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            enabled: true,
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 40100))],
            name: "vigil-core".into(),
            ca_dir: None,
            cert: None,
            key: None,
            ca: None,
            crl: None,
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
            sequence_window: 10_000_000,
            max_clock_skew: Duration::from_secs(30),
            gap_timeout: Duration::from_secs(30),
            silence_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_sessions_per_sensor: 8,
            idle_timeout: Duration::from_secs(60),
            frame_timeout: Duration::from_secs(60),
            intake_memory_mib: 256,
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 40001)),
            max_line_bytes: vigil_agent_proto::MAX_LINE_BYTES,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(30),
            line_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(2 * 3600),
            allow_remote: false,
            unknown_sensors: UnknownSensors::Accept,
            sensors: Vec::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            segment_mib: 64,
            segment_max_age: Duration::from_secs(3600),
            retention_max_age: Duration::from_secs(90 * 86_400),
            retention_max_mib: 0,
            retention_max_share: 10,
            retention_confirm: false,
            retention_interval: Duration::from_secs(60),
            batch_max_events: 8192,
            queue_events: 65_536,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            allow_remote: false,
        }
    }
}

impl Config {
    /// Reads a TOML file; keys it does not set keep their defaults, unknown keys are errors.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        read_config(path, Config::parse)
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.store.segment_mib == 0 || self.store.segment_mib > 1024 {
            return Err("store.segment_mib must be between 1 and 1024".into());
        }
        if self.store.retention_interval.is_zero() {
            return Err("store.retention_interval must be longer than 0s".into());
        }
        if !(1..=100).contains(&self.store.retention_max_share) {
            return Err("store.retention_max_share must be between 1 and 100 (percent)".into());
        }
        if self.store.batch_max_events == 0 || self.store.queue_events == 0 {
            return Err("store.batch_max_events and store.queue_events must be at least 1".into());
        }
        if !(64..=1 << 20).contains(&self.agent.max_line_bytes) {
            return Err("agent.max_line_bytes must be between 64 and 1048576".into());
        }
        let a = &self.agent;
        if [a.handshake_timeout, a.line_timeout, a.idle_timeout]
            .iter()
            .any(Duration::is_zero)
        {
            return Err(
                "agent.handshake_timeout, agent.line_timeout and agent.idle_timeout must be above 0"
                    .into(),
            );
        }
        if self.agent.enabled && !self.agent.listen.ip().is_loopback() && !self.agent.allow_remote {
            return Err(format!(
                "agent.listen = {}: the OSSIM agent protocol is unauthenticated plaintext; listen on loopback (behind a TLS tunnel such as stunnel for remote agents), or set agent.allow_remote = true to accept the risk",
                self.agent.listen
            ));
        }
        let m = &self.metrics;
        if m.enabled && !m.listen.ip().is_loopback() && !m.allow_remote {
            return Err(format!(
                "metrics.listen = {}: the admin endpoint is plain HTTP (its bearer token would cross the network in clear); listen on loopback, or set metrics.allow_remote = true to accept the risk",
                m.listen
            ));
        }
        let b = &self.bus;
        let c = &self.console;
        if c.cert.is_some() != c.key.is_some() {
            return Err("console.cert and console.key go together: set both, or neither (the core then issues the console's certificate from its CA)".into());
        }
        if c.idle_timeout.is_zero() || c.session_lifetime.is_zero() {
            return Err(
                "console.idle_timeout and console.session_lifetime must be above zero".into(),
            );
        }
        if b.enabled && b.listen.is_empty() {
            return Err("bus.listen needs at least one address (or bus.enabled = false)".into());
        }
        let explicit = [&b.cert, &b.key, &b.ca]
            .iter()
            .filter(|p| p.is_some())
            .count();
        if explicit != 0 && explicit != 3 {
            return Err("bus.cert, bus.key and bus.ca go together: give all three, or none for the automatic CA".into());
        }
        if b.sequence_window == 0 || b.max_connections == 0 || b.max_sessions_per_sensor == 0 {
            return Err("bus.sequence_window, bus.max_connections and bus.max_sessions_per_sensor must be at least 1".into());
        }
        if [b.handshake_timeout, b.idle_timeout, b.frame_timeout]
            .iter()
            .any(Duration::is_zero)
        {
            return Err(
                "bus.handshake_timeout, bus.idle_timeout and bus.frame_timeout must be above 0"
                    .into(),
            );
        }
        let least = (2 * crate::bus::budget::frame_cost(vigil_bus::MAX_FRAME_BYTES)) >> 20;
        if !(least..=1 << 20).contains(&b.intake_memory_mib) {
            return Err(format!(
                "bus.intake_memory_mib must be between {least} (half of it holds a largest frame and its decoded copies) and 1048576"
            ));
        }
        if self.log.repeat_limit == 0 || self.log.repeat_interval.is_zero() {
            return Err("log.repeat_limit and log.repeat_interval must be above 0".into());
        }
        let mut names = std::collections::HashSet::new();
        for sensor in &self.agent.sensors {
            if sensor.name.trim().is_empty() {
                return Err("agent.sensors: every sensor needs a non-empty name".into());
            }
            if !names.insert(&sensor.name) {
                return Err(format!(
                    "agent.sensors: the name {:?} is used twice",
                    sensor.name
                ));
            }
        }
        Ok(())
    }

    /// The configuration as TOML (used by `--help` and `--print-config`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }

    /// Options for the store's logs.
    pub fn log_options(&self) -> vigil_store::LogOptions {
        let s = &self.store;
        vigil_store::LogOptions {
            segment_bytes: s.segment_mib << 20,
            segment_max_age: s.segment_max_age,
            retention_max_age: (!s.retention_max_age.is_zero()).then_some(s.retention_max_age),
            retention_max_bytes: (s.retention_max_mib > 0).then_some(s.retention_max_mib << 20),
            retention_max_share: s.retention_max_share,
            retention_confirmed: s.retention_confirm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_cert_and_key_go_together() {
        let err = Config::parse("[console]\ncert = \"c.pem\"\n").unwrap_err();
        assert!(
            err.contains("console.cert and console.key go together"),
            "{err}"
        );
        let config = Config::parse("[console]\ncert = \"c.pem\"\nkey = \"c.key\"\n").unwrap();
        assert_eq!(
            config.console.listen,
            SocketAddr::from(([127, 0, 0, 1], 8443))
        );
        let err = Config::parse("[console]\nidle_timeout = \"0s\"\n").unwrap_err();
        assert!(err.contains("above zero"), "{err}");
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = Config::default().to_toml();
        assert_eq!(Config::parse(&text).unwrap(), Config::default());
        assert!(text.contains("listen = \"127.0.0.1:40001\""), "{text}");
        assert!(text.contains("retention_max_age = \"90d\""), "{text}");
        assert!(text.contains("handshake_timeout = \"30s\""), "{text}");
        assert!(
            text.contains("line_timeout = \"1m\"\nidle_timeout = \"2h\""),
            "{text}"
        );
    }

    #[test]
    fn a_file_overrides_only_what_it_sets() {
        let config = Config::parse(
            "data_dir = \"/srv/vigil\"\n[agent]\nunknown_sensors = \"reject\"\n[[agent.sensors]]\nname = \"fw1\"\nip = \"192.0.2.1\"\n[store]\nretention_max_age = \"7days\"\n",
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/vigil"));
        assert_eq!(config.agent.unknown_sensors, UnknownSensors::Reject);
        assert_eq!(
            config.agent.sensors[0].ip,
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            config.store.retention_max_age,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(config.agent.listen, AgentConfig::default().listen);
    }

    #[test]
    fn the_retention_share_is_a_percentage() {
        let err = Config::parse("[store]\nretention_max_share = 0\n").unwrap_err();
        assert!(err.contains("store.retention_max_share"), "{err}");
        assert!(Config::parse("[store]\nretention_max_share = 101\n").is_err());
        let options =
            Config::parse("[store]\nretention_max_share = 25\nretention_confirm = true\n")
                .unwrap()
                .log_options();
        assert_eq!(options.retention_max_share, 25);
        assert!(options.retention_confirmed);
    }

    #[test]
    fn the_retention_interval_is_a_positive_duration() {
        let err = Config::parse("[store]\nretention_interval = \"0s\"\n").unwrap_err();
        assert!(err.contains("store.retention_interval"), "{err}");
        let config = Config::parse("[store]\nretention_interval = \"5s\"\n").unwrap();
        assert_eq!(config.store.retention_interval, Duration::from_secs(5));
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = Config::parse("[agent]\nlisten = \"not an address\"\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("listen"), "{err}");
        let err = Config::parse("[agent]\nlisten_port = 1\n").unwrap_err();
        assert!(err.contains("unknown field `listen_port`"), "{err}");
        let err =
            Config::parse("[[agent.sensors]]\nname = \"a\"\n[[agent.sensors]]\nname = \"a\"\n")
                .unwrap_err();
        assert!(err.contains("used twice"), "{err}");
    }

    #[test]
    fn the_intake_budget_holds_two_largest_frames_and_timeouts_are_above_zero() {
        let err = Config::parse("[bus]\nintake_memory_mib = 191\n").unwrap_err();
        assert!(
            err.contains("bus.intake_memory_mib must be between 192"),
            "{err}"
        );
        Config::parse("[bus]\nintake_memory_mib = 192\n").unwrap();
        let err = Config::parse("[bus]\nframe_timeout = \"0s\"\n").unwrap_err();
        assert!(err.contains("bus.frame_timeout"), "{err}");
        let err = Config::parse("[log]\nrepeat_limit = 0\n").unwrap_err();
        assert!(err.contains("log.repeat_limit"), "{err}");
        let err = Config::parse("[agent]\nline_timeout = \"0s\"\n").unwrap_err();
        assert!(err.contains("agent.line_timeout"), "{err}");
    }

    #[test]
    fn a_remote_admin_endpoint_needs_allow_remote() {
        let err = Config::parse("[metrics]\nlisten = \"0.0.0.0:9464\"\n").unwrap_err();
        assert!(err.contains("metrics.allow_remote"), "{err}");
        let config =
            Config::parse("[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n").unwrap();
        assert!(config.metrics.allow_remote);
        Config::parse("[metrics]\nlisten = \"[::1]:9464\"\n").unwrap();
    }
}
