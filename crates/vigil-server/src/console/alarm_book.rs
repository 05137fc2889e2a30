//! The alarm book: the latest revision of every alarm in memory (without evidence), with the
//! analysts' triage and assignee overlaid, so listing alarms never touches the disk.
//!
//! Loaded at start from the alarm log and the audit log ([`AlarmBook::load`]), then kept up to
//! date with the revisions the store writer made durable ([`AlarmBook::apply`]) and the triage
//! actions recorded in the audit log ([`AlarmBook::set_triage`], [`AlarmBook::set_assignee`]).
//! Every change is also sent to the live stream's subscribers ([`AlarmBook::subscribe`]).
//!
//! Two sorted indexes answer the three orders: `(risk, last_seen, id)` and `(last_seen, id)`.
//! A page starts after its cursor's key, so pages stay stable while alarms arrive.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ipnet::IpNet;
use tokio::sync::broadcast;
use vigil_event::{
    Alarm, AuditAction, AuditEntry, AuditOutcome, CorrelationState, Timestamp, Triage,
    TriageStatus, Uuid,
};
use vigil_store::{Log, StoreError};

use super::alarm_json::AlarmSummary;

/// A change of an alarm as the live stream sends it: its new summary and that summary's JSON,
/// written once for every client.
#[derive(Debug)]
pub struct Change {
    /// The alarm's summary after the change.
    pub summary: AlarmSummary,
    /// `summary` as JSON.
    pub json: String,
}

impl std::ops::Deref for Change {
    type Target = AlarmSummary;

    fn deref(&self) -> &AlarmSummary {
        &self.summary
    }
}

/// Changes kept for stream subscribers that fall behind; one further behind is dropped.
const STREAM_BUFFER: usize = 1024;

/// The order of an alarm list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Risk descending, then last seen descending (the default).
    #[default]
    Risk,
    /// Last seen descending.
    Time,
    /// Last seen ascending.
    Oldest,
}

/// Which alarms a list holds: every given condition must hold.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    /// Earliest `last_seen`, inclusive.
    pub from: Option<Timestamp>,
    /// Latest `last_seen`, inclusive.
    pub to: Option<Timestamp>,
    /// Triage statuses (any of them; empty = all).
    pub status: Vec<TriageStatus>,
    /// Correlation states (any of them; empty = all).
    pub correlation: Vec<CorrelationState>,
    /// Lowest risk.
    pub risk_min: Option<u8>,
    /// Highest risk.
    pub risk_max: Option<u8>,
    /// Directive id.
    pub directive: Option<u32>,
    /// Source address or network.
    pub src: Option<IpNet>,
    /// Destination address or network.
    pub dst: Option<IpNet>,
    /// A sensor of the alarm's events.
    pub sensor: Option<String>,
    /// A user name of the alarm's events.
    pub user: Option<String>,
    /// The assignee.
    pub assignee: Option<String>,
    /// Substring of the name (case-insensitive).
    pub q: Option<String>,
}

/// A page of alarms.
#[derive(Debug, Clone)]
pub struct AlarmPage {
    /// The alarms, in the list's order.
    pub items: Vec<AlarmSummary>,
    /// Where the next page starts; none after the last.
    pub next_cursor: Option<String>,
    /// How many alarms match the filter in all.
    pub total: usize,
}

/// A cursor that is not one this list's order gave.
#[derive(Debug, thiserror::Error)]
#[error("invalid cursor {0:?} for this sort order (take next_cursor from the previous page)")]
pub struct BadCursor(String);

/// How many alarms of one directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveCount {
    /// Directive id.
    pub directive_id: u32,
    /// Its name, as in its newest alarm.
    pub name: String,
    /// Alarms counted.
    pub count: u64,
}

/// An analyst's overlay on an alarm.
#[derive(Debug, Clone, Default)]
struct Overlay {
    triage: Triage,
    assignee: Option<String>,
}

/// An alarm as the book keeps it: without evidence, with its name in lower case for `q`.
struct Entry {
    alarm: Alarm,
    name_lower: String,
}

