//! One plugin file: loading and per-line parsing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::expr::{self, Expr, SpanGroups, Tables, Vars};
use super::prefilter::{Prefilter, SlotKey};
use super::secret::When;
use super::{AgentSettings, CfgError, ParseContext, Parsed, Warning, funcs, ini, read_ini, rx};

/// Event keys a rule may set (spec 10.4); `sensor` is reported as `device`.
const EVENT_KEYS: &[&str] = &[
    "date",
    "sensor",
    "device",
    "interface",
    "plugin_id",
    "plugin_sid",
    "priority",
    "protocol",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "username",
    "password",
    "filename",
    "userdata1",
    "userdata2",
    "userdata3",
    "userdata4",
    "userdata5",
    "userdata6",
    "userdata7",
    "userdata8",
    "userdata9",
    "log",
    "snort_sid",
    "snort_cid",
    "fdate",
    "tzone",
    "ctx",
    "sensor_id",
    "binary_data",
    // The agent's IDM fields (idm-event rules), sent as event fields by the 4.x+ agent.
    "src_hostname",
    "dst_hostname",
    "src_username",
    "dst_username",
    "src_mac",
    "dst_mac",
    // Vigil extensions: what the device did and how it ended (ECS `event.action`, `event.outcome`).
    "action",
    "outcome",
];
/// Keys that drive the rule itself, or helper keys the agent ignores.
const RULE_KEYS: &[&str] = &[
    "regexp",
    "precheck",
    "event_type",
    "pid",
    "cpe",
    "device_id",
    // Vigil extensions: which event keys hold secrets (see `secret`).
    "secret",
    "secret_unless_user_name",
];
/// Sections that are not rules.
fn is_rule_section(name: &str) -> bool {
    !matches!(name, "config" | "info" | "translation") && !name.starts_with("translation-")
}

