//! The Vigil edge (`vigil edge`): collects logs where they are written, turns them into
//! normalised events with OSSIM agent plugins, and forwards them to the core.
//!
//! ```text
//! sources (source::syslog UDP/TCP/TLS, source::relp, source::file)
//!   bytes → frames (vigil-syslog) → plugin line → plugins (vigil-plugins) → event (normalize)
//!   → bounded queue (pushes back on streams and files; UDP drops are counted)
//! pipeline thread (pipeline): aggregate → edge correlation (vigil-analysis) → anonymize
//!   → bounded queue
//! output (forward::bus or forward::agent to a core, or forward::file), then file positions are
//!   saved and RELP senders are answered
//! ```
//!
//! The processing steps are pure and deterministic ([`normalize`], [`aggregate`],
//! [`anonymize`]); [`run`] wires them to sockets, files and threads, and stops in order on
//! SIGTERM or SIGINT: sources stop reading (streams first deliver what their peers already
//! sent), the pipeline drains, the output writes everything and saves file positions.

pub mod aggregate;
pub mod anonymize;
pub mod config;
pub mod forward;
pub mod intake;
pub mod metrics;
pub mod normalize;
pub mod pipeline;
pub mod plugins;
pub mod queue;
pub mod redact;
pub mod response;
pub mod source;
pub mod verbosity;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use uuid::Uuid;
use vigil_plugins::cfg::{Plugin, PluginSet};

use crate::config::{EdgeConfig, ForwardKind, SourceKind};
use crate::intake::{EdgeIdentity, SourceParser};
use crate::source::Source;

pub use config::EdgeConfig as Config;

/// File in the data directory naming the running edge's process and bound addresses (useful
/// when a port is configured as 0).
pub const RUNTIME_FILE: &str = "edge.json";

/// How long the output keeps trying to reach an unreachable core after shutdown began.
const OUTPUT_GRACE: Duration = Duration::from_secs(10);

/// Contents of [`RUNTIME_FILE`].
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Process id.
    pub pid: u32,
    /// Bound address of each syslog source, by name.
    pub sources: BTreeMap<String, SocketAddr>,
    /// Bound metrics address, when enabled.
    pub metrics: Option<SocketAddr>,
}

