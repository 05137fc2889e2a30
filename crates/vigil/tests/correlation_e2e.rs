//! Correlation end to end with the real binary and the OSSIM corpus: `vigil replay` prints the
//! alarms of directive 50004 exactly and deterministically; `vigil check` reports problems as
//! file:line:column; a running server raises and stores the alarm, and a backlog survives a
//! restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use vigil::loadgen::open_session;
use vigil_event::Alarm;
use vigil_store::{Log, Query};

/// `count` pam_unix authentication failures (plugin 4004 sid 2) from A to B, one a second.
fn failures(first: u32, count: u32) -> String {
    (first..first + count)
        .map(|n| format!("event type=\"detector\" date=\"{}\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.5\" dst_port=\"22\"\n", 1_700_000_000 + n))
        .collect()
}

fn replay(file: &std::path::Path) -> (String, String) {
    run_ok(
        Command::new(exe())
            .arg("replay")
            .arg("--directives")
            .arg(corpus("ossim/directives"))
            .arg("--sid-tables")
            .arg(corpus("ossim/plugins-sql"))
            .arg(file),
    )
}

#[test]
fn replay_gives_the_worked_example_alarms_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.log");
    // 20 failures: no alarm yet; the 21st fires level 2; then 50 more fire level 3.
    std::fs::write(
        &file,
        format!(
            "connect id=\"1\" type=\"sensor\"\n{}event bad=1\n{}",
            failures(0, 21),
            failures(21, 50)
        ),
    )
    .unwrap();
    let (stdout, stderr) = replay(&file);
    let alarms: Vec<Alarm> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alarms.len(), 4, "{stdout}");
    assert_eq!(
        (
            alarms[0].directive_id,
            alarms[0].revision,
            alarms[0].level,
            alarms[0].risk,
            alarms[0].priority
        ),
        (50004, 1, 2, 1, 4)
    );
    assert_eq!(
        alarms[0]
            .evidence
            .iter()
            .map(|e| e.event_ids.len())
            .collect::<Vec<_>>(),
        vec![1, 20]
    );
    assert_eq!(alarms[0].first_seen.as_secs(), 1_700_000_000);
    assert_eq!(alarms[0].last_seen.as_secs(), 1_700_000_020);
    // Revised as it absorbs the next failures (at 32 and 64 counted), then level 3.
    assert_eq!(
        alarms
            .iter()
            .map(|a| (a.id, a.revision, a.level, a.event_count))
            .collect::<Vec<_>>(),
        vec![
            (alarms[0].id, 1, 2, 21),
            (alarms[0].id, 2, 2, 32),
            (alarms[0].id, 3, 2, 64),
            (alarms[0].id, 4, 3, 71)
        ]
    );
    assert!(stderr.contains("agent.log:23: unquoted_value"), "{stderr}");
    assert!(
        stderr.contains("replayed 71 events (1 lines rejected, 0 unparsed): 4 alarm revisions"),
        "{stderr}"
    );
    // Same input, same output, to the byte (ids included).
    assert_eq!(replay(&file).0, stdout);
}

#[test]
fn check_reports_problems_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<directive id=\"1\" name=\"x\" priority=\"3\">\n  <rule type=\"detector\" name=\"r\" plugin_id=\"1\" time_out=\"ten\"/>\n</directive>\n").unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[policy]]\nname = \"p\"\nsources = [\"10.0.0.300\"]\n",
    )
    .unwrap();
    let plugin = dir.path().join("broken.cfg");
    std::fs::write(&plugin, "[DEFAULT]\nplugin_id=12x\n[config]\nsource=log\n").unwrap();
    let output = Command::new(exe())
        .arg("check")
        .arg(&bad)
        .arg(&policy)
        .arg(&plugin)
        .arg(corpus("ossim/plugins-sql/ssh.sql"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("bad.xml:2:"), "{stdout}");
    assert!(stdout.contains("time_out"), "{stdout}");
    assert!(stdout.contains("policy.toml:3:"), "{stdout}");
    assert!(
        stdout.contains("broken.cfg:2:1: plugin_id \"12x\" is not a number"),
        "{stdout}"
    );
    assert!(stdout.contains("3 error(s)"), "{stdout}");

    // Vigil's own plugins, and the corpus's with the agent's aliases: load warnings only.
    let mut own = Command::new(exe());
    own.arg("check");
    for f in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")).unwrap()
    {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "cfg") {
            own.arg(f);
        }
    }
    let (stdout, _) = common::run_ok(&mut own);
    assert_eq!(stdout, "0 error(s), 0 warning(s)\n");
    let (stdout, _) = common::run_ok(
        Command::new(exe())
            .arg("check")
            .arg("--agent-config")
            .arg(corpus("ossim/agent"))
            .arg(corpus("ossim/plugins/snort_syslog.cfg")),
    );
    assert!(
        stdout.contains("snort_syslog.cfg:78: [03_snort-fast-format]: multi-line rule")
            && stdout.ends_with("0 error(s), 1 warning(s)\n"),
        "{stdout}"
    );

    let ok = Command::new(exe())
        .arg("check")
        .arg(corpus("ossim/directives"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("0 error(s), 3 warning(s)"));
}

