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
//! - once an entry is [`REFRESH_AFTER`] old, the first request that finds it still gets it,
//!   and reads it again from SQL in the background; so a user whose requests keep coming
//!   never waits for SQL, and the bound above is unchanged (an entry still never answers
//!   past [`MAX_AGE`]). Without this, every active user's entry expired once a second and one
//!   request of theirs waited for two SQL reads: at 18,500 `/v1/me` a second over 64 users
//!   that was enough to put the p99 at 3.8 ms against 0.55 ms for a hello at the same rate
//!   (bench/RESULTS.md, "Performance round two");
//! - a change made through this process ([`Profiles::forget`], called by MFA confirmation
//!   and removal after the SQL write) shows at once: the entry is dropped, and a read that
//!   started before the change can no longer store its older answer (a generation counter,
//!   bumped by every `forget`, must be unchanged between the ticket a reader takes before
//!   its SQL read and its insert);
//! - the revocation check is not part of this: `/v1/me` authenticates through the store on
//!   every request, so a revoked or banned caller is refused whatever is cached here;
//! - bounded (quick_cache, [`CAPACITY`] users).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::Cache;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::AccessService;
use crate::auth::error::AuthError;

/// How long an entry answers after it was read from SQL.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// From this age on, an entry is read again in the background by the first request that
/// finds it (see the module docs). Less than [`MAX_AGE`] by more than a SQL read takes, and
/// late enough that an active user costs about one read a second, not two.
pub const REFRESH_AFTER: Duration = Duration::from_millis(750);

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
    /// A request has been told to read this entry again ([`Cached::Refresh`]): one per entry.
    refresh_claimed: AtomicBool,
}

