//! The console API end to end: the real binary over real TLS 1.3, its security headers, login,
//! sessions, CSRF and origin checks, throttling, and accounts disabled while logged in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;

use serde_json::json;

use common::console::{ConsoleClient, problem, user};
use common::{accounts_command, exe, succeeded};
use vigil::process::{ServerProcess, loopback_config};

/// `text` without its terminal colour sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('\x1b') {
        out.push_str(&rest[..start]);
        rest = rest[start..].split_once('m').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("strict-transport-security", "max-age=31536000"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

#[test]
fn console_logins_sessions_and_their_protections() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    user(
        &dir,
        &["add", "alice", "--role", "analyst"],
        "Correct-Horse-7\n",
    );
    user(
        &dir,
        &["add", "bob", "--role", "viewer"],
        "Battery-Staple-9\n",
    );
    let config = loopback_config(&dir, "", "");
    let server = ServerProcess::start_logging(&exe(), &dir, &config, "info").unwrap();
    let addr = server.console_addr().unwrap();
    let tls13 = ConsoleClient::new(&dir, addr);

    // TLS 1.2 is refused.
    let mut stream = ConsoleClient::with_version(&dir, addr, &rustls::version::TLS12).connect();
    assert!(stream.write_all(b"GET / HTTP/1.1\r\n\r\n").is_err());

    // Login: role, CSRF token, and the cookie with exactly these attributes.
    let ok = tls13.login("alice", "Correct-Horse-7");
    assert_eq!(ok.status, 200, "{}", ok.body);
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(ok.header(name), Some(value), "{name}");
    }
    let body = ok.json();
    assert_eq!(body["username"], "alice");
    assert_eq!(body["role"], "analyst");
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 43);
    let set_cookie = ok.header("set-cookie").unwrap();
    let (pair, attributes) = set_cookie.split_once("; ").unwrap();
    assert_eq!(attributes, "Secure; HttpOnly; SameSite=Strict; Path=/");
    let token = pair.strip_prefix("vigil_session=").unwrap();
    assert_eq!(token.len(), 43, "256 bits in base64url");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let cookie = format!("vigil_session={token}");

    // Who is logged in; nobody without the cookie.
    let who = tls13.request("GET", "/api/v1/session", &[("Cookie", &cookie)], "");
    assert_eq!(who.status, 200);
    assert_eq!(
        who.json(),
        json!({"username": "alice", "role": "analyst", "csrf_token": csrf}),
        "a reloaded page gets its session's CSRF token back"
    );
    let anon = tls13.request("GET", "/api/v1/session", &[], "");
    assert_eq!(anon.status, 401);
    assert_eq!(
        anon.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(anon.json(), problem(401, "Unauthorized", "not logged in"));
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(anon.header(name), Some(value), "{name}");
    }

    // The API's OpenAPI document is readable without logging in and lists these operations.
    let doc = tls13.request("GET", "/api/v1/openapi.json", &[], "");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/v1/login", "post"),
        ("/api/v1/logout", "post"),
        ("/api/v1/session", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} {method}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/login"]["post"]["security"],
        json!([{}])
    );

    // A method the resource does not take: problem JSON too, with the methods it takes.
    let wrong = tls13.request("GET", "/api/v1/login", &[], "");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("POST"));
    assert_eq!(
        wrong.json(),
        problem(405, "Method Not Allowed", "method not allowed")
    );

    // Not JSON: 415.
    let form = tls13.request(
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "username=alice&password=x",
    );
    assert_eq!(form.status, 415);
    assert_eq!(
        form.json(),
        problem(
            415,
            "Unsupported Media Type",
            "send the credentials as application/json"
        )
    );

    // Another origin: 403, even with the session and its token.
    let cross = tls13.request(
        "POST",
        "/api/v1/logout",
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Origin", "https://evil.example"),
        ],
        "",
    );
    assert_eq!(cross.status, 403);
    assert_eq!(
        cross.json(),
        problem(403, "Forbidden", "cross-origin requests are refused")
    );

    // A state change without the CSRF token: 403; with it (and the own origin): done.
    let no_csrf = tls13.request("POST", "/api/v1/logout", &[("Cookie", &cookie)], "");
    assert_eq!(no_csrf.status, 403);
    assert_eq!(
        no_csrf.json(),
        problem(403, "Forbidden", "missing or wrong X-CSRF-Token")
    );
    let bad_csrf = tls13.request(
        "POST",
        "/api/v1/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", token)],
        "",
    );
    assert_eq!(bad_csrf.status, 403);
    let origin = format!("https://{addr}");
    let out = tls13.request(
        "POST",
        "/api/v1/logout",
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Origin", &origin),
        ],
        "",
    );
    assert_eq!(out.status, 204, "{}", out.body);
    let after = tls13.request("GET", "/api/v1/session", &[("Cookie", &cookie)], "");
    assert_eq!(after.status, 401);

    // A disabled user loses their session at the next request.
    let bob = tls13.login("bob", "Battery-Staple-9");
    assert_eq!(bob.status, 200);
    let bob_cookie = bob
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let who = tls13.request("GET", "/api/v1/session", &[("Cookie", &bob_cookie)], "");
    let bob_csrf = bob.json()["csrf_token"].clone();
    assert_eq!(
        who.json(),
        json!({"username": "bob", "role": "viewer", "csrf_token": bob_csrf})
    );
    user(&dir, &["disable", "bob"], "");
    let gone = tls13.request("GET", "/api/v1/session", &[("Cookie", &bob_cookie)], "");
    assert_eq!(gone.status, 401);
    assert_eq!(gone.json(), problem(401, "Unauthorized", "not logged in"));

    // Wrong password and unknown user: the same answer.
    let wrong = tls13.login("alice", "not-her-password");
    let unknown = tls13.login("mallory", "Correct-Horse-7");
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.json(),
        problem(401, "Unauthorized", "wrong user name or password")
    );

    // Five failures from this address within the window: the sixth attempt is refused, even
    // with the right password.
    for _ in 0..3 {
        assert_eq!(tls13.login("alice", "guess").status, 401);
    }
    let locked = tls13.login("alice", "Correct-Horse-7");
    assert_eq!(locked.status, 429);
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    assert_eq!(
        locked.json(),
        problem(
            429,
            "Too Many Requests",
            "too many failed logins; try again later"
        )
    );

    for (method, outcome, n) in [
        ("local", "success", 2.0),
        ("local", "failure", 5.0),
        ("password", "locked", 1.0),
    ] {
        let series =
            format!("vigil_console_logins_total{{method=\"{method}\",outcome=\"{outcome}\"}}");
        assert_eq!(server.metric_series(&series).unwrap(), n, "{outcome}");
    }
    for (reason, n) in [
        ("session", 3.0),
        ("csrf", 2.0),
        ("origin", 1.0),
        ("media_type", 1.0),
        ("tls", 1.0),
        ("method", 1.0),
    ] {
        let series = format!("vigil_console_requests_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(server.metric_series(&series).unwrap(), n, "{reason}");
    }

    // The certificate was issued from the core's CA, and its fingerprint logged.
    assert!(dir.join("keys/console.crt").exists());
    assert!(dir.join("keys/console.key").exists());
    let log = strip_ansi(&std::fs::read_to_string(dir.join("server.log")).unwrap());
    let line = log
        .lines()
        .find(|l| l.contains("console certificate"))
        .unwrap();
    let sha = line
        .split("sha256=")
        .nth(1)
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        sha.split(':')
            .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert_eq!(sha.len(), 32 * 3 - 1, "{line}");
    server.terminate().unwrap();
}

