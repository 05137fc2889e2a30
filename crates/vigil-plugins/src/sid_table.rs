//! The sid table: what OSSIM knows about every (`plugin_id`, `sid`) pair.
//!
//! OSSIM ships one SQL file per plugin (`plugins-sql/*.sql`) that fills the
//! `plugin` and `plugin_sid` tables. [`SidTable`] reads those files directly,
//! without a database, understanding the small MySQL dialect they use:
//!
//! * `INSERT [IGNORE] [INTO] plugin (id, type, name, description) VALUES (…)`
//! * `INSERT [IGNORE] [INTO] plugin_sid (plugin_id, sid, …) VALUES (…), (…)`
//!   with columns in any order, plus `REPLACE INTO` for both tables;
//! * table and column names optionally in backticks, numbers, `NULL`,
//!   `'…'`/`"…"` strings with `''` and MySQL backslash escapes, and `-- `, `#`
//!   and `/* */` comments.
//!
//! Every other statement (`DELETE`, inserts into other tables, …) is skipped
//! and counted in [`LoadReport::skipped_statements`].
//!
//! # Semantics
//!
//! * A `plugin_sid` row without a `priority` or `reliability` column gets the
//!   schema defaults 1 and 1; an explicit `NULL` gets the same defaults.
//! * Priority must be in `0..=5` and reliability in `0..=10`; any other value
//!   is an error (nothing is clamped silently).
//! * The OSSIM files start with `DELETE FROM plugin_sid WHERE plugin_id = N`
//!   and then `INSERT IGNORE` their rows. DELETE is not executed here; instead
//!   each [`SidTable::load_sql`] call behaves like such a file:
//!   * a row from `INSERT IGNORE` is dropped when the same key (`plugin_id`,
//!     `sid`, or the plugin `id`) was already stored *by the same call* —
//!     the first row in a file wins, as in MySQL;
//!   * otherwise a row replaces whatever an earlier call stored for the key,
//!     so a later file overrides an earlier one;
//!   * a plain `INSERT` or `REPLACE` of a key already seen in the same call
//!     replaces the earlier row. (MySQL would reject a duplicate plain
//!     `INSERT`; we are lenient and keep going.)
//! * [`SidTable::load_sql`] is all-or-nothing: on error the table is unchanged.
//!
//! # Errors
//!
//! A [`SqlError`] names the file, line and column of the offending token:
//! unterminated strings, backtick names or `/*` comments; a column list that
//! lacks a required column (`plugin_sid`: `plugin_id`, `sid`, `name`;
//! `plugin`: `id`, `type`, `name`), names a column twice or names a column
//! the OSSIM schema does not have; a VALUES tuple whose length differs from
//! the column list; a non-integer or out-of-range id (numeric strings such
//! as `'1626'` are accepted, as MySQL converts them); `NULL` in a required
//! column; an out-of-range priority or reliability; any value that is not a
//! literal; and other syntax errors inside an insert into `plugin` or
//! `plugin_sid`.

mod parser;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use parser::Row;

pub use crate::sql::SqlError;
use crate::sql::{read_lossy, sql_files};

/// What the `plugin_sid` table says about one (`plugin_id`, `sid`) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidInfo {
    /// Human-readable event name, e.g. `SSHd: Failed password`.
    pub name: String,
    /// Event priority, `0..=5` (default 1).
    pub priority: u8,
    /// Event reliability, `0..=10` (default 1).
    pub reliability: u8,
    /// Taxonomy category id, if set.
    pub category_id: Option<u32>,
    /// Taxonomy subcategory id, if set.
    pub subcategory_id: Option<u32>,
    /// Legacy classification id, if set.
    pub class_id: Option<u32>,
}

/// The kind of a plugin (the `plugin.type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// `type = 1`: produces events from logs.
    Detector,
    /// `type = 2`: answers monitor queries.
    Monitor,
    /// Any other type (e.g. 3 scanners, 4 inventory lists).
    Other(u32),
}

impl From<u32> for PluginKind {
    fn from(value: u32) -> Self {
        match value {
            1 => Self::Detector,
            2 => Self::Monitor,
            other => Self::Other(other),
        }
    }
}