#[derive(Default)]
struct Inner {
    alarms: HashMap<Uuid, Entry>,
    overlays: HashMap<Uuid, Overlay>,
    by_risk: BTreeSet<(u8, Timestamp, Uuid)>,
    by_time: BTreeSet<(Timestamp, Uuid)>,
}

/// Every alarm's latest revision and triage, in memory. See the module documentation.
pub struct AlarmBook {
    inner: RwLock<Inner>,
    stream: broadcast::Sender<Arc<Change>>,
}

impl Default for AlarmBook {
    fn default() -> Self {
        AlarmBook {
            inner: RwLock::default(),
            stream: broadcast::channel(STREAM_BUFFER).0,
        }
    }
}

impl AlarmFilter {
    fn matches(&self, entry: &Entry, overlay: Option<&Overlay>) -> bool {
        let a = &entry.alarm;
        let status = overlay.map_or(TriageStatus::Open, |o| o.triage.status);
        let assignee = overlay.and_then(|o| o.assignee.as_deref());
        self.from.is_none_or(|t| a.last_seen >= t)
            && self.to.is_none_or(|t| a.last_seen <= t)
            && (self.status.is_empty() || self.status.contains(&status))
            && (self.correlation.is_empty() || self.correlation.contains(&a.correlation))
            && self.risk_min.is_none_or(|r| a.risk >= r)
            && self.risk_max.is_none_or(|r| a.risk <= r)
            && self.directive.is_none_or(|d| a.directive_id == d)
            && self
                .src
                .is_none_or(|n| n.contains(&a.src_ip.to_canonical()))
            && self
                .dst
                .is_none_or(|n| n.contains(&a.dst_ip.to_canonical()))
            && self
                .sensor
                .as_ref()
                .is_none_or(|s| a.sensors.iter().any(|x| x == s))
            && self
                .user
                .as_ref()
                .is_none_or(|u| a.usernames.iter().any(|x| x == u))
            && self
                .assignee
                .as_ref()
                .is_none_or(|u| assignee == Some(u.as_str()))
            && self
                .q
                .as_ref()
                .is_none_or(|q| entry.name_lower.contains(&q.to_lowercase()))
    }

    fn is_empty(&self) -> bool {
        self.from.is_none()
            && self.to.is_none()
            && self.status.is_empty()
            && self.correlation.is_empty()
            && self.risk_min.is_none()
            && self.risk_max.is_none()
            && self.directive.is_none()
            && self.src.is_none()
            && self.dst.is_none()
            && self.sensor.is_none()
            && self.user.is_none()
            && self.assignee.is_none()
            && self.q.is_none()
    }
}

/// A position in one of the orders: the key of the last alarm of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Risk(u8, Timestamp, Uuid),
    Time(Timestamp, Uuid),
}

impl Key {
    fn of(sort: Sort, alarm: &Alarm) -> Key {
        match sort {
            Sort::Risk => Key::Risk(alarm.risk, alarm.last_seen, alarm.id),
            Sort::Time | Sort::Oldest => Key::Time(alarm.last_seen, alarm.id),
        }
    }

    /// Whether this key comes after `cursor` in `sort`'s order.
    fn follows(self, sort: Sort, cursor: Key) -> bool {
        match sort {
            Sort::Risk | Sort::Time => self < cursor,
            Sort::Oldest => self > cursor,
        }
    }

    fn encode(self, sort: Sort) -> String {
        match (sort, self) {
            (_, Key::Risk(risk, time, id)) => format!("r.{risk}.{}.{id}", time.as_micros()),
            (Sort::Oldest, Key::Time(time, id)) => format!("o.{}.{id}", time.as_micros()),
            (_, Key::Time(time, id)) => format!("t.{}.{id}", time.as_micros()),
        }
    }

