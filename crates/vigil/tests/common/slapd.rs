//! A real OpenLDAP server for the directory login tests: Debian's `slapd` run as the current
//! user on a loopback port, with an mdb database, the memberOf overlay and StartTLS, all in a
//! temporary directory; killed when dropped. Its stats log goes to `<dir>/slapd.log`.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory's suffix.
pub const SUFFIX: &str = "dc=vigil,dc=test";
/// Its administrator, who loads the entries.
pub const ROOT_DN: &str = "cn=admin,dc=vigil,dc=test";
const ROOT_PW: &str = "root-secret";

/// A running slapd.
pub struct Slapd {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stats log.
    pub log: PathBuf,
}

/// A loopback port free now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Slapd {
    /// Starts slapd in `dir` with StartTLS by the PEM `cert` and `key`.
    pub fn start(dir: &Path, cert: &Path, key: &Path) -> Slapd {
        let db = dir.join("db");
        std::fs::create_dir_all(&db).unwrap();
        let conf = dir.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 16777216
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PW}
directory {db}
overlay memberof
access to attrs=userPassword by self read by anonymous auth by * none
access to * by users read by * none
",
                dir = dir.display(),
                cert = cert.display(),
                key = key.display(),
                db = db.display(),
            ),
        )
        .unwrap();
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join("slapd.log");
        let child = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(&conf)
            .args(["-h", &format!("ldap://{addr}/"), "-d", "stats"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("slapd (scripts/test-deps installs it)");
        let slapd = Slapd { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "slapd did not listen: {}",
                std::fs::read_to_string(&slapd.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        slapd
    }

    /// Adds the entries of `ldif` as the administrator.
    pub fn add(&self, ldif: &str) {
        let mut child = Command::new("ldapadd")
            .args([
                "-x",
                "-H",
                &format!("ldap://{}/", self.addr),
                "-D",
                ROOT_DN,
                "-w",
                ROOT_PW,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), ldif.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ldapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The lines of its stats log that contain `text`.
    pub fn log_lines(&self, text: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(text))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
