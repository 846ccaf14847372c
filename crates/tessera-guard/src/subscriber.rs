//! The revocation subscription: applies notices to the near-cache and detects drops.
//!
//! One dedicated RESP3 connection (not the store's command connection) runs
//! `SUBSCRIBE <prefix>revocations`; pushes arrive through the driver's push channel.
//!
//! # Behaviour
//! - The cache turns live only once the server has **confirmed** the subscription, after
//!   being emptied ([`NearCache::set_live`]).
//! - The cache turns down (emptied, bypassed) **at once** when the driver reports the
//!   disconnection (`PushKind::Disconnection`, or the push channel closing), when the server
//!   ends the subscription, or when a `PING` on the connection is not answered within
//!   `ping_every` (a half-open TCP connection sends no RST: the ping bounds how long a dead
//!   link goes unnoticed).
//! - Then it reconnects with backoff (100 ms doubling to 5 s), moving to the next URL of
//!   the configuration on each failure. On Cluster one node is enough: a plain `PUBLISH`
//!   reaches the subscribers of every node.
//! - With Sentinel (`redis+sentinel://`) every connection first asks the sentinels for the
//!   current master and subscribes there, and at every `ping_every` asks a sentinel where
//!   the master is now: when it names another node, the subscription is ended as above
//!   (cache down) and made again on the new master. A failover that kills the master drops
//!   the subscription anyway; after a manual one (`SENTINEL FAILOVER`) the old master stays
//!   up, no longer receiving the new master's notices, until Sentinel demotes it seconds
//!   later — without the check the cache would stay live on a deaf subscription that long.
//! - A notice that does not parse empties the cache (it might have named anything).

use std::sync::Arc;
use std::time::Duration;

use redis::{AsyncConnectionConfig, IntoConnectionInfo, Msg, ProtocolVersion, PushInfo, PushKind};
use tessera_store::redis::{MasterWatch, Revocation, is_sentinel_url, resolve_master};

use crate::cache::NearCache;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Subscription settings.
pub(crate) struct Subscription {
    pub(crate) urls: Vec<String>,
    pub(crate) channel: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) ping_every: Duration,
    /// The CA `rediss://` connections trust instead of the system roots (the store's
    /// `tls_ca_file`).
    pub(crate) tls: Option<redis::TlsCertificates>,
}

/// Runs until aborted: subscribe, apply notices, and on any drop mark the cache down and
/// start again.
pub(crate) async fn run(sub: Subscription, cache: Arc<NearCache>) {
    let mut backoff = BACKOFF_MIN;
    let mut next = 0usize;
    loop {
        let Some(url) = sub.urls.get(next % sub.urls.len().max(1)) else {
            return;
        };
        match session(url, &sub, &cache).await {
            Ok(()) => {
                tracing::warn!(
                    "revocation subscription lost; near-cache bypassed until it is back"
                );
                backoff = BACKOFF_MIN;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot subscribe to revocation notices; near-cache bypassed");
                next = next.wrapping_add(1);
            }
        }
        cache.set_down();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection's life. `Err` when the subscription could not be established; `Ok` when
/// it was established and then lost.
async fn session(url: &str, sub: &Subscription, cache: &NearCache) -> redis::RedisResult<()> {
    let info = if is_sentinel_url(url) {
        resolve_master(url, ProtocolVersion::RESP3, sub.connect_timeout * 2).await?
    } else {
        url.into_connection_info()?
    };
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let info = info.set_redis_settings(settings);
    let subscribed_to = info.addr().to_string();
    let mut master_watch = if is_sentinel_url(url) {
        Some(MasterWatch::connect(url, sub.connect_timeout).await?)
    } else {
        None
    };
    let client = match &sub.tls {
        Some(certs)
            if url
                .get(..9)
                .is_some_and(|s| s.eq_ignore_ascii_case("rediss://")) =>
        {
            redis::Client::build_with_tls(info, certs.clone())?
        }
        _ => redis::Client::open(info)?,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(sub.connect_timeout))
        .set_response_timeout(Some(sub.ping_every.max(Duration::from_millis(100))))
        .set_push_sender(tx);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    conn.subscribe(&sub.channel).await?;
    cache.set_live();
    tracing::info!(channel = %sub.channel, "subscribed to revocation notices; near-cache live");

    let mut ping = tokio::time::interval(sub.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            push = rx.recv() => {
                if !apply(push, cache) {
                    return Ok(());
                }
            }
            _ = ping.tick() => {
                let answered = tokio::time::timeout(
                    sub.ping_every,
                    redis::cmd("PING").query_async::<redis::Value>(&mut conn),
                )
                .await;
                if !matches!(answered, Ok(Ok(_))) {
                    return Ok(());
                }
                if let Some(watch) = master_watch.as_mut() {
                    let named = tokio::time::timeout(sub.ping_every, watch.master_addr()).await;
                    match named {
                        Ok(Ok(addr)) if addr != subscribed_to => {
                            tracing::info!(from = %subscribed_to, to = %addr, "Redis master moved; subscribing on the new one");
                            return Ok(());
                        }
                        Ok(Ok(_)) => {}
                        // A sentinel that does not answer: ask another next time.
                        _ => return Ok(()),
                    }
                }
            }
        }
    }
}

/// Applies one push; `false` when the subscription is gone.
fn apply(push: Option<PushInfo>, cache: &NearCache) -> bool {
    let Some(push) = push else {
        return false;
    };
    match push.kind {
        PushKind::Message => {
            let parsed =
                Msg::from_push_info(push).and_then(|m| Revocation::parse(m.get_payload_bytes()));
            match parsed {
                Some(r) => cache.invalidate(r),
                None => {
                    tracing::warn!("unparsable revocation notice; near-cache flushed");
                    cache.flush();
                }
            }
            true
        }
        PushKind::Disconnection | PushKind::Unsubscribe => false,
        _ => true,
    }
}
