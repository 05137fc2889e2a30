//! OSVDB product names, for the service-banner part of cross-correlation.
//!
//! OSSIM 2.x compared the banner of the attacked service with the product
//! names of the OSVDB entries (plugin 5003) an attack references. Those
//! names came from a separate OSVDB database:
//!
//! ```sql
//! SELECT base_name FROM object_base
//!   LEFT JOIN (object_correlation, object)
//!   ON (object_base.base_id = object_correlation.base_id
//!       AND object_correlation.corr_id = object.corr_id)
//!   WHERE object.osvdb_id = ?;            -- e.g. "Apache", "wu-ftpd"
//! SELECT version_name FROM object_version … WHERE object.osvdb_id = ?;
//!                                         -- e.g. "2.4.29", "7.3.4 Rc3"
//! ```
//!
//! Vigil's corpus has the `plugin_reference` rows (5564 of them point to
//! OSVDB ids) but **not** these tables: OSVDB closed in 2016 and its product
//! data is not redistributable here. [`Osvdb`] is therefore only the data
//! shape — fill it from whatever source you have (one base name and version
//! list per OSVDB id, exactly as the two queries above return them); without
//! it, cross-correlation applies the port/protocol part of the services rule
//! only.

use std::collections::HashMap;

/// The product names of one OSVDB entry: the two lists are independent, as
/// in OSVDB's `object_base` / `object_version` tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsvdbProducts {
    /// Product base names, e.g. `Apache`.
    pub base_names: Vec<String>,
    /// Affected version strings, e.g. `2.4.29`.
    pub version_names: Vec<String>,
}

/// OSVDB id → product names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Osvdb {
    entries: HashMap<u32, OsvdbProducts>,
}

impl Osvdb {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a product base name to an OSVDB entry.
    pub fn add_base_name(&mut self, osvdb_id: u32, base_name: impl Into<String>) {
        self.entries
            .entry(osvdb_id)
            .or_default()
            .base_names
            .push(base_name.into());
    }

    /// Adds a version name to an OSVDB entry.
    pub fn add_version_name(&mut self, osvdb_id: u32, version_name: impl Into<String>) {
        self.entries
            .entry(osvdb_id)
            .or_default()
            .version_names
            .push(version_name.into());
    }

    /// The product names of an OSVDB entry.
    pub fn products(&self, osvdb_id: u32) -> Option<&OsvdbProducts> {
        self.entries.get(&osvdb_id)
    }

    /// Number of OSVDB entries with product names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
