//! `vigil bench`: benchmarks of the real code paths, reporting medians of repeated runs.
//!
//! * [`intake`]: agent sessions into a real server, to fsynced storage.
//! * [`correlate`]: the correlation engine alone.
//! * [`parse`]: OSSIM plugin parsing on one core.
//! * [`edge`]: syslog over TCP into a real edge, to normalised events (optionally rsyslog
//!   receiving the same load, side by side).
//! * [`console`]: the console API over 100,000 stored alarms (list latency), and agent intake
//!   with live-stream clients connected.
//! * [`bus`]: a real edge to a real core over the signed event bus: throughput to durable
//!   storage, and the latency the bus adds at a steady rate.

pub mod bus;
pub mod console;
pub mod correlate;
pub mod edge;
pub mod intake;
pub mod parse;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Instant;

pub use correlate::{CorrelateOptions, correlate};
pub use intake::{IntakeOptions, IntakeRun, intake};

/// Median, minimum and maximum of repeated measurements.
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`.
    pub fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = match n {
            0 => 0.0,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        };
        Spread {
            median,
            min: values.first().copied().unwrap_or_default(),
            max: values.last().copied().unwrap_or_default(),
        }
    }
}

/// Writes `payloads[i]` `repeats` times on `streams[i]`, each from its own thread, all released
/// together; returns the release instant once everything is written.
pub fn send_together(
    streams: Vec<TcpStream>,
    payloads: &[Arc<Vec<u8>>],
    repeats: usize,
) -> anyhow::Result<Instant> {
    let start = Arc::new(Barrier::new(streams.len() + 1));
    let mut senders = Vec::new();
    for (mut stream, payload) in streams.into_iter().zip(payloads) {
        let (payload, start) = (payload.clone(), start.clone());
        senders.push(std::thread::spawn(move || -> std::io::Result<()> {
            start.wait();
            for _ in 0..repeats {
                stream.write_all(&payload)?;
            }
            stream.flush()
        }));
    }
    start.wait();
    let began = Instant::now();
    for sender in senders {
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("a sender thread panicked"))??;
    }
    Ok(began)
}
