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
        let mut bits = Vec::new();
        let mut set_pending = self.prefilter.literal_candidates(line, &mut bits);
        let mut spans = Vec::new();
        let ascii = line.is_ascii();
        let mut from = 0;
        while let Some(slot) =
            self.prefilter
                .next_candidate(line, &mut bits, &mut set_pending, from)
        {
            from = slot + 1;
            let &(p, r) = self.slots.get(slot)?;
            let plugin = self.plugins.get(p)?;
            let rule = plugin.rules().get(r)?;
            if rule.matches(line, ascii, &mut spans) {
                return plugin.emit(rule, line, &spans, cx);
            }
        }
        None
    }

    /// Every rule of every plugin in order, without the prefilter (the agent's
    /// way; the reference [`PluginSet::parse`] is tested against). Slow.
    pub fn parse_exhaustive(&self, line: &str, cx: &ParseContext) -> Option<Parsed> {
        let mut spans = Vec::new();
        let ascii = line.is_ascii();
        for plugin in &self.plugins {
            for rule in plugin.rules() {
                if rule.matches(line, ascii, &mut spans) {
                    return plugin.emit(rule, line, &spans, cx);
                }
            }
        }
        None
    }
}