    fn decode(sort: Sort, text: &str) -> Result<Key, BadCursor> {
        let bad = || BadCursor(text.to_string());
        let parts: Vec<&str> = text.split('.').collect();
        let time = |s: &str| {
            s.parse::<i64>()
                .map(Timestamp::from_micros)
                .map_err(|_| bad())
        };
        let id = |s: &str| s.parse::<Uuid>().map_err(|_| bad());
        match (sort, parts.as_slice()) {
            (Sort::Risk, ["r", risk, t, i]) => Ok(Key::Risk(
                risk.parse().map_err(|_| bad())?,
                time(t)?,
                id(i)?,
            )),
            (Sort::Time, ["t", t, i]) | (Sort::Oldest, ["o", t, i]) => {
                Ok(Key::Time(time(t)?, id(i)?))
            }
            _ => Err(bad()),
        }
    }
}

impl Inner {
    /// The ids in `sort`'s order, starting after `after`.
    fn ordered(&self, sort: Sort, after: Option<Key>) -> Box<dyn Iterator<Item = Uuid> + '_> {
        match (sort, after) {
            (Sort::Risk, after) => {
                let upper = match after {
                    Some(Key::Risk(r, t, i)) => Bound::Excluded((r, t, i)),
                    _ => Bound::Unbounded,
                };
                Box::new(
                    self.by_risk
                        .range((Bound::Unbounded, upper))
                        .rev()
                        .map(|k| k.2),
                )
            }
            (Sort::Time, after) => {
                let upper = match after {
                    Some(Key::Time(t, i)) => Bound::Excluded((t, i)),
                    _ => Bound::Unbounded,
                };
                Box::new(
                    self.by_time
                        .range((Bound::Unbounded, upper))
                        .rev()
                        .map(|k| k.1),
                )
            }
            (Sort::Oldest, after) => {
                let lower = match after {
                    Some(Key::Time(t, i)) => Bound::Excluded((t, i)),
                    _ => Bound::Unbounded,
                };
                Box::new(self.by_time.range((lower, Bound::Unbounded)).map(|k| k.1))
            }
        }
    }

    fn summary(&self, id: &Uuid) -> Option<AlarmSummary> {
        let entry = self.alarms.get(id)?;
        let overlay = self.overlays.get(id).cloned().unwrap_or_default();
        Some(AlarmSummary::new(
            &entry.alarm,
            overlay.triage,
            overlay.assignee,
        ))
    }

    /// Stores `alarm` unless a later revision of it is known; whether it was stored.
    fn insert(&mut self, mut alarm: Alarm) -> bool {
        if let Some(old) = self.alarms.get(&alarm.id) {
            if old.alarm.revision > alarm.revision {
                return false;
            }
            let old = &old.alarm;
            self.by_risk.remove(&(old.risk, old.last_seen, old.id));
            self.by_time.remove(&(old.last_seen, old.id));
        }
        alarm.evidence = Vec::new();
        self.by_risk.insert((alarm.risk, alarm.last_seen, alarm.id));
        self.by_time.insert((alarm.last_seen, alarm.id));
        let name_lower = alarm.name.to_lowercase();
        self.alarms.insert(alarm.id, Entry { alarm, name_lower });
        true
    }

    /// Applies a triage or assign entry of the audit log.
    fn overlay(&mut self, entry: &AuditEntry) {
        overlay(&mut self.overlays, entry);
    }
}

/// Applies `entry` to `overlays` if it is a successful triage or assignment of an alarm.
fn overlay(overlays: &mut HashMap<Uuid, Overlay>, entry: &AuditEntry) {
    if entry.outcome != AuditOutcome::Success {
        return;
    }
    let Ok(id) = entry.target.parse::<Uuid>() else {
        return;
    };
    match entry.action {
        AuditAction::AlarmTriage => {
            let status = match entry.detail.get("status").map(String::as_str) {
                Some("acknowledged") => TriageStatus::Acknowledged,
                Some("closed") => TriageStatus::Closed,
                Some("open") => TriageStatus::Open,
                _ => return,
            };
            overlays.entry(id).or_default().triage = Triage {
                status,
                by: Some(entry.actor.clone()),
                at: Some(entry.time),
                comment: entry.detail.get("comment").cloned(),
            };
        }
        AuditAction::AlarmAssign => {
            overlays.entry(id).or_default().assignee = entry.detail.get("user").cloned();
        }
        _ => {}
    }
}

