//! Setting up correlation (directives, assets, policies) and keeping its state across restarts.
//!
//! State survives restarts: the writer saves an engine snapshot with the positions of the event
//! and alarm logs at that moment. On start the engine is restored and the events stored after
//! the snapshot are correlated again; their outputs carry derived ids, so whatever had already
//! been stored before a crash is recognised and not stored twice, and whatever had not (a crash
//! between writing events and alarms) is stored now.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use vigil_correlate::engine::Snapshot;
use vigil_correlate::{CompiledSet, Engine, Rules};
use vigil_directives::{Diagnostic, DirectiveSet};
use vigil_event::{Alarm, Event, Uuid};
use vigil_inventory::{Assets, Host, Inventory, Network};
use vigil_plugins::references::References;
use vigil_plugins::sid_table::SidTable;
use vigil_policy::PolicySet;
use vigil_store::{Corruption, StateFile, Store};

use crate::analysis::{Analyzer, PolicyQualifier};
use crate::config::CorrelationConfig;

/// The asset inventory file: `[[host]]` (name, ip, asset), `[[network]]` (name, cidr, asset,
/// external) and `[groups]` (group name = member names).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct AssetsFile {
    host: Vec<Host>,
    network: Vec<Network>,
    groups: HashMap<String, Vec<String>>,
}

/// Reads an asset inventory file; errors name the file, line and column.
pub fn load_assets(path: &Path) -> anyhow::Result<Assets> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: AssetsFile =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Assets::new(file.host, file.network, file.groups))
}

/// Directives loaded from the configured paths, with every problem found.
#[derive(Debug, Default)]
pub struct LoadedDirectives {
    /// What loaded.
    pub set: DirectiveSet,
    /// Errors (each names what was left out: a directive, or a whole file that cannot be read
    /// or parsed) and warnings, as `file:line:column: ...`, the lines `vigil check` prints.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadedDirectives {
    /// The error diagnostics: what was left out.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

/// Loads every directive path. Nothing is dropped silently: a directive with an error, a second
/// directive with an id already loaded and a file that cannot be read or parsed are left out
/// and each named by an error diagnostic, so the caller decides whether a partial set will do.
pub fn load_directives(paths: &[PathBuf]) -> LoadedDirectives {
    let mut loaded = LoadedDirectives::default();
    for path in paths {
        let outcome = match vigil_directives::load_path(path) {
            Ok(outcome) => outcome,
            Err(diagnostic) => {
                loaded.diagnostics.push(diagnostic);
                continue;
            }
        };
        loaded.diagnostics.extend(outcome.diagnostics);
        let set = &mut loaded.set;
        let known: HashSet<u32> = set.directives.iter().map(|d| d.id).collect();
        for directive in outcome.set.directives {
            if known.contains(&directive.id) {
                loaded.diagnostics.push(Diagnostic::error(
                    directive.location.clone(),
                    format!(
                        "directive {} is already loaded from an earlier path; this one is left out",
                        directive.id
                    ),
                ));
            } else {
                set.directives.push(directive);
            }
        }
        set.groups.extend(outcome.set.groups);
        set.timetables.extend(outcome.set.timetables);
        info!(path = %path.display(), directives = set.directives.len(), "loaded directives");
    }
    loaded
}

/// The taxonomy directives match on: categories and subcategories from the sid tables,
/// product types from `plugin.product_type` and then the configuration; and the sids' names,
/// which name single-event alarms.
pub fn taxonomy(
    sids: &SidTable,
    products: &[crate::config::ProductType],
) -> vigil_correlate::Taxonomy {
    let mut taxonomy = vigil_correlate::Taxonomy::default();
    for plugin in sids.plugins() {
        if let Some(product) = plugin.product {
            taxonomy.set_product(plugin.id, product);
        }
    }
    for p in products {
        taxonomy.set_product(p.plugin_id, p.product);
    }
    for ((plugin_id, sid), info) in sids.sids() {
        taxonomy.set_category(plugin_id, sid, info.category_id, info.subcategory_id);
        taxonomy.set_name(plugin_id, sid, &info.name);
    }
    taxonomy
}

/// Directives, assets and policies, ready for an [`Analyzer`].
pub struct Setup {
    /// Compiled directives.
    pub set: Arc<CompiledSet>,
    /// Asset inventory.
    pub assets: Arc<Assets>,
    /// Policies.
    pub policies: PolicySet,
    /// Cross-correlation data: what is known per host, and which attacks need what.
    pub cross: Arc<CrossData>,
    /// Products, categories and subcategories of plugins and sids.
    pub taxonomy: Arc<vigil_correlate::Taxonomy>,
    /// What was left out (`allow_partial_rules`), one diagnostic line each.
    pub dropped: Vec<String>,
}

/// What cross-correlation works from.
#[derive(Debug, Default)]
pub struct CrossData {
    /// Hosts' OS, services and vulnerabilities.
    pub inventory: Inventory,
    /// Attack → vulnerability/OS/service references.
    pub references: References,
}

impl Setup {
    /// Loads what the configuration names; `taxonomy` comes from the sid tables already loaded.
    pub fn load(
        config: &CorrelationConfig,
        taxonomy: Arc<vigil_correlate::Taxonomy>,
    ) -> anyhow::Result<Setup> {
        let mut loaded = load_directives(&config.directives);
        let disabled = &config.disabled_directives;
        loaded.set.directives.retain(|d| !disabled.contains(&d.id));
        if !disabled.is_empty() {
            info!(
                ?disabled,
                "directives disabled from the console are not loaded"
            );
        }
        Setup::load_with(config, taxonomy, loaded)
    }

