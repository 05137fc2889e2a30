//! The agent plugin `.cfg` loader and line parser against the OSSIM corpus
//! (`shared/corpus/ossim/plugins`, `shared/corpus/logs/ossim-plugin-samples`).
//! These tests fail when the corpus is missing.

use std::path::{Path, PathBuf};

use vigil_plugins::cfg::{AgentSettings, ParseContext, Plugin, PluginSet};

fn corpus() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        root.join("ossim/plugins").is_dir(),
        "corpus missing at {}",
        root.display()
    );
    root
}

fn settings() -> AgentSettings {
    let root = corpus();
    AgentSettings::load(&root.join("ossim/agent")).expect("agent settings load")
}

fn cfg_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    files.sort();
    files
}

fn file_name(p: &str) -> String {
    Path::new(p)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn agent_settings() {
    let s = settings();
    assert_eq!(s.aliases.len(), 12);
    assert_eq!(s.aliases.get("port").map(String::as_str), Some(r"\d{1,5}"));
    assert_eq!(s.get("plugin-defaults", "sensor"), Some("13.37.13.37"));
    assert_eq!(
        s.get("plugin-defaults", "date_format"),
        Some("%Y-%m-%d %H:%M:%S"),
        "inline ' ;' comment cut"
    );
}

/// Every corpus plugin loads; the exact list of what does not load fully, and why.
#[test]
fn every_corpus_plugin_loads_with_exact_warnings() {
    let s = settings();
    let files = cfg_files(&corpus().join("ossim/plugins"));
    assert_eq!(files.len(), 30);
    let mut lines = Vec::new();
    let mut fallbacks = Vec::new();
    let mut total_rules = 0;
    for f in &files {
        let (plugin, warnings) = Plugin::load(f, &s).unwrap_or_else(|e| panic!("{e}"));
        total_rules += plugin.rules().len();
        for r in plugin.rules().iter().filter(|r| r.uses_fallback()) {
            fallbacks.push(format!("{}: {}", plugin.name, r.name()));
        }
        for w in warnings {
            if w.message.starts_with("regexp needs look-around") {
                continue; // counted through `fallbacks`
            }
            lines.push(format!(
                "{}:{}: [{}] {}",
                file_name(&w.file),
                w.line,
                w.section.unwrap_or_default(),
                w.message
            ));
        }
    }
    assert_eq!(
        lines,
        vec![
            r#"fortigate.cfg:148: [0007 - fortigate-event with priority] unknown event key "prechec" dropped"#,
            r#"fortigate.cfg:160: [0008 - fortigate-event with user] unknown event key "prechec" dropped"#,
            r#"fortigate.cfg:172: [0009 - fortigate-event] unknown event key "prechec" dropped"#,
            r#"juniper-srx.cfg:106: [0003 - RT_FLOW_SESSION_CLOSE] unknown event key "yydevice" dropped"#,
            "post_correlation.cfg:16: [config] source=database is not parsed from log lines (only source=log); no rules loaded",
            r"snort_syslog.cfg:78: [03_snort-fast-format] multi-line rule (\n in regexp) is not supported by the line parser; rule skipped",
            "snortunified.cfg:17: [config] source=snortlog is not parsed from log lines (only source=log); no rules loaded",
            "suricata.cfg:15: [config] source=snortlog is not parsed from log lines (only source=log); no rules loaded",
        ]
    );
    // fancy-regex fallbacks: all in ossec-single-line ((?(agent_name)...) conditionals, (?P=srcip)).
    assert_eq!(fallbacks.len(), 41, "{fallbacks:#?}");
    assert!(
        fallbacks
            .iter()
            .all(|f| f.starts_with("ossec-single-line: "))
    );
    assert_eq!(
        total_rules, 455,
        "458 regexp sections - 2 of source=database - 1 multi-line"
    );
}

/// `(expected section, expected plugin_sid when the rule's plugin_sid is a constant)`
/// of every sample line: the section whose `#` comment the sample was taken from
/// (identical comments are used in order).
fn expected_rules(cfg_text: &str, samples: &[&str]) -> Vec<(String, Option<String>)> {
    let mut comments: Vec<(String, String, bool)> = Vec::new(); // (text, section, used)
    let mut sids: std::collections::HashMap<String, String> = Default::default();
    let mut section = String::new();
    for line in cfg_text.lines() {
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            section = h.to_owned();
        } else if let Some(c) = line.strip_prefix('#') {
            comments.push((c.trim().to_owned(), section.clone(), false));
        } else if let Some(v) = line.strip_prefix("plugin_sid") {
            let v = v.trim_start().trim_start_matches(['=', ':']).trim();
            if v.chars().all(|c| c.is_ascii_digit()) {
                sids.insert(section.clone(), v.to_owned());
            }
        }
    }
    samples
        .iter()
        .map(|s| {
            let c = comments
                .iter_mut()
                .find(|(t, _, used)| !*used && t == s.trim())
                .unwrap_or_else(|| panic!("sample not found in cfg comments: {s}"));
            c.2 = true;
            (c.1.clone(), sids.get(&c.1).cloned())
        })
        .collect()
}

