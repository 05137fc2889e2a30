//! The Python 2 `ConfigParser` dialect of OSSIM agent files.
//!
//! Faithful to `RawConfigParser._read` of Python 2.7 with the OSSIM agent's
//! `OPTCRE` (`(?P<option>[^:=\s][^=]*)\s*(?P<vi>[:=])\s*(?P<value>.*)$`):
//!
//! * a line is a comment when its **first character** is `#` or `;`, or
//!   when it is a `rem`/`REM` line; blank lines are skipped;
//! * a line starting with whitespace continues the previous option
//!   (joined with `\n`), even when its text starts with `#`;
//! * `[name]` starts a section (text after `]` is ignored); repeated sections
//!   are merged; `DEFAULT` is the defaults section;
//! * the key is everything before the first `=`, or when there is no `=`
//!   before the last `:`; keys are right-trimmed and lower-cased;
//! * the first `;` of a value cuts the value there when the character before
//!   it is whitespace (Python looks at `value[-1]` when `;` is the first
//!   character); a value `""` becomes empty;
//! * values keep their text otherwise; [`strip_quotes`] is applied by the
//!   caller (OSSIM `_strip_value`).

use std::collections::BTreeMap;

/// One option with the 1-based line where it was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniValue {
    /// The value (continuation lines joined with `\n`).
    pub value: String,
    /// 1-based line of the `key=value` line.
    pub line: usize,
}

/// One section: options by lower-cased key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniSection {
    /// 1-based line of the first header of this section (0 for an implicit `DEFAULT`).
    pub line: usize,
    /// Options by lower-cased key.
    pub options: BTreeMap<String, IniValue>,
}

/// A parsed INI file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    /// `[DEFAULT]` options.
    pub defaults: IniSection,
    /// Every other section by name (case kept), merged when repeated.
    pub sections: BTreeMap<String, IniSection>,
}

/// A syntax error: 1-based line and column and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// Decodes file bytes: UTF-8 when valid, else latin-1 (every byte one character),
/// as the Python 2 agent reads byte strings.
pub fn decode_latin1_tolerant(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// OSSIM `_strip_value`: strips every leading/trailing `"`, then every
/// leading/trailing `'`.
pub fn strip_quotes(value: &str) -> &str {
    value.trim_matches('"').trim_matches('\'')
}

/// Parses `text`. Like Python, all lines are read and the first bad line is
/// reported (Python reports all of them in one `ParsingError`).
pub fn parse(text: &str) -> Result<Ini, IniError> {
    let mut ini = Ini::default();
    // None: no section yet; Some(None): DEFAULT; Some(Some(name)): a section.
    let mut current: Option<Option<String>> = None;
    let mut optname: Option<String> = None;
    let mut first_error: Option<IniError> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let lineno = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let first_word = line.split_whitespace().next().unwrap_or("");
        if first_word.eq_ignore_ascii_case("rem") && line.starts_with(['r', 'R']) {
            continue;
        }
        let starts_ws = line.chars().next().is_some_and(char::is_whitespace);
        if starts_ws && current.is_some() && optname.is_some() {
            let value = line.trim();
            if !value.is_empty()
                && let (Some(section), Some(name)) = (current.as_ref(), optname.as_ref())
            {
                let sect = section_mut(&mut ini, section.as_deref());
                if let Some(v) = sect.options.get_mut(name) {
                    v.value.push('\n');
                    v.value.push_str(value);
                }
            }
            continue;
        }
        if let Some(header) = section_header(line) {
            if header == "DEFAULT" {
                current = Some(None);
            } else {
                let sect = ini.sections.entry(header.to_owned()).or_default();
                if sect.line == 0 {
                    sect.line = lineno;
                }
                current = Some(Some(header.to_owned()));
            }
            optname = None;
            continue;
        }
        let Some(section) = current.as_ref() else {
            return Err(IniError {
                line: lineno,
                column: 1,
                reason: "option before the first [section] header".to_owned(),
            });
        };
        match option_line(line) {
            Some((name, value)) => {
                let sect = section_mut(&mut ini, section.as_deref());
                sect.options.insert(
                    name.clone(),
                    IniValue {
                        value,
                        line: lineno,
                    },
                );
                optname = Some(name);
            }
            None => {
                if first_error.is_none() {
                    first_error = Some(IniError {
                        line: lineno,
                        column: 1,
                        reason: "line is neither a [section], a key=value nor a comment".to_owned(),
                    });
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(ini),
    }
}

fn section_mut<'a>(ini: &'a mut Ini, name: Option<&str>) -> &'a mut IniSection {
    match name {
        None => &mut ini.defaults,
        Some(name) => ini.sections.entry(name.to_owned()).or_default(),
    }
}

/// `\[(?P<header>[^]]+)\]` matched at the start of the line.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    if end == 0 {
        return None;
    }
    rest.get(..end)
}

