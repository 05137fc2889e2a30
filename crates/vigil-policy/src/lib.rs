//! OSSIM-style policies and roles: for each event, which server roles apply (correlate,
//! cross-correlate, store, qualify, forward) and whether its priority or reliability is
//! overridden (OSSIM server spec section 6).
//!
//! A policy file is TOML. It is compiled once, against the asset inventory, into an immutable
//! [`PolicySet`]; [`PolicySet::decide`] then evaluates an event purely: no clock, no I/O, no
//! allocation (time conditions look at the event's own time, [`Event::time`], in UTC).
//!
//! # Evaluation
//!
//! * Policies are tried in file order; the **first policy whose conditions all hold wins**. An
//!   omitted condition holds for every event (ANY). When no policy matches, the event gets the
//!   `[defaults]` roles and keeps its priority and reliability.
//! * The winning policy's `priority` (0..=5) and `reliability` (0..=10) replace the event's,
//!   also for directive events (plugin 1505): this is how alarms are reprioritised. `-1` or an
//!   omitted key keeps the event's value. See [`Decision::apply`].
//! * The winning policy's `roles` replace the defaults for that event; a role it does not
//!   mention keeps the `[defaults]` value.
//! * Policies are matched **after** qualification (the plugin sid table has set priority and
//!   reliability), so `match_priority`/`match_reliability` see the real values. OSSIM matched
//!   before and its risk filters saw the agent's (usually absent) values (spec 13.13).
//!
//! # Schema
//!
//! ```toml
//! # Server role defaults: what an event gets when no policy matches, and what a policy's
//! # `roles` table falls back to for the roles it omits. The whole table and each key are
//! # optional; the values shown are the built-in defaults.
//! [defaults]
//! correlate = true         # run directive correlation on the event
//! cross_correlate = true   # run cross-correlation (vulnerability / inventory) on the event
//! store = true             # keep the event in the historian
//! qualify = true           # compute risk (may raise an alarm)
//! forward_events = false   # forward the event to an upper server
//! forward_alarms = false   # forward alarms to an upper server
//!
//! # Policies, tried in this order; the first one whose conditions all hold wins.
//! [[policy]]
//! name = "printers"                  # required, non-empty, unique (ignoring case)
//! description = "Printers are noisy and harmless: lower every alarm about them"  # optional
//! destinations = ["printers"]        # an asset name: host, network or host group
//! priority = 1                       # -1 = keep (default); 0..=5 replaces, also for alarms (1505)
//!
//! [[policy]]
//! name = "ssh brute force from outside, office hours"
//! sources = ["!HOME_NET"]            # anything outside HOME_NET
//! destinations = ["10.0.0.0/8", "!10.0.9.0/24", "!db1"]
//! ports = ["tcp/22", "tcp/2222"]     # destination ports
//! plugins = [{ plugin_id = 4003, sids = [1, 2, 3] }, { plugin_id = 4004 }]
//! sensors = ["dmz-sensor", "192.0.2.10"]
//! match_priority = [2, "3-5"]        # the event's (qualified) priority
//! time = { days = ["mon-fri"], hours = ["08:00-18:00"] }
//! reliability = 8                    # absent or -1 = keep; 0..=10 replaces
//! roles = { forward_alarms = true }  # omitted roles: the [defaults] values
//!
//! [[policy]]
//! name = "night and weekend DNS"
//! ports = ["udp/53", "53"]           # "53" = port 53 of any protocol
//! source_ports = ["1024-65535"]
//! time = { days = ["fri-mon"], hours = ["22:00-06:00"], months = ["nov-feb"], month_days = ["25-5"] }
//!
//! [[policy]]
//! name = "drop scanner noise"
//! sources = ["scanners"]
//! match_reliability = ["0-3"]
//! priority = 0                       # 0 is a real priority: the event can never raise an alarm
//! roles = { correlate = false, cross_correlate = false, store = false, qualify = false }
//! ```
//!
//! ## Keys of a `[[policy]]`
//!
//! | key | value | holds when |
//! |---|---|---|
//! | `name` | string, required | (identifies the policy in [`Decision::policy`] and diagnostics) |
//! | `description` | string | (free text) |
//! | `priority` | integer -1 or 0..=5 | (override; -1 or absent = keep the event's) |
//! | `reliability` | integer -1 or 0..=10 | (override; -1 or absent = keep the event's) |
//! | `roles` | table of the six role keys, booleans | (replace the defaults) |
//! | `sources` | list of addresses | the event's `src_ip` matches the list |
//! | `destinations` | list of addresses | the event's `dst_ip` matches the list |
//! | `ports` | list of ports | the event's `protocol` and `dst_port` match the list |
//! | `source_ports` | list of ports | the event's `protocol` and `src_port` match the list |
//! | `plugins` | list of `{ plugin_id = N, sids = [..] }` | some entry has the event's `plugin_id` and lists its `plugin_sid` (or has no/empty `sids`: any sid) |
//! | `sensors` | list of sensors | the event's sensor matches the list |
//! | `time` | table: `days`, `hours`, `months`, `month_days` | the event's time (UTC) is inside every given part |
//! | `match_priority` | list of integers 0..=5 or `"a-b"` ranges | the event has a priority and it is listed |
//! | `match_reliability` | list of integers 0..=10 or `"a-b"` ranges | the event has a reliability and it is listed |
//!
//! ## Lists with `ANY` and negation
//!
//! `sources`, `destinations`, `ports`, `source_ports` and `sensors` are lists of elements; an
//! element prefixed with `!` is negated. A list holds when (it contains `ANY`, or it has no
//! un-negated element, or some un-negated element matches) **and** no negated element matches:
//! a negation always excludes, whatever its position or specificity. `["!HOME_NET"]` = anything
//! outside HOME_NET; `["10.0.0.0/8", "!10.0.0.5"]` = 10/8 except 10.0.0.5. An empty list is an
//! error (omit the key to match anything), and so is `!ANY`. Keywords are case-insensitive.
//!
//! * Addresses: an IPv4 or IPv6 address, a CIDR (`10.0.0.0/8`; host bits are ignored), `ANY`,
//!   `HOME_NET` (inside any non-external network of the inventory), or the name of a host,
//!   network or host group of the inventory (resolved when the file is compiled; an unknown name
//!   is an error). IPv4-mapped IPv6 addresses are treated as IPv4, in events and in the file.
//! * Ports: `"proto/port"`, `"proto/low-high"` (inclusive), or without `proto/` for any protocol
//!   (`"22"`, `"1000-2000"`, or a bare integer `22`). `proto` is an OSSIM protocol name (`tcp`,
//!   `udp`, `icmp`, `sctp`, ..., any case) or an IP protocol number. Port 0 is the event's "no
//!   port".
//! * Sensors: an address or CIDR, compared with the event's `sensor_ip` and with its
//!   `provenance.sensor` when that is an address (unnamed sensors are known by their address);
//!   anything else is a sensor name, compared with `provenance.sensor` ignoring ASCII case.
//!
//! ## Time windows
//!
//! All in UTC, of the event's time; every given part must hold; each part is a non-empty list
//! whose elements are single values or inclusive ranges `"a-b"` that wrap around when `a` comes
//! after `b`:
//!
//! * `days`: week days `mon`..`sun` (or full names, or any prefix of at least three letters, any
//!   case): `"mon-fri"`, `"fri-mon"` (Friday to Monday), `"sun"`.
//! * `hours`: `"HH:MM-HH:MM"` or `"HH:MM"` (00:00..23:59), at minute precision and inclusive at
//!   both ends: `"08:00-18:00"` holds from 08:00:00 to 18:00:59.999999; `"22:00-06:00"` from
//!   22:00 to 06:00:59 the next morning (the day part is checked on the event's own date).
//! * `months`: `jan`..`dec` (same name rules): `"jan-mar"`, `"nov-feb"`.
//! * `month_days`: `1`..`31` as integers or strings: `"1-15"`, `"25-5"`, `31` (never holds in
//!   shorter months).
//!
//! ## Errors
//!
//! Policies are security configuration, so nothing is silently ignored: a TOML syntax error,
//! an unknown key (with a suggestion for near misses), a value of the wrong type or out of
//! range, a bad address, CIDR, port or time, an unknown asset name, a missing or duplicate
//! name, and a policy placed after one without any condition (it could never match) are all
//! reported, each as a [`Diagnostic`] with its file, line, column and key path, e.g.
//! ``policies.toml:12:11: key `policy[2].ports[0]`: invalid port `tcp/99999`: ...``. Every
//! problem of a file is reported at once (but when the TOML syntax itself is broken, only the
//! syntax errors are); a file with any error is not used.

