//! The console's data and admin API end to end (real server, real TLS): events with their
//! filters and cursors, directives (source, enable/disable, dry run), dashboard, sensors, users
//! and tokens, under every role.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use common::console::{ConsoleClient, Login, problem};
use common::*;
use vigil::loadgen::open_session;
use vigil::process::ServerProcess;
use vigil_event::{Alarm, Event, Timestamp};

const DIRECTIVE_100: &str = "<directive id=\"100\" name=\"failed logins\" priority=\"5\">\n\
    <rule type=\"detector\" name=\"failure\" reliability=\"10\" plugin_id=\"4004\" plugin_sid=\"2\"/>\n\
    </directive>";
const DIRECTIVE_200: &str = "<directive id=\"200\" name=\"drops\" priority=\"5\">\n\
    <rule type=\"detector\" name=\"drop\" reliability=\"10\" plugin_id=\"5005\" plugin_sid=\"1\"/>\n\
    </directive>";

/// Runs `vigil user add NAME --role ROLE --data-dir DIR` with `password`.
fn add_user(dir: &Path, name: &str, role: &str, password: &str) {
    succeeded(accounts_command(
        "user",
        dir,
        &["add", name, "--role", role],
        &format!("{password}\n"),
    ));
}

/// An agent event line: plugin, sid, source, time and raw log.
fn event(plugin: u32, sid: u32, src: &str, secs: i64, log: &str) -> String {
    format!(
        "event type=\"detector\" date=\"{secs}\" plugin_id=\"{plugin}\" plugin_sid=\"{sid}\" src_ip=\"{src}\" dst_ip=\"10.0.0.5\" log=\"{}\"\n",
        b64(log)
    )
}

