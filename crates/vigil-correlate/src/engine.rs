//! The engine: `event in -> (state', outputs)`. No clock, no I/O, no randomness.
//!
//! Per event (spec 5.2, on event time): sweep backlogs whose deadline the event's time has
//! passed (firing `not` levels whose window closed without a match), offer the event to the live
//! backlogs that can take it, then start a backlog for each directive whose root it matches and
//! which no backlog of the same directive absorbed it (implicit stickiness, spec 5.3). Directive
//! events go back through the same steps (chained directives) up to a depth limit.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_directives::Var;
use vigil_event::{Alarm, CorrelationState, Event, EventKind, TimeSource, Timestamp, Transport};

use crate::backlog::{AlarmState, Backlog};
use crate::clock::{Clock, ClockConfig, Judgement, MAX_SENSORS, TimeIncident};
use crate::compile::{CompiledDirective, CompiledSet, NodeId};
use crate::few::Few;
use crate::levels::{Crossing, LevelKind, Levels, LevelsConfig};
use crate::matcher::{Context, Facts, matches, var_key};
use crate::pressure::{Pressure, Ranking};
use crate::risk::{Risk, risk};
use crate::taxonomy::Taxonomy;
use vigil_inventory::Assets;

/// OSSIM's plugin id for directive events.
pub const DIRECTIVE_PLUGIN_ID: u32 = 1505;

/// Tunables of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Live backlogs per directive; past it the least advanced goes ([`crate::pressure`]).
    pub max_backlogs_per_directive: usize,
    /// Live backlogs of one directive that one source address may hold.
    #[serde(default = "default_max_backlogs_per_source")]
    pub max_backlogs_per_source: usize,
    /// How many times a directive event may be correlated again (chained directives).
    pub max_depth: u8,
    /// How far (seconds) an event may predate the level it follows and still count.
    pub allowed_lateness_secs: u32,
    /// Compromise and attack levels.
    pub levels: LevelsConfig,
    /// Bounds on event times.
    #[serde(default)]
    pub clock: ClockConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_backlogs_per_directive: 10_000,
            max_backlogs_per_source: default_max_backlogs_per_source(),
            max_depth: 3,
            allowed_lateness_secs: 0,
            levels: LevelsConfig::default(),
            clock: ClockConfig::default(),
        }
    }
}

fn default_max_backlogs_per_source() -> usize {
    1_000
}

/// Counters of what the engine did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Events processed (directive events included).
    pub events: u64,
    /// Backlogs started.
    pub backlogs_created: u64,
    /// Backlogs that reached a leaf.
    pub backlogs_completed: u64,
    /// Backlogs that expired.
    pub backlogs_expired: u64,
    /// Backlogs evicted by the per-directive and per-source caps.
    pub backlogs_evicted: u64,
    /// Directive events emitted.
    pub directive_events: u64,
    /// Alarm revisions emitted.
    pub alarms: u64,
    /// Directive events not correlated again because of the depth limit.
    pub depth_limited: u64,
    /// Input events whose time was out of bounds.
    #[serde(default)]
    pub time_out_of_bounds: u64,
}

/// What processing one event produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outputs {
    /// Risk of the input event.
    pub risk: Risk,
    /// Directive events (plugin 1505), in emission order.
    pub directive_events: Vec<Event>,
    /// Alarm revisions, in emission order.
    pub alarms: Vec<Alarm>,
    /// The input event's time was out of bounds by this many seconds (see [`crate::clock`]).
    pub time_out_of_bounds_secs: Option<i64>,
}

/// Which stages an event goes through (from its policy's roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    /// Risk, C & A levels, single-event alarms.
    pub qualify: bool,
    /// Directives and backlogs.
    pub correlate: bool,
}

impl Default for Steps {
    fn default() -> Self {
        Steps {
            qualify: true,
            correlate: true,
        }
    }
}

/// Qualifies the directive events the engine produces before they are risk-assessed and
/// correlated again (policy priority overrides and roles). It must be a pure function of the
/// event, like the engine.
pub trait Qualifier: Send + Sync {
    /// Adjusts the event and says which stages it goes through.
    fn qualify(&self, event: &mut Event) -> Steps;
}

/// Directive events as the engine makes them: no policy applies, every stage runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsIs;

impl Qualifier for AsIs {
    fn qualify(&self, _event: &mut Event) -> Steps {
        Steps::default()
    }
}

/// Everything the engine correlates with, given whole when it is built and swapped whole on
/// reload, so no engine can run with part of it missing (a taxonomy or a policy not yet set).
#[derive(Clone)]
pub struct Rules {
    /// Compiled directives.
    pub directives: Arc<CompiledSet>,
    /// Asset values of hosts and networks.
    pub assets: Arc<Assets>,
    /// Products, categories, subcategories and names of plugins and sids.
    pub taxonomy: Arc<Taxonomy>,
    /// Applied to every directive event before it is assessed and correlated.
    pub qualifier: Arc<dyn Qualifier>,
}

impl Rules {
    /// Directives and assets alone: no taxonomy, no policies ([`AsIs`]). For tools and tests
    /// that correlate without sid tables; the server and replay build theirs from a full setup.
    pub fn bare(directives: Arc<CompiledSet>, assets: Arc<Assets>) -> Rules {
        Rules {
            directives,
            assets,
            taxonomy: Arc::new(Taxonomy::default()),
            qualifier: Arc::new(AsIs),
        }
    }
}

/// Which address field a backlog is keyed by in the candidate index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum KeyField {
    Src,
    Dst,
}

type BacklogKey = (u32, KeyField, IpAddr);

/// The correlation engine and its state.
pub struct Engine {
    set: Arc<CompiledSet>,
    assets: Arc<Assets>,
    config: EngineConfig,
    /// Live backlogs by creation order.
    backlogs: BTreeMap<u64, Backlog>,
    /// Backlogs whose children all require one source (or destination) address.
    keyed: HashMap<BacklogKey, Few<u64>>,
    /// The rest, per directive.
    unkeyed: HashMap<u32, Few<u64>>,
    /// Live backlogs per directive and per source, least advanced first (for eviction).
    ranking: Ranking,
    /// Eviction incidents by directive.
    pressure: BTreeMap<u32, Pressure>,
    deadlines: BinaryHeap<Reverse<(Timestamp, u64)>>,
    /// Latest event time seen: the engine's clock.
    watermark: Timestamp,
    next_seq: u64,
    stats: Stats,
    /// Text fields each directive's back-references use, by directive id.
    text_vars: HashMap<u32, Vec<Var>>,
    /// Compromise and attack levels per host.
    levels: Levels,
    /// Event time of the last sweep of forgotten levels.
    levels_swept: Timestamp,
    /// Applied to every directive event before it is assessed and correlated.
    qualifier: Arc<dyn Qualifier>,
    /// Alarm groups by key (`groupalarmby` fields): the group id and the event time until
    /// which it accepts members.
    groups: BTreeMap<Uuid, (Uuid, Timestamp, Uuid)>,
    /// Products, categories and subcategories of plugins and sids.
    taxonomy: Arc<Taxonomy>,
    /// Per-sensor clocks and the replay's recent times: what may move the watermark.
    clock: Clock,
    /// Open out-of-bounds time incidents, by sensor.
    time_incidents: BTreeMap<String, TimeIncident>,
}

