//! Cross-correlation references: which vulnerability, OS, service or OSVDB
//! sids an attack sid depends on (OSSIM's `plugin_reference` table).
//!
//! A row `(plugin_id, plugin_sid, reference_id, reference_sid)` says "attack
//! (`plugin_id`, `plugin_sid`) — typically a Snort/Suricata signature of
//! plugin 1001 — is related to (`reference_id`, `reference_sid`)": a
//! nessus/OpenVAS check ([`NESSUS_PLUGIN_ID`] 3001), an operating system
//! ([`OS_PLUGIN_ID`] 5001), a service ([`SERVICES_PLUGIN_ID`] 5002), an
//! OSVDB entry ([`OSVDB_PLUGIN_ID`] 5003) or any other plugin's sid.
//! OSSIM ships these rows as `crosscorrelation/cross-free.sql`.
//!
//! # Loading
//!
//! [`References::load_sql`] reads the same MySQL dialect as
//! [`crate::sid_table`] (shared lexer and statement parser):
//! `INSERT [IGNORE] [INTO] plugin_reference (plugin_id, plugin_sid,
//! reference_id, reference_sid[, ctx]) VALUES (…), (…)` and `REPLACE INTO`,
//! columns in any order, numbers or numeric strings. The four id columns are
//! required, non-`NULL` integers in `0..=u32::MAX`; `ctx` is accepted and
//! ignored (Vigil merges the rows of every context). Every other statement —
//! `SET UNIQUE_CHECKS=0`, `DELETE FROM plugin_reference`, inserts into other
//! tables — is skipped and counted in [`ReferenceReport::skipped_statements`].
//!
//! # Semantics
//!
//! * The table is a **set** of rows, as in MySQL where all five columns form
//!   the primary key: a row already present (from this or an earlier load)
//!   is not stored twice, whatever the statement (`INSERT`, `INSERT IGNORE`
//!   or `REPLACE`; MySQL would reject a duplicate plain `INSERT`, we are
//!   lenient).
//! * The relation is **many-to-many**: an attack keeps every reference. (The
//!   OSSIM 5.x server kept one reference per attack sid in its in-memory
//!   hash, losing the others: spec 8.3 / 13.17.)
//! * `DELETE` is not executed: loads accumulate, so OSSIM's file (which
//!   starts with `DELETE FROM plugin_reference;`) can be combined with a
//!   site's own reference file.
//! * [`References::load_sql`] is all-or-nothing: on error nothing from that
//!   text is stored.
//!
//! # Errors
//!
//! A [`SqlError`] names the file, line and column of the offending token,
//! exactly as for sid tables: unterminated strings or comments, unknown,
//! repeated or missing columns, tuple arity, non-integer, negative, too large
//! or `NULL` ids, and other syntax errors inside a `plugin_reference` insert.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::sql::insert::{self, Record, Table};
use crate::sql::lexer::Located;
use crate::sql::{SqlError, read_lossy, sql_files};

/// The nessus / OpenVAS plugin: reference sids are vulnerability checks.
pub const NESSUS_PLUGIN_ID: u32 = 3001;
/// OSSIM's operating-system list (`plugins-sql/ossim-os.sql`).
pub const OS_PLUGIN_ID: u32 = 5001;
/// OSSIM's services list (`plugins-sql/ossim-services.sql`): sid = port.
pub const SERVICES_PLUGIN_ID: u32 = 5002;
/// OSVDB: reference sids are OSVDB ids.
pub const OSVDB_PLUGIN_ID: u32 = 5003;

/// A (`plugin_id`, `sid`) pair: an event type, a vulnerability check, an OS…
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginSid {
    /// The plugin (data source) id.
    pub plugin_id: u32,
    /// The sid within the plugin.
    pub sid: u32,
}

impl PluginSid {
    /// The pair (`plugin_id`, `sid`).
    pub const fn new(plugin_id: u32, sid: u32) -> Self {
        Self { plugin_id, sid }
    }
}

impl fmt::Display for PluginSid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.plugin_id, self.sid)
    }
}

/// Counts from one load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferenceReport {
    /// `plugin_reference` rows read, including duplicates that were not
    /// stored twice.
    pub rows: usize,
    /// Statements that were not an insert into `plugin_reference`.
    pub skipped_statements: usize,
}

impl ReferenceReport {
    fn add(&mut self, other: Self) {
        self.rows += other.rows;
        self.skipped_statements += other.skipped_statements;
    }
}

