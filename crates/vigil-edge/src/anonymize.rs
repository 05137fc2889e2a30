//! Anonymisation for events that leave the trust group (DIMS/PRISEM style): a participant map
//! says which addresses and domains belong to which site, and keyed pseudonyms replace internal
//! addresses, host names and user names. Pseudonyms are deterministic under one key, so
//! correlation across sites still works on them, but cannot be reversed without the key.
//!
//! * An address inside a participant's networks becomes an address in `fd00::/8` (IPv6 unique
//!   local) derived from a keyed BLAKE3 hash: 120 bits, so two addresses practically never share
//!   a pseudonym. The participant's label is recorded (`src_site`, `dst_site`).
//! * User names become `user-<hash>`; host names inside a participant's domains become
//!   `host-<hash>.<label>`.
//! * Free text (the raw log, the payload, `userdata1..9`, `filename`) repeats all of these,
//!   so by default it is dropped; with [`RawText::Redact`] every original value that was
//!   pseudonymised is replaced in it instead (other personal data in free text is not found).

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use vigil_event::Event;

/// A participating organisation (site) of the trust group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Site id.
    pub site: String,
    /// Label shown instead of the site's own names (e.g. `site-7`).
    pub label: String,
    /// Its address ranges.
    #[serde(default)]
    pub networks: Vec<IpNet>,
    /// Its DNS domains (a host is inside when its name ends with `.domain` or equals it).
    #[serde(default)]
    pub domains: Vec<String>,
}

/// What to do with free text (`log`, `data`, `userdata1..9`, `filename`) that may repeat
/// pseudonymised values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RawText {
    /// Remove it.
    #[default]
    Drop,
    /// Replace every pseudonymised value found in it.
    Redact,
}

/// Pseudonymises events with one key and one participant map.
pub struct Anonymizer {
    key: [u8; 32],
    participants: Vec<Participant>,
    raw_text: RawText,
}

impl Anonymizer {
    /// An anonymiser keyed with `key` (keep it secret: it is all that protects the pseudonyms).
    pub fn new(key: [u8; 32], participants: Vec<Participant>, raw_text: RawText) -> Anonymizer {
        Anonymizer {
            key,
            participants,
            raw_text,
        }
    }

    /// The participant whose networks contain `ip` (the most specific network wins).
    pub fn participant_of(&self, ip: IpAddr) -> Option<&Participant> {
        self.participants
            .iter()
            .flat_map(|p| {
                p.networks
                    .iter()
                    .filter(|n| n.contains(&ip))
                    .map(move |n| (n.prefix_len(), p))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, p)| p)
    }

    fn participant_of_host(&self, host: &str) -> Option<&Participant> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.participants.iter().find(|p| {
            p.domains.iter().any(|d| {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                host == d || host.ends_with(&format!(".{d}"))
            })
        })
    }

    fn hash(&self, domain: &[u8], value: &[u8]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(domain);
        hasher.update(&[0]);
        hasher.update(value);
        hasher.finalize()
    }

    /// The pseudonym of an internal address.
    pub fn pseudonym_ip(&self, ip: IpAddr) -> IpAddr {
        let octets = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let hash = self.hash(b"ip", &octets);
        let mut out = [0u8; 16];
        out[0] = 0xfd;
        out[1..].copy_from_slice(&hash.as_bytes()[..15]);
        IpAddr::V6(Ipv6Addr::from(out))
    }

    /// The pseudonym of a user name.
    pub fn pseudonym_user(&self, name: &str) -> String {
        format!(
            "user-{}",
            &self.hash(b"user", name.to_lowercase().as_bytes()).to_hex()[..16]
        )
    }

    fn pseudonym_host(&self, name: &str, label: &str) -> String {
        format!(
            "host-{}.{label}",
            &self
                .hash(b"host", name.to_ascii_lowercase().as_bytes())
                .to_hex()[..16]
        )
    }

    /// Replaces an internal address by its pseudonym; returns its participant's label.
    fn address(&self, ip: &mut IpAddr, replaced: &mut Vec<(String, String)>) -> Option<String> {
        let label = self.participant_of(*ip)?.label.clone();
        let pseudonym = self.pseudonym_ip(*ip);
        replaced.push((ip.to_string(), pseudonym.to_string()));
        *ip = pseudonym;
        Some(label)
    }

    /// Pseudonymises one event in place.
    pub fn anonymize(&self, event: &mut Event) {
        let mut replaced: Vec<(String, String)> = Vec::new();
        if let Some(label) = self.address(&mut event.src_ip, &mut replaced) {
            event.extra.insert("src_site".to_string(), label);
        }
        if let Some(label) = self.address(&mut event.dst_ip, &mut replaced) {
            event.extra.insert("dst_site".to_string(), label);
        }
        self.address(&mut event.sensor_ip, &mut replaced);
        self.address(&mut event.device_ip, &mut replaced);
        if let Some(user) = event.username.take() {
            let pseudonym = self.pseudonym_user(&user);
            replaced.push((user, pseudonym.clone()));
            event.username = Some(pseudonym);
        }
        for key in ["src_username", "dst_username"] {
            if let Some(user) = event.extra.get(key).cloned() {
                let pseudonym = self.pseudonym_user(&user);
                replaced.push((user, pseudonym.clone()));
                event.extra.insert(key.to_string(), pseudonym);
            }
        }
        for key in ["src_hostname", "dst_hostname"] {
            let Some(host) = event.extra.get(key).cloned() else {
                continue;
            };
            if let Some(p) = self.participant_of_host(&host) {
                let pseudonym = self.pseudonym_host(&host, &p.label);
                replaced.push((host, pseudonym.clone()));
                event.extra.insert(key.to_string(), pseudonym);
            }
        }
        if let Some(peer) = event.provenance.peer.as_mut() {
            self.address(peer, &mut replaced);
        }
        let free_text = [&mut event.log, &mut event.data, &mut event.filename]
            .into_iter()
            .chain(event.userdata.slots_mut());
        match self.raw_text {
            RawText::Drop => {
                for text in free_text {
                    *text = None;
                }
            }
            RawText::Redact => {
                // Longest first, so a value containing another is replaced whole.
                replaced.sort_by_key(|(original, _)| std::cmp::Reverse(original.len()));
                for text in free_text.flatten() {
                    for (original, pseudonym) in &replaced {
                        if !original.is_empty() {
                            *text = text.replace(original.as_str(), pseudonym);
                        }
                    }
                }
            }
        }
        event
            .extra
            .insert("anonymized".to_string(), "true".to_string());
    }
}
