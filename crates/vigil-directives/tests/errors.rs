//! Crafted bad inputs: each problem is reported at the exact line:column of its attribute (or
//! element), the directive it is in is dropped, and loading goes on.

use std::fs;
use std::path::Path;

use vigil_directives::*;

/// Load `text` as `t.xml` and return (ids loaded, every diagnostic displayed).
fn run(text: &str) -> (Vec<u32>, Vec<String>) {
    let outcome = load_str(Path::new("t.xml"), text).expect("whole file loads");
    (
        outcome.set.directives.iter().map(|d| d.id).collect(),
        outcome
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect(),
    )
}

/// A directive with id `id` whose root rule carries `attrs` (on line `n` of the document the
/// directive starts on line `n - 1`). The rule's attributes start at column 34; a
/// `plugin_id` is added if `attrs` has none.
fn directive(id: u32, attrs: &str) -> String {
    let attrs = if attrs.contains("plugin_id") {
        attrs.to_string()
    } else {
        format!("{attrs} plugin_id=\"9\"")
    };
    format!(
        "<directive id=\"{id}\" name=\"d\" priority=\"2\">\n  <rule type=\"detector\" name=\"r\" {attrs}/>\n</directive>\n"
    )
}

#[test]
fn each_bad_attribute_drops_its_directive_only() {
    let cases = [
        (
            "time_out=\"ten\"",
            "attribute `time_out`: expected a whole number of seconds, found \"ten\"",
        ),
        (
            "occurrence=\"0\"",
            "attribute `occurrence`: expected a whole number of events (1-4294967295), found \"0\"",
        ),
        (
            "reliability=\"11\"",
            "attribute `reliability`: expected a reliability N or +N with N 0-10, found \"11\"",
        ),
        (
            "plugin_id=\"!ANY\"",
            "attribute `plugin_id`: `!ANY` is not allowed",
        ),
        ("plugin_id=\"1,2\" plugin_sid=\"3\"", ""), // checked below: located at plugin_sid
        (
            "protocol=\"SCTP-ish\"",
            "attribute `protocol`: unknown protocol \"SCTP-ish\"",
        ),
        (
            "port_to=\"70000\"",
            "attribute `port_to`: expected a port 0-65535 or a range a-b, found \"70000\"",
        ),
        (
            "from=\"10.0.0.256\"",
            "attribute `from`: invalid IP address \"10.0.0.256\"",
        ),
        (
            "from=\"1:SRC_IP\"",
            "attribute `from`: back-reference \"1:SRC_IP\" at level 1: the root rule has no earlier level",
        ),
        (
            "colour=\"red\"",
            "attribute `colour`: unknown attribute of <rule>",
        ),
        (
            "sticky_different=\"SRC_IP,DST_IP\"",
            "attribute `sticky_different`: expected one field name such as SRC_IP, found \"SRC_IP,DST_IP\"",
        ),
        (
            "suppress=\"1001\"",
            "attribute `suppress`: expected `plugin_id,sid[,sid...]` groups separated by `;`, found \"1001\"",
        ),
        (
            "userdata1=\"!ANY\"",
            "attribute `userdata1`: `!ANY` is not allowed",
        ),
    ];
    for (attrs, message) in cases {
        let text = format!("{}{}", directive(1, attrs), directive(2, "plugin_id=\"7\""));
        let (ids, diagnostics) = run(&text);
        assert_eq!(
            ids,
            [2],
            "{attrs}: the bad directive is dropped, the next one loads"
        );
        assert_eq!(diagnostics.len(), 1, "{attrs}: {diagnostics:?}");
        if message.is_empty() {
            assert_eq!(
                diagnostics[0],
                "t.xml:2:50: error: attribute `plugin_sid`: a plugin_sid list needs exactly one plugin_id, this rule has 2"
            );
        } else {
            assert_eq!(
                diagnostics[0],
                format!("t.xml:2:34: error: {message}"),
                "{attrs}"
            );
        }
    }
}

