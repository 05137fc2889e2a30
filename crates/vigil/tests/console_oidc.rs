//! Console logins through a real OpenID Connect provider (panva's certified `oidc-provider`,
//! `tests/oidc/provider.mjs`, started by the test over HTTPS): the authorisation code flow
//! with PKCE driven by plain HTTP requests, and the refusals of a tampered state, a replayed
//! code and a wrong nonce.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

use common::console::{ConsoleClient, Reply, user};
use common::{exe, pki};
use vigil::process::{ServerProcess, loopback_config};

/// The provider's node process, killed when dropped.
struct OidcProvider {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    addr: SocketAddr,
}

impl OidcProvider {
    /// Starts the provider with the certificate of `pki`, signing ID tokens with `alg`, its one
    /// account in `groups`; it listens once [`OidcProvider::register`] is called.
    fn start(dir: &Path, pki: &pki::TestPki, alg: &str, groups: &str) -> OidcProvider {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc/provider.mjs");
        assert!(
            script.with_file_name("node_modules").exists(),
            "run scripts/test-deps (npm ci in tests/oidc)"
        );
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&pki.server_cert)
            .arg(&pki.server_key)
            .env("CLIENT_ID", "vigil-console")
            .env("CLIENT_SECRET", "Client-Secret-1")
            .env("ID_TOKEN_ALG", alg)
            .env("ACCOUNT_NAME", "carol")
            .env("ACCOUNT_GROUPS", groups)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("oidc-provider.log")).unwrap())
            .spawn()
            .expect("node");
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let port: u16 = first.strip_prefix("port ").unwrap().parse().unwrap();
        OidcProvider {
            child,
            stdin,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Registers the client's `redirect_uri` and waits until the provider serves.
    fn register(&mut self, redirect_uri: &str) {
        writeln!(self.stdin, "{redirect_uri}").unwrap();
        assert_eq!(self.lines.next().unwrap().unwrap(), "ready");
    }

    fn issuer(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser's cookies for the provider (one site), by name.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, reply: &Reply) {
        for (_, value) in reply.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let pair = value.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.to_string(), value.to_string()));
            }
        }
    }
}

/// The value of query parameter `name` in `url`.
fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .unwrap()
}

/// Everything of `url` after its `https://host:port`.
fn path_of(url: &str) -> &str {
    let rest = url.strip_prefix("https://").unwrap();
    &rest[rest.find('/').unwrap()..]
}

/// The test's browser: TLS to the console and to the provider, the provider's cookies.
struct Browser {
    console_tls: ConsoleClient,
    console: SocketAddr,
    provider_tls: ConsoleClient,
    jar: Jar,
}

impl Browser {
    /// Vigil's `/api/v1/oidc/login`: the provider's authorisation URL it redirects to.
    fn start_login(&self) -> String {
        let reply = self
            .console_tls
            .request("GET", "/api/v1/oidc/login", &[], "");
        assert_eq!(reply.status, 302, "{}", reply.body);
        reply.header("location").unwrap().to_string()
    }

    /// Follows the provider's redirects from `url` until it sends the browser back to the
    /// console: the callback's path and query.
    fn authorize(&mut self, url: &str) -> String {
        let callback = format!("https://{}/api/v1/oidc/callback?", self.console);
        let mut url = url.to_string();
        for _ in 0..10 {
            if url.starts_with(&callback) {
                return path_of(&url).to_string();
            }
            let path = if url.starts_with('/') {
                url.clone()
            } else {
                path_of(&url).to_string()
            };
            let cookies = self.jar.header();
            let reply = self
                .provider_tls
                .request("GET", &path, &[("Cookie", &cookies)], "");
            self.jar.take(&reply);
            assert!(
                matches!(reply.status, 302 | 303),
                "{} {}",
                reply.status,
                reply.body
            );
            url = reply.header("location").unwrap().to_string();
        }
        panic!("the provider never sent the browser back: {url}");
    }

    /// Vigil's callback `path`.
    fn callback(&self, path: &str) -> Reply {
        self.console_tls.request("GET", path, &[], "")
    }
}

fn refused(detail: &str) -> Value {
    json!({
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": format!("OpenID Connect login refused: {detail}"),
    })
}

