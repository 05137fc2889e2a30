//! From policy file text to compiled [`Policy`]s, reporting every problem with its position.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use ipnet::IpNet;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};
use vigil_event::Protocol;
use vigil_inventory::Assets;

use crate::Roles;
use crate::diagnostic::{Diagnostic, LineIndex};
use crate::model::{
    AddrEntry, Conditions, MINUTES_PER_DAY, PluginMatch, Policy, PortRange, SensorEntry, Set,
    TimeWindow,
};

type Span = Range<usize>;
type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &["defaults", "policy"];
const ROLE_KEYS: &[&str] = &[
    "correlate",
    "cross_correlate",
    "store",
    "qualify",
    "forward_events",
    "forward_alarms",
];
const POLICY_KEYS: &[&str] = &[
    "name",
    "description",
    "priority",
    "reliability",
    "roles",
    "sources",
    "destinations",
    "ports",
    "source_ports",
    "plugins",
    "sensors",
    "time",
    "match_priority",
    "match_reliability",
];
const PLUGIN_KEYS: &[&str] = &["plugin_id", "sids"];
const TIME_KEYS: &[&str] = &["days", "hours", "months", "month_days"];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The result of compiling a file: the default roles, the policies in file order and whether
/// any of them uses HOME_NET (then the set keeps the inventory).
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) defaults: Roles,
    pub(crate) policies: Vec<Policy>,
    pub(crate) uses_home_net: bool,
}

/// Compile `text` (the content of `file`); every problem found is reported.
pub(crate) fn compile(
    file: &Path,
    text: &str,
    assets: &Assets,
) -> Result<Compiled, Vec<Diagnostic>> {
    let lines = LineIndex::new(file, text);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let mut diags: Vec<Diagnostic> = errors
            .iter()
            .map(|e| {
                let offset = e.span().map_or(0, |s| s.start);
                let message = e.message().lines().next().unwrap_or("invalid TOML");
                lines.diagnostic(offset, "", format!("invalid TOML: {message}"))
            })
            .collect();
        sort(&mut diags);
        return Err(diags);
    }
    let mut compiler = Compiler {
        lines,
        assets,
        diags: Vec::new(),
        uses_home_net: false,
    };
    let compiled = compiler.file(root.get_ref());
    let mut diags = compiler.diags;
    if diags.is_empty() {
        Ok(compiled)
    } else {
        sort(&mut diags);
        Err(diags)
    }
}

fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (a.line, a.column, &a.key).cmp(&(b.line, b.column, &b.key)));
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct Compiler<'a> {
    lines: LineIndex<'a>,
    assets: &'a Assets,
    diags: Vec<Diagnostic>,
    uses_home_net: bool,
}

