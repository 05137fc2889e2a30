//! `vigil`: the single binary of the Vigil SIEM.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use vigil::log_limit::RepeatLimit;
use vigil::search::Target;
use vigil::time_arg::parse_time;
use vigil_event::Timestamp;
use vigil_server::Config;
use vigil_server::config::LogConfig;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Vigil: a resilient, intrusion-tolerant SIEM"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the core: signed event bus and OSSIM agent intake, qualification and correlation,
    /// durable store, metrics and the admin API.
    #[command(after_long_help = config_help())]
    Server(ProcessArgs),
    /// Run an edge: collect syslog and log files, normalise them with OSSIM plugins, aggregate,
    /// anonymise, correlate site-locally, forward to the core.
    #[command(after_long_help = edge_config_help())]
    Edge(ProcessArgs),
    /// Search stored events (or alarms) and print them as JSON lines, newest first.
    Search(SearchArgs),
    /// Replay raw logs, OSSIM agent `event` lines or a server's stored events through the production analysis; print alarms as JSON lines.
    #[command(after_long_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// Validate directive (.xml or directory), policy (.toml), agent plugin (.cfg) and sid-table (.sql) files.
    Check(CheckArgs),
    /// Manage the event bus's private CA: init, issue sensor and core certificates, revoke.
    #[command(subcommand)]
    Ca(vigil::ca_command::CaCommand),
    /// Send a signed command to a connected edge through the core's admin endpoint.
    Command(CommandArgs),
    /// Reload the running core's correlation rules through its admin endpoint.
    Reload(AdminArgs),
    /// Manage the console's accounts in the core's data directory: add, list, passwd,
    /// disable, enable, remove.
    User(vigil::user_command::UserArgs),
    /// Manage the API tokens scripts use (`Authorization: Bearer`): create, list, revoke.
    Token(vigil::user_command::TokenArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// The data directory holding the accounts: `--data-dir`, else that of `--config`, else the
/// default.
fn accounts_dir(dir: vigil::user_command::AccountsDir) -> anyhow::Result<PathBuf> {
    let config = load_config(dir.config.as_ref())?;
    Ok(dir.data_dir.unwrap_or(config.data_dir))
}

/// How to reach the core's admin API: its address, and the data directory holding its token
/// (readable by the user the server runs as only).
#[derive(clap::Args)]
struct AdminArgs {
    /// The core's admin endpoint (default: metrics.listen of --config, else 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    admin: Option<std::net::SocketAddr>,
    /// The core's data directory, whose admin.token authorises the request (default: data_dir
    /// of --config, else ./vigil-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The core's configuration file, for its metrics.listen and data_dir.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl AdminArgs {
    /// The admin endpoint's address and the bearer token.
    fn resolve(self) -> anyhow::Result<(std::net::SocketAddr, String)> {
        let config = load_config(self.config.as_ref())?;
        let token = vigil::process::admin_token(&self.data_dir.unwrap_or(config.data_dir))?;
        Ok((self.admin.unwrap_or(config.metrics.listen), token))
    }
}

#[derive(Parser)]
struct CommandArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// The sensor (edge) name.
    #[arg(long)]
    sensor: String,
    #[command(subcommand)]
    action: vigil::ca_command::EdgeAction,
}

const REPLAY_HELP: &str = "\
Examples:
  Raw logs, with the built-in plugins:
    vigil replay --directives /etc/vigil/directives --sid-tables /usr/share/ossim/plugins-sql /var/log/auth.log
  What the server raised over everything it stored (the same alarms, ids included):
    vigil replay --store /var/lib/vigil --directives /etc/vigil/directives --sid-tables /usr/share/ossim/plugins-sql
  A new directive tried on last week's events:
    vigil replay --store /var/lib/vigil --from 7d --directives new-directive.xml --sid-tables /usr/share/ossim/plugins-sql

