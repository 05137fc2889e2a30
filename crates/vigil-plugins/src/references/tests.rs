use super::*;

fn load(text: &str) -> (References, ReferenceReport) {
    let mut refs = References::new();
    match refs.load_sql("t.sql", text) {
        Ok(report) => (refs, report),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Loads `text`, expects an error and returns `line:column: reason`.
fn error(text: &str) -> String {
    let mut refs = References::new();
    match refs.load_sql("bad.sql", text) {
        Ok(report) => panic!("expected an error, got {report:?}"),
        Err(e) => {
            assert_eq!(e.file(), "bad.sql");
            assert!(refs.is_empty(), "nothing stored on error");
            format!("{}:{}: {}", e.line(), e.column(), e.reason())
        }
    }
}

const fn ps(plugin_id: u32, sid: u32) -> PluginSid {
    PluginSid::new(plugin_id, sid)
}

#[test]
fn cross_free_shape_many_to_many() {
    let (refs, report) = load(
        "SET UNIQUE_CHECKS=0;\nDELETE FROM plugin_reference;\n\n\
         INSERT IGNORE INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (1001, 1004, 5003, 1072262);\n\
         INSERT IGNORE INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (1001, 1004, 5003, 3114);\n\
         INSERT IGNORE INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (1001, 1005, 3001, 10007);\n\
         INSERT IGNORE INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (1001, 1005, 5003, 7);\n",
    );
    assert_eq!(
        report,
        ReferenceReport {
            rows: 4,
            skipped_statements: 2
        }
    );
    assert_eq!(refs.len(), 4);
    assert_eq!(refs.attack_count(), 2);
    assert_eq!(
        refs.references(ps(1001, 1004)),
        &[ps(5003, 3114), ps(5003, 1_072_262)]
    );
    assert_eq!(
        refs.references(ps(1001, 1005)),
        &[ps(3001, 10007), ps(5003, 7)]
    );
    assert_eq!(
        refs.reference_sids(ps(1001, 1005), OSVDB_PLUGIN_ID)
            .collect::<Vec<_>>(),
        vec![7]
    );
    assert!(refs.links(ps(1001, 1005), ps(3001, 10007)));
    assert!(!refs.links(ps(1001, 1004), ps(3001, 10007)));
    assert!(refs.references(ps(1001, 1)).is_empty());
    assert!(!refs.has_references(ps(1001, 1)));
}

#[test]
fn columns_in_any_order_and_quoted_numbers() {
    let (refs, report) = load(
        "INSERT INTO `alienvault`.`plugin_reference` (reference_sid, reference_id, plugin_sid, plugin_id, ctx)\n\
         VALUES (10, 3001, 2, 1001, ''), -- comment\n (11, '3001', ' 2 ', 1001, NULL);\n\
         REPLACE plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUE (7, 8, 9, 10)",
    );
    assert_eq!(report.rows, 3);
    assert_eq!(refs.references(ps(1001, 2)), &[ps(3001, 10), ps(3001, 11)]);
    assert_eq!(refs.references(ps(7, 8)), &[ps(9, 10)]);
}

#[test]
fn duplicates_are_stored_once_across_statements_and_loads() {
    let text = "INSERT INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) \
                VALUES (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 5);\n\
                REPLACE INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (1, 2, 3, 4);";
    let (mut refs, report) = load(text);
    assert_eq!(report.rows, 4);
    assert_eq!(refs.len(), 2);
    assert_eq!(refs.load_sql("again.sql", text).map(|r| r.rows), Ok(4));
    assert_eq!(refs.len(), 2, "loading twice changes nothing");
    assert!(!refs.insert(ps(1, 2), ps(3, 5)));
    assert!(refs.insert(ps(1, 2), ps(0, 0)));
    assert_eq!(refs.references(ps(1, 2)), &[ps(0, 0), ps(3, 4), ps(3, 5)]);
    assert_eq!(refs.len(), 3);
}

#[test]
fn other_tables_and_statements_are_skipped() {
    let (refs, report) = load(
        "SET @newuuid = REPLACE(UUID(),'-','');\n\
         REPLACE INTO alienvault.plugin_group (group_id,name,descr) VALUES (@newuuid, 'x', 'y');\n\
         INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 2, 'n');\n\
         TRUNCATE TABLE plugin_reference;",
    );
    assert_eq!(
        report,
        ReferenceReport {
            rows: 0,
            skipped_statements: 4
        }
    );
    assert!(refs.is_empty());
}

#[test]
fn errors_name_line_and_column() {
    let head =
        "INSERT INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES ";
    assert_eq!(
        error(&format!("SET x=1;\n{head}(1, 2, 3)")),
        "2:90: VALUES tuple has 3 values but the column list has 4"
    );
    assert_eq!(
        error(&format!("{head}(1, 2, 3, -4)")),
        "1:100: `reference_sid` value -4 is out of range 0..=4294967295"
    );
    assert_eq!(
        error(&format!("{head}(1, NULL, 3, 4)")),
        "1:94: `plugin_sid` must not be NULL"
    );
    assert_eq!(
        error(&format!("{head}(1, 'abc', 3, 4)")),
        "1:94: `plugin_sid` needs an integer, found \"abc\""
    );
    assert_eq!(
        error(&format!("{head}(1, 2, 3, 4) (5, 6, 7, 8)")),
        "1:103: expected `,` or `;`, found `(`"
    );
    assert_eq!(
        error(
            "INSERT INTO plugin_reference (plugin_id, plugin_sid, reference_id) VALUES (1, 2, 3)"
        ),
        "1:30: `plugin_reference` column list lacks required column `reference_sid`"
    );
    assert_eq!(
        error(
            "INSERT INTO plugin_reference (plugin_id, sid, reference_id, reference_sid) VALUES (1, 2, 3, 4)"
        ),
        "1:42: unknown column `sid` in table `plugin_reference`"
    );
    assert_eq!(
        error(&format!(
            "{head}(1, 2, 3, 4);\n{head}(1, 2, 3, 4, 'unterminated)"
        )),
        "2:103: unterminated string literal"
    );
}

#[test]
fn an_error_keeps_earlier_loads() {
    let (mut refs, _) = load(
        "INSERT INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (1, 2, 3, 4)",
    );
    let bad = "INSERT INTO plugin_reference (plugin_id, plugin_sid, reference_id, reference_sid) VALUES (5, 6, 7, 8), (x)";
    assert!(refs.load_sql("bad.sql", bad).is_err());
    assert_eq!(refs.len(), 1);
    assert!(refs.references(ps(5, 6)).is_empty());
}

#[test]
fn display_and_io_errors() {
    let mut refs = References::new();
    let missing = Path::new("/nonexistent/vigil/refs.sql");
    let error = refs.load_path(missing).err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with("/nonexistent/vigil/refs.sql: cannot read file")),
        "{error:?}"
    );
    let error = refs
        .load_sql("x.sql", "INSERT INTO plugin_reference (")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("x.sql:1:31: expected a column name, found end of statement")
    );
    assert_eq!(ps(1001, 7).to_string(), "1001/7");
}
