//! The web console in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/console.spec.mjs`) against a real `vigil server` with the OSSIM directives.
//! The script sends pam_unix failures over the agent port while the alarm list is open, so
//! correlation raises a real alarm that must appear live; it then follows the alarm to its raw
//! log, triages it, checks the roles and the CSRF/cookie refusals, logs out, and screenshots
//! every page into `target/console-screenshots/`. Needs `scripts/test-deps`.
//!
//! The console presents the certificate the core issues on its defaults (ECDSA P-256 from the
//! single-use console CA): the browser takes it as it comes.

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
        "chromium or playwright-core is missing: run scripts/test-deps"
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
    let server = start(&dir, "", &corpus_rules(""));
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo().join("target"), PathBuf::from)
        .join("console-screenshots");
    let status = Command::new("node")
        .arg(browser.join("console.spec.mjs"))
        .env(
            "VIGIL_CONSOLE",
            format!("https://{}", server.console_addr().unwrap()),
        )
        .env("VIGIL_CA", dir.join("keys/console-ca.pem"))
        .env("VIGIL_CONSOLE_CERT", dir.join("keys/console.crt"))
        .env("VIGIL_AGENT", server.agent_addr().unwrap().to_string())
        .env("VIGIL_USERS", "admin,alice,victor")
        .env("VIGIL_PASSWORD", PASSWORD)
        .env("VIGIL_SCREENSHOTS", &shots)
        .status()
        .expect("node runs (scripts/test-deps installs it)");
    assert!(status.success(), "the browser test failed: {status}");
}
