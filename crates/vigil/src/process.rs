//! Drives real `vigil server` and `vigil edge` child processes: start one with a configuration
//! in its own data directory, wait until it has bound its ports, read its metrics, signal,
//! stop or kill it. Used by `vigil bench` and the end-to-end tests.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

/// What a subcommand writes into its data directory once it has bound its ports.
pub trait Runtime: DeserializeOwned {
    /// The subcommand (`server`, `edge`).
    const SUBCOMMAND: &'static str;
    /// The runtime file in the data directory.
    const FILE: &'static str;
    /// The process id it names.
    fn pid(&self) -> u32;
    /// The metrics address it names.
    fn metrics(&self) -> Option<SocketAddr>;
}

impl Runtime for vigil_server::RuntimeInfo {
    const SUBCOMMAND: &'static str = "server";
    const FILE: &'static str = vigil_server::RUNTIME_FILE;
    fn pid(&self) -> u32 {
        self.pid
    }
    fn metrics(&self) -> Option<SocketAddr> {
        self.metrics
    }
}

impl Runtime for vigil_edge::RuntimeInfo {
    const SUBCOMMAND: &'static str = "edge";
    const FILE: &'static str = vigil_edge::RUNTIME_FILE;
    fn pid(&self) -> u32 {
        self.pid
    }
    fn metrics(&self) -> Option<SocketAddr> {
        self.metrics
    }
}

/// Kernel clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// A running child process with its own data directory.
pub struct VigilProcess<R: Runtime> {
    child: Child,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Bound addresses, from its runtime file.
    pub info: R,
}

/// A running `vigil server`.
pub type ServerProcess = VigilProcess<vigil_server::RuntimeInfo>;
/// A running `vigil edge`.
pub type EdgeProcess = VigilProcess<vigil_edge::RuntimeInfo>;

/// A server configuration on loopback with OS-chosen ports, for tests and benchmarks:
/// `agent_keys` are added to the `[agent]` table, `tables` after it.
pub fn loopback_config(data_dir: &Path, agent_keys: &str, tables: &str) -> String {
    loopback_config_with_bus(
        data_dir,
        &[SocketAddr::from(([127, 0, 0, 1], 0))],
        "",
        agent_keys,
        tables,
    )
}

/// [`loopback_config`] whose bus listens on `bus_listen` (port 0: OS-chosen), with `bus_keys`
/// added to the `[bus]` table.
pub fn loopback_config_with_bus(
    data_dir: &Path,
    bus_listen: &[SocketAddr],
    bus_keys: &str,
    agent_keys: &str,
    tables: &str,
) -> String {
    let listen: Vec<String> = bus_listen.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "data_dir = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n[console]\nlisten = \"127.0.0.1:0\"\n{tables}\n[bus]\nlisten = [{}]\n{bus_keys}\n[agent]\nenabled = true\nlisten = \"127.0.0.1:0\"\n{agent_keys}",
        data_dir.display().to_string(),
        listen.join(", ")
    )
}

impl<R: Runtime> VigilProcess<R> {
    /// Starts `exe <subcommand> --config <data_dir>/vigil.toml` with `config` and waits until it
    /// has bound its ports. Its log goes to `<data_dir>/<subcommand>.log` (appended, across
    /// restarts).
    pub fn start(exe: &Path, data_dir: &Path, config: &str) -> anyhow::Result<VigilProcess<R>> {
        Self::start_env::<&str, &str>(exe, data_dir, config, &[])
    }

    /// [`VigilProcess::start`] with the log filter `filter` (`RUST_LOG` syntax).
    pub fn start_logging(
        exe: &Path,
        data_dir: &Path,
        config: &str,
        filter: &str,
    ) -> anyhow::Result<VigilProcess<R>> {
        Self::spawn::<&str, &str>(exe, data_dir, config, filter, &[])
    }

    /// [`VigilProcess::start`] with these variables added to its environment (for example
    /// libfaketime's, to run it under a shifted clock).
    pub fn start_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        exe: &Path,
        data_dir: &Path,
        config: &str,
        env: &[(K, V)],
    ) -> anyhow::Result<VigilProcess<R>> {
        let filter = std::env::var("VIGIL_TEST_LOG").unwrap_or_else(|_| "warn".into());
        Self::spawn(exe, data_dir, config, &filter, env)
    }

    fn spawn<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        exe: &Path,
        data_dir: &Path,
        config: &str,
        filter: &str,
        env: &[(K, V)],
    ) -> anyhow::Result<VigilProcess<R>> {
        std::fs::create_dir_all(data_dir)?;
        let config_path = data_dir.join("vigil.toml");
        std::fs::write(&config_path, config)?;
        let runtime = data_dir.join(R::FILE);
        let _ = std::fs::remove_file(&runtime);
        let log_path = data_dir.join(format!("{}.log", R::SUBCOMMAND));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let mut child = Command::new(exe)
            .arg(R::SUBCOMMAND)
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", filter)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read(&runtime)
                && let Ok(info) = serde_json::from_slice::<R>(&text)
                && info.pid() == child.id()
            {
                return Ok(VigilProcess {
                    child,
                    data_dir: data_dir.to_path_buf(),
                    info,
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); see {}",
                    R::SUBCOMMAND,
                    log_path.display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("{} did not start within 60 s", R::SUBCOMMAND);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the process has used so far (user and system), from `/proc/<pid>/stat`.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(fields
                .get(i)
                .with_context(|| format!("/proc/{}/stat is short", self.pid()))?
                .parse::<f64>()?)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        Ok((ticks(11)? + ticks(12)?) / CLOCK_TICKS)
    }

    /// The whole `/metrics` text.
    pub fn metrics_text(&self) -> anyhow::Result<String> {
        let addr = self.info.metrics().context("metrics disabled")?;
        http_get(addr, "/metrics")
    }

    /// Current value of a counter or gauge (summed over its labels) from `/metrics`.
    pub fn metric(&self, name: &str) -> anyhow::Result<f64> {
        Ok(metric_value(&self.metrics_text()?, name))
    }

    /// The value of one labelled series, e.g. `vigil_events_rejected_total{reason="unknown_key"}`.
    pub fn metric_series(&self, series: &str) -> anyhow::Result<f64> {
        Ok(self
            .metrics_text()?
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0))
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

    /// Peak resident memory of the process so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        peak_rss_kib_of(self.child.id())
    }

    /// Sends a signal (`HUP`, `TERM`, ...).
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{name} failed");
        }
        Ok(())
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        self.signal("TERM")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("{} exited with {status} after SIGTERM", R::SUBCOMMAND);
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("{} did not exit within 60 s of SIGTERM", R::SUBCOMMAND);
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

