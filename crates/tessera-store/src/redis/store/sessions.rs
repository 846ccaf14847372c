//! [`SessionStore`] on Redis: one script per method (`create_session.lua`,
//! `rotate_refresh.lua`, `revoke_session.lua`, `revoke_user.lua`, `revoke_user_except.lua`,
//! `revoke_access_token.lua`, `list_sessions.lua`, `find_access_token.lua`), each on the
//! user's one slot. Every script reports its statistics changes, handed to `counters.rs`.

use async_trait::async_trait;
use redis::Value;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;

use super::RedisStore;
use super::counters::Delta;
use crate::error::{RevokedUnconfirmed, StoreError};
use crate::model::*;
use crate::redis::error::protocol;
use crate::redis::keys::{UserKeys, session_from_member};
use crate::redis::reply::{self, dur_arg, ts_arg};
use crate::redis::scripts;
use crate::store::SessionStore;
use crate::stored::StoredHash;

/// The first element of a `rotate_refresh.lua` reply (see the script's header).
mod rotation {
    /// Not a token of this live session (or a binding mismatch): nothing changed.
    pub(super) const INVALID: i64 = 0;
    /// Rotated: followed by version, deadline, attributes.
    pub(super) const ROTATED: i64 = 1;
    /// The previous token inside the grace window: followed by version, deadline,
    /// attributes, the successor's seed.
    pub(super) const GRACE_REPLAY: i64 = 2;
    /// Theft: the session was deleted.
    pub(super) const REUSED: i64 = 3;
}

/// First element of a `revoke_session.lua` reply: a live session was revoked (else `0`).
const REVOKED_LIVE: i64 = 1;

/// First element of a `revoke_access_token.lua` reply: the token was active (else `0`).
const WAS_ACTIVE: i64 = 1;

