//! Replay protection: a nonce is accepted once per connection while its timestamp is inside the
//! clock-skew window; after that the timestamp alone refuses the message.
//!
//! [`NonceCache`] is the seam: the node may implement it over its database (`UNIQUE
//! (connection_id, nonce)`, which also survives restarts and works across processes), or use
//! [`ReplayGuard`], the in-memory, bounded implementation here. Sync events carry their own
//! monotonic sequence numbers on top, so an event replayed after the window is refused too.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use uuid::Uuid;

use crate::signing::{Nonce, RequestError};

/// Remembers nonces per connection.
pub trait NonceCache {
    /// Records `nonce` on `connection_id` until `keep_until`. Fails with
    /// [`RequestError::Replayed`] when it is already recorded, and with
    /// [`RequestError::ReplayGuardFull`] when it cannot record it without forgetting one that may
    /// still be replayed (it fails closed).
    fn remember(
        &mut self,
        connection_id: Uuid,
        nonce: &Nonce,
        keep_until: Timestamp,
        now: Timestamp,
    ) -> Result<(), RequestError>;
}

/// In-memory [`NonceCache`] holding at most `capacity` nonces per connection. Forgets nonces
/// whose time has passed as it goes.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    connections: HashMap<Uuid, Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    by_nonce: HashMap<Nonce, Timestamp>,
    by_expiry: BTreeSet<(Timestamp, Nonce)>,
}

impl Seen {
    fn forget_until(&mut self, now: Timestamp) {
        while let Some((until, _)) = self.by_expiry.first() {
            if *until >= now {
                break;
            }
            if let Some((_, nonce)) = self.by_expiry.pop_first() {
                self.by_nonce.remove(&nonce);
            }
        }
    }
}

impl ReplayGuard {
    /// Enough for about 160 messages a second on one connection, sustained over the 10-minute
    /// span a nonce may need remembering.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard {
            capacity,
            connections: HashMap::new(),
        }
    }

    /// How many nonces are remembered, over all connections.
    pub fn len(&self) -> usize {
        self.connections.values().map(|s| s.by_nonce.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every nonce whose time has passed, and connections with none left.
    pub fn purge(&mut self, now: Timestamp) {
        self.connections.retain(|_, seen| {
            seen.forget_until(now);
            !seen.by_nonce.is_empty()
        });
    }
}

impl Default for ReplayGuard {
    fn default() -> ReplayGuard {
        ReplayGuard::new(ReplayGuard::DEFAULT_CAPACITY)
    }
}

impl NonceCache for ReplayGuard {
    fn remember(
        &mut self,
        connection_id: Uuid,
        nonce: &Nonce,
        keep_until: Timestamp,
        now: Timestamp,
    ) -> Result<(), RequestError> {
        let seen = self.connections.entry(connection_id).or_default();
        seen.forget_until(now);
        if seen.by_nonce.contains_key(nonce) {
            return Err(RequestError::Replayed);
        }
        if seen.by_nonce.len() >= self.capacity {
            return Err(RequestError::ReplayGuardFull);
        }
        seen.by_nonce.insert(nonce.clone(), keep_until);
        seen.by_expiry.insert((keep_until, nonce.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("in range")
    }

    fn nonce(n: u32) -> Nonce {
        Nonce::parse(&format!("nonce-{n:010}-xxxx")).expect("valid")
    }

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);

    #[test]
    fn a_nonce_is_accepted_once_per_connection() {
        let mut guard = ReplayGuard::default();
        assert_eq!(guard.remember(A, &nonce(1), at(300), at(0)), Ok(()));
        assert_eq!(
            guard.remember(A, &nonce(1), at(300), at(5)),
            Err(RequestError::Replayed)
        );
        assert_eq!(guard.remember(B, &nonce(1), at(300), at(5)), Ok(()));
    }

    #[test]
    fn a_nonce_is_remembered_until_its_time_passes_then_forgotten() {
        let mut guard = ReplayGuard::default();
        guard
            .remember(A, &nonce(1), at(300), at(0))
            .expect("first time");
        assert_eq!(
            guard.remember(A, &nonce(1), at(600), at(300)),
            Err(RequestError::Replayed)
        );
        assert_eq!(guard.remember(A, &nonce(2), at(601), at(301)), Ok(()));
        assert_eq!(guard.len(), 1, "nonce 1 is forgotten once its time passed");
        guard.purge(at(602));
        assert!(guard.is_empty());
    }

    #[test]
    fn a_full_guard_refuses_rather_than_forgets_a_live_nonce() {
        let mut guard = ReplayGuard::new(2);
        guard.remember(A, &nonce(1), at(300), at(0)).expect("room");
        guard.remember(A, &nonce(2), at(300), at(0)).expect("room");
        assert_eq!(
            guard.remember(A, &nonce(3), at(300), at(0)),
            Err(RequestError::ReplayGuardFull)
        );
        assert_eq!(
            guard.remember(A, &nonce(1), at(300), at(0)),
            Err(RequestError::Replayed)
        );
        assert_eq!(guard.remember(B, &nonce(3), at(300), at(0)), Ok(()));
        assert_eq!(guard.remember(A, &nonce(3), at(400), at(301)), Ok(()));
    }
}
