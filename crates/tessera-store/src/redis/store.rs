//! [`RedisStore`]: the [`StateStore`] contract, one script call per method.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::{ScriptInvocation, Value};
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;

use super::access;
use super::config::RedisConfig;
use super::conn::Conn;
use super::error::{ConfigError, OperationTimeout, map_redis_error, protocol};
use super::eviction;
use super::keys::{UserKeys, from_index, index_pattern, session_from_member, stats_key};
use super::reply::{self, dur_arg, ts_arg};
use super::scripts;
use super::stats;
use super::version;
use crate::ephemeral::{Attempts, EphemeralKey, Rate, Throttle};
use crate::error::StoreError;
use crate::model::*;
use crate::store::StateStore;
use crate::stored::StoredHash;

mod ephemeral;

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
    pending: Arc<PendingStats>,
}

/// How long statistics changes are gathered before one `HINCRBY` pipeline writes them.
const STATS_FLUSH_AFTER: Duration = Duration::from_millis(50);

/// Statistics changes not yet written to the stats hash (shared by clones of one store).
#[derive(Debug, Default)]
struct PendingStats {
    sessions: AtomicI64,
    grants: AtomicI64,
    revoked: AtomicI64,
    /// A flush task is scheduled.
    scheduled: AtomicBool,
    /// Held by a flush from taking the changes until they are written, so a flush that finds
    /// nothing pending (`stats()`) still waits for one in flight: a process reads its own
    /// changes.
    flushing: tokio::sync::Mutex<()>,
}

impl PendingStats {
    fn add(&self, d: Delta) {
        self.sessions.fetch_add(d.sessions, Ordering::SeqCst);
        self.grants.fetch_add(d.grants, Ordering::SeqCst);
        self.revoked.fetch_add(d.revoked, Ordering::SeqCst);
    }

    /// Takes everything pending (each change is taken exactly once).
    fn take(&self) -> Delta {
        Delta {
            sessions: self.sessions.swap(0, Ordering::SeqCst),
            grants: self.grants.swap(0, Ordering::SeqCst),
            revoked: self.revoked.swap(0, Ordering::SeqCst),
        }
    }
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
    /// standalone server), with [`StoreError::Incompatible`] for a Redis older than 7.0.
    /// Logs a warning naming any primary's `maxmemory-policy` other than `noeviction` (see
    /// `eviction.rs`).
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
        if let Ok(Some(info)) = tokio::time::timeout(timeout, server_info(&conn)).await {
            version::check(&info).map_err(|e| StoreError::Incompatible(e.to_string()))?;
        }
        if let Ok(policies) = tokio::time::timeout(timeout, eviction::policies(&conn)).await {
            eviction::warn_unless_noeviction(&policies);
        }
        Ok(Self {
            conn,
            prefix: config.key_prefix,
            operation_timeout: timeout,
            cluster: config.cluster,
            pending: Arc::default(),
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
        let mut inv = scripts::REVOKE_SESSION.prepare_invoke();
        inv.key(k.session(session))
            .key(k.index())
            .key(k.version())
            .arg(ts_arg(now))
            .arg(UserKeys::member(session))
            .arg(proof.map(hash_arg).unwrap_or_default());
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let alive = reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)? == 1;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        self.count(delta).await;
        Ok(alive)
    }

