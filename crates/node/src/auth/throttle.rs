//! Password guessing is slowed down, and password hashing cannot exhaust memory.
//!
//! Every sign-in attempt counts against its user name and against the client's address before
//! the password is checked (so a burst of parallel guesses counts too); a success clears both.
//! Past a few free failures each further attempt must wait a delay that doubles up to
//! [`MAX_DELAY`]; an attempt during the wait is refused without checking the password. The
//! address allows more failures than a user name, as people behind one proxy share it.
//!
//! Argon2 takes ~19 MiB per check, so checks run in a few [`HashGate`] slots; a request that
//! finds them taken waits briefly in a short queue, then is refused as busy.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Failed attempts a user name may have before further ones must wait.
pub const FREE_FAILURES_PER_USER: u32 = 5;
/// Failed attempts one client address may have, over all user names, before it must wait.
pub const FREE_FAILURES_PER_CLIENT: u32 = 20;
/// The wait after the first failure past the free ones; it doubles with each further failure.
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A record without an attempt for this long is forgotten (longer than [`MAX_DELAY`]).
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Records kept per kind; past it, forgotten ones go first, then the oldest.
const MAX_TRACKED: usize = 10_000;
/// Longer user names are tracked by this prefix (no real user name is that long).
const MAX_TRACKED_NAME: usize = 128;
/// How long a sign-in waits for a hashing slot before it is refused as busy.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// Why a sign-in attempt is refused before its password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this user name or from this address: try again after the wait.
    Throttled { retry_after: Duration },
    /// All hashing slots are taken and the queue is full: try again in a moment.
    Busy { retry_after: Duration },
}

impl Refusal {
    pub fn retry_after_secs(&self) -> u64 {
        let wait = match self {
            Refusal::Throttled { retry_after } | Refusal::Busy { retry_after } => *retry_after,
        };
        // Round up: a client that waits the whole seconds is let in.
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    }