#[test]
fn back_references_must_name_a_strict_ancestor() {
    let text = "\
<directive id=\"5\" name=\"d\" priority=\"1\">
  <rule type=\"detector\" name=\"a\" plugin_id=\"1\">
    <rules>
      <rule type=\"detector\" name=\"b\" plugin_id=\"1\" to=\"2:DST_IP\"/>
      <rule type=\"detector\" name=\"c\" plugin_id=\"1\" port_to=\"0:DST_PORT\"/>
      <rule type=\"detector\" name=\"d\" plugin_id=\"1\" from=\"1:SRC_IP\" username=\"3:USERNAME\"/>
    </rules>
  </rule>
</directive>
";
    let (ids, diagnostics) = run(text);
    assert!(ids.is_empty());
    assert_eq!(
        diagnostics,
        [
            "t.xml:4:52: error: attribute `to`: back-reference \"2:DST_IP\" must name an earlier level of this branch (1-1)",
            "t.xml:5:52: error: attribute `port_to`: back-reference \"0:DST_PORT\" must name an earlier level of this branch (1-1)",
            "t.xml:6:68: error: attribute `username`: back-reference \"3:USERNAME\" must name an earlier level of this branch (1-1)",
        ]
    );
}

#[test]
fn directive_level_problems() {
    let text = "\
<directive name=\"no id\" priority=\"1\">
  <rule type=\"detector\" name=\"r\" plugin_id=\"1\"/>
</directive>
<directive id=\"7\" name=\"p\" priority=\"high\">
  <rule type=\"detector\" name=\"r\" plugin_id=\"1\"/>
</directive>
<directive id=\"8\" name=\"ok\" priority=\"3\">
  <rule type=\"detector\" name=\"r\" plugin_id=\"1\"/>
</directive>
<directive id=\"8\" name=\"again\" priority=\"3\">
  <rule name=\"r\" plugin_id=\"1\"/>
</directive>
<directive id=\"9\" name=\"nested\" priority=\"3\">
  <rule type=\"detector\" name=\"r\" plugin_id=\"1\">
    <rule type=\"detector\" name=\"x\"/>
  </rule>
</directive>
<directive id=\"10\" name=\"rule type\" priority=\"3\">
  <rule type=\"correlator\" plugin_id=\"1\"/>
</directive>
<directive id=\"11\" name=\"monitor\" priority=\"3\">
  <rule type=\"Monitor\" name=\"m\" plugin_id=\"1\" value=\"3\"/>
</directive>
<wat/>
<directive id=\"12\" name=\"element\" priority=\"3\" timetable=\"nights\">
  <rule type=\"detector\" name=\"r\" plugin_id=\"1\"/>
</directive>
";
    let (ids, diagnostics) = run(text);
    assert_eq!(
        ids,
        [8, 9],
        "9 keeps its root; the stray nested rule is ignored"
    );
    assert_eq!(
        diagnostics,
        [
            "t.xml:1:1: error: attribute `id`: required attribute of <directive> is missing",
            "t.xml:4:28: error: attribute `priority`: expected a priority 0-5, found \"high\"",
            "t.xml:10:12: error: attribute `id`: duplicate directive id 8 (first at t.xml:7:1): this directive is dropped",
            "t.xml:15:5: warning: <rule> directly inside <rule> is ignored with everything below it, as OSSIM does: alternatives must be inside <rules>",
            "t.xml:19:9: error: attribute `type`: expected detector or monitor, found \"correlator\"",
            "t.xml:19:3: error: attribute `name`: required attribute of <rule> is missing",
            "t.xml:22:3: error: attribute `condition`: required on a monitor rule",
            "t.xml:24:1: error: unknown element <wat> (expected <directive>, <groups> or <timetables>)",
            "t.xml:25:48: error: attribute `timetable`: no timetable named \"nights\": directive 12 is dropped",
        ]
    );
}

