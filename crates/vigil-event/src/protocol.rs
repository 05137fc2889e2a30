//! IP protocol numbers with OSSIM's names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IANA IP protocol number. JSON form: the OSSIM name (`"TCP"`) when it has one, else the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u8);

const NAMES: &[(u8, &str)] = &[
    (1, "ICMP"),
    (2, "IGMP"),
    (6, "TCP"),
    (17, "UDP"),
    (41, "IPV6"),
    (47, "GRE"),
    (50, "ESP"),
    (51, "AH"),
    (58, "ICMPV6"),
    (132, "SCTP"),
];

impl Protocol {
    /// TCP, OSSIM's default when an event names no protocol.
    pub const TCP: Protocol = Protocol(6);
    /// UDP.
    pub const UDP: Protocol = Protocol(17);
    /// ICMP.
    pub const ICMP: Protocol = Protocol(1);

    /// The protocol for a name (case-insensitive) or a decimal number; `None` if neither.
    pub fn from_name_or_number(text: &str) -> Option<Protocol> {
        if let Ok(number) = text.parse::<u8>() {
            return Some(Protocol(number));
        }
        NAMES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text))
            .map(|(number, _)| Protocol(*number))
    }

    /// The OSSIM name, if this protocol has one.
    pub fn name(self) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|(n, _)| *n == self.0)
            .map(|(_, name)| *name)
    }
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol::TCP
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Protocol::from_name_or_number(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown protocol {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(Protocol::from_name_or_number("tcp"), Some(Protocol::TCP));
        assert_eq!(Protocol::from_name_or_number("17"), Some(Protocol::UDP));
        assert_eq!(Protocol::from_name_or_number("bogus"), None);
        assert_eq!(Protocol(99).to_string(), "99");
        assert_eq!(Protocol::ICMP.to_string(), "ICMP");
    }
}