/// The analysts' triage of every alarm `audit` names (what `vigil search` shows).
pub fn triage_from_audit(audit: &Log<AuditEntry>) -> Result<HashMap<Uuid, Triage>, StoreError> {
    let mut overlays = HashMap::new();
    audit.scan_from(0, |_, entry| overlay(&mut overlays, &entry))?;
    Ok(overlays
        .into_iter()
        .map(|(id, o): (Uuid, Overlay)| (id, o.triage))
        .collect())
}

impl AlarmBook {
    /// The book of every alarm in `alarms` (newest revision of each), with the triage and
    /// assignments recorded in `audit`.
    pub fn load(alarms: &Log<Alarm>, audit: &Log<AuditEntry>) -> Result<AlarmBook, StoreError> {
        let book = AlarmBook::default();
        {
            let mut inner = book.write();
            alarms.scan_from(0, |_, alarm| {
                inner.insert(alarm);
            })?;
            audit.scan_from(0, |_, entry| inner.overlay(&entry))?;
        }
        Ok(book)
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes in stored alarm revisions (older revisions than known are ignored) and sends each
    /// new one to the stream.
    pub fn apply(&self, alarms: Vec<Alarm>) {
        let mut changed = Vec::new();
        {
            let mut inner = self.write();
            for alarm in alarms {
                let id = alarm.id;
                if inner.insert(alarm) {
                    changed.extend(inner.summary(&id));
                }
            }
        }
        for summary in changed {
            self.publish(summary);
        }
    }

    /// Applies a triage or assignment recorded in the audit log; the alarm's new summary (also
    /// sent to the stream), or none if the alarm is unknown.
    pub fn record(&self, entry: &AuditEntry) -> Option<AlarmSummary> {
        let summary = {
            let mut inner = self.write();
            inner.overlay(entry);
            inner.summary(&entry.target.parse().ok()?)
        }?;
        self.publish(summary.clone());
        Some(summary)
    }

    fn publish(&self, summary: AlarmSummary) {
        // Written once here, not once per stream client.
        let json = match serde_json::to_string(&summary) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(id = %summary.id, error = %e, "an alarm summary does not encode; not streamed");
                return;
            }
        };
        // Nobody listening is fine.
        let _ = self.stream.send(Arc::new(Change { summary, json }));
    }

    /// Every later change of an alarm (new or revised, triaged, assigned).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.stream.subscribe()
    }

    /// How many alarms the book holds.
    pub fn len(&self) -> usize {
        self.read().alarms.len()
    }

    /// Whether the book holds no alarm.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The alarm `id`'s summary.
    pub fn get(&self, id: &Uuid) -> Option<AlarmSummary> {
        self.read().summary(id)
    }

    /// A page of at most `limit` alarms matching `filter` in `sort`'s order, after `cursor`.
    pub fn query(
        &self,
        filter: &AlarmFilter,
        sort: Sort,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<AlarmPage, BadCursor> {
        let after = cursor.map(|c| Key::decode(sort, c)).transpose()?;
        let inner = self.read();
        let mut ids: Vec<Uuid> = Vec::with_capacity(limit);
        let mut more = false;
        let total = match filter.is_empty() {
            true => {
                let mut page = inner.ordered(sort, after);
                ids.extend(page.by_ref().take(limit));
                more = page.next().is_some();
                inner.alarms.len()
            }
            // One pass over the whole order: counts every match, keeps the page after the
            // cursor.
            false => {
                let mut total = 0;
                for id in inner.ordered(sort, None) {
                    let Some(entry) = inner.alarms.get(&id) else {
                        continue;
                    };
                    if !filter.matches(entry, inner.overlays.get(&id)) {
                        continue;
                    }
                    total += 1;
                    let past =
                        after.is_none_or(|key| Key::of(sort, &entry.alarm).follows(sort, key));
                    if past && ids.len() < limit {
                        ids.push(id);
                    } else if past {
                        more = true;
                    }
                }
                total
            }
        };
        let next_cursor = match (more, ids.last()) {
            (true, Some(last)) => inner
                .alarms
                .get(last)
                .map(|e| Key::of(sort, &e.alarm).encode(sort)),
            _ => None,
        };
        Ok(AlarmPage {
            items: ids.iter().filter_map(|id| inner.summary(id)).collect(),
            next_cursor,
            total,
        })
    }

    /// At most `limit` alarms whose source or destination is `ip`, newest first.
    pub fn involving(&self, ip: IpAddr, limit: usize) -> Vec<AlarmSummary> {
        let ip = ip.to_canonical();
        let inner = self.read();
        inner
            .ordered(Sort::Time, None)
            .filter(|id| {
                inner.alarms.get(id).is_some_and(|e| {
                    e.alarm.src_ip.to_canonical() == ip || e.alarm.dst_ip.to_canonical() == ip
                })
            })
            .take(limit)
            .filter_map(|id| inner.summary(&id))
            .collect()
    }

    /// How many alarms each address is the source or destination of (once for an alarm from
    /// and to the same address).
    pub fn counts_by_host(&self) -> HashMap<IpAddr, usize> {
        let inner = self.read();
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        for e in inner.alarms.values() {
            let (src, dst) = (e.alarm.src_ip.to_canonical(), e.alarm.dst_ip.to_canonical());
            *counts.entry(src).or_default() += 1;
            if dst != src {
                *counts.entry(dst).or_default() += 1;
            }
        }
        counts
    }

    /// The `n` directives with the most alarms last seen at `since` or later, most first (ties
    /// by directive id).
    pub fn top_directives(&self, since: Timestamp, n: usize) -> Vec<DirectiveCount> {
        let inner = self.read();
        let mut counts: HashMap<u32, DirectiveCount> = HashMap::new();
        // Oldest first, so the name kept is the newest alarm's.
        for (_, id) in inner.by_time.range((since, Uuid::nil())..) {
            if let Some(e) = inner.alarms.get(id) {
                let count = counts
                    .entry(e.alarm.directive_id)
                    .or_insert_with(|| DirectiveCount {
                        directive_id: e.alarm.directive_id,
                        name: String::new(),
                        count: 0,
                    });
                count.count += 1;
                count.name.clone_from(&e.alarm.name);
            }
        }
        let mut counts: Vec<DirectiveCount> = counts.into_values().collect();
        counts.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.directive_id.cmp(&b.directive_id))
        });
        counts.truncate(n);
        counts
    }

    /// How many alarms were last seen in each of `buckets` consecutive spans of `span_micros`
    /// starting at `from`.
    pub fn counts_over_time(&self, from: Timestamp, span_micros: i64, buckets: usize) -> Vec<u64> {
        let mut counts = vec![0u64; buckets];
        if span_micros <= 0 {
            return counts;
        }
        let inner = self.read();
        for (time, _) in inner.by_time.range((from, Uuid::nil())..) {
            let slot = (time.as_micros() - from.as_micros()) / span_micros;
            match usize::try_from(slot).ok().and_then(|s| counts.get_mut(s)) {
                Some(count) => *count += 1,
                None => break,
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An alarm of directive `directive` from `10.0.<src>.1` with `risk` last seen at `secs`.
    fn alarm(n: u128, risk: u8, secs: i64, directive: u32, src: u8) -> Alarm {
        let mut a = Alarm::new(
            Uuid::from_u128(n),
            format!("Rule {directive}"),
            Timestamp::from_secs(secs),
        );
        a.risk = risk;
        a.directive_id = directive;
        a.src_ip = IpAddr::from([10, 0, src, 1]);
        a
    }

    fn triage(id: Uuid, status: &str) -> AuditEntry {
        AuditEntry {
            id: Uuid::now_v7(),
            time: Timestamp::from_secs(9),
            actor: "alice".into(),
            action: AuditAction::AlarmTriage,
            target: id.to_string(),
            outcome: AuditOutcome::Success,
            detail: [("status".to_string(), status.to_string())].into(),
            peer: None,
        }
    }

    /// What a page walk must give: the matching alarms sorted naively.
    fn model(alarms: &[Alarm], closed: &[Uuid], filter: &AlarmFilter, sort: Sort) -> Vec<Uuid> {
        let mut kept: Vec<&Alarm> = alarms
            .iter()
            .filter(|a| {
                let status = match closed.contains(&a.id) {
                    true => TriageStatus::Closed,
                    false => TriageStatus::Open,
                };
                (filter.status.is_empty() || filter.status.contains(&status))
                    && filter.risk_min.is_none_or(|r| a.risk >= r)
                    && filter.directive.is_none_or(|d| a.directive_id == d)
                    && filter.src.is_none_or(|n| n.contains(&a.src_ip))
            })
            .collect();
        match sort {
            Sort::Risk => kept.sort_by_key(|a| std::cmp::Reverse((a.risk, a.last_seen, a.id))),
            Sort::Time => kept.sort_by_key(|a| std::cmp::Reverse((a.last_seen, a.id))),
            Sort::Oldest => kept.sort_by_key(|a| (a.last_seen, a.id)),
        }
        kept.iter().map(|a| a.id).collect()
    }

    #[test]
    fn a_later_revision_replaces_an_alarm_and_an_older_one_is_ignored() {
        let book = AlarmBook::default();
        let mut changes = book.subscribe();
        let mut second = alarm(1, 5, 20, 7, 1);
        second.revision = 2;
        book.apply(vec![alarm(1, 2, 10, 7, 1), second, alarm(1, 9, 30, 7, 1)]);
        assert_eq!(book.len(), 1);
        let got = book.get(&Uuid::from_u128(1)).unwrap();
        assert_eq!((got.revision, got.risk), (2, 5));
        let sent: Vec<u32> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|s| s.revision)
            .collect();
        assert_eq!(sent, [1, 2]);
        let page = book
            .query(&AlarmFilter::default(), Sort::Risk, None, 10)
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(
            book.query(&AlarmFilter::default(), Sort::Time, Some("r.1.2.x"), 10)
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn pages_walk_the_naive_order_of_the_matching_alarms(
            specs in prop::collection::vec((0u8..4, 0i64..6, 0u32..3, 0u8..3, any::<bool>()), 0..60),
            limit in 1usize..7,
            sort in prop_oneof![Just(Sort::Risk), Just(Sort::Time), Just(Sort::Oldest)],
            risk_min in prop::option::of(0u8..4),
            directive in prop::option::of(0u32..3),
            src in prop::option::of(0u8..3),
            closed_only in any::<bool>(),
        ) {
            let alarms: Vec<Alarm> = specs
                .iter()
                .enumerate()
                .map(|(n, &(risk, secs, d, s, _))| alarm(n as u128, risk, secs, d, s))
                .collect();
            let closed: Vec<Uuid> = specs
                .iter()
                .enumerate()
                .filter(|(_, spec)| spec.4)
                .map(|(n, _)| Uuid::from_u128(n as u128))
                .collect();
            let book = AlarmBook::default();
            book.apply(alarms.clone());
            for id in &closed {
                book.record(&triage(*id, "closed"));
            }
            let filter = AlarmFilter {
                risk_min,
                directive,
                src: src.map(|s| IpNet::from(IpAddr::from([10, 0, s, 1]))),
                status: match closed_only {
                    true => vec![TriageStatus::Closed],
                    false => Vec::new(),
                },
                ..AlarmFilter::default()
            };
            let expected = model(&alarms, &closed, &filter, sort);
            let mut walked = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = book.query(&filter, sort, cursor.as_deref(), limit).unwrap();
                prop_assert_eq!(page.total, expected.len());
                prop_assert!(page.items.len() <= limit);
                walked.extend(page.items.iter().map(|a| a.id));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            prop_assert_eq!(walked, expected);
        }
    }
}