    /// What the person signing in reads.
    pub fn message(&self) -> String {
        match self {
            Refusal::Throttled { .. } => format!(
                "Too many failed sign-ins for this user name or from this address: wait {} seconds, then try again.",
                self.retry_after_secs()
            ),
            Refusal::Busy { .. } => {
                "The node is busy checking other sign-ins: try again in a few seconds.".into()
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failure counts by key (a user name, an address), bounded in size.
struct Tracker<K> {
    free: u32,
    entries: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> Tracker<K> {
    fn new(free: u32) -> Self {
        Tracker {
            free,
            entries: HashMap::new(),
        }
    }

    /// How long `key` must still wait.
    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.locked_until?;
        let left = until.saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Counts an attempt; past the free ones, the next attempt must wait.
    fn count(&mut self, key: &K, now: Instant) {
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let entry = self.entries.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now.saturating_duration_since(entry.last) > FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        if entry.count > self.free {
            entry.locked_until = Some(now + delay(entry.count - self.free));
        }
    }

    /// Takes back an attempt that was counted but never checked.
    fn uncount(&mut self, key: &K) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count <= self.free {
                entry.locked_until = None;
            }
        }
    }

    fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn make_room(&mut self, now: Instant) {
        self.entries.retain(|_, f| {
            now.saturating_duration_since(f.last) <= FORGET_AFTER
                || f.locked_until.is_some_and(|u| u > now)
        });
        if self.entries.len() >= MAX_TRACKED
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

/// The wait after the `n`th failure past the free ones (n ≥ 1): 1 s, 2 s, 4 s, … up to
/// [`MAX_DELAY`].
fn delay(n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(20);
    FIRST_DELAY.saturating_mul(1u32 << doublings).min(MAX_DELAY)
}

/// The node's sign-in throttle: failure counts by user name and by client address.
pub struct LoginThrottle {
    users: Mutex<Tracker<String>>,
    clients: Mutex<Tracker<IpAddr>>,
}

/// An attempt that was counted; [`LoginThrottle::succeeded`] or [`LoginThrottle::unchecked`]
/// settles it, a failure needs nothing more.
pub struct Attempt {
    user: String,
    client: IpAddr,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            users: Mutex::new(Tracker::new(FREE_FAILURES_PER_USER)),
            clients: Mutex::new(Tracker::new(FREE_FAILURES_PER_CLIENT)),
        }
    }
}

fn user_key(user: &str) -> String {
    user.chars().take(MAX_TRACKED_NAME).collect()
}

impl LoginThrottle {
    /// Counts an attempt to sign in as `user` from `client`, or refuses it while either must
    /// wait.
    pub fn begin(&self, user: &str, client: IpAddr) -> Result<Attempt, Refusal> {
        self.begin_at(user, client, Instant::now())
    }

    fn begin_at(&self, user: &str, client: IpAddr, now: Instant) -> Result<Attempt, Refusal> {
        let user = user_key(user);
        let mut users = lock(&self.users);
        let mut clients = lock(&self.clients);
        let wait = users.wait(&user, now).max(clients.wait(&client, now));
        if let Some(retry_after) = wait {
            return Err(Refusal::Throttled { retry_after });
        }
        users.count(&user, now);
        clients.count(&client, now);
        Ok(Attempt { user, client })
    }

    /// The password was right: the user name and the address start afresh.
    pub fn succeeded(&self, attempt: Attempt) {
        lock(&self.users).clear(&attempt.user);
        lock(&self.clients).clear(&attempt.client);
    }

    /// The password was never checked (the node was busy): the attempt does not count.
    pub fn unchecked(&self, attempt: Attempt) {
        lock(&self.users).uncount(&attempt.user);
        lock(&self.clients).uncount(&attempt.client);
    }
}

/// A poisoned lock only means a panic elsewhere mid-update of plain counters: keep going.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A few slots for password hashing, with a short queue in front.
pub struct HashGate {
    slots: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl HashGate {
    /// `slots` hashes at once (each ~19 MiB), and at most `max_waiting` requests queued.
    pub fn new(slots: usize, max_waiting: usize) -> Self {
        HashGate {
            slots: Semaphore::new(slots.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Slots for the machine: one per core, at least 2, at most 4.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = cores.clamp(2, 4);
        HashGate::new(slots, slots * 8)
    }

    /// A slot, after a short wait in the queue; `Busy` when the queue is full or the wait ends.
    pub async fn slot(&self) -> Result<SemaphorePermit<'_>, Refusal> {
        let busy = Refusal::Busy {
            retry_after: SLOT_WAIT,
        };
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy);
        }
        let got = tokio::time::timeout(SLOT_WAIT, self.slots.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match got {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn refusal(result: Result<Attempt, Refusal>) -> Option<Refusal> {
        result.err()
    }

    #[test]
    fn a_user_name_waits_after_its_free_failures_and_the_wait_doubles() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES_PER_USER {
            assert!(refusal(throttle.begin_at("admin", ADDR, t0)).is_none());
        }
        // The first attempt past the free ones is checked; the next must wait a second.
        assert!(refusal(throttle.begin_at("admin", ADDR, t0)).is_none());
        let wait = Refusal::Throttled {
            retry_after: Duration::from_secs(1),
        };
        assert_eq!(refusal(throttle.begin_at("admin", ADDR, t0)), Some(wait));
        // After the wait, one more check, then two seconds.
        let t1 = t0 + Duration::from_secs(1);
        assert!(refusal(throttle.begin_at("admin", ADDR, t1)).is_none());
        let wait = Refusal::Throttled {
            retry_after: Duration::from_secs(2),
        };
        assert_eq!(refusal(throttle.begin_at("admin", ADDR, t1)), Some(wait));
        // Another user name from another address is not affected.
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(refusal(throttle.begin_at("alice", other, t1)).is_none());
    }

    #[test]
    fn a_success_clears_the_count_and_an_unchecked_attempt_does_not_count() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES_PER_USER + 1 {
            let attempt = throttle.begin_at("admin", ADDR, t0).expect("attempt");
            throttle.unchecked(attempt);
        }
        let attempt = throttle.begin_at("admin", ADDR, t0).expect("not throttled");
        throttle.succeeded(attempt);
        assert!(lock(&throttle.users).entries.is_empty());
        assert!(lock(&throttle.clients).entries.is_empty());
    }

    #[test]
    fn one_address_trying_many_user_names_waits_too() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..=FREE_FAILURES_PER_CLIENT {
            assert!(refusal(throttle.begin_at(&format!("user{i}"), ADDR, t0)).is_none());
        }
        assert!(matches!(
            refusal(throttle.begin_at("fresh", ADDR, t0)),
            Some(Refusal::Throttled { .. })
        ));
    }

    #[test]
    fn waits_double_up_to_the_cap_and_records_stay_bounded() {
        assert_eq!(delay(1), Duration::from_secs(1));
        assert_eq!(delay(4), Duration::from_secs(8));
        assert_eq!(delay(1000), MAX_DELAY);
        let mut tracker = Tracker::new(0);
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED + 10 {
            tracker.count(&i, t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(tracker.entries.len(), MAX_TRACKED);
        assert!(!tracker.entries.contains_key(&0), "the oldest went first");
    }

    #[tokio::test]
    async fn a_full_gate_answers_busy_instead_of_queueing_without_end() {
        let gate = HashGate::new(1, 0);
        let held = gate.slot().await.expect("a free slot");
        let started = std::time::Instant::now();
        assert!(matches!(gate.slot().await, Err(Refusal::Busy { .. })));
        assert!(
            started.elapsed() < SLOT_WAIT,
            "refused at once, not after a wait"
        );
        drop(held);
        assert!(gate.slot().await.is_ok());
    }
}
