use super::*;

fn load(text: &str) -> (SidTable, LoadReport) {
    let mut table = SidTable::new();
    match table.load_sql("t.sql", text) {
        Ok(report) => (table, report),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn sid(table: &SidTable, plugin_id: u32, sid: u32) -> &SidInfo {
    table
        .sid(plugin_id, sid)
        .unwrap_or_else(|| panic!("no sid {plugin_id}/{sid}"))
}

/// Loads `text`, expects an error and returns `line:column: reason`.
fn error(text: &str) -> String {
    let mut table = SidTable::new();
    match table.load_sql("bad.sql", text) {
        Ok(report) => panic!("expected an error, got {report:?}"),
        Err(e) => {
            assert_eq!(e.file(), "bad.sql");
            assert_eq!(table.sid_count() + table.plugin_count(), 0);
            format!("{}:{}: {}", e.line(), e.column(), e.reason())
        }
    }
}

#[test]
fn plugin_rows_and_kinds() {
    let (table, report) = load(
        "INSERT INTO plugin (id, type, name, description) VALUES (10, 1, 'det', 'A detector');\n\
         INSERT INTO plugin (name, id, type) VALUES ('mon', 11, 2), ('scan', 12, 3);\n\
         INSERT INTO plugin (id, type, name, description, vendor) VALUES ('13', '4', \"inv\", NULL, 'v');",
    );
    assert_eq!(
        report,
        LoadReport {
            plugins: 4,
            sids: 0,
            skipped_statements: 0
        }
    );
    assert_eq!(
        table.plugin(10),
        Some(&PluginInfo {
            id: 10,
            kind: PluginKind::Detector,
            name: "det".into(),
            description: "A detector".into(),
            product: None,
        })
    );
    assert_eq!(table.plugin(11).map(|p| p.kind), Some(PluginKind::Monitor));
    assert_eq!(table.plugin(11).map(|p| p.description.as_str()), Some(""));
    assert_eq!(table.plugin(12).map(|p| p.kind), Some(PluginKind::Other(3)));
    assert_eq!(table.plugin(13).map(|p| p.kind), Some(PluginKind::Other(4)));
    assert_eq!(table.plugin(13).map(|p| p.description.as_str()), Some(""));
    assert_eq!(table.plugin_count(), 4);
    assert!(table.knows_plugin(12));
    let mut typed = SidTable::new();
    typed
        .load_sql("t.sql", "INSERT INTO plugin (id, type, name, product_type) VALUES (20, 1, 'fw', 5), (21, 1, 'x', 0);")
        .unwrap();
    assert_eq!(typed.plugin(20).and_then(|p| p.product), Some(5));
    assert_eq!(
        typed.plugin(21).and_then(|p| p.product),
        None,
        "0 is OSSIM's 'no product type'"
    );
    assert!(!table.knows_plugin(14));
}

#[test]
fn column_orders_and_defaults() {
    let (table, report) = load(
        "INSERT INTO plugin_sid (plugin_id, sid, category_id, class_id, name, priority, reliability) \
         VALUES (20, 1, 3, 4, 'one', 5, 10);\n\
         INSERT INTO plugin_sid (name, reliability, sid, priority, plugin_id, subcategory_id) \
         VALUES ('two', 0, 2, 0, 20, 77);\n\
         INSERT INTO plugin_sid (sid, plugin_id, name) VALUES (3, 20, 'three');\n\
         INSERT INTO plugin_sid (plugin_id, sid, name, priority) VALUES (21, 4, 'four', 4);",
    );
    assert_eq!(report.sids, 4);
    assert_eq!(
        sid(&table, 20, 1),
        &SidInfo {
            name: "one".into(),
            priority: 5,
            reliability: 10,
            category_id: Some(3),
            subcategory_id: None,
            class_id: Some(4)
        }
    );
    assert_eq!(
        sid(&table, 20, 2),
        &SidInfo {
            name: "two".into(),
            priority: 0,
            reliability: 0,
            category_id: None,
            subcategory_id: Some(77),
            class_id: None
        }
    );
    let three = sid(&table, 20, 3);
    assert_eq!((three.priority, three.reliability), (1, 1));
    let four = sid(&table, 21, 4);
    assert_eq!((four.priority, four.reliability), (4, 1));
    assert_eq!(table.sid_count(), 4);
    // Known through sid rows only.
    assert!(table.knows_plugin(21));
    assert_eq!(table.plugin(21), None);
    assert_eq!(table.sid(21, 5), None);
}

#[test]
fn multi_row_values_across_lines_with_comments() {
    let (table, report) = load(
        "INSERT IGNORE INTO plugin_sid (plugin_id, sid, name, priority) VALUES\n\
         (30, 1, 'a', 1),\n\
         -- a comment between rows\n\
         \n\
         (30, 2, 'b', 2), # another one\n\
         /* and a\n block */ (30, 3,\n 'c', 3)\n\
         ;\n",
    );
    assert_eq!(report.sids, 3);
    assert_eq!(table.sid_count(), 3);
    assert_eq!(sid(&table, 30, 3).name, "c");
    assert_eq!(sid(&table, 30, 3).priority, 3);
}

#[test]
fn escapes_in_names() {
    let (table, _) = load(
        r#"INSERT INTO plugin_sid (plugin_id, sid, name) VALUES
        (40, 1, 'it''s'), (40, 2, 'it\'s'), (40, 3, "say \"hi\""), (40, 4, "a ""b"""),
        (40, 5, 'back\\slash'), (40, 6, 'keep\:colon'), (40, 7, 'not /* a comment */ -- or # this');"#,
    );
    let names: Vec<&str> = (1..=7).map(|s| sid(&table, 40, s).name.as_str()).collect();
    assert_eq!(
        names,
        [
            "it's",
            "it's",
            "say \"hi\"",
            "a \"b\"",
            "back\\slash",
            "keep:colon",
            "not /* a comment */ -- or # this"
        ]
    );
}

#[test]
fn nulls() {
    let (table, _) = load(
        "INSERT INTO plugin_sid (plugin_id, sid, category_id, subcategory_id, class_id, priority, reliability, name) \
         VALUES (50, 1, NULL, null, NULL, NULL, NULL, 'n');",
    );
    assert_eq!(
        sid(&table, 50, 1),
        &SidInfo {
            name: "n".into(),
            priority: 1,
            reliability: 1,
            category_id: None,
            subcategory_id: None,
            class_id: None
        }
    );
}

#[test]
fn backticks_spacing_and_qualified_names() {
    let (table, report) = load(
        "insert ignore into `plugin_sid`(`plugin_id`,`sid`,`name`,`aro`)values(60,1,'x','0.0000');\n\
         INSERT INTO alienvault.plugin_sid(plugin_id,sid,name) VALUE (60,2,'y');\n\
         REPLACE `plugin` (`id`,`type`,`name`) VALUES (60,1,'p')",
    );
    assert_eq!((report.plugins, report.sids), (1, 2));
    assert_eq!(sid(&table, 60, 1).name, "x");
    assert_eq!(sid(&table, 60, 2).name, "y");
    assert_eq!(table.plugin(60).map(|p| p.name.as_str()), Some("p"));
}

#[test]
fn quoted_and_padded_numbers() {
    let (table, _) = load(
        "INSERT INTO plugin_sid (plugin_id, sid, name, priority, category_id) VALUES ('70', 0042, 'q', ' 2 ', '9');",
    );
    let info = sid(&table, 70, 42);
    assert_eq!((info.priority, info.category_id), (2, Some(9)));
}

#[test]
fn other_statements_are_skipped() {
    let (table, report) = load(
        "DELETE FROM plugin WHERE id = \"80\";\n\
         delete from plugin_sid where plugin_id BETWEEN 80 and 81;\n\
         UPDATE plugin_sid SET priority = 9 WHERE plugin_id = 80;\n\
         INSERT INTO plugin_reference (plugin_id, plugin_sid) VALUES (1, 2);\n\
         REPLACE INTO host_plugin_sid VALUES ('bogus', 7);\n\
         ;;\n\
         INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (80, 1, 'kept');",
    );
    assert_eq!(
        report,
        LoadReport {
            plugins: 0,
            sids: 1,
            skipped_statements: 5
        }
    );
    assert_eq!(table.sid_count(), 1);
}

#[test]
fn insert_ignore_keeps_the_first_row_of_a_load() {
    let (table, report) = load(
        "INSERT IGNORE INTO plugin_sid (plugin_id, sid, name, priority) VALUES (90, 1, 'first', 2), (90, 1, 'second', 3);\n\
         INSERT IGNORE INTO plugin_sid (plugin_id, sid, name) VALUES (90, 1, 'third');\n\
         INSERT IGNORE INTO plugin (id, type, name) VALUES (90, 1, 'p1'), (90, 2, 'p2');",
    );
    assert_eq!((report.plugins, report.sids), (2, 3));
    assert_eq!(sid(&table, 90, 1).name, "first");
    assert_eq!(sid(&table, 90, 1).priority, 2);
    assert_eq!(table.plugin(90).map(|p| p.name.as_str()), Some("p1"));
    assert_eq!(table.sid_count(), 1);
}

#[test]
fn plain_insert_and_replace_overwrite() {
    let (table, _) = load(
        "INSERT IGNORE INTO plugin_sid (plugin_id, sid, name) VALUES (91, 1, 'ignored-first');\n\
         INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (91, 1, 'plain');\n\
         INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (91, 2, 'a'), (91, 2, 'b');\n\
         REPLACE INTO plugin_sid (plugin_id, sid, name) VALUES (91, 3, 'c');\n\
         REPLACE INTO plugin_sid (plugin_id, sid, name) VALUES (91, 3, 'd');\n\
         INSERT INTO plugin (id, type, name) VALUES (91, 1, 'x');\n\
         REPLACE INTO plugin (id, type, name) VALUES (91, 2, 'y');",
    );
    assert_eq!(sid(&table, 91, 1).name, "plain");
    assert_eq!(sid(&table, 91, 2).name, "b");
    assert_eq!(sid(&table, 91, 3).name, "d");
    assert_eq!(table.plugin(91).map(|p| p.name.as_str()), Some("y"));
}

#[test]
fn a_later_load_replaces_even_with_ignore() {
    let mut table = SidTable::new();
    let first = "INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (92, 1, 'old'), (92, 2, 'only-old');\n\
                 INSERT INTO plugin (id, type, name) VALUES (92, 1, 'old');";
    let second = "INSERT IGNORE INTO plugin_sid (plugin_id, sid, name) VALUES (92, 1, 'new'), (92, 1, 'newer');\n\
                  INSERT IGNORE INTO plugin (id, type, name) VALUES (92, 2, 'new');";
    assert!(table.load_sql("a.sql", first).is_ok());
    assert!(table.load_sql("b.sql", second).is_ok());
    assert_eq!(sid(&table, 92, 1).name, "new");
    assert_eq!(sid(&table, 92, 2).name, "only-old");
    assert_eq!(table.plugin(92).map(|p| p.kind), Some(PluginKind::Monitor));
}

#[test]
fn error_unterminated_string() {
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES\n  (1, 2, 'never ends);\n"),
        "2:10: unterminated string literal"
    );
    assert_eq!(
        error("DELETE FROM plugin WHERE id = \"3;"),
        "1:31: unterminated string literal"
    );
}

#[test]
fn error_unterminated_comment_and_backtick() {
    assert_eq!(error("-- ok\n  /* open"), "2:3: unterminated /* comment");
    assert_eq!(
        error("INSERT INTO `plugin_sid (a) VALUES (1);"),
        "1:13: unterminated `quoted` identifier"
    );
}

#[test]
fn error_arity() {
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name)\nVALUES (1, 1, 'a'),\n       (1, 2);"),
        "3:8: VALUES tuple has 2 values but the column list has 3"
    );
    assert_eq!(
        error("INSERT INTO plugin (id, type, name) VALUES (1, 1, 'a', 'extra');"),
        "1:44: VALUES tuple has 4 values but the column list has 3"
    );
    assert_eq!(
        error("INSERT INTO plugin (id, type, name) VALUES ();"),
        "1:44: VALUES tuple has 0 values but the column list has 3"
    );
}