#[test]
fn warnings_keep_the_directive() {
    let text = "\
<directive id=\"3\" name=\"w\" priority=\"9\" contextname=\"x\">
  <rule type=\"detector\" name=\"r\" plugin_id=\"1\" occurrence=\"4\" sticky=\"true\" rel_abs=\"true\">
    <rules>
      <rule type=\"detector\" name=\"s\" plugin_id=\"1\" from_property_category=\"2\" condition=\"eq\"/>
    </rules>
  </rule>
</directive>
";
    let outcome = load_str(Path::new("t.xml"), text).expect("loads");
    let shown: Vec<String> = outcome
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "t.xml:1:28: warning: attribute `priority`: priority \"9\" clamped to 5",
            "t.xml:1:41: warning: attribute `contextname`: ignored (as in OSSIM)",
            "t.xml:2:63: warning: attribute `sticky`: ignored: stickiness is implicit (as in OSSIM 4.x/5.x)",
            "t.xml:2:77: warning: attribute `rel_abs`: ignored: only a `+` prefix on reliability makes it relative",
            "t.xml:2:48: warning: attribute `occurrence`: occurrence 4 of the root rule is forced to 1",
            "t.xml:4:52: warning: attribute `from_property_category`: ignored: not implemented (not in OSSIM either)",
            "t.xml:4:79: warning: attribute `condition`: ignored on a detector rule",
        ]
    );
    let d = &outcome.set.directives[0];
    assert_eq!((d.priority, d.root.occurrence), (5, 1));
    assert_eq!(d.root.children.len(), 1);
}

