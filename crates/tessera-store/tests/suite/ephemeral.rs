//! Ephemeral records (account security): values claimed once and taken once, attempt
//! counters, GCRA throttles, per-user maps with per-entry expiry.
//!
//! Time moves by passing a later `now`; the periods are minutes long so that Redis's own
//! TTLs (on the real clock) never reclaim a record while a case runs.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::*;

const MIN: Duration = Duration::from_secs(60);

fn unique(name: &str) -> String {
    format!("{name}:{}", UserId::new())
}

pub async fn put_if_absent_writes_once_and_expires(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let key = EphemeralKey::user(user, "totp:57121123");
    let value = b"\x00\xff binary \x00".to_vec();
    assert!(
        store
            .put_if_absent(&key, &value, 5 * MIN, t0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_if_absent(&key, b"other", 5 * MIN, t0)
            .await
            .unwrap(),
        "a live record is never overwritten"
    );
    assert_eq!(store.get(&key, t0).await.unwrap(), Some(value.clone()));
    let almost = t0.plus(5 * MIN - Duration::from_millis(1));
    assert_eq!(store.get(&key, almost).await.unwrap(), Some(value));
    assert!(!store.put_if_absent(&key, b"x", MIN, almost).await.unwrap());
    // At its expiry the record is dead: missing for reads and for the next claim.
    let later = t0.plus(5 * MIN);
    assert_eq!(store.get(&key, later).await.unwrap(), None);
    assert!(store.put_if_absent(&key, b"new", MIN, later).await.unwrap());
    assert_eq!(store.get(&key, later).await.unwrap(), Some(b"new".to_vec()));
    // The same name in another scope, another user or under a tag is another record.
    let tag = unique("challenge");
    for other in [
        EphemeralKey::user(UserId::new(), "totp:57121123"),
        EphemeralKey::tag(tag.clone(), "totp:57121123"),
    ] {
        assert_eq!(store.get(&other, t0).await.unwrap(), None);
        assert!(store.put_if_absent(&other, b"o", MIN, t0).await.unwrap());
    }
    // An empty value is a value; a zero TTL writes nothing.
    let empty = EphemeralKey::tag(tag.clone(), "empty");
    assert!(store.put_if_absent(&empty, b"", MIN, t0).await.unwrap());
    assert_eq!(store.get(&empty, t0).await.unwrap(), Some(Vec::new()));
    let zero = EphemeralKey::tag(tag, "zero");
    assert!(
        !store
            .put_if_absent(&zero, b"z", Duration::ZERO, t0)
            .await
            .unwrap()
    );
    assert_eq!(store.get(&zero, t0).await.unwrap(), None);
}

pub async fn concurrent_put_if_absent_has_one_winner(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::user(UserId::new(), "reset:claim");
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.put_if_absent(&key, &[i], MIN, t0).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn take_is_won_by_exactly_one_of_32_concurrent_takers(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("reset"), "token");
    assert!(
        store
            .put_if_absent(&key, b"user-42", 15 * MIN, t0)
            .await
            .unwrap()
    );
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.take(&key, t0).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.extend(t.await.unwrap());
    }
    assert_eq!(got, vec![b"user-42".to_vec()], "exactly one taker wins");
    assert_eq!(store.get(&key, t0).await.unwrap(), None);
    assert_eq!(store.take(&key, t0).await.unwrap(), None);
    // A dead record is never taken (and is gone afterwards).
    assert!(store.put_if_absent(&key, b"again", MIN, t0).await.unwrap());
    assert_eq!(store.take(&key, t0.plus(MIN)).await.unwrap(), None);
    assert!(store.put_if_absent(&key, b"fresh", MIN, t0).await.unwrap());
    assert_eq!(store.take(&key, t0).await.unwrap(), Some(b"fresh".to_vec()));
}

pub async fn get_and_delete(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let key = EphemeralKey::user(user, "mfa:pending");
    assert_eq!(store.get(&key, t0).await.unwrap(), None);
    assert!(!store.delete(&key).await.unwrap());
    assert!(store.put_if_absent(&key, b"v", MIN, t0).await.unwrap());
    let bystander = EphemeralKey::user(user, "mfa:other");
    assert!(
        store
            .put_if_absent(&bystander, b"b", MIN, t0)
            .await
            .unwrap()
    );
    assert!(store.delete(&key).await.unwrap());
    assert!(!store.delete(&key).await.unwrap());
    assert_eq!(store.get(&key, t0).await.unwrap(), None);
    assert_eq!(
        store.get(&bystander, t0).await.unwrap(),
        Some(b"b".to_vec())
    );
}

