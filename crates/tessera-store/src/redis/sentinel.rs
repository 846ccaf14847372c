//! Redis Sentinel: the `redis+sentinel://` URL and a master connection that follows
//! failovers ([`SentinelConn`]).
//!
//! # URL
//!
//! `redis+sentinel://[user[:password]@]host[:port][,host[:port]…]/<master-name>[/<db>]`
//!
//! redis-rs has no URL scheme for Sentinel, so this one follows the usual convention of
//! other clients (comma-separated sentinels, the monitored master's name as the path):
//! - the hosts are the **sentinels** (default port 26379), asked in order;
//! - `user:password` are the credentials of the **data nodes** (the master Tessera writes
//!   to: an ACL user or `requirepass`), percent-decoded; the sentinels are asked without
//!   credentials;
//! - `<master-name>` is the name the sentinels monitor (`sentinel monitor <name> …`);
//! - `<db>` the database number (default 0).
//!
//! Query parameters, TLS (`rediss+sentinel://`) and authenticated sentinels are not
//! supported and are refused with a configuration error rather than ignored.
//!
//! # Failover
//!
//! redis-rs resolves the master only when a client is built and does not follow
//! `+switch-master` (redis-rs #1438). [`SentinelConn`] therefore keeps the current master's
//! [`ConnectionManager`] in an [`ArcSwap`] and asks the sentinels again (single-flight):
//! - at once when a sentinel announces `+switch-master` for our master: a background task
//!   stays subscribed to that channel on one sentinel (the next one when it fails). This
//!   matters most for a manual failover (`SENTINEL FAILOVER`), where the old master stays
//!   up and writable for seconds after the replica was promoted, until Sentinel demotes it:
//!   writes sent to it meanwhile would be lost;
//! - after any call that failed with an I/O error, a dropped or refused connection, a
//!   timeout, `READONLY` (the node was demoted to a replica) or `MASTERDOWN` (at most every
//!   [`RESOLVE_MIN_GAP`]);
//! - every [`WATCH_EVERY`] in the background, in case an announcement was missed.
//!
//! When the sentinels name another master (one that answers `ROLE` as master — redis-rs
//! checks that), a new manager is connected and swapped in; calls already in flight finish
//! on the old one. The call that met the failure is not retried here (it may have been a
//! write): it fails with [`StoreError::Unavailable`](crate::StoreError::Unavailable), and
//! the next call goes to the new master. Scripts are loaded on the new master on first use
//! (`NOSCRIPT` reload, see `scripts.rs`).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, Msg,
    Pipeline, PushKind, RedisError, RedisFuture, RedisResult, ServerErrorKind, Value,
};

use super::error::ConfigError;

/// The URL scheme of a Sentinel deployment.
pub const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// Port of a sentinel given without one.
const DEFAULT_SENTINEL_PORT: u16 = 26379;
/// Smallest pause between two lookups of the master.
pub(crate) const RESOLVE_MIN_GAP: Duration = Duration::from_millis(200);
/// Period of the background check of the master's address.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(2);
/// Pause before subscribing to `+switch-master` again (on the next sentinel).
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// True for a `redis+sentinel://` URL.
pub fn is_sentinel_url(url: &str) -> bool {
    url.get(..SENTINEL_SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SENTINEL_SCHEME))
}

/// Checks a `redis+sentinel://` URL without connecting. The error says what is wrong and
/// never contains the password.
pub fn check_sentinel_url(url: &str) -> Result<(), String> {
    SentinelUrl::parse(url).map(|_| ()).map_err(|e| e.0)
}

/// A parsed `redis+sentinel://` URL. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SentinelUrl {
    pub(crate) sentinels: Vec<(String, u16)>,
    pub(crate) master_name: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
}

impl std::fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelUrl")
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .finish()
    }
}

impl SentinelUrl {
    /// Parses `url`. Errors name what is wrong, never the password.
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |m: &str| ConfigError(format!("redis+sentinel URL: {m}"));
        if !is_sentinel_url(url) {
            return Err(bad("expected the scheme redis+sentinel://"));
        }
        let rest = &url[SENTINEL_SCHEME.len()..];
        if rest.contains(['?', '#']) {
            return Err(bad("query parameters and fragments are not supported"));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    // `redis://secret@host` means "password only" to redis-rs: the same here.
                    None => ("", Some(u)),
                };
                let user = percent_decode(user).ok_or_else(|| bad("bad escape in user name"))?;
                let pass = pass
                    .map(|p| percent_decode(p).ok_or_else(|| bad("bad escape in password")))
                    .transpose()?;
                (
                    (!user.is_empty()).then_some(user),
                    pass.filter(|p| !p.is_empty()),
                )
            }
        };
        let mut sentinels = Vec::new();
        for host in hosts.split(',') {
            let host = host.trim();
            if host.is_empty() {
                return Err(bad("empty sentinel address"));
            }
            let (name, port) = match host.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                    let port = p
                        .parse::<u16>()
                        .map_err(|_| bad("sentinel port is not a number"))?;
                    (h, port)
                }
                _ => (host, DEFAULT_SENTINEL_PORT),
            };
            let name = name.trim_start_matches('[').trim_end_matches(']');
            if name.is_empty() {
                return Err(bad("empty sentinel host"));
            }
            sentinels.push((name.to_owned(), port));
        }
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let master_name = segments
            .next()
            .map(percent_decode)
            .ok_or_else(|| {
                bad("the path must name the master: redis+sentinel://host:port/<master-name>")
            })?
            .ok_or_else(|| bad("bad escape in master name"))?;
        let db = match segments.next() {
            None => 0,
            Some(d) => d
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| bad("database after the master name must be a number"))?,
        };
        if segments.next().is_some() {
            return Err(bad(
                "too many path segments (expected /<master-name>[/<db>])",
            ));
        }
        Ok(Self {
            sentinels,
            master_name,
            username,
            password,
            db,
        })
    }

    /// A client that asks the sentinels for the master (`protocol`: of the data-node
    /// connections it builds).
    pub(crate) fn client(&self, protocol: redis::ProtocolVersion) -> RedisResult<SentinelClient> {
        let nodes = self
            .sentinels
            .iter()
            .map(|(h, p)| ConnectionAddr::Tcp(h.clone(), *p));
        let mut b =
            SentinelClientBuilder::new(nodes, &self.master_name, SentinelServerType::Master)?
                .set_client_to_redis_db(self.db)
                .set_client_to_redis_protocol(protocol);
        if let Some(u) = &self.username {
            b = b.set_client_to_redis_username(u);
        }
        if let Some(p) = &self.password {
            b = b.set_client_to_redis_password(p);
        }
        b.build()
    }
}

