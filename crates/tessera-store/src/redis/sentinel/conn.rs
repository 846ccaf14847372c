//! [`SentinelConn`]: the master connection that follows failovers (see the module docs of
//! `sentinel`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::SentinelClient;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Msg, Pipeline,
    PushKind, RedisError, RedisFuture, RedisResult, ServerErrorKind, Value,
};

use super::lookup::{MasterWatch, lookup_timed_out};
use super::url::SentinelUrl;

/// Smallest pause between two lookups of the master.
pub(crate) const RESOLVE_MIN_GAP: Duration = Duration::from_millis(200);
/// Period of the background check of the master's address.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(2);
/// Pause before subscribing to `+switch-master` again (on the next sentinel).
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// The master as last resolved.
struct Current {
    /// `host:port` (no credentials), for comparing and logging.
    addr: String,
    manager: ConnectionManager,
    /// A second connection to the same master, only for [`SentinelConn::replicated`]: `WAIT`
    /// blocks the connection it is sent on, so it must not be the shared one.
    barrier: ConnectionManager,
}

/// What [`SentinelConn::replicated`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Replication {
    /// Replicas the sentinels would promote now (each must hold the writes).
    pub(crate) needed: usize,
    /// Of those, how many acknowledged them in time.
    pub(crate) acked: usize,
    /// The master was switched since the writes began: they may be on another master.
    pub(crate) switched: bool,
}

/// The longest a barrier's `WAIT` may block before its reply is given up on: beyond any
/// `WAIT` timeout the store asks for (its operation timeout bounds the call anyway).
const BARRIER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The barrier connection's settings: the store's, but a reply may take as long as a `WAIT`
/// (the shared connection's response timeout would cut it short and hide the verdict).
fn barrier_config(shared: &ConnectionManagerConfig) -> ConnectionManagerConfig {
    shared
        .clone()
        .set_response_timeout(Some(BARRIER_RESPONSE_TIMEOUT))
}

/// The replication offset in a master's `ROLE` reply (`["master", offset, replicas]`).
fn master_offset(role: &Value) -> RedisResult<i64> {
    match role {
        Value::Array(items) if items.len() >= 2 => Ok(redis::from_redis_value_ref(&items[1])?),
        _ => Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "ROLE did not answer as a master",
        ))),
    }
}

/// `(ip, port, acknowledged offset)` of each replica in a master's `ROLE` reply.
fn replica_offsets(role: &Value) -> RedisResult<Vec<(String, u16, i64)>> {
    let Value::Array(items) = role else {
        return Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "ROLE did not answer an array",
        )));
    };
    let Some(Value::Array(replicas)) = items.get(2) else {
        return Ok(Vec::new());
    };
    replicas
        .iter()
        .map(|r| {
            let (ip, port, offset): (String, String, String) = redis::from_redis_value_ref(r)?;
            let bad = || RedisError::from((ErrorKind::UnexpectedReturnType, "ROLE replica entry"));
            Ok((
                ip,
                port.parse().map_err(|_| bad())?,
                offset.parse().map_err(|_| bad())?,
            ))
        })
        .collect()
}

struct Shared {
    current: ArcSwap<Current>,
    /// The sentinel client; held by the one lookup in progress.
    sentinel: tokio::sync::Mutex<SentinelClient>,
    /// When the last lookup started.
    last_lookup: std::sync::Mutex<Option<Instant>>,
    manager_config: ConnectionManagerConfig,
    lookup_timeout: Duration,
    master_name: String,
    /// The sentinels (for counting promotable replicas).
    url: SentinelUrl,
    /// The replicas (`ip`, `port`) the sentinels would promote now, as last listed (every
    /// [`WATCH_EVERY`] and after each switch); when they cannot be asked, the last list
    /// stands.
    /// `None` until the sentinels have answered once: a revocation then waits for one
    /// replica, whichever, rather than for none.
    promotable: ArcSwap<Option<Vec<(String, u16)>>>,
    /// Master switches so far ([`SentinelConn::switches`]).
    switches: AtomicU64,
    /// The sentinel connection the count is asked on (connected on demand).
    counter: tokio::sync::Mutex<Option<MasterWatch>>,
}

/// A connection to the master of a Sentinel deployment that follows failovers (module docs).
/// Cheap to clone; clones share the connection and the watcher.
#[derive(Clone)]
pub(crate) struct SentinelConn {
    shared: Arc<Shared>,
}

