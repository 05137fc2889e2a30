//! Secrets at rest: the core's keys under a passphrase source, and a password typed as a user
//! name stored nowhere in clear.

#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{edge_config, exe, issue_sensor, stored};
use vigil::process::{EdgeProcess, ServerProcess, loopback_config_with_bus};
use vigil_event::Event;

const ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// Starts a core with the bus on a free port and the environment `env`.
fn start_core(dir: &Path, env: &[(&str, &OsStr)]) -> anyhow::Result<ServerProcess> {
    let config = loopback_config_with_bus(dir, &[ANY_PORT], "", "", "");
    ServerProcess::start_env(&exe(), dir, &config, env)
}

fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// The core's two private keys: its CA's and its own.
fn core_keys(dir: &Path) -> [PathBuf; 2] {
    [dir.join("ca/ca.key"), dir.join("keys/vigil-core.key")]
}

fn assert_encrypted(key: &Path, passphrase: &str) {
    let text = std::fs::read_to_string(key).unwrap();
    assert!(
        text.contains("-----BEGIN VIGIL ENCRYPTED PRIVATE KEY-----"),
        "{}",
        key.display()
    );
    assert!(!text.contains("BEGIN PRIVATE KEY"), "{}", key.display());
    let clear = vigil_ca::load_private_key(key, None).unwrap_err();
    assert!(
        matches!(clear, vigil_ca::CaError::PassphraseRequired { .. }),
        "{clear}"
    );
    vigil_ca::load_private_key(key, Some(passphrase)).unwrap();
}

/// The fingerprint key is kept under the passphrase too.
fn assert_fingerprint_key_encrypted(core_dir: &Path) {
    let text = std::fs::read_to_string(core_dir.join("keys/secret-fingerprint.key")).unwrap();
    assert!(
        text.starts_with("-----BEGIN VIGIL ENCRYPTED SECRET-----\n"),
        "{text}"
    );
}

const CLEAR_WARNING: &str = "private keys are stored in clear";

