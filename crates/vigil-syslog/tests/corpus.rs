//! Real log files from the shared corpus: every line parses as RFC 3164, with hand-checked
//! fields on a few lines and counts checked independently (grep and a Python regex).

use std::collections::BTreeMap;

use vigil_event::Timestamp;
use vigil_syslog::{Format, Message, ParseContext, parse};

fn corpus(rel: &str) -> Vec<Vec<u8>> {
    let path = format!(
        "{}/../../../shared/corpus/logs/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("test corpus missing: {path}: {e} (expected ../shared/corpus)"));
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn parse_all(lines: &[Vec<u8>], now: &str) -> Vec<Message> {
    let cx = ParseContext::utc(now.parse::<Timestamp>().expect("now"));
    lines.iter().map(|l| parse(l, &cx)).collect()
}

fn fields(m: &Message) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        m.hostname.as_deref(),
        m.app_name.as_deref(),
        m.proc_id.as_deref(),
    )
}

fn app_counts(msgs: &[Message]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in msgs {
        *counts
            .entry(m.app_name.clone().unwrap_or_else(|| "<none>".into()))
            .or_insert(0) += 1;
    }
    counts
}

fn all_3164(msgs: &[Message]) {
    for m in msgs {
        assert_eq!(
            m.format,
            Format::Rfc3164,
            "{:?}",
            String::from_utf8_lossy(&m.raw)
        );
        assert!(
            m.timestamp.is_some(),
            "{:?}",
            String::from_utf8_lossy(&m.raw)
        );
        assert!(
            m.hostname.is_some(),
            "{:?}",
            String::from_utf8_lossy(&m.raw)
        );
        assert!(!m.non_utf8);
        assert_eq!((m.facility, m.severity), (None, None));
    }
}

#[test]
fn loghub_linux() {
    let lines = corpus("loghub/Linux/Linux_2k.log");
    assert_eq!(lines.len(), 2000);
    let msgs = parse_all(&lines, "2005-08-01T00:00:00Z");
    all_3164(&msgs);

    let first = &msgs[0];
    assert_eq!(
        fields(first),
        (Some("combo"), Some("sshd(pam_unix)"), Some("19939"))
    );
    assert_eq!(
        first.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2005-06-14T15:16:01Z")
    );
    assert_eq!(
        first.body,
        "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
        "trailing CR trimmed, trailing space kept"
    );
    // Line 1910: `Jul 27 14:41:57 combo kernel: klogd 1.4.1, log source = /proc/kmsg started.`
    let kernel = &msgs[1909];
    assert_eq!(fields(kernel), (Some("combo"), Some("kernel"), None));
    assert_eq!(kernel.body, "klogd 1.4.1, log source = /proc/kmsg started.");
    assert_eq!(
        kernel.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2005-07-27T14:41:57Z")
    );

    let counts = app_counts(&msgs);
    // grep -c ' combo ftpd\[' / ' combo sshd(pam_unix)\[' ; 'syslogd 1.4.1: restart' is 7
    // lines plus one `combo  -- root[2421]:` line without a tag.
    assert_eq!(counts["ftpd"], 916);
    assert_eq!(counts["sshd(pam_unix)"], 677);
    assert_eq!(counts["su(pam_unix)"], 172);
    assert_eq!(counts["kernel"], 76);
    assert_eq!(counts["<none>"], 8);
    assert_eq!(counts.len(), 29);
    assert_eq!(msgs.iter().filter(|m| m.proc_id.is_some()).count(), 1848);
    assert!(msgs.iter().all(|m| m.hostname.as_deref() == Some("combo")));
}

#[test]
fn loghub_openssh() {
    let lines = corpus("loghub/OpenSSH/OpenSSH_2k.log");
    assert_eq!(lines.len(), 2000);
    let msgs = parse_all(&lines, "2017-12-31T00:00:00Z");
    all_3164(&msgs);
    // grep -c 'sshd\[' = 2000.
    assert!(
        msgs.iter()
            .all(|m| fields(m).0 == Some("LabSZ") && fields(m).1 == Some("sshd"))
    );
    assert!(msgs.iter().all(|m| m.proc_id.is_some()));

    assert_eq!(
        fields(&msgs[0]),
        (Some("LabSZ"), Some("sshd"), Some("24200"))
    );
    assert_eq!(
        msgs[0].timestamp.map(|t| t.to_string()).as_deref(),
        Some("2017-12-10T06:55:46Z")
    );
    // Line 1000.
    assert_eq!(
        fields(&msgs[999]),
        (Some("LabSZ"), Some("sshd"), Some("24833"))
    );
    assert_eq!(
        msgs[999].body,
        "Failed password for invalid user admin from 119.4.203.64 port 2191 ssh2"
    );
    // The last line has no newline at the end of the file.
    assert_eq!(
        fields(&msgs[1999]),
        (Some("LabSZ"), Some("sshd"), Some("25539"))
    );
    assert_eq!(
        msgs[1999].body,
        "Failed password for invalid user user from 103.99.0.122 port 52683 ssh2"
    );
}

#[test]
fn elastic_system_auth() {
    let lines = corpus("elastic-integrations/system_auth/test-auth.log");
    assert_eq!(lines.len(), 12);
    let msgs = parse_all(&lines, "2026-11-22T00:00:00Z");
    all_3164(&msgs);
    let counts = app_counts(&msgs);
    assert_eq!(counts["sshd"], 6);
    assert_eq!(counts["sudo"], 4);
    assert_eq!(counts["groupadd"], 1);
    assert_eq!(counts["useradd"], 1);
    assert_eq!(msgs.iter().filter(|m| m.proc_id.is_some()).count(), 9);
    assert_eq!(
        msgs.iter()
            .filter(|m| fields(m).0 == Some("localhost"))
            .count(),
        7
    );

    assert_eq!(
        fields(&msgs[0]),
        (Some("localhost"), Some("sshd"), Some("3402"))
    );
    assert_eq!(fields(&msgs[4]), (Some("localhost"), Some("sudo"), None));
    assert_eq!(
        msgs[7].body,
        "tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls"
    );
    assert_eq!(fields(&msgs[7]), (Some("precise32"), Some("sudo"), None));
    assert_eq!(
        fields(&msgs[10]),
        (Some("localhost-machine"), Some("sshd"), Some("10161"))
    );
    assert_eq!(
        fields(&msgs[11]),
        (Some("host.name"), Some("sudo"), Some("654321"))
    );
    assert_eq!(
        msgs[11].timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-06-02T19:08:43Z")
    );
}

#[test]
fn corpus_through_the_framer_matches_line_by_line_parsing() {
    use vigil_syslog::{Decoder, FramingMode};
    let path = format!(
        "{}/../../../shared/corpus/logs/loghub/Linux/Linux_2k.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("test corpus missing: {path}: {e}"));
    let frames = Decoder::decode_all(FramingMode::Auto, 8192, &data);
    assert_eq!(frames.len(), 2000);
    for (frame, line) in frames.iter().zip(corpus("loghub/Linux/Linux_2k.log")) {
        let frame = frame.as_ref().expect("no framing errors");
        assert_eq!(frame.data, line.strip_suffix(b"\r").unwrap_or(&line));
    }
}