/// Highest usable `max_depth` (depths saturate at 255, so a limit must stay below it).
const MAX_DEPTH: u8 = 254;

/// Lifetime of an alarm group whose directive gives no `groupalarmtimeout`, so groups never
/// accumulate without bound.
const DEFAULT_GROUP_TIMEOUT_SECS: u32 = 86_400;

/// How often (event time) levels back at zero are forgotten.
const LEVEL_SWEEP_MICROS: i64 = 3_600_000_000;

/// The clock correlation uses for an event: the edge's trusted stamp or, in replay, the
/// recorded time; for legacy agents (unauthenticated device clocks) the core's receive time.
pub fn correlation_time(event: &Event) -> Timestamp {
    match (event.provenance.time_source, event.provenance.transport) {
        (TimeSource::Edge, _) | (_, Transport::Replay) => event.time,
        _ => event.provenance.received_at,
    }
}

impl Engine {
    /// A new engine over its rules.
    pub fn new(rules: Rules, config: EngineConfig) -> Engine {
        let text_vars = text_vars(&rules.directives);
        Engine {
            set: rules.directives,
            assets: rules.assets,
            config,
            backlogs: BTreeMap::new(),
            keyed: HashMap::new(),
            unkeyed: HashMap::new(),
            ranking: Ranking::default(),
            pressure: BTreeMap::new(),
            deadlines: BinaryHeap::new(),
            watermark: Timestamp::MIN,
            next_seq: 0,
            stats: Stats::default(),
            text_vars,
            levels: Levels::default(),
            levels_swept: Timestamp::MIN,
            qualifier: rules.qualifier,
            groups: BTreeMap::new(),
            taxonomy: rules.taxonomy,
            clock: Clock::default(),
            time_incidents: BTreeMap::new(),
        }
    }