impl Compiler<'_> {
    fn error(&mut self, span: &Span, key: &str, message: impl Into<String>) {
        let diagnostic = self.lines.diagnostic(span.start, key, message.into());
        self.diags.push(diagnostic);
    }

    /// Report keys of `table` not in `allowed`; returns the known entries.
    fn known<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        path: &str,
        allowed: &[&str],
    ) -> HashMap<&'t str, &'t Value<'i>> {
        let mut known = HashMap::new();
        for (key, value) in table {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                known.insert(name, value);
            } else {
                let hint = suggestion(name, allowed).map_or_else(
                    || format!("expected one of: {}", allowed.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
                self.error(
                    &key.span(),
                    &join(path, name),
                    format!("unknown key `{name}` ({hint})"),
                );
            }
        }
        known
    }

    fn file(&mut self, root: &DeTable<'_>) -> Compiled {
        let fields = self.known(root, "", TOP_KEYS);
        let defaults = match fields.get("defaults") {
            Some(value) => match value.get_ref() {
                DeValue::Table(table) => self.roles(table, "defaults", Roles::default()),
                other => {
                    self.error(
                        &value.span(),
                        "defaults",
                        format!("expected a table, found {}", other.type_str()),
                    );
                    Roles::default()
                }
            },
            None => Roles::default(),
        };
        let mut policies = Vec::new();
        if let Some(value) = fields.get("policy") {
            match value.get_ref() {
                DeValue::Array(items) => policies = self.policies(items, defaults),
                other => self.error(
                    &value.span(),
                    "policy",
                    format!(
                        "expected an array of tables (write `[[policy]]`), found {}",
                        other.type_str()
                    ),
                ),
            }
        }
        Compiled {
            defaults,
            policies,
            uses_home_net: self.uses_home_net,
        }
    }

    fn policies(&mut self, items: &DeArray<'_>, defaults: Roles) -> Vec<Policy> {
        let mut policies = Vec::new();
        // Lower-cased name → (index, line) of its first use.
        let mut names: HashMap<String, (usize, u32)> = HashMap::new();
        // The first policy without conditions: every later one is dead.
        let mut catch_all: Option<(Arc<str>, u32)> = None;
        for (index, item) in items.iter().enumerate() {
            let path = format!("policy[{index}]");
            let DeValue::Table(table) = item.get_ref() else {
                self.error(
                    &item.span(),
                    &path,
                    format!("expected a table, found {}", item.get_ref().type_str()),
                );
                continue;
            };
            let errors_before = self.diags.len();
            let Some(policy) = self.policy(table, &item.span(), &path, defaults) else {
                continue;
            };
            let name_line = self
                .lines
                .diagnostic(item.span().start, "", String::new())
                .line;
            if let Some((first, line)) = names.get(&policy.name.to_lowercase()) {
                let span = table
                    .iter()
                    .find(|(k, _)| k.get_ref() == "name")
                    .map_or(item.span(), |(_, v)| v.span());
                self.error(
                    &span,
                    &format!("{path}.name"),
                    format!(
                        "duplicate policy name `{}` (policy[{first}] at line {line} has it already; names are compared ignoring case)",
                        policy.name
                    ),
                );
            } else {
                names.insert(policy.name.to_lowercase(), (index, name_line));
            }
            if let Some((earlier, line)) = &catch_all {
                self.error(
                    &item.span(),
                    &path,
                    format!(
                        "policy `{}` can never match: policy `{earlier}` (line {line}) has no condition and matches every event first",
                        policy.name
                    ),
                );
            } else if policy.conditions.is_catch_all() {
                catch_all = Some((Arc::clone(&policy.name), name_line));
            }
            if self.diags.len() == errors_before {
                policies.push(policy);
            }
        }
        policies
    }

    fn policy(
        &mut self,
        table: &DeTable<'_>,
        span: &Span,
        path: &str,
        defaults: Roles,
    ) -> Option<Policy> {
        let fields = self.known(table, path, POLICY_KEYS);
        let field = |key: &str| fields.get(key).copied();
        let key = |k: &str| join(path, k);

        let name = match field("name") {
            Some(value) => match value.get_ref() {
                DeValue::String(s) if !s.trim().is_empty() => Some(Arc::<str>::from(s.trim())),
                DeValue::String(_) => {
                    self.error(&value.span(), &key("name"), "the name must not be empty");
                    None
                }
                other => {
                    self.error(
                        &value.span(),
                        &key("name"),
                        format!("expected a string, found {}", other.type_str()),
                    );
                    None
                }
            },
            None => {
                self.error(
                    span,
                    path,
                    "missing `name`: every policy needs a unique name",
                );
                None
            }
        };
        if let Some(value) = field("description")
            && !value.get_ref().is_str()
        {
            self.error(
                &value.span(),
                &key("description"),
                format!("expected a string, found {}", value.get_ref().type_str()),
            );
        }
        let priority = field("priority").and_then(|v| self.override_value(v, &key("priority"), 5));
        let reliability =
            field("reliability").and_then(|v| self.override_value(v, &key("reliability"), 10));
        let roles = match field("roles") {
            Some(value) => match value.get_ref() {
                DeValue::Table(table) => self.roles(table, &key("roles"), defaults),
                other => {
                    self.error(
                        &value.span(),
                        &key("roles"),
                        format!("expected a table, found {}", other.type_str()),
                    );
                    defaults
                }
            },
            None => defaults,
        };
        let conditions = Conditions {
            plugins: field("plugins").map(|v| self.plugins(v, &key("plugins"))),
            match_priority: field("match_priority")
                .map(|v| self.level_filter(v, &key("match_priority"), 5)),
            match_reliability: field("match_reliability")
                .map(|v| self.level_filter(v, &key("match_reliability"), 10)),
            ports: field("ports").map(|v| self.list(v, &key("ports"), Self::port)),
            source_ports: field("source_ports")
                .map(|v| self.list(v, &key("source_ports"), Self::port)),
            sources: field("sources").map(|v| self.list(v, &key("sources"), Self::address)),
            destinations: field("destinations")
                .map(|v| self.list(v, &key("destinations"), Self::address)),
            sensors: field("sensors").map(|v| self.list(v, &key("sensors"), Self::sensor)),
            time: field("time").map(|v| self.time(v, &key("time"))),
        };
        Some(Policy {
            name: name?,
            conditions,
            priority: priority.flatten(),
            reliability: reliability.flatten(),
            roles,
        })
    }

    fn roles(&mut self, table: &DeTable<'_>, path: &str, base: Roles) -> Roles {
        let fields = self.known(table, path, ROLE_KEYS);
        let mut roles = base;
        for (name, value) in fields {
            let DeValue::Boolean(flag) = *value.get_ref() else {
                self.error(
                    &value.span(),
                    &join(path, name),
                    format!(
                        "expected true or false, found {}",
                        value.get_ref().type_str()
                    ),
                );
                continue;
            };
            let slot = match name {
                "correlate" => &mut roles.correlate,
                "cross_correlate" => &mut roles.cross_correlate,
                "store" => &mut roles.store,
                "qualify" => &mut roles.qualify,
                "forward_events" => &mut roles.forward_events,
                _ => &mut roles.forward_alarms,
            };
            *slot = flag;
        }
        roles
    }

    /// `priority`/`reliability`: -1 = keep (`Some(None)`), 0..=max = replace; `None` on error.
    fn override_value(&mut self, value: &Value<'_>, key: &str, max: u8) -> Option<Option<u8>> {
        let message = format!("expected -1 (keep the event's value) or an integer 0..={max}");
        match integer(value.get_ref()) {
            Some(-1) => Some(None),
            Some(n) if (0..=i64::from(max)).contains(&n) => Some(u8::try_from(n).ok()),
            Some(n) => {
                self.error(&value.span(), key, format!("{message}, found {n}"));
                None
            }
            None => {
                self.error(
                    &value.span(),
                    key,
                    format!("{message}, found {}", describe(value.get_ref())),
                );
                None
            }
        }
    }

    /// A non-empty array whose elements `element` parses into a [`Set`] (`ANY` and `!x` are
    /// handled here; `element` sees the text without `!`).
    fn list<T>(
        &mut self,
        value: &Value<'_>,
        key: &str,
        element: fn(&mut Self, &str, &Span, &str) -> Option<T>,
    ) -> Set<T> {
        let mut set = Set::default();
        let Some(items) = self.array(value, key) else {
            return set;
        };
        for (index, item) in items.iter().enumerate() {
            let key = format!("{key}[{index}]");
            let span = item.span();
            let text = match item.get_ref() {
                DeValue::String(s) => s.trim().to_string(),
                // Bare port numbers: `ports = [22, 443]`.
                DeValue::Integer(_) => describe(item.get_ref()),
                other => {
                    self.error(
                        &span,
                        &key,
                        format!("expected a string, found {}", other.type_str()),
                    );
                    continue;
                }
            };
            let (negated, body) = match text.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, text.as_str()),
            };
            if body.eq_ignore_ascii_case("ANY") {
                if negated {
                    self.error(
                        &span,
                        &key,
                        "`!ANY` matches nothing; remove the policy or the condition instead",
                    );
                } else {
                    set.any = true;
                }
                continue;
            }
            if body.is_empty() {
                self.error(&span, &key, "empty element");
                continue;
            }
            if let Some(parsed) = element(self, body, &span, &key) {
                if negated {
                    set.exclude.push(parsed);
                } else {
                    set.include.push(parsed);
                }
            }
        }
        set
    }

    /// A non-empty array; reports anything else.
    fn array<'t, 'i>(&mut self, value: &'t Value<'i>, key: &str) -> Option<&'t DeArray<'i>> {
        match value.get_ref() {
            DeValue::Array(items) if items.is_empty() => {
                self.error(
                    &value.span(),
                    key,
                    "empty list: omit the key to match anything",
                );
                None
            }
            DeValue::Array(items) => Some(items),
            other => {
                self.error(
                    &value.span(),
                    key,
                    format!("expected a list, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn address(&mut self, text: &str, span: &Span, key: &str) -> Option<AddrEntry> {
        if text.eq_ignore_ascii_case("HOME_NET") {
            self.uses_home_net = true;
            return Some(AddrEntry::HomeNet);
        }
        if looks_like_address(text) {
            return match parse_net(text) {
                Ok(net) => Some(AddrEntry::Nets(vec![net])),
                Err(message) => {
                    self.error(span, key, message);
                    None
                }
            };
        }
        match self.assets.resolve(text) {
            Some(nets) => Some(AddrEntry::Nets(
                nets.into_iter().map(canonical_net).collect(),
            )),
            None => {
                self.error(
                    span,
                    key,
                    format!(
                        "unknown asset name `{text}`: not an IP address, a CIDR, ANY, HOME_NET, or a host, network or host group of the inventory"
                    ),
                );
                None
            }
        }
    }

    fn port(&mut self, text: &str, span: &Span, key: &str) -> Option<PortRange> {
        match parse_port(text) {
            Ok(range) => Some(range),
            Err(message) => {
                self.error(span, key, message);
                None
            }
        }
    }

    fn sensor(&mut self, text: &str, span: &Span, key: &str) -> Option<SensorEntry> {
        if !looks_like_address(text) {
            return Some(SensorEntry::Name(text.into()));
        }
        match parse_net(text) {
            Ok(net) => Some(SensorEntry::Net(net)),
            Err(message) => {
                self.error(span, key, message);
                None
            }
        }
    }

    fn plugins(&mut self, value: &Value<'_>, key: &str) -> Vec<PluginMatch> {
        let mut plugins = Vec::new();
        let Some(items) = self.array(value, key) else {
            return plugins;
        };
        for (index, item) in items.iter().enumerate() {
            let path = format!("{key}[{index}]");
            let DeValue::Table(table) = item.get_ref() else {
                self.error(
                    &item.span(),
                    &path,
                    format!(
                        "expected a table `{{ plugin_id = N, sids = [..] }}`, found {}",
                        item.get_ref().type_str()
                    ),
                );
                continue;
            };
            let fields = self.known(table, &path, PLUGIN_KEYS);
            let plugin_id = match fields.get("plugin_id") {
                Some(value) => self.u32_value(value, &join(&path, "plugin_id")),
                None => {
                    self.error(&item.span(), &path, "missing `plugin_id`");
                    None
                }
            };
            let mut sids = Vec::new();
            if let Some(value) = fields.get("sids") {
                match value.get_ref() {
                    DeValue::Array(list) => {
                        for (i, sid) in list.iter().enumerate() {
                            if let Some(sid) = self.u32_value(sid, &format!("{path}.sids[{i}]")) {
                                sids.push(sid);
                            }
                        }
                    }
                    other => self.error(
                        &value.span(),
                        &join(&path, "sids"),
                        format!("expected a list of sids, found {}", other.type_str()),
                    ),
                }
            }
            sids.sort_unstable();
            sids.dedup();
            if let Some(plugin_id) = plugin_id {
                plugins.push(PluginMatch {
                    plugin_id,
                    sids: sids.into_boxed_slice(),
                });
            }
        }
        plugins
    }

    fn u32_value(&mut self, value: &Value<'_>, key: &str) -> Option<u32> {
        let found = integer(value.get_ref());
        let parsed = found.and_then(|n| u32::try_from(n).ok());
        if parsed.is_none() {
            self.error(
                &value.span(),
                key,
                format!(
                    "expected an integer 0..={}, found {}",
                    u32::MAX,
                    describe(value.get_ref())
                ),
            );
        }
        parsed
    }

    /// `match_priority`/`match_reliability`: integers and `"a-b"` ranges in 0..=max → bit mask.
    fn level_filter(&mut self, value: &Value<'_>, key: &str, max: u8) -> u16 {
        let mut mask = 0u16;
        let Some(items) = self.array(value, key) else {
            return mask;
        };
        for (index, item) in items.iter().enumerate() {
            let path = format!("{key}[{index}]");
            let range = match item.get_ref() {
                DeValue::Integer(_) => integer(item.get_ref()).map(|n| (n, n)),
                DeValue::String(s) => parse_int_range(s),
                _ => None,
            };
            match range {
                Some((low, high)) if 0 <= low && low <= high && high <= i64::from(max) => {
                    for bit in low..=high {
                        mask |= 1 << bit;
                    }
                }
                _ => self.error(
                    &item.span(),
                    &path,
                    format!(
                        "expected an integer 0..={max} or a range \"a-b\" with a <= b, found {}",
                        describe(item.get_ref())
                    ),
                ),
            }
        }
        mask
    }

    fn time(&mut self, value: &Value<'_>, key: &str) -> TimeWindow {
        let mut window = TimeWindow::default();
        let DeValue::Table(table) = value.get_ref() else {
            self.error(
                &value.span(),
                key,
                format!("expected a table, found {}", value.get_ref().type_str()),
            );
            return window;
        };
        if table.is_empty() {
            self.error(
                &value.span(),
                key,
                "empty time window: omit `time` to match any time",
            );
        }
        let fields = self.known(table, key, TIME_KEYS);
        if let Some(value) = fields.get("days") {
            let path = join(key, "days");
            let hint = "a week day (mon..sun) or a range of them (\"mon-fri\", \"fri-mon\")";
            let bits = self.cyclic(value, &path, hint, 7, |s| name_index(s, &DAYS));
            window.days = u8::try_from(bits).unwrap_or(0x7f);
        }
        if let Some(value) = fields.get("months") {
            let path = join(key, "months");
            let hint = "a month (jan..dec) or a range of them (\"jan-mar\", \"nov-feb\")";
            let bits = self.cyclic(value, &path, hint, 12, |s| name_index(s, &MONTHS));
            window.months = u16::try_from(bits).unwrap_or(0x0fff);
        }
        if let Some(value) = fields.get("month_days") {
            let path = join(key, "month_days");
            let hint = "a day of the month 1..31 or a range of them (\"1-15\", \"25-5\")";
            // Index d-1 in the cycle, stored as bit d.
            let bits = self.cyclic(value, &path, hint, 31, |s| {
                s.parse::<usize>()
                    .ok()
                    .filter(|d| (1..=31).contains(d))
                    .map(|d| d - 1)
            });
            window.month_days = bits << 1;
        }
        if let Some(value) = fields.get("hours") {
            let path = join(key, "hours");
            let mut minutes = [0u64; MINUTES_PER_DAY.div_ceil(64)];
            if let Some(items) = self.array(value, &path) {
                for (index, item) in items.iter().enumerate() {
                    let parsed = item.get_ref().as_str().and_then(|s| {
                        let (first, last) = split_range(s);
                        Some((minute_of_day(first)?, minute_of_day(last)?))
                    });
                    match parsed {
                        Some((first, last)) => {
                            for (word, add) in minutes.iter_mut().zip(TimeWindow::minutes_from(first, last)) {
                                *word |= add;
                            }
                        }
                        None => self.error(
                            &item.span(),
                            &format!("{path}[{index}]"),
                            format!(
                                "expected a time \"HH:MM\" (00:00..23:59) or an inclusive range \"HH:MM-HH:MM\" (wraps past midnight when the start is later), found {}",
                                describe(item.get_ref())
                            ),
                        ),
                    }
                }
            }
            window.minutes = minutes;
        }
        window
    }

    /// A list of values or ranges over a cycle of `size` (wrapping when start > end) → bit mask
    /// with bit i for cycle index i.
    fn cyclic(
        &mut self,
        value: &Value<'_>,
        key: &str,
        hint: &str,
        size: usize,
        index_of: impl Fn(&str) -> Option<usize>,
    ) -> u32 {
        let mut bits = 0u32;
        let Some(items) = self.array(value, key) else {
            return 0;
        };
        for (index, item) in items.iter().enumerate() {
            let text = match item.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                DeValue::Integer(_) => Some(describe(item.get_ref())),
                _ => None,
            };
            let parsed = text.as_deref().and_then(|s| {
                let (first, last) = split_range(s);
                Some((index_of(first)?, index_of(last)?))
            });
            match parsed {
                Some((first, last)) => {
                    let mut i = first;
                    loop {
                        bits |= 1 << i;
                        if i == last {
                            break;
                        }
                        i = (i + 1) % size;
                    }
                }
                None => self.error(
                    &item.span(),
                    &format!("{key}[{index}]"),
                    format!("expected {hint}, found {}", describe(item.get_ref())),
                ),
            }
        }
        bits
    }
}

/// The integer value of a TOML integer.
fn integer(value: &DeValue<'_>) -> Option<i64> {
    let int = value.as_integer()?;
    i64::from_str_radix(int.as_str(), int.radix()).ok()
}

/// A short description of a value for messages: strings quoted, numbers as written.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("{s:?}"),
        DeValue::Integer(_) => {
            integer(value).map_or_else(|| "an integer".to_string(), |n| n.to_string())
        }
        DeValue::Float(f) => f.as_str().to_string(),
        DeValue::Boolean(b) => b.to_string(),
        other => other.type_str().to_string(),
    }
}

