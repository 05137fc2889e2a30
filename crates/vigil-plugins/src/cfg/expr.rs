//! Value expressions of rule keys (`Plugin.get_replace_value`, spec 10.4).

use std::collections::{BTreeMap, HashMap};

use super::{ParseContext, funcs};

/// The texts of a match's groups by index (index 0 = whole match): `None`
/// past the last group, `Some("")` for a group that did not participate.
pub trait Groups {
    /// The text of group `i`.
    fn group(&self, i: usize) -> Option<&str>;
}

impl Groups for [String] {
    fn group(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

impl Groups for Vec<String> {
    fn group(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

/// Groups as spans of the matched line, borrowed without copying.
pub struct SpanGroups<'a> {
    /// The line.
    pub line: &'a str,
    /// Group spans, index 0 = whole match.
    pub spans: &'a [Option<(usize, usize)>],
}

impl Groups for SpanGroups<'_> {
    fn group(&self, i: usize) -> Option<&str> {
        let span = self.spans.get(i)?;
        Some(span.and_then(|(s, e)| self.line.get(s..e)).unwrap_or(""))
    }
}

/// The variables of one match: positional groups `$1..` and named groups.
pub struct Vars<'a> {
    /// Group texts, index 0 = whole match.
    pub groups: &'a dyn Groups,
    /// Named group → index.
    pub names: &'a HashMap<String, usize>,
}

impl Vars<'_> {
    /// The value of `$var` (without the `$`).
    pub fn get(&self, var: &str) -> Option<&str> {
        let idx = if !var.is_empty() && var.bytes().all(|b| b.is_ascii_digit()) {
            var.parse::<usize>().ok().filter(|&i| i >= 1)?
        } else {
            *self.names.get(var)?
        };
        self.groups.group(idx)
    }
}

/// Lookup tables for `translate`/`translate2`: section → lower-cased key → value,
/// with `[DEFAULT]` consulted after the section (Python's `has_option`).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// Every section of the file.
    pub sections: HashMap<String, BTreeMap<String, String>>,
    /// `[DEFAULT]`.
    pub defaults: BTreeMap<String, String>,
}

impl Tables {
    fn lookup(&self, section: &str, key: &str) -> Option<&str> {
        let key = key.to_lowercase();
        let sect = self.sections.get(section)?;
        sect.get(&key)
            .or_else(|| self.defaults.get(&key))
            .map(String::as_str)
    }

    /// `[section][value]`, else `[section][_DEFAULT_]`, else `value`.
    fn translate(&self, section: &str, value: &str) -> String {
        self.lookup(section, value)
            .or_else(|| self.lookup(section, "_DEFAULT_"))
            .unwrap_or(value)
            .to_owned()
    }
}

/// A compiled value expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// No expression: the text itself.
    Const(String),
    /// The whole value is `{$var}` of a known group.
    Group(usize),
    /// The whole value is `{translate($var)}` of a known group.
    Translate(usize),
    /// The whole value is `{name($a,$b,...)}` with every argument a known group.
    Call {
        /// The function name.
        name: String,
        /// Group index of each argument.
        args: Vec<usize>,
    },
    /// Anything else, evaluated by the agent's substitution pipeline.
    Pipeline(String),
}

/// The group index of variable `var` (`1`, `2`, ... or a group name), when it exists.
fn group_index(var: &str, names: &HashMap<String, usize>, group_count: usize) -> Option<usize> {
    if !var.is_empty() && var.bytes().all(|b| b.is_ascii_digit()) {
        var.parse::<usize>()
            .ok()
            .filter(|&i| i >= 1 && i < group_count)
    } else {
        names.get(var).copied()
    }
}

impl Expr {
    /// Compiles `value` for a rule whose groups are `names` (plus `group_count` positional
    /// groups). The common whole-value forms (`{$x}`, `{translate($x)}`, `{f($x,...)}`) are
    /// resolved now; they evaluate exactly as the pipeline would.
    pub fn compile(value: &str, names: &HashMap<String, usize>, group_count: usize) -> Expr {
        if !value.contains('{') && !value.contains("$CONCAT(") {
            return Expr::Const(value.to_owned());
        }
        let index = |var: &str| group_index(var, names, group_count);
        if let Some(var) = value.strip_prefix("{$").and_then(|v| v.strip_suffix('}'))
            && !var.contains(['{', '}'])
            && let Some(idx) = index(var)
        {
            return Expr::Group(idx);
        }
        if value.contains("$CONCAT(") || value.contains("{translate2(") {
            return Expr::Pipeline(value.to_owned());
        }
        if let Some(var) = value
            .strip_prefix("{translate($")
            .and_then(|v| v.strip_suffix(")}"))
            && let Some(idx) = index(var)
        {
            return Expr::Translate(idx);
        }
        if let Some((0, end, name, args)) = find_call(value, 0)
            && end == value.len()
            && name != "translate"
            && let Some(args) = split_args(args)
                .into_iter()
                .map(index)
                .collect::<Option<Vec<_>>>()
        {
            return Expr::Call {
                name: name.to_owned(),
                args,
            };
        }
        Expr::Pipeline(value.to_owned())
    }

