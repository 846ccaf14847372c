//! The memory backend's data and rules. Every function here is one atomic step of the
//! [`StateStore`](crate::StateStore) contract; it mirrors the Lua script of the same name
//! under `redis/scripts/` rule for rule, so the conformance suite can hold both to one
//! behaviour.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;

use crate::ephemeral::{Attempts, EphemeralKey, Gcra, Rate, Throttle, ms};
use crate::error::StoreError;
use crate::model::*;
use crate::stored::StoredHash;

use super::figures::{Contribution, Figures};

/// The entries of one per-user map: field → (expiry (ms), value).
type MapEntries = BTreeMap<String, (i64, Vec<u8>)>;

/// Everything the memory store holds.
#[derive(Default)]
pub(super) struct State {
    /// Durable per-user token versions (never swept, like the Redis `ver` key).
    versions: HashMap<UserId, u64>,
    /// Sessions per user (the user's session index is the inner map's key set).
    sessions: HashMap<UserId, HashMap<SessionId, Session>>,
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

/// One session record and its refresh family.
struct Session {
    created_at: Timestamp,
    /// Sign-in or last rotation (so also the time of the last rotation once rotated).
    last_seen: Timestamp,
    idle: Duration,
    absolute_expiry: Timestamp,
    /// The token version when the session was opened: the session dies when the user's
    /// version moves past it (`revoke_user`).
    generation: u64,
    current: StoredHash,
    previous: Option<StoredHash>,
    seed: Option<SuccessorSeed>,
    /// Refresh generation of the current token, set by each rotation (Redis field `n`; `None`
    /// until the first rotation: nothing is older than a sign-in's generation 0).
    refresh_generation: Option<u32>,
    attributes: String,
    /// Hash of the client fingerprint the session is bound to.
    binding: Option<StoredHash>,
    /// Allowlisted access tokens of this session: their `exp` and registration number (the
    /// order of the Redis hash's fields, which breaks ties of `exp` in the cap).
    access: HashMap<Jti, (Timestamp, u64)>,
    /// Grants registered so far (the next registration number).
    registered: u64,
}

impl Session {
    /// `min(last_seen + idle, absolute_expiry)`.
    fn deadline(&self) -> Timestamp {
        self.last_seen.plus(self.idle).min(self.absolute_expiry)
    }

    /// Alive at `now` under the user's current token version `ver`.
    fn alive(&self, now: Timestamp, ver: Option<u64>) -> bool {
        matches!(ver, Some(v) if self.generation >= v) && now < self.deadline()
    }

    /// Drops expired grants, registers `grant` unless it has already expired (a jti already
    /// there keeps its place, as an updated Redis hash field does), then revokes the oldest
    /// other grants (smallest `exp`, ties: registered first) beyond [`MAX_LIVE_GRANTS`] —
    /// `register_access` in `prelude.lua`. Returns how many were revoked.
    fn register(&mut self, grant: AccessGrant, now: Timestamp) -> u64 {
        self.access.retain(|_, (exp, _)| *exp > now);
        let new = grant.expires_at > now;
        if new {
            let seq = self.registered;
            self.registered += 1;
            self.access
                .entry(grant.jti)
                .and_modify(|(exp, _)| *exp = grant.expires_at)
                .or_insert((grant.expires_at, seq));
        }
        let excess = self.access.len().saturating_sub(MAX_LIVE_GRANTS);
        if excess == 0 {
            return 0;
        }
        let mut others: Vec<(Timestamp, u64, Jti)> = self
            .access
            .iter()
            .filter(|(jti, _)| !(new && **jti == grant.jti))
            .map(|(jti, (exp, seq))| (*exp, *seq, *jti))
            .collect();
        others.sort();
        for (_, _, jti) in others.iter().take(excess) {
            self.access.remove(jti);
        }
        excess as u64
    }

    /// Number of grants still unexpired at `now`.
    fn live_grants(&self, now: Timestamp) -> u64 {
        self.access.values().filter(|(exp, _)| *exp > now).count() as u64
    }