#[test]
fn error_non_numeric_ids() {
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES ('ssh', 1, 'a');"),
        "1:55: `plugin_id` needs an integer, found \"ssh\""
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (name, sid, plugin_id)\n VALUES ('a', '1x', 4);"),
        "2:15: `sid` needs an integer, found \"1x\""
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 2.5, 'a');"),
        "1:58: `sid` needs an integer, found \"2.5\""
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (-1, 2, 'a');"),
        "1:55: `plugin_id` value -1 is out of range 0..=4294967295"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, NULL, 'a');"),
        "1:58: `sid` must not be NULL"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 2, NULL);"),
        "1:61: `name` must not be NULL"
    );
    assert_eq!(
        error("INSERT INTO plugin (id, type, name) VALUES (1, 'x', 'n');"),
        "1:48: `type` needs an integer, found \"x\""
    );
}

#[test]
fn error_missing_required_columns() {
    assert_eq!(
        error("INSERT INTO plugin_sid (sid, name) VALUES (1, 'a');"),
        "1:24: `plugin_sid` column list lacks required column `plugin_id`"
    );
    assert_eq!(
        error("INSERT IGNORE INTO plugin_sid\n  (plugin_id, name) VALUES (1, 'a');"),
        "2:3: `plugin_sid` column list lacks required column `sid`"
    );
    assert_eq!(
        error("REPLACE INTO plugin_sid (plugin_id, sid, priority) VALUES (1, 2, 3);"),
        "1:25: `plugin_sid` column list lacks required column `name`"
    );
    assert_eq!(
        error("INSERT INTO plugin (id, name) VALUES (1, 'a');"),
        "1:20: `plugin` column list lacks required column `type`"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid VALUES (1, 2, 'a');"),
        "1:24: expected `(`, found `VALUES`"
    );
}