/// The stored alarms (latest revision each) of directive `id`.
fn alarms_of(dir: &Path, id: u32) -> Vec<Alarm> {
    let mut latest: HashMap<_, Alarm> = HashMap::new();
    for alarm in stored_alarms(dir)
        .into_iter()
        .filter(|a| a.directive_id == id)
    {
        latest.insert(alarm.id, alarm);
    }
    latest.into_values().collect()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// The refusals counted for `reason`.
fn refused(server: &ServerProcess, reason: &str) -> f64 {
    server
        .metric_series(&format!(
            "vigil_console_requests_refused_total{{reason=\"{reason}\"}}"
        ))
        .unwrap()
}

struct Sessions {
    viewer: Login,
    analyst: Login,
    admin: Login,
}

#[test]
fn console_events_directives_hosts_and_dashboard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    add_user(&dir, "vic", "viewer", "Battery-Staple-9");
    add_user(&dir, "ann", "analyst", "Correct-Horse-7");
    add_user(&dir, "root", "admin", "Tr0ub4dor-and-3");
    let rules = tmp.path().join("rules.xml");
    std::fs::write(&rules, format!("{DIRECTIVE_100}\n{DIRECTIVE_200}\n")).unwrap();
    let server = start(&dir, "", &rules_tables(&[], &rules, ""));
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let s = Sessions {
        viewer: client.session("vic", "Battery-Staple-9"),
        analyst: client.session("ann", "Correct-Horse-7"),
        admin: client.session("root", "Tr0ub4dor-and-3"),
    };

    let now = Timestamp::now().as_micros() / 1_000_000;
    let base = now - 600;
    let mut agent = open_session(server.agent_addr().unwrap(), 1).unwrap();
    for n in 0..5 {
        let line = event(
            4004,
            2,
            "203.0.113.7",
            base + n,
            &format!("sshd: Failed password #{n}"),
        );
        agent.write_all(line.as_bytes()).unwrap();
    }
    for n in 5..7 {
        let line = event(
            5005,
            1,
            "198.51.100.9",
            base + n,
            &format!("kernel: DROP #{n}"),
        );
        agent.write_all(line.as_bytes()).unwrap();
    }
    wait_for("the 7 events and their alarms", || {
        let stored = stored(&dir);
        let plain = stored.iter().filter(|e| e.plugin_id != 1505).count();
        (plain == 7 && alarms_of(&dir, 100).len() == 5 && alarms_of(&dir, 200).len() == 2)
            .then_some(())
    });
    let all: Vec<Event> = stored(&dir);

    // Events: a filter gives exactly its events, newest first; the cursor walks them.
    let mut failures: Vec<&Event> = all.iter().filter(|e| e.plugin_id == 4004).collect();
    failures.reverse();
    let expected: Vec<String> = failures.iter().map(|e| e.id.to_string()).collect();
    let page = client
        .get(&s.viewer, "/api/v1/events?plugin_id=4004")
        .json();
    assert_eq!(ids(&page["items"]), expected);
    assert_eq!(page["next_cursor"], Value::Null);
    let mut walked = Vec::new();
    let mut path = "/api/v1/events?plugin_id=4004&limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = client.get(&s.viewer, &path).json();
        pages += 1;
        walked.extend(ids(&page["items"]));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/events?plugin_id=4004&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!((walked, pages), (expected.clone(), 3));
    let mut oldest = expected.clone();
    oldest.reverse();
    let page = client
        .get(&s.viewer, "/api/v1/events?plugin_id=4004&order=oldest")
        .json();
    assert_eq!(ids(&page["items"]), oldest);
    let drops: Vec<String> = all
        .iter()
        .rev()
        .filter(|e| e.plugin_id == 5005)
        .map(|e| e.id.to_string())
        .collect();
    let page = client.get(&s.viewer, "/api/v1/events?text=drop").json();
    assert_eq!(ids(&page["items"]), drops);
    let page = client
        .get(
            &s.viewer,
            &format!(
                "/api/v1/events?src_ip=198.51.100.9&plugin_id=5005&from={}&to={}",
                base + 6,
                base + 6
            ),
        )
        .json();
    assert_eq!(ids(&page["items"]), drops[..1]);
    let page = client
        .get(&s.viewer, "/api/v1/events?plugin_sid=1&text=FAILED")
        .json();
    assert_eq!(page["items"], json!([]));
    for (query, detail) in [
        ("src_ip=nope", "invalid src_ip \"nope\": not an IP address"),
        ("limit=501", "invalid limit 501: give 1 to 500"),
        (
            "order=sideways",
            "invalid order \"sideways\": give newest or oldest",
        ),
        (
            "from=yesterday",
            "invalid from \"yesterday\": give an RFC 3339 time (2026-11-22T10:00:00Z) or epoch seconds",
        ),
        (
            "cursor=x",
            "invalid cursor \"x\": give a next_cursor of this API",
        ),
    ] {
        let reply = client.get(&s.viewer, &format!("/api/v1/events?{query}"));
        assert_eq!(reply.json(), problem(400, "Bad Request", detail), "{query}");
    }
    let unknown = client.get(&s.viewer, "/api/v1/events?colour=red");
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json()["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`")
    );

    // One event, with its raw log.
    let first = failures.last().unwrap();
    let one = client
        .get(&s.viewer, &format!("/api/v1/events/{}", first.id))
        .json();
    assert_eq!(one["log"], "sshd: Failed password #0");
    assert_eq!(one, serde_json::to_value(first).unwrap());
    let missing = client.get(
        &s.viewer,
        "/api/v1/events/0190a1b2-0000-7000-8000-000000000000",
    );
    assert_eq!(missing.status, 404);

    // Directives and their source.
    let listed = client.get(&s.viewer, "/api/v1/directives").json();
    let file = rules.display().to_string();
    assert_eq!(
        listed,
        json!({"items": [
            {"id": 100, "name": "failed logins", "priority": 5, "levels": 1, "enabled": true, "file": file},
            {"id": 200, "name": "drops", "priority": 5, "levels": 1, "enabled": true, "file": file},
        ], "next_cursor": null})
    );
    let one = client.get(&s.viewer, "/api/v1/directives/200").json();
    assert_eq!(one["source"], DIRECTIVE_200);
    assert_eq!(client.get(&s.viewer, "/api/v1/directives/300").status, 404);

    // Dry run: directive 100 over the store gives production's alarms; a changed directive
    // gives its own.
    let window = json!({"from": base - 1, "to": now + 60});
    let mut run = window.clone();
    run["directive_id"] = json!(100);
    let reply = client.send(&s.analyst, "POST", "/api/v1/directives/dry-run", &run);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let result = reply.json();
    assert_eq!(result["events_read"], 7);
    assert_eq!(result["cut"], false);
    let mut dry: Vec<(String, String)> = result["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["src_ip"].as_str().unwrap().to_string(),
                a["first_seen"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut production: Vec<(String, String)> = alarms_of(&dir, 100)
        .iter()
        .map(|a| (a.src_ip.to_string(), a.first_seen.to_string()))
        .collect();
    dry.sort();
    production.sort();
    assert_eq!(dry, production);
    let mut run = window.clone();
    run["source"] = json!(DIRECTIVE_100.replace("100", "900"));
    let result = client
        .send(&s.analyst, "POST", "/api/v1/directives/dry-run", &run)
        .json();
    let raised: Vec<(u64, &str)> = result["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["directive_id"].as_u64().unwrap(),
                a["src_ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(raised, vec![(900, "203.0.113.7"); 5]);
    let mut both = window.clone();
    both["directive_id"] = json!(100);
    both["source"] = json!(DIRECTIVE_100);
    assert_eq!(
        client
            .send(&s.analyst, "POST", "/api/v1/directives/dry-run", &both)
            .json(),
        problem(
            400,
            "Bad Request",
            "give either directive_id or source, not both and not neither"
        )
    );

    // Disabled, directive 100 raises nothing; enabled again, it does.
    let path = "/api/v1/directives/100/enabled";
    for login in [&s.viewer, &s.analyst] {
        let reply = client.send(login, "POST", path, &json!({"enabled": false}));
        assert_eq!(
            reply.json(),
            problem(403, "Forbidden", "requires the admin role")
        );
    }
    let reply = client.send(&s.admin, "POST", path, &json!({"enabled": false}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["enabled"], false);
    assert_eq!(
        client.get(&s.viewer, "/api/v1/directives/100").json()["enabled"],
        false
    );
    agent
        .write_all(event(4004, 2, "203.0.113.7", base + 7, "sshd: Failed password #7").as_bytes())
        .unwrap();
    agent
        .write_all(event(5005, 1, "198.51.100.9", base + 8, "kernel: DROP #8").as_bytes())
        .unwrap();
    wait_for("the alarm of the later drop", || {
        (alarms_of(&dir, 200).len() == 3).then_some(())
    });
    wait_for("the later failure stored", || {
        stored(&dir)
            .iter()
            .any(|e| e.log.as_deref() == Some("sshd: Failed password #7"))
            .then_some(())
    });
    assert_eq!(
        alarms_of(&dir, 100).len(),
        5,
        "a disabled directive raised an alarm"
    );
    let reply = client.send(&s.admin, "POST", path, &json!({"enabled": true}));
    assert_eq!(reply.json()["enabled"], true);
    agent
        .write_all(event(4004, 2, "203.0.113.7", base + 9, "sshd: Failed password #9").as_bytes())
        .unwrap();
    wait_for("an alarm of directive 100 again", || {
        (alarms_of(&dir, 100).len() == 6).then_some(())
    });

    // Dashboard: counts as the store has them.
    let all: Vec<Event> = stored(&dir);
    let dashboard = client.get(&s.viewer, "/api/v1/dashboard").json();
    let per_second: f64 = dashboard["events_per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .sum();
    assert_eq!(dashboard["events_per_second"].as_array().unwrap().len(), 60);
    assert_eq!((per_second * 60.0).round() as usize, all.len());
    let sources: HashMap<String, u64> = all.iter().fold(HashMap::new(), |mut m, e| {
        *m.entry(e.src_ip.to_string()).or_insert(0) += 1;
        m
    });
    let mut top: Vec<(String, u64)> = sources.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<Value> = top
        .into_iter()
        .map(|(key, count)| json!({"key": key, "count": count}))
        .collect();
    assert_eq!(dashboard["top_sources"], json!(top));
    assert_eq!(
        dashboard["top_destinations"],
        json!([{"key": "10.0.0.5", "count": all.iter().filter(|e| e.dst_ip.to_string() == "10.0.0.5").count()}])
    );
    assert_eq!(
        dashboard["top_directives"],
        json!([
            {"key": 100, "name": "failed logins", "count": 6},
            {"key": 200, "name": "drops", "count": 3},
            {"key": 0, "name": "Attack level of 10.0.0.5 reached 32 (threshold 30)", "count": 1},
        ])
    );
    let hourly: f64 = dashboard["alarms_over_time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .sum();
    assert_eq!(hourly, 10.0);
    // The agent's sensor: what its session sent; the rate from the events stored from it with a
    // time in the last minute.
    let sensors = client.get(&s.viewer, "/api/v1/sensors").json();
    let agent = sensors["items"][0].clone();
    let name = all[0].provenance.sensor.clone();
    let minute_ago = Timestamp::now().as_micros() - 60_000_000;
    let recent = all
        .iter()
        .filter(|e| e.provenance.sensor == name && e.time.as_micros() >= minute_ago)
        .count();
    assert_eq!(sensors["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&agent["name"], &agent["transport"], &agent["events_total"]),
        (&json!(name), &json!("ossim_agent"), &json!(10))
    );
    assert_eq!(
        agent["events_per_second"].as_f64(),
        Some(recent as f64 / 60.0)
    );
    for unknown in [
        "sequence_gaps",
        "clock_skew_secs",
        "certificate_expires",
        "silent",
    ] {
        assert_eq!(agent[unknown], Value::Null, "{unknown}");
    }
    assert!(agent["last_seen"].is_string());
    assert_eq!(dashboard["sensors"][0]["name"], json!(name));

    // Hosts: the engine's levels (the sums of the events' risks: no recovery within 15 s), the
    // asset value, and the alarms involving the host.
    let risk = |pick: &dyn Fn(&Event) -> Option<u8>| -> u64 {
        all.iter().filter_map(pick).map(u64::from).sum()
    };
    let attack = risk(&|e| (e.dst_ip.to_string() == "10.0.0.5").then_some(e.risk_a?));
    let compromise = risk(&|e| (e.src_ip.to_string() == "203.0.113.7").then_some(e.risk_c?));
    assert!(attack > 30 && compromise > 0);
    let host = client.get(&s.viewer, "/api/v1/hosts/10.0.0.5").json();
    assert_eq!(
        (
            host["attack"].as_u64(),
            host["compromise"].as_u64(),
            host["asset"].as_u64()
        ),
        (Some(attack), Some(0), Some(2))
    );
    let last = host["levels"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["attack"].as_u64(), last["compromise"].as_u64()),
        (Some(attack), Some(0))
    );
    assert_eq!(host["inventory"], Value::Null);
    let mut involved: Vec<String> = stored_alarms(&dir)
        .iter()
        .filter(|a| a.dst_ip.to_string() == "10.0.0.5" || a.src_ip.to_string() == "10.0.0.5")
        .map(|a| a.id.to_string())
        .collect();
    involved.sort();
    involved.dedup();
    let mut listed = ids(&host["alarms"]);
    listed.sort();
    assert_eq!(listed, involved);
    assert_eq!(involved.len(), 10);
    let hosts = client.get(&s.viewer, "/api/v1/hosts").json();
    let source = hosts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["ip"] == "203.0.113.7")
        .unwrap()
        .clone();
    assert_eq!(source["compromise"].as_u64(), Some(compromise));
    assert_eq!(source["alarms"], 6);
    assert_eq!(
        client.get(&s.viewer, "/api/v1/hosts/not-an-ip").json(),
        problem(
            400,
            "Bad Request",
            "invalid host \"not-an-ip\": not an IP address"
        )
    );

    // Without a login, nothing; a state change without the CSRF token is refused.
    let before = refused(&server, "session");
    for path in [
        "/api/v1/events",
        "/api/v1/directives",
        "/api/v1/sensors",
        "/api/v1/dashboard",
    ] {
        assert_eq!(client.request("GET", path, &[], "").status, 401, "{path}");
    }
    assert_eq!(refused(&server, "session"), before + 4.0);
    let no_csrf = client.request(
        "POST",
        "/api/v1/directives/dry-run",
        &[
            ("Cookie", &s.analyst.cookie),
            ("Content-Type", "application/json"),
        ],
        &window.to_string(),
    );
    assert_eq!(no_csrf.status, 403);
    assert_eq!(refused(&server, "csrf"), 1.0);
    let viewer_run = client.send(&s.viewer, "POST", "/api/v1/directives/dry-run", &window);
    assert_eq!(
        viewer_run.json(),
        problem(403, "Forbidden", "requires the analyst role")
    );
    assert_eq!(refused(&server, "role"), 3.0);

    // The OpenAPI document describes every route, with its parameters and schemas.
    let doc = client
        .request("GET", "/api/v1/openapi.json", &[], "")
        .json();
    let mut routes: Vec<String> = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            routes.push(format!("{method} {path}"));
        }
    }
    for route in [
        "get /api/v1/events",
        "get /api/v1/events/{id}",
        "get /api/v1/sensors",
        "get /api/v1/directives",
        "get /api/v1/directives/{id}",
        "post /api/v1/directives/{id}/enabled",
        "post /api/v1/directives/dry-run",
        "get /api/v1/hosts",
        "get /api/v1/hosts/{ip}",
        "get /api/v1/dashboard",
        "get /api/v1/users",
        "post /api/v1/users",
        "patch /api/v1/users/{name}",
        "delete /api/v1/users/{name}",
        "get /api/v1/tokens",
        "post /api/v1/tokens",
        "delete /api/v1/tokens/{id}",
        "post /api/v1/reload",
        "post /api/v1/commands",
    ] {
        assert!(
            routes.contains(&route.to_string()),
            "{route} missing from {routes:?}"
        );
    }
    let filters: Vec<&str> = doc["paths"]["/api/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        filters,
        [
            "from",
            "to",
            "src_ip",
            "dst_ip",
            "plugin_id",
            "plugin_sid",
            "sensor",
            "text",
            "order",
            "limit",
            "cursor"
        ]
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "EventJson",
        "SensorItem",
        "DirectiveItem",
        "DryRunResult",
        "Dashboard",
        "HostDetail",
        "UserItem",
        "TokenItem",
        "ReloadReport",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    server.terminate().unwrap();
}

#[test]
fn console_users_tokens_reload_and_commands_are_for_admins() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    add_user(&dir, "vic", "viewer", "Battery-Staple-9");
    add_user(&dir, "ann", "analyst", "Correct-Horse-7");
    add_user(&dir, "root", "admin", "Tr0ub4dor-and-3");
    let rules = tmp.path().join("rules.xml");
    std::fs::write(&rules, format!("{DIRECTIVE_100}\n")).unwrap();
    let server = start(&dir, "", &rules_tables(&[], &rules, ""));
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let viewer = client.session("vic", "Battery-Staple-9");
    let analyst = client.session("ann", "Correct-Horse-7");
    let admin = client.session("root", "Tr0ub4dor-and-3");

    // Viewers and analysts are refused every admin operation, each refusal counted.
    let forbidden = problem(403, "Forbidden", "requires the admin role");
    let mut refusals = 0.0;
    for login in [&viewer, &analyst] {
        for path in ["/api/v1/users", "/api/v1/tokens"] {
            assert_eq!(client.get(login, path).json(), forbidden, "{path}");
        }
        for (method, path, body) in [
            (
                "POST",
                "/api/v1/users",
                json!({"name": "eve", "role": "admin", "password": "Sneaky-Admin-42"}),
            ),
            ("PATCH", "/api/v1/users/vic", json!({"role": "admin"})),
            ("DELETE", "/api/v1/users/root", json!({})),
            (
                "POST",
                "/api/v1/tokens",
                json!({"name": "ci", "role": "admin"}),
            ),
            ("DELETE", "/api/v1/tokens/0000000000000000", json!({})),
            ("POST", "/api/v1/reload", json!({})),
            (
                "POST",
                "/api/v1/commands",
                json!({"sensor": "edge-1", "action": {"type": "ping"}}),
            ),
        ] {
            assert_eq!(
                client.send(login, method, path, &body).json(),
                forbidden,
                "{method} {path}"
            );
        }
        refusals += 9.0;
    }
    assert_eq!(refused(&server, "role"), refusals);

    // Users: added, listed, changed and removed; weak passwords and the last admin refused.
    let weak = client.send(
        &admin,
        "POST",
        "/api/v1/users",
        &json!({"name": "bob", "role": "analyst", "password": "short"}),
    );
    assert_eq!(weak.status, 400);
    assert!(
        weak.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("password refused: a password needs at least 12"),
        "{}",
        weak.body
    );
    let added = client.send(
        &admin,
        "POST",
        "/api/v1/users",
        &json!({"name": "bob", "role": "analyst", "password": "Stapled-Battery-8"}),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.json()["role"], "analyst");
    let again = client.send(
        &admin,
        "POST",
        "/api/v1/users",
        &json!({"name": "bob", "role": "viewer", "password": "Stapled-Battery-8"}),
    );
    assert_eq!(
        again.json(),
        problem(400, "Bad Request", "user \"bob\" exists already")
    );
    let listed = client.get(&admin, "/api/v1/users").json();
    let names: Vec<(&str, &str, bool)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap(),
                u["role"].as_str().unwrap(),
                u["disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("vic", "viewer", false),
            ("ann", "analyst", false),
            ("root", "admin", false),
            ("bob", "analyst", false)
        ]
    );
    assert!(!listed.to_string().contains("argon2"));
    let changed = client.send(
        &admin,
        "PATCH",
        "/api/v1/users/bob",
        &json!({"role": "viewer", "disabled": true}),
    );
    assert_eq!(
        (
            changed.json()["role"].clone(),
            changed.json()["disabled"].clone()
        ),
        (json!("viewer"), json!(true))
    );
    assert_eq!(
        client.login("bob", "Stapled-Battery-8").status,
        401,
        "a disabled user cannot log in"
    );
    let last = "\"root\" is the last enabled admin: add or enable another admin first";
    for (method, body) in [
        ("PATCH", json!({"role": "analyst"})),
        ("PATCH", json!({"disabled": true})),
        ("DELETE", json!({})),
    ] {
        let reply = client.send(&admin, method, "/api/v1/users/root", &body);
        assert_eq!(
            reply.json(),
            problem(400, "Bad Request", last),
            "{method} {body}"
        );
    }
    let weak = client.send(
        &admin,
        "PATCH",
        "/api/v1/users/bob",
        &json!({"role": "admin", "password": "bob"}),
    );
    assert_eq!(weak.status, 400);
    assert_eq!(
        client.get(&admin, "/api/v1/users").json()["items"][3]["role"],
        "viewer",
        "nothing changed"
    );
    let nothing = client.send(&admin, "PATCH", "/api/v1/users/bob", &json!({}));
    assert_eq!(
        nothing.json(),
        problem(
            400,
            "Bad Request",
            "nothing to change: give role, password or disabled"
        )
    );
    let bad_role = client.send(
        &admin,
        "PATCH",
        "/api/v1/users/bob",
        &json!({"role": "god"}),
    );
    assert_eq!(bad_role.status, 400);
    assert_eq!(
        client
            .send(&admin, "DELETE", "/api/v1/users/bob", &json!({}))
            .status,
        204
    );
    let gone = client.send(&admin, "DELETE", "/api/v1/users/bob", &json!({}));
    assert_eq!(gone.json(), problem(404, "Not Found", "no user \"bob\""));

    // Tokens: created (shown once), used with their role, listed without secrets, revoked.
    let created = client.send(
        &admin,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "ci-export", "role": "viewer", "expires_days": 30}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let whole = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(whole.starts_with(&format!("vgl_{id}_")));
    assert_eq!(
        (created["role"].clone(), created["live"].clone()),
        (json!("viewer"), json!(true))
    );
    let bearer = format!("Bearer {whole}");
    let as_token = |method: &str, path: &str| {
        client.request(
            method,
            path,
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            "{}",
        )
    };
    for path in [
        "/api/v1/events",
        "/api/v1/directives",
        "/api/v1/sensors",
        "/api/v1/dashboard",
        "/api/v1/hosts",
    ] {
        assert_eq!(as_token("GET", path).status, 200, "{path}");
    }
    assert_eq!(as_token("GET", "/api/v1/users").json(), forbidden);
    assert_eq!(
        as_token("POST", "/api/v1/directives/dry-run").json(),
        problem(403, "Forbidden", "requires the analyst role")
    );
    let tokens = client.get(&admin, "/api/v1/tokens").json();
    assert_eq!(ids(&tokens["items"]), std::slice::from_ref(&id));
    assert!(!tokens.to_string().contains(&whole[21..]));
    let revoked = client.send(
        &admin,
        "DELETE",
        &format!("/api/v1/tokens/{id}"),
        &json!({}),
    );
    assert_eq!(revoked.json()["live"], false);
    assert_eq!(as_token("GET", "/api/v1/events").status, 401);
    let twice = client.send(
        &admin,
        "DELETE",
        &format!("/api/v1/tokens/{id}"),
        &json!({}),
    );
    assert_eq!(twice.status, 400);
    let bad = client.send(
        &admin,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "x", "role": "viewer", "expires_days": 0}),
    );
    assert_eq!(
        bad.json(),
        problem(
            400,
            "Bad Request",
            "invalid expires_days 0: give 1 to 3650, or leave it out for no expiry"
        )
    );

    // Reload and commands go the admin endpoint's way.
    let reload = client.send(&admin, "POST", "/api/v1/reload", &json!({}));
    assert_eq!(reload.status, 200, "{}", reload.body);
    assert_eq!(reload.json()["directives"], 1);
    let command = client.send(
        &admin,
        "POST",
        "/api/v1/commands",
        &json!({"sensor": "edge-1"}),
    );
    assert_eq!(command.status, 400);
    assert!(
        command.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("invalid command: missing field `action`"),
        "{}",
        command.body
    );

    // Without the CSRF token, even an admin is refused.
    let no_csrf = client.request("POST", "/api/v1/reload", &[("Cookie", &admin.cookie)], "");
    assert_eq!(
        no_csrf.json(),
        problem(403, "Forbidden", "missing or wrong X-CSRF-Token")
    );
    assert_eq!(client.request("GET", "/api/v1/users", &[], "").status, 401);

    // Every admin action, done or refused, is in the audit log with who did it.
    for (action, outcome) in [
        ("reload", "success"),
        ("token_revoke", "failure"),
        ("command", "failure"),
    ] {
        let audit = client.get(&admin, &format!("/api/v1/audit?action={action}&limit=1"));
        let entry = &audit.json()["items"][0];
        assert_eq!(
            (&entry["actor"], &entry["outcome"]),
            (&json!("root"), &json!(outcome)),
            "{action}: {}",
            audit.body
        );
    }
    server.terminate().unwrap();
}