    /// Records a script's statistics changes. They are not written on the request path:
    /// changes are gathered for [`STATS_FLUSH_AFTER`] and written by one background
    /// `HINCRBY` pipeline, so a login, refresh or logout is one round trip and a busy server
    /// sends one statistics write per interval, not one per request. `stats()` and
    /// `reconcile_stats()` write what is pending first, so this process always reads its own
    /// changes. Best-effort as before: a failed write (or a process killed within the
    /// interval) loses those changes, which the reconciliation corrects.
    async fn count(&self, d: Delta) {
        if d == Delta::default() {
            return;
        }
        self.pending.add(d);
        if !self.pending.scheduled.swap(true, Ordering::SeqCst) {
            let store = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(STATS_FLUSH_AFTER).await;
                store.pending.scheduled.store(false, Ordering::SeqCst);
                store.flush_stats().await;
            });
        }
    }

    /// Writes the pending statistics changes now (one pipeline, nothing when none), after any
    /// flush already in flight has written its own.
    async fn flush_stats(&self) {
        let _flushing = self.pending.flushing.lock().await;
        let d = self.pending.take();
        if d == Delta::default() {
            return;
        }
        let key = stats_key(&self.prefix);
        let mut pipe = redis::pipe();
        for (field, by) in [
            (stats::SESSIONS, d.sessions),
            (stats::GRANTS, d.grants),
            (stats::REVOKED, d.revoked),
        ] {
            if by != 0 {
                pipe.cmd("HINCRBY").arg(&key).arg(field).arg(by).ignore();
            }
        }
        let mut conn = self.conn.clone();
        if let Err(e) = self.bounded(pipe.query_async::<()>(&mut conn)).await {
            tracing::warn!(error = %e, "statistics counters not updated");
        }
    }

    /// One script call (`EVALSHA`, reloading the script on `NOSCRIPT`).
    async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(invocation.invoke_async::<Value>(&mut conn))
            .await
    }

    /// [`run`](Self::run) for scripts that may safely run twice (see
    /// [`idempotent`](Self::idempotent)).
    async fn run_idempotent(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        self.idempotent(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
            .await
    }

    /// Sends a request that may safely run twice: when the first attempt finds a dropped
    /// connection (the manager then reconnects), it is sent once more on a handle to the
    /// same connection, within the same operation timeout.
    async fn idempotent<T, Fut>(&self, send: impl Fn(Conn) -> Fut) -> Result<T, StoreError>
    where
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.bounded(async {
            match send(self.conn.clone()).await {
                Err(e) if e.is_connection_dropped() || e.is_unrecoverable_error() => {
                    send(self.conn.clone()).await
                }
                other => other,
            }
        })
        .await
    }
}

/// Changes to the global statistics reported by a script (see `prelude.lua`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Delta {
    sessions: i64,
    grants: i64,
    revoked: i64,
}

impl Delta {
    /// The reply carries sessions, grants and revoked tokens.
    const SGR: (bool, bool, bool) = (true, true, true);
    /// The reply carries grants and revoked tokens.
    const GR: (bool, bool, bool) = (false, true, true);
    /// The reply carries sessions and grants.
    const SG: (bool, bool, bool) = (true, true, false);

    /// Reads the fields named by `which` (in the order sessions, grants, revoked).
    fn read(
        items: &mut impl Iterator<Item = Value>,
        which: (bool, bool, bool),
    ) -> Result<Self, StoreError> {
        let mut field = |present: bool| -> Result<i64, StoreError> {
            if !present {
                return Ok(0);
            }
            let v = items
                .next()
                .ok_or_else(|| protocol("missing statistics change"))?;
            reply::int(&v)
        };
        Ok(Self {
            sessions: field(which.0)?,
            grants: field(which.1)?,
            revoked: field(which.2)?,
        })
    }
}