/// One row of the `plugin` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The plugin id (`plugin_id` of its events).
    pub id: u32,
    /// Detector, monitor or other.
    pub kind: PluginKind,
    /// Short name, e.g. `sshd`.
    pub name: String,
    /// Description (empty when `NULL`).
    pub description: String,
    /// Taxonomy product type (`product_type`; none when absent or 0), which directives match
    /// with `product`.
    pub product: Option<u32>,
}

/// Counts from one load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// `plugin` rows read (including rows later replaced or ignored).
    pub plugins: usize,
    /// `plugin_sid` rows read (including rows later replaced or ignored).
    pub sids: usize,
    /// Statements that were not an insert into `plugin` or `plugin_sid`.
    pub skipped_statements: usize,
}

impl LoadReport {
    fn add(&mut self, other: Self) {
        self.plugins += other.plugins;
        self.sids += other.sids;
        self.skipped_statements += other.skipped_statements;
    }
}

/// Plugins and their sids, loaded from OSSIM plugin SQL files.
#[derive(Debug, Clone, Default)]
pub struct SidTable {
    sids: HashMap<(u32, u32), SidInfo>,
    plugins: HashMap<u32, PluginInfo>,
    /// Plugin ids that have at least one sid row.
    plugins_with_sids: HashSet<u32>,
}

impl SidTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one file's text and stores its rows (see the module docs for
    /// duplicate handling). `source_name` is only used in errors.
    ///
    /// On error nothing from `text` is stored.
    pub fn load_sql(&mut self, source_name: &str, text: &str) -> Result<LoadReport, SqlError> {
        let parsed = parser::parse(text).map_err(|e| crate::sql::error_at(source_name, e))?;
        let mut report = LoadReport {
            skipped_statements: parsed.skipped_statements,
            ..LoadReport::default()
        };
        let mut sids_here = HashSet::new();
        let mut plugins_here = HashSet::new();
        for row in parsed.rows {
            match row {
                Row::Plugin { info, ignore } => {
                    report.plugins += 1;
                    if plugins_here.insert(info.id) || !ignore {
                        self.plugins.insert(info.id, info);
                    }
                }
                Row::Sid {
                    plugin_id,
                    sid,
                    info,
                    ignore,
                } => {
                    report.sids += 1;
                    if sids_here.insert((plugin_id, sid)) || !ignore {
                        self.sids.insert((plugin_id, sid), info);
                        self.plugins_with_sids.insert(plugin_id);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Loads one file, or every `*.sql` file of a directory in file-name
    /// order (so later files override earlier ones).
    ///
    /// Files that are not valid UTF-8 are decoded lossily (invalid bytes
    /// become U+FFFD). In a directory, files before a failing one stay
    /// loaded.
    pub fn load_path(&mut self, path: &Path) -> Result<LoadReport, SqlError> {
        let mut report = LoadReport::default();
        for file in sql_files(path)? {
            let text = read_lossy(&file)?;
            report.add(self.load_sql(&file.display().to_string(), &text)?);
        }
        Ok(report)
    }

    /// The `plugin_sid` row for (`plugin_id`, `sid`).
    pub fn sid(&self, plugin_id: u32, sid: u32) -> Option<&SidInfo> {
        self.sids.get(&(plugin_id, sid))
    }

    /// The `plugin` row for `plugin_id`.
    pub fn plugin(&self, plugin_id: u32) -> Option<&PluginInfo> {
        self.plugins.get(&plugin_id)
    }

    /// True if `plugin_id` has a `plugin` row or at least one sid row.
    pub fn knows_plugin(&self, plugin_id: u32) -> bool {
        self.plugins.contains_key(&plugin_id) || self.plugins_with_sids.contains(&plugin_id)
    }

    /// Number of distinct (`plugin_id`, `sid`) pairs.
    pub fn sid_count(&self) -> usize {
        self.sids.len()
    }

    /// Number of distinct plugins with a `plugin` row.
    pub fn plugin_count(&self) -> usize {
        self.plugins.len()
    }

    /// Every plugin row, in no particular order.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginInfo> {
        self.plugins.values()
    }

    /// Every (plugin_id, sid) row, in no particular order.
    pub fn sids(&self) -> impl Iterator<Item = ((u32, u32), &SidInfo)> {
        self.sids.iter().map(|(key, info)| (*key, info))
    }
}

#[cfg(test)]
mod tests;
