//! [`RedisStore`]: the [`StateStore`] contract, one script call per method.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::{ScriptInvocation, Value};
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;

use super::config::RedisConfig;
use super::conn::Conn;
use super::error::{ConfigError, OperationTimeout, map_redis_error, protocol};
use super::keys::UserKeys;
use super::reply::{self, dur_arg, ts_arg};
use super::scripts;
use crate::error::StoreError;
use crate::model::*;
use crate::store::StateStore;

/// The production [`StateStore`] over Redis (standalone or Cluster).
///
/// Clones share one connection. Every method is one `EVALSHA` (or one plain read), bounded by
/// [`RedisConfig::operation_timeout`]; an unreachable Redis gives
/// [`StoreError::Unavailable`] and the connection recovers by itself when Redis is back.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    prefix: String,
    operation_timeout: Duration,
    cluster: bool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Validates `config`, connects (waiting for the first connection) and returns the store.
    /// Fails with [`StoreError::Unavailable`] when Redis cannot be reached now or the
    /// configuration cannot work (bad URL, prefix with `{`/`}`, no URL, several URLs for a
    /// standalone server).
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        if config.key_prefix.contains(['{', '}']) {
            return Err(StoreError::Unavailable(Box::new(ConfigError(
                "key prefix must not contain '{' or '}'".to_owned(),
            ))));
        }
        let timeout = config.operation_timeout;
        let conn = match tokio::time::timeout(timeout, Conn::connect(&config)).await {
            Ok(conn) => conn?,
            Err(_) => return Err(StoreError::Unavailable(Box::new(OperationTimeout(timeout)))),
        };
        Ok(Self {
            conn,
            prefix: config.key_prefix,
            operation_timeout: timeout,
            cluster: config.cluster,
        })
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The key prefix in use.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn keys(&self, user: UserId) -> UserKeys {
        UserKeys::new(&self.prefix, user)
    }

    /// Runs `fut` within the operation timeout, mapping driver errors.
    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.operation_timeout, fut).await {
            Ok(result) => result.map_err(map_redis_error),
            Err(_) => Err(StoreError::Unavailable(Box::new(OperationTimeout(
                self.operation_timeout,
            )))),
        }
    }

    /// One script call (`EVALSHA`, reloading the script on `NOSCRIPT`).
    async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(invocation.invoke_async::<Value>(&mut conn))
            .await
    }

    /// [`run`](Self::run) for scripts that may safely run twice: when the first attempt
    /// finds a dropped connection (the manager then reconnects), it is retried once, within
    /// the same operation timeout.
    async fn run_idempotent(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(async {
            match invocation.invoke_async::<Value>(&mut conn).await {
                Err(e) if e.is_connection_dropped() || e.is_unrecoverable_error() => {
                    invocation.invoke_async::<Value>(&mut conn).await
                }
                other => other,
            }
        })
        .await
    }
}

/// A session binding as script argument: the 32 raw bytes, or empty for none.
fn binding_arg(b: Option<&TokenHash>) -> &[u8] {
    b.map_or(&[], |h| h.as_bytes().as_slice())
}

fn mode_arg(mode: RevocationMode) -> &'static str {
    match mode {
        RevocationMode::Allowlist => "a",
        RevocationMode::Denylist => "d",
    }
}

