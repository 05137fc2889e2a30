//! OSSIM agent plugin `.cfg` files: load them and turn log lines into events
//! exactly as the agent's `ParserLog` does (spec section 10), but fast.
//!
//! * [`AgentSettings`] holds the agent's regexp aliases (`aliases.cfg`
//!   `[regexp]`) and `config.cfg` values (for `\_CFG(section,option)`).
//! * [`Plugin::load`] reads one `.cfg` (Python 2 `ConfigParser` dialect, see
//!   [`ini`]), expands aliases and `\_CFG`, translates every rule's Python
//!   regex for the `regex` crate (falling back to `fancy-regex` with a
//!   backtrack limit for look-around and backreferences) and returns the
//!   plugin with [`Warning`]s for every construct it cannot run.
//! * [`Plugin::parse`] / [`PluginSet::parse`] try rules in section-name order
//!   (plugins in the given order), first match wins, one event per line. A
//!   single Aho-Corasick prefilter over each rule's `precheck` or required
//!   regex literal limits the regexes tried per line.
//!
//! Deliberate differences from the agent (deterministic, no I/O at parse time):
//! * `resolv`/`resolv_ip` do no DNS: the value is returned unchanged (the
//!   agent's failure path); `resolv_port` uses [`funcs::SERVICES`];
//! * `normalize_date` takes the missing year/month/day from [`ParseContext`]
//!   and reads epochs as UTC;
//! * multi-line rules (`\n` in `regexp`) are skipped with a warning: the API
//!   parses one line at a time;
//! * `{:func(...)}` custom functions (Python companion files) and the functions
//!   of [`funcs::UNSUPPORTED`] yield the raw first argument, with a warning at load.

pub mod accel;
pub mod expr;
pub mod funcs;
mod fuzz;
pub mod ini;
pub mod literals;
mod plugin;
pub mod prefilter;
pub mod rx;
pub mod secret;
mod set;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub use fuzz::{fuzz_load, fuzz_match};
pub use plugin::{Plugin, Rule};
pub use set::PluginSet;

/// A load error with its place: `file:line:column: reason`, or `file: reason`.
pub use vigil_textpos::FileError as CfgError;

/// The reference date for values a log line lacks (the year of syslog dates):
/// never the wall clock, so parsing is deterministic.
///
/// A date without a year takes [`ParseContext::year`], except across New Year, as the OSSIM
/// agent reads it: a December date while the reference month is January belongs to the year
/// before, a January date while the reference month is December to the year after. A replay
/// starts from [`ParseContext::for_year`] and [`ParseContext::follow`]s the dates of its log,
/// so a log going from December to January rolls into the next year. A live edge sets the
/// reference to its own clock ([`ParseContext::clock`]): a date takes the latest year that
/// puts it no more than a day after the clock (a December line read on 1 January is last
/// year's, a January line from a sender a little ahead on 31 December next year's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseContext {
    /// Year used when a date has none.
    pub year: i32,
    /// Month (1-12) used when a date has none; see above for December and January.
    pub month: u32,
    /// Day of month used when a date has none.
    pub day: u32,
    /// The reference date is a receiver's clock (a live edge): a date without a year takes
    /// the latest year that puts it no more than a day after the reference, as RFC 3164
    /// timestamps do (`vigil-syslog`), so a backlog read months later keeps its past year.
    pub clock: bool,
}

impl ParseContext {
    /// A context for `year`, with month and day 1 of July (no year-end adjustment): the
    /// start of a log replayed as of `year`, whatever month it starts in.
    pub fn for_year(year: i32) -> ParseContext {
        ParseContext {
            year,
            month: 7,
            day: 1,
            clock: false,
        }
    }

    /// Moves the reference date to the date `parsed` carries (its `date`, else `fdate`, as
    /// `normalize_date` writes it: `YYYY-MM-DD ...`); a value that is no such date leaves
    /// the reference as it is. This is the year state of one stream of lines (a file in
    /// replay): after `Dec 31 23:59:59` of year Y, `Jan  1 00:00:00` is read as year Y+1.
    pub fn follow(&mut self, parsed: &Parsed) {
        let date = parsed.get("date").or_else(|| parsed.get("fdate"));
        if let Some((year, month, day)) = date.and_then(|d| ymd(d.trim())) {
            *self = ParseContext {
                year,
                month,
                day,
                clock: self.clock,
            };
        }
    }
}

/// `(year, month, day)` of text starting `YYYY-MM-DD`.
fn ymd(text: &str) -> Option<(i32, u32, u32)> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .and_then(|_| text.get(r))
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year = digits(0..4)?.parse().ok()?;
    let month = digits(5..7)?
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))?;
    let day = digits(8..10)?
        .parse()
        .ok()
        .filter(|d| (1..=31).contains(d))?;
    Some((year, month, day))
}