#[test]
fn with_a_passphrase_file_the_cores_keys_are_encrypted_and_without_it_the_core_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    // First start without a source: the embedded defaults work, with one warning.
    let core = start_core(&core_dir, &[]).unwrap();
    assert_eq!(core.metric("vigil_bus_keys_in_clear").unwrap(), 2.0);
    core.terminate().unwrap();
    assert_eq!(server_log(&core_dir).matches(CLEAR_WARNING).count(), 1);
    for key in core_keys(&core_dir) {
        let text = std::fs::read_to_string(&key).unwrap();
        assert!(
            text.contains("-----BEGIN PRIVATE KEY-----"),
            "{}",
            key.display()
        );
    }
    let fingerprint_key = core_dir.join("keys/secret-fingerprint.key");
    assert_eq!(
        std::fs::read(&fingerprint_key).unwrap().len(),
        32,
        "raw bytes in clear"
    );

    // A passphrase file that others can read is refused, naming it.
    let pass_file = dir.path().join("ca-passphrase");
    std::fs::write(&pass_file, "correct horse battery staple\n").unwrap();
    std::fs::set_permissions(&pass_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let env = [("VIGIL_CA_PASSPHRASE_FILE", pass_file.as_os_str())];
    assert!(start_core(&core_dir, &env).is_err());
    assert!(
        server_log(&core_dir).contains(&format!(
            "passphrase from file {} (VIGIL_CA_PASSPHRASE_FILE): mode 0644 lets group or others read it",
            pass_file.display()
        )),
        "{}",
        server_log(&core_dir)
    );

    // With the file private: the clear keys are encrypted in place, and nothing is in clear.
    std::fs::set_permissions(&pass_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let core = start_core(&core_dir, &env).unwrap();
    assert_eq!(core.metric("vigil_bus_keys_in_clear").unwrap(), 0.0);
    core.terminate().unwrap();
    for key in core_keys(&core_dir) {
        assert_encrypted(&key, "correct horse battery staple");
    }
    assert_fingerprint_key_encrypted(&core_dir);
    assert_eq!(
        server_log(&core_dir).matches(CLEAR_WARNING).count(),
        1,
        "no new warning"
    );

    // It restarts with them, and `vigil ca` reads the same source.
    let core = start_core(&core_dir, &env).unwrap();
    let certs = dir.path().join("edge-certs");
    let issued = std::process::Command::new(exe())
        .args(["ca", "issue", "--dir"])
        .arg(core_dir.join("ca"))
        .args(["--sensor", "edge1", "--out"])
        .arg(&certs)
        .envs(env)
        .env("VIGIL_KEY_PASSPHRASE_FILE", &pass_file)
        .output()
        .unwrap();
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    assert_encrypted(&certs.join("edge1.key"), "correct horse battery staple");

    // A key issued without a key passphrase is in clear, said so; encrypt-key converts it.
    let issued = std::process::Command::new(exe())
        .args(["ca", "issue", "--dir"])
        .arg(core_dir.join("ca"))
        .args(["--sensor", "edge2", "--out"])
        .arg(&certs)
        .envs(env)
        .output()
        .unwrap();
    let edge2 = certs.join("edge2.key");
    assert_eq!(
        String::from_utf8_lossy(&issued.stderr),
        format!(
            "warning: {} is stored in clear; configure VIGIL_KEY_PASSPHRASE, VIGIL_KEY_PASSPHRASE_FILE or the systemd credential vigil-key-passphrase to have keys encrypted\n",
            edge2.display()
        )
    );
    let encrypt = |with_pass: bool| {
        let mut command = std::process::Command::new(exe());
        command.args(["ca", "encrypt-key"]).arg(&edge2);
        if with_pass {
            command.env("VIGIL_KEY_PASSPHRASE_FILE", &pass_file);
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert!(!encrypt(false).0, "no passphrase: refused");
    let origin = format!("file {} (VIGIL_KEY_PASSPHRASE_FILE)", pass_file.display());
    assert_eq!(
        encrypt(true),
        (true, format!("{} encrypted ({origin})\n", edge2.display()))
    );
    assert_encrypted(&edge2, "correct horse battery staple");
    assert_eq!(
        encrypt(true),
        (
            true,
            format!("{} already encrypted ({origin})\n", edge2.display())
        )
    );
    core.terminate().unwrap();

    // Without the source the core refuses, naming the first key file it opens and the sources.
    assert!(start_core(&core_dir, &[]).is_err());
    let log = server_log(&core_dir);
    assert!(
        log.contains(&format!(
            "private key file {} is passphrase-protected; give its passphrase with VIGIL_CA_PASSPHRASE, VIGIL_CA_PASSPHRASE_FILE or the systemd credential vigil-ca-passphrase",
            core_dir.join("keys/secret-fingerprint.key").display()
        )),
        "{log}"
    );
}

#[test]
fn a_systemd_credential_encrypts_the_keys_from_the_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    let credential = creds.join("vigil-ca-passphrase");
    std::fs::write(&credential, "from systemd").unwrap();
    std::fs::set_permissions(&credential, std::fs::Permissions::from_mode(0o400)).unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, &[("CREDENTIALS_DIRECTORY", creds.as_os_str())]).unwrap();
    assert_eq!(core.metric("vigil_bus_keys_in_clear").unwrap(), 0.0);
    core.terminate().unwrap();
    for key in core_keys(&core_dir) {
        assert_encrypted(&key, "from systemd");
    }
    assert_fingerprint_key_encrypted(&core_dir);
    assert!(!server_log(&core_dir).contains(CLEAR_WARNING));
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}

const PASSWORD: &str = "S3cr3t-Hunter2!";

fn wait_auth_events(core_dir: &Path, n: usize) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events: Vec<Event> = stored(core_dir)
            .into_iter()
            .filter(|e| e.plugin_id == 4003)
            .collect();
        if events.len() >= n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events stored",
            events.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_password_typed_as_a_user_name_is_stored_nowhere_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, &[]).unwrap();
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let edge = EdgeProcess::start(
        &exe(),
        &edge_dir,
        &edge_config(&edge_dir, "edge1", &[core.info.bus[0]], ""),
    )
    .unwrap();
    let lines = [
        format!("Dec  7 10:00:01 web1 sshd[4242]: Invalid user {PASSWORD} from 198.51.100.7 port 50022"),
        format!("Dec  7 10:00:03 web1 sshd[4242]: Failed password for invalid user {PASSWORD} from 198.51.100.7 port 50022 ssh2"),
        "Dec  7 10:00:05 web1 sshd[4243]: Failed password for invalid user admin from 198.51.100.7 port 50023 ssh2".to_string(),
    ];
    let mut tcp = TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
    for line in &lines {
        writeln!(tcp, "<38>{line}").unwrap();
    }
    let events = wait_auth_events(&core_dir, 3);
    edge.terminate().unwrap();
    core.terminate().unwrap();

    let key: [u8; 32] = std::fs::read(edge_dir.join("keys/secret-fingerprint.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let marker = vigil_event::secret_marker(&key, PASSWORD);
    assert_eq!(marker.len(), "[secret len=15 fp:]".len() + 32);
    let got: Vec<(u32, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.unknown_sid.unwrap_or(e.plugin_sid),
                e.username.as_deref(),
                e.log.as_deref(),
            )
        })
        .collect();
    let scrubbed: Vec<String> = lines
        .iter()
        .map(|l| format!("<38>{}", l.replace(PASSWORD, &marker)))
        .collect();
    assert_eq!(
        got,
        [
            (3, Some(marker.as_str()), Some(scrubbed[0].as_str())),
            (1, Some(marker.as_str()), Some(scrubbed[1].as_str())),
            (1, Some("admin"), Some(scrubbed[2].as_str())),
        ]
    );
    assert_eq!(
        files_containing(&core_dir, PASSWORD.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(&edge_dir, PASSWORD.as_bytes()),
        Vec::<PathBuf>::new()
    );
    // The kept user name's line is in the store as it came: the search does see clear text.
    assert!(!files_containing(&core_dir.join("events"), b"invalid user admin from").is_empty());
}