/// One rule: a section with a `regexp`.
#[derive(Debug, Clone)]
pub struct Rule {
    name: Arc<str>,
    precheck: Option<String>,
    matcher: rx::Matcher,
    names: HashMap<String, usize>,
    plugin_id: Expr,
    exprs: Vec<(&'static str, Expr)>,
    is_event: bool,
    literals: Option<Vec<String>>,
    secrets: Vec<(&'static str, When)>,
}

impl Rule {
    /// The section name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the pattern runs on the `fancy-regex` fallback.
    pub fn uses_fallback(&self) -> bool {
        matches!(self.matcher, rx::Matcher::Fancy(_))
    }

    /// The literals the prefilter requires (lower-cased; a matching line
    /// contains one of them), if any.
    pub fn required_literals(&self) -> Option<&[String]> {
        self.literals.as_deref()
    }

    fn slot_key(&self) -> SlotKey {
        SlotKey {
            literals: self.literals.clone().unwrap_or_default(),
            pattern: match &self.matcher {
                rx::Matcher::Fast(re) if re.has_ascii_form() => Some(re.as_str().to_owned()),
                rx::Matcher::Fast(_) => None,
                rx::Matcher::Fancy(_) => None,
            },
        }
    }

    /// Precheck then regex search; fills `spans` on a match (`ascii` is
    /// `line.is_ascii()`).
    pub(crate) fn matches(&self, line: &str, ascii: bool, spans: &mut rx::Spans) -> bool {
        if let Some(p) = &self.precheck
            && !line.contains(p.as_str())
        {
            return false;
        }
        self.matcher.capture_spans(line, ascii, spans)
    }

    /// [`Rule::matches`] by the `regex` crate alone (see [`rx::Matcher::reference_spans`]).
    pub(crate) fn matches_reference(&self, line: &str, ascii: bool, spans: &mut rx::Spans) -> bool {
        if let Some(p) = &self.precheck
            && !line.contains(p.as_str())
        {
            return false;
        }
        self.matcher.reference_spans(line, ascii, spans)
    }
}

/// A loaded plugin `.cfg`.
#[derive(Debug, Clone)]
pub struct Plugin {
    /// `[DEFAULT] plugin_id`.
    pub id: u32,
    /// The file stem (`ssh` for `ssh.cfg`).
    pub name: String,
    /// `[config]` values (quotes stripped, `%(x)s` interpolated, `\_CFG` replaced).
    pub config: BTreeMap<String, String>,
    rules: Vec<Rule>,
    tables: Tables,
    prefilter: Prefilter,
}

fn warn(file: &str, line: usize, section: Option<&str>, message: impl Into<String>) -> Warning {
    Warning {
        file: file.to_owned(),
        line,
        section: section.map(str::to_owned),
        message: message.into(),
    }
}

impl Plugin {
    /// Loads a plugin file. Errors: unreadable file, INI syntax, missing or
    /// non-numeric `[DEFAULT] plugin_id`. Everything else that cannot be run
    /// exactly is reported as a [`Warning`] (the rule is skipped when it cannot run at all).
    pub fn load(path: &Path, settings: &AgentSettings) -> Result<(Plugin, Vec<Warning>), CfgError> {
        let ini = read_ini(path)?;
        let file = path.display().to_string();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Plugin::from_ini(&file, name, &ini, settings)
    }

    /// Loads a plugin from text (`file` names it in errors and warnings).
    pub fn from_text(
        file: &str,
        text: &str,
        settings: &AgentSettings,
    ) -> Result<(Plugin, Vec<Warning>), CfgError> {
        let ini = ini::parse(text).map_err(|e| CfgError::new(file, e.line, e.column, e.reason))?;
        let name = Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Plugin::from_ini(file, name, &ini, settings)
    }

    fn from_ini(
        file: &str,
        name: String,
        ini: &ini::Ini,
        settings: &AgentSettings,
    ) -> Result<(Plugin, Vec<Warning>), CfgError> {
        let mut warnings = Vec::new();
        let value_of = |v: &ini::IniValue, section: Option<&str>, warnings: &mut Vec<Warning>| {
            let (value, missing) = settings.replace_cfg(ini::strip_quotes(&v.value));
            for m in missing {
                warnings.push(warn(
                    file,
                    v.line,
                    section,
                    format!("\\_CFG({m}) is not in the agent config.cfg; left as is"),
                ));
            }
            value
        };
        let defaults: BTreeMap<String, (String, usize)> = ini
            .defaults
            .options
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    (value_of(v, Some("DEFAULT"), &mut warnings), v.line),
                )
            })
            .collect();
        let id = match defaults.get("plugin_id") {
            None => return Err(CfgError::whole_file(file, "[DEFAULT] has no plugin_id")),
            Some((v, line)) => v.trim().parse::<u32>().map_err(|_| {
                CfgError::new(file, *line, 1, format!("plugin_id {v:?} is not a number"))
            })?,
        };
        let mut tables = Tables {
            defaults: defaults
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect(),
            ..Tables::default()
        };
        for (sname, section) in &ini.sections {
            let map = section
                .options
                .iter()
                .map(|(k, v)| (k.clone(), ini::strip_quotes(&v.value).to_owned()))
                .collect();
            tables.sections.insert(sname.clone(), map);
        }
        // [config] with %(x)s interpolation.
        let mut config = BTreeMap::new();
        if let Some(section) = ini.sections.get("config") {
            let raw: BTreeMap<String, String> = tables
                .defaults
                .iter()
                .chain(section.options.iter().map(|(k, v)| {
                    (
                        k,
                        tables
                            .sections
                            .get("config")
                            .and_then(|m| m.get(k))
                            .unwrap_or(&v.value),
                    )
                }))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in &section.options {
                let interpolated =
                    ini::interpolate(ini::strip_quotes(&v.value), &|n| raw.get(n).cloned());
                let (value, _) = settings.replace_cfg(&interpolated);
                config.insert(k.clone(), value);
            }
        } else {
            warnings.push(warn(file, 0, None, "no [config] section"));
        }
        let source = config
            .get("source")
            .map(|s| s.trim().to_lowercase())
            .unwrap_or_default();
        let mut rules = Vec::new();
        if source != "log" {
            warnings.push(warn(
                file,
                ini.sections.get("config").map_or(0, |s| s.line),
                Some("config"),
                format!("source={source} is not parsed from log lines (only source=log); no rules loaded"),
            ));
        } else {
            let mut unknown_default_keys = BTreeSet::new();
            for (sname, section) in &ini.sections {
                if !is_rule_section(sname) {
                    continue;
                }
                if let Some(rule) = load_rule(
                    file,
                    sname,
                    section,
                    &defaults,
                    settings,
                    &mut warnings,
                    &mut unknown_default_keys,
                    &value_of,
                ) {
                    rules.push(rule);
                }
            }
            for k in unknown_default_keys {
                let line = defaults.get(&k).map_or(0, |(_, l)| *l);
                warnings.push(warn(
                    file,
                    line,
                    Some("DEFAULT"),
                    format!("unknown event key {k:?} dropped"),
                ));
            }
        }
        let keys: Vec<SlotKey> = rules.iter().map(Rule::slot_key).collect();
        let prefilter = Prefilter::new(&keys);
        Ok((
            Plugin {
                id,
                name,
                config,
                rules,
                tables,
                prefilter,
            },
            warnings,
        ))
    }

    /// The rules in evaluation order (section-name order).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Parses one line: the first rule (in section-name order) whose precheck
    /// and regex match decides; `None` when no rule matches, or when the
    /// matching rule is not `event_type=event` or its `plugin_id` is not a number.
    pub fn parse(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        let mut spans = Vec::new();
        let ascii = line.is_ascii();
        let idx = self.prefilter.first_match(line, |idx| {
            self.rules
                .get(idx)
                .is_some_and(|rule| rule.matches(line, ascii, &mut spans))
        })?;
        self.emit(self.rules.get(idx)?, line, &spans, cx)
    }

    /// [`Plugin::parse`] without the prefilter and the fast engines: every rule
    /// in order, like the agent, each by the `regex` crate alone. The reference
    /// the fast path is tested against; slow.
    pub fn parse_exhaustive(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        let mut spans = Vec::new();
        let ascii = line.is_ascii();
        for rule in &self.rules {
            if rule.matches_reference(line, ascii, &mut spans) {
                return self.emit(rule, line, &spans, cx);
            }
        }
        None
    }

    pub(crate) fn emit(
        &self,
        rule: &Rule,
        line: &str,
        spans: &[Option<(usize, usize)>],
        cx: &ParseContext,
    ) -> Option<Parsed> {
        if !rule.is_event {
            return None;
        }
        let groups = SpanGroups { line, spans };
        let vars = Vars {
            groups: &groups,
            names: &rule.names,
        };
        let plugin_id = rule
            .plugin_id
            .eval(&vars, &self.tables, cx)
            .trim()
            .parse::<u32>()
            .ok()?;
        let fields: Vec<(&'static str, String)> = rule
            .exprs
            .iter()
            .map(|(k, e)| (*k, e.eval(&vars, &self.tables, cx)))
            .collect();
        let secrets = rule
            .secrets
            .iter()
            .filter(|(key, when)| {
                fields
                    .iter()
                    .any(|(k, v)| k == key && !v.is_empty() && when.holds(v))
            })
            .map(|(key, _)| *key)
            .collect();
        Some(Parsed {
            plugin_id,
            rule: Arc::clone(&rule.name),
            fields,
            occurrences: 1,
            secrets,
        })
    }

    pub(crate) fn slot_keys(&self) -> impl Iterator<Item = SlotKey> + '_ {
        self.rules.iter().map(Rule::slot_key)
    }
}