#[test]
fn the_server_raises_stores_and_resumes_correlation_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tables = corpus_rules("");
    let server = start(dir.path(), "", &tables);
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(failures(0, 10).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 10.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(server.metric("vigil_backlogs").unwrap(), 1.0);
    drop(s);
    server.terminate().unwrap();
    assert!(stored_alarms(dir.path()).is_empty());

    // The backlog was saved at shutdown: 11 more failures complete level 2.
    let server = start(dir.path(), "", &tables);
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(failures(10, 11).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_alarms_total", 1.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(server.metric("vigil_directive_events_total").unwrap(), 1.0);
    drop(s);
    server.terminate().unwrap();
    let stored = stored_alarms(dir.path());
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].directive_id, stored[0].level, stored[0].risk),
        (50004, 2, 1)
    );
    assert_eq!(
        stored[0].evidence[1].event_ids.len(),
        20,
        "ten events from before the restart, ten after"
    );
    // The directive event is stored beside the events, searchable by plugin 1505.
    let directive_events = Log::<vigil_event::Event>::open_read_only(&dir.path().join("events"))
        .unwrap()
        .search(&Query {
            plugin_id: Some(1505),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(directive_events.len(), 1);
    assert_eq!(directive_events[0].plugin_sid, 50004);
    // And `vigil search --alarms` finds the alarm.
    let output = Command::new(exe())
        .args(["search", "--alarms", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"directive_id\":50004"));
}

#[test]
fn cross_correlation_confirms_an_attack_on_a_vulnerable_host() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.toml");
    // The host has the nessus finding that snort sid 1005 references (cross-free.sql).
    std::fs::write(
        &inventory,
        "[[host]]\nip = \"10.0.0.5\"\n[[host.vulnerability]]\nplugin_id = 3001\nsid = 10007\n",
    )
    .unwrap();
    let file = dir.path().join("agent.log");
    std::fs::write(
        &file,
        "event type=\"detector\" date=\"1700000000\" plugin_id=\"1001\" plugin_sid=\"1005\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.5\" dst_port=\"80\"\n\
         event type=\"detector\" date=\"1700000001\" plugin_id=\"1001\" plugin_sid=\"1005\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.6\" dst_port=\"80\"\n",
    )
    .unwrap();
    let (stdout, _) = run_ok(
        Command::new(exe())
            .args(["replay", "--events", "--sid-tables"])
            .arg(corpus("ossim/plugins-sql/snort.sql"))
            .arg("--inventory")
            .arg(&inventory)
            .arg("--references")
            .arg(corpus("ossim/crosscorrelation/cross-free.sql"))
            .arg(&file),
    );
    let events: Vec<vigil_event::Event> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].reliability,
        Some(10),
        "confirmed vulnerability on 10.0.0.5"
    );
    assert_ne!(
        events[1].reliability,
        Some(10),
        "10.0.0.6 has no inventory: the sid table's reliability"
    );
}