#[test]
fn error_out_of_range_scores() {
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name, priority) VALUES (1, 2, 'a', 6);"),
        "1:76: priority 6 is out of range 0..=5"
    );
    assert_eq!(
        error(
            "INSERT INTO plugin_sid (plugin_id, sid, name, reliability)\nVALUES (1, 2, 'a', 10), (1, 3, 'b', 11);"
        ),
        "2:37: reliability 11 is out of range 0..=10"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name, priority) VALUES (1, 2, 'a', -1);"),
        "1:76: priority -1 is out of range 0..=5"
    );
}

#[test]
fn error_bad_columns_and_syntax() {
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name, priorty) VALUES (1, 2, 'a', 1);"),
        "1:47: unknown column `priorty` in table `plugin_sid`"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, sid, name) VALUES (1, 2, 2, 'a');"),
        "1:41: column `sid` listed twice"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 1 + 1, 'a');"),
        "1:60: expected `,` or `)`, found `+`"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, now(), 'a');"),
        "1:58: expected a number, string or NULL, found `now`"
    );
    assert_eq!(
        error(
            "INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 2, 'a')\nON DUPLICATE KEY UPDATE name = 'b';"
        ),
        "2:1: expected `,` or `;`, found `ON`"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) SELECT 1, 2, 'a';"),
        "1:47: expected VALUES, found `SELECT`"
    );
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 2, 'a'"),
        "1:64: expected `,` or `)`, found end of statement"
    );
}

