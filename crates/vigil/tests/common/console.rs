//! An HTTPS client of the console API for tests: real TLS against the core's CA, one request
//! per connection, login sessions with their cookie and CSRF token.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use serde_json::{Value, json};

/// An HTTP response: status, headers (lower-case names, in order) and body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: status {} body {}", self.status, self.body))
    }
}

/// The problem JSON the API answers with.
pub fn problem(status: u16, title: &str, detail: &str) -> Value {
    json!({"type": "about:blank", "title": title, "status": status, "detail": detail})
}

/// A login session: its cookie (`vigil_session=...`) and CSRF token.
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

/// A client of the console at `addr`, trusting only the console CA of a data directory.
pub struct ConsoleClient {
    config: Arc<rustls::ClientConfig>,
    pub addr: SocketAddr,
}

impl ConsoleClient {
    /// A TLS 1.3 client of the console of `data_dir` at `addr`.
    pub fn new(data_dir: &Path, addr: SocketAddr) -> ConsoleClient {
        ConsoleClient::with_version(data_dir, addr, &rustls::version::TLS13)
    }

    /// A client speaking only TLS `version`.
    pub fn with_version(
        data_dir: &Path,
        addr: SocketAddr,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> ConsoleClient {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read_to_string(data_dir.join("keys").join("console-ca.pem")).unwrap();
        let der = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(der)
            .unwrap();
        roots.add(der.into()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        ConsoleClient {
            config: Arc::new(config),
            addr,
        }
    }

    /// A client of any HTTPS server at `addr` that `config` trusts (such as an identity
    /// provider a test starts).
    pub fn with_config(config: Arc<rustls::ClientConfig>, addr: SocketAddr) -> ConsoleClient {
        ConsoleClient { config, addr }
    }

    /// A TLS connection to the console, before any request.
    pub fn connect(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(self.config.clone(), name).unwrap();
        rustls::StreamOwned::new(conn, TcpStream::connect(self.addr).unwrap())
    }

    /// Sends one HTTP/1.1 request and reads the whole reply.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut tls = self.connect();
        let mut text = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body);
        tls.write_all(text.as_bytes()).unwrap();
        let mut raw = Vec::new();
        if let Err(e) = tls.read_to_end(&mut raw) {
            assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        }
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// `POST /api/v1/login` with `name` and `password`.
    pub fn login(&self, name: &str, password: &str) -> Reply {
        let body = json!({"username": name, "password": password}).to_string();
        self.request(
            "POST",
            "/api/v1/login",
            &[("Content-Type", "application/json")],
            &body,
        )
    }

    /// Logs in, which must succeed; the session.
    pub fn session(&self, name: &str, password: &str) -> Login {
        let reply = self.login(name, password);
        assert_eq!(reply.status, 200, "login of {name}: {}", reply.body);
        let cookie = reply
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = reply.json()["csrf_token"].as_str().unwrap().to_string();
        Login { cookie, csrf }
    }

    /// `GET path` in `login`'s session.
    pub fn get(&self, login: &Login, path: &str) -> Reply {
        self.request("GET", path, &[("Cookie", &login.cookie)], "")
    }

    /// A state-changing request with a JSON `body` in `login`'s session, with its CSRF token.
    pub fn send(&self, login: &Login, method: &str, path: &str, body: &Value) -> Reply {
        self.request(
            method,
            path,
            &[
                ("Cookie", &login.cookie),
                ("X-CSRF-Token", &login.csrf),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
    }
}

/// Runs `vigil user ARGS --data-dir DIR` with `stdin`; it must succeed.
pub fn user(dir: &Path, args: &[&str], stdin: &str) {
    super::succeeded(super::accounts_command("user", dir, args, stdin));
}

/// A live `GET /api/v1/stream` connection, read line by line.
pub struct EventStream {
    reader: std::io::BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl ConsoleClient {
    /// Opens the live stream in `login`'s session; its answer must be 200 `text/event-stream`.
    pub fn stream(&self, login: &Login) -> EventStream {
        use std::io::BufRead;
        let mut tls = self.connect();
        tls.sock
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "GET /api/v1/stream HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr, login.cookie
        );
        tls.write_all(request.as_bytes()).unwrap();
        let mut reader = std::io::BufReader::new(tls);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        EventStream { reader }
    }
}

impl EventStream {
    /// The data of the next `event` whose JSON `pick` accepts, reading at most 10 s between
    /// lines.
    pub fn next_where(&mut self, event: &str, pick: impl Fn(&Value) -> bool) -> Value {
        use std::io::BufRead;
        let mut current = String::new();
        loop {
            let mut line = String::new();
            let read = self.reader.read_line(&mut line);
            assert!(
                matches!(read, Ok(n) if n > 0),
                "stream ended or timed out waiting for {event}: {read:?}"
            );
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                current = name.to_string();
            } else if let Some(data) = line.strip_prefix("data: ")
                && current == event
            {
                let value: Value = serde_json::from_str(data).unwrap();
                if pick(&value) {
                    return value;
                }
            }
        }
    }
}