--store reads the data directory read-only (the server may be running) and feeds the engine only
what the server fed it, as stored: legacy agents' events are correlated on their receive time,
bus events on the edge's stamp. A --from/--to range starts with empty correlation state, so an
alarm whose backlog began before --from differs from (or is missing against) the server's; a
whole store gives exactly the server's alarms, unless the server's rules were reloaded meanwhile.";

fn config_help() -> String {
    let defaults = Config::default();
    let cert = defaults.data_dir.join("keys").join("console.crt");
    let fingerprint = match vigil_server::console::tls::file_fingerprint(&cert) {
        Ok(sha256) => format!("its SHA-256 fingerprint: {sha256}"),
        Err(_) => "not issued yet: the first start issues it and logs its fingerprint".to_string(),
    };
    format!(
        "Configuration (--config FILE, TOML). Every key is optional; these are the defaults:\n\n{}\n\
         The console (https://{}) presents {} unless console.cert and console.key are set,\n\
         issued at the first start by a single-use CA whose certificate, {}, is what a browser\n\
         is told to trust; {fingerprint}.",
        defaults.to_toml(),
        defaults.console.listen,
        cert.display(),
        defaults
            .data_dir
            .join("keys")
            .join("console-ca.pem")
            .display(),
    )
}

fn edge_config_help() -> String {
    format!(
        "Configuration (--config FILE, TOML). Every key is optional; these are the defaults (add [[source]] tables for more sources, files, TLS):\n\n{}",
        vigil_edge::Config::default().to_toml()
    )
}

