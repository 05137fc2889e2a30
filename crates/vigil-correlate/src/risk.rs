//! Risk (spec 7): `floor(priority x reliability x asset / 25)`, clamped to 0..=10, computed for
//! the source (risk_c, compromise) and the destination (risk_a, attack).

use serde::{Deserialize, Serialize};

/// The two risks of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Risk {
    /// Risk to the source's integrity (uses the source asset value).
    pub compromise: u8,
    /// Risk of the attack on the destination (uses the destination asset value).
    pub attack: u8,
}

impl Risk {
    /// The larger of the two: an alarm when it is 1 or more.
    pub fn max(self) -> u8 {
        self.compromise.max(self.attack)
    }
}

/// Risk from priority (0-5), reliability (0-10) and the asset values (0-5) of source and
/// destination.
pub fn risk(priority: u8, reliability: u8, asset_src: u8, asset_dst: u8) -> Risk {
    let one = |asset: u8| {
        let product =
            u32::from(priority.min(5)) * u32::from(reliability.min(10)) * u32::from(asset.min(5));
        (product / 25).min(10) as u8
    };
    Risk {
        compromise: one(asset_src),
        attack: one(asset_dst),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_worked_values() {
        // Directive 50004 with default assets (spec 5.12): rel 1 -> 0.32, rel 4 -> 1.28, rel 10 -> 3.2.
        assert_eq!(risk(4, 1, 2, 2).max(), 0);
        assert_eq!(risk(4, 4, 2, 2).max(), 1);
        assert_eq!(risk(4, 6, 2, 2).max(), 1);
        assert_eq!(risk(4, 10, 2, 2).max(), 3);
        assert_eq!(
            risk(5, 10, 5, 1),
            Risk {
                compromise: 10,
                attack: 2
            }
        );
        assert_eq!(risk(9, 99, 9, 9).max(), 10, "inputs are clamped");
    }
}