#[test]
fn an_idle_session_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    user(
        &dir,
        &["add", "alice", "--role", "admin"],
        "Correct-Horse-7\n",
    );
    let config =
        loopback_config(&dir, "", "").replace("[console]\n", "[console]\nidle_timeout = \"1s\"\n");
    let server = ServerProcess::start(&exe(), &dir, &config).unwrap();
    let addr = server.console_addr().unwrap();
    let tls13 = ConsoleClient::new(&dir, addr);
    let ok = tls13.login("alice", "Correct-Horse-7");
    assert_eq!(ok.json()["role"], "admin");
    let cookie = ok
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let who = tls13.request("GET", "/api/v1/session", &[("Cookie", &cookie)], "");
    assert_eq!(who.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let idle = tls13.request("GET", "/api/v1/session", &[("Cookie", &cookie)], "");
    assert_eq!(idle.status, 401);
    server.terminate().unwrap();
}

/// Runs `vigil token ARGS --data-dir DIR`; it must succeed; returns its standard output.
fn token(dir: &Path, args: &[&str]) -> String {
    succeeded(accounts_command("token", dir, args, ""))
}

#[test]
fn an_api_token_acts_with_its_role_until_it_is_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    let whole = token(&dir, &["create", "nightly-export", "--role", "viewer"]);
    let whole = whole.trim_end();
    let server = ServerProcess::start(&exe(), &dir, &loopback_config(&dir, "", "")).unwrap();
    let addr = server.console_addr().unwrap();
    let tls = ConsoleClient::new(&dir, addr);
    let bearer = format!("Bearer {whole}");
    let session =
        |auth: &str| tls.request("GET", "/api/v1/session", &[("Authorization", auth)], "");

    let ok = session(&bearer);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.json(),
        json!({"username": "token:nightly-export", "role": "viewer"})
    );
    // Logout is for login sessions; a token is revoked instead.
    let out = tls.request("POST", "/api/v1/logout", &[("Authorization", &bearer)], "");
    assert_eq!(out.status, 400, "{}", out.body);

    // The same token with its last character changed.
    let last = if bearer.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &bearer[..bearer.len() - 1]);
    let refused = session(&forged);
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.json()["detail"],
        "unknown, expired or revoked API token"
    );

    token(&dir, &["revoke", &whole[4..20]]);
    assert_eq!(
        session(&bearer).status,
        401,
        "a revoked token is refused at once"
    );
    let refused_tokens = server
        .metric_series("vigil_console_requests_refused_total{reason=\"token\"}")
        .unwrap();
    assert_eq!(refused_tokens, 2.0);
    server.terminate().unwrap();
}