    fn record(&self, id: SessionId) -> SessionRecord {
        SessionRecord {
            session: id,
            created_at: self.created_at,
            last_seen_at: self.last_seen,
            expires_at: self.deadline(),
            absolute_expiry: self.absolute_expiry,
            attributes: self.attributes.clone(),
        }
    }
}

impl State {
    /// Drops dead sessions, expired grants, expired denylist entries and empty users.
    pub(super) fn sweep(&mut self, now: Timestamp) {
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
    pub(super) fn reindex(&mut self, user: UserId) {
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

    pub(super) fn stored_ephemeral(&self) -> usize {
        self.ephemeral.len() + self.maps.values().map(BTreeMap::len).sum::<usize>()
    }

    pub(super) fn stored_sessions(&self) -> usize {
        self.figures.stored_sessions()
    }

    /// The live session `id` of `user`, if any.
    fn live_session(
        &mut self,
        user: UserId,
        id: SessionId,
        now: Timestamp,
    ) -> Option<&mut Session> {
        let ver = self.versions.get(&user).copied();
        self.sessions
            .get_mut(&user)?
            .get_mut(&id)
            .filter(|s| s.alive(now, ver))
    }

    fn remove_session(&mut self, user: UserId, id: SessionId) -> Option<Session> {
        let sessions = self.sessions.get_mut(&user)?;
        let removed = sessions.remove(&id);
        if sessions.is_empty() {
            self.sessions.remove(&user);
        }
        removed
    }

    pub(super) fn create_session(&mut self, new: NewSession, now: Timestamp) -> CreatedSession {
        let ver = self.versions.entry(new.user).or_insert(0);
        *ver = (*ver).max(new.token_version);
        let ver = *ver;
        let mut session = Session {
            created_at: now,
            last_seen: now,
            idle: new.limits.idle_timeout,
            absolute_expiry: new.limits.absolute_expiry,
            generation: ver,
            current: StoredHash::of(&new.refresh),
            previous: None,
            seed: None,
            refresh_generation: None,
            attributes: new.attributes,
            binding: new.binding.as_ref().map(StoredHash::of),
            access: HashMap::new(),
            registered: 0,
        };
        self.remove_session(new.user, new.session);
        if session.deadline() <= now {
            // Dead at birth: nothing to keep.
            return CreatedSession {
                token_version: ver,
                evicted: Vec::new(),
            };
        }
        // A new session holds one grant: nothing to revoke.
        session.register(new.access, now);
        let sessions = self.sessions.entry(new.user).or_default();
        sessions.retain(|_, s| s.alive(now, Some(ver)));
        sessions.insert(new.session, session);

        let mut evicted = Vec::new();
        if let Some(max) = new.max_sessions {
            let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
            let mut others: Vec<(Timestamp, SessionId)> = sessions
                .iter()
                .filter(|(id, _)| **id != new.session)
                .map(|(id, s)| (s.created_at, *id))
                .collect();
            others.sort();
            let excess = (others.len() + 1).saturating_sub(max);
            for (_, id) in others.into_iter().take(excess) {
                if let Some(gone) = sessions.remove(&id) {
                    self.revoked_tokens += gone.live_grants(now);
                }
                evicted.push(id);
            }
        }
        CreatedSession {
            token_version: ver,
            evicted,
        }
    }

    pub(super) fn rotate_refresh(&mut self, r: Rotation, now: Timestamp) -> RotationOutcome {
        let Some(ver) = self.versions.get(&r.user).copied() else {
            return RotationOutcome::Invalid;
        };
        let Some(s) = self.live_session(r.user, r.session, now) else {
            return RotationOutcome::Invalid;
        };
        if let Some(bound) = s.binding
            && !r.binding.is_some_and(|b| StoredHash::of(&b).ct_eq(&bound))
        {
            return RotationOutcome::Invalid;
        }
        let presented = StoredHash::of(&r.presented);
        if s.current.ct_eq(&presented) {
            if now.plus(r.idle_timeout).min(s.absolute_expiry) <= now {
                return RotationOutcome::Invalid;
            }
            s.previous = Some(s.current);
            s.current = StoredHash::of(&r.successor);
            s.seed = Some(r.seed);
            s.refresh_generation = Some(r.successor_generation);
            s.last_seen = now;
            s.idle = r.idle_timeout;
            let revoked = s.register(r.access, now);
            let out = RotationOutcome::Rotated {
                token_version: ver,
                session_expires_at: s.deadline(),
                attributes: s.attributes.clone(),
            };
            self.revoked_tokens += revoked;
            return out;
        }
        if s.previous.is_some_and(|p| p.ct_eq(&presented)) {
            let in_grace = !r.grace.is_zero() && s.last_seen.plus(r.grace) >= now;
            if let (true, Some(seed)) = (in_grace, s.seed) {
                let revoked = s.register(r.access, now);
                let out = RotationOutcome::GraceReplay {
                    seed,
                    token_version: ver,
                    session_expires_at: s.deadline(),
                    attributes: s.attributes.clone(),
                };
                self.revoked_tokens += revoked;
                return out;
            }
            return self.revoke_for_reuse(r.user, r.session, now);
        }
        // Neither current nor previous: an older generation (MAC-verified by the server) is a
        // replay of a token this family has moved past.
        if let (Some(presented), Some(current)) = (r.generation, s.refresh_generation)
            && presented < current
        {
            return self.revoke_for_reuse(r.user, r.session, now);
        }
        RotationOutcome::Invalid
    }

    /// Theft: the session goes with all its access tokens.
    fn revoke_for_reuse(&mut self, user: UserId, id: SessionId, now: Timestamp) -> RotationOutcome {
        if let Some(gone) = self.remove_session(user, id) {
            self.revoked_tokens += gone.live_grants(now);
        }
        RotationOutcome::Reused
    }

    pub(super) fn check_access(
        &mut self,
        c: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> AccessStatus {
        let ver = self.versions.get(&c.user).copied();
        let denied = self
            .denied
            .get(&(c.user, c.jti))
            .is_some_and(|exp| *exp > now);
        let Some(s) = self.live_session(c.user, c.session, now) else {
            return AccessStatus::Revoked;
        };
        let version_ok = ver.is_some_and(|v| c.token_version >= v);
        let jti_ok = match mode {
            RevocationMode::Allowlist => s.access.get(&c.jti).is_some_and(|(exp, _)| *exp > now),
            RevocationMode::Denylist => !denied,
        };
        if version_ok && jti_ok {
            AccessStatus::Active
        } else {
            AccessStatus::Revoked
        }
    }

    pub(super) fn revoke_session(&mut self, user: UserId, id: SessionId, now: Timestamp) -> bool {
        let was_alive = self.live_session(user, id, now).is_some();
        if let Some(gone) = self.remove_session(user, id)
            && was_alive
        {
            self.revoked_tokens += gone.live_grants(now);
        }
        was_alive
    }

    pub(super) fn revoke_session_by_refresh(
        &mut self,
        user: UserId,
        id: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> bool {
        let presented = StoredHash::of(refresh);
        let held = self.live_session(user, id, now).is_some_and(|s| {
            s.current.ct_eq(&presented) || s.previous.is_some_and(|p| p.ct_eq(&presented))
        });
        held && self.revoke_session(user, id, now)
    }

    pub(super) fn revoke_user(&mut self, user: UserId, now: Timestamp) -> u64 {
        let old = self.versions.get(&user).copied();
        if let Some(gone) = self.sessions.remove(&user) {
            self.revoked_tokens += gone
                .values()
                .filter(|s| s.alive(now, old))
                .map(|s| s.live_grants(now))
                .sum::<u64>();
        }
        let ver = self.versions.entry(user).or_insert(0);
        *ver = ver.saturating_add(1);
        *ver
    }

    /// Every session of `user` but `keep`, under the one lock (`revoke_user_except.lua`).
    pub(super) fn revoke_user_except(
        &mut self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> u64 {
        let others: Vec<SessionId> = self
            .sessions
            .get(&user)
            .map(|m| m.keys().filter(|id| **id != keep).copied().collect())
            .unwrap_or_default();
        others
            .into_iter()
            .map(|id| u64::from(self.revoke_session(user, id, now)))
            .sum()
    }

    pub(super) fn revoke_access_token(
        &mut self,
        user: UserId,
        id: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> bool {
        let denied = self
            .denied
            .get(&(user, grant.jti))
            .is_some_and(|exp| *exp > now);
        let Some(s) = self.live_session(user, id, now) else {
            return false;
        };
        let allowed = s
            .access
            .remove(&grant.jti)
            .is_some_and(|(exp, _)| exp > now);
        let result = match mode {
            RevocationMode::Allowlist => allowed,
            RevocationMode::Denylist => {
                let live = grant.expires_at > now;
                if live {
                    self.denied.insert((user, grant.jti), grant.expires_at);
                }
                live && !denied
            }
        };
        if allowed || result {
            self.revoked_tokens += 1;
        }
        result
    }

    pub(super) fn list_sessions(&mut self, user: UserId, now: Timestamp) -> Vec<SessionRecord> {
        let ver = self.versions.get(&user).copied();
        let Some(sessions) = self.sessions.get_mut(&user) else {
            return Vec::new();
        };
        sessions.retain(|_, s| s.alive(now, ver));
        let mut out: Vec<SessionRecord> = sessions.iter().map(|(id, s)| s.record(*id)).collect();
        if sessions.is_empty() {
            self.sessions.remove(&user);
        }
        out.sort_by_key(|s| (s.created_at, s.session));
        out
    }

    pub(super) fn find_access_token(
        &mut self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Option<(SessionId, Timestamp)> {
        let ver = self.versions.get(&user).copied();
        self.sessions
            .get(&user)?
            .iter()
            .filter(|(_, s)| s.alive(now, ver))
            .find_map(|(id, s)| {
                s.access
                    .get(&jti)
                    .filter(|(exp, _)| *exp > now)
                    .map(|(exp, _)| (*id, *exp))
            })
    }

    /// O(entries expired since the last sweep): read from the maintained figures.
    pub(super) fn stats(&self, now: Timestamp) -> StoreStats {
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
    pub(super) fn stats_walked(&self, now: Timestamp) -> StoreStats {
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

    pub(super) fn push_event(&mut self, user: UserId, event: SecurityEventRecord, now: Timestamp) {
        let events = self.events.entry(user).or_default();
        let before = events.len();
        let key = event_order(&event);
        let pos = events.partition_point(|e| event_order(e) <= key);
        events.insert(pos, event);
        let oldest = event_horizon(now);
        events.retain(|e| e.at > oldest);
        let excess = events.len().saturating_sub(EVENT_MAX_PER_USER);
        events.drain(..excess);
        self.figures.stored_events = self.figures.stored_events - before + events.len();
        if events.is_empty() {
            self.events.remove(&user);
        }
    }

    pub(super) fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Vec<SecurityEventRecord> {
        let oldest = event_horizon(now);
        let Some(events) = self.events.get(&user) else {
            return Vec::new();
        };
        events
            .iter()
            .rev()
            .filter(|e| e.at > oldest && before.is_none_or(|b| e.at < b))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// Ephemeral records and per-user maps (mirroring `put_if_absent.lua`, `take.lua`,
/// `count_attempt.lua`, `throttle.lua`, `map_put.lua`, `map_clear.lua` and the plain
/// commands of the Redis backend). Keys and names are validated by the caller.
impl State {
    /// The live record under `key` at `now` (ms).
    fn live_record(&self, key: &EphemeralKey, now: i64) -> Option<&(i64, Vec<u8>)> {
        self.ephemeral.get(key).filter(|(exp, _)| *exp > now)
    }

    pub(super) fn put_if_absent(
        &mut self,
        key: &EphemeralKey,
        value: &[u8],
        exp: i64,
        now: i64,
    ) -> bool {
        if exp <= now || self.live_record(key, now).is_some() {
            return false;
        }
        self.ephemeral.insert(key.clone(), (exp, value.to_vec()));
        true
    }

    pub(super) fn get(&self, key: &EphemeralKey, now: i64) -> Option<Vec<u8>> {
        self.live_record(key, now).map(|(_, v)| v.clone())
    }

    pub(super) fn take(&mut self, key: &EphemeralKey, now: i64) -> Option<Vec<u8>> {
        self.ephemeral
            .remove(key)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v)
    }

    pub(super) fn delete(&mut self, key: &EphemeralKey) -> bool {
        self.ephemeral.remove(key).is_some()
    }

    pub(super) fn count_attempt(
        &mut self,
        key: &EphemeralKey,
        max: u32,
        exp: i64,
        now: i64,
    ) -> Result<Attempts, StoreError> {
        let (used, exp) = match self.live_record(key, now) {
            Some((live_exp, payload)) => {
                let n: u64 = std::str::from_utf8(payload)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| StoreError::Protocol("not an attempt counter".into()))?;
                (n.saturating_add(1), *live_exp)
            }
            None => (1, exp),
        };
        if exp > now {
            self.ephemeral
                .insert(key.clone(), (exp, used.to_string().into_bytes()));
        } else {
            self.ephemeral.remove(key);
        }
        Ok(Attempts {
            used: u32::try_from(used).unwrap_or(u32::MAX),
            max,
        })
    }

    pub(super) fn throttle(
        &mut self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: i64,
    ) -> Result<Throttle, StoreError> {
        let gcra = Gcra::new(rate)?;
        let tat = self.live_record(key, now).map(|(exp, _)| *exp);
        let (verdict, store) = gcra.step(tat, cost, now);
        if let Some(tat) = store {
            self.ephemeral.insert(key.clone(), (tat, Vec::new()));
        }
        Ok(verdict)
    }

    pub(super) fn refund(
        &mut self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let gcra = Gcra::new(rate)?;
        let tat = self.live_record(key, now).map(|(exp, _)| *exp);
        match gcra.refund(tat, cost, now) {
            None => Ok(false),
            Some(Some(tat)) => {
                self.ephemeral.insert(key.clone(), (tat, Vec::new()));
                Ok(true)
            }
            Some(None) => {
                self.ephemeral.remove(key);
                Ok(true)
            }
        }
    }

    pub(super) fn map_put(
        &mut self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        exp: i64,
        now: i64,
    ) {
        let id = (user, map.to_owned());
        let entries = self.maps.entry(id.clone()).or_default();
        entries.retain(|_, (e, _)| *e > now);
        if exp > now {
            entries.insert(field.to_owned(), (exp, value.to_vec()));
        } else {
            entries.remove(field);
        }
        if entries.is_empty() {
            self.maps.remove(&id);
        }
    }

    pub(super) fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: i64,
    ) -> Option<Vec<u8>> {
        self.maps
            .get(&(user, map.to_owned()))?
            .get(field)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: i64,
    ) -> Vec<(String, Vec<u8>, Timestamp)> {
        let Some(entries) = self.maps.get(&(user, map.to_owned())) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|(_, (exp, _))| *exp > now)
            .map(|(f, (exp, v))| (f.clone(), v.clone(), Timestamp::from_millis(*exp)))
            .collect()
    }

    pub(super) fn map_remove(&mut self, user: UserId, map: &str, field: &str) -> bool {
        let id = (user, map.to_owned());
        let Some(entries) = self.maps.get_mut(&id) else {
            return false;
        };
        let removed = entries.remove(field).is_some();
        if entries.is_empty() {
            self.maps.remove(&id);
        }
        removed
    }

    pub(super) fn map_clear(&mut self, user: UserId, map: &str) -> u64 {
        self.maps
            .remove(&(user, map.to_owned()))
            .map_or(0, |e| e.len() as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn grant(exp: i64) -> AccessGrant {
        AccessGrant {
            jti: Jti::new(),
            expires_at: t(exp),
        }
    }

    /// Maintained figures equal a full walk at several instants around `now`.
    fn check(state: &State, now: i64, step: &str) {
        for at in [
            now - 1000,
            now,
            now + 1,
            now + 299,
            now + 300,
            now + 901,
            now + 5000,
        ] {
            assert_eq!(
                state.stats(t(at)),
                state.stats_walked(t(at)),
                "{step} at {at}"
            );
        }
    }

    /// A session whose grant (300 s) outlives it when `lifetime` is shorter.
    fn new_session(
        user: UserId,
        now: i64,
        token_version: u64,
        lifetime: i64,
    ) -> (NewSession, TokenHash) {
        let refresh = TokenHash::of(SessionId::new().to_string().as_bytes());
        let new = NewSession {
            user,
            session: SessionId::new(),
            refresh,
            access: grant(now + 300),
            token_version,
            limits: SessionLimits {
                idle_timeout: Duration::from_secs(900),
                absolute_expiry: t(now + lifetime),
            },
            max_sessions: Some(3),
            attributes: String::new(),
            binding: None,
        };
        (new, refresh)
    }

    #[test]
    fn maintained_statistics_equal_a_full_walk_after_every_step() {
        let mut state = State::default();
        let users: Vec<UserId> = (0..3).map(|_| UserId::new()).collect();
        let mut held: Vec<(UserId, SessionId, TokenHash)> = Vec::new();
        let mut now = 1_000;
        for round in 0..6 {
            for (i, user) in users.iter().enumerate() {
                // Opening sessions (the cap of 3 evicts), one with a raised version.
                let version = u64::from(round == 3 && i == 0) * 50;
                let lifetime = if (round + i) % 2 == 0 { 200 } else { 3600 };
                let (new, refresh) = new_session(*user, now, version, lifetime);
                let id = new.session;
                state.create_session(new, t(now));
                state.reindex(*user);
                held.push((*user, id, refresh));
                check(&state, now, "create");
                state.push_event(
                    *user,
                    SecurityEventRecord {
                        id: format!("{round}-{i}"),
                        at: t(now),
                        payload: String::new(),
                    },
                    t(now),
                );
                check(&state, now, "event");
            }
            // Rotating every held session (dead ones are refused), with extra grants.
            for (user, id, refresh) in held.iter_mut() {
                let successor = TokenHash::of(Jti::new().to_string().as_bytes());
                state.rotate_refresh(
                    Rotation {
                        user: *user,
                        session: *id,
                        presented: *refresh,
                        generation: None,
                        successor,
                        successor_generation: 1,
                        seed: SuccessorSeed::random(),
                        access: grant(now + 120),
                        grace: Duration::from_secs(10),
                        idle_timeout: Duration::from_secs(600),
                        binding: None,
                    },
                    t(now),
                );
                state.reindex(*user);
                *refresh = successor;
                check(&state, now, "rotate");
            }
            if let Some((user, id, _)) = held.get(round) {
                let g = grant(now + 60);
                state.revoke_access_token(*user, *id, g, RevocationMode::Denylist, t(now));
                state.reindex(*user);
                check(&state, now, "revoke token");
                state.revoke_session(*user, *id, t(now));
                state.reindex(*user);
                check(&state, now, "revoke session");
            }
            if round == 4 {
                state.revoke_user(users[1], t(now));
                state.reindex(users[1]);
                check(&state, now, "revoke user");
            }
            state.list_sessions(users[2], t(now));
            state.reindex(users[2]);
            check(&state, now, "list");
            now += 400;
            if round % 2 == 1 {
                state.sweep(t(now));
                check(&state, now, "sweep");
            }
        }
        assert!(state.stats(t(now)).sessions_active > 0);
    }
}
