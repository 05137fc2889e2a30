//! The asset inventory correlation needs: host and network asset values, names, and HOME_NET.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// OSSIM's asset value for an address no host or network covers.
pub const DEFAULT_ASSET: u8 = 2;

/// A named host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Name directives may use in `from`/`to`.
    pub name: String,
    /// Its address.
    pub ip: IpAddr,
    /// Asset value 0-5.
    pub asset: u8,
}

/// A named network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Name directives may use in `from`/`to`.
    pub name: String,
    /// Its address range.
    pub cidr: IpNet,
    /// Asset value 0-5.
    pub asset: u8,
    /// External networks are not part of HOME_NET.
    #[serde(default)]
    pub external: bool,
}

/// Hosts and networks. Asset values: a host's own value wins, else the most specific network
/// containing the address, else [`DEFAULT_ASSET`] (OSSIM 5.x recomputed the destination's value
/// from networks only, ignoring host values: spec 13.12; Vigil does not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assets {
    hosts: HashMap<IpAddr, Host>,
    /// Sorted most specific first.
    networks: Vec<Network>,
    groups: HashMap<String, Vec<String>>,
}

impl Assets {
    /// An inventory of these hosts, networks and host groups (group name → member names).
    pub fn new(
        hosts: Vec<Host>,
        mut networks: Vec<Network>,
        groups: HashMap<String, Vec<String>>,
    ) -> Self {
        networks.sort_by_key(|n| std::cmp::Reverse(n.cidr.prefix_len()));
        Assets {
            hosts: hosts.into_iter().map(|h| (h.ip, h)).collect(),
            networks,
            groups,
        }
    }

    /// The asset value of an address.
    pub fn asset_value(&self, ip: IpAddr) -> u8 {
        if let Some(host) = self.hosts.get(&ip) {
            return host.asset;
        }
        self.networks
            .iter()
            .find(|n| n.cidr.contains(&ip))
            .map_or(DEFAULT_ASSET, |n| n.asset)
    }

    /// Whether an address is inside HOME_NET (any non-external network).
    pub fn in_home_net(&self, ip: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|n| !n.external && n.cidr.contains(&ip))
    }

    /// The address ranges a host, network or host-group name stands for; `None` if unknown.
    pub fn resolve(&self, name: &str) -> Option<Vec<IpNet>> {
        if let Some(host) = self
            .hosts
            .values()
            .find(|h| h.name.eq_ignore_ascii_case(name))
        {
            return Some(vec![IpNet::from(host.ip)]);
        }
        if let Some(net) = self
            .networks
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))
        {
            return Some(vec![net.cidr]);
        }
        let members = self
            .groups
            .iter()
            .find(|(g, _)| g.eq_ignore_ascii_case(name))?
            .1;
        let mut nets = Vec::new();
        for member in members {
            nets.extend(self.resolve_host_or_net(member)?);
        }
        Some(nets)
    }

    fn resolve_host_or_net(&self, name: &str) -> Option<Vec<IpNet>> {
        let host = self
            .hosts
            .values()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| IpNet::from(h.ip));
        let net = self
            .networks
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))
            .map(|n| n.cidr);
        host.or(net).map(|n| vec![n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Assets {
        Assets::new(
            vec![Host {
                name: "db1".into(),
                ip: "10.0.0.5".parse().unwrap(),
                asset: 5,
            }],
            vec![
                Network {
                    name: "lan".into(),
                    cidr: "10.0.0.0/8".parse().unwrap(),
                    asset: 3,
                    external: false,
                },
                Network {
                    name: "servers".into(),
                    cidr: "10.0.0.0/24".parse().unwrap(),
                    asset: 4,
                    external: false,
                },
                Network {
                    name: "isp".into(),
                    cidr: "198.51.100.0/24".parse().unwrap(),
                    asset: 1,
                    external: true,
                },
            ],
            HashMap::from([(
                "crown".to_string(),
                vec!["db1".to_string(), "servers".to_string()],
            )]),
        )
    }

    #[test]
    fn host_then_most_specific_network_then_default() {
        let a = inventory();
        assert_eq!(a.asset_value("10.0.0.5".parse().unwrap()), 5);
        assert_eq!(a.asset_value("10.0.0.6".parse().unwrap()), 4);
        assert_eq!(a.asset_value("10.9.0.6".parse().unwrap()), 3);
        assert_eq!(a.asset_value("192.0.2.1".parse().unwrap()), DEFAULT_ASSET);
    }

    #[test]
    fn home_net_and_names() {
        let a = inventory();
        assert!(a.in_home_net("10.1.2.3".parse().unwrap()));
        assert!(
            !a.in_home_net("198.51.100.7".parse().unwrap()),
            "external networks are outside"
        );
        assert_eq!(a.resolve("DB1"), Some(vec!["10.0.0.5/32".parse().unwrap()]));
        assert_eq!(a.resolve("crown").map(|n| n.len()), Some(2));
        assert_eq!(a.resolve("nowhere"), None);
    }
}
