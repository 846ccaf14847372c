//! The near-cache: which tokens were recently seen live, and the rules that keep it from
//! ever letting a revoked token in.
//!
//! # Invariants
//! 1. **Only while subscribed.** Lookups and inserts happen only while the revocation
//!    subscription is confirmed up (`live`). When it drops, the cache is emptied and bypassed
//!    (every request goes to Redis) until a new subscription is confirmed — so a notice that
//!    was never received cannot leave a stale entry behind.
//! 2. **No insert across a notice.** Every notice and every change of `live` bumps `epoch`
//!    *before* removing entries. A request takes a ticket (the epoch, if live) *before* asking
//!    Redis and inserts only if the epoch is unchanged; it re-reads the epoch after inserting
//!    and removes its entry if it moved meanwhile. So an answer that a concurrent revocation
//!    may have overtaken is never kept: either the notice's removal runs after the insert, or
//!    the inserter sees the bumped epoch.
//! 3. **Entries expire by themselves** at `min(exp, inserted + max_age)` (quick_cache has no
//!    TTL: the deadline is kept in the value and checked on every hit). `max_age` bounds what
//!    no notice announces (idle or absolute session expiry).
//! 4. An entry is keyed by `jti` and also records `sub`, `sid` and `ver`; a hit requires all
//!    to match the verified token (a `jti` is only trusted after the signature check anyway).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::Cache;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use tessera_store::redis::Revocation;

#[derive(Clone, Copy, Debug)]
struct Entry {
    user: UserId,
    session: SessionId,
    ver: u64,
    /// Trusted until this instant (ms since the epoch).
    until_ms: i64,
}

/// A permission to insert, taken before the Redis check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket(u64);

pub(crate) struct NearCache {
    entries: Option<Cache<Jti, Entry>>,
    live: AtomicBool,
    epoch: AtomicU64,
    established: AtomicU64,
    max_age: Duration,
}

impl NearCache {
    /// A cache of at most `capacity` tokens (`0`: disabled), not live until
    /// [`set_live`](Self::set_live).
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            entries: (capacity > 0).then(|| Cache::new(capacity)),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            established: AtomicU64::new(0),
            max_age,
        }
    }

    /// Whether the subscription is confirmed up (the cache is in use).
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Number of entries (expired ones included until evicted or looked up).
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// True when `claims` was seen live and nothing since says otherwise.
    pub(crate) fn hit(&self, claims: &AccessClaims, now: Timestamp) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        if !self.is_live() {
            return false;
        }
        match entries.get(&claims.jti) {
            Some(e) if now.as_millis() < e.until_ms => {
                e.user == claims.sub && e.session == claims.sid && e.ver == claims.ver
            }
            Some(_) => {
                entries.remove(&claims.jti);
                false
            }
            None => false,
        }
    }

    /// Taken before asking Redis; `None` when nothing may be inserted (cache off or not live).
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        self.entries.as_ref()?;
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.is_live().then_some(Ticket(epoch))
    }

    /// Remembers `claims` as live, if no notice or state change happened since `ticket`.
    pub(crate) fn remember(&self, ticket: Ticket, claims: &AccessClaims, now: Timestamp) {
        let Some(entries) = &self.entries else {
            return;
        };
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
        let until_ms = now
            .plus(self.max_age)
            .as_millis()
            .min(claims.exp.saturating_mul(1000));
        entries.insert(
            claims.jti,
            Entry {
                user: claims.sub,
                session: claims.sid,
                ver: claims.ver,
                until_ms,
            },
        );
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            entries.remove(&claims.jti);
        }
    }

    /// Applies a revocation notice.
    pub(crate) fn invalidate(&self, r: Revocation) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let Some(entries) = &self.entries else {
            return;
        };
        match r {
            Revocation::Token(_, jti) => {
                entries.remove(&jti);
            }
            Revocation::Session(user, session) => {
                entries.retain(|_, e| !(e.user == user && e.session == session));
            }
            Revocation::User(user) => entries.retain(|_, e| e.user != user),
        }
    }

    /// Empties the cache (a notice that could not be understood).
    pub(crate) fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// The subscription is confirmed: the cache may be used from now on.
    pub(crate) fn set_live(&self) {
        self.flush();
        self.live.store(true, Ordering::SeqCst);
        self.established.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times a subscription was confirmed.
    pub(crate) fn subscriptions(&self) -> u64 {
        self.established.load(Ordering::SeqCst)
    }

    /// The subscription dropped (or is not up yet): stop using the cache and empty it.
    pub(crate) fn set_down(&self) {
        self.live.store(false, Ordering::SeqCst);
        self.flush();
    }
}
