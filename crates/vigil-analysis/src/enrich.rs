//! Enrichment at intake: what the plugin sid tables say about an event (spec 2.5, 2.6).

use vigil_event::{Event, GENERIC_PLUGIN_SID};
use vigil_plugins::sid_table::SidTable;

/// OSSIM's priority and reliability for the generic sid.
const GENERIC_PRIORITY: u8 = 2;
const GENERIC_RELIABILITY: u8 = 2;

/// Fills priority and reliability from the sid table where the sender left them unset, and
/// replaces an unknown sid by [`GENERIC_PLUGIN_SID`], keeping the original in `unknown_sid`
/// (OSSIM instead prefixed the raw log with `[ Unknown plugin sid: N ]`; Vigil never alters the
/// raw log). Returns whether the sid was unknown.
pub fn apply_sid_table(sids: &SidTable, event: &mut Event) -> bool {
    let (priority, reliability, unknown) = match sids.sid(event.plugin_id, event.plugin_sid) {
        Some(info) => (info.priority, info.reliability, false),
        None => (GENERIC_PRIORITY, GENERIC_RELIABILITY, true),
    };
    if unknown && event.plugin_sid != GENERIC_PLUGIN_SID {
        event.unknown_sid = Some(event.plugin_sid);
        event.plugin_sid = GENERIC_PLUGIN_SID;
    }
    event.priority.get_or_insert(priority);
    event.reliability.get_or_insert(reliability);
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::{Timestamp, Uuid};

    fn table() -> SidTable {
        let mut sids = SidTable::new();
        sids.load_sql(
            "test.sql",
            "INSERT INTO plugin_sid (plugin_id, sid, name, priority, reliability) VALUES (4003, 1, 'Failed password', 3, 2);",
        )
        .unwrap();
        sids
    }

    #[test]
    fn known_sid_fills_unset_priority_and_reliability() {
        let mut e = Event::new(Uuid::nil(), Timestamp::from_secs(0), 4003, 1);
        assert!(!apply_sid_table(&table(), &mut e));
        assert_eq!(
            (e.priority, e.reliability, e.plugin_sid, e.unknown_sid),
            (Some(3), Some(2), 1, None)
        );
        let mut e = Event::new(Uuid::nil(), Timestamp::from_secs(0), 4003, 1);
        e.priority = Some(0);
        apply_sid_table(&table(), &mut e);
        assert_eq!(
            e.priority,
            Some(0),
            "a priority set by the sender (even 0) is kept"
        );
    }

    #[test]
    fn unknown_sid_becomes_generic_and_keeps_the_original() {
        let mut e = Event::new(Uuid::nil(), Timestamp::from_secs(0), 4003, 999);
        e.log = Some("raw".into());
        assert!(apply_sid_table(&table(), &mut e));
        assert_eq!(
            (e.plugin_sid, e.unknown_sid),
            (GENERIC_PLUGIN_SID, Some(999))
        );
        assert_eq!((e.priority, e.reliability), (Some(2), Some(2)));
        assert_eq!(
            e.log.as_deref(),
            Some("raw"),
            "the raw log is never altered"
        );
    }
}