/// Reads one option's value (quotes stripped, `\_CFG` replaced), recording warnings.
type ValueOf<'a> = dyn Fn(&ini::IniValue, Option<&str>, &mut Vec<Warning>) -> String + 'a;

#[allow(clippy::too_many_arguments)]
fn load_rule(
    file: &str,
    sname: &str,
    section: &ini::IniSection,
    defaults: &BTreeMap<String, (String, usize)>,
    settings: &AgentSettings,
    warnings: &mut Vec<Warning>,
    unknown_default_keys: &mut BTreeSet<String>,
    value_of: &ValueOf<'_>,
) -> Option<Rule> {
    let mut opts: BTreeMap<String, (String, usize, bool)> = defaults
        .iter()
        .map(|(k, (v, l))| (k.clone(), (v.clone(), *l, true)))
        .collect();
    for (k, v) in &section.options {
        opts.insert(
            k.clone(),
            (value_of(v, Some(sname), warnings), v.line, false),
        );
    }
    let line = section.line;
    let Some((regexp, rline, _)) = opts.get("regexp") else {
        // Sections without regexp are skipped for source=log (e.g. translate2 tables).
        return None;
    };
    if regexp.contains("\\n") {
        warnings.push(warn(
            file,
            *rline,
            Some(sname),
            "multi-line rule (\\n in regexp) is not supported by the line parser; rule skipped",
        ));
        return None;
    }
    let expanded = rx::expand_aliases(regexp, &settings.aliases);
    let translated = rx::translate(&expanded);
    let matcher = match rx::compile(&translated) {
        Ok(m) => m,
        Err(e) => {
            warnings.push(warn(
                file,
                *rline,
                Some(sname),
                format!("regexp does not compile ({e}); rule skipped"),
            ));
            return None;
        }
    };
    if matches!(matcher, rx::Matcher::Fancy(_)) {
        warnings.push(warn(
            file,
            *rline,
            Some(sname),
            format!("regexp needs look-around or a backreference: fancy-regex fallback (backtrack limit {})", rx::BACKTRACK_LIMIT),
        ));
    }
    let group_names = matcher.group_names();
    let names: HashMap<String, usize> = group_names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.clone().map(|n| (n, i)))
        .collect();
    let group_count = group_names.len();
    let event_type = opts
        .get("event_type")
        .map(|(v, _, _)| v.trim().to_owned())
        .unwrap_or_default();
    let is_event = event_type == "event";
    if !is_event {
        warnings.push(warn(
            file,
            line,
            Some(sname),
            format!(
                "event_type={event_type:?} is not \"event\": the rule matches but yields no event"
            ),
        ));
    }
    let precheck = opts
        .get("precheck")
        .map(|(v, _, _)| v.clone())
        .filter(|p| !p.is_empty());
    let literals = super::literals::rule_literals(precheck.as_deref(), &translated.pattern);
    let has_device = opts.contains_key("device");
    let mut exprs = Vec::new();
    let mut plugin_id = Expr::Const(String::new());
    for (k, (v, kline, from_default)) in &opts {
        for f in expr::called_functions(v) {
            if let Some(custom) = f.strip_prefix(':') {
                warnings.push(warn(file, *kline, Some(sname), format!("custom function {{:{custom}(...)}} of {k} is not supported (needs the agent's companion Python file); raw value used")));
            } else if let Some((_, why)) = funcs::UNSUPPORTED.iter().find(|(n, _)| *n == f) {
                warnings.push(warn(
                    file,
                    *kline,
                    Some(sname),
                    format!("function {f} of {k} is not supported ({why}); raw value used"),
                ));
            } else if !funcs::IMPLEMENTED.contains(&f.as_str())
                && f != "translate"
                && f != "translate2"
            {
                warnings.push(warn(
                    file,
                    *kline,
                    Some(sname),
                    format!("unknown function {f} of {k}; raw value used"),
                ));
            }
        }
        let compiled = Expr::compile(v, &names, group_count);
        if k == "plugin_id" {
            plugin_id = compiled;
        } else if k == "sensor" {
            if !has_device {
                exprs.push(("device", compiled));
            }
        } else if let Some(key) = EVENT_KEYS.iter().find(|e| **e == k.as_str()) {
            exprs.push((key, compiled));
        } else if !RULE_KEYS.contains(&k.as_str()) {
            if *from_default {
                unknown_default_keys.insert(k.clone());
            } else {
                warnings.push(warn(
                    file,
                    *kline,
                    Some(sname),
                    format!("unknown event key {k:?} dropped"),
                ));
            }
        }
    }
    exprs.sort_by(|a, b| a.0.cmp(b.0));
    let secrets = secret_keys(file, sname, &opts, &exprs, warnings);
    Some(Rule {
        name: Arc::from(sname),
        precheck,
        matcher,
        names,
        plugin_id,
        exprs,
        is_event,
        literals,
        secrets,
    })
}