#[test]
fn console_sensors_after_an_edge_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("core");
    add_user(&dir, "vic", "viewer", "Battery-Staple-9");
    let server = start(&dir, "", "");
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let viewer = client.session("vic", "Battery-Staple-9");
    assert_eq!(
        client.get(&viewer, "/api/v1/sensors").json(),
        json!({"items": [], "next_cursor": null})
    );

    let edge_dir = tmp.path().join("edge");
    issue_sensor(&dir, "edge1", &edge_dir.join("bus"));
    let edge = vigil::process::EdgeProcess::start(
        &exe(),
        &edge_dir,
        &edge_config(&edge_dir, "edge1", &[server.info.bus[0]], ""),
    )
    .unwrap();
    let mut tcp = std::net::TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
    for n in 0..5 {
        writeln!(tcp, "<38>Dec  1 08:00:00 host1 app[1]: message number {n}").unwrap();
    }
    let sensor = wait_for("edge1 with its 5 events and a heartbeat", || {
        let items = client.get(&viewer, "/api/v1/sensors").json()["items"].clone();
        let sensor = items.as_array()?.first()?.clone();
        (sensor["events_total"] == 5 && sensor["clock_skew_secs"].is_number()).then_some(sensor)
    });
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ca/index.json")).unwrap()).unwrap();
    let expires = index["certs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "edge1")
        .unwrap()["not_after"]
        .clone();
    assert_eq!(sensor["name"], "edge1");
    assert_eq!(sensor["sequence_gaps"], 0);
    assert_eq!(sensor["certificate_expires"], expires);
    assert_eq!(sensor["silent"], false);
    assert_eq!(sensor["transport"], "bus");
    assert_eq!(sensor["events_per_second"], 5.0 / 60.0);
    assert!(sensor["clock_skew_secs"].as_f64().unwrap().abs() < 5.0);
    let last_seen: Timestamp = sensor["last_seen"].as_str().unwrap().parse().unwrap();
    assert!((Timestamp::now().as_micros() - last_seen.as_micros()).abs() < 10_000_000);
    let events = client.get(&viewer, "/api/v1/events?sensor=edge1").json();
    assert_eq!(events["items"].as_array().unwrap().len(), 5);
    edge.terminate().unwrap();
    server.terminate().unwrap();
}
