//! `load_str` never panics: on arbitrary text, on directive-shaped token soup, and on corpus
//! files truncated or with bytes flipped.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use vigil_directives::load_str;

fn corpus(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/ossim")
        .join(rel);
    assert!(path.exists(), "test corpus missing: {}", path.display());
    path
}

fn corpus_files() -> Vec<(PathBuf, Vec<u8>)> {
    [
        "directives/directives.xml",
        "directives/alienvault-bruteforce.xml",
        "directives/alienvault-misc.xml",
        "directives-legacy-2.1/generic.xml",
        "directives-legacy-2.1/misc.xml",
        "directives-server-tests/dt3.xml",
    ]
    .iter()
    .map(|rel| {
        let path = corpus(rel);
        let bytes = std::fs::read(&path).expect("readable corpus file");
        (path, bytes)
    })
    .collect()
}

/// Pieces of directive files, glued in random order.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<directive id=\"1\" name=\"n\" priority=\"3\">".to_string()),
        Just("</directive>".to_string()),
        Just("<rule type=\"detector\" name=\"r\" ".to_string()),
        Just("<rule type=\"monitor\" name=\"m\" condition=\"ge\" ".to_string()),
        Just("/>".to_string()),
        Just(">".to_string()),
        Just("</rule>".to_string()),
        Just("<rules>".to_string()),
        Just("</rules>".to_string()),
        Just("<directives>".to_string()),
        Just("</directives>".to_string()),
        Just("<groups><group name=\"g\"><append-directive directive_id=\"1\"/></group></groups>".to_string()),
        Just("<timetables><timetable name=\"t\"><timerule datespec=\"Mon\" timespec=\"00:00-01:00\"/></timetable></timetables>".to_string()),
        Just("<!DOCTYPE directives [<!ENTITY x SYSTEM 'x.xml'>]>".to_string()),
        Just("&x;".to_string()),
        (
            prop::sample::select(vec![
                "plugin_id", "plugin_sid", "from", "to", "port_from", "port_to", "protocol", "reliability",
                "occurrence", "time_out", "sticky_different", "userdata1", "username", "suppress", "value",
                "interval", "absolute", "product", "sensor", "entity", "not", "from_rep_min_pri", "bogus",
            ]),
            "[-!+:,;0-9A-Z_/.a-f ]{0,12}",
        )
            .prop_map(|(name, value)| format!(" {name}=\"{value}\"")),
        "\\PC{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,200}") {
        let _ = load_str(Path::new("/nonexistent-vigil-dir/t.xml"), &text);
    }

    #[test]
    fn token_soup(tokens in prop::collection::vec(token(), 0..40)) {
        let _ = load_str(Path::new("/nonexistent-vigil-dir/t.xml"), &tokens.concat());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn corpus_truncated_and_flipped(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let files = corpus_files();
        let (path, bytes) = &files[which.index(files.len())];
        let mut bytes = bytes[..cut.index(bytes.len() + 1)].to_vec();
        if !bytes.is_empty() {
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_str(path, &text);
    }
}
