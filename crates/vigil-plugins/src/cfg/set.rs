//! Many plugins behind one prefilter.

use super::prefilter::{Prefilter, SlotKey};
use super::{ParseContext, Parsed, Plugin};

/// Plugins tried in the given order; within a plugin, rules in section-name
/// order; the first rule that matches decides the line.
#[derive(Debug, Clone)]
pub struct PluginSet {
    plugins: Vec<Plugin>,
    /// Slot → (plugin index, rule index), in evaluation order.
    slots: Vec<(usize, usize)>,
    prefilter: Prefilter,
}

impl PluginSet {
    /// Builds the set and its prefilter.
    pub fn new(plugins: Vec<Plugin>) -> PluginSet {
        let mut slots = Vec::new();
        let mut keys: Vec<SlotKey> = Vec::new();
        for (p, plugin) in plugins.iter().enumerate() {
            for (r, key) in plugin.slot_keys().enumerate() {
                slots.push((p, r));
                keys.push(key);
            }
        }
        let prefilter = Prefilter::new(&keys);
        PluginSet {
            plugins,
            slots,
            prefilter,
        }
    }

    /// The plugins, in order.
    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// Parses one line (see [`Plugin::parse`]). A line rsyslog reduced,
    /// `<head>message repeated N times: [ <message>]`, is parsed as the line it repeats
    /// (`<head><message>`) with `occurrences` N; when no rule matches that, as it is.
    pub fn parse(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        with_repeats(line, |l| self.parse_line(l, cx))
    }

    fn parse_line(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        let mut spans = Vec::new();
        let ascii = line.is_ascii();
        let rule_of = |slot: usize| {
            let &(p, r) = self.slots.get(slot)?;
            let plugin = self.plugins.get(p)?;
            Some((plugin, plugin.rules().get(r)?))
        };
        let slot = self.prefilter.first_match(line, |slot| {
            rule_of(slot).is_some_and(|(_, rule)| rule.matches(line, ascii, &mut spans))
        })?;
        let (plugin, rule) = rule_of(slot)?;
        plugin.emit(rule, line, &spans, cx)
    }

    /// Every rule of every plugin in order, without the prefilter and the fast
    /// engines (the agent's way, by the `regex` crate alone; the reference
    /// [`PluginSet::parse`] is tested against). Slow.
    pub fn parse_exhaustive(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        with_repeats(line, |l| self.parse_line_exhaustive(l, cx))
    }

    fn parse_line_exhaustive(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        let mut spans = Vec::new();
        let ascii = line.is_ascii();
        for plugin in &self.plugins {
            for rule in plugin.rules() {
                if rule.matches_reference(line, ascii, &mut spans) {
                    return plugin.emit(rule, line, &spans, cx);
                }
            }
        }
        None
    }
}

/// `parse` of the line `line` repeats, with its count, else of `line` itself.
fn with_repeats(line: &str, parse: impl Fn(&str) -> Option<Parsed>) -> Option<Parsed> {
    if let Some((original, count)) = repeated(line)
        && let Some(mut parsed) = parse(&original)
    {
        parsed.occurrences = count;
        return Some(parsed);
    }
    parse(line)
}

/// rsyslog's reduction of a repeated message, `<head>message repeated N times: [ <message>]`:
/// the line repeated (`<head><message>`) and N (at least 1).
fn repeated(line: &str) -> Option<(String, u32)> {
    const MARK: &str = "message repeated ";
    let at = line.find(MARK)?;
    let (count, rest) = line.get(at + MARK.len()..)?.split_once(" times: [")?;
    let count = count.parse::<u32>().ok().filter(|&n| n > 0)?;
    let message = rest.trim_end().strip_suffix(']')?.trim_start();
    Some((format!("{}{message}", line.get(..at)?), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_messages_are_unwrapped() {
        assert_eq!(
            repeated("Mar 31 10:36:28 h sshd[19551]: message repeated 5 times: [ Failed password for root from 192.0.2.7 port 37753 ssh2]"),
            Some((
                "Mar 31 10:36:28 h sshd[19551]: Failed password for root from 192.0.2.7 port 37753 ssh2".to_owned(),
                5
            ))
        );
        assert_eq!(repeated("x: message repeated 0 times: [ y]"), None);
        assert_eq!(
            repeated("x: message repeated 2 times: [ y"),
            None,
            "no closing bracket"
        );
        assert_eq!(repeated("x: message repeated two times: [ y]"), None);
        assert_eq!(repeated("x: the message repeated"), None);
    }
}
