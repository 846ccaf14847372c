//! Every revocation path publishes a notice on `<prefix>revocations` (Redis backends; see
//! `tessera_store::redis::invalidation`). The subscriber sits on the last node, so on
//! Cluster most notices cross nodes — a plain `PUBLISH` reaches every node.

use std::time::Duration;

use ::redis::{AsyncConnectionConfig, IntoConnectionInfo, Msg, ProtocolVersion, PushKind};
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::redis::{Revocation, revocations_channel};
use tessera_store::*;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::RedisAccess;
use crate::support::fixtures::*;

/// A RESP3 subscription to the store's revocation channel on the last node.
struct Subscriber {
    _conn: ::redis::aio::MultiplexedConnection,
    rx: UnboundedReceiver<::redis::PushInfo>,
}

impl Subscriber {
    async fn new(redis: &RedisAccess) -> Self {
        let port = *redis.ports.last().unwrap();
        let info = format!("redis://127.0.0.1:{port}")
            .into_connection_info()
            .unwrap();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = ::redis::Client::open(info.set_redis_settings(settings)).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let config = AsyncConnectionConfig::new().set_push_sender(tx);
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        conn.subscribe(revocations_channel(redis.store.key_prefix()))
            .await
            .unwrap();
        Self { _conn: conn, rx }
    }

    /// The next revocation notice (subscription confirmations skipped), within 2 s.
    async fn next(&mut self) -> Revocation {
        loop {
            let push = tokio::time::timeout(Duration::from_secs(2), self.rx.recv())
                .await
                .expect("a revocation notice within 2 s")
                .expect("subscription open");
            if push.kind != PushKind::Message {
                continue;
            }
            let msg = Msg::from_push_info(push).unwrap();
            return Revocation::parse(msg.get_payload_bytes())
                .unwrap_or_else(|| panic!("unparsable notice {:?}", msg.get_payload_bytes()));
        }
    }

    /// Nothing more arrives within 200 ms.
    async fn quiet(&mut self) {
        while let Ok(Some(push)) =
            tokio::time::timeout(Duration::from_millis(200), self.rx.recv()).await
        {
            assert_ne!(push.kind, PushKind::Message, "unexpected notice {push:?}");
        }
    }
}

pub async fn every_revocation_path_publishes_a_notice(redis: RedisAccess) {
    let store: &dyn StateStore = &redis.store;
    let mut sub = Subscriber::new(&redis).await;
    let t0 = Timestamp::now();

    // Logout / session delete.
    let o = open_default(store, UserId::new(), t0).await;
    store.revoke_session(o.user, o.session, t0).await.unwrap();
    assert_eq!(sub.next().await, Revocation::Session(o.user, o.session));

    // RFC 7009 revocation by a refresh token: a notice only when it revoked.
    let o = open_default(store, UserId::new(), t0).await;
    assert!(
        !store
            .revoke_session_by_refresh(o.user, o.session, &hash(), t0)
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_session_by_refresh(o.user, o.session, &o.refresh, t0)
            .await
            .unwrap()
    );
    assert_eq!(sub.next().await, Revocation::Session(o.user, o.session));

    // Logout-all / ban / admin revoke.
    let o = open_default(store, UserId::new(), t0).await;
    store.revoke_user(o.user, t0).await.unwrap();
    assert_eq!(sub.next().await, Revocation::User(o.user));

    // Single-token and RFC 7009 revocation, both modes.
    for mode in [RevocationMode::Allowlist, RevocationMode::Denylist] {
        let o = open_default(store, UserId::new(), t0).await;
        store
            .revoke_access_token(o.user, o.session, o.access, mode, t0)
            .await
            .unwrap();
        assert_eq!(sub.next().await, Revocation::Token(o.user, o.access.jti));
    }

    // Theft: a replay after the grace window revokes the family.
    let o = open_default(store, UserId::new(), t0).await;
    store
        .rotate_refresh(rotation(&o, o.refresh, t0), t0)
        .await
        .unwrap();
    let late = at(t0, GRACE + Duration::from_millis(1));
    let out = store
        .rotate_refresh(rotation(&o, o.refresh, late), late)
        .await
        .unwrap();
    assert_eq!(out, RotationOutcome::Reused);
    assert_eq!(sub.next().await, Revocation::Session(o.user, o.session));

    // Theft by an older generation (two rotations back): the same notice.
    let o = open_default(store, UserId::new(), t0).await;
    let r1 = rotation_of(&o, o.refresh, 0, t0);
    store.rotate_refresh(r1.clone(), t0).await.unwrap();
    store
        .rotate_refresh(rotation_of(&o, r1.successor, 1, t0), t0)
        .await
        .unwrap();
    let out = store
        .rotate_refresh(rotation_of(&o, o.refresh, 0, t0), t0)
        .await
        .unwrap();
    assert_eq!(out, RotationOutcome::Reused);
    assert_eq!(sub.next().await, Revocation::Session(o.user, o.session));
    // A password change: one notice per other session, none for the kept one.
    let user = UserId::new();
    let keep = open_default(store, user, t0).await;
    let other = open_default(store, user, t0).await;
    assert_eq!(
        store
            .revoke_user_except(user, keep.session, t0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(sub.next().await, Revocation::Session(user, other.session));

    // Eviction by the session limit: one notice per evicted session, oldest first.
    let user = UserId::new();
    let a = open_default(store, user, t0).await;
    let b = open_default(store, user, at(t0, Duration::from_secs(1))).await;
    let t2 = at(t0, Duration::from_secs(2));
    let mut n = new_session(user, t2);
    n.max_sessions = Some(1);
    let created = store.create_session(n, t2).await.unwrap();
    assert_eq!(created.evicted, vec![a.session, b.session]);
    assert_eq!(sub.next().await, Revocation::Session(user, a.session));
    assert_eq!(sub.next().await, Revocation::Session(user, b.session));

    // A raised token version (the store had fallen behind SQL) kills older tokens.
    let o = open_default(store, UserId::new(), t0).await;
    let mut n = new_session(o.user, t0);
    n.token_version = o.token_version + 5;
    store.create_session(n, t0).await.unwrap();
    assert_eq!(sub.next().await, Revocation::User(o.user));

    // Paths that revoke nothing publish nothing.
    let o = open_default(store, UserId::new(), t0).await;
    store
        .rotate_refresh(rotation(&o, o.refresh, t0), t0)
        .await
        .unwrap();
    store
        .check_access(check(&o, o.access, 0), RevocationMode::Allowlist, t0)
        .await
        .unwrap();
    sub.quiet().await;
}

/// Grants revoked by the cap on live grants ([`MAX_LIVE_GRANTS`]) publish one `t:` notice
/// each, oldest first.
pub async fn capped_grants_publish_a_notice_each(redis: RedisAccess) {
    let store: &dyn StateStore = &redis.store;
    let mut sub = Subscriber::new(&redis).await;
    let t0 = Timestamp::now();
    let chain = crate::suite::grants::rotate_n(store, t0, 19).await;
    for g in &chain.grants[..4] {
        assert_eq!(sub.next().await, Revocation::Token(chain.o.user, g.jti));
    }
    sub.quiet().await;
}
