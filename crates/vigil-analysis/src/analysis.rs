//! Qualification and correlation of one event: the code production and `vigil replay` share.
//!
//! Order (spec 1, with OSSIM's policy-before-priority mistake fixed, spec 13.13): plugin sid
//! table (priority, reliability, unknown sid), then the first matching policy (priority and
//! reliability overrides, roles), then cross-correlation against the host inventory (role
//! `cross_correlate`: a confirmed vulnerability makes reliability 10, an impossible attack 0),
//! then the engine (risk, C & A levels, single-event alarms if
//! the role `qualify`; directives if `correlate`). Directive events go through the same policies
//! inside the engine.

use std::sync::Arc;

use vigil_correlate::{Engine, Qualifier, Steps};
use vigil_event::{Alarm, Event, Transport};
use vigil_plugins::sid_table::SidTable;
use vigil_policy::PolicySet;

use crate::correlation::CrossData;
use crate::enrich::apply_sid_table;

/// What one event led to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    /// Events to store: the input event (unless its policy says not to store it and it raised
    /// nothing) and every directive event.
    pub events: Vec<Event>,
    /// Alarm revisions.
    pub alarms: Vec<Alarm>,
    /// The input event's sid was not in any sid table.
    pub unknown_sid: bool,
    /// The input event's time was out of bounds (it is marked, and always stored).
    pub time_out_of_bounds: bool,
}

/// Whether a stored event was an input of correlation, so that a replay of the stored tail
/// (crash recovery) feeds the engine exactly what production fed it. Directive events are its
/// outputs; the core's own reports about the bus (`transport: "core"`) are stored as they are,
/// with their alarm, and never correlated: qualifying one again would raise a second,
/// single-event alarm for a sid no table knows.
pub fn is_correlation_input(event: &Event) -> bool {
    let directive_event = event.plugin_id == vigil_correlate::DIRECTIVE_PLUGIN_ID
        && event.extra.contains_key("backlog_id");
    !directive_event && event.provenance.transport != Transport::Core
}

/// Policies applied to directive events inside the engine.
pub(crate) struct PolicyQualifier(pub(crate) PolicySet);

impl Qualifier for PolicyQualifier {
    fn qualify(&self, event: &mut Event) -> Steps {
        let decision = self.0.decide(event);
        // A directive event's reliability is the directive's (OSSIM never overrides it).
        let reliability = event.reliability;
        decision.apply(event);
        event.reliability = reliability;
        Steps {
            qualify: decision.roles.qualify,
            correlate: decision.roles.correlate,
        }
    }
}

/// The qualification and correlation pipeline with its state.
pub struct Analyzer {
    sids: Arc<SidTable>,
    policies: PolicySet,
    cross: Arc<CrossData>,
    engine: Engine,
}

impl Analyzer {
    /// A pipeline over these sid tables, policies, cross-correlation data and an engine built
    /// over the same setup's rules.
    pub fn new(
        sids: Arc<SidTable>,
        policies: PolicySet,
        cross: Arc<CrossData>,
        engine: Engine,
    ) -> Analyzer {
        Analyzer {
            sids,
            policies,
            cross,
            engine,
        }
    }

    /// The engine (for snapshots, reloads and statistics).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, mutably.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Swaps in a new setup (directives, assets, policies, cross-correlation data) atomically;
    /// backlogs of unchanged directives carry over.
    pub fn reload(
        &mut self,
        setup: &crate::correlation::Setup,
    ) -> vigil_correlate::engine::CarryOver {
        self.policies = setup.policies.clone();
        self.cross = setup.cross.clone();
        self.engine.reload(setup.rules())
    }

    /// Adjusts reliability from what the destination is known to run or be vulnerable to. An
    /// event whose sid no table knew is looked up by the sid its sensor gave: the attack is
    /// what the sensor saw, whether or not Vigil knows its name.
    fn cross_correlate(&self, event: &mut Event) {
        let cross = &self.cross;
        if cross.inventory.host(event.dst_ip).is_none() {
            return;
        }
        let verdict = match event.unknown_sid {
            Some(sid) => {
                let mut as_sent = event.clone();
                as_sent.plugin_sid = sid;
                vigil_inventory::cross_correlate(
                    &as_sent,
                    &cross.inventory,
                    &cross.references,
                    None,
                )
            }
            None => {
                vigil_inventory::cross_correlate(event, &cross.inventory, &cross.references, None)
            }
        };
        verdict.apply(event);
    }

    /// Qualifies and correlates one event.
    pub fn analyze(&mut self, mut event: Event) -> Analysis {
        let unknown_sid = event.plugin_id != vigil_correlate::DIRECTIVE_PLUGIN_ID
            && apply_sid_table(&self.sids, &mut event);
        let decision = self.policies.decide(&event);
        decision.apply(&mut event);
        if decision.roles.cross_correlate && event.plugin_id != vigil_correlate::DIRECTIVE_PLUGIN_ID
        {
            self.cross_correlate(&mut event);
        }
        let steps = Steps {
            qualify: decision.roles.qualify,
            correlate: decision.roles.correlate,
        };
        let out = self.engine.process_with(&event, steps);
        if steps.qualify {
            event.risk_c = Some(out.risk.compromise);
            event.risk_a = Some(out.risk.attack);
        }
        event.provenance.time_out_of_bounds_secs = out.time_out_of_bounds_secs;
        let time_out_of_bounds = out.time_out_of_bounds_secs.is_some();
        let raised_something = !out.alarms.is_empty() || !out.directive_events.is_empty();
        let mut events = Vec::with_capacity(1 + out.directive_events.len());
        if decision.roles.store || raised_something || time_out_of_bounds {
            events.push(event);
        }
        events.extend(out.directive_events);
        Analysis {
            events,
            alarms: out.alarms,
            unknown_sid,
            time_out_of_bounds,
        }
    }
}

/// Feeds `analyzer` the correlation input ([`is_correlation_input`]) among the events of the
/// event log `log` whose time lies in `from..=to`, in record order (the order the server
/// analysed them), handing each analysis to `each`; once `each` says stop, the rest is not fed.
/// Returns how many events were fed.
pub fn replay_stored(
    log: &vigil_store::Log<Event>,
    from: vigil_event::Timestamp,
    to: vigil_event::Timestamp,
    analyzer: &mut Analyzer,
    mut each: impl FnMut(Analysis) -> std::ops::ControlFlow<()>,
) -> Result<u64, vigil_store::StoreError> {
    let range = vigil_store::Query {
        from,
        to,
        ..vigil_store::Query::default()
    };
    let mut fed = 0;
    let mut stopped = false;
    log.scan_time_range(&range, |event| {
        if !stopped && is_correlation_input(&event) {
            fed += 1;
            stopped = each(analyzer.analyze(event)).is_break();
        }
    })?;
    Ok(fed)
}
