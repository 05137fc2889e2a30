//! Cross-correlation: adjust an event's reliability with what the inventory
//! knows about its destination. The rules, their order and the differences
//! from OSSIM are documented in the crate docs.

use vigil_event::{Event, Protocol};
use vigil_plugins::PluginSid;
use vigil_plugins::references::{
    NESSUS_PLUGIN_ID, OS_PLUGIN_ID, OSVDB_PLUGIN_ID, References, SERVICES_PLUGIN_ID,
};

use crate::hosts::{Inventory, MAX_RELIABILITY, Service};
use crate::osvdb::Osvdb;

/// Reliability of a vulnerability-confirmed attack.
pub const CONFIRMED_RELIABILITY: u8 = 10;
/// Added when the host's OS is among the attack's OS references.
pub const OS_MATCH_BONUS: u8 = 1;
/// Added when the service banner contains a referenced OSVDB product name.
pub const PRODUCT_MATCH_BONUS: u8 = 2;
/// Reliability (at least) when the banner also contains a referenced OSVDB
/// version.
pub const VERSION_MATCH_RELIABILITY: u8 = 9;

/// The outcome of [`cross_correlate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossCorrelation {
    /// The event's new reliability (`0..=10`), or `None` to leave it as is.
    pub reliability: Option<u8>,
    /// Why.
    pub reason: Reason,
}

impl CrossCorrelation {
    /// Stores the new reliability, if any, in `event`.
    pub fn apply(&self, event: &mut Event) {
        if let Some(reliability) = self.reliability {
            event.reliability = Some(reliability);
        }
    }
}

/// Why [`cross_correlate`] decided what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Unchanged: the destination is unspecified (`0.0.0.0` or `::`).
    NoDestination,
    /// Unchanged: the inventory knows nothing about the destination.
    NoInventory,
    /// Unchanged: the attack has no `plugin_reference` rows.
    NoReferences,
    /// Unchanged: references and inventory exist but no rule applied.
    NoMatch,
    /// Reliability 10: the host has a nessus/OpenVAS (3001) vulnerability the
    /// attack references. Final.
    ConfirmedVulnerability {
        /// The host's vulnerability (lowest referenced one).
        vulnerability: PluginSid,
    },
    /// Reliability 0: the attack references OSes and the host's is not one
    /// of them. Final.
    OsMismatch {
        /// The host's OS (5001 sid).
        host_os: u32,
        /// The OS sids the attack references.
        attack_os: Vec<u32>,
    },
    /// Reliability 0: the destination port is open on the host, but only
    /// with other protocols. Final.
    ServiceProtocolMismatch {
        /// The event's destination port.
        port: u16,
        /// The event's protocol.
        protocol: Protocol,
        /// The protocols the host has open on that port.
        open: Vec<Protocol>,
    },
    /// Reliability changed by these steps, in order, then clamped to 10.
    Adjusted(Vec<Adjustment>),
}

/// One reliability step of [`Reason::Adjusted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// +1: the host's OS is among the attack's OS references.
    OsMatch {
        /// The host's OS (5001 sid).
        os: u32,
    },
    /// +2: the attacked service's banner contains a product base name of an
    /// OSVDB entry the attack references.
    ProductMatch {
        /// The OSVDB id.
        osvdb_id: u32,
    },
    /// Raised to at least 9: the banner also contains one of that entry's
    /// versions.
    VersionMatch {
        /// The OSVDB id.
        osvdb_id: u32,
    },
    /// Plus the vulnerability's reliability: the host has a non-nessus
    /// vulnerability the attack references.
    Generic {
        /// The host's vulnerability (the one with the highest reliability).
        vulnerability: PluginSid,
        /// What was added.
        reliability: u8,
    },
}

fn unchanged(reason: Reason) -> CrossCorrelation {
    CrossCorrelation {
        reliability: None,
        reason,
    }
}

fn set(reliability: u8, reason: Reason) -> CrossCorrelation {
    CrossCorrelation {
        reliability: Some(reliability),
        reason,
    }
}