/// Every sample line is parsed by its `.cfg`; the exact samples whose rule differs.
#[test]
fn samples_parse_to_their_commented_rule() {
    let s = settings();
    let dir = corpus().join("logs/ossim-plugin-samples");
    let cx = ParseContext::for_year(2011);
    let mut ok = 0;
    let mut total = 0;
    let mut other = Vec::new();
    for f in cfg_files(&dir) {
        let (plugin, _) = Plugin::load(&f, &s).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&f).expect("cfg");
        let log = std::fs::read_to_string(f.with_extension("samples.log")).expect("samples");
        let samples: Vec<&str> = log.lines().collect();
        let expected = expected_rules(&text, &samples);
        for (i, (line, (section, sid))) in samples.iter().zip(&expected).enumerate() {
            total += 1;
            let got = plugin.parse(line, &cx);
            assert_eq!(
                got,
                plugin.parse_exhaustive(line, &cx),
                "prefilter differs from exhaustive"
            );
            match &got {
                Some(p) if *p.rule == **section => {
                    assert_eq!(p.plugin_id, plugin.id);
                    let got_sid = p.get("plugin_sid").unwrap_or_default();
                    match sid {
                        Some(sid) => assert_eq!(got_sid, sid, "{line}"),
                        None => assert!(got_sid.chars().all(|c| c.is_ascii_digit()), "{got_sid}"),
                    }
                    ok += 1;
                }
                _ => other.push(format!(
                    "{}:{} [{}] -> {}",
                    plugin.name,
                    i + 1,
                    section,
                    got.map_or("no event".to_owned(), |p| format!(
                        "[{}] sid {}",
                        p.rule,
                        p.get("plugin_sid").unwrap_or_default()
                    ))
                )),
            }
        }
    }
    assert_eq!(total, 72);
    // Samples that do not yield their commented rule, each for a reason in the data:
    // the comment was wrapped over several lines and the sample keeps only the
    // first one (the rule needs the rest), the IP was anonymised with `*`, an
    // earlier-sorted rule matches first, or the rule's regexp is broken upstream.
    let expected_other = [
        "cisco-pix:1 [cisco-pix-rule1] -> no event", // wrapped comment
        "cisco-pix:2 [cisco-pix-rule2] -> no event", // wrapped comment
        "cisco-pix:3 [cisco-pix-rule2] -> no event", // wrapped comment
        "cisco-pix:4 [cisco-pix-rule2] -> no event", // wrapped comment
        "cisco-pix:5 [cisco-pix-rule2] -> no event", // wrapped comment
        "iptables:1 [0 - iptables] -> no event",     // wrapped comment
        "netscreen-firewall:2 [netscreen-firewall-virus-found] -> no event", // comment not the rule's format
        "netscreen-firewall:3 [netscreen-firewall-virus-found] -> no event",
        "netscreen-firewall:4 [netscreen-firewall-virus-found] -> no event",
        // first match wins: the specific rule sorts before the fall-through one
        "netscreen-igs:1 [z-netscreen-firewall-message-fallthrough] -> [netscreen system-notification-00018] sid 6",
        "ssh:3 [ssh - Failed password for invalid user] -> [xx-ssh - Generic rule] sid 99", // IP "1**.121.101.94"
        // "ssh - Failed password for invalid user" (`Failed.*for invalid user`) sorts first
        "ssh:5 [ssh - Failed publickey] -> [ssh - Failed password for invalid user] sid 1",
        "ssh:9 [ssh - User not allowed because listed in DenyUsers] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:11 [ssh - Authentication refused] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:12 [ssh - Login sucessful (Accepted password)] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:13 [ssh - Login sucessful (Accepted publickey)] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:14 [ssh - Bad protocol version identification] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:17 [ssh - Refused connect] -> [xx-ssh - Generic rule] sid 99", // IP "**.172.200.198"
        "ssh:18 [ssh - Received disconnect] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:19 [ssh - PAM 2 more authentication failures] -> [xx-ssh - Generic rule] sid 99", // wrapped
        "ssh:22 [ssh - Server listening - Daemon started] -> [xx-ssh - Generic rule] sid 99", // `(\?P<d_port>PORT)` upstream
        "sudo:4 [sudo - Command executed] -> no event", // wrapped comment
        "sudo:5 [sudo - User not in sudoers] -> no event", // wrapped comment
        // the RX-Error sample is a copy of the HA-change line
        "tippingpoint:4 [tippingpoint2 - RX-Error] -> [tippingpoint2 - HA-change] sid 99999991",
    ];
    assert_eq!(other, expected_other, "{other:#?}");
    assert_eq!(ok, 48);
}