pub async fn invalid_names_are_refused_and_write_nothing(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let long = "n".repeat(MAX_NAME_LEN + 1);
    let bad = [
        EphemeralKey::user(user, long.clone()),
        EphemeralKey::user(user, "a{b"),
        EphemeralKey::user(user, "a}b"),
        EphemeralKey::tag("t{", "n"),
        EphemeralKey::tag(long.clone(), "n"),
    ];
    for key in &bad {
        let err = store.put_if_absent(key, b"v", MIN, t0).await.unwrap_err();
        assert!(matches!(err, StoreError::Protocol(_)), "{key:?}: {err:?}");
        assert!(store.get(key, t0).await.is_err());
        assert!(store.take(key, t0).await.is_err());
        assert!(store.delete(key).await.is_err());
        assert!(store.count_attempt(key, 5, MIN, t0).await.is_err());
        let rate = Rate::new(5, MIN);
        assert!(store.throttle(key, rate, 1, t0).await.is_err());
    }
    let ok = EphemeralKey::user(user, "n".repeat(MAX_NAME_LEN));
    assert!(store.put_if_absent(&ok, b"v", MIN, t0).await.unwrap());
    assert!(matches!(
        store.map_put(user, "m{", "f", b"v", t0.plus(MIN), t0).await,
        Err(StoreError::Protocol(_))
    ));
    assert!(
        store
            .map_put(user, "m", &long, b"v", t0.plus(MIN), t0)
            .await
            .is_err()
    );
    assert!(store.map_get(user, &long, "f", t0).await.is_err());
    assert!(store.map_list(user, "}", t0).await.is_err());
    assert!(store.map_remove(user, "m", &long).await.is_err());
    assert!(store.map_clear(user, "{").await.is_err());
    assert!(store.map_list(user, "m", t0).await.unwrap().is_empty());
    // Field names may hold any character.
    store
        .map_put(user, "m", "{odd} field", b"v", t0.plus(MIN), t0)
        .await
        .unwrap();
    assert_eq!(
        store.map_get(user, "m", "{odd} field", t0).await.unwrap(),
        Some(b"v".to_vec())
    );
}

pub async fn count_attempt_counts_atomically_under_concurrency(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("challenge"), "attempts");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.count_attempt(&key, 5, 5 * MIN, t0).await.unwrap() })
        })
        .collect();
    let mut used = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.max, 5);
        assert_eq!(a.exhausted(), a.used > 5);
        assert_eq!(a.left(), 5u32.saturating_sub(a.used));
        used.push(a.used);
    }
    used.sort_unstable();
    assert_eq!(used, (1..=20).collect::<Vec<u32>>());
}

pub async fn count_attempt_window_does_not_slide(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let key = EphemeralKey::user(user, "login-failures");
    let window = 10 * MIN;
    let a = store.count_attempt(&key, 3, window, t0).await.unwrap();
    assert_eq!(a, Attempts { used: 1, max: 3 });
    assert!(!a.exhausted());
    assert_eq!(a.left(), 2);
    for (i, at) in [3 * MIN, 6 * MIN, 9 * MIN].into_iter().enumerate() {
        let a = store
            .count_attempt(&key, 3, window, t0.plus(at))
            .await
            .unwrap();
        assert_eq!(a.used, i as u32 + 2);
    }
    let a = store
        .count_attempt(&key, 3, window, t0.plus(9 * MIN))
        .await
        .unwrap();
    assert_eq!(a.used, 5);
    assert!(a.exhausted());
    assert_eq!(a.left(), 0);
    // The window opened at t0 ends at t0 + 10 min although attempts kept coming.
    let a = store
        .count_attempt(&key, 3, window, t0.plus(window))
        .await
        .unwrap();
    assert_eq!(a.used, 1, "a new window");
    // The counter is readable as a decimal and can be reset by deleting it.
    assert_eq!(
        store.get(&key, t0.plus(window)).await.unwrap(),
        Some(b"1".to_vec())
    );
    assert!(store.delete(&key).await.unwrap());
    assert_eq!(
        store
            .count_attempt(&key, 3, window, t0.plus(window))
            .await
            .unwrap()
            .used,
        1
    );
    // A live record of another kind is not a counter.
    let value = EphemeralKey::user(user, "a-value");
    assert!(store.put_if_absent(&value, b"v", MIN, t0).await.unwrap());
    assert!(matches!(
        store.count_attempt(&value, 3, MIN, t0).await,
        Err(StoreError::Protocol(_))
    ));
    assert_eq!(store.get(&value, t0).await.unwrap(), Some(b"v".to_vec()));
}

