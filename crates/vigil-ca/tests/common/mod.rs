//! Helpers shared by the integration tests: CAs in temporary directories and
//! one-line TLS exchanges over loopback.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use vigil_ca::{Authority, Issued, Role, TlsIdentity, peer_name};

/// A CA in a temporary directory, with an output directory beside it.
pub struct TestCa {
    pub tmp: TempDir,
    pub ca: Authority,
}

impl TestCa {
    /// A fresh CA named `name` (no passphrase) in `tmp/ca`.
    pub fn new(name: &str) -> TestCa {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ca = Authority::init(&tmp.path().join("ca"), name, None).expect("init CA");
        TestCa { tmp, ca }
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.tmp.path().join("ca")
    }

    /// Output directory for the certificate of `name`.
    pub fn out(&self, name: &str) -> PathBuf {
        self.tmp.path().join("out").join(name)
    }

    pub fn issue(&mut self, role: Role, name: &str, hosts: &[&str]) -> Issued {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let out = self.out(name);
        self.ca
            .issue(
                role,
                name,
                &hosts,
                &out,
                None,
                vigil_ca::DEFAULT_LEAF_VALIDITY_DAYS,
            )
            .expect("issue")
    }

    /// The identity of an issued certificate, with the CA's current CRL.
    pub fn identity(&self, issued: &Issued) -> TlsIdentity {
        TlsIdentity::load(
            &issued.cert,
            &issued.key,
            &issued.ca,
            Some(&self.ca_dir().join("crl.pem")),
            None,
        )
        .expect("load identity")
    }
}

/// Mode bits of a file or directory.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

/// How one exchange went on each side.
#[derive(Debug)]
pub struct Exchange {
    /// The server side: the verified client's `peer_name`, or the error.
    pub server: Result<String, String>,
    /// The client side: the line the server answered, or the error.
    pub client: Result<String, String>,
}

/// Accepts one connection with `server`, connects with `client` to
/// `server_name`, sends one line and reads the answer.
pub async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: &str,
) -> Exchange {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let tls = TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (_, conn) = tls.get_ref();
        assert_eq!(conn.alpn_protocol(), Some(vigil_ca::ALPN));
        let peer = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or("no client certificate")?
            .clone();
        let name = peer_name(&peer).map_err(|e| e.to_string())?;
        let mut tls = BufReader::new(tls);
        let mut line = String::new();
        tls.read_line(&mut line).await.map_err(|e| e.to_string())?;
        tls.get_mut()
            .write_all(format!("hello {name}, you said {}", line).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        tls.get_mut().shutdown().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(name)
    });

    let server_name = ServerName::try_from(server_name.to_string()).expect("server name");
    let client_side = async move {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let tls = TlsConnector::from(client)
            .connect(server_name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let mut tls = BufReader::new(tls);
        tls.get_mut()
            .write_all(b"ping\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        tls.read_line(&mut line).await.map_err(|e| e.to_string())?;
        if line.is_empty() {
            return Err("connection closed without an answer".to_string());
        }
        Ok::<_, String>(line)
    };
    let client = tokio::time::timeout(Duration::from_secs(10), client_side)
        .await
        .unwrap_or_else(|_| Err("client timed out".to_string()));
    let server = match tokio::time::timeout(Duration::from_secs(10), server_task).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(format!("server task failed: {join}")),
        Err(_) => Err("server timed out".to_string()),
    };
    Exchange { server, client }
}
