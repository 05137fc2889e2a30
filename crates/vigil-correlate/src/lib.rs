//! Vigil's correlation engine: OSSIM directives as a pure, deterministic state machine.
//!
//! [`Engine::process`] takes one event and returns what it caused: its risk, directive events
//! (plugin 1505) and alarm revisions. There is no wall clock, no I/O and no randomness inside:
//! time is each event's [`correlation_time`], ids are derived from inputs, and iteration follows
//! creation order. The same events in the same order always give the same outputs.

pub mod backlog;
pub mod clock;
pub mod compile;
pub mod engine;
mod few;
pub mod levels;
pub mod matcher;
pub mod pressure;
pub mod risk;
pub mod taxonomy;

pub use clock::ClockConfig;
pub use compile::CompiledSet;
pub use engine::{
    AsIs, DIRECTIVE_PLUGIN_ID, Engine, EngineConfig, Outputs, Qualifier, Rules, Stats, Steps,
    correlation_time, derived_id,
};
pub use levels::{LevelKind, LevelsConfig};
pub use risk::{Risk, risk};
pub use taxonomy::Taxonomy;
pub use vigil_inventory::{Assets, DEFAULT_ASSET, Host, Network};
