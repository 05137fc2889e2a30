//! Edge configuration: every setting has an embedded default; a TOML file overrides any of
//! them. `vigil edge` with no file listens for syslog on loopback (UDP and TCP 5514), parses
//! with Vigil's built-in plugins (other lines become unparsed events, raw log kept) and
//! forwards over the signed event bus to a core on `127.0.0.1:40100`, which is where
//! `vigil server` listens by default (with the certificate `bus/edge.pem` issued by
//! `vigil ca issue --sensor edge`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use vigil_analysis::config::ConfigError;
use vigil_analysis::config::{CorrelationConfig, ProductType, duration_text, read_config};

use crate::aggregate::AggregationConfig;
use crate::anonymize::{Participant, RawText};

/// The whole edge configuration. `EdgeConfig::default()` is what `vigil edge` runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where keys, file checkpoints, edge alarms and correlation state live.
    pub data_dir: PathBuf,
    /// Who this edge is in the events it sends.
    pub sensor: SensorIdentity,
    /// OSSIM agent plugins (`.cfg`) and the sid tables edge correlation qualifies with.
    pub plugins: PluginsConfig,
    /// Host names that appear in logs and their addresses (no DNS is ever asked).
    pub hosts: BTreeMap<String, IpAddr>,
    /// Where logs come from.
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Plugins whose identical events collapse into one within a window.
    pub aggregate: Vec<AggregateRule>,
    /// Pseudonymisation of what leaves the trust group.
    pub anonymize: AnonymizeConfig,
    /// Site-local correlation with OSSIM directives (off while `directives` is empty).
    pub correlation: CorrelationConfig,
    /// Where normalised events go.
    pub forward: ForwardConfig,
    /// Response scripts the core may ask this edge to run.
    #[serde(rename = "response")]
    pub responses: Vec<crate::response::ResponseConfig>,
    /// Normalised events waiting for the pipeline before sources are pushed back.
    pub queue_events: usize,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
}

/// The edge's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorIdentity {
    /// Name recorded in every event's provenance.
    pub name: String,
    /// The edge's address: the sensor of every event, the device of file lines, the source
    /// of events whose plugin names none.
    pub address: IpAddr,
    /// OSSIM `sensor_id` sent to the core; generated once and kept in the data directory
    /// when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<uuid::Uuid>,
}

/// OSSIM plugin knowledge used at the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Agent plugin `.cfg` files or directories of them (a directory: every `*.cfg` in name
    /// order), tried in this order.
    pub cfg: Vec<PathBuf>,
    /// Whether Vigil's built-in plugins (Linux authentication, netfilter, Cisco ASA, Snort
    /// alerts) are loaded after `cfg`.
    pub builtin: bool,
    /// Directory holding the agent's `aliases.cfg` and `config.cfg` (regexp aliases such as
    /// `\IPV4`, and `\_CFG(...)` values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_config: Option<PathBuf>,
    /// Plugin SQL sid tables, for edge correlation (priority, reliability, taxonomy).
    pub sid_tables: Vec<PathBuf>,
    /// Product types of plugins, for directives that match `product`.
    pub products: Vec<ProductType>,
}

/// What kind of source a `[[source]]` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Syslog datagrams (one message each).
    SyslogUdp,
    /// Syslog over TCP, octet-counted or LF-framed (RFC 6587).
    SyslogTcp,
    /// Syslog over TLS (RFC 5425).
    SyslogTls,
    /// RELP (rsyslog's `omrelp`): each message acknowledged once written durably.
    Relp,
    /// A log file, followed across rotation, truncation and restarts.
    File,
}

/// How a TCP or TLS stream is cut into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FramingConfig {
    /// Per message: octet counting when it starts with `digits SP`, else LF.
    #[default]
    Auto,
    /// Octet counting only (what RFC 5425 prescribes).
    OctetCounting,
    /// LF-terminated messages only.
    Lf,
}

/// Where a file source starts the first time (later it resumes from its checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StartAtConfig {
    /// Only lines written from now on.
    #[default]
    End,
    /// The whole file.
    Beginning,
}

