//! Does an event satisfy a rule, given the events that fired the levels above it (spec 4)?
//!
//! Occurrence counting, `sticky_different` and windows are backlog state and live in
//! [`crate::backlog`]; this module is the stateless part.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use vigil_directives::{PortRange, TextField, TextValue, Var};
use vigil_event::Event;

use crate::compile::{AddrConstraint, BackRef, Constraint, Node};
use crate::taxonomy::Taxonomy;
use vigil_inventory::Assets;

/// What a backlog remembers of the event that fired one of its levels: the fields any
/// back-reference may ask for (texts only when the directive refers to them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Source address.
    pub src_ip: IpAddr,
    /// Destination address.
    pub dst_ip: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Protocol number.
    pub protocol: u8,
    /// Plugin id.
    pub plugin_id: u32,
    /// Plugin sid.
    pub plugin_sid: u32,
    /// Sensor address.
    pub sensor_ip: IpAddr,
    /// Text fields that some back-reference of the directive uses (absent = empty).
    pub texts: Vec<(Var, Box<str>)>,
}

impl Facts {
    /// The facts of `event`, keeping the text fields named in `text_vars`.
    pub fn of(event: &Event, text_vars: &[Var]) -> Facts {
        Facts {
            src_ip: event.src_ip,
            dst_ip: event.dst_ip,
            src_port: event.src_port,
            dst_port: event.dst_port,
            protocol: event.protocol.0,
            plugin_id: event.plugin_id,
            plugin_sid: sensor_sid(event),
            sensor_ip: event.sensor_ip,
            texts: text_vars
                .iter()
                .filter_map(|&var| Some((var, text_of(event, var)?.into())))
                .collect(),
        }
    }

    fn text(&self, var: Var) -> Option<&str> {
        self.texts
            .iter()
            .find(|(v, _)| *v == var)
            .map(|(_, t)| &**t)
    }
}

/// The sid as the sensor sent it: an event whose sid no table knew carries the generic sid,
/// but directives are written against the sensor's sids, so they match on the original.
pub fn sensor_sid(event: &Event) -> u32 {
    event.unknown_sid.unwrap_or(event.plugin_sid)
}

/// The text an event holds for a text variable (`None` when absent or empty).
pub fn text_of(event: &Event, var: Var) -> Option<&str> {
    let value = match var {
        Var::Filename => event.filename.as_deref(),
        Var::Username => event.username.as_deref(),
        Var::Password => event.password.as_deref(),
        Var::Userdata(n) => event
            .userdata
            .get(usize::from(n))
            .and_then(|v| v.as_deref()),
        _ => None,
    };
    value.filter(|v| !v.is_empty())
}

fn text_field(event: &Event, field: TextField) -> Option<&str> {
    text_of(
        event,
        match field {
            TextField::Filename => Var::Filename,
            TextField::Username => Var::Username,
            TextField::Password => Var::Password,
            TextField::Userdata(n) => Var::Userdata(n),
        },
    )
}

/// The fired levels of a backlog: `levels[n - 1]` fired level `n`.
pub type Bindings<'a> = &'a [Facts];

fn bound(bindings: Bindings<'_>, r: BackRef) -> Option<&Facts> {
    bindings.get(usize::from(r.level).checked_sub(1)?)
}

fn ref_ip(bindings: Bindings<'_>, r: BackRef) -> Option<IpAddr> {
    let f = bound(bindings, r)?;
    match r.var {
        Var::SrcIp => Some(f.src_ip),
        Var::DstIp => Some(f.dst_ip),
        Var::Sensor => Some(f.sensor_ip),
        _ => None,
    }
}

/// What matching needs besides the event: the fired levels' facts, the assets, the taxonomy.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Facts of the fired levels.
    pub bindings: Bindings<'a>,
    /// Asset inventory (HOME_NET).
    pub assets: &'a Assets,
    /// Products, categories, subcategories.
    pub taxonomy: &'a Taxonomy,
}

fn ref_u32(cx: Context<'_>, r: BackRef) -> Option<u32> {
    let f = bound(cx.bindings, r)?;
    match r.var {
        Var::SrcPort => Some(f.src_port.into()),
        Var::DstPort => Some(f.dst_port.into()),
        Var::Protocol => Some(f.protocol.into()),
        Var::PluginId => Some(f.plugin_id),
        Var::PluginSid => Some(f.plugin_sid),
        Var::Product => cx.taxonomy.product(f.plugin_id),
        Var::Category => cx.taxonomy.category(f.plugin_id, f.plugin_sid),
        Var::Subcategory => cx.taxonomy.subcategory(f.plugin_id, f.plugin_sid),
        _ => None,
    }
}

