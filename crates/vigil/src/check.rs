//! `vigil check`: validates directive files, policy files, OSSIM agent plugin `.cfg` files and
//! plugin SQL sid tables, printing every problem as `file:line:column: ...`.

use std::path::{Path, PathBuf};

use vigil_inventory::Assets;

/// What a file is, judged by its name and content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OSSIM directive XML (a file, or a directory with `directives.xml`).
    Directives,
    /// A policy TOML file.
    Policy,
    /// Plugin SQL (sid tables).
    SidTable,
    /// An OSSIM agent plugin (`.cfg`).
    Plugin,
}

/// Guesses a path's kind: `.xml` or a directory → directives, `.toml` → policy, `.sql` → sid
/// table, `.cfg` → agent plugin.
pub fn kind_of(path: &Path) -> Option<Kind> {
    if path.is_dir() {
        return Some(Kind::Directives);
    }
    match path.extension()?.to_str()? {
        "xml" => Some(Kind::Directives),
        "toml" => Some(Kind::Policy),
        "sql" => Some(Kind::SidTable),
        "cfg" => Some(Kind::Plugin),
        _ => None,
    }
}

/// The result of checking some files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Errors, one line each.
    pub errors: Vec<String>,
    /// Warnings, one line each.
    pub warnings: Vec<String>,
}

/// Checks every path; policies resolve asset names against `assets`, plugins read regexp
/// aliases and `\_CFG` values from `agent` (the agent's configuration).
pub fn check(
    paths: &[PathBuf],
    assets: &Assets,
    agent: &vigil_plugins::cfg::AgentSettings,
) -> Report {
    let mut report = Report::default();
    for path in paths {
        match kind_of(path) {
            Some(Kind::Directives) => {
                for d in vigil_directives::check(std::slice::from_ref(path)) {
                    match d.is_error() {
                        true => report.errors.push(d.to_string()),
                        false => report.warnings.push(d.to_string()),
                    }
                }
            }
            Some(Kind::Policy) => {
                report.errors.extend(vigil_policy::check(path, assets).iter().map(ToString::to_string));
            }
            Some(Kind::SidTable) => {
                let mut table = vigil_plugins::sid_table::SidTable::new();
                if let Err(e) = table.load_path(path) {
                    report.errors.push(e.to_string());
                }
            }
            Some(Kind::Plugin) => match vigil_plugins::cfg::Plugin::load(path, agent) {
                Ok((_, warnings)) => report
                    .warnings
                    .extend(warnings.iter().map(|w| format!("{w} (warning)"))),
                Err(e) => report.errors.push(e.to_string()),
            },
            None => report.errors.push(format!(
                "{}: error: cannot tell what this is (expected .xml directives or a directory of them, .toml policies, .cfg agent plugins, .sql sid tables)",
                path.display()
            )),
        }
    }
    report
}
