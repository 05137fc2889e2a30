//! `vigil bench console`: the console API of a real server over a store of 100,000 alarms:
//! latency of the first page of the alarm list, of a filtered query and of a page deep in a
//! cursor walk; and the agent-intake rate with 50 live-stream clients connected versus none.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use vigil_event::{Alarm, CorrelationState, Timestamp, Uuid};
use vigil_store::{LogOptions, Store};

use super::Spread;
use crate::loadgen::{event_line, open_session};
use crate::process::{ServerProcess, loopback_config};

/// Parameters of the console benchmark.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The `vigil` binary to start as the server.
    pub exe: PathBuf,
    /// Alarms stored before the server starts.
    pub alarms: u64,
    /// Measurements of each query.
    pub runs: usize,
    /// Events per intake run.
    pub events: u64,
    /// Intake runs with and without stream clients (each).
    pub intake_runs: usize,
    /// Live-stream clients connected during the loaded intake runs.
    pub stream_clients: usize,
    /// Directive files or directories the server loads (so intake raises alarms to stream).
    pub directives: Vec<PathBuf>,
    /// Plugin SQL sid tables the server loads.
    pub sid_tables: Vec<PathBuf>,
}

/// The benchmark user's name and password.
const USER: (&str, &str) = ("analyst", "Correct-Horse-Battery-7");

/// The filtered query measured.
pub const FILTERED: &str = "status=open&risk_min=5&src=10.0.0.0/8&directive=50008";

/// Pages walked before the deep page measured.
const DEEP_PAGES: usize = 200;

/// The `n`th synthetic alarm: risk `n % 11`, directive `50000 + n % 50`, a source in 10/8 for
/// a quarter of them, last seen `n` seconds after a fixed time.
pub fn synthetic_alarm(n: u64) -> Alarm {
    let base = 1_700_000_000;
    let mut alarm = Alarm::new(
        Uuid::from_u128(u128::from(n) + 1),
        format!("Synthetic directive {}", 50_000 + n % 50),
        Timestamp::from_secs(base + n as i64),
    );
    alarm.directive_id = 50_000 + (n % 50) as u32;
    alarm.risk = (n % 11) as u8;
    alarm.priority = (n % 6) as u8;
    alarm.reliability = (n % 11) as u8;
    let octets = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    alarm.src_ip = match n % 4 {
        0 => [10, octets[0], octets[1], octets[2]].into(),
        _ => [198, 51, octets[1], octets[2]].into(),
    };
    alarm.dst_ip = [192, 168, octets[1], octets[2]].into();
    alarm.correlation = match n % 3 {
        0 => CorrelationState::Active,
        1 => CorrelationState::Completed,
        _ => CorrelationState::Expired,
    };
    alarm.usernames = vec![format!("user{}", n % 100)];
    alarm.sensors = vec![format!("edge-{}", n % 8)];
    alarm
}

/// Stores `count` synthetic alarms in the store of `data_dir`.
pub fn store_alarms(data_dir: &Path, count: u64) -> anyhow::Result<()> {
    let mut store = Store::open(data_dir, &LogOptions::default())?;
    let mut n = 0;
    while n < count {
        let batch: Vec<Alarm> = (n..count.min(n + 10_000)).map(synthetic_alarm).collect();
        store.alarms.append(&batch)?;
        n += batch.len() as u64;
    }
    Ok(())
}

/// A keep-alive HTTPS connection to the console, trusting the data directory's CA.
struct Https {
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

impl Https {
    fn new(data_dir: &Path, addr: SocketAddr) -> anyhow::Result<Https> {
        let pem = std::fs::read_to_string(data_dir.join("keys").join("console-ca.pem"))?;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body)?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der.into())?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Https {
            config: Arc::new(config),
            addr,
        })
    }

    fn connect(&self) -> anyhow::Result<Tls> {
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
        let conn = rustls::ClientConnection::new(self.config.clone(), name)?;
        Ok(rustls::StreamOwned::new(
            conn,
            TcpStream::connect(self.addr)?,
        ))
    }
}

