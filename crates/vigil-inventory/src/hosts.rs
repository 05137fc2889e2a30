//! The host inventory: per host address, its operating system, open services
//! and known vulnerabilities — what cross-correlation compares attacks with.
//!
//! Pure in-memory data: load it with [`Inventory::from_toml`] (schema in the
//! crate docs), change it with the update methods, and persist it yourself
//! with [`Inventory::to_toml`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use vigil_event::Protocol;
use vigil_plugins::PluginSid;
use vigil_plugins::references::{OS_PLUGIN_ID, SERVICES_PLUGIN_ID};

/// OSSIM's operating-system list: the sids of plugin 5001
/// (`plugins-sql/ossim-os.sql`) and their names.
pub const OSSIM_OS: [(u32, &str); 15] = [
    (1, "Windows"),
    (2, "Linux"),
    (3, "Cisco"),
    (4, "BSD"),
    (5, "FreeBSD"),
    (6, "NetBSD"),
    (7, "OpenBSD"),
    (8, "HP-UX"),
    (9, "Solaris"),
    (10, "Macos"),
    (11, "Plan9"),
    (12, "SCO"),
    (13, "AIX"),
    (14, "UNIX"),
    (15, "SunOS"),
];

/// The 5001 sid of an OSSIM OS name (ASCII case-insensitive), e.g.
/// `linux` → 2.
pub fn os_sid(name: &str) -> Option<u32> {
    OSSIM_OS
        .iter()
        .find(|(_, known)| known.eq_ignore_ascii_case(name))
        .map(|&(sid, _)| sid)
}

/// The OSSIM name of a 5001 sid, e.g. 2 → `Linux`.
pub fn os_name(sid: u32) -> Option<&'static str> {
    OSSIM_OS
        .iter()
        .find(|&&(known, _)| known == sid)
        .map(|&(_, name)| name)
}

/// Reliability a [`Vulnerability`] without one contributes (OSSIM's
/// `plugin_sid.reliability` schema default).
pub const DEFAULT_VULNERABILITY_RELIABILITY: u8 = 1;

/// Highest reliability.
pub const MAX_RELIABILITY: u8 = 10;

/// An open service of a host (OSSIM `host_services`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Port, `1..=65535`.
    pub port: u16,
    /// IP protocol, e.g. [`Protocol::TCP`].
    pub protocol: Protocol,
    /// Service name, e.g. `ssh` (informational).
    pub name: Option<String>,
    /// Banner / version text, e.g. `OpenSSH 7.4`; compared with OSVDB
    /// product names.
    pub banner: Option<String>,
}

/// A vulnerability (or any other fact a plugin sid stands for) known to be
/// present on a host (OSSIM `host_plugin_sid`), e.g. a nessus/OpenVAS
/// finding (3001, 10007).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vulnerability {
    /// Plugin id, e.g. 3001. Never [`OS_PLUGIN_ID`] or
    /// [`SERVICES_PLUGIN_ID`]: those facts are the host's OS and services.
    pub plugin_id: u32,
    /// Sid within the plugin.
    pub sid: u32,
    /// How much a generic (non-3001) match adds, `0..=10`; `None` means
    /// [`DEFAULT_VULNERABILITY_RELIABILITY`].
    pub reliability: Option<u8>,
}

impl Vulnerability {
    /// (`plugin_id`, `sid`).
    pub fn key(&self) -> PluginSid {
        PluginSid::new(self.plugin_id, self.sid)
    }

    /// The reliability, or [`DEFAULT_VULNERABILITY_RELIABILITY`].
    pub fn reliability_or_default(&self) -> u8 {
        self.reliability
            .unwrap_or(DEFAULT_VULNERABILITY_RELIABILITY)
    }
}

/// What is known about one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostProfile {
    os: Option<u32>,
    /// Sorted by (port, protocol), unique.
    services: Vec<Service>,
    /// Sorted by (plugin_id, sid), unique.
    vulnerabilities: Vec<Vulnerability>,
}

