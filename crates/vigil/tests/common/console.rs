//! An HTTPS client for the console API in tests: TLS trusting the core's CA, one HTTP/1.1
//! request per connection, and the login request.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use serde_json::{Value, json};

/// A TLS client configuration of protocol `version` trusting the CA of the core in `dir`.
pub fn client_config(
    dir: &Path,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read_to_string(dir.join("ca").join("ca.pem")).unwrap();
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
    Arc::new(config)
}

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
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Sends one HTTP/1.1 request over TLS 1.3 to `addr` and reads the whole reply.
pub fn request(
    config: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
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

/// Posts `name` and `password` as JSON to `/api/v1/login`.
pub fn login(
    config: &Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    name: &str,
    password: &str,
) -> Reply {
    let body = json!({"username": name, "password": password}).to_string();
    request(
        config,
        addr,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        &body,
    )
}

/// Runs `vigil user ARGS --data-dir DIR` with `stdin`; it must succeed.
pub fn user(dir: &Path, args: &[&str], stdin: &str) {
    super::succeeded(super::accounts_command("user", dir, args, stdin));
}