impl SentinelConn {
    /// Resolves the master and connects to it; starts the background watcher (which stops
    /// when the last clone is dropped).
    pub(crate) async fn connect(
        url: &SentinelUrl,
        manager_config: ConnectionManagerConfig,
        lookup_timeout: Duration,
    ) -> RedisResult<Self> {
        let mut sentinel = url.client(redis::ProtocolVersion::RESP2)?;
        let current = match tokio::time::timeout(
            lookup_timeout,
            connect_master(&mut sentinel, manager_config.clone()),
        )
        .await
        {
            Ok(current) => current?,
            Err(_) => return Err(lookup_timed_out()),
        };
        tracing::info!(master = %url.master_name, addr = %current.addr, "connected to the Redis master named by Sentinel");
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(current),
            sentinel: tokio::sync::Mutex::new(sentinel),
            last_lookup: std::sync::Mutex::new(Some(Instant::now())),
            manager_config,
            lookup_timeout,
            master_name: url.master_name.clone(),
            url: url.clone(),
            promotable: ArcSwap::from_pointee(None),
            switches: AtomicU64::new(0),
            counter: tokio::sync::Mutex::new(None),
        });
        shared.count_promotable().await;
        tokio::spawn(watch(Arc::downgrade(&shared)));
        tokio::spawn(follow_switches(
            Arc::downgrade(&shared),
            url.sentinels.clone(),
            lookup_timeout.min(Duration::from_secs(1)),
        ));
        Ok(Self { shared })
    }

    /// A handle to the current master's connection.
    pub(crate) fn manager(&self) -> ConnectionManager {
        self.shared.current.load().manager.clone()
    }

    /// How many times the master has been switched so far: a revocation reads it before
    /// its script and hands it to [`replicated`](Self::replicated), which refuses when the
    /// master changed in between (the script and the barrier may then have run on two
    /// different masters).
    pub(crate) fn switches(&self) -> u64 {
        self.shared.switches.load(Ordering::SeqCst)
    }

    /// Waits (up to `timeout`) until every replica the sentinels would promote has
    /// acknowledged every write this process sent the master before the call, so that a
    /// failover cannot lose them. On the barrier connection, in one pipeline (Redis runs a
    /// client's pipelined commands back to back): a write (after ours in the replication
    /// stream, which is ordered), `ROLE` (the master's offset right after it), `WAIT` (for
    /// as many replicas as can be promoted), `ROLE` again (each replica's acknowledged
    /// offset). Only the promotable replicas' own acknowledgements count — a healthy replica
    /// that can never be promoted must not stand in for one that is cut off. With none to
    /// wait for, no failover can happen. `since` is [`switches`](Self::switches) as read
    /// before the writes.
    pub(crate) async fn replicated(
        &self,
        key: &str,
        timeout: Duration,
        since: u64,
    ) -> RedisResult<Replication> {
        let promotable = self.shared.promotable.load_full();
        let needed = promotable.as_ref().as_ref().map_or(1, Vec::len);
        if needed == 0 {
            return Ok(Replication {
                needed,
                acked: 0,
                switched: self.switches() != since,
            });
        }
        let mut barrier = self.shared.current.load().barrier.clone();
        let millis = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let result: RedisResult<(Value, i64, Value)> = redis::pipe()
            .cmd("SET")
            .arg(key)
            .arg(1)
            .arg("PX")
            .arg(60_000)
            .ignore()
            .cmd("ROLE")
            .cmd("WAIT")
            .arg(needed)
            .arg(millis)
            .cmd("ROLE")
            .query_async(&mut barrier)
            .await;
        self.after(&result);
        let (before, waited, after) = result?;
        let target = master_offset(&before)?;
        let acks = replica_offsets(&after)?;
        let acked = match promotable.as_ref() {
            Some(list) => list
                .iter()
                .filter(|(ip, port)| {
                    acks.iter()
                        .any(|(i, p, o)| i == ip && p == port && *o >= target)
                })
                .count(),
            // Not listed yet: any one replica.
            None => usize::try_from(waited).unwrap_or(0),
        };
        Ok(Replication {
            needed,
            acked,
            switched: self.switches() != since,
        })
    }

    /// Starts a lookup of the master in the background when `result` failed in a way that
    /// may mean a failover.
    fn after<T>(&self, result: &RedisResult<T>) {
        if let Err(e) = result
            && may_be_failover(e)
        {
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move { shared.lookup(false).await });
        }
    }
}

/// Errors after which the master is looked up again.
fn may_be_failover(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
        || e.code() == Some("READONLY")
}

/// Asks `sentinel` for the master and connects a manager to it.
async fn connect_master(
    sentinel: &mut SentinelClient,
    config: ConnectionManagerConfig,
) -> RedisResult<Current> {
    let client = sentinel.async_get_client().await?;
    let addr = client.get_connection_info().addr().to_string();
    let manager = ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
    let barrier = ConnectionManager::new_with_config(client, barrier_config(&config)).await?;
    Ok(Current {
        addr,
        manager,
        barrier,
    })
}

