//! The Vigil core server (`vigil server`).
//!
//! Data flow today: agent sessions ([`intake::agent`]) parse OSSIM `event` lines and queue
//! them; the store writer ([`writer`]) qualifies and correlates each in order ([`analysis`]:
//! sid tables, policies, risk, directives) and makes it durable with the directive events and
//! alarms it caused, in group commits; `vigil_analysis::correlation` loads the directives, assets and
//! policies and keeps the engine's state across restarts. [`metrics`] serves Prometheus metrics. [`run`] wires it all,
//! and stops in order on SIGTERM or SIGINT: stop accepting, end sessions, store everything
//! queued, sync, exit.

pub mod admin;
pub mod bus;
pub mod clock;
pub mod config;
pub mod console;
pub mod host_levels;
pub mod http;
pub mod intake;
pub mod listen;
pub mod metrics;
pub mod sensors;
pub mod writer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use vigil_event::Timestamp;
use vigil_store::{ClockCheck, Corruption, Store};

pub use config::Config;
use vigil_analysis::correlation;
pub use vigil_analysis::load_sid_tables;

/// File in the data directory naming the running server's process and bound addresses
/// (useful when a port is configured as 0).
pub const RUNTIME_FILE: &str = "server.json";

/// File in the data directory holding the admin API's bearer token (mode 0600, created at the
/// first start; see [`admin`]).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Contents of [`RUNTIME_FILE`].
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Process id.
    pub pid: u32,
    /// Bound agent protocol address, when enabled.
    pub agent: Option<SocketAddr>,
    /// Bound bus addresses (empty when the bus is disabled).
    #[serde(default)]
    pub bus: Vec<SocketAddr>,
    /// Bound metrics address, when enabled.
    pub metrics: Option<SocketAddr>,
    /// Bound console address (HTTPS), when enabled.
    #[serde(default)]
    pub console: Option<SocketAddr>,
}

/// How long sessions get to finish after shutdown begins.
const SESSION_DRAIN: Duration = Duration::from_secs(10);

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))
}

fn write_runtime_file(data_dir: &Path, info: &RuntimeInfo) -> anyhow::Result<()> {
    Ok(vigil_store::replace_file(
        &data_dir.join(RUNTIME_FILE),
        &serde_json::to_vec_pretty(info)?,
    )?)
}

/// Counts each damaged range the store found at open and stores an event and an alarm naming
/// the segment and the byte range.
async fn report_corruption(
    corruption: &[Corruption],
    reporter: &bus::report::Reporter,
    metrics: &metrics::Metrics,
) {
    for found in corruption {
        metrics.store_corruption.increment(1);
        let lost = match found.records_lost {
            Some(n) => format!("{n} record(s) lost"),
            None => "an unknown number of records lost".to_string(),
        };
        let kept = match &found.quarantine {
            Some(path) => format!("quarantined in {}", path.display()),
            None => "not quarantined".to_string(),
        };
        // No record lost: an index or a state file, derived data rebuilt from the segments.
        let after = match found.records_lost {
            Some(0) => "rebuilt from the store",
            _ => "the records after them are kept",
        };
        let detail = format!(
            "{} bytes {}..{} damaged, {lost}, {kept}; {after}",
            found.segment.display(),
            found.from,
            found.to
        );
        let segment = found.segment.display().to_string();
        reporter
            .report(
                bus::report::BusIncident::StoreCorruption,
                &segment,
                None,
                detail,
                None,
            )
            .await;
    }
}

/// Raises an alarm when the core's clock disagrees with the newest receive time in the event
/// log: behind it, or so far ahead that trusting it would have expired much of the store.
async fn report_clock(
    check: ClockCheck,
    config: &Config,
    reporter: &bus::report::Reporter,
    metrics: &metrics::Metrics,
) {
    let detail = match check {
        ClockCheck::Consistent => return,
        ClockCheck::Behind { newest, by } => format!(
            "the clock is {} behind the newest stored event (received {newest}); this run dates what the core creates from the stored history plus the time since start, and age retention goes by the clock (which deletes less)",
            clock::format_minutes(by)
        ),
        ClockCheck::Ahead {
            newest,
            by,
            segments,
        } => format!(
            "the clock is {} ahead of the newest stored event (received {newest}): trusted, it would have expired {segments} segment(s) at once; this run's age retention goes by the stored history plus the time since start instead",
            clock::format_minutes(by)
        ),
    };
    warn!(%detail, "core clock disagrees with the store's history");
    metrics.clock_alarms.increment(1);
    let events = config.data_dir.join("events").display().to_string();
    reporter
        .report(
            bus::report::BusIncident::StoreClock,
            &events,
            None,
            detail,
            None,
        )
        .await;
}