    /// [`Setup::load`] with `loaded` instead of the configuration's directives.
    pub fn load_with(
        config: &CorrelationConfig,
        taxonomy: Arc<vigil_correlate::Taxonomy>,
        loaded: LoadedDirectives,
    ) -> anyhow::Result<Setup> {
        for (paths, what) in [
            (config.directives.as_slice(), "directive file"),
            (config.assets.as_slice(), "asset inventory"),
            (config.policies.as_slice(), "policy file"),
            (config.inventory.as_slice(), "host inventory"),
            (config.references.as_slice(), "plugin reference file"),
        ] {
            for path in paths {
                crate::trust::refuse_world_writable(path, what)?;
            }
        }
        let assets = match &config.assets {
            Some(path) => load_assets(path)?,
            None => Assets::default(),
        };
        let dropped: Vec<String> = loaded.errors().map(ToString::to_string).collect();
        if !dropped.is_empty() && !config.allow_partial_rules {
            anyhow::bail!(
                "directives with errors (set correlation.allow_partial_rules to run without them):\n{}",
                dropped.join("\n")
            );
        }
        for diagnostic in &loaded.diagnostics {
            match diagnostic.is_error() {
                true => warn!("directive left out (allow_partial_rules): {diagnostic}"),
                false => info!("directive warning: {diagnostic}"),
            }
        }
        let directives = loaded.set;
        let policies = match &config.policies {
            Some(path) => PolicySet::load(path, &assets).map_err(|diagnostics| {
                let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("policies:\n{}", lines.join("\n"))
            })?,
            None => PolicySet::permissive(),
        };
        let inventory = match &config.inventory {
            Some(path) => {
                Inventory::load_path(path).map_err(|e| anyhow::anyhow!("inventory: {e}"))?
            }
            None => Inventory::default(),
        };
        let mut references = References::new();
        for path in &config.references {
            let report = references
                .load_path(path)
                .map_err(|e| anyhow::anyhow!("references: {e}"))?;
            info!(path = %path.display(), rows = report.rows, "loaded plugin references");
        }
        let set = CompiledSet::compile(&directives, &assets);
        for w in &set.warnings {
            warn!(directive = w.directive, "{}", w.message);
        }
        Ok(Setup {
            set: Arc::new(set),
            assets: Arc::new(assets),
            policies,
            cross: Arc::new(CrossData {
                inventory,
                references,
            }),
            taxonomy,
            dropped,
        })
    }

    /// The engine's rules: directives, assets, taxonomy, and the policies as its qualifier.
    pub fn rules(&self) -> Rules {
        Rules {
            directives: self.set.clone(),
            assets: self.assets.clone(),
            taxonomy: self.taxonomy.clone(),
            qualifier: Arc::new(PolicyQualifier(self.policies.clone())),
        }
    }

    /// An analyzer over this setup around `engine` (built over [`Setup::rules`]).
    fn analyzer_with(&self, sids: Arc<SidTable>, engine: Engine) -> Analyzer {
        Analyzer::new(sids, self.policies.clone(), self.cross.clone(), engine)
    }

    /// A fresh analyzer over this setup.
    pub fn analyzer(&self, sids: Arc<SidTable>, config: &CorrelationConfig) -> Analyzer {
        self.analyzer_with(sids, Engine::new(self.rules(), config.engine_config()))
    }
}

/// A saved engine state and where the logs stood when it was taken.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedState {
    /// The next event record number at the time.
    pub events_next: u64,
    /// The next alarm record number at the time.
    pub alarms_next: u64,
    /// The engine.
    pub engine: Snapshot,
}

/// `<data_dir>/correlation/state.json`
pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join("correlation").join("state.json")
}

