//! The configuration of qualification and correlation, shared by the core and the edge.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Qualification and correlation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelationConfig {
    /// OSSIM directive files (a `directives.xml` with its entity includes, category files) or
    /// directories holding a `directives.xml`.
    pub directives: Vec<PathBuf>,
    /// Asset inventory (TOML: `[[host]]`, `[[network]]`, `[groups]`); none = every asset value 2.
    pub assets: Option<PathBuf>,
    /// Policies (TOML); none = no policy, every role on except forwarding.
    pub policies: Option<PathBuf>,
    /// Host inventory for cross-correlation (TOML: OS, services, vulnerabilities per host).
    pub inventory: Option<PathBuf>,
    /// `plugin_reference` SQL files or directories linking attacks to vulnerabilities.
    pub references: Vec<PathBuf>,
    /// Live backlogs per directive; past it the least advanced is evicted.
    pub max_backlogs_per_directive: usize,
    /// Live backlogs of one directive that one source address may hold.
    pub max_backlogs_per_source: usize,
    /// How many times directive events may be correlated again (chained directives).
    pub max_depth: u8,
    /// How far an event may predate the level it follows and still count.
    #[serde(with = "duration_text")]
    pub allowed_lateness: Duration,
    /// Seconds of event time between two C & A recoveries.
    #[serde(with = "duration_text")]
    pub levels_interval: Duration,
    /// Taken off every C & A level at each interval.
    pub levels_recovery: u32,
    /// Compromise level that raises an alarm (0 = never).
    pub compromise_threshold: u32,
    /// Attack level that raises an alarm (0 = never).
    pub attack_threshold: u32,
    /// How often the correlation state is saved, so a restart resumes where it stopped.
    #[serde(with = "duration_text")]
    pub snapshot_interval: Duration,
    /// How far an event's time may lie ahead of the core's clock when it is received before it
    /// is out of bounds.
    #[serde(with = "duration_text")]
    pub max_time_ahead: Duration,
    /// How far a replayed event's time may lie ahead of the median of recent ones.
    #[serde(with = "duration_text")]
    pub replay_max_time_ahead: Duration,
    /// How far an event's time may lie behind the latest in-bounds time of its own sensor
    /// before it is out of bounds.
    #[serde(with = "duration_text")]
    pub max_time_behind: Duration,
    /// Run without the directives that have errors (each logged, and named in a reload's
    /// answer) instead of refusing to start or to reload.
    pub allow_partial_rules: bool,
    /// Directive ids left out when the directives load: set by the core from its data
    /// directory (the console's enable/disable), never read from the configuration file.
    #[serde(skip)]
    pub disabled_directives: Vec<u32>,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        let engine = vigil_correlate::EngineConfig::default();
        CorrelationConfig {
            directives: Vec::new(),
            assets: None,
            policies: None,
            inventory: None,
            references: Vec::new(),
            max_backlogs_per_directive: engine.max_backlogs_per_directive,
            max_backlogs_per_source: engine.max_backlogs_per_source,
            max_depth: engine.max_depth,
            allowed_lateness: Duration::from_secs(engine.allowed_lateness_secs.into()),
            levels_interval: Duration::from_secs(engine.levels.interval_secs.into()),
            levels_recovery: engine.levels.recovery,
            compromise_threshold: engine.levels.compromise_threshold,
            attack_threshold: engine.levels.attack_threshold,
            snapshot_interval: Duration::from_secs(60),
            max_time_ahead: Duration::from_secs(engine.clock.max_ahead_secs.into()),
            replay_max_time_ahead: Duration::from_secs(engine.clock.replay_max_ahead_secs.into()),
            max_time_behind: Duration::from_secs(engine.clock.max_behind_secs.into()),
            allow_partial_rules: false,
            disabled_directives: Vec::new(),
        }
    }
}

impl CorrelationConfig {
    /// The engine's tunables.
    pub fn engine_config(&self) -> vigil_correlate::EngineConfig {
        vigil_correlate::EngineConfig {
            max_backlogs_per_directive: self.max_backlogs_per_directive,
            max_backlogs_per_source: self.max_backlogs_per_source,
            max_depth: self.max_depth,
            allowed_lateness_secs: secs_u32(self.allowed_lateness),
            levels: vigil_correlate::LevelsConfig {
                interval_secs: secs_u32(self.levels_interval).max(1),
                recovery: self.levels_recovery,
                compromise_threshold: self.compromise_threshold,
                attack_threshold: self.attack_threshold,
            },
            clock: vigil_correlate::ClockConfig {
                max_ahead_secs: secs_u32(self.max_time_ahead),
                replay_max_ahead_secs: secs_u32(self.replay_max_time_ahead),
                max_behind_secs: secs_u32(self.max_time_behind),
            },
        }
    }
}

/// Whole seconds of `d`, saturating at `u32::MAX`.
fn secs_u32(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// OSSIM plugin knowledge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Plugin SQL files or directories of them (`plugin_sid` names, priority, reliability,
    /// category and subcategory; `plugin.product_type` when present).
    pub sid_tables: Vec<PathBuf>,
    /// Product types of plugins, for directives that match `product` (override the SQL).
    pub products: Vec<ProductType>,
}

/// A plugin's taxonomy product type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductType {
    /// The plugin.
    pub plugin_id: u32,
    /// Its OSSIM product type id (e.g. 5 for firewalls in the 5.x taxonomy).
    pub product: u32,
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid for its schema; the message names the key, line and column.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

/// Reads a configuration file and parses it with `parse` (TOML and checks), naming the file
/// in any error.
pub fn read_config<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|message| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Durations as text: read with humantime (`30s`, `1h`, `90d`, `2weeks`), written in the largest
/// unit that divides them evenly (`90d`, not `2months 29days 2h 52m 48s`).
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a duration in the largest unit that divides it evenly.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let secs = duration.as_secs();
        let text = if duration.is_zero() {
            "0s".to_string()
        } else {
            match [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")]
                .into_iter()
                .find(|(unit, _)| secs.is_multiple_of(*unit) && duration.subsec_nanos() == 0)
            {
                Some((unit, suffix)) => format!("{}{suffix}", secs / unit),
                None => format!("{}ms", duration.as_millis()),
            }
        };
        serializer.serialize_str(&text)
    }

    /// Reads a humantime duration (`30s`, `1h`, `90d`).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid duration {text:?}: {e}")))
    }
}
