//! Every problem of a policy file is reported with its file, line, column and key path.

#![allow(clippy::unwrap_used)] // integration tests are not `#[cfg(test)]` for clippy

use std::collections::HashMap;
use std::path::Path;

use vigil_inventory::{Assets, Host};
use vigil_policy::{PolicySet, check};

fn assets() -> Assets {
    Assets::new(
        vec![Host {
            name: "printer1".into(),
            ip: "10.0.3.10".parse().unwrap(),
            asset: 1,
        }],
        Vec::new(),
        HashMap::from([("printers".to_string(), vec!["printer1".to_string()])]),
    )
}

/// The diagnostics of `text`, displayed.
fn errors(text: &str) -> Vec<String> {
    match PolicySet::parse(Path::new("p.toml"), text, &assets()) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ndestination = [\"10.0.0.1\"]\n"),
        "p.toml:3:1: key `policy[0].destination`: unknown key `destination` (did you mean `destinations`?)"
    );
    assert_eq!(
        one_error("[defaults]\nstore = true\nsign = true\n"),
        "p.toml:3:1: key `defaults.sign`: unknown key `sign` (expected one of: correlate, cross_correlate, store, qualify, forward_events, forward_alarms)"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nroles = { stroe = false }\n"),
        "p.toml:3:11: key `policy[0].roles.stroe`: unknown key `stroe` (did you mean `store`?)"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ntime = { hour = [\"08:00\"] }\n"),
        "p.toml:3:10: key `policy[0].time.hour`: unknown key `hour` (did you mean `hours`?)"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nplugins = [{ plugin_id = 1, sid = [1] }]\n"),
        "p.toml:3:29: key `policy[0].plugins[0].sid`: unknown key `sid` (did you mean `sids`?)"
    );
    assert_eq!(
        one_error("version = 2\n"),
        "p.toml:1:1: key `version`: unknown key `version` (expected one of: defaults, policy)"
    );
}

#[test]
fn bad_cidr_and_address() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nsources = [\"10.0.0.1\", \"10.0.0.0/33\"]\n"),
        "p.toml:3:24: key `policy[0].sources[1]`: invalid CIDR `10.0.0.0/33` (expected e.g. 10.0.0.0/8 or 2001:db8::/32)"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ndestinations = [\"!10.0.0.300\"]\n"),
        "p.toml:3:17: key `policy[0].destinations[0]`: invalid IP address `10.0.0.300`"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nsensors = [\"10.0.0.1/40\"]\n"),
        "p.toml:3:12: key `policy[0].sensors[0]`: invalid CIDR `10.0.0.1/40` (expected e.g. 10.0.0.0/8 or 2001:db8::/32)"
    );
}

#[test]
fn bad_ports() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nports = [\"tcp/22\", \"tcp/99999\"]\n"),
        "p.toml:3:20: key `policy[0].ports[1]`: invalid port `tcp/99999`: `99999` is not a port number 0..=65535 (expected e.g. \"tcp/22\", \"udp/53\", \"22\" for any protocol, or a range \"tcp/1000-2000\")"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nsource_ports = [\"tpc/22\"]\n"),
        "p.toml:3:17: key `policy[0].source_ports[0]`: invalid port `tpc/22`: unknown protocol `tpc` (expected e.g. \"tcp/22\", \"udp/53\", \"22\" for any protocol, or a range \"tcp/1000-2000\")"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nports = [\"2000-1000\"]\n"),
        "p.toml:3:10: key `policy[0].ports[0]`: invalid port `2000-1000`: the range starts after it ends (expected e.g. \"tcp/22\", \"udp/53\", \"22\" for any protocol, or a range \"tcp/1000-2000\")"
    );
}

