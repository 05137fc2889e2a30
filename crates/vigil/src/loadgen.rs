//! Drives a real `vigil server` process over the OSSIM agent protocol: start it, send event
//! lines, read its metrics, stop or kill it. Used by `vigil bench` and the end-to-end tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vigil_event::Uuid;
use vigil_server::{RUNTIME_FILE, RuntimeInfo};

/// The id of event `seq` sent on connection `conn`: the crash test finds every event by it.
pub fn event_id(conn: u32, seq: u64) -> Uuid {
    Uuid::from_u128((u128::from(conn) << 64) | u128::from(seq))
}

/// A 5.x agent's `connect` line for sensor number `conn`.
pub fn connect_line(conn: u32) -> String {
    format!(
        "connect id=\"1\" type=\"sensor\" version=\"5.8.0\" sensor_id=\"{}\"\n",
        Uuid::from_u128(0xa9e7_0000 + u128::from(conn))
    )
}

/// A realistic sshd "Failed password" event line as a 5.x agent sends it (about 420 bytes).
pub fn event_line(conn: u32, seq: u64, epoch_secs: i64) -> String {
    let attacker = format!("203.0.{}.{}", (seq / 250) % 250, seq % 250 + 1);
    let port = 1024 + seq % 60_000;
    let log = format!(
        "Nov 22 10:00:00 srv{conn} sshd[4242]: Failed password for invalid user admin from {attacker} port {port} ssh2"
    );
    format!(
        "event type=\"detector\" date=\"{epoch_secs}\" device=\"10.0.{c}.1\" interface=\"eth0\" plugin_id=\"4003\" plugin_sid=\"1\" src_ip=\"{attacker}\" src_port=\"{port}\" dst_ip=\"10.0.{c}.10\" dst_port=\"22\" protocol=\"TCP\" username=\"{user}\" userdata1=\"{tag}\" log=\"{log}\" tzone=\"0.0\" event_id=\"{id}\"\n",
        c = conn % 250,
        user = STANDARD.encode("admin"),
        tag = STANDARD.encode(format!("c{conn}-s{seq}")),
        log = STANDARD.encode(log),
        id = event_id(conn, seq),
    )
}

/// A running `vigil server` child process with its own data directory.
pub struct ServerProcess {
    child: Child,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Bound addresses, from its runtime file.
    pub info: RuntimeInfo,
}

/// A configuration on loopback with OS-chosen ports, for tests and benchmarks: `agent_keys` are
/// added to the `[agent]` table, `tables` after it.
pub fn loopback_config(data_dir: &Path, agent_keys: &str, tables: &str) -> String {
    format!(
        "data_dir = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n{tables}\n[agent]\nlisten = \"127.0.0.1:0\"\n{agent_keys}",
        data_dir.display().to_string()
    )
}

impl ServerProcess {
    /// Starts `exe server --config <data_dir>/vigil.toml` with `config` and waits until it has
    /// bound its ports. Its log goes to `<data_dir>/server.log` (appended, across restarts).
    pub fn start(exe: &Path, data_dir: &Path, config: &str) -> anyhow::Result<ServerProcess> {
        std::fs::create_dir_all(data_dir)?;
        let config_path = data_dir.join("vigil.toml");
        std::fs::write(&config_path, config)?;
        let runtime = data_dir.join(RUNTIME_FILE);
        let _ = std::fs::remove_file(&runtime);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))?;
        let mut child = Command::new(exe)
            .arg("server")
            .arg("--config")
            .arg(&config_path)
            .env(
                "RUST_LOG",
                std::env::var("VIGIL_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read(&runtime)
                && let Ok(info) = serde_json::from_slice::<RuntimeInfo>(&text)
                && info.pid == child.id()
            {
                return Ok(ServerProcess {
                    child,
                    data_dir: data_dir.to_path_buf(),
                    info,
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "server exited during start-up ({status}); see {}",
                    data_dir.join("server.log").display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("server did not start within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent protocol address.
    pub fn agent_addr(&self) -> anyhow::Result<SocketAddr> {
        self.info.agent.context("agent listener disabled")
    }

    /// Current value of a counter or gauge (summed over its labels) from `/metrics`.
    pub fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let addr = self.info.metrics.context("metrics disabled")?;
        let text = http_get(addr, "/metrics")?;
        Ok(metric_value(&text, name))
    }

    /// The value of one labelled series, e.g. `vigil_events_rejected_total{reason="unknown_key"}`.
    pub fn metric_series(&self, series: &str) -> anyhow::Result<f64> {
        let addr = self.info.metrics.context("metrics disabled")?;
        let text = http_get(addr, "/metrics")?;
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0))
    }

    /// How many inputs were rejected for `reason` (`vigil_events_rejected_total{reason=...}`).
    pub fn rejections(&self, reason: &str) -> anyhow::Result<f64> {
        self.metric_series(&format!(
            "vigil_events_rejected_total{{reason=\"{reason}\"}}"
        ))
    }

    /// Waits until `name` reaches at least `value`.
    pub fn wait_for_metric(
        &self,
        name: &str,
        value: f64,
        timeout: Duration,
    ) -> anyhow::Result<f64> {
        let deadline = Instant::now() + timeout;
        loop {
            let current = self.metric(name)?;
            if current >= value {
                return Ok(current);
            }
            if Instant::now() > deadline {
                bail!("{name} is {current}, expected at least {value} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Peak resident memory of the server so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| {
                l.strip_prefix("VmHWM:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .context("no VmHWM in /proc status")
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("server exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("server did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as in a crash or power cut of the process.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// Opens an agent session: sends `connect` for sensor `conn` and checks the `ok` reply.
pub fn open_session(addr: SocketAddr, conn: u32) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.write_all(connect_line(conn).as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream.try_clone()?).read_line(&mut reply)?;
    if reply != "ok id=\"1\"\n" {
        bail!("connect answered {reply:?}");
    }
    Ok(stream)
}

/// A minimal HTTP/1.0 POST without a body on loopback, returning the status code and body.
pub fn http_post(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, body.to_string()))
}

/// Sends a signal to the server process (`HUP`, `TERM`, ...).
pub fn signal(server: &ServerProcess, name: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(server.child.id().to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{name} failed");
    }
    Ok(())
}

/// A minimal HTTP/1.0 GET on loopback, returning the body.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_string())
}

/// Sums every series of metric `name` in a Prometheus text exposition.
pub fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once('}')?.1,
                None => rest,
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}
