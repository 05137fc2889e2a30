//! `load_sql` (of the sid table and of the references) must return `Ok` or
//! `Err` — never panic — on any input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use vigil_plugins::references::References;
use vigil_plugins::sid_table::SidTable;

/// All corpus files, lossily decoded. Fails if the corpus is missing.
fn corpus() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/ossim/plugins-sql"
        ));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus files in {}", dir.display());
        files
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect()
    })
}

/// The longest prefix of `text` with at most `len` bytes.
fn prefix(text: &str, len: usize) -> &str {
    let mut end = len.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

fn load(text: &str) {
    let mut table = SidTable::new();
    let _ = table.load_sql("fuzz.sql", text);
    let mut references = References::new();
    let _ = references.load_sql("fuzz.sql", text);
}

/// `crosscorrelation/cross-free.sql`, lossily decoded.
fn cross_free() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/ossim/crosscorrelation/cross-free.sql"
        ));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

proptest! {
    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        load(&text);
    }

    #[test]
    fn sql_like_strings(
        text in r#"(INSERT|IGNORE|INTO|REPLACE|plugin_sid|plugin|VALUES|NULL|plugin_id|sid|name|priority|reliability|[ \n(),;'"`\\#*/\-0-9a-z.])*"#
    ) {
        load(&text);
    }

    #[test]
    fn reference_like_strings(
        text in r#"(INSERT|IGNORE|INTO|REPLACE|plugin_reference|VALUES|NULL|plugin_id|plugin_sid|reference_id|reference_sid|ctx|[ \n(),;'"`\\#*/\-0-9a-z.])*"#
    ) {
        load(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn truncated_corpus(file in any::<prop::sample::Index>(), cut in 0.0f64..=1.0) {
        let texts = corpus();
        let text = file.get(texts);
        // Truncation point as a fraction of the file, rounded down.
        let len = (text.len() as f64 * cut) as usize;
        load(prefix(text, len));
    }

    #[test]
    fn mutated_corpus(
        file in any::<prop::sample::Index>(),
        at in 0.0f64..1.0,
        insert in prop::sample::select(vec!["'", "\"", "`", "(", ")", ",", ";", "/*", "--", "\\", "-", "NULL", "99999999999", ""]),
        remove in 0usize..4,
    ) {
        let texts = corpus();
        let text = file.get(texts);
        let start = prefix(text, (text.len() as f64 * at) as usize).len();
        let rest = text.get(start..).unwrap_or_default();
        let rest = rest.get(prefix(rest, remove).len()..).unwrap_or_default();
        let mutated = format!("{}{insert}{rest}", text.get(..start).unwrap_or_default());
        load(&mutated);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn truncated_and_mutated_cross_free(
        cut in 0.0f64..=1.0,
        insert in prop::sample::select(vec!["'", "(", ")", ",", ";", "/*", "-", "NULL", "99999999999", "-1", ""]),
    ) {
        let text = cross_free();
        let start = prefix(text, (text.len() as f64 * cut) as usize);
        load(start);
        let rest = text.get(start.len()..).unwrap_or_default();
        load(&format!("{start}{insert}{rest}"));
    }
}