fn ssh_plugin() -> Plugin {
    let f = corpus().join("logs/ossim-plugin-samples/ssh.cfg");
    Plugin::load(&f, &settings()).expect("ssh loads").0
}

#[test]
fn ssh_fields_exactly() {
    let p = ssh_plugin();
    let cx = ParseContext::for_year(2011);
    let got = p
        .parse("Feb  8 10:09:06 golgotha sshd[24472]: Failed password for dgil from 13.37.13.37 port 33992 ssh2", &cx)
        .expect("matches");
    assert_eq!(got.plugin_id, 4003);
    assert_eq!(&*got.rule, "ssh - Failed password");
    let fields: Vec<(&str, &str)> = got.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            ("date", "2011-02-08 10:09:06"),
            ("device", "golgotha"),
            ("dst_ip", "golgotha"),
            ("dst_port", "22"),
            ("plugin_sid", "1"),
            ("src_ip", "13.37.13.37"),
            ("src_port", "33992"),
            ("username", "dgil"),
        ]
    );
    let got = p
        .parse("Jan 13 05:48:12 spcp1appfac01 sshd[25796]: Failed password for invalid user jboss from 13.37.13.37 port 52736 ssh2", &cx)
        .expect("matches");
    assert_eq!(
        (got.get("src_ip"), got.get("username"), got.get("src_port")),
        (Some("13.37.13.37"), Some("jboss"), Some("52736"))
    );
    let got = p
        .parse("Mar 29 11:17:52 opensourcesim sshd[11685]: Failed none for invalid user test tester from 13.37.13.37 port 42371 ssh2", &cx)
        .expect("matches");
    assert_eq!(
        (got.get("src_ip"), got.get("username"), got.get("src_port")),
        (Some("13.37.13.37"), Some("test tester"), Some("42371"))
    );
    let got = p
        .parse(
            "Sep  6 11:04:02 ossim-devel sshd[6983]: Invalid user test123 from 13.37.13.37",
            &cx,
        )
        .expect("matches");
    assert_eq!(
        (got.get("src_ip"), got.get("username"), got.get("src_port")),
        (Some("13.37.13.37"), Some("test123"), None)
    );
    assert_eq!(got.get("plugin_sid"), Some("3"));
    // DEFAULT dst_ip=\_CFG(plugin-defaults,sensor) is overridden by the rule; a
    // rule without dst_ip keeps the agent's sensor.
    assert!(p.parse("no ssh here", &cx).is_none());
}