    /// A host's compromise or attack level now (at the engine's clock).
    pub fn level(&self, host: IpAddr, kind: LevelKind) -> u32 {
        self.levels
            .value(&self.config.levels, host, kind, self.watermark)
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Live backlogs.
    pub fn live_backlogs(&self) -> usize {
        self.backlogs.len()
    }

    /// The engine's clock: the latest correlation time seen.
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// Processes one event through every stage (its priority and reliability already set).
    pub fn process(&mut self, event: &Event) -> Outputs {
        self.process_with(event, Steps::default())
    }

    /// Processes one event through the given stages (from its policy's roles). The clock moves
    /// whatever the stages.
    pub fn process_with(&mut self, event: &Event, steps: Steps) -> Outputs {
        let mut out = Outputs::default();
        let mut work: VecDeque<(Event, u8, Option<u32>)> = VecDeque::new();
        let time = correlation_time(event);
        let judgement = self.clock.judge(&self.config.clock, event, time);
        if let Some(to) = judgement.advance_to {
            self.advance_clock(to, &mut out, &mut work);
        }
        self.judge_time(event, time, &judgement, &mut out);
        if steps.qualify {
            out.risk = self.event_risk(event);
            if event.plugin_id != DIRECTIVE_PLUGIN_ID && out.risk.max() >= 1 {
                out.alarms
                    .push(single_event_alarm(event, out.risk, &self.taxonomy));
                self.stats.alarms += 1;
            }
            // C & A levels decay on their own clock: an out-of-bounds time must not move it.
            let levels_time = match judgement.out_of_bounds_secs {
                Some(_) => judgement.against,
                None => time,
            };
            self.raise_levels(event, out.risk, levels_time, &mut out);
        }
        if steps.correlate {
            self.correlate(event, 0, None, &mut out, &mut work);
        }
        self.drain(&mut out, &mut work);
        out
    }

    /// Correlates derived (directive) events until none is left or the depth limit stops them.
    fn drain(&mut self, out: &mut Outputs, work: &mut VecDeque<(Event, u8, Option<u32>)>) {
        while let Some((derived, depth, origin)) = work.pop_front() {
            if depth > self.config.max_depth.min(MAX_DEPTH) {
                self.stats.depth_limited += 1;
                continue;
            }
            self.correlate(&derived, depth, origin, out, work);
        }
    }

    /// Moves the clock forward without an event (e.g. a trusted heartbeat), firing `not`
    /// levels and expiring backlogs whose deadline has passed.
    pub fn advance_time(&mut self, now: Timestamp) -> Outputs {
        let mut out = Outputs::default();
        let mut work = VecDeque::new();
        self.advance_clock(now, &mut out, &mut work);
        self.drain(&mut out, &mut work);
        out
    }

    /// Counts an out-of-bounds time and raises or revises its sensor's time incident; an
    /// in-bounds time from a sensor with an open incident completes it.
    fn judge_time(&mut self, event: &Event, time: Timestamp, j: &Judgement, out: &mut Outputs) {
        let sensor = &event.provenance.sensor;
        let Some(secs) = j.out_of_bounds_secs else {
            if !self.time_incidents.is_empty()
                && let Some(mut incident) = self.time_incidents.remove(sensor)
            {
                out.alarms
                    .push(incident.alarm(sensor, &self.assets, Some(time)));
                self.stats.alarms += 1;
            }
            return;
        };
        out.time_out_of_bounds_secs = Some(secs);
        self.stats.time_out_of_bounds += 1;
        if self.time_incidents.len() >= MAX_SENSORS && !self.time_incidents.contains_key(sensor) {
            self.time_incidents.pop_first();
        }
        let incident = self
            .time_incidents
            .entry(sensor.clone())
            .or_insert_with(|| TimeIncident {
                id: derived_id(b"time-incident", &[sensor.as_bytes(), event.id.as_bytes()]),
                revision: 0,
                count: 0,
                first_seen: j.against,
                last_seen: j.against,
                offset_secs: secs,
                events: Vec::new(),
                device: event.device_ip,
                bound: j.bound,
                revised_count: 0,
            });
        if incident.add(event.id, secs, j.bound, j.against) {
            out.alarms.push(incident.alarm(sensor, &self.assets, None));
            self.stats.alarms += 1;
        }
    }

    /// Revises every alarm whose story moved on since its latest revision (a backlog that
    /// absorbed events, a time incident that counted more), so that at the end of an input
    /// nothing is understated. Nothing else changes.
    pub fn settle(&mut self) -> Outputs {
        let mut out = Outputs::default();
        let set = self.set.clone();
        for backlog in self.backlogs.values_mut() {
            let Some(directive) = set.position(backlog.directive).map(|p| &set.directives[p])
            else {
                continue;
            };
            if backlog
                .alarm
                .as_ref()
                .is_some_and(|a| a.counted_at < backlog.event_count)
                && let Some(alarm) = revision(backlog, directive, CorrelationState::Active, None)
            {
                out.alarms.push(alarm);
            }
        }
        for (sensor, incident) in &mut self.time_incidents {
            if incident.revised_count < incident.count {
                out.alarms.push(incident.alarm(sensor, &self.assets, None));
            }
        }
        self.stats.alarms += out.alarms.len() as u64;
        out
    }

    /// Adds an event's risks to its source's compromise and destination's attack levels, and
    /// raises an alarm for each threshold crossed.
    fn raise_levels(&mut self, event: &Event, r: Risk, time: Timestamp, out: &mut Outputs) {
        let config = &self.config.levels;
        let crossings = [
            self.levels.add(
                config,
                event.src_ip,
                LevelKind::Compromise,
                r.compromise,
                time,
            ),
            self.levels
                .add(config, event.dst_ip, LevelKind::Attack, r.attack, time),
        ];
        for crossing in crossings.into_iter().flatten() {
            let asset = self.assets.asset_value(crossing.host);
            out.alarms.push(level_alarm(crossing, event, time, asset));
            self.stats.alarms += 1;
        }
    }

    fn event_risk(&self, event: &Event) -> Risk {
        let asset_src = event
            .asset_src
            .unwrap_or_else(|| self.assets.asset_value(event.src_ip));
        let asset_dst = event
            .asset_dst
            .unwrap_or_else(|| self.assets.asset_value(event.dst_ip));
        risk(
            event.priority.unwrap_or(0),
            event.reliability.unwrap_or(0),
            asset_src,
            asset_dst,
        )
    }

    fn advance_clock(
        &mut self,
        now: Timestamp,
        out: &mut Outputs,
        work: &mut VecDeque<(Event, u8, Option<u32>)>,
    ) {
        if now <= self.watermark {
            return;
        }
        self.watermark = now;
        if now
            .as_micros()
            .saturating_sub(self.levels_swept.as_micros())
            >= LEVEL_SWEEP_MICROS
        {
            self.levels.sweep(&self.config.levels, now);
            self.groups.retain(|_, (_, until, _)| *until >= now);
            self.levels_swept = now;
        }
        while let Some(&Reverse((deadline, seq))) = self.deadlines.peek() {
            if deadline >= now {
                break;
            }
            self.deadlines.pop();
            let Some(backlog) = self.backlogs.get(&seq) else {
                continue;
            };
            let Some(position) = self.set.position(backlog.directive) else {
                continue;
            };
            let set = self.set.clone();
            let directive = &set.directives[position];
            // Stale heap entry: the backlog advanced since, or an absence (`not`) it waited for
            // was invalidated and its deadline moved later: file the current one.
            match backlog.deadline(directive) {
                Some(current) if current == deadline => {}
                Some(current) if current > deadline => {
                    self.deadlines.push(Reverse((current, seq)));
                    continue;
                }
                _ => continue,
            }
            self.on_deadline(seq, directive, now, out, work);
        }
        // Advances and evictions leave stale entries behind; rebuild when they dominate.
        if self.deadlines.len() > 2 * self.backlogs.len() + 1024 {
            self.rebuild_deadlines();
        }
    }

    /// The deadline heap with exactly one entry per live backlog that has a deadline.
    fn rebuild_deadlines(&mut self) {
        let set = self.set.clone();
        self.deadlines = self
            .backlogs
            .values()
            .filter_map(|b| {
                let directive = &set.directives[set.position(b.directive)?];
                Some(Reverse((b.deadline(directive)?, b.seq)))
            })
            .collect();
    }

    /// A deadline passed: fire the first `not` child whose window closed unmatched, else expire.
    fn on_deadline(
        &mut self,
        seq: u64,
        directive: &CompiledDirective,
        now: Timestamp,
        out: &mut Outputs,
        work: &mut VecDeque<(Event, u8, Option<u32>)>,
    ) {
        let Some(mut backlog) = self.remove_backlog(seq) else {
            return;
        };
        let node = &directive.nodes[backlog.current];
        let due = node.children.iter().zip(&backlog.children).find(|(c, p)| {
            let child = &directive.nodes[**c];
            let closes = Timestamp::from_micros(
                backlog
                    .time_last
                    .as_micros()
                    .saturating_add(i64::from(child.time_out) * 1_000_000),
            );
            child.not && !p.invalidated && child.time_out > 0 && closes < now
        });
        match due.map(|(c, _)| *c) {
            Some(child) => {
                let closes = Timestamp::from_micros(
                    backlog
                        .time_last
                        .as_micros()
                        .saturating_add(i64::from(directive.nodes[child].time_out) * 1_000_000),
                );
                let facts = backlog.bindings.last().cloned();
                if let Some(facts) = facts {
                    let assets = backlog.max_assets;
                    backlog.advance(directive, child, facts, closes, Vec::new(), assets);
                    self.after_advance(backlog, directive, None, closes, 0, out, work);
                }
            }
            None => {
                if let Some(expired) = backlog.deadline(directive).filter(|d| *d < now) {
                    self.stats.backlogs_expired += 1;
                    self.revise_on_end(&mut backlog, directive, expired, out);
                } else {
                    // A `not` child fired nothing yet but others still wait: keep it.
                    self.insert_backlog(backlog, directive);
                }
            }
        }
    }

    fn correlate(
        &mut self,
        event: &Event,
        depth: u8,
        origin: Option<u32>,
        out: &mut Outputs,
        work: &mut VecDeque<(Event, u8, Option<u32>)>,
    ) {
        self.stats.events += 1;
        let time = correlation_time(event);
        let set = self.set.clone();
        let mut absorbed_by: HashSet<u32> = HashSet::new();

        // 1. Live backlogs that can take this event, in creation order.
        let mut candidates: Vec<u64> = Vec::new();
        for position in set.inner_candidates(event.plugin_id) {
            let id = set.directives[position].id;
            if Some(id) == origin {
                continue;
            }
            for key in [
                (id, KeyField::Src, event.src_ip),
                (id, KeyField::Dst, event.dst_ip),
            ] {
                if let Some(list) = self.keyed.get(&key) {
                    candidates.extend_from_slice(list.as_slice());
                }
            }
            if let Some(list) = self.unkeyed.get(&id) {
                candidates.extend_from_slice(list.as_slice());
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        for seq in candidates {
            let Some(backlog) = self.backlogs.get(&seq) else {
                continue;
            };
            let Some(position) = set.position(backlog.directive) else {
                continue;
            };
            let directive = &set.directives[position];
            match self.offer(seq, directive, event, time, out) {
                Offer::Ignored => {}
                Offer::Absorbed => {
                    absorbed_by.insert(directive.id);
                }
                Offer::Fired(child, evidence, assets) => {
                    absorbed_by.insert(directive.id);
                    if let Some(mut backlog) = self.remove_backlog(seq) {
                        let facts = Facts::of(
                            event,
                            self.text_vars
                                .get(&directive.id)
                                .map_or(&[][..], Vec::as_slice),
                        );
                        backlog.advance(directive, child, facts, time, evidence, assets);
                        self.after_advance(backlog, directive, Some(event), time, depth, out, work);
                    }
                }
            }
        }

        // 2. New backlogs for directives whose root matches (and that did not absorb the event).
        for position in set.root_candidates(event.plugin_id, self.taxonomy.product(event.plugin_id))
        {
            let directive = &set.directives[position];
            if Some(directive.id) == origin
                || absorbed_by.contains(&directive.id)
                || !in_timetable(directive, time)
            {
                continue;
            }
            let cx = Context {
                bindings: &[],
                assets: &self.assets,
                taxonomy: &self.taxonomy,
            };
            if !matches(&directive.nodes[0], event, cx) {
                continue;
            }
            self.start_backlog(directive, event, time, depth, out, work);
        }
    }

    fn start_backlog(
        &mut self,
        directive: &CompiledDirective,
        event: &Event,
        time: Timestamp,
        depth: u8,
        out: &mut Outputs,
        work: &mut VecDeque<(Event, u8, Option<u32>)>,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.stats.backlogs_created += 1;
        let assets = (self.asset_of(event, true), self.asset_of(event, false));
        let facts = Facts::of(
            event,
            self.text_vars
                .get(&directive.id)
                .map_or(&[][..], Vec::as_slice),
        );
        let mut backlog = Backlog {
            // The creation number keeps ids distinct even if an event is delivered twice.
            id: derived_id(
                b"backlog",
                &[
                    &directive.id.to_le_bytes(),
                    event.id.as_bytes(),
                    &seq.to_le_bytes(),
                ],
            ),
            seq,
            directive: directive.id,
            current: 0,
            bindings: Vec::new(),
            time_last: time,
            first_seen: time,
            last_seen: time,
            children: Vec::new(),
            max_assets: assets,
            evidence: Vec::new(),
            alarm: None,
            emitted: 0,
            rank: 0,
            event_count: 0,
            events_noted: 0,
            usernames: Vec::new(),
            sensors: Vec::new(),
        };
        backlog.advance(directive, 0, facts, time, vec![event.id], assets);
        backlog.note(event);
        if directive.is_single_rule() {
            self.stats.backlogs_completed += 1;
            self.emit(&mut backlog, directive, event, time, depth, true, out, work);
            return;
        }
        // OSSIM emits at level 1 only if that alone could be an alarm (spec 5.6), using the same
        // risk formula as every other event (spec 13.11 fixed).
        let root_risk = risk(
            directive.priority,
            directive.reliability_at(0),
            assets.0,
            assets.1,
        );
        if root_risk.max() >= 1 {
            self.emit(
                &mut backlog,
                directive,
                event,
                time,
                depth,
                false,
                out,
                work,
            );
        }
        self.make_room(directive, &backlog, time, out);
        self.insert_backlog(backlog, directive);
    }

    /// After a backlog advanced: emit its directive event, then keep it (or finish it at a leaf).
    #[allow(clippy::too_many_arguments)]
    fn after_advance(
        &mut self,
        mut backlog: Backlog,
        directive: &CompiledDirective,
        trigger: Option<&Event>,
        time: Timestamp,
        depth: u8,
        out: &mut Outputs,
        work: &mut VecDeque<(Event, u8, Option<u32>)>,
    ) {
        let leaf = directive.nodes[backlog.current].children.is_empty();
        let synthetic;
        let trigger = match trigger {
            Some(e) => e,
            None => {
                synthetic = absence_trigger(&backlog, directive, time);
                &synthetic
            }
        };
        self.emit(
            &mut backlog,
            directive,
            trigger,
            time,
            depth,
            leaf,
            out,
            work,
        );
        if leaf {
            self.stats.backlogs_completed += 1;
        } else {
            self.insert_backlog(backlog, directive);
        }
    }

    /// Emits the directive event for the backlog's current level, and its alarm revision when
    /// the risk reaches 1 (or an alarm already exists).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        backlog: &mut Backlog,
        directive: &CompiledDirective,
        trigger: &Event,
        time: Timestamp,
        depth: u8,
        finished: bool,
        out: &mut Outputs,
        work: &mut VecDeque<(Event, u8, Option<u32>)>,
    ) {
        backlog.emitted += 1;
        let node = backlog.current;
        let level = directive.nodes[node].level;
        let reliability = directive.reliability_at(node);
        let facts = backlog.bindings.last().cloned();
        let mut de = Event::new(
            derived_id(
                b"directive-event",
                &[backlog.id.as_bytes(), &backlog.emitted.to_le_bytes()],
            ),
            time,
            DIRECTIVE_PLUGIN_ID,
            directive.id,
        );
        if let Some(f) = &facts {
            de.src_ip = f.src_ip;
            de.dst_ip = f.dst_ip;
            de.src_port = f.src_port;
            de.dst_port = f.dst_port;
            de.protocol = vigil_event::Protocol(f.protocol);
        }
        de.kind = EventKind::Detector;
        de.sensor_ip = trigger.sensor_ip;
        de.device_ip = trigger.device_ip;
        de.interface = trigger.interface.clone();
        de.priority = Some(directive.priority);
        de.reliability = Some(reliability);
        de.asset_src = Some(backlog.max_assets.0);
        de.asset_dst = Some(backlog.max_assets.1);
        de.filename = trigger.filename.clone();
        de.username = trigger.username.clone();
        de.password = trigger.password.clone();
        de.userdata = trigger.userdata.clone();
        de.data = Some(describe(backlog, directive));
        de.extra.insert("backlog_id".into(), backlog.id.to_string());
        de.extra.insert("directive_level".into(), level.to_string());
        de.extra.insert(
            "correlation_depth".into(),
            depth.saturating_add(1).to_string(),
        );
        de.provenance = trigger.provenance.clone();
        de.provenance.sequence = None;
        self.stats.directive_events += 1;

        // Policies see directive events too (e.g. lower the priority of alarms against a
        // printer); reliability stays the directive's.
        let steps = self.qualifier.qualify(&mut de);
        de.reliability = Some(reliability);
        let priority = de.priority.unwrap_or(directive.priority);
        let r = if steps.qualify {
            risk(
                priority,
                reliability,
                backlog.max_assets.0,
                backlog.max_assets.1,
            )
        } else {
            Risk::default()
        };
        de.risk_c = Some(r.compromise);
        de.risk_a = Some(r.attack);
        let raises_alarm = r.max() >= 1 || backlog.alarm.is_some();
        let (group, joined) = if raises_alarm {
            self.alarm_group(directive, &de, time, backlog.id)
        } else {
            (None, false)
        };
        if raises_alarm {
            let state = backlog.alarm.get_or_insert(AlarmState {
                revision: 0,
                risk: 0,
                reliability: 0,
                name: String::new(),
                priority: 0,
                group: None,
                counted_at: 0,
            });
            state.risk = state.risk.max(r.max());
            state.reliability = state.reliability.max(reliability);
            // A level reached by absence has no event of its own to name the alarm after.
            if state.name.is_empty() || !directive.nodes[node].not {
                state.name = alarm_name(&directive.name, &de, trigger);
            }
            state.priority = priority;
            state.group = group;
            let (correlation, ended_at) = match finished {
                true => (CorrelationState::Completed, Some(time)),
                false => (CorrelationState::Active, None),
            };
            if let Some(alarm) = revision(backlog, directive, correlation, ended_at) {
                out.alarms.push(alarm);
                self.stats.alarms += 1;
            }
        }
        self.raise_levels(&de, r, time, out);
        out.directive_events.push(de.clone());
        // A directive event that joined an existing alarm group is not correlated again
        // (OSSIM marks it is_correlated, spec 5.9).
        if steps.correlate && !joined {
            work.push_back((de, depth.saturating_add(1), Some(directive.id)));
        }
    }

    /// The alarm group of a directive event (`groupalarmby`): its id, and whether the group
    /// already existed (within `groupalarmtimeout` of its creation, on event time).
    fn alarm_group(
        &mut self,
        directive: &CompiledDirective,
        de: &Event,
        time: Timestamp,
        backlog: Uuid,
    ) -> (Option<Uuid>, bool) {
        use vigil_directives::GroupField;
        if directive.group_alarm_by.is_empty() {
            return (None, false);
        }
        let mut key = directive.id.to_le_bytes().to_vec();
        for field in &directive.group_alarm_by {
            match field {
                GroupField::SrcIp => key.extend_from_slice(de.src_ip.to_string().as_bytes()),
                GroupField::DstIp => key.extend_from_slice(de.dst_ip.to_string().as_bytes()),
                GroupField::SrcPort => key.extend_from_slice(&de.src_port.to_le_bytes()),
                GroupField::DstPort => key.extend_from_slice(&de.dst_port.to_le_bytes()),
            }
            key.push(b'|');
        }
        let key = derived_id(b"alarm-group-key", &[&key]);
        let secs = directive
            .group_alarm_timeout
            .unwrap_or(DEFAULT_GROUP_TIMEOUT_SECS);
        let opened = |until: Timestamp| {
            Timestamp::from_micros(
                until
                    .as_micros()
                    .saturating_sub(i64::from(secs) * 1_000_000),
            )
        };
        match self.groups.get(&key) {
            // A group takes members within its own window only (one opened by an event dated
            // ahead must not swallow the alarms before it); a backlog's own later revisions are
            // not "joining" the group it opened.
            Some(&(id, until, opener)) if opened(until) <= time && time <= until => {
                (Some(id), opener != backlog)
            }
            _ => {
                let until = Timestamp::from_micros(
                    time.as_micros().saturating_add(i64::from(secs) * 1_000_000),
                );
                // A new group each time the previous one for this key has expired.
                let id = derived_id(
                    b"alarm-group",
                    &[key.as_bytes(), &time.as_micros().to_le_bytes()],
                );
                self.groups.insert(key, (id, until, backlog));
                (Some(id), false)
            }
        }
    }

    fn asset_of(&self, event: &Event, source: bool) -> u8 {
        match source {
            true => event
                .asset_src
                .unwrap_or_else(|| self.assets.asset_value(event.src_ip)),
            false => event
                .asset_dst
                .unwrap_or_else(|| self.assets.asset_value(event.dst_ip)),
        }
    }

    /// Offers an event to one backlog's current children, in document order (spec 5.2).
    fn offer(
        &mut self,
        seq: u64,
        directive: &CompiledDirective,
        event: &Event,
        time: Timestamp,
        out: &mut Outputs,
    ) -> Offer {
        let lateness = i64::from(self.config.allowed_lateness_secs) * 1_000_000;
        let assets = (self.asset_of(event, true), self.asset_of(event, false));
        let Some(backlog) = self.backlogs.get_mut(&seq) else {
            return Offer::Ignored;
        };
        if time.as_micros() < backlog.time_last.as_micros().saturating_sub(lateness) {
            return Offer::Ignored;
        }
        let mut rule_matched = false;
        let mut counted = false;
        let children = directive.nodes[backlog.current].children.clone();
        for (i, &child) in children.iter().enumerate() {
            let node = &directive.nodes[child];
            if node.time_out > 0
                && time.as_micros()
                    > backlog
                        .time_last
                        .as_micros()
                        .saturating_add(i64::from(node.time_out) * 1_000_000)
            {
                continue;
            }
            let cx = Context {
                bindings: &backlog.bindings,
                assets: &self.assets,
                taxonomy: &self.taxonomy,
            };
            if !matches(node, event, cx) {
                continue;
            }
            rule_matched = true;
            let Some(progress) = backlog.children.get_mut(i) else {
                continue;
            };
            if node.not {
                progress.invalidated = true;
                continue;
            }
            if node.occurrence > 1
                && let Some(var) = node.sticky_different
                && let Some(key) = var_key(event, var)
            {
                if progress.seen.contains(&key) {
                    continue;
                }
                progress.seen.push(key);
            }
            // An aggregated event stands for `occurrences` identical ones (the edge collapsed a
            // shower of them); each counts toward the level, except under sticky_different,
            // where identical copies share one value and count once.
            let weight = if node.sticky_different.is_some() {
                1
            } else {
                event.occurrences.max(1)
            };
            progress.count = progress.count.saturating_add(weight);
            if progress.events.len() < crate::backlog::MAX_EVIDENCE_PER_LEVEL {
                progress.events.push(event.id);
            }
            progress.max_assets = (
                progress.max_assets.0.max(assets.0),
                progress.max_assets.1.max(assets.1),
            );
            backlog.last_seen = backlog.last_seen.max(time);
            if progress.count >= node.occurrence {
                let done = std::mem::take(progress);
                if !counted {
                    backlog.note(event);
                }
                return Offer::Fired(child, done.events, done.max_assets);
            }
            if !counted {
                counted = true;
                backlog.note(event);
            }
        }
        if !rule_matched {
            return Offer::Ignored;
        }
        if counted {
            // Counted without advancing: ranked again for eviction if its progress changed, and
            // its alarm revised when its event count doubled since the latest revision (so it
            // never understates an attack by more than half; its end gives the exact count).
            let progress = backlog.progress();
            if progress != backlog.rank {
                let (source, old) = (backlog.source(), backlog.rank);
                backlog.rank = progress;
                self.ranking.remove(directive.id, source, old, seq);
                self.ranking.insert(directive.id, source, progress, seq);
            }
            if backlog
                .alarm
                .as_ref()
                .is_some_and(|a| a.due_at(backlog.event_count))
                && let Some(alarm) = revision(backlog, directive, CorrelationState::Active, None)
            {
                out.alarms.push(alarm);
                self.stats.alarms += 1;
            }
        }
        Offer::Absorbed
    }

    /// Makes room for `new` under the per-source and per-directive caps by evicting the least
    /// advanced (then oldest) backlogs, and raises or revises the directive's pressure alarm
    /// when anything goes. A newcomer always gets in: a cap filled with backlogs of two events
    /// each must not keep a new brute force from being tracked.
    fn make_room(
        &mut self,
        directive: &CompiledDirective,
        new: &Backlog,
        time: Timestamp,
        out: &mut Outputs,
    ) {
        let (id, source) = (directive.id, new.source());
        let per_source = self.config.max_backlogs_per_source.max(1);
        let cap = self.config.max_backlogs_per_directive.max(1);
        let mut evicted = 0u64;
        while self.ranking.len_of_source(id, source) >= per_source
            && let Some((_, seq)) = self.ranking.least_of_source(id, source)
        {
            self.evict(directive, seq, time, out);
            evicted += 1;
        }
        while self.ranking.len(id) >= cap
            && let Some((_, seq)) = self.ranking.least(id)
        {
            self.evict(directive, seq, time, out);
            evicted += 1;
        }
        if evicted > 0 {
            self.stats.backlogs_evicted += evicted;
            self.report_pressure(directive, evicted, time, out);
        }
    }

    /// Evicts backlog `seq`; an alarm it raised ends `expired` at `time`.
    fn evict(
        &mut self,
        directive: &CompiledDirective,
        seq: u64,
        time: Timestamp,
        out: &mut Outputs,
    ) {
        if let Some(mut backlog) = self.remove_backlog(seq) {
            self.revise_on_end(&mut backlog, directive, time, out);
        }
    }

    /// Counts evictions in the directive's pressure incident and emits a revision when due.
    fn report_pressure(
        &mut self,
        directive: &CompiledDirective,
        evicted: u64,
        time: Timestamp,
        out: &mut Outputs,
    ) {
        let incident = match self.pressure.remove(&directive.id) {
            Some(p) if p.continues_at(time) => p,
            _ => Pressure::new(directive.id, time),
        };
        let mut incident = incident;
        if incident.add(evicted, time) {
            let top = self.top_sources(directive.id, 5);
            let live = self.ranking.len(directive.id);
            out.alarms.push(incident.alarm(
                (directive.id, &directive.name),
                self.config.max_backlogs_per_directive,
                live,
                &top,
            ));
            self.stats.alarms += 1;
        }
        self.pressure.insert(directive.id, incident);
    }

    /// The `n` sources holding the most live backlogs of `directive`, most first.
    fn top_sources(&self, directive: u32, n: usize) -> Vec<(IpAddr, usize)> {
        let mut counts: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for backlog in self.backlogs.values().filter(|b| b.directive == directive) {
            *counts.entry(backlog.source()).or_default() += 1;
        }
        let mut top: Vec<(IpAddr, usize)> = counts.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(n);
        top
    }

    /// The last revision of an alarm whose backlog ended without reaching a leaf.
    fn revise_on_end(
        &mut self,
        backlog: &mut Backlog,
        directive: &CompiledDirective,
        at: Timestamp,
        out: &mut Outputs,
    ) {
        if let Some(alarm) = revision(backlog, directive, CorrelationState::Expired, Some(at)) {
            out.alarms.push(alarm);
            self.stats.alarms += 1;
        }
    }

    fn insert_backlog(&mut self, mut backlog: Backlog, directive: &CompiledDirective) {
        let seq = backlog.seq;
        backlog.rank = backlog.progress();
        self.ranking
            .insert(directive.id, backlog.source(), backlog.rank, seq);
        match index_key(&backlog, directive) {
            Some(key) => Few::add(&mut self.keyed, key, seq),
            None => Few::add(&mut self.unkeyed, directive.id, seq),
        }
        if let Some(deadline) = backlog.deadline(directive) {
            self.deadlines.push(Reverse((deadline, seq)));
        }
        self.backlogs.insert(seq, backlog);
    }

    fn remove_backlog(&mut self, seq: u64) -> Option<Backlog> {
        let backlog = self.backlogs.remove(&seq)?;
        let set = self.set.clone();
        let key = set
            .position(backlog.directive)
            .and_then(|p| index_key(&backlog, &set.directives[p]));
        match key {
            Some(key) => Few::take(&mut self.keyed, key, seq),
            None => Few::take(&mut self.unkeyed, backlog.directive, seq),
        }
        self.ranking
            .remove(backlog.directive, backlog.source(), backlog.rank, seq);
        Some(backlog)
    }
}

enum Offer {
    Ignored,
    /// A child's rule matched (it counted toward a level, or invalidated a `not`).
    Absorbed,
    Fired(NodeId, Vec<Uuid>, (u8, u8)),
}

/// A backlog waits for one address when every child requires `from` (or `to`) to equal a single
/// back-referenced address: then only events with that address are offered to it.
fn index_key(backlog: &Backlog, directive: &CompiledDirective) -> Option<BacklogKey> {
    let children = &directive.nodes[backlog.current].children;
    let mut key = None;
    for &child in children {
        let node = &directive.nodes[child];
        let pick = |c: &crate::compile::AddrConstraint| -> Option<IpAddr> {
            if c.nets.refs.len() != 1 || !c.nets.any_of.is_empty() || c.home || c.not_home {
                return None;
            }
            let r = c.nets.refs[0];
            let facts = backlog.bindings.get(usize::from(r.level).checked_sub(1)?)?;
            match r.var {
                Var::SrcIp => Some(facts.src_ip),
                Var::DstIp => Some(facts.dst_ip),
                _ => None,
            }
        };
        let this = if node.not {
            return None;
        } else if let Some(ip) = pick(&node.src) {
            (directive.id, KeyField::Src, ip)
        } else if let Some(ip) = pick(&node.dst) {
            (directive.id, KeyField::Dst, ip)
        } else {
            return None;
        };
        match key {
            None => key = Some(this),
            Some(k) if k == this => {}
            Some(_) => return None,
        }
    }
    key
}

fn in_timetable(directive: &CompiledDirective, time: Timestamp) -> bool {
    let Some(timetable) = &directive.timetable else {
        return true;
    };
    let secs = time.as_secs();
    let day = ((secs.div_euclid(86_400) + 4).rem_euclid(7)) as u8; // 1970-01-01 was a Thursday
    let minute = (secs.rem_euclid(86_400) / 60) as u16;
    timetable.rules.iter().any(|rule| {
        (rule.days.is_empty() || rule.days.contains(&day))
            && (rule.minutes.is_empty()
                || rule
                    .minutes
                    .iter()
                    .any(|&(from, to)| from <= minute && minute <= to))
    })
}

/// A stand-in trigger for a level reached by absence (`not`): the previous level's addresses,
/// the latest user name and sensor, raised by the core itself (nothing arrived) at the time the
/// window closed.
fn absence_trigger(backlog: &Backlog, directive: &CompiledDirective, time: Timestamp) -> Event {
    let mut e = Event::new(
        derived_id(
            b"absence",
            &[backlog.id.as_bytes(), &backlog.emitted.to_le_bytes()],
        ),
        time,
        DIRECTIVE_PLUGIN_ID,
        directive.id,
    );
    if let Some(f) = backlog.bindings.last() {
        e.src_ip = f.src_ip;
        e.dst_ip = f.dst_ip;
        e.sensor_ip = f.sensor_ip;
        e.device_ip = f.sensor_ip;
    }
    e.username = backlog.usernames.last().cloned();
    let p = &mut e.provenance;
    p.sensor = backlog.sensors.last().cloned().unwrap_or_default();
    p.transport = Transport::Core;
    p.time_source = TimeSource::Edge;
    p.authenticated = true;
    e
}

/// OSSIM's directive event text: name, priority, then one line per fired level.
fn describe(backlog: &Backlog, directive: &CompiledDirective) -> String {
    let mut text = format!(
        "directive_event: {}, Priority: {} ",
        directive.name, directive.priority
    );
    let mut node = Some(backlog.current);
    let mut path = Vec::new();
    while let Some(n) = node {
        path.push(n);
        node = directive.nodes[n].parent;
    }
    for (n, facts) in path.iter().rev().zip(&backlog.bindings) {
        let rule = &directive.nodes[*n];
        let rel = match rule.reliability {
            vigil_directives::Reliability::Absolute(r) => format!("Rel: {r}"),
            vigil_directives::Reliability::Relative(r) => format!("Rel: +{r}"),
        };
        if rule.not {
            // Reached by absence: no event of its own, only the silence after the previous one.
            text.push_str(&format!(
                "Rule {} [absent for {} s: {}] [{rel}] {}:{} -> {}:{} ",
                rule.level,
                rule.time_out,
                rule.name,
                facts.src_ip,
                facts.src_port,
                facts.dst_ip,
                facts.dst_port
            ));
            continue;
        }
        text.push_str(&format!(
            "Rule {} [{}:{}] [{rel}] {}:{} -> {}:{} ",
            rule.level,
            facts.plugin_id,
            facts.plugin_sid,
            facts.src_ip,
            facts.src_port,
            facts.dst_ip,
            facts.dst_port
        ));
    }
    text
}

/// The next revision of a backlog's alarm (none if it has not raised one): its latest name,
/// priority, risk and group, the addresses of the level that fired last, and the story so far.
fn revision(
    backlog: &mut Backlog,
    directive: &CompiledDirective,
    correlation: CorrelationState,
    ended_at: Option<Timestamp>,
) -> Option<Alarm> {
    let node = &directive.nodes[backlog.current];
    let next_level = node.level.saturating_add(1);
    let evidence = backlog.evidence(next_level);
    let evidence_omitted = backlog.evidence_omitted();
    let facts = backlog.bindings.last().cloned();
    let state = backlog.alarm.as_mut()?;
    state.revision += 1;
    state.counted_at = backlog.event_count;
    let mut alarm = Alarm {
        revision: state.revision,
        directive_id: directive.id,
        priority: state.priority,
        reliability: state.reliability,
        risk: state.risk,
        level: node.level,
        last_seen: backlog.last_seen,
        correlation,
        ended_at,
        rule: node.name.clone(),
        event_count: backlog.event_count,
        evidence,
        evidence_omitted,
        usernames: backlog.usernames.clone(),
        sensors: backlog.sensors.clone(),
        group: state.group,
        ..Alarm::new(backlog.id, state.name.clone(), backlog.first_seen)
    };
    if let Some(f) = facts {
        alarm.src_ip = f.src_ip;
        alarm.src_port = f.src_port;
        alarm.dst_ip = f.dst_ip;
        alarm.dst_port = f.dst_port;
        alarm.protocol = vigil_event::Protocol(f.protocol);
    }
    Some(alarm)
}

/// A directive's name with OSSIM's placeholders (`SRC_IP`, `DST_IP`, `SRC_PORT`, `DST_PORT`,
/// `PROTOCOL`, `PLUGIN_ID`, `PLUGIN_SID`, `SENSOR`, `USERNAME`, `FILENAME`, `USERDATA1`..`9`)
/// replaced by the values of the directive event `de` and of the event that fired it. OSSIM's
/// console does this when it shows an alarm; Vigil names the alarm so once, for every reader.
fn alarm_name(template: &str, de: &Event, trigger: &Event) -> String {
    let value = |token: &str| -> Option<String> {
        Some(match token {
            "SRC_IP" => de.src_ip.to_string(),
            "DST_IP" => de.dst_ip.to_string(),
            "SRC_PORT" => de.src_port.to_string(),
            "DST_PORT" => de.dst_port.to_string(),
            "PROTOCOL" => de.protocol.to_string(),
            "PLUGIN_ID" => trigger.plugin_id.to_string(),
            "PLUGIN_SID" => trigger.plugin_sid.to_string(),
            "SENSOR" => trigger.provenance.sensor.clone(),
            "USERNAME" => trigger.username.clone()?,
            "FILENAME" => trigger.filename.clone()?,
            _ => {
                let n = token.strip_prefix("USERDATA")?.parse::<usize>().ok()?;
                trigger
                    .userdata
                    .slots()
                    .get(n.checked_sub(1)?)
                    .and_then(|slot| slot.as_ref().cloned())?
            }
        })
    };
    // Values come from logs: a user name with a newline or a bidi override must not forge a
    // line or reorder text wherever the name is shown or logged.
    let value = |token: &str| value(token).map(|v| printable(&v));
    let mut name = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(|c: char| c.is_ascii_uppercase()) {
        name.push_str(&rest[..start]);
        let word = &rest[start..];
        let end = word
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(word.len());
        let token = &word[..end];
        let joined_to_word = name.chars().last().is_some_and(|c| c.is_alphanumeric());
        match value(token).filter(|_| !joined_to_word) {
            Some(v) => name.push_str(&v),
            None => name.push_str(token),
        }
        rest = &word[end..];
    }
    name.push_str(rest);
    name
}

/// `text` with control characters and invisible formatting (bidi overrides, zero-width marks)
/// replaced by U+FFFD.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}' => '\u{FFFD}',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// A single (non-directive) event whose risk reached 1 is its own alarm (spec 7).
fn single_event_alarm(event: &Event, r: Risk, taxonomy: &Taxonomy) -> Alarm {
    // A sid no table knew is named by the sid its sensor sent.
    let sid = event.unknown_sid.unwrap_or(event.plugin_sid);
    let name = taxonomy.name(event.plugin_id, sid).map_or_else(
        || format!("event {}:{sid}", event.plugin_id),
        str::to_string,
    );
    Alarm {
        src_ip: event.src_ip,
        src_port: event.src_port,
        dst_ip: event.dst_ip,
        dst_port: event.dst_port,
        protocol: event.protocol,
        priority: event.priority.unwrap_or(0),
        reliability: event.reliability.unwrap_or(0),
        risk: r.max(),
        event_count: u64::from(event.occurrences.max(1)),
        evidence: vec![vigil_event::Evidence {
            level: 1,
            event_ids: vec![event.id],
        }],
        usernames: event
            .username
            .iter()
            .filter(|u| !u.is_empty())
            .cloned()
            .collect(),
        sensors: vec![event.provenance.sensor.clone()],
        ..Alarm::new(
            derived_id(b"event-alarm", &[event.id.as_bytes()]),
            name,
            event.time,
        )
    }
}

/// The alarm for a host whose compromise or attack level crossed its threshold: priority 3,
/// reliability 10, risk from the host's asset value.
fn level_alarm(c: Crossing, trigger: &Event, time: Timestamp, asset: u8) -> Alarm {
    let (what, src_ip, dst_ip) = match c.kind {
        LevelKind::Compromise => ("Compromise", c.host, IpAddr::from([0, 0, 0, 0])),
        LevelKind::Attack => ("Attack", IpAddr::from([0, 0, 0, 0]), c.host),
    };
    let host = match c.host {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    Alarm {
        src_ip,
        dst_ip,
        priority: 3,
        reliability: 10,
        risk: risk(3, 10, asset, asset).max(),
        event_count: 1,
        evidence: vec![vigil_event::Evidence {
            level: 1,
            event_ids: vec![trigger.id],
        }],
        ..Alarm::new(
            derived_id(
                b"level-alarm",
                &[&host, what.as_bytes(), &time.as_micros().to_le_bytes()],
            ),
            format!(
                "{what} level of {} reached {} (threshold {})",
                c.host, c.value, c.threshold
            ),
            time,
        )
    }
}

/// A UUID (version 8) derived from its inputs: the same inputs give the same id on every run.
pub fn derived_id(domain: &[u8], parts: &[&[u8]]) -> Uuid {
    let mut hasher = blake3::Hasher::new();
    hasher.update(domain);
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Which text variables each directive's back-references read (so backlogs keep only those).
fn text_vars(set: &CompiledSet) -> HashMap<u32, Vec<Var>> {
    set.directives
        .iter()
        .map(|d| {
            let mut vars: Vec<Var> = d
                .nodes
                .iter()
                .flat_map(|n| {
                    n.text
                        .iter()
                        .flat_map(|t| t.values.refs.iter().chain(&t.values.not_refs))
                })
                .map(|r| r.var)
                .filter(|v| {
                    matches!(
                        v,
                        Var::Filename | Var::Username | Var::Password | Var::Userdata(_)
                    )
                })
                .collect();
            vars.sort_by_key(|v| format!("{v:?}"));
            vars.dedup();
            (d.id, vars)
        })
        .collect()
}

/// Everything needed to resume correlation where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Snapshot format version.
    pub version: u32,
    /// Live backlogs, in creation order.
    pub backlogs: Vec<Backlog>,
    /// The engine's clock.
    pub watermark: Timestamp,
    /// Next creation number.
    pub next_seq: u64,
    /// Counters.
    pub stats: Stats,
    /// Compromise and attack levels.
    pub levels: Levels,
    /// Event time of the last sweep of forgotten levels.
    pub levels_swept: Timestamp,
    /// Alarm groups: key, group id, until when it accepts members, the backlog that opened it.
    #[serde(default)]
    pub groups: Vec<(Uuid, Uuid, Timestamp, Uuid)>,
    /// Per-sensor clocks and the replay's recent times.
    #[serde(default)]
    pub clock: Clock,
    /// Open out-of-bounds time incidents, by sensor.
    #[serde(default)]
    pub time_incidents: BTreeMap<String, TimeIncident>,
    /// Eviction incidents, by directive.
    #[serde(default)]
    pub pressure: BTreeMap<u32, Pressure>,
}

/// What a reload or restore kept and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CarryOver {
    /// Backlogs kept.
    pub kept: usize,
    /// Backlogs dropped because their directive was removed or changed.
    pub dropped: usize,
}

impl Engine {
    /// The engine's state, for [`Engine::restore`].
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: 1,
            backlogs: self.backlogs.values().cloned().collect(),
            watermark: self.watermark,
            next_seq: self.next_seq,
            stats: self.stats,
            levels: self.levels.clone(),
            levels_swept: self.levels_swept,
            groups: self
                .groups
                .iter()
                .map(|(key, (id, until, opener))| (*key, *id, *until, *opener))
                .collect(),
            clock: self.clock.clone(),
            time_incidents: self.time_incidents.clone(),
            pressure: self.pressure.clone(),
        }
    }

