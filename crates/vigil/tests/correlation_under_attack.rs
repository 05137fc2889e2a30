//! Correlation that an attacker cannot blind, through the real `vigil replay`: a flood of
//! one-off sources does not evict an attack under way, and one line dated years ahead does not
//! expire it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::process::Command;

use common::*;
use vigil_event::Alarm;

/// A failure, then three more from the same source within ten minutes.
const FOUR_FAILURES: &str = "<directive id=\"300\" name=\"four failures from SRC_IP\" priority=\"5\">\n\
     <rule type=\"detector\" name=\"first failure\" reliability=\"1\" plugin_id=\"4004\" plugin_sid=\"2\">\n\
     <rules><rule type=\"detector\" name=\"three more\" reliability=\"10\" occurrence=\"3\" time_out=\"600\" from=\"1:SRC_IP\" plugin_id=\"4004\" plugin_sid=\"2\"/></rules>\n\
     </rule></directive>\n";

const X: &str = "203.0.113.66";

fn failure(out: &mut String, secs: i64, src: &str) {
    writeln!(
        out,
        "event type=\"detector\" date=\"{secs}\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"{src}\" dst_ip=\"10.0.0.5\" dst_port=\"22\""
    )
    .unwrap();
}

fn replay(input: &str) -> Vec<Alarm> {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, FOUR_FAILURES).unwrap();
    let file = dir.path().join("agent.log");
    std::fs::write(&file, input).unwrap();
    let (stdout, _) = run_ok(
        Command::new(exe())
            .arg("replay")
            .arg("--directives")
            .arg(&rules)
            .arg(&file),
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn attack_alarms(alarms: &[Alarm]) -> Vec<&Alarm> {
    alarms.iter().filter(|a| a.directive_id == 300).collect()
}

#[test]
fn more_one_off_sources_than_the_cap_do_not_evict_the_attackers_backlog() {
    let t = 1_700_000_000;
    let mut input = String::new();
    failure(&mut input, t, X);
    failure(&mut input, t + 1, X);
    // The default cap is 10,000 backlogs per directive.
    for k in 0..10_050u32 {
        let src = format!("198.51.{}.{}", k / 250, k % 250);
        failure(&mut input, t + 2, &src);
    }
    for n in 3..6 {
        failure(&mut input, t + n, X);
    }
    let alarms = replay(&input);
    let attack = attack_alarms(&alarms);
    assert_eq!(attack.len(), 1, "X still alarms");
    assert_eq!(
        (attack[0].level, attack[0].src_ip.to_string()),
        (2, X.to_string())
    );
    let pressure: Vec<&Alarm> = alarms
        .iter()
        .filter(|a| a.name.starts_with("Correlation state under pressure"))
        .collect();
    assert!(!pressure.is_empty());
    assert!(pressure.iter().all(|a| a.id == pressure[0].id), "one alarm");
    let last = pressure.last().unwrap();
    assert!(
        last.name.starts_with(
            "Correlation state under pressure: directive 300 (four failures from SRC_IP): 32 backlogs evicted at the cap of 10000"
        ),
        "{}",
        last.name
    );
}

#[test]
fn one_line_dated_years_ahead_does_not_expire_the_attack() {
    let t = 1_700_000_000;
    let mut input = String::new();
    // Enough history for replay's reference (the median of the last 31 lines).
    for k in 0..20 {
        failure(&mut input, t + k, &format!("192.0.2.{k}"));
    }
    failure(&mut input, t + 20, X);
    failure(&mut input, t + 21, X);
    failure(&mut input, t + 10 * 365 * 86_400, "198.51.100.1");
    for n in 22..24 {
        failure(&mut input, t + n, X);
    }
    let alarms = replay(&input);
    let attack: Vec<&Alarm> = attack_alarms(&alarms)
        .into_iter()
        .filter(|a| a.src_ip.to_string() == X)
        .collect();
    assert_eq!(attack.len(), 1, "X still alarms");
    assert_eq!(attack[0].level, 2);
    let time: Vec<&Alarm> = alarms
        .iter()
        .filter(|a| a.name.starts_with("Event time out of bounds"))
        .collect();
    // Raised, then completed by the sensor's next line in bounds.
    assert_eq!(
        time.iter()
            .map(|a| (a.revision, a.correlation))
            .collect::<Vec<_>>(),
        vec![
            (1, vigil_event::CorrelationState::Active),
            (2, vigil_event::CorrelationState::Completed)
        ]
    );
    assert!(
        time[0]
            .name
            .ends_with("315359989 s ahead of the replayed events around it"),
        "{}",
        time[0].name
    );
}
