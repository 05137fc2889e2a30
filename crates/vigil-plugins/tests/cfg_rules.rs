//! Rule semantics of the `.cfg` parser on small hand-written plugins.

use std::collections::BTreeMap;

use vigil_plugins::cfg::{AgentSettings, ParseContext, Plugin, PluginSet};

fn settings() -> AgentSettings {
    let mut s = AgentSettings::default();
    s.aliases
        .insert("ipv4".into(), r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}".into());
    s.aliases.insert("port".into(), r"\d{1,5}".into());
    let mut pd = BTreeMap::new();
    pd.insert("sensor".to_owned(), "10.9.9.9".to_owned());
    s.config.insert("plugin-defaults".into(), pd);
    s
}

fn load(text: &str) -> Plugin {
    let (p, w) = Plugin::from_text("t.cfg", text, &settings()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        w.iter().all(|w| !w.message.contains("does not compile")),
        "{w:?}"
    );
    p
}

const CX: ParseContext = ParseContext {
    year: 2012,
    month: 5,
    day: 1,
    clock: false,
};

#[test]
fn ordering_by_section_name_and_first_match_wins() {
    let p = load(
        "[DEFAULT]\nplugin_id=9000\ndst_ip=\\_CFG(plugin-defaults,sensor)\n[config]\nsource=log\n\
         [b rule]\nevent_type=event\nregexp=foo (\\d+)\nplugin_sid=2\n\
         [a rule]\nevent_type=event\nregexp=FOO\nplugin_sid=1\n\
         [c rule]\nevent_type=event\nregexp=bar\nplugin_sid=3\n",
    );
    let names: Vec<&str> = p.rules().iter().map(|r| r.name()).collect();
    assert_eq!(names, ["a rule", "b rule", "c rule"]);
    let got = p.parse("xx foo 12 bar", &CX).expect("match");
    assert_eq!(
        &*got.rule, "a rule",
        "case-insensitive, sorted first, first match wins"
    );
    assert_eq!(got.get("plugin_sid"), Some("1"));
    assert_eq!(
        got.get("dst_ip"),
        Some("10.9.9.9"),
        "DEFAULT inherited, \\_CFG replaced"
    );
    assert_eq!(
        p.parse("only bar", &CX).map(|p| p.rule.to_string()),
        Some("c rule".to_owned())
    );
}

#[test]
fn precheck_is_a_case_sensitive_substring_test() {
    let p = load(
        "[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n\
         [1]\nevent_type=event\nprecheck=\"Accepted\"\nregexp=accepted (?P<u>\\w+)\nplugin_sid=1\nusername={$u}\n\
         [2]\nevent_type=event\nregexp=(?P<u>\\w+)$\nplugin_sid=2\nusername={$u}\n",
    );
    assert_eq!(
        p.parse("Accepted bob", &CX)
            .and_then(|e| e.get("username").map(str::to_owned)),
        Some("bob".into())
    );
    let got = p.parse("accepted bob", &CX).expect("rule 2");
    assert_eq!(
        got.get("plugin_sid"),
        Some("2"),
        "precheck failed, next rule"
    );
}

