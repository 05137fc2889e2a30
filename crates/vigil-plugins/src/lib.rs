//! OSSIM plugin knowledge for Vigil.
//!
//! OSSIM describes every event source ("plugin") twice: the agent side has a
//! `.cfg` file with the regular expressions that turn log lines into events,
//! and the server side has a SQL file that fills the `plugin` and `plugin_sid`
//! tables with the name, priority and reliability of every event type
//! (`plugin_id`, `sid`).
//!
//! This crate currently reads the server side: [`sid_table::SidTable`] loads
//! the `plugins-sql/*.sql` files without a database. Agent `.cfg` files will
//! follow.

pub mod sid_table;