#[test]
fn tls12_is_served_only_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    let config =
        loopback_config(&dir, "", "").replace("[console]\n", "[console]\nallow_tls12 = true\n");
    let server = ServerProcess::start(&exe(), &dir, &config).unwrap();
    let addr = server.console_addr().unwrap();
    let tls12 = ConsoleClient::with_version(&dir, addr, &rustls::version::TLS12);
    let doc = tls12.request("GET", "/api/v1/openapi.json", &[], "");
    assert_eq!(doc.status, 200);
    server.terminate().unwrap();
}

#[test]
fn a_new_password_a_disabled_or_a_removed_account_ends_its_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    user(
        &dir,
        &["add", "root", "--role", "admin"],
        "Correct-Horse-7\n",
    );
    user(
        &dir,
        &["add", "bob", "--role", "analyst"],
        "Battery-Staple-9\n",
    );
    let server = ServerProcess::start(&exe(), &dir, &loopback_config(&dir, "", "")).unwrap();
    let client = ConsoleClient::new(&dir, server.console_addr().unwrap());
    let root = client.session("root", "Correct-Horse-7");
    let change = |body: serde_json::Value| {
        let reply = client.send(&root, "PATCH", "/api/v1/users/bob", &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
    };

    // A new password set by an admin.
    let bob = client.session("bob", "Battery-Staple-9");
    change(json!({"password": "Another-Staple-10"}));
    assert_eq!(client.get(&bob, "/api/v1/session").status, 401);

    // Disabled, then enabled again before bob's next request.
    let bob = client.session("bob", "Another-Staple-10");
    change(json!({"disabled": true}));
    change(json!({"disabled": false}));
    assert_eq!(client.get(&bob, "/api/v1/session").status, 401);

    // Removed, and the name given to a new admin: the old cookie is not theirs.
    let bob = client.session("bob", "Another-Staple-10");
    let gone = client.send(&root, "DELETE", "/api/v1/users/bob", &json!({}));
    assert_eq!(gone.status, 204, "{}", gone.body);
    user(
        &dir,
        &["add", "bob", "--role", "admin"],
        "Third-Staple-11x\n",
    );
    assert_eq!(client.get(&bob, "/api/v1/session").status, 401);
    assert_eq!(client.get(&bob, "/api/v1/users").status, 401);

    // A password changed with `vigil user passwd` while the server runs.
    let bob = client.session("bob", "Third-Staple-11x");
    user(&dir, &["passwd", "bob"], "Fourth-Staple-12\n");
    assert_eq!(client.get(&bob, "/api/v1/session").status, 401);

    // Changes made on the host reach the audit log as `local`; the API's own changes are
    // there once, as their admin's.
    let local = common::wait_for("the host's changes in the audit log", || {
        let reply = client.get(&root, "/api/v1/audit?actor=local&limit=10");
        let items = reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (items.len() >= 2).then_some(items)
    });
    let seen: Vec<(&str, &str, &serde_json::Value)> = local
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                &e["detail"],
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("user_change", "bob", &json!({"password": "changed"})),
            ("user_add", "bob", &json!({"role": "admin"})),
        ],
        "newest first"
    );
    let by_root = client.get(
        &root,
        "/api/v1/audit?actor=root&action=user_change&limit=10",
    );
    assert_eq!(by_root.json()["items"].as_array().unwrap().len(), 3);
    server.terminate().unwrap();
}