/// The `plugin_reference` relation: attack → every reference, many-to-many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Each list sorted and without duplicates.
    by_attack: HashMap<PluginSid, Vec<PluginSid>>,
    rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    PluginId,
    PluginSid,
    ReferenceId,
    ReferenceSid,
    Ctx,
}

const TABLES: [Table<Field>; 1] = [Table {
    name: "plugin_reference",
    columns: &[
        ("plugin_id", Field::PluginId),
        ("plugin_sid", Field::PluginSid),
        ("reference_id", Field::ReferenceId),
        ("reference_sid", Field::ReferenceSid),
        ("ctx", Field::Ctx),
    ],
    required: &[
        ("plugin_id", Field::PluginId),
        ("plugin_sid", Field::PluginSid),
        ("reference_id", Field::ReferenceId),
        ("reference_sid", Field::ReferenceSid),
    ],
}];

fn row(record: &Record<'_, Field>) -> Result<(PluginSid, PluginSid), Located> {
    let attack = PluginSid::new(
        record.required_id(Field::PluginId, "plugin_id")?,
        record.required_id(Field::PluginSid, "plugin_sid")?,
    );
    let reference = PluginSid::new(
        record.required_id(Field::ReferenceId, "reference_id")?,
        record.required_id(Field::ReferenceSid, "reference_sid")?,
    );
    Ok((attack, reference))
}

impl References {
    /// An empty relation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one file's text and adds its rows (see the module docs).
    /// `source_name` is only used in errors. On error nothing from `text` is
    /// stored.
    pub fn load_sql(&mut self, source_name: &str, text: &str) -> Result<ReferenceReport, SqlError> {
        let parsed = insert::parse(text, &TABLES, |_, record, _| row(record))
            .map_err(|e| crate::sql::error_at(source_name, e))?;
        let report = ReferenceReport {
            rows: parsed.rows.len(),
            skipped_statements: parsed.skipped_statements,
        };
        for (attack, reference) in parsed.rows {
            self.insert(attack, reference);
        }
        Ok(report)
    }

    /// Loads one file, or every `*.sql` file of a directory in file-name
    /// order. Files that are not valid UTF-8 are decoded lossily (invalid
    /// bytes become U+FFFD). In a directory, files before a failing one stay
    /// loaded.
    pub fn load_path(&mut self, path: &Path) -> Result<ReferenceReport, SqlError> {
        let mut report = ReferenceReport::default();
        for file in sql_files(path)? {
            let text = read_lossy(&file)?;
            report.add(self.load_sql(&file.display().to_string(), &text)?);
        }
        Ok(report)
    }

    /// Adds one row; false if it was already present.
    pub fn insert(&mut self, attack: PluginSid, reference: PluginSid) -> bool {
        let list = self.by_attack.entry(attack).or_default();
        match list.binary_search(&reference) {
            Ok(_) => false,
            Err(at) => {
                list.insert(at, reference);
                self.rows += 1;
                true
            }
        }
    }

    /// Every reference of an attack, sorted by (`reference_id`,
    /// `reference_sid`); empty if the attack has none.
    pub fn references(&self, attack: PluginSid) -> &[PluginSid] {
        self.by_attack.get(&attack).map_or(&[], Vec::as_slice)
    }

    /// The sids of one reference plugin an attack refers to, ascending
    /// (e.g. the OS sids of [`OS_PLUGIN_ID`]).
    pub fn reference_sids(
        &self,
        attack: PluginSid,
        reference_id: u32,
    ) -> impl Iterator<Item = u32> + '_ {
        self.references(attack)
            .iter()
            .filter(move |r| r.plugin_id == reference_id)
            .map(|r| r.sid)
    }

    /// Whether the row (`attack`, `reference`) is present.
    pub fn links(&self, attack: PluginSid, reference: PluginSid) -> bool {
        self.references(attack).binary_search(&reference).is_ok()
    }

    /// Whether an attack has at least one reference.
    pub fn has_references(&self, attack: PluginSid) -> bool {
        !self.references(attack).is_empty()
    }

    /// Number of distinct attacks with at least one reference.
    pub fn attack_count(&self) -> usize {
        self.by_attack.len()
    }

    /// Number of distinct rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is stored.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Every attack with its references, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (PluginSid, &[PluginSid])> {
        self.by_attack
            .iter()
            .map(|(attack, refs)| (*attack, refs.as_slice()))
    }
}

#[cfg(test)]
mod tests;
