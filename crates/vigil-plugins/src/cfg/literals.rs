//! Required literals of a rule pattern, for the prefilter: a small set of
//! ASCII strings such that every match of the pattern contains at least one of
//! them (compared ASCII-case-insensitively, as rules match case-insensitively).
//!
//! Computed on the pattern's syntax tree (`fancy-regex`'s parser, which reads
//! both plain and fancy patterns), so alternations yield sets (`(asa|ASA)-`
//! requires `asa-`; `(accepted|failed) password` requires one of
//! `accepted password`, `failed password`). Each node reports the strings it
//! matches exactly, when finite and small, and a set some match must contain;
//! a concatenation multiplies adjacent exact sets and keeps the best candidate.

use fancy_regex::Expr;

/// At most this many strings in one set (more makes the prefilter weak).
const MAX_SET: usize = 16;
/// Shortest useful literal: shorter ones occur in nearly every line.
const MIN_LEN: usize = 3;

/// What one syntax node tells about its matches.
#[derive(Debug, Clone, Default)]
struct Info {
    /// Every match is exactly one of these (lower-cased).
    exact: Option<Vec<String>>,
    /// Every match contains one of these (lower-cased).
    required: Option<Vec<String>>,
}

impl Info {
    fn exact(strings: Vec<String>) -> Info {
        Info {
            exact: Some(strings),
            required: None,
        }
    }

    fn empty() -> Info {
        Info::exact(vec![String::new()])
    }

    /// The best set this node guarantees (its exact set counts too).
    fn best(&self) -> Option<&Vec<String>> {
        [self.exact.as_ref(), self.required.as_ref()]
            .into_iter()
            .flatten()
            .filter(|s| score(s).is_some())
            .max_by_key(|s| score(s))
    }
}

/// Higher is better: the shortest member's length first, then fewer members.
/// `None` when the set is unusable (empty, too short or not ASCII).
fn score(set: &[String]) -> Option<(usize, std::cmp::Reverse<usize>)> {
    let shortest = set.iter().map(String::len).min()?;
    (shortest >= MIN_LEN && set.iter().all(|s| s.is_ascii()))
        .then_some((shortest, std::cmp::Reverse(set.len())))
}

fn dedup(mut set: Vec<String>) -> Vec<String> {
    set.sort();
    set.dedup();
    set
}

/// Cross product of two exact sets, `None` when it would be too large.
fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    Some(dedup(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| format!("{x}{y}")))
            .collect(),
    ))
}

fn better(current: Option<Vec<String>>, candidate: Option<&Vec<String>>) -> Option<Vec<String>> {
    match (current, candidate) {
        (None, c) => c.filter(|c| score(c).is_some()).cloned(),
        (Some(cur), Some(c)) if score(c) > score(&cur) => Some(c.clone()),
        (cur, _) => cur,
    }
}

fn concat(children: &[Expr]) -> Info {
    let mut run: Option<Vec<String>> = Some(vec![String::new()]);
    let mut all_exact = true;
    let mut best: Option<Vec<String>> = None;
    for child in children {
        let info = analyze(child);
        match (&run, &info.exact) {
            (Some(r), Some(e)) => match product(r, e) {
                Some(p) => run = Some(p),
                None => {
                    best = better(best, run.as_ref());
                    run = Some(e.clone());
                    all_exact = false;
                }
            },
            (None, Some(e)) => run = Some(e.clone()),
            (_, None) => {
                best = better(best, run.as_ref());
                best = better(best, info.required.as_ref());
                run = None;
                all_exact = false;
            }
        }
    }
    best = better(best, run.as_ref());
    Info {
        exact: if all_exact { run } else { None },
        required: best,
    }
}

fn alternation(children: &[Expr]) -> Info {
    let infos: Vec<Info> = children.iter().map(analyze).collect();
    let exact = infos
        .iter()
        .map(|i| i.exact.clone())
        .collect::<Option<Vec<_>>>()
        .map(|sets| dedup(sets.concat()))
        .filter(|s| s.len() <= MAX_SET);
    let required = infos
        .iter()
        .map(|i| i.best().cloned())
        .collect::<Option<Vec<_>>>()
        .map(|sets| dedup(sets.concat()))
        .filter(|s| s.len() <= MAX_SET);
    Info { exact, required }
}

