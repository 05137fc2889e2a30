//! The bodies of the cargo-fuzz targets in `fuzz/` (also run over the seeds and proptest
//! inputs by the test suite, on stable).
//!
//! * [`fuzz_match`]: a line through a plugin set exercising every matching path (literal
//!   prefilter, rules without a literal, the regex set, the lazy-DFA and PCRE2 fast path,
//!   the `fancy-regex` fallback, value expressions): it must not panic, and the fast path
//!   must give exactly what the `regex` crate alone gives.
//! * [`fuzz_load`]: bytes as a plugin file: loading must not panic, and a loaded plugin must
//!   parse lines without panicking.

use std::sync::LazyLock;

use super::{AgentSettings, ParseContext, Parsed, Plugin, PluginSet};

/// Plugins written for the fuzzer (not taken from any corpus), one construct each.
const FUZZ_PLUGINS: [(&str, &str); 3] = [
    (
        "auth.cfg",
        r#"[DEFAULT]
plugin_id=9001
dst_port=22
[config]
source=log
[translation]
accepted=7
failed=1
[0001 - login]
event_type=event
regexp=(?P<date>\w{3}\s+\d{1,2}\s\d\d:\d\d:\d\d)\s+(?P<host>\S+) sshd\[\d+\]: (?P<what>Accepted|Failed) (password|publickey) for (invalid user )?(?P<user>\S+) from (?P<src>\S+) port (?P<port>\d+)
plugin_sid={translate($what)}
date={normalize_date($date)}
src_ip={resolv($src)}
src_port={$port}
username={$user}
dst_ip={resolv($host)}
[0002 - sudo]
event_type=event
precheck=sudo
regexp=sudo:\s+(?P<user>\S+)\s*:.*COMMAND=(?P<cmd>.*)$
plugin_sid=3
username={$user}
userdata1={$cmd}
userdata2={md5sum($cmd)}
[0099 - catch all]
event_type=event
regexp=^(?P<date>\S+\s+\d+\s+\d+:\d+:\d+)\s+(?P<host>\S+)\s+(?P<rest>.*)
plugin_sid=99
date={normalize_date($date)}
userdata1=$CONCAT($host,/,$rest)
"#,
    ),
    (
        "firewall.cfg",
        r#"[DEFAULT]
plugin_id=9002
[config]
source=log
[0001 - deny]
event_type=event
regexp=%(?:FW|fw)-\d-(?P<sid>\d+): (?P<action>Deny|Built) (?P<proto>tcp|udp|icmp) (?:src|from) \S*?:?(?P<src>[\d.]+)/(?P<sport>\d+) (?:dst|to) \S*?:?(?P<dst>[\d.]+)/(?P<dport>\d+)
plugin_sid={$sid}
protocol={normalize_protocol($proto)}
src_ip={$src}
src_port={$sport}
dst_ip={$dst}
dst_port={$dport}
userdata1={upper($action)}
[0002 - hex]
event_type=event
regexp=code=0x(?P<code>[0-9a-f]+)
plugin_sid={hextoint($code)}
[0003 - dotted version]
event_type=event
regexp=ver=(?P<v>(\d*\.?)+) (?P<tail>\S*)
plugin_sid=3
userdata1={$v}
userdata2={$2}
"#,
    ),
    (
        "lookaround.cfg",
        r#"[DEFAULT]
plugin_id=9003
[config]
source=log
[0001 - repeated word]
event_type=event
regexp=(?P<word>\b\w{3,}\b) (?P=word)(?! again)
plugin_sid=1
userdata1={$word}
"#,
    ),
];

static FUZZ_SET: LazyLock<Option<PluginSet>> = LazyLock::new(|| {
    let plugins = FUZZ_PLUGINS
        .iter()
        .map(|(name, text)| Plugin::from_text(name, text, &AgentSettings::default()).map(|p| p.0))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some(PluginSet::new(plugins))
});

/// The plugin matcher on one line: no panic, fast path equal to the reference. Returns what
/// the line parsed to (for the seed test to check the seeds reach their rules).
pub fn fuzz_match(data: &[u8]) -> Option<Parsed> {
    let Some(set) = FUZZ_SET.as_ref() else {
        panic!("the fuzz plugins do not load");
    };
    let line = String::from_utf8_lossy(data);
    let mut first = None;
    for cx in [
        ParseContext::for_year(2020),
        ParseContext {
            year: 2021,
            month: 1,
            day: 1,
            clock: false,
        },
    ] {
        let fast = set.parse(&line, &cx);
        assert_eq!(
            fast,
            set.parse_exhaustive(&line, &cx),
            "fast path differs from the regex crate on {line:?}"
        );
        first.get_or_insert(fast);
    }
    first.flatten()
}

/// The plugin loader on arbitrary bytes, then a few lines through what loaded.
pub fn fuzz_load(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok((plugin, _)) = Plugin::from_text("fuzz.cfg", &text, &AgentSettings::default()) {
        let cx = ParseContext::for_year(2020);
        for line in [
            "Jan  1 00:00:00 host sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2",
            "",
            "\u{212a}elvin é \u{0}",
        ] {
            let _ = plugin.parse(line, &cx);
            let _ = plugin.parse_exhaustive(line, &cx);
        }
    }
}