mod compile;
mod diagnostic;
mod model;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vigil_event::Event;
use vigil_inventory::Assets;

pub use diagnostic::Diagnostic;

/// The server roles that apply to one event (OSSIM `server_role` / `policy_role_reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// Run directive correlation on the event.
    pub correlate: bool,
    /// Run cross-correlation (vulnerability and inventory) on the event.
    pub cross_correlate: bool,
    /// Keep the event in the historian.
    pub store: bool,
    /// Qualify the event: compute its risk, which may raise an alarm.
    pub qualify: bool,
    /// Forward the event to an upper server.
    pub forward_events: bool,
    /// Forward alarms to an upper server.
    pub forward_alarms: bool,
}

impl Default for Roles {
    /// The built-in server defaults: correlate, cross-correlate, store and qualify; forward nothing.
    fn default() -> Self {
        Roles {
            correlate: true,
            cross_correlate: true,
            store: true,
            qualify: true,
            forward_events: false,
            forward_alarms: false,
        }
    }
}

/// What the policies decided for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The name of the policy that matched; `None` when none did (the defaults apply).
    pub policy: Option<Arc<str>>,
    /// The priority to give the event; `None` = keep its own.
    pub priority: Option<u8>,
    /// The reliability to give the event; `None` = keep its own.
    pub reliability: Option<u8>,
    /// The roles that apply to the event.
    pub roles: Roles,
}