/// A provider signing with `alg` for an account in `groups`, and a core using it, with the
/// local `accounts` (name and role).
fn setup(
    tmp: &Path,
    alg: &str,
    groups: &str,
    accounts: &[(&str, &str)],
) -> (OidcProvider, ServerProcess, Browser) {
    let pki = pki::create(&tmp.join("pki"));
    let mut provider = OidcProvider::start(tmp, &pki, alg, groups);
    let secret = tmp.join("client.secret");
    std::fs::write(&secret, "Client-Secret-1\n").unwrap();
    let dir = tmp.join("vigil-data");
    for (name, role) in accounts {
        user(&dir, &["add", name, "--role", role], "Correct-Horse-7\n");
    }
    let oidc = format!(
        "[console.oidc]
issuer = \"{}\"
client_id = \"vigil-console\"
client_secret_file = {secret:?}
ca = {:?}
[console.oidc.roles]
vigil-analysts = \"analyst\"
vigil-admins = \"admin\"
",
        provider.issuer(),
        pki.ca_cert
    );
    let server = ServerProcess::start(&exe(), &dir, &loopback_config(&dir, "", &oidc)).unwrap();
    let console = server.console_addr().unwrap();
    provider.register(&format!("https://{console}/api/v1/oidc/callback"));
    let browser = Browser {
        console_tls: ConsoleClient::new(&dir, console),
        console,
        provider_tls: ConsoleClient::with_config(
            pki::client_config(&pki.ca_cert, None),
            provider.addr,
        ),
        jar: Jar::default(),
    };
    (provider, server, browser)
}

#[test]
fn an_oidc_login_with_pkce_and_its_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let (provider, server, mut browser) = setup(tmp.path(), "RS256", "staff,vigil-analysts", &[]);

    let methods = browser
        .console_tls
        .request("GET", "/api/v1/login/methods", &[], "");
    assert_eq!(
        methods.json(),
        json!({"password": true, "ldap": false, "oidc": true})
    );

    // The authorisation request: code flow, PKCE S256, fresh state and nonce.
    let url = browser.start_login();
    let endpoint = format!("{}/auth?", provider.issuer());
    assert!(url.starts_with(&endpoint), "{url}");
    assert_eq!(param(&url, "response_type"), "code");
    assert_eq!(param(&url, "client_id"), "vigil-console");
    assert_eq!(param(&url, "scope"), "openid+profile");
    assert_eq!(param(&url, "code_challenge_method"), "S256");
    for name in ["state", "nonce", "code_challenge"] {
        assert_eq!(param(&url, name).len(), 43, "{name}");
    }

    // Back at the callback: a session cookie and a redirect to the alarms.
    let back = browser.authorize(&url);
    let done = browser.callback(&back);
    assert_eq!(done.status, 302, "{}", done.body);
    assert_eq!(done.header("location"), Some("/#/alarms"));
    let set_cookie = done.header("set-cookie").unwrap();
    let (pair, attributes) = set_cookie.split_once("; ").unwrap();
    assert_eq!(attributes, "Secure; HttpOnly; SameSite=Strict; Path=/");
    let who = browser
        .console_tls
        .request("GET", "/api/v1/session", &[("Cookie", pair)], "");
    assert_eq!(who.status, 200, "{}", who.body);
    let who = who.json();
    assert_eq!(
        (&who["username"], &who["role"]),
        (&json!("carol"), &json!("analyst"))
    );
    assert_eq!(who["csrf_token"].as_str().map(str::len), Some(43));

    // The same answer again: its state was used.
    let replay = browser.callback(&back);
    assert_eq!(
        (replay.status, replay.json()),
        (401, refused("unknown, used or expired login (state)"))
    );

    // A tampered state is nobody's login.
    let url = browser.start_login();
    let back = browser.authorize(&url);
    let tampered = back.replace(param(&url, "state"), "AAAA");
    let reply = browser.callback(&tampered);
    assert_eq!(
        (reply.status, reply.json()),
        (401, refused("unknown, used or expired login (state)"))
    );

    // A code already redeemed, brought to another login: the provider refuses it.
    let used_code = param(&back, "code").to_string();
    let reply = browser.callback(&back);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let other = browser.start_login();
    let reply = browser.callback(&format!(
        "/api/v1/oidc/callback?code={used_code}&state={}",
        param(&other, "state")
    ));
    assert_eq!(reply.status, 401, "{}", reply.body);
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("OpenID Connect login refused: the token endpoint refused the code (400 Bad Request): invalid_grant"),
        "{detail}"
    );

    // An authorisation request altered to carry another login's nonce: the ID token's nonce
    // is not this login's.
    let first = browser.start_login();
    let second = browser.start_login();
    let swapped = first.replace(param(&first, "nonce"), param(&second, "nonce"));
    let back = browser.authorize(&swapped);
    let reply = browser.callback(&back);
    assert_eq!(
        (reply.status, reply.json()),
        (401, refused("the ID token's nonce is not this login's"))
    );

    for (outcome, n) in [("success", 2.0), ("failure", 4.0)] {
        let series = format!("vigil_console_logins_total{{method=\"oidc\",outcome=\"{outcome}\"}}");
        assert_eq!(server.metric_series(&series).unwrap(), n, "{series}");
    }
    assert_eq!(
        server
            .metric_series("vigil_console_requests_refused_total{reason=\"oidc\"}")
            .unwrap(),
        4.0
    );
}

