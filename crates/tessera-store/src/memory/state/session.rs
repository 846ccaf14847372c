//! One session record of the memory backend and its own rules (liveness, the grant cap).

use std::collections::HashMap;
use std::time::Duration;

use tessera_core::ids::{Jti, SessionId};
use tessera_core::refresh::SuccessorSeed;
use tessera_core::time::Timestamp;

use crate::model::{AccessGrant, MAX_LIVE_GRANTS, SessionRecord};
use crate::stored::StoredHash;

/// One session record and its refresh family.
pub(super) struct Session {
    pub(super) created_at: Timestamp,
    /// Sign-in or last rotation (so also the time of the last rotation once rotated).
    pub(super) last_seen: Timestamp,
    pub(super) idle: Duration,
    pub(super) absolute_expiry: Timestamp,
    /// The token version when the session was opened: the session dies when the user's
    /// version moves past it (`revoke_user`).
    pub(super) generation: u64,
    pub(super) current: StoredHash,
    pub(super) previous: Option<StoredHash>,
    pub(super) seed: Option<SuccessorSeed>,
    /// Refresh generation of the current token, set by each rotation (Redis field `n`; `None`
    /// until the first rotation: nothing is older than a sign-in's generation 0).
    pub(super) refresh_generation: Option<u32>,
    pub(super) attributes: String,
    /// Hash of the client fingerprint the session is bound to.
    pub(super) binding: Option<StoredHash>,
    /// Allowlisted access tokens of this session: their `exp` and registration number (the
    /// order of the Redis hash's fields, which breaks ties of `exp` in the cap).
    pub(super) access: HashMap<Jti, (Timestamp, u64)>,
    /// Grants registered so far (the next registration number).
    pub(super) registered: u64,
}

impl Session {
    /// `min(last_seen + idle, absolute_expiry)`.
    pub(super) fn deadline(&self) -> Timestamp {
        self.last_seen.plus(self.idle).min(self.absolute_expiry)
    }

    /// Alive at `now` under the user's current token version `ver`.
    pub(super) fn alive(&self, now: Timestamp, ver: Option<u64>) -> bool {
        matches!(ver, Some(v) if self.generation >= v) && now < self.deadline()
    }

    /// Drops expired grants, registers `grant` unless it has already expired (a jti already
    /// there keeps its place, as an updated Redis hash field does), then revokes the oldest
    /// other grants (smallest `exp`, ties: registered first) beyond [`MAX_LIVE_GRANTS`] —
    /// `register_access` in `prelude.lua`. Returns how many were revoked.
    pub(super) fn register(&mut self, grant: AccessGrant, now: Timestamp) -> u64 {
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
    pub(super) fn live_grants(&self, now: Timestamp) -> u64 {
        self.access.values().filter(|(exp, _)| *exp > now).count() as u64
    }

    pub(super) fn record(&self, id: SessionId) -> SessionRecord {
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
