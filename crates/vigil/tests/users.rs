//! `vigil user`: the console's accounts, managed from the command line with the password on
//! standard input (never an argument), hashed with Argon2id in a file only the owner reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::{accounts_command, succeeded};

/// Runs `vigil user ARGS --data-dir DIR` with `stdin` as its standard input.
fn user(dir: &Path, args: &[&str], stdin: &str) -> Output {
    accounts_command("user", dir, args, stdin)
}

fn refused(output: Output) -> String {
    assert!(!output.status.success());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn accounts_are_managed_from_the_command_line_and_kept_hashed_and_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");

    let out = succeeded(user(
        &dir,
        &["add", "alice", "--role", "admin"],
        "Correct-Horse-7\n",
    ));
    assert_eq!(out, "added user alice (admin)\n");
    succeeded(user(
        &dir,
        &["add", "bob", "--role", "analyst"],
        "Battery-Staple-9\n",
    ));

    let err = refused(user(
        &dir,
        &["add", "carol", "--role", "viewer"],
        "hunter2\n",
    ));
    assert!(
        err.contains("password refused: a password needs at least 12 characters (this one has 7)"),
        "{err}"
    );
    let err = refused(user(
        &dir,
        &["add", "carol", "--role", "root"],
        "Correct-Horse-7\n",
    ));
    assert!(
        err.contains("unknown role \"root\": expected admin, analyst or viewer"),
        "{err}"
    );
    let err = refused(user(&dir, &["add", "carol", "--role", "viewer"], ""));
    assert!(err.contains("no password on standard input"), "{err}");
    let err = refused(user(
        &dir,
        &["add", "bob", "--role", "viewer"],
        "Correct-Horse-7\n",
    ));
    assert!(err.contains("user \"bob\" exists already"), "{err}");

    succeeded(user(&dir, &["disable", "bob"], ""));
    let list = succeeded(user(&dir, &["list"], ""));
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["NAME", "ROLE", "STATUS"],
            vec!["alice", "admin", "enabled"],
            vec!["bob", "analyst", "disabled"],
        ]
    );

    let out = succeeded(user(&dir, &["passwd", "bob"], "Another-Secret-5\n"));
    assert_eq!(out, "changed the password of user bob (analyst)\n");
    let err = refused(user(&dir, &["remove", "alice"], ""));
    assert!(err.contains("\"alice\" is the last enabled admin"), "{err}");
    assert_eq!(
        succeeded(user(&dir, &["remove", "bob"], "")),
        "removed user bob (analyst)\n"
    );

    // Only the owner reads the file, and it holds hashes, never a password.
    let file = dir.join("users.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for password in ["Correct-Horse-7", "Battery-Staple-9", "Another-Secret-5"] {
        assert!(!text.contains(password));
    }
    assert_eq!(text.matches("$argon2id$v=19$m=19456,t=2,p=1$").count(), 1);
}

#[test]
fn api_tokens_are_shown_once_kept_hashed_and_revocable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigil-data");
    let token = |args: &[&str]| succeeded(accounts_command("token", &dir, args, ""));

    let printed = token(&[
        "create",
        "siem-export",
        "--role",
        "viewer",
        "--expires",
        "90d",
    ]);
    let whole = printed.trim_end();
    assert!(whole.starts_with("vgl_") && whole.len() == 64, "{printed}");
    let id = &whole[4..20];
    let accounts = vigil_accounts::Accounts::load(&dir).unwrap();
    let now = vigil_event::Timestamp::now();
    let found = accounts.authenticate_token(whole, now).unwrap();
    assert_eq!(
        (found.name.as_str(), found.role),
        ("siem-export", vigil_accounts::Role::Viewer)
    );

    let list = token(&["list"]);
    let row: Vec<&str> = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .take(4)
        .collect();
    assert_eq!(row, [id, "siem-export", "viewer", "live"]);

    assert_eq!(
        token(&["revoke", id]),
        format!("revoked token {id} (siem-export, viewer)\n")
    );
    let list = token(&["list"]);
    assert_eq!(
        list.lines().nth(1).unwrap().split_whitespace().nth(3),
        Some("revoked")
    );
    let accounts = vigil_accounts::Accounts::load(&dir).unwrap();
    assert!(accounts.authenticate_token(whole, now).is_none());
    let text = std::fs::read_to_string(dir.join("users.json")).unwrap();
    assert!(!text.contains(&whole[21..]), "the secret is never stored");
}