/// `"a-b"` → (a, b); `"a"` → (a, a). Surrounding spaces are ignored.
fn split_range(text: &str) -> (&str, &str) {
    match text.split_once('-') {
        Some((first, last)) => (first.trim(), last.trim()),
        None => (text.trim(), text.trim()),
    }
}

fn parse_int_range(text: &str) -> Option<(i64, i64)> {
    let (first, last) = split_range(text);
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// A week day or month by full name or any prefix of at least three letters, ignoring case.
fn name_index(text: &str, names: &[&str]) -> Option<usize> {
    let text = text.to_ascii_lowercase();
    if text.len() < 3 {
        return None;
    }
    names.iter().position(|name| name.starts_with(&text))
}

/// `"HH:MM"` → minute of the day.
fn minute_of_day(text: &str) -> Option<usize> {
    let (hours, minutes) = text.split_once(':')?;
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().ok())
            .flatten()
    };
    let h = digits(hours, 2).filter(|h| *h < 24)?;
    let m = digits(minutes, 2).filter(|m| *m < 60 && minutes.len() == 2)?;
    Some(h * 60 + m)
}

/// Whether an element is meant as an address or CIDR rather than an asset name.
fn looks_like_address(text: &str) -> bool {
    text.contains('/')
        || text.contains(':')
        || (text.contains('.') && text.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// An address (a /32 or /128) or a CIDR (host bits are cleared: `10.1.2.3/8` = `10.0.0.0/8`).
fn parse_net(text: &str) -> Result<IpNet, String> {
    if text.contains('/') {
        text.parse::<IpNet>()
            .map(|n| canonical_net(n.trunc()))
            .map_err(|_| {
                format!("invalid CIDR `{text}` (expected e.g. 10.0.0.0/8 or 2001:db8::/32)")
            })
    } else {
        text.parse::<IpAddr>()
            .map(|ip| IpNet::from(ip.to_canonical()))
            .map_err(|_| format!("invalid IP address `{text}`"))
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network it stands for, since
/// events' addresses are canonicalised the same way.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    net
}

/// `"tcp/22"`, `"udp/53"`, `"22"`, `"tcp/1000-2000"`, `"1000-2000"`; protocols by OSSIM name or number.
fn parse_port(text: &str) -> Result<PortRange, String> {
    let bad = |why: &str| {
        format!(
            "invalid port `{text}`: {why} (expected e.g. \"tcp/22\", \"udp/53\", \"22\" for any protocol, or a range \"tcp/1000-2000\")"
        )
    };
    let (protocol, ports) = match text.split_once('/') {
        Some((protocol, ports)) => {
            let protocol = Protocol::from_name_or_number(protocol.trim())
                .ok_or_else(|| bad(&format!("unknown protocol `{}`", protocol.trim())))?;
            (Some(protocol.0), ports.trim())
        }
        None => (None, text),
    };
    let (first, last) = split_range(ports);
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
            .ok_or_else(|| bad(&format!("`{s}` is not a port number 0..=65535")))
    };
    let (low, high) = (number(first)?, number(last)?);
    if low > high {
        return Err(bad("the range starts after it ends"));
    }
    Ok(PortRange {
        protocol,
        low,
        high,
    })
}

/// The allowed key closest to a misspelt one (edit distance at most 2), if any.
fn suggestion<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(
            parse_port("tcp/22"),
            Ok(PortRange {
                protocol: Some(6),
                low: 22,
                high: 22
            })
        );
        assert_eq!(
            parse_port("UDP/53"),
            Ok(PortRange {
                protocol: Some(17),
                low: 53,
                high: 53
            })
        );
        assert_eq!(
            parse_port("22"),
            Ok(PortRange {
                protocol: None,
                low: 22,
                high: 22
            })
        );
        assert_eq!(
            parse_port("tcp/1000-2000"),
            Ok(PortRange {
                protocol: Some(6),
                low: 1000,
                high: 2000
            })
        );
        assert_eq!(
            parse_port("132/1-2"),
            Ok(PortRange {
                protocol: Some(132),
                low: 1,
                high: 2
            })
        );
        for bad in [
            "tcp/",
            "tcp/70000",
            "foo/22",
            "2000-1000",
            "-1",
            "22-",
            "+22",
            "tcp/2 2",
        ] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_and_names() {
        assert_eq!(minute_of_day("00:00"), Some(0));
        assert_eq!(minute_of_day("8:05"), Some(485));
        assert_eq!(minute_of_day("23:59"), Some(1439));
        for bad in ["24:00", "12:60", "12:5", "1200", ":30", "12:"] {
            assert_eq!(minute_of_day(bad), None, "{bad}");
        }
        assert_eq!(name_index("Mon", &DAYS), Some(0));
        assert_eq!(name_index("sunday", &DAYS), Some(6));
        assert_eq!(name_index("thur", &DAYS), Some(3));
        assert_eq!(name_index("mo", &DAYS), None);
        assert_eq!(name_index("sept", &MONTHS), Some(8));
    }

    #[test]
    fn nets() {
        assert_eq!(parse_net("10.1.2.3/8"), Ok("10.0.0.0/8".parse().unwrap()));
        assert_eq!(
            parse_net("::ffff:10.0.0.1"),
            Ok("10.0.0.1/32".parse().unwrap())
        );
        assert_eq!(
            parse_net("::ffff:10.0.0.0/104"),
            Ok("10.0.0.0/8".parse().unwrap())
        );
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("10.0.0.300").is_err());
        assert!(looks_like_address("10.0.0.300"));
        assert!(!looks_like_address("db.1"));
        assert!(!looks_like_address("printers"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggestion("destination", POLICY_KEYS), Some("destinations"));
        assert_eq!(suggestion("prioity", POLICY_KEYS), Some("priority"));
        assert_eq!(suggestion("zzzzzz", POLICY_KEYS), None);
    }
}