    /// Evaluates the expression for one match.
    pub fn eval(&self, vars: &Vars<'_>, tables: &Tables, cx: &ParseContext) -> String {
        let group = |i: usize| vars.groups.group(i).unwrap_or("");
        match self {
            Expr::Const(s) => s.clone(),
            Expr::Group(i) => group(*i).to_owned(),
            Expr::Translate(i) => tables.translate("translation", group(*i)),
            Expr::Call { name, args } => {
                let values: Vec<&str> = args.iter().map(|&i| group(i)).collect();
                funcs::call(name, &values, cx)
                    .unwrap_or_else(|| values.first().copied().unwrap_or("").to_owned())
            }
            Expr::Pipeline(s) => pipeline(s, vars, tables, cx),
        }
    }
}

/// The function names called in `value` (`{name($...)}`).
pub fn called_functions(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(pos) = rest.find('{') {
        rest = rest.get(pos + 1..).unwrap_or("");
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if !name.is_empty() && rest.get(name.len()..).is_some_and(|r| r.starts_with("($")) {
            out.push(name);
        }
    }
    out
}

/// Finds `{name($args)}` where `args` has no `)`: returns (start, end, name, args).
fn find_call(value: &str, from: usize) -> Option<(usize, usize, &str, &str)> {
    let mut search = from;
    loop {
        let pos = search + value.get(search..)?.find('{')?;
        let rest = value.get(pos + 1..)?;
        let name_len = rest
            .char_indices()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        if name_len > 0
            && let Some(after) = rest.get(name_len..)
            && let Some(args_rest) = after.strip_prefix("($")
            && let Some(close) = args_rest.find(')')
            && args_rest
                .get(close + 1..)
                .is_some_and(|r| r.starts_with('}'))
        {
            let name = rest.get(..name_len)?;
            let args = value.get(pos + 1 + name_len + 1..pos + 1 + name_len + 2 + close)?;
            let end = pos + 1 + name_len + 2 + close + 2;
            return Some((pos, end, name, args));
        }
        search = pos + 1;
    }
}

fn split_args(args: &str) -> Vec<&str> {
    args.split(',')
        .map(|a| a.trim().trim_start_matches('$'))
        .collect()
}

