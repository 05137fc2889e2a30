//! OSSIM taxonomy: a product type per plugin, a category and subcategory per (plugin, sid).
//! Directives match them with `product`, `category` and `subcategory` (spec 3.3, 4 step 8).
//! It also carries the sids' names, which name single-event alarms.

use std::collections::HashMap;

/// Taxonomy lookups, filled by the caller (from plugin SQL and configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taxonomy {
    products: HashMap<u32, u32>,
    categories: HashMap<(u32, u32), (Option<u32>, Option<u32>)>,
    names: HashMap<(u32, u32), Box<str>>,
}

impl Taxonomy {
    /// Sets a plugin's product type.
    pub fn set_product(&mut self, plugin_id: u32, product: u32) {
        self.products.insert(plugin_id, product);
    }

    /// Sets a sid's category and subcategory.
    pub fn set_category(
        &mut self,
        plugin_id: u32,
        sid: u32,
        category: Option<u32>,
        subcategory: Option<u32>,
    ) {
        if category.is_some() || subcategory.is_some() {
            self.categories
                .insert((plugin_id, sid), (category, subcategory));
        }
    }

    /// Sets a sid's name.
    pub fn set_name(&mut self, plugin_id: u32, sid: u32, name: &str) {
        self.names.insert((plugin_id, sid), name.into());
    }

    /// A sid's name.
    pub fn name(&self, plugin_id: u32, sid: u32) -> Option<&str> {
        self.names.get(&(plugin_id, sid)).map(|n| &**n)
    }

    /// A plugin's product type.
    pub fn product(&self, plugin_id: u32) -> Option<u32> {
        self.products.get(&plugin_id).copied()
    }

    /// A sid's category.
    pub fn category(&self, plugin_id: u32, sid: u32) -> Option<u32> {
        self.categories.get(&(plugin_id, sid)).and_then(|c| c.0)
    }

    /// A sid's subcategory.
    pub fn subcategory(&self, plugin_id: u32, sid: u32) -> Option<u32> {
        self.categories.get(&(plugin_id, sid)).and_then(|c| c.1)
    }

    /// Plugins with a product type.
    pub fn products(&self) -> usize {
        self.products.len()
    }
}
