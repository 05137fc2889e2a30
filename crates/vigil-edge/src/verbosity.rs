//! Per-source verbosity, switched by the core's `SetVerbosity` command: a verbose source logs
//! every event it makes (plugin, sid and line) at `info`, for an analyst watching a device.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Log target of a verbose source's event lines: asked for one by one, so never rate-limited.
pub const VERBOSE_TARGET: &str = "vigil_edge::verbose";

/// The verbosity switch of every source, by name.
#[derive(Debug, Default, Clone)]
pub struct Verbosity {
    sources: Arc<HashMap<String, Arc<AtomicBool>>>,
}

impl Verbosity {
    /// Switches for these sources, all off.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Verbosity {
        Verbosity {
            sources: Arc::new(
                names
                    .into_iter()
                    .map(|n| (n.to_string(), Arc::new(AtomicBool::new(false))))
                    .collect(),
            ),
        }
    }

    /// The switch of `source` (off and unconnected for an unknown name).
    pub fn switch(&self, source: &str) -> Arc<AtomicBool> {
        self.sources.get(source).cloned().unwrap_or_default()
    }

    /// Turns `source` verbose or quiet; false if no source has that name.
    pub fn set(&self, source: &str, verbose: bool) -> bool {
        match self.sources.get(source) {
            Some(switch) => {
                switch.store(verbose, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