#[test]
fn bad_times() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ntime = { hours = [\"08:00-25:00\"] }\n"),
        "p.toml:3:19: key `policy[0].time.hours[0]`: expected a time \"HH:MM\" (00:00..23:59) or an inclusive range \"HH:MM-HH:MM\" (wraps past midnight when the start is later), found \"08:00-25:00\""
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\n\n[policy.time]\ndays = [\"mon-fry\"]\n"),
        "p.toml:5:9: key `policy[0].time.days[0]`: expected a week day (mon..sun) or a range of them (\"mon-fri\", \"fri-mon\"), found \"mon-fry\""
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ntime = { months = [\"jan-mar\", \"13\"] }\n"),
        "p.toml:3:31: key `policy[0].time.months[1]`: expected a month (jan..dec) or a range of them (\"jan-mar\", \"nov-feb\"), found \"13\""
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ntime = { month_days = [0] }\n"),
        "p.toml:3:24: key `policy[0].time.month_days[0]`: expected a day of the month 1..31 or a range of them (\"1-15\", \"25-5\"), found 0"
    );
}

#[test]
fn unknown_asset_name() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ndestinations = [\"printers\", \"!faxes\"]\n"),
        "p.toml:3:29: key `policy[0].destinations[1]`: unknown asset name `faxes`: not an IP address, a CIDR, ANY, HOME_NET, or a host, network or host group of the inventory"
    );
}

#[test]
fn duplicate_and_missing_names() {
    assert_eq!(
        one_error(
            "[[policy]]\nname = \"SSH\"\nports = [\"22\"]\n\n[[policy]]\nname = \"ssh\"\nports = [\"2222\"]\n"
        ),
        "p.toml:6:8: key `policy[1].name`: duplicate policy name `ssh` (policy[0] at line 1 has it already; names are compared ignoring case)"
    );
    assert_eq!(
        one_error("[[policy]]\nports = [\"22\"]\n"),
        "p.toml:1:1: key `policy[0]`: missing `name`: every policy needs a unique name"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"  \"\nports = [\"22\"]\n"),
        "p.toml:2:8: key `policy[0].name`: the name must not be empty"
    );
    assert_eq!(
        one_error("[[policy]]\nname = 7\nports = [\"22\"]\n"),
        "p.toml:2:8: key `policy[0].name`: expected a string, found integer"
    );
}

#[test]
fn priority_and_reliability_ranges() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nports = [\"22\"]\npriority = 6\n"),
        "p.toml:4:12: key `policy[0].priority`: expected -1 (keep the event's value) or an integer 0..=5, found 6"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nports = [\"22\"]\nreliability = -2\n"),
        "p.toml:4:15: key `policy[0].reliability`: expected -1 (keep the event's value) or an integer 0..=10, found -2"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nports = [\"22\"]\npriority = \"high\"\n"),
        "p.toml:4:12: key `policy[0].priority`: expected -1 (keep the event's value) or an integer 0..=5, found \"high\""
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nmatch_priority = [4, \"2-6\"]\n"),
        "p.toml:3:22: key `policy[0].match_priority[1]`: expected an integer 0..=5 or a range \"a-b\" with a <= b, found \"2-6\""
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nmatch_reliability = [\"3-1\"]\n"),
        "p.toml:3:22: key `policy[0].match_reliability[0]`: expected an integer 0..=10 or a range \"a-b\" with a <= b, found \"3-1\""
    );
}

#[test]
fn types_lists_and_plugins() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nsources = \"10.0.0.1\"\n"),
        "p.toml:3:11: key `policy[0].sources`: expected a list, found string"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nsources = []\n"),
        "p.toml:3:11: key `policy[0].sources`: empty list: omit the key to match anything"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nsources = [\"!ANY\"]\n"),
        "p.toml:3:12: key `policy[0].sources[0]`: `!ANY` matches nothing; remove the policy or the condition instead"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nroles = { store = \"no\" }\n"),
        "p.toml:3:19: key `policy[0].roles.store`: expected true or false, found string"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nplugins = [{ sids = [1] }]\n"),
        "p.toml:3:12: key `policy[0].plugins[0]`: missing `plugin_id`"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nplugins = [{ plugin_id = 4003, sids = [1, -2] }]\n"),
        "p.toml:3:43: key `policy[0].plugins[0].sids[1]`: expected an integer 0..=4294967295, found -2"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\ntime = {}\n"),
        "p.toml:3:8: key `policy[0].time`: empty time window: omit `time` to match any time"
    );
    assert_eq!(
        one_error("[policy]\nname = \"a\"\n"),
        "p.toml:1:1: key `policy`: expected an array of tables (write `[[policy]]`), found table"
    );
}