/// Raw logs through OSSIM plugin files: the 3-week Ubuntu auth.log with a brute force.
#[test]
fn replay_of_raw_logs_through_plugins_raises_the_brute_force_alarms() {
    let plugins = corpus("ossim/plugins");
    let run = || {
        run_ok(
            Command::new(exe())
                .arg("replay")
                .args(["--plugins"])
                .arg(plugins.join("ssh.cfg"))
                .args(["--plugins"])
                .arg(plugins.join("pam_unix.cfg"))
                .args(["--plugins"])
                .arg(plugins.join("sudo.cfg"))
                .arg("--agent-config")
                .arg(corpus("ossim/agent"))
                .arg("--directives")
                .arg(corpus("ossim/directives"))
                .arg("--sid-tables")
                .arg(corpus("ossim/plugins-sql"))
                .args(["--year", "2015"])
                .arg(corpus("attacks/elastic-examples-ssh-bruteforce/auth.log")),
        )
    };
    let (stdout, stderr) = run();
    // The 85 `message repeated N times` lines are parsed as the failures they repeat, with
    // their occurrences: one more alarm revision than when they were left unparsed.
    assert!(
        stderr
            .contains("replayed 7121 events (0 lines rejected, 2427 unparsed): 26 alarm revisions"),
        "{stderr}"
    );
    let alarms: Vec<Alarm> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let distinct = |directive: u32| {
        alarms
            .iter()
            .filter(|a| a.directive_id == directive)
            .map(|a| a.id)
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    assert_eq!(
        (distinct(50113), distinct(50004)),
        (5, 2),
        "SSH and PAM brute-force directives (the repeated failures raise a fifth SSH alarm)"
    );
    assert_eq!(run().0, stdout, "deterministic");
}

/// `Mon dd HH:MM:SS` of `secs` since the epoch (UTC), as syslog writes it.
fn syslog_date(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %e %H:%M:%S")
        .to_string()
}

/// A raw auth.log replayed without `--plugins` (Vigil's built-in plugins, as the edge) and with
/// `--hosts`: a line without a date, then 16 sshd password failures one a second from
/// 31 December 23:59:52 to 1 January 00:00:07. With `--year 2026` the December lines are 2026
/// and the January lines 2027, so the burst correlates: directive 50113 reaches level 3
/// (10 failures within 60 s after 5 within 30 s) and raises exactly one alarm. The undated
/// line takes the first date, not 1970.
#[test]
fn replay_rolls_dates_into_the_new_year_so_a_burst_across_midnight_raises_its_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_798_761_592; // 2026-12-31T23:59:52Z
    let mut log = String::from("gw kernel: a line without a date\n");
    for n in 0..16 {
        log.push_str(&format!(
            "{} gw sshd[4242]: Failed password for root from 203.0.113.7 port {} ssh2\n",
            syslog_date(start + n),
            40_000 + n
        ));
    }
    let file = dir.path().join("auth.log");
    std::fs::write(&file, log).unwrap();
    let hosts = dir.path().join("hosts.toml");
    std::fs::write(&hosts, "[hosts]\ngw = \"10.0.0.5\"\n").unwrap();
    let (stdout, stderr) = run_ok(
        Command::new(exe())
            .args(["replay", "--events", "--year", "2026", "--directives"])
            .arg(corpus("ossim/directives"))
            .arg("--sid-tables")
            .arg(corpus("ossim/plugins-sql"))
            .arg("--hosts")
            .arg(&hosts)
            .arg(&file),
    );
    assert!(
        stderr.contains("replayed 17 events (0 lines rejected, 1 unparsed): 1 alarm revisions"),
        "{stderr}"
    );
    let (mut events, mut alarms) = (Vec::new(), Vec::new());
    for line in stdout.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        if value.get("directive_id").is_some() && value.get("evidence").is_some() {
            alarms.push(serde_json::from_value::<Alarm>(value).unwrap());
        } else {
            events.push(serde_json::from_value::<vigil_event::Event>(value).unwrap());
        }
    }
    let raw: Vec<&vigil_event::Event> = events.iter().filter(|e| e.plugin_id != 1505).collect();
    assert_eq!(raw.len(), 17);
    assert_eq!(
        (raw[0].plugin_id, raw[0].time.as_secs()),
        (1_000_000_000, start),
        "the undated line takes the first date"
    );
    let times: Vec<i64> = raw[1..].iter().map(|e| e.time.as_secs()).collect();
    assert_eq!(times, (start..start + 16).collect::<Vec<_>>());
    assert!(
        raw[1..].iter().all(
            |e| (e.plugin_id, e.plugin_sid, e.dst_ip) == (4003, 1, "10.0.0.5".parse().unwrap())
        )
    );
    assert_eq!(alarms.len(), 1, "{stdout}");
    let alarm = &alarms[0];
    assert_eq!(
        (
            alarm.directive_id,
            alarm.revision,
            alarm.level,
            alarm.priority,
            alarm.reliability,
            alarm.risk,
            alarm.src_ip.to_string(),
            alarm.dst_ip.to_string(),
        ),
        (
            50113,
            1,
            3,
            4,
            4,
            1,
            "203.0.113.7".into(),
            "10.0.0.5".into()
        )
    );
    assert_eq!(
        (alarm.first_seen.as_secs(), alarm.last_seen.as_secs()),
        (start, start + 15)
    );
    assert_eq!(
        alarm
            .evidence
            .iter()
            .map(|e| e.event_ids.len())
            .collect::<Vec<_>>(),
        vec![1, 5, 10]
    );
}
