//! The console's alarm API end to end (real binary, real TLS 1.3): alarms stored before the
//! start and raised by real events through the agent port are listed with exact fields; every
//! filter and sort gives its exact set; a cursor walk returns each alarm once; triage, assign and
//! bulk actions by an analyst persist across a restart, are refused to a viewer and without a
//! CSRF token; the detail carries revisions, evidence events with their logs and history; the
//! live stream delivers a new alarm and a triage change; the audit log records logins, failed
//! logins, logouts and triage, is admin-only, and loses one record to a flipped bit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use common::console::{ConsoleClient, Login, problem};
use common::{accounts_command, b64, corpus_rules, exe, stored_alarms, succeeded};
use vigil::loadgen::open_session;
use vigil::process::{ServerProcess, loopback_config};
use vigil_event::{Alarm, CorrelationState, Timestamp, Uuid};
use vigil_store::{LogOptions, Store};

const T: i64 = 1_700_000_000;

fn user(dir: &Path, name: &str, role: &str, password: &str) {
    succeeded(accounts_command(
        "user",
        dir,
        &["add", name, "--role", role],
        &format!("{password}\n"),
    ));
}

/// A stored alarm: `n` is its id, `at` seconds after `T` its last event.
#[allow(clippy::too_many_arguments)]
fn alarm(
    n: u128,
    directive: u32,
    name: &str,
    (src, dst): (&str, &str),
    risk: u8,
    at: i64,
    correlation: CorrelationState,
    (users, sensors): (&[&str], &[&str]),
) -> Alarm {
    let mut a = Alarm::new(Uuid::from_u128(n), name.into(), Timestamp::from_secs(T));
    a.directive_id = directive;
    a.src_ip = src.parse::<IpAddr>().unwrap();
    a.dst_ip = dst.parse::<IpAddr>().unwrap();
    a.risk = risk;
    a.priority = 3;
    a.reliability = 5;
    a.last_seen = Timestamp::from_secs(T + at);
    a.correlation = correlation;
    a.usernames = users.iter().map(|s| s.to_string()).collect();
    a.sensors = sensors.iter().map(|s| s.to_string()).collect();
    a
}

/// Five alarms (and an older revision of the first), stored before the server starts.
fn seed(dir: &Path) {
    use CorrelationState::*;
    let mut first = alarm(
        1,
        50001,
        "SSH brute force",
        ("10.0.0.1", "192.168.1.10"),
        2,
        90,
        Active,
        (&["root"], &["edge-1"]),
    );
    let mut second = first.clone();
    second.revision = 2;
    second.risk = 7;
    second.last_seen = Timestamp::from_secs(T + 100);
    second.correlation = Completed;
    first.correlation = Active;
    let alarms = vec![
        first,
        second,
        alarm(
            2,
            50002,
            "Port scan",
            ("10.0.0.2", "192.168.1.11"),
            3,
            300,
            Active,
            (&[], &["edge-2"]),
        ),
        alarm(
            3,
            50001,
            "SSH brute force",
            ("172.16.0.5", "192.168.1.10"),
            7,
            200,
            Expired,
            (&["admin"], &["edge-1"]),
        ),
        alarm(
            4,
            50003,
            "Web attack",
            ("10.1.0.9", "192.168.2.1"),
            9,
            50,
            Active,
            (&[], &[]),
        ),
        alarm(
            5,
            50002,
            "Port scan",
            ("203.0.113.7", "192.168.1.11"),
            0,
            400,
            Completed,
            (&[], &[]),
        ),
    ];
    let mut store = Store::open(dir, &LogOptions::default()).unwrap();
    store.alarms.append(&alarms).unwrap();
}

fn ids(reply: &common::console::Reply) -> Vec<u128> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().parse::<Uuid>().unwrap().as_u128())
        .collect()
}

fn list(client: &ConsoleClient, login: &Login, query: &str) -> Vec<u128> {
    ids(&client.get(login, &format!("/api/v1/alarms?{query}")))
}