#[test]
fn a_policy_after_a_catch_all_can_never_match() {
    assert_eq!(
        one_error(
            "[[policy]]\nname = \"everything\"\nroles = { store = false }\n\n[[policy]]\nname = \"dead\"\nports = [\"22\"]\n"
        ),
        "p.toml:5:1: key `policy[1]`: policy `dead` can never match: policy `everything` (line 1) has no condition and matches every event first"
    );
    // A catch-all as the last policy is the usual "default policy" and is fine.
    assert!(errors("[[policy]]\nname = \"ssh\"\nports = [\"22\"]\n\n[[policy]]\nname = \"rest\"\npriority = 1\n").is_empty());
}

#[test]
fn syntax_errors_have_a_position_and_no_key() {
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nports = [\"22\"\n"),
        "p.toml:3:14: invalid TOML: unclosed array, expected `]`"
    );
    assert_eq!(
        one_error("[[policy]]\nname = \"a\"\nname = \"b\"\n"),
        "p.toml:3:1: invalid TOML: duplicate key"
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = "\
[defaults]
store = \"yes\"

[[policy]]
name = \"one\"
priority = 6
ports = [\"tcp/x\"]

[[policy]]
name = \"two\"
sources = [\"nowhere\"]
colour = \"red\"
";
    assert_eq!(
        errors(text),
        [
            "p.toml:2:9: key `defaults.store`: expected true or false, found string",
            "p.toml:6:12: key `policy[0].priority`: expected -1 (keep the event's value) or an integer 0..=5, found 6",
            "p.toml:7:10: key `policy[0].ports[0]`: invalid port `tcp/x`: `x` is not a port number 0..=65535 (expected e.g. \"tcp/22\", \"udp/53\", \"22\" for any protocol, or a range \"tcp/1000-2000\")",
            "p.toml:11:12: key `policy[1].sources[0]`: unknown asset name `nowhere`: not an IP address, a CIDR, ANY, HOME_NET, or a host, network or host group of the inventory",
            "p.toml:12:1: key `policy[1].colour`: unknown key `colour` (expected one of: name, description, priority, reliability, roles, sources, destinations, ports, source_ports, plugins, sensors, time, match_priority, match_reliability)",
        ]
    );
}

#[test]
fn columns_count_characters() {
    assert_eq!(
        one_error("[[policy]]\nname = \"é\"\nsensors = [\"café\", \"10.0.0.0/99\"]\n"),
        "p.toml:3:20: key `policy[0].sensors[1]`: invalid CIDR `10.0.0.0/99` (expected e.g. 10.0.0.0/8 or 2001:db8::/32)"
    );
}

#[test]
fn load_and_check_read_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[policy]]\nname = \"p\"\ndestinations = [\"printers\"]\npriority = 1\n",
    )
    .unwrap();
    assert!(check(&good, &assets()).is_empty());
    assert_eq!(PolicySet::load(&good, &assets()).unwrap().len(), 1);

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[policy]]\nname = \"p\"\npriority = 9\n").unwrap();
    let diags = check(&bad, &assets());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].file, bad);
    assert_eq!((diags[0].line, diags[0].column), (3, 12));
    assert_eq!(diags[0].key, "policy[0].priority");

    let missing = dir.path().join("missing.toml");
    let diags = check(&missing, &assets());
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].line, diags[0].column), (0, 0));
    assert!(
        diags[0].to_string().starts_with(&format!(
            "{}: cannot read the policy file: ",
            missing.display()
        )),
        "{}",
        diags[0]
    );
}