/// Runs the server until SIGTERM or SIGINT. `prometheus` renders `/metrics`.
pub async fn run(config: Config, prometheus: PrometheusHandle) -> anyhow::Result<()> {
    let mut config = config;
    config.correlation.disabled_directives = console::directives::disabled(&config.data_dir);
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        warn!(error = %e, "cannot raise the open-file limit; fewer agent sessions fit");
    }
    // Watched from the start: a SIGTERM once the runtime file says the server is up, but before
    // it waits for signals, must stop it cleanly, not kill it.
    let signals = [
        signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
        signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
        signal(SignalKind::hangup()).context("cannot watch SIGHUP")?,
    ];
    let data_dir = &config.data_dir;
    vigil_keys::private_dir(data_dir)?;
    let admin_token = vigil_keys::load_or_create_token(&data_dir.join(ADMIN_TOKEN_FILE))?;
    if config.metrics.enabled && !config.metrics.listen.ip().is_loopback() {
        warn!(
            listen = %config.metrics.listen,
            "the admin endpoint listens beyond loopback (metrics.allow_remote): plain HTTP, so its bearer token and metrics cross the network in clear"
        );
    }
    let secret_key = vigil_keys::load_or_create_key(
        &data_dir.join("keys").join("secret-fingerprint.key"),
        vigil_ca::own_passphrase()?.as_ref(),
        vigil_ca::KeyKind::Ca,
    )?;
    let sids = Arc::new(load_sid_tables(&config.plugins.sid_tables)?);
    let taxonomy = Arc::new(correlation::taxonomy(&sids, &config.plugins.products));
    let setup = correlation::Setup::load(&config.correlation, taxonomy.clone())?;
    let mut store =
        Store::open(data_dir, &config.log_options()).context("cannot open the store")?;
    // The sequence book is brought up to date in the same pass over the store's tail.
    let (mut book, mut book_from, book_damage) =
        bus::state::load(data_dir).context("cannot restore the bus sequence book")?;
    if book_from > store.events.next_record() {
        // Ahead of the store (a damaged or replaced store): it may name events the store no
        // longer has, whose batches would then be skipped as duplicates. Rebuild it whole.
        warn!(
            saved = book_from,
            store = store.events.next_record(),
            "the bus sequence book is ahead of the store; rebuilding it from the store"
        );
        (book, book_from) = (vigil_bus::SequenceBook::default(), 0);
    }
    let (analyzer, recovery) = correlation::recover(
        data_dir,
        &setup,
        sids,
        &config.correlation,
        &mut store,
        &mut |n, event| {
            if n >= book_from {
                bus::state::record(&mut book, event);
            }
        },
    )
    .context("cannot restore the correlation state")?;
    if book_from < recovery.read_from {
        bus::state::catch_up(&mut book, &store, book_from, recovery.read_from)
            .context("cannot restore the bus sequence book")?;
    }
    info!(
        directives = setup.set.directives.len(),
        policies = setup.policies.len(),
        backlogs = analyzer.engine().live_backlogs(),
        replayed = recovery.replayed,
        restored_outputs = recovery.restored_outputs,
        dropped_backlogs = recovery.dropped_backlogs,
        "correlation ready"
    );
    info!(sensors = book.iter().count(), "bus sequence book ready");
    let book = Arc::new(std::sync::Mutex::new(book));
    let bus_tls = match config.bus.enabled {
        true => Some(bus::identity::ServerTls::load(
            bus::identity::identity_files(&config.bus, data_dir)?,
        )?),
        false => None,
    };
    let metrics = metrics::Metrics::register();
    if let Some(tls) = &bus_tls {
        metrics.keys_in_clear.set(tls.clear_keys().len() as f64);
    }

    let agent_listener = match config.agent.enabled {
        true => Some(bind(config.agent.listen, "OSSIM agents").await?),
        false => None,
    };
    let mut bus_listeners = Vec::new();
    if config.bus.enabled {
        for addr in &config.bus.listen {
            bus_listeners.push(bind(*addr, "the event bus").await?);
        }
    }
    let metrics_listener = match config.metrics.enabled {
        true => Some(bind(config.metrics.listen, "metrics").await?),
        false => None,
    };
    let console = match config.console.enabled {
        true => {
            let (cert, key) = console::tls::files(&config.console, &config.bus, data_dir)?;
            let tls = console::tls::server_config(&cert, &key, config.console.allow_tls12)?;
            Some((bind(config.console.listen, "the console").await?, tls))
        }
        false => None,
    };
    let runtime_info = RuntimeInfo {
        console: console
            .as_ref()
            .map(|(listener, ..)| listener.local_addr())
            .transpose()?,
        pid: std::process::id(),
        agent: agent_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?,
        metrics: metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?,
        bus: bus_listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<Result<_, _>>()?,
    };
    write_runtime_file(data_dir, &runtime_info)?;

    // The console's alarm book and audit log, loaded before the writer adds alarms.
    let console_state = match config.console.enabled {
        true => Some(console::open_state(
            data_dir,
            &config.log_options(),
            &store,
        )?),
        false => None,
    };
    let mut corruption: Vec<Corruption> =
        [store.events.corruption(), store.alarms.corruption()].concat();
    corruption.extend(console_state.iter().flat_map(|s| s.corruption.clone()));
    // Damaged state files, quarantined and rebuilt from the store.
    corruption.extend(
        book_damage
            .into_iter()
            .chain(recovery.damaged_state.clone()),
    );
    let wall = Timestamp::now();
    let check = store.events.check_clock(wall);
    let clock = Arc::new(clock::CoreClock::start(wall, check));
    let host_levels = Arc::new(host_levels::HostLevels::default());
    let agent_sensors = Arc::new(sensors::AgentSensors::default());
    let (queue, reloads, stop_writer, writer) = writer::spawn(
        writer::WriterSetup {
            store,
            analyzer,
            data_dir: data_dir.clone(),
            snapshot_interval: config.correlation.snapshot_interval,
            queue_capacity: config.store.queue_events,
            batch_max: config.store.batch_max_events,
            correlation: config.correlation.clone(),
            taxonomy,
            book: book.clone(),
            clock: clock.clone(),
            retention_interval: config.store.retention_interval,
            host_levels: host_levels.clone(),
            alarm_feed: console_state.as_ref().map(|s| s.feed.clone()),
        },
        metrics.clone(),
        tokio::runtime::Handle::current(),
    )?;
    let reporter = bus::report::Reporter::new(
        config.bus.name.clone(),
        queue.clone(),
        metrics.clone(),
        clock.clone(),
    );
    report_corruption(&corruption, &reporter, &metrics).await;
    report_clock(check, &config, &reporter, &metrics).await;
    let shutdown = CancellationToken::new();
    let sessions = TaskTracker::new();
    let mut tasks = Vec::new();
    let watch = clock::watch(
        clock.clone(),
        reporter,
        metrics.clone(),
        config.bus.name.clone(),
        config.bus.max_clock_skew,
        shutdown.clone(),
    );
    tasks.push(tokio::spawn(async move {
        watch.await;
        Ok(())
    }));
    let bus_shared = match bus_tls {
        Some(tls) => Some(Arc::new(bus::BusShared::new(
            config.bus.clone(),
            tls,
            book.clone(),
            queue.clone(),
            metrics.clone(),
            clock.clone(),
        )?)),
        None => None,
    };
    if let Some(shared) = &bus_shared {
        for listener in bus_listeners {
            info!(addr = ?listener.local_addr().ok(), "event bus listener ready (TLS 1.3, client certificates)");
            let serve = bus::serve(shared.clone(), listener, shutdown.clone(), sessions.clone());
            tasks.push(tokio::spawn(async move {
                serve.await;
                Ok(())
            }));
        }
        let monitor = bus::monitor::run(shared.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            monitor.await;
            Ok(())
        }));
        let revocations = bus::revocation::watch(shared.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            revocations.await;
            Ok(())
        }));
    }
    if let Some(listener) = metrics_listener {
        tasks.push(tokio::spawn(admin::serve(
            listener,
            prometheus,
            reloads.clone(),
            bus_shared.clone(),
            admin::AdminGuard::new(&admin_token, metrics.clone()),
            shutdown.clone(),
        )));
    }
    if let (Some((listener, tls)), Some(opened)) = (console, console_state) {
        let links = console::CoreLinks {
            config: Arc::new(config.clone()),
            reloads: reloads.clone(),
            bus: bus_shared.clone(),
            book: book.clone(),
            host_levels: host_levels.clone(),
            agents: agent_sensors.clone(),
            alarms: opened.alarms,
            audit: Arc::new(console::audit::AuditLog::new(opened.audit, secret_key)),
        };
        // Ends when the writer stops (not one of `tasks`, which end before it).
        tokio::spawn(console::feed_alarms(links.alarms.clone(), opened.fed));
        let state = Arc::new(console::Console::new(&config.console, links)?);
        tasks.push(tokio::spawn(console::serve(
            listener,
            tls,
            state,
            shutdown.clone(),
        )));
    }
    if let Some(listener) = agent_listener {
        let intake = Arc::new(intake::agent::AgentIntake::new(
            config.agent.clone(),
            metrics.clone(),
            queue.clone(),
            secret_key,
            clock.clone(),
            agent_sensors.clone(),
        ));
        info!(addr = ?runtime_info.agent, "OSSIM agent listener ready");
        let serve = intake.serve(listener, shutdown.clone(), sessions.clone());
        tasks.push(tokio::spawn(async move {
            serve.await;
            Ok(())
        }));
    }
    drop(queue);
    info!(data_dir = %data_dir.display(), "vigil server started");

    wait_for_shutdown(signals, &reloads).await?;
    info!("shutting down: closing listeners and sessions, storing everything queued");
    shutdown.cancel();
    for task in tasks {
        match task.await {
            Ok(Err(e)) => warn!(error = %e, "a listener stopped with an error"),
            Err(e) => warn!(error = %e, "a listener task failed"),
            Ok(Ok(())) => {}
        }
    }
    sessions.close();
    if tokio::time::timeout(SESSION_DRAIN, sessions.wait())
        .await
        .is_err()
    {
        warn!("some agent sessions did not end in time; they are abandoned");
    }
    // Whatever is queued is stored; sessions still stuck (an agent not reading its replies)
    // no longer keep the writer waiting.
    drop(bus_shared);
    stop_writer.stop();
    let store = tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the store writer thread panicked"))?;
    let stats = store.events.stats();
    drop(store);
    if let Err(e) = std::fs::remove_file(data_dir.join(RUNTIME_FILE)) {
        warn!(error = %e, "cannot remove the runtime file");
    }
    info!(events = stats.records, "vigil server stopped cleanly");
    Ok(())
}

/// Waits for SIGTERM or SIGINT; SIGHUP reloads the correlation rules meanwhile.
async fn wait_for_shutdown(
    [mut term, mut int, mut hup]: [Signal; 3],
    reloads: &tokio::sync::mpsc::UnboundedSender<writer::ReloadRequest>,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            _ = term.recv() => {
                info!("SIGTERM received");
                return Ok(());
            }
            _ = int.recv() => {
                info!("SIGINT received");
                return Ok(());
            }
            _ = hup.recv() => {
                info!("SIGHUP received: reloading the correlation rules");
                // The writer logs the outcome; a failed reload keeps the running rules. Not
                // awaited here, so a slow reload never delays SIGTERM.
                let reloads = reloads.clone();
                tokio::spawn(async move { admin::request_reload(&reloads).await });
            }
        }
    }
}
