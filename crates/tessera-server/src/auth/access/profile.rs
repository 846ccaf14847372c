//! The account view of `GET /v1/me`, and the short-lived cache in front of it.
//!
//! `/v1/me` is the hottest authenticated endpoint, and its account part comes from SQL (the
//! user row and whether a second factor is enrolled): two queries that cost more than the
//! token check and the revocation round trip together. Most of it never changes (`email` and
//! `name` are fixed at registration); only `mfa_enabled` does, and only through this
//! process's auth services or another instance's. So:
//!
//! - an entry answers for at most [`MAX_AGE`] after it was read from SQL. That bounds what
//!   another instance (or the operator CLI) can change unseen: its change shows here within
//!   [`MAX_AGE`];
//! - a change made through this process ([`Profiles::forget`], called by MFA confirmation
//!   and removal after the SQL write) shows at once: the entry is dropped, and a read that
//!   started before the change can no longer store its older answer (a generation counter,
//!   bumped by every `forget`, must be unchanged between the ticket a reader takes before
//!   its SQL read and its insert);
//! - the revocation check is not part of this: `/v1/me` authenticates through the store on
//!   every request, so a revoked or banned caller is refused whatever is cached here;
//! - bounded (quick_cache, [`CAPACITY`] users).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::Cache;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::AccessService;
use crate::auth::error::AuthError;

/// How long an entry answers after it was read from SQL.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Most users remembered at once.
pub const CAPACITY: usize = 50_000;

/// What `/v1/me` shows of the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Whether a confirmed second factor is enrolled.
    pub mfa_enabled: bool,
}

struct Entry {
    profile: Arc<Profile>,
    read_at: Timestamp,
}

/// Taken before reading a profile from SQL; [`Profiles::insert`] stores the answer only if no
/// [`Profiles::forget`] ran since.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

/// The profile cache (see the module docs).
pub struct Profiles {
    entries: Cache<UserId, Arc<Entry>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiles")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl Default for Profiles {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

impl Profiles {
    /// A cache of at most `capacity` users (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            generation: AtomicU64::new(0),
        }
    }

    /// The cached profile of `user`, if it was read from SQL less than [`MAX_AGE`] before
    /// `now` (and not after `now`: a clock that went back does not extend an entry).
    pub fn get(&self, user: UserId, now: Timestamp) -> Option<Arc<Profile>> {
        let e = self.entries.get(&user)?;
        if now < e.read_at || now >= e.read_at.plus(MAX_AGE) {
            self.entries.remove(&user);
            return None;
        }
        Some(e.profile.clone())
    }

    /// Take this before reading a profile from SQL.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Stores `profile`, read from SQL at `read_at` after taking `ticket`, unless a
    /// [`forget`](Self::forget) ran since the ticket (its change may postdate the read).
    pub fn insert(&self, ticket: Ticket, user: UserId, profile: Arc<Profile>, read_at: Timestamp) {
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        self.entries
            .insert(user, Arc::new(Entry { profile, read_at }));
        // A forget that ran between the check and the insert may have missed this entry.
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            self.entries.remove(&user);
        }
    }

    /// Drops what is cached for `user`. Call after the SQL change is committed.
    pub fn forget(&self, user: UserId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(&user);
    }
}

impl AccessService {
    /// The account view of `user` for `/v1/me`: from the cache, or read from SQL (the user
    /// row and the MFA flag) and cached. `None` when the account does not exist.
    pub async fn profile(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Option<Arc<Profile>>, AuthError> {
        let profiles = &self.core.profiles;
        if let Some(p) = profiles.get(user, now) {
            return Ok(Some(p));
        }
        let ticket = profiles.ticket();
        let Some(row) = self.core.users.by_id(user).await? else {
            return Ok(None);
        };
        let profile = Arc::new(Profile {
            email: row.email,
            name: row.name,
            mfa_enabled: self.core.mfa.enabled(user).await?,
        });
        profiles.insert(ticket, user, profile.clone(), now);
        Ok(Some(profile))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn profile(mfa: bool) -> Arc<Profile> {
        Arc::new(Profile {
            email: "a@example.com".into(),
            name: None,
            mfa_enabled: mfa,
        })
    }

    #[test]
    fn an_entry_answers_for_max_age_only() {
        let cache = Profiles::default();
        let user = UserId::new();
        let t0 = Timestamp::from_millis(1_000_000);
        cache.insert(cache.ticket(), user, profile(false), t0);
        assert_eq!(cache.get(user, t0), Some(profile(false)));
        let last = t0.plus(MAX_AGE).minus(Duration::from_millis(1));
        assert_eq!(cache.get(user, last), Some(profile(false)));
        assert_eq!(cache.get(user, t0.plus(MAX_AGE)), None);
        // Gone, not just hidden: an earlier time does not bring it back.
        assert_eq!(cache.get(user, t0), None);
    }

    #[test]
    fn a_clock_that_went_back_misses() {
        let cache = Profiles::default();
        let user = UserId::new();
        let t0 = Timestamp::from_millis(1_000_000);
        cache.insert(cache.ticket(), user, profile(false), t0);
        assert_eq!(cache.get(user, t0.minus(Duration::from_millis(1))), None);
    }

    #[test]
    fn forget_drops_the_entry_and_only_that_users() {
        let cache = Profiles::default();
        let (a, b) = (UserId::new(), UserId::new());
        let t0 = Timestamp::from_millis(1_000_000);
        cache.insert(cache.ticket(), a, profile(false), t0);
        cache.insert(cache.ticket(), b, profile(false), t0);
        cache.forget(a);
        assert_eq!(cache.get(a, t0), None);
        assert_eq!(cache.get(b, t0), Some(profile(false)));
    }

    #[test]
    fn a_read_that_a_change_overtook_is_not_stored() {
        let cache = Profiles::default();
        let user = UserId::new();
        let t0 = Timestamp::from_millis(1_000_000);
        // A reader takes its ticket and reads the old state from SQL...
        let ticket = cache.ticket();
        // ...meanwhile MFA is confirmed and the cache told...
        cache.forget(user);
        // ...then the reader tries to store what it read: refused.
        cache.insert(ticket, user, profile(false), t0);
        assert_eq!(cache.get(user, t0), None);
        // A read that starts after the change is stored.
        cache.insert(cache.ticket(), user, profile(true), t0);
        assert_eq!(cache.get(user, t0), Some(profile(true)));
    }
}
