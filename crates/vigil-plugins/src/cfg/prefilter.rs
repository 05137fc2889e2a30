//! Candidate selection: one Aho-Corasick automaton over the required literals
//! of every rule slot (see [`super::literals`]), so a line is only matched
//! against rules one of whose literals occurs in it, in slot order. Rules
//! without a usable literal are tried in turn; after a few of them failed on a
//! line, one `RegexSet` pass (lazy DFA with a raised cache limit) over all of
//! them tells which can still match. Fallback patterns without a literal are
//! always candidates.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// A prefilter over `n` ordered rule slots.
#[derive(Debug, Clone)]
pub struct Prefilter {
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
    /// Literals one of which every match contains (ASCII, matched
    /// ASCII-case-insensitively); empty when none is known.
    pub literals: Vec<String>,
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
            let usable = !key.literals.is_empty()
                && key.literals.iter().all(|l| l.is_ascii() && !l.is_empty());
            match usable {
                true => {
                    for l in &key.literals {
                        let lower = l.to_ascii_lowercase();
                        let id = *index.entry(lower.clone()).or_insert_with(|| {
                            patterns.push(lower);
                            pattern_slots.push(Vec::new());
                            patterns.len() - 1
                        });
                        if let Some(v) = pattern_slots.get_mut(id)
                            && v.last() != Some(&slot)
                        {
                            v.push(slot);
                        }
                    }
                }
                false => match &key.pattern {
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
            ac,
            pattern_slots,
            always,
            set: set_field,
            set_mask,
        }
    }

    /// The first slot, in slot order, among the candidates of `line` for which
    /// `try_slot` says the rule matches.
    ///
    /// Candidates are the slots one of whose literals occurs in the line, and
    /// the slots without a literal. Rules match Unicode-case-insensitively, so
    /// on a non-ASCII line the two characters that fold to ASCII letters (the
    /// Kelvin sign to `k`, the long s to `s`) are read as those letters first.
    /// Slots without a literal are tried one by one at first (a
    /// catch-all rule usually ends the search there); after
    /// [`SET_AFTER_MISSES`] of them failed, one pass of the regex set removes
    /// the others that cannot match.
    pub fn first_match(
        &self,
        line: &str,
        mut try_slot: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mut bits = self.always.clone();
        let ascii = line.is_ascii();
        let folded;
        let text = match ascii {
            true => line,
            false => {
                folded = fold_to_ascii(line);
                folded.as_str()
            }
        };
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(text) {
                if let Some(slots) = self.pattern_slots.get(m.pattern().as_usize()) {
                    for &slot in slots {
                        set(&mut bits, slot);
                    }
                }
            }
        }
        for (b, m) in bits.iter_mut().zip(&self.set_mask) {
            *b |= m;
        }
        // The regex set reads ASCII only: on other lines its slots are all tried.
        let mut set_pending = ascii && self.set.is_some();
        let mut set_misses = 0;
        let mut from = 0;
        while let Some(slot) = first_bit_from(&bits, from) {
            if try_slot(slot) {
                return Some(slot);
            }
            from = slot + 1;
            if set_pending && has_bit(&self.set_mask, slot) {
                set_misses += 1;
                if set_misses >= SET_AFTER_MISSES {
                    self.keep_set_matches(line, &mut bits);
                    set_pending = false;
                }
            }
        }
        None
    }

    /// Clears the regex-set slots of `bits` whose pattern does not match `line`.
    fn keep_set_matches(&self, line: &str, bits: &mut [u64]) {
        if let Some((rs, slots)) = &self.set {
            let matched = rs.matches(line.as_bytes());
            for (i, &slot) in slots.iter().enumerate() {
                if !matched.matched(i)
                    && let Some(w) = bits.get_mut(slot / 64)
                {
                    *w &= !(1u64 << (slot % 64));
                }
            }
        }
    }
}

/// Slots without a literal tried one by one before the regex set is run.
pub const SET_AFTER_MISSES: usize = 4;

fn has_bit(bits: &[u64], slot: usize) -> bool {
    bits.get(slot / 64)
        .is_some_and(|w| w & (1u64 << (slot % 64)) != 0)
}

/// `line` with the only non-ASCII characters whose simple case folding is an ASCII letter
/// replaced by that letter (U+212A KELVIN SIGN → `k`, U+017F LATIN SMALL LETTER LONG S → `s`):
/// an ASCII literal matches the result ASCII-case-insensitively exactly when it matches the
/// line Unicode-case-insensitively.
fn fold_to_ascii(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\u{212A}' => 'k',
            '\u{17F}' => 's',
            c => c,
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_in_order() {
        let k = |l: Option<&str>, p: Option<&str>| SlotKey {
            literals: l.into_iter().map(str::to_owned).collect(),
            pattern: p.map(str::to_owned),
        };
        let p = Prefilter::new(&[
            k(Some("failed"), None),
            k(None, None),
            k(Some("accepted"), None),
            k(Some("FAILED"), None),
            k(None, Some("^no")),
        ]);
        let order = |line: &str| {
            let mut tried = Vec::new();
            p.first_match(line, |slot| {
                tried.push(slot);
                false
            });
            tried
        };
        assert_eq!(order("sshd: Failed password"), vec![0, 1, 3, 4]);
        assert_eq!(order("nothing"), vec![1, 4]);
        assert_eq!(order("é"), vec![1, 4], "non-ASCII: literals still filter");
        assert_eq!(
            order("\u{17F}shd: FAILED pa\u{17F}\u{17F}word é"),
            vec![0, 1, 3, 4],
            "the long s is an s"
        );
        assert_eq!(p.first_match("accepted", |slot| slot >= 2), Some(2));
    }
}