    /// An engine resumed from a snapshot. Backlogs of directives that no longer exist, or
    /// whose rule tree no longer has the backlog's position, are dropped and counted.
    pub fn restore(rules: Rules, config: EngineConfig, snapshot: Snapshot) -> (Engine, CarryOver) {
        let mut engine = Engine::new(rules, config);
        engine.watermark = snapshot.watermark;
        engine.next_seq = snapshot.next_seq;
        engine.stats = snapshot.stats;
        engine.levels = snapshot.levels;
        engine.levels_swept = snapshot.levels_swept;
        engine.groups = snapshot
            .groups
            .into_iter()
            .map(|(key, id, until, opener)| (key, (id, until, opener)))
            .collect();
        engine.clock = snapshot.clock;
        engine.time_incidents = snapshot.time_incidents;
        engine.pressure = snapshot.pressure;
        let carry = engine.adopt(snapshot.backlogs, |_| true);
        (engine, carry)
    }

    /// Swaps in new rules atomically. Backlogs of directives whose compiled definition (asset
    /// names resolved) is unchanged survive; the others are dropped and counted.
    pub fn reload(&mut self, rules: Rules) -> CarryOver {
        self.assets = rules.assets;
        self.taxonomy = rules.taxonomy;
        self.qualifier = rules.qualifier;
        let old = std::mem::replace(&mut self.set, rules.directives);
        self.text_vars = text_vars(&self.set);
        let backlogs: Vec<Backlog> = std::mem::take(&mut self.backlogs).into_values().collect();
        self.keyed.clear();
        self.unkeyed.clear();
        self.ranking.clear();
        self.deadlines.clear();
        let new = self.set.clone();
        self.adopt(backlogs, |id| {
            let before = old.position(id).map(|p| &old.directives[p]);
            let after = new.position(id).map(|p| &new.directives[p]);
            before.is_some() && before == after
        })
    }

    fn adopt(&mut self, backlogs: Vec<Backlog>, unchanged: impl Fn(u32) -> bool) -> CarryOver {
        let mut carry = CarryOver::default();
        let set = self.set.clone();
        for backlog in backlogs {
            let directive = set.position(backlog.directive).map(|p| &set.directives[p]);
            match directive {
                Some(d)
                    if unchanged(d.id)
                        && backlog.current < d.nodes.len()
                        && backlog.children.len() == d.nodes[backlog.current].children.len() =>
                {
                    carry.kept += 1;
                    self.insert_backlog(backlog, d);
                }
                _ => carry.dropped += 1,
            }
        }
        carry
    }
}