#[async_trait]
impl StateStore for RedisStore {
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
            .arg(new.session.to_string())
            .arg(new.refresh.as_bytes().as_slice())
            .arg(new.access.jti.as_bytes().as_slice())
            .arg(ts_arg(new.access.expires_at))
            .arg(new.token_version)
            .arg(dur_arg(new.limits.idle_timeout))
            .arg(ts_arg(new.limits.absolute_expiry))
            .arg(max)
            .arg(k.session_prefix())
            .arg(new.attributes.as_bytes())
            .arg(binding_arg(new.binding.as_ref()));
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let token_version = reply::uint(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let evicted = items.map(reply::parsed).collect::<Result<_, _>>()?;
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
        let mut inv = scripts::ROTATE_REFRESH.prepare_invoke();
        inv.key(k.session(r.session))
            .key(k.index())
            .key(k.version())
            .arg(ts_arg(now))
            .arg(r.session.to_string())
            .arg(r.presented.as_bytes().as_slice())
            .arg(r.successor.as_bytes().as_slice())
            .arg(r.seed.0.as_slice())
            .arg(r.access.jti.as_bytes().as_slice())
            .arg(ts_arg(r.access.expires_at))
            .arg(dur_arg(r.grace))
            .arg(dur_arg(r.idle_timeout))
            .arg(binding_arg(r.binding.as_ref()));
        let items = reply::array(self.run(&inv).await?)?;
        let mut items = items.into_iter();
        let status = reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let mut next = |what: &str| {
            items
                .next()
                .ok_or_else(|| protocol(format!("missing {what}")))
        };
        Ok(match status {
            0 => RotationOutcome::Invalid,
            1 => RotationOutcome::Rotated {
                token_version: reply::uint(&next("version")?)?,
                session_expires_at: Timestamp::from_millis(reply::int(&next("deadline")?)?),
                attributes: reply::string(next("attributes")?)?,
            },
            2 => {
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
            3 => RotationOutcome::Reused,
            other => return Err(protocol(format!("unknown rotation status {other}"))),
        })
    }

    async fn check_access(
        &self,
        c: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        let k = self.keys(c.user);
        let mut inv = scripts::CHECK_ACCESS.prepare_invoke();
        inv.key(k.session(c.session))
            .key(k.version())
            .key(k.denied(c.jti))
            .arg(ts_arg(now))
            .arg(c.jti.as_bytes().as_slice())
            .arg(c.token_version)
            .arg(mode_arg(mode));
        match reply::int(&self.run_idempotent(&inv).await?)? {
            1 => Ok(AccessStatus::Active),
            0 => Ok(AccessStatus::Revoked),
            other => Err(protocol(format!("unknown access status {other}"))),
        }
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let k = self.keys(user);
        let mut inv = scripts::REVOKE_SESSION.prepare_invoke();
        inv.key(k.session(session))
            .key(k.index())
            .key(k.version())
            .arg(ts_arg(now))
            .arg(session.to_string());
        Ok(reply::int(&self.run(&inv).await?)? == 1)
    }

    async fn revoke_user(&self, user: UserId, _now: Timestamp) -> Result<u64, StoreError> {
        let k = self.keys(user);
        let mut inv = scripts::REVOKE_USER.prepare_invoke();
        inv.key(k.version()).key(k.index()).arg(k.session_prefix());
        reply::uint(&self.run(&inv).await?)
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
        let mut inv = scripts::REVOKE_ACCESS_TOKEN.prepare_invoke();
        inv.key(k.session(session))
            .key(k.version())
            .key(k.denied(grant.jti))
            .arg(ts_arg(now))
            .arg(grant.jti.as_bytes().as_slice())
            .arg(ts_arg(grant.expires_at))
            .arg(mode_arg(mode));
        Ok(reply::int(&self.run(&inv).await?)? == 1)
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
        let items = reply::array(self.run_idempotent(&inv).await?)?;
        if items.len() % 6 != 0 {
            return Err(protocol("session list is not made of 6-tuples"));
        }
        let mut out = Vec::with_capacity(items.len() / 6);
        let mut items = items.into_iter();
        while let (Some(id), Some(c), Some(l), Some(d), Some(x), Some(a)) = (
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
            items.next(),
        ) {
            out.push(SessionRecord {
                session: reply::parsed(id)?,
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
        _user: UserId,
        _jti: Jti,
        _now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError> {
        Err(protocol("find_access_token: not implemented yet"))
    }

    async fn stats(&self, _now: Timestamp) -> Result<StoreStats, StoreError> {
        Err(protocol("stats: not implemented yet"))
    }

    async fn push_event(
        &self,
        _user: UserId,
        _event: SecurityEventRecord,
        _now: Timestamp,
    ) -> Result<(), StoreError> {
        Err(protocol("push_event: not implemented yet"))
    }

    async fn recent_events(
        &self,
        _user: UserId,
        _limit: usize,
        _before: Option<Timestamp>,
        _now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        Err(protocol("recent_events: not implemented yet"))
    }

    async fn token_version(&self, user: UserId) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("GET").arg(self.keys(user).version()).clone();
        let v: Value = self.bounded(cmd.query_async(&mut conn)).await?;
        match reply::opt(v) {
            None => Ok(0),
            Some(v) => reply::uint(&v),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let _: Value = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