/// One event produced from a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The event's plugin id (the rule's `plugin_id` after value expressions).
    pub plugin_id: u32,
    /// The rule (section name) that matched.
    pub rule: std::sync::Arc<str>,
    /// Event keys after value expressions, in key order (`plugin_sid`, `src_ip`,
    /// `date`, `device`, `userdata1`, ...); `sensor` is reported as `device`.
    pub fields: Vec<(&'static str, String)>,
    /// How many occurrences of the event the line stands for: N for rsyslog's
    /// `message repeated N times: [ ... ]`, else 1.
    pub occurrences: u32,
    /// The keys of `fields` whose values are secret ([`secret`]): they must not be stored or
    /// sent in clear, neither in their field nor in the raw line.
    pub secrets: Vec<&'static str>,
}

impl Parsed {
    /// The value of event key `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Something of a plugin file that was loaded with a loss (a skipped rule, an
/// unsupported function, a regex that needed the `fancy-regex` fallback, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: String,
    /// 1-based line (0 when about the whole file).
    pub line: usize,
    /// The section concerned, if any.
    pub section: Option<String>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(s) = &self.section {
            write!(f, ": [{s}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The agent's own settings that plugin files refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSettings {
    /// `aliases.cfg` `[regexp]`: lower-cased alias name → pattern.
    pub aliases: BTreeMap<String, String>,
    /// `config.cfg`: section → lower-cased option → value.
    pub config: BTreeMap<String, BTreeMap<String, String>>,
}

impl AgentSettings {
    /// Loads `aliases.cfg` and `config.cfg` from an agent configuration directory
    /// (`/etc/ossim/agent` on an OSSIM sensor).
    pub fn load(agent_dir: &Path) -> Result<AgentSettings, CfgError> {
        let aliases_ini = read_ini(&agent_dir.join("aliases.cfg"))?;
        let config_ini = read_ini(&agent_dir.join("config.cfg"))?;
        let aliases = aliases_ini
            .sections
            .get("regexp")
            .map(|s| {
                s.options
                    .iter()
                    .map(|(k, v)| (k.clone(), ini::strip_quotes(&v.value).to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut config = BTreeMap::new();
        for (name, section) in &config_ini.sections {
            let mut map: BTreeMap<String, String> = config_ini
                .defaults
                .options
                .iter()
                .map(|(k, v)| (k.clone(), ini::strip_quotes(&v.value).to_owned()))
                .collect();
            for (k, v) in &section.options {
                map.insert(k.clone(), ini::strip_quotes(&v.value).to_owned());
            }
            config.insert(name.clone(), map);
        }
        Ok(AgentSettings { aliases, config })
    }

    /// `config.cfg` `[section] option`.
    pub fn get(&self, section: &str, option: &str) -> Option<&str> {
        self.config
            .get(section)?
            .get(&option.to_lowercase())
            .map(String::as_str)
    }

    /// Replaces every `\_CFG(section,option)` of `value` by its config value;
    /// unknown ones are left as they are and returned in the error list.
    pub fn replace_cfg(&self, value: &str) -> (String, Vec<String>) {
        let mut missing = Vec::new();
        if !value.contains("\\_CFG(") {
            return (value.to_owned(), missing);
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(pos) = rest.find("\\_CFG(") {
            out.push_str(rest.get(..pos).unwrap_or(""));
            let after = rest.get(pos + "\\_CFG(".len()..).unwrap_or("");
            let parsed = after.find(')').and_then(|close| {
                let inner = after.get(..close)?;
                let (s, o) = inner.split_once(',')?;
                Some((s.trim(), o.trim(), close))
            });
            match parsed.and_then(|(s, o, close)| self.get(s, o).map(|v| (v, close))) {
                Some((v, close)) => {
                    out.push_str(v);
                    rest = after.get(close + 1..).unwrap_or("");
                }
                None => {
                    if let Some((s, o, _)) = parsed {
                        missing.push(format!("{s},{o}"));
                    }
                    out.push_str("\\_CFG(");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        (out, missing)
    }
}

/// The plugin files `paths` name, in order: a file as is, a directory as its `*.cfg` files
/// in name order.
pub fn plugin_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, CfgError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let listing = std::fs::read_dir(path).map_err(|e| {
                CfgError::whole_file(path.display().to_string(), format!("cannot list: {e}"))
            })?;
            let mut in_dir: Vec<std::path::PathBuf> = listing
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Loads the plugins `paths` name (see [`plugin_files`]) with the agent settings of
/// `agent_dir` (none: no aliases, no `\_CFG` values). Returns them in order with every
/// warning; the first file that cannot be loaded is the error.
pub fn load_plugins(
    paths: &[std::path::PathBuf],
    agent_dir: Option<&Path>,
) -> Result<(Vec<Plugin>, Vec<Warning>), CfgError> {
    let settings = match agent_dir {
        Some(dir) => AgentSettings::load(dir)?,
        None => AgentSettings::default(),
    };
    let mut plugins = Vec::new();
    let mut warnings = Vec::new();
    for file in plugin_files(paths)? {
        let (plugin, w) = Plugin::load(&file, &settings)?;
        plugins.push(plugin);
        warnings.extend(w);
    }
    Ok((plugins, warnings))
}

/// Reads and parses an INI file, errors as [`CfgError`].
pub(crate) fn read_ini(path: &Path) -> Result<ini::Ini, CfgError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| CfgError::whole_file(file.clone(), format!("cannot read file: {e}")))?;
    let text = ini::decode_latin1_tolerant(&bytes);
    ini::parse(&text).map_err(|e| CfgError::new(file, e.line, e.column, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSHD: &str = "[DEFAULT]\nplugin_id=4003\n[config]\nsource=log\n[fail]\nevent_type=event\nregexp=(?P<date>\\w{3}\\s+\\d+\\s+\\S+) \\S+ sshd: Failed (?P<n>\\d+)\nplugin_sid=1\ndate={normalize_date($date)}\n";

    /// The dates a stream of lines gets when its context follows it from `start`.
    fn stream_dates(lines: &[&str], start: ParseContext) -> Vec<String> {
        let (plugin, warnings) =
            Plugin::from_text("t.cfg", SSHD, &AgentSettings::default()).expect("loads");
        assert_eq!(warnings, vec![]);
        let set = PluginSet::new(vec![plugin]);
        let mut cx = start;
        lines
            .iter()
            .map(|line| {
                let parsed = set.parse(line, &cx).expect("parses");
                cx.follow(&parsed);
                parsed.get("date").unwrap_or_default().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_stream_rolls_into_the_next_year_from_december_to_january() {
        let lines = [
            "Dec 30 10:00:00 h sshd: Failed 1",
            "Dec 31 23:59:59 h sshd: Failed 2",
            "Jan  1 00:00:00 h sshd: Failed 3",
            "Dec 31 23:59:58 h sshd: Failed 4",
            "Jan  2 08:00:00 h sshd: Failed 5",
            "Mar  1 08:00:00 h sshd: Failed 6",
        ];
        assert_eq!(
            stream_dates(&lines, ParseContext::for_year(2026)),
            [
                "2026-12-30 10:00:00",
                "2026-12-31 23:59:59",
                "2027-01-01 00:00:00",
                "2026-12-31 23:59:58",
                "2027-01-02 08:00:00",
                "2027-03-01 08:00:00",
            ],
            "a late December line after New Year stays in the old year"
        );
        assert_eq!(
            stream_dates(&lines[2..3], ParseContext::for_year(2026)),
            ["2026-01-01 00:00:00"],
            "a log starting in January starts in the given year"
        );
    }

    #[test]
    fn follow_reads_only_dates() {
        let mut cx = ParseContext::for_year(2026);
        let parsed = |date: &str| Parsed {
            plugin_id: 1,
            rule: "r".into(),
            fields: vec![("date", date.to_owned())],
            occurrences: 1,
            secrets: Vec::new(),
        };
        for not_a_date in [
            "Dec 31 23:59:59",
            "1798761599",
            "2026-13-01 00:00:00",
            "",
            "2026-1",
        ] {
            cx.follow(&parsed(not_a_date));
            assert_eq!(cx, ParseContext::for_year(2026), "{not_a_date:?}");
        }
        cx.follow(&parsed("2026-12-31 23:59:59"));
        assert_eq!((cx.year, cx.month, cx.day), (2026, 12, 31));
    }

    #[test]
    fn cfg_replacement() {
        let mut s = AgentSettings::default();
        s.config.insert(
            "plugin-defaults".into(),
            [("sensor".to_owned(), "10.1.1.1".to_owned())]
                .into_iter()
                .collect(),
        );
        assert_eq!(
            s.replace_cfg(r"a\_CFG(plugin-defaults,sensor)b").0,
            "a10.1.1.1b"
        );
        let (v, missing) = s.replace_cfg(r"\_CFG(x,y)");
        assert_eq!(v, r"\_CFG(x,y)");
        assert_eq!(missing, vec!["x,y"]);
    }
}
