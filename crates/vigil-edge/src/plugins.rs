//! The plugins an edge loads: the `.cfg` files its configuration names, then (unless turned
//! off) Vigil's own plugin library, built into the binary (`plugins/` of the repository):
//! Linux authentication, netfilter, Cisco ASA and Snort alerts, with OSSIM's plugin ids and
//! sids. Configured files come first, so they win where both match a line.

use vigil_plugins::cfg::{AgentSettings, CfgError, Plugin, Warning};

use crate::config::PluginsConfig;

/// Vigil's own plugins: (name, `.cfg` text).
pub const BUILTIN: [(&str, &str); 4] = [
    (
        "vigil-linux-auth",
        include_str!("../../../plugins/vigil-linux-auth.cfg"),
    ),
    (
        "vigil-iptables",
        include_str!("../../../plugins/vigil-iptables.cfg"),
    ),
    (
        "vigil-cisco-asa",
        include_str!("../../../plugins/vigil-cisco-asa.cfg"),
    ),
    (
        "vigil-snort-fast",
        include_str!("../../../plugins/vigil-snort-fast.cfg"),
    ),
];

/// Loads the configured plugin files, then the built-in ones when `builtin` is on. Plugin
/// files (and the agent configuration) any user may write are refused.
pub fn load(config: &PluginsConfig) -> anyhow::Result<(Vec<Plugin>, Vec<Warning>)> {
    for path in &config.cfg {
        vigil_analysis::trust::refuse_world_writable(path, "plugin file")?;
    }
    if let Some(dir) = &config.agent_config {
        vigil_analysis::trust::refuse_world_writable(dir, "agent configuration")?;
    }
    let named = |e: CfgError| anyhow::anyhow!("plugins: {e}");
    let (mut plugins, mut warnings) =
        vigil_plugins::cfg::load_plugins(&config.cfg, config.agent_config.as_deref())
            .map_err(named)?;
    if config.builtin {
        let settings = match &config.agent_config {
            Some(dir) => AgentSettings::load(dir).map_err(named)?,
            None => AgentSettings::default(),
        };
        for (name, text) in BUILTIN {
            let (mut plugin, w) =
                Plugin::from_text(&format!("builtin:{name}.cfg"), text, &settings)
                    .map_err(named)?;
            plugin.name = name.to_string();
            plugins.push(plugin);
            warnings.extend(w);
        }
    }
    Ok((plugins, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_library_loads_cleanly_after_configured_files() {
        let (plugins, warnings) = load(&PluginsConfig::default()).expect("loads");
        assert_eq!(warnings, vec![]);
        let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vigil-linux-auth",
                "vigil-iptables",
                "vigil-cisco-asa",
                "vigil-snort-fast"
            ]
        );
        let ids: Vec<u32> = plugins.iter().map(|p| p.id).collect();
        assert_eq!(ids, [4003, 1503, 1636, 1001]);
        let off = PluginsConfig {
            builtin: false,
            ..PluginsConfig::default()
        };
        assert!(load(&off).expect("loads").0.is_empty());
    }
}