/// One source of logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name, used in metrics and logs.
    pub name: String,
    /// What it is.
    pub kind: SourceKind,
    /// Address to listen on (syslog kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// The file to follow (`file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Time zone of the devices' clocks, for timestamps without an offset (RFC 3164, file
    /// lines): `UTC`, a fixed offset (`+02:00`) or an IANA name (`Europe/Paris`).
    #[serde(default = "utc")]
    pub zone: String,
    /// Names of the plugins (file stems, `ssh` for `ssh.cfg`) to try, in this order; empty
    /// means every loaded plugin.
    #[serde(default)]
    pub plugins: Vec<String>,
    /// Framing of `syslog_tcp` and `syslog_tls` streams.
    #[serde(default)]
    pub framing: FramingConfig,
    /// Longest message or line in bytes; longer ones are cut (files) or refused and counted.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Most concurrent connections of a TCP or TLS source.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// PEM certificate chain of a `syslog_tls` listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of a `syslog_tls` listener (must be readable by its owner only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: when set, senders must present a certificate it signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
    /// Where a `file` source starts the first time.
    #[serde(default)]
    pub start_at: StartAtConfig,
    /// How often a `file` source looks for new lines.
    #[serde(default = "default_poll", with = "duration_text")]
    pub poll_interval: Duration,
}

fn utc() -> String {
    "UTC".to_string()
}
fn default_max_message() -> usize {
    vigil_syslog::framing::DEFAULT_MAX_MESSAGE_SIZE
}
fn default_max_connections() -> usize {
    1024
}
fn default_poll() -> Duration {
    Duration::from_millis(250)
}

impl SourceConfig {
    /// A syslog listener of `kind` on `listen`, every other setting at its default.
    pub fn syslog(name: &str, kind: SourceKind, listen: SocketAddr) -> SourceConfig {
        SourceConfig {
            name: name.to_string(),
            kind,
            listen: Some(listen),
            path: None,
            zone: utc(),
            plugins: Vec::new(),
            framing: FramingConfig::Auto,
            max_message_bytes: default_max_message(),
            max_connections: default_max_connections(),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            start_at: StartAtConfig::End,
            poll_interval: default_poll(),
        }
    }

    /// A file source following `path`, every other setting at its default.
    pub fn file(name: &str, path: &Path) -> SourceConfig {
        SourceConfig {
            kind: SourceKind::File,
            listen: None,
            path: Some(path.to_path_buf()),
            ..SourceConfig::syslog(name, SourceKind::File, SocketAddr::from(([0; 4], 0)))
        }
    }
}

/// Aggregation of one plugin's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateRule {
    /// The plugin.
    pub plugin_id: u32,
    /// Identical events within this long of the first collapse into it.
    #[serde(with = "duration_text")]
    pub window: Duration,
}

/// Pseudonymisation of events before they are forwarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymizeConfig {
    /// Whether forwarded events are pseudonymised.
    pub enabled: bool,
    /// The HMAC key (32 bytes, mode 0600); created at first start when absent. Edges whose
    /// pseudonyms must correlate share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// What to do with raw text that repeats pseudonymised values.
    pub raw_text: RawText,
    /// The participants of the trust group.
    #[serde(rename = "participant")]
    pub participants: Vec<Participant>,
}

/// Where normalised events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardKind {
    /// A Vigil core or an OSSIM server, in the OSSIM agent protocol (plain TCP: keep it on
    /// loopback or a trusted network; the signed bus replaces it).
    Agent,
    /// JSON lines appended to a local file.
    File,
    /// The signed event bus: spooled durably, numbered, signed, over mutual TLS, acknowledged.
    Bus,
}

/// The output of the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardConfig {
    /// What kind of output.
    pub kind: ForwardKind,
    /// The core's or OSSIM server's agent port (`agent`).
    pub address: SocketAddr,
    /// The file (`file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Events waiting for the output before the pipeline is pushed back.
    pub queue_events: usize,
    /// First wait before reconnecting; doubles (with jitter) up to `reconnect_max`.
    #[serde(with = "duration_text")]
    pub reconnect_min: Duration,
    /// Longest wait between reconnection attempts.
    #[serde(with = "duration_text")]
    pub reconnect_max: Duration,
    /// The signed event bus (`bus`).
    pub bus: BusForwardConfig,
}