impl Shared {
    /// One lookup of the master; swaps the connection when the master moved. Unless
    /// `announced` (a sentinel said the master moved: wait for a lookup in progress, then
    /// look again), skipped when one is running or one started less than
    /// [`RESOLVE_MIN_GAP`] ago.
    async fn lookup(&self, announced: bool) {
        let mut sentinel = if announced {
            self.sentinel.lock().await
        } else {
            match self.sentinel.try_lock() {
                Ok(guard) => guard,
                Err(_) => return,
            }
        };
        {
            let mut last = self.last_lookup.lock().unwrap_or_else(|e| e.into_inner());
            if !announced && last.is_some_and(|t| t.elapsed() < RESOLVE_MIN_GAP) {
                return;
            }
            *last = Some(Instant::now());
        }
        let found = tokio::time::timeout(self.lookup_timeout, sentinel.async_get_client()).await;
        let client = match found {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                tracing::warn!(master = %self.master_name, error = %e, "Sentinel lookup of the Redis master failed");
                return;
            }
            Err(_) => {
                tracing::warn!(master = %self.master_name, "Sentinel lookup of the Redis master timed out");
                return;
            }
        };
        let addr = client.get_connection_info().addr().to_string();
        let old = self.current.load().addr.clone();
        if addr == old {
            return;
        }
        let connected = tokio::time::timeout(self.lookup_timeout, async {
            let manager =
                ConnectionManager::new_with_config(client.clone(), self.manager_config.clone())
                    .await?;
            let barrier =
                ConnectionManager::new_with_config(client, barrier_config(&self.manager_config))
                    .await?;
            RedisResult::Ok((manager, barrier))
        })
        .await;
        match connected {
            Ok(Ok((manager, barrier))) => {
                tracing::warn!(master = %self.master_name, from = %old, to = %addr, "Redis master moved (Sentinel failover); switched");
                self.current.store(Arc::new(Current {
                    addr,
                    manager,
                    barrier,
                }));
                self.switches.fetch_add(1, Ordering::SeqCst);
                // The old master is now one of the new one's replicas, and down or not.
                self.count_promotable().await;
            }
            Ok(Err(e)) => {
                tracing::warn!(master = %self.master_name, to = %addr, error = %e, "cannot connect to the new Redis master yet");
            }
            Err(_) => {
                tracing::warn!(master = %self.master_name, to = %addr, "connecting to the new Redis master timed out");
            }
        }
    }
}

impl Shared {
    /// Counts the replicas the sentinels would promote now into `promotable` (on the first
    /// sentinel that answers, kept until it fails); a failure keeps the last count.
    async fn count_promotable(&self) {
        let mut conn = self.counter.lock().await;
        if conn.is_none() {
            *conn = MasterWatch::connect_to(&self.url, self.lookup_timeout)
                .await
                .ok();
        }
        let Some(c) = conn.as_mut() else { return };
        match tokio::time::timeout(self.lookup_timeout, c.promotable_replicas()).await {
            Ok(Ok(list)) => {
                let n = list.len();
                let before = self.promotable.swap(Arc::new(Some(list)));
                if before.as_ref().as_ref().is_none_or(|b| b.len() != n) {
                    tracing::info!(master = %self.master_name, promotable = n, "replicas Sentinel would promote (revocations wait for each)");
                }
            }
            Ok(Err(_)) | Err(_) => *conn = None,
        }
    }
}

/// The background check: every [`WATCH_EVERY`] while a clone of the connection exists,
/// the master's address and the count of promotable replicas.
async fn watch(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.lookup(false).await;
        shared.count_promotable().await;
    }
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut manager = self.manager();
            let result = manager.req_packed_command(cmd).await;
            self.after(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut manager = self.manager();
            let result = manager.req_packed_commands(pipeline, offset, count).await;
            self.after(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.shared.current.load().manager.get_db()
    }
}

/// Stays subscribed to `+switch-master` on one sentinel at a time (the next one after a
/// failure) while a clone of the connection exists, and looks the master up at once when
/// ours is announced to have moved.
async fn follow_switches(shared: Weak<Shared>, sentinels: Vec<(String, u16)>, timeout: Duration) {
    let mut next = 0usize;
    while shared.strong_count() > 0 {
        let Some((host, port)) = sentinels.get(next % sentinels.len().max(1)).cloned() else {
            return;
        };
        next = next.wrapping_add(1);
        if let Err(e) = listen_for_switches(&shared, host, port, timeout).await {
            tracing::debug!(error = %e, "cannot follow +switch-master on a sentinel; trying the next");
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// One subscription's life: `Ok` when it ended (or the connection is no longer used).
async fn listen_for_switches(
    shared: &Weak<Shared>,
    host: String,
    port: u16,
    timeout: Duration,
) -> RedisResult<()> {
    let info = ConnectionAddr::Tcp(host, port).into_connection_info()?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(tx);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    conn.subscribe("+switch-master").await?;
    loop {
        let push = tokio::select! {
            push = rx.recv() => push,
            // Notice a dropped store even when no sentinel says anything.
            _ = tokio::time::sleep(WATCH_EVERY) => {
                if shared.strong_count() == 0 {
                    return Ok(());
                }
                continue;
            }
        };
        let Some(push) = push else {
            return Ok(());
        };
        match push.kind {
            PushKind::Message => {
                // Payload: `<master-name> <old-ip> <old-port> <new-ip> <new-port>`.
                let Some(shared) = shared.upgrade() else {
                    return Ok(());
                };
                let ours = Msg::from_push_info(push).is_some_and(|m| {
                    m.get_payload_bytes().split(|b| *b == b' ').next()
                        == Some(shared.master_name.as_bytes())
                });
                if ours {
                    tracing::info!(master = %shared.master_name, "Sentinel announced +switch-master");
                    shared.lookup(true).await;
                }
            }
            PushKind::Disconnection | PushKind::Unsubscribe => return Ok(()),
            _ => {}
        }
    }
}