/// What the cache holds for a user at a given time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// Nothing that may answer: read from SQL before answering.
    Missing,
    /// An entry that answers.
    Hit(Arc<Profile>),
    /// An entry that answers and is [`REFRESH_AFTER`] old: this caller, the first to see it
    /// so, reads it again from SQL in the background.
    Refresh(Arc<Profile>),
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

    /// The cached profile of `user`: it answers if it was read from SQL less than
    /// [`MAX_AGE`] before `now` (and not after `now`: a clock that went back does not extend
    /// an entry); past [`REFRESH_AFTER`], the first caller is told to refresh it.
    pub fn get(&self, user: UserId, now: Timestamp) -> Cached {
        let Some(e) = self.entries.get(&user) else {
            return Cached::Missing;
        };
        if now < e.read_at || now >= e.read_at.plus(MAX_AGE) {
            self.entries.remove(&user);
            return Cached::Missing;
        }
        if now >= e.read_at.plus(REFRESH_AFTER) && !e.refresh_claimed.swap(true, Ordering::AcqRel) {
            return Cached::Refresh(e.profile.clone());
        }
        Cached::Hit(e.profile.clone())
    }

    /// Take this before reading a profile from SQL.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Stores `profile`, read from SQL at `read_at` after taking `ticket`, unless a
    /// [`forget`](Self::forget) ran since the ticket (its change may postdate the read), or
    /// the entry already there was read later (a slow background refresh finishing after a
    /// newer read must not show older data again).
    pub fn insert(&self, ticket: Ticket, user: UserId, profile: Arc<Profile>, read_at: Timestamp) {
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if self.entries.get(&user).is_some_and(|e| e.read_at > read_at) {
            return;
        }
        let entry = Entry {
            profile,
            read_at,
            refresh_claimed: AtomicBool::new(false),
        };
        self.entries.insert(user, Arc::new(entry));
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
        match self.core.profiles.get(user, now) {
            Cached::Hit(p) => Ok(Some(p)),
            Cached::Refresh(p) => {
                let this = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = this.read_profile(user, now).await {
                        // The entry answers until MAX_AGE; then a request reads it itself.
                        tracing::debug!(error = %e, %user, "background profile refresh failed");
                    }
                });
                Ok(Some(p))
            }
            Cached::Missing => self.read_profile(user, now).await,
        }
    }

    /// Reads `user`'s account view from SQL and caches it as read at `now` (a time taken
    /// before the read, so the entry never outlives what it saw).
    async fn read_profile(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Option<Arc<Profile>>, AuthError> {
        let profiles = &self.core.profiles;
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
        assert_eq!(cache.get(user, t0), Cached::Hit(profile(false)));
        let last = t0.plus(MAX_AGE).minus(Duration::from_millis(1));
        assert_eq!(cache.get(user, last), Cached::Refresh(profile(false)));
        assert_eq!(cache.get(user, last), Cached::Hit(profile(false)));
        assert_eq!(cache.get(user, t0.plus(MAX_AGE)), Cached::Missing);
        // Gone, not just hidden: an earlier time does not bring it back.
        assert_eq!(cache.get(user, t0), Cached::Missing);
    }

    #[test]
    fn a_clock_that_went_back_misses() {
        let cache = Profiles::default();
        let user = UserId::new();
        let t0 = Timestamp::from_millis(1_000_000);
        cache.insert(cache.ticket(), user, profile(false), t0);
        assert_eq!(
            cache.get(user, t0.minus(Duration::from_millis(1))),
            Cached::Missing
        );
    }

    #[test]
    fn forget_drops_the_entry_and_only_that_users() {
        let cache = Profiles::default();
        let (a, b) = (UserId::new(), UserId::new());
        let t0 = Timestamp::from_millis(1_000_000);
        cache.insert(cache.ticket(), a, profile(false), t0);
        cache.insert(cache.ticket(), b, profile(false), t0);
        cache.forget(a);
        assert_eq!(cache.get(a, t0), Cached::Missing);
        assert_eq!(cache.get(b, t0), Cached::Hit(profile(false)));
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
        assert_eq!(cache.get(user, t0), Cached::Missing);
        // A read that starts after the change is stored.
        cache.insert(cache.ticket(), user, profile(true), t0);
        assert_eq!(cache.get(user, t0), Cached::Hit(profile(true)));
    }

    #[test]
    fn one_caller_refreshes_an_ageing_entry_and_a_refreshed_entry_starts_over() {
        let cache = Profiles::default();
        let user = UserId::new();
        let t0 = Timestamp::from_millis(1_000_000);
        cache.insert(cache.ticket(), user, profile(false), t0);
        let young = t0.plus(REFRESH_AFTER).minus(Duration::from_millis(1));
        assert_eq!(cache.get(user, young), Cached::Hit(profile(false)));
        let ageing = t0.plus(REFRESH_AFTER);
        assert_eq!(cache.get(user, ageing), Cached::Refresh(profile(false)));
        // Every later caller gets the entry without being asked to read it again.
        for _ in 0..3 {
            assert_eq!(cache.get(user, ageing), Cached::Hit(profile(false)));
        }
        // The refresh stores what it read as of the time it was asked for.
        cache.insert(cache.ticket(), user, profile(true), ageing);
        assert_eq!(cache.get(user, ageing), Cached::Hit(profile(true)));
        assert_eq!(
            cache.get(user, ageing.plus(REFRESH_AFTER)),
            Cached::Refresh(profile(true))
        );
        // A change through this process still drops it at once, refresh or not.
        cache.forget(user);
        assert_eq!(cache.get(user, ageing), Cached::Missing);
    }

    #[test]
    fn an_older_read_never_replaces_a_newer_one() {
        let cache = Profiles::default();
        let user = UserId::new();
        let t0 = Timestamp::from_millis(1_000_000);
        let later = t0.plus(Duration::from_millis(300));
        // A slow background refresh asked at t0 finishes after a read made at `later`.
        let slow = cache.ticket();
        cache.insert(cache.ticket(), user, profile(true), later);
        cache.insert(slow, user, profile(false), t0);
        assert_eq!(cache.get(user, later), Cached::Hit(profile(true)));
    }
}
