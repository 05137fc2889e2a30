//! A set of `u64`s kept as disjoint, non-adjacent inclusive ranges (the acknowledged sequences).

use std::collections::BTreeMap;
use std::ops::Bound;

/// Disjoint inclusive ranges `start -> end`, merged so that no two touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: BTreeMap<u64, u64>,
}

/// How many values `[a, b]` and `[c, d]` share.
fn overlap(a: u64, b: u64, c: u64, d: u64) -> u64 {
    let (lo, hi) = (a.max(c), b.min(d));
    if lo <= hi { hi - lo + 1 } else { 0 }
}

impl RangeSet {
    /// The range holding `x`, if any.
    pub(crate) fn containing(&self, x: u64) -> Option<(u64, u64)> {
        let (&s, &e) = self.ranges.range(..=x).next_back()?;
        (e >= x).then_some((s, e))
    }

    /// The start of the first range that starts after `x`.
    pub(crate) fn next_start_after(&self, x: u64) -> Option<u64> {
        self.ranges
            .range((Bound::Excluded(x), Bound::Unbounded))
            .next()
            .map(|(&s, _)| s)
    }

    /// Adds `[a, b]` (`a <= b`), returning how many values were not in the set before.
    pub(crate) fn insert(&mut self, a: u64, b: u64) -> u64 {
        debug_assert!(a <= b);
        let (mut start, mut end, mut covered) = (a, b, 0);
        if let Some((&s, &e)) = self.ranges.range(..=a).next_back()
            && e.saturating_add(1) >= a
        {
            covered += overlap(s, e, a, b);
            start = s;
            end = end.max(e);
            self.ranges.remove(&s);
        }
        while let Some((&s, &e)) = self.ranges.range(a..=b.saturating_add(1)).next() {
            covered += overlap(s, e, a, b);
            end = end.max(e);
            self.ranges.remove(&s);
        }
        self.ranges.insert(start, end);
        (b - a).saturating_add(1) - covered
    }

    /// Removes `[a, b]` (`a <= b`) from the set.
    pub(crate) fn remove(&mut self, a: u64, b: u64) {
        debug_assert!(a <= b);
        let mut hit: Vec<(u64, u64)> = Vec::new();
        if let Some((&s, &e)) = self.ranges.range(..a).next_back()
            && e >= a
        {
            hit.push((s, e));
        }
        hit.extend(self.ranges.range(a..=b).map(|(&s, &e)| (s, e)));
        for (s, e) in hit {
            self.ranges.remove(&s);
            if s < a {
                self.ranges.insert(s, a - 1);
            }
            if e > b {
                self.ranges.insert(b + 1, e);
            }
        }
    }

    /// The ranges in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&s, &e)| (s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_set(ops in proptest::collection::vec((any::<bool>(), 0u64..60, 0u64..8), 0..60)) {
            let mut set = RangeSet::default();
            let mut model = BTreeSet::new();
            for (add, a, len) in ops {
                let b = a + len;
                if add {
                    let fresh = (a..=b).filter(|x| model.insert(*x)).count() as u64;
                    prop_assert_eq!(set.insert(a, b), fresh);
                } else {
                    set.remove(a, b);
                    for x in a..=b { model.remove(&x); }
                }
                let flat: BTreeSet<u64> = set.iter().flat_map(|(s, e)| s..=e).collect();
                prop_assert_eq!(&flat, &model);
                // Merged: no two ranges touch.
                let v: Vec<_> = set.iter().collect();
                for w in v.windows(2) { prop_assert!(w[0].1 + 1 < w[1].0); }
                for x in 0..70 {
                    prop_assert_eq!(set.containing(x).is_some(), model.contains(&x));
                }
            }
        }
    }
}