/// Sends one request on `tls` and reads its reply (status, `set-cookie`, body); the connection
/// stays open.
fn request(
    tls: &mut BufReader<Tls>,
    addr: SocketAddr,
    head: &str,
    body: &str,
) -> anyhow::Result<(u16, Option<String>, String)> {
    let text = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.get_mut().write_all(text.as_bytes())?;
    let mut status_line = String::new();
    tls.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let (mut length, mut cookie) = (0usize, None);
    loop {
        let mut line = String::new();
        tls.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse()?,
                "set-cookie" => cookie = value.trim().split(';').next().map(str::to_string),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    tls.read_exact(&mut body)?;
    Ok((status, cookie, String::from_utf8(body)?))
}

/// A logged-in keep-alive connection.
struct Session {
    tls: BufReader<Tls>,
    addr: SocketAddr,
    cookie: String,
}

impl Session {
    fn login(https: &Https) -> anyhow::Result<Session> {
        let mut tls = BufReader::new(https.connect()?);
        let body = serde_json::json!({"username": USER.0, "password": USER.1}).to_string();
        let (status, cookie, answer) = request(
            &mut tls,
            https.addr,
            "POST /api/v1/login HTTP/1.1\r\nContent-Type: application/json",
            &body,
        )?;
        let Some(cookie) = cookie.filter(|_| status == 200) else {
            bail!("login failed: {status} {answer}");
        };
        Ok(Session {
            tls,
            addr: https.addr,
            cookie,
        })
    }

    /// `GET path`: its JSON body.
    fn get(&mut self, path: &str) -> anyhow::Result<serde_json::Value> {
        let head = format!("GET {path} HTTP/1.1\r\nCookie: {}", self.cookie);
        let (status, _, body) = request(&mut self.tls, self.addr, &head, "")?;
        if status != 200 {
            bail!("GET {path}: {status} {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Milliseconds of each of `runs` requests of `path`.
    fn time(&mut self, path: &str, runs: usize) -> anyhow::Result<Vec<f64>> {
        (0..runs)
            .map(|_| {
                let began = Instant::now();
                self.get(path)?;
                Ok(began.elapsed().as_secs_f64() * 1000.0)
            })
            .collect()
    }
}

/// The value at fraction `q` of sorted `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

/// One intake event in this many raises an alarm (1 %: a busy SOC's alarm rate is far lower).
const ALARM_EVERY: u64 = 100;

/// `count` clients reading the live stream until stopped; their sockets, to shut down.
fn stream_clients(https: &Https, cookie: &str, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let mut sockets = Vec::new();
    for _ in 0..count {
        let mut tls = https.connect()?;
        let request = format!(
            "GET /api/v1/stream HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n",
            https.addr
        );
        tls.write_all(request.as_bytes())?;
        sockets.push(tls.sock.try_clone()?);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while matches!(tls.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    Ok(sockets)
}

/// Sends `events` agent events over one session and waits until they are stored: events per
/// second. One event in [`ALARM_EVERY`] has priority 5 and reliability 10, so it raises a
/// single-event alarm (risk 4 on a default asset) that every stream client receives.
fn intake_rate(server: &ServerProcess, conn: u32, events: u64) -> anyhow::Result<f64> {
    let before = server.metric("vigil_events_stored_total")?;
    let now = Timestamp::now().as_secs();
    let payload: String = (0..events)
        .map(|seq| {
            let line = event_line(conn, seq, now);
            match seq % ALARM_EVERY {
                0 => line.replacen(
                    "plugin_sid=\"1\"",
                    "plugin_sid=\"1\" priority=\"5\" reliability=\"10\"",
                    1,
                ),
                _ => line,
            }
        })
        .collect();
    let stream = open_session(server.agent_addr()?, conn)?;
    let began = super::send_together(vec![stream], &[Arc::new(payload.into_bytes())], 1)?;
    server.wait_for_metric(
        "vigil_events_stored_total",
        before + events as f64,
        Duration::from_secs(600),
    )?;
    Ok(events as f64 / began.elapsed().as_secs_f64())
}

/// Runs the benchmark, printing a table.
pub fn console(options: &ConsoleOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path();
    vigil_accounts::change(
        data_dir,
        vigil_accounts::Change::Add(USER.0, vigil_accounts::Role::Analyst, USER.1),
    )?;
    let began = Instant::now();
    store_alarms(data_dir, options.alarms)?;
    writeln!(
        out,
        "console benchmark: {} alarms stored in {:.1} s; {} runs per query",
        options.alarms,
        began.elapsed().as_secs_f64(),
        options.runs
    )?;
    let tables = rules(&options.directives, &options.sid_tables);
    let started = Instant::now();
    let server = ServerProcess::start(
        &options.exe,
        data_dir,
        &loopback_config(data_dir, "", &tables),
    )?;
    writeln!(
        out,
        "server up in {:.1} s (alarm book loaded)",
        started.elapsed().as_secs_f64()
    )?;
    let https = Https::new(data_dir, server.console_addr()?)?;
    let mut session = Session::login(&https)?;

    let first = "/api/v1/alarms?limit=50".to_string();
    let filtered = format!("/api/v1/alarms?limit=50&{FILTERED}");
    let mut cursor = String::new();
    for _ in 0..DEEP_PAGES {
        let page = session.get(&format!("/api/v1/alarms?limit=50{cursor}"))?;
        let next = page["next_cursor"]
            .as_str()
            .context("the walk ended early")?;
        cursor = format!("&cursor={next}");
    }
    let deep = format!("/api/v1/alarms?limit=50{cursor}");
    let total = session.get(&filtered)?["total"].clone();
    writeln!(out, "\n| query | median ms | p95 ms |\n|---|---|---|")?;
    for (label, path) in [
        ("first page (sort=risk, limit=50)".to_string(), &first),
        (format!("filtered ({FILTERED}; {total} match)"), &filtered),
        (format!("page {} of a cursor walk", DEEP_PAGES + 1), &deep),
    ] {
        let times = session.time(path, options.runs)?;
        writeln!(
            out,
            "| {label} | {:.2} | {:.2} |",
            Spread::of(times.clone()).median,
            quantile(&times, 0.95)
        )?;
    }

    // Intake with and without stream clients, alternated; the server's CPU time per run tells
    // its own cost apart from the clients' (which share this machine's cores).
    let (mut quiet, mut loaded) = (Vec::new(), Vec::new());
    let (mut quiet_cpu, mut loaded_cpu) = (Vec::new(), Vec::new());
    for run in 0..options.intake_runs {
        let cpu = server.cpu_seconds()?;
        quiet.push(intake_rate(&server, 2 * run as u32, options.events)?);
        quiet_cpu.push(server.cpu_seconds()? - cpu);
        let sockets = stream_clients(&https, &session.cookie, options.stream_clients)?;
        server.wait_for_metric(
            "vigil_console_stream_clients",
            options.stream_clients as f64,
            Duration::from_secs(120),
        )?;
        let cpu = server.cpu_seconds()?;
        loaded.push(intake_rate(&server, 2 * run as u32 + 1, options.events)?);
        loaded_cpu.push(server.cpu_seconds()? - cpu);
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
    let (quiet, loaded) = (Spread::of(quiet).median, Spread::of(loaded).median);
    let (quiet_cpu, loaded_cpu) = (Spread::of(quiet_cpu).median, Spread::of(loaded_cpu).median);
    let alarms = server.metric("vigil_alarms_total")?;
    let dropped = server.metric("vigil_console_stream_dropped_total")? as u64;
    writeln!(
        out,
        "\n| agent intake ({} events/run, {} runs each) | median events/s | median server CPU s/run |\n|---|---|---|\n| no stream clients | {quiet:.0} | {quiet_cpu:.2} |\n| {} stream clients | {loaded:.0} | {loaded_cpu:.2} |",
        options.events, options.intake_runs, options.stream_clients
    )?;
    writeln!(
        out,
        "\nslowdown with stream clients: {:.1} % in rate, {:.1} % more server CPU; alarms raised during intake: {alarms}; stream clients dropped for lagging: {dropped}",
        (1.0 - loaded / quiet) * 100.0,
        (loaded_cpu / quiet_cpu - 1.0) * 100.0
    )?;
    server.terminate()?;
    Ok(())
}

/// The server's `[correlation]` and `[plugins]` tables for these files.
fn rules(directives: &[PathBuf], sid_tables: &[PathBuf]) -> String {
    let list = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut tables = String::new();
    if !sid_tables.is_empty() {
        tables.push_str(&format!("[plugins]\nsid_tables = [{}]\n", list(sid_tables)));
    }
    if !directives.is_empty() {
        tables.push_str(&format!(
            "[correlation]\ndirectives = [{}]\n",
            list(directives)
        ));
    }
    tables
}