#[test]
fn values_are_parsed_into_the_model() {
    let text = "\
<?xml version='1.0' encoding='UTF-8'?>
<directives>
<timetables><timetable name=\"office\"><timerule datespec=\"Mon,Fri\" timespec=\"08:00-18:00\"/></timetable></timetables>
<groups><group name=\"g\"><append-directive directive_id=\"20\"/><append-directive directive_id=\"21\"/></group></groups>
<directive id=\"20\" name=\"A &amp; B &#x263A;\" priority=\"-2\" timetable=\"office\" groupalarmby=\"src_ip,dst_port\" groupalarmtimeout=\"3600\">
  <rule type=\"DETECTOR\" name=\"r\" plugin_id=\"1001\" plugin_sid=\"1,!2\" reliability=\"+2\"
        from=\"::ffff:192.0.2.1,2001:db8::/32,!HOME_NET,db-servers\" to=\"ANY\" port_to=\"80,!8000-8080,0\"
        protocol=\"udp,!6\" sensor=\"10.0.0.1,sensor-a\" username=\"root,EMPTY,!ANY-user\" userdata3=\"ANY\"
        filename=\"C:\\boot.ini\" password=\"!EMPTY\" product=\"5\" category=\"!3\" subcategory=\"30\" entity=\"ctx\"
        suppress=\"1001,5,6;4004,1\" from_rep=\"true\" to_rep=\"FALSE\" from_rep_min_pri=\"3\" to_rep_min_rel=\"7\" not=\"True\">
    <rules>
      <rule type=\"monitor\" name=\"m\" plugin_id=\"2005\" plugin_sid=\"248\" condition=\"le\" value=\"15\"
            sensor=\"1:SENSOR\" userdata1=\"1:USERDATA3\" entity=\"1:ENTITY\" protocol=\"1:PROTOCOL\" plugin_sid=\"1:PLUGIN_SID\"/>
    </rules>
  </rule>
</directive>
</directives>
";
    let result = load_str(Path::new("t.xml"), text);
    // `plugin_sid` twice on one element is not well-formed XML.
    let e = result.expect_err("duplicate attribute");
    assert_eq!(
        e.to_string(),
        "t.xml:13:95: error: malformed XML: attribute `plugin_sid` given twice"
    );

    let text = text.replace(" plugin_sid=\"1:PLUGIN_SID\"", "");
    let outcome = load_str(Path::new("t.xml"), &text).expect("loads");
    let shown: Vec<String> = outcome
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        ["t.xml:5:46: warning: attribute `priority`: priority \"-2\" clamped to 0"]
    );
    let set = &outcome.set;
    assert_eq!(
        set.timetables,
        [Timetable {
            name: "office".into(),
            rules: vec![TimeRule {
                days: vec![1, 5],
                minutes: vec![(480, 1080)]
            }]
        }]
    );
    assert_eq!(
        set.groups,
        [Group {
            name: "g".into(),
            directive_ids: vec![20, 21]
        }]
    );
    let d = &set.directives[0];
    assert_eq!(d.name, "A & B \u{263A}");
    assert_eq!(d.priority, 0);
    assert_eq!(d.timetable.as_deref(), Some("office"));
    assert_eq!(d.group_alarm_by, [GroupField::SrcIp, GroupField::DstPort]);
    assert_eq!(d.group_alarm_timeout, Some(3600));
    let r = &d.root;
    assert_eq!(r.kind, vigil_event::EventKind::Detector);
    assert_eq!(r.reliability, Reliability::Relative(2));
    assert_eq!(r.plugin_sid, [v(1), n(2)]);
    assert_eq!(
        r.from,
        [
            v(Address::Net("192.0.2.1/32".parse().expect("net"))),
            v(Address::Net("2001:db8::/32".parse().expect("net"))),
            n(Address::HomeNet),
            v(Address::Asset("db-servers".into())),
        ]
    );
    assert!(r.to.is_empty());
    let range = |start, end| PortRange { start, end };
    assert_eq!(
        r.port_to,
        [v(range(80, 80)), n(range(8000, 8080)), v(range(0, 0))]
    );
    assert_eq!(
        r.protocol,
        [v(vigil_event::Protocol::UDP), n(vigil_event::Protocol::TCP)]
    );
    assert_eq!(
        r.sensor,
        [v("10.0.0.1".to_string()), v("sensor-a".to_string())]
    );
    assert_eq!(
        r.text,
        [
            TextConstraint {
                field: TextField::Username,
                terms: vec![
                    v(TextValue::Literal("root".into())),
                    v(TextValue::Empty),
                    n(TextValue::Literal("ANY-user".into()))
                ],
            },
            TextConstraint {
                field: TextField::Userdata(3),
                terms: vec![v(TextValue::Any)]
            },
            TextConstraint {
                field: TextField::Filename,
                terms: vec![v(TextValue::Literal("C:\\boot.ini".into()))]
            },
            TextConstraint {
                field: TextField::Password,
                terms: vec![n(TextValue::Empty)]
            },
        ]
    );
    assert_eq!(
        (r.product.clone(), r.category.clone(), r.subcategory.clone()),
        (vec![v(5)], vec![n(3)], vec![v(30)])
    );
    assert_eq!(r.entity, [v("ctx".to_string())]);
    assert_eq!(r.suppress, [(1001, vec![5, 6]), (4004, vec![1])]);
    assert_eq!(
        r.reputation,
        Reputation {
            from_rep: true,
            to_rep: false,
            from_min_priority: Some(3),
            from_min_reliability: None,
            to_min_priority: None,
            to_min_reliability: Some(7)
        }
    );
    assert!(r.not);
    let m = &r.children[0];
    assert_eq!(m.kind, vigil_event::EventKind::Monitor);
    assert_eq!(
        m.monitor,
        Some(Monitor {
            condition: Condition::Le,
            value: "15".into(),
            interval: 0,
            absolute: false
        })
    );
    assert_eq!(m.sensor, [back(Var::Sensor)]);
    assert_eq!(m.entity, [back(Var::Entity)]);
    assert_eq!(m.protocol, [back(Var::Protocol)]);
    assert_eq!(
        m.text,
        [TextConstraint {
            field: TextField::Userdata(1),
            terms: vec![back(Var::Userdata(3))]
        }]
    );
}

