//! The memory backend's statistics, maintained so that `stats()` (read at every `/metrics`
//! scrape) never walks the sessions under the store's lock.
//!
//! Invariant: the figures describe exactly the sessions held whose generation is at least
//! their user's token version (the sessions `alive` can still accept): each one's deadline,
//! and for each of its grants `min(exp, deadline)` — a grant counts while both it and its
//! session live. Every step that changes a user's sessions or version re-indexes that user
//! ([`Figures::replace`], O(that user's sessions)); the periodic sweep rebuilds everything.
//! At `now` the live count is the total minus the entries at or before `now`: only entries
//! that expired since the last sweep are visited.

use std::collections::{BTreeMap, HashMap};

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

/// What one user contributes: per counted session, its deadline and its grants' ends; and
/// how many sessions are held for the user (counted or not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Contribution {
    pub(super) sessions: Vec<(Timestamp, Vec<Timestamp>)>,
    pub(super) stored: usize,
}

/// A multiset of instants with its size.
#[derive(Debug, Default)]
struct Ends {
    at: BTreeMap<Timestamp, u64>,
    total: u64,
}

impl Ends {
    fn add(&mut self, t: Timestamp) {
        *self.at.entry(t).or_insert(0) += 1;
        self.total += 1;
    }

    fn remove(&mut self, t: Timestamp) {
        if let Some(n) = self.at.get_mut(&t) {
            *n -= 1;
            self.total -= 1;
            if *n == 0 {
                self.at.remove(&t);
            }
        }
    }

    /// Entries after `now`.
    fn live(&self, now: Timestamp) -> u64 {
        let ended: u64 = self.at.range(..=now).map(|(_, n)| *n).sum();
        self.total - ended
    }
}

/// The maintained figures.
#[derive(Debug, Default)]
pub(super) struct Figures {
    deadlines: Ends,
    grants: Ends,
    per_user: HashMap<UserId, Contribution>,
    stored_sessions: usize,
    /// Security events held (kept by `push_event` and the sweep).
    pub(super) stored_events: usize,
}

impl Figures {
    /// Replaces what `user` contributes.
    pub(super) fn replace(&mut self, user: UserId, new: Contribution) {
        if let Some(old) = self.per_user.remove(&user) {
            for (deadline, grants) in &old.sessions {
                self.deadlines.remove(*deadline);
                for g in grants {
                    self.grants.remove(*g);
                }
            }
            self.stored_sessions -= old.stored;
        }
        for (deadline, grants) in &new.sessions {
            self.deadlines.add(*deadline);
            for g in grants {
                self.grants.add(*g);
            }
        }
        self.stored_sessions += new.stored;
        if new.stored > 0 {
            self.per_user.insert(user, new);
        }
    }

    /// Live sessions at `now`.
    pub(super) fn sessions_active(&self, now: Timestamp) -> u64 {
        self.deadlines.live(now)
    }

    /// Unexpired grants of live sessions at `now`.
    pub(super) fn access_tokens_active(&self, now: Timestamp) -> u64 {
        self.grants.live(now)
    }

    /// Sessions held, dead or alive.
    pub(super) fn stored_sessions(&self) -> usize {
        self.stored_sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_a_contribution_moves_the_counts() {
        let t = Timestamp::from_secs;
        let user = UserId::new();
        let mut f = Figures::default();
        f.replace(
            user,
            Contribution {
                sessions: vec![(t(100), vec![t(50), t(100)]), (t(200), vec![])],
                stored: 3,
            },
        );
        assert_eq!(
            (f.sessions_active(t(10)), f.access_tokens_active(t(10))),
            (2, 2)
        );
        assert_eq!(
            (f.sessions_active(t(60)), f.access_tokens_active(t(60))),
            (2, 1)
        );
        assert_eq!(
            (f.sessions_active(t(100)), f.access_tokens_active(t(100))),
            (1, 0)
        );
        assert_eq!(f.stored_sessions(), 3);
        f.replace(user, Contribution::default());
        assert_eq!(
            (f.sessions_active(t(10)), f.access_tokens_active(t(10))),
            (0, 0)
        );
        assert_eq!(f.stored_sessions(), 0);
        assert!(f.per_user.is_empty());
    }
}