#[test]
fn translation_groups_functions_and_event_type() {
    let p = load(
        "[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n\
         [translation]\nAccept=10\nDrop=20\n_DEFAULT_=99\n\
         [translation-proto]\n6=tcp6\n\
         [r]\nevent_type=event\nregexp=\"(\\SYSLOG_DATE)? ?(?P<act>\\w+) (\\IPV4):(\\PORT) proto (?P<p>\\d+)( opt)?\"\n\
         plugin_sid={translate($act)}\nsrc_ip={$3}\nsrc_port={$4}\nprotocol={normalize_protocol($p)}\nuserdata1={$6}\n\
         userdata2={translate2($p,$translation-proto)}\nsensor=dev\nuserdata3=$CONCAT($act,/,$p)\nunknown=x\n\
         [s]\nevent_type=idm-event\nregexp=idm\nplugin_sid=1\n",
    );
    let got = p.parse("Drop 1.2.3.4:80 proto 6", &CX).expect("match");
    assert_eq!(got.get("plugin_sid"), Some("20"));
    assert_eq!(got.get("src_ip"), Some("1.2.3.4"));
    assert_eq!(got.get("src_port"), Some("80"));
    assert_eq!(got.get("protocol"), Some("tcp"));
    assert_eq!(got.get("userdata1"), Some(""), "non-participating group");
    assert_eq!(got.get("userdata2"), Some("tcp6"));
    assert_eq!(got.get("userdata3"), Some("Drop/6"));
    assert_eq!(got.get("device"), Some("dev"), "sensor reported as device");
    assert_eq!(got.get("unknown"), None);
    let got = p.parse("Reject 1.2.3.4:80 proto 17", &CX).expect("match");
    assert_eq!(got.get("plugin_sid"), Some("99"), "_DEFAULT_");
    assert_eq!(got.get("protocol"), Some("udp"));
    assert_eq!(
        p.parse("idm", &CX),
        None,
        "event_type other than event: no event"
    );
}

#[test]
fn aliases_only_for_keys_of_two_or_more_word_chars() {
    let p = load(
        "[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n[r]\nevent_type=event\nregexp=^(\\IPV4) \\d\\s(\\w+)$\nplugin_sid=1\nsrc_ip={$1}\nusername={$2}\n",
    );
    let got = p.parse("1.2.3.4 7 x", &CX).expect("match");
    assert_eq!(
        (got.get("src_ip"), got.get("username")),
        (Some("1.2.3.4"), Some("x"))
    );
}

#[test]
fn fallback_regex_and_python_syntax() {
    let (p, w) = Plugin::from_text(
        "t.cfg",
        "[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n[r]\nevent_type=event\nregexp=(?P<a>\\w+)-(?P=a)x{,2}\\Z\nplugin_sid=1\nuserdata1={$a}\n",
        &settings(),
    )
    .expect("loads");
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("fancy-regex fallback"), "{}", w[0]);
    assert!(p.rules()[0].uses_fallback());
    assert_eq!(
        p.parse("ab-abxx", &CX)
            .and_then(|e| e.get("userdata1").map(str::to_owned)),
        Some("ab".into())
    );
    assert_eq!(p.parse("ab-cd", &CX), None);
}

#[test]
fn load_errors_have_positions() {
    let e =
        Plugin::from_text("t.cfg", "[DEFAULT]\nplugin_id=x\n", &settings()).expect_err("bad id");
    assert_eq!(e.to_string(), "t.cfg:2:1: plugin_id \"x\" is not a number");
    let e = Plugin::from_text("t.cfg", "[config]\nsource=log\n", &settings()).expect_err("no id");
    assert_eq!(e.to_string(), "t.cfg: [DEFAULT] has no plugin_id");
    let e = Plugin::from_text(
        "t.cfg",
        "[DEFAULT]\nplugin_id=1\nnot an option\n",
        &settings(),
    )
    .expect_err("syntax");
    assert_eq!(e.line(), 3);
    let (_, w) = Plugin::from_text(
        "t.cfg",
        "[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n[r]\nevent_type=event\nregexp=(unclosed\n",
        &settings(),
    )
    .expect("loads");
    assert!(
        w[0].message.starts_with("regexp does not compile"),
        "{}",
        w[0]
    );
    assert_eq!(w[0].line, 7);
}

#[test]
fn plugin_set_order_first_plugin_wins() {
    let a = load(
        "[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n[r]\nevent_type=event\nregexp=common\nplugin_sid=1\n",
    );
    let b = load(
        "[DEFAULT]\nplugin_id=2\n[config]\nsource=log\n[r]\nevent_type=event\nregexp=common|only-b\nplugin_sid=1\n",
    );
    let set = PluginSet::new(vec![a, b]);
    assert_eq!(
        set.parse("a common line", &CX).map(|p| p.plugin_id),
        Some(1)
    );
    assert_eq!(set.parse("only-b", &CX).map(|p| p.plugin_id), Some(2));
    assert_eq!(set.parse("nothing", &CX), None);
}
