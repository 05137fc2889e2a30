//! Qualification and correlation of events, the same code for the core (`vigil server`),
//! the edge (`vigil edge`, site-local directives) and `vigil replay`.
//!
//! * [`enrich`]: priority and reliability from the plugin sid tables (unknown sid → generic).
//! * [`analysis`]: one event through sid tables, policies, cross-correlation, risk, C & A and
//!   directives ([`analysis::Analyzer`]).
//! * [`correlation`]: loading directives, assets, policies and cross-correlation data
//!   ([`correlation::Setup`]), and saving and recovering the engine's state.
//! * [`config`]: what the configuration file says about all of it.
//! * [`trust`]: rule, plugin and program files nobody else may write.

pub mod analysis;
pub mod config;
pub mod correlation;
pub mod enrich;
pub mod trust;

use std::path::PathBuf;

use tracing::info;
use vigil_plugins::sid_table::SidTable;

/// Loads every configured sid table; an error names the file, line and column.
pub fn load_sid_tables(paths: &[PathBuf]) -> anyhow::Result<SidTable> {
    let mut sids = SidTable::new();
    for path in paths {
        trust::refuse_world_writable(path, "sid table")?;
        let report = sids
            .load_path(path)
            .map_err(|e| anyhow::anyhow!("plugin sid table: {e}"))?;
        info!(path = %path.display(), plugins = report.plugins, sids = report.sids, "loaded plugin sid table");
    }
    Ok(sids)
}