fn decode_event(member: Vec<u8>, at: i64) -> Result<SecurityEventRecord, StoreError> {
    let bad = || protocol("malformed event member");
    let colon = member.iter().position(|b| *b == b':').ok_or_else(bad)?;
    let len: usize = std::str::from_utf8(&member[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let rest = member.get(colon + 1..).ok_or_else(bad)?;
    let id = rest.get(..len).ok_or_else(bad)?;
    let payload = rest.get(len..).ok_or_else(bad)?;
    Ok(SecurityEventRecord {
        id: String::from_utf8(id.to_vec()).map_err(|_| bad())?,
        at: Timestamp::from_millis(at),
        payload: String::from_utf8(payload.to_vec()).map_err(|_| bad())?,
    })
}

/// A session id from a script reply: an index member (compact form, see `keys.rs`).
fn session_id(v: Value) -> Result<SessionId, StoreError> {
    session_from_member(&reply::bytes(v)?).ok_or_else(|| protocol("malformed session id"))
}

/// A refresh-token hash as script argument: its stored form, 16 raw bytes.
fn hash_arg(h: &TokenHash) -> Vec<u8> {
    StoredHash::of(h).as_bytes().to_vec()
}

/// `INFO server` of one primary, or `None` when it cannot be read (the version check is
/// then skipped: an ACL may deny `INFO`, and every later call reports its own errors).
async fn server_info(conn: &Conn) -> Option<String> {
    let node = conn.primaries().await.ok()?.into_iter().next()?;
    let reply = conn
        .on_node(&node, redis::cmd("INFO").arg("server").clone())
        .await
        .ok()?;
    redis::from_redis_value(reply).ok()
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

/// Pause between two `SCAN` batches of the statistics reconciliation.
const RECONCILE_PAUSE: Duration = Duration::from_millis(20);
/// `SCAN … COUNT` of the statistics reconciliation.
const RECONCILE_SCAN_COUNT: u32 = 200;

/// What one reconciliation pass counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Session indexes (users with sessions) visited.
    pub users: u64,
    /// Live sessions counted.
    pub sessions: u64,
    /// Unexpired access grants of live sessions counted.
    pub grants: u64,
}

impl RedisStore {
    /// One statistics reconciliation pass at `now`: walks every session index on every
    /// primary with `SCAN MATCH <prefix>{u:*}:sessions COUNT 200` (pausing 20 ms between
    /// batches), runs `count_sessions.lua` on each (which prunes that user's dead sessions
    /// and counts the live ones and their unexpired grants), and writes the totals to the
    /// stats hash (`s`, `g`, `t`). Background work only: O(all sessions) overall, but
    /// never more than one user's sessions per script and never a blocking command. On an
    /// error the pass stops and writes nothing.
    ///
    /// Approximate by nature: changes made while the pass runs may be counted or not, and
    /// are fixed by the next pass. On Cluster a resharding during the pass may make SCAN skip
    /// or repeat keys.
    pub async fn reconcile_stats(&self, now: Timestamp) -> Result<Reconciled, StoreError> {
        self.flush_stats().await;
        let pattern = index_pattern(&self.prefix);
        let nodes = self.bounded(self.conn.primaries()).await?;
        let mut total = Reconciled::default();
        for node in &nodes {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(RECONCILE_SCAN_COUNT);
                let page = self.bounded(self.conn.on_node(node, scan)).await?;
                let mut page = reply::array(page)?.into_iter();
                let next = reply::uint(&page.next().ok_or_else(|| protocol("SCAN reply"))?)?;
                let keys = reply::array(page.next().ok_or_else(|| protocol("SCAN reply"))?)?;
                for key in keys {
                    let index = reply::string(key)?;
                    let Some((version, sessions)) = from_index(&index) else {
                        continue;
                    };
                    let mut inv = scripts::COUNT_SESSIONS.prepare_invoke();
                    inv.key(&index).key(version).arg(ts_arg(now)).arg(sessions);
                    let counted = reply::array(self.run(&inv).await?)?;
                    let [s, g] = counted.as_slice() else {
                        return Err(protocol("count_sessions reply"));
                    };
                    total.users += 1;
                    total.sessions += reply::uint(s)?;
                    total.grants += reply::uint(g)?;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
                tokio::time::sleep(RECONCILE_PAUSE).await;
            }
        }
        let mut hset = redis::cmd("HSET");
        hset.arg(stats_key(&self.prefix))
            .arg(stats::SESSIONS)
            .arg(total.sessions)
            .arg(stats::GRANTS)
            .arg(total.grants)
            .arg(stats::RECONCILED_AT)
            .arg(ts_arg(now));
        let mut conn = self.conn.clone();
        self.bounded(hset.query_async::<()>(&mut conn)).await?;
        Ok(total)
    }

    /// Starts the background statistics reconciliation: a
    /// [`reconcile_stats`](Self::reconcile_stats) pass right away and then every `every` (measured from the end
    /// of one pass to the start of the next), with the wall clock as `now`. A failed pass is
    /// logged and retried at the next tick. The task runs until the returned handle is
    /// aborted (or the runtime shuts down); [`connect`](Self::connect) does not start it —
    /// the server starts one per process. Several processes reconciling is harmless (each
    /// pass writes totals), only wasteful.
    pub fn spawn_stats_reconciler(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                match store.reconcile_stats(Timestamp::now()).await {
                    Ok(r) => tracing::debug!(?r, "statistics reconciled"),
                    Err(e) => tracing::warn!(error = %e, "statistics reconciliation failed"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }
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
            .arg(binding_arg(new.binding.as_ref()));
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
        let mut inv = scripts::ROTATE_REFRESH.prepare_invoke();
        inv.key(k.session(r.session))
            .key(k.index())
            .key(k.version())
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
        let pipe = access::pipeline(&self.keys(c.user), &c, mode);
        // Read only, so safe to send twice.
        let replies = self
            .idempotent(|mut conn| {
                let pipe = &pipe;
                async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
            })
            .await?;
        access::decide(replies, &c, mode, now)
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
        let mut inv = scripts::REVOKE_USER.prepare_invoke();
        inv.key(k.version())
            .key(k.index())
            .arg(k.session_prefix())
            .arg(ts_arg(now));
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let ver = reply::uint(&items.next().ok_or_else(|| protocol("empty reply"))?)?;
        let delta = Delta::read(&mut items, Delta::SGR)?;
        self.count(delta).await;
        Ok(ver)
    }

    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let k = self.keys(user);
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
        let mut inv = scripts::REVOKE_ACCESS_TOKEN.prepare_invoke();
        inv.key(k.session(session))
            .key(k.version())
            .key(k.denied(grant.jti))
            .arg(ts_arg(now))
            .arg(grant.jti.as_bytes().as_slice())
            .arg(ts_arg(grant.expires_at))
            .arg(mode_arg(mode));
        let mut items = reply::array(self.run(&inv).await?)?.into_iter();
        let active = reply::int(&items.next().ok_or_else(|| protocol("empty reply"))?)? == 1;
        let delta = Delta::read(&mut items, Delta::GR)?;
        self.count(delta).await;
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

    async fn stats(&self, _now: Timestamp) -> Result<StoreStats, StoreError> {
        self.flush_stats().await;
        self.bounded(stats::read(&self.conn, &self.prefix)).await
    }

    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut inv = scripts::PUSH_EVENT.prepare_invoke();
        inv.key(self.keys(user).events())
            .arg(ts_arg(now))
            .arg(ts_arg(event.at))
            .arg(event_member(&event))
            .arg(dur_arg(EVENT_RETENTION))
            .arg(EVENT_MAX_PER_USER);
        reply::int(&self.run(&inv).await?)?;
        Ok(())
    }

    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let max = before.map_or_else(|| "+inf".to_owned(), |b| format!("({}", ts_arg(b)));
        let min = format!("({}", ts_arg(now.minus(EVENT_RETENTION)));
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(self.keys(user).events())
            .arg(max)
            .arg(min)
            .arg("BYSCORE")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(
                u64::try_from(limit)
                    .unwrap_or(u64::MAX)
                    .min(i64::MAX as u64),
            )
            .arg("WITHSCORES");
        let mut conn = self.conn.clone();
        let items = reply::array(self.bounded(cmd.query_async::<Value>(&mut conn)).await?)?;
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let Some(member) = items.next() {
            let score = items
                .next()
                .ok_or_else(|| protocol("event without score"))?;
            out.push(decode_event(reply::bytes(member)?, reply::score(score)?)?);
        }
        Ok(out)
    }

    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.eph_put_if_absent(key, value, ttl, now).await
    }

    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.eph_get(key, now).await
    }

    async fn take(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.eph_take(key, now).await
    }

    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError> {
        self.eph_delete(key).await
    }

    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError> {
        self.eph_count_attempt(key, max, ttl, now).await
    }

    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError> {
        self.eph_throttle(key, rate, cost, now).await
    }

    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.eph_refund(key, rate, cost, now).await
    }

    async fn map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.eph_map_put(user, map, field, value, expires_at, now)
            .await
    }

    async fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.eph_map_get(user, map, field, now).await
    }

    async fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError> {
        self.eph_map_list(user, map, now).await
    }

    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError> {
        self.eph_map_remove(user, map, field).await
    }

    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError> {
        self.eph_map_clear(user, map).await
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