impl HostProfile {
    /// The OS as a 5001 sid ([`OSSIM_OS`]), if known.
    pub fn os(&self) -> Option<u32> {
        self.os
    }

    /// Open services, sorted by (port, protocol).
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The services open on `port` (any protocol).
    pub fn services_on(&self, port: u16) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(move |s| s.port == port)
    }

    /// The service on (`port`, `protocol`).
    pub fn service(&self, port: u16, protocol: Protocol) -> Option<&Service> {
        self.services
            .binary_search_by_key(&(port, protocol), |s| (s.port, s.protocol))
            .ok()
            .and_then(|i| self.services.get(i))
    }

    /// Known vulnerabilities, sorted by (plugin_id, sid).
    pub fn vulnerabilities(&self) -> &[Vulnerability] {
        &self.vulnerabilities
    }

    /// The vulnerability (`plugin_id`, `sid`), if present.
    pub fn vulnerability(&self, key: PluginSid) -> Option<&Vulnerability> {
        self.vulnerabilities
            .binary_search_by_key(&key, Vulnerability::key)
            .ok()
            .and_then(|i| self.vulnerabilities.get(i))
    }

    /// True when nothing is known: no OS, no service, no vulnerability.
    pub fn is_empty(&self) -> bool {
        self.os.is_none() && self.services.is_empty() && self.vulnerabilities.is_empty()
    }
}

/// A rejected inventory update; the inventory is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// Plugin 5001 or 5002 used as a vulnerability: those are the OS and the
    /// services.
    #[error(
        "plugin {plugin_id} is OSSIM's {} list, not a vulnerability: set the host's {} instead",
        if *plugin_id == OS_PLUGIN_ID { "OS" } else { "services" },
        if *plugin_id == OS_PLUGIN_ID { "OS" } else { "services" }
    )]
    ReservedPlugin {
        /// 5001 or 5002.
        plugin_id: u32,
    },
    /// A vulnerability reliability above 10.
    #[error("reliability {value} is out of range 0..=10")]
    ReliabilityOutOfRange {
        /// The rejected value.
        value: u8,
    },
    /// Port 0 (it means "no port" in events).
    #[error("port 0 is not a service port (1..=65535)")]
    PortZero,
    /// Two services with the same port and protocol.
    #[error("service {port}/{protocol} is listed twice")]
    DuplicateService {
        /// The port.
        port: u16,
        /// The protocol.
        protocol: Protocol,
    },
}