pub async fn throttle_allows_a_burst_then_refuses_and_refills(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("203.0.113.9"), "login");
    // 5 per 10 minutes: one every 2 minutes.
    let rate = Rate::new(5, 10 * MIN);
    for left in (0..5).rev() {
        let t = store.throttle(&key, rate, 1, t0).await.unwrap();
        assert_eq!(
            t,
            Throttle {
                allowed: true,
                retry_after: Duration::ZERO,
                remaining: left
            }
        );
    }
    let refused = store.throttle(&key, rate, 1, t0).await.unwrap();
    assert_eq!(
        refused,
        Throttle {
            allowed: false,
            retry_after: 2 * MIN,
            remaining: 0
        }
    );
    // Refusals are not counted: still 2 minutes, less the time that passed.
    let t1 = t0.plus(MIN);
    let refused = store.throttle(&key, rate, 1, t1).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after, MIN);
    // One token refills every 2 minutes.
    let t2 = t0.plus(2 * MIN);
    let t = store.throttle(&key, rate, 1, t2).await.unwrap();
    assert!(t.allowed);
    assert_eq!(t.remaining, 0);
    assert!(!store.throttle(&key, rate, 1, t2).await.unwrap().allowed);
    // After 6 more minutes 3 tokens are back; a request of cost 3 takes them all.
    let t8 = t0.plus(8 * MIN);
    let t = store.throttle(&key, rate, 3, t8).await.unwrap();
    assert_eq!((t.allowed, t.remaining), (true, 0));
    let t = store
        .throttle(&key, rate, 2, t8.plus(2 * MIN))
        .await
        .unwrap();
    assert_eq!(
        (t.allowed, t.retry_after),
        (false, 2 * MIN),
        "cost 2 needs one more token"
    );
    // Once the bucket is full again (10 minutes after the last allowed request) the whole
    // burst is back.
    let full = t8.plus(10 * MIN);
    let t = store.throttle(&key, rate, 1, full).await.unwrap();
    assert_eq!((t.allowed, t.remaining), (true, 4));
    // A cost above the burst is never allowed; a zero burst is a caller bug.
    let other = EphemeralKey::tag(unique("203.0.113.10"), "login");
    assert!(!store.throttle(&other, rate, 6, t0).await.unwrap().allowed);
    assert_eq!(
        store.throttle(&other, rate, 0, t0).await.unwrap().remaining,
        5
    );
    assert!(matches!(
        store.throttle(&other, Rate::new(0, MIN), 1, t0).await,
        Err(StoreError::Protocol(_))
    ));
}

