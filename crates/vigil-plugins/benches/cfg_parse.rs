//! Throughput of the OSSIM `.cfg` line parser with every corpus plugin loaded.
//!
//! `cargo bench -p vigil-plugins --bench cfg_parse` (needs `../shared/corpus`).
//! Prints lines/s for `PluginSet::parse` over a mix of corpus lines.

use std::path::PathBuf;
use std::time::Instant;

use vigil_plugins::cfg::{AgentSettings, ParseContext, Plugin, PluginSet};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let settings = match AgentSettings::load(&root.join("ossim/agent")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("corpus missing: {e}");
            return;
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("ossim/plugins"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let started = Instant::now();
    let plugins: Vec<Plugin> = files
        .iter()
        .filter_map(|f| Plugin::load(f, &settings).ok().map(|(p, _)| p))
        .collect();
    let rules: usize = plugins.iter().map(|p| p.rules().len()).sum();
    let set = PluginSet::new(plugins);
    println!(
        "loaded {} plugins, {rules} rules in {:?}",
        set.plugins().len(),
        started.elapsed()
    );

    let mut lines = Vec::new();
    for rel in [
        "logs/loghub/OpenSSH/OpenSSH_2k.log",
        "logs/loghub/Linux/Linux_2k.log",
        "attacks/elastic-examples-ssh-bruteforce/auth.log",
        "logs/elastic-examples-apache/apache_logs",
        "logs/loghub/Apache/Apache_2k.log",
        "logs/elastic-integrations/cisco_asa/test-sample.log",
        "logs/elastic-integrations/iptables/test-iptables-raw.log",
    ] {
        if let Ok(bytes) = std::fs::read(root.join(rel)) {
            let these: Vec<String> = String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_owned)
                .collect();
            if std::env::var_os("PER_FILE").is_some() {
                let cx = ParseContext::for_year(2015);
                for l in &these {
                    std::hint::black_box(set.parse(l, &cx));
                }
                let t = Instant::now();
                let mut m = std::collections::BTreeMap::<String, usize>::new();
                for l in &these {
                    if let Some(p) = set.parse(l, &cx) {
                        *m.entry(format!("{}:{}", p.plugin_id, p.rule)).or_default() += 1;
                    }
                }
                let secs = t.elapsed().as_secs_f64();
                let top: Vec<_> = m.iter().filter(|(_, n)| **n * 10 > these.len()).collect();
                println!(
                    "{rel}: {} lines, {:.0} lines/s, main rules {top:?}",
                    these.len(),
                    these.len() as f64 / secs
                );
            }
            lines.extend(these);
        }
    }
    if let Ok(dir) = std::fs::read_dir(root.join("logs/ossim-plugin-samples")) {
        for e in dir.flatten() {
            if e.path().to_string_lossy().ends_with(".samples.log")
                && let Ok(t) = std::fs::read_to_string(e.path())
            {
                lines.extend(t.lines().map(str::to_owned));
            }
        }
    }
    let cx = ParseContext::for_year(2015);
    let mut matched = 0usize;
    for l in &lines {
        matched += usize::from(set.parse(l, &cx).is_some());
    }
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3usize);
    let started = Instant::now();
    for _ in 0..rounds {
        for l in &lines {
            std::hint::black_box(set.parse(std::hint::black_box(l), &cx));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = lines.len() * rounds;
    println!(
        "{} lines ({} produce an event), {n} parsed in {secs:.3} s: {:.0} lines/s",
        lines.len(),
        matched,
        n as f64 / secs
    );
}