/// All corpus plugins in one set: the fast path (prefilter, lazy DFA, PCRE2
/// captures) and the exhaustive evaluation by the `regex` crate alone agree on
/// every sample line and on real logs of the corpus.
#[test]
fn plugin_set_matches_exhaustive_on_corpus_lines() {
    let s = settings();
    let root = corpus();
    let plugins: Vec<Plugin> = cfg_files(&root.join("ossim/plugins"))
        .iter()
        .map(|f| Plugin::load(f, &s).expect("loads").0)
        .collect();
    let set = PluginSet::new(plugins);
    let cx = ParseContext::for_year(2015);
    let mut lines = Vec::new();
    for f in cfg_files(&root.join("logs/ossim-plugin-samples")) {
        let log = std::fs::read_to_string(f.with_extension("samples.log")).expect("samples");
        lines.extend(log.lines().map(str::to_owned));
    }
    // (file, keep one line in `step`)
    for (rel, step) in [
        ("logs/loghub/OpenSSH/OpenSSH_2k.log", 2),
        ("logs/loghub/Linux/Linux_2k.log", 2),
        ("logs/loghub/Apache/Apache_2k.log", 4),
        ("logs/elastic-examples-apache/apache_logs", 20),
        ("attacks/elastic-examples-ssh-bruteforce/auth.log", 20),
        ("logs/elastic-integrations/cisco_asa/test-sample.log", 1),
        (
            "logs/elastic-integrations/iptables/test-iptables-raw.log",
            1,
        ),
        ("logs/elastic-integrations/snort/test-log-fast.log", 1),
        ("logs/elastic-integrations/system_auth/test-auth.log", 1),
    ] {
        let bytes = std::fs::read(root.join(rel)).expect("log");
        lines.extend(
            String::from_utf8_lossy(&bytes)
                .lines()
                .step_by(step)
                .map(str::to_owned),
        );
    }
    let mut matched = 0;
    for line in &lines {
        let a = set.parse(line, &cx);
        assert_eq!(a, set.parse_exhaustive(line, &cx), "{line}");
        matched += usize::from(a.is_some());
    }
    assert_eq!((lines.len(), matched), (3_567, 3_558));
}

/// Python's `\<` and `\>` are the literal characters (the `regex` crate reads them as word
/// boundaries): the sample line cisco-asa.cfg gives above its Group Authentication rule
/// reaches that rule, with the user and address between the brackets.
#[test]
fn escaped_angle_brackets_are_literals() {
    let s = settings();
    let path = corpus().join("ossim/plugins/cisco-asa.cfg");
    let (plugin, _) = Plugin::load(&path, &s).expect("loads");
    let text = std::fs::read_to_string(&path).expect("cfg");
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("[0015 - cisco-asa - Group Authentication]"))
        .expect("the rule");
    let sample = lines[..header]
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix('#').filter(|c| c.contains("722051")))
        .expect("its sample comment");
    let cx = ParseContext::for_year(2014);
    let got = plugin.parse(sample, &cx).expect("matches");
    assert_eq!(got, plugin.parse_exhaustive(sample, &cx).expect("matches"));
    assert_eq!(&*got.rule, "0015 - cisco-asa - Group Authentication");
    assert_eq!(
        (got.get("username"), got.get("src_ip"), got.get("userdata2")),
        (Some("testuser"), Some("1.1.1.1"), Some("TestGroup VPN"))
    );
}
