//! Loads the real OSSIM plugin SQL files from `shared/corpus/ossim/plugins-sql`.
//!
//! The expected numbers were counted independently of this crate (grep and a
//! separate Python tokenizer over the files).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use vigil_plugins::sid_table::{LoadReport, PluginKind, SidInfo, SidTable};

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/ossim/plugins-sql"
    ));
    assert!(
        dir.is_dir(),
        "corpus directory {} is missing",
        dir.display()
    );
    dir
}

fn load_all() -> (SidTable, LoadReport) {
    let mut table = SidTable::new();
    match table.load_path(&corpus_dir()) {
        Ok(report) => (table, report),
        Err(e) => panic!("corpus failed to load: {e}"),
    }
}

fn sid(table: &SidTable, plugin_id: u32, sid: u32) -> &SidInfo {
    table
        .sid(plugin_id, sid)
        .unwrap_or_else(|| panic!("no sid {plugin_id}/{sid}"))
}

fn sids_of(table: &SidTable, plugin_id: u32, max_sid: u32) -> usize {
    (0..=max_sid)
        .filter(|&s| table.sid(plugin_id, s).is_some())
        .count()
}

#[test]
fn every_file_loads_on_its_own() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap_or_else(|e| panic!("read corpus dir: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 36);
    for file in &files {
        let mut table = SidTable::new();
        if let Err(e) = table.load_path(file) {
            panic!("{e}");
        }
    }
}

#[test]
fn totals_across_the_directory() {
    let (table, report) = load_all();
    assert_eq!(
        report,
        LoadReport {
            plugins: 244,
            sids: 31_064,
            skipped_statements: 394,
        }
    );
    assert_eq!(table.plugin_count(), 213);
    assert_eq!(table.sid_count(), 30_812);
}

#[test]
fn sshd() {
    let (table, _) = load_all();
    assert_eq!(
        sid(&table, 4003, 1),
        &SidInfo {
            name: "SSHd: Failed password".into(),
            priority: 3,
            reliability: 2,
            category_id: None,
            subcategory_id: None,
            class_id: None,
        }
    );
    // sids 1..=27 and 96..=102; the last two lines have no space after the
    // comma.
    assert_eq!(sids_of(&table, 4003, 1000), 34);
    assert!(table.sid(4003, 102).is_some());
    let plugin = table
        .plugin(4003)
        .unwrap_or_else(|| panic!("no plugin 4003"));
    assert_eq!(
        (plugin.name.as_str(), plugin.kind),
        ("sshd", PluginKind::Detector)
    );
}

#[test]
fn cisco_asa_multi_row_values() {
    let mut table = SidTable::new();
    let report = table
        .load_path(&corpus_dir().join("cisco-asa.sql"))
        .unwrap_or_else(|e| panic!("{e}"));
    // One INSERT with 2030 rows; five (plugin_id, sid) pairs appear twice.
    assert_eq!(
        report,
        LoadReport {
            plugins: 1,
            sids: 2030,
            skipped_statements: 2,
        }
    );
    assert_eq!(table.sid_count(), 2025);
    let (all, _) = load_all();
    assert_eq!(sids_of(&all, 1636, 1_200_000), 2025);
    let first = sid(&all, 1636, 999_999);
    assert_eq!(
        (first.priority, first.reliability, first.category_id),
        (1, 1, None)
    );
    let info = sid(&all, 1636, 101_001);
    assert_eq!(
        (info.category_id, info.subcategory_id),
        (Some(11), Some(139))
    );
    // The file is not valid UTF-8 here; invalid bytes become U+FFFD.
    let name = &sid(&all, 1636, 717_034).name;
    assert!(name.contains('\u{fffd}') && name.contains("id-pkix-ocsp-nocheck"));
}

#[test]
fn special_forms() {
    let (table, _) = load_all();
    // Whole-file row counts for the biggest plugins.
    assert_eq!(sids_of(&table, 1510, 20_000), 11_040);
    assert_eq!(sids_of(&table, 1001, 100_000), 6160);
    // `\:` is a MySQL escape for `:`.
    assert_eq!(
        sid(&table, 1001, 223).name,
        "DDOS Trin00:DaemontoMaster(PONGdetected)"
    );
    // `\'` inside a single-quoted string.
    assert_eq!(
        sid(&table, 1573, 7).name,
        "SonicWALL: ' Log full; deactivating SonicWALL  '"
    );
    // INSERT IGNORE with the same key later in the file: the first row wins.
    assert_eq!(
        sid(&table, 1573, 1210).name,
        "SonicWALL: MAC\u{2010}IP Anti\u{2010}spoof cache not found for this router."
    );
    // Explicit NULL priority (fortigate) gets the default 1.
    let fortigate = sid(&table, 1554, 2);
    assert_eq!((fortigate.priority, fortigate.reliability), (1, 1));
    // Leading zeros in a sid; priority 0 is kept.
    let tipping = sid(&table, 1612, 79);
    assert_eq!((tipping.priority, tipping.reliability), (0, 1));
    // Quoted numbers in a backticked `plugin` insert with a vendor column.
    assert_eq!(
        table.plugin(1626).map(|p| p.name.as_str()),
        Some("Juniper-SRX")
    );
    // REPLACE INTO plugin_sid rows count.
    assert_eq!(sid(&table, 12_001, 51).priority, 3);
    // Plugin kinds.
    assert_eq!(
        table.plugin(2007).map(|p| p.kind),
        Some(PluginKind::Monitor)
    );
    assert_eq!(
        table.plugin(5001).map(|p| p.kind),
        Some(PluginKind::Other(4))
    );
    assert_eq!(
        table.plugin(3002).map(|p| p.kind),
        Some(PluginKind::Other(3))
    );
    // The directive plugin has a plugin row but no sid rows.
    assert!(table.knows_plugin(1505));
    assert_eq!(sids_of(&table, 1505, 1000), 0);
}

#[test]
fn a_later_file_overrides_an_earlier_one() {
    let (table, _) = load_all();
    // snort.sql (plain INSERT, priority 5, reliability 3) is loaded before
    // snort_preprocessors.sql (DELETE, then INSERT IGNORE without priority).
    let bo = sid(&table, 1105, 1);
    assert!(bo.name.starts_with("snort_spp_bo: "), "{bo:?}");
    assert_eq!((bo.priority, bo.reliability), (1, 1));
    assert_eq!(
        table.plugin(1105).map(|p| p.name.as_str()),
        Some("snort_spp_bo")
    );
}