/// The OSSIM `OPTCRE` plus Python's value post-processing.
fn option_line(line: &str) -> Option<(String, String)> {
    let first = line.chars().next()?;
    if first == ':' || first == '=' || first.is_whitespace() {
        return None;
    }
    // `[^=]*` is greedy and cannot cross '=': split at the first '=' if any,
    // else backtrack to the last ':' (which must not be the first character).
    let (key, value) = if let Some(eq) = line.find('=') {
        (line.get(..eq)?, line.get(eq + 1..)?)
    } else {
        let colon = line.rfind(':')?;
        if colon == 0 {
            return None;
        }
        (line.get(..colon)?, line.get(colon + 1..)?)
    };
    let mut value = value.trim_start();
    if let Some(pos) = value.find(';') {
        let before = if pos == 0 {
            value.chars().last()
        } else {
            value.get(..pos).and_then(|s| s.chars().last())
        };
        if before.is_some_and(char::is_whitespace) {
            value = value.get(..pos).unwrap_or("");
        }
    }
    let mut value = value.trim().to_owned();
    if value == "\"\"" {
        value.clear();
    }
    Some((key.trim_end().to_lowercase(), value))
}

/// Python 2 `ConfigParser` `%(name)s` interpolation (used for `[config]` only):
/// names are looked up lower-cased in `lookup`, `%%` stays as is (Python 2's
/// `ConfigParser` leaves it), at most 10 rounds; unknown names are left untouched.
pub fn interpolate(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut value = value.to_owned();
    for _ in 0..10 {
        if !value.contains("%(") {
            break;
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value.as_str();
        let mut changed = false;
        while let Some(start) = rest.find("%(") {
            out.push_str(rest.get(..start).unwrap_or(""));
            let after = rest.get(start + 2..).unwrap_or("");
            match after.find(")s") {
                Some(end) => {
                    let name = after.get(..end).unwrap_or("");
                    match lookup(&name.to_lowercase()) {
                        Some(v) => {
                            out.push_str(&v);
                            changed = true;
                        }
                        None => {
                            out.push_str("%(");
                            out.push_str(name);
                            out.push_str(")s");
                        }
                    }
                    rest = after.get(end + 2..).unwrap_or("");
                }
                None => {
                    out.push_str("%(");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        value = out;
        if !changed {
            break;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks() {
        let text = "[DEFAULT]\nPlugin_ID=7\n[a]\nKey: v:x\nk2 = a ; comment\nk3=a;b ;c\nk4=\"\"\n  # cont\n\nk5=x=y\n;c\n#c\nrem foo\n[a]\nk6=1\n";
        let ini = parse(text).expect("parses");
        assert_eq!(ini.defaults.options["plugin_id"].value, "7");
        let a = &ini.sections["a"].options;
        assert_eq!(a["key: v"].value, "x", "no '=': split at the last ':'");
        assert_eq!(a["k2"].value, "a");
        assert_eq!(a["k3"].value, "a;b ;c", "first ';' not after whitespace");
        assert_eq!(
            a["k4"].value, "\n# cont",
            "\"\" then an indented continuation"
        );
        assert_eq!(a["k5"].value, "x=y");
        assert_eq!(a["k6"].value, "1", "repeated sections merge");
        assert_eq!(a["k6"].line, 15);
    }

    #[test]
    fn errors_and_helpers() {
        assert_eq!(parse("k=v\n").map_err(|e| e.line), Err(1));
        assert_eq!(parse("[a]\nnovalue\n").map_err(|e| e.line), Err(2));
        assert_eq!(strip_quotes("\"'x'\""), "x");
        assert_eq!(decode_latin1_tolerant(b"a\xe9"), "a\u{e9}");
        let look = |k: &str| (k == "process").then(|| "sshd".to_owned());
        assert_eq!(
            interpolate("/x/%(PROCESS)s/%(no)s", &look),
            "/x/sshd/%(no)s"
        );
        assert_eq!(
            parse("[a]\nk=;x \n").map(|i| i.sections["a"].options["k"].value.clone()),
            Ok(String::new())
        );
    }
}