/// Cross-correlates `event` with the inventory of its destination: OSSIM
/// 2.1's rules, in the order and with the precedence documented in the
/// crate docs. Pure: reads `event.reliability` (`None` counts as 0) and
/// returns the new value; [`CrossCorrelation::apply`] stores it.
///
/// `osvdb` holds OSVDB product names for the banner comparison; with `None`
/// (or no entry for the referenced ids) only the port/protocol part of the
/// services rule applies.
pub fn cross_correlate(
    event: &Event,
    inventory: &Inventory,
    references: &References,
    osvdb: Option<&Osvdb>,
) -> CrossCorrelation {
    if event.dst_ip.is_unspecified() {
        return unchanged(Reason::NoDestination);
    }
    let Some(host) = inventory.host(event.dst_ip).filter(|h| !h.is_empty()) else {
        return unchanged(Reason::NoInventory);
    };
    let attack = PluginSid::new(event.plugin_id, event.plugin_sid);
    let refs = references.references(attack);
    if refs.is_empty() {
        return unchanged(Reason::NoReferences);
    }
    let linked = |key: PluginSid| refs.binary_search(&key).is_ok();

    // 1. nessus / OpenVAS: a confirmed vulnerability wins outright.
    if let Some(v) = host
        .vulnerabilities()
        .iter()
        .find(|v| v.plugin_id == NESSUS_PLUGIN_ID && linked(v.key()))
    {
        return set(
            CONFIRMED_RELIABILITY,
            Reason::ConfirmedVulnerability {
                vulnerability: v.key(),
            },
        );
    }

    let mut reliability = u32::from(event.reliability.unwrap_or(0));
    let mut steps = Vec::new();

    // 2. OS.
    let attack_os: Vec<u32> = references.reference_sids(attack, OS_PLUGIN_ID).collect();
    if let Some(os) = host.os()
        && !attack_os.is_empty()
    {
        if !attack_os.contains(&os) {
            return set(
                0,
                Reason::OsMismatch {
                    host_os: os,
                    attack_os,
                },
            );
        }
        reliability += u32::from(OS_MATCH_BONUS);
        steps.push(Adjustment::OsMatch { os });
    }

    // 3. Services.
    if event.dst_port != 0 {
        let open: Vec<&Service> = host.services_on(event.dst_port).collect();
        if !open.is_empty() {
            match open.iter().find(|s| s.protocol == event.protocol) {
                None => {
                    return set(
                        0,
                        Reason::ServiceProtocolMismatch {
                            port: event.dst_port,
                            protocol: event.protocol,
                            open: open.iter().map(|s| s.protocol).collect(),
                        },
                    );
                }
                Some(service) => {
                    if let (Some(osvdb), Some(banner)) = (osvdb, service.banner.as_deref()) {
                        banner_steps(
                            references,
                            attack,
                            osvdb,
                            banner,
                            &mut reliability,
                            &mut steps,
                        );
                    }
                }
            }
        }
    }

    // 4. Generic references: the best matching vulnerability, once.
    if let Some(v) = host
        .vulnerabilities()
        .iter()
        .filter(|v| is_generic(v.plugin_id) && linked(v.key()))
        .max_by_key(|v| (v.reliability_or_default(), std::cmp::Reverse(v.key())))
    {
        let added = v.reliability_or_default();
        reliability += u32::from(added);
        steps.push(Adjustment::Generic {
            vulnerability: v.key(),
            reliability: added,
        });
    }

    if steps.is_empty() {
        return unchanged(Reason::NoMatch);
    }
    let clamped =
        u8::try_from(reliability.min(u32::from(MAX_RELIABILITY))).unwrap_or(MAX_RELIABILITY);
    set(clamped, Reason::Adjusted(steps))
}

/// Any plugin but nessus and the OS and services lists.
fn is_generic(plugin_id: u32) -> bool {
    !matches!(
        plugin_id,
        NESSUS_PLUGIN_ID | OS_PLUGIN_ID | SERVICES_PLUGIN_ID
    )
}

/// The OSVDB part of the services rule: +2 once for the first referenced
/// OSVDB entry (ascending id) whose base name is in the banner, then 9 as
/// soon as such an entry also has a version in the banner. Case-insensitive
/// substring matches; empty names never match.
fn banner_steps(
    references: &References,
    attack: PluginSid,
    osvdb: &Osvdb,
    banner: &str,
    reliability: &mut u32,
    steps: &mut Vec<Adjustment>,
) {
    let banner = banner.to_lowercase();
    let contains = |name: &String| {
        let name = name.trim().to_lowercase();
        !name.is_empty() && banner.contains(&name)
    };
    let mut product_matched = false;
    for osvdb_id in references.reference_sids(attack, OSVDB_PLUGIN_ID) {
        let Some(products) = osvdb.products(osvdb_id) else {
            continue;
        };
        if !products.base_names.iter().any(contains) {
            continue;
        }
        if !product_matched {
            product_matched = true;
            *reliability += u32::from(PRODUCT_MATCH_BONUS);
            steps.push(Adjustment::ProductMatch { osvdb_id });
        }
        if products.version_names.iter().any(contains) {
            *reliability = (*reliability).max(u32::from(VERSION_MATCH_RELIABILITY));
            steps.push(Adjustment::VersionMatch { osvdb_id });
            return;
        }
    }
}

#[cfg(test)]
mod tests;
