//! Repeated log lines are rate-limited and summarised: each callsite (one `warn!`, `info!`...
//! in the code) logs at most `limit` lines per `interval`, counted from its first line; the
//! rest of that interval are suppressed, and once the interval is over one line says how many
//! ("suppressed K similar messages in the last 60 s"), with the first suppressed message. A
//! flood of refused inputs therefore costs the log a bounded number of lines per kind. The
//! summaries themselves and a verbose edge source's event lines (asked for one by one) are not
//! limited.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Target of the summary lines, which are never limited themselves.
const TARGET: &str = "vigil::log_limit";

/// How often ended intervals are looked for and summarised.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// One callsite's current interval.
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
    /// Where the callsite is (`module:line`) and its first suppressed message.
    what: String,
}

/// The layer that drops a callsite's lines past its limit; see the module doc.
pub struct RepeatLimit {
    limit: u32,
    interval: Duration,
    windows: Arc<Mutex<HashMap<Identifier, Window>>>,
}

impl RepeatLimit {
    /// At most `limit` lines per callsite per `interval`; starts the thread that logs the
    /// summaries.
    pub fn new(limit: u32, interval: Duration) -> RepeatLimit {
        debug_assert!(limit > 0 && !interval.is_zero());
        let windows = Arc::new(Mutex::new(HashMap::new()));
        let flushing = Arc::clone(&windows);
        let spawned = std::thread::Builder::new()
            .name("log-limit".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    summarise(&flushing, interval);
                }
            });
        if let Err(e) = spawned {
            eprintln!("cannot start the log summary thread: {e}");
        }
        RepeatLimit {
            limit,
            interval,
            windows,
        }
    }
}

/// Forgets the windows that are over, logging one summary line for each that suppressed lines.
fn summarise(windows: &Mutex<HashMap<Identifier, Window>>, interval: Duration) {
    let mut ended = Vec::new();
    {
        let mut windows = windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.retain(|_, w| {
            let over = w.started.elapsed() >= interval;
            if over && w.suppressed > 0 {
                ended.push((w.suppressed, std::mem::take(&mut w.what)));
            }
            !over
        });
    }
    // Logged without the lock: this line comes back through the layer.
    for (suppressed, what) in ended {
        tracing::warn!(target: TARGET, suppressed, of = %what,
            "suppressed {suppressed} similar messages in the last {}", humantime::format_duration(interval));
    }
}

impl<S: Subscriber> Layer<S> for RepeatLimit {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if [TARGET, vigil_edge::verbosity::VERBOSE_TARGET].contains(&meta.target()) {
            return true;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(meta.callsite()).or_insert_with(|| Window {
            started: Instant::now(),
            logged: 0,
            suppressed: 0,
            what: String::new(),
        });
        if window.started.elapsed() >= self.interval && window.suppressed == 0 {
            // A quiet callsite starts a new interval itself (the flush thread would too).
            window.started = Instant::now();
            window.logged = 0;
        }
        if window.logged < self.limit {
            window.logged += 1;
            return true;
        }
        if window.suppressed == 0 {
            let mut message = Message(String::new());
            event.record(&mut message);
            window.what = format!(
                "{}:{}: {}",
                meta.module_path().unwrap_or(meta.target()),
                meta.line().unwrap_or(0),
                message.0
            );
        }
        window.suppressed += 1;
        false
    }
}

/// Collects an event's `message` field.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Counts the events that reach it.
    struct Count(Arc<AtomicUsize>);

    impl<S: Subscriber> Layer<S> for Count {
        fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn each_statement_logs_at_most_its_limit_per_interval() {
        let seen = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(RepeatLimit::new(3, Duration::from_millis(300)))
            .with(Count(Arc::clone(&seen)));
        tracing::subscriber::with_default(subscriber, || {
            let flood = || {
                for n in 0..100 {
                    tracing::warn!(n, "refused");
                }
            };
            flood();
            // Another statement has a limit of its own.
            for _ in 0..5 {
                tracing::warn!("other");
            }
            assert_eq!(seen.load(Ordering::Relaxed), 3 + 3);
            // The next interval: three more (the summary goes to the global log).
            std::thread::sleep(FLUSH_EVERY * 3);
            flood();
            assert_eq!(seen.load(Ordering::Relaxed), 3 + 3 + 3);
        });
    }
}
