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

    /// Parses one line (see [`Plugin::parse`]).
    pub fn parse(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
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
