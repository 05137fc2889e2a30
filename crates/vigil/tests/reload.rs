//! Hot reload of the correlation rules on a running server: through the admin API (with a
//! report of the backlogs carried over), refused atomically when a file is broken, and on SIGHUP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use vigil::loadgen::open_session;

/// Directive 100: a failure then 3 more from the same source; directive 200 as given.
fn directives(second: &str) -> String {
    format!(
        "<directive id=\"100\" name=\"three more\" priority=\"5\">\n\
         <rule type=\"detector\" name=\"first\" reliability=\"1\" plugin_id=\"4004\" plugin_sid=\"2\">\n\
         <rules><rule type=\"detector\" name=\"more\" reliability=\"10\" occurrence=\"3\" time_out=\"600\" from=\"1:SRC_IP\" plugin_id=\"4004\" plugin_sid=\"2\"/></rules>\n\
         </rule></directive>\n{second}"
    )
}

fn event(n: u32, plugin_id: u32) -> String {
    format!(
        "event type=\"detector\" date=\"{}\" plugin_id=\"{plugin_id}\" plugin_sid=\"2\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.5\" priority=\"1\" reliability=\"1\"\n",
        1_700_000_000 + n
    )
}

#[test]
fn reload_keeps_unchanged_backlogs_refuses_broken_files_and_follows_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, directives("<directive id=\"200\" name=\"other\" priority=\"1\"><rule type=\"detector\" name=\"x\" plugin_id=\"77\"/></directive>\n")).unwrap();
    let server = start(dir.path(), "", &rules_tables(&[], &rules, ""));
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(event(0, 4004).as_bytes()).unwrap();
    s.write_all(event(1, 4004).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 2.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(server.metric("vigil_backlogs").unwrap(), 1.0);

    // Change directive 200 only: directive 100's backlog carries over.
    std::fs::write(&rules, directives("<directive id=\"200\" name=\"other\" priority=\"2\"><rule type=\"detector\" name=\"x\" plugin_id=\"77\"/></directive>\n")).unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["directives"], 2);
    assert_eq!(report["kept_backlogs"], 1);
    assert_eq!(report["dropped_backlogs"], 0);

    // A broken file is refused and the running rules stay.
    std::fs::write(&rules, "<directive id=\"100\"").unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 422);
    assert!(body.contains("rules.xml"), "{body}");
    s.write_all(event(2, 4004).as_bytes()).unwrap();
    s.write_all(event(3, 4004).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_directive_events_total", 1.0, Duration::from_secs(20))
        .unwrap();

    // SIGHUP: a new directive 300 on plugin 88 takes effect.
    std::fs::write(&rules, directives("<directive id=\"300\" name=\"new\" priority=\"1\"><rule type=\"detector\" name=\"y\" plugin_id=\"88\"/></directive>\n")).unwrap();
    server.signal("HUP").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut n = 10;
    while server.metric("vigil_directive_events_total").unwrap() < 2.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "directive 300 never fired after SIGHUP"
        );
        s.write_all(event(n, 88).as_bytes()).unwrap();
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(s);
    server.terminate().unwrap();
}

/// Directive 100 (one rule, risk 4 from 203.0.113.7) and a directive 300 whose `occurrence`
/// (line 5, column 47) is not a number.
const PARTLY_BROKEN: &str = "<directive id=\"100\" name=\"one\" priority=\"5\">\n\
<rule type=\"detector\" name=\"first\" reliability=\"10\" plugin_id=\"4004\" plugin_sid=\"2\"/>\n\
</directive>\n\
<directive id=\"300\" name=\"broken\" priority=\"1\">\n\
<rule type=\"detector\" name=\"y\" plugin_id=\"88\" occurrence=\"many\"/>\n\
</directive>\n";

/// The text of a log without its ANSI colour sequences.
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

fn rules_config(dir: &std::path::Path, rules: &std::path::Path, extra: &str) -> String {
    vigil::process::loopback_config(dir, "", &rules_tables(&[], rules, extra))
}