impl<R: Runtime> Drop for VigilProcess<R> {
    /// A process still running when its handle goes (a test that failed half-way) is killed,
    /// so it never outlives the test.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl ServerProcess {
    /// The bound console address (`console.listen`, HTTPS).
    pub fn console_addr(&self) -> anyhow::Result<SocketAddr> {
        self.info.console.context("console disabled")
    }

    /// The bound admin endpoint address (`metrics.listen`).
    pub fn admin_addr(&self) -> anyhow::Result<SocketAddr> {
        self.info.metrics.context("admin endpoint disabled")
    }

    /// [`admin_post`] to this server, with the token from its data directory.
    pub fn admin_post(&self, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
        admin_post(
            self.admin_addr()?,
            &admin_token(&self.data_dir)?,
            path,
            body,
        )
    }

    /// The bound agent protocol address.
    pub fn agent_addr(&self) -> anyhow::Result<SocketAddr> {
        self.info.agent.context("agent listener disabled")
    }

    /// How many inputs were rejected for `reason` (`vigil_events_rejected_total{reason=...}`).
    pub fn rejections(&self, reason: &str) -> anyhow::Result<f64> {
        self.metric_series(&format!(
            "vigil_events_rejected_total{{reason=\"{reason}\"}}"
        ))
    }
}

impl EdgeProcess {
    /// The bound address of syslog source `name`.
    pub fn source_addr(&self, name: &str) -> anyhow::Result<SocketAddr> {
        self.info
            .sources
            .get(name)
            .copied()
            .with_context(|| format!("no syslog source named {name:?}"))
    }

    /// `vigil_edge_<metric>{source="<source>"}`.
    pub fn source_metric(&self, metric: &str, source: &str) -> anyhow::Result<f64> {
        self.metric_series(&format!("vigil_edge_{metric}{{source=\"{source}\"}}"))
    }

    /// `vigil_edge_rejected_total{source="<source>",reason="<reason>"}`.
    pub fn rejections(&self, source: &str, reason: &str) -> anyhow::Result<f64> {
        self.metric_series(&format!(
            "vigil_edge_rejected_total{{source=\"{source}\",reason=\"{reason}\"}}"
        ))
    }
}

/// Peak resident memory of process `pid` so far, in KiB (`VmHWM` of `/proc/<pid>/status`).
pub fn peak_rss_kib_of(pid: u32) -> anyhow::Result<u64> {
    memory_kib(&pid.to_string(), "VmHWM")
}

/// Resident memory of process `pid` now, in KiB (`VmRSS`; `pid` "self" for this process).
pub fn rss_kib_of(pid: &str) -> anyhow::Result<u64> {
    memory_kib(pid, "VmRSS")
}

/// The memory figure `field` (`VmRSS`, `VmHWM`, in kB) of `/proc/<pid>/status`.
fn memory_kib(pid: &str, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .with_context(|| format!("no {field} in {path}"))
}

/// The admin API's bearer token, read from the server's data directory `data_dir`
/// ([`vigil_server::ADMIN_TOKEN_FILE`], readable by the service user only).
pub fn admin_token(data_dir: &Path) -> anyhow::Result<String> {
    vigil_keys::read_token(&data_dir.join(vigil_server::ADMIN_TOKEN_FILE))
}

/// A POST of the JSON `body` (may be empty) to the admin API at `addr` with the bearer `token`,
/// returning the status and the body.
pub fn admin_post(
    addr: SocketAddr,
    token: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    http_request(
        addr,
        "POST",
        path,
        &[
            "Content-Type: application/json",
            &format!("Authorization: Bearer {token}"),
        ],
        body,
    )
}

/// A minimal HTTP/1.0 request: `method path` with `headers` (each `Name: value`) and `body`,
/// returning the status code and the response body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(40)))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
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

/// A minimal HTTP/1.0 GET, returning the body of a 200 answer.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let (status, body) = http_request(addr, "GET", path, &[], "")?;
    if status != 200 {
        bail!("GET {path}: status {status}: {body}");
    }
    Ok(body)
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
