//! The web console in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/console.spec.mjs`) against a real `vigil server` with the OSSIM directives.
//! The script sends pam_unix failures over the agent port while the alarm list is open, so
//! correlation raises a real alarm that must appear live; it then follows the alarm to its raw
//! log, triages it, checks the roles and the CSRF/cookie refusals, logs out, and screenshots
//! every page into `target/console-screenshots/`. Needs `scripts/browser-deps`.
//!
//! The console's certificate here is ECDSA P-256 from a test CA ([`common::pki`]), configured as
//! `console.cert`/`key`: browsers do not support the Ed25519 certificates the core's own CA
//! issues (chromium fails the handshake with ERR_SSL_PROTOCOL_ERROR).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{accounts_command, corpus_rules, start, succeeded};

const PASSWORD: &str = "Correct-Horse-7";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate is two levels down")
}

#[test]
fn the_console_in_chromium_from_live_alarm_to_raw_log_triage_and_roles() {
    let browser = repo().join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && browser.join("node_modules/playwright-core").exists(),
        "chromium or playwright-core is missing: run scripts/browser-deps"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    for (name, role) in [
        ("admin", "admin"),
        ("alice", "analyst"),
        ("victor", "viewer"),
    ] {
        succeeded(accounts_command(
            "user",
            &dir,
            &["add", name, "--role", role],
            &format!("{PASSWORD}\n"),
        ));
    }
    let pki = common::pki::create(&tmp.path().join("pki"));
    // Keys before the first table go into `[console]`, which the loopback configuration opens.
    let tables = format!(
        "cert = {:?}\nkey = {:?}\n{}",
        pki.server_cert.display().to_string(),
        pki.server_key.display().to_string(),
        corpus_rules("")
    );
    let server = start(&dir, "", &tables);
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo().join("target"), PathBuf::from)
        .join("console-screenshots");
    let status = Command::new("node")
        .arg(browser.join("console.spec.mjs"))
        .env(
            "VIGIL_CONSOLE",
            format!("https://{}", server.console_addr().unwrap()),
        )
        .env("VIGIL_CA", &pki.ca_cert)
        .env("VIGIL_CONSOLE_CERT", &pki.server_cert)
        .env("VIGIL_AGENT", server.agent_addr().unwrap().to_string())
        .env("VIGIL_USERS", "admin,alice,victor")
        .env("VIGIL_PASSWORD", PASSWORD)
        .env("VIGIL_SCREENSHOTS", &shots)
        .status()
        .expect("node runs (scripts/browser-deps installs it)");
    assert!(status.success(), "the browser test failed: {status}");
}
