//! Loads OSSIM's cross-correlation data: `crosscorrelation/cross-free.sql`
//! and the nessus subset in `db-schema/03-create_alienvault_data_croscor_snort_nessus.sql`.
//!
//! The expected numbers were counted independently of this crate with grep:
//!
//! ```sh
//! f=crosscorrelation/cross-free.sql
//! grep -c '^INSERT IGNORE INTO plugin_reference' $f                   # 7236 rows
//! grep -o 'VALUES ([0-9, ]*)' $f | sort -u | wc -l                     # 7236 distinct
//! grep -o 'VALUES ([0-9]*, [0-9]*,' $f | sort -u | wc -l               # 5421 attacks
//! grep -o 'VALUES ([0-9]*, [0-9]*, [0-9]*' $f | awk '{print $4}' | sort | uniq -c
//!                                                     # 1672 → 3001, 5564 → 5003
//! grep -cE '^\([0-9]+, [0-9]+, [0-9]+, [0-9]+\)[,;]' 03-…sql          # 1672 rows, 538 attacks
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use vigil_plugins::references::{
    NESSUS_PLUGIN_ID, OSVDB_PLUGIN_ID, PluginSid, ReferenceReport, References,
};

fn ossim_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/ossim"
    ));
    assert!(
        dir.is_dir(),
        "corpus directory {} is missing",
        dir.display()
    );
    dir
}

fn cross_free() -> (References, ReferenceReport) {
    let mut refs = References::new();
    let report = refs
        .load_path(&ossim_dir().join("crosscorrelation/cross-free.sql"))
        .unwrap_or_else(|e| panic!("{e}"));
    (refs, report)
}

const fn ps(plugin_id: u32, sid: u32) -> PluginSid {
    PluginSid::new(plugin_id, sid)
}

#[test]
fn cross_free_totals() {
    let (refs, report) = cross_free();
    assert_eq!(
        report,
        ReferenceReport {
            rows: 7236,
            // SET UNIQUE_CHECKS=0; DELETE FROM plugin_reference;
            skipped_statements: 2,
        }
    );
    assert_eq!(refs.len(), 7236, "every row is distinct");
    assert_eq!(refs.attack_count(), 5421);
    let (mut nessus, mut osvdb, mut other) = (0, 0, 0);
    for (attack, references) in refs.iter() {
        assert_eq!(attack.plugin_id, 1001, "all attacks are snort sids");
        for reference in references {
            match reference.plugin_id {
                NESSUS_PLUGIN_ID => nessus += 1,
                OSVDB_PLUGIN_ID => osvdb += 1,
                _ => other += 1,
            }
        }
    }
    assert_eq!((nessus, osvdb, other), (1672, 5564, 0));
}

#[test]
fn cross_free_sids_checked_by_grep() {
    let (refs, _) = cross_free();
    // grep '(1001, 1004,' cross-free.sql
    assert_eq!(
        refs.references(ps(1001, 1004)),
        &[ps(5003, 3114), ps(5003, 1_072_262)]
    );
    // grep '(1001, 1005,' cross-free.sql
    assert_eq!(
        refs.references(ps(1001, 1005)),
        &[ps(3001, 10007), ps(5003, 7)]
    );
    // grep '(1001, 120,' cross-free.sql
    assert_eq!(
        refs.references(ps(1001, 120)),
        &[
            ps(3001, 10132),
            ps(3001, 10796),
            ps(3001, 13644),
            ps(5003, 20)
        ]
    );
    // The attack with the most references: 97 nessus checks and one OSVDB id
    // (grep -o 'VALUES (1001, [0-9]*,' | sort | uniq -c | sort -rn | head -1).
    let most = refs
        .iter()
        .max_by_key(|(attack, list)| (list.len(), *attack))
        .map(|(attack, list)| (attack, list.len()));
    assert_eq!(most, Some((ps(1001, 2242), 98)));
    assert_eq!(
        refs.reference_sids(ps(1001, 2242), NESSUS_PLUGIN_ID)
            .count(),
        97
    );
    // The last line of the file.
    assert_eq!(refs.references(ps(1001, 996)), &[ps(5003, 284)]);
    assert!(refs.references(ps(1001, 1)).is_empty());
}

#[test]
fn db_schema_nessus_subset_adds_nothing() {
    let mut refs = References::new();
    let report = refs
        .load_path(
            &ossim_dir().join("db-schema/03-create_alienvault_data_croscor_snort_nessus.sql"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    // One multi-row INSERT; the other statements (SET, TRUNCATE, REPLACE
    // INTO other tables, SELECT … INTO @var) are skipped.
    assert_eq!(report.rows, 1672);
    assert!(report.skipped_statements > 0);
    assert_eq!(refs.len(), 1672);
    assert_eq!(refs.attack_count(), 538);
    assert_eq!(
        refs.reference_sids(ps(1001, 120), OSVDB_PLUGIN_ID).count(),
        0
    );
    // Every one of these rows is also in cross-free.sql: the union is 7236.
    refs.load_path(&ossim_dir().join("crosscorrelation/cross-free.sql"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refs.len(), 7236);
}

#[test]
fn the_directory_loads_as_a_whole() {
    let mut refs = References::new();
    let report = refs
        .load_path(&ossim_dir().join("crosscorrelation"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows, 7236);
    assert_eq!(refs.len(), 7236);
}