/// Membership in a value constraint (positive: some literal or reference equals; negative:
/// none does). A reference to a missing value matches nothing.
fn check<T: PartialEq>(
    c: &Constraint<T>,
    value: &T,
    resolve: impl Fn(BackRef) -> Option<T>,
) -> bool {
    let positive = c.any_of.is_empty() && c.refs.is_empty()
        || c.any_of.contains(value)
        || c.refs.iter().any(|&r| resolve(r).as_ref() == Some(value));
    positive
        && !c.none_of.contains(value)
        && !c
            .not_refs
            .iter()
            .any(|&r| resolve(r).as_ref() == Some(value))
}

fn check_u32(c: &Constraint<u32>, value: u32, cx: Context<'_>) -> bool {
    check(c, &value, |r| ref_u32(cx, r))
}

/// A taxonomy constraint: an event without that taxonomy matches only an unconstrained rule.
/// The lookup runs only for rules that constrain it (most do not).
fn check_taxonomy(
    c: &Constraint<u32>,
    value: impl FnOnce() -> Option<u32>,
    cx: Context<'_>,
) -> bool {
    if c.is_empty() {
        return true;
    }
    value().is_some_and(|v| check_u32(c, v, cx))
}

/// Reputation (spec 4 step 9): `from_rep`/`to_rep` need a reputation entry for the address
/// (the agent's `rep_prio_*`), the thresholds a priority/reliability at least that high.
fn check_reputation(rep: &vigil_directives::Reputation, event: &Event) -> bool {
    let value = |key: &str| event.extra.get(key).and_then(|v| v.parse::<u8>().ok());
    let side = |required: bool, min_pri: Option<u8>, min_rel: Option<u8>, pri: &str, rel: &str| {
        (!required || value(pri).is_some())
            && min_pri.is_none_or(|m| value(pri).is_some_and(|p| p >= m))
            && min_rel.is_none_or(|m| value(rel).is_some_and(|r| r >= m))
    };
    side(
        rep.from_rep,
        rep.from_min_priority,
        rep.from_min_reliability,
        "rep_prio_src",
        "rep_rel_src",
    ) && side(
        rep.to_rep,
        rep.to_min_priority,
        rep.to_min_reliability,
        "rep_prio_dst",
        "rep_rel_dst",
    )
}

/// Ports: a range contains the port; port 0 in a positive list is a wildcard (spec 4.10).
fn check_port(c: &Constraint<PortRange>, port: u16, cx: Context<'_>) -> bool {
    let in_range = |r: &PortRange| r.start <= port && port <= r.end;
    let is_ref = |r: BackRef| ref_u32(cx, r) == Some(u32::from(port));
    let positive = c.any_of.is_empty() && c.refs.is_empty()
        || c.any_of
            .iter()
            .any(|r| (r.start == 0 && r.end == 0) || in_range(r))
        || c.refs.iter().any(|&r| is_ref(r));
    positive && !c.none_of.iter().any(in_range) && !c.not_refs.iter().any(|&r| is_ref(r))
}

/// Addresses (spec 4.6): the most specific positive or negative hit decides; without a hit,
/// HOME_NET keywords decide; an unrestricted list accepts anything else.
fn check_addr(c: &AddrConstraint, ip: IpAddr, bindings: Bindings<'_>, assets: &Assets) -> bool {
    let longest = |nets: &[IpNet], refs: &[BackRef]| -> Option<u8> {
        let net_hit = nets
            .iter()
            .filter(|n| n.contains(&ip))
            .map(IpNet::prefix_len)
            .max();
        let ref_hit = refs
            .iter()
            .any(|&r| ref_ip(bindings, r) == Some(ip))
            .then_some(128);
        net_hit.max(ref_hit)
    };
    let positive = longest(&c.nets.any_of, &c.nets.refs);
    let negative = longest(&c.nets.none_of, &c.nets.not_refs);
    if positive.is_some() || negative.is_some() {
        // The most specific hit wins; a tie goes to the positive list.
        return match (positive, negative) {
            (Some(p), Some(n)) => p >= n,
            (Some(_), None) => true,
            (None, _) => false,
        };
    }
    if c.home || c.not_home {
        let home = assets.in_home_net(ip);
        return (!c.home || home) && (!c.not_home || !home);
    }
    !c.restricted
}

fn check_sensor(c: &Constraint<String>, event: &Event, bindings: Bindings<'_>) -> bool {
    let ip = event.sensor_ip.to_string();
    let name = event.provenance.sensor.to_ascii_lowercase();
    let is = |s: &String| *s == ip || *s == name;
    let is_ref = |r: BackRef| ref_ip(bindings, r) == Some(event.sensor_ip);
    let positive = c.any_of.is_empty() && c.refs.is_empty()
        || c.any_of.iter().any(is)
        || c.refs.iter().any(|&r| is_ref(r));
    positive && !c.none_of.iter().any(is) && !c.not_refs.iter().any(|&r| is_ref(r))
}