impl Decision {
    /// Apply the priority and reliability overrides to `event` (the roles are for the caller
    /// to act on).
    pub fn apply(&self, event: &mut Event) {
        if let Some(priority) = self.priority {
            event.priority = Some(priority);
        }
        if let Some(reliability) = self.reliability {
            event.reliability = Some(reliability);
        }
    }
}

/// A compiled, immutable set of policies. Cloning is cheap (one reference count).
#[derive(Debug, Clone)]
pub struct PolicySet {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    defaults: Roles,
    policies: Vec<model::Policy>,
    /// The inventory, kept only when some policy uses HOME_NET (asset names are already resolved).
    assets: Arc<Assets>,
}

impl PolicySet {
    /// Compile the policy file `text` (whose path is `file`, used in diagnostics), resolving
    /// asset names through `assets`. Returns every problem found when there is any.
    pub fn parse(file: &Path, text: &str, assets: &Assets) -> Result<PolicySet, Vec<Diagnostic>> {
        let compiled = compile::compile(file, text, assets)?;
        let assets = if compiled.uses_home_net {
            Arc::new(assets.clone())
        } else {
            Arc::default()
        };
        Ok(PolicySet {
            inner: Arc::new(Inner {
                defaults: compiled.defaults,
                policies: compiled.policies,
                assets,
            }),
        })
    }

    /// Read and compile the policy file at `path` (see [`PolicySet::parse`]). An unreadable
    /// file is reported as one whole-file diagnostic.
    pub fn load(path: &Path, assets: &Assets) -> Result<PolicySet, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![diagnostic::whole_file(
                path,
                format!("cannot read the policy file: {e}"),
            )]
        })?;
        PolicySet::parse(path, &text, assets)
    }

    /// No policies and the built-in default roles: what runs when no policy file is configured.
    pub fn permissive() -> PolicySet {
        PolicySet {
            inner: Arc::new(Inner {
                defaults: Roles::default(),
                policies: Vec::new(),
                assets: Arc::default(),
            }),
        }
    }

    /// Decide for `event`: the first policy whose conditions all hold, or the defaults. Pure:
    /// looks only at the event (time conditions use [`Event::time`]) and allocates nothing.
    pub fn decide(&self, event: &Event) -> Decision {
        let mut civil = None;
        for policy in &self.inner.policies {
            if policy
                .conditions
                .matches(event, &self.inner.assets, &mut civil)
            {
                return Decision {
                    policy: Some(Arc::clone(&policy.name)),
                    priority: policy.priority,
                    reliability: policy.reliability,
                    roles: policy.roles,
                };
            }
        }
        Decision {
            policy: None,
            priority: None,
            reliability: None,
            roles: self.inner.defaults,
        }
    }

    /// The roles events get when no policy matches (`[defaults]`).
    pub fn defaults(&self) -> Roles {
        self.inner.defaults
    }

    /// The policy names, in evaluation order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.policies.iter().map(|p| &*p.name)
    }

    /// The number of policies.
    pub fn len(&self) -> usize {
        self.inner.policies.len()
    }

    /// Whether there is no policy (every event gets the defaults).
    pub fn is_empty(&self) -> bool {
        self.inner.policies.is_empty()
    }
}

/// Check the policy file at `path` against `assets` without keeping the result (for
/// `vigil check`): every problem, or nothing when the file is valid.
pub fn check(path: &Path, assets: &Assets) -> Vec<Diagnostic> {
    PolicySet::load(path, assets).err().unwrap_or_default()
}