/// `count` pam_unix failures from 203.0.113.7 to 10.0.0.5, one a second from `T`, with a log.
fn failures(count: u32) -> String {
    (0..count)
        .map(|n| format!("event type=\"detector\" date=\"{}\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.5\" dst_port=\"22\" log=\"{}\"\n", T + i64::from(n), b64(&format!("pam failure {n}"))))
        .collect()
}

fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start(&exe(), dir, &loopback_config(dir, "", &corpus_rules(""))).unwrap()
}

#[test]
fn alarms_are_listed_filtered_triaged_streamed_and_kept_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    user(&dir, "ann", "analyst", "Correct-Horse-7");
    user(&dir, "vic", "viewer", "Battery-Staple-9");
    user(&dir, "root", "admin", "Admin-Staple-42");
    seed(&dir);
    let server = start(&dir);
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let ann = client.session("ann", "Correct-Horse-7");
    let vic = client.session("vic", "Battery-Staple-9");

    // The latest revision of each, without evidence, triage and assignee overlaid.
    let page = client.get(&vic, "/api/v1/alarms?directive=50002&sort=oldest");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.json(),
        json!({"items": [{
            "v": 2, "id": Uuid::from_u128(2), "revision": 1, "directive_id": 50002,
            "name": "Port scan", "src_ip": "10.0.0.2", "src_port": 0, "dst_ip": "192.168.1.11",
            "dst_port": 0, "protocol": "TCP", "priority": 3, "reliability": 5, "risk": 3,
            "level": 1, "first_seen": "2023-11-14T22:13:20Z", "last_seen": "2023-11-14T22:18:20Z",
            "correlation": "active", "triage": {"status": "open"}, "rule": "", "event_count": 0,
            "evidence_omitted": 0, "usernames": [], "sensors": ["edge-2"], "assignee": null,
        }, {
            "v": 2, "id": Uuid::from_u128(5), "revision": 1, "directive_id": 50002,
            "name": "Port scan", "src_ip": "203.0.113.7", "src_port": 0, "dst_ip": "192.168.1.11",
            "dst_port": 0, "protocol": "TCP", "priority": 3, "reliability": 5, "risk": 0,
            "level": 1, "first_seen": "2023-11-14T22:13:20Z", "last_seen": "2023-11-14T22:20:00Z",
            "correlation": "completed", "triage": {"status": "open"}, "rule": "", "event_count": 0,
            "evidence_omitted": 0, "usernames": [], "sensors": [], "assignee": null,
        }], "next_cursor": null, "total": 2})
    );

    // Every filter and order gives its exact set.
    let from = T + 100;
    for (query, expected) in [
        ("", vec![4, 3, 1, 2, 5]),
        ("sort=risk", vec![4, 3, 1, 2, 5]),
        ("sort=time", vec![5, 2, 3, 1, 4]),
        ("sort=oldest", vec![4, 1, 3, 2, 5]),
        ("status=open", vec![4, 3, 1, 2, 5]),
        ("status=closed,acknowledged", vec![]),
        ("correlation=active", vec![4, 2]),
        ("correlation=completed,expired", vec![3, 1, 5]),
        ("risk_min=7", vec![4, 3, 1]),
        ("risk_max=3", vec![2, 5]),
        ("risk_min=3&risk_max=7", vec![3, 1, 2]),
        ("directive=50001", vec![3, 1]),
        ("src=10.0.0.0/8", vec![4, 1, 2]),
        ("src=10.0.0.2", vec![2]),
        ("dst=192.168.1.0%2F24", vec![3, 1, 2, 5]),
        ("sensor=edge-1", vec![3, 1]),
        ("user=root", vec![1]),
        ("q=SCAN", vec![2, 5]),
        (
            &format!("from={from}&to=2023-11-14T22:18:20Z"),
            vec![3, 1, 2],
        ),
        ("src=10.0.0.0/8&risk_min=5&sort=time", vec![1, 4]),
    ] {
        assert_eq!(list(&client, &vic, query), expected, "{query}");
    }
    for (query, detail) in [
        ("risk_min=x", "risk_min=\"x\" is not a risk 0-10"),
        (
            "src=10.0.0.300",
            "src=\"10.0.0.300\" is not an IP address or CIDR network",
        ),
        (
            "status=new",
            "status: \"new\" is not one of open, acknowledged, closed",
        ),
        (
            "sort=name",
            "sort=\"name\" is not one of risk, time, oldest",
        ),
        ("limit=0", "limit=0 is out of range (1 to 500)"),
        (
            "cursor=zzz",
            "invalid cursor \"zzz\" for this sort order (take next_cursor from the previous page)",
        ),
    ] {
        let reply = client.get(&vic, &format!("/api/v1/alarms?{query}"));
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.json(), problem(400, "Bad Request", detail), "{query}");
    }

    // A cursor walk of two per page returns each alarm once, in order.
    let (mut walked, mut cursor) = (Vec::new(), String::new());
    loop {
        let reply = client.get(&vic, &format!("/api/v1/alarms?limit=2&sort=time{cursor}"));
        let body = reply.json();
        assert_eq!(body["total"], 5);
        walked.extend(ids(&reply));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(walked, [5, 2, 3, 1, 4]);

    // The stream delivers an alarm raised by real events, then its triage.
    let mut stream = client.stream(&vic);
    server
        .wait_for_metric("vigil_console_stream_clients", 1.0, Duration::from_secs(5))
        .unwrap();
    let mut agent = open_session(server.agent_addr().unwrap(), 1).unwrap();
    agent.write_all(failures(21).as_bytes()).unwrap();
    let raised = stream.next_where("alarm", |a| a["directive_id"] == 50004);
    let id = raised["id"].as_str().unwrap().to_string();
    let stored = stored_alarms(&dir)
        .into_iter()
        .find(|a| a.id.to_string() == id)
        .unwrap();
    let mut expected = serde_json::to_value(&stored).unwrap();
    let object = expected.as_object_mut().unwrap();
    object.remove("evidence");
    object.remove("event_ids");
    object.insert("assignee".into(), Value::Null);
    assert_eq!(raised, expected);
    assert_eq!((stored.level, stored.risk, stored.revision), (2, 1, 1));

    let triage = format!("/api/v1/alarms/{id}/triage");
    let reply = client.send(
        &ann,
        "POST",
        &triage,
        &json!({"status": "acknowledged", "comment": "looking"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answered = reply.json();
    assert_eq!(answered["triage"]["status"], "acknowledged");
    assert_eq!(answered["triage"]["by"], "ann");
    assert_eq!(answered["triage"]["comment"], "looking");
    let streamed = stream.next_where("alarm", |a| a["id"] == id.as_str());
    assert_eq!(streamed, answered);

    // The detail: revisions, evidence events with their logs, history, related alarms.
    let detail = client.get(&vic, &format!("/api/v1/alarms/{id}"));
    assert_eq!(detail.status, 200, "{}", detail.body);
    let detail = detail.json();
    assert_eq!(detail["revisions"].as_array().unwrap().len(), 1);
    assert_eq!(detail["alarm"]["triage"]["status"], "acknowledged");
    assert_eq!(
        detail["alarm"]["evidence"],
        serde_json::to_value(&stored.evidence).unwrap()
    );
    let evidence = detail["evidence"].as_array().unwrap();
    let counts: Vec<usize> = evidence
        .iter()
        .map(|l| l["events"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [1, 20]);
    assert_eq!(evidence[0]["events"][0]["log"], "pam failure 0");
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["action"], "alarm_triage");
    assert_eq!(
        history[0]["detail"],
        json!({"status": "acknowledged", "comment": "looking"})
    );
    let related: Vec<&str> = detail["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(related, [Uuid::from_u128(5).to_string()]);
    assert_eq!(
        client
            .get(&vic, &format!("/api/v1/alarms/{}", Uuid::from_u128(99)))
            .status,
        404
    );
    assert_eq!(client.get(&vic, "/api/v1/alarms/nope").status, 400);

    // Assign and bulk, by the analyst.
    let two = Uuid::from_u128(2);
    let reply = client.send(
        &ann,
        "POST",
        &format!("/api/v1/alarms/{two}/assign"),
        &json!({"user": "vic"}),
    );
    assert_eq!(reply.json()["assignee"], "vic");
    assert_eq!(list(&client, &vic, "assignee=vic"), [2]);
    let reply = client.send(
        &ann,
        "POST",
        &format!("/api/v1/alarms/{two}/assign"),
        &json!({"user": "nobody"}),
    );
    assert_eq!(
        reply.json(),
        problem(400, "Bad Request", "no user is named \"nobody\"")
    );
    let missing = Uuid::from_u128(77);
    let ones = [Uuid::from_u128(1), Uuid::from_u128(3), missing];
    let reply = client.send(
        &ann,
        "POST",
        "/api/v1/alarms/bulk",
        &json!({"ids": ones, "action": "close", "comment": "noise"}),
    );
    assert_eq!(reply.json(), json!({"updated": 2, "missing": [missing]}));
    assert_eq!(list(&client, &vic, "status=closed"), [3, 1]);
    let reply = client.send(&ann, "POST", &triage, &json!({"status": "done"}));
    assert_eq!(reply.status, 400);

    // A viewer may not change anything; nor may a request without the CSRF token.
    for (path, body) in [
        (triage.clone(), json!({"status": "closed"})),
        (
            format!("/api/v1/alarms/{two}/assign"),
            json!({"user": null}),
        ),
        (
            "/api/v1/alarms/bulk".to_string(),
            json!({"ids": [two], "action": "reopen"}),
        ),
    ] {
        let reply = client.send(&vic, "POST", &path, &body);
        assert_eq!(
            reply.json(),
            problem(403, "Forbidden", "requires the analyst role"),
            "{path}"
        );
    }
    let no_csrf = client.request(
        "POST",
        &triage,
        &[
            ("Cookie", &ann.cookie),
            ("Content-Type", "application/json"),
        ],
        "{\"status\":\"closed\"}",
    );
    assert_eq!(
        no_csrf.json(),
        problem(403, "Forbidden", "missing or wrong X-CSRF-Token")
    );

    // The audit log: admin only, with logins, failed logins, triage and logouts.
    assert_eq!(client.login("ann", "wrong").status, 401);
    assert_eq!(client.login("Correct-Horse-7", "ann").status, 401);
    let reply = client.get(&ann, "/api/v1/audit");
    assert_eq!(
        reply.json(),
        problem(403, "Forbidden", "requires the admin role")
    );
    let series = "vigil_console_requests_refused_total{reason=\"role\"}";
    assert_eq!(server.metric_series(series).unwrap(), 4.0);
    let root = client.session("root", "Admin-Staple-42");
    let logins = client.get(&root, "/api/v1/audit?action=login").json();
    let actors: Vec<&str> = logins["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["root", "vic", "ann"]);
    let entry = &logins["items"][0];
    assert_eq!(
        (
            &entry["action"],
            &entry["target"],
            &entry["outcome"],
            &entry["detail"]
        ),
        (
            &json!("login"),
            &json!(""),
            &json!("success"),
            &json!({"method": "local", "role": "admin"})
        )
    );
    assert!(entry["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    let failed = client
        .get(&root, "/api/v1/audit?action=login_failed")
        .json();
    let failed = failed["items"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    let fingerprint = failed[0]["actor"].as_str().unwrap();
    assert!(
        fingerprint.starts_with("fp:") && fingerprint.len() == 35,
        "{fingerprint}"
    );
    assert_eq!(failed[1]["actor"], "ann");
    assert_eq!(failed[1]["outcome"], "failure");
    assert_eq!(
        failed[1]["detail"],
        json!({"method": "local", "reason": "wrong user name or password"})
    );
    let triaged = client
        .get(&root, "/api/v1/audit?action=alarm_triage&actor=ann&limit=2")
        .json();
    assert_eq!(triaged["items"].as_array().unwrap().len(), 2);
    let rest = client
        .get(
            &root,
            &format!(
                "/api/v1/audit?action=alarm_triage&cursor={}",
                triaged["next_cursor"].as_str().unwrap()
            ),
        )
        .json();
    let first = &rest["items"][0];
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (first["target"].as_str(), &first["detail"]),
        (
            Some(id.as_str()),
            &json!({"status": "acknowledged", "comment": "looking"})
        )
    );
    assert!(
        !client
            .get(&root, "/api/v1/audit")
            .body
            .contains("Correct-Horse-7")
    );
    assert_eq!(
        client
            .send(&ann, "POST", "/api/v1/logout", &json!({}))
            .status,
        204
    );
    let logouts = client.get(&root, "/api/v1/audit?action=logout").json();
    let entry = &logouts["items"][0];
    assert_eq!(logouts["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&entry["actor"], &entry["outcome"]),
        (&json!("ann"), &json!("success"))
    );

    // Every alarm, stream and audit route is documented, with its parameters and schemas.
    let doc = client
        .request("GET", "/api/v1/openapi.json", &[], "")
        .json();
    for (path, method) in [
        ("/api/v1/alarms", "get"),
        ("/api/v1/alarms/{id}", "get"),
        ("/api/v1/alarms/{id}/triage", "post"),
        ("/api/v1/alarms/{id}/assign", "post"),
        ("/api/v1/alarms/bulk", "post"),
        ("/api/v1/stream", "get"),
        ("/api/v1/audit", "get"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["401"].is_object(),
            "{path} {method}"
        );
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/alarms"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params.len(), 16, "{params:?}");
    for schema in [
        "AlarmSummary",
        "AlarmList",
        "AlarmDetail",
        "BulkBody",
        "AuditPage",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }

    // Everything persists across a restart.
    drop(agent);
    drop(stream);
    server.terminate().unwrap();
    let server = start(&dir);
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let vic = client.session("vic", "Battery-Staple-9");
    assert_eq!(list(&client, &vic, "status=closed"), [3, 1]);
    assert_eq!(list(&client, &vic, "assignee=vic"), [2]);
    let reply = client.get(&vic, "/api/v1/alarms?status=acknowledged");
    assert_eq!(reply.json()["items"][0], answered);

    // `vigil search` shows the analysts' triage too.
    let three = Uuid::from_u128(3).to_string();
    let output = std::process::Command::new(exe())
        .args(["search", "--id", &three, "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let found: Value = serde_json::from_str(&succeeded(output)).unwrap();
    assert_eq!(
        (
            &found["triage"]["status"],
            &found["triage"]["by"],
            &found["triage"]["comment"]
        ),
        (&json!("closed"), &json!("ann"), &json!("noise"))
    );
}

/// Byte offset of the `n`th record of a segment.
fn record_offset(bytes: &[u8], n: usize) -> usize {
    let mut pos = 16;
    for _ in 0..n {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    pos
}

#[test]
fn a_flipped_bit_in_the_audit_log_costs_one_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    user(&dir, "root", "admin", "Admin-Staple-42");
    let server = start(&dir);
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    for _ in 0..3 {
        client.session("root", "Admin-Staple-42");
    }
    let root = client.session("root", "Admin-Staple-42");
    let before = client.get(&root, "/api/v1/audit").json();
    let before: Vec<Value> = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(before.len(), 4);
    server.terminate().unwrap();

    let segment = std::fs::read_dir(dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    // Records are oldest first: the second oldest is the third newest.
    let at = record_offset(&bytes, 1) + 12;
    bytes[at] ^= 0x04;
    std::fs::write(&segment, &bytes).unwrap();

    let server = start(&dir);
    server
        .wait_for_metric("vigil_store_corruption_total", 1.0, Duration::from_secs(5))
        .unwrap();
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let root = client.session("root", "Admin-Staple-42");
    let after = client.get(&root, "/api/v1/audit").json();
    let after: Vec<Value> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(after.len(), 4);
    assert_eq!(
        after[1..],
        [before[0].clone(), before[1].clone(), before[3].clone()]
    );
}
