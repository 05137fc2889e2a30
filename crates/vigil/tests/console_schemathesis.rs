//! schemathesis (from PyPI, installed by scripts/test-deps) generates requests for every
//! operation of the console API's OpenAPI document, valid and invalid, and sends them to a real
//! server as an admin API token: no request may get a server error (5xx). The live stream is
//! left out (an endless answer: each request would wait for its timeout); console_alarms tests
//! it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::console::ConsoleClient;
use common::{accounts_command, exe, succeeded};
use vigil::process::{ServerProcess, loopback_config};

/// The live stream's path.
const STREAM: &str = "/api/v1/stream";

/// The `st` program of the virtual environment scripts/test-deps makes.
fn schemathesis() -> PathBuf {
    let st =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/schemathesis/bin/st");
    assert!(
        st.exists(),
        "{} is missing: run scripts/test-deps",
        st.display()
    );
    st
}

#[test]
fn no_generated_request_gets_a_server_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    let token = succeeded(accounts_command(
        "token",
        &dir,
        &["create", "schemathesis", "--role", "admin"],
        "",
    ));
    let server = ServerProcess::start(&exe(), &dir, &loopback_config(&dir, "", "")).unwrap();
    let addr = server.console_addr().unwrap();
    let report = tmp.path().join("report");
    let output = Command::new(schemathesis())
        .arg("run")
        .arg(format!("https://{addr}/api/v1/openapi.json"))
        .arg("--tls-verify")
        .arg(dir.join("keys").join("console-ca.pem"))
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", token.trim()))
        .args(["--checks", "not_a_server_error"])
        .args(["--exclude-path", STREAM])
        .args(["--max-examples", "30", "--seed", "1", "--no-color"])
        .args(["--request-timeout", "10", "--workers", "2"])
        .arg("--report-dir")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It tested every operation the document lists.
    let doc = ConsoleClient::new(&dir, addr)
        .request("GET", "/api/v1/openapi.json", &[], "")
        .json();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| *path != STREAM)
        .map(|(_, methods)| methods.as_object().unwrap().len())
        .sum();
    assert!(operations >= 3, "{doc}");
    assert!(
        stdout.contains(&format!("Tested: {operations}\n")),
        "{operations} operations expected in:\n{stdout}"
    );
    server.terminate().unwrap();
}