pub async fn throttle_cost_zero_peeks_without_consuming(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let key = EphemeralKey::user(user, "mfa-throttle");
    let rate = Rate::new(2, 4 * MIN);
    for _ in 0..5 {
        let peek = store.throttle(&key, rate, 0, t0).await.unwrap();
        assert_eq!(
            peek,
            Throttle {
                allowed: true,
                retry_after: Duration::ZERO,
                remaining: 2
            }
        );
    }
    assert_eq!(
        store.get(&key, t0).await.unwrap(),
        None,
        "a peek stores nothing"
    );
    assert!(store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    assert_eq!(
        store.throttle(&key, rate, 0, t0).await.unwrap().remaining,
        1
    );
    assert!(store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    let peek = store.throttle(&key, rate, 0, t0).await.unwrap();
    assert_eq!(
        peek,
        Throttle {
            allowed: false,
            retry_after: 2 * MIN,
            remaining: 0
        },
        "a peek reports what a cost-1 request would see"
    );
    let peek = store
        .throttle(&key, rate, 0, t0.plus(2 * MIN))
        .await
        .unwrap();
    assert_eq!((peek.allowed, peek.remaining), (true, 1));
    // Throttles of different keys and users are independent.
    let other = EphemeralKey::user(UserId::new(), "mfa-throttle");
    assert_eq!(
        store.throttle(&other, rate, 1, t0).await.unwrap().remaining,
        1
    );
}

pub async fn concurrent_throttles_never_exceed_the_burst(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("email-hash"), "reset");
    let rate = Rate::new(7, 60 * MIN);
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.throttle(&key, rate, 1, t0).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    let mut remaining = Vec::new();
    for t in tasks {
        let t = t.await.unwrap();
        if t.allowed {
            allowed += 1;
            remaining.push(t.remaining);
        } else {
            assert_eq!(t.retry_after, Duration::from_millis(3_600_000 / 7));
        }
    }
    assert_eq!(allowed, 7);
    remaining.sort_unstable();
    assert_eq!(remaining, (0..7).collect::<Vec<u32>>());
}

/// Requests timed on arrival may reach the bucket out of order: the whole burst is still
/// allowed (each is judged at the latest arrival seen), and never more.
pub async fn out_of_order_arrivals_get_the_whole_burst_and_no_more(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("acct"), "fail");
    let rate = Rate::new(3, 3 * MIN);
    for late in [20, 10, 0] {
        let at = t0.plus(Duration::from_millis(late));
        assert!(
            store.throttle(&key, rate, 1, at).await.unwrap().allowed,
            "{late} ms"
        );
    }
    assert!(!store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    assert!(
        !store
            .throttle(&key, rate, 1, t0.plus(Duration::from_millis(30)))
            .await
            .unwrap()
            .allowed
    );
}

pub async fn refund_gives_back_a_reservation_and_never_more(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("203.0.113.20"), "fail");
    // 3 per 3 minutes: one every minute.
    let rate = Rate::new(3, 3 * MIN);
    assert!(
        !store.refund(&key, rate, 1, t0).await.unwrap(),
        "nothing taken yet"
    );
    for _ in 0..3 {
        assert!(store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    }
    assert!(!store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    // A refund makes room for exactly one more.
    assert!(store.refund(&key, rate, 1, t0).await.unwrap());
    let t = store.throttle(&key, rate, 0, t0).await.unwrap();
    assert_eq!((t.allowed, t.remaining), (true, 1));
    assert!(store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    assert!(!store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    // Giving back more than was taken fills the bucket, no further.
    assert!(store.refund(&key, rate, 10, t0).await.unwrap());
    assert_eq!(
        store.throttle(&key, rate, 0, t0).await.unwrap().remaining,
        3
    );
    assert!(
        !store.refund(&key, rate, 1, t0).await.unwrap(),
        "already full"
    );
    // A reservation that refilled by itself gives nothing back.
    assert!(store.throttle(&key, rate, 1, t0).await.unwrap().allowed);
    let later = t0.plus(MIN);
    assert!(!store.refund(&key, rate, 1, later).await.unwrap());
    assert_eq!(
        store
            .throttle(&key, rate, 0, later)
            .await
            .unwrap()
            .remaining,
        3
    );
    // A zero burst is a caller bug.
    assert!(matches!(
        store.refund(&key, Rate::new(0, MIN), 1, t0).await,
        Err(StoreError::Protocol(_))
    ));
}

pub async fn concurrent_reservations_check_at_most_the_burst(store: Arc<dyn StateStore>) {
    // 24 concurrent "guesses" against a budget of 10: each reserves before its check and
    // gives the reservation back only when the check succeeds (here: never). At most 10
    // get checked, whatever the interleaving.
    let t0 = Timestamp::now();
    let key = EphemeralKey::tag(unique("acct"), "fail:ip");
    let rate = Rate::new(10, 15 * MIN);
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.throttle(&key, rate, 1, t0).await.unwrap().allowed })
        })
        .collect();
    let mut checked = 0;
    for t in tasks {
        if t.await.unwrap() {
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
    // Two of them turn out to be right: their reservations come back, so two more fit.
    assert!(store.refund(&key, rate, 1, t0).await.unwrap());
    assert!(store.refund(&key, rate, 1, t0).await.unwrap());
    let t = store.throttle(&key, rate, 0, t0).await.unwrap();
    assert_eq!((t.allowed, t.remaining), (true, 2));
}

pub async fn map_put_get_list_remove_clear(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let exp = t0.plus(30 * 24 * 60 * MIN);
    assert!(
        store
            .map_list(user, "trusted", t0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.map_get(user, "trusted", "dev-b", t0).await.unwrap(),
        None
    );
    store
        .map_put(user, "trusted", "dev-b", b"\x00firefox", exp, t0)
        .await
        .unwrap();
    store
        .map_put(user, "trusted", "dev-a", b"chrome", exp, t0)
        .await
        .unwrap();
    assert_eq!(
        store.map_get(user, "trusted", "dev-b", t0).await.unwrap(),
        Some(b"\x00firefox".to_vec())
    );
    assert_eq!(
        store.map_list(user, "trusted", t0).await.unwrap(),
        vec![
            ("dev-a".to_owned(), b"chrome".to_vec(), exp),
            ("dev-b".to_owned(), b"\x00firefox".to_vec(), exp),
        ],
        "sorted by field"
    );
    // Putting again replaces value and expiry.
    let exp2 = exp.plus(MIN);
    store
        .map_put(user, "trusted", "dev-a", b"chrome 2", exp2, t0)
        .await
        .unwrap();
    assert_eq!(
        store.map_list(user, "trusted", t0).await.unwrap()[0],
        ("dev-a".to_owned(), b"chrome 2".to_vec(), exp2)
    );
    assert!(store.map_remove(user, "trusted", "dev-a").await.unwrap());
    assert!(!store.map_remove(user, "trusted", "dev-a").await.unwrap());
    assert_eq!(
        store.map_get(user, "trusted", "dev-a", t0).await.unwrap(),
        None
    );
    store
        .map_put(user, "trusted", "dev-c", b"safari", exp, t0)
        .await
        .unwrap();
    assert_eq!(store.map_clear(user, "trusted").await.unwrap(), 2);
    assert_eq!(store.map_clear(user, "trusted").await.unwrap(), 0);
    assert!(
        store
            .map_list(user, "trusted", t0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn map_entries_expire_individually(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let user = UserId::new();
    let soon = t0.plus(10 * MIN);
    let late = t0.plus(20 * MIN);
    store
        .map_put(user, "devices", "a", b"A", soon, t0)
        .await
        .unwrap();
    store
        .map_put(user, "devices", "b", b"B", late, t0)
        .await
        .unwrap();
    let t1 = t0.plus(10 * MIN);
    assert_eq!(store.map_get(user, "devices", "a", t1).await.unwrap(), None);
    assert_eq!(
        store.map_get(user, "devices", "b", t1).await.unwrap(),
        Some(b"B".to_vec())
    );
    assert_eq!(
        store.map_list(user, "devices", t1).await.unwrap(),
        vec![("b".to_owned(), b"B".to_vec(), late)]
    );
    // A write prunes the expired entry: clear then counts only what is stored.
    store
        .map_put(user, "devices", "c", b"C", late, t1)
        .await
        .unwrap();
    assert_eq!(store.map_list(user, "devices", t1).await.unwrap().len(), 2);
    // An expiry at or before now removes the field.
    store
        .map_put(user, "devices", "c", b"C", t1, t1)
        .await
        .unwrap();
    assert_eq!(store.map_get(user, "devices", "c", t1).await.unwrap(), None);
    assert_eq!(store.map_clear(user, "devices").await.unwrap(), 1);
    // Everything is gone at the latest expiry.
    store
        .map_put(user, "devices", "d", b"D", late, t0)
        .await
        .unwrap();
    assert!(
        store
            .map_list(user, "devices", late)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn maps_are_isolated_between_users_and_maps(store: Arc<dyn StateStore>) {
    let t0 = Timestamp::now();
    let (alice, bob) = (UserId::new(), UserId::new());
    let exp = t0.plus(60 * MIN);
    store
        .map_put(alice, "trusted", "f", b"alice", exp, t0)
        .await
        .unwrap();
    store
        .map_put(bob, "trusted", "f", b"bob", exp, t0)
        .await
        .unwrap();
    store
        .map_put(alice, "other", "f", b"other", exp, t0)
        .await
        .unwrap();
    assert_eq!(
        store.map_get(alice, "trusted", "f", t0).await.unwrap(),
        Some(b"alice".to_vec())
    );
    assert_eq!(
        store.map_get(bob, "trusted", "f", t0).await.unwrap(),
        Some(b"bob".to_vec())
    );
    assert_eq!(store.map_clear(alice, "trusted").await.unwrap(), 1);
    assert_eq!(
        store.map_get(bob, "trusted", "f", t0).await.unwrap(),
        Some(b"bob".to_vec())
    );
    assert_eq!(
        store.map_list(alice, "other", t0).await.unwrap(),
        vec![("f".to_owned(), b"other".to_vec(), exp)]
    );
    // A map and an ephemeral record of the same name do not collide.
    let key = EphemeralKey::user(alice, "other");
    assert_eq!(store.get(&key, t0).await.unwrap(), None);
    assert!(store.put_if_absent(&key, b"rec", MIN, t0).await.unwrap());
    assert_eq!(store.map_list(alice, "other", t0).await.unwrap().len(), 1);
}
