//! Coverage of the log families users send first: Vigil's built-in Linux authentication plugin
//! (`plugins/vigil-linux-auth.cfg`, as the edge embeds it) against OSSIM's stock `ssh.cfg`,
//! `pam_unix.cfg` and `sudo.cfg` together, on the corpus's authentication logs. Every line is
//! parsed the way the edge parses it; the unparsed count of each file is pinned for both, and
//! the built-in plugin must leave no more lines unparsed than the stock trio on any file.
//! These tests fail when the corpus is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use vigil_edge::config::PluginsConfig;
use vigil_plugins::cfg::{AgentSettings, ParseContext, Plugin, PluginSet};

fn corpus() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        root.join("ossim/plugins").is_dir(),
        "corpus missing at {}",
        root.display()
    );
    root
}

/// The authentication logs of the corpus: (name, path below the corpus, year of its dates).
const LOGS: [(&str, &str, i32); 4] = [
    ("loghub OpenSSH", "logs/loghub/OpenSSH/OpenSSH_2k.log", 2017),
    ("loghub Linux", "logs/loghub/Linux/Linux_2k.log", 2005),
    (
        "Elastic auth.log",
        "attacks/elastic-examples-ssh-bruteforce/auth.log",
        2015,
    ),
    (
        "Elastic system_auth",
        "logs/elastic-integrations/system_auth/test-auth.log",
        2018,
    ),
];

/// Vigil's built-in Linux authentication plugin, as the edge loads it.
fn builtin() -> PluginSet {
    let (plugins, warnings) = vigil_edge::plugins::load(&PluginsConfig::default()).expect("loads");
    assert_eq!(warnings, vec![]);
    PluginSet::new(
        plugins
            .into_iter()
            .filter(|p| p.name == "vigil-linux-auth")
            .collect(),
    )
}

/// OSSIM's stock ssh.cfg, pam_unix.cfg and sudo.cfg, with the agent's aliases.
fn stock_trio() -> PluginSet {
    let root = corpus();
    let settings = AgentSettings::load(&root.join("ossim/agent")).expect("agent settings load");
    PluginSet::new(
        ["ssh.cfg", "pam_unix.cfg", "sudo.cfg"]
            .iter()
            .map(|n| {
                Plugin::load(&root.join("ossim/plugins").join(n), &settings)
                    .expect("plugin loads")
                    .0
            })
            .collect(),
    )
}

/// The lines of `log` that `plugins` leave unparsed.
fn unparsed(plugins: &PluginSet, log: &str, year: i32) -> Vec<String> {
    let cx = ParseContext::for_year(year);
    log.lines()
        .filter(|l| !l.trim().is_empty() && plugins.parse(l, &cx).is_none())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_builtin_auth_plugin_parses_at_least_what_the_stock_trio_parses() {
    let (vigil, stock) = (builtin(), stock_trio());
    let mut counts = Vec::new();
    for (name, path, year) in LOGS {
        let log = read(path);
        let ours = unparsed(&vigil, &log, year);
        let theirs = unparsed(&stock, &log, year);
        let only_ours: Vec<&String> = ours.iter().filter(|l| !theirs.contains(l)).collect();
        assert_eq!(
            only_ours,
            Vec::<&String>::new(),
            "{name}: lines only Vigil leaves unparsed"
        );
        let lines = log.lines().filter(|l| !l.trim().is_empty()).count();
        counts.push((name, lines, ours.len(), theirs.len()));
    }
    // (file, non-blank lines, unparsed by Vigil's built-in plugin, unparsed by the stock trio)
    assert_eq!(
        counts,
        [
            ("loghub OpenSSH", 2000, 0, 66),
            ("loghub Linux", 2000, 1147, 1147),
            ("Elastic auth.log", 7121, 909, 2427),
            ("Elastic system_auth", 12, 0, 1),
        ]
    );
}

/// The text of a corpus log (invalid UTF-8 replaced, as the edge reads it).
fn read(path: &str) -> String {
    let bytes = std::fs::read(corpus().join(path)).expect("log reads");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The lines of a corpus log that contain `text`, parsed by the built-in plugin.
fn parsed_lines(path: &str, text: &str, year: i32) -> Vec<vigil_plugins::cfg::Parsed> {
    let vigil = builtin();
    let cx = ParseContext::for_year(year);
    read(path)
        .lines()
        .filter(|l| l.contains(text))
        .map(|l| vigil.parse(l, &cx).expect("parsed"))
        .collect()
}

/// (plugin id, sid, user, method, `invalid user` flag, occurrences) of a match.
fn summary(p: &vigil_plugins::cfg::Parsed) -> (u32, &str, &str, &str, &str, u32) {
    let get = |k: &str| p.get(k).unwrap_or_default();
    (
        p.plugin_id,
        get("plugin_sid"),
        get("username"),
        get("userdata1"),
        get("userdata2"),
        p.occurrences,
    )
}

#[test]
fn failed_none_empty_user_names_and_repeated_messages() {
    const OPENSSH: &str = "logs/loghub/OpenSSH/OpenSSH_2k.log";
    const ELASTIC: &str = "attacks/elastic-examples-ssh-bruteforce/auth.log";
    let none = parsed_lines(OPENSSH, "Failed none for invalid user", 2017);
    let users: Vec<&str> = none
        .iter()
        .map(|p| p.get("username").unwrap_or_default())
        .collect();
    assert_eq!(users, ["0", "admin", "0", "0"]);
    assert!(
        none.iter()
            .all(|p| summary(p) == (4003, "1", summary(p).2, "none", "invalid user", 1))
    );
    let empty = parsed_lines(ELASTIC, "Failed password for invalid user  from", 2015);
    assert_eq!(empty.len(), 43);
    assert!(
        empty
            .iter()
            .all(|p| summary(p) == (4003, "1", "", "password", "invalid user", 1))
    );
    let invalid_empty = parsed_lines(ELASTIC, "Invalid user  from", 2015);
    assert_eq!(invalid_empty.len(), 43);
    assert!(
        invalid_empty
            .iter()
            .all(|p| summary(p) == (4003, "3", "", "", "", 1))
    );
    let repeated = parsed_lines(ELASTIC, "message repeated", 2015);
    assert_eq!(repeated.len(), 85);
    let occurrences: u32 = repeated.iter().map(|p| p.occurrences).sum();
    assert_eq!(occurrences, 410, "the N of every line");
    assert!(
        repeated
            .iter()
            .all(|p| (p.plugin_id, p.get("plugin_sid")) == (4003, Some("1")))
    );
}
