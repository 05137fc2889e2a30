//! Hot reload of the correlation rules on a running server: through the admin API (with a
//! report of the backlogs carried over), refused atomically when a file is broken, and on SIGHUP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use vigil::loadgen::open_session;
use vigil::process::http_post;

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
    let server = start(
        dir.path(),
        "",
        &format!(
            "[correlation]\ndirectives = [{:?}]\n",
            rules.display().to_string()
        ),
    );
    let admin = server.info.metrics.unwrap();
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(event(0, 4004).as_bytes()).unwrap();
    s.write_all(event(1, 4004).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 2.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(server.metric("vigil_backlogs").unwrap(), 1.0);

    // Change directive 200 only: directive 100's backlog carries over.
    std::fs::write(&rules, directives("<directive id=\"200\" name=\"other\" priority=\"2\"><rule type=\"detector\" name=\"x\" plugin_id=\"77\"/></directive>\n")).unwrap();
    let (status, body) = http_post(admin, "/api/v1/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["directives"], 2);
    assert_eq!(report["kept_backlogs"], 1);
    assert_eq!(report["dropped_backlogs"], 0);

    // A broken file is refused and the running rules stay.
    std::fs::write(&rules, "<directive id=\"100\"").unwrap();
    let (status, body) = http_post(admin, "/api/v1/reload").unwrap();
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
