//! The OSSIM corpus (`shared/corpus/ossim`) loads, with exactly the findings expected.
//! Expected facts were checked independently of this crate (grep/python over the files).

use std::path::{Path, PathBuf};

use vigil_directives::*;

fn corpus(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/ossim")
        .join(rel);
    assert!(path.exists(), "test corpus missing: {}", path.display());
    path
}

fn load(rel: &str) -> LoadOutcome {
    let path = corpus(rel);
    load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Diagnostics as "file-name:line:column: severity" plus the attribute.
fn summary(outcome: &LoadOutcome) -> Vec<String> {
    outcome
        .diagnostics
        .iter()
        .map(|d| {
            let name = d
                .location
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!(
                "{name}:{}:{}: {} {}",
                d.location.line,
                d.location.column,
                d.severity,
                d.attribute.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

fn directive(set: &DirectiveSet, id: u32) -> &Directive {
    set.directives
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("directive {id} not loaded"))
}

fn val<T>(value: T) -> Term<T> {
    Term {
        negated: false,
        value: TermValue::Value(value),
    }
}
fn not<T>(value: T) -> Term<T> {
    Term {
        negated: true,
        value: TermValue::Value(value),
    }
}
fn backref<T>(level: u8, var: Var) -> Term<T> {
    Term {
        negated: false,
        value: TermValue::BackRef { level, var },
    }
}
fn port(p: u16) -> PortRange {
    PortRange { start: p, end: p }
}

fn depth(rule: &Rule) -> u8 {
    rule.children.iter().map(depth).max().unwrap_or(rule.level)
}

fn count_by_file(set: &DirectiveSet) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for d in &set.directives {
        let name = d
            .location
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match out.last_mut() {
            Some((last, n)) if *last == name => *n += 1,
            _ => out.push((name, 1)),
        }
    }
    out
}

#[test]
fn ossim_5_4_set_through_directives_xml() {
    let outcome = load("directives");
    assert_eq!(outcome.set.directives.len(), 82);
    assert_eq!(
        count_by_file(&outcome.set),
        [
            ("alienvault-attacks.xml".to_string(), 10),
            ("alienvault-bruteforce.xml".to_string(), 15),
            ("alienvault-malware.xml".to_string(), 33),
            ("alienvault-misc.xml".to_string(), 1),
            ("alienvault-policy.xml".to_string(), 10),
            ("alienvault-scan.xml".to_string(), 13),
        ]
    );
    // Two directives nest a <rule> directly in a <rule>: loaded as OSSIM loads them, without
    // that rule and its subtree, with a warning; the user.xml entity has no file.
    assert_eq!(
        summary(&outcome),
        [
            "alienvault-bruteforce.xml:117:13: warning -",
            "alienvault-malware.xml:211:10: warning -",
            "directives.xml:30:1: warning -",
        ]
    );
    assert!(
        outcome.diagnostics[0]
            .message
            .contains("<rule> directly inside <rule>")
    );
    assert!(outcome.diagnostics[2].message.contains("entity `user`"));
    for truncated in [50028, 40262] {
        assert!(outcome.set.directives.iter().any(|d| d.id == truncated));
    }
    // 50028's first level-2 rule swallowed its sibling: OSSIM keeps it as a leaf.
    let ftp = &directive(&outcome.set, 50028).root;
    assert_eq!(ftp.children.len(), 1);
    assert!(ftp.children[0].children.is_empty());
    assert_eq!(
        outcome.set.groups,
        [Group {
            name: "GroupTest1".into(),
            directive_ids: vec![1]
        }]
    );
    assert!(outcome.set.timetables.is_empty());
    // Ids are unique and in document order of the entities.
    assert_eq!(outcome.set.directives.first().map(|d| d.id), Some(45055));
    assert_eq!(
        outcome
            .set
            .directives
            .last()
            .map(|d| d.location.file.ends_with("alienvault-scan.xml")),
        Some(true)
    );
}

#[test]
fn each_5_4_category_file_loads_standalone() {
    let expected: [(&str, usize, usize); 9] = [
        ("alienvault-attacks.xml", 10, 0),
        ("alienvault-bruteforce.xml", 15, 0),
        ("alienvault-dos.xml", 0, 0),
        ("alienvault-malware.xml", 33, 0),
        ("alienvault-misc.xml", 1, 0),
        ("alienvault-network.xml", 0, 0),
        ("alienvault-policy.xml", 10, 0),
        ("alienvault-scada.xml", 0, 0),
        ("alienvault-scan.xml", 13, 0),
    ];
    for (file, directives, errors) in expected {
        let outcome = load(&format!("directives/{file}"));
        assert_eq!(outcome.set.directives.len(), directives, "{file}");
        assert_eq!(outcome.errors().count(), errors, "{file}");
        let nested = usize::from(matches!(
            file,
            "alienvault-bruteforce.xml" | "alienvault-malware.xml"
        ));
        assert_eq!(outcome.warnings().count(), nested, "{file}");
    }
    // The user-directive template: an empty user.xml, included.
    let template = load("directives/templates/directives.xml");
    assert!(template.set.directives.is_empty() && template.diagnostics.is_empty());
    assert_eq!(template.set.groups.len(), 1);
    let groups = load("directives/groups.xml");
    assert_eq!(
        groups.set.groups,
        [Group {
            name: "test".into(),
            directive_ids: vec![1]
        }]
    );
}

#[test]
fn directive_50004_structure() {
    let outcome = load("directives/alienvault-bruteforce.xml");
    let d = directive(&outcome.set, 50004);
    assert_eq!(
        d.name,
        "AV-FREE-FEED Bruteforce attack, login authentication attack against DST_IP"
    );
    assert_eq!(d.priority, 4);
    assert_eq!((d.location.line, d.location.column), (3, 1));
    let root = &d.root;
    assert_eq!(root.level, 1);
    assert_eq!(root.kind, vigil_event::EventKind::Detector);
    assert_eq!(root.plugin_id, [val(4004)]);
    assert_eq!(root.plugin_sid, [val(2)]);
    assert_eq!(root.reliability, Reliability::Absolute(1));
    assert_eq!((root.occurrence, root.time_out), (1, 0));
    assert!(
        root.from.is_empty()
            && root.to.is_empty()
            && root.port_from.is_empty()
            && root.port_to.is_empty()
    );
    assert_eq!(root.children.len(), 2);

    let [fail, success] = [&root.children[0], &root.children[1]];
    assert_eq!((fail.level, fail.occurrence, fail.time_out), (2, 20, 600));
    assert_eq!(fail.reliability, Reliability::Absolute(4));
    assert_eq!(fail.from, [backref(1, Var::SrcIp)]);
    assert_eq!(fail.to, [backref(1, Var::DstIp)]);
    assert_eq!(
        (fail.plugin_id.clone(), fail.plugin_sid.clone()),
        (vec![val(4004)], vec![val(2)])
    );
    assert_eq!(success.name, "PAM UNIX authentication successful detected");
    assert_eq!(
        (success.level, success.occurrence, success.time_out),
        (2, 1, 10)
    );
    assert_eq!(success.reliability, Reliability::Absolute(0));
    assert_eq!(success.plugin_sid, [val(1)]);
    assert_eq!(success.from, [backref(1, Var::SrcIp)]);
    assert!(success.children.is_empty());

    // The failure chain: (occurrence, time_out, reliability) per level 2..7, each level with a
    // success leaf beside the next failure level.
    let mut chain = Vec::new();
    let mut successes = Vec::new();
    let mut rule = root;
    while let Some(next) = rule.children.first() {
        chain.push((next.level, next.occurrence, next.time_out, next.reliability));
        successes.extend(
            rule.children
                .get(1)
                .map(|s| (s.level, s.reliability, s.plugin_sid.clone())),
        );
        rule = next;
    }
    use Reliability::Absolute as A;
    assert_eq!(
        chain,
        [
            (2, 20, 600, A(4)),
            (3, 50, 1200, A(4)),
            (4, 100, 1200, A(6)),
            (5, 200, 7200, A(10)),
            (6, 1000, 14400, A(10)),
            (7, 10000, 43200, A(10))
        ]
    );
    assert_eq!(
        successes
            .iter()
            .map(|(l, r, _)| (*l, *r))
            .collect::<Vec<_>>(),
        [
            (2, A(0)),
            (3, A(2)),
            (4, A(7)),
            (5, A(10)),
            (6, A(10)),
            (7, A(10))
        ]
    );
    assert!(successes.iter().all(|(_, _, sid)| *sid == [val(1)]));
    assert_eq!(depth(root), 7);
}

#[test]
fn directive_29006_home_net_reputation_ports() {
    let outcome = load("directives/alienvault-misc.xml");
    let root = &directive(&outcome.set, 29006).root;
    assert_eq!(root.from, [not(Address::HomeNet)]);
    assert_eq!(root.to, [val(Address::HomeNet)]);
    assert_eq!(root.port_from, [not(port(80)), not(port(8080))]);
    assert_eq!(root.port_to, [not(port(25))]);
    assert_eq!(root.protocol, [val(vigil_event::Protocol::TCP)]);
    assert_eq!(root.plugin_sid.len(), 26);
    assert!(root.reputation.from_rep && !root.reputation.to_rep);
    assert_eq!(root.reliability, Reliability::Absolute(10));
}

#[test]
fn taxonomy_roots_without_plugin_id() {
    let outcome = load("directives/alienvault-scan.xml");
    let root = &directive(&outcome.set, 30062).root;
    assert!(root.plugin_id.is_empty());
    assert_eq!(root.product, [5, 10, 12, 13, 14].map(val));
    assert_eq!(root.category, [val(3)]);
    assert_eq!(root.subcategory, [val(30)]);
}

#[test]
fn legacy_2_1_set() {
    let outcome = load("directives-legacy-2.1");
    assert_eq!(outcome.set.directives.len(), 153);
    assert_eq!(
        count_by_file(&outcome.set),
        [
            ("generic.xml".to_string(), 25),
            ("attacks.xml".to_string(), 11),
            ("trojans.xml".to_string(), 109),
            ("misc.xml".to_string(), 1),
            ("worms.xml".to_string(), 7),
        ]
    );
    let errors: Vec<String> = summary(&outcome)
        .into_iter()
        .filter(|s| s.contains("error"))
        .collect();
    assert_eq!(errors, ["generic.xml:73:12: error id"]);
    let sticky = outcome
        .warnings()
        .filter(|d| d.attribute.as_deref() == Some("sticky"))
        .count();
    assert_eq!(sticky, 120);
    let others: Vec<String> = summary(&outcome)
        .into_iter()
        .filter(|s| s.contains("warning") && !s.ends_with(" sticky"))
        .collect();
    assert_eq!(
        others,
        [
            "misc.xml:13:6: warning occurrence",
            "worms.xml:204:16: warning -",
            "worms.xml:214:78: warning priority"
        ]
    );
    assert_eq!(outcome.diagnostics.len(), 124);
    assert!(
        outcome.set.directives.iter().any(|d| d.id == 6015),
        "loaded without the stray rule"
    );
    assert_eq!(directive(&outcome.set, 6016).priority, 5);
    // The first directive 2 is kept.
    assert_eq!(directive(&outcome.set, 2).location.line, 46);
}

#[test]
fn legacy_relative_reliability_and_root_occurrence() {
    let outcome = load("directives-legacy-2.1/misc.xml");
    let d = directive(&outcome.set, 27010);
    assert_eq!(d.root.occurrence, 1, "forced to 1");
    assert_eq!(d.root.reliability, Reliability::Absolute(3));
    assert_eq!(d.root.port_to, [val(port(25))]);
    let l2 = &d.root.children[0];
    assert_eq!(
        (l2.reliability, l2.occurrence, l2.time_out),
        (Reliability::Relative(3), 10, 15)
    );
    let l3 = &l2.children[0];
    assert_eq!(
        (l3.level, l3.reliability, l3.occurrence),
        (3, Reliability::Relative(5), 30)
    );
}

#[test]
fn legacy_monitor_rules() {
    let outcome = load("directives-legacy-2.1/generic.xml");
    let d = directive(&outcome.set, 2);
    let m1 = &d.root.children[0];
    assert_eq!(m1.kind, vigil_event::EventKind::Monitor);
    assert_eq!(
        m1.monitor,
        Some(Monitor {
            condition: Condition::Ge,
            value: "10".into(),
            interval: 15,
            absolute: true
        })
    );
    assert_eq!(
        (m1.plugin_id.clone(), m1.plugin_sid.clone(), m1.time_out),
        (vec![val(2005)], vec![val(248)], 30)
    );
    assert_eq!(m1.port_from, [backref(1, Var::SrcPort)]);
    assert_eq!(m1.port_to, [backref(1, Var::DstPort)]);
    let [five_min, raised] = [&m1.children[0], &m1.children[1]];
    assert_eq!(
        five_min.monitor,
        Some(Monitor {
            condition: Condition::Ge,
            value: "300".into(),
            interval: 400,
            absolute: true
        })
    );
    assert_eq!(
        raised.monitor,
        Some(Monitor {
            condition: Condition::Ge,
            value: "200".into(),
            interval: 10,
            absolute: false
        })
    );
    assert_eq!(raised.from, [backref(1, Var::DstIp)]);
    assert!(raised.to.is_empty());
    assert_eq!(d.root.plugin_sid, [4, 6, 101, 102].map(val));
}

#[test]
fn legacy_sticky_different_and_negated_lists() {
    let outcome = load("directives-legacy-2.1/generic.xml");
    let d3 = directive(&outcome.set, 3);
    // `ANY,!468,...`: ANY adds nothing, the negations remain.
    assert_eq!(d3.root.plugin_sid, [not(468), not(2000545), not(2000537)]);
    let l2 = &d3.root.children[0];
    assert_eq!(l2.sticky_different, Some(Var::SrcIp));
    assert_eq!(l2.plugin_sid, [backref(1, Var::PluginSid)]);
    assert_eq!(l2.occurrence, 200);

    let d11 = directive(&outcome.set, 11);
    assert_eq!(d11.root.port_from, [not(port(20)), not(port(139))]);
    let l2 = &d11.root.children[0];
    assert_eq!(l2.sticky_different, Some(Var::DstPort));
    // A line break inside an attribute value is normalised to a space (XML 3.3.3).
    assert_eq!(
        l2.name,
        format!(
            "Too many rare connections (15) against {}same ip",
            " ".repeat(9)
        )
    );
}

#[test]
fn server_test_fixtures() {
    // dt1: includes da1.xml (same text as alienvault-attacks.xml).
    let dt1 = load("directives-server-tests/dt1.xml");
    assert_eq!(dt1.set.directives.len(), 10);
    assert!(dt1.diagnostics.is_empty());
    let attacks = load("directives/alienvault-attacks.xml");
    let ids = |o: &LoadOutcome| o.set.directives.iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(ids(&dt1), ids(&attacks));

    // dt2: its entity names a file that does not exist.
    let dt2 = load("directives-server-tests/dt2.xml");
    assert!(dt2.set.directives.is_empty());
    assert_eq!(summary(&dt2), ["dt2.xml:12:1: warning -"]);
    assert!(dt2.diagnostics[0].message.contains("noexiste.xml"));

    // dt3: includes da3.xml, whose first directive id is "450x55".
    let dt3 = load("directives-server-tests/dt3.xml");
    assert_eq!(dt3.set.directives.len(), 9);
    assert_eq!(summary(&dt3), ["da3.xml:3:12: error id"]);
    assert!(dt3.diagnostics[0].to_string().ends_with(
        "da3.xml:3:12: error: attribute `id`: expected a directive id (a whole number), found \"450x55\""
    ));
    assert_eq!(ids(&dt3), ids(&dt1)[1..]);

    // The directory (no directives.xml): every file in name order; later copies are duplicates.
    let dir = load("directives-server-tests");
    assert_eq!(ids(&dir), ids(&dt1));
    assert_eq!(dir.errors().count(), 30);
    assert_eq!(dir.warnings().count(), 1);
}

#[test]
fn legacy_category_files_standalone() {
    for (file, directives, errors) in [
        ("generic.xml", 25, 1),
        ("attacks.xml", 11, 0),
        ("trojans.xml", 109, 0),
        ("misc.xml", 1, 0),
        ("worms.xml", 7, 0),
    ] {
        let outcome = load(&format!("directives-legacy-2.1/{file}"));
        assert_eq!(outcome.set.directives.len(), directives, "{file}");
        assert_eq!(outcome.errors().count(), errors, "{file}");
    }
}

#[test]
fn categories_files() {
    for dir in ["directives", "directives-legacy-2.1"] {
        let (categories, diagnostics) =
            load_categories(&corpus(&format!("{dir}/categories.xml"))).expect("loads");
        assert_eq!(categories.len(), 21, "{dir}");
        assert!(diagnostics.is_empty(), "{dir}: {diagnostics:?}");
        let brute = categories
            .iter()
            .find(|c| c.xml_file == Path::new("alienvault-bruteforce.xml"))
            .expect("present");
        assert_eq!(brute.name.to_lowercase(), "alienvault bruteforce"); // "Alienvault" in 2.1's file
        assert_eq!((brute.min_id, brute.max_id), (50000, 51999));
    }
}

#[test]
fn check_reports_every_diagnostic() {
    let all = check(&[
        corpus("directives"),
        corpus("directives-server-tests/dt3.xml"),
        corpus("directives/categories.xml"),
    ]);
    assert_eq!(all.len(), 4);
    assert_eq!(
        all.iter().filter(|d| d.is_error()).count(),
        1,
        "dt3's bad id"
    );
}
