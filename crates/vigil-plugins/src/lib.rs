//! OSSIM plugin knowledge for Vigil.
//!
//! OSSIM describes every event source ("plugin") twice: the agent side has a
//! `.cfg` file with the regular expressions that turn log lines into events,
//! and the server side has a SQL file that fills the `plugin` and `plugin_sid`
//! tables with the name, priority and reliability of every event type
//! (`plugin_id`, `sid`).
//!
//! This crate currently reads the server side, without a database:
//!
//! * [`sid_table::SidTable`] loads the `plugins-sql/*.sql` files;
//! * [`references::References`] loads the `plugin_reference` rows
//!   (`crosscorrelation/cross-free.sql`) that link an attack sid to the
//!   vulnerability, OS, service or OSVDB sids it depends on, for
//!   cross-correlation.
//!
//! Both read the same small MySQL dialect with one shared lexer and
//! statement parser and report a [`SqlError`] with file, line and column.
//! [`cfg`](mod@cfg) loads the agent side: plugin `.cfg` files, and parses log lines
//! with them as the OSSIM agent does.

pub mod cfg;
pub mod references;
pub mod sid_table;
mod sql;

pub use references::{PluginSid, References};
pub use sql::SqlError;
