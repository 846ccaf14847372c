//! The session rules of [`State`]: one function per [`SessionStore`](crate::SessionStore)
//! method (and `check_access`), each mirroring its Lua script.

use std::collections::HashMap;

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use super::session::Session;
use super::{GONE_MARGIN, State};
use crate::model::*;
use crate::stored::StoredHash;

impl State {
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

    pub(in crate::memory) fn create_session(
        &mut self,
        new: NewSession,
        now: Timestamp,
    ) -> CreatedSession {
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
                    self.gone
                        .insert((new.user, id), gone.deadline().plus(GONE_MARGIN));
                }
                evicted.push(id);
            }
        }
        CreatedSession {
            token_version: ver,
            evicted,
        }
    }

    pub(in crate::memory) fn rotate_refresh(
        &mut self,
        r: Rotation,
        now: Timestamp,
    ) -> RotationOutcome {
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
            self.gone
                .insert((user, id), gone.deadline().plus(GONE_MARGIN));
        }
        RotationOutcome::Reused
    }

    pub(in crate::memory) fn check_access(
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

    pub(in crate::memory) fn revoke_session(
        &mut self,
        user: UserId,
        id: SessionId,
        now: Timestamp,
    ) -> bool {
        let was_alive = self.live_session(user, id, now).is_some();
        if let Some(gone) = self.remove_session(user, id)
            && was_alive
        {
            self.revoked_tokens += gone.live_grants(now);
        }
        was_alive
    }

    pub(in crate::memory) fn revoke_session_by_refresh(
        &mut self,
        user: UserId,
        id: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> bool {
        let presented = StoredHash::of(refresh);
        let held = self.live_session(user, id, now).and_then(|s| {
            (s.current.ct_eq(&presented) || s.previous.is_some_and(|p| p.ct_eq(&presented)))
                .then(|| s.deadline())
        });
        let Some(deadline) = held else {
            return false;
        };
        self.gone.insert((user, id), deadline.plus(GONE_MARGIN));
        self.revoke_session(user, id, now)
    }

    pub(in crate::memory) fn revoke_user(&mut self, user: UserId, now: Timestamp) -> u64 {
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
    pub(in crate::memory) fn revoke_user_except(
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

    pub(in crate::memory) fn revoke_access_token(
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

    pub(in crate::memory) fn list_sessions(
        &mut self,
        user: UserId,
        now: Timestamp,
    ) -> Vec<SessionRecord> {
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

    pub(in crate::memory) fn find_access_token(
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
}
