//! Login throttling: after [`MAX_FAILURES`] failures within [`WINDOW`] for one user name or one
//! client address, further attempts are refused until the oldest failure leaves the window.
//!
//! An attempt counts as a failure from the moment it starts, so attempts made at once cannot
//! all slip in before the first of them fails; a success takes its count back. At most
//! [`MAX_KEYS`] names and addresses are tracked (an IPv6 address by its /64, so that one host's
//! many addresses count as one): a spray of names or addresses cannot grow memory without bound;
//! beyond it, new names and addresses are not tracked, and those already tracked still lock.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most user names and addresses tracked at once.
pub const MAX_KEYS: usize = 65_536;

/// Recent failures by user name and by client address.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<Failures>,
}

/// The failures by key, and when a full table was last swept of what left the window.
#[derive(Default)]
struct Failures {
    by_key: HashMap<Key, VecDeque<Instant>>,
    swept: Option<Instant>,
    /// For each locked key, the oldest failure of the lock last reported: a lock is reported
    /// once (until its oldest failure leaves the window), not at every refused attempt.
    reported: HashMap<Key, Instant>,
}

/// A refused attempt: how long to wait, and whether it is the first refusal of this lock
/// (the one worth recording).
#[derive(Debug, Clone, Copy)]
pub struct Locked {
    /// Until the oldest failure leaves the window.
    pub wait: Duration,
    /// Whether no refusal of this lock was reported before.
    pub first: bool,
}

/// How often a full table is swept at most (a sweep visits every key).
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

impl Key {
    /// The key of a client address: an IPv6 address by its /64.
    fn addr(addr: IpAddr) -> Key {
        Key::Addr(match addr.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
            v4 => v4,
        })
    }
}

impl Throttle {
    /// Starts a login attempt of `user` from `addr`, counted as a failure until
    /// [`Throttle::succeed`]; or how long they must wait, if locked.
    pub fn attempt(&self, user: &str, addr: IpAddr) -> Result<(), Locked> {
        let now = Instant::now();
        let mut failures = self.lock();
        let keys = [Key::User(user.to_string()), Key::addr(addr)];
        if failures.by_key.len() >= MAX_KEYS
            && failures
                .swept
                .is_none_or(|at| now.duration_since(at) >= SWEEP_INTERVAL)
        {
            // Full: forget what has left the window before deciding what no longer fits.
            failures.swept = Some(now);
            failures.by_key.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let map = &mut failures.by_key;
        let lock = keys
            .iter()
            .filter_map(|key| {
                let times = map.get_mut(key)?;
                prune(times, now);
                let first = *times.front()?;
                (times.len() >= MAX_FAILURES)
                    .then(|| (WINDOW - now.duration_since(first), key, first))
            })
            .max_by_key(|(wait, ..)| *wait);
        if let Some((wait, key, oldest)) = lock {
            let key = key.clone();
            let reported = &mut failures.reported;
            let first = reported.get(&key) != Some(&oldest);
            if first {
                if reported.len() >= MAX_KEYS {
                    reported.clear();
                }
                reported.insert(key, oldest);
            }
            return Err(Locked { wait, first });
        }
        for key in keys {
            if map.contains_key(&key) || map.len() < MAX_KEYS {
                map.entry(key).or_default().push_back(now);
            }
        }
        debug_assert!(map.len() <= MAX_KEYS);
        Ok(())
    }

    /// Ends the attempt of `user` from `addr` as a success: the user's failures are forgotten
    /// and the address's count of this attempt taken back.
    pub fn succeed(&self, user: &str, addr: IpAddr) {
        let map = &mut self.lock().by_key;
        map.remove(&Key::User(user.to_string()));
        let addr = Key::addr(addr);
        if let Some(times) = map.get_mut(&addr) {
            times.pop_back();
            if times.is_empty() {
                map.remove(&addr);
            }
        }
    }

    /// Takes back the attempt of `user` from `addr` without counting it either way (its
    /// password was right but the login was refused for another reason, or was never checked).
    pub fn withdraw(&self, user: &str, addr: IpAddr) {
        let map = &mut self.lock().by_key;
        for key in [Key::User(user.to_string()), Key::addr(addr)] {
            if let Some(times) = map.get_mut(&key) {
                times.pop_back();
                if times.is_empty() {
                    map.remove(&key);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
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
            assert!(t.attempt("alice", a).is_ok());
        }
        let locked = t.attempt("alice", b).unwrap_err();
        assert!(locked.wait <= WINDOW && locked.first);
        assert!(!t.attempt("alice", b).unwrap_err().first, "reported once");
        assert!(t.attempt("bob", a).is_err());
        assert!(t.attempt("bob", b).is_ok());
    }

    #[test]
    fn a_success_takes_its_attempt_back() {
        let t = Throttle::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..20 {
            assert!(t.attempt("alice", a).is_ok());
            t.succeed("alice", a);
        }
        assert!(t.lock().by_key.is_empty());
    }

    #[test]
    fn a_spray_of_names_is_bounded_and_its_address_still_locked() {
        let t = Throttle::default();
        let sprayer: IpAddr = [10, 0, 0, 1].into();
        assert!(t.attempt("spray", sprayer).is_ok());
        for n in 0..MAX_KEYS as u32 {
            let addr = IpAddr::from((n / MAX_FAILURES as u32).to_be_bytes());
            let _ = t.attempt(&format!("user{n}"), addr);
        }
        assert_eq!(t.lock().by_key.len(), MAX_KEYS);
        for n in 1..MAX_FAILURES {
            assert!(t.attempt(&format!("spray{n}"), sprayer).is_ok());
        }
        assert!(t.attempt("another", sprayer).is_err());

        // One host's IPv6 addresses count as one.
        let t = Throttle::default();
        for n in 0..MAX_FAILURES as u16 {
            let addr = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, n]);
            assert!(t.attempt(&format!("v6-{n}"), addr).is_ok());
        }
        assert!(
            t.attempt("v6-last", IpAddr::from([0x2001, 0xdb8, 0, 0, 1, 2, 3, 4]))
                .is_err()
        );
    }
}
