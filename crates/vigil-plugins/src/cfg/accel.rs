//! The fast path of rule matching on ASCII lines without a newline (nearly
//! every log line), where a rule's ASCII `regex` form is exact.
//!
//! * [`Decider`]: whether a rule matches, by a forward lazy DFA of
//!   `regex-automata` (linear time, stops at the first match state). The
//!   `regex` crate's own `is_match` picks strategies (reverse-inner literal
//!   search) that fall back to its PikeVM on these patterns and run 20-50 times
//!   slower on lines that do not match.
//! * [`Capturer`]: the groups of a line known to match, by PCRE2's JIT, a
//!   compiled backtracker about ten times faster than the `regex` crate's
//!   capture engines on patterns full of `\S+` and `.*`, with the same
//!   leftmost-first semantics Python's `re` has, under a match limit.
//!
//! Either one giving up (DFA cache exhausted, match limit) or disagreeing
//! hands the line to the `regex` crate, which decides. A test checks the fast
//! path gives the same result as the `regex` crate on every corpus line.

use std::sync::{Arc, Mutex};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::syntax;

/// A pool of reusable per-search state (one per thread matching at once).
#[derive(Debug)]
struct Pool<T>(Mutex<Vec<T>>);

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool(Mutex::new(Vec::new()))
    }
}

impl<T> Pool<T> {
    /// Runs `f` with a pooled value (made by `make` when none is free).
    fn with<R>(&self, make: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R {
        let taken = self.0.lock().ok().and_then(|mut free| free.pop());
        let mut value = taken.unwrap_or_else(make);
        let result = f(&mut value);
        if let Ok(mut free) = self.0.lock() {
            free.push(value);
        }
        result
    }
}

/// A forward lazy DFA of a rule pattern (ASCII classes, caseless), for ASCII lines.
#[derive(Debug, Clone)]
pub struct Decider {
    dfa: Arc<DFA>,
    caches: Arc<Pool<Cache>>,
}

impl Decider {
    /// Builds the DFA of `pattern` (`regex` syntax); `None` when it cannot be built.
    pub fn new(pattern: &str) -> Option<Decider> {
        let dfa = DFA::builder()
            .syntax(
                syntax::Config::new()
                    .case_insensitive(true)
                    .unicode(false)
                    .utf8(false),
            )
            .build(pattern)
            .ok()?;
        Some(Decider {
            dfa: Arc::new(dfa),
            caches: Arc::default(),
        })
    }

    /// Whether `line` contains a match; `None` when the DFA gave up.
    pub fn is_match(&self, line: &[u8]) -> Option<bool> {
        let input = regex_automata::Input::new(line).earliest(true);
        self.caches.with(
            || self.dfa.create_cache(),
            |cache| {
                self.dfa
                    .try_search_fwd(cache, &input)
                    .ok()
                    .map(|m| m.is_some())
            },
        )
    }
}

/// Backtracking steps PCRE2 may take on one line before the `regex` crate takes over.
pub const MATCH_LIMIT: u32 = 200_000;

/// A PCRE2 (JIT) compilation of a rule pattern, for ASCII lines.
#[derive(Debug, Clone)]
pub struct Capturer {
    regex: Arc<pcre2::bytes::Regex>,
    locations: Arc<Pool<pcre2::bytes::CaptureLocations>>,
}

impl Capturer {
    /// Compiles `pattern` (`regex` syntax, as translated) caselessly, without
    /// UTF, when PCRE2 reads it with exactly the groups `names` lists (index 0
    /// the whole match); `None` when it does not (the rule then captures with
    /// the `regex` crate alone).
    pub fn new(pattern: &str, names: &[Option<String>]) -> Option<Capturer> {
        if !same_in_both(pattern) {
            return None;
        }
        let regex = pcre2::bytes::RegexBuilder::new()
            .caseless(true)
            .jit_if_available(true)
            .build(&format!("(*LIMIT_MATCH={MATCH_LIMIT}){pattern}"))
            .ok()?;
        (regex.capture_names() == names).then(|| Capturer {
            regex: Arc::new(regex),
            locations: Arc::default(),
        })
    }