/// The arguments of a long-running process (`server`, `edge`).
#[derive(Parser)]
struct ProcessArgs {
    /// TOML configuration file; keys it does not set keep their defaults (see below).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` of the configuration).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Log format on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Parser)]
struct SearchArgs {
    /// Earliest event time: RFC 3339, 'YYYY-MM-DD HH:MM:SS' (UTC), epoch seconds, 'now' or an age (15m, 2h, 7d).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Latest event time, same forms as --from.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Source address.
    #[arg(long, value_name = "IP")]
    src_ip: Option<IpAddr>,
    /// Destination address.
    #[arg(long, value_name = "IP")]
    dst_ip: Option<IpAddr>,
    /// Plugin id (directive id with --alarms).
    #[arg(long, value_name = "N")]
    plugin_id: Option<u32>,
    /// Plugin sid.
    #[arg(long, value_name = "N")]
    plugin_sid: Option<u32>,
    /// Sensor name.
    #[arg(long, value_name = "NAME")]
    sensor: Option<String>,
    /// Most results to print.
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: usize,
    /// Print the oldest first instead of the newest first.
    #[arg(long)]
    oldest_first: bool,
    /// Search alarms instead of events: the latest revision of each alarm any of whose
    /// revisions match (--plugin-sid and --sensor do not apply: the alarm log indexes neither).
    #[arg(long)]
    alarms: bool,
    /// Print every revision of each alarm (with --alarms or --id), oldest revision first for --id.
    #[arg(long)]
    revisions: bool,
    /// Print the event or the alarm (its latest revision; every one with --revisions) with this
    /// id. Ids are not indexed: this reads the alarm log and then the event log in full, or only
    /// the segments that meet --from/--to.
    #[arg(long, value_name = "ID", conflicts_with_all = ["alarms", "src_ip", "dst_ip", "plugin_id", "plugin_sid", "sensor", "limit", "oldest_first"])]
    id: Option<vigil_event::Uuid>,
    /// Data directory to read (default: the configuration's, else ./vigil-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file whose data_dir to read.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Parser)]
struct ReplayArgs {
    /// A `vigil server` configuration file: its [correlation] (directives, assets, policies,
    /// inventory, references, caps, time bounds) and [plugins] (sid tables, products) are the
    /// rules, as the server runs them; the options below replace what they name.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directive files or directories (repeatable).
    #[arg(long, value_name = "PATH")]
    directives: Vec<PathBuf>,
    /// Policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Asset inventory file (TOML).
    #[arg(long, value_name = "FILE")]
    assets: Option<PathBuf>,
    /// Plugin SQL sid tables, files or directories (repeatable).
    #[arg(long, value_name = "PATH")]
    sid_tables: Vec<PathBuf>,
    /// Host inventory for cross-correlation (TOML).
    #[arg(long, value_name = "FILE")]
    inventory: Option<PathBuf>,
    /// plugin_reference SQL files or directories for cross-correlation (repeatable).
    #[arg(long, value_name = "PATH")]
    references: Vec<PathBuf>,
    /// Also print every event (qualified, and each directive event).
    #[arg(long)]
    events: bool,
    /// Parse raw logs with these OSSIM agent plugin .cfg files or directories (repeatable, tried
    /// in order) instead of the built-in plugins; every file is then a raw log.
    #[arg(long, value_name = "PATH")]
    plugins: Vec<PathBuf>,
    /// Directory with the agent's aliases.cfg and config.cfg (regexp aliases such as \IPV4).
    #[arg(long, value_name = "DIR")]
    agent_config: Option<PathBuf>,
    /// Host names in logs and their addresses: a TOML file with a [hosts] table (an edge
    /// configuration file, or just that table), resolved as the edge resolves them.
    #[arg(long, value_name = "FILE")]
    hosts: Option<PathBuf>,
    /// Year of log dates that carry none, at the start of each file (default: the current
    /// year); a log going from December to January rolls into the next year.
    #[arg(long)]
    year: Option<i32>,
    /// Replay the events stored in this `vigil server` data directory (its events log, read-only,
    /// in the order the server analysed them) instead of files.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["files", "plugins", "agent_config", "hosts", "year"])]
    store: Option<PathBuf>,
    /// With --store: earliest event time: RFC 3339, 'YYYY-MM-DD HH:MM:SS' (UTC), epoch seconds,
    /// 'now' or an age (15m, 2h, 7d). Correlation starts empty there.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// With --store: latest event time, same forms as --from.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// At the end of the input, advance the engine's clock to this time (same forms as --from):
    /// absence (`not`) levels still waiting fire and backlogs expire, as they would once event
    /// time passed it.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Log files. A file whose first non-blank line is an OSSIM agent line (`event ...`,
    /// `connect ...`) is read as agent lines; any other file is a raw log (syslog, auth.log, ...),
    /// parsed by the built-in plugins as `vigil edge` does, or by --plugins.
    #[arg(required_unless_present = "store", value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Parser)]
struct CheckArgs {
    /// Asset inventory to resolve names used by policies.
    #[arg(long, value_name = "FILE")]
    assets: Option<PathBuf>,
    /// Directory with the agent's aliases.cfg and config.cfg, for plugin files.
    #[arg(long, value_name = "DIR")]
    agent_config: Option<PathBuf>,
    /// Files or directories to check.
    #[arg(required = true, value_name = "PATH")]
    files: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The correlation engine alone, on one core, with a directive set loaded.
    Correlate {
        /// Directive files or directories (the OSSIM 5.4 set for the reported figures).
        #[arg(long, value_name = "PATH", required = true)]
        directives: Vec<PathBuf>,
        /// Events per run.
        #[arg(long, default_value_t = 2_000_000)]
        events: usize,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Live backlogs for the memory measurement.
        #[arg(long, default_value_t = 100_000)]
        backlogs: usize,
    },
    /// OSSIM plugin parsing on one core, over the lines of log files.
    Parse {
        /// Plugin .cfg files or directories (repeatable).
        #[arg(long, value_name = "PATH", required = true)]
        plugins: Vec<PathBuf>,
        /// Directory with the agent's aliases.cfg and config.cfg.
        #[arg(long, value_name = "DIR")]
        agent_config: Option<PathBuf>,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Log files whose lines are parsed.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Syslog over TCP into a real edge, to normalised events; optionally rsyslogd side by side.
    Edge {
        #[command(flatten)]
        load: vigil::bench::edge::SyslogLoad,
        /// Messages per run.
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Also measure rsyslogd (must be installed) receiving the same load into a file.
        #[arg(long)]
        rsyslog: bool,
    },
    /// Edge to core over the signed event bus (mutual TLS, signed batches, durable acks):
    /// throughput to storage, then the latency the bus adds at a steady rate.
    Bus {
        #[command(flatten)]
        load: vigil::bench::edge::SyslogLoad,
        /// Messages per throughput run.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Messages per second of the latency runs.
        #[arg(long, default_value_t = 75_000)]
        rate: u64,
        /// Seconds of each latency run.
        #[arg(long, default_value_t = 10)]
        latency_seconds: u64,
    },
    /// The console API over stored alarms (list latency), and agent intake with live-stream
    /// clients connected versus none.
    Console {
        /// Alarms stored before the server starts.
        #[arg(long, default_value_t = 100_000)]
        alarms: u64,
        /// Measurements of each query.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Events per intake run.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Intake runs with and without stream clients (each; alternated).
        #[arg(long, default_value_t = 5)]
        intake_runs: usize,
        /// Live-stream clients during the loaded intake runs.
        #[arg(long, default_value_t = 50)]
        stream_clients: usize,
        /// Directive files or directories the server loads.
        #[arg(long, value_name = "PATH")]
        directives: Vec<PathBuf>,
        /// Plugin SQL sid tables the server loads.
        #[arg(long, value_name = "PATH")]
        sid_tables: Vec<PathBuf>,
    },
    /// Agent intake to durable store: a real server fed by concurrent agent sessions on loopback.
    Intake {
        /// Concurrent agent sessions.
        #[arg(long, default_value_t = 100)]
        connections: u32,
        /// Events sent by each session.
        #[arg(long, default_value_t = 20_000)]
        events_per_connection: u64,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Directive files or directories the server loads (repeatable).
        #[arg(long, value_name = "PATH")]
        directives: Vec<PathBuf>,
        /// Plugin SQL sid tables the server loads (repeatable).
        #[arg(long, value_name = "PATH")]
        sid_tables: Vec<PathBuf>,
    },
}

fn init_logging(format: LogFormat, log: &LogConfig) {
    init_logging_at(format, "info", log);
}

/// Logs to standard error at `default_level` unless RUST_LOG says otherwise, each statement at
/// most `log.repeat_limit` lines per `log.repeat_interval` ([`RepeatLimit`]).
fn init_logging_at(format: LogFormat, default_level: &str, log: &LogConfig) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let output = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let output = match format {
        LogFormat::Text => output.boxed(),
        LogFormat::Json => output.json().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(RepeatLimit::new(log.repeat_limit, log.repeat_interval))
        .with(output)
        .init();
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    match path {
        Some(path) => <Config as ProcessConfig>::load(path),
        None => Ok(Config::default()),
    }
}

/// What `run_process` needs of a process's configuration.
trait ProcessConfig: Default {
    fn load(path: &std::path::Path) -> anyhow::Result<Self>;
    fn set_data_dir(&mut self, dir: PathBuf);
    fn to_toml(&self) -> String;
    /// How the process log limits repeated lines.
    fn log(&self) -> LogConfig {
        LogConfig::default()
    }
}

impl ProcessConfig for Config {
    fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        Ok(Config::load(path)?)
    }
    fn set_data_dir(&mut self, dir: PathBuf) {
        self.data_dir = dir;
    }
    fn to_toml(&self) -> String {
        Config::to_toml(self)
    }
    fn log(&self) -> LogConfig {
        self.log.clone()
    }
}

impl ProcessConfig for vigil_edge::Config {
    fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        Ok(vigil_edge::Config::load(path)?)
    }
    fn set_data_dir(&mut self, dir: PathBuf) {
        self.data_dir = dir;
    }
    fn to_toml(&self) -> String {
        vigil_edge::Config::to_toml(self)
    }
}

/// Loads the configuration (or prints it), then runs the process on a multi-threaded runtime
/// with logging and the Prometheus recorder installed.
fn run_process<C: ProcessConfig, F: std::future::Future<Output = anyhow::Result<()>>>(
    args: ProcessArgs,
    run: impl FnOnce(C, metrics_exporter_prometheus::PrometheusHandle) -> F,
) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => C::load(path)?,
        None => C::default(),
    };
    if let Some(dir) = args.data_dir {
        config.set_data_dir(dir);
    }
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(());
    }
    init_logging(args.log_format, &config.log());
    let prometheus = vigil_server::metrics::install_recorder()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(config, prometheus))
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader of our output went away (`vigil search ... | head`): nothing more to say.
        Err(e)
            if e.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vigil: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Commands::Server(args) => run_process::<Config, _>(args, vigil_server::run),
        Commands::Edge(args) => run_process::<vigil_edge::Config, _>(args, vigil_edge::run),
        Commands::Search(args) => {
            let config = load_config(args.config.as_ref())?;
            let data_dir = args.data_dir.unwrap_or(config.data_dir);
            let now = Timestamp::now();
            let time = |arg: Option<String>, default| {
                arg.map_or(Ok(default), |t| {
                    parse_time(&t, now).map_err(anyhow::Error::msg)
                })
            };
            let query = vigil::search::query(
                time(args.from, Timestamp::MIN).context("--from")?,
                time(args.to, Timestamp::MAX).context("--to")?,
                args.src_ip,
                args.dst_ip,
                args.plugin_id,
                args.plugin_sid,
                args.sensor,
                args.limit,
                args.oldest_first,
            );
            let target = match (args.id, args.alarms) {
                (Some(id), _) => Target::Id {
                    id,
                    revisions: args.revisions,
                },
                (None, true) => Target::Alarms {
                    revisions: args.revisions,
                },
                (None, false) if args.revisions => {
                    anyhow::bail!("--revisions needs --alarms or --id")
                }
                (None, false) => Target::Events,
            };
            let stdout = std::io::stdout();
            vigil::search::run(&data_dir, target, &query, &mut stdout.lock())?;
            Ok(())
        }
        Commands::Replay(args) => {
            init_logging_at(LogFormat::Text, "warn", &LogConfig::default());
            let now = Timestamp::now();
            let time = |arg: &Option<String>, name: &str| {
                arg.as_deref()
                    .map(|t| parse_time(t, now).map_err(anyhow::Error::msg))
                    .transpose()
                    .with_context(|| name.to_owned())
            };
            let source = match args.store {
                Some(dir) => vigil::replay::Source::Store {
                    dir,
                    from: time(&args.from, "--from")?.unwrap_or(Timestamp::MIN),
                    to: time(&args.to, "--to")?.unwrap_or(Timestamp::MAX),
                },
                // (clap's `requires` is not enforced against FILE, which --store conflicts with)
                None if args.from.is_some() || args.to.is_some() => {
                    anyhow::bail!("--from and --to select stored events: they need --store DIR")
                }
                None => vigil::replay::Source::Files(args.files),
            };
            let options = vigil::replay::ReplayOptions {
                server_config: args.config,
                directives: args.directives,
                policy: args.policy,
                assets: args.assets,
                sid_tables: args.sid_tables,
                inventory: args.inventory,
                references: args.references,
                events: args.events,
                plugins: args.plugins,
                agent_config: args.agent_config,
                hosts: args.hosts,
                year: args
                    .year
                    .unwrap_or_else(|| jiff::Zoned::now().year().into()),
                until: time(&args.until, "--until")?,
            };
            let stdout = std::io::stdout();
            let stderr = std::io::stderr();
            let summary =
                vigil::replay::run(&options, &source, &mut stdout.lock(), &mut stderr.lock())?;
            eprintln!(
                "replayed {} events ({} lines rejected, {} unparsed): {} alarm revisions",
                summary.events, summary.rejected, summary.unparsed, summary.alarms
            );
            Ok(())
        }
        Commands::Check(args) => {
            let assets = match &args.assets {
                Some(path) => vigil_analysis::correlation::load_assets(path)?,
                None => vigil_inventory::Assets::default(),
            };
            let agent = match &args.agent_config {
                Some(dir) => vigil_plugins::cfg::AgentSettings::load(dir)?,
                None => vigil_plugins::cfg::AgentSettings::default(),
            };
            let report = vigil::check::check(&args.files, &assets, &agent);
            for line in report.warnings.iter().chain(&report.errors) {
                println!("{line}");
            }
            println!(
                "{} error(s), {} warning(s)",
                report.errors.len(),
                report.warnings.len()
            );
            if report.errors.is_empty() {
                Ok(())
            } else {
                anyhow::bail!("{} error(s)", report.errors.len())
            }
        }
        Commands::Ca(command) => vigil::ca_command::run(command, &mut std::io::stdout()),
        Commands::Command(args) => {
            let (admin, token) = args.admin.resolve()?;
            vigil::ca_command::command(
                admin,
                &token,
                &args.sensor,
                args.action,
                &mut std::io::stdout(),
            )
        }
        Commands::Reload(args) => {
            let (admin, token) = args.resolve()?;
            vigil::ca_command::reload(admin, &token, &mut std::io::stdout())
        }
        Commands::User(args) => vigil::user_command::run(
            args.action,
            &accounts_dir(args.dir)?,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout(),
        ),
        Commands::Token(args) => vigil::user_command::run_token(
            args.action,
            &accounts_dir(args.dir)?,
            &mut std::io::stdout(),
        ),
        Commands::Bench(BenchCommand::Correlate {
            directives,
            events,
            runs,
            backlogs,
        }) => {
            let options = vigil::bench::CorrelateOptions {
                directives,
                events,
                runs,
                backlogs,
            };
            vigil::bench::correlate(&options, &mut std::io::stdout())
        }
        Commands::Bench(BenchCommand::Parse {
            plugins,
            agent_config,
            runs,
            files,
        }) => {
            let options = vigil::bench::parse::ParseOptions {
                plugins,
                agent_config,
                files,
                runs,
                year: jiff::Zoned::now().year().into(),
            };
            vigil::bench::parse::parse(&options, &mut std::io::stdout())?;
            Ok(())
        }
        Commands::Bench(BenchCommand::Edge {
            load,
            events,
            rsyslog,
        }) => {
            let options = vigil::bench::edge::EdgeBenchOptions {
                exe: std::env::current_exe()?,
                load,
                events,
                peer: rsyslog,
            };
            vigil::bench::edge::edge(&options, &mut std::io::stdout())
        }
        Commands::Bench(BenchCommand::Bus {
            load,
            events,
            rate,
            latency_seconds,
        }) => {
            let options = vigil::bench::bus::BusBenchOptions {
                exe: std::env::current_exe()?,
                load,
                events,
                rate,
                latency_seconds,
            };
            vigil::bench::bus::bus(&options, &mut std::io::stdout())
        }
        Commands::Bench(BenchCommand::Console {
            alarms,
            runs,
            events,
            intake_runs,
            stream_clients,
            directives,
            sid_tables,
        }) => {
            let options = vigil::bench::console::ConsoleOptions {
                exe: std::env::current_exe()?,
                alarms,
                runs,
                events,
                intake_runs,
                stream_clients,
                directives,
                sid_tables,
            };
            vigil::bench::console::console(&options, &mut std::io::stdout())
        }
        Commands::Bench(BenchCommand::Intake {
            connections,
            events_per_connection,
            runs,
            directives,
            sid_tables,
        }) => {
            let options = vigil::bench::IntakeOptions {
                exe: std::env::current_exe()?,
                connections,
                events_per_connection,
                runs,
                directives,
                sid_tables,
            };
            vigil::bench::intake(&options, &mut std::io::stdout())?;
            Ok(())
        }
    }
}
