//! Candidate selection: one Aho-Corasick automaton over the required literal
//! of every rule slot, so a line is only matched against rules whose literal
//! occurs in it, in slot order. Rules without a usable literal go into one
//! `RegexSet` (lazy DFA with a raised cache limit) that tells exactly which of
//! them match; only rules that fit neither (fallback patterns without a
//! literal) are always candidates.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// A prefilter over `n` ordered rule slots.
#[derive(Debug, Clone)]
pub struct Prefilter {
    slots: usize,
    ac: Option<AhoCorasick>,
    /// Pattern id → slots that require it.
    pattern_slots: Vec<Vec<usize>>,
    /// Slots that are always candidates.
    always: Vec<u64>,
    /// Exact matcher (on ASCII lines) of the slots without a literal, and its slots.
    set: Option<(regex::bytes::RegexSet, Vec<usize>)>,
    /// The slots of `set` as a bitset.
    set_mask: Vec<u64>,
}

/// What the prefilter knows of one rule slot.
#[derive(Debug, Clone, Default)]
pub struct SlotKey {
    /// A literal every match contains (ASCII, matched ASCII-case-insensitively).
    pub literal: Option<String>,
    /// The slot's `regex`-syntax pattern (compiled case-insensitively, ASCII
    /// classes), when it runs on the `regex` crate; used for slots without a literal.
    pub pattern: Option<String>,
}

impl Prefilter {
    /// Builds the prefilter over `keys` (one per slot, in evaluation order).
    pub fn new(keys: &[SlotKey]) -> Prefilter {
        let slots = keys.len();
        let words = slots.div_ceil(64);
        let mut always = vec![0u64; words];
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_slots: Vec<Vec<usize>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut set_patterns = Vec::new();
        let mut set_slots = Vec::new();
        for (slot, key) in keys.iter().enumerate() {
            match key
                .literal
                .as_ref()
                .filter(|l| l.is_ascii() && !l.is_empty())
            {
                Some(l) => {
                    let key = l.to_ascii_lowercase();
                    let id = *index.entry(key.clone()).or_insert_with(|| {
                        patterns.push(key);
                        pattern_slots.push(Vec::new());
                        patterns.len() - 1
                    });
                    if let Some(v) = pattern_slots.get_mut(id) {
                        v.push(slot);
                    }
                }
                None => match &key.pattern {
                    Some(p) => {
                        set_patterns.push(p.clone());
                        set_slots.push(slot);
                    }
                    None => set(&mut always, slot),
                },
            }
        }
        let regex_set = if set_patterns.is_empty() {
            None
        } else {
            regex::bytes::RegexSetBuilder::new(&set_patterns)
                .case_insensitive(true)
                .unicode(false)
                .size_limit(256 << 20)
                .dfa_size_limit(256 << 20)
                .build()
                .ok()
        };
        let mut set_mask = vec![0u64; words];
        let set_field = match regex_set {
            Some(rs) => {
                for &slot in &set_slots {
                    set(&mut set_mask, slot);
                }
                Some((rs, set_slots))
            }
            None => {
                for &slot in &set_slots {
                    set(&mut always, slot);
                }
                None
            }
        };
        let ac = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .or_else(|_| {
                    AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .build(&patterns)
                })
                .ok()
        };
        if ac.is_none() {
            // Could not build: every slot is a candidate.
            for slot in 0..slots {
                set(&mut always, slot);
            }
        }
        Prefilter {
            slots,
            ac,
            pattern_slots,
            always,
            set: set_field,
            set_mask,
        }
    }

    /// The candidates that need no regex set: `always`, the literal slots
    /// found in `line`, or every slot for a non-ASCII line. Returns whether the
    /// regex-set slots are still to be added ([`Prefilter::next_candidate`]
    /// adds them only when the search reaches one).
    pub fn literal_candidates(&self, line: &str, out: &mut Vec<u64>) -> bool {
        out.clear();
        out.extend_from_slice(&self.always);
        if !line.is_ascii() {
            for slot in 0..self.slots {
                set(out, slot);
            }
            return false;
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(line) {
                if let Some(slots) = self.pattern_slots.get(m.pattern().as_usize()) {
                    for &slot in slots {
                        set(out, slot);
                    }
                }
            }
        }
        self.set.is_some()
    }

    fn add_set_candidates(&self, line: &str, out: &mut [u64]) {
        if let Some((rs, slots)) = &self.set {
            for i in rs.matches(line.as_bytes()).iter() {
                if let Some(&slot) = slots.get(i) {
                    set(out, slot);
                }
            }
        }
    }

    /// The first candidate slot `>= from` of `line` whose bits
    /// [`Prefilter::literal_candidates`] put in `bits`; while `set_pending`,
    /// the regex set is run (once, clearing `set_pending`) as soon as one of
    /// its slots would come first. Visiting slots in increasing order this way
    /// yields exactly the slots of [`Prefilter::candidates`].
    pub fn next_candidate(
        &self,
        line: &str,
        bits: &mut [u64],
        set_pending: &mut bool,
        from: usize,
    ) -> Option<usize> {
        loop {
            let lit = first_bit_from(bits, from);
            if *set_pending
                && let Some(s) = first_bit_from(&self.set_mask, from)
                && lit.is_none_or(|l| s < l)
            {
                self.add_set_candidates(line, bits);
                *set_pending = false;
                continue;
            }
            return lit;
        }
    }

    /// The candidate slots of `line` as a bitset (bit `slot` of word `slot / 64`).
    /// A non-ASCII line makes every slot a candidate: Unicode case folding lets
    /// non-ASCII characters (e.g. the Kelvin sign) match ASCII letters.
    pub fn candidates(&self, line: &str, out: &mut Vec<u64>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if !line.is_ascii() {
            for slot in 0..self.slots {
                set(out, slot);
            }
            return;
        }
        if let Some((rs, slots)) = &self.set {
            for i in rs.matches(line.as_bytes()).iter() {
                if let Some(&slot) = slots.get(i) {
                    set(out, slot);
                }
            }
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(line) {
                if let Some(slots) = self.pattern_slots.get(m.pattern().as_usize()) {
                    for &slot in slots {
                        set(out, slot);
                    }
                }
            }
        }
    }
}

fn set(bits: &mut [u64], slot: usize) {
    if let Some(w) = bits.get_mut(slot / 64) {
        *w |= 1u64 << (slot % 64);
    }
}

/// The first set bit `>= from`.
fn first_bit_from(bits: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut word = bits.get(w)? & (u64::MAX << (from % 64));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        word = *bits.get(w)?;
    }
}

/// Iterates the set bits of `bits` in increasing order.
pub fn iter_bits(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let tz = word.trailing_zeros() as usize;
            word &= word - 1;
            Some(w * 64 + tz)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_in_order() {
        let k = |l: Option<&str>, p: Option<&str>| SlotKey {
            literal: l.map(str::to_owned),
            pattern: p.map(str::to_owned),
        };
        let p = Prefilter::new(&[
            k(Some("failed"), None),
            k(None, None),
            k(Some("accepted"), None),
            k(Some("FAILED"), None),
            k(None, Some("^no")),
        ]);
        let mut bits = Vec::new();
        p.candidates("sshd: Failed password", &mut bits);
        assert_eq!(iter_bits(&bits).collect::<Vec<_>>(), vec![0, 1, 3]);
        p.candidates("nothing", &mut bits);
        assert_eq!(iter_bits(&bits).collect::<Vec<_>>(), vec![1, 4]);
        p.candidates("é", &mut bits);
        assert_eq!(
            iter_bits(&bits).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4],
            "non-ASCII: all"
        );
    }
}