impl RedisStore {
    /// `revoke_session.lua`: unconditionally (`proof` `None`) or only for the holder of the
    /// session's current or previous refresh token.
    async fn revoke_session_with(
        &self,
        user: UserId,
        session: SessionId,
        proof: Option<&TokenHash>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let k = self.keys(user);
        let since = self.switches();
        let mut inv = scripts::REVOKE_SESSION.prepare_invoke();
        inv.key(k.session(session))
            .key(k.index())
            .key(k.version())
            .key(k.gone(session))
            .arg(ts_arg(now))
            .arg(UserKeys::member(session))
            .arg(proof.map(hash_arg).unwrap_or_default());
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let alive =
            reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)? == REVOKED_LIVE;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        self.count(delta).await;
        // Only a live session's revocation matters to a failover (a proof that did not
        // match wrote nothing; a dead record's deletion revokes nothing), and a revocation
        // of nothing must not wait: every refresh of a revoked session makes one. One that
        // is not confirmed says so, so that the durable copy forgets the session all the
        // same.
        if !alive {
            return Ok(false);
        }
        match self.replicated(since).await {
            Err(StoreError::Unavailable(cause)) => {
                Err(StoreError::Unavailable(Box::new(RevokedUnconfirmed(cause))))
            }
            Err(e) => Err(e),
            Ok(()) => Ok(true),
        }
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError> {
        let k = self.keys(new.user);
        let max = new.max_sessions.map_or(0, |n| n.max(1));
        let mut inv = scripts::CREATE_SESSION.prepare_invoke();
        inv.key(k.version())
            .key(k.index())
            .key(k.session(new.session))
            .arg(ts_arg(now))
            .arg(UserKeys::member(new.session))
            .arg(hash_arg(&new.refresh))
            .arg(new.access.jti.as_bytes().as_slice())
            .arg(ts_arg(new.access.expires_at))
            .arg(new.token_version)
            .arg(dur_arg(new.limits.idle_timeout))
            .arg(ts_arg(new.limits.absolute_expiry))
            .arg(max)
            .arg(k.session_prefix())
            .arg(new.attributes.as_bytes())
            .arg(binding_arg(new.binding.as_ref()))
            .arg(k.gone_prefix());
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let token_version = reply::uint(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        let evicted = items.map(session_id).collect::<Result<_, _>>()?;
        self.count(delta).await;
        Ok(CreatedSession {
            token_version,
            evicted,
        })
    }

    async fn rotate_refresh(
        &self,
        r: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError> {
        let k = self.keys(r.user);
        let since = self.switches();
        let mut inv = scripts::ROTATE_REFRESH.prepare_invoke();
        inv.key(k.session(r.session))
            .key(k.index())
            .key(k.version())
            .key(k.gone(r.session))
            .arg(ts_arg(now))
            .arg(UserKeys::member(r.session))
            .arg(hash_arg(&r.presented))
            .arg(hash_arg(&r.successor))
            .arg(r.seed.0.as_slice())
            .arg(r.access.jti.as_bytes().as_slice())
            .arg(ts_arg(r.access.expires_at))
            .arg(dur_arg(r.grace))
            .arg(dur_arg(r.idle_timeout))
            .arg(binding_arg(r.binding.as_ref()))
            .arg(generation_arg(r.generation))
            .arg(r.successor_generation);
        let items = reply::array(self.run(&inv).await?)?;
        let mut items = items.into_iter();
        let status = reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        self.count(delta).await;
        let mut next = |what: &str| {
            items
                .next()
                .ok_or_else(|| protocol(format!("missing {what}")))
        };
        let outcome = match status {
            rotation::INVALID => RotationOutcome::Invalid,
            rotation::ROTATED => RotationOutcome::Rotated {
                token_version: reply::uint(&next("version")?)?,
                session_expires_at: Timestamp::from_millis(reply::int(&next("deadline")?)?),
                attributes: reply::string(next("attributes")?)?,
            },
            rotation::GRACE_REPLAY => {
                let token_version = reply::uint(&next("version")?)?;
                let session_expires_at = Timestamp::from_millis(reply::int(&next("deadline")?)?);
                let attributes = reply::string(next("attributes")?)?;
                let seed = next("seed")?;
                RotationOutcome::GraceReplay {
                    seed: SuccessorSeed(reply::fixed::<16>(seed)?),
                    token_version,
                    session_expires_at,
                    attributes,
                }
            }
            rotation::REUSED => RotationOutcome::Reused,
            other => return Err(protocol(format!("unknown rotation status {other}"))),
        };
        // Theft revoked the family: replicated like every revocation, but the answer stands
        // when a replica lags (nobody retries a theft, and the caller must still learn of it
        // to delete the durable copy).
        if outcome == RotationOutcome::Reused
            && let Err(e) = self.replicated(since).await
        {
            tracing::warn!(error = %e.chain(), session = %r.session, "a refresh-token theft revocation is not yet held by every promotable replica");
        }
        Ok(outcome)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.revoke_session_with(user, session, None, now).await
    }

    async fn revoke_session_by_refresh(
        &self,
        user: UserId,
        session: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.revoke_session_with(user, session, Some(refresh), now)
            .await
    }

    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        let k = self.keys(user);
        let since = self.switches();
        let mut inv = scripts::REVOKE_USER.prepare_invoke();
        inv.key(k.version())
            .key(k.index())
            .arg(k.session_prefix())
            .arg(ts_arg(now));
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let ver = reply::uint(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        self.count(delta).await;
        self.replicated(since).await?;
        Ok(ver)
    }

    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let k = self.keys(user);
        let since = self.switches();
        let mut inv = scripts::REVOKE_USER_EXCEPT.prepare_invoke();
        inv.key(k.version())
            .key(k.index())
            .arg(k.session_prefix())
            .arg(ts_arg(now))
            .arg(UserKeys::member(keep));
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let revoked = reply::uint(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        self.count(delta).await;
        if revoked > 0 {
            self.replicated(since).await?;
        }
        Ok(revoked)
    }

    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let k = self.keys(user);
        let since = self.switches();
        let mut inv = scripts::REVOKE_ACCESS_TOKEN.prepare_invoke();
        inv.key(k.session(session))
            .key(k.version())
            .key(k.denied(grant.jti))
            .arg(ts_arg(now))
            .arg(grant.jti.as_bytes().as_slice())
            .arg(ts_arg(grant.expires_at))
            .arg(mode_arg(mode));
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let active =
            reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)? == WAS_ACTIVE;
        let delta = Delta::read(&mut items, Delta::GR)?;
        self.count(delta).await;
        if active {
            self.replicated(since).await?;
        }
        Ok(active)
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let k = self.keys(user);
        let mut inv = scripts::LIST_SESSIONS.prepare_invoke();
        inv.key(k.index())
            .key(k.version())
            .arg(ts_arg(now))
            .arg(k.session_prefix());
        let mut items = reply::array(self.run_idempotent(&inv).await?)?.into_iter();
        let delta = Delta::read(&mut items, Delta::SG)?;
        self.count(delta).await;
        if items.len() % 6 != 0 {
            return Err(protocol("session list is not made of 6-tuples"));
        }
        let mut out = Vec::with_capacity(items.len() / 6);
        while let (Some(id), Some(c), Some(l), Some(d), Some(x), Some(a)) = (
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
        ) {
            out.push(SessionRecord {
                session: session_id(id)?,
                created_at: Timestamp::from_millis(reply::int(&c)?),
                last_seen_at: Timestamp::from_millis(reply::int(&l)?),
                expires_at: Timestamp::from_millis(reply::int(&d)?),
                absolute_expiry: Timestamp::from_millis(reply::int(&x)?),
                attributes: reply::string(a)?,
            });
        }
        out.sort_by_key(|s| (s.created_at, s.session));
        Ok(out)
    }

    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError> {
        let k = self.keys(user);
        let mut inv = scripts::FIND_ACCESS_TOKEN.prepare_invoke();
        inv.key(k.index())
            .key(k.version())
            .arg(ts_arg(now))
            .arg(k.session_prefix())
            .arg(jti.as_bytes().as_slice());
        let mut items = reply::array(self.run_idempotent(&inv).await?)?.into_iter();
        match (items.next(), items.next()) {
            (Some(sid), Some(exp)) => Ok(Some((
                session_id(sid)?,
                Timestamp::from_millis(reply::int(&exp)?),
            ))),
            (None, _) => Ok(None),
            (Some(_), None) => Err(protocol("find_access_token: lone session id")),
        }
    }
}

/// A session id from a script reply: an index member (compact form, see `keys.rs`).
fn session_id(v: Value) -> Result<SessionId, StoreError> {
    session_from_member(&reply::bytes(v)?).ok_or_else(|| protocol("malformed session id"))
}

/// A refresh-token hash as script argument: its stored form, 16 raw bytes.
fn hash_arg(h: &TokenHash) -> Vec<u8> {
    StoredHash::of(h).as_bytes().to_vec()
}

/// A session binding as script argument: its stored form (16 raw bytes), or empty for none.
fn binding_arg(b: Option<&TokenHash>) -> Vec<u8> {
    b.map_or_else(Vec::new, hash_arg)
}

/// A presented refresh generation as a script argument: decimal, or `''` for none (a legacy
/// token).
fn generation_arg(generation: Option<u32>) -> String {
    generation.map_or_else(String::new, |g| g.to_string())
}

/// A revocation mode as script argument (`revoke_access_token.lua` ARGV[4]).
fn mode_arg(mode: RevocationMode) -> &'static str {
    match mode {
        RevocationMode::Allowlist => "a",
        RevocationMode::Denylist => "d",
    }
}
