//! A small HTTPS client for identity providers' endpoints (OpenID Connect discovery, keys and
//! tokens): one request per connection, HTTP/1.1 over rustls, bounded in time and size.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

/// How long a whole request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read.
const MAX_BODY: usize = 1 << 20;

/// Sends `method url` with `headers` and `body` over HTTPS trusting `tls`; the status and
/// body of the answer.
pub async fn fetch(
    tls: &Arc<rustls::ClientConfig>,
    method: Method,
    url: &str,
    headers: &[(header::HeaderName, String)],
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    tokio::time::timeout(TIMEOUT, send(tls, method, url, headers, body))
        .await
        .with_context(|| format!("{url} did not answer within {TIMEOUT:?}"))?
        .with_context(|| format!("request to {url} failed"))
}

async fn send(
    tls: &Arc<rustls::ClientConfig>,
    method: Method,
    url: &str,
    headers: &[(header::HeaderName, String)],
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let uri: Uri = url.parse().context("not a URL")?;
    anyhow::ensure!(uri.scheme_str() == Some("https"), "not an https:// URL");
    let host = uri.host().context("no host")?;
    let port = uri.port_u16().unwrap_or(443);
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(name.to_string()).context("bad host name")?;
    let tcp = tokio::net::TcpStream::connect((name, port)).await?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(server_name, tcp)
        .await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let authority = uri.authority().context("no host")?.to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::ACCEPT, "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(body)))?)
        .await?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}