#[test]
fn an_error_leaves_the_table_unchanged() {
    let mut table = SidTable::new();
    let good = "INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (5, 1, 'kept');";
    assert!(table.load_sql("good.sql", good).is_ok());
    let bad = "INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (5, 1, 'replaced'), (5, 2, 'new');\n\
               INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (5, 3);";
    let err = table.load_sql("bad.sql", bad).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("bad.sql:2:54: VALUES tuple has 2 values but the column list has 3".to_owned())
    );
    assert_eq!(table.sid_count(), 1);
    assert_eq!(sid(&table, 5, 1).name, "kept");
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(
        error("INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (1, 2, 'é→'), (x"),
        "1:69: expected a number, string or NULL, found `x`"
    );
}

#[test]
fn load_path_reads_a_directory_in_name_order() {
    let dir = std::env::temp_dir().join(format!("vigil-sid-table-{}", std::process::id()));
    let write = |name: &str, text: &[u8]| {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    write(
        "b.sql",
        b"INSERT IGNORE INTO plugin_sid (plugin_id, sid, name) VALUES (7, 1, 'from b');",
    );
    write(
        "a.sql",
        b"INSERT INTO plugin_sid (plugin_id, sid, name) VALUES (7, 1, 'from a'), (7, 2, 'bad \xff byte');",
    );
    write("c.txt", b"not sql at all '");
    let mut table = SidTable::new();
    let report = table.load_path(&dir);
    let single = SidTable::new().load_path(&dir.join("a.sql"));
    let missing = SidTable::new().load_path(&dir.join("missing.sql"));
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("cleanup: {e}"));
    assert_eq!(
        report,
        Ok(LoadReport {
            plugins: 0,
            sids: 3,
            skipped_statements: 0
        })
    );
    assert_eq!(sid(&table, 7, 1).name, "from b");
    assert_eq!(sid(&table, 7, 2).name, "bad \u{fffd} byte");
    assert_eq!(single.map(|r| r.sids), Ok(2));
    let missing = missing.err().map(|e| (e.line(), e.to_string()));
    assert!(
        matches!(&missing, Some((0, text)) if text.contains("missing.sql: cannot read file")),
        "{missing:?}"
    );
}
