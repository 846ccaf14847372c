//! The memory backend's data and rules. Every rule (a function of [`State`], in the files
//! below) is one step of a store-trait method, run under the store's one lock; it mirrors
//! the Lua script of the same name under `redis/scripts/` rule for rule, so the conformance
//! suite can hold both to one behaviour.
//!
//! # Layout
//! - this file: [`State`], the sweep, the maintained statistics (`figures.rs`).
//! - `session.rs`: one session record and its own rules (liveness, the grant cap).
//! - `sessions.rs`: the session rules; `ephemeral.rs`: ephemeral records and per-user maps;
//!   `events.rs`: the event log.

use std::collections::{BTreeMap, HashMap};

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;

use crate::ephemeral::{EphemeralKey, ms};
use crate::model::*;

use super::figures::{Contribution, Figures};

mod ephemeral;
mod events;
mod restore;
mod session;
mod sessions;
#[cfg(test)]
mod tests;

use session::Session;

/// The entries of one per-user map: field → (expiry (ms), value).
type MapEntries = BTreeMap<String, (i64, Vec<u8>)>;

/// Everything the memory store holds.
/// How long a tombstone outlives its session's deadline (as `bury` in `prelude.lua`).
pub(super) const GONE_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Default)]
pub(super) struct State {
    /// Durable per-user token versions (never swept, like the Redis `ver` key).
    versions: HashMap<UserId, u64>,
    /// Sessions per user (the user's session index is the inner map's key set).
    sessions: HashMap<UserId, HashMap<SessionId, Session>>,
    /// Sessions the store revoked on its own (theft, RFC 7009 by proof, eviction) and until
    /// when they would have lived: a restore of one of them is refused meanwhile (the Redis
    /// `:gone:` keys; see `SessionRestore`).
    gone: HashMap<(UserId, SessionId), Timestamp>,
    /// Denylist-mode revoked jtis and the instant they may be forgotten (the token's `exp`).
    denied: HashMap<(UserId, Jti), Timestamp>,
    /// Recent security events per user, oldest first (ordered by `at`, then by the stored
    /// form, like the Redis zset).
    events: HashMap<UserId, Vec<SecurityEventRecord>>,
    /// Access tokens revoked so far (monotonic, see [`StoreStats::revoked_tokens`]).
    revoked_tokens: u64,
    /// Ephemeral records: expiry (ms) and payload (a value, a decimal attempt count, or
    /// nothing for a throttle, whose expiry is its TAT) — the Redis `:e:` keys.
    ephemeral: HashMap<EphemeralKey, (i64, Vec<u8>)>,
    /// Per-user maps: field → (expiry (ms), value) — the Redis `:m:` hashes.
    maps: HashMap<(UserId, String), MapEntries>,
    /// Calls since creation; drives the periodic sweep.
    pub(super) calls: u64,
    /// Statistics kept up to date by [`State::reindex`] and the sweep (see `figures.rs`).
    figures: Figures,
}

impl State {
    /// Drops dead sessions, expired grants, expired denylist entries and empty users.
    pub(in crate::memory) fn sweep(&mut self, now: Timestamp) {
        let versions = &self.versions;
        self.sessions.retain(|user, sessions| {
            let ver = versions.get(user).copied();
            sessions.retain(|_, s| s.alive(now, ver));
            for s in sessions.values_mut() {
                s.access.retain(|_, (exp, _)| *exp > now);
            }
            !sessions.is_empty()
        });
        self.denied.retain(|_, exp| *exp > now);
        self.gone.retain(|_, until| *until > now);
        let oldest = event_horizon(now);
        self.events.retain(|_, events| {
            events.retain(|e| e.at > oldest);
            !events.is_empty()
        });
        let now_ms = ms(now);
        self.ephemeral.retain(|_, (exp, _)| *exp > now_ms);
        self.maps.retain(|_, entries| {
            entries.retain(|_, (exp, _)| *exp > now_ms);
            !entries.is_empty()
        });
        self.figures = Figures::default();
        let users: Vec<UserId> = self.sessions.keys().copied().collect();
        for user in users {
            self.reindex(user);
        }
        self.figures.stored_events = self.events.values().map(Vec::len).sum();
    }

    /// Brings the statistics up to date with `user`'s sessions and version; every step that
    /// changes either calls it (see `figures.rs`). O(that user's sessions and grants).
    pub(in crate::memory) fn reindex(&mut self, user: UserId) {
        let ver = self.versions.get(&user).copied();
        let contribution = match self.sessions.get(&user) {
            None => Contribution::default(),
            Some(sessions) => Contribution {
                sessions: sessions
                    .values()
                    .filter(|s| matches!(ver, Some(v) if s.generation >= v))
                    .map(|s| {
                        let deadline = s.deadline();
                        let grants = s.access.values().map(|(exp, _)| (*exp).min(deadline));
                        (deadline, grants.collect())
                    })
                    .collect(),
                stored: sessions.len(),
            },
        };
        self.figures.replace(user, contribution);
    }

    pub(in crate::memory) fn stored_ephemeral(&self) -> usize {
        self.ephemeral.len() + self.maps.values().map(BTreeMap::len).sum::<usize>()
    }

    pub(in crate::memory) fn stored_sessions(&self) -> usize {
        self.figures.stored_sessions()
    }

    /// O(entries expired since the last sweep): read from the maintained figures.
    pub(in crate::memory) fn stats(&self, now: Timestamp) -> StoreStats {
        let count = |n: usize| n.to_string();
        let backend = BTreeMap::from([
            ("users".to_owned(), count(self.versions.len())),
            (
                "stored_sessions".to_owned(),
                count(self.figures.stored_sessions()),
            ),
            ("denied_tokens".to_owned(), count(self.denied.len())),
            (
                "stored_events".to_owned(),
                count(self.figures.stored_events),
            ),
        ]);
        StoreStats {
            sessions_active: self.figures.sessions_active(now),
            access_tokens_active: self.figures.access_tokens_active(now),
            revoked_tokens: self.revoked_tokens,
            backend,
        }
    }

    /// The statistics counted by walking everything (what the figures must always equal).
    #[cfg(test)]
    pub(in crate::memory) fn stats_walked(&self, now: Timestamp) -> StoreStats {
        let mut sessions_active = 0u64;
        let mut access_tokens_active = 0u64;
        for (user, sessions) in &self.sessions {
            let ver = self.versions.get(user).copied();
            for s in sessions.values().filter(|s| s.alive(now, ver)) {
                sessions_active += 1;
                access_tokens_active += s.live_grants(now);
            }
        }
        let count = |n: usize| n.to_string();
        let backend = BTreeMap::from([
            ("users".to_owned(), count(self.versions.len())),
            (
                "stored_sessions".to_owned(),
                count(self.sessions.values().map(HashMap::len).sum()),
            ),
            ("denied_tokens".to_owned(), count(self.denied.len())),
            (
                "stored_events".to_owned(),
                count(self.events.values().map(Vec::len).sum()),
            ),
        ]);
        StoreStats {
            sessions_active,
            access_tokens_active,
            revoked_tokens: self.revoked_tokens,
            backend,
        }
    }
}

/// Events at or before this instant are past [`EVENT_RETENTION`] at `now`.
fn event_horizon(now: Timestamp) -> Timestamp {
    now.minus(EVENT_RETENTION)
}

/// The order events are kept in (oldest first), the same as the Redis zset's: by time, then
/// by stored form.
fn event_order(e: &SecurityEventRecord) -> (Timestamp, Vec<u8>) {
    (e.at, event_member(e))
}