/// The signed event bus output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusForwardConfig {
    /// Core endpoints, one network path each.
    pub endpoints: Vec<SocketAddr>,
    /// The name in the core's certificate.
    pub server_name: String,
    /// How many connected endpoints send each batch (0: all of them).
    pub copies: usize,
    /// This edge's certificate (PEM, issued by `vigil ca issue --sensor NAME`); its name must
    /// be `sensor.name`.
    pub cert: PathBuf,
    /// Its private key (mode 0600; `VIGIL_KEY_PASSPHRASE` if passphrase-protected).
    pub key: PathBuf,
    /// The CA certificate the core's certificate must chain to.
    pub ca: PathBuf,
    /// The CA's revocation list, if distributed to edges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<PathBuf>,
    /// Largest size of the spool on disk, in MiB.
    pub spool_max_mib: u64,
    /// What to do when the spool is full.
    pub spool_overflow: vigil_spool::Overflow,
    /// Most events per signed batch.
    pub batch_events: usize,
    /// Most batches in flight (sent, not yet acknowledged) per path.
    pub in_flight_batches: usize,
    /// Interval between heartbeats.
    #[serde(with = "duration_text")]
    pub heartbeat: Duration,
}

impl Default for BusForwardConfig {
    fn default() -> Self {
        BusForwardConfig {
            endpoints: vec![SocketAddr::from(([127, 0, 0, 1], 40100))],
            server_name: "vigil-core".into(),
            copies: 0,
            cert: PathBuf::from("bus/edge.pem"),
            key: PathBuf::from("bus/edge.key"),
            ca: PathBuf::from("bus/ca.pem"),
            crl: None,
            spool_max_mib: 1024,
            spool_overflow: vigil_spool::Overflow::Block,
            batch_events: 1024,
            in_flight_batches: 16,
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether to serve `/metrics` at all.
    pub enabled: bool,
    /// Address to serve `/metrics` and `/healthz` on (loopback by default).
    pub listen: SocketAddr,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        let syslog = SocketAddr::from(([127, 0, 0, 1], 5514));
        EdgeConfig {
            data_dir: PathBuf::from("./vigil-edge-data"),
            sensor: SensorIdentity::default(),
            plugins: PluginsConfig::default(),
            hosts: BTreeMap::new(),
            sources: vec![
                SourceConfig::syslog("syslog-udp", SourceKind::SyslogUdp, syslog),
                SourceConfig::syslog("syslog-tcp", SourceKind::SyslogTcp, syslog),
            ],
            aggregate: Vec::new(),
            anonymize: AnonymizeConfig::default(),
            correlation: CorrelationConfig::default(),
            forward: ForwardConfig::default(),
            responses: Vec::new(),
            queue_events: 16_384,
            metrics: MetricsConfig::default(),
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            cfg: Vec::new(),
            builtin: true,
            agent_config: None,
            sid_tables: Vec::new(),
            products: Vec::new(),
        }
    }
}

impl Default for SensorIdentity {
    fn default() -> Self {
        SensorIdentity {
            name: "edge".to_string(),
            address: IpAddr::from([127, 0, 0, 1]),
            id: None,
        }
    }
}

impl Default for AnonymizeConfig {
    fn default() -> Self {
        AnonymizeConfig {
            enabled: false,
            key_file: None,
            raw_text: RawText::Drop,
            participants: Vec::new(),
        }
    }
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            kind: ForwardKind::Bus,
            address: SocketAddr::from(([127, 0, 0, 1], 40001)),
            path: None,
            queue_events: 16_384,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(30),
            bus: BusForwardConfig::default(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9465)),
        }
    }
}

impl EdgeConfig {
    /// Reads a TOML file; keys it does not set keep their defaults, unknown keys are errors.
    pub fn load(path: &Path) -> Result<EdgeConfig, ConfigError> {
        read_config(path, EdgeConfig::parse)
    }