#[test]
fn es256_id_tokens_and_the_highest_role() {
    let tmp = tempfile::tempdir().unwrap();
    let (_provider, _server, mut browser) =
        setup(tmp.path(), "ES256", "vigil-analysts,vigil-admins", &[]);
    let url = browser.start_login();
    let back = browser.authorize(&url);
    let done = browser.callback(&back);
    assert_eq!(done.status, 302, "{}", done.body);
    let pair = done
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let who = browser
        .console_tls
        .request("GET", "/api/v1/session", &[("Cookie", &pair)], "");
    let who = who.json();
    assert_eq!(
        (&who["username"], &who["role"]),
        (&json!("carol"), &json!("admin"))
    );
    assert_eq!(who["csrf_token"].as_str().map(str::len), Some(43));
}

#[test]
fn a_provider_user_never_takes_a_local_account_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (_provider, server, mut browser) = setup(
        tmp.path(),
        "RS256",
        "vigil-admins",
        &[("carol", "viewer"), ("root", "admin")],
    );
    let url = browser.start_login();
    let back = browser.authorize(&url);
    let reply = browser.callback(&back);
    assert_eq!(
        (reply.status, reply.json()),
        (401, refused("carol is the name of a local account"))
    );
    assert_eq!(reply.header("set-cookie"), None);
    assert_eq!(
        server
            .metric_series("vigil_console_logins_total{method=\"oidc\",outcome=\"failure\"}")
            .unwrap(),
        1.0
    );
}

#[test]
fn an_unreachable_provider_and_a_stray_answer_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::create(&tmp.path().join("pki"));
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tmp.path().join("vigil-data");
    let oidc = format!(
        "[console.oidc]\nissuer = \"https://{closed}\"\nclient_id = \"vigil-console\"\nca = {:?}\n[console.oidc.roles]\nsoc = \"analyst\"\n",
        pki.ca_cert
    );
    let server = ServerProcess::start(&exe(), &dir, &loopback_config(&dir, "", &oidc)).unwrap();
    let console = server.console_addr().unwrap();
    let tls = ConsoleClient::new(&dir, console);

    let start = tls.request("GET", "/api/v1/oidc/login", &[], "");
    assert_eq!(start.status, 503, "{}", start.body);
    let detail = start.json()["detail"].as_str().unwrap().to_string();
    let expected = format!(
        "cannot start the OpenID Connect login: request to https://{closed}/.well-known/openid-configuration failed: "
    );
    assert!(detail.starts_with(&expected), "{detail}");

    let stray = tls.request("GET", "/api/v1/oidc/callback?code=c&state=s", &[], "");
    assert_eq!(
        (stray.status, stray.json()),
        (401, refused("unknown, used or expired login (state)"))
    );
    for (outcome, n) in [("unavailable", 1.0), ("failure", 1.0)] {
        let series = format!("vigil_console_logins_total{{method=\"oidc\",outcome=\"{outcome}\"}}");
        assert_eq!(server.metric_series(&series).unwrap(), n, "{series}");
    }
}