/// Every host's profile, keyed by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    hosts: BTreeMap<IpAddr, HostProfile>,
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The profile of `ip`, if the inventory has an entry for it.
    pub fn host(&self, ip: IpAddr) -> Option<&HostProfile> {
        self.hosts.get(&ip)
    }

    /// Every host, by ascending address.
    pub fn hosts(&self) -> impl Iterator<Item = (IpAddr, &HostProfile)> {
        self.hosts.iter().map(|(ip, profile)| (*ip, profile))
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True when there is no host.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Adds an empty entry for `ip` if there is none; true if added.
    pub fn add_host(&mut self, ip: IpAddr) -> bool {
        let added = !self.hosts.contains_key(&ip);
        self.hosts.entry(ip).or_default();
        added
    }

    /// Removes a host and returns its profile.
    pub fn remove_host(&mut self, ip: IpAddr) -> Option<HostProfile> {
        self.hosts.remove(&ip)
    }

    /// Sets (or with `None` forgets) a host's OS as a 5001 sid; returns the
    /// previous one. Creates the host entry if needed.
    pub fn set_os(&mut self, ip: IpAddr, os: Option<u32>) -> Option<u32> {
        std::mem::replace(&mut self.hosts.entry(ip).or_default().os, os)
    }

    /// Replaces all of a host's services. Creates the host entry if needed.
    ///
    /// # Errors
    ///
    /// Port 0, or two services with the same port and protocol; nothing is
    /// changed then.
    pub fn set_services(
        &mut self,
        ip: IpAddr,
        mut services: Vec<Service>,
    ) -> Result<(), UpdateError> {
        services.sort_by_key(|s| (s.port, s.protocol));
        for pair in services.windows(2) {
            if let [a, b] = pair
                && (a.port, a.protocol) == (b.port, b.protocol)
            {
                return Err(UpdateError::DuplicateService {
                    port: a.port,
                    protocol: a.protocol,
                });
            }
        }
        if services.iter().any(|s| s.port == 0) {
            return Err(UpdateError::PortZero);
        }
        self.hosts.entry(ip).or_default().services = services;
        Ok(())
    }

    /// Adds a service, replacing the one with the same port and protocol
    /// (returned). Creates the host entry if needed.
    ///
    /// # Errors
    ///
    /// Port 0; nothing is changed then.
    pub fn add_service(
        &mut self,
        ip: IpAddr,
        service: Service,
    ) -> Result<Option<Service>, UpdateError> {
        if service.port == 0 {
            return Err(UpdateError::PortZero);
        }
        let services = &mut self.hosts.entry(ip).or_default().services;
        match services
            .binary_search_by_key(&(service.port, service.protocol), |s| (s.port, s.protocol))
        {
            Ok(i) => Ok(services
                .get_mut(i)
                .map(|old| std::mem::replace(old, service))),
            Err(i) => {
                services.insert(i, service);
                Ok(None)
            }
        }
    }

    /// Removes the service on (`port`, `protocol`) and returns it.
    pub fn remove_service(&mut self, ip: IpAddr, port: u16, protocol: Protocol) -> Option<Service> {
        let services = &mut self.hosts.get_mut(&ip)?.services;
        let i = services
            .binary_search_by_key(&(port, protocol), |s| (s.port, s.protocol))
            .ok()?;
        Some(services.remove(i))
    }

    /// Adds a vulnerability; if the host already has (`plugin_id`, `sid`)
    /// its reliability is replaced. Returns true if it was new. Creates the
    /// host entry if needed.
    ///
    /// # Errors
    ///
    /// Plugin 5001 or 5002, or a reliability above 10; nothing is changed
    /// then.
    pub fn add_vulnerability(
        &mut self,
        ip: IpAddr,
        vulnerability: Vulnerability,
    ) -> Result<bool, UpdateError> {
        check_vulnerability(&vulnerability)?;
        let list = &mut self.hosts.entry(ip).or_default().vulnerabilities;
        match list.binary_search_by_key(&vulnerability.key(), Vulnerability::key) {
            Ok(i) => {
                if let Some(old) = list.get_mut(i) {
                    *old = vulnerability;
                }
                Ok(false)
            }
            Err(i) => {
                list.insert(i, vulnerability);
                Ok(true)
            }
        }
    }

    /// Removes the vulnerability (`plugin_id`, `sid`) from a host; true if
    /// it was present.
    pub fn remove_vulnerability(&mut self, ip: IpAddr, key: PluginSid) -> bool {
        let Some(profile) = self.hosts.get_mut(&ip) else {
            return false;
        };
        match profile
            .vulnerabilities
            .binary_search_by_key(&key, Vulnerability::key)
        {
            Ok(i) => {
                profile.vulnerabilities.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}

pub(crate) fn check_vulnerability(vulnerability: &Vulnerability) -> Result<(), UpdateError> {
    if vulnerability.plugin_id == OS_PLUGIN_ID || vulnerability.plugin_id == SERVICES_PLUGIN_ID {
        return Err(UpdateError::ReservedPlugin {
            plugin_id: vulnerability.plugin_id,
        });
    }
    match vulnerability.reliability {
        Some(value) if value > MAX_RELIABILITY => Err(UpdateError::ReliabilityOutOfRange { value }),
        _ => Ok(()),
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn svc(port: u16, protocol: Protocol, banner: Option<&str>) -> Service {
        Service {
            port,
            protocol,
            name: None,
            banner: banner.map(str::to_owned),
        }
    }

    #[test]
    fn os_names() {
        assert_eq!(os_sid("linux"), Some(2));
        assert_eq!(os_sid("HP-UX"), Some(8));
        assert_eq!(os_sid("Ubuntu"), None);
        assert_eq!(os_name(15), Some("SunOS"));
        assert_eq!(os_name(16), None);
    }

    #[test]
    fn runtime_updates() {
        let a = ip("10.0.0.5");
        let mut inv = Inventory::new();
        assert!(inv.host(a).is_none());
        assert_eq!(inv.set_os(a, Some(2)), None);
        assert_eq!(inv.set_os(a, Some(1)), Some(2));
        assert_eq!(inv.host(a).and_then(HostProfile::os), Some(1));

        let v = Vulnerability {
            plugin_id: 3001,
            sid: 10007,
            reliability: None,
        };
        assert_eq!(inv.add_vulnerability(a, v), Ok(true));
        let v7 = Vulnerability {
            reliability: Some(7),
            ..v
        };
        assert_eq!(inv.add_vulnerability(a, v7), Ok(false));
        assert_eq!(
            inv.host(a)
                .and_then(|h| h.vulnerability(PluginSid::new(3001, 10007))),
            Some(&v7)
        );
        assert_eq!(
            inv.add_vulnerability(
                a,
                Vulnerability {
                    plugin_id: 5001,
                    sid: 2,
                    reliability: None
                }
            ),
            Err(UpdateError::ReservedPlugin { plugin_id: 5001 })
        );
        assert_eq!(
            inv.add_vulnerability(
                a,
                Vulnerability {
                    reliability: Some(11),
                    ..v
                }
            ),
            Err(UpdateError::ReliabilityOutOfRange { value: 11 })
        );
        assert!(inv.remove_vulnerability(a, PluginSid::new(3001, 10007)));
        assert!(!inv.remove_vulnerability(a, PluginSid::new(3001, 10007)));
        assert!(!inv.remove_vulnerability(ip("10.9.9.9"), PluginSid::new(3001, 1)));

        assert_eq!(
            inv.set_services(
                a,
                vec![
                    svc(80, Protocol::TCP, None),
                    svc(22, Protocol::TCP, Some("OpenSSH 7.4")),
                    svc(80, Protocol::TCP, None)
                ]
            ),
            Err(UpdateError::DuplicateService {
                port: 80,
                protocol: Protocol::TCP
            })
        );
        assert!(inv.host(a).is_some_and(|h| h.services().is_empty()));
        assert_eq!(
            inv.set_services(
                a,
                vec![svc(80, Protocol::TCP, None), svc(22, Protocol::TCP, None)]
            ),
            Ok(())
        );
        assert_eq!(
            inv.host(a)
                .map(|h| h.services().iter().map(|s| s.port).collect::<Vec<_>>()),
            Some(vec![22, 80])
        );
        assert_eq!(
            inv.add_service(a, svc(22, Protocol::TCP, Some("OpenSSH 9"))),
            Ok(Some(svc(22, Protocol::TCP, None)))
        );
        assert_eq!(inv.add_service(a, svc(53, Protocol::UDP, None)), Ok(None));
        assert_eq!(
            inv.add_service(a, svc(0, Protocol::UDP, None)),
            Err(UpdateError::PortZero)
        );
        assert_eq!(inv.host(a).map(|h| h.services_on(53).count()), Some(1));
        assert_eq!(
            inv.host(a)
                .and_then(|h| h.service(22, Protocol::TCP))
                .and_then(|s| s.banner.clone()),
            Some("OpenSSH 9".to_owned())
        );
        assert_eq!(
            inv.remove_service(a, 53, Protocol::UDP).map(|s| s.port),
            Some(53)
        );
        assert_eq!(inv.remove_service(a, 53, Protocol::UDP), None);
        assert!(inv.add_host(ip("::1")));
        assert!(!inv.add_host(ip("::1")));
        assert_eq!(inv.len(), 2);
        assert!(inv.remove_host(ip("::1")).is_some_and(|h| h.is_empty()));
        assert_eq!(inv.hosts().count(), 1);
    }
}