    /// Parses TOML text and checks what the schema cannot.
    pub fn parse(text: &str) -> Result<EdgeConfig, String> {
        let config: EdgeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.queue_events == 0 || self.forward.queue_events == 0 {
            return Err("queue_events and forward.queue_events must be at least 1".into());
        }
        if self.forward.reconnect_min.is_zero()
            || self.forward.reconnect_min > self.forward.reconnect_max
        {
            return Err("forward.reconnect_min must be above 0 and at most reconnect_max".into());
        }
        let bus = &self.forward.bus;
        if self.forward.kind == ForwardKind::Bus {
            if bus.endpoints.is_empty() {
                return Err("forward.bus.endpoints needs at least one core address".into());
            }
            if bus.copies > bus.endpoints.len() {
                return Err(format!(
                    "forward.bus.copies = {} but only {} endpoints",
                    bus.copies,
                    bus.endpoints.len()
                ));
            }
            if bus.batch_events == 0 || bus.in_flight_batches == 0 || bus.spool_max_mib == 0 {
                return Err("forward.bus.batch_events, in_flight_batches and spool_max_mib must be at least 1".into());
            }
            if bus.heartbeat.is_zero() {
                return Err("forward.bus.heartbeat must be above 0".into());
            }
        }
        if self.forward.kind == ForwardKind::File && self.forward.path.is_none() {
            return Err("forward: kind = \"file\" needs a path".into());
        }
        let mut names = std::collections::HashSet::new();
        let mut files = std::collections::HashSet::new();
        for s in &self.sources {
            let what = format!("source {:?}", s.name);
            if s.name.trim().is_empty() {
                return Err("every [[source]] needs a non-empty name".into());
            }
            if !names.insert(&s.name) {
                return Err(format!("{what}: the name is used twice"));
            }
            vigil_syslog::zone_from_config(&s.zone).map_err(|e| format!("{what}: zone: {e}"))?;
            if !(64..=16 << 20).contains(&s.max_message_bytes) {
                return Err(format!(
                    "{what}: max_message_bytes must be between 64 and 16777216"
                ));
            }
            match s.kind {
                SourceKind::File => {
                    let Some(path) = &s.path else {
                        return Err(format!("{what}: kind = \"file\" needs a path"));
                    };
                    if !files.insert(path) {
                        return Err(format!(
                            "{what}: {} is followed by another source already (one position per file)",
                            path.display()
                        ));
                    }
                    if s.poll_interval.is_zero() {
                        return Err(format!("{what}: poll_interval must be above 0"));
                    }
                }
                kind => {
                    if s.listen.is_none() {
                        return Err(format!("{what}: a syslog source needs listen"));
                    }
                    if kind == SourceKind::SyslogTls
                        && (s.tls_cert.is_none() || s.tls_key.is_none())
                    {
                        return Err(format!(
                            "{what}: kind = \"syslog_tls\" needs tls_cert and tls_key"
                        ));
                    }
                    if kind == SourceKind::Relp
                        && (s.tls_cert.is_some()
                            || s.tls_key.is_some()
                            || s.tls_client_ca.is_some())
                    {
                        return Err(format!(
                            "{what}: kind = \"relp\" has no TLS yet (tls_cert, tls_key, tls_client_ca)"
                        ));
                    }
                    if kind != SourceKind::SyslogUdp && s.max_connections == 0 {
                        return Err(format!("{what}: max_connections must be at least 1"));
                    }
                }
            }
        }
        let mut plugins = std::collections::HashSet::new();
        for rule in &self.aggregate {
            if !plugins.insert(rule.plugin_id) {
                return Err(format!(
                    "aggregate: plugin_id {} is listed twice",
                    rule.plugin_id
                ));
            }
            if rule.window.is_zero() || rule.window.as_secs() > u64::from(u32::MAX) {
                return Err(format!(
                    "aggregate: plugin_id {}: window must be between 1s and 136 years",
                    rule.plugin_id
                ));
            }
        }
        Ok(())
    }

    /// The configuration as TOML (used by `--help` and `--print-config`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }

    /// `[hosts]` as normalisation looks names up (names in lower case); `vigil replay
    /// --hosts` reads the same table.
    pub fn host_map(&self) -> std::collections::HashMap<String, IpAddr> {
        self.hosts
            .iter()
            .map(|(name, ip)| (name.to_ascii_lowercase(), *ip))
            .collect()
    }