#[test]
fn malformed_xml_is_a_whole_file_error_with_location() {
    let cases = [
        (
            "<directive id=\"1\" name=\"n\" priority=\"1\">\n  <rule type=\"detector\" name=\"r\">\n</directive>\n",
            "t.xml:3:1: error: malformed XML: ",
        ),
        (
            "<directive id=\"1\" name=\"n\" priority=\"1\"\n  <rule/>",
            "t.xml:2:3: error: malformed XML: ",
        ),
        (
            "<directives>\n  <directive id=1/>\n</directives>",
            "t.xml:2:17: error: malformed XML: the value of attribute `id` is not quoted",
        ),
        (
            "<directives>\n  <directive name=\"a &bogus; b\"/>\n</directives>",
            "t.xml:2:22: error: malformed XML: `&bogus;` in an attribute value",
        ),
        (
            "<directives>\n  <directive>",
            "t.xml:2:3: error: malformed XML: element <directive> is never closed",
        ),
        (
            "<!DOCTYPE directives [\n  <!ENTITY x \"inline text\">\n]>\n<directives/>",
            "t.xml:2:3: error: DOCTYPE: entity `x`: only external entities",
        ),
    ];
    for (text, prefix) in cases {
        let e = load_str(Path::new("t.xml"), text).expect_err(text);
        assert!(
            e.to_string().starts_with(prefix),
            "{text:?}\n got: {e}\nwant: {prefix}"
        );
        assert_eq!(e.severity, Severity::Error);
    }
    // Unreadable file: no line.
    let e = load_path(Path::new("/nonexistent/vigil/directives.xml")).expect_err("missing");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/vigil/directives.xml: error: cannot read: "),
        "{e}"
    );
}

fn back<T>(var: Var) -> Term<T> {
    Term {
        negated: false,
        value: TermValue::BackRef { level: 1, var },
    }
}
fn v<T>(x: T) -> Term<T> {
    Term {
        negated: false,
        value: TermValue::Value(x),
    }
}
fn n<T>(x: T) -> Term<T> {
    Term {
        negated: true,
        value: TermValue::Value(x),
    }
}

/// A directory with a root file declaring `entities` (name, system literal) and `refs`.
fn tree(
    files: &[(&str, &str)],
    entities: &[(&str, &str)],
    refs: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        fs::write(dir.path().join(name), text).expect("write");
    }
    let decls: String = entities
        .iter()
        .map(|(n, s)| format!("<!ENTITY {n} SYSTEM '{s}'>\n"))
        .collect();
    let root = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE directives SYSTEM '/etc/ossim/server/directives.dtd' [\n{decls}]>\n<directives>\n{refs}\n</directives>\n"
    );
    let path = dir.path().join("directives.xml");
    fs::write(&path, root).expect("write");
    (dir, path)
}

fn shown(outcome: &LoadOutcome, dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    outcome
        .diagnostics
        .iter()
        .map(|d| d.to_string().replace(&prefix, ""))
        .collect()
}

#[test]
fn entities_are_confined_to_the_directory() {
    let one = directive(1, "plugin_id=\"1\"");
    let two = directive(2, "plugin_id=\"1\"");
    let (dir, root) = tree(
        &[
            ("a.xml", &one),
            (
                "b.xml",
                &format!("<?xml version='1.0' encoding='UTF-8' ?>\n{two}"),
            ),
        ],
        &[
            ("a", "/etc/ossim/server/a.xml"),
            ("b", "../../elsewhere/b.xml"),
            ("up", "/etc/ossim/.."),
            ("user", "/etc/ossim/server/user.xml"),
        ],
        "&a;\n&b;\n&up;\n&user;\n&a;\n&nope;",
    );
    let outcome = load_path(dir.path()).expect("loads");
    assert_eq!(
        outcome
            .set
            .directives
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        outcome.set.directives[1].location.file,
        dir.path().join("b.xml")
    );
    assert_eq!(outcome.set.directives[1].location.line, 2);
    assert_eq!(
        shown(&outcome, dir.path()),
        [
            "directives.xml:11:1: error: entity `up`: \"/etc/ossim/..\" does not end in a plain file name; not included",
            "directives.xml:12:1: warning: entity `user`: file user.xml does not exist; nothing included",
            "directives.xml:13:1: error: entity `a` is included twice; the second inclusion is skipped",
            "directives.xml:14:1: error: undeclared entity `&nope;`",
        ]
    );
    drop(root);
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_directory_are_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.xml");
    fs::write(&secret, directive(66, "plugin_id=\"1\"")).expect("write");
    let (dir, root) = tree(&[], &[("s", "/etc/ossim/server/s.xml")], "&s;");
    std::os::unix::fs::symlink(&secret, dir.path().join("s.xml")).expect("symlink");
    let outcome = load_path(&root).expect("loads");
    assert!(outcome.set.directives.is_empty());
    assert_eq!(outcome.diagnostics.len(), 1);
    let d = &outcome.diagnostics[0];
    assert!(d.is_error());
    assert!(
        d.message.contains("outside the directives directory"),
        "{d}"
    );
    assert_eq!((d.location.line, d.location.column), (6, 1));
}

