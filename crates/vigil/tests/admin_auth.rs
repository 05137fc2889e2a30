//! The admin API (reload, commands, anything but `/metrics` and `/healthz`) takes only requests
//! with the bearer token from the data directory, never from a web page: each refusal is a
//! 401, 403 or 415 with a problem body, counted by reason. The token file is private, and a
//! non-loopback admin address needs `metrics.allow_remote`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;
use vigil::process::{ServerProcess, admin_token, http_get, http_request};

const JSON: &str = "Content-Type: application/json";

/// A server without the bus (quicker to start), its admin endpoint on `listen` with
/// `metrics_keys`.
fn config(dir: &Path, listen: &str, metrics_keys: &str) -> String {
    format!(
        "data_dir = {:?}\n[bus]\nenabled = false\n[agent]\nenabled = true\nlisten = \"127.0.0.1:0\"\n[console]\nlisten = \"127.0.0.1:0\"\n[metrics]\nlisten = \"{listen}\"\n{metrics_keys}",
        dir.display().to_string()
    )
}

fn start_admin(dir: &Path) -> ServerProcess {
    ServerProcess::start(&exe(), dir, &config(dir, "127.0.0.1:0", "")).unwrap()
}

fn refused(server: &ServerProcess, reason: &str) -> f64 {
    server
        .metric_series(&format!("vigil_admin_refused_total{{reason=\"{reason}\"}}"))
        .unwrap()
}

/// Sends a request and checks it is refused with `status` and a problem body naming `reason`.
fn assert_refused(
    addr: SocketAddr,
    path: &str,
    headers: &[&str],
    body: &str,
    status: u16,
    reason: &str,
) {
    let (got, text) = http_request(addr, "POST", path, headers, body).unwrap();
    assert_eq!(got, status, "{path} {headers:?}: {text}");
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["status"], status, "{problem}");
    assert_eq!(problem["reason"], reason, "{problem}");
    assert!(!problem["detail"].as_str().unwrap().is_empty(), "{problem}");
}

#[test]
fn the_admin_api_needs_the_token_and_refuses_browsers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_admin(dir.path());
    let addr = server.admin_addr().unwrap();
    let token = admin_token(dir.path()).unwrap();
    let bearer = format!("Authorization: Bearer {token}");
    let command =
        r#"{"sensor":"fw1","action":{"RunResponse":{"name":"block","args":["203.0.113.9"]}}}"#;

    // /metrics and /healthz need no token; every refusal reason starts at zero.
    let metrics = http_get(addr, "/metrics").unwrap();
    assert!(
        metrics.contains("# HELP vigil_admin_refused_total"),
        "{metrics}"
    );
    assert_eq!(http_get(addr, "/healthz").unwrap(), "ok\n");

    // No token: 401, for reload, commands, and any other path.
    assert_refused(addr, "/api/v1/reload", &[JSON], "", 401, "missing_token");
    assert_refused(
        addr,
        "/api/v1/commands",
        &[JSON],
        command,
        401,
        "missing_token",
    );
    let (status, _) = http_request(addr, "GET", "/api/v1/anything", &[], "").unwrap();
    assert_eq!(status, 401);
    assert_refused(
        addr,
        "/api/v1/reload",
        &[JSON, "Authorization: Basic dmlnaWw6dmlnaWw="],
        "",
        401,
        "missing_token",
    );
    assert_eq!(refused(&server, "missing_token"), 4.0);

    // A wrong token: 401.
    let wrong = format!("Authorization: Bearer {}", "0".repeat(64));
    assert_refused(
        addr,
        "/api/v1/reload",
        &[JSON, &wrong],
        "",
        401,
        "bad_token",
    );
    assert_refused(
        addr,
        "/api/v1/commands",
        &[JSON, &wrong],
        command,
        401,
        "bad_token",
    );
    assert_eq!(refused(&server, "bad_token"), 2.0);

    // From a web page, even with the right token: 403.
    for browser in ["Origin: http://evil.example", "Sec-Fetch-Site: cross-site"] {
        assert_refused(
            addr,
            "/api/v1/commands",
            &[JSON, &bearer, browser],
            command,
            403,
            "cross_origin",
        );
    }
    assert_eq!(refused(&server, "cross_origin"), 2.0);

    // The text/plain "simple request" a page may send without asking: 415, token or not.
    for headers in [
        &["Content-Type: text/plain", bearer.as_str()][..],
        &["Content-Type: text/plain"][..],
    ] {
        assert_refused(
            addr,
            "/api/v1/commands",
            headers,
            command,
            415,
            "content_type",
        );
    }
    assert_eq!(refused(&server, "content_type"), 2.0);

    // The right token works.
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"directives\""), "{body}");
    let (status, body) = server.admin_post("/api/v1/commands", command).unwrap();
    assert_eq!(
        status, 409,
        "past the guard: the bus is disabled here: {body}"
    );
    // And so does `vigil reload`, run by the user the server runs as.
    let (stdout, _) = run_ok(
        Command::new(exe())
            .arg("reload")
            .arg("--admin")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(dir.path()),
    );
    assert!(stdout.contains("\"directives\""), "{stdout}");
    // Nothing was counted for the requests let through.
    let text = server.metrics_text().unwrap();
    assert_eq!(
        vigil::process::metric_value(&text, "vigil_admin_refused_total"),
        10.0,
        "{text}"
    );
    server.terminate().unwrap();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("admin request refused"), "{log}");
}