fn pipeline(value: &str, vars: &Vars<'_>, tables: &Tables, cx: &ParseContext) -> String {
    let mut value = value.to_owned();
    // 1. {translate2($var,$section)}: the whole value.
    if let Some(start) = value.find("{translate2($") {
        let rest = value.get(start + "{translate2(".len()..).unwrap_or("");
        if let Some(close) = rest.find(")}") {
            let args = split_args(rest.get(..close).unwrap_or(""));
            if let (Some(var), Some(section)) = (args.first(), args.get(1))
                && let Some(v) = vars.get(var)
            {
                value = tables.translate(section, v);
            }
        }
    }
    // 2. {$var}, two rounds; unknown variables stay.
    for _ in 0..2 {
        if !value.contains("{$") {
            break;
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value.as_str();
        while let Some(pos) = rest.find("{$") {
            out.push_str(rest.get(..pos).unwrap_or(""));
            let after = rest.get(pos + 2..).unwrap_or("");
            let end = after.find(['{', '}']);
            match end {
                Some(e) if e > 0 && after.get(e..).is_some_and(|r| r.starts_with('}')) => {
                    let var = after.get(..e).unwrap_or("");
                    match vars.get(var) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("{$");
                            out.push_str(var);
                            out.push('}');
                        }
                    }
                    rest = after.get(e + 1..).unwrap_or("");
                }
                _ => {
                    out.push_str("{$");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        value = out;
    }
    // 3. {translate($var)}: the whole value.
    if let Some(start) = value.find("{translate($") {
        let rest = value.get(start + "{translate($".len()..).unwrap_or("");
        if let Some(close) = rest.find(')')
            && let Some(v) = vars.get(rest.get(..close).unwrap_or(""))
        {
            value = tables.translate("translation", v);
        }
    }
    // 4. {func($a,$b)}.
    let mut from = 0;
    while let Some((start, end, name, args)) = find_call(&value, from) {
        let names = split_args(args);
        let mut vals = Vec::with_capacity(names.len());
        for n in &names {
            match vars.get(n) {
                Some(v) => vals.push(v),
                // A missing variable: the agent returns the value unchanged.
                None => return value,
            }
        }
        let result = funcs::call(name, &vals, cx)
            .unwrap_or_else(|| vals.first().copied().unwrap_or("").to_owned());
        let matched = value.get(start..end).unwrap_or("").to_owned();
        value = value.replace(&matched, &result);
        from = start + result.len().min(value.len().saturating_sub(start));
        if from >= value.len() {
            break;
        }
    }
    // 5. $CONCAT(a,$b,...): the whole value.
    if let Some(start) = value.find("$CONCAT(") {
        let rest = value.get(start + "$CONCAT(".len()..).unwrap_or("");
        if let Some(close) = rest.find(')') {
            let mut out = String::new();
            for arg in rest.get(..close).unwrap_or("").split(',') {
                let arg = arg.trim();
                match arg.strip_prefix('$') {
                    Some(var) => out.push_str(vars.get(var).unwrap_or("")),
                    None => out.push_str(arg),
                }
            }
            value = out;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_steps() {
        let groups: Vec<String> = ["all", "Feb  8 10:09:06", "ssh", "x", "6", "ff"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut names = HashMap::new();
        names.insert("svc".to_owned(), 2);
        names.insert("n".to_owned(), 3);
        names.insert("proto".to_owned(), 4);
        let vars = Vars {
            groups: &groups,
            names: &names,
        };
        let mut tables = Tables::default();
        let tr: BTreeMap<String, String> = [("ssh", "SSH!"), ("_default_", "dflt")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tables.sections.insert("translation".to_owned(), tr);
        let t2: BTreeMap<String, String> = [("x", "42")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tables.sections.insert("sids".to_owned(), t2);
        let cx = ParseContext {
            year: 2011,
            month: 6,
            day: 1,
            clock: false,
        };
        let ev = |s: &str| Expr::compile(s, &names, groups.len()).eval(&vars, &tables, &cx);
        assert_eq!(ev("{$svc}"), "ssh");
        assert_eq!(ev("{$5}"), "ff");
        assert_eq!(ev("a{$svc}-{$nope}"), "assh-{$nope}");
        assert_eq!(ev("{translate($svc)}"), "SSH!");
        assert_eq!(ev("{translate($n)}"), "dflt");
        assert_eq!(ev("{translate2($n,$sids)}"), "42");
        assert_eq!(
            ev("{translate2($svc,$sids)}"),
            "ssh",
            "no entry, no _DEFAULT_: raw"
        );
        assert_eq!(ev("{normalize_date($1)}"), "2011-02-08 10:09:06");
        assert_eq!(ev("{upper($svc)}/{normalize_protocol($proto)}"), "SSH/tcp");
        assert_eq!(ev("{hextoint($5)}"), "255");
        assert_eq!(ev("{nosuch($svc)}"), "ssh");
        assert_eq!(ev("{upper($missing)}"), "{upper($missing)}");
        assert_eq!(ev("$CONCAT($svc,-,$n)"), "ssh-x");
        assert_eq!(ev("plain"), "plain");
        assert_eq!(called_functions("{a($x)} {b($y,$z)} {$v}"), vec!["a", "b"]);
    }

    proptest::proptest! {
        /// The forms resolved at compile time evaluate exactly as the agent's pipeline.
        #[test]
        fn compiled_forms_equal_the_pipeline(
            a in "[ -~]{0,24}",
            b in "(Feb  8 10:09:06|ssh|SSH|x|6|ff|[ -~]{0,12})",
        ) {
            let groups = vec![format!("{a}{b}"), a.clone(), b.clone()];
            let names: HashMap<String, usize> =
                [("a".to_owned(), 1), ("b".to_owned(), 2)].into_iter().collect();
            let vars = Vars { groups: &groups, names: &names };
            let mut tables = Tables::default();
            tables.sections.insert(
                "translation".to_owned(),
                [("ssh".to_owned(), "SSH!".to_owned())].into_iter().collect(),
            );
            let cx = ParseContext { year: 2011, month: 6, day: 1 , clock: false};
            for value in [
                "{$a}", "{$2}", "{translate($b)}", "{translate($nope)}", "{normalize_date($b)}",
                "{upper($a)}", "{resolv($a)}", "{md5sum($b)}", "{checkValue($b)}",
                "{nosuch($a)}", "{upper($nope)}", "{upper($a)}x", "{normalize_protocol($b)}",
            ] {
                let compiled = Expr::compile(value, &names, groups.len());
                let reference = Expr::Pipeline(value.to_owned());
                proptest::prop_assert_eq!(
                    compiled.eval(&vars, &tables, &cx),
                    reference.eval(&vars, &tables, &cx),
                    "{} compiled as {:?}", value, compiled
                );
            }
        }
    }
}