#[test]
fn recursion_and_double_inclusion_are_errors() {
    let (dir, root) = tree(
        &[
            (
                "a.xml",
                &format!("{}&b;\n", directive(1, "plugin_id=\"1\"")),
            ),
            (
                "b.xml",
                &format!("{}&a;\n&root;\n", directive(2, "plugin_id=\"1\"")),
            ),
        ],
        &[("a", "a.xml"), ("b", "b.xml"), ("root", "directives.xml")],
        "&a;",
    );
    let outcome = load_path(&root).expect("loads");
    assert_eq!(
        outcome
            .set
            .directives
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        shown(&outcome, dir.path()),
        [
            "b.xml:4:1: error: entity `a` includes a.xml recursively; not included",
            "b.xml:5:1: error: entity `root` includes directives.xml recursively; not included",
        ]
    );
    // Two entity names for the same file.
    let (dir, root) = tree(
        &[("a.xml", &directive(1, "plugin_id=\"1\""))],
        &[("a", "a.xml"), ("again", "/x/a.xml")],
        "&a;&again;",
    );
    let outcome = load_path(&root).expect("loads");
    assert_eq!(outcome.set.directives.len(), 1);
    assert_eq!(
        shown(&outcome, dir.path()),
        ["directives.xml:7:4: error: entity `again`: a.xml is already included; skipped"]
    );
    // A malformed included file is an error diagnostic; the others still load.
    let (dir, root) = tree(
        &[
            ("bad.xml", "<directive id=\"3\"\n"),
            ("good.xml", &directive(4, "plugin_id=\"1\"")),
        ],
        &[("bad", "bad.xml"), ("good", "good.xml")],
        "&bad;\n&good;",
    );
    let outcome = load_path(&root).expect("loads");
    assert_eq!(
        outcome
            .set
            .directives
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        [4]
    );
    let shown = shown(&outcome, dir.path());
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].starts_with("bad.xml:1:1: error: malformed XML"),
        "{shown:?}"
    );
}

#[test]
fn check_includes_whole_file_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.xml");
    fs::write(&bad, "<directive").expect("write");
    let good = dir.path().join("good.xml");
    fs::write(&good, "<directive id=\"1\" name=\"d\" priority=\"2\">\n  <rule type=\"detector\" name=\"r\" sticky=\"true\"/>\n</directive>\n").expect("write");
    let all = check(&[bad.clone(), good.clone()]);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[0].is_error() && all[0].location.file == bad);
    // good.xml: `sticky` is ignored, and a root without plugin_id or product never fires in OSSIM.
    assert_eq!(all[1].attribute.as_deref(), Some("sticky"));
    assert!(all[2].message.contains("names no plugin_id or product"));
    assert!(all[1..].iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn deep_nesting_is_bounded() {
    let deep = format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000));
    let e = load_str(Path::new("t.xml"), &deep).expect_err("too deep");
    assert!(e.message.contains("nested deeper than 1024"), "{e}");

    // 300 levels: deeper than a u8 level can say is an error, not a crash; reported at the
    // `<rules>` of level 255 (line 256).
    let mut text = String::from("<directive id=\"1\" name=\"d\" priority=\"1\">\n");
    for _ in 0..300 {
        text.push_str("<rule type=\"detector\" name=\"r\" plugin_id=\"1\"><rules>\n");
    }
    text.push_str("<rule type=\"detector\" name=\"leaf\" plugin_id=\"1\"/>\n");
    text.push_str(&"</rules></rule>\n".repeat(300));
    text.push_str("</directive>\n");
    let (ids, diagnostics) = run(&text);
    assert!(ids.is_empty());
    assert_eq!(diagnostics, ["t.xml:256:46: error: more than 255 levels"]);
}