    /// The aggregation windows in seconds, per plugin.
    pub fn aggregation(&self) -> AggregationConfig {
        AggregationConfig {
            windows: self
                .aggregate
                .iter()
                .map(|r| {
                    (
                        r.plugin_id,
                        u32::try_from(r.window.as_secs()).unwrap_or(u32::MAX),
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = EdgeConfig::default().to_toml();
        assert_eq!(EdgeConfig::parse(&text), Ok(EdgeConfig::default()));
        assert!(text.contains("address = \"127.0.0.1:40001\""), "{text}");
        assert!(text.contains("kind = \"bus\""), "{text}");
        assert!(text.contains("endpoints = [\"127.0.0.1:40100\"]"), "{text}");
        assert!(text.contains("kind = \"syslog_udp\""), "{text}");
    }

    #[test]
    fn a_file_sets_sources_and_overrides_only_what_it_sets() {
        let config = EdgeConfig::parse(
            r#"
data_dir = "/srv/edge"
[sensor]
name = "site-7"
[hosts]
"fw1.example.org" = "10.0.0.1"
[[source]]
name = "auth"
kind = "file"
path = "/var/log/auth.log"
zone = "+02:00"
plugins = ["ssh", "sudo"]
[[aggregate]]
plugin_id = 4003
window = "10s"
"#,
        )
        .unwrap();
        assert_eq!(config.sensor.name, "site-7");
        assert_eq!(config.sources.len(), 1);
        let auth = &config.sources[0];
        assert_eq!(auth.kind, SourceKind::File);
        assert_eq!(auth.start_at, StartAtConfig::End);
        assert_eq!(auth.plugins, ["ssh", "sudo"]);
        assert_eq!(
            config.hosts.get("fw1.example.org"),
            Some(&IpAddr::from([10, 0, 0, 1]))
        );
        assert_eq!(config.aggregation().windows.get(&4003), Some(&10));
        assert_eq!(config.forward, ForwardConfig::default());
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let err = |text: &str| EdgeConfig::parse(text).unwrap_err();
        assert!(
            err("[[source]]\nname = \"a\"\nkind = \"file\"\n")
                .contains("source \"a\": kind = \"file\" needs a path")
        );
        assert!(err("[[source]]\nname = \"a\"\nkind = \"syslog_tcp\"\n").contains("needs listen"));
        assert!(err("[[source]]\nname = \"r\"\nkind = \"relp\"\n").contains("needs listen"));
        assert!(
            err("[[source]]\nname = \"r\"\nkind = \"relp\"\nlisten = \"127.0.0.1:2514\"\ntls_cert = \"c.pem\"\n")
                .contains("source \"r\": kind = \"relp\" has no TLS yet")
        );
        assert!(
            err("[[source]]\nname = \"t\"\nkind = \"syslog_tls\"\nlisten = \"127.0.0.1:6514\"\n")
                .contains("needs tls_cert and tls_key")
        );
        assert!(err("[[source]]\nname = \"a\"\nkind = \"syslog_udp\"\nlisten = \"127.0.0.1:1\"\nzone = \"Mars/Olympus\"\n").contains("zone"));
        assert!(
            err("[[source]]\nname = \"a\"\nkind = \"nope\"\n").contains("unknown variant `nope`")
        );
        let twice = "[[source]]\nname = \"a\"\nkind = \"syslog_udp\"\nlisten = \"127.0.0.1:1\"\n";
        assert!(err(&format!("{twice}{twice}")).contains("used twice"));
        assert!(err("[forward]\nkind = \"file\"\n").contains("needs a path"));
        let file = "[[source]]\nname = \"NAME\"\nkind = \"file\"\npath = \"/var/log/x\"\n";
        assert!(
            err(&format!(
                "{}{}",
                file.replace("NAME", "a"),
                file.replace("NAME", "b")
            ))
            .contains("followed by another source already")
        );
        assert!(err("[[aggregate]]\nplugin_id = 1\nwindow = \"0s\"\n").contains("window"));
        let e = err("[forward]\naddress = \"nowhere\"\n");
        assert!(e.contains("line 2") && e.contains("address"), "{e}");
    }
}