/// The edge's OSSIM sensor id: configured, or generated once and kept in `<data_dir>/sensor-id`.
fn sensor_id(config: &EdgeConfig) -> anyhow::Result<Uuid> {
    if let Some(id) = config.sensor.id {
        return Ok(id);
    }
    let path = config.data_dir.join("sensor-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} does not hold a UUID", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Uuid::now_v7();
            std::fs::write(&path, format!("{id}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The plugins of one source: those it names, in its order, or all.
fn source_plugins(all: &[Plugin], wanted: &[String], source: &str) -> anyhow::Result<PluginSet> {
    if wanted.is_empty() {
        return Ok(PluginSet::new(all.to_vec()));
    }
    let mut chosen = Vec::new();
    for name in wanted {
        let plugin = all.iter().find(|p| &p.name == name).ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
            anyhow::anyhow!(
                "source {source:?}: plugin {name:?} is not loaded (loaded: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })?;
        chosen.push(plugin.clone());
    }
    Ok(PluginSet::new(chosen))
}

fn write_runtime_file(data_dir: &Path, info: &RuntimeInfo) -> anyhow::Result<()> {
    Ok(vigil_store::replace_file(
        &data_dir.join(RUNTIME_FILE),
        &serde_json::to_vec_pretty(info)?,
    )?)
}

/// Edge correlation, when directives are configured: restored from the data directory. A
/// damaged `correlation/state.json` is quarantined and rebuilt from the edge's store
/// (`vigil_analysis::correlation::recover`), and counted here.
fn correlation(
    config: &EdgeConfig,
    metrics: &metrics::EdgeMetrics,
) -> anyhow::Result<Option<pipeline::EdgeCorrelation>> {
    if config.correlation.directives.is_empty() {
        return Ok(None);
    }
    let sids = Arc::new(vigil_analysis::load_sid_tables(&config.plugins.sid_tables)?);
    let taxonomy = Arc::new(vigil_analysis::correlation::taxonomy(
        &sids,
        &config.plugins.products,
    ));
    let setup = vigil_analysis::correlation::Setup::load(&config.correlation, taxonomy)?;
    let mut store = vigil_store::Store::open(&config.data_dir, &vigil_store::LogOptions::default())
        .context("cannot open the edge's store of alarms")?;
    let (analyzer, recovery) = vigil_analysis::correlation::recover(
        &config.data_dir,
        &setup,
        sids,
        &config.correlation,
        &mut store,
        &mut |_, _| {},
    )
    .context("cannot restore the edge correlation state")?;
    if recovery.damaged_state.is_some() {
        metrics.state_damaged("correlation/state.json");
    }
    info!(
        directives = setup.set.directives.len(),
        backlogs = analyzer.engine().live_backlogs(),
        "edge correlation ready"
    );
    Ok(Some(pipeline::EdgeCorrelation {
        analyzer,
        store,
        data_dir: config.data_dir.clone(),
        snapshot_interval: config.correlation.snapshot_interval,
    }))
}

/// Runs the edge until SIGTERM or SIGINT. `prometheus` renders `/metrics`.
pub async fn run(config: EdgeConfig, prometheus: PrometheusHandle) -> anyhow::Result<()> {
    // Watched from the start: a SIGTERM once the runtime file says the edge is up, but before
    // it waits for signals, must stop it cleanly, not kill it.
    let signals = [
        signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
        signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
    ];
    let data_dir = config.data_dir.clone();
    vigil_keys::private_dir(&data_dir)?;
    let passphrase = vigil_ca::passphrase(vigil_ca::KeyKind::Certificate)?;
    let own_key = |path: &std::path::Path| {
        vigil_keys::load_or_create_key(path, passphrase.as_ref(), vigil_ca::KeyKind::Certificate)
    };
    let secret_key = own_key(&data_dir.join("keys").join("secret-fingerprint.key"))?;
    let sensor_id = sensor_id(&config)?;
    let (plugins, warnings) = plugins::load(&config.plugins)?;
    for w in &warnings {
        warn!("plugin: {w}");
    }
    info!(
        plugins = plugins.len(),
        rules = plugins.iter().map(|p| p.rules().len()).sum::<usize>(),
        "plugins loaded"
    );
    let identity = Arc::new(EdgeIdentity {
        sensor: config.sensor.name.clone(),
        sensor_ip: config.sensor.address,
        hosts: config.host_map(),
        secret_key,
    });
    let anonymizer = match config.anonymize.enabled {
        false => None,
        true => {
            let key_file = config
                .anonymize
                .key_file
                .clone()
                .unwrap_or_else(|| data_dir.join("keys").join("anonymize.key"));
            let key = own_key(&key_file)?;
            Some(anonymize::Anonymizer::new(
                key,
                config.anonymize.participants.clone(),
                config.anonymize.raw_text,
            ))
        }
    };
    let edge_metrics = metrics::EdgeMetrics::register();
    let correlation = correlation(&config, &edge_metrics)?;

    let (input, input_rx) = queue::bounded::<source::Batch>(config.queue_events);
    let (output, output_rx) = queue::bounded::<pipeline::ForwardBatch>(config.forward.queue_events);
    let checkpoints = forward::Checkpoints::load(&data_dir, &edge_metrics)?;
    let verbosity = verbosity::Verbosity::new(config.sources.iter().map(|s| s.name.as_str()));
    let responses = std::sync::Arc::new(
        response::Responses::new(&config.responses).map_err(|e| anyhow::anyhow!(e))?,
    );
    // The bus output's spool is opened before the sources: RELP needs its position.
    let mut bus = match config.forward.kind {
        ForwardKind::Bus => Some(bus_target(
            &config,
            &data_dir,
            verbosity.clone(),
            responses.clone(),
        )?),
        _ => None,
    };
    let (relp, journal) = relp_resends(&config, bus.as_ref().map(|(_, spool)| spool))?;

    // Bind everything first, so a configuration mistake stops start-up with its reason.
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let connections = TaskTracker::new();
    let mut runtime_info = RuntimeInfo {
        pid: std::process::id(),
        sources: BTreeMap::new(),
        metrics: None,
    };
    for sc in &config.sources {
        let zone = vigil_syslog::zone_from_config(&sc.zone)
            .map_err(|e| anyhow::anyhow!("source {:?}: {e}", sc.name))?;
        let source = Arc::new(Source {
            config: sc.clone(),
            parser: SourceParser::new(
                &sc.name,
                source_plugins(&plugins, &sc.plugins, &sc.name)?,
                zone,
                identity.clone(),
                verbosity.switch(&sc.name),
            ),
            metrics: metrics::SourceMetrics::register(&sc.name),
            queue: input.clone(),
        });
        let listen = sc.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        match sc.kind {
            SourceKind::SyslogUdp => {
                let socket = source::syslog::bind_udp(listen, &sc.name).await?;
                runtime_info
                    .sources
                    .insert(sc.name.clone(), socket.local_addr()?);
                tasks.spawn(source::syslog::serve_udp(socket, source, shutdown.clone()));
            }
            SourceKind::SyslogTcp | SourceKind::SyslogTls | SourceKind::Relp => {
                let tls = match sc.kind {
                    SourceKind::SyslogTls => Some(
                        source::tls::acceptor(
                            sc.tls_cert.as_deref().unwrap_or(Path::new("")),
                            sc.tls_key.as_deref().unwrap_or(Path::new("")),
                            sc.tls_client_ca.as_deref(),
                        )
                        .with_context(|| format!("source {:?}: TLS", sc.name))?,
                    ),
                    _ => None,
                };
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| {
                        format!(
                            "source {:?}: cannot listen for syslog on tcp {listen}",
                            sc.name
                        )
                    })?;
                let addr = listener.local_addr()?;
                info!(source = %sc.name, %addr, tls = tls.is_some(), "syslog stream listener ready");
                runtime_info.sources.insert(sc.name.clone(), addr);
                let protocol = match (&relp, sc.kind) {
                    (Some(tails), SourceKind::Relp) => {
                        source::syslog::StreamProtocol::Relp(tails.clone())
                    }
                    _ => source::syslog::StreamProtocol::Syslog,
                };
                tasks.spawn(source::syslog::serve_stream(
                    listener,
                    tls,
                    protocol,
                    source,
                    shutdown.clone(),
                    connections.clone(),
                ));
            }
            SourceKind::File => {
                let path = sc.path.clone().unwrap_or_default();
                let tailer =
                    source::file::open(&source, checkpoints.get(&path), checkpoints.lost())
                        .with_context(|| format!("source {:?}", sc.name))?;
                tasks.spawn(source::file::follow(tailer, source, shutdown.clone()));
            }
        }
    }
    let input_control = input.control();
    drop(input);

    // The metrics endpoint stays up until the very end, so what shutdown lost can be read.
    let metrics_stop = CancellationToken::new();
    let metrics_task = match config.metrics.enabled {
        false => None,
        true => {
            let listener = tokio::net::TcpListener::bind(config.metrics.listen)
                .await
                .with_context(|| {
                    format!("cannot listen for metrics on {}", config.metrics.listen)
                })?;
            runtime_info.metrics = Some(listener.local_addr()?);
            Some(tokio::spawn(metrics::serve(
                listener,
                prometheus,
                metrics_stop.clone(),
            )))
        }
    };
    write_runtime_file(&data_dir, &runtime_info)?;

    let pipeline = pipeline::Pipeline::new(
        aggregate::Aggregator::new(config.aggregation()),
        correlation,
        anonymizer,
        edge_metrics.clone(),
    );
    let handle = tokio::runtime::Handle::current();
    let output_control = output.control();
    let pipeline_thread = std::thread::Builder::new()
        .name("vigil-edge-pipeline".into())
        .spawn({
            let (input_control, handle) = (input_control.clone(), handle.clone());
            move || pipeline::run(pipeline, input_rx, input_control, output, handle)
        })
        .context("cannot start the pipeline thread")?;
    let give_up = CancellationToken::new();
    let parts = forward::OutputParts {
        input: output_rx,
        control: output_control.clone(),
        checkpoints,
        metrics: edge_metrics.clone(),
        give_up: give_up.clone(),
        receipts: forward::Receipts::new(journal),
    };
    let mut output_task: tokio::task::JoinHandle<()> = match config.forward.kind {
        ForwardKind::Agent => {
            let target = forward::agent::AgentTarget {
                address: config.forward.address,
                sensor_id,
                reconnect_min: config.forward.reconnect_min,
                reconnect_max: config.forward.reconnect_max,
            };
            info!(core = %target.address, %sensor_id, "forwarding to the core (OSSIM agent protocol)");
            tokio::spawn(forward::agent::run(target, parts))
        }
        ForwardKind::Bus => {
            let (target, spool) = bus
                .take()
                .ok_or_else(|| anyhow::anyhow!("the bus output was not opened"))?;
            info!(cores = ?target.endpoints, sensor = %target.sensor, "forwarding over the signed event bus");
            tokio::task::spawn_blocking(move || forward::bus::run(target, spool, parts, handle))
        }
        ForwardKind::File => {
            let path = config.forward.path.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || forward::file::run(&path, parts, handle))
        }
    };
    info!(data_dir = %data_dir.display(), sensor = %config.sensor.name, "vigil edge started");

    let stopped_early = wait_for_shutdown(signals, &mut output_task).await?;
    info!("shutting down: sources stop, the pipeline drains, the output writes everything");
    shutdown.cancel();
    // Past the grace period the output stops trying, and everything still queued fails fast.
    let grace = tokio::spawn({
        let give_up = give_up.clone();
        let queues = [input_control, output_control];
        async move {
            tokio::time::sleep(OUTPUT_GRACE).await;
            warn!(grace = ?OUTPUT_GRACE, "the output did not finish in time: giving up on what is left");
            give_up.cancel();
            for queue in &queues {
                queue.close();
            }
        }
    });
    if stopped_early {
        give_up.cancel();
    }
    tasks.close();
    tasks.wait().await;
    connections.close();
    connections.wait().await;
    tokio::task::spawn_blocking(move || pipeline_thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))?;
    if !stopped_early {
        output_task.await?;
    }
    grace.abort();
    let lost = edge_metrics.lost_so_far();
    if lost > 0 {
        warn!(
            lost,
            "events could not be forwarded before the edge stopped (lines of files are read again at the next start)"
        );
    }
    metrics_stop.cancel();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Err(e) = std::fs::remove_file(data_dir.join(RUNTIME_FILE)) {
        warn!(error = %e, "cannot remove the runtime file");
    }
    if stopped_early {
        anyhow::bail!("the output stopped unexpectedly; the edge stopped");
    }
    info!("vigil edge stopped cleanly");
    Ok(())
}

/// With RELP sources: the lines senders may send again, and the journal that keeps them
/// (for the outputs that write durably: the spool, whose position is its next sequence, or
/// a file, whose position is its length).
fn relp_resends(
    config: &EdgeConfig,
    spool: Option<&vigil_spool::Spool>,
) -> anyhow::Result<(
    Option<Arc<source::relp::resend::Tails>>,
    Option<source::relp::resend::Journal>,
)> {
    if !config.sources.iter().any(|s| s.kind == SourceKind::Relp) {
        return Ok((None, None));
    }
    let tails = Arc::new(source::relp::resend::Tails::new(
        source::relp::resend::WINDOW,
    ));
    let position = match (config.forward.kind, spool) {
        (ForwardKind::Bus, Some(spool)) => Some(spool.next_sequence()),
        (ForwardKind::File, _) => {
            let path = config.forward.path.as_deref().unwrap_or(Path::new(""));
            Some(match std::fs::metadata(path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot read {}", path.display()));
                }
            })
        }
        _ => None,
    };
    let journal = position
        .map(|p| source::relp::resend::Journal::open(&config.data_dir, p, tails.clone()))
        .transpose()?;
    Ok((Some(tails), journal))
}

/// Waits for SIGTERM or SIGINT, or for the output to stop on its own (which it only does when
/// something went wrong): returns true in that case.
async fn wait_for_shutdown(
    [mut term, mut int]: [Signal; 2],
    output: &mut tokio::task::JoinHandle<()>,
) -> anyhow::Result<bool> {
    Ok(tokio::select! {
        _ = term.recv() => { info!("SIGTERM received"); false }
        _ = int.recv() => { info!("SIGINT received"); false }
        r = output => {
            tracing::error!(outcome = ?r, "the output stopped unexpectedly");
            true
        }
    })
}

/// The bus output's TLS identity, signer and spool (`<data_dir>/spool`).
fn bus_target(
    config: &EdgeConfig,
    data_dir: &std::path::Path,
    verbosity: verbosity::Verbosity,
    responses: std::sync::Arc<response::Responses>,
) -> anyhow::Result<(forward::bus::BusTarget, vigil_spool::Spool)> {
    let bus = &config.forward.bus;
    let passphrase = vigil_ca::passphrase(vigil_ca::KeyKind::Certificate)?;
    let identity = vigil_ca::TlsIdentity::load(
        &bus.cert,
        &bus.key,
        &bus.ca,
        bus.crl.as_deref(),
        passphrase.as_ref().map(vigil_ca::Passphrase::as_str),
    )
    .context("cannot load the edge's bus identity (forward.bus.cert/key/ca)")?;
    if !vigil_ca::is_encrypted(&bus.key)? {
        warn!(
            file = %bus.key.display(),
            "the bus key is stored in clear: configure {} and run `vigil ca encrypt-key {}`; see \"Production checklist\" in docs/operations.md",
            vigil_ca::KeyKind::Certificate.sources(),
            bus.key.display()
        );
    }
    let name = identity
        .certs
        .first()
        .map(vigil_ca::peer_name)
        .transpose()?
        .unwrap_or_default();
    if name != config.sensor.name {
        anyhow::bail!(
            "sensor.name is {:?} but the bus certificate {} is for {name:?}; they must be the same",
            config.sensor.name,
            bus.cert.display()
        );
    }
    let signer = std::sync::Arc::new(identity.signer()?);
    let tls = vigil_ca::client_config(&identity)?;
    let spool_dir = data_dir.join("spool");
    let spool = vigil_spool::Spool::open(
        &spool_dir,
        vigil_spool::SpoolOptions {
            max_bytes: bus.spool_max_mib << 20,
            // Drop-oldest drops whole segments: at most an eighth of the spool at a time.
            segment_bytes: (bus.spool_max_mib << 17).min(64 << 20),
            overflow: bus.spool_overflow,
            ..vigil_spool::SpoolOptions::default()
        },
    )
    .with_context(|| format!("cannot open the spool {}", spool_dir.display()))?;
    let stats = spool.stats();
    info!(
        unacknowledged = stats.records_unacked,
        next_sequence = stats.next_sequence,
        "spool open"
    );
    let target = forward::bus::BusTarget {
        sensor: config.sensor.name.clone(),
        endpoints: bus.endpoints.clone(),
        server_name: bus.server_name.clone(),
        copies: match bus.copies {
            0 => bus.endpoints.len(),
            k => k,
        },
        tls,
        signer,
        batch_events: bus.batch_events,
        in_flight: bus.in_flight_batches,
        heartbeat: bus.heartbeat,
        reconnect_min: config.forward.reconnect_min,
        reconnect_max: config.forward.reconnect_max,
        verbosity,
        responses,
    };
    Ok((target, spool))
}
