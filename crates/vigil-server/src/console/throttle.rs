//! Login throttling: after [`MAX_FAILURES`] failures within [`WINDOW`] for one user name or one
//! client address, further attempts are refused until the oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recent failures by user name and by client address.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

impl Throttle {
    /// How long `user` from `addr` must wait, if locked.
    pub fn locked(&self, user: &str, addr: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.lock();
        [Key::User(user.to_string()), Key::Addr(addr)]
            .into_iter()
            .filter_map(|key| {
                let times = map.get_mut(&key)?;
                prune(times, now);
                let wait = (times.len() >= MAX_FAILURES)
                    .then(|| {
                        times
                            .front()
                            .map(|first| WINDOW - now.duration_since(*first))
                    })
                    .flatten();
                if times.is_empty() {
                    map.remove(&key);
                }
                wait
            })
            .max()
    }

    /// Records a failure of `user` from `addr`.
    pub fn fail(&self, user: &str, addr: IpAddr) {
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, times| {
            prune(times, now);
            !times.is_empty()
        });
        for key in [Key::User(user.to_string()), Key::Addr(addr)] {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets the failures of `user` after a successful login.
    pub fn succeed(&self, user: &str) {
        self.lock().remove(&Key::User(user.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_five_failures_by_name_or_address() {
        let t = Throttle::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        for _ in 0..MAX_FAILURES {
            assert!(t.locked("alice", a).is_none());
            t.fail("alice", a);
        }
        assert!(t.locked("alice", b).is_some_and(|d| d <= WINDOW));
        assert!(t.locked("bob", a).is_some());
        assert!(t.locked("bob", b).is_none());
    }
}