/// Text (spec 4.10): `ANY` = present, `EMPTY` = absent, literals equal ignoring case; a
/// reference to a level whose field was absent stands for `EMPTY`.
fn check_text(c: &Constraint<TextValue>, value: Option<&str>, bindings: Bindings<'_>) -> bool {
    let lowered = value.map(str::to_lowercase);
    let accepts = |v: &TextValue| match v {
        TextValue::Any => value.is_some(),
        TextValue::Empty => value.is_none(),
        TextValue::Literal(l) => lowered.as_deref() == Some(l.as_str()),
    };
    let ref_accepts = |r: BackRef| match bound(bindings, r) {
        Some(facts) => match facts.text(r.var) {
            Some(t) => lowered.as_deref() == Some(t.to_lowercase().as_str()),
            None => value.is_none(),
        },
        None => false,
    };
    let positive = c.any_of.is_empty() && c.refs.is_empty()
        || c.any_of.iter().any(accepts)
        || c.refs.iter().any(|&r| ref_accepts(r));
    positive && !c.none_of.iter().any(accepts) && !c.not_refs.iter().any(|&r| ref_accepts(r))
}

/// Whether `event` satisfies every constraint of `node` (spec 4 steps 1-12), given the facts of
/// the levels that fired above it.
pub fn matches(node: &Node, event: &Event, cx: Context<'_>) -> bool {
    let (bindings, assets) = (cx.bindings, cx.assets);
    if node.unsupported || event.kind != node.kind || event.plugin_id == 0 {
        return false;
    }
    let sid = sensor_sid(event);
    check_u32(&node.plugin_sid, sid, cx)
        && check_u32(&node.plugin_id, event.plugin_id, cx)
        && check_taxonomy(&node.product, || cx.taxonomy.product(event.plugin_id), cx)
        && check_taxonomy(
            &node.category,
            || cx.taxonomy.category(event.plugin_id, sid),
            cx,
        )
        && check_taxonomy(
            &node.subcategory,
            || cx.taxonomy.subcategory(event.plugin_id, sid),
            cx,
        )
        && !node.suppress.contains(&(event.plugin_id, sid))
        && check_addr(&node.src, event.src_ip, bindings, assets)
        && check_addr(&node.dst, event.dst_ip, bindings, assets)
        && check_port(&node.src_port, event.src_port, cx)
        && check_port(&node.dst_port, event.dst_port, cx)
        && check(&node.protocol, &event.protocol.0, |r| {
            ref_u32(cx, r).and_then(|p| u8::try_from(p).ok())
        })
        && check_reputation(&node.reputation, event)
        && check_sensor(&node.sensor, event, bindings)
        && node
            .text
            .iter()
            .all(|t| check_text(&t.values, text_field(event, t.field), bindings))
        && monitor_matches(node, event)
}

/// Monitor rules: when both sides name a condition and value they must be equal (spec 4.11).
fn monitor_matches(node: &Node, event: &Event) -> bool {
    let Some(monitor) = &node.monitor else {
        return true;
    };
    let condition = event.extra.get("condition");
    let value = event.extra.get("value");
    let condition_ok =
        condition.is_none_or(|c| c.eq_ignore_ascii_case(condition_name(monitor.condition)));
    let value_ok = value.is_none_or(|v| v.eq_ignore_ascii_case(&monitor.value));
    condition_ok && value_ok
}

fn condition_name(c: vigil_directives::Condition) -> &'static str {
    use vigil_directives::Condition::*;
    match c {
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
    }
}

/// The value of `var` in `event`, as text, for `sticky_different` (None when absent).
pub fn var_key(event: &Event, var: Var) -> Option<String> {
    Some(match var {
        Var::SrcIp => event.src_ip.to_string(),
        Var::DstIp => event.dst_ip.to_string(),
        Var::SrcPort => event.src_port.to_string(),
        Var::DstPort => event.dst_port.to_string(),
        Var::Protocol => event.protocol.0.to_string(),
        Var::PluginId => event.plugin_id.to_string(),
        Var::PluginSid => sensor_sid(event).to_string(),
        Var::Sensor => event.sensor_ip.to_string(),
        Var::Filename | Var::Username | Var::Password | Var::Userdata(_) => {
            text_of(event, var)?.to_lowercase()
        }
        Var::Product | Var::Category | Var::Subcategory | Var::Entity => return None,
    })
}
