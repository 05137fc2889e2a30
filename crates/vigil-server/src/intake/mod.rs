//! Intake listeners. Today: the OSSIM agent protocol ([`agent`]).

pub mod agent;