#[test]
fn a_rule_set_with_errors_stops_the_server_unless_partial_rules_are_allowed_and_alarms_are_logged()
{
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, PARTLY_BROKEN).unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, rules_config(dir.path(), &rules, "")).unwrap();
    let mut child = std::process::Command::new(exe())
        .args(["server", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server started with a broken directive");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    let diagnostic = format!(
        "{}:5:47: error: attribute `occurrence`: expected a whole number",
        rules.display()
    );
    assert!(stderr.contains(&diagnostic), "{stderr}");
    assert!(!dir.path().join("server.json").exists());

    // Allowed: it starts without directive 300, says so, and logs every alarm it raises.
    let server = vigil::process::ServerProcess::start_logging(
        &exe(),
        dir.path(),
        &rules_config(dir.path(), &rules, "allow_partial_rules = true\n"),
        "info",
    )
    .unwrap();
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(event(0, 4004).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_alarms_total", 1.0, Duration::from_secs(20))
        .unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["directives"], 1);
    let dropped = report["dropped_directives"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{body}");
    assert!(
        dropped[0].as_str().unwrap().starts_with(&diagnostic),
        "{body}"
    );
    drop(s);
    server.terminate().unwrap();
    let alarms = vigil_store::Log::<vigil_event::Alarm>::open_read_only(&dir.path().join("alarms"))
        .unwrap()
        .search(&vigil_store::Query::default())
        .unwrap();
    assert_eq!(alarms.len(), 1);
    let log = without_colours(&std::fs::read_to_string(dir.path().join("server.log")).unwrap());
    assert!(
        log.contains(&format!(
            "directive left out (allow_partial_rules): {diagnostic}"
        )),
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains(&alarms[0].id.to_string()))
        .unwrap_or_else(|| panic!("alarm {} not logged:\n{log}", alarms[0].id));
    for field in [
        " INFO ",
        "revision=1",
        "directive=100",
        "risk=4",
        "src=203.0.113.7",
        "dst=10.0.0.5",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
}

#[test]
fn a_reload_that_would_drop_a_directive_is_refused_counted_and_the_running_rules_stay() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, directives("<directive id=\"200\" name=\"other\" priority=\"1\"><rule type=\"detector\" name=\"x\" plugin_id=\"77\"/></directive>\n")).unwrap();
    let server = vigil::process::ServerProcess::start(
        &exe(),
        dir.path(),
        &rules_config(dir.path(), &rules, ""),
    )
    .unwrap();
    std::fs::write(&rules, PARTLY_BROKEN).unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains(&format!(
            "{}:5:47: error: attribute `occurrence`",
            rules.display()
        )),
        "{body}"
    );
    server.signal("HUP").unwrap();
    server
        .wait_for_metric(
            "vigil_reloads_total{outcome=\"refused\"}",
            2.0,
            Duration::from_secs(20),
        )
        .unwrap();
    assert_eq!(
        server
            .metric_series("vigil_reloads_total{outcome=\"applied\"}")
            .unwrap(),
        0.0
    );
    // Directive 200, absent from the refused file, still fires.
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(event(0, 77).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_directive_events_total", 1.0, Duration::from_secs(20))
        .unwrap();
    drop(s);
    server.terminate().unwrap();
}

/// A directive file any local user can write would let that user blind correlation: the
/// server refuses it on reload (keeping its rules) and at start, naming the file.
#[test]
fn a_rule_file_anyone_can_write_is_refused_on_reload_and_at_start() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, directives("")).unwrap();
    let tables = rules_tables(&[], &rules, "");
    let server = start(dir.path(), "", &tables);

    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains(&format!(
            "directive file {} is writable by every user (mode 666)",
            rules.display()
        )),
        "{body}"
    );
    // Once the permission is removed, the same file loads.
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["directives"], 1);
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o666)).unwrap();
    server.terminate().unwrap();

    let refused = vigil::process::ServerProcess::start(
        &exe(),
        dir.path(),
        &vigil::process::loopback_config(dir.path(), "", &tables),
    )
    .err()
    .expect("a world-writable directive file stops the start");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains(&format!("{} is writable by every user", rules.display())),
        "{refused:#}\n{log}"
    );
}