/// `%XX` escapes decoded; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Asks the sentinels of `url` for the current master and returns how to connect to it
/// (with `protocol`), bounded by `timeout`. For subscribers that need a connection of
/// their own (the guard's revocation subscription).
pub async fn resolve_master(
    url: &str,
    protocol: redis::ProtocolVersion,
    timeout: Duration,
) -> RedisResult<ConnectionInfo> {
    let parsed = SentinelUrl::parse(url)
        .map_err(|e| RedisError::from((ErrorKind::InvalidClientConfig, "bad sentinel url", e.0)))?;
    let mut client = parsed.client(protocol)?;
    match tokio::time::timeout(timeout, client.async_get_client()).await {
        Ok(client) => Ok(client?.get_connection_info().clone()),
        Err(_) => Err(lookup_timed_out()),
    }
}

/// A connection to one sentinel (the first of the URL's that answers) that says where the
/// master is now: for a subscriber on the master (the guard's revocation subscription),
/// which must move as soon as the master does (after a `SENTINEL FAILOVER` the old master
/// stays up, and is not a replica of the new one, until Sentinel demotes it).
pub struct MasterWatch {
    conn: redis::aio::MultiplexedConnection,
    master_name: String,
}

impl MasterWatch {
    /// Connects to the first sentinel of `url` that answers within `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> RedisResult<Self> {
        let parsed = SentinelUrl::parse(url).map_err(|e| {
            RedisError::from((ErrorKind::InvalidClientConfig, "bad sentinel url", e.0))
        })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let mut last = None;
        for (host, port) in &parsed.sentinels {
            let info = ConnectionAddr::Tcp(host.clone(), *port).into_connection_info()?;
            let client = redis::Client::open(info)?;
            match client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(conn) => {
                    return Ok(Self {
                        conn,
                        master_name: parsed.master_name,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(lookup_timed_out))
    }

    /// `host:port` of the master as the sentinel names it now (`SENTINEL
    /// GET-MASTER-ADDR-BY-NAME`, which names the promoted replica as soon as it is promoted).
    pub async fn master_addr(&mut self) -> RedisResult<String> {
        let (host, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(&self.master_name)
            .query_async(&mut self.conn)
            .await?;
        Ok(format!("{host}:{port}"))
    }
}

fn lookup_timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no sentinel named the master in time",
    ))
}

/// The master as last resolved.
struct Current {
    /// `host:port` (no credentials), for comparing and logging.
    addr: String,
    manager: ConnectionManager,
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
        });
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
    let manager = ConnectionManager::new_with_config(client, config).await?;
    Ok(Current { addr, manager })
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
        let connected = tokio::time::timeout(
            self.lookup_timeout,
            ConnectionManager::new_with_config(client, self.manager_config.clone()),
        )
        .await;
        match connected {
            Ok(Ok(manager)) => {
                tracing::warn!(master = %self.master_name, from = %old, to = %addr, "Redis master moved (Sentinel failover); switched");
                self.current.store(Arc::new(Current { addr, manager }));
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

/// The background check: every [`WATCH_EVERY`] while a clone of the connection exists.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sentinels_master_credentials_and_db() {
        let u = SentinelUrl::parse(
            "redis+sentinel://alice:p%40ss@10.0.0.1:26380,s2,[::1]:5000/mymaster/3",
        )
        .unwrap();
        assert_eq!(
            u.sentinels,
            vec![
                ("10.0.0.1".to_owned(), 26380),
                ("s2".to_owned(), 26379),
                ("::1".to_owned(), 5000)
            ]
        );
        assert_eq!(u.master_name, "mymaster");
        assert_eq!(u.username.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.db, 3);
        let dbg = format!("{u:?}");
        assert!(!dbg.contains("p@ss") && !dbg.contains("p%40ss"), "{dbg}");

        let u = SentinelUrl::parse("REDIS+SENTINEL://:secret@h:1/m").unwrap();
        assert_eq!(
            (u.username, u.password.as_deref(), u.db),
            (None, Some("secret"), 0)
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour_without_echoing_the_password() {
        for bad in [
            "redis://h:1/m",
            "redis+sentinel://h:1",
            "redis+sentinel://h:1/",
            "redis+sentinel://h:x/m",
            "redis+sentinel://h:1,/m",
            "redis+sentinel://u:hunter2@h:1/m?tls=true",
            "redis+sentinel://u:hunter2@h:1/m/x",
            "redis+sentinel://u:hunter2@h:1/m/1/2",
            "redis+sentinel://u:hunter2%zz@h:1/m",
        ] {
            let e = SentinelUrl::parse(bad).expect_err(bad);
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}