fn analyze(expr: &Expr) -> Info {
    match expr {
        Expr::Empty | Expr::Assertion(_) | Expr::LookAround(..) | Expr::KeepOut => Info::empty(),
        Expr::Literal { val, .. } if val.is_ascii() => Info::exact(vec![val.to_ascii_lowercase()]),
        Expr::Concat(children) => concat(children),
        Expr::Alt(children) => alternation(children),
        Expr::Group(inner) => analyze(inner),
        Expr::AtomicGroup(inner) => analyze(inner),
        Expr::Repeat { child, lo, hi, .. } => {
            let inner = analyze(child);
            match (*lo, *hi) {
                (0, _) => Info::default(),
                (1, 1) => inner,
                _ => Info {
                    exact: None,
                    required: inner.best().cloned(),
                },
            }
        }
        _ => Info::default(),
    }
}

/// The required literal set of a translated pattern (lower-cased, ASCII, each
/// at least 3 bytes), or `None` when none can be guaranteed.
pub fn required_literals(pattern: &str) -> Option<Vec<String>> {
    // Inline flags that change how literals read (verbose mode, flags turned off).
    if pattern.contains("(?x") || pattern.contains("(?-") {
        return None;
    }
    let tree = Expr::parse_tree(pattern).ok()?;
    analyze(&tree.expr).best().cloned()
}

/// The set the prefilter uses for a rule: its `precheck` (a substring every
/// line it matches contains) or its pattern's required set, whichever is better.
pub fn rule_literals(precheck: Option<&str>, pattern: &str) -> Option<Vec<String>> {
    let precheck = precheck.map(|p| vec![p.to_ascii_lowercase()]);
    better(required_literals(pattern), precheck.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p)
    }

    fn set(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn literal_sets() {
        assert_eq!(
            lits(r"Failed password for (?P<u>\S+)"),
            set(&["failed password for "])
        );
        assert_eq!(lits(r"(?P<m>(asa|ASA)-\d+)"), set(&["asa-"]));
        assert_eq!(
            lits(r"(Accepted|Failed) password"),
            set(&["accepted password", "failed password"])
        );
        assert_eq!(lits(r"\d+ (foo|ba) \d+"), set(&[" ba ", " foo "]));
        assert_eq!(lits(r"(foo|x)\d"), None, "one alternative too short");
        assert_eq!(lits(r"a(bcd)?e"), None, "optional part is not required");
        assert_eq!(lits(r"(?:abc)+x"), set(&["abc"]));
        assert_eq!(lits(r"\w{3}\s+\d{1,2}"), None);
        assert_eq!(
            lits(r"sshd\[\d+\]: (Invalid|Illegal) user"),
            set(&["]: illegal user", "]: invalid user"])
        );
        assert_eq!(
            lits(r"foo(?!bar)baz"),
            set(&["foobaz"]),
            "look-ahead is zero-width"
        );
        assert_eq!(lits(r"(?P<a>xyz)(?P=a)"), set(&["xyz"]));
        assert_eq!(lits(r"(?x) a b c"), None);
        assert_eq!(lits(r"(unclosed"), None);
        assert_eq!(lits(r"é(abc)"), set(&["abc"]), "non-ASCII runs are skipped");
    }

    #[test]
    fn precheck_or_pattern() {
        assert_eq!(
            rule_literals(Some("sshd"), r"Failed password"),
            set(&["failed password"])
        );
        assert_eq!(
            rule_literals(Some("Longer precheck"), r"abc"),
            set(&["longer precheck"])
        );
        assert_eq!(rule_literals(Some("ab"), r"\d+"), None, "too short");
        assert_eq!(rule_literals(None, r"\d+"), None);
    }
}