#[test]
fn the_token_file_is_private_and_a_readable_one_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_admin(dir.path());
    let path = dir.path().join(vigil_server::ADMIN_TOKEN_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = admin_token(dir.path()).unwrap();
    assert_eq!(token.len(), 64, "{token}");
    server.terminate().unwrap();

    for loose in [0o640, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
        let err = ServerProcess::start(&exe(), dir.path(), &config(dir.path(), "127.0.0.1:0", ""))
            .err()
            .expect("a server with a readable token file must not start");
        assert!(err.to_string().contains("exited during start-up"), "{err}");
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
        assert!(
            log.contains("admin.token is readable by other users"),
            "{log}"
        );
    }
    // Tightened again, the same token serves.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = start_admin(dir.path());
    assert_eq!(admin_token(dir.path()).unwrap(), token);
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    server.terminate().unwrap();
}

#[test]
fn a_remote_admin_endpoint_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let err = ServerProcess::start(&exe(), dir.path(), &config(dir.path(), "0.0.0.0:0", ""))
        .err()
        .expect("a non-loopback admin endpoint must be refused");
    assert!(err.to_string().contains("exited during start-up"), "{err}");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("metrics.allow_remote"), "{log}");

    let server = ServerProcess::start(
        &exe(),
        dir.path(),
        &config(dir.path(), "0.0.0.0:0", "allow_remote = true\n"),
    )
    .unwrap();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("listens beyond loopback"), "{log}");
    // Still guarded.
    let addr = SocketAddr::from(([127, 0, 0, 1], server.admin_addr().unwrap().port()));
    assert_refused(addr, "/api/v1/reload", &[JSON], "", 401, "missing_token");
    server.terminate().unwrap();
}

/// `setpriv` arguments running a command as `nobody`, or why this machine cannot.
fn as_nobody() -> Result<Command, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("no id: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("the tests do not run as root, so they cannot switch to nobody".into());
    }
    let mut command = Command::new("setpriv");
    command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    match Command::new("setpriv").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(command),
        _ => Err("setpriv is not installed".into()),
    }
}

#[test]
fn an_unprivileged_user_cannot_read_the_token_and_is_refused() {
    let mut nobody = match as_nobody() {
        Ok(command) => command,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_admin(dir.path());
    let addr = server.admin_addr().unwrap().to_string();

    // The real data directory: nobody cannot read the token.
    let out = nobody
        .arg(exe())
        .args(["reload", "--admin", &addr, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot read the token") && stderr.contains("Permission denied"),
        "{stderr}"
    );

    // A token nobody can read (its own guess) is refused by the server.
    let guess = tempfile::tempdir().unwrap();
    std::fs::set_permissions(guess.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        guess.path().join(vigil_server::ADMIN_TOKEN_FILE),
        "a-guessed-token-that-is-long-enough-to-send\n",
    )
    .unwrap();
    let out = as_nobody()
        .unwrap()
        .arg(exe())
        .args(["command", "--admin", &addr, "--data-dir"])
        .arg(guess.path())
        .args(["--sensor", "fw1", "run", "block", "203.0.113.9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("status 401"), "{stderr}");
    assert_eq!(refused(&server, "bad_token"), 1.0);
    server.terminate().unwrap();
}