/// The secret keys of a rule: `password` when it sets it, then those its `secret` and
/// `secret_unless_user_name` options name. A name the rule does not set is warned about
/// (unless the option comes from `[DEFAULT]`) and ignored.
fn secret_keys(
    file: &str,
    sname: &str,
    opts: &BTreeMap<String, (String, usize, bool)>,
    exprs: &[(&'static str, Expr)],
    warnings: &mut Vec<Warning>,
) -> Vec<(&'static str, When)> {
    let mut secrets: Vec<(&'static str, When)> = exprs
        .iter()
        .filter(|(k, _)| *k == "password")
        .map(|(k, _)| (*k, When::Always))
        .collect();
    for when in [When::Always, When::UnlessUserName] {
        let Some((list, line, from_default)) = opts.get(when.option()) else {
            continue;
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match exprs.iter().find(|(k, _)| *k == name) {
                Some((key, _)) if !secrets.iter().any(|(k, _)| k == key) => {
                    secrets.push((key, when))
                }
                Some(_) => {}
                None if *from_default => {}
                None => warnings.push(warn(
                    file,
                    *line,
                    Some(sname),
                    format!(
                        "{} names {name:?}, an event key this rule does not set; ignored",
                        when.option()
                    ),
                )),
            }
        }
    }
    secrets
}