    /// The group spans of the leftmost match in `line` (which must be ASCII
    /// without `\n`), or `None` when PCRE2 finds none or gives up.
    pub fn spans(&self, line: &[u8], spans: &mut Vec<Option<(usize, usize)>>) -> Option<()> {
        self.locations.with(
            || self.regex.capture_locations(),
            |locs| {
                matches!(self.regex.captures_read(locs, line), Ok(Some(_))).then(|| {
                    spans.clear();
                    spans.extend((0..locs.len()).map(|i| locs.get(i)));
                })
            },
        )
    }
}

/// Whether PCRE2 reads `pattern` with the `regex` crate's meaning. Not when:
/// * verbose mode is on (`(?x)`, `(?ix)`, ...): the two treat whitespace in classes apart;
/// * a group with captures is repeated (`(\d+\.)+`, `(a*)+`): which iteration the captures
///   come from differs when an iteration can match empty;
/// * a repetition is repeated directly (`a*+`): PCRE2 reads a possessive quantifier.
///
/// Such rules capture with the `regex` crate (still decided by the lazy DFA).
fn same_in_both(pattern: &str) -> bool {
    let verbose = pattern.match_indices("(?").any(|(at, _)| {
        pattern
            .get(at + 2..)
            .unwrap_or_default()
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .any(|c| c == 'x')
    });
    if verbose {
        return false;
    }
    match regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
    {
        Ok(hir) => !repeats_captures(&hir),
        Err(_) => false,
    }
}

/// Whether a repetition that may run more than once holds a capture group or another
/// repetition directly.
fn repeats_captures(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::HirKind;
    fn has_capture(hir: &regex_syntax::hir::Hir) -> bool {
        match hir.kind() {
            HirKind::Capture(_) => true,
            HirKind::Repetition(r) => has_capture(&r.sub),
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(has_capture),
            _ => false,
        }
    }
    match hir.kind() {
        HirKind::Repetition(r) => {
            (r.max != Some(1)
                && (has_capture(&r.sub) || matches!(r.sub.kind(), HirKind::Repetition(_))))
                || repeats_captures(&r.sub)
        }
        HirKind::Capture(c) => repeats_captures(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(repeats_captures),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<Option<String>> {
        regex::Regex::new(p)
            .map(|r| r.capture_names().map(|n| n.map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn decides() {
        let d = Decider::new(r"failed (password|publickey) for \S+").expect("builds");
        assert_eq!(d.is_match(b"sshd: FAILED password for root"), Some(true));
        assert_eq!(d.is_match(b"sshd: Accepted password for root"), Some(false));
    }

    #[test]
    fn spans_and_refusals() {
        let p = r"(?P<user>\S+) from (\d+\.\d+)";
        let c = Capturer::new(p, &names(p)).expect("compiles");
        let mut spans = Vec::new();
        assert_eq!(c.spans(b"xx root FROM 1.2 yy", &mut spans), Some(()));
        assert_eq!(spans, vec![Some((3, 16)), Some((3, 7)), Some((13, 16))]);
        assert_eq!(c.spans(b"nothing", &mut spans), None);
        for p in [
            r"(?x) a b",
            r"(?ix)(?P<a>[a ]+)b",
            r"(\d*\.?)+",
            r"(?:x(a*))+b",
            r"a*+ab|c",
        ] {
            assert!(
                Capturer::new(p, &names(p)).is_none(),
                "{p} stays with the regex crate"
            );
        }
        for p in [r"(?i)(?P<a>\S+) (x|y)? (\d+)", r"(?:ab)+(c)", r"(\w{3})"] {
            assert!(Capturer::new(p, &names(p)).is_some(), "{p} can use PCRE2");
        }
        assert!(Capturer::new(p, &[None]).is_none(), "group mismatch");
        // Catastrophic backtracking stops at the limit instead of hanging.
        let evil = r"(b?)(?:a|aa)+$";
        let c = Capturer::new(evil, &names(evil)).expect("compiles");
        let mut line = vec![b'a'; 60];
        line.push(b'!');
        assert_eq!(c.spans(&line, &mut spans), None);
    }
}
