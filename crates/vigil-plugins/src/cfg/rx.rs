//! Python 2 `re` patterns translated for the Rust `regex` crate, aliases,
//! the compiled matcher (with the `fancy-regex` fallback) and required-literal
//! extraction for the prefilter.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Backtrack limit of `fancy-regex` fallback patterns.
pub const BACKTRACK_LIMIT: usize = 100_000;

/// Replaces regexp aliases: every `\` followed by a run of two or more word
/// characters that is a key of `aliases` (keys are matched lower-cased, as
/// ConfigParser stores them) is replaced by the alias pattern. `\\` escapes
/// are skipped so `\\IPV4` stays a literal backslash followed by `IPV4`.
pub fn expand_aliases(pattern: &str, aliases: &BTreeMap<String, String>) -> String {
    if aliases.is_empty() || !pattern.contains('\\') {
        return pattern.to_owned();
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(pos) = rest.find('\\') {
        out.push_str(rest.get(..pos).unwrap_or(""));
        let after = rest.get(pos + 1..).unwrap_or("");
        let word_len: usize = after
            .char_indices()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        if word_len >= 2
            && let Some(alias) = after
                .get(..word_len)
                .and_then(|w| aliases.get(&w.to_lowercase()))
        {
            out.push_str(alias);
            rest = after.get(word_len..).unwrap_or("");
            continue;
        }
        // Not an alias: keep the backslash and the next character verbatim.
        out.push('\\');
        match after.chars().next() {
            Some(c) => {
                out.push(c);
                rest = after.get(c.len_utf8()..).unwrap_or("");
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The result of translating a Python pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The pattern in `regex`/`fancy-regex` syntax.
    pub pattern: String,
    /// The pattern needs look-around or backreferences (`regex` cannot run it).
    pub needs_fancy: bool,
}

fn is_quantifier_body(s: &str) -> Option<(String, usize)> {
    // s starts just after '{'. Python: {n}, {n,}, {,m}, {n,m} are quantifiers;
    // anything else is a literal '{'.
    let end = s.find('}')?;
    let body = s.get(..end)?;
    let (a, b) = match body.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    if !digits(a) || !b.is_none_or(digits) {
        return None;
    }
    match b {
        None if a.is_empty() => None,
        None => Some((format!("{{{a}}}"), end + 1)),
        Some(b) => {
            let a = if a.is_empty() { "0" } else { a };
            Some((format!("{{{a},{b}}}"), end + 1))
        }
    }
}

/// Translates Python 2 `re` syntax to `regex` syntax: `{,n}` → `{0,n}`, a `{`
/// that is no quantifier → `\{`, `\Z` → `\z`, Python's literal escapes of
/// letters Rust gives a meaning (`\z`, `\p`, `\P`, `\e`, ...) → the letter,
/// `\a`/`\v` → hex escapes, `[` `&` `~` and `--` inside classes escaped,
/// `(?#...)` comments dropped, the Python-only `(?L)` flag dropped, `(?P=name)` and
/// `\1`..`\99` backreferences, `(?(name)yes|no)` conditionals and look-around marked as needing `fancy-regex`.
pub fn translate(py: &str) -> Translated {
    let mut out = String::with_capacity(py.len() + 8);
    let mut needs_fancy = false;
    let mut in_class = false;
    let mut class_start = false; // just after '[' or '[^'
    let chars: Vec<char> = py.chars().collect();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        if c == '\\' {
            let Some(n) = at(i + 1) else {
                out.push_str("\\\\");
                i += 1;
                continue;
            };
            i += 2;
            class_start = false;
            match n {
                'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'n' | 't' | 'r' | 'f' | '\\' => {
                    out.push('\\');
                    out.push(n);
                }
                'b' if in_class => out.push_str("\\x08"),
                'b' | 'B' | 'A' if !in_class => {
                    out.push('\\');
                    out.push(n);
                }
                'Z' if !in_class => out.push_str("\\z"),
                'a' => out.push_str("\\x07"),
                'v' => out.push_str("\\x0B"),
                'x' => {
                    let h: String = (0..2).filter_map(|k| at(i + k)).collect();
                    if h.len() == 2 && h.chars().all(|c| c.is_ascii_hexdigit()) {
                        out.push_str("\\x");
                        out.push_str(&h);
                        i += 2;
                    } else {
                        out.push('x');
                    }
                }
                '0'..='9' => {
                    // Octal (\0, \0nn, three octal digits) or a backreference.
                    let mut digits = String::from(n);
                    while digits.len() < 3 {
                        match at(i) {
                            Some(d) if d.is_ascii_digit() => {
                                digits.push(d);
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    let octal = n == '0'
                        || (digits.len() == 3 && digits.chars().all(|d| ('0'..='7').contains(&d)));
                    if octal || in_class {
                        let v = u32::from_str_radix(&digits, 8).unwrap_or(0) & 0xFF;
                        out.push_str(&format!("\\x{{{v:X}}}"));
                    } else {
                        // Backreference: keep at most two digits.
                        let (refd, back) = if digits.len() == 3 {
                            (digits.get(..2).unwrap_or(""), 1)
                        } else {
                            (digits.as_str(), 0)
                        };
                        out.push('\\');
                        out.push_str(refd);
                        i -= back;
                        needs_fancy = true;
                    }
                }
                c if c.is_ascii_alphabetic() => out.push(c), // Python: unknown escape = the letter
                c if c.is_alphanumeric() => out.push(c),
                c => push_literal(&mut out, c),
            }
            continue;
        }
        if in_class {
            match c {
                ']' if !class_start => {
                    in_class = false;
                    out.push(']');
                }
                ']' => out.push_str("\\]"),
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if at(i + 1) == Some('-') => out.push_str("\\-"),
                '^' if !class_start => out.push_str("\\^"),
                _ => out.push(c),
            }
            class_start = false;
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_start = true;
                out.push('[');
                if at(i + 1) == Some('^') {
                    out.push('^');
                    i += 1;
                }
                i += 1;
                continue;
            }
            '{' => {
                let rest: String = chars.get(i + 1..).unwrap_or(&[]).iter().take(24).collect();
                match is_quantifier_body(&rest) {
                    Some((q, len)) => {
                        out.push_str(&q);
                        i += 1 + len;
                    }
                    None => {
                        out.push_str("\\{");
                        i += 1;
                    }
                }
                continue;
            }
            '}' => out.push_str("\\}"),
            '(' if at(i + 1) == Some('?') => {
                let tail: String = chars.get(i + 2..).unwrap_or(&[]).iter().take(4).collect();
                if tail.starts_with('#') {
                    // Comment group: skip to the closing ')'.
                    let mut j = i + 2;
                    while at(j).is_some_and(|c| c != ')') {
                        j += 1;
                    }
                    i = j + 1;
                    continue;
                }
                if tail.starts_with('=')
                    || tail.starts_with('!')
                    || tail.starts_with("<=")
                    || tail.starts_with("<!")
                    || tail.starts_with("P=")
                    || tail.starts_with('(')
                {
                    needs_fancy = true;
                    out.push_str("(?");
                    i += 2;
                    continue;
                }
                // Inline flags: drop Python-only ones (L, u is fine in Rust).
                let flags: String = chars
                    .get(i + 2..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if !flags.is_empty() && at(i + 2 + flags.len()) == Some(')') {
                    let kept: String = flags
                        .chars()
                        .filter(|f| "imsxU".contains(*f) || *f == 'u')
                        .collect();
                    let kept: String = kept.chars().filter(|f| *f != 'U').collect();
                    if !kept.is_empty() {
                        out.push_str("(?");
                        out.push_str(&kept);
                        out.push(')');
                    }
                    i += 3 + flags.len();
                    continue;
                }
                out.push_str("(?");
                i += 2;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    if in_class {
        // Unterminated class: let the compiler report it.
    }
    Translated {
        pattern: out,
        needs_fancy,
    }
}

/// An escaped character of a Python pattern, as a literal of the `regex` syntax: escaped only
/// when it is a meta character there (`\<` and `\>` would be word boundaries), a space as
/// `\x20` (so verbose mode cannot drop it).
fn push_literal(out: &mut String, c: char) {
    if c == ' ' {
        out.push_str("\\x20");
    } else if regex_syntax::is_meta_character(c) {
        out.push('\\');
        out.push(c);
    } else {
        out.push(c);
    }
}

/// A pattern compiled by `regex`, in two forms: ASCII lines (the vast
/// majority) run an ASCII-only byte regex, whose classes (`\w`, `\d`, `\s`,
/// `.`) are much smaller automata and behave exactly like the Unicode classes
/// on ASCII text; other lines run the Unicode regex (Python's `re.UNICODE`),
/// compiled on first use.
#[derive(Debug)]
pub struct FastRegex {
    pattern: String,
    ascii: Option<regex::bytes::Regex>,
    /// Fast decision for ASCII lines.
    decider: Option<super::accel::Decider>,
    /// Capture extraction for ASCII lines the `ascii` form matched.
    capturer: Option<super::accel::Capturer>,
    unicode: OnceLock<Option<regex::Regex>>,
}

impl Clone for FastRegex {
    fn clone(&self) -> Self {
        let unicode = OnceLock::new();
        if let Some(u) = self.unicode.get() {
            let _ = unicode.set(u.clone());
        }
        FastRegex {
            pattern: self.pattern.clone(),
            ascii: self.ascii.clone(),
            decider: self.decider.clone(),
            capturer: self.capturer.clone(),
            unicode,
        }
    }
}

fn build_unicode(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|e| one_line(&e.to_string()))
}

/// The ASCII-only byte form of a pattern (`None` when it does not compile so).
pub fn build_ascii(pattern: &str) -> Option<regex::bytes::Regex> {
    regex::bytes::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .ok()
}

impl FastRegex {
    /// The pattern (in `regex` syntax).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the ASCII form exists (else every line runs the Unicode form).
    pub fn has_ascii_form(&self) -> bool {
        self.ascii.is_some()
    }

    fn unicode(&self) -> Option<&regex::Regex> {
        self.unicode
            .get_or_init(|| build_unicode(&self.pattern).ok())
            .as_ref()
    }
}

/// A compiled rule pattern.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Compiled by `regex`.
    Fast(FastRegex),
    /// Compiled by `fancy-regex` (look-around, backreferences), with [`BACKTRACK_LIMIT`].
    Fancy(Box<fancy_regex::Regex>),
}

/// Compiles a translated pattern case-insensitively (Python `re.IGNORECASE |
/// re.UNICODE`). Returns the matcher or the compiler's message.
pub fn compile(t: &Translated) -> Result<Matcher, String> {
    if !t.needs_fancy {
        let ascii = build_ascii(&t.pattern);
        let unicode = OnceLock::new();
        if ascii.is_none() {
            // Validate now (and keep it): the Unicode form is the only one.
            let u = build_unicode(&t.pattern)?;
            let _ = unicode.set(Some(u));
        }
        let capturer = ascii.as_ref().and_then(|re| {
            let names: Vec<Option<String>> =
                re.capture_names().map(|n| n.map(str::to_owned)).collect();
            super::accel::Capturer::new(&t.pattern, &names)
        });
        let decider = ascii
            .as_ref()
            .and_then(|_| super::accel::Decider::new(&t.pattern));
        return Ok(Matcher::Fast(FastRegex {
            pattern: t.pattern.clone(),
            ascii,
            decider,
            capturer,
            unicode,
        }));
    }
    fancy_regex::RegexBuilder::new(&format!("(?i){}", t.pattern))
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map(|re| Matcher::Fancy(Box::new(re)))
        .map_err(|e| one_line(&e.to_string()))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Matcher {
    /// The capture group names by index (index 0 is the whole match).
    pub fn group_names(&self) -> Vec<Option<String>> {
        match self {
            // The ASCII form when there is one: the Unicode form is built on first use only
            // (its case-folded classes are large).
            Matcher::Fast(f) => match &f.ascii {
                Some(re) => re.capture_names().map(|n| n.map(str::to_owned)).collect(),
                None => f.unicode().map_or_else(Vec::new, |re| {
                    re.capture_names().map(|n| n.map(str::to_owned)).collect()
                }),
            },
            Matcher::Fancy(re) => re.capture_names().map(|n| n.map(str::to_owned)).collect(),
        }
    }

    /// Searches `line`; on a match returns every group's text (`""` when the
    /// group did not participate), index 0 being the whole match. A fancy
    /// pattern that hits its backtrack limit counts as no match.
    pub fn captures(&self, line: &str, groups: &mut Vec<String>) -> bool {
        groups.clear();
        let mut spans = Vec::new();
        if !self.capture_spans(line, line.is_ascii(), &mut spans) {
            return false;
        }
        groups.extend(
            spans
                .iter()
                .map(|m| m.and_then(|(s, e)| line.get(s..e)).unwrap_or("").to_owned()),
        );
        true
    }

    /// [`Matcher::captures`] as byte spans (`None` when the group did not
    /// participate), without copying any text; `ascii` is `line.is_ascii()`.
    /// ASCII lines without a newline take the fast engines of [`super::accel`];
    /// the result is always that of [`Matcher::reference_spans`].
    pub fn capture_spans(&self, line: &str, ascii: bool, spans: &mut Spans) -> bool {
        if let Matcher::Fast(f) = self
            && ascii
            && f.ascii.is_some()
            && !line.as_bytes().contains(&b'\n')
        {
            let bytes = line.as_bytes();
            match f.decider.as_ref().and_then(|d| d.is_match(bytes)) {
                Some(false) => {
                    spans.clear();
                    return false;
                }
                Some(true)
                    if f.capturer
                        .as_ref()
                        .is_some_and(|c| c.spans(bytes, spans).is_some()) =>
                {
                    return true;
                }
                // A fast engine gave up or disagreed: the regex crate decides.
                _ => {}
            }
        }
        self.reference_spans(line, ascii, spans)
    }

    /// The groups as the `regex` crate (or `fancy-regex`) alone finds them: the
    /// reference the fast path is tested against.
    pub fn reference_spans(&self, line: &str, ascii: bool, spans: &mut Spans) -> bool {
        spans.clear();
        match self {
            Matcher::Fast(f) => {
                if ascii && let Some(re) = &f.ascii {
                    let mut locs = re.capture_locations();
                    if re.captures_read(&mut locs, line.as_bytes()).is_none() {
                        return false;
                    }
                    spans.extend((0..locs.len()).map(|i| locs.get(i)));
                    return true;
                }
                let Some(re) = f.unicode() else {
                    return false;
                };
                let mut locs = re.capture_locations();
                if re.captures_read(&mut locs, line).is_none() {
                    return false;
                }
                spans.extend((0..locs.len()).map(|i| locs.get(i)));
                true
            }
            Matcher::Fancy(re) => match re.captures(line) {
                Ok(Some(caps)) => {
                    spans.extend(caps.iter().map(|m| m.map(|m| (m.start(), m.end()))));
                    true
                }
                _ => false,
            },
        }
    }
}

/// Capture group spans of one match, index 0 being the whole match.
pub type Spans = Vec<Option<(usize, usize)>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(p: &str) -> String {
        translate(p).pattern
    }

    #[test]
    fn translation_cases() {
        assert_eq!(tr(r"a{,3}b{2}c{1,}d{x}"), r"a{0,3}b{2}c{1,}d\{x\}");
        assert_eq!(tr(r"end\Z"), r"end\z");
        assert_eq!(tr(r"\e\z\p\P\_\-"), r"ezpP_\-");
        assert_eq!(tr(r"[[a&&b~]"), r"[\[a\&\&b\~]");
        assert_eq!(tr(r"[]a]"), r"[\]a]");
        assert_eq!(tr(r"a(?#note)b(?L)(?i)c"), r"ab(?i)c");
        assert_eq!(tr(r"\x41\a\0"), r"\x41\x07\x{0}");
        assert_eq!(
            tr(r"\<user\> \@\%\ x"),
            r"<user> @%\x20x",
            "only meta characters stay escaped"
        );
        assert!(translate(r"(?P<a>x)(?P=a)").needs_fancy);
        assert!(translate(r"(a)\1").needs_fancy);
        assert!(translate(r"foo(?!bar)").needs_fancy);
        assert!(translate(r"(?<=a)b").needs_fancy);
        assert!(matches!(
            compile(&translate(r"(?P<a>x)?(?(a)y|z)")),
            Ok(Matcher::Fancy(_))
        ));
        assert!(!translate(r"(?P<n>\d+)").needs_fancy);
        for p in [r"a{,3}", r"[[x]", r"\Z", r"\e"] {
            assert!(compile(&translate(p)).is_ok(), "{p}");
        }
        assert!(matches!(
            compile(&translate(r"(a)\1")),
            Ok(Matcher::Fancy(_))
        ));
    }

    #[test]
    fn aliases() {
        let mut a = BTreeMap::new();
        a.insert("ipv4".to_owned(), r"\d+\.\d+".to_owned());
        a.insert("port".to_owned(), r"\d{1,5}".to_owned());
        assert_eq!(
            expand_aliases(r"(\IPV4):(\PORT)\d\s\IPV4X\\IPV4", &a),
            r"(\d+\.\d+):(\d{1,5})\d\s\IPV4X\\IPV4"
        );
    }
}
