//! The `vigil` command's subcommands, as a library so tests and benchmarks share them.

pub mod bench;
pub mod ca_command;
pub mod check;
pub mod loadgen;
pub mod log_limit;
pub mod process;
pub mod replay;
pub mod search;
pub mod time_arg;
pub mod user_command;
