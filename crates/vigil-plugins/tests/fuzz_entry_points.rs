//! The cargo-fuzz entry points, run without cargo-fuzz: over every seed in `fuzz/seeds/` and
//! over proptest inputs, so CI exercises them on stable.

use proptest::prelude::*;
use vigil_plugins::cfg::{fuzz_load, fuzz_match};

#[test]
fn every_seed_passes_both_targets() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds");
    let mut reached = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let parsed = fuzz_match(&data).map(|p| format!("{} {}", p.plugin_id, p.rule));
        fuzz_load(&data);
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        reached.insert(name, parsed.unwrap_or_default());
    }
    let reached: Vec<(&str, &str)> = reached
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Each seed reaches the rule it was written for (the matching paths the fuzzer starts from).
    assert_eq!(
        reached,
        vec![
            ("backref", "9003 0001 - repeated word"),
            ("cfg-bad-id", ""),
            ("cfg-nested-quantifier", ""),
            ("dotted-version", "9002 0003 - dotted version"),
            ("embedded-newline", "9001 0001 - login"),
            ("firewall", "9002 0001 - deny"),
            ("hex", "9002 0002 - hex"),
            ("kelvin-sign", "9001 0001 - login"),
            ("non-utf8", "9001 0001 - login"),
            ("ssh-accepted", "9001 0001 - login"),
            ("ssh-failed", "9001 0001 - login"),
            ("sudo", "9001 0002 - sudo"),
        ]
    );
}

/// Lines made of the pieces the fuzz plugins look for, so inputs reach deep into the rules.
fn loggish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b"Mar  3 10:11:12 ".to_vec()),
            Just(b"gw ".to_vec()),
            Just(b"sshd[1]: ".to_vec()),
            Just(b"Failed password for ".to_vec()),
            Just(b"Accepted publickey for ".to_vec()),
            Just(b"invalid user ".to_vec()),
            Just(b"root from 10.0.0.1 port 22".to_vec()),
            Just(b"sudo: bob : COMMAND=".to_vec()),
            Just(b"%FW-4-106023: Deny udp src a:1.2.3.4/5 dst b:5.6.7.8/9".to_vec()),
            Just(b"code=0xff ".to_vec()),
            Just(b"word word ".to_vec()),
            Just(b"\n".to_vec()),
            Just("\u{212a}é".as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..6),
        ],
        0..10,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn matcher_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_match(&data);
    }

    #[test]
    fn matcher_on_loggish_lines(data in loggish()) {
        fuzz_match(&data);
    }

    #[test]
    fn loader_on_arbitrary_text(data in "(\\[[a-z0-9 -]{0,8}\\]\n|(plugin_id|regexp|plugin_sid|event_type|source|precheck)=[^\n]{0,30}\n|\\PC{0,16}\n){0,10}") {
        fuzz_load(data.as_bytes());
    }
}