/// Saves the engine state durably (temporary file, fsync, rename).
pub fn save_state(data_dir: &Path, analyzer: &Analyzer, store: &Store) -> anyhow::Result<()> {
    let path = state_path(data_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let state = SavedState {
        events_next: store.events.next_record(),
        alarms_next: store.alarms.next_record(),
        engine: analyzer.engine().snapshot(),
    };
    Ok(vigil_store::write_state(
        &path,
        &serde_json::to_vec(&state)?,
    )?)
}

/// What recovery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Stored events correlated again.
    pub replayed: u64,
    /// Directive events and alarms that had been lost and were stored now.
    pub restored_outputs: u64,
    /// Backlogs dropped because their directive changed while the server was down.
    pub dropped_backlogs: usize,
    /// Event record number the replay read the store from (every later event was read).
    pub read_from: u64,
    /// The saved state was damaged: quarantined, and the engine rebuilt by correlating the
    /// whole store again.
    pub damaged_state: Option<Corruption>,
}

/// Restores the engine from the saved state (if any) and correlates again the events stored
/// after it, storing only outputs the store does not already hold. `also` sees every stored
/// event read (record number and event), for other state rebuilt from the same tail.
pub fn recover(
    data_dir: &Path,
    setup: &Setup,
    sids: Arc<SidTable>,
    config: &CorrelationConfig,
    store: &mut Store,
    also: &mut dyn FnMut(u64, &Event),
) -> anyhow::Result<(Analyzer, Recovery)> {
    let path = state_path(data_dir);
    let parse = |bytes: &[u8]| serde_json::from_slice(bytes).map_err(|e| e.to_string());
    let (saved, damaged_state): (Option<SavedState>, _) =
        match vigil_store::read_state(&path, parse)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            StateFile::Valid(saved) => (Some(saved), None),
            StateFile::Missing => (None, None),
            // Rebuilt from the whole store: outputs it already holds are not stored twice.
            StateFile::Damaged(found) => {
                let empty = SavedState {
                    events_next: 0,
                    alarms_next: 0,
                    engine: setup.analyzer(sids.clone(), config).engine().snapshot(),
                };
                (Some(empty), Some(found))
            }
        };
    let Some(saved) = saved else {
        // First start (or state deliberately removed): correlation starts empty from here on.
        let analyzer = setup.analyzer(sids, config);
        save_state(data_dir, &analyzer, store)?;
        let recovery = Recovery {
            read_from: store.events.next_record(),
            ..Recovery::default()
        };
        return Ok((analyzer, recovery));
    };
    let (engine, carry) = Engine::restore(setup.rules(), config.engine_config(), saved.engine);
    let mut analyzer = setup.analyzer_with(sids, engine);
    let mut recovery = Recovery {
        dropped_backlogs: carry.dropped,
        damaged_state,
        ..Recovery::default()
    };

    // A state file ahead of the store (a tail cut by recovery, say) would make the replay skip
    // events stored later under the same numbers: never start past the end.
    let (events_next, alarms_next) = (store.events.next_record(), store.alarms.next_record());
    if saved.events_next > events_next || saved.alarms_next > alarms_next {
        warn!(
            saved_events = saved.events_next,
            events_next,
            saved_alarms = saved.alarms_next,
            alarms_next,
            "correlation state is ahead of the store; replaying from the store's end"
        );
    }
    let (from_event, from_alarm) = (
        saved.events_next.min(events_next),
        saved.alarms_next.min(alarms_next),
    );
    let mut inputs: Vec<Event> = Vec::new();
    let mut stored_ids: HashSet<Uuid> = HashSet::new();
    recovery.read_from = from_event;
    store.events.scan_from(from_event, |n, event| {
        also(n, &event);
        stored_ids.insert(event.id);
        if crate::analysis::is_correlation_input(&event) {
            inputs.push(event);
        }
    })?;
    let mut stored_alarms: HashSet<(Uuid, u32)> = HashSet::new();
    store.alarms.scan_from(from_alarm, |_, alarm| {
        stored_alarms.insert((alarm.id, alarm.revision));
    })?;
    let mut missing_events: Vec<Event> = Vec::new();
    let mut missing_alarms: Vec<Alarm> = Vec::new();
    for event in inputs {
        recovery.replayed += 1;
        let analysis = analyzer.analyze(event);
        // The first event of each analysis is the input itself, already stored.
        missing_events.extend(
            analysis
                .events
                .into_iter()
                .filter(|e| !stored_ids.contains(&e.id)),
        );
        missing_alarms.extend(
            analysis
                .alarms
                .into_iter()
                .filter(|a| !stored_alarms.contains(&(a.id, a.revision))),
        );
    }
    recovery.restored_outputs = (missing_events.len() + missing_alarms.len()) as u64;
    store.events.append(&missing_events)?;
    store.alarms.append(&missing_alarms)?;
    save_state(data_dir, &analyzer, store)?;
    Ok((analyzer, recovery))
}
