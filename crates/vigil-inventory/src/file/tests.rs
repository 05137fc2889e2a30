use super::*;
use crate::hosts::HostProfile;
use vigil_plugins::PluginSid;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn load(text: &str) -> Inventory {
    Inventory::from_toml("inv.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

/// Expects an error; returns `line:column: reason`.
fn err(text: &str) -> String {
    match Inventory::from_toml("inv.toml", text) {
        Ok(inventory) => panic!("expected an error, got {inventory:?}"),
        Err(e) => {
            assert_eq!(e.file(), "inv.toml");
            format!("{}:{}: {}", e.line(), e.column(), e.reason())
        }
    }
}

/// The annotated example of the crate docs, verbatim.
fn documented_example() -> String {
    let docs = include_str!("../lib.rs");
    let mut lines = docs
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .skip_while(|line| *line != "```toml")
        .skip(1);
    let mut text = String::new();
    for line in lines.by_ref().take_while(|line| *line != "```") {
        text.push_str(line);
        text.push('\n');
    }
    assert!(text.contains("[[host.vulnerability]]"), "{text}");
    text
}

#[test]
fn the_documented_example_loads() {
    let inventory = load(&documented_example());
    assert_eq!(inventory.len(), 2);
    let host = inventory
        .host(ip("10.0.0.5"))
        .unwrap_or_else(|| panic!("no host"));
    assert_eq!(host.os(), Some(2));
    assert_eq!(
        host.services(),
        &[Service {
            port: 22,
            protocol: Protocol::TCP,
            name: Some("ssh".into()),
            banner: Some("OpenSSH 7.4".into()),
        }]
    );
    assert_eq!(
        host.vulnerabilities(),
        &[Vulnerability {
            plugin_id: 3001,
            sid: 10007,
            reliability: Some(4),
        }]
    );
    let v6 = inventory.host(ip("2001:db8::7")).map(HostProfile::os);
    assert_eq!(v6, Some(Some(1)));
}

#[test]
fn round_trip() {
    let text = r#"
# a comment
[[host]]
ip = "192.0.2.10"
os = "hp-ux"

[[host.service]]
port = 443
protocol = "TCP"
banner = "Apache/2.4.29 (Ubuntu)"

[[host.service]]
port = 53
protocol = 17

[[host.service]]
port = 53
protocol = "tcp"
name = "domain"

[[host.service]]
port = 9
protocol = 99
name = "odd \"quoted\" name"

[[host.vulnerability]]
plugin_id = 7001
sid = 5
reliability = 0

[[host.vulnerability]]
plugin_id = 3001
sid = 10007

[[host]]
ip = "10.0.0.1"
os = 4242

[[host]]
ip = "2001:db8:0:0::1"
"#;
    let inventory = load(text);
    let written = inventory.to_toml();
    let again = load(&written);
    assert_eq!(again, inventory);
    assert_eq!(again.to_toml(), written, "writing is stable");
    assert_eq!(
        written,
        r#"[[host]]
ip = "10.0.0.1"
os = 4242

[[host]]
ip = "192.0.2.10"
os = "HP-UX"

[[host.service]]
port = 9
protocol = "99"
name = 'odd "quoted" name'

[[host.service]]
port = 53
protocol = "tcp"
name = "domain"

[[host.service]]
port = 53
protocol = "udp"

[[host.service]]
port = 443
protocol = "tcp"
banner = "Apache/2.4.29 (Ubuntu)"

[[host.vulnerability]]
plugin_id = 3001
sid = 10007

[[host.vulnerability]]
plugin_id = 7001
sid = 5
reliability = 0

[[host]]
ip = "2001:db8::1"
"#
    );
    // Runtime updates survive a write and a read.
    let mut changed = again;
    changed.set_os(ip("10.0.0.1"), None);
    assert!(changed.remove_vulnerability(ip("192.0.2.10"), PluginSid::new(7001, 5)));
    assert_eq!(load(&changed.to_toml()), changed);
    assert_eq!(load(""), Inventory::new());
    assert_eq!(Inventory::new().to_toml(), "host = []\n");
    assert_eq!(load("host = []\n"), Inventory::new());
}

#[test]
fn bad_ip() {
    assert_eq!(
        err("[[host]]\nip = \"10.0.0.256\"\n"),
        "2:6: invalid IP address \"10.0.0.256\""
    );
    assert_eq!(
        err("[[host]]\n  ip = 10\n"),
        "2:8: invalid type: integer `10`, expected a string"
    );
    assert_eq!(
        err("[[host]]\nip = \"10.0.0.5\"\n\n[[host]]\nip = \"10.0.0.5\"\n"),
        "5:6: host 10.0.0.5 is listed twice (first at line 2)"
    );
    assert_eq!(err("[[host]]\nos = 2\n"), "1:1: missing field `ip`");
}

#[test]
fn unknown_key() {
    assert_eq!(
        err("[[host]]\nip = \"10.0.0.5\"\nosname = \"Linux\"\n"),
        "3:1: unknown field `osname`, expected one of `ip`, `os`, `service`, `vulnerability`"
    );
    assert_eq!(
        err(
            "[[host]]\nip = \"10.0.0.5\"\n[[host.service]]\nport = 22\nprotocol = \"tcp\"\nbannr = \"x\"\n"
        ),
        "6:1: unknown field `bannr`, expected one of `port`, `protocol`, `name`, `banner`"
    );
    assert_eq!(
        err("[[hosts]]\nip = \"10.0.0.5\"\n"),
        "1:3: unknown field `hosts`, expected `host`"
    );
    assert_eq!(
        err(
            "[[host]]\nip = \"10.0.0.5\"\n[[host.vulnerability]]\nplugin_id = 3001\nsid = 1\nreliablity = 3\n"
        ),
        "6:1: unknown field `reliablity`, expected one of `plugin_id`, `sid`, `reliability`"
    );
}

#[test]
fn bad_port() {
    let service = |port: &str| {
        format!(
            "[[host]]\nip = \"10.0.0.5\"\n[[host.service]]\nport = {port}\nprotocol = \"tcp\"\n"
        )
    };
    assert_eq!(
        err(&service("70000")),
        "4:8: port 70000 is out of range 1..=65535"
    );
    assert_eq!(err(&service("0")), "4:8: port 0 is out of range 1..=65535");
    assert_eq!(
        err(&service("-1")),
        "4:8: port -1 is out of range 1..=65535"
    );
    assert_eq!(
        err(&service("\"22\"")),
        "4:8: invalid type: string \"22\", expected i64"
    );
    assert_eq!(
        err(
            "[[host]]\nip = \"10.0.0.5\"\n[[host.service]]\nport = 22\nprotocol = \"tcp\"\n[[host.service]]\nport = 22\nprotocol = \"TCP\"\n"
        ),
        "7:8: service 22/TCP of host 10.0.0.5 is listed twice"
    );
    assert_eq!(
        err("[[host]]\nip = \"10.0.0.5\"\n[[host.service]]\nport = 22\n"),
        "3:1: missing field `protocol`"
    );
}

#[test]
fn bad_values() {
    let host = "[[host]]\nip = \"10.0.0.5\"\n";
    assert_eq!(
        err(&format!("{host}os = \"Ubuntu\"\n")),
        "3:6: unknown OS \"Ubuntu\": use an OSSIM OS name (Windows, Linux, Cisco, BSD, FreeBSD, \
         NetBSD, OpenBSD, HP-UX, Solaris, Macos, Plan9, SCO, AIX, UNIX, SunOS) or a plugin 5001 sid"
    );
    assert_eq!(
        err(&format!("{host}os = 1.5\n")),
        "3:6: invalid type: floating point `1.5`, expected an integer or a string"
    );
    assert_eq!(
        err(&format!("{host}os = -1\n")),
        "3:6: OS sid -1 is out of range 0..=4294967295"
    );
    assert_eq!(
        err(&format!(
            "{host}[[host.service]]\nport = 1\nprotocol = \"tcpp\"\n"
        )),
        "5:12: unknown protocol \"tcpp\" (use e.g. \"tcp\", \"udp\" or a number)"
    );
    assert_eq!(
        err(&format!(
            "{host}[[host.service]]\nport = 1\nprotocol = 256\n"
        )),
        "5:12: protocol 256 is out of range 0..=255"
    );
    let vuln = |body: &str| format!("{host}[[host.vulnerability]]\n{body}");
    assert_eq!(
        err(&vuln("plugin_id = 3001\nsid = 1\nreliability = 11\n")),
        "6:15: reliability 11 is out of range 0..=10"
    );
    assert_eq!(
        err(&vuln("plugin_id = 3001\nsid = 4294967296\n")),
        "5:7: sid 4294967296 is out of range 0..=4294967295"
    );
    assert_eq!(
        err(&vuln("plugin_id = 5001\nsid = 1\n")),
        "4:13: plugin 5001 is OSSIM's OS list, not a vulnerability: set the host's OS instead"
    );
    assert_eq!(
        err(&vuln("plugin_id = 5002\nsid = 22\n")),
        "4:13: plugin 5002 is OSSIM's services list, not a vulnerability: set the host's services instead"
    );
    assert_eq!(
        err(&vuln(
            "plugin_id = 3001\nsid = 1\n[[host.vulnerability]]\nplugin_id = 3001\nsid = 1\n"
        )),
        "7:13: vulnerability 3001/1 of host 10.0.0.5 is listed twice"
    );
    // TOML syntax; columns count characters, not bytes.
    assert_eq!(err("ip = [\n"), "1:7: unclosed array, expected `]`");
    assert_eq!(
        err("# é\n[[host]]\nip = \"é\"\n"),
        "3:6: invalid IP address \"é\""
    );
    assert_eq!(
        err("[[host]]\nip = \"é1\" x\n"),
        "2:11: unexpected key or value, expected newline, `#`"
    );
}

#[test]
fn load_path_names_the_file() {
    let missing = std::path::Path::new("/nonexistent/vigil/inventory.toml");
    let e = Inventory::load_path(missing).err().map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.starts_with("/nonexistent/vigil/inventory.toml: cannot read file")),
        "{e:?}"
    );
    let e = Inventory::from_toml("x.toml", "[[host]]\nip = \"1\"\n")
        .err()
        .map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("x.toml:2:6: invalid IP address \"1\""));
}
